/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/metrics.c: the transitions the supervisor publishes become the
 * counters of the metrics file, and the file is the text exposition format.
 * With $SK_METRICS_DUMP set, the file of the full scenario is left there for
 * tests/host/metrics.sh to check with an independent parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* runner/ is not a library: its one self-contained file is compiled in. */
#include "../../runner/metrics.c" /* NOLINT(bugprone-suspicious-include) */

#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST_F "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

struct scenario {
	struct skr_metrics m;
	struct skr_status s;
	struct skr_target a, b, f;
	time_t now;
};

static void setup_targets(struct scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->a.ref, sizeof(sc->a.ref), "reg.example/scheds/vtime:1.0.0");
	snprintf(sc->a.digest, sizeof(sc->a.digest), DIGEST_A);
	snprintf(sc->a.scheduler, sizeof(sc->a.scheduler), "vtime");
	sc->a.verified = true;
	/* a label value that needs every escape */
	snprintf(sc->b.ref, sizeof(sc->b.ref), "oci-archive:/tmp/we\"ird\\na\nme.tar");
	snprintf(sc->b.digest, sizeof(sc->b.digest), DIGEST_B);
	snprintf(sc->b.mode, sizeof(sc->b.mode), "gaming");
	sc->b.verified = true;
	snprintf(sc->f.ref, sizeof(sc->f.ref), "reg.example/scheds/fifo:1.0.0");
	snprintf(sc->f.digest, sizeof(sc->f.digest), DIGEST_F);
	sc->f.verified = true;
	sc->s.fallback = &sc->f;
	sc->now = 1700000000;
}

/* What supervise.c's publish() does: fill the status from the target, then the hook. */
static void publish(struct scenario *sc, const char *status, struct skr_target *t, const char *name)
{
	sc->s.status = status;
	sc->s.target = t;
	sc->s.ref = t->ref;
	sc->s.digest = t->digest;
	sc->s.verified = t->verified;
	sc->s.name = name;
	skr_metrics_update(&sc->m, &sc->s, ++sc->now);
}

static void eject(struct scenario *sc, int kind)
{
	sc->s.have_exit = true;
	sc->s.last_exit.valid = true;
	sc->s.last_exit.kind = kind;
	sc->s.last_exit_at = sc->now + 1;
}

/* run vtime, stall, restart, switch to B, error twice into the fallback, stop */
static void run_scenario(struct scenario *sc)
{
	setup_targets(sc);
	publish(sc, "running", &sc->a, "vtime");
	eject(sc, 1026);
	publish(sc, "restarting", &sc->a, "vtime");
	sc->s.restarts++;
	publish(sc, "running", &sc->a, "vtime");
	/* switch: restarts reset, no ejection */
	sc->s.restarts = 0;
	publish(sc, "running", &sc->b, "vtime_b");
	eject(sc, 1025);
	publish(sc, "restarting", &sc->b, "vtime_b");
	sc->s.restarts++;
	/* the restart's load failed: the fallback takes over for the same ejection */
	sc->s.on_fallback = true;
	publish(sc, "fallback", &sc->f, "fifo");
	eject(sc, 64);
	publish(sc, "stopped", &sc->f, "fifo");
}

static char *render(struct scenario *sc, const char *state, const char *ops)
{
	struct sk_buf b = {0};

	assert_int_equal(skr_metrics_render(&sc->m, &sc->s, state, ops, &b), 0);
	assert_int_equal(sk_buf_append(&b, "", 1), 0);
	return (char *)b.data;
}

static void test_transitions(void **state)
{
	struct scenario sc;

	(void)state;
	run_scenario(&sc);
	assert_int_equal(sc.m.restarts, 2);
	assert_int_equal(sc.m.switches, 1);
	assert_int_equal(sc.m.fallbacks, 1);
	assert_int_equal(sc.m.rollbacks, 0);
	assert_int_equal(sc.m.nkinds, 2);
	assert_int_equal(sc.m.ejections[0].kind, 1026);
	assert_int_equal(sc.m.ejections[0].n, 1);
	assert_int_equal(sc.m.ejections[1].kind, 1025);
	assert_int_equal(sc.m.ejections[1].n, 1);
	assert_int_equal(sc.m.last_transition, 1700000007);
}

/*
 * The node agent's rollback goes from running to running: the new exit record
 * says whether the kernel ejected the scheduler on trial (counted once) or
 * user space unregistered it for a switch (not an ejection).
 */
static void test_agent_rollback(void **state)
{
	struct scenario sc;

	(void)state;
	setup_targets(&sc);
	publish(&sc, "running", &sc.a, "vtime");
	publish(&sc, "running", &sc.b, "vtime_b"); /* the switch to the digest on trial */
	eject(&sc, 1026);
	sc.m.rollbacks++; /* the agent's own count */
	publish(&sc, "running", &sc.a, "vtime");
	assert_int_equal(sc.m.nkinds, 1);
	assert_int_equal(sc.m.ejections[0].kind, 1026);
	assert_int_equal(sc.m.ejections[0].n, 1);
	/* published again with the same record: not a second ejection */
	publish(&sc, "running", &sc.a, "vtime");
	assert_int_equal(sc.m.ejections[0].n, 1);
	/* a switch whose old scheduler was unregistered by skrun itself */
	eject(&sc, 64);
	publish(&sc, "running", &sc.b, "vtime_b");
	assert_int_equal(sc.m.nkinds, 1);
	assert_int_equal(sc.m.ejections[0].n, 1);
}

