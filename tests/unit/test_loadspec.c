/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load-time declarations: host facts read from a fake sysfs tree, the kernel
 * config found under a fake root, the build-time typing of declarations
 * against tests/unit/bpf/loadspec.bpf.c, and what applying them writes into
 * the opened object (nothing is loaded: the build machine has no sched_ext).
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
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>
#include <zlib.h>

#include "kernel/loadspec.h"
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

static const char *kernel_btf(void)
{
	static char path[PATH_MAX];
	const char *cache = getenv("SCHEDKIT_KERNEL_CACHE");

	snprintf(path, sizeof(path), "%s/vmlinux", cache ? cache : "/var/cache/schedkit/kernel");
	if (access(path, R_OK))
		fail_msg("the test kernel's BTF %s is missing: run make kernel", path);
	return path;
}

/* Writes root/rel (directories made as needed). */
static void put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

#define CPU "sys/devices/system/cpu/"

/*
 * 4 CPUs, 2 SMT siblings per core (0+2, 1+3), two NUMA nodes, big (0, 1)
 * and little (2, 3) capacities, an L2 per core with an id file and an L3
 * per node without one (so its first CPU names it).
 */
static void fake_host(char *root, size_t sz)
{
	static const char *const sib[] = {"0,2", "1,3", "0,2", "1,3"};
	static const char *const cap[] = {"1024", "1024", "512", "512"};
	static const char *const l3[] = {"0-1", "0-1", "2-3", "2-3"};

	snprintf(root, sz, "/tmp/test_loadspec.XXXXXX");
	assert_non_null(mkdtemp(root));
	put(root, CPU "possible", "0-3\n");
	put(root, CPU "online", "0-3\n");
	put(root, CPU "smt/active", "1\n");
	for (int c = 0; c < 4; c++) {
		char rel[256], v[16];

		snprintf(rel, sizeof(rel), CPU "cpu%d/topology/thread_siblings_list", c);
		put(root, rel, sib[c]);
		snprintf(rel, sizeof(rel), CPU "cpu%d/topology/core_id", c);
		snprintf(v, sizeof(v), "%d\n", c % 2);
		put(root, rel, v);
		snprintf(rel, sizeof(rel), CPU "cpu%d/topology/physical_package_id", c);
		put(root, rel, "0\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cpu_capacity", c);
		put(root, rel, cap[c]);
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index0/level", c);
		put(root, rel, "1\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index0/type", c);
		put(root, rel, "Data\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index1/level", c);
		put(root, rel, "1\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index1/type", c);
		put(root, rel, "Instruction\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index2/level", c);
		put(root, rel, "2\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index2/type", c);
		put(root, rel, "Unified\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index2/id", c);
		snprintf(v, sizeof(v), "%d\n", 10 + c % 2);
		put(root, rel, v);
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index3/level", c);
		put(root, rel, "3\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index3/type", c);
		put(root, rel, "Unified\n");
		snprintf(rel, sizeof(rel), CPU "cpu%d/cache/index3/shared_cpu_list", c);
		put(root, rel, l3[c]);
	}
	put(root, "sys/devices/system/node/node0/cpulist", "0-1\n");
	put(root, "sys/devices/system/node/node1/cpulist", "2-3\n");
	/* a memory-only node: not counted */
	put(root, "sys/devices/system/node/node2/cpulist", "\n");
}

static int64_t fact(const struct sk_hostfacts *f, const char *name, uint32_t cpu)
{
	struct sk_error err = {0};
	int64_t v = -12345;

	if (sk_fact_value(f, name, cpu, &v, &err))
		fail_msg("fact %s (cpu %u): %s", name, cpu, err.msg);
	return v;
}

/* ---- host facts ---- */

