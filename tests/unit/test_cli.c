/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What skbuild and skrun share on the command line: the dispatcher, the
 * registry options (--insecure, --ca-cert, --authfile, -v,
 * --insecure-registry), how a source argument is classified, sk_json_add.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "schedkit/cli.h"
#include "schedkit/oci.h"
#include "schedkit/registry.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"

/* ---- capturing what a call prints on one stream ---- */

struct capture {
	FILE *stream;
	int saved;
	char path[64];
};

static void capture_start(struct capture *c, FILE *stream)
{
	int fd;

	c->stream = stream;
	snprintf(c->path, sizeof(c->path), "/tmp/sk-cli-XXXXXX");
	fd = mkstemp(c->path);
	assert_true(fd >= 0);
	fflush(stream);
	c->saved = dup(fileno(stream));
	assert_true(c->saved >= 0);
	assert_true(dup2(fd, fileno(stream)) >= 0);
	close(fd);
}

/* Returns what was printed (malloc'd). */
static char *capture_end(struct capture *c)
{
	uint8_t *data = NULL;
	size_t len = 0;

	fflush(c->stream);
	assert_true(dup2(c->saved, fileno(c->stream)) >= 0);
	close(c->saved);
	assert_int_equal(sk_read_file(c->path, 1 << 20, &data, &len, NULL), 0);
	unlink(c->path);
	return (char *)data;
}

/* ---- the dispatcher ---- */

/* 7 when it sees itself as argv[0] and the rest of the command line after it */
static int cmd_one(int argc, char **argv)
{
	return argc == 2 && !strcmp(argv[0], "one") && !strcmp(argv[1], "--flag") ? 7 : 1;
}

static int cmd_two(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static const struct sk_command commands[] = {
    {"one", cmd_one, "the first command"},
    {"two", cmd_two, "the second command"},
};

static int dispatch(char *a1, char *a2)
{
	char tool[] = "sktool";
	char *argv[] = {tool, a1, a2, NULL};
	int argc = a1 ? (a2 ? 3 : 2) : 1;

	return sk_cli_main("sktool", commands, 2, argc, argv);
}

static void test_cli_dispatch(void **state)
{
	char one[] = "one", arg[] = "--flag";

	(void)state;
	assert_int_equal(dispatch(one, arg), 7);
}

static void test_cli_usage_and_errors(void **state)
{
	char help[] = "--help", h[] = "-h", helpw[] = "help", bogus[] = "bogus";
	struct capture cap;
	char *out;

	(void)state;
	capture_start(&cap, stdout);
	assert_int_equal(dispatch(help, NULL), 0);
	out = capture_end(&cap);
	assert_non_null(strstr(
	    out, "usage: sktool <command> [options]\n       sktool --version\n\ncommands:\n"));
	assert_non_null(strstr(out, "  one        the first command\n"));
	assert_non_null(strstr(out, "  two        the second command\n"));
	assert_non_null(strstr(out, "Run 'sktool <command> --help' for a command's options.\n"));
	free(out);
	capture_start(&cap, stdout);
	assert_int_equal(dispatch(h, NULL), 0);
	assert_int_equal(dispatch(helpw, NULL), 0);
	free(capture_end(&cap));

	capture_start(&cap, stderr);
	assert_int_equal(dispatch(NULL, NULL), 2);
	out = capture_end(&cap);
	assert_non_null(strstr(out, "usage: sktool <command>"));
	free(out);

	capture_start(&cap, stderr);
	assert_int_equal(dispatch(bogus, NULL), 2);
	out = capture_end(&cap);
	assert_string_equal(out, "sktool: 'bogus' is not a command; see 'sktool --help'\n");
	free(out);

	/* --version: the tool and SK_VERSION, on stdout */
	{
		char version[] = "--version";

		capture_start(&cap, stdout);
		assert_int_equal(dispatch(version, NULL), 0);
		out = capture_end(&cap);
		assert_string_equal(out, "sktool " SK_VERSION "\n");
		free(out);
	}

	capture_start(&cap, stderr);
	sk_cli_error("sktool", "%s: %d", "x", 3);
	out = capture_end(&cap);
	assert_string_equal(out, "sktool: x: 3\n");
	free(out);
}

static void usage_fn(FILE *f)
{
	fputs("usage: x\n", f);
}

static void test_cli_usage_helper(void **state)
{
	struct capture cap;
	char *out;

	(void)state;
	capture_start(&cap, stdout);
	assert_int_equal(sk_cli_usage(usage_fn, true), 0);
	out = capture_end(&cap);
	assert_string_equal(out, "usage: x\n");
	free(out);
	capture_start(&cap, stderr);
	assert_int_equal(sk_cli_usage(usage_fn, false), 2);
	out = capture_end(&cap);
	assert_string_equal(out, "usage: x\n");
	free(out);
}

/* ---- registry options ---- */

/* Runs getopt_long over args the way a command does; returns the registry options seen. */
static int parse(struct sk_registry_cli *reg, int argc, char **argv, int *others)
{
	static const struct option opts[] = {
	    SK_REGISTRY_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"other", no_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	int c, n = 0;

	*others = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		if (sk_registry_cli_opt(reg, c, optarg))
			n++;
		else
			(*others)++;
	}
	return n;
}

static void test_registry_cli_options(void **state)
{
	char a0[] = "cmd", a1[] = "--insecure", a2[] = "--ca-cert", a3[] = "/ca.pem",
	     a4[] = "--authfile", a5[] = "/auth.json", a6[] = "-v", a7[] = "--other",
	     a8[] = "localhost:5000/sched:v1";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL};
	struct sk_registry_cli reg = {0};
	int others;

	(void)state;
	assert_int_equal(parse(&reg, 9, argv, &others), 4);
	assert_int_equal(others, 1);
	assert_string_equal(reg.opts.ca_cert, "/ca.pem");
	assert_string_equal(reg.opts.auth_file, "/auth.json");
	assert_true(reg.opts.verbose);
	assert_true(reg.insecure_ref);
	/* --insecure names the host of the command's own reference, only after finish */
	assert_int_equal(reg.insecure.n, 0);
	assert_int_equal(sk_registry_cli_finish(&reg, argv[8]), 0);
	assert_ptr_equal(reg.opts.insecure, &reg.insecure);
	assert_int_equal(reg.insecure.n, 1);
	assert_string_equal(reg.insecure.v[0], "localhost:5000");
	sk_registry_cli_free(&reg);
}

