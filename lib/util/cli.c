/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schedkit/cli.h"

void sk_cli_verror(const char *tool, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", tool);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void sk_cli_error(const char *tool, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk_cli_verror(tool, fmt, ap);
	va_end(ap);
}

int sk_cli_usage(void (*usage)(FILE *f), bool help)
{
	usage(help ? stdout : stderr);
	return help ? 0 : 2;
}

static void usage(FILE *f, const char *tool, const struct sk_command *cmds, size_t n)
{
	fprintf(f, "usage: %s <command> [options]\n\ncommands:\n", tool);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun '%s <command> --help' for a command's options.\n", tool);
}

int sk_cli_main(const char *tool, const struct sk_command *cmds, size_t n, int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr, tool, cmds, n);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout, tool, cmds, n);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	sk_cli_error(tool, "'%s' is not a command; see '%s --help'", argv[1], tool);
	return 2;
}