static void test_hostfacts_sysfs(void **state)
{
	struct sk_hostfacts f;
	struct sk_error err = {0};
	char root[64];

	(void)state;
	fake_host(root, sizeof(root));
	if (sk_hostfacts_read(root, &f, &err))
		fail_msg("reading the fake host: %s", err.msg);
	assert_int_equal(fact(&f, "nr_cpu_ids", 0), 4);
	assert_int_equal(fact(&f, "nr_online_cpus", 0), 4);
	assert_int_equal(fact(&f, "nr_cpu_pairs", 0), 2);
	assert_int_equal(fact(&f, "smt_enabled", 0), 1);
	assert_int_equal(fact(&f, "nr_nodes", 0), 2);
	assert_int_equal(fact(&f, "nr_node_ids", 0), 2);
	assert_int_equal(fact(&f, "numa", 0), 1);
	assert_int_equal(fact(&f, "nr_llcs", 0), 2);
	assert_int_equal(fact(&f, "cpu_capacity", 2), 512);
	assert_int_equal(fact(&f, "cpu_node", 1), 0);
	assert_int_equal(fact(&f, "cpu_node", 3), 1);
	assert_int_equal(fact(&f, "cpu_core_id", 3), 1);
	assert_int_equal(fact(&f, "cpu_l2_id", 1), 11);
	/* no id file: the first CPU sharing it names the cache */
	assert_int_equal(fact(&f, "cpu_l3_id", 3), 2);
	assert_int_equal(fact(&f, "cpu_llc_id", 1), 0);
	assert_int_equal(fact(&f, "cpu_smt_sibling", 0), 2);
	assert_int_equal(fact(&f, "cpu_smt_sibling", 3), 1);
	/* highest capacity first, ties by CPU number */
	assert_int_equal(fact(&f, "cpus_by_capacity", 0), 0);
	assert_int_equal(fact(&f, "cpus_by_capacity", 1), 1);
	assert_int_equal(fact(&f, "cpus_by_capacity", 2), 2);
	assert_int_equal(fact(&f, "cpu_pair_partner", 0), 2);
	assert_int_equal(fact(&f, "cpu_pair_partner", 3), 1);
	assert_int_equal(fact(&f, "cpu_pair_id", 3), 1);
	assert_int_equal(fact(&f, "cpu_pair_index", 1), 0);
	assert_int_equal(fact(&f, "cpu_pair_index", 2), 1);
	assert_int_equal(sk_fact_kind("cpu_capacity"), SK_FACT_PER_CPU);
	assert_int_equal(sk_fact_kind("numa"), SK_FACT_BOOL);
	assert_int_equal(sk_fact_kind("nr_cpu_ids"), SK_FACT_INT);
	assert_int_equal(sk_fact_kind("nr_cpus"), SK_FACT_NONE);
	{
		int64_t v;

		assert_int_equal(sk_fact_value(&f, "cpu_capacity", 4, &v, &err), -ERANGE);
		assert_non_null(strstr(err.msg, "CPU 4 is not possible"));
		assert_int_equal(sk_fact_value(&f, "nr_cpus", 0, &v, &err), -ENOENT);
		assert_non_null(strstr(err.msg, "'nr_cpus' is not a host fact (known: nr_cpu_ids"));
	}
	sk_hostfacts_free(&f);
	/* SMT switched off at run time: the kernel's smt/active says so */
	put(root, CPU "smt/active", "0\n");
	if (sk_hostfacts_read(root, &f, &err))
		fail_msg("reading the fake host: %s", err.msg);
	assert_int_equal(fact(&f, "smt_enabled", 0), 0);
	sk_hostfacts_free(&f);
	rm_rf(root);
}

