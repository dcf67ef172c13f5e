/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun mode: switch to one of the tunable presets skrun.json defines for a
 * scheduler (scx_loader's modes, scxctl's switch --mode), through the same
 * verified path as `skrun switch`; or list them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "skrun.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skrun mode [NAME] [--scheduler NAME] [--config FILE] [--pull POLICY]\n"
		"\n"
		"With NAME, asks the running `skrun run` to reload its scheduler with the\n"
		"tunables of mode NAME from the configuration (" SKRUN_CONFIG_DEFAULT ",\n"
		"or $" SKRUN_CONFIG_ENV "): the scheduler's own \"set\", then the mode's values.\n"
		"It goes the way `skrun switch` goes: fetched by the pull policy, verified,\n"
		"checked and loaded beside the running one, which stays attached if anything\n"
		"fails. \"default\" is the scheduler's own tunables alone. Without NAME, lists\n"
		"the modes of the scheduler that runs and marks the one in force.\n"
		"\n"
		"  --scheduler NAME  a scheduler of the configuration other than the one that\n"
		"                    runs (switches to it, in mode NAME)\n"
		"  --config FILE     the configuration to read\n"
		"  --pull POLICY     always, missing or never (default: the configuration's)\n"
		"Exit status: 0 when the mode is in force, 1 when the switch failed (the old\n"
		"one still runs), 3 when no skrun supervises here, 4 for an unknown mode or\n"
		"scheduler, 2 on usage errors.\n");
}

/* The configured scheduler that runs now: as recorded, else by its reference. */
static const char *running_scheduler(const struct skr_config *cf, struct json_object *st)
{
	const char *name = st ? sk_json_str(st, "scheduler") : NULL, *ref;

	if (name && *name)
		return name;
	ref = st ? sk_json_str(st, "ref") : NULL;
	for (size_t i = 0; ref && i < cf->nscheds; i++)
		if (!strcmp(cf->scheds[i].ref, ref))
			return cf->scheds[i].name;
	return NULL;
}

static void list_modes(const struct skr_sched_conf *s, const char *current)
{
	const char *cur = current && *current ? current : "default";

	printf("scheduler %s (%s)\n", s->name, s->ref);
	printf("%s default", !strcmp(cur, "default") ? "*" : " ");
	for (size_t i = 0; i < s->sets.n; i++)
		printf(" %s", s->sets.v[i]);
	printf("\n");
	for (size_t i = 0; i < s->nmodes; i++) {
		struct sk_strv sets = {0};

		skr_config_sets(s, s->modes[i].name, &sets, NULL);
		printf("%s %s", !strcmp(cur, s->modes[i].name) ? "*" : " ", s->modes[i].name);
		for (size_t j = 0; j < sets.n; j++)
			printf(" %s", sets.v[j]);
		printf("\n");
		sk_strv_free(&sets);
	}
}

int cmd_mode(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"scheduler", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'C'},
	    {"pull", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sched_name = NULL, *config = NULL, *pull_word = NULL, *name;
	const struct skr_sched_conf *s;
	struct json_object *st = NULL;
	struct skr_config cf = {0};
	struct sk_error err = {0};
	struct sk_strv sets = {0};
	struct sk_buf req = {0};
	enum sk_pull_policy pull;
	int c, pid, status = SK_EXIT_FAILURE;

	while ((c = sk_cli_getopt(argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case 's':
			sched_name = optarg;
			break;
		case 'C':
			config = optarg;
			break;
		case 'P':
			if (sk_pull_policy_parse(optarg, &pull)) {
				sk_die_msg("mode: --pull %s: use always, missing or never", optarg);
				return SK_EXIT_USAGE;
			}
			pull_word = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (argc - optind > 1)
		return sk_cli_usage(usage, false);
	name = optind < argc ? argv[optind] : NULL;
	if (skr_config_load(config ? config : skr_config_path(), &cf, &err)) {
		sk_die_msg("mode: %s", err.msg);
		return sk_cli_exit_status(err.code);
	}
	pid = skr_state_pid(skr_state_dir());
	if (pid)
		skr_state_read(skr_state_dir(), &st, NULL);
	if (!sched_name)
		sched_name = running_scheduler(&cf, st);
	if (!sched_name && !pid)
		sched_name = cf.scheduler; /* nothing runs: what skrun run would start */
	if (!sched_name) {
		sk_die_msg("mode: the scheduler that runs (%s) is not one of %s; name one with "
			   "--scheduler",
			   st && sk_json_str(st, "ref") ? sk_json_str(st, "ref") : "none", cf.path);
		status = pid ? SK_EXIT_NOT_FOUND : 3;
		goto out;
	}
	if (skr_config_sched(&cf, sched_name, &s, &err)) {
		sk_die_msg("mode: %s", err.msg);
		status = SK_EXIT_NOT_FOUND;
		goto out;
	}
	if (!name) {
		const char *cur = st && sk_json_str(st, "scheduler") &&
					  !strcmp(sk_json_str(st, "scheduler"), s->name)
				      ? sk_json_str(st, "mode")
				      : NULL;

		list_modes(s, pid ? cur : NULL);
		status = SK_EXIT_OK;
		goto out;
	}
	if (skr_config_sets(s, name, &sets, &err)) {
		sk_die_msg("mode: %s", err.msg);
		status = SK_EXIT_NOT_FOUND;
		goto out;
	}
	if (!pull_word && cf.has_pull)
		pull_word = sk_pull_policy_str(cf.pull);
	if (skr_switch_request(&req, s->ref, &sets, s->identity, pull_word, s->name, name, &err)) {
		sk_die_msg("mode: %s", err.msg);
		goto out;
	}
	if (skr_control_request((char *)req.data, &err)) {
		sk_die_msg("mode: %s", err.msg);
		status = err.code == -ENOTCONN ? 3 : SK_EXIT_FAILURE;
		goto out;
	}
	status = SK_EXIT_OK;
out:
	json_object_put(st);
	sk_strv_free(&sets);
	sk_buf_free(&req);
	skr_config_free(&cf);
	return status;
}
