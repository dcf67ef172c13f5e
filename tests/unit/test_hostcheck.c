/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sk_host_check() against real kernel BTF: the sid test kernel's (7.2, with
 * sched_ext; $SCHEDKIT_KERNEL_CACHE/vmlinux) and this host's own
 * /sys/kernel/btf/vmlinux. Test objects come from $(BUILD)/tests/bpf/.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <cmocka.h>

#include "schedkit/hostcheck.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"
/* kbtf.c's internal reader, for the raw-BTF tests */
#include "kernel/internal.h"

/* ---- helpers ---- */

static const char *sid_btf(void)
{
	static char path[PATH_MAX];
	const char *dir = getenv("SCHEDKIT_KERNEL_CACHE");

	snprintf(path, sizeof(path), "%s/vmlinux",
		 dir && *dir ? dir : "/var/cache/schedkit/kernel");
	if (access(path, R_OK))
		fail_msg("test kernel BTF %s missing: run make kernel", path);
	return path;
}

static struct json_object *parse(const char *text)
{
	struct sk_error err = {0};
	struct json_object *o = NULL;

	if (sk_json_parse(text, strlen(text), "test config", &o, &err))
		fail_msg("bad test JSON: %s", err.msg);
	return o;
}

/* A config built the way skbuild does it: from the analysed object. */
static struct json_object *config_of_obj(const char *name)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	struct sk_sched_info *info = NULL;
	struct sk_error err = {0};
	struct json_object *cfg;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	uint8_t *data = NULL;
	size_t len;

	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/bpf/%s.bpf.o", dirname(exe), name);
	if (sk_read_file(path, 64 << 20, &data, &len, &err))
		fail_msg("test object %s missing (%s): build it with make", path, err.msg);
	if (sk_sched_analyze(data, len, NULL, &info, &err))
		fail_msg("analysing %s: %s", path, err.msg);
	cfg = sk_sched_info_to_json(info);
	assert_non_null(cfg);
	sk_sched_info_free(info);
	free(data);
	return cfg;
}

static struct sk_check_report *check(struct json_object *cfg, const char *btf, const char *release)
{
	struct sk_check_report *r = NULL;
	struct sk_error err = {0};

	if (sk_host_check(cfg, btf, release, &r, &err))
		fail_msg("sk_host_check: %s", err.msg);
	assert_non_null(r);
	return r;
}

static const struct sk_check_row *row(const struct sk_check_report *r, const char *kind,
				      const char *req)
{
	for (size_t i = 0; i < r->nr_rows; i++)
		if (!strcmp(r->rows[i].kind, kind) && !strcmp(r->rows[i].requirement, req))
			return &r->rows[i];
	fail_msg("no row '%s %s' in the report", kind, req);
	return NULL;
}

static bool has_row(const struct sk_check_report *r, const char *kind, const char *req)
{
	for (size_t i = 0; i < r->nr_rows; i++)
		if (!strcmp(r->rows[i].kind, kind) && !strcmp(r->rows[i].requirement, req))
			return true;
	return false;
}

static void assert_verdict(const struct sk_check_report *r, const char *kind, const char *req,
			   enum sk_verdict v)
{
	const struct sk_check_row *x = row(r, kind, req);

	if (x->verdict != v)
		fail_msg("'%s %s': verdict %s (host: %s), expected %s", kind, req,
			 sk_verdict_str(x->verdict), x->host, sk_verdict_str(v));
}

static size_t count(const struct sk_check_report *r, enum sk_verdict v)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nr_rows; i++)
		n += r->rows[i].verdict == v;
	return n;
}

/* A minimal config in skbuild's shape; req is the body of "requirements". */
static struct json_object *config_with(const char *ops, const char *req)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\"schemaVersion\":1,\"name\":\"t\",\"version\":\"1\","
		 "\"ops\":{\"map\":\"t_ops\",\"name\":\"t\"%s%s},"
		 "\"requirements\":{%s},"
		 "\"tunables\":[{\"name\":\"slice_ns\",\"type\":\"u64\",\"kind\":\"uint\","
		 "\"size\":8,\"offset\":0,\"default\":\"5000000\"}]}",
		 *ops ? "," : "", ops, req);
	return parse(text);
}

