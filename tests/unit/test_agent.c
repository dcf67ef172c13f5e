/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's decisions without a kernel (runner/agent.c): a digest
 * rolled back is refused for the same desired state, by a new agent too (the
 * memory in the state dir), and tried again once the desired state changes;
 * a commit after the health window is what a new agent starts with;
 * readiness only for the desired state running committed; an unusable or
 * deleted file keeps the desired state and says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "../../runner/agent.c"	  /* NOLINT(bugprone-suspicious-include) */
#include "../../runner/config.c"  /* NOLINT(bugprone-suspicious-include) */
#include "../../runner/metrics.c" /* NOLINT(bugprone-suspicious-include) */

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

struct fx {
	char dir[64], conf[128];
	struct skr_metrics m;
};

static void write_conf(const struct fx *f, const char *ref, int window)
{
	FILE *fp = fopen(f->conf, "w");

	assert_non_null(fp);
	fprintf(fp,
		"{\"version\": 1, \"scheduler\": \"s\", \"health\": {\"windowS\": %d},"
		" \"schedulers\": {\"s\": {\"ref\": \"%s\", \"set\": {\"slice_ns\": 5}}}}",
		window, ref);
	fclose(fp);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_agent.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->conf, sizeof(f->conf), "%s/skrun.json", f->dir);
	*state = f;
	return 0;
}

/* What the agent writes in its state dir is all there is: the directory empties. */
static int teardown(void **state)
{
	struct fx *f = *state;
	char path[160];

	unlink(f->conf);
	snprintf(path, sizeof(path), "%s/" MEMORY_FILE, f->dir);
	unlink(path);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static struct skr_agent *agent(struct fx *f)
{
	struct skr_agent_opts o = {
	    .config = f->conf, .poll_s = -1, .window_s = -1, .state_dir = f->dir, .metrics = &f->m};
	struct skr_agent *a = NULL;
	struct sk_error err = {0};

	assert_int_equal(skr_agent_new(&o, &a, &err), 0);
	return a;
}

static void target(struct skr_target *t, const char *ref, const char *digest)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->ref, sizeof(t->ref), "%s", ref);
	snprintf(t->digest, sizeof(t->digest), "%s", digest);
	snprintf(t->scheduler, sizeof(t->scheduler), "s");
	sk_strv_push(&t->sets, "slice_ns=5");
}

/* the first tick asks for the desired state: its reference and tunables */
static void first_switch(struct skr_agent *a, const struct skr_target *cur, const char *ref)
{
	struct skr_agent_req req;

	assert_int_equal(skr_agent_tick(a, cur, false, &req), SKR_AGENT_SWITCH);
	assert_string_equal(req.ref, ref);
	assert_int_equal(req.sets.n, 1);
	assert_string_equal(req.sets.v[0], "slice_ns=5");
	sk_strv_free(&req.sets);
}

static void test_rollback_remembered(void **state)
{
	struct fx *f = *state;
	struct skr_target t1, t2;
	struct skr_agent *a;
	char why[512];

	write_conf(f, "reg.example/s:1", 30);
	a = agent(f);
	target(&t1, "reg.example/s:0", D1);
	first_switch(a, &t1, "reg.example/s:1");
	assert_int_equal(skr_agent_fetched(a, D2, &t1), SKR_AGENT_PROCEED);
	target(&t2, "reg.example/s:1", D2);
	skr_agent_switched(a, &t1, &t2);
	assert_true(skr_agent_pending(a));
	assert_false(skr_agent_ready(a, &t2, "running", why, sizeof(why)));
	assert_non_null(strstr(why, "on trial"));
	skr_agent_rolled_back(a, &t2, "'s' ejected by the kernel: kind=1026", &t1, false);
	assert_false(skr_agent_pending(a));
	assert_false(skr_agent_ready(a, &t1, "running", why, sizeof(why)));
	assert_non_null(strstr(why, "kind=1026"));
	assert_int_equal(f->m.rollbacks, 1);
	assert_int_equal(f->m.agent_events[SKR_EV_ROLLBACK], 1);
	skr_agent_free(a);

	/* a new agent (a restarted pod), the same desired state: not retried */
	a = agent(f);
	first_switch(a, &t1, "reg.example/s:1");
	assert_int_equal(skr_agent_fetched(a, D2, &t1), SKR_AGENT_REFUSE);
	skr_agent_free(a);

	/* the desired state changes: the digest is tried again */
	write_conf(f, "reg.example/s:1", 31);
	a = agent(f);
	first_switch(a, &t1, "reg.example/s:1");
	assert_int_equal(skr_agent_fetched(a, D2, &t1), SKR_AGENT_PROCEED);
	skr_agent_free(a);
	sk_strv_free(&t1.sets);
	sk_strv_free(&t2.sets);
}