static void test_hostfacts_odd_and_bad(void **state)
{
	struct sk_hostfacts f;
	struct sk_error err = {0};
	char root[64];
	int64_t v;

	(void)state;
	/* 3 possible CPUs, CPU 1 offline, no NUMA, topology or capacities: defaults */
	assert_non_null(mkdtemp(strcpy(root, "/tmp/test_loadspec.XXXXXX")));
	put(root, CPU "possible", "0-2\n");
	put(root, CPU "online", "0,2\n");
	if (sk_hostfacts_read(root, &f, &err))
		fail_msg("reading the fake host: %s", err.msg);
	assert_int_equal(fact(&f, "nr_cpu_ids", 0), 3);
	assert_int_equal(fact(&f, "nr_online_cpus", 0), 2);
	assert_int_equal(fact(&f, "cpu_online", 1), 0);
	assert_int_equal(fact(&f, "nr_nodes", 0), 1);
	assert_int_equal(fact(&f, "numa", 0), 0);
	assert_int_equal(fact(&f, "smt_enabled", 0), 0);
	assert_int_equal(fact(&f, "cpu_capacity", 1), 1024);
	assert_int_equal(fact(&f, "cpu_llc_id", 0), -1);
	assert_int_equal(fact(&f, "cpu_smt_sibling", 0), -1);
	/* offline CPUs rank last */
	assert_int_equal(fact(&f, "cpus_by_capacity", 2), 1);
	assert_int_equal(sk_fact_value(&f, "cpu_pair_partner", 0, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "needs an even number of possible CPUs; this host has 3"));
	sk_hostfacts_free(&f);
	put(root, CPU "possible", "0-x\n");
	assert_int_equal(sk_hostfacts_read(root, &f, &err), -EINVAL);
	assert_non_null(
	    strstr(err.msg, "/sys/devices/system/cpu/possible: '0-x' is not a CPU list"));
	rm_rf(root);
	/* no sysfs at all: the file is named */
	assert_int_equal(sk_hostfacts_read("/nonexistent-root", &f, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent-root/sys/devices/system/cpu/possible"));
}

/* ---- kernel config ---- */

static void test_kconfig_sources(void **state)
{
	struct utsname u;
	struct sk_error err = {0};
	char root[64], path[PATH_MAX], from[512], rel[PATH_MAX];
	char *cfg = NULL;
	gzFile g;

	(void)state;
	assert_int_equal(uname(&u), 0);
	assert_non_null(mkdtemp(strcpy(root, "/tmp/test_loadspec.XXXXXX")));
	assert_int_equal(sk_kconfig_read(root, &cfg, from, sizeof(from), &err), -ENOENT);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, "/boot/config-"));
	assert_non_null(strstr(err.msg, "/proc/config.gz"));
	assert_non_null(strstr(err.msg, "CONFIG_IKCONFIG_PROC"));
	/* /proc/config.gz, gzip-compressed like the kernel's */
	put(root, "proc/.keep", "");
	snprintf(path, sizeof(path), "%s/proc/config.gz", root);
	g = gzopen(path, "wb");
	assert_non_null(g);
	gzputs(g, "CONFIG_FROM_PROC=y\nCONFIG_NR_CPUS=64\n");
	gzclose(g);
	if (sk_kconfig_read(root, &cfg, from, sizeof(from), &err))
		fail_msg("config.gz: %s", err.msg);
	assert_string_equal(cfg, "CONFIG_FROM_PROC=y\nCONFIG_NR_CPUS=64\n");
	assert_string_equal(from, path);
	free(cfg);
	/* /lib/modules/RELEASE/config (Debian's 7.x) before /proc */
	snprintf(rel, sizeof(rel), "lib/modules/%s/config", u.release);
	put(root, rel, "CONFIG_FROM_MODULES=y\n");
	assert_int_equal(sk_kconfig_read(root, &cfg, from, sizeof(from), &err), 0);
	assert_string_equal(cfg, "CONFIG_FROM_MODULES=y\n");
	free(cfg);
	/* /boot/config-RELEASE first */
	snprintf(rel, sizeof(rel), "boot/config-%s", u.release);
	put(root, rel, "CONFIG_FROM_BOOT=y\n");
	assert_int_equal(sk_kconfig_read(root, &cfg, from, sizeof(from), &err), 0);
	assert_string_equal(cfg, "CONFIG_FROM_BOOT=y\n");
	free(cfg);
	rm_rf(root);
}

static void test_kconfig_externs(void **state)
{
	struct sk_strv strong = {0}, weak = {0};
	struct sk_error err = {0};
	uint8_t *data;
	size_t len;

	(void)state;
	load_obj("loadspec", &data, &len);
	assert_int_equal(sk_kconfig_externs(data, len, &strong, &weak, &err), 0);
	assert_int_equal(strong.n, 1);
	assert_string_equal(strong.v[0], "CONFIG_NR_CPUS");
	sk_strv_sort_uniq(&weak);
	assert_int_equal(weak.n, 2);
	assert_string_equal(weak.v[0], "CONFIG_CC_VERSION_TEXT=\"\"");
	assert_string_equal(weak.v[1], "CONFIG_PREEMPT_RCU=n");
	sk_strv_free(&strong);
	sk_strv_free(&weak);
	free(data);
}

/* ---- typing at build time ---- */