#define BASE_REQ                                                                                   \
	"\"minKernel\":\"6.12\",\"minKernelBecause\":[],"                                          \
	"\"kfuncs\":{\"required\":[\"scx_bpf_create_dsq\"],\"optional\":[]},"                      \
	"\"callbacks\":[\"enqueue\",\"init\"],\"opsFlags\":0,\"timeoutMs\":0,\"unknown\":[]"

/* ---- against the sid kernel (sched_ext present) ---- */

static void test_fifo_ok_on_sid(void **state)
{
	struct json_object *cfg = config_of_obj("fifo");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13+deb14-cloud-amd64");
	struct sk_error err = {0};

	(void)state;
	if (!sk_check_report_ok(r))
		fail_msg("fifo should run on the sid kernel; %d missing",
			 (int)count(r, SK_VERDICT_MISSING));
	assert_int_equal(sk_check_report_error(r, &err), 0);
	assert_verdict(r, "kernel", "sched_ext", SK_VERDICT_OK);
	assert_verdict(r, "kernel", "struct_ops", SK_VERDICT_OK);
	assert_verdict(r, "release", ">= 6.13", SK_VERDICT_OK);
	assert_verdict(r, "kfunc", "scx_bpf_dsq_insert", SK_VERDICT_OK);
	assert_verdict(r, "callback", "enqueue", SK_VERDICT_OK);
	assert_verdict(r, "flag", "SCX_OPS_ENQ_LAST", SK_VERDICT_OK);
	assert_verdict(r, "member", "dispatch_max_batch", SK_VERDICT_OK);
	assert_verdict(r, "ops", "timeout_ms 5000", SK_VERDICT_OK);
	assert_int_equal(count(r, SK_VERDICT_MISSING), 0);
	assert_int_equal(count(r, SK_VERDICT_WARNING), 0);
	assert_string_equal(r->release, "7.2.13+deb14-cloud-amd64");
	sk_check_report_free(r);
	json_object_put(cfg);
}

static void test_missing_kfunc(void **state)
{
	struct json_object *cfg = config_with(
	    "", "\"minKernel\":\"6.12\",\"kfuncs\":{\"required\":[\"scx_bpf_create_dsq\","
		"\"scx_bpf_schedkit_nope\"],\"optional\":[]},\"callbacks\":[\"enqueue\"],"
		"\"unknown\":[\"kfunc scx_bpf_schedkit_nope\"]");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	const struct sk_check_row *x;
	struct sk_error err = {0};
	size_t n = 0;

	(void)state;
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "kfunc", "scx_bpf_create_dsq", SK_VERDICT_OK);
	x = row(r, "kfunc", "scx_bpf_schedkit_nope");
	assert_int_equal(x->verdict, SK_VERDICT_MISSING);
	assert_string_equal(x->host, "not in this kernel (needed; the scheduler cannot load here)");
	/* listed under "unknown" too, but reported once */
	for (size_t i = 0; i < r->nr_rows; i++)
		n += !strcmp(r->rows[i].requirement, "scx_bpf_schedkit_nope");
	assert_int_equal(n, 1);
	assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "kfunc scx_bpf_schedkit_nope: not in this kernel (needed; "
					"the scheduler cannot load here)"));
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* An author's load.needsUserSpace: no kernel runs it under skrun, and the check says why. */
static void test_needs_user_space(void **state)
{
	struct json_object *cfg = config_with("", BASE_REQ), *load = json_object_new_object();
	struct sk_check_report *r;
	struct sk_error err = {0};

	(void)state;
	json_object_object_add(
	    load, "needsUserSpace",
	    json_object_new_string("tasks are scheduled by its user-space half"));
	json_object_object_add(cfg, "load", load);
	r = check(cfg, sid_btf(), "7.2.13");
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "kfunc", "scx_bpf_create_dsq", SK_VERDICT_OK);
	assert_verdict(r, "user space", "its own user-space half", SK_VERDICT_MISSING);
	assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "needs its own user-space half at run time: tasks are "
					"scheduled by its user-space half"));
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* 7.2 no longer has the 6.12 names: the table explains why. */
static void test_removed_kfunc(void **state)
{
	struct json_object *cfg = config_with(
	    "", "\"minKernel\":\"6.12\",\"kfuncs\":{\"required\":[\"scx_bpf_dispatch\"],"
		"\"optional\":[]},\"callbacks\":[],\"kernelBefore\":\"6.17\"");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	const struct sk_check_row *x = row(r, "kfunc", "scx_bpf_dispatch");

	(void)state;
	assert_false(sk_check_report_ok(r));
	assert_int_equal(x->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(x->host, "removed in 6.17"));
	assert_verdict(r, "release", "< 6.17", SK_VERDICT_WARNING);
	sk_check_report_free(r);
	json_object_put(cfg);
}