static void test_registry_cli_finish(void **state)
{
	struct sk_registry_cli reg = {0};

	(void)state;
	/* without --insecure nothing is trusted, whatever the reference */
	assert_int_equal(sk_registry_cli_finish(&reg, "localhost:5000/a:b"), 0);
	assert_ptr_equal(reg.opts.insecure, &reg.insecure);
	assert_int_equal(reg.insecure.n, 0);
	sk_registry_cli_free(&reg);

	/* Docker Hub: the API host, which is what the client compares */
	memset(&reg, 0, sizeof(reg));
	assert_int_equal(sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_INSECURE, NULL), 1);
	assert_int_equal(sk_registry_cli_finish(&reg, "alpine"), 0);
	assert_int_equal(reg.insecure.n, 1);
	assert_string_equal(reg.insecure.v[0], SK_DOCKER_HUB_API);
	sk_registry_cli_free(&reg);

	/* a layout or archive has no host; NULL (no reference) neither */
	memset(&reg, 0, sizeof(reg));
	assert_int_equal(sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_INSECURE, NULL), 1);
	assert_int_equal(sk_registry_cli_finish(&reg, "/tmp/Not A Reference:x"), 0);
	assert_int_equal(sk_registry_cli_finish(&reg, NULL), 0);
	assert_int_equal(reg.insecure.n, 0);
	sk_registry_cli_free(&reg);

	/* options that are not the registry's are left to the command */
	assert_int_equal(sk_registry_cli_opt(&reg, 'h', NULL), 0);
	assert_int_equal(sk_registry_cli_opt(&reg, '?', NULL), 0);
}

static void test_registry_cli_insecure_registry(void **state)
{
	char a0[] = "run", a1[] = "--insecure-registry", a2[] = "a.example:5000",
	     a3[] = "--insecure-registry", a4[] = "b.example";
	char *argv[] = {a0, a1, a2, a3, a4, NULL};
	struct sk_registry_cli reg = {0};
	int others;

	(void)state;
	assert_int_equal(parse(&reg, 5, argv, &others), 2);
	assert_int_equal(others, 0);
	assert_false(reg.insecure_ref);
	assert_int_equal(sk_registry_cli_finish(&reg, NULL), 0);
	assert_int_equal(reg.insecure.n, 2);
	assert_string_equal(reg.insecure.v[0], "a.example:5000");
	assert_string_equal(reg.insecure.v[1], "b.example");
	assert_ptr_equal(reg.opts.insecure, &reg.insecure);
	sk_registry_cli_free(&reg);
}