static int validate(const char *json, struct sk_error *err)
{
	struct json_object *load = json_tokener_parse(json), *out = NULL;
	uint8_t *data;
	size_t len;
	int ret;

	if (!load)
		fail_msg("test JSON does not parse: %s", json);
	memset(err, 0, sizeof(*err));
	load_obj("loadspec", &data, &len);
	ret = sk_loadspec_validate(data, len, NULL, load, kernel_btf(), &out, err);
	if (!ret) {
		/* recorded as declared */
		assert_non_null(out);
		assert_true(json_object_equal(load, out));
	}
	json_object_put(out);
	json_object_put(load);
	free(data);
	return ret;
}

static void refused(const char *json, const char *why)
{
	struct sk_error err;

	if (!validate(json, &err))
		fail_msg("accepted: %s", json);
	if (!strstr(err.msg, why))
		fail_msg("refusal of %s lacks \"%s\": %s", json, why, err.msg);
}

static const char *const good_decl =
    "{\"rodata\": {\"nr_cpus\": \"nr_cpu_ids\", \"smt_on\": \"smt_enabled\","
    " \"capacity\": \"cpu_capacity\", \"partner\": \"cpu_pair_partner\"},"
    " \"data\": {\"nr_seen\": \"nr_online_cpus\", \"dnode\": \"cpu_node\"},"
    " \"maps\": {\"pairs\": {\"maxEntries\": \"nr_cpu_pairs\"},"
    "          \"queues\": {\"maxEntries\": 2, \"innerMaps\": \"create\"}},"
    " \"syscalls\": [{\"program\": \"set_cpu\", \"for\": \"siblingPair\","
    "                 \"args\": {\"cpu_id\": \"cpu\", \"sibling_id\": \"sibling\","
    "                          \"weight\": \"cpu_capacity\"}},"
    "              {\"program\": \"no_arg\"}],"
    " \"ops\": {\"timeout_ms\": 5000, \"dispatch_max_batch\": \"nr_cpu_ids\","
    "          \"flags\": [\"SCX_OPS_ENQ_LAST\","
    "                    {\"flag\": \"SCX_OPS_BUILTIN_IDLE_PER_NODE\", \"when\": \"numa\"},"
    "                    {\"flag\": \"SCX_OPS_FROM_THE_FUTURE\", \"optional\": true}]}}";

static void test_validate_accepts(void **state)
{
	struct sk_error err;

	(void)state;
	if (validate(good_decl, &err))
		fail_msg("refused: %s", err.msg);
	/* a cache-level pair run, a constant field, as scx_flash's L2/L3 domains take */
	if (validate(
		"{\"syscalls\": [{\"program\": \"set_cpu\", \"for\": \"l3Pair\", "
		"\"args\": {\"cpu_id\": \"cpu\", \"sibling_id\": \"sibling\", \"weight\": 1}}]}",
		&err))
		fail_msg("refused: %s", err.msg);
	if (validate("{\"needsUserSpace\": \"its power manager\"}", &err))
		fail_msg("refused: %s", err.msg);
	if (validate("{\"rodata\": {\"nr_cpus\": {\"kernelEnum\": \"SCX_SLICE_DFL\"}}}", &err))
		fail_msg("refused: %s", err.msg);
}