static void test_missing_callback_and_member(void **state)
{
	struct json_object *cfg = config_with(
	    "\"dispatchMaxBatch\":4",
	    "\"minKernel\":\"7.1\",\"minKernelBecause\":[\"member sub_cgroup_id (7.1)\"],"
	    "\"kfuncs\":{\"required\":[],\"optional\":[]},"
	    "\"callbacks\":[\"enqueue\",\"frobnicate\"],"
	    "\"unknown\":[\"callback frobnicate\",\"member frob_depth\"]");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	struct sk_error err = {0};

	(void)state;
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "callback", "enqueue", SK_VERDICT_OK);
	assert_verdict(r, "callback", "frobnicate", SK_VERDICT_MISSING);
	assert_verdict(r, "member", "sub_cgroup_id", SK_VERDICT_OK);
	assert_verdict(r, "member", "dispatch_max_batch", SK_VERDICT_OK);
	assert_verdict(r, "member", "frob_depth", SK_VERDICT_MISSING);
	assert_false(has_row(r, "member", "exit_dump_len")); /* zero: not a requirement */
	assert_int_equal(count(r, SK_VERDICT_MISSING), 2);
	assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "callback frobnicate: not in this kernel's struct "
					"sched_ext_ops"));
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* An object using 6.17..7.1 members, analysed for real: all present in 7.2. */
static void test_newops_object_on_sid(void **state)
{
	struct json_object *cfg = config_of_obj("newops");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");

	(void)state;
	assert_true(sk_check_report_ok(r));
	assert_verdict(r, "callback", "sub_attach", SK_VERDICT_OK);
	assert_verdict(r, "callback", "cgroup_set_bandwidth", SK_VERDICT_OK);
	assert_verdict(r, "member", "sub_cgroup_id", SK_VERDICT_OK);
	assert_verdict(r, "release", ">= 7.1", SK_VERDICT_OK);
	sk_check_report_free(r);
	json_object_put(cfg);
}

/*
 * scx_qmap's case: an ops map of struct sched_ext_ops_cid is checked against
 * that struct, whose select_cid, set_cmask and dump_cid sched_ext_ops lacks.
 */
