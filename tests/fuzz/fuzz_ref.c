/* SPDX-License-Identifier: Apache-2.0 */
/*
 * References from command lines, policies and pull sources: sk_ref_parse.
 * An accepted reference printed with sk_ref_string must parse back to the
 * same fields.
 */
#include "fuzz.h"
#include "schedkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct sk_ref ref, again;
	char buf[SK_REF_STRING_MAX + 8];
	char *s;
	int ret;

	if (size > 4096)
		return 0;
	s = fz_strndup(data, size);
	ret = sk_ref_parse(s, &ref, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (!ret) {
		FZ_ASSERT(ref.registry[0] && ref.host[0] && ref.repo[0],
			  "accepted with empty fields");
		FZ_ASSERT(sk_ref_reference(&ref)[0], "empty reference");
		sk_ref_string(&ref, buf, sizeof(buf));
		memset(&err, 0, sizeof(err));
		ret = sk_ref_parse(buf, &again, &err);
		FZ_ASSERT(!ret, "'%s' printed as '%s' which does not parse: %s", s, buf, err.msg);
		FZ_ASSERT(!strcmp(ref.registry, again.registry) && !strcmp(ref.repo, again.repo) &&
			      !strcmp(ref.tag, again.tag) && !strcmp(ref.digest, again.digest) &&
			      !strcmp(ref.host, again.host),
			  "'%s' -> '%s' does not round-trip", s, buf);
	}
	free(s);
	return 0;
}
