/* SPDX-License-Identifier: Apache-2.0 */
/* skrun status: what the kernel runs, what skrun attached, and whether they agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "skrun.h"

static void read_sysfs_num(const char *name, char *buf, size_t sz)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/sched_ext/%s", name);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(buf, (int)sz, f))
		buf[0] = '\0';
	fclose(f);
	sk_rstrip(buf);
}

int cmd_status(int argc, char **argv)
{
	struct json_object *st = NULL, *out, *kernel;
	char state[32], ops[SK_SCX_NAME_LEN], seq[32], rej[32], verdict[512];
	const char *dir = skr_state_dir(), *name = "", *sstatus = "none";
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	int pid;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: skrun status [--json]\n\nShows the kernel's sched_ext state, "
		       "what skrun attached (artifact, digest,\nsince when, restarts, last "
		       "exit) and whether the two agree.\n");
		return 0;
	}
	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: skrun status [--json]\n");
		return 2;
	}
	sk_scx_state(state, sizeof(state));
	sk_scx_ops_name(ops, sizeof(ops));
	read_sysfs_num("enable_seq", seq, sizeof(seq));
	read_sysfs_num("nr_rejected", rej, sizeof(rej));
	pid = skr_state_pid(dir);
	if (!skr_state_read(dir, &st, NULL)) {
		name = sk_json_str(st, "name") ? sk_json_str(st, "name") : "";
		sstatus = sk_json_str(st, "status") ? sk_json_str(st, "status") : "unknown";
	}
	if (st && !pid &&
	    (!strcmp(sstatus, "running") || !strcmp(sstatus, "fallback") ||
	     !strcmp(sstatus, "restarting")))
		sstatus = "dead"; /* the supervisor died without recording it */

	/* Discrepancy verdict: does the kernel run what skrun says it runs? */
	if (!strcmp(state, "absent") && !pid)
		snprintf(verdict, sizeof(verdict), "no sched_ext in this kernel");
	else if (!strcmp(state, "enabled") && pid && !strcmp(ops, name))
		snprintf(verdict, sizeof(verdict), "ok: the kernel runs '%s' as skrun attached it",
			 ops);
	else if (!strcmp(state, "enabled") && (!pid || strcmp(ops, name)))
		snprintf(verdict, sizeof(verdict),
			 "discrepancy: the kernel runs '%s', which skrun did not start", ops);
	else if (pid && strcmp(state, "enabled"))
		snprintf(verdict, sizeof(verdict),
			 "discrepancy: skrun (pid %d) is %s but the kernel's state is %s", pid,
			 sstatus, state);
	else
		snprintf(verdict, sizeof(verdict), "ok: the kernel's default scheduler runs");

	out = json_object_new_object();
	kernel = json_object_new_object();
	json_object_object_add(kernel, "state", json_object_new_string(state));
	json_object_object_add(kernel, "ops", json_object_new_string(ops));
	json_object_object_add(kernel, "enableSeq", json_object_new_int64(atoll(seq)));
	json_object_object_add(kernel, "nrRejected", json_object_new_int64(atoll(rej)));
	json_object_object_add(out, "kernel", kernel);
	json_object_object_add(out, "status", json_object_new_string(sstatus));
	json_object_object_add(out, "supervisorPid", json_object_new_int(pid));
	json_object_object_add(out, "skrun", st ? json_object_get(st) : NULL);
	json_object_object_add(out, "verdict", json_object_new_string(verdict));
	if (json) {
		char *s = sk_json_dump(out, NULL);

		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		printf("kernel:     state=%s ops=%s enable_seq=%s nr_rejected=%s\n", state,
		       ops[0] ? ops : "-", seq[0] ? seq : "-", rej[0] ? rej : "-");
		printf("skrun:      %s", sstatus);
		if (pid)
			printf(" (pid %d)", pid);
		printf("\n");
		if (st) {
			struct json_object *le;

			printf("scheduler:  %s\n", name[0] ? name : "-");
			printf("artifact:   %s\n", sk_json_str(st, "ref"));
			printf("digest:     %s%s\n", sk_json_str(st, "digest"),
			       json_object_get_boolean(json_object_object_get(st, "verified"))
				   ? " (verified)"
				   : " (NOT verified)");
			printf("since:      %s\n", sk_json_str(st, "since"));
			printf("restarts:   %lld%s\n", (long long)sk_json_int(st, "restarts"),
			       json_object_get_boolean(json_object_object_get(st, "fallback"))
				   ? " (running the fallback)"
				   : "");
			if (json_object_object_get_ex(st, "lastExit", &le))
				printf("last exit:  %s (kind %lld, code %lld) %s\n",
				       sk_json_str(le, "kindName"),
				       (long long)sk_json_int(le, "kind"),
				       (long long)sk_json_int(le, "exitCode"),
				       sk_json_str(le, "message"));
		}
		printf("verdict:    %s\n", verdict);
	}
	json_object_put(out);
	json_object_put(st);
	return 0;
}
