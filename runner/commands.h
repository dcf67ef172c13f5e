/* SPDX-License-Identifier: Apache-2.0 */
/* skrun's subcommands: one file each, one table in main.c. */
#ifndef SKRUN_COMMANDS_H
#define SKRUN_COMMANDS_H

#include "schedkit/cli.h"

int cmd_pull(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_switch(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_mode(int argc, char **argv);

/* Prints "skrun: " + message to stderr. */
void sk_die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
