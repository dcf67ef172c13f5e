/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Weak flavors of one kfunc (NAME___x): skbuild reads two or more with
 * different prototypes as "where the kernel has NAME, one of these must
 * link" (requirements.kfuncs.oneOf) and the host check refuses a kernel
 * only when it has NAME and none of them links, naming them. A kernel
 * without NAME is not refused (a fallback under another name may serve it),
 * nor is a kfunc of weak flavors of one prototype, or a lone weak kfunc.
 * The object is tests/unit/bpf/flavors.bpf.c; the kernels are synthetic BTF
 * made with libbpf's btf__add_*.
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
#include <unistd.h>

#include <bpf/btf.h>
#include <cmocka.h>

#include "schedkit/hostcheck.h"
#include "schedkit/kernel.h"
#include "kernel/internal.h"

/*
 * A kernel with sched_ext, scx_bpf_kick_cpu unless create_params is 1, and
 * scx_bpf_create_dsq taking create_params parameters (u64 dsq_id, s32 node,
 * struct bpf_prog_aux *aux__prog: 2 as 7.2, 3 the caller passes NULL for, 1
 * as no kernel; -1: absent). IMPLICIT_71: three parameters, the third an
 * implicit "aux" that the verifier fills in from scx_bpf_create_dsq_impl,
 * which the BTF lacks, as Debian's 7.1.13 has it.
 */
#define IMPLICIT_71 4

static int write_kernel(const char *path, int create_params)
{
	struct btf *b = btf__new_empty();
	int u64, s32, aux, paux, sops, proto;
	const void *raw;
	uint32_t size;
	FILE *f;
	int ret = -1;

	if (!b)
		return -1;
	u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	s32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	aux = btf__add_struct(b, "bpf_prog_aux", 8);
	sops = btf__add_struct(b, "sched_ext_ops", 16);
	btf__add_field(b, "enqueue", u64, 0, 0);
	btf__add_field(b, "init", u64, 64, 0);
	btf__add_struct(b, "bpf_struct_ops_sched_ext_ops", 16);
	btf__add_field(b, "data", sops, 0, 0);
	paux = btf__add_ptr(b, aux);
	if (create_params >= 1) {
		proto = btf__add_func_proto(b, s32);
		btf__add_func_param(b, "dsq_id", u64);
		if (create_params >= 2)
			btf__add_func_param(b, "node", s32);
		if (create_params >= 3)
			btf__add_func_param(b, create_params == IMPLICIT_71 ? "aux" : "aux__prog",
					    paux);
		btf__add_func(b, "scx_bpf_create_dsq", BTF_FUNC_GLOBAL, proto);
	}
	if (create_params != 1) {
		proto = btf__add_func_proto(b, 0);
		btf__add_func_param(b, "cpu", s32);
		btf__add_func_param(b, "flags", u64);
		btf__add_func(b, "scx_bpf_kick_cpu", BTF_FUNC_GLOBAL, proto);
	}
	raw = btf__raw_data(b, &size);
	f = raw ? fopen(path, "wb") : NULL;
	if (f && fwrite(raw, 1, size, f) == size)
		ret = 0;
	if (f && fclose(f))
		ret = -1;
	btf__free(b);
	return ret;
}

static struct sk_sched_info *analyze_flavors(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	struct sk_sched_info *info = NULL;
	struct sk_error err = {0};
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	uint8_t *data;
	size_t len;

	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/bpf/flavors.bpf.o", dirname(exe));
	if (sk_read_file(path, 64 << 20, &data, &len, &err))
		fail_msg("test object %s missing (%s): build it with make", path, err.msg);
	if (sk_sched_analyze(data, len, NULL, &info, &err))
		fail_msg("analysing %s: %s", path, err.msg);
	free(data);
	return info;
}

static char *joined(const struct sk_strv *s)
{
	char *j = sk_strv_join(s, "|");

	assert_non_null(j);
	return j;
}

