/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Analysis of compiled sched_ext objects and the kernel release table. The
 * objects come from the sources in tests/unit/bpf/, built by the Makefile into
 * $(BUILD)/tests/bpf/ next to this test binary.
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

#include <bpf/libbpf.h>
#include <cmocka.h>

#include "schedkit/kernel.h"

/* ---- helpers ---- */

static void load_obj(const char *name, uint8_t **data, size_t *len)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	struct sk_error err = {0};
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/bpf/%s.bpf.o", dirname(exe), name);
	if (sk_read_file(path, 64 << 20, data, len, &err))
		fail_msg("test object %s missing (%s): build it with make", path, err.msg);
}

static struct sk_sched_info *analyze_ok(const char *name, const char *ops_name)
{
	struct sk_sched_info *info = NULL;
	struct sk_error err = {0};
	uint8_t *data;
	size_t len;
	int ret;

	load_obj(name, &data, &len);
	ret = sk_sched_analyze(data, len, ops_name, &info, &err);
	free(data);
	if (ret)
		fail_msg("analysing %s failed (%d): %s", name, ret, err.msg);
	assert_non_null(info);
	return info;
}

static int analyze_err(const char *name, const char *ops_name, struct sk_error *err)
{
	struct sk_sched_info *info = (void *)1;
	uint8_t *data;
	size_t len;
	int ret;

	load_obj(name, &data, &len);
	ret = sk_sched_analyze(data, len, ops_name, &info, err);
	free(data);
	assert_true(ret < 0);
	assert_null(info);
	assert_int_equal(err->code, ret);
	return ret;
}

/* Compares a string vector with a comma-separated expectation ("" for none). */
static void assert_strv(const struct sk_strv *s, const char *expected)
{
	char *joined = sk_strv_join(s, ",");

	assert_non_null(joined);
	assert_string_equal(joined, expected);
	free(joined);
}

static const struct sk_tunable *find_tunable(const struct sk_sched_info *info, const char *name)
{
	for (size_t i = 0; i < info->nr_tunables; i++)
		if (!strcmp(info->tunables[i].name, name))
			return &info->tunables[i];
	return NULL;
}

static void assert_tunable(const struct sk_sched_info *info, const char *name, const char *type,
			   const char *kind, uint32_t size, const char *def)
{
	const struct sk_tunable *t = find_tunable(info, name);

	if (!t)
		fail_msg("tunable %s missing", name);
	assert_string_equal(t->type, type);
	assert_string_equal(t->kind, kind);
	assert_int_equal(t->size, size);
	assert_string_equal(t->default_str, def);
}

static void assert_keys(struct json_object *o, const char *expected)
{
	char keys[1024] = "";

	assert_true(json_object_is_type(o, json_type_object));
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		if (keys[0])
			strcat(keys, ",");
		strcat(keys, k);
	}
	assert_string_equal(keys, expected);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("JSON key %s missing", key);
	return v;
}

/* ---- release table ---- */

static void test_release_cmp(void **state)
{
	(void)state;
	assert_true(sk_release_cmp("6.9", "6.12") < 0);
	assert_true(sk_release_cmp("6.12", "7.0") < 0);
	assert_true(sk_release_cmp("6.9", "7.0") < 0);
	assert_true(sk_release_cmp("7.0", "6.19") > 0);
	assert_true(sk_release_cmp("6.12", "6.9") > 0);
	assert_int_equal(sk_release_cmp("6.12", "6.12"), 0);
	assert_true(sk_release_cmp("6.12", "6.12.1") < 0);
	assert_true(sk_release_cmp("6.12.3", "6.12") > 0);
	assert_true(sk_release_cmp("6.12.10", "6.12.9") > 0);
}

