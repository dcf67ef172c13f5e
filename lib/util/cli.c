/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

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
	return help ? SK_EXIT_OK : SK_EXIT_USAGE;
}

int sk_cli_exit_status(int err)
{
	switch (err) {
	case 0:
		return SK_EXIT_OK;
	case -EKEYREJECTED:
		return SK_EXIT_REFUSED;
	case -ENOENT:
		return SK_EXIT_NOT_FOUND;
	/* the registry client's transport failures and exhausted retries */
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EAGAIN:
		return SK_EXIT_NETWORK;
	/* the host check's verdict, and the kernel's verifier or attach refusing it */
	case -ENOTSUP:
	case -ENOEXEC:
		return SK_EXIT_KERNEL;
	default:
		return SK_EXIT_FAILURE;
	}
}

int sk_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	if (argc == 2 && optind <= 1 && !strcmp(argv[1], "--list-options")) {
		for (const struct option *o = longopts; o && o->name; o++)
			printf("--%s%s\n", o->name, o->has_arg == no_argument ? "" : "=");
		for (const char *s = shortopts; s && *s; s++) {
			if (*s == ':' || *s == '+' || *s == '-')
				continue;
			printf("-%c\n", *s);
		}
		fflush(stdout);
		exit(SK_EXIT_OK);
	}
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

void sk_cli_print_json(struct json_object *j)
{
	printf("%s\n",
	       json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void usage(FILE *f, const char *tool, const struct sk_command *cmds, size_t n)
{
	fprintf(f, "usage: %s <command> [options]\n       %s --version\n\ncommands:\n", tool, tool);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun '%s <command> --help' for a command's options.\n", tool);
}

int sk_cli_main(const char *tool, const struct sk_command *cmds, size_t n, int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr, tool, cmds, n);
		return SK_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout, tool, cmds, n);
		return SK_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("%s %s\n", tool, SK_VERSION);
		return SK_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	sk_cli_error(tool, "'%s' is not a command; see '%s --help'", argv[1], tool);
	return SK_EXIT_USAGE;
}
