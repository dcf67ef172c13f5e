/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host check compares a required kfunc's prototype, as the object
 * declares it, with the kernel's, the way libbpf links the extern
 * (bpf_core_types_are_compat): parameter count and kinds; integer sizes,
 * names, const and typedefs do not count; weak (optional) kfuncs are never
 * refused. Small synthetic BTF made with libbpf's btf__add_*: a "kernel"
 * written as raw BTF to a file, and an "object" with extern FUNCs.
 */
#include <errno.h>
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

struct fixture {
	char path[64]; /* the synthetic kernel's raw BTF */
};

/*
 * A kernel with sched_ext, and
 *   s32 scx_bpf_create_dsq(u64 dsq_id, s32 node, struct bpf_prog_aux *aux__prog)
 *   (7.1's parameter count; named *__prog, the caller passes it as NULL, so
 *   the kfunc stays callable without a scx_bpf_create_dsq_impl)
 *   void scx_bpf_kick_cpu(s32 cpu, u64 flags)
 *   s32 scx_bpf_task_cpu(const struct task_struct *p)   (s32 a typedef)
 *   bool bpf_cb(bool (*less)(struct node *a, const struct node *b))
 */
static int write_kernel(const char *path)
{
	struct btf *b = btf__new_empty();
	const void *raw;
	uint32_t size;
	int u64, s32, u8b, boolean, aux, task, node, cs32, ctask, ptask, paux, proto, sops;
	int pnode, cnode, pcnode, less, pless;
	FILE *f;
	int ret = -1;

	if (!b)
		return -1;
	u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	s32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	u8b = btf__add_int(b, "unsigned char", 1, 0);
	boolean = btf__add_int(b, "_Bool", 1, BTF_INT_BOOL);
	(void)u8b;
	aux = btf__add_struct(b, "bpf_prog_aux", 8);
	task = btf__add_struct(b, "task_struct", 8);
	node = btf__add_struct(b, "node", 8);
	sops = btf__add_struct(b, "sched_ext_ops", 8);
	btf__add_field(b, "enqueue", u64, 0, 0);
	btf__add_struct(b, "bpf_struct_ops_sched_ext_ops", 8);
	btf__add_field(b, "data", sops, 0, 0);
	cs32 = btf__add_typedef(b, "s32", s32);
	ctask = btf__add_const(b, task);
	ptask = btf__add_ptr(b, ctask);
	paux = btf__add_ptr(b, aux);

	proto = btf__add_func_proto(b, s32);
	btf__add_func_param(b, "dsq_id", u64);
	btf__add_func_param(b, "node", s32);
	btf__add_func_param(b, "aux__prog", paux);
	btf__add_func(b, "scx_bpf_create_dsq", BTF_FUNC_GLOBAL, proto);

	proto = btf__add_func_proto(b, 0);
	btf__add_func_param(b, "cpu", s32);
	btf__add_func_param(b, "flags", u64);
	btf__add_func(b, "scx_bpf_kick_cpu", BTF_FUNC_GLOBAL, proto);

	proto = btf__add_func_proto(b, cs32);
	btf__add_func_param(b, "p", ptask);
	btf__add_func(b, "scx_bpf_task_cpu", BTF_FUNC_GLOBAL, proto);

	pnode = btf__add_ptr(b, node);
	cnode = btf__add_const(b, node);
	pcnode = btf__add_ptr(b, cnode);
	less = btf__add_func_proto(b, boolean);
	btf__add_func_param(b, "a", pnode);
	btf__add_func_param(b, "b", pcnode);
	pless = btf__add_ptr(b, less);
	proto = btf__add_func_proto(b, boolean);
	btf__add_func_param(b, "less", pless);
	btf__add_func(b, "bpf_cb", BTF_FUNC_GLOBAL, proto);

	raw = btf__raw_data(b, &size);
	f = raw ? fopen(path, "wb") : NULL;
	if (f && fwrite(raw, 1, size, f) == size)
		ret = 0;
	if (f && fclose(f))
		ret = -1;
	btf__free(b);
	return ret;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int fd;

	if (!fx)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "/tmp/sk-kbtf-proto.XXXXXX");
	fd = mkstemp(fx->path);
	if (fd < 0 || close(fd) || write_kernel(fx->path)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	unlink(fx->path);
	free(fx);
	return 0;
}