static void test_release_table(void **state)
{
	(void)state;
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_dispatch"), "6.12");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_dsq_insert"), "6.13");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_now"), "6.14");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_pick_any_cpu_node"), "6.15");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_select_cpu_and"), "6.16");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_locked_rq"), "6.18");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_dsq_insert___v2"), "6.19");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "__scx_bpf_select_cpu_and"), "6.19");
	assert_string_equal(sk_req_release(SK_REQ_KFUNC, "scx_bpf_dsq_move_to_local___v2"), "7.1");
	assert_null(sk_req_release(SK_REQ_KFUNC, "scx_bpf_frobnicate"));
	assert_null(sk_req_release(SK_REQ_KFUNC, NULL));

	assert_string_equal(sk_req_release(SK_REQ_CALLBACK, "enqueue"), "6.12");
	assert_string_equal(sk_req_release(SK_REQ_CALLBACK, "cgroup_set_bandwidth"), "6.17");
	assert_string_equal(sk_req_release(SK_REQ_CALLBACK, "cgroup_set_idle"), "6.19");
	assert_string_equal(sk_req_release(SK_REQ_CALLBACK, "sub_detach"), "7.1");
	assert_null(sk_req_release(SK_REQ_CALLBACK, "scx_bpf_now"));

	assert_string_equal(sk_req_release(SK_REQ_FLAG, "SCX_OPS_SWITCH_PARTIAL"), "6.12");
	assert_string_equal(sk_req_release(SK_REQ_FLAG, "SCX_OPS_ALWAYS_ENQ_IMMED"), "7.1");
	assert_string_equal(sk_req_flag_release(1ULL << 16), "6.12");
	assert_string_equal(sk_req_flag_release(1ULL << 4), "6.15");
	assert_string_equal(sk_req_flag_release(1ULL << 7), "7.1");
	assert_null(sk_req_flag_release(1ULL << 20));
	assert_null(sk_req_flag_release(3)); /* one bit at a time */

	assert_string_equal(sk_req_kfunc_removed("scx_bpf_dispatch"), "6.17");
	assert_string_equal(sk_req_kfunc_removed("scx_bpf_consume"), "6.17");
	assert_null(sk_req_kfunc_removed("scx_bpf_dispatch_nr_slots"));
	assert_null(sk_req_kfunc_removed("scx_bpf_dsq_insert"));
}

static void test_derive_in_memory(void **state)
{
	struct sk_sched_info info = {0};
	struct sk_ops_info ops = {0};

	(void)state;
	info.ops = &ops;
	assert_int_equal(sk_requirements_derive(&info), 0);
	assert_string_equal(info.min_kernel, "6.12");
	assert_strv(&info.min_kernel_because, "");
	assert_string_equal(info.kernel_before, "");

	assert_int_equal(sk_strv_push(&info.kfuncs_required, "scx_bpf_now"), 0);
	assert_int_equal(sk_strv_push(&info.kfuncs_required, "scx_bpf_consume"), 0);
	assert_int_equal(sk_strv_push(&info.kfuncs_required, "scx_bpf_mystery"), 0);
	/* Optional kfuncs neither raise the minimum nor count as unknown. */
	assert_int_equal(sk_strv_push(&info.kfuncs_optional, "scx_bpf_sub_dispatch"), 0);
	assert_int_equal(sk_strv_push(&info.kfuncs_optional, "scx_bpf_other_mystery"), 0);
	assert_int_equal(sk_strv_push(&ops.callbacks, "cgroup_set_bandwidth"), 0);
	assert_int_equal(sk_strv_push(&ops.callbacks, "frob"), 0);
	ops.flags = (1ULL << 1) | (1ULL << 5) | (1ULL << 40);
	/* Twice: results are replaced, not accumulated. */
	assert_int_equal(sk_requirements_derive(&info), 0);
	assert_int_equal(sk_requirements_derive(&info), 0);
	assert_string_equal(info.min_kernel, "6.17");
	assert_strv(&info.min_kernel_because, "callback cgroup_set_bandwidth (6.17)");
	assert_strv(&info.unknown, "callback frob,flag 0x10000000000,kfunc scx_bpf_mystery");
	assert_string_equal(info.kernel_before, "6.17");
	assert_strv(&info.kernel_before_because, "kfunc scx_bpf_consume (removed in 6.17)");

	/* A tie at the maximum lists every item. */
	assert_int_equal(sk_strv_push(&ops.callbacks, "sub_attach"), 0);
	assert_int_equal(sk_strv_push(&ops.members, "sub_cgroup_id"), 0);
	assert_int_equal(sk_requirements_derive(&info), 0);
	assert_string_equal(info.min_kernel, "7.1");
	assert_strv(&info.min_kernel_because,
		    "callback sub_attach (7.1),member sub_cgroup_id (7.1)");

	sk_strv_free(&ops.callbacks);
	sk_strv_free(&ops.members);
	info.ops = NULL;
	sk_strv_free(&info.kfuncs_required);
	sk_strv_free(&info.kfuncs_optional);
	sk_strv_free(&info.min_kernel_because);
	sk_strv_free(&info.unknown);
	sk_strv_free(&info.kernel_before_because);
}

