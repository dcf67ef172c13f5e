/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.conf, which skrun reads as root: sk_regconf_parse, then the
 * endpoints of a few references. A refused file leaves the configuration as
 * it was; an accepted one gives every reference at least one endpoint (or
 * says it is blocked), the primary last, and no mirror of a tag pull that
 * only serves digests.
 */
#include "fuzz.h"
#include "schedkit/transfer.h"

/* one reference a line, however long */
/* clang-format off */
static const char *const refs[] = {
    "r.example/a/b:1",
    "docker.io/library/alpine:3",
    "127.0.0.1:5000/scheds/s@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "a.b.example.com/x:latest",
};
/* clang-format on */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_regconf c = {0};
	struct sk_error err = {0};
	int ret;

	if (size > 8192)
		return 0;
	/* a file already read: a refused one must not touch it */
	ret = sk_regconf_parse(&c, "[[registry]]\nlocation = \"keep.example\"\n", 39, "base", &err);
	FZ_ASSERT(!ret && c.n == 1, "the base configuration was refused: %s", err.msg);
	ret = sk_regconf_parse(&c, (const char *)data, size, "f.conf", &err);
	FZ_CHECK_ERROR(ret, &err);
	if (ret) {
		FZ_ASSERT(c.n == 1 && !strcmp(c.reg[0].location, "keep.example"),
			  "a refused file changed the configuration");
		FZ_ASSERT(strstr(err.msg, "f.conf") || ret == -ENOMEM,
			  "the refusal names no file: %s", err.msg);
	}
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		struct sk_endpoint *e = NULL;
		struct sk_ref ref;
		size_t n = 0;

		FZ_ASSERT(!sk_ref_parse(refs[i], &ref, NULL), "fixture %s", refs[i]);
		memset(&err, 0, sizeof(err));
		ret = sk_regconf_endpoints(&c, &ref, &e, &n, &err);
		FZ_CHECK_ERROR(ret, &err);
		if (!ret) {
			FZ_ASSERT(n >= 1 && !e[n - 1].mirror, "no primary endpoint last");
			for (size_t j = 0; j < n; j++) {
				FZ_ASSERT(e[j].ref.registry[0] && e[j].ref.repo[0],
					  "empty endpoint");
				FZ_ASSERT(!strcmp(e[j].ref.digest, ref.digest),
					  "an endpoint changed the digest");
				FZ_ASSERT(j + 1 == n || e[j].mirror, "a primary before a mirror");
			}
		}
		free(e);
	}
	sk_regconf_free(&c);
	return 0;
}