static void test_exit_status(void **state)
{
	(void)state;
	/* one status per kind of failure, each different (docs/json.md) */
	assert_int_equal(sk_cli_exit_status(0), SK_EXIT_OK);
	assert_int_equal(sk_cli_exit_status(-EKEYREJECTED), SK_EXIT_REFUSED);
	assert_int_equal(sk_cli_exit_status(-ENOENT), SK_EXIT_NOT_FOUND);
	assert_int_equal(sk_cli_exit_status(-ENETUNREACH), SK_EXIT_NETWORK);
	assert_int_equal(sk_cli_exit_status(-EAGAIN), SK_EXIT_NETWORK);
	assert_int_equal(sk_cli_exit_status(-ENOTSUP), SK_EXIT_KERNEL);
	assert_int_equal(sk_cli_exit_status(-EINVAL), SK_EXIT_FAILURE);
	assert_int_equal(sk_cli_exit_status(-ENOMEM), SK_EXIT_FAILURE);
	assert_int_not_equal(SK_EXIT_USAGE, SK_EXIT_REFUSED);
	assert_int_not_equal(SK_EXIT_NOT_FOUND, SK_EXIT_NETWORK);
	assert_int_not_equal(SK_EXIT_NETWORK, SK_EXIT_KERNEL);
}

static void test_registry_cli_credentials(void **state)
{
	struct sk_registry_cli reg = {0};
	int fds[2];

	(void)state;
	unsetenv(SK_REGISTRY_USERNAME_ENV);
	unsetenv(SK_REGISTRY_PASSWORD_ENV);
	/* --username alone: the password would have to come from the command line */
	assert_int_equal(sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_USERNAME, "ci"), 1);
	assert_int_equal(sk_registry_cli_finish(&reg, NULL), -EINVAL);
	sk_registry_cli_free(&reg);

	/* --username with --password-stdin: the password is standard input's first line */
	memset(&reg, 0, sizeof(reg));
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "s3cret\n", 7), 7);
	close(fds[1]);
	{
		int saved = dup(STDIN_FILENO);

		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_USERNAME, "ci");
		sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_PASSWORD_STDIN, NULL);
		assert_int_equal(sk_registry_cli_finish(&reg, NULL), 0);
		dup2(saved, STDIN_FILENO);
		close(saved);
	}
	assert_string_equal(reg.opts.username, "ci");
	assert_string_equal(reg.opts.password, "s3cret");
	sk_registry_cli_free(&reg);

	/* a password longer than 4096 bytes is refused, not cut */
	memset(&reg, 0, sizeof(reg));
	assert_int_equal(pipe(fds), 0);
	{
		char big[5000];
		int saved = dup(STDIN_FILENO);

		memset(big, 'x', sizeof(big));
		assert_int_equal(write(fds[1], big, sizeof(big)), (ssize_t)sizeof(big));
		close(fds[1]);
		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_USERNAME, "ci");
		sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_PASSWORD_STDIN, NULL);
		assert_int_equal(sk_registry_cli_finish(&reg, NULL), -E2BIG);
		dup2(saved, STDIN_FILENO);
		close(saved);
	}
	assert_null(reg.opts.password);
	sk_registry_cli_free(&reg);

	/* the environment, when both variables are set and no file was named */
	memset(&reg, 0, sizeof(reg));
	setenv(SK_REGISTRY_USERNAME_ENV, "envuser", 1);
	setenv(SK_REGISTRY_PASSWORD_ENV, "envpass", 1);
	assert_int_equal(sk_registry_cli_finish(&reg, NULL), 0);
	assert_string_equal(reg.opts.username, "envuser");
	assert_string_equal(reg.opts.password, "envpass");
	assert_non_null(strstr(reg.opts.cred_source, SK_REGISTRY_USERNAME_ENV));
	sk_registry_cli_free(&reg);
	/* --authfile wins: the environment is not read */
	memset(&reg, 0, sizeof(reg));
	sk_registry_cli_opt(&reg, SK_REGISTRY_OPT_AUTHFILE, "/auth.json");
	assert_int_equal(sk_registry_cli_finish(&reg, NULL), 0);
	assert_null(reg.opts.username);
	sk_registry_cli_free(&reg);
	unsetenv(SK_REGISTRY_USERNAME_ENV);
	unsetenv(SK_REGISTRY_PASSWORD_ENV);

	/* build --push hands the options on under their own names */
	assert_string_equal(sk_registry_cli_optname(SK_REGISTRY_OPT_INSECURE_REGISTRY),
			    "--insecure-registry");
	assert_string_equal(sk_registry_cli_optname(SK_REGISTRY_OPT_PASSWORD_STDIN),
			    "--password-stdin");
	assert_null(sk_registry_cli_optname('q'));
}

/* ---- source arguments ---- */

static void expect_kind(const char *arg, enum sk_source_kind kind, const char *path,
			const char *tag)
{
	struct sk_source src;
	struct sk_error err = {0};

	if (sk_source_parse(arg, &src, &err))
		fail_msg("%s: %s", arg, err.msg);
	assert_int_equal(src.kind, kind);
	if (path)
		assert_string_equal(src.path, path);
	if (tag)
		assert_string_equal(src.tag, tag);
	else if (kind != SK_SOURCE_REGISTRY)
		assert_null(src.tag);
	sk_source_free(&src);
}

