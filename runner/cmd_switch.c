/* SPDX-License-Identifier: Apache-2.0 */
/* skrun switch: replace the supervised scheduler without a window of doubt. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "skrun.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun switch REF [--set NAME=VALUE]...\n"
		   "\n"
		   "Asks the running `skrun run` to replace its scheduler. The new one is\n"
		   "fetched, verified, checked and loaded (the kernel verifier runs) while the\n"
		   "old one stays attached; only then is the old one detached and the new one\n"
		   "attached. If that attach fails, the old one is attached again.\n");
}

int cmd_switch(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"set", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_buf req = {0};
	struct sk_error err = {0};
	int c, status = 1;

	sk_buf_printf(&req, "switch\t");
	while ((c = sk_cli_getopt(argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case 's':
			if (strchr(optarg, '\t') || strchr(optarg, '\n')) {
				sk_die_msg("switch: --set values cannot hold tabs or newlines");
				goto out;
			}
			sk_buf_printf(&req, "\t%s", optarg);
			break;
		default: /* -h/--help, or a usage error */
			status = sk_cli_usage(usage, c == 'h');
			goto out;
		}
	}
	if (optind != argc - 1 || strchr(argv[optind], '\t') || strchr(argv[optind], '\n')) {
		status = sk_cli_usage(usage, false);
		goto out;
	}
	{
		/* the reference goes first: "switch\tREF\tSET..." */
		struct sk_buf full = {0};

		sk_buf_printf(&full, "switch\t%s%s\n", argv[optind], (char *)req.data + 7);
		status = skr_control_request((char *)full.data, &err) ? 1 : 0;
		sk_buf_free(&full);
	}
	if (status)
		sk_die_msg("switch: %s", err.msg);
out:
	sk_buf_free(&req);
	return status;
}