/* ---- objects ---- */

static void test_fifo(void **state)
{
	struct sk_sched_info *info = analyze_ok("fifo", NULL);

	(void)state;
	assert_string_equal(info->license, "GPL");
	assert_non_null(info->ops);
	assert_string_equal(info->ops->map_name, "fifo_ops");
	assert_string_equal(info->ops->name, "fifo");
	assert_int_equal(info->ops->flags, 2 | 8);
	assert_int_equal(info->ops->timeout_ms, 5000);
	assert_int_equal(info->ops->dispatch_max_batch, 8);
	assert_int_equal(info->ops->exit_dump_len, 1024);
	assert_true(info->ops->link);
	assert_strv(&info->ops->callbacks, "dispatch,enqueue,exit,init");
	assert_strv(&info->ops->members, "");
	assert_strv(&info->all_ops_maps, "fifo_ops");
	assert_strv(&info->kfuncs_required, "scx_bpf_dsq_insert,scx_bpf_dsq_nr_queued");
	assert_strv(&info->kfuncs_optional, "");
	assert_strv(&info->sleepable, "fifo_init");
	assert_true(info->has_uei);
	assert_string_equal(info->min_kernel, "6.13");
	assert_strv(&info->min_kernel_because, "kfunc scx_bpf_dsq_insert (6.13)");
	assert_strv(&info->unknown, "");
	assert_string_equal(info->kernel_before, "");
	sk_sched_info_free(info);
}

static void test_fifo_tunables(void **state)
{
	struct sk_sched_info *info = analyze_ok("fifo", NULL);
	struct bpf_object *obj;
	struct bpf_map *rodata = NULL, *m;
	const uint8_t *ro;
	size_t ro_len = 0;
	uint8_t *data;
	size_t len;
	uint64_t slice;
	int32_t bias;

	(void)state;
	/* Exactly these, sorted: no __SCX_ placeholder, plain const or uei_dump_len. */
	assert_int_equal(info->nr_tunables, 9);
	{
		static const char *const names[] = {"mode",  "nice_bias",      "odd_mode",
						    "quiet", "slice_ns",       "small",
						    "tag",   "trace_dump_len", "verbose"};

		for (size_t i = 0; i < info->nr_tunables; i++)
			assert_string_equal(info->tunables[i].name, names[i]);
	}
	assert_tunable(info, "slice_ns", "u64", "uint", 8, "5000000");
	assert_tunable(info, "nice_bias", "s32", "int", 4, "-3");
	assert_tunable(info, "small", "u8", "uint", 1, "200");
	assert_tunable(info, "verbose", "bool", "bool", 1, "true");
	assert_tunable(info, "quiet", "bool", "bool", 1, "false");
	assert_tunable(info, "tag", "char[16]", "char-array", 16, "hello");
	assert_tunable(info, "mode", "enum fifo_mode", "enum", 4, "FIFO_BOOST");
	assert_tunable(info, "odd_mode", "enum fifo_mode", "enum", 4, "7");
	assert_tunable(info, "trace_dump_len", "u32", "uint", 4, "64");
	assert_null(find_tunable(info, "__SCX_DSQ_FLAG_BUILTIN"));
	assert_null(find_tunable(info, "plain_const"));
	assert_null(find_tunable(info, "uei_dump_len"));

	/* Offsets cross-checked against libbpf's own view of .rodata. */
	load_obj("fifo", &data, &len);
	obj = bpf_object__open_mem(data, len, NULL);
	assert_non_null(obj);
	bpf_object__for_each_map(m, obj)
	{
		const char *n = bpf_map__name(m);

		if (strlen(n) >= 7 && !strcmp(n + strlen(n) - 7, ".rodata"))
			rodata = m;
	}
	assert_non_null(rodata);
	ro = bpf_map__initial_value(rodata, &ro_len);
	assert_non_null(ro);
	for (size_t i = 0; i < info->nr_tunables; i++)
		assert_true(info->tunables[i].offset + info->tunables[i].size <= ro_len);
	memcpy(&slice, ro + find_tunable(info, "slice_ns")->offset, sizeof(slice));
	assert_int_equal(slice, 5000000);
	memcpy(&bias, ro + find_tunable(info, "nice_bias")->offset, sizeof(bias));
	assert_int_equal(bias, -3);
	assert_string_equal((const char *)ro + find_tunable(info, "tag")->offset, "hello");
	bpf_object__close(obj);
	free(data);
	sk_sched_info_free(info);
}

