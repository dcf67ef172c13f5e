/* SPDX-License-Identifier: Apache-2.0 */
/* skrun: pull, verify, check, attach and supervise sched_ext schedulers. */
#include <stdarg.h>

#include "commands.h"
#include "schedkit/cli.h"
#include "schedkit/kernel.h"

static const struct sk_command commands[] = {
    {"pull", cmd_pull, "fetch and verify an artifact into the local store"},
    {"verify", cmd_verify, "check an artifact's signatures against the trust policy"},
    {"run", cmd_run, "attach a scheduler and supervise it in the foreground"},
    {"switch", cmd_switch, "replace the supervised scheduler"},
    {"mode", cmd_mode, "switch to a tunable preset of skrun.json (or list them)"},
    {"stop", cmd_stop, "detach the supervised scheduler cleanly"},
    {"status", cmd_status, "what runs, from which artifact, and why it last stopped"},
    {"check", cmd_check, "test an artifact's requirements against this kernel"},
    {"doctor", cmd_doctor, "check that this host can run sched_ext schedulers"},
    {"store", cmd_store, "list, remove, prune and verify the local content store"},
    {"policy", cmd_policy, "check a trust policy for every problem (policy check)"},
};

void sk_die_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk_cli_verror("skrun", fmt, ap);
	va_end(ap);
}

int main(int argc, char **argv)
{
	/* libbpf speaks through our log, in order with our own messages */
	sk_kernel_log_init();
	return sk_cli_main("skrun", commands, sizeof(commands) / sizeof(commands[0]), argc, argv);
}
