/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun status: what the kernel runs, what skrun attached, whether they agree,
 * and an exit status that says so (systemctl's and LSB's conventions).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "skrun.h"

/* Exit statuses (LSB init-script status codes; 150-199 are the application's). */
#define STATUS_RUNNING	    0 /* running as intended */
#define STATUS_DEAD	    1 /* the supervisor died without recording it */
#define STATUS_NOT_RUNNING  3 /* nothing supervised: never started, stopped or failed */
#define STATUS_NO_SCHED_EXT 4 /* this kernel has no sched_ext */
/* supervised, not as intended: fallback, restarting, a discrepancy, or a node agent whose
 * desired state does not run committed (on trial, rolled back, refused, invalid) */
#define STATUS_DEGRADED 150

#define EVENTS_MAX 64

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun status [--json]\n"
		   "\n"
		   "Shows the kernel's sched_ext state and event counters, what skrun attached\n"
		   "(artifact, digest, tunables, mode, fallback, since when, restarts, last\n"
		   "exit) and whether the two agree.\n"
		   "\n"
		   "Exit status (as systemctl status and LSB init scripts):\n"
		   "  0    running as intended: the kernel runs what skrun attached\n"
		   "  1    the supervisor died without recording it (kill -9, a crash)\n"
		   "  3    not running: nothing started, stopped, or failed (the reason is shown)\n"
		   "  4    this kernel has no sched_ext\n"
		   "  150  supervised but degraded: on the fallback, restarting, or the kernel\n"
		   "       does not run what skrun attached; for a node agent (run --follow)\n"
		   "       also whenever its desired state is not running and committed: on\n"
		   "       trial in the health window, rolled back, refused, or not usable\n"
		   "  2    usage error\n"
		   "The sysfs root is $SKRUN_SYSFS when set (tests), else /sys.\n");
}

struct kernel_view {
	char state[32], ops[SK_SCX_NAME_LEN], seq[32], rej[32], switch_all[8];
	struct {
		char name[64];
		uint64_t value;
	} events[EVENTS_MAX];
	size_t nevents;
	bool have_events;
};

static void read_line(const char *root, const char *name, char *buf, size_t sz)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kernel/sched_ext/%s", root, name);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(buf, (int)sz, f))
		buf[0] = '\0';
	fclose(f);
	sk_rstrip(buf);
}

/* root/events (6.15+): "SCX_EV_NAME VALUE" lines, whatever names this kernel has. */
static void read_events(const char *root, struct kernel_view *k)
{
	char path[1024], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kernel/sched_ext/root/events", root);
	f = fopen(path, "re");
	if (!f)
		return;
	k->have_events = true;
	while (k->nevents < EVENTS_MAX && fgets(line, sizeof(line), f)) {
		char name[64];
		uint64_t v;

		if (sscanf(line, "%63s %" SCNu64, name, &v) != 2)
			continue;
		snprintf(k->events[k->nevents].name, sizeof(k->events[0].name), "%s", name);
		k->events[k->nevents++].value = v;
	}
	fclose(f);
}

static void read_kernel(struct kernel_view *k)
{
	const char *root = getenv("SKRUN_SYSFS");
	char dir[1024];

	if (!root || !*root)
		root = "/sys";
	memset(k, 0, sizeof(*k));
	snprintf(dir, sizeof(dir), "%s/kernel/sched_ext", root);
	if (!sk_is_dir(dir)) {
		snprintf(k->state, sizeof(k->state), "absent");
		return;
	}
	read_line(root, "state", k->state, sizeof(k->state));
	if (!k->state[0])
		snprintf(k->state, sizeof(k->state), "unknown");
	read_line(root, "root/ops", k->ops, sizeof(k->ops));
	read_line(root, "enable_seq", k->seq, sizeof(k->seq));
	read_line(root, "nr_rejected", k->rej, sizeof(k->rej));
	read_line(root, "switch_all", k->switch_all, sizeof(k->switch_all));
	read_events(root, k);
}

static struct json_object *kernel_json(const struct kernel_view *k)
{
	struct json_object *o = json_object_new_object(), *ev;

	json_object_object_add(o, "state", json_object_new_string(k->state));
	json_object_object_add(o, "ops", json_object_new_string(k->ops));
	json_object_object_add(o, "enableSeq", json_object_new_int64(atoll(k->seq)));
	json_object_object_add(o, "nrRejected", json_object_new_int64(atoll(k->rej)));
	if (k->switch_all[0])
		json_object_object_add(o, "switchAll",
				       json_object_new_boolean(!strcmp(k->switch_all, "1")));
	if (k->have_events) {
		ev = json_object_new_object();
		for (size_t i = 0; i < k->nevents; i++)
			json_object_object_add(ev, k->events[i].name,
					       json_object_new_int64((int64_t)k->events[i].value));
		json_object_object_add(o, "events", ev);
	}
	return o;
}

