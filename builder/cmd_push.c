/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild push: an OCI layout's artifact to any OCI registry. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/oci.h"
#include "schedkit/registry.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"
#include "sign_cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skbuild push LAYOUT[:TAG] REF [options]\n"
		"\n"
		"Pushes the artifact tagged TAG in the OCI layout (its index, every platform\n"
		"manifest and the blobs the registry does not have yet) to REF\n"
		"([REGISTRY/]REPO[:TAG]) and prints the pushed digest. A re-push of\n"
		"unchanged content uploads nothing.\n"
		"\n"
		"  --digest-file F     also write the digest to F (for CI)\n"
		"%s"
		"  --mount-from REPO   mount blobs from REPO of the same registry\n"
		"  --sign KEY          then sign the pushed digest with KEY over the same\n"
		"                      connection, as `skbuild sign --key KEY REF@DIGEST`\n"
		"                      does; the key is loaded (and its password asked for)\n"
		"                      before anything is pushed\n"
		"  --recursive         with --sign: each platform manifest too (docs/policy.md)\n"
		"  --annotation K=V    with --sign: a signed annotation, repeatable\n"
		"  --force             with --sign: sign even when a valid signature by KEY\n"
		"                      with the same annotations is there already\n"
		"  (with --sign KEY, or instead of it with --keyless:)\n"
		"%s"
		"  --json              print the result as JSON (docs/json.md)\n"
		"  -q, --quiet         print only the digest (the default output)\n"
		"  --chunk-size BYTES  upload blobs above this size in chunks (default 16 MiB)\n"
		"%s"
		"\n"
		"KEY is a PEM file, env://VAR (the PEM in variable VAR) or - (standard input).\n"
		"Credentials come from --username/--password-stdin, $SCHEDKIT_REGISTRY_USERNAME\n"
		"and $SCHEDKIT_REGISTRY_PASSWORD, `skbuild login`, $REGISTRY_AUTH_FILE,\n"
		"containers' auth.json or Docker's config.json (including credential helpers).\n",
		SK_REGISTRY_CLI_HELP, SKB_SIGN_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

int cmd_push(int argc, char **argv)
{
	return skb_push_main(argc, argv, NULL);
}