static void test_weak_fallbacks(void **state)
{
	struct sk_sched_info *info = analyze_ok("weak", NULL);

	(void)state;
	assert_string_equal(info->license, "Dual BSD/GPL");
	assert_strv(&info->kfuncs_required, "");
	assert_strv(&info->kfuncs_optional, "scx_bpf_dispatch,scx_bpf_dsq_insert");
	assert_string_equal(info->min_kernel, "6.12");
	assert_strv(&info->min_kernel_because, "");
	assert_strv(&info->unknown, "");
	/* A weak use of a removed kfunc is the fallback working as meant. */
	assert_string_equal(info->kernel_before, "");
	assert_false(info->has_uei);
	assert_int_equal(info->nr_tunables, 0);
	sk_sched_info_free(info);
}

static void test_kfuncs_unknown_now_flavours(void **state)
{
	struct sk_sched_info *info = analyze_ok("kfuncs", NULL);

	(void)state;
	/* ___v1 strips to the 6.13 name; ___v2___compat to the kernel's own ___v2. */
	assert_strv(&info->kfuncs_required,
		    "scx_bpf_dispatch,scx_bpf_dsq_insert,scx_bpf_frobnicate,scx_bpf_now");
	assert_strv(&info->kfuncs_optional, "scx_bpf_dsq_insert___v2,scx_bpf_wibble");
	assert_string_equal(info->min_kernel, "6.14");
	assert_strv(&info->min_kernel_because, "kfunc scx_bpf_now (6.14)");
	assert_strv(&info->unknown, "kfunc scx_bpf_frobnicate");
	assert_string_equal(info->kernel_before, "6.17");
	assert_strv(&info->kernel_before_because, "kfunc scx_bpf_dispatch (removed in 6.17)");
	sk_sched_info_free(info);
}

static void test_v2_strong(void **state)
{
	struct sk_sched_info *info = analyze_ok("v2", NULL);

	(void)state;
	assert_strv(&info->kfuncs_required, "scx_bpf_dsq_insert___v2");
	assert_string_equal(info->min_kernel, "6.19");
	assert_strv(&info->min_kernel_because, "kfunc scx_bpf_dsq_insert___v2 (6.19)");
	sk_sched_info_free(info);
}

static void test_flags_615(void **state)
{
	struct sk_sched_info *info = analyze_ok("flags", NULL);

	(void)state;
	assert_int_equal(info->ops->flags, 1 | 16 | 32 | (1ULL << 20));
	assert_string_equal(info->min_kernel, "6.15");
	assert_strv(&info->min_kernel_because, "flag SCX_OPS_ALLOW_QUEUED_WAKEUP (6.15),"
					       "flag SCX_OPS_ENQ_MIGRATION_DISABLED (6.15)");
	assert_strv(&info->unknown, "flag 0x100000");
	assert_strv(&info->ops->callbacks, "init");
	assert_strv(&info->sleepable, "");
	sk_sched_info_free(info);
}

static void test_newer_members(void **state)
{
	struct sk_sched_info *info = analyze_ok("newops", NULL);

	(void)state;
	assert_string_equal(info->ops->name, "newops.v1");
	assert_strv(&info->ops->callbacks, "cgroup_set_bandwidth,sub_attach");
	assert_strv(&info->ops->members, "sub_cgroup_id");
	assert_strv(&info->sleepable, "newops_sub_attach");
	assert_string_equal(info->min_kernel, "7.1");
	assert_strv(&info->min_kernel_because,
		    "callback sub_attach (7.1),member sub_cgroup_id (7.1)");
	sk_sched_info_free(info);
}