static void print_events(const struct kernel_view *k)
{
	size_t zero = 0, col = 0;

	if (!k->have_events)
		return;
	printf("events:     ");
	for (size_t i = 0; i < k->nevents; i++) {
		const char *n = k->events[i].name;

		if (!k->events[i].value) {
			zero++;
			continue;
		}
		if (!strncmp(n, "SCX_EV_", 7))
			n += 7;
		printf("%s%s=%" PRIu64,
		       !col	 ? ""
		       : col % 3 ? " "
				 : "\n            ",
		       n, k->events[i].value);
		col++;
	}
	printf("%s(%zu more at 0)\n", col ? " " : "", zero);
}

/* The node agent's view: desired, committed, on trial, bad digests, the last transition. */
static void print_agent(struct json_object *st)
{
	struct json_object *ag, *d, *arr;
	size_t n;

	if (!json_object_object_get_ex(st, "agent", &ag) || !ag)
		return;
	if (json_object_object_get_ex(ag, "desired", &d) && d)
		printf(
		    "desired:    %s%s%s%s\n", sk_json_str(d, "ref") ? sk_json_str(d, "ref") : "-",
		    sk_json_str(d, "digest") && *sk_json_str(d, "digest") ? " (" : "",
		    sk_json_str(d, "digest") && *sk_json_str(d, "digest") ? sk_json_str(d, "digest")
									  : "",
		    sk_json_str(d, "digest") && *sk_json_str(d, "digest") ? ")" : "");
	if (json_object_object_get_ex(ag, "committed", &d) && d)
		printf("committed:  %s (%s)\n", sk_json_str(d, "ref"), sk_json_str(d, "digest"));
	if (json_object_object_get_ex(ag, "pending", &d) && d)
		printf("on trial:   %s until %s\n", sk_json_str(d, "digest"),
		       sk_json_str(d, "deadline"));
	if (json_object_object_get_ex(ag, "bad", &arr) && (n = json_object_array_length(arr)))
		for (size_t i = 0; i < n; i++) {
			struct json_object *b = json_object_array_get_idx(arr, i);

			printf("bad:        %s: %s\n", sk_json_str(b, "digest"),
			       sk_json_str(b, "reason"));
		}
	if (json_object_object_get_ex(ag, "transitions", &arr) &&
	    (n = json_object_array_length(arr))) {
		struct json_object *t = json_object_array_get_idx(arr, n - 1);

		printf("last:       %s %s: %s\n", sk_json_str(t, "at"), sk_json_str(t, "event"),
		       sk_json_str(t, "reason"));
	}
	printf("readiness:  %s\n",
	       sk_json_str(ag, "readiness") ? sk_json_str(ag, "readiness") : "-");
}

static void print_skrun(struct json_object *st, const char *name)
{
	struct json_object *le, *tun, *fb;

	printf("scheduler:  %s%s%s%s\n", name[0] ? name : "-",
	       sk_json_str(st, "scheduler") ? " (" : "",
	       sk_json_str(st, "scheduler") ? sk_json_str(st, "scheduler") : "",
	       sk_json_str(st, "scheduler") ? " in skrun.json)" : "");
	printf("artifact:   %s\n", sk_json_str(st, "ref") ? sk_json_str(st, "ref") : "-");
	if (sk_json_str(st, "digest") && *sk_json_str(st, "digest"))
		printf("digest:     %s%s\n", sk_json_str(st, "digest"),
		       json_object_get_boolean(json_object_object_get(st, "verified"))
			   ? " (verified)"
			   : " (NOT verified)");
	if (sk_json_str(st, "identity"))
		printf("identity:   %s\n", sk_json_str(st, "identity"));
	if (json_object_object_get_ex(st, "tunables", &tun)) {
		const char *sep = "";

		printf("tunables:   ");
		if (!json_object_object_length(tun))
			printf("(the scheduler's defaults)");
		json_object_object_foreach(tun, k, v)
		{
			printf("%s%s=%s", sep, k, json_object_get_string(v));
			sep = " ";
		}
		printf("\n");
	}
	if (sk_json_str(st, "mode"))
		printf("mode:       %s\n", sk_json_str(st, "mode"));
	if (json_object_object_get_ex(st, "fallbackTarget", &fb))
		printf("fallback:   %s (%s)%s\n", sk_json_str(fb, "ref"), sk_json_str(fb, "digest"),
		       json_object_get_boolean(json_object_object_get(st, "fallback"))
			   ? ", running now"
			   : "");
	if (sk_json_str(st, "pull"))
		printf("pull:       %s\n", sk_json_str(st, "pull"));
	printf("since:      %s\n", sk_json_str(st, "since") ? sk_json_str(st, "since") : "-");
	printf("restarts:   %lld%s\n", (long long)sk_json_int(st, "restarts"),
	       json_object_get_boolean(json_object_object_get(st, "fallback"))
		   ? " (running the fallback)"
		   : "");
	if (json_object_object_get_ex(st, "lastExit", &le))
		printf("last exit:  %s (kind %lld, code %lld) %s\n", sk_json_str(le, "kindName"),
		       (long long)sk_json_int(le, "kind"), (long long)sk_json_int(le, "exitCode"),
		       sk_json_str(le, "message"));
	if (sk_json_str(st, "error"))
		printf("error:      %s\n", sk_json_str(st, "error"));
	print_agent(st);
}