static void test_cid_object_on_sid(void **state)
{
	struct json_object *cfg = config_of_obj("cidops"), *ops;
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	struct sk_error err = {0};

	(void)state;
	if (!sk_check_report_ok(r)) {
		assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
		fail_msg("cidops on 7.2: %s", err.msg);
	}
	assert_verdict(r, "ops", "sched_ext_ops_cid", SK_VERDICT_OK);
	assert_verdict(r, "callback", "select_cid", SK_VERDICT_OK);
	assert_verdict(r, "callback", "set_cmask", SK_VERDICT_OK);
	assert_verdict(r, "callback", "dump_cid", SK_VERDICT_OK);
	assert_string_equal(row(r, "callback", "dump_cid")->host, "in struct sched_ext_ops_cid");
	assert_string_equal(row(r, "kernel", "struct_ops")->host,
			    "bpf_struct_ops_sched_ext_ops_cid");
	assert_verdict(r, "release", ">= 7.2", SK_VERDICT_OK);
	sk_check_report_free(r);

	/* The same requirements read as struct sched_ext_ops: what skrun said before. */
	assert_true(json_object_object_get_ex(cfg, "ops", &ops));
	json_object_object_del(ops, "type");
	r = check(cfg, sid_btf(), "7.2.13");
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "callback", "select_cid", SK_VERDICT_MISSING);
	assert_non_null(strstr(row(r, "callback", "select_cid")->host,
			       "not in this kernel's struct sched_ext_ops (added in 7.2"));
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* A kernel without the map's struct: one row says so, and why the members are missing. */
static void test_ops_type_missing(void **state)
{
	struct json_object *cfg = config_with("\"type\":\"sched_ext_ops_future\"", BASE_REQ);
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	struct sk_error err = {0};

	(void)state;
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "kernel", "sched_ext", SK_VERDICT_OK);
	assert_verdict(r, "ops", "sched_ext_ops_future", SK_VERDICT_MISSING);
	assert_non_null(strstr(row(r, "ops", "sched_ext_ops_future")->host,
			       "no struct sched_ext_ops_future in this kernel's BTF"));
	assert_verdict(r, "kernel", "struct_ops", SK_VERDICT_MISSING);
	assert_non_null(
	    strstr(row(r, "kernel", "struct_ops")->host, "no bpf_struct_ops_sched_ext_ops_future"));
	assert_verdict(r, "callback", "enqueue", SK_VERDICT_MISSING);
	assert_string_equal(row(r, "callback", "enqueue")->host,
			    "no struct sched_ext_ops_future in this kernel");
	assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "ops sched_ext_ops_future: no struct"));
	sk_check_report_free(r);
	json_object_put(cfg);

	/* Not an ops struct at all: refused before the BTF is read. */
	cfg = config_with("\"type\":\"tcp_congestion_ops\"", BASE_REQ);
	r = (void *)1;
	assert_int_equal(sk_host_check(cfg, sid_btf(), "7.2", &r, &err), -EINVAL);
	assert_null(r);
	assert_non_null(strstr(err.msg, "is not a sched_ext ops struct"));
	json_object_put(cfg);
}

static void test_flags(void **state)
{
	/* KEEP_BUILTIN_IDLE|ENQ_LAST known; HAS_CGROUP_WEIGHT (1<<16) left 7.2's enum; 1<<40 never
	 * was */
	struct json_object *cfg =
	    config_with("\"flags\":1099511693315",
			"\"minKernel\":\"6.12\",\"kfuncs\":{\"required\":[],\"optional\":[]},"
			"\"callbacks\":[\"enqueue\"],\"opsFlags\":1099511693315");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	const struct sk_check_row *x;

	(void)state;
	assert_int_equal(1099511693315ULL, (1ULL << 40) | (1ULL << 16) | 3);
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "flag", "SCX_OPS_KEEP_BUILTIN_IDLE", SK_VERDICT_OK);
	assert_verdict(r, "flag", "SCX_OPS_ENQ_LAST", SK_VERDICT_OK);
	assert_verdict(r, "member", "flags", SK_VERDICT_OK);
	x = row(r, "flag", "0x10000");
	assert_int_equal(x->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(x->host, "not in this kernel's enum scx_ops_flags"));
	assert_verdict(r, "flag", "0x10000000000", SK_VERDICT_MISSING);
	assert_int_equal(count(r, SK_VERDICT_MISSING), 2);
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* tests/unit/bpf/flags.bpf.c sets 6.15 flags and the bit 0x100000 no kernel defines. */
static void test_flags_object_on_sid(void **state)
{
	struct json_object *cfg = config_of_obj("flags");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");

	(void)state;
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "flag", "SCX_OPS_KEEP_BUILTIN_IDLE", SK_VERDICT_OK);
	assert_verdict(r, "flag", "SCX_OPS_ENQ_MIGRATION_DISABLED", SK_VERDICT_OK);
	assert_verdict(r, "flag", "SCX_OPS_ALLOW_QUEUED_WAKEUP", SK_VERDICT_OK);
	assert_verdict(r, "flag", "0x100000", SK_VERDICT_MISSING);
	assert_int_equal(count(r, SK_VERDICT_MISSING), 1);
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* Features decide: an old release number with everything present only warns. */
static void test_low_release_with_features_warns(void **state)
{
	struct json_object *cfg = config_with(
	    "", "\"minKernel\":\"6.13\",\"minKernelBecause\":[\"kfunc scx_bpf_dsq_insert (6.13)\"],"
		"\"kfuncs\":{\"required\":[\"scx_bpf_dsq_insert\"],\"optional\":[]},"
		"\"callbacks\":[\"enqueue\"]");
	struct sk_check_report *r = check(cfg, sid_btf(), "6.12.117-amd64");
	const struct sk_check_row *x = row(r, "release", ">= 6.13");

	(void)state;
	assert_true(sk_check_report_ok(r));
	assert_int_equal(x->verdict, SK_VERDICT_WARNING);
	assert_non_null(strstr(x->host, "every feature it needs is present"));
	assert_int_equal(count(r, SK_VERDICT_WARNING), 1);
	assert_int_equal(count(r, SK_VERDICT_MISSING), 0);
	/* the release row sits with the kernel rows, before the features */
	assert_string_equal(r->rows[2].kind, "release");
	sk_check_report_free(r);

	r = check(cfg, sid_btf(), "");
	assert_verdict(r, "release", ">= 6.13", SK_VERDICT_INFO);
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
	json_object_put(cfg);
}

