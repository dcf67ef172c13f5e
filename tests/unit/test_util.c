/* SPDX-License-Identifier: Apache-2.0 */
/* lib/util: atomic writes (what skrun's state.json and every blob rely on), strv, sk_run. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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

/* A small file at dir/name, for the rm_rf tests. */
static void put(const char *dir, const char *name)
{
	char *p = sk_path_join(dir, name);
	FILE *f;

	assert_non_null(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("keep", f);
	assert_int_equal(fclose(f), 0);
	free(p);
}

static bool present(const char *dir, const char *name)
{
	char *p = sk_path_join(dir, name);
	bool yes = sk_is_file(p);

	free(p);
	return yes;
}

/* Symlinks planted in a tree are unlinked, never entered; their targets survive. */
static void test_rm_rf_planted_symlinks(void **state)
{
	char *dir = tmpdir(), tree[512], outside[512], sub[600], p[700];

	(void)state;
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(sub, sizeof(sub), "%s/sub", tree);
	assert_int_equal(sk_mkdir_p(sub, 0700, NULL), 0);
	assert_int_equal(sk_mkdir_p(outside, 0700, NULL), 0);
	put(outside, "precious");
	put(tree, "f");
	put(sub, "g");
	snprintf(p, sizeof(p), "%s/to-dir", sub);
	assert_int_equal(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/to-file", tree);
	assert_int_equal(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/precious", outside);
	snprintf(sub, sizeof(sub), "%s/to-precious", tree);
	assert_int_equal(symlink(p, sub), 0);

	assert_int_equal(sk_rm_rf(tree), 0);
	assert_false(sk_is_dir(tree));
	assert_true(sk_is_dir(outside));
	assert_true(present(outside, "precious"));
	/* the path itself a symlink: the link goes, not what it names */
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(outside, p), 0);
	assert_int_equal(sk_rm_rf(p), 0);
	assert_int_equal(access(p, F_OK), -1);
	assert_true(present(outside, "precious"));
	/* absent: nothing to do */
	assert_int_equal(sk_rm_rf(p), 0);
	assert_int_equal(sk_rm_rf(dir), 0);
	assert_false(sk_is_dir(dir));
	free(dir);
}

#define RACE_FILES 200

struct swapper {
	char base[512], tree[512], outside[512];
	char trigger[256]; /* an entry early in sub's directory order */
};

/* Once the removal has started in tree/sub, swaps sub for a symlink to outside. */
static void *swap_sub(void *arg)
{
	struct swapper *sw = arg;
	char sub[600], gone[600], first[900];

	snprintf(sub, sizeof(sub), "%s/sub", sw->tree);
	snprintf(gone, sizeof(gone), "%s/sub.moved", sw->base);
	snprintf(first, sizeof(first), "%s/%s", sub, sw->trigger);
	while (access(first, F_OK) == 0)
		;
	if (!rename(sub, gone))
		(void)!symlink(sw->outside, sub);
	return NULL;
}

/*
 * A directory swapped for a symlink while it is being removed: the removal
 * goes on in the directory it opened, or stops; it never resolves a path
 * through the new symlink. (nftw(FTW_PHYS) removes by path: it deleted the
 * outside files of the same names here.)
 */
static void test_rm_rf_swap_race(void **state)
{
	/* tmpfs when there is one: 16000 files are created and removed */
	char shm[] = "/dev/shm/sk-util-XXXXXX";
	char *dir = mkdtemp(shm) ? strdup(shm) : tmpdir(), sub[600], name[16];
	struct swapper sw;

	(void)state;
	assert_non_null(dir);
	snprintf(sw.base, sizeof(sw.base), "%s", dir);
	snprintf(sw.tree, sizeof(sw.tree), "%s/tree", dir);
	snprintf(sw.outside, sizeof(sw.outside), "%s/outside", dir);
	snprintf(sub, sizeof(sub), "%s/sub", sw.tree);
	for (int round = 0; round < 40; round++) {
		pthread_t t;
		int lost = 0;

		assert_int_equal(sk_mkdir_p(sub, 0700, NULL), 0);
		assert_int_equal(sk_mkdir_p(sw.outside, 0700, NULL), 0);
		for (int i = 0; i < RACE_FILES; i++) {
			snprintf(name, sizeof(name), "f%03d", i);
			put(sub, name);
			put(sw.outside, name);
		}
		{
			/* removal follows directory order: swap once a tenth is gone */
			DIR *d = opendir(sub);
			struct dirent *de;
			int seen = 0;

			assert_non_null(d);
			while ((de = readdir(d)))
				if (de->d_name[0] == 'f' && ++seen == RACE_FILES / 10)
					snprintf(sw.trigger, sizeof(sw.trigger), "%s", de->d_name);
			closedir(d);
		}
		assert_int_equal(pthread_create(&t, NULL, swap_sub, &sw), 0);
		sk_rm_rf(sw.tree); /* may fail: the swapped-in link is refused */
		pthread_join(t, NULL);
		for (int i = 0; i < RACE_FILES; i++) {
			snprintf(name, sizeof(name), "f%03d", i);
			lost += !present(sw.outside, name);
		}
		if (lost)
			fail_msg("round %d: %d files outside the tree were removed", round, lost);
		assert_int_equal(sk_rm_rf(sw.tree), 0);
		assert_int_equal(sk_rm_rf(sw.outside), 0);
		snprintf(sub, sizeof(sub), "%s/sub.moved", dir);
		assert_int_equal(sk_rm_rf(sub), 0);
		snprintf(sub, sizeof(sub), "%s/sub", sw.tree);
	}
	assert_int_equal(sk_rm_rf(dir), 0);
	free(dir);
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
	    cmocka_unit_test(test_rm_rf_planted_symlinks),
	    cmocka_unit_test(test_rm_rf_swap_race),
	    cmocka_unit_test(test_strv),
	    cmocka_unit_test(test_run),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
