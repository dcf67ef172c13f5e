/* SPDX-License-Identifier: Apache-2.0 */
/* skrun pull: fetch and verify an artifact into the local store. */
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
		"usage: skrun pull SOURCE [options]\n"
		"\n"
		"SOURCE is a registry reference ([REGISTRY/]REPO[:TAG][@sha256:DIGEST]), an\n"
		"OCI layout directory (DIR[:TAG], or oci:DIR[:TAG]) or an oci-archive\n"
		"tarball (FILE[:TAG], or oci-archive:FILE[:TAG]) for air-gapped hosts.\n"
		"A tag is resolved once to a digest; this host's platform is selected from\n"
		"the index; every manifest and blob is verified against its digest as it\n"
		"lands in the store. Prints the digest. A reference pinned by digest whose\n"
		"content is already in the store makes no network request.\n"
		"\n"
		"\n"
		"Before the reference is recorded, its digest (the index's, for a\n"
		"multi-platform artifact) must carry signatures the trust policy accepts;\n"
		"the signatures are kept in the store so later checks work offline.\n"
		"\n"
		"  --policy FILE       trust policy (default " SK_POLICY_DEFAULT ")\n"
		"  --key PUB           trust exactly this public key instead of the policy\n"
		"                      (repeatable; any one suffices), as cosign verify --key\n"
		"  --identity HOST/REPO  the repository a layout or archive was signed for\n"
		"                      (default: its entry's name when that is a full\n"
		"                      reference, as `skbuild save REF` records)\n"
		"  --insecure-skip-verify  record it without verifying signatures; the store\n"
		"                      entry is marked " SK_ANN_VERIFIED "=false\n"
		"  --platform OS/ARCH  platform to pull (default: linux/this machine's)\n"
		"  --with-source       also fetch the source tarball layer (provenance that\n"
		"                      nothing on this host reads; left out by default)\n"
		"  --pull POLICY       always (default): resolve a tag at the registry, or the\n"
		"                      digest the store recorded (with a warning) when it\n"
		"                      cannot be reached; missing: a tag the store recorded\n"
		"                      resolves there, offline; never: only from the store\n"
		"  --store DIR         the content store (default " SK_STORE_DEFAULT ")\n"
		"  --json              print the result as JSON (docs/json.md)\n"
		"%s%s",
		SK_REGISTRY_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

static void report_helper(void *ctx, const char *report)
{
	(void)ctx;
	fprintf(stderr, "fetch helper: %s\n", report);
}

