/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sk_store_verify: proves the store's invariants after a crash, a full disk or
 * a race: every blob hashes to its name, every recorded reference is complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedkit/store.h"

#define HEX_LEN	   64
#define NESTED_MAX 2 /* an index of manifests; deeper nesting is not something pull writes */

struct blob {
	char hex[HEX_LEN + 1];
	int64_t size;
	bool ok; /* regular file whose content hashes to its name */
	bool reached;
};

struct ctx {
	struct sk_store *s;
	struct sk_store_report *r;
	struct blob *blobs;
	size_t n, cap;
	bool oom;
};

static void problem(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct ctx *c, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg || sk_strv_push(&c->r->problems, msg))
		c->oom = true;
	free(msg);
}

static bool hex_name(const char *n)
{
	return strlen(n) == HEX_LEN && strspn(n, "0123456789abcdef") == HEX_LEN;
}

/* Re-hashes one blob file; a problem for anything that is not a verified regular file. */
static void hash_blob(struct ctx *c, int dfd, const char *name, struct blob *b)
{
	struct sk_hasher *h = NULL;
	char buf[65536], got[SK_DIGEST_MAX];
	struct stat st;
	int fd;

	snprintf(b->hex, sizeof(b->hex), "%s", name);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		problem(c, "blobs/sha256/%s: cannot open: %s", name, strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		problem(c, "blobs/sha256/%s: not a regular file", name);
		goto out;
	}
	h = sk_hasher_new();
	if (!h) {
		c->oom = true;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			problem(c, "blobs/sha256/%s: read failed: %s", name, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		sk_hasher_update(h, buf, (size_t)n);
		b->size += n;
	}
	sk_hasher_final(h, got);
	h = NULL;
	c->r->blobs++;
	c->r->bytes += (uint64_t)b->size;
	if (strcmp(got + strlen("sha256:"), name)) {
		problem(c,
			"blob sha256:%s is corrupt: its content hashes to %s; remove the file and "
			"pull what needs it again",
			name, got);
		goto out;
	}
	b->ok = true;
out:
	sk_hasher_free(h);
	close(fd);
}

static int cmp_blob(const void *a, const void *b)
{
	return strcmp(((const struct blob *)a)->hex, ((const struct blob *)b)->hex);
}

static int scan_blobs(struct ctx *c, struct sk_error *err)
{
	const char *dir = sk_store_dir(c->s);
	char *path = sk_path_join(dir, "blobs");
	struct dirent *e;
	DIR *d;

	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	d = opendir(path);
	free(path);
	if (!d)
		return sk_errf(err, -errno, "store %s: cannot read blobs/: %s", dir,
			       strerror(errno));
	/* readdir_r is deprecated; this DIR stream is never shared between threads */
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "sha256"))
			problem(c, "blobs/%s: unexpected (the store holds sha256 blobs only)",
				e->d_name);
	closedir(d);
	path = sk_path_join(dir, "blobs/sha256");
	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	d = opendir(path);
	free(path);
	if (!d)
		return sk_errf(err, -errno, "store %s: cannot read blobs/sha256/: %s", dir,
			       strerror(errno));
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!hex_name(e->d_name)) {
			problem(c, "blobs/sha256/%s: not a blob name (a stray file)", e->d_name);
			continue;
		}
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 64;
			struct blob *nb = realloc(c->blobs, cap * sizeof(*nb));

			if (!nb) {
				closedir(d);
				return sk_errf(err, -ENOMEM, "out of memory");
			}
			c->blobs = nb;
			c->cap = cap;
		}
		memset(&c->blobs[c->n], 0, sizeof(c->blobs[c->n]));
		hash_blob(c, dirfd(d), e->d_name, &c->blobs[c->n]);
		c->n++;
	}
	closedir(d);
	if (c->n)
		qsort(c->blobs, c->n, sizeof(*c->blobs), cmp_blob);
	return 0;
}

static struct blob *find_blob(struct ctx *c, const char *digest)
{
	struct blob key = {0};

	if (!sk_digest_valid(digest) || !c->n)
		return NULL;
	snprintf(key.hex, sizeof(key.hex), "%s", digest + strlen("sha256:"));
	return bsearch(&key, c->blobs, c->n, sizeof(*c->blobs), cmp_blob);
}

