/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild: build, package, sign and push sched_ext schedulers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct sk_command commands[] = {
    {"build", cmd_build, "compile a scheduler and pack it as an OCI artifact"},
    {"inspect", cmd_inspect, "show what an artifact contains and requires"},
    {"key", cmd_key, "generate a signing key pair"},
    {"login", cmd_login, "store credentials for a registry"},
    {"logout", cmd_logout, "remove stored credentials for a registry"},
    {"push", cmd_push, "push an artifact from a layout to a registry"},
    {"save", cmd_save, "write an artifact as an oci-archive tarball"},
    {"sign", cmd_sign, "sign an artifact in a registry or a layout (cosign format)"},
    {"vmlinux", cmd_vmlinux, "write vmlinux.h for a kernel's BTF"},
};

void sk_die_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("skbuild: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: skbuild <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'skbuild <command> --help' for a command's options.\n");
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
	sk_die_msg("'%s' is not a command; see 'skbuild --help'", argv[1]);
	return 2;
}