static void test_source_parse(void **state)
{
	char dir[] = "/tmp/sk-cli-src-XXXXXX", file[512], arg[1024], cwd[4096];
	struct sk_source src;
	struct sk_error err = {0};
	char *f = NULL, *t = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(file, sizeof(file), "%s/a.tar", dir);
	assert_int_equal(sk_write_file_atomic(file, "x", 1, 0644, NULL), 0);

	expect_kind("oci:/x/y:t", SK_SOURCE_LAYOUT, "/x/y", "t");
	expect_kind("localhost:5000/a:b", SK_SOURCE_REGISTRY, NULL, NULL);
	expect_kind(dir, SK_SOURCE_LAYOUT, dir, NULL);
	snprintf(arg, sizeof(arg), "%s:v1", dir);
	expect_kind(arg, SK_SOURCE_LAYOUT, dir, "v1");
	expect_kind(file, SK_SOURCE_ARCHIVE, file, NULL);
	snprintf(arg, sizeof(arg), "oci-archive:%s", file);
	expect_kind(arg, SK_SOURCE_ARCHIVE, file, NULL);
	/* a saved archive's tag is a full reference, colons and all */
	snprintf(arg, sizeof(arg), "%s:localhost:5000/repo:v1", file);
	expect_kind(arg, SK_SOURCE_ARCHIVE, file, "localhost:5000/repo:v1");
	assert_int_equal(sk_archive_ref_split(arg, &f, &t), 0);
	assert_string_equal(f, file);
	assert_string_equal(t, "localhost:5000/repo:v1");
	free(f);
	free(t);
	assert_int_equal(sk_archive_ref_split("/no/such/file:tag", &f, &t), -ENOENT);
	assert_null(f);
	assert_null(t);
	/* a path that names nothing is an error, not a registry reference */
	assert_int_equal(sk_source_parse("/no/such/layout:v1", &src, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no such OCI image layout directory or oci-archive file"));

	/*
	 * A registry reference stays one whatever files exist: a file planted at
	 * the relative path 127.0.0.1:5055/sched/fifo:v1 (or .../fifo) in the
	 * working directory must not replace what the registry serves.
	 */
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(sk_mkdir_p("127.0.0.1:5055/sched", 0755, NULL), 0);
	assert_int_equal(sk_write_file_atomic("127.0.0.1:5055/sched/fifo:v1", "x", 1, 0644, NULL),
			 0);
	assert_int_equal(sk_write_file_atomic("127.0.0.1:5055/sched/fifo", "x", 1, 0644, NULL), 0);
	expect_kind("127.0.0.1:5055/sched/fifo:v1", SK_SOURCE_REGISTRY, NULL, NULL);
	assert_int_equal(sk_source_parse("127.0.0.1:5055/sched/fifo:v1", &src, &err), 0);
	assert_string_equal(src.ref.host, "127.0.0.1:5055");
	assert_string_equal(src.ref.repo, "sched/fifo");
	assert_string_equal(src.ref.tag, "v1");
	sk_source_free(&src);
	/* a Docker Hub short name that is also a local path: ambiguous, with the spellings */
	assert_int_equal(sk_mkdir_p("fifo.oci", 0755, NULL), 0);
	assert_int_equal(sk_source_parse("fifo.oci:1.0.0", &src, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is ambiguous"));
	assert_non_null(strstr(err.msg, "oci:fifo.oci:1.0.0"));
	expect_kind("./fifo.oci:1.0.0", SK_SOURCE_LAYOUT, "./fifo.oci", "1.0.0");
	expect_kind("oci:fifo.oci:1.0.0", SK_SOURCE_LAYOUT, "fifo.oci", "1.0.0");
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(sk_rm_rf(dir), 0);
}

/* ---- sk_json_add ---- */

static void test_json_add(void **state)
{
	struct json_object *o = json_object_new_object();

	(void)state;
	assert_non_null(o);
	assert_int_equal(sk_json_add(o, "k", json_object_new_string("v")), 0);
	assert_string_equal(sk_json_str(o, "k"), "v");
	/* a failed allocation upstream arrives as NULL */
	assert_int_equal(sk_json_add(o, "n", NULL), -ENOMEM);
	assert_false(json_object_object_get_ex(o, "n", NULL));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_dispatch),
	    cmocka_unit_test(test_cli_usage_and_errors),
	    cmocka_unit_test(test_cli_usage_helper),
	    cmocka_unit_test(test_registry_cli_options),
	    cmocka_unit_test(test_registry_cli_finish),
	    cmocka_unit_test(test_registry_cli_insecure_registry),
	    cmocka_unit_test(test_registry_cli_credentials),
	    cmocka_unit_test(test_exit_status),
	    cmocka_unit_test(test_source_parse),
	    cmocka_unit_test(test_json_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