static void test_validate_refusals(void **state)
{
	(void)state;
	refused("{\"rodta\": {}}", "load: unknown key \"rodta\" (allowed: \"needsUserSpace\"");
	refused("{\"rodata\": {\"nope\": \"nr_cpu_ids\"}}",
		"load.rodata.nope: the object has no const volatile variable 'nope'");
	refused("{\"rodata\": {\"nr_cpus\": \"cpu_capacity\"}}",
		"host fact 'cpu_capacity' has one value per CPU");
	refused("{\"rodata\": {\"capacity\": \"nr_cpu_ids\"}}",
		"host fact 'nr_cpu_ids' is one value for the host");
	refused("{\"rodata\": {\"capacity\": 7}}", "not a constant");
	refused("{\"rodata\": {\"smt_on\": \"nr_nodes\"}}", "'smt_on' is a bool");
	refused("{\"rodata\": {\"nr_cpus\": \"nr_cpu\"}}",
		"'nr_cpu' is not a host fact (known: nr_cpu_ids");
	refused("{\"rodata\": {\"nr_cpus\": \"1 + 1\"}}", "is not a host fact");
	refused("{\"rodata\": {\"nr_cpus\": [1]}}", "a value is an integer, true/false");
	refused("{\"rodata\": {\"nr_cpus\": \"sibling\"}}", "\"sibling\" is only defined");
	refused("{\"data\": {\"nr_cpus\": 1}}",
		"load.data.nr_cpus: the object has no global variable 'nr_cpus' in .data or .bss "
		"(a const volatile one goes under \"rodata\")");
	refused("{\"rodata\": {\"nr_seen\": 1}}", "no const volatile variable 'nr_seen'");
	refused("{\"data\": {\"uei\": 1}}", "'uei' is skrun's own");
	refused("{\"maps\": {\"nope\": {\"maxEntries\": 4}}}", "the object has no map 'nope'");
	refused("{\"maps\": {\"pairs\": {\"maxEntries\": 0}}}", "give 1 to 4294967295");
	refused("{\"maps\": {\"pairs\": {\"maxEntries\": \"numa\"}}}", "is a condition");
	refused("{\"maps\": {\"pairs\": {\"size\": 4}}}", "unknown key \"size\"");
	refused("{\"maps\": {\"pairs\": {\"innerMaps\": \"create\"}}}",
		"map 'pairs' is not a BPF_MAP_TYPE_ARRAY_OF_MAPS");
	refused("{\"syscalls\": [{\"program\": \"nope\"}]}",
		"load.syscalls[0]: the object has no program 'nope'");
	refused("{\"syscalls\": [{\"program\": \"ls_enqueue\"}]}",
		"not SEC(\"syscall\"): only syscall programs");
	refused("{\"syscalls\": [{\"program\": \"set_cpu\", \"for\": \"node\"}]}",
		"\"for\" is \"once\", \"cpu\"");
	refused("{\"syscalls\": [{\"program\": \"no_arg\", \"args\": {\"cpu_id\": \"cpu\"}}]}",
		"program 'no_arg' takes no pointer to a struct");
	refused(
	    "{\"syscalls\": [{\"program\": \"set_cpu\", \"for\": \"cpu\", \"args\": {\"cpu\": "
	    "\"cpu\"}}]}",
	    "struct cpu_arg (the argument of 'set_cpu') has no field 'cpu'; its fields: cpu_id, "
	    "sibling_id, weight");
	refused("{\"syscalls\": [{\"program\": \"set_cpu\", \"for\": \"cpu\", \"args\": "
		"{\"sibling_id\": \"sibling\"}}]}",
		"\"sibling\" is only defined in a syscall run \"for\": \"siblingPair\"");
	refused("{\"syscalls\": [{\"program\": \"set_cpu\", \"args\": {\"cpu_id\": \"cpu\"}}]}",
		"host fact 'cpu' has one value per CPU");
	refused("{\"ops\": {\"slice\": 5}}", "load.ops: unknown key \"slice\"");
	refused("{\"ops\": {\"timeout_ms\": 40000}}", "the kernel takes 0 to 30000");
	refused("{\"ops\": {\"flags\": [\"ENQ_LAST\"]}}",
		"a flag is named by its kernel enumerator");
	refused(
	    "{\"ops\": {\"flags\": [{\"flag\": \"SCX_OPS_ENQ_LAST\", \"when\": \"nr_nodes\"}]}}",
	    "a condition is a boolean host fact");
	refused("{\"ops\": {\"flags\": [\"SCX_OPS_FROM_THE_FUTURE\"]}}",
		"SCX_OPS_FROM_THE_FUTURE is not an enumerator of the kernel BTF this build uses");
	refused(
	    "{\"rodata\": {\"nr_cpus\": {\"kernelEnum\": \"SCX_SLICE_DEFAULT\"}}}",
	    "load: {\"kernelEnum\": \"SCX_SLICE_DEFAULT\"}: no such enumerator in the kernel BTF "
	    "this build uses");
	refused("{\"needsUserSpace\": \"\"}", "load.needsUserSpace: a sentence naming");
	refused("[]", "load: an object is expected");
}

/* ---- applying, on the opened object ---- */

