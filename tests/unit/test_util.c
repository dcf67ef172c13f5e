/* SPDX-License-Identifier: Apache-2.0 */
/* lib/util: atomic writes (what skrun's state.json and every blob rely on), strv, sk_run. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "schedkit/common.h"

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/sk-util-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* A reader racing a writer only ever sees a whole old or a whole new file. */
static void test_atomic_write_never_torn(void **state)
{
	char *dir = tmpdir(), *path = sk_path_join(dir, "state.json");
	static char a[65536], b[65536];
	pid_t pid;
	int status, torn = 0, reads = 0;

	(void)state;
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	assert_int_equal(sk_write_file_atomic(path, a, sizeof(a), 0644, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < 300; i++)
			if (sk_write_file_atomic(path, i % 2 ? a : b, sizeof(a), 0644, NULL))
				_exit(1);
		_exit(0);
	}
	for (;;) {
		uint8_t *data = NULL;
		size_t len = 0;
		pid_t done = waitpid(pid, &status, WNOHANG);

		if (sk_read_file(path, 1 << 20, &data, &len, NULL) == 0) {
			reads++;
			if (len != sizeof(a) || (memcmp(data, a, len) && memcmp(data, b, len)))
				torn++;
			free(data);
		}
		if (done == pid)
			break;
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(reads > 0);
	assert_int_equal(torn, 0);
	assert_int_equal(count_entries(dir), 1); /* no temporary files left */
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* A write that fails half way (file size limit) keeps the old content, leaves no temp. */
static void test_atomic_write_failure_keeps_old(void **state)
{
	char *dir = tmpdir(), *path = sk_path_join(dir, "state.json");
	struct rlimit old, small = {4096, 4096};
	struct sk_error err = {0};
	static char big[65536];
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(sk_write_file_atomic(path, "old", 3, 0644, NULL), 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	setrlimit(RLIMIT_FSIZE, &small);
	ret = sk_write_file_atomic(path, big, sizeof(big), 0644, &err);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_true(ret < 0);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(sk_read_file(path, 1024, &data, &len, NULL), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "old", 3);
	assert_int_equal(count_entries(dir), 1);
	free(data);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static void test_atomic_write_bad_dir(void **state)
{
	struct sk_error err = {0};

	(void)state;
	assert_true(sk_write_file_atomic("/nonexistent-dir/x", "x", 1, 0644, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent-dir/x"));
}

static void test_read_file_limit(void **state)
{
	char *dir = tmpdir(), *path = sk_path_join(dir, "f");
	struct sk_error err = {0};
	uint8_t *data = NULL;
	size_t len;

	(void)state;
	assert_int_equal(sk_write_file_atomic(path, "0123456789", 10, 0600, NULL), 0);
	assert_int_equal(sk_read_file(path, 5, &data, &len, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "larger than"));
	assert_int_equal(sk_read_file(path, 10, &data, &len, NULL), 0);
	assert_int_equal(len, 10);
	assert_int_equal(data[10], 0); /* NUL-terminated for text parsers */
	free(data);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static void test_mkdir_p(void **state)
{
	char *dir = tmpdir(), *deep = sk_path_join(dir, "a/b/c"), *file = sk_path_join(dir, "f");
	char *under = sk_path_join(dir, "f/x");
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_mkdir_p(deep, 0755, NULL), 0);
	assert_true(sk_is_dir(deep));
	assert_int_equal(sk_mkdir_p(deep, 0755, NULL), 0); /* idempotent */
	assert_int_equal(sk_write_file_atomic(file, "x", 1, 0644, NULL), 0);
	assert_true(sk_mkdir_p(under, 0755, &err) < 0);
	assert_non_null(strstr(err.msg, "not a directory"));
	assert_int_equal(sk_rm_rf(dir), 0);
	assert_false(sk_is_dir(dir));
	free(dir);
	free(deep);
	free(file);
	free(under);
}

static void test_strv(void **state)
{
	struct sk_strv s = {0};
	char *j;

	(void)state;
	sk_strv_push(&s, "b");
	sk_strv_push(&s, "a");
	sk_strv_push(&s, "b");
	sk_strv_push(&s, "c");
	sk_strv_sort_uniq(&s);
	assert_int_equal(s.n, 3);
	assert_null(s.v[3]);
	j = sk_strv_join(&s, ",");
	assert_string_equal(j, "a,b,c");
	assert_true(sk_strv_contains(&s, "c"));
	assert_false(sk_strv_contains(&s, "d"));
	free(j);
	sk_strv_free(&s);
	j = sk_strv_join(&s, ",");
	assert_string_equal(j, "");
	free(j);
}

static void test_run(void **state)
{
	char *ok[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	char *missing[] = {"/nonexistent/tool", NULL};
	struct sk_buf out = {0};
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_run(ok, &out, NULL), 3);
	assert_non_null(strstr((char *)out.data, "out"));
	assert_non_null(strstr((char *)out.data, "err"));
	sk_buf_free(&out);
	assert_true(sk_run(missing, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/tool"));
}

static void test_errors(void **state)
{
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_errf(&err, -ENOENT, "x %d", 1), -ENOENT);
	assert_int_equal(err.code, -ENOENT);
	sk_err_prefix(&err, "while %s: ", "testing");
	assert_string_equal(err.msg, "while testing: x 1");
	assert_int_equal(sk_errf(NULL, -EIO, "ignored"), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_atomic_write_never_torn),
	    cmocka_unit_test(test_atomic_write_failure_keeps_old),
	    cmocka_unit_test(test_atomic_write_bad_dir),
	    cmocka_unit_test(test_read_file_limit),
	    cmocka_unit_test(test_mkdir_p),
	    cmocka_unit_test(test_strv),
	    cmocka_unit_test(test_run),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
