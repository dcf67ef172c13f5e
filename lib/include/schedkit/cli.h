/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command-line front end skbuild and skrun share: one table of
 * subcommands per tool, one dispatcher, one way to print errors.
 */
#ifndef SCHEDKIT_CLI_H
#define SCHEDKIT_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sk_command {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand; returns exit status */
	const char *summary;
};

/*
 * Runs `tool <command> ...`: the command named by argv[1], or the usage listing
 * (stdout and 0 for --help/-h/help; stderr and 2 without a command). An unknown
 * command is an error (2). Returns the exit status.
 */
int sk_cli_main(const char *tool, const struct sk_command *cmds, size_t n, int argc, char **argv);

/*
 * How a command answers -h/--help (help: usage on stdout, returns 0) and a
 * usage error (usage on stderr, returns 2): returns the exit status.
 */
int sk_cli_usage(void (*usage)(FILE *f), bool help);

/* Prints "TOOL: " + message + newline to stderr. */
void sk_cli_error(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sk_cli_verror(const char *tool, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#ifdef __cplusplus
}
#endif
#endif