int cmd_pull(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"platform", required_argument, NULL, 'p'},
	    {"store", required_argument, NULL, 's'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"help", no_argument, NULL, 'h'},
	    {"policy", required_argument, NULL, 'P'},
	    {"key", required_argument, NULL, 'K'},
	    {"identity", required_argument, NULL, 'i'},
	    {"insecure-skip-verify", no_argument, NULL, 'I'},
	    {"json", no_argument, NULL, 'j'},
	    {"with-source", no_argument, NULL, 'W'},
	    {"pull", required_argument, NULL, 'L'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const unverified[] = {SK_ANN_VERIFIED "=false", NULL};
	struct sk_verify_opts vopts = {0};
	struct sk_verify_result vres = {0};
	struct sk_strv keys = {0};
	bool skip_verify = false, json = false;
	struct sk_pull_opts opts = {0};
	struct sk_registry_cli reg = {0};
	struct sk_error err = {0}, warning = {0};
	struct sk_store *s = NULL;
	const char *store = NULL;
	char digest[SK_DIGEST_MAX], name[SK_REF_STRING_MAX], os[32] = "", *platform = NULL;
	int c, ret = 1;

	while ((c = sk_cli_getopt(argc, argv, "vh", long_opts)) != -1) {
		if (sk_registry_cli_opt(&reg, c, optarg))
			continue;
		switch (c) {
		case 'p':
			platform = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'P':
			vopts.policy_path = optarg;
			break;
		case 'K':
			if (sk_strv_push(&keys, optarg))
				goto out;
			break;
		case 'i':
			vopts.identity = optarg;
			break;
		case 'I':
			skip_verify = true;
			break;
		case 'j':
			json = true;
			break;
		case 'W':
			opts.with_source = true;
			break;
		case 'L':
			if (sk_pull_policy_parse(optarg, &opts.policy)) {
				sk_die_msg("pull: --pull %s: use always, missing or never", optarg);
				return SK_EXIT_USAGE;
			}
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (argc - optind != 1)
		return sk_cli_usage(usage, false);
	if (platform) {
		const char *slash = strchr(platform, '/');

		if (!slash || slash == platform || !slash[1] ||
		    (size_t)(slash - platform) >= sizeof(os)) {
			sk_die_msg("pull: --platform must be OS/ARCH[/VARIANT], e.g. linux/arm64");
			return 2;
		}
		snprintf(os, sizeof(os), "%.*s", (int)(slash - platform), platform);
		opts.os = os;
		opts.arch = slash + 1;
	}
	if (sk_registry_cli_finish(&reg, argv[optind]))
		goto out;
	opts.reg = reg.opts;
	if (opts.reg.verbose)
		opts.on_helper = report_helper;
	if (skip_verify && (keys.n || vopts.policy_path)) {
		sk_die_msg("pull: --insecure-skip-verify does not go with --key or --policy");
		ret = 2;
		goto out;
	}
	if (skip_verify) {
		/* no signature traffic at all: skipping means skipping */
		opts.record_annotations = unverified;
	} else {
		if (keys.n)
			vopts.keys = (const char *const *)keys.v;
		opts.verify = &vopts;
		opts.result = &vres;
	}
	if (sk_store_open(store, &s, &err)) {
		sk_die_msg("pull: %s", err.msg);
		goto out;
	}
	opts.warning = &warning;
	if (sk_pull(s, argv[optind], &opts, digest, name, &err)) {
		if (!skip_verify)
			sk_unsigned_build_explain(argv[optind], &err);
		sk_die_msg("pull: %s", err.msg);
		ret = sk_cli_exit_status(err.code);
		goto out;
	}
	if (warning.code)
		fprintf(stderr, "skrun: warning: pull: %s\n", warning.msg);
	/* quiet on success (stdout is the digest, for scripts); -v tells what was trusted */
	if (skip_verify && opts.reg.verbose) {
		fprintf(stderr,
			"skrun: WARNING: %s was not verified (--insecure-skip-verify); recorded "
			"as %s with " SK_ANN_VERIFIED "=false\n",
			digest, name[0] ? name : "(untagged)");
	} else if (opts.reg.verbose) {
		char *list = sk_strv_join(&vres.matched, ", ");

		fprintf(stderr, "verified %s for %s: signed by %s (scope %s)\n", digest,
			vres.identity, list ? list : "?", vres.scope);
		free(list);
	}
	if (opts.reg.verbose)
		fprintf(stderr, "pulled %s as %s into %s\n", digest, name[0] ? name : "(untagged)",
			sk_store_dir(s));
	if (json) {
		struct json_object *j = json_object_new_object(), *m = json_object_new_array();

		for (size_t i = 0; i < vres.matched.n; i++)
			json_object_array_add(m, json_object_new_string(vres.matched.v[i]));
		json_object_object_add(j, "digest", json_object_new_string(digest));
		json_object_object_add(j, "name", name[0] ? json_object_new_string(name) : NULL);
		json_object_object_add(j, "store", json_object_new_string(sk_store_dir(s)));
		json_object_object_add(j, "verified", json_object_new_boolean(!skip_verify));
		json_object_object_add(j, "identity",
				       skip_verify ? NULL : json_object_new_string(vres.identity));
		json_object_object_add(j, "matched", m);
		json_object_object_add(j, "scope",
				       skip_verify ? NULL : json_object_new_string(vres.scope));
		sk_cli_print_json(j);
		json_object_put(j);
	} else {
		printf("%s\n", digest);
	}
	ret = 0;
out:
	sk_store_close(s);
	sk_registry_cli_free(&reg);
	sk_strv_free(&keys);
	sk_verify_result_free(&vres);
	return ret;
}
