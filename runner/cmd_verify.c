/* SPDX-License-Identifier: Apache-2.0 */
/* skrun verify: judge an artifact's signatures against the trust policy, without pulling it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/registry.h"
#include "schedkit/transfer.h"
#include "schedkit/store.h"
#include "schedkit/trust.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skrun verify SOURCE [options]\n"
		"\n"
		"Resolves SOURCE once to a digest and verifies every signature found for that\n"
		"digest (its sha256-<hex>.sig manifest, and the Sigstore bundles attached to it\n"
		"as cosign v3 does) against the trust policy: prints the digest and the keys\n"
		"or identities that matched, or exits 1 with the reason. SOURCE is a\n"
		"registry reference, an OCI layout (DIR[:TAG], oci:DIR[:TAG]) or an\n"
		"oci-archive (FILE[:TAG], oci-archive:FILE[:TAG]); layouts and archives are\n"
		"verified offline. With --store, SOURCE is a reference already pulled into the\n"
		"store and is verified offline with the signatures kept there.\n"
		"\n"
		"  --policy FILE       trust policy (default " SK_POLICY_DEFAULT ")\n"
		"  --key PUB           trust exactly this public key instead of the policy\n"
		"                      (repeatable; any one suffices), as cosign verify --key\n"
		"  -a, --annotation K=V  with --key: signatures must carry this signed annotation\n"
		"  --identity HOST/REPO  the repository a layout, archive or stored digest was\n"
		"                      signed for (default: the name it is recorded under when\n"
		"                      that is a full reference)\n"
		"  --store DIR         verify what the store holds (no network)\n"
		"  --json              print the result as JSON (docs/json.md)\n"
		"%s%s",
		SK_REGISTRY_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

/* The digest the store recorded for ref (or ref's own digest): the store's one resolution. */
static int stored_digest(struct sk_store *st, const char *arg, const struct sk_ref *ref,
			 char digest[SK_DIGEST_MAX], struct sk_error *err)
{
	struct sk_descriptor d;
	char name[SK_REF_STRING_MAX];

	if (ref->digest[0]) {
		snprintf(digest, SK_DIGEST_MAX, "%s", ref->digest);
		return 0;
	}
	sk_ref_string(ref, name, sizeof(name));
	if (!ref->tag[0])
		snprintf(name + strlen(name), sizeof(name) - strlen(name), ":latest");
	if (sk_layout_resolve(sk_store_layout(st), name, &d, err))
		return sk_err_prefix(err, "%s is not in the store %s (skrun pull it first): ", arg,
				     sk_store_dir(st));
	snprintf(digest, SK_DIGEST_MAX, "%s", d.digest);
	return 0;
}

static int verify_stored(const char *store, const char *arg, const struct sk_verify_opts *o,
			 struct sk_verify_result *res, struct sk_error *err)
{
	struct sk_store *st = NULL;
	struct sk_ref ref;
	char digest[SK_DIGEST_MAX];
	int ret;

	ret = sk_ref_parse(arg, &ref, err);
	if (ret)
		return ret;
	ret = sk_store_open(store, &st, err);
	if (!ret)
		ret = stored_digest(st, arg, &ref, digest, err);
	if (!ret)
		ret = sk_trust_verify_stored(st, o->identity ? o->identity : arg, digest, o, res,
					     err);
	sk_store_close(st);
	return ret;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"policy", required_argument, NULL, 'P'},
	    {"key", required_argument, NULL, 'K'},
	    {"annotation", required_argument, NULL, 'a'},
	    {"identity", required_argument, NULL, 'i'},
	    {"store", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_verify_opts o = {0};
	struct sk_verify_result res = {0};
	struct sk_registry_cli reg = {0};
	struct sk_strv keys = {0}, require = {0};
	struct sk_error err = {0};
	const char *store = NULL;
	char *list = NULL;
	bool json = false;
	int c, ret = 1;

	while ((c = sk_cli_getopt(argc, argv, "a:vh", long_opts)) != -1) {
		if (sk_registry_cli_opt(&reg, c, optarg))
			continue;
		switch (c) {
		case 'P':
			o.policy_path = optarg;
			break;
		case 'K':
			if (sk_strv_push(&keys, optarg))
				goto out;
			break;
		case 'a':
			if (sk_strv_push(&require, optarg))
				goto out;
			break;
		case 'i':
			o.identity = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'j':
			json = true;
			break;
		default: /* -h/--help, or a usage error */
			ret = sk_cli_usage(usage, c == 'h');
			goto out;
		}
	}
	if (argc - optind != 1) {
		ret = sk_cli_usage(usage, false);
		goto out;
	}
	if (keys.n && o.policy_path) {
		sk_die_msg("verify: --key replaces the policy; give --key or --policy, not both");
		ret = 2;
		goto out;
	}
	if (sk_registry_cli_finish(&reg, argv[optind]))
		goto out;
	if (keys.n)
		o.keys = (const char *const *)keys.v;
	o.require = &require;
	if (store)
		ret = verify_stored(store, argv[optind], &o, &res, &err);
	else {
		struct sk_pull_opts po = {.reg = reg.opts};

		ret = sk_trust_verify_source(argv[optind], &po, &o, &res, &err);
	}
	if (ret) {
		sk_die_msg("verify: %s", err.msg);
		ret = sk_cli_exit_status(ret);
		goto out;
	}
	if (json) {
		struct json_object *j = json_object_new_object(), *m = json_object_new_array();

		for (size_t i = 0; i < res.matched.n; i++)
			json_object_array_add(m, json_object_new_string(res.matched.v[i]));
		json_object_object_add(j, "digest", json_object_new_string(res.digest));
		json_object_object_add(j, "identity", json_object_new_string(res.identity));
		json_object_object_add(j, "verified", json_object_new_boolean(1));
		json_object_object_add(j, "matched", m);
		json_object_object_add(j, "scope", json_object_new_string(res.scope));
		json_object_object_add(j, "signatures", json_object_new_int64((int64_t)res.nsigs));
		sk_cli_print_json(j);
		json_object_put(j);
		ret = 0;
		goto out;
	}
	list = sk_strv_join(&res.matched, ", ");
	printf("%s\n", res.digest);
	printf("verified for %s by: %s (scope %s, %zu signature%s found)\n", res.identity,
	       list ? list : "?", res.scope, res.nsigs, res.nsigs == 1 ? "" : "s");
	ret = 0;
out:
	free(list);
	sk_verify_result_free(&res);
	sk_strv_free(&keys);
	sk_strv_free(&require);
	sk_registry_cli_free(&reg);
	return ret;
}