/* A blob a descriptor needs: present, verified, of the size the descriptor gives. */
static bool need_blob(struct ctx *c, const char *who, const char *what,
		      const struct sk_descriptor *d)
{
	struct blob *b = find_blob(c, d->digest);

	if (!b) {
		problem(c, "%s: %s %s is missing from the store; pull it again", who, what,
			d->digest);
		return false;
	}
	b->reached = true;
	if (!b->ok) {
		/* the scan said what is wrong with the file; this says who needs it */
		problem(c, "%s: %s %s is damaged (see above); pull it again", who, what, d->digest);
		return false;
	}
	if (b->size != d->size) {
		problem(c, "%s: %s %s is %lld bytes but its descriptor says %lld", who, what,
			d->digest, (long long)b->size, (long long)d->size);
		return false;
	}
	return true;
}

static bool is_json_type(const char *mt)
{
	size_t n = strlen(mt);

	return !strcmp(mt, "application/json") || (n > 5 && !strcmp(mt + n - 5, "+json"));
}

/* Reads and parses a blob already known to be present and verified. */
static struct json_object *load_json(struct ctx *c, const char *who, const char *what,
				     const struct sk_descriptor *d)
{
	struct json_object *j = NULL;
	struct sk_error e = {0};
	uint8_t *data = NULL;
	size_t len;

	if (sk_layout_get_blob(sk_store_layout(c->s), d->digest, d->size, SK_MANIFEST_MAX, &data,
			       &len, &e) ||
	    sk_json_parse(data, len, d->digest, &j, &e))
		problem(c, "%s: %s %s is not well-formed: %s", who, what, d->digest, e.msg);
	free(data);
	return j;
}

