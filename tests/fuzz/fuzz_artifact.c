/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The artifact reader: an OCI layout built in a scratch directory from fuzzed
 * index.json, image index, manifest, config and BPF object bytes, then
 * sk_artifact_read.
 *
 * Input: parts separated by "\n==\n": part 0 is the layout's index.json,
 * parts 1..4 are stored as blobs under their real digests. In every part,
 * "@N@" is replaced by the digest of part N and "#N#" by its size (N > the
 * part's own number), so that the fuzzer can reach the code behind digest
 * checks; tests/fuzz/corpus/artifact holds real artifacts in this form.
 */
#include <sys/stat.h>

#include "fuzz.h"
#include "schedkit/oci.h"

#define NPARTS 5

static char layout[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sk_error err = {0};
	struct sk_layout *l = NULL;

	(void)argc;
	(void)argv;
	snprintf(layout, sizeof(layout), "%s/layout", fz_scratch_dir());
	if (sk_layout_create(layout, &l, &err)) {
		fprintf(stderr, "fuzz setup: %s\n", err.msg);
		abort();
	}
	sk_layout_close(l);
	atexit(fz_remove_scratch);
	return 0;
}

/* Replaces @N@ and #N# (N in (self, NPARTS)) with the digest and size of part N. */
static void substitute(const struct fz_part *in, size_t self, char digests[][SK_DIGEST_MAX],
		       const size_t *sizes, size_t nparts, struct sk_buf *out)
{
	size_t i = 0;

	out->len = 0;
	while (i < in->n) {
		const uint8_t *p = in->p + i;
		size_t left = in->n - i;

		if (left >= 3 && (p[0] == '@' || p[0] == '#') && p[2] == p[0] && p[1] >= '1' &&
		    (size_t)(p[1] - '0') < nparts && (size_t)(p[1] - '0') > self) {
			size_t n = (size_t)(p[1] - '0');

			if (p[0] == '@')
				sk_buf_append(out, digests[n], strlen(digests[n]));
			else
				sk_buf_printf(out, "%zu", sizes[n]);
			i += 3;
			continue;
		}
		sk_buf_append(out, p, 1);
		i++;
	}
	if (sk_buf_append(out, "", 0))
		abort();
}

static void clear_blobs(void)
{
	char dir[600];

	snprintf(dir, sizeof(dir), "%s/blobs", layout);
	sk_rm_rf(dir);
	snprintf(dir, sizeof(dir), "%s/blobs/sha256", layout);
	if (sk_mkdir_p(dir, 0755, NULL))
		abort();
}

static void read_one(const char *tag)
{
	struct sk_error err = {0};
	struct sk_layout *l = NULL;
	struct sk_artifact *a = NULL;
	int ret;

	ret = sk_layout_open(layout, &l, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (ret)
		return;
	ret = sk_artifact_read(l, tag, "amd64", &a, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (!ret) {
		char digest[SK_DIGEST_MAX];

		FZ_ASSERT(a->manifest && a->config && a->object, "incomplete artifact");
		/* The object handed out must be exactly what the manifest named. */
		sk_digest_buf(a->object, a->object_len, digest);
		FZ_ASSERT(sk_layout_has_blob(l, digest), "object is not a stored blob");
		sk_artifact_free(a);
	}
	sk_layout_close(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_part parts[NPARTS];
	char digests[NPARTS][SK_DIGEST_MAX];
	size_t sizes[NPARTS] = {0};
	struct sk_buf bufs[NPARTS] = {{0}};
	size_t n = fz_split(data, size, parts, NPARTS);
	char path[700];

	clear_blobs();
	/* Later parts first: earlier ones name them. */
	for (size_t i = n; i-- > 1;) {
		substitute(&parts[i], i, digests, sizes, n, &bufs[i]);
		sk_digest_buf(bufs[i].data, bufs[i].len, digests[i]);
		sizes[i] = bufs[i].len;
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, digests[i] + 7);
		fz_write(path, bufs[i].data, bufs[i].len);
	}
	substitute(&parts[0], 0, digests, sizes, n, &bufs[0]);
	snprintf(path, sizeof(path), "%s/index.json", layout);
	fz_write(path, bufs[0].data, bufs[0].len);

	read_one(NULL);
	read_one("latest");
	for (size_t i = 0; i < n; i++)
		sk_buf_free(&bufs[i]);
	return 0;
}