static void test_timeout_and_optional(void **state)
{
	struct json_object *cfg =
	    config_with("\"timeoutMs\":40000",
			"\"minKernel\":\"6.12\",\"kfuncs\":{\"required\":[],\"optional\":"
			"[\"scx_bpf_now\",\"scx_bpf_schedkit_maybe\"]},\"callbacks\":[\"enqueue\"],"
			"\"timeoutMs\":40000");
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	struct json_object *ok_cfg;

	(void)state;
	assert_false(sk_check_report_ok(r));
	assert_verdict(r, "ops", "timeout_ms 40000", SK_VERDICT_MISSING);
	assert_verdict(r, "optional kfunc", "scx_bpf_now", SK_VERDICT_OK);
	assert_string_equal(row(r, "optional kfunc", "scx_bpf_now")->host, "available");
	assert_verdict(r, "optional kfunc", "scx_bpf_schedkit_maybe", SK_VERDICT_INFO);
	assert_string_equal(row(r, "optional kfunc", "scx_bpf_schedkit_maybe")->host,
			    "missing (optional)");
	assert_int_equal(count(r, SK_VERDICT_MISSING), 1);
	sk_check_report_free(r);
	json_object_put(cfg);

	ok_cfg = config_with("\"timeoutMs\":5000",
			     "\"minKernel\":\"6.12\",\"kfuncs\":{\"required\":[],\"optional\":"
			     "[\"scx_bpf_schedkit_maybe\"]},\"callbacks\":[],\"timeoutMs\":5000");
	r = check(ok_cfg, sid_btf(), "7.2.13");
	assert_true(sk_check_report_ok(r));
	assert_verdict(r, "ops", "timeout_ms 5000", SK_VERDICT_OK);
	sk_check_report_free(r);
	json_object_put(ok_cfg);
}

