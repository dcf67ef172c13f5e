/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun run: the path from an artifact to an attached scheduler, then
 * supervision in the foreground until a signal or the kernel ejects it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"

#define POLL_MS 100

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun run LAYOUT[:TAG] [options]\n"
		   "\n"
		   "Loads the scheduler (the kernel verifier runs), attaches it, and stays in the\n"
		   "foreground. SIGTERM or SIGINT detach it cleanly; if the kernel ejects it, the\n"
		   "exit kind, reason and message are reported.\n"
		   "\n"
		   "  --ops NAME          the sched_ext_ops map when the object has several\n"
		   "  --set NAME=VALUE    set a tunable before load (repeatable)\n");
}

static void print_exit(struct sk_sched *s)
{
	const char *name = sk_sched_name(s);
	struct sk_exit_info info, *ei = &info;
	int ret = sk_sched_exit_info(s, ei);

	if (ret == -ENOENT) {
		printf("skrun: %s: no exit record (the scheduler defines no uei)\n", name);
		return;
	}
	if (ret || !ei->valid) {
		printf("skrun: %s: exit record not filled (%s)\n", name,
		       ret ? strerror(-ret) : "ops.exit did not record it");
		return;
	}
	printf("skrun: %s exited: kind=%d (%s) code=%lld", name, ei->kind,
	       sk_exit_kind_str(ei->kind), (long long)ei->exit_code);
	if (ei->reason[0])
		printf(" reason=\"%s\"", ei->reason);
	printf("\n");
	if (ei->msg[0])
		printf("skrun: %s message: %s\n", name, ei->msg);
	fflush(stdout);
}

/* Ejected when its exit record is filled or the kernel no longer runs it. */
static bool ejected(struct sk_sched *s, struct sk_exit_info *ei)
{
	char state[32], ops[SK_SCX_NAME_LEN];

	if (!sk_sched_exit_info(s, ei) && ei->valid)
		return true;
	sk_scx_state(state, sizeof(state));
	sk_scx_ops_name(ops, sizeof(ops));
	return strcmp(state, "enabled") && strcmp(state, "enabling");
}

static void wait_disabled(int max_ms)
{
	char state[32];

	for (int waited = 0; waited < max_ms; waited += 10) {
		sk_scx_state(state, sizeof(state));
		if (!strcmp(state, "disabled") || !strcmp(state, "absent"))
			return;
		nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
	}
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"ops", required_argument, NULL, 'o'},
		{"set", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sk_error err = {0};
	struct sk_layout *l = NULL;
	struct sk_artifact *a = NULL;
	struct sk_sched *s = NULL;
	struct sk_strv sets = {0};
	struct sk_exit_info ei;
	struct sk_load_opts lo = {0};
	sigset_t sigs;
	char *dir = NULL, *tag = NULL, state[32], ops[SK_SCX_NAME_LEN];
	int c, status = 1;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			lo.ops_name = optarg;
			break;
		case 's':
			sk_strv_push(&sets, optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	lo.set = (const char *const *)sets.v;

	/* Signals are taken synchronously: no handler, no global flag. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	if (sk_layout_ref_split(argv[optind], &dir, &tag)) {
		sk_die_msg("run: out of memory");
		goto out;
	}
	if (sk_layout_open(dir, &l, &err) || sk_artifact_read(l, tag, NULL, &a, &err))
		goto fail;
	printf("skrun: artifact %s (%s/%s)\n",
	       a->index_digest[0] ? a->index_digest : a->manifest_digest, a->os, a->arch);
	if (sk_sched_load(a->object, a->object_len, &lo, &s, &err))
		goto fail;
	printf("skrun: loaded '%s' (verifier accepted it)\n", sk_sched_name(s));
	if (sk_sched_attach(s, &err))
		goto fail;
	sk_scx_state(state, sizeof(state));
	sk_scx_ops_name(ops, sizeof(ops));
	printf("skrun: attached '%s': state=%s ops=%s\n", sk_sched_name(s), state, ops);
	fflush(stdout);

	for (;;) {
		struct timespec ts = {0, POLL_MS * 1000000L};
		int sig = sigtimedwait(&sigs, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			printf("skrun: %s received, detaching '%s'\n", strsignal(sig),
			       sk_sched_name(s));
			sk_sched_detach(s);
			wait_disabled(5000);
			sk_scx_state(state, sizeof(state));
			printf("skrun: detached: state=%s\n", state);
			print_exit(s);
			status = 0;
			goto out;
		}
		if (ejected(s, &ei)) {
			wait_disabled(5000);
			sk_scx_state(state, sizeof(state));
			printf("skrun: the kernel ejected '%s': state=%s\n", sk_sched_name(s),
			       state);
			print_exit(s);
			status = 1;
			goto out;
		}
	}
fail:
	sk_die_msg("run: %s", err.msg);
out:
	sk_sched_close(s);
	sk_artifact_free(a);
	sk_layout_close(l);
	sk_strv_free(&sets);
	free(dir);
	free(tag);
	return status;
}
