/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun stop: ask the supervising skrun to detach its scheduler cleanly, and
 * wait until it has. Like systemctl stop, stopping what does not run succeeds.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "skrun.h"

#define STOP_WAIT_MS 15000

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun stop\n"
		   "\n"
		   "Asks the running `skrun run` to detach its scheduler cleanly and exit, and\n"
		   "waits until it has (at most 15 s); the kernel's default scheduler takes\n"
		   "over. With nothing running it says so and succeeds, as systemctl stop does.\n"
		   "Exit status: 0 when nothing runs any more, 1 when the supervisor did not\n"
		   "stop, 2 on usage errors.\n");
}

int cmd_stop(int argc, char **argv)
{
	struct sk_error err = {0};
	int pid;

	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = sk_cli_getopt(argc, argv, "h", longopts)) != -1)
		return sk_cli_usage(usage, c == 'h');
	if (optind != argc)
		return sk_cli_usage(usage, false);
	pid = skr_state_pid(skr_state_dir());
	if (skr_control_request("stop\n", &err)) {
		if (err.code == -ENOTCONN) {
			printf("skrun: nothing to stop: no skrun supervises a scheduler here\n");
			return SK_EXIT_OK;
		}
		sk_die_msg("stop: %s", err.msg);
		return SK_EXIT_FAILURE;
	}
	/* done when the supervisor is gone, not when it said it would go */
	for (int waited = 0; pid > 0 && waited < STOP_WAIT_MS; waited += 50) {
		if (!skr_pid_alive(pid))
			return SK_EXIT_OK;
		nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
	}
	if (pid > 0 && skr_pid_alive(pid)) {
		sk_die_msg("stop: skrun (pid %d) acknowledged but is still running after %d s", pid,
			   STOP_WAIT_MS / 1000);
		return SK_EXIT_FAILURE;
	}
	return SK_EXIT_OK;
}