static void test_apply_before_load(void **state)
{
	struct json_object *load = json_tokener_parse(good_decl);
	struct sk_loadspec_state *st = NULL;
	struct sk_error err = {0};
	struct bpf_object *obj;
	struct bpf_map *ops, *m;
	char root[64];
	uint8_t *data;
	size_t len, size;
	const uint8_t *ro;
	uint64_t cap;
	int32_t partner[4];
	uint32_t nr;
	bool smt;

	(void)state;
	fake_host(root, sizeof(root));
	load_obj("loadspec", &data, &len);
	obj = bpf_object__open_mem(data, len, NULL);
	assert_non_null(obj);
	ops = sk_select_ops_map(obj, NULL, &err);
	assert_non_null(ops);
	assert_int_equal(sk_loadspec_check(obj, ops, load, &err), 0);
	if (sk_loadspec_before_load(obj, ops, load, root, kernel_btf(), &st, &err))
		fail_msg("applying: %s", err.msg);
	/* .rodata: scalars, and the per-CPU array for the 4 fake CPUs */
	m = bpf_object__find_map_by_name(obj, ".rodata");
	assert_non_null(m);
	ro = bpf_map__initial_value(m, &size);
	assert_non_null(ro);
	{
		struct btf *btf = bpf_object__btf(obj);
		int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
		const struct btf_type *d = btf__type_by_id(btf, id);
		const struct btf_var_secinfo *vs = btf_var_secinfos(d);

		for (int i = 0; i < btf_vlen(d); i++, vs++) {
			const char *n =
			    btf__name_by_offset(btf, btf__type_by_id(btf, vs->type)->name_off);

			if (!strcmp(n, "nr_cpus")) {
				memcpy(&nr, ro + vs->offset, 4);
				assert_int_equal(nr, 4);
			} else if (!strcmp(n, "smt_on")) {
				memcpy(&smt, ro + vs->offset, 1);
				assert_true(smt);
			} else if (!strcmp(n, "capacity")) {
				memcpy(&cap, ro + vs->offset + 2 * 8, 8);
				assert_int_equal(cap, 512);
				memcpy(&cap, ro + vs->offset + 4 * 8, 8);
				assert_int_equal(cap, 0); /* beyond the host's CPUs: untouched */
			}
		}
	}
	/* RESIZABLE_ARRAY: its own section grown to one entry per CPU */
	m = bpf_object__find_map_by_name(obj, ".rodata.partner");
	assert_non_null(m);
	assert_int_equal(bpf_map__value_size(m), 4 * sizeof(int32_t));
	ro = bpf_map__initial_value(m, &size);
	assert_int_equal(size, sizeof(partner));
	memcpy(partner, ro, sizeof(partner));
	assert_int_equal(partner[0], 2);
	assert_int_equal(partner[1], 3);
	assert_int_equal(partner[2], 0);
	assert_int_equal(partner[3], 1);
	/* .bss, and .data.dnode grown to one entry per CPU, NUMA node of each */
	{
		uint64_t node[4];

		m = bpf_object__find_map_by_name(obj, ".bss");
		assert_non_null(m);
		ro = bpf_map__initial_value(m, &size);
		assert_true(size >= 4);
		memcpy(&nr, ro, 4);
		assert_int_equal(nr, 4);
		m = bpf_object__find_map_by_name(obj, ".data.dnode");
		assert_non_null(m);
		ro = bpf_map__initial_value(m, &size);
		assert_int_equal(size, sizeof(node));
		memcpy(node, ro, sizeof(node));
		assert_int_equal(node[0], 0);
		assert_int_equal(node[1], 0);
		assert_int_equal(node[2], 1);
		assert_int_equal(node[3], 1);
	}
	/* maps sized from facts */
	assert_int_equal(bpf_map__max_entries(bpf_object__find_map_by_name(obj, "pairs")), 2);
	assert_int_equal(bpf_map__max_entries(bpf_object__find_map_by_name(obj, "queues")), 2);
	/* ops fields and flags from the kernel's enums (numa: the fake host has 2 nodes) */
	{
		struct btf *btf = bpf_object__btf(obj);
		const struct btf_type *t = btf__type_by_id(btf, bpf_map__btf_value_type_id(ops));
		const struct btf_member *mb = btf_members(t);
		const uint8_t *v = bpf_map__initial_value(ops, &size);
		uint64_t flags = 0;
		uint32_t timeout = 0, batch = 0;

		for (int i = 0; i < btf_vlen(t); i++, mb++) {
			const char *n = btf__name_by_offset(btf, mb->name_off);
			uint32_t off = btf_member_bit_offset(t, i) / 8;

			if (!strcmp(n, "flags"))
				memcpy(&flags, v + off, 8);
			else if (!strcmp(n, "timeout_ms"))
				memcpy(&timeout, v + off, 4);
			else if (!strcmp(n, "dispatch_max_batch"))
				memcpy(&batch, v + off, 4);
		}
		/* SCX_OPS_ENQ_LAST 2, SCX_OPS_BUILTIN_IDLE_PER_NODE 64 (the 7.2 kernel's BTF) */
		assert_int_equal(flags, 2 | 64);
		assert_int_equal(timeout, 5000);
		assert_int_equal(batch, 4);
	}
	sk_loadspec_free(st);
	bpf_object__close(obj);
	free(data);
	json_object_put(load);
	rm_rf(root);
}