static void test_json_shape(void **state)
{
	struct json_object *cfg = config_with("", BASE_REQ);
	struct sk_check_report *r = check(cfg, sid_btf(), "7.2.13");
	struct json_object *j = sk_check_report_to_json(r), *v, *checks, *c;

	(void)state;
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "ok", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(j, "kernel", &v));
	assert_string_equal(sk_json_str(v, "release"), "7.2.13");
	assert_string_equal(sk_json_str(v, "btf"), sid_btf());
	assert_true(json_object_object_get_ex(j, "checks", &checks));
	assert_int_equal(json_object_array_length(checks), r->nr_rows);
	c = json_object_array_get_idx(checks, 0);
	assert_string_equal(sk_json_str(c, "requirement"), "sched_ext");
	assert_string_equal(sk_json_str(c, "kind"), "kernel");
	assert_string_equal(sk_json_str(c, "verdict"), "ok");
	assert_non_null(sk_json_str(c, "host"));
	assert_true(json_object_object_get_ex(j, "tunables", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_string_equal(sk_json_str(json_object_array_get_idx(v, 0), "name"), "slice_ns");
	json_object_put(j);
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* skrun run calls this before every load: one parse of a 60 MB vmlinux, name lookups. */
static void test_fast(void **state)
{
	struct json_object *cfg = config_of_obj("fifo");
	struct timespec a, b;
	double ms;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	sk_check_report_free(check(cfg, sid_btf(), "7.2.13"));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	if (ms > 1000)
		fail_msg("sk_host_check took %.0f ms", ms);
	json_object_put(cfg);
}

/* ---- damage to raw BTF, for test_raw_btf_malformed ---- */

/* struct btf_type's info: vlen in bits 0-15, kind in 24-28 (linux/btf.h). */
#define INFO(kind, vlen) (((uint32_t)(kind) << 24) | (uint32_t)(vlen))

static void damage_strings(uint8_t *raw, const struct btf_header *h)
{
	raw[h->hdr_len + h->str_off + h->str_len - 1] = 'x';
}

/* The first record is void's successor: cut the type section 4 bytes into it. */
static void damage_type_len(uint8_t *raw, const struct btf_header *h)
{
	struct btf_header c = *h;

	c.type_len = 4;
	memcpy(raw, &c, sizeof(c));
}

static struct btf_type *first_type(uint8_t *raw, const struct btf_header *h)
{
	return (struct btf_type *)(raw + h->hdr_len + h->type_off);
}

/* Make the first type a struct with as many members as vlen holds. */
static void damage_vlen(uint8_t *raw, const struct btf_header *h)
{
	struct btf_type *t = first_type(raw, h);
	struct btf_header c = *h;

	t->info = INFO(BTF_KIND_STRUCT, 0xffff);
	c.type_len = sizeof(*t) + 16;
	memcpy(raw, &c, sizeof(c));
}

static void damage_kind(uint8_t *raw, const struct btf_header *h)
{
	first_type(raw, h)->info = INFO(31, 0);
}

/* ---- raw BTF, as /sys/kernel/btf/vmlinux serves it (kbtf.c walks it in place) ---- */

/* The sid kernel's BTF as raw bytes in the given byte order (malloc'd). */
static uint8_t *sid_raw(enum btf_endianness endian, size_t *len)
{
	struct btf *btf = btf__parse(sid_btf(), NULL);
	const void *raw;
	uint32_t size = 0;
	uint8_t *copy;

	assert_non_null(btf);
	assert_int_equal(btf__set_endianness(btf, endian), 0);
	raw = btf__raw_data(btf, &size);
	assert_non_null(raw);
	copy = malloc(size);
	assert_non_null(copy);
	memcpy(copy, raw, size);
	btf__free(btf);
	*len = size;
	return copy;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void assert_same_report(const struct sk_check_report *a, const struct sk_check_report *b)
{
	assert_int_equal(a->nr_rows, b->nr_rows);
	for (size_t i = 0; i < a->nr_rows; i++) {
		assert_string_equal(a->rows[i].kind, b->rows[i].kind);
		assert_string_equal(a->rows[i].requirement, b->rows[i].requirement);
		assert_string_equal(a->rows[i].host, b->rows[i].host);
		assert_int_equal(a->rows[i].verdict, b->rows[i].verdict);
	}
}

/* Native raw BTF (mapped), the same read instead of mapped, and the other byte order. */
static void test_raw_btf_same_report(void **state)
{
	const char *objs[] = {"fifo", "flags", "newops", "kfuncs", "weak", "v2"};
	char dir[] = "/tmp/sk-hostcheck-XXXXXX", native[PATH_MAX], swapped[PATH_MAX];
	enum btf_endianness other =
	    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? BTF_BIG_ENDIAN : BTF_LITTLE_ENDIAN;
	size_t len;
	uint8_t *raw;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(native, sizeof(native), "%s/vmlinux.btf", dir);
	snprintf(swapped, sizeof(swapped), "%s/swapped.btf", dir);
	raw = sid_raw(other == BTF_BIG_ENDIAN ? BTF_LITTLE_ENDIAN : BTF_BIG_ENDIAN, &len);
	write_file(native, raw, len);
	free(raw);
	raw = sid_raw(other, &len);
	write_file(swapped, raw, len);
	free(raw);
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		struct json_object *cfg = config_of_obj(objs[i]);
		struct sk_check_report *elf = check(cfg, sid_btf(), "7.2.13");
		struct sk_check_report *r = check(cfg, native, "7.2.13");

		assert_same_report(elf, r);
		assert_string_equal(r->btf, native);
		sk_check_report_free(r);
		r = check(cfg, swapped, "7.2.13");
		assert_same_report(elf, r);
		sk_check_report_free(r);
		sk_check_report_free(elf);
		json_object_put(cfg);
	}
	unlink(native);
	unlink(swapped);
	rmdir(dir);
}

/* The first enumerator of that name in type order, the way libbpf's parse sees it. */
static bool ref_enum_value(const struct btf *btf, const char *name, uint64_t *val)
{
	for (uint32_t id = 1; id < btf__type_cnt(btf); id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		for (uint16_t i = 0; btf_is_enum(t) && i < btf_vlen(t); i++)
			if (!strcmp(btf__name_by_offset(btf, btf_enum(t)[i].name_off), name)) {
				*val = (uint64_t)(int64_t)btf_enum(t)[i].val;
				return true;
			}
		for (uint16_t i = 0; btf_is_enum64(t) && i < btf_vlen(t); i++)
			if (!strcmp(btf__name_by_offset(btf, btf_enum64(t)[i].name_off), name)) {
				*val = btf_enum64_value(&btf_enum64(t)[i]);
				return true;
			}
	}
	return false;
}

/* What the loader fills the __SCX_* placeholders with, mapped and read. */
static void test_raw_btf_enum_values(void **state)
{
	const char *names[] = {"SCX_DSQ_FLAG_BUILTIN", "SCX_OPS_ENQ_LAST", "SCX_DSQ_LOCAL",
			       "SCX_SLICE_DFL",	       "SCX_KICK_IDLE",	   "SCX_RQ_BAL_PENDING",
			       "SCX_ENQ_WAKEUP",       "SCHEDKIT_NO_SUCH"};
	size_t n = sizeof(names) / sizeof(names[0]), len;
	char dir[] = "/tmp/sk-hostcheck-XXXXXX", path[PATH_MAX];
	struct btf *ref = btf__parse(sid_btf(), NULL);
	uint8_t *raw = sid_raw(
	    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? BTF_LITTLE_ENDIAN : BTF_BIG_ENDIAN, &len);

	(void)state;
	assert_non_null(ref);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmlinux.btf", dir);
	write_file(path, raw, len);
	free(raw);
	for (unsigned flags = 0; flags <= SK_KBTF_READ; flags += SK_KBTF_READ) {
		struct sk_error err = {0};
		struct sk_nameset want;
		struct sk_kbtf k;
		size_t found = 0;

		assert_int_equal(sk_nameset_init(&want, names, n), 0);
		if (sk_kbtf_open(path, flags, &k, &err) || sk_kbtf_enum_values(&k, &want, &err))
			fail_msg("reading %s: %s", path, err.msg);
		assert_non_null(k.map); /* mapped or read into our own mapping, never the heap */
		for (size_t i = 0; i < n; i++) {
			long w = sk_nameset_find(&want, names[i]);
			uint64_t v = 0;
			bool have = ref_enum_value(ref, names[i], &v);

			assert_true(w >= 0);
			assert_int_equal(want.found[w], have);
			if (have)
				assert_true(want.vals[w] == v);
			found += have;
		}
		/* 7.2's BTF lacks SCX_RQ_BAL_PENDING, and nobody has SCHEDKIT_NO_SUCH. */
		assert_int_equal(found, n - 2);
		sk_kbtf_close(&k);
		sk_nameset_free(&want);
	}
	btf__free(ref);
	unlink(path);
	rmdir(dir);
}

/* A damaged raw BTF is refused with what is wrong and where, never read out of bounds. */
static void test_raw_btf_malformed(void **state)
{
	struct json_object *cfg = config_of_obj("fifo");
	char dir[] = "/tmp/sk-hostcheck-XXXXXX", path[PATH_MAX];
	size_t len;
	uint8_t *good = sid_raw(
	    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? BTF_LITTLE_ENDIAN : BTF_BIG_ENDIAN, &len);
	struct btf_header h;
	struct {
		const char *what, *expect;
		size_t len;
		void (*damage)(uint8_t *raw, const struct btf_header *h);
	} cases[] = {
	    {"a cut header", "too short for a BTF header", 10, NULL},
	    {"a cut string section", "malformed header", len - 1, NULL},
	    {"strings not NUL-terminated", "malformed string section", len, damage_strings},
	    {"a type section ending inside a record", "cut off by the end", len, damage_type_len},
	    {"a struct whose members run past the types", "runs past the end", len, damage_vlen},
	    {"an unknown kind", "which libbpf 1.4 does not know", len, damage_kind},
	};

	(void)state;
	memcpy(&h, good, sizeof(h));
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmlinux.btf", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *raw = malloc(len);
		struct sk_check_report *r = (void *)1;
		struct sk_error err = {0};

		assert_non_null(raw);
		memcpy(raw, good, len);
		if (cases[i].damage)
			cases[i].damage(raw, &h);
		write_file(path, raw, cases[i].len);
		free(raw);
		if (!sk_host_check(cfg, path, "7.2", &r, &err))
			fail_msg("%s was accepted", cases[i].what);
		assert_null(r);
		if (!strstr(err.msg, cases[i].expect) || !strstr(err.msg, path))
			fail_msg("%s: expected \"%s\" and the path in: %s", cases[i].what,
				 cases[i].expect, err.msg);
	}
	free(good);
	json_object_put(cfg);
	unlink(path);
	rmdir(dir);
}

/* ---- against this host's own BTF ---- */

static void test_host_btf(void **state)
{
	struct json_object *cfg = config_of_obj("fifo");
	struct sk_check_report *r = check(cfg, NULL, NULL);
	struct btf *btf = btf__parse(SK_SYSFS_BTF, NULL);
	struct sk_error err = {0};
	bool has_scx;

	(void)state;
	assert_non_null(btf);
	has_scx = btf__find_by_name_kind(btf, SK_SCX_OPS_TYPE, BTF_KIND_STRUCT) > 0;
	btf__free(btf);
	assert_string_equal(r->btf, SK_SYSFS_BTF);
	assert_true(r->release[0] != '\0'); /* uname -r */
	if (has_scx) {
		/* A sched_ext host: fifo's 6.12 needs are all there. */
		assert_true(sk_check_report_ok(r));
	} else {
		const struct sk_check_row *x = row(r, "kernel", "sched_ext");

		assert_false(sk_check_report_ok(r));
		assert_int_equal(x->verdict, SK_VERDICT_MISSING);
		assert_non_null(strstr(x->host, "CONFIG_SCHED_CLASS_EXT"));
		assert_verdict(r, "kfunc", "scx_bpf_dsq_insert", SK_VERDICT_MISSING);
		assert_verdict(r, "callback", "enqueue", SK_VERDICT_MISSING);
		assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
		assert_non_null(strstr(err.msg, "kernel sched_ext: no struct sched_ext_ops"));
	}
	sk_check_report_free(r);
	json_object_put(cfg);
}

static void test_errors(void **state)
{
	struct json_object *cfg = config_with("", BASE_REQ), *bare = parse("{\"name\":\"x\"}");
	struct sk_check_report *r = NULL;
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_host_check(cfg, "/nonexistent/vmlinux", "7.2", &r, &err), -ENOENT);
	assert_null(r);
	assert_non_null(strstr(err.msg, "/nonexistent/vmlinux"));
	assert_non_null(strstr(err.msg, "--btf"));
	assert_int_equal(sk_host_check(bare, sid_btf(), "7.2", &r, &err), -EINVAL);
	assert_null(r);
	assert_non_null(strstr(err.msg, "requirements"));
	json_object_put(cfg);
	json_object_put(bare);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo_ok_on_sid),
	    cmocka_unit_test(test_missing_kfunc),
	    cmocka_unit_test(test_needs_user_space),
	    cmocka_unit_test(test_removed_kfunc),
	    cmocka_unit_test(test_missing_callback_and_member),
	    cmocka_unit_test(test_newops_object_on_sid),
	    cmocka_unit_test(test_cid_object_on_sid),
	    cmocka_unit_test(test_ops_type_missing),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_flags_object_on_sid),
	    cmocka_unit_test(test_low_release_with_features_warns),
	    cmocka_unit_test(test_timeout_and_optional),
	    cmocka_unit_test(test_json_shape),
	    cmocka_unit_test(test_raw_btf_same_report),
	    cmocka_unit_test(test_raw_btf_enum_values),
	    cmocka_unit_test(test_raw_btf_malformed),
	    cmocka_unit_test(test_fast),
	    cmocka_unit_test(test_host_btf),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
