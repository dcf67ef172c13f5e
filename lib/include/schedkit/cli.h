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

/* The release both tools report (--version) and skbuild records in configs. */
#define SK_VERSION "0.1.0"

/*
 * Exit statuses every command uses (docs/json.md and the man pages list them),
 * so that a pipeline can tell a refusal from an outage without reading text.
 */
enum sk_exit {
	SK_EXIT_OK = 0,
	SK_EXIT_FAILURE = 1,   /* anything not listed below */
	SK_EXIT_USAGE = 2,     /* bad options or arguments */
	SK_EXIT_REFUSED = 3,   /* signature verification refused the artifact */
	SK_EXIT_NOT_FOUND = 4, /* the artifact, tag, file or key does not exist */
	SK_EXIT_NETWORK = 5,   /* the registry could not be reached or gave up */
	SK_EXIT_KERNEL = 6,    /* this kernel cannot run it (features, verifier) */
};

/* The exit status for a negative errno from the library (see enum sk_exit). */
int sk_cli_exit_status(int err);

struct option;

/*
 * getopt_long, plus the hidden --list-options: with it as the only argument,
 * prints every option of the table (one per line: "--name", "--name=" when it
 * takes an argument, "-x" for short options) and exits 0. Completions and
 * the man page test are generated from this, so they come from the table.
 */
int sk_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

struct json_object;
/* Prints j to stdout as pretty JSON plus a newline (every --json output). */
void sk_cli_print_json(struct json_object *j);

struct sk_command {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand; returns exit status */
	const char *summary;
};

/*
 * Runs `tool <command> ...`: the command named by argv[1], or the usage listing
 * (stdout and 0 for --help/-h/help; stderr and 2 without a command), or
 * "TOOL SK_VERSION" for --version. An unknown command is an error (2).
 * Returns the exit status.
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
