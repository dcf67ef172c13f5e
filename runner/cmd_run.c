/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun run: prepare (fetch, verify, check) the scheduler and its fallback,
 * take the host's supervisor lock, then supervise in the foreground.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "skrun.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skrun run REF [options]\n"
		"\n"
		"Fetches the scheduler by digest, verifies it, checks this kernel, loads it\n"
		"(the kernel verifier runs), attaches it and supervises it in the foreground.\n"
		"SIGTERM/SIGINT or `skrun stop` detach it cleanly; when the kernel ejects it,\n"
		"the exit kind, reason and message are reported and the restart policy\n"
		"applies. REF is a registry reference, an OCI layout DIR[:TAG] or an\n"
		"oci-archive FILE[:TAG]; it is pulled into the store first.\n"
		"\n"
		"  --fallback REF          attach this (prepared the same way) when REF keeps\n"
		"                          failing; otherwise the kernel default stays\n"
		"  --restart POLICY        on-failure (default), always, never\n"
		"  --backoff-ms N          first restart delay, doubled each time (default 1000)\n"
		"  --backoff-max-ms N      cap of the delay (default 30000)\n"
		"  --max-restarts N        restarts allowed within the window (default 5)\n"
		"  --restart-window S      the window in seconds (default 300)\n"
		"  --set NAME=VALUE        set a tunable before load (repeatable)\n"
		"  --ops NAME              the sched_ext_ops map when the object has several\n"
		"  --store DIR             content store (default /var/lib/schedkit)\n"
		"  --policy FILE           trust policy (default /etc/schedkit/policy.json)\n"
		"  --key PUB               trust this public key instead of the policy\n"
		"  --identity HOST/REPO    layouts/archives: the repository they were signed\n"
		"                          for (archives from `skbuild save REF` record it)\n"
		"  --insecure-skip-verify  run without signature verification (marked so)\n"
		"%s"
		"\n"
		"State: $SKRUN_STATE_DIR or /run/schedkit (lock, state.json, control.sock).\n",
		SK_REGISTRY_CLI_HELP);
}

static int parse_int(const char *s, int min, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || end == s || v < min || v > 1000000000)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"fallback", required_argument, NULL, 'f'},
	    {"restart", required_argument, NULL, 'r'},
	    {"backoff-ms", required_argument, NULL, 'b'},
	    {"backoff-max-ms", required_argument, NULL, 'B'},
	    {"max-restarts", required_argument, NULL, 'm'},
	    {"restart-window", required_argument, NULL, 'w'},
	    {"set", required_argument, NULL, 's'},
	    {"ops", required_argument, NULL, 'o'},
	    {"store", required_argument, NULL, 'S'},
	    {"policy", required_argument, NULL, 'p'},
	    {"key", required_argument, NULL, 'k'},
	    {"insecure-skip-verify", no_argument, NULL, 'I'},
	    {"identity", required_argument, NULL, 'N'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct skr_policy pol = {
	    .restart = SKR_RESTART_ON_FAILURE,
	    .backoff_ms = 1000,
	    .backoff_max_ms = 30000,
	    .max_restarts = 5,
	    .window_s = 300,
	};
	struct skr_source_opts src = {0};
	struct skr_target primary = {0}, fallback = {0};
	struct skr_state st = {.lock_fd = -1};
	struct sk_error err = {0};
	const char *fallback_ref = NULL, *ops = NULL;
	struct sk_strv sets = {0};
	int c, status = 1;

	while ((c = sk_cli_getopt(argc, argv, "h", longopts)) != -1) {
		if (sk_registry_cli_opt(&src.reg, c, optarg))
			continue;
		switch (c) {
		case 'f':
			fallback_ref = optarg;
			break;
		case 'r':
			if (!strcmp(optarg, "on-failure"))
				pol.restart = SKR_RESTART_ON_FAILURE;
			else if (!strcmp(optarg, "always"))
				pol.restart = SKR_RESTART_ALWAYS;
			else if (!strcmp(optarg, "never"))
				pol.restart = SKR_RESTART_NEVER;
			else {
				sk_die_msg("run: --restart %s: use on-failure, always or never",
					   optarg);
				return 2;
			}
			break;
		case 'b':
		case 'B':
		case 'm':
		case 'w': {
			int *dst = c == 'b'   ? &pol.backoff_ms
				   : c == 'B' ? &pol.backoff_max_ms
				   : c == 'm' ? &pol.max_restarts
					      : &pol.window_s;

			if (parse_int(optarg, c == 'm' ? 0 : 1, dst)) {
				sk_die_msg("run: '%s' is not a valid number here", optarg);
				return 2;
			}
			break;
		}
		case 's':
			sk_strv_push(&sets, optarg);
			break;
		case 'o':
			ops = optarg;
			break;
		case 'S':
			src.store = optarg;
			break;
		case 'p':
			src.policy = optarg;
			break;
		case 'k':
			sk_strv_push(&src.keys, optarg);
			break;
		case 'I':
			src.insecure_skip_verify = true;
			break;
		case 'N':
			src.identity = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (optind != argc - 1)
		return sk_cli_usage(usage, false);
	/* --insecure names the hosts of both references */
	if (sk_registry_cli_finish(&src.reg, argv[optind]) ||
	    (fallback_ref && sk_registry_cli_finish(&src.reg, fallback_ref))) {
		status = SK_EXIT_USAGE;
		goto out;
	}

	primary.ops_name = ops;
	for (size_t i = 0; i < sets.n; i++)
		sk_strv_push(&primary.sets, sets.v[i]);
	if (skr_prepare(argv[optind], &src, &primary, &err))
		goto fail;
	if (fallback_ref && skr_prepare(fallback_ref, &src, &fallback, &err)) {
		sk_err_prefix(&err, "fallback %s: ", fallback_ref);
		goto fail;
	}
	snprintf(st.dir, sizeof(st.dir), "%s", skr_state_dir());
	if (skr_state_lock(&st, &err))
		goto fail;
	status = skr_supervise(&st, &primary, fallback_ref ? &fallback : NULL, &pol, &src);
	skr_state_unlock(&st);
	goto out;
fail:
	sk_die_msg("run: %s", err.msg);
out:
	skr_target_free(&primary);
	skr_target_free(&fallback);
	sk_strv_free(&sets);
	sk_strv_free(&src.keys);
	sk_registry_cli_free(&src.reg);
	return status;
}