/* The cid form: callbacks only struct sched_ext_ops_cid has, and the type recorded. */
static void test_cid_ops(void **state)
{
	struct sk_sched_info *info = analyze_ok("cidops", NULL);
	struct json_object *cfg, *ops, *type;

	(void)state;
	assert_string_equal(info->ops->type, "sched_ext_ops_cid");
	assert_strv(&info->ops->callbacks, "dump_cid,enqueue,select_cid,set_cmask");
	assert_string_equal(info->min_kernel, "7.2");
	assert_strv(&info->min_kernel_because, "callback dump_cid (7.2),callback select_cid "
					       "(7.2),callback set_cmask (7.2),ops "
					       "sched_ext_ops_cid (7.2)");
	assert_strv(&info->unknown, "");
	cfg = sk_sched_info_to_json(info);
	assert_non_null(cfg);
	assert_true(json_object_object_get_ex(cfg, "ops", &ops));
	assert_true(json_object_object_get_ex(ops, "type", &type));
	assert_string_equal(json_object_get_string(type), "sched_ext_ops_cid");
	json_object_put(cfg);
	sk_sched_info_free(info);

	info = analyze_ok("fifo", NULL);
	assert_string_equal(info->ops->type, "sched_ext_ops");
	sk_sched_info_free(info);
}

static void test_ops_type_names(void **state)
{
	(void)state;
	assert_int_equal(sk_scx_ops_type_len("sched_ext_ops"), strlen("sched_ext_ops"));
	assert_int_equal(sk_scx_ops_type_len("sched_ext_ops_cid"), strlen("sched_ext_ops_cid"));
	assert_int_equal(sk_scx_ops_type_len("sched_ext_ops___v2"), strlen("sched_ext_ops"));
	assert_int_equal(sk_scx_ops_type_len("sched_ext_ops_cid___x"), strlen("sched_ext_ops_cid"));
	assert_int_equal(sk_scx_ops_type_len("sched_ext_ops_"), 0);
	assert_int_equal(sk_scx_ops_type_len("sched_ext_opsx"), 0);
	assert_int_equal(sk_scx_ops_type_len("sched_ext_ops_C"), 0);
	assert_int_equal(sk_scx_ops_type_len("tcp_congestion_ops"), 0);
	assert_int_equal(sk_scx_ops_type_len(NULL), 0);
	assert_string_equal(sk_req_ops_type_release("sched_ext_ops"), "6.12");
	assert_string_equal(sk_req_ops_type_release("sched_ext_ops_cid"), "7.2");
	assert_null(sk_req_ops_type_release("sched_ext_ops_future"));
}

static void test_two_ops(void **state)
{
	struct sk_sched_info *info;
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(analyze_err("two_ops", NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "2 struct sched_ext_ops maps (a_ops, b_ops)"));

	memset(&err, 0, sizeof(err));
	assert_int_equal(analyze_err("two_ops", "c_ops", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "\"c_ops\""));
	assert_non_null(strstr(err.msg, "a_ops, b_ops"));

	info = analyze_ok("two_ops", "b_ops");
	assert_string_equal(info->ops->map_name, "b_ops");
	assert_string_equal(info->ops->name, "beta");
	assert_int_equal(info->ops->timeout_ms, 2000);
	assert_false(info->ops->link); /* SEC(".struct_ops") */
	assert_strv(&info->ops->callbacks, "tick");
	assert_strv(&info->all_ops_maps, "a_ops,b_ops");
	sk_sched_info_free(info);

	info = analyze_ok("two_ops", "a_ops");
	assert_string_equal(info->ops->name, "alpha");
	assert_true(info->ops->link);
	assert_strv(&info->ops->callbacks, "init");
	sk_sched_info_free(info);
}

