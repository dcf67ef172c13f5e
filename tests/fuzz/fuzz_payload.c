/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simple-signing payloads (the signed bytes of a cosign signature). An
 * accepted payload rebuilt with sk_payload_build from its fields must parse to
 * the same fields.
 */
#include "fuzz.h"
#include "schedkit/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct sk_payload p = {0};
	int ret;

	ret = sk_payload_parse(data, size, &p, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (ret) {
		FZ_ASSERT(!p.optional, "failed but kept the optional section");
		return 0;
	}
	FZ_ASSERT(memchr(p.reference, 0, sizeof(p.reference)) &&
		      memchr(p.digest, 0, sizeof(p.digest)),
		  "unterminated field");
	(void)sk_payload_annotation(&p, "stage");
	(void)sk_payload_annotation(&p, "");
	if (!p.optional) {
		struct sk_buf b = {0};
		struct sk_payload q = {0};

		/* Without annotations the bytes are fixed: a rebuild must read back the same. */
		if (!sk_payload_build(p.reference, p.digest, NULL, &b, &err)) {
			ret = sk_payload_parse(b.data, b.len, &q, &err);
			FZ_ASSERT(!ret, "a rebuilt payload does not parse: %s", err.msg);
			FZ_ASSERT(!strcmp(p.reference, q.reference) && !strcmp(p.digest, q.digest),
				  "payload fields changed in a rebuild");
			sk_payload_free(&q);
		}
		sk_buf_free(&b);
	}
	sk_payload_free(&p);
	return 0;
}
