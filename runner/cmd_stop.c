/* SPDX-License-Identifier: Apache-2.0 */
/* skrun stop: ask the supervising skrun to detach its scheduler cleanly. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "skrun.h"

int cmd_stop(int argc, char **argv)
{
	struct sk_error err = {0};

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: skrun stop\n\nAsks the running `skrun run` to detach its "
		       "scheduler cleanly and exit;\nthe kernel's default scheduler takes over.\n");
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: skrun stop\n");
		return 2;
	}
	if (skr_control_request("stop\n", &err)) {
		sk_die_msg("stop: %s", err.msg);
		return 1;
	}
	return 0;
}
