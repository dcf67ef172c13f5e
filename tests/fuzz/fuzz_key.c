/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PEM keys: public keys come from trust policies (inline or by path), private
 * keys from users' files. Loading must refuse everything but ECDSA P-256 and
 * Ed25519 cleanly; a loaded key must sign something its public half verifies.
 */
#include "fuzz.h"
#include "schedkit/trust.h"

static void check_key(struct sk_key *k)
{
	struct sk_error err = {0};
	struct sk_buf pem = {0};
	struct sk_key *pub = NULL;
	char fp[80];
	int ret;

	FZ_ASSERT(sk_key_type(k) == SK_KEY_ECDSA_P256 || sk_key_type(k) == SK_KEY_ED25519,
		  "loaded a key of type %d", sk_key_type(k));
	(void)sk_key_type_name(k);
	ret = sk_key_fingerprint(k, fp, &err);
	FZ_ASSERT(!ret, "fingerprint: %s", err.msg);
	ret = sk_key_public_pem(k, &pem, &err);
	FZ_ASSERT(!ret, "public PEM: %s", err.msg);
	ret = sk_key_load_public(pem.data, pem.len, "round trip", &pub, &err);
	FZ_ASSERT(!ret, "our own public PEM does not load: %s", err.msg);
	FZ_ASSERT(sk_key_same_public(k, pub), "public key changed in a round trip");
	if (sk_key_is_private(k)) {
		char *sig = NULL;

		ret = sk_sign(k, "data", 4, &sig, &err);
		FZ_ASSERT(!ret, "sign: %s", err.msg);
		ret = sk_verify(pub, "data", 4, sig, &err);
		FZ_ASSERT(!ret, "own signature does not verify: %s", err.msg);
		free(sig);
	}
	sk_key_free(pub);
	sk_buf_free(&pem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL;
	int ret;

	if (size > 16384)
		return 0;
	ret = sk_key_load_public(data, size, "fuzz.pub", &k, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (!ret) {
		FZ_ASSERT(!sk_key_is_private(k), "a public key load gave a private key");
		check_key(k);
		sk_key_free(k);
	}
	k = NULL;
	memset(&err, 0, sizeof(err));
	(void)sk_key_pem_is_encrypted(data, size);
	ret = sk_key_load_private(data, size, NULL, "fuzz.pem", &k, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (!ret) {
		FZ_ASSERT(sk_key_is_private(k), "a private key load gave a public key");
		check_key(k);
		sk_key_free(k);
	}
	/* The password of tests/trust/keys/ *-enc.pem, so the decrypting paths run too. */
	k = NULL;
	memset(&err, 0, sizeof(err));
	ret = sk_key_load_private(data, size, "fixture-password", "fuzz.pem", &k, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (!ret) {
		check_key(k);
		sk_key_free(k);
	}
	return 0;
}