static void test_no_ops(void **state)
{
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(analyze_err("no_ops", NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no struct sched_ext_ops map"));
	assert_non_null(strstr(err.msg, "SEC(\".struct_ops.link\")"));
}

static void test_nongpl(void **state)
{
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(analyze_err("nongpl", NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "license \"MIT\" is not GPL-compatible"));
	assert_non_null(strstr(err.msg, "\"Dual MIT/GPL\""));
}

static void test_bad_name(void **state)
{
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(analyze_err("badname", NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\"my-sched\""));
	assert_non_null(strstr(err.msg, "letters, digits, '_' and '.'"));
}

static void test_not_an_object(void **state)
{
	static const char junk[] = "this is not an ELF file at all, just text";
	struct sk_sched_info *info = (void *)1;
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_sched_analyze(junk, sizeof(junk), NULL, &info, &err), -EINVAL);
	assert_null(info);
	assert_non_null(strstr(err.msg, "not an ELF file"));
	assert_int_equal(sk_sched_analyze(junk, 0, NULL, &info, &err), -EINVAL);
}

static void test_json(void **state)
{
	struct sk_sched_info *a = analyze_ok("fifo", NULL), *b = analyze_ok("fifo", NULL);
	struct json_object *ja = sk_sched_info_to_json(a), *jb = sk_sched_info_to_json(b);
	struct json_object *req, *tun;
	char *sa;

	(void)state;
	assert_non_null(ja);
	assert_non_null(jb);
	assert_keys(ja, "license,ops,requirements,tunables,exitInfo");
	assert_keys(get(ja, "ops"),
		    "map,type,name,flags,timeoutMs,dispatchMaxBatch,exitDumpLen,link");
	req = get(ja, "requirements");
	assert_keys(req, "minKernel,minKernelBecause,kfuncs,callbacks,opsFlags,timeoutMs,"
			 "sleepable,unknown,kernelBefore,kernelBeforeBecause");
	assert_keys(get(req, "kfuncs"), "required,optional,prototypes");
	assert_keys(get(ja, "exitInfo"), "uei");
	tun = get(ja, "tunables");
	assert_int_equal(json_object_array_length(tun), 9);
	assert_keys(json_object_array_get_idx(tun, 0), "name,type,kind,size,offset,default");

	assert_string_equal(json_object_get_string(get(ja, "license")), "GPL");
	assert_string_equal(json_object_get_string(get(get(ja, "ops"), "name")), "fifo");
	assert_int_equal(json_object_get_int64(get(get(ja, "ops"), "flags")), 10);
	assert_true(json_object_get_boolean(get(get(ja, "ops"), "link")));
	assert_string_equal(json_object_get_string(get(req, "minKernel")), "6.13");
	assert_string_equal(
	    json_object_to_json_string_ext(get(req, "callbacks"), JSON_C_TO_STRING_PLAIN),
	    "[\"dispatch\",\"enqueue\",\"exit\",\"init\"]");
	assert_null(get(req, "kernelBefore"));
	assert_int_equal(json_object_get_int64(get(req, "opsFlags")), 10);
	assert_int_equal(json_object_get_int64(get(req, "timeoutMs")), 5000);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(tun, 0), "name")),
			    "mode");
	assert_string_equal(
	    json_object_get_string(get(json_object_array_get_idx(tun, 0), "default")),
	    "FIFO_BOOST");
	assert_true(json_object_get_boolean(get(get(ja, "exitInfo"), "uei")));

	/* Same object, same bytes: the artifact config digest depends on it. */
	sa = strdup(json_object_to_json_string_ext(ja, JSON_C_TO_STRING_PLAIN));
	assert_non_null(sa);
	assert_string_equal(sa, json_object_to_json_string_ext(jb, JSON_C_TO_STRING_PLAIN));
	free(sa);

	json_object_put(ja);
	json_object_put(jb);
	sk_sched_info_free(a);
	sk_sched_info_free(b);
}

static void test_json_sorts_unsorted_info(void **state)
{
	struct sk_sched_info *info = analyze_ok("fifo", NULL);
	struct sk_tunable tmp;
	struct json_object *before, *after;
	char *s;
	char *t;

	(void)state;
	before = sk_sched_info_to_json(info);
	assert_non_null(before);
	s = strdup(json_object_to_json_string_ext(before, JSON_C_TO_STRING_PLAIN));
	assert_non_null(s);
	/* Reverse what analysis sorted: the JSON must not change. */
	t = info->ops->callbacks.v[0];
	info->ops->callbacks.v[0] = info->ops->callbacks.v[3];
	info->ops->callbacks.v[3] = t;
	tmp = info->tunables[0];
	info->tunables[0] = info->tunables[8];
	info->tunables[8] = tmp;
	after = sk_sched_info_to_json(info);
	assert_non_null(after);
	assert_string_equal(s, json_object_to_json_string_ext(after, JSON_C_TO_STRING_PLAIN));
	free(s);
	json_object_put(before);
	json_object_put(after);
	sk_sched_info_free(info);
}

/* ---- --set NAME=VALUE: strict values (issue 9, finding 10) ---- */

/* Validates one assignment against fifo's tunables; err holds the refusal. */
static int set_one(const char *assign, struct sk_error *err)
{
	const char *set[] = {assign, NULL};
	uint8_t *data;
	size_t len;
	int ret;

	memset(err, 0, sizeof(*err));
	load_obj("fifo", &data, &len);
	ret = sk_sched_validate_sets(data, len, set, err);
	free(data);
	return ret;
}