/* Not following a desired state, or following one that runs committed. */
static bool agent_ready(struct json_object *st)
{
	struct json_object *ag, *r;

	if (!json_object_object_get_ex(st, "agent", &ag) || !ag)
		return true;
	return json_object_object_get_ex(ag, "ready", &r) && json_object_get_boolean(r);
}

int cmd_status(int argc, char **argv)
{
	struct json_object *st = NULL, *out;
	struct kernel_view k;
	char verdict[512];
	const char *dir = skr_state_dir(), *name = "", *sstatus = "none";
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false, runs_it;
	int c, pid, code;

	while ((c = sk_cli_getopt(argc, argv, "h", longopts)) != -1) {
		if (c == 'j')
			json = true;
		else /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
	}
	if (optind != argc)
		return sk_cli_usage(usage, false);
	read_kernel(&k);
	pid = skr_state_pid(dir);
	if (!skr_state_read(dir, &st, NULL)) {
		name = sk_json_str(st, "name") ? sk_json_str(st, "name") : "";
		sstatus = sk_json_str(st, "status") ? sk_json_str(st, "status") : "unknown";
	}
	if (st && !pid &&
	    (!strcmp(sstatus, "running") || !strcmp(sstatus, "fallback") ||
	     !strcmp(sstatus, "restarting") || !strcmp(sstatus, "waiting")))
		sstatus = "dead"; /* the supervisor died without recording it */
	runs_it = !strcmp(k.state, "enabled") && pid && name[0] && !strcmp(k.ops, name);

	/* Discrepancy verdict: does the kernel run what skrun says it runs? */
	if (!strcmp(k.state, "absent") && !pid)
		snprintf(verdict, sizeof(verdict), "no sched_ext in this kernel");
	else if (runs_it)
		snprintf(verdict, sizeof(verdict), "ok: the kernel runs '%s' as skrun attached it",
			 k.ops);
	else if (!strcmp(k.state, "enabled"))
		snprintf(verdict, sizeof(verdict),
			 "discrepancy: the kernel runs '%s', which skrun did not start", k.ops);
	else if (pid)
		snprintf(verdict, sizeof(verdict),
			 "discrepancy: skrun (pid %d) is %s but the kernel's state is %s", pid,
			 sstatus, k.state);
	else
		snprintf(verdict, sizeof(verdict), "ok: the kernel's default scheduler runs");

	if (!strcmp(k.state, "absent"))
		code = STATUS_NO_SCHED_EXT;
	else if (!strcmp(sstatus, "dead"))
		code = STATUS_DEAD;
	else if (runs_it && !strcmp(sstatus, "running") && agent_ready(st))
		code = STATUS_RUNNING;
	else if (pid)
		code = STATUS_DEGRADED;
	else
		code = STATUS_NOT_RUNNING;

	out = json_object_new_object();
	json_object_object_add(out, "kernel", kernel_json(&k));
	json_object_object_add(out, "status", json_object_new_string(sstatus));
	json_object_object_add(out, "supervisorPid", json_object_new_int(pid));
	json_object_object_add(out, "skrun", st ? json_object_get(st) : NULL);
	json_object_object_add(out, "verdict", json_object_new_string(verdict));
	json_object_object_add(out, "exitStatus", json_object_new_int(code));
	if (json) {
		char *s = sk_json_dump(out, NULL);

		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		printf("kernel:     state=%s ops=%s enable_seq=%s nr_rejected=%s\n", k.state,
		       k.ops[0] ? k.ops : "-", k.seq[0] ? k.seq : "-", k.rej[0] ? k.rej : "-");
		print_events(&k);
		printf("skrun:      %s", sstatus);
		if (pid)
			printf(" (pid %d)", pid);
		printf("\n");
		if (st)
			print_skrun(st, name);
		printf("verdict:    %s\n", verdict);
	}
	json_object_put(out);
	json_object_put(st);
	return code;
}
