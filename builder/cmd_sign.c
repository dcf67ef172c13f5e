/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild sign: cosign-compatible signatures for an artifact in a registry or a layout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/registry.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skbuild sign --key KEY [options] REF[@DIGEST]|LAYOUT[:TAG]\n"
		"\n"
		"Resolves REF once to a digest and signs it, the way `cosign sign --key` does:\n"
		"the digest (for a multi-platform artifact, the index and each platform\n"
		"manifest) gets a signature added to its sha256-<hex>.sig manifest, next to\n"
		"the signatures already there. A LAYOUT (an OCI layout directory) gets the\n"
		"signature manifests written into it, tagged sha256-<hex>.sig, so that they\n"
		"travel with it (skbuild save, skrun pull). Prints the signed digests.\n"
		"\n"
		"  --key KEY           private key (PEM: PKCS#8, encrypted PKCS#8, SEC1 EC, or\n"
		"                      Ed25519); its password comes from $" SK_KEY_PASSWORD_ENV "\n"
		"                      or is asked for on the terminal\n"
		"  -a, --annotation K=V  signed annotation (payload \"optional\"), repeatable\n"
		"  --identity HOST/REPO  the repository the payloads name (default: REF's\n"
		"                      repository; for a layout, its tag when that is a full\n"
		"                      reference, else required)\n"
		"%s%s",
		SK_REGISTRY_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

int skb_sign_print(const char *target, const struct sk_key *key, const struct sk_sign_opts *o,
		   FILE *out)
{
	struct sk_sign_result res = {0};
	struct sk_error err = {0};
	char fp[80] = "";
	int ret = 1;

	if (sk_sign_artifact(target, key, o, &res, &err)) {
		sk_die_msg("sign: %s", err.msg);
		goto out;
	}
	sk_key_fingerprint(key, fp, NULL);
	for (size_t i = 0; i < res.signed_digests.n; i++)
		fprintf(out, "signed %s as %s\n", res.signed_digests.v[i], res.identity);
	fprintf(stderr, "signed with %s key %s\n", sk_key_type_name(key), fp);
	ret = 0;
out:
	sk_sign_result_free(&res);
	return ret;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"key", required_argument, NULL, 'K'},
	    {"annotation", required_argument, NULL, 'a'},
	    {"identity", required_argument, NULL, 'i'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_sign_opts o = {0};
	struct sk_registry_cli reg = {0};
	struct sk_strv ann = {0};
	struct sk_error err = {0};
	struct sk_key *k = NULL;
	const char *key = NULL;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "a:vh", long_opts, NULL)) != -1) {
		if (sk_registry_cli_opt(&reg, c, optarg))
			continue;
		switch (c) {
		case 'K':
			key = optarg;
			break;
		case 'a':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				sk_die_msg("sign: -a wants KEY=VALUE, got '%s'", optarg);
				ret = 2;
				goto out;
			}
			if (sk_strv_push(&ann, optarg))
				goto out;
			break;
		case 'i':
			o.identity = optarg;
			break;
		default: /* -h/--help, or a usage error */
			ret = sk_cli_usage(usage, c == 'h');
			goto out;
		}
	}
	if (argc - optind != 1 || !key) {
		if (!key)
			sk_die_msg("sign: --key KEY is required");
		ret = sk_cli_usage(usage, false);
		goto out;
	}
	if (sk_registry_cli_finish(&reg, argv[optind]))
		goto out;
	o.reg = reg.opts;
	o.annotations = &ann;
	if (sk_key_load_signing_key(key, &k, &err)) {
		sk_die_msg("sign: %s", err.msg);
		goto out;
	}
	ret = skb_sign_print(argv[optind], k, &o, stdout);
out:
	sk_key_free(k);
	sk_strv_free(&ann);
	sk_registry_cli_free(&reg);
	return ret;
}