/* A load failure at start is no ejection; the fallback taking over is counted. */
static void test_start_failure(void **state)
{
	struct scenario sc;

	(void)state;
	setup_targets(&sc);
	sc.s.on_fallback = true;
	publish(&sc, "fallback", &sc.f, "fifo");
	assert_int_equal(sc.m.nkinds, 0);
	assert_int_equal(sc.m.fallbacks, 1);
	/* the fallback ejected and nothing left: failed, one ejection without a record */
	sc.s.have_exit = false;
	publish(&sc, "failed", &sc.f, "");
	assert_int_equal(sc.m.nkinds, 1);
	assert_int_equal(sc.m.ejections[0].kind, -1);
	assert_int_equal(sc.m.switches, 0);
}

static void test_render(void **state)
{
	struct scenario sc;
	char *txt;

	(void)state;
	setup_targets(&sc);
	publish(&sc, "running", &sc.a, "vtime");
	sc.s.restarts = 0;
	publish(&sc, "running", &sc.b, "vtime_b");
	txt = render(&sc, "enabled", "vtime_b");
	assert_non_null(strstr(txt, "\nschedkit_up 1\n"));
	assert_non_null(strstr(txt, "\nschedkit_status{status=\"running\"} 1\n"));
	assert_non_null(strstr(txt, "\nschedkit_status{status=\"stopped\"} 0\n"));
	assert_non_null(strstr(txt,
			       "\nschedkit_scheduler_running{name=\"vtime_b\",scheduler=\"\","
			       "mode=\"gaming\",digest=\"" DIGEST_B "\",fallback=\"false\"} 1\n"));
	/* the escapes of the exposition format: \\ \" \n */
	assert_non_null(strstr(txt, "ref=\"oci-archive:/tmp/we\\\"ird\\\\na\\nme.tar\""));
	assert_non_null(strstr(txt, "schedkit_artifact_info{role=\"fallback\",ref=\"reg.example/"
				    "scheds/fifo:1.0.0\",digest=\"" DIGEST_F "\""));
	assert_non_null(strstr(txt, "\nschedkit_switches_total 1\n"));
	assert_non_null(strstr(txt, "\nschedkit_sched_ext_state{state=\"enabled\"} 1\n"));
	assert_non_null(strstr(txt, "\nschedkit_sched_ext_state{state=\"absent\"} 0\n"));
	assert_non_null(strstr(txt, "\nschedkit_sched_ext_state{state=\"unknown\"} 0\n"));
	assert_non_null(strstr(txt, "\nschedkit_sched_ext_ops_info{ops=\"vtime_b\"} 1\n"));
	assert_non_null(strstr(txt, "\nschedkit_last_transition_timestamp_seconds 1700000002\n"));
	free(txt);
	/* stopped: nothing running, no ops; an unexpected sysfs word is "unknown" */
	publish(&sc, "stopped", &sc.b, "vtime_b");
	txt = render(&sc, "weird", "");
	assert_non_null(strstr(txt, "\nschedkit_up 0\n"));
	assert_null(strstr(txt, "schedkit_scheduler_running{"));
	assert_null(strstr(txt, "schedkit_sched_ext_ops_info{"));
	assert_non_null(strstr(txt, "\nschedkit_sched_ext_state{state=\"unknown\"} 1\n"));
	assert_non_null(strstr(txt, "\nschedkit_sched_ext_state{state=\"enabled\"} 0\n"));
	free(txt);
}

/* The file goes where the path says, whole; without a path nothing is written. */
static void test_write(void **state)
{
	const char *dump = getenv("SK_METRICS_DUMP");
	char dir[] = "/tmp/sk-metrics-XXXXXX", path[64], *txt;
	struct sk_error err = {0};
	struct scenario sc;
	uint8_t *data = NULL;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/schedkit.prom", dir);
	run_scenario(&sc);
	unsetenv(SKRUN_METRICS_ENV);
	assert_int_equal(skr_metrics_write(&sc.m, &sc.s, "disabled", "", &err), 0);
	assert_int_equal(access(path, F_OK), -1);
	sc.m.path = path;
	assert_int_equal(skr_metrics_write(&sc.m, &sc.s, "disabled", "", &err), 0);
	assert_int_equal(sk_read_file(path, 1 << 20, &data, &len, &err), 0);
	txt = render(&sc, "disabled", "");
	assert_string_equal((char *)data, txt);
	free(data);
	free(txt);
	if (dump) {
		sc.m.path = dump;
		assert_int_equal(skr_metrics_write(&sc.m, &sc.s, "disabled", "", &err), 0);
	}
	/* the environment names the file when no option does */
	sc.m.path = NULL;
	setenv(SKRUN_METRICS_ENV, path, 1);
	assert_string_equal(skr_metrics_path(&sc.m), path);
	unsetenv(SKRUN_METRICS_ENV);
	/* a directory that does not exist: an error that names the setting */
	sc.m.path = "/nonexistent-sk/schedkit.prom";
	assert_int_not_equal(skr_metrics_write(&sc.m, &sc.s, "disabled", "", &err), 0);
	assert_non_null(strstr(err.msg, "--metrics-file"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transitions),	   cmocka_unit_test(test_start_failure),
	    cmocka_unit_test(test_agent_rollback), cmocka_unit_test(test_render),
	    cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
