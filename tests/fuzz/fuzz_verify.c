/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 signatures from signature manifests: sk_verify with the cosign
 * capture's ECDSA and Ed25519 public keys over its payloads. Only the real
 * signatures may verify, each only with its own key; anything else must be
 * refused cleanly with the documented codes.
 */
#include "fuzz.h"
#include "schedkit/trust.h"

#define FIXTURES "tests/trust/cosign-2.5/"

static struct sk_key *keys[2];
static uint8_t *payloads[2];
static size_t payload_lens[2];

static struct sk_key *load_pub(const char *path)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL;

	if (sk_key_load_public_file(path, &k, &err)) {
		fprintf(stderr, "fuzz setup: %s\n", err.msg);
		abort();
	}
	return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	keys[0] = load_pub(FIXTURES "ecdsa.pub");
	keys[1] = load_pub(FIXTURES "ed25519.pub");
	payloads[0] = fz_read_fixture(FIXTURES "payload-ecdsa.json", &payload_lens[0]);
	payloads[1] = fz_read_fixture(FIXTURES "payload-ed25519.json", &payload_lens[1]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sig;

	if (size > 8192)
		return 0;
	sig = fz_strndup(data, size);
	for (size_t i = 0; i < 2; i++) {
		struct sk_error err = {0};
		int ret = sk_verify(keys[i], payloads[i], payload_lens[i], sig, &err);

		FZ_CHECK_ERROR(ret, &err);
		FZ_ASSERT(ret == 0 || ret == -EILSEQ || ret == -EKEYREJECTED || ret == -ENOMEM,
			  "unexpected result %d", ret);
	}
	{
		struct sk_error err = {0};
		size_t matched = 99;
		int ret = sk_verify_any(keys, 2, payloads[0], payload_lens[0], sig, &matched, &err);

		FZ_CHECK_ERROR(ret, &err);
		FZ_ASSERT(ret != 0 || matched == 0, "payload 0 verified with key %zu", matched);
	}
	free(sig);
	return 0;
}