static void check_manifest(struct ctx *c, const char *who, const struct sk_descriptor *d)
{
	struct json_object *m, *cfg, *layers;
	struct sk_descriptor cd;
	struct sk_error e = {0};
	const char *mt;

	if (!need_blob(c, who, "manifest", d))
		return;
	c->r->manifests++;
	m = load_json(c, who, "manifest", d);
	if (!m)
		return;
	mt = sk_json_str(m, "mediaType");
	if (mt && strcmp(mt, d->media_type))
		problem(c, "%s: manifest %s says it is a %s, its descriptor a %s", who, d->digest,
			mt, d->media_type);
	if (!json_object_object_get_ex(m, "config", &cfg) ||
	    !json_object_object_get_ex(m, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		problem(c, "%s: manifest %s has no config or layers", who, d->digest);
		goto out;
	}
	if (sk_descriptor_from_json(cfg, &cd, &e)) {
		problem(c, "%s: manifest %s: config: %s", who, d->digest, e.msg);
	} else if (need_blob(c, who, "config", &cd) && is_json_type(cd.media_type)) {
		json_object_put(load_json(c, who, "config", &cd));
	}
	for (size_t i = 0; i < json_object_array_length(layers); i++) {
		struct sk_descriptor ld;

		if (sk_descriptor_from_json(json_object_array_get_idx(layers, i), &ld, &e)) {
			problem(c, "%s: manifest %s: layer %zu: %s", who, d->digest, i, e.msg);
			continue;
		}
		/* the source tarball is optional: a pull leaves it out unless asked for */
		if (!strcmp(ld.media_type, SK_MT_SCHED_SOURCE) && !find_blob(c, ld.digest))
			continue;
		need_blob(c, who, "layer", &ld);
	}
out:
	json_object_put(m);
}

static void check_entry(struct ctx *c, const char *who, const struct sk_descriptor *d, int depth);

/* An index in the store holds the platforms that were pulled, not all it lists. */
static void check_index(struct ctx *c, const char *who, const struct sk_descriptor *d, int depth)
{
	struct json_object *idx, *list;
	size_t present = 0, n;

	if (!need_blob(c, who, "index", d))
		return;
	idx = load_json(c, who, "index", d);
	if (!idx)
		return;
	if (!json_object_object_get_ex(idx, "manifests", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		problem(c, "%s: index %s has no manifests list", who, d->digest);
		goto out;
	}
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct sk_descriptor md;
		struct sk_error e = {0};

		if (sk_descriptor_from_json(json_object_array_get_idx(list, i), &md, &e)) {
			problem(c, "%s: index %s: entry %zu: %s", who, d->digest, i, e.msg);
			continue;
		}
		if (!find_blob(c, md.digest))
			continue; /* a platform that was not pulled */
		present++;
		check_entry(c, who, &md, depth + 1);
	}
	if (!present)
		problem(c, "%s: none of the %zu manifests of index %s is in the store", who, n,
			d->digest);
out:
	json_object_put(idx);
}

static void check_entry(struct ctx *c, const char *who, const struct sk_descriptor *d, int depth)
{
	if (depth > NESTED_MAX) {
		problem(c, "%s: %s is nested more than %d levels deep", who, d->digest, NESTED_MAX);
		return;
	}
	if (!strcmp(d->media_type, SK_MT_INDEX))
		check_index(c, who, d, depth);
	else if (!strcmp(d->media_type, SK_MT_MANIFEST))
		check_manifest(c, who, d);
	else
		problem(c, "%s: %s is a %s, not an OCI index or manifest", who, d->digest,
			d->media_type);
}

/* index.json itself; NULL after recording the problem when it is unusable. */
static struct json_object *read_index(struct ctx *c)
{
	char *path = sk_path_join(sk_store_dir(c->s), "index.json");
	struct json_object *idx = NULL, *list;
	struct sk_error e = {0};
	uint8_t *data = NULL;
	size_t len;

	if (!path) {
		c->oom = true;
		return NULL;
	}
	if (sk_read_file(path, SK_MANIFEST_MAX, &data, &len, &e) ||
	    sk_json_parse(data, len, path, &idx, &e)) {
		problem(c, "%s", e.msg);
	} else if (sk_json_int(idx, "schemaVersion") != 2) {
		problem(c, "%s: schemaVersion must be 2", path);
	} else if (!json_object_object_get_ex(idx, "manifests", &list) ||
		   !json_object_is_type(list, json_type_array)) {
		problem(c, "%s: no \"manifests\" array", path);
	} else {
		free(data);
		free(path);
		return idx;
	}
	json_object_put(idx);
	free(data);
	free(path);
	return NULL;
}

static void check_entries(struct ctx *c, struct json_object *idx)
{
	struct json_object *list;
	struct sk_strv seen = {0};
	size_t n;

	json_object_object_get_ex(idx, "manifests", &list);
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct sk_descriptor d;
		struct sk_error e = {0};
		char who[SK_DIGEST_MAX + 300], key[SK_DIGEST_MAX + 300];

		c->r->refs++;
		if (sk_descriptor_from_json(json_object_array_get_idx(list, i), &d, &e)) {
			problem(c, "index.json: entry %zu: %s", i, e.msg);
			continue;
		}
		if (d.ref_name[0]) {
			snprintf(who, sizeof(who), "reference %s", d.ref_name);
			snprintf(key, sizeof(key), "name:%s", d.ref_name);
		} else {
			snprintf(who, sizeof(who), "untagged entry %s", d.digest);
			snprintf(key, sizeof(key), "digest:%s", d.digest);
		}
		if (sk_strv_contains(&seen, key))
			problem(c, "index.json: %s is recorded more than once", who);
		else if (sk_strv_push(&seen, key))
			c->oom = true;
		check_entry(c, who, &d, 0);
	}
	sk_strv_free(&seen);
}

int sk_store_verify(struct sk_store *s, struct sk_store_report *r, struct sk_error *err)
{
	struct ctx c = {.s = s, .r = r};
	struct json_object *idx;
	int ret;

	memset(r, 0, sizeof(*r));
	/*
	 * index.json first: a pull records a reference only after its blobs are in
	 * place and blobs never go away, so whatever this copy of the index names
	 * is on disk by the time the blobs are listed, even with pulls running.
	 */
	idx = read_index(&c);
	ret = scan_blobs(&c, err);
	if (ret)
		goto out;
	if (idx)
		check_entries(&c, idx);
	for (size_t i = 0; i < c.n; i++)
		if (c.blobs[i].ok && !c.blobs[i].reached)
			r->unreferenced++;
	if (c.oom)
		ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(idx);
	free(c.blobs);
	if (ret)
		sk_store_report_free(r);
	return ret;
}

void sk_store_report_free(struct sk_store_report *r)
{
	if (r)
		sk_strv_free(&r->problems);
}
