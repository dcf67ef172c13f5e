/* SPDX-License-Identifier: Apache-2.0 */
/* skrun: pull, verify, check, attach and supervise sched_ext schedulers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct sk_command commands[] = {
    {"pull", cmd_pull, "fetch and verify an artifact into the local store"},
    {"verify", cmd_verify, "check an artifact's signatures against the trust policy"},
    {"run", cmd_run, "attach a scheduler and supervise it in the foreground"},
    {"switch", cmd_switch, "replace the supervised scheduler"},
    {"stop", cmd_stop, "detach the supervised scheduler cleanly"},
    {"status", cmd_status, "what runs, from which artifact, and why it last stopped"},
    {"check", cmd_check, "test an artifact's requirements against this kernel"},
    {"doctor", cmd_doctor, "check that this host can run sched_ext schedulers"},
    {"store", cmd_store, "check the local content store (store verify)"},
};

void sk_die_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("skrun: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'skrun <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	sk_die_msg("'%s' is not a command; see 'skrun --help'", argv[1]);
	return 2;
}