static struct json_object *parse(const char *text)
{
	struct sk_error err = {0};
	struct json_object *o = NULL;

	if (sk_json_parse(text, strlen(text), "test config", &o, &err))
		fail_msg("bad test JSON: %s", err.msg);
	return o;
}

/* A config with one kfunc, required or optional, and its recorded prototype (or none). */
static struct sk_check_report *check_one(struct fixture *fx, const char *kfunc, bool optional,
					 const char *proto)
{
	char text[1024], protos[512] = "";
	struct sk_check_report *r = NULL;
	struct sk_error err = {0};
	struct json_object *cfg;

	if (proto)
		snprintf(protos, sizeof(protos), ", \"prototypes\": {\"%s\": \"%s\"}", kfunc,
			 proto);
	snprintf(text, sizeof(text),
		 "{\"requirements\": {\"minKernel\": \"6.12\", \"callbacks\": [], "
		 "\"kfuncs\": {\"required\": [%s%s%s], \"optional\": [%s%s%s]%s}}}",
		 optional ? "" : "\"", optional ? "" : kfunc, optional ? "" : "\"",
		 optional ? "\"" : "", optional ? kfunc : "", optional ? "\"" : "", protos);
	cfg = parse(text);
	if (sk_host_check(cfg, fx->path, "7.1.13", &r, &err))
		fail_msg("sk_host_check: %s", err.msg);
	json_object_put(cfg);
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

/* 7.2's two-argument scx_bpf_create_dsq against 7.1's three: refused, and the refusal says why. */
static void test_param_count_refused(void **state)
{
	struct sk_check_report *r = check_one(*state, "scx_bpf_create_dsq", false, "s32(u64, s32)");
	const struct sk_check_row *row = row_of(r, "scx_bpf_create_dsq");
	struct sk_error err = {0};

	assert_int_equal(row->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(row->host, "this kernel's takes 3 arguments, the scheduler calls "
					  "it with 2"));
	assert_non_null(strstr(row->host, "struct bpf_prog_aux *"));
	assert_false(sk_check_report_ok(r));
	assert_int_equal(sk_check_report_error(r, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "kfunc scx_bpf_create_dsq: this kernel's takes 3 "
					"arguments, the scheduler calls it with 2"));
	sk_check_report_free(r);
}

/* The same prototype as the kernel's: fine. */
static void test_same_proto_ok(void **state)
{
	struct sk_check_report *r =
	    check_one(*state, "scx_bpf_create_dsq", false, "s32(u64, s32, struct bpf_prog_aux *)");

	assert_int_equal(row_of(r, "scx_bpf_create_dsq")->verdict, SK_VERDICT_OK);
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
}

/* Integer sizes, const, typedefs and struct names do not count, as for libbpf. */
static void test_harmless_differences_ok(void **state)
{
	struct sk_check_report *r;

	/* kernel: s32 (typedef) (const struct task_struct *); object: u64(struct other *) */
	r = check_one(*state, "scx_bpf_task_cpu", false, "u64(struct other *)");
	assert_int_equal(row_of(r, "scx_bpf_task_cpu")->verdict, SK_VERDICT_OK);
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
	/* kernel: void(s32, u64); object: void(u64, s8) */
	r = check_one(*state, "scx_bpf_kick_cpu", false, "void(u64, s8)");
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
	/* a function-pointer parameter of the same shape */
	r = check_one(*state, "bpf_cb", false, "bool(bool(struct a *, struct b *) *)");
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
}

/* A pointer where the kernel takes an integer, a different return kind: refused. */
static void test_kind_differences_refused(void **state)
{
	struct sk_check_report *r;
	const struct sk_check_row *row;

	r = check_one(*state, "scx_bpf_task_cpu", false, "s32(u64)");
	row = row_of(r, "scx_bpf_task_cpu");
	assert_int_equal(row->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(row->host, "argument 1: this kernel's takes struct task_struct *, "
					  "the scheduler passes u64"));
	sk_check_report_free(r);

	r = check_one(*state, "scx_bpf_kick_cpu", false, "s32(s32, u64)");
	row = row_of(r, "scx_bpf_kick_cpu");
	assert_int_equal(row->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(row->host, "this kernel's returns void, the scheduler expects s32"));
	sk_check_report_free(r);

	/* the callback's own parameters differ */
	r = check_one(*state, "bpf_cb", false, "bool(bool(struct a *) *)");
	row = row_of(r, "bpf_cb");
	assert_int_equal(row->verdict, SK_VERDICT_MISSING);
	assert_non_null(strstr(row->host, "argument 1: "));
	sk_check_report_free(r);
}

/* __weak + bpf_ksym_exists(): libbpf resolves an incompatible weak kfunc to 0; no refusal. */
static void test_optional_never_refused(void **state)
{
	struct sk_check_report *r = check_one(*state, "scx_bpf_create_dsq", true, "s32(u64, s32)");

	assert_int_equal(row_of(r, "scx_bpf_create_dsq")->verdict, SK_VERDICT_OK);
	assert_true(sk_check_report_ok(r));
	sk_check_report_free(r);
}

/* A config made before prototypes were recorded is judged by name, as before. */
static void test_no_prototype_by_name(void **state)
{
	struct sk_check_report *r = check_one(*state, "scx_bpf_create_dsq", false, NULL);

	assert_int_equal(row_of(r, "scx_bpf_create_dsq")->verdict, SK_VERDICT_OK);
	sk_check_report_free(r);
}

/* The object side: what skbuild records from an extern FUNC's prototype. */
static void test_object_proto_rendered(void **state)
{
	struct btf *b = btf__new_empty();
	struct sk_strv protos = {0};
	int u64t, s32, ull, task, vtask, ptask, proto, fn, arr, parr;

	(void)state;
	assert_non_null(b);
	ull = btf__add_int(b, "unsigned long long", 8, 0);
	u64t = btf__add_typedef(b, "u64", ull);
	s32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	task = btf__add_fwd(b, "task_struct", BTF_FWD_STRUCT);
	vtask = btf__add_volatile(b, task);
	ptask = btf__add_ptr(b, vtask);
	arr = btf__add_array(b, s32, s32, 4);
	/* before the prototype: libbpf adds parameters to the last type added */
	parr = btf__add_ptr(b, arr);
	proto = btf__add_func_proto(b, s32);
	btf__add_func_param(b, "dsq_id", u64t);
	btf__add_func_param(b, "node", s32);
	fn = btf__add_func(b, "scx_bpf_create_dsq", BTF_FUNC_EXTERN, proto);
	assert_true(fn > 0);
	assert_int_equal(sk_req_kfunc_proto(b, (uint32_t)proto, "scx_bpf_create_dsq", &protos), 0);
	proto = btf__add_func_proto(b, 0);
	btf__add_func_param(b, "p", ptask);
	btf__add_func_param(b, "a", parr);
	assert_int_equal(sk_req_kfunc_proto(b, (uint32_t)proto, "x", &protos), 0);
	/* a second flavour of the same kfunc is not recorded twice */
	assert_int_equal(sk_req_kfunc_proto(b, (uint32_t)proto, "scx_bpf_create_dsq", &protos), 0);
	assert_int_equal(protos.n, 2);
	assert_string_equal(protos.v[0], "scx_bpf_create_dsq s32(u64, s32)");
	assert_string_equal(protos.v[1], "x void(fwd task_struct *, s32[4] *)");
	/* a fwd where the kernel has a struct is another kind for libbpf */
	assert_false(sk_req_proto_compat("void(fwd task_struct *)", "void(struct task_struct *)",
					 (char[256]){0}, 256));
	assert_true(sk_req_proto_compat("void(s32[4] *)", "void(u8[8] *)", (char[256]){0}, 256));
	sk_strv_free(&protos);
	btf__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_param_count_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_proto_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_harmless_differences_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kind_differences_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_optional_never_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_prototype_by_name, setup, teardown),
	    cmocka_unit_test(test_object_proto_rendered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