/* What skrun does when the config says the scheduler needs its user-space half. */
static void test_needs_user_space(void **state)
{
	struct json_object *load =
	    json_tokener_parse("{\"needsUserSpace\": \"its power manager\"}");
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_loadspec_refuse_user_space(NULL, "x", &err), 0);
	assert_int_equal(sk_loadspec_refuse_user_space(load, "lavd", &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "scheduler 'lavd' needs its own user-space half at run "
					"time: its power manager"));
	json_object_put(load);
}

/*
 * skrun's load checks the declarations again (a config comes from a
 * registry, not from skbuild), before the kernel sees anything: these
 * refusals happen on a host without sched_ext too. The kernel config comes
 * from a fake root, as the object has a strong __kconfig extern.
 */
static void sched_load_refused(const char *config, const char *root, int code, const char *why)
{
	struct json_object *c = json_tokener_parse(config);
	struct sk_load_opts lo = {.config = c, .host_root = root};
	struct sk_sched *s = NULL;
	struct sk_error err = {0};
	uint8_t *data;
	size_t len;

	assert_non_null(c);
	load_obj("loadspec", &data, &len);
	assert_int_equal(sk_sched_load(data, len, &lo, &s, &err), code);
	assert_null(s);
	if (!strstr(err.msg, why))
		fail_msg("sk_sched_load with %s: no \"%s\" in: %s", config, why, err.msg);
	free(data);
	json_object_put(c);
}

static void test_sched_load_revalidates(void **state)
{
	char root[64], path[PATH_MAX];
	gzFile g;

	(void)state;
	assert_non_null(mkdtemp(strcpy(root, "/tmp/test_loadspec.XXXXXX")));
	sched_load_refused(
	    "{\"name\": \"t\", \"load\": {\"needsUserSpace\": \"its power manager\"}}", root,
	    -EOPNOTSUPP,
	    "scheduler 't' needs its own user-space half at run time: its power "
	    "manager");
	/* no kernel config under root: the strong extern is named */
	sched_load_refused("{\"name\": \"t\"}", root, -ENOENT,
			   "the scheduler reads CONFIG_NR_CPUS from the kernel config (__kconfig, "
			   "not weak)");
	put(root, "proc/.keep", "");
	snprintf(path, sizeof(path), "%s/proc/config.gz", root);
	g = gzopen(path, "wb");
	assert_non_null(g);
	gzputs(g, "CONFIG_NR_CPUS=64\n");
	gzclose(g);
	sched_load_refused(
	    "{\"name\": \"t\", \"load\": {\"rodata\": {\"nope\": \"nr_cpu_ids\"}}}", root, -ENOENT,
	    "ops map 'ls_ops': the artifact's load declarations: load.rodata.nope: the "
	    "object has no const volatile variable 'nope'");
	sched_load_refused("{\"name\": \"t\", \"load\": {\"maps\": {\"pairs\": {\"maxEntries\": "
			   "\"cpu_capacity\"}}}}",
			   root, -EINVAL, "host fact 'cpu_capacity' has one value per CPU");
	rm_rf(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostfacts_sysfs),
	    cmocka_unit_test(test_hostfacts_odd_and_bad),
	    cmocka_unit_test(test_kconfig_sources),
	    cmocka_unit_test(test_kconfig_externs),
	    cmocka_unit_test(test_validate_accepts),
	    cmocka_unit_test(test_validate_refusals),
	    cmocka_unit_test(test_apply_before_load),
	    cmocka_unit_test(test_needs_user_space),
	    cmocka_unit_test(test_sched_load_revalidates),
	};

	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
