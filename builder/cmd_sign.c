/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild sign: cosign-compatible signatures for an artifact in a registry or a layout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/registry.h"
#include "sign_cli.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skbuild sign --key KEY|--keyless [options] REF[@DIGEST]|LAYOUT[:TAG]\n"
		"\n"
		"Resolves REF once to a digest and signs it, the way `cosign sign --key` does:\n"
		"the digest (for a multi-platform artifact the index, which binds every\n"
		"platform manifest; with --recursive each platform manifest too) gets a\n"
		"signature added to its sha256-<hex>.sig manifest, next to\n"
		"the signatures already there. A LAYOUT (an OCI layout directory) gets the\n"
		"signature manifests written into it, tagged sha256-<hex>.sig, so that they\n"
		"travel with it (skbuild save, skrun pull). Prints the signed digests.\n"
		"With --signature-format bundle (or --keyless) the signature is a Sigstore\n"
		"bundle attached as cosign v3 does: an OCI referrer of the digest, indexed\n"
		"by the registry's referrers API or the sha256-<hex> tag.\n"
		"\n"
		"  --key KEY           private key (PEM: PKCS#8, encrypted PKCS#8, SEC1 EC, or\n"
		"                      Ed25519): a file, env://VAR (the PEM in variable VAR)\n"
		"                      or - (standard input); its password comes from\n"
		"                      $" SK_KEY_PASSWORD_ENV " or is asked for on the terminal\n"
		"  -a, --annotation K=V  signed annotation (payload \"optional\"), repeatable\n"
		"  --identity HOST/REPO  the repository the payloads name (default: REF's\n"
		"                      repository; for a layout, its tag when that is a full\n"
		"                      reference, else required)\n"
		"  --recursive         also sign each platform manifest of an index, as\n"
		"                      `cosign sign --recursive` does (docs/policy.md)\n"
		"  --force             add a signature even when a valid one by this key with\n"
		"                      the same annotations is there (default: leave it)\n"
		"  --json              print the result as JSON (docs/json.md)\n"
		"%s%s%s",
		SKB_SIGN_CLI_HELP, SK_REGISTRY_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

static struct json_object *strv_to_json(const struct sk_strv *v)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < v->n; i++)
		json_object_array_add(a, json_object_new_string(v->v[i]));
	return a;
}

int skb_sign_print(const char *target, const struct sk_key *key, const struct sk_sign_opts *o,
		   FILE *out, struct json_object **json)
{
	struct sk_sign_result res = {0};
	struct sk_error err = {0};
	char fp[80] = "";
	int ret;

	ret = sk_sign_artifact(target, key, o, &res, &err);
	if (ret) {
		sk_die_msg("sign: %s", err.msg);
		goto out;
	}
	if (key)
		sk_key_fingerprint(key, fp, NULL);
	if (json) {
		struct json_object *j = json_object_new_object(), *k = NULL;

		json_object_object_add(j, "target", json_object_new_string(target));
		json_object_object_add(j, "digest", json_object_new_string(res.digest));
		json_object_object_add(j, "identity", json_object_new_string(res.identity));
		json_object_object_add(j, "signed", strv_to_json(&res.signed_digests));
		json_object_object_add(j, "unchanged", strv_to_json(&res.unchanged));
		json_object_object_add(
		    j, "format",
		    json_object_new_string(skb_sig_format_str(o->format, o->keyless != NULL)));
		if (key) {
			k = json_object_new_object();
			json_object_object_add(k, "type",
					       json_object_new_string(sk_key_type_name(key)));
			json_object_object_add(k, "fingerprint", json_object_new_string(fp));
		}
		json_object_object_add(j, "key", k);
		json_object_object_add(j, "keyless", json_object_new_boolean(o->keyless != NULL));
		*json = j;
	}
	for (size_t i = 0; out && i < res.signed_digests.n; i++) {
		if (sk_strv_contains(&res.unchanged, res.signed_digests.v[i]))
			fprintf(out, "already signed %s as %s (use --force to add another)\n",
				res.signed_digests.v[i], res.identity);
		else
			fprintf(out, "signed %s as %s\n", res.signed_digests.v[i], res.identity);
	}
	if (key)
		fprintf(stderr, "signed with %s key %s (%s)\n", sk_key_type_name(key), fp,
			skb_sig_format_str(o->format, false));
	else
		fprintf(stderr,
			"signed keyless: a Sigstore bundle with a Fulcio certificate, logged "
			"in Rekor\n");
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
	    {"force", no_argument, NULL, 'f'},
	    {"recursive", no_argument, NULL, 'R'},
	    {"json", no_argument, NULL, 'j'},
	    SKB_SIGN_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_sign_opts o = {0};
	struct skb_sign_cli sc = {0};
	struct sk_registry_cli reg = {0};
	struct sk_strv ann = {0};
	struct sk_error err = {0};
	struct sk_key *k = NULL;
	struct json_object *j = NULL;
	const char *key = NULL;
	bool json = false;
	int c, ret = SK_EXIT_FAILURE;

	while ((c = sk_cli_getopt(argc, argv, "a:vh", long_opts)) != -1) {
		int r = skb_sign_cli_opt(&sc, c, optarg, "sign");

		if (r < 0) {
			ret = SK_EXIT_USAGE;
			goto out;
		}
		if (r || sk_registry_cli_opt(&reg, c, optarg))
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
		case 'f':
			o.force = true;
			break;
		case 'R':
			o.recursive = true;
			break;
		case 'j':
			json = true;
			break;
		default: /* -h/--help, or a usage error */
			ret = sk_cli_usage(usage, c == 'h');
			goto out;
		}
	}
	if (argc - optind != 1 || (!key && !sc.keyless)) {
		if (!key && !sc.keyless)
			sk_die_msg("sign: --key KEY is required (or --keyless)");
		ret = sk_cli_usage(usage, false);
		goto out;
	}
	if (skb_sign_cli_finish(&sc, &o, key != NULL, "sign")) {
		ret = SK_EXIT_USAGE;
		goto out;
	}
	if (sk_registry_cli_finish(&reg, argv[optind])) {
		ret = SK_EXIT_USAGE;
		goto out;
	}
	o.reg = reg.opts;
	o.annotations = &ann;
	if (key && sk_key_load_signing_key(key, &k, &err)) {
		sk_die_msg("sign: %s", err.msg);
		ret = sk_cli_exit_status(err.code);
		goto out;
	}
	ret = sk_cli_exit_status(
	    skb_sign_print(argv[optind], k, &o, json ? NULL : stdout, json ? &j : NULL));
	if (!ret && j)
		sk_cli_print_json(j);
out:
	json_object_put(j);
	sk_key_free(k);
	sk_strv_free(&ann);
	sk_registry_cli_free(&reg);
	skb_sign_cli_free(&sc);
	return ret;
}