/* The refusal names the tunable, gives the reason and the accepted range. */
static void set_refused(const char *assign, const char *tunable, const char *reason,
			const char *range)
{
	struct sk_error err;
	char want[128];

	if (!set_one(assign, &err))
		fail_msg("--set %s was accepted", assign);
	snprintf(want, sizeof(want), "tunable '%s'", tunable);
	if (!strstr(err.msg, want) || !strstr(err.msg, reason) || !strstr(err.msg, range))
		fail_msg("--set %s: message lacks \"%s\", \"%s\" or \"%s\": %s", assign, want,
			 reason, range, err.msg);
}

static void set_accepted(const char *assign)
{
	struct sk_error err;

	if (set_one(assign, &err))
		fail_msg("--set %s refused: %s", assign, err.msg);
}

#define U64_RANGE "accepted: 0 to 18446744073709551615"
#define U32_RANGE "accepted: 0 to 4294967295"
#define S32_RANGE "accepted: -2147483648 to 2147483647"

static void test_set_strict_numbers(void **state)
{
	(void)state;
	/* " -1" wrapped to 2^64-1 through strtoull before the fix. */
	set_refused("slice_ns= -1", "slice_ns", "leading or trailing whitespace", U64_RANGE);
	set_refused("slice_ns=-1", "slice_ns", "unsigned and takes no sign", U64_RANGE);
	set_refused("slice_ns=18446744073709551616", "slice_ns", "out of range", U64_RANGE);
	set_refused("slice_ns=1 ", "slice_ns", "leading or trailing whitespace", U64_RANGE);
	set_refused("slice_ns=+5", "slice_ns", "'+' sign", U64_RANGE);
	set_refused("slice_ns=0x", "slice_ns", "'0x' needs hex digits", U64_RANGE);
	set_refused("slice_ns=010", "slice_ns", "leading zero", U64_RANGE);
	set_refused("slice_ns=1e6", "slice_ns", "not a decimal or 0x-prefixed hex number",
		    U64_RANGE);
	set_refused("slice_ns=", "slice_ns", "empty", U64_RANGE);
	set_refused("trace_dump_len=4294967296", "trace_dump_len", "out of range", U32_RANGE);
	set_refused("nice_bias=-2147483649", "nice_bias", "out of range", S32_RANGE);
	set_refused("nice_bias=2147483648", "nice_bias", "out of range", S32_RANGE);
	set_refused("nice_bias=+1", "nice_bias", "'+' sign", S32_RANGE);
	set_refused("nice_bias=-0x80000001", "nice_bias", "out of range", S32_RANGE);
	set_refused("small=256", "small", "out of range", "accepted: 0 to 255");
	set_refused("small=\t7", "small", "leading or trailing whitespace", "accepted: 0 to 255");

	set_accepted("slice_ns=18446744073709551615");
	set_accepted("slice_ns=0xFFFFFFFFFFFFFFFF");
	set_accepted("slice_ns=0");
	set_accepted("trace_dump_len=4294967295");
	set_accepted("nice_bias=-2147483648");
	set_accepted("nice_bias=-0x80000000");
	set_accepted("nice_bias=2147483647");
	set_accepted("small=255");
}

static void test_set_strict_bool_enum(void **state)
{
	struct sk_error err;

	(void)state;
	set_accepted("verbose=true");
	set_accepted("verbose=false");
	set_accepted("verbose=1");
	set_accepted("quiet=0");
	set_refused("verbose=yes", "verbose", "(bool)", "accepted: true, false, 1 or 0");
	set_refused("verbose=TRUE", "verbose", "(bool)", "accepted: true, false, 1 or 0");
	set_refused("verbose= true", "verbose", "(bool)", "accepted: true, false, 1 or 0");
	set_accepted("mode=FIFO_PLAIN");
	set_accepted("mode=2");
	set_refused("mode= FIFO_PLAIN", "mode", "enum fifo_mode", "enum's names");
	set_refused("mode=4294967296", "mode", "enum fifo_mode", "signed 32-bit number");
	set_accepted("tag=with spaces");
	assert_int_equal(set_one("tag=0123456789abcdef", &err), -E2BIG);
	assert_non_null(strstr(err.msg, "at most 15 fit"));
}

