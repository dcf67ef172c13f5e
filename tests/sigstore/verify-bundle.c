/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sigstore-conformance suite's client entry point (its cli_protocol.md),
 * over lib/trust's offline bundle verification:
 *
 *   verify-bundle [--staging] --bundle FILE --certificate-identity IDENTITY
 *                 --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
 *   verify-bundle [--staging] --bundle FILE --key PATH_TO_KEY
 *                 [--trusted-root FILE] FILE_OR_DIGEST
 *
 * Exit 0 when the bundle verifies, 1 with the reason on stderr when it does
 * not, 2 on a usage error. Signing (sign-bundle) needs Fulcio and Rekor and is
 * not offered here.
 *
 * Without --trusted-root the production root is taken from
 * $SK_SIGSTORE_TRUSTED_ROOT, else /etc/schedkit/sigstore/trusted_root.json,
 * else the public-good root CI places next to the checkout
 * (../shared/sigstore/trusted_root.public-good.json). --staging takes
 * $SK_SIGSTORE_STAGING_ROOT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/common.h"
#include "schedkit/oci.h"
#include "schedkit/sigstore.h"

#ifndef SK_SRC_DATADIR
#define SK_SRC_DATADIR "."
#endif

#define ARTIFACT_MAX (1u << 30)

static int usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s verify-bundle [--staging] --bundle FILE (--certificate-identity ID "
		"--certificate-oidc-issuer URL | --key KEY) [--trusted-root FILE] "
		"FILE_OR_DIGEST\n",
		prog);
	return 2;
}

/* cli_protocol.md: a digest is "sha256:" + 64 hex digits that is not also a path. */
static bool is_digest(const char *s)
{
	return sk_digest_valid(s) && access(s, F_OK) != 0;
}

static const char *default_root(bool staging)
{
	static const char *const candidates[] = {
	    SK_SIGSTORE_ROOT_DEFAULT,
	    SK_SRC_DATADIR "/../shared/sigstore/trusted_root.public-good.json",
	};
	const char *env = getenv(staging ? "SK_SIGSTORE_STAGING_ROOT" : "SK_SIGSTORE_TRUSTED_ROOT");

	if (env && *env)
		return env;
	if (staging)
		return NULL;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (sk_is_file(candidates[i]))
			return candidates[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *bundle_path = NULL, *identity = NULL, *issuer = NULL, *key_path = NULL;
	const char *root_path = NULL, *input = NULL;
	struct sk_sigstore_root *root = NULL;
	struct sk_bundle_result result = {0};
	struct sk_bundle_policy policy = {0};
	struct sk_bundle *bundle = NULL;
	struct sk_error err = {0};
	uint8_t *key = NULL, *artifact = NULL;
	size_t key_len = 0, artifact_len = 0;
	bool staging = false;
	int ret = 0;

	if (argc < 2)
		return usage(argv[0]);
	if (!strcmp(argv[1], "sign-bundle")) {
		fprintf(stderr,
			"%s: sign-bundle is not supported: this entry point verifies "
			"offline only\n",
			argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "verify-bundle"))
		return usage(argv[0]);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (!strcmp(a, "--staging")) {
			staging = true;
			continue;
		}
		if (!strcmp(a, "--bundle"))
			dst = &bundle_path;
		else if (!strcmp(a, "--certificate-identity"))
			dst = &identity;
		else if (!strcmp(a, "--certificate-oidc-issuer"))
			dst = &issuer;
		else if (!strcmp(a, "--key"))
			dst = &key_path;
		else if (!strcmp(a, "--trusted-root"))
			dst = &root_path;
		if (dst) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: %s needs a value\n", argv[0], a);
				return 2;
			}
			*dst = argv[++i];
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "%s: unknown option %s\n", argv[0], a);
			return 2;
		}
		if (input) {
			fprintf(stderr, "%s: more than one FILE_OR_DIGEST\n", argv[0]);
			return 2;
		}
		input = a;
	}
	if (!bundle_path || !input || (!key_path && (!identity || !issuer)))
		return usage(argv[0]);
	/* The protocol's two forms exclude each other: which one was meant is unknown. */
	if (key_path && (identity || issuer)) {
		fprintf(stderr, "verify-bundle: --key and --certificate-identity/"
				"--certificate-oidc-issuer exclude each other; nothing verified\n");
		return 1;
	}
	if (!root_path)
		root_path = default_root(staging);
	if (!root_path) {
		fprintf(stderr,
			"%s: no %s trusted root: pass --trusted-root FILE or set %s (see "
			"docs/sigstore.md)\n",
			argv[0], staging ? "staging" : "production",
			staging ? "SK_SIGSTORE_STAGING_ROOT" : "SK_SIGSTORE_TRUSTED_ROOT");
		return 1;
	}

	ret = sk_sigstore_root_load(root_path, &root, &err);
	if (!ret)
		ret = sk_bundle_load(bundle_path, &bundle, &err);
	if (!ret && key_path) {
		ret = sk_read_file(key_path, 1u << 20, &key, &key_len, &err);
		policy.key_pem = key;
		policy.key_pem_len = key_len;
	} else {
		policy.identity = identity;
		policy.issuer = issuer;
	}
	if (ret)
		goto out;
	if (is_digest(input)) {
		ret = sk_bundle_verify_digest(bundle, root, &policy, input, &result, &err);
	} else {
		struct sk_bundle_artifact a = {0};

		ret = sk_read_file(input, ARTIFACT_MAX, &artifact, &artifact_len, &err);
		if (ret)
			goto out;
		a.data = artifact;
		a.len = artifact_len;
		ret = sk_bundle_verify(bundle, root, &policy, &a, &result, &err);
	}
	if (!ret) {
		printf(
		    "OK: %s verified (%s; %u log entr%s, %u timestamp%s, %u SCT%s)\n", bundle_path,
		    result.san ? result.san
		    : key_path ? "managed key"
			       : "?",
		    result.tlog_entries, result.tlog_entries == 1 ? "y" : "ies", result.timestamps,
		    result.timestamps == 1 ? "" : "s", result.scts, result.scts == 1 ? "" : "s");
	}
out:
	if (ret)
		fprintf(stderr, "verify-bundle: %s\n", err.msg[0] ? err.msg : strerror(-ret));
	sk_bundle_result_free(&result);
	sk_bundle_free(bundle);
	sk_sigstore_root_free(root);
	free(key);
	free(artifact);
	return ret ? 1 : 0;
}