int skb_push_main(int argc, char **argv, struct json_object **result)
{
	static const struct option long_opts[] = {
	    {"digest-file", required_argument, NULL, 'd'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    {"mount-from", required_argument, NULL, 'm'},
	    {"chunk-size", required_argument, NULL, 's'},
	    {"sign", required_argument, NULL, 'S'},
	    {"recursive", no_argument, NULL, 'R'},
	    {"annotation", required_argument, NULL, 'A'},
	    {"force", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    SKB_SIGN_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_push_opts opts = {0};
	struct sk_sign_opts so = {0};
	struct skb_sign_cli sc = {0};
	struct sk_registry_cli reg = {0};
	struct sk_strv mounts = {0}, ann = {0};
	struct sk_key *key = NULL;
	const char *sign_key = NULL;
	struct sk_error err = {0};
	struct sk_layout *l = NULL;
	struct sk_ref ref;
	char digest[SK_DIGEST_MAX], *dir = NULL, *tag = NULL, *end;
	const char *digest_file = NULL;
	struct json_object *j = NULL, *signed_json = NULL;
	bool json = false, force = false, recursive = false;
	struct sk_registry *session = NULL;
	struct sk_buf top = {0};
	int c, ret = SK_EXIT_FAILURE;

	while ((c = sk_cli_getopt(argc, argv, "qvh", long_opts)) != -1) {
		int r = skb_sign_cli_opt(&sc, c, optarg, "push");

		if (r < 0) {
			ret = SK_EXIT_USAGE;
			goto out;
		}
		if (r || sk_registry_cli_opt(&reg, c, optarg))
			continue;
		switch (c) {
		case 'S':
			sign_key = optarg;
			break;
		case 'A':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				sk_die_msg("push: --annotation wants KEY=VALUE, got '%s'", optarg);
				ret = 2;
				goto out;
			}
			if (sk_strv_push(&ann, optarg))
				goto out;
			break;
		case 'd':
			digest_file = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'R':
			recursive = true;
			break;
		case 'j':
			json = true;
			break;
		case 'q': /* the digest is all push prints; progress: a line per blob */
			opts.progress = SK_PROGRESS_LINES;
			break;
		case 'm':
			if (sk_strv_push(&mounts, optarg))
				goto out;
			break;
		case 's':
			errno = 0;
			reg.opts.chunk_size = strtoull(optarg, &end, 10);
			if (errno || *end || reg.opts.chunk_size < 1024) {
				sk_die_msg("push: --chunk-size must be a number of bytes >= 1024");
				ret = 2;
				goto out;
			}
			break;
		default: /* -h/--help, or a usage error */
			ret = sk_cli_usage(usage, c == 'h');
			goto out;
		}
	}
	if (argc - optind != 2) {
		ret = sk_cli_usage(usage, false);
		goto out;
	}
	if (sk_ref_parse(argv[optind + 1], &ref, &err)) {
		sk_die_msg("push: %s", err.msg);
		ret = SK_EXIT_USAGE;
		goto out;
	}
	if (sk_registry_cli_finish(&reg, argv[optind + 1])) {
		ret = SK_EXIT_USAGE;
		goto out;
	}
	opts.reg = reg.opts;
	opts.mount_from = &mounts;
	if ((ann.n || force || recursive || sc.format) && !sign_key && !sc.keyless) {
		sk_die_msg(
		    "push: --annotation, --force, --recursive and --signature-format go with "
		    "--sign KEY or --keyless");
		ret = 2;
		goto out;
	}
	if (skb_sign_cli_finish(&sc, &so, sign_key != NULL, "push")) {
		ret = SK_EXIT_USAGE;
		goto out;
	}
	/* a wrong password must fail before anything is pushed */
	if (sign_key && sk_key_load_signing_key(sign_key, &key, &err)) {
		sk_die_msg("push: --sign: %s", err.msg);
		ret = sk_cli_exit_status(err.code);
		goto out;
	}
	/* the source is always a layout: DIR[:TAG], or the explicit oci:DIR[:TAG] */
	if (sk_layout_ref_split(argv[optind] + (strncmp(argv[optind], "oci:", 4) ? 0 : 4), &dir,
				&tag)) {
		sk_die_msg("push: out of memory");
		goto out;
	}
	if (key || sc.keyless) { /* signing goes on over the push's connection */
		opts.session = &session;
		opts.top = &top;
	}
	if (sk_layout_open(dir, &l, &err) || sk_push_layout(l, tag, &ref, &opts, digest, &err)) {
		sk_die_msg("push: %s", err.msg);
		ret = sk_cli_exit_status(err.code);
		goto out;
	}
	if (digest_file) {
		char line[SK_DIGEST_MAX + 1];

		snprintf(line, sizeof(line), "%s\n", digest);
		if (sk_write_file_atomic(digest_file, line, strlen(line), 0644, &err)) {
			sk_die_msg("push: pushed %s but could not write the digest file: %s",
				   digest, err.msg);
			goto out;
		}
	}
	if (key || sc.keyless) {
		struct sk_ref pushed = ref;
		char target[SK_REF_STRING_MAX];

		/* the digest just pushed, never the tag again */
		snprintf(pushed.digest, sizeof(pushed.digest), "%s", digest);
		sk_ref_string(&pushed, target, sizeof(target));
		so.annotations = &ann;
		so.reg = opts.reg;
		so.force = force;
		so.recursive = recursive;
		so.session = session;
		so.top = top.data;
		so.top_len = top.len;
		ret =
		    skb_sign_print(target, key, &so, stderr, json || result ? &signed_json : NULL);
		if (ret) {
			sk_die_msg("push: pushed %s but signing it failed (see above); retry with "
				   "`skbuild sign %s%s %s`",
				   digest, sign_key ? "--key " : "--keyless",
				   sign_key ? sign_key : "", target);
			ret = sk_cli_exit_status(ret);
			goto out;
		}
	}
	if (json || result) {
		char pushed[SK_REF_STRING_MAX];

		sk_ref_string(&ref, pushed, sizeof(pushed));
		j = json_object_new_object();
		json_object_object_add(j, "reference", json_object_new_string(pushed));
		json_object_object_add(j, "digest", json_object_new_string(digest));
		json_object_object_add(j, "sign", signed_json ? signed_json : NULL);
		signed_json = NULL;
	}
	if (result) {
		*result = j;
		j = NULL;
	} else if (j) {
		sk_cli_print_json(j);
	} else {
		printf("%s\n", digest);
	}
	ret = SK_EXIT_OK;
out:
	json_object_put(j);
	json_object_put(signed_json);
	sk_key_free(key);
	sk_strv_free(&ann);
	sk_registry_close(session);
	sk_buf_free(&top);
	sk_layout_close(l);
	free(dir);
	free(tag);
	sk_registry_cli_free(&reg);
	skb_sign_cli_free(&sc);
	sk_strv_free(&mounts);
	return ret;
}
