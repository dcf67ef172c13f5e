/* SPDX-License-Identifier: Apache-2.0 */
/* WWW-Authenticate headers from a registry (or anything answering in its place). */
#include "fuzz.h"
#include "schedkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct sk_challenge c;
	char *s;
	int ret;

	if (size > 16384)
		return 0;
	s = fz_strndup(data, size);
	memset(&c, 0x5a, sizeof(c));
	ret = sk_challenge_parse(s, &c, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (!ret) {
		/* Every field must be a terminated string, whatever the header held. */
		FZ_ASSERT(memchr(c.scheme, 0, sizeof(c.scheme)), "scheme not terminated");
		FZ_ASSERT(memchr(c.realm, 0, sizeof(c.realm)), "realm not terminated");
		FZ_ASSERT(memchr(c.service, 0, sizeof(c.service)), "service not terminated");
		FZ_ASSERT(memchr(c.scope, 0, sizeof(c.scope)), "scope not terminated");
		FZ_ASSERT(memchr(c.error, 0, sizeof(c.error)), "error not terminated");
	}
	free(s);
	return 0;
}