/* What skbuild records: both flavors with their prototypes; minKernel not raised. */
static void test_analysis_records_one_of(void **state)
{
	struct sk_sched_info *info = analyze_flavors();
	struct json_object *cfg, *k, *oneof, *fl;
	char *s;

	(void)state;
	s = joined(&info->kfuncs_required);
	assert_string_equal(s, "");
	free(s);
	/* same prototype under two names, and a lone weak kfunc: optional as before */
	s = joined(&info->kfuncs_optional);
	assert_string_equal(s, "scx_bpf_create_dsq|scx_bpf_kick_cpu|scx_bpf_now");
	free(s);
	assert_string_equal(info->min_kernel, "6.12");
	s = joined(&info->kfunc_oneof);
	assert_string_equal(s, "scx_bpf_create_dsq scx_bpf_create_dsq___aux s32(u64, s32, struct "
			       "bpf_prog_aux *)|scx_bpf_create_dsq scx_bpf_create_dsq___two "
			       "s32(u64, s32)");
	free(s);
	/* not a strong prototype: the host check judges the flavors together */
	assert_int_equal(info->kfunc_protos.n, 0);

	cfg = sk_sched_info_to_json(info);
	assert_non_null(cfg);
	assert_true(json_object_object_get_ex(cfg, "requirements", &k));
	assert_true(json_object_object_get_ex(k, "kfuncs", &k));
	assert_true(json_object_object_get_ex(k, "oneOf", &oneof));
	assert_true(json_object_object_get_ex(oneof, "scx_bpf_create_dsq", &fl));
	assert_int_equal(json_object_object_length(oneof), 1);
	assert_int_equal(json_object_object_length(fl), 2);
	assert_true(json_object_object_get_ex(fl, "scx_bpf_create_dsq___two", &k));
	assert_string_equal(json_object_get_string(k), "s32(u64, s32)");
	json_object_put(cfg);
	sk_sched_info_free(info);
}

/* The object's config against a kernel whose create_dsq takes create_params. */
static struct sk_check_report *check_on(int create_params)
{
	char path[64] = "/tmp/sk-flavors.XXXXXX";
	struct sk_sched_info *info = analyze_flavors();
	struct sk_check_report *r = NULL;
	struct sk_error err = {0};
	struct json_object *cfg = sk_sched_info_to_json(info);
	int fd = mkstemp(path);

	assert_non_null(cfg);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(write_kernel(path, create_params), 0);
	if (sk_host_check(cfg, path, "7.1.13", &r, &err))
		fail_msg("sk_host_check: %s", err.msg);
	unlink(path);
	json_object_put(cfg);
	sk_sched_info_free(info);
	return r;
}

static const struct sk_check_row *row_of(const struct sk_check_report *r, const char *req)
{
	for (size_t i = 0; i < r->nr_rows; i++)
		if (!strcmp(r->rows[i].requirement, req))
			return &r->rows[i];
	fail_msg("no row for %s", req);
	return NULL;
}

/* 7.1's three parameters: the ___aux flavor links; 7.2's two: ___two does. */
static void test_one_flavor_links(void **state)
{
	struct sk_check_report *r = check_on(3);
	const struct sk_check_row *row = row_of(r, "scx_bpf_create_dsq");

	(void)state;
	assert_int_equal(row->verdict, SK_VERDICT_OK);
	assert_non_null(strstr(row->host, "flavor scx_bpf_create_dsq___aux links"));
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);

	r = check_on(2);
	row = row_of(r, "scx_bpf_create_dsq");
	assert_int_equal(row->verdict, SK_VERDICT_OK);
	assert_non_null(strstr(row->host, "flavor scx_bpf_create_dsq___two links"));
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
}

/* No flavor matches the kernel's prototype: refused, every flavor named. */
static void test_no_flavor_links_refused(void **state)
{
	struct sk_check_report *r = check_on(1);
	const struct sk_check_row *row = row_of(r, "scx_bpf_create_dsq");
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(row->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(row->host, "none of the scheduler's flavors links with this "
					  "kernel's s32(u64)"));
	assert_non_null(strstr(row->host, "scx_bpf_create_dsq___aux s32(u64, s32, struct "
					  "bpf_prog_aux *)"));
	assert_non_null(strstr(row->host, "scx_bpf_create_dsq___two s32(u64, s32)"));
	assert_false(sk_check_report_ok(r));
	assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "kfunc scx_bpf_create_dsq: none of the scheduler's "
					"flavors links"));
	/* the optional ones, missing here, refuse nothing */
	assert_int_equal(row_of(r, "scx_bpf_kick_cpu")->verdict, SK_VERDICT_INFO);
	assert_int_equal(row_of(r, "scx_bpf_now")->verdict, SK_VERDICT_INFO);
	sk_check_report_free(r);
}

/*
 * 7.1.13's scx_bpf_create_dsq: the ___aux flavor would link, but the verifier
 * cannot call the kfunc without scx_bpf_create_dsq_impl. Refused, saying so.
 */
