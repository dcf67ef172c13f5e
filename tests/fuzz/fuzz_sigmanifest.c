/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature manifests (the sha256-<hex>.sig tag) from a registry. An accepted
 * manifest must serialize again, and that serialization must parse to the same
 * layers (a re-sign rewrites it and must not drop anybody's signature).
 */
#include "fuzz.h"
#include "schedkit/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct sk_sig_list l = {0}, again = {0};
	struct sk_buf m = {0}, cfg = {0};
	char cdigest[80];
	int ret;

	ret = sk_sigmanifest_parse(data, size, &l, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (ret) {
		FZ_ASSERT(!l.n && !l.v, "failed but returned layers");
		return 0;
	}
	ret = sk_sigmanifest_build(&l, &m, &cfg, cdigest, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (!ret) {
		ret = sk_sigmanifest_parse(m.data, m.len, &again, &err);
		FZ_ASSERT(!ret, "a rebuilt signature manifest does not parse: %s", err.msg);
		FZ_ASSERT(again.n == l.n, "%zu layers became %zu", l.n, again.n);
		for (size_t i = 0; i < l.n; i++) {
			FZ_ASSERT(!strcmp(l.v[i].digest, again.v[i].digest) &&
				      !strcmp(l.v[i].media_type, again.v[i].media_type) &&
				      l.v[i].size == again.v[i].size,
				  "layer %zu changed in a rebuild", i);
			FZ_ASSERT(!l.v[i].signature == !again.v[i].signature &&
				      (!l.v[i].signature ||
				       !strcmp(l.v[i].signature, again.v[i].signature)),
				  "layer %zu signature changed in a rebuild", i);
		}
	}
	/* Adding our own signature to whatever was there. */
	ret = sk_sig_list_add(&l, "payload", 7, "c2ln", &err);
	FZ_CHECK_ERROR(ret, &err);
	sk_buf_free(&m);
	sk_buf_free(&cfg);
	sk_sig_list_free(&again);
	sk_sig_list_free(&l);
	return 0;
}