static void test_commit_and_ready(void **state)
{
	struct fx *f = *state;
	struct skr_agent_req req;
	struct skr_target t = {0}, back = {0};
	struct skr_agent *a;
	char why[512];

	write_conf(f, "reg.example/s:1", 0);
	a = agent(f);
	first_switch(a, NULL, "reg.example/s:1");
	assert_int_equal(skr_agent_fetched(a, D1, NULL), SKR_AGENT_PROCEED);
	target(&t, "reg.example/s:1", D1);
	skr_agent_switched(a, NULL, &t);
	/* a window of 0 s: committed at the next tick */
	assert_int_equal(skr_agent_tick(a, &t, false, &req), SKR_AGENT_COMMIT);
	assert_true(skr_agent_ready(a, &t, "running", why, sizeof(why)));
	assert_false(skr_agent_ready(a, &t, "fallback", why, sizeof(why)));
	/* nothing more to do: no poll, the desired state runs */
	assert_int_equal(skr_agent_tick(a, &t, false, &req), SKR_AGENT_NONE);
	skr_agent_free(a);

	/* a new agent starts with what was committed, tunables included */
	a = agent(f);
	assert_true(skr_agent_committed(a, &back));
	assert_string_equal(back.digest, D1);
	assert_string_equal(back.ref, "reg.example/s:1");
	assert_int_equal(back.sets.n, 1);
	assert_string_equal(back.sets.v[0], "slice_ns=5");
	/* and what runs already is skipped, not switched to again */
	first_switch(a, &back, "reg.example/s:1");
	assert_int_equal(skr_agent_fetched(a, D1, &back), SKR_AGENT_SKIP);
	assert_true(skr_agent_ready(a, &back, "running", why, sizeof(why)));
	skr_agent_free(a);
	sk_strv_free(&t.sets);
	sk_strv_free(&back.sets);
}

static void test_bad_file_keeps_desired(void **state)
{
	struct fx *f = *state;
	struct skr_target t = {0};
	struct skr_agent *a;
	struct json_object *j, *d;
	FILE *fp;
	char why[512];

	write_conf(f, "reg.example/s:1", 0);
	a = agent(f);
	first_switch(a, NULL, "reg.example/s:1");
	target(&t, "reg.example/s:1", D1);
	assert_int_equal(skr_agent_fetched(a, D1, &t), SKR_AGENT_SKIP);
	assert_true(skr_agent_ready(a, &t, "running", why, sizeof(why)));

	fp = fopen(f->conf, "w");
	assert_non_null(fp);
	fputs("{\"version\": 1, \"sched", fp);
	fclose(fp);
	read_desired(a);
	assert_false(skr_agent_ready(a, &t, "running", why, sizeof(why)));
	assert_non_null(strstr(why, "invalid JSON"));
	j = skr_agent_json(a, &t, "running");
	assert_true(json_object_object_get_ex(j, "desired", &d));
	assert_false(json_object_get_boolean(json_object_object_get(d, "valid")));
	/* the last good desired state is still the one named */
	assert_string_equal(sk_json_str(d, "ref"), "reg.example/s:1");
	json_object_put(j);

	assert_int_equal(unlink(f->conf), 0);
	read_desired(a);
	assert_false(skr_agent_ready(a, &t, "running", why, sizeof(why)));
	assert_non_null(strstr(why, "is gone"));
	assert_int_equal(f->m.agent_events[SKR_EV_DESIRED_INVALID], 2);
	skr_agent_free(a);
	sk_strv_free(&t.sets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rollback_remembered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_and_ready, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_file_keeps_desired, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
