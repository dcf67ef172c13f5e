/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics in the text exposition format, for node_exporter's
 * textfile collector: the supervisor rewrites one file atomically on every
 * state change, so the collector never reads half a file. Counters count
 * from the supervisor's start (Prometheus handles the reset when it
 * restarts). Metric names: docs/metrics.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skrun.h"

/* Here, not in agent.c: the metrics name the agent's events and link without the agent. */
const char *const skr_agent_event_names[8] = {
    "start",   "switch",       "commit",	  "rollback",
    "refused", "fetch-failed", "desired-invalid", "desired",
};

static const char *const statuses[] = {"running", "restarting", "fallback",
				       "stopped", "failed",	"waiting"};
/* /sys/kernel/sched_ext/state's words, and ours for a kernel without it */
static const char *const scx_states[] = {"enabled",   "enabling", "disabled",
					 "disabling", "absent",	  "unknown"};

static bool is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* A scheduler attached and the kernel running it, as far as the supervisor knows. */
static bool attached(const char *status)
{
	return is(status, "running") || is(status, "fallback");
}

/*
 * Exit kinds below this are the scheduler's own or user space's doing
 * (SCX_EXIT_NONE, _DONE, _UNREG, _UNREG_BPF); from it on (_UNREG_KERN, the
 * _ERROR kinds) the kernel took the scheduler away.
 */
#define SKR_EXIT_FIRST_EJECTION 66

static void count_ejection(struct skr_metrics *m, int kind)
{
	size_t i;

	for (i = 0; i < m->nkinds; i++)
		if (m->ejections[i].kind == kind)
			break;
	if (i == m->nkinds) {
		if (m->nkinds == SKR_METRICS_KINDS)
			i = SKR_METRICS_KINDS - 1; /* the kernel has far fewer kinds than this */
		else
			m->ejections[m->nkinds++].kind = kind;
	}
	m->ejections[i].n++;
}

/*
 * The transitions, from the sequence of published states (supervise.c
 * publishes once per state change):
 *   running|fallback -> restarting|fallback|failed  an ejection (the exit record's kind)
 *   running|fallback -> running                     a switch (or a mode change); with
 *                                                   a new exit record of an ejection kind
 *                                                   also an ejection (an agent's rollback)
 *   off the fallback -> on it                       the fallback taken
 * and restarts from the status's own count, which a switch resets.
 */
void skr_metrics_update(struct skr_metrics *m, const struct skr_status *s, time_t now)
{
	bool was_up = attached(m->prev);

	bool new_exit = s->have_exit && s->last_exit_at != m->prev_exit_at;

	if (was_up && ((!attached(s->status) && !is(s->status, "stopped")) ||
		       (is(s->status, "fallback") && !m->prev_fallback)))
		count_ejection(m, s->have_exit ? s->last_exit.kind : -1);
	else if (was_up && new_exit && is(s->status, "running") &&
		 s->last_exit.kind >= SKR_EXIT_FIRST_EJECTION)
		/* the agent rolled back within its health window: running to running */
		count_ejection(m, s->last_exit.kind);
	if (s->have_exit)
		m->prev_exit_at = s->last_exit_at;
	if (was_up && is(s->status, "running"))
		m->switches++;
	if (s->on_fallback && !m->prev_fallback)
		m->fallbacks++;
	if (s->restarts > m->prev_restarts)
		m->restarts += (uint64_t)(s->restarts - m->prev_restarts);
	m->prev_restarts = s->restarts;
	m->prev_fallback = s->on_fallback;
	m->prev = s->status;
	m->last_transition = now;
}

/* Label values: backslash, double quote and newline escaped, as the format requires. */
static int label(struct sk_buf *b, const char *name, const char *value, bool first)
{
	int ret = sk_buf_printf(b, "%s%s=\"", first ? "" : ",", name);

	for (const char *p = value ? value : ""; !ret && *p; p++) {
		if (*p == '\\')
			ret = sk_buf_append(b, "\\\\", 2);
		else if (*p == '"')
			ret = sk_buf_append(b, "\\\"", 2);
		else if (*p == '\n')
			ret = sk_buf_append(b, "\\n", 2);
		else
			ret = sk_buf_append(b, p, 1);
	}
	return ret ? ret : sk_buf_append(b, "\"", 1);
}

