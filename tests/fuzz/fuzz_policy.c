/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The trust policy: sk_policy_parse, then the accepted policy judges a real
 * cosign signature (tests/trust/cosign-2.5) for a few repositories. Relative
 * key paths resolve in a scratch directory holding copies of the test keys.
 */
#include <sys/stat.h>

#include "fuzz.h"
#include "schedkit/trust.h"

#define FIXTURES "tests/trust/cosign-2.5/"

static const char *const key_files[] = {"ecdsa.pub", "ed25519.pub"};
static char base[512];
static uint8_t *payload;
static size_t payload_len;
static const char *signature =
    "MEYCIQCeyAZXwHpHhTLrg4xdDUz6VMpblNaY+pT28Czlubfz1gIhAMoq6Fcy0SVl1cJeEC0e9W8SelLvhUvd0gJhp5sz"
    "ViP+";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "%s/keys", fz_scratch_dir());
	mkdir(base, 0755);
	for (size_t i = 0; i < sizeof(key_files) / sizeof(key_files[0]); i++) {
		char src[256], dst[768];
		size_t len;
		uint8_t *k;

		snprintf(src, sizeof(src), FIXTURES "%s", key_files[i]);
		snprintf(dst, sizeof(dst), "%s/%s", base, key_files[i]);
		k = fz_read_fixture(src, &len);
		fz_write(dst, k, len);
		free(k);
	}
	payload = fz_read_fixture(FIXTURES "payload-ecdsa.json", &payload_len);
	atexit(fz_remove_scratch);
	return 0;
}

static void judge(const struct sk_policy *p, const char *repo, const char *digest)
{
	struct sk_trust_signature sig = {payload, payload_len, signature};
	struct sk_trust_verdict v = {0};
	struct sk_error err = {0};
	int ret;

	(void)sk_policy_scope_for(p, repo);
	ret = sk_policy_evaluate(p, repo, digest, &sig, 1, &v, &err);
	FZ_CHECK_ERROR(ret, &err);
	FZ_ASSERT(ret != 0 || v.reason == SK_TRUST_OK, "accepted with reason %d", v.reason);
	FZ_ASSERT(ret != -EKEYREJECTED || v.reason != SK_TRUST_OK, "refused with reason OK");
	(void)sk_trust_reason_str(v.reason);
	sk_trust_verdict_free(&v);
	memset(&v, 0, sizeof(v));
	/* No signatures at all must never be accepted. */
	ret = sk_policy_evaluate(p, repo, digest, NULL, 0, &v, &err);
	FZ_ASSERT(ret != 0, "accepted %s with no signature", repo);
	sk_trust_verdict_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct sk_policy *p = NULL;
	int ret;

	ret = sk_policy_parse(data, size, "fuzz/policy.json", base, &p, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (ret) {
		FZ_ASSERT(!p, "failed but returned a policy");
		return 0;
	}
	judge(p, "127.0.0.1:52147/test/x",
	      "sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958");
	judge(p, "registry.example.com/sched/fifo",
	      "sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958");
	judge(p, "docker.io/library/x",
	      "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	sk_policy_free(p);
	return 0;
}
