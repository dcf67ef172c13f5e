/* SPDX-License-Identifier: Apache-2.0 */
/* skrun switch: replace the supervised scheduler without a window of doubt. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "skrun.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun switch REF [--set NAME=VALUE]... [--identity HOST/REPO]\n"
		   "                  [--pull always|missing|never]\n"
		   "\n"
		   "Asks the running `skrun run` to replace its scheduler. The new one is\n"
		   "fetched, verified, checked and loaded (the kernel verifier runs) while the\n"
		   "old one stays attached; only then is the old one detached and the new one\n"
		   "attached. If that attach fails, the old one is attached again.\n"
		   "\n"
		   "  --set NAME=VALUE      set a tunable before load (repeatable)\n"
		   "  --identity HOST/REPO  REF is a layout or archive signed for this\n"
		   "                        repository (its own recorded name otherwise)\n"
		   "  --pull POLICY         always, missing or never (default: what the\n"
		   "                        supervisor was started with)\n"
		   "Exit status: 0 when the new scheduler runs, 1 when the switch failed (the\n"
		   "old one still runs), 3 when no skrun supervises here, 2 on usage errors.\n");
}

int cmd_switch(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"set", required_argument, NULL, 's'},
	    {"identity", required_argument, NULL, 'N'},
	    {"pull", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum sk_pull_policy pull;
	const char *identity = NULL, *pull_word = NULL;
	struct sk_strv sets = {0};
	struct sk_buf req = {0};
	struct sk_error err = {0};
	int c, status = SK_EXIT_FAILURE;

	while ((c = sk_cli_getopt(argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case 's':
			if (skr_sets_put(&sets, optarg))
				goto out;
			break;
		case 'N':
			identity = optarg;
			break;
		case 'P':
			if (sk_pull_policy_parse(optarg, &pull)) {
				sk_die_msg("switch: --pull %s: use always, missing or never",
					   optarg);
				status = SK_EXIT_USAGE;
				goto out;
			}
			pull_word = optarg;
			break;
		default: /* -h/--help, or a usage error */
			status = sk_cli_usage(usage, c == 'h');
			goto out;
		}
	}
	if (optind != argc - 1) {
		status = sk_cli_usage(usage, false);
		goto out;
	}
	if (skr_switch_request(&req, argv[optind], &sets, identity, pull_word, NULL, NULL, &err)) {
		sk_die_msg("switch: %s", err.msg);
		status = SK_EXIT_USAGE;
		goto out;
	}
	if (skr_control_request((char *)req.data, &err)) {
		sk_die_msg("switch: %s", err.msg);
		status = err.code == -ENOTCONN ? 3 : SK_EXIT_FAILURE;
		goto out;
	}
	status = SK_EXIT_OK;
out:
	sk_strv_free(&sets);
	sk_buf_free(&req);
	return status;
}