static int header(struct sk_buf *b, const char *name, const char *type, const char *help)
{
	return sk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int render_target(struct sk_buf *b, const char *role, const struct skr_target *t,
			 const char *ref, const char *digest, bool verified)
{
	int ret = sk_buf_printf(b, "schedkit_artifact_info{");

	if (!ret)
		ret = label(b, "role", role, true);
	if (!ret)
		ret = label(b, "ref", t ? t->ref : ref, false);
	if (!ret)
		ret = label(b, "digest", t ? t->digest : digest, false);
	if (!ret)
		ret = label(b, "verified", (t ? t->verified : verified) ? "true" : "false", false);
	if (!ret)
		ret = label(b, "identity", t ? t->identity : "", false);
	return ret ? ret : sk_buf_printf(b, "} 1\n");
}

/* The node agent's (skrun run --follow), present only when it follows a desired state. */
static int render_agent(const struct skr_metrics *m, struct sk_buf *out)
{
	int ret = header(out, "schedkit_agent_ready", "gauge",
			 "1 when the desired state runs and is committed (skrun status exits 0).");

	if (!ret)
		ret = sk_buf_printf(out, "schedkit_agent_ready %d\n", m->agent_ready ? 1 : 0);
	if (!ret)
		ret = header(out, "schedkit_agent_pending", "gauge",
			     "1 while a switch is on trial within its health window.");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_agent_pending %d\n", m->agent_pending ? 1 : 0);
	if (!ret)
		ret = header(out, "schedkit_agent_bad_digests", "gauge",
			     "Digests the agent remembers as bad and does not retry.");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_agent_bad_digests %u\n", m->agent_bad);
	if (!ret)
		ret = header(out, "schedkit_agent_transitions_total", "counter",
			     "The agent's transitions since skrun started, by event.");
	for (size_t i = 0; !ret && i < sizeof(m->agent_events) / sizeof(m->agent_events[0]); i++)
		ret = sk_buf_printf(out,
				    "schedkit_agent_transitions_total{event=\"%s\"} %" PRIu64 "\n",
				    skr_agent_event_names[i], m->agent_events[i]);
	return ret;
}

int skr_metrics_render(const struct skr_metrics *m, const struct skr_status *s,
		       const char *scx_state, const char *scx_ops, struct sk_buf *out)
{
	const struct skr_target *t = s->target;
	bool up = attached(s->status), known = false;
	int ret;

	ret = header(out, "schedkit_up", "gauge",
		     "1 when skrun keeps a scheduler attached (status running or fallback).");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_up %d\n", up ? 1 : 0);
	if (!ret)
		ret = header(out, "schedkit_status", "gauge",
			     "The supervisor's status: 1 for the one it is in.");
	for (size_t i = 0; !ret && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		ret = sk_buf_printf(out, "schedkit_status{status=\"%s\"} %d\n", statuses[i],
				    is(s->status, statuses[i]) ? 1 : 0);
	if (!ret)
		ret = header(out, "schedkit_scheduler_running", "gauge",
			     "The scheduler skrun attached (present only while one is).");
	if (!ret && up) {
		ret = sk_buf_printf(out, "schedkit_scheduler_running{");
		if (!ret)
			ret = label(out, "name", s->name, true);
		if (!ret)
			ret = label(out, "scheduler", t ? t->scheduler : "", false);
		if (!ret)
			ret = label(out, "mode", t ? t->mode : "", false);
		if (!ret)
			ret = label(out, "digest", s->digest, false);
		if (!ret)
			ret = label(out, "fallback", s->on_fallback ? "true" : "false", false);
		if (!ret)
			ret = sk_buf_printf(out, "} 1\n");
	}
	if (!ret)
		ret = header(out, "schedkit_artifact_info", "gauge",
			     "Artifacts the supervisor holds: role current (what it runs or "
			     "last ran) and fallback.");
	if (!ret && (t || (s->digest && *s->digest)))
		ret = render_target(out, "current", t, s->ref, s->digest, s->verified);
	if (!ret && s->fallback)
		ret = render_target(out, "fallback", s->fallback, NULL, NULL, false);
	if (!ret)
		ret = header(out, "schedkit_restarts_total", "counter",
			     "Restarts of an ejected scheduler since skrun started.");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_restarts_total %" PRIu64 "\n", m->restarts);
	if (!ret)
		ret = header(out, "schedkit_ejections_total", "counter",
			     "Schedulers the kernel ejected, by the exit record's kind.");
	for (size_t i = 0; !ret && i < m->nkinds; i++) {
		char kind[16];

		snprintf(kind, sizeof(kind), "%d", m->ejections[i].kind);
		ret = sk_buf_printf(out, "schedkit_ejections_total{");
		if (!ret)
			ret = label(out, "kind", kind, true);
		if (!ret)
			ret =
			    label(out, "kind_name",
				  m->ejections[i].kind < 0 ? "no exit record"
							   : sk_exit_kind_str(m->ejections[i].kind),
				  false);
		if (!ret)
			ret = sk_buf_printf(out, "} %" PRIu64 "\n", m->ejections[i].n);
	}
	if (!ret)
		ret = header(out, "schedkit_switches_total", "counter",
			     "Switches to another scheduler, digest or mode that took effect.");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_switches_total %" PRIu64 "\n", m->switches);
	if (!ret)
		ret = header(out, "schedkit_fallbacks_total", "counter",
			     "Times the fallback scheduler took over.");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_fallbacks_total %" PRIu64 "\n", m->fallbacks);
	if (!ret)
		ret =
		    header(out, "schedkit_rollbacks_total", "counter",
			   "Switches on trial that the node agent undid (ejected within the health "
			   "window): back to the previous digest, the fallback or the kernel's "
			   "default.");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_rollbacks_total %" PRIu64 "\n", m->rollbacks);
	if (!ret)
		ret = header(out, "schedkit_last_transition_timestamp_seconds", "gauge",
			     "When the supervisor's state last changed (Unix time).");
	if (!ret)
		ret = sk_buf_printf(out, "schedkit_last_transition_timestamp_seconds %lld\n",
				    (long long)m->last_transition);
	if (!ret && m->agent)
		ret = render_agent(m, out);
	if (!ret)
		ret = header(out, "schedkit_sched_ext_state", "gauge",
			     "/sys/kernel/sched_ext/state: 1 for the kernel's state (absent: no "
			     "sched_ext).");
	for (size_t i = 0; !ret && i < sizeof(scx_states) / sizeof(scx_states[0]); i++) {
		bool on =
		    is(scx_state, scx_states[i]) || (!known && !strcmp(scx_states[i], "unknown"));

		known = known || on;
		ret = sk_buf_printf(out, "schedkit_sched_ext_state{state=\"%s\"} %d\n",
				    scx_states[i], on ? 1 : 0);
	}
	if (!ret)
		ret = header(out, "schedkit_sched_ext_ops_info", "gauge",
			     "/sys/kernel/sched_ext/root/ops: the scheduler the kernel runs "
			     "(present only while one is).");
	if (!ret && scx_ops && *scx_ops) {
		ret = sk_buf_printf(out, "schedkit_sched_ext_ops_info{");
		if (!ret)
			ret = label(out, "ops", scx_ops, true);
		if (!ret)
			ret = sk_buf_printf(out, "} 1\n");
	}
	return ret;
}

const char *skr_metrics_path(const struct skr_metrics *m)
{
	const char *env = getenv(SKRUN_METRICS_ENV);

	if (m->path && *m->path)
		return m->path;
	return env && *env ? env : NULL;
}

int skr_metrics_write(const struct skr_metrics *m, const struct skr_status *s,
		      const char *scx_state, const char *scx_ops, struct sk_error *err)
{
	const char *path = skr_metrics_path(m);
	struct sk_buf b = {0};
	int ret;

	if (!path)
		return 0;
	ret = skr_metrics_render(m, s, scx_state, scx_ops, &b);
	if (ret) {
		sk_buf_free(&b);
		return sk_errf(err, ret, "metrics: out of memory");
	}
	/* 0644: node_exporter usually runs as its own user */
	ret = sk_write_file_atomic(path, b.data, b.len, 0644, err);
	if (ret)
		sk_err_prefix(err, "metrics file (--metrics-file, $" SKRUN_METRICS_ENV "): ");
	sk_buf_free(&b);
	return ret;
}

static void write_now(struct skr_metrics *m, const struct skr_status *s);

void skr_metrics_publish(struct skr_metrics *m, const struct skr_status *s)
{
	skr_metrics_update(m, s, time(NULL));
	write_now(m, s);
}

void skr_metrics_rewrite(struct skr_metrics *m, const struct skr_status *s)
{
	write_now(m, s);
}

static void write_now(struct skr_metrics *m, const struct skr_status *s)
{
	char state[32], ops[SK_SCX_NAME_LEN];
	struct sk_error err = {0};

	if (!skr_metrics_path(m))
		return;
	sk_scx_state(state, sizeof(state));
	sk_scx_ops_name(ops, sizeof(ops));
	if (skr_metrics_write(m, s, state, ops, &err)) {
		/* metrics never take the scheduler down: say so and go on */
		printf("skrun: warning: %s\n", err.msg);
		fflush(stdout);
	}
}
