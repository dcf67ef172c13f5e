/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild's subcommands: one file each, one table in main.c. */
#ifndef SKBUILD_COMMANDS_H
#define SKBUILD_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "schedkit/cli.h"

int cmd_build(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_vmlinux(int argc, char **argv);

/* skbuild's cache: $SCHEDKIT_CACHE, $XDG_CACHE_HOME/schedkit, ~/.cache/schedkit. */
void skb_cache_dir(char *buf, size_t sz, const char *sub);

/*
 * A data file or directory (malloc'd path): $SCHEDKIT_DATADIR/INSTALLED, the
 * install tree next to the binary (../share/schedkit/INSTALLED), else the
 * source tree's IN_SOURCE (a build that was not installed).
 */
char *skb_data_path(const char *installed, const char *in_source);
/* Another tool installed next to skbuild (skrun), or NULL. */
char *skb_sibling_tool(const char *name);

int cmd_init(int argc, char **argv);
int cmd_vmtest(int argc, char **argv);

/*
 * Signs target with key (sk_sign_artifact) and prints what was signed to out
 * (may be NULL); with json, also the result as docs/json.md's sign object.
 * Returns 0 or the negative errno (the message printed already). cmd_sign.c.
 */
struct sk_key;
struct sk_sign_opts;
struct json_object;
int skb_sign_print(const char *target, const struct sk_key *key, const struct sk_sign_opts *o,
		   FILE *out, struct json_object **json);

/*
 * skbuild push with argv as cmd_push takes it; with result, prints nothing on
 * stdout and hands back docs/json.md's push object instead (build --push).
 */
int skb_push_main(int argc, char **argv, struct json_object **result);

/* Prints "skbuild: " + message to stderr. */
void sk_die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