static void test_uncallable_refused(void **state)
{
	struct sk_check_report *r = check_on(IMPLICIT_71);
	const struct sk_check_row *row = row_of(r, "scx_bpf_create_dsq");

	(void)state;
	assert_int_equal(row->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(row->host, "no program can call it on this kernel"));
	assert_non_null(strstr(row->host, "this kernel's BTF lacks"));
	assert_non_null(strstr(row->host, "scx_bpf_create_dsq_impl"));
	assert_false(sk_check_report_ok(r));
	sk_check_report_free(r);
}

/* fifo's case: the same kfunc only weak, with a fallback: not refused, the row says why. */
static void test_uncallable_optional_not_refused(void **state)
{
	static const char text[] = "{\"requirements\": {\"minKernel\": \"6.12\", "
				   "\"callbacks\": [], \"kfuncs\": {\"required\": [], "
				   "\"optional\": [\"scx_bpf_create_dsq\"]}}}";
	char path[64] = "/tmp/sk-flavors.XXXXXX";
	struct sk_check_report *r = NULL;
	struct sk_error err = {0};
	struct json_object *cfg = NULL;
	const struct sk_check_row *row;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(write_kernel(path, IMPLICIT_71), 0);
	assert_int_equal(sk_json_parse(text, strlen(text), "test config", &cfg, &err), 0);
	if (sk_host_check(cfg, path, "7.1.13", &r, &err))
		fail_msg("sk_host_check: %s", err.msg);
	unlink(path);
	row = row_of(r, "scx_bpf_create_dsq");
	assert_int_equal(row->verdict, SK_VERDICT_INFO);
	assert_non_null(strstr(row->host, "not callable here"));
	assert_non_null(strstr(row->host, "the scheduler's fallback runs"));
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
	json_object_put(cfg);
}

/* The kfunc absent altogether: not refused (the author's fallback decides). */
static void test_absent_not_refused(void **state)
{
	struct sk_check_report *r = check_on(-1);
	const struct sk_check_row *row = row_of(r, "scx_bpf_create_dsq");

	(void)state;
	assert_int_equal(row->verdict, SK_VERDICT_INFO);
	assert_non_null(strstr(row->host, "missing (optional)"));
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
}

/* The grouping alone: a strong flavor wins; one prototype under two names is optional. */
static void test_grouping(void **state)
{
	struct sk_sched_info info = {0};
	struct sk_strv weak = {0};
	char *s;

	(void)state;
	assert_int_equal(sk_strv_push(&info.kfuncs_required, "scx_bpf_a"), 0);
	assert_int_equal(sk_strv_push(&weak, "scx_bpf_a scx_bpf_a___x void(u64)"), 0);
	assert_int_equal(sk_strv_push(&weak, "scx_bpf_a scx_bpf_a___y void(u64, u64)"), 0);
	assert_int_equal(sk_strv_push(&weak, "scx_bpf_b scx_bpf_b___x void(u64)"), 0);
	assert_int_equal(sk_strv_push(&weak, "scx_bpf_b scx_bpf_b void(u64)"), 0);
	assert_int_equal(sk_strv_push(&weak, "scx_bpf_c scx_bpf_c___y u32(u64)"), 0);
	assert_int_equal(sk_strv_push(&weak, "scx_bpf_c scx_bpf_c___x u32()"), 0);
	assert_int_equal(sk_strv_push(&weak, "scx_bpf_d scx_bpf_d u32()"), 0);
	assert_int_equal(sk_req_kfunc_flavors(&info, &weak), 0);
	sk_strv_sort_uniq(&info.kfuncs_required);
	s = joined(&info.kfuncs_required);
	assert_string_equal(s, "scx_bpf_a");
	free(s);
	s = joined(&info.kfuncs_optional);
	assert_string_equal(s, "scx_bpf_b|scx_bpf_c|scx_bpf_d");
	free(s);
	s = joined(&info.kfunc_oneof);
	assert_string_equal(s, "scx_bpf_c scx_bpf_c___x u32()|scx_bpf_c scx_bpf_c___y u32(u64)");
	free(s);
	sk_strv_free(&weak);
	sk_strv_free(&info.kfuncs_required);
	sk_strv_free(&info.kfuncs_optional);
	sk_strv_free(&info.kfunc_oneof);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_analysis_records_one_of),
	    cmocka_unit_test(test_one_flavor_links),
	    cmocka_unit_test(test_no_flavor_links_refused),
	    cmocka_unit_test(test_uncallable_refused),
	    cmocka_unit_test(test_uncallable_optional_not_refused),
	    cmocka_unit_test(test_absent_not_refused),
	    cmocka_unit_test(test_grouping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
