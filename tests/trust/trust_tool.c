/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only driver for lib/trust, built by tests/host/trust_*.sh against
 * libschedkit.a so that no test-only command ships in skbuild or skrun.
 *
 *   trust_tool payload REPO DIGEST [KEY=VALUE...]   payload bytes to stdout
 *   trust_tool sign KEY FILE                        base64 signature to stdout
 *   trust_tool verify PUB FILE SIGFILE              exit 0 when it verifies
 *   trust_tool evaluate POLICY REPO DIGEST PAYLOAD SIGFILE [PAYLOAD SIGFILE]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/trust.h"

static int payload(int argc, char **argv)
{
	struct sk_error err = {0};
	struct sk_strv ann = {0};
	struct sk_buf out = {0};
	int ret = 0;

	for (int i = 4; i < argc && !ret; i++)
		ret = sk_strv_push(&ann, argv[i]);
	if (!ret)
		ret = sk_payload_build(argv[2], argv[3], &ann, &out, &err);
	if (ret)
		fprintf(stderr, "trust_tool: %s\n", err.msg);
	else
		fwrite(out.data, 1, out.len, stdout);
	sk_buf_free(&out);
	sk_strv_free(&ann);
	return ret ? 1 : 0;
}

static int sign(char **argv)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL;
	uint8_t *data = NULL;
	char *sig = NULL;
	size_t len = 0;
	int ret;

	ret = sk_key_load_signing_key(argv[2], &k, &err);
	if (!ret)
		ret = sk_read_file(argv[3], 1 << 20, &data, &len, &err);
	if (!ret)
		ret = sk_sign(k, data, len, &sig, &err);
	if (ret)
		fprintf(stderr, "trust_tool: %s\n", err.msg);
	else
		puts(sig);
	free(sig);
	free(data);
	sk_key_free(k);
	return ret ? 1 : 0;
}

/* Reads a base64 signature file, without the trailing newline tools add. */
static int read_sig(const char *path, char **out, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret = sk_read_file(path, 1 << 16, &data, &len, err);

	if (ret)
		return ret;
	sk_rstrip((char *)data);
	*out = (char *)data;
	return 0;
}

static int verify(char **argv)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL;
	uint8_t *data = NULL;
	char *sig = NULL;
	size_t len = 0;
	int ret;

	ret = sk_key_load_public_file(argv[2], &k, &err);
	if (!ret)
		ret = sk_read_file(argv[3], 1 << 20, &data, &len, &err);
	if (!ret)
		ret = read_sig(argv[4], &sig, &err);
	if (!ret)
		ret = sk_verify(k, data, len, sig, &err);
	if (ret)
		fprintf(stderr, "trust_tool: %s\n", err.msg);
	else
		printf("verified with %s (%s)\n", argv[2], sk_key_type_name(k));
	free(sig);
	free(data);
	sk_key_free(k);
	return ret ? 1 : 0;
}

static int evaluate(int argc, char **argv)
{
	struct sk_trust_signature sigs[16] = {0};
	uint8_t *payloads[16] = {0};
	char *sigtext[16] = {0};
	struct sk_error err = {0};
	struct sk_policy *p = NULL;
	struct sk_trust_verdict v = {0};
	size_t n = 0;
	int ret;

	ret = sk_policy_load(argv[2], &p, &err);
	for (int i = 5; !ret && i + 1 < argc && n < 16; i += 2, n++) {
		ret = sk_read_file(argv[i], 1 << 20, &payloads[n], &sigs[n].payload_len, &err);
		if (!ret)
			ret = read_sig(argv[i + 1], &sigtext[n], &err);
		sigs[n].payload = payloads[n];
		sigs[n].signature = sigtext[n];
	}
	if (!ret)
		ret = sk_policy_evaluate(p, argv[3], argv[4], sigs, n, &v, &err);
	if (ret)
		fprintf(stderr, "trust_tool: %s\n", err.msg);
	else
		printf("%s\n", v.msg);
	for (size_t i = 0; i < n; i++) {
		free(payloads[i]);
		free(sigtext[i]);
	}
	sk_trust_verdict_free(&v);
	sk_policy_free(p);
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "payload"))
		return payload(argc, argv);
	if (argc == 4 && !strcmp(argv[1], "sign"))
		return sign(argv);
	if (argc == 5 && !strcmp(argv[1], "verify"))
		return verify(argv);
	if (argc >= 5 && !strcmp(argv[1], "evaluate"))
		return evaluate(argc, argv);
	fprintf(stderr, "usage: see the comment at the top of tests/trust/trust_tool.c\n");
	return 2;
}