/* ---- sk_sched_check_object: what skrun checks before every load ---- */

static int check_obj(const char *name, const char *ops, const char *const *set,
		     struct sk_error *err)
{
	uint8_t *data;
	size_t len;
	int ret;

	memset(err, 0, sizeof(*err));
	load_obj(name, &data, &len);
	ret = sk_sched_check_object(data, len, ops, set, err);
	free(data);
	return ret;
}

/* The same verdicts and words as the full analysis, for what a load needs. */
static void test_check_object(void **state)
{
	const char *good[] = {"slice_ns=0x10", "verbose=false", "tag=x", NULL};
	const char *bad[] = {"slice_ns=1", "slice_ns=-1", NULL};
	const char *unknown[] = {"no_such=1", NULL};
	struct sk_error err;

	(void)state;
	assert_int_equal(check_obj("fifo", NULL, NULL, &err), 0);
	assert_int_equal(check_obj("fifo", NULL, good, &err), 0);
	assert_int_equal(check_obj("fifo", NULL, bad, &err), -ERANGE);
	assert_non_null(strstr(err.msg, "unsigned and takes no sign"));
	assert_int_equal(check_obj("fifo", NULL, unknown, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no tunable named 'no_such'"));
	assert_int_equal(check_obj("two_ops", NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "2 struct sched_ext_ops maps (a_ops, b_ops)"));
	assert_int_equal(check_obj("two_ops", "b_ops", NULL, &err), 0);
	assert_int_equal(check_obj("two_ops", "c_ops", NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "\"c_ops\""));
	assert_int_equal(check_obj("no_ops", NULL, NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no struct sched_ext_ops map"));
	assert_int_equal(check_obj("nongpl", NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not GPL-compatible"));
	assert_int_equal(check_obj("badname", NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, ".name"));
	assert_int_equal(sk_sched_check_object("not an ELF", 10, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not an ELF file"));
}

/* ---- sk_trim_resident ---- */

static long status_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return v;
}

/* Pointers in read-only data: relocated at start (RELRO), so private copies of file pages. */
static const char *const relro_table[] = {"alpha", "beta", "gamma"};

/*
 * Dropped mappings fault back in unchanged, and what was written (relocated
 * RELRO data, the heap) is never dropped: a wrong drop would reset the
 * table's pointers to their unrelocated file contents.
 */
static void test_trim_resident(void **state)
{
	const char *const *volatile tbl = relro_table;
	char *heap = malloc(1 << 20);
	long before, after;

	(void)state;
	assert_non_null(heap);
	memset(heap, 0x5a, 1 << 20);
	before = status_kb("RssFile:");
	assert_int_equal(sk_trim_resident(), 0);
	after = status_kb("RssFile:");
	assert_string_equal(tbl[0], "alpha");
	assert_string_equal(tbl[2], "gamma");
	for (size_t i = 0; i < 1 << 20; i += 4096)
		assert_int_equal((unsigned char)heap[i], 0x5a);
	/* This test links libbpf, libelf, libcrypto and libc: their clean pages go. */
	if (after >= before)
		fail_msg("RssFile %ld kB before, %ld kB after the trim", before, after);
	free(heap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_cmp),
	    cmocka_unit_test(test_release_table),
	    cmocka_unit_test(test_derive_in_memory),
	    cmocka_unit_test(test_fifo),
	    cmocka_unit_test(test_fifo_tunables),
	    cmocka_unit_test(test_weak_fallbacks),
	    cmocka_unit_test(test_kfuncs_unknown_now_flavours),
	    cmocka_unit_test(test_v2_strong),
	    cmocka_unit_test(test_flags_615),
	    cmocka_unit_test(test_newer_members),
	    cmocka_unit_test(test_two_ops),
	    cmocka_unit_test(test_no_ops),
	    cmocka_unit_test(test_nongpl),
	    cmocka_unit_test(test_bad_name),
	    cmocka_unit_test(test_not_an_object),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_json_sorts_unsorted_info),
	    cmocka_unit_test(test_set_strict_numbers),
	    cmocka_unit_test(test_set_strict_bool_enum),
	    cmocka_unit_test(test_check_object),
	    cmocka_unit_test(test_cid_ops),
	    cmocka_unit_test(test_ops_type_names),
	    cmocka_unit_test(test_trim_resident),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
