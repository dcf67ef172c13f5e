/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild's subcommands: one file each, one table in main.c. */
#ifndef SKBUILD_COMMANDS_H
#define SKBUILD_COMMANDS_H

#include <stddef.h>

struct sk_command {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand; returns exit status */
	const char *summary;
};

int cmd_build(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_vmlinux(int argc, char **argv);

/* skbuild's cache: $SCHEDKIT_CACHE, $XDG_CACHE_HOME/schedkit, ~/.cache/schedkit. */
void skb_cache_dir(char *buf, size_t sz, const char *sub);

/* Prints "skbuild: " + message to stderr. */
void sk_die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
