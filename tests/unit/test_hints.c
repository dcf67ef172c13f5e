/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier hints (lib/kernel/hints.c): which words of the kernel's and
 * libbpf's messages get which one-line hint, and what sk_verifier_explain
 * does with an error and $SKRUN_VERIFIER_LOG.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libgen.h>
#include <limits.h>

#include "schedkit/common.h"
#include "schedkit/verifier.h"

/* $(BUILD)/tests/bpf/NAME.bpf.o, built with this test from tests/unit/bpf/. */
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

static void expect_hint(const char *log, const char *words)
{
	const char *h = sk_verifier_hint(log);

	if (!h)
		fail_msg("no hint for: %s", log);
	if (!strstr(h, words))
		fail_msg("hint for '%s' is '%s', expected it to mention '%s'", log, h, words);
}

static void test_hint_table(void **state)
{
	(void)state;
	/* the three the issue names */
	expect_hint("infinite loop detected at insn 12\n", "bpf_for");
	expect_hint("back-edge from insn 20 to 11\n", "bpf_for");
	expect_hint("BPF program is too large. Processed 1000001 insn\n", "bpf_for");
	expect_hint("The sequence of 8193 jumps is too complex.\n", "bpf_for");
	expect_hint(
	    "libbpf: extern (func ksym) 'scx_bpf_nope': not found in kernel or module BTFs\n",
	    "bpf_ksym_exists");
	expect_hint("calling kernel function scx_bpf_kick_cpu is not allowed\n", "__weak __ksym");
	expect_hint("extern function 'scx_bpf_x' is declared without __ksym, so ...\n",
		    "extern ... __ksym");
	expect_hint("libbpf: failed to find BTF for extern 'foo' [12] section: -2\n", "__ksym");
	/* broken.bpf.c's: an index the verifier cannot bound */
	expect_hint("R1 unbounded memory access, make sure to bounds check any such access\n",
		    "i % N");
	expect_hint("invalid access to map value, value_size=32 off=8 size=8\n", "array's size");
	expect_hint("R2 invalid mem access 'map_value_or_null'\n", "NULL");
	expect_hint("R1 invalid mem access 'scalar'\n", "BPF_CORE_READ");
	expect_hint("cannot call GPL-restricted function from non-GPL compatible program\n", "GPL");
	/* nothing known: no hint rather than a wrong one */
	assert_null(sk_verifier_hint("processed 12 insns (limit 1000000) max_states_per_insn 0\n"));
	assert_null(sk_verifier_hint(""));
	assert_null(sk_verifier_hint(NULL));
}

static void test_explain(void **state)
{
	char path[] = "/tmp/sk-hints-XXXXXX", buf[256] = "";
	struct sk_error err = {0};
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	setenv(SK_VERIFIER_LOG_ENV, path, 1);
	sk_errf(&err, -13, "the kernel rejected scheduler 'x' at load");
	sk_verifier_explain("0: (b7) r0 = 0\ninfinite loop detected at insn 1\n", &err);
	assert_int_equal(err.code, -13);
	assert_non_null(strstr(err.msg, "at load\nhint: an unbounded loop"));
	/* the whole log, not a tail */
	f = fopen(path, "r");
	assert_non_null(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	assert_string_equal(buf, "0: (b7) r0 = 0\ninfinite loop detected at insn 1\n");
	/* no match: the message is left alone */
	memset(&err, 0, sizeof(err));
	sk_errf(&err, -13, "plain");
	sk_verifier_explain("something else\n", &err);
	assert_string_equal(err.msg, "plain");
	unsetenv(SK_VERIFIER_LOG_ENV);
	unlink(path);
}

/* A kfunc declared without __ksym: libbpf will not open the object; say which and why. */
static void test_missing_ksym(void **state)
{
	struct sk_verifier_report r;
	struct sk_error err = {0};
	uint8_t *obj;
	size_t len;

	(void)state;
	load_obj("noksym", &obj, &len);
	sk_errf(&err, -2, "libbpf cannot open the BPF object");
	sk_verifier_explain_object(obj, len, &err);
	assert_non_null(
	    strstr(err.msg, "extern function 'scx_bpf_kick_cpu' is declared without __ksym"));
	assert_non_null(strstr(err.msg, "\nhint: a kfunc declared without __ksym"));
	/* the load-only check reports it as a refusal with the same words */
	assert_int_equal(sk_verifier_load(obj, len, NULL, &r, &err), 0);
	assert_false(r.loaded);
	assert_non_null(strstr(r.log, "'scx_bpf_kick_cpu' is declared without __ksym"));
	assert_non_null(strstr(r.hint, "without __ksym"));
	sk_verifier_report_free(&r);
	free(obj);

	/* an object whose externs are fine: nothing added */
	load_obj("fifo", &obj, &len);
	memset(&err, 0, sizeof(err));
	sk_errf(&err, -2, "other");
	sk_verifier_explain_object(obj, len, &err);
	assert_string_equal(err.msg, "other");
	free(obj);
}

/*
 * kfuncs.bpf.c calls strong kfuncs no kernel has (scx_bpf_frobnicate) and a
 * weak one (scx_bpf_wibble): libbpf refuses it before the kernel logs
 * anything, and the report names a strong one, never the weak one.
 */
static void test_missing_kfunc(void **state)
{
	struct sk_verifier_report r;
	struct sk_error err = {0};
	uint8_t *obj;
	size_t len;

	(void)state;
	load_obj("kfuncs", &obj, &len);
	assert_int_equal(sk_verifier_load(obj, len, NULL, &r, &err), 0);
	assert_false(r.loaded);
	assert_non_null(r.log);
	assert_non_null(strstr(r.log, "is not in this kernel's BTF"));
	assert_null(strstr(r.log, "scx_bpf_wibble"));
	assert_non_null(strstr(r.hint, "bpf_ksym_exists"));
	sk_verifier_report_free(&r);
	free(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hint_table),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_missing_ksym),
	    cmocka_unit_test(test_missing_kfunc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
