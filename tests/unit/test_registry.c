/* SPDX-License-Identifier: Apache-2.0 */
/* References, WWW-Authenticate, auth files and helpers, the store writer, oci-archives. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "schedkit/registry.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *make_tmpdir(void)
{
	char *dir = strdup("/tmp/sk-test-registry.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char *p = sk_path_join(dir, name);
	FILE *f;

	assert_non_null(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

/* ---- references ---- */

static void test_ref_valid(void **state)
{
	static const struct {
		const char *in, *registry, *host, *repo, *tag, *digest, *string;
	} cases[] = {
	    {"alpine", "docker.io", "registry-1.docker.io", "library/alpine", "", "",
	     "docker.io/library/alpine"},
	    {"alpine:3.19", "docker.io", "registry-1.docker.io", "library/alpine", "3.19", "",
	     "docker.io/library/alpine:3.19"},
	    {"org/app:v1", "docker.io", "registry-1.docker.io", "org/app", "v1", "",
	     "docker.io/org/app:v1"},
	    {"index.docker.io/org/app", "docker.io", "registry-1.docker.io", "org/app", "", "",
	     "docker.io/org/app"},
	    {"docker.io/alpine", "docker.io", "registry-1.docker.io", "library/alpine", "", "",
	     "docker.io/library/alpine"},
	    {"localhost/x", "localhost", "localhost", "x", "", "", "localhost/x"},
	    {"localhost:5000/a/b/c:t", "localhost:5000", "localhost:5000", "a/b/c", "t", "",
	     "localhost:5000/a/b/c:t"},
	    {"127.0.0.1:5000/sched/fifo:v1.2_3-x", "127.0.0.1:5000", "127.0.0.1:5000", "sched/fifo",
	     "v1.2_3-x", "", "127.0.0.1:5000/sched/fifo:v1.2_3-x"},
	    {"ghcr.io/o/r@sha256:" D64, "ghcr.io", "ghcr.io", "o/r", "", "sha256:" D64,
	     "ghcr.io/o/r@sha256:" D64},
	    {"ghcr.io/o/r:t@sha256:" D64, "ghcr.io", "ghcr.io", "o/r", "t", "sha256:" D64,
	     "ghcr.io/o/r:t@sha256:" D64},
	    {"[::1]:5000/x", "[::1]:5000", "[::1]:5000", "x", "", "", "[::1]:5000/x"},
	    {"Registry/x", "Registry", "Registry", "x", "", "", "Registry/x"},
	    {"r.io/a__b/c-d/e.f/g--h", "r.io", "r.io", "a__b/c-d/e.f/g--h", "", "",
	     "r.io/a__b/c-d/e.f/g--h"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sk_error err = {0};
		struct sk_ref r;
		char buf[SK_REF_STRING_MAX];

		if (sk_ref_parse(cases[i].in, &r, &err))
			fail_msg("%s: %s", cases[i].in, err.msg);
		assert_string_equal(r.registry, cases[i].registry);
		assert_string_equal(r.host, cases[i].host);
		assert_string_equal(r.repo, cases[i].repo);
		assert_string_equal(r.tag, cases[i].tag);
		assert_string_equal(r.digest, cases[i].digest);
		sk_ref_string(&r, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].string);
	}
}

static void test_ref_reference(void **state)
{
	struct sk_ref r;

	(void)state;
	assert_int_equal(sk_ref_parse("r.io/x", &r, NULL), 0);
	assert_string_equal(sk_ref_reference(&r), "latest");
	assert_int_equal(sk_ref_parse("r.io/x:t", &r, NULL), 0);
	assert_string_equal(sk_ref_reference(&r), "t");
	/* a digest pins the content even when a tag is given */
	assert_int_equal(sk_ref_parse("r.io/x:t@sha256:" D64, &r, NULL), 0);
	assert_string_equal(sk_ref_reference(&r), "sha256:" D64);
}

static void test_ref_invalid(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
	    {"", "empty"},
	    {"r.io/Upper", "must be lowercase"},
	    {"r.io/a..b", "must match"},
	    {"r.io/-a", "must match"},
	    {"r.io/a-", "must match"},
	    {"r.io/a___b", "must match"},
	    {"r.io/a/", "ends with '/'"},
	    {"r.io/a//b", "must match"},
	    {"r.io/a:", "tag ''"},
	    {"r.io/a:.x", "tag '.x'"},
	    {"r.io/a:x/y", "must match"},
	    {"r.io/a@sha256:abc", "64 lowercase hex"},
	    {"r.io/a@sha512:" D64, "only sha256"},
	    {"r.io/a@sha256:" D64 "00", "64 lowercase hex"},
	    {"https://r.io/a", "without a URL scheme"},
	    {"r.io/a b", "whitespace"},
	    {"bad_host:5000/a", "bad registry host"},
	    {"r.io:99999999/a", "bad registry host"},
	    {"r.io/", "empty"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sk_error err = {0};
		struct sk_ref r;

		if (!sk_ref_parse(cases[i].in, &r, &err))
			fail_msg("'%s' was accepted", cases[i].in);
		assert_int_equal(err.code, -EINVAL);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].in, err.msg,
				 cases[i].msg);
	}
}

static void test_ref_long_tag(void **state)
{
	char in[300], tag[140];
	struct sk_ref r;

	(void)state;
	memset(tag, 'a', 128);
	tag[128] = '\0';
	snprintf(in, sizeof(in), "r.io/x:%s", tag);
	assert_int_equal(sk_ref_parse(in, &r, NULL), 0);
	snprintf(in, sizeof(in), "r.io/x:%sa", tag);
	assert_int_equal(sk_ref_parse(in, &r, NULL), -EINVAL);
}

/* ---- WWW-Authenticate ---- */

static void test_challenge_bearer(void **state)
{
	struct sk_challenge c;
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_challenge_parse("Bearer realm=\"https://auth.example/token\","
					    "service=\"registry.example\","
					    "scope=\"repository:a/b:pull,push repository:c:pull\"",
					    &c, &err),
			 0);
	assert_string_equal(c.scheme, "Bearer");
	assert_string_equal(c.realm, "https://auth.example/token");
	assert_string_equal(c.service, "registry.example");
	assert_string_equal(c.scope, "repository:a/b:pull,push repository:c:pull");
	assert_string_equal(c.error, "");

	assert_int_equal(
	    sk_challenge_parse("bearer  realm=\"http://x/t\" , error=\"invalid_token\","
			       " service=unquoted",
			       &c, &err),
	    0);
	assert_string_equal(c.realm, "http://x/t");
	assert_string_equal(c.error, "invalid_token");
	assert_string_equal(c.service, "unquoted");

	assert_int_equal(sk_challenge_parse("Bearer realm=\"a\\\"b\"", &c, &err), 0);
	assert_string_equal(c.realm, "a\"b");
}

static void test_challenge_basic_and_errors(void **state)
{
	struct sk_challenge c;
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err), 0);
	assert_string_equal(c.scheme, "Basic");
	assert_string_equal(c.realm, "Registry Realm");
	/* the first challenge of several */
	assert_int_equal(sk_challenge_parse("Basic realm=\"r\", Bearer realm=\"t\"", &c, &err), 0);
	assert_string_equal(c.scheme, "Basic");
	assert_string_equal(c.realm, "r");

	assert_int_equal(sk_challenge_parse("Bearer service=\"s\"", &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "without a realm"));
	assert_int_equal(sk_challenge_parse("Bearer realm=\"open", &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unterminated"));
	assert_int_equal(sk_challenge_parse("", &c, &err), -EINVAL);
	assert_int_equal(sk_challenge_parse("Bearer realm=\"a\" junk", &c, &err), -EINVAL);
}

/* ---- auth files ---- */

static int parse(const char *json, const char *registry, const char *repo, struct sk_cred *c,
		 char **helper, struct sk_error *err)
{
	memset(c, 0, sizeof(*c));
	return sk_cred_parse(json, strlen(json), "test.json", registry, repo, c, helper, err);
}

static void test_cred_parse_auths(void **state)
{
	/* dXNlcjpwYXNz = user:pass, YWxpY2U6czNjcjN0Og== = alice:s3cr3t: (2 pad, ':' in pw) */
	const char *json = "{\"auths\":{"
			   "\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYXNz\"},"
			   "\"https://index.docker.io/v1/\":{\"auth\":\"YWxpY2U6czNjcjN0Og==\"},"
			   "\"quay.io\":{\"auth\":\"dXNlcjpwYXNz\"},"
			   "\"quay.io/org\":{\"auth\":\"b3JnOm9yZ3B3\"},"
			   "\"quay.io/org/repo\":{\"auth\":\"cmVwbzpyZXBvcHc=\"},"
			   "\"old.io\":{\"username\":\"u\",\"password\":\"p\"}"
			   "}}";
	struct sk_error err = {0};
	struct sk_cred c;
	char *helper;

	(void)state;
	assert_int_equal(parse(json, "127.0.0.1:5000", "x", &c, &helper, &err), 1);
	assert_string_equal(c.username, "user");
	assert_string_equal(c.password, "pass");
	assert_string_equal(c.source, "test.json");
	assert_null(helper);
	sk_cred_clear(&c);
	assert_null(c.username);

	assert_int_equal(parse(json, "docker.io", "library/alpine", &c, &helper, &err), 1);
	assert_string_equal(c.username, "alice");
	assert_string_equal(c.password, "s3cr3t:");
	sk_cred_clear(&c);

	/* repository-scoped entries: the longest matching prefix wins */
	assert_int_equal(parse(json, "quay.io", "org/repo", &c, &helper, &err), 1);
	assert_string_equal(c.username, "repo");
	sk_cred_clear(&c);
	assert_int_equal(parse(json, "quay.io", "org/other", &c, &helper, &err), 1);
	assert_string_equal(c.username, "org");
	sk_cred_clear(&c);
	assert_int_equal(parse(json, "quay.io", "orgx/a", &c, &helper, &err), 1);
	assert_string_equal(c.username, "user");
	sk_cred_clear(&c);

	assert_int_equal(parse(json, "old.io", "a", &c, &helper, &err), 1);
	assert_string_equal(c.password, "p");
	sk_cred_clear(&c);

	assert_int_equal(parse(json, "127.0.0.1:5001", "x", &c, &helper, &err), 0);
	assert_null(c.username);
}

static void test_cred_parse_helpers_and_errors(void **state)
{
	struct sk_error err = {0};
	struct sk_cred c;
	char *helper;

	(void)state;
	assert_int_equal(parse("{\"credHelpers\":{\"r.io\":\"ecr\"},\"credsStore\":\"desktop\","
			       "\"auths\":{\"r.io\":{}}}",
			       "r.io", "a", &c, &helper, &err),
			 1);
	assert_string_equal(helper, "ecr");
	free(helper);
	/* credsStore covers registries without their own helper; an empty entry too */
	assert_int_equal(parse("{\"credsStore\":\"desktop\",\"auths\":{\"s.io\":{}}}", "s.io", "a",
			       &c, &helper, &err),
			 1);
	assert_string_equal(helper, "desktop");
	free(helper);
	assert_int_equal(parse("{\"credsStore\":\"desktop\"}", "t.io", "a", &c, &helper, &err), 1);
	assert_string_equal(helper, "desktop");
	free(helper);

	assert_int_equal(
	    parse("{\"auths\":{\"r.io\":{\"auth\":\"!!!!\"}}}", "r.io", "a", &c, &helper, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "base64"));
	assert_int_equal(parse("{\"auths\":{\"r.io\":{\"auth\":\"bm9jb2xvbg==\"}}}", "r.io", "a",
			       &c, &helper, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "USER:PASSWORD"));
	assert_null(strstr(err.msg, "nocolon"));
	assert_int_equal(parse("{\"auths\":{\"r.io\":{\"identitytoken\":\"x\"}}}", "r.io", "a", &c,
			       &helper, &err),
			 -ENOTSUP);
	assert_int_equal(parse("[1]", "r.io", "a", &c, &helper, &err) < 0, 1);
}

static void test_cred_store_remove(void **state)
{
	char *dir = make_tmpdir(), *path = sk_path_join(dir, "sub/config.json");
	struct sk_error err = {0};
	struct sk_cred c = {0};
	uint8_t *data;
	size_t len;
	struct stat st;

	(void)state;
	assert_int_equal(sk_cred_store(path, "r.io:5000", "bob", "pw:1", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* keeps what else the file holds */
	assert_int_equal(sk_cred_store(path, "docker.io", "hub", "hpw", &err), 0);
	assert_int_equal(sk_read_file(path, 1 << 20, &data, &len, &err), 0);
	assert_non_null(strstr((char *)data, "https://index.docker.io/v1/"));
	assert_null(strstr((char *)data, "pw:1"));
	free(data);
	assert_int_equal(sk_cred_lookup("r.io:5000", "x", path, &c, NULL, &err), 0);
	assert_string_equal(c.username, "bob");
	assert_string_equal(c.password, "pw:1");
	sk_cred_clear(&c);
	/* replacing, not duplicating */
	assert_int_equal(sk_cred_store(path, "r.io:5000", "bob2", "x", &err), 0);
	assert_int_equal(sk_cred_lookup("r.io:5000", "x", path, &c, NULL, &err), 0);
	assert_string_equal(c.username, "bob2");
	sk_cred_clear(&c);

	assert_int_equal(sk_cred_remove(path, "r.io:5000", &err), 1);
	assert_int_equal(sk_cred_remove(path, "r.io:5000", &err), 0);
	assert_int_equal(sk_cred_lookup("r.io:5000", "x", path, &c, NULL, &err), 0);
	assert_null(c.username);
	assert_int_equal(sk_cred_lookup("docker.io", "library/x", path, &c, NULL, &err), 0);
	assert_string_equal(c.username, "hub");
	sk_cred_clear(&c);
	assert_int_equal(sk_cred_store(path, "r.io", "a:b", "x", &err), -EINVAL);
	sk_rm_rf(dir);
	free(path);
	free(dir);
}

static void test_cred_lookup_order(void **state)
{
	char *dir = make_tmpdir(), *p;
	struct sk_strv looked = {0};
	struct sk_error err = {0};
	struct sk_cred c = {0};
	char home[512], xdg[512], regfile[512], docker[512];

	(void)state;
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(xdg, sizeof(xdg), "%s/run", dir);
	snprintf(regfile, sizeof(regfile), "%s/reg-auth.json", dir);
	snprintf(docker, sizeof(docker), "%s/dockercfg", dir);
	assert_int_equal(sk_mkdir_p(home, 0755, &err), 0);
	setenv("HOME", home, 1);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	setenv("REGISTRY_AUTH_FILE", regfile, 1);
	setenv("DOCKER_CONFIG", docker, 1);

	/* only Docker's file knows r.io */
	p = sk_path_join(docker, "config.json");
	assert_int_equal(sk_cred_store(p, "r.io", "docker-user", "pw", &err), 0);
	free(p);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, &looked, &err), 0);
	assert_string_equal(c.username, "docker-user");
	sk_cred_clear(&c);
	assert_int_equal(looked.n, 4);
	assert_string_equal(looked.v[0], regfile);
	sk_strv_free(&looked);

	/* containers' auth.json under XDG_RUNTIME_DIR comes before Docker's */
	p = sk_path_join(xdg, "containers/auth.json");
	assert_int_equal(sk_cred_store(p, "r.io", "xdg-user", "pw", &err), 0);
	free(p);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, NULL, &err), 0);
	assert_string_equal(c.username, "xdg-user");
	sk_cred_clear(&c);

	/* and REGISTRY_AUTH_FILE before everything */
	assert_int_equal(sk_cred_store(regfile, "r.io", "env-user", "pw", &err), 0);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, NULL, &err), 0);
	assert_string_equal(c.username, "env-user");
	sk_cred_clear(&c);

	/* an explicit file is the only one read */
	p = sk_path_join(dir, "only.json");
	assert_int_equal(sk_cred_lookup("r.io", "a", p, &c, NULL, &err), -ENOENT);
	write_text(dir, "only.json", "{}");
	assert_int_equal(sk_cred_lookup("r.io", "a", p, &c, NULL, &err), 0);
	assert_null(c.username);
	free(p);

	/* nothing anywhere: anonymous */
	assert_int_equal(sk_cred_lookup("nothing.io", "a", NULL, &c, NULL, &err), 0);
	assert_null(c.username);

	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("DOCKER_CONFIG");
	unsetenv("XDG_RUNTIME_DIR");
	sk_rm_rf(dir);
	free(dir);
}

/* The looked entry for path, which must say it was skipped and why. */
static void assert_skipped(const struct sk_strv *looked, const char *path, const char *why)
{
	char want[1200];

	snprintf(want, sizeof(want), "%s (skipped: %s", path, why);
	for (size_t i = 0; i < looked->n; i++)
		if (!strncmp(looked->v[i], want, strlen(want)))
			return;
	fail_msg("no entry '%s...' among the %zu files looked at", want, looked->n);
}

/*
 * As root, a file that HOME, XDG_RUNTIME_DIR, DOCKER_CONFIG or
 * REGISTRY_AUTH_FILE points at is read only when root owns it, it is no
 * symlink, and nobody else may write it; --authfile is read as given. A FIFO
 * is never waited on.
 */
static void test_cred_lookup_env_files_as_root(void **state)
{
	char *dir = make_tmpdir(), home[512], regfile[512], docker[512], dockercfg[600];
	char homecfg[600], target[512], link[512], fifo[512];
	struct sk_strv looked = {0};
	struct sk_error err = {0};
	struct sk_cred c = {0};

	(void)state;
	if (geteuid() != 0) {
		sk_rm_rf(dir);
		free(dir);
		skip(); /* reported as skipped, not passed: ownership needs root */
	}
	/* a hang on a FIFO fails the test instead of stalling it */
	alarm(60);
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(regfile, sizeof(regfile), "%s/reg-auth.json", dir);
	snprintf(docker, sizeof(docker), "%s/docker", dir);
	snprintf(dockercfg, sizeof(dockercfg), "%s/config.json", docker);
	snprintf(homecfg, sizeof(homecfg), "%s/.docker/config.json", home);
	snprintf(target, sizeof(target), "%s/target.json", dir);
	snprintf(link, sizeof(link), "%s/link.json", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.json", dir);
	setenv("HOME", home, 1);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	setenv("REGISTRY_AUTH_FILE", regfile, 1);
	setenv("DOCKER_CONFIG", docker, 1);
	assert_int_equal(sk_cred_store(dockercfg, "r.io", "root-user", "pw", &err), 0);
	assert_int_equal(sk_cred_store(regfile, "r.io", "intruder", "pw", &err), 0);

	/* another user's file: passed over, and the reason is recorded */
	assert_int_equal(chown(regfile, 65534, 65534), 0);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, &looked, &err), 0);
	assert_non_null(c.username);
	assert_string_equal(c.username, "root-user");
	sk_cred_clear(&c);
	assert_skipped(&looked, regfile, "owned by uid 65534");
	sk_strv_free(&looked);
	/* named with --authfile it is read as given */
	assert_int_equal(sk_cred_lookup("r.io", "a", regfile, &c, NULL, &err), 0);
	assert_string_equal(c.username, "intruder");
	sk_cred_clear(&c);

	/* root's, but writable by others (group, or everyone) */
	assert_int_equal(chown(regfile, 0, 0), 0);
	assert_int_equal(chmod(regfile, 0620), 0);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, &looked, &err), 0);
	assert_string_equal(c.username, "root-user");
	sk_cred_clear(&c);
	assert_skipped(&looked, regfile, "writable by group or others (mode 0620)");
	sk_strv_free(&looked);
	assert_int_equal(chmod(regfile, 0606), 0);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, &looked, &err), 0);
	assert_string_equal(c.username, "root-user");
	sk_cred_clear(&c);
	sk_strv_free(&looked);
	/* root's and 0600: read */
	assert_int_equal(chmod(regfile, 0600), 0);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, NULL, &err), 0);
	assert_string_equal(c.username, "intruder");
	sk_cred_clear(&c);

	/* a symlink, even to a file root owns: not followed; --authfile follows it */
	assert_int_equal(sk_cred_store(target, "r.io", "via-link", "pw", &err), 0);
	assert_int_equal(symlink(target, link), 0);
	setenv("REGISTRY_AUTH_FILE", link, 1);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, &looked, &err), 0);
	assert_string_equal(c.username, "root-user");
	sk_cred_clear(&c);
	assert_skipped(&looked, link, "a symbolic link");
	sk_strv_free(&looked);
	assert_int_equal(sk_cred_lookup("r.io", "a", link, &c, NULL, &err), 0);
	assert_string_equal(c.username, "via-link");
	sk_cred_clear(&c);

	/* a FIFO: skipped at once, and refused (not waited on) when named */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	setenv("REGISTRY_AUTH_FILE", fifo, 1);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, &looked, &err), 0);
	assert_string_equal(c.username, "root-user");
	sk_cred_clear(&c);
	assert_skipped(&looked, fifo, "not a regular file");
	sk_strv_free(&looked);
	assert_int_equal(sk_cred_lookup("r.io", "a", fifo, &c, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));

	/* HOME's file too: DOCKER_CONFIG unset, ~/.docker/config.json another user's */
	unsetenv("DOCKER_CONFIG");
	unsetenv("REGISTRY_AUTH_FILE");
	assert_int_equal(sk_cred_store(homecfg, "r.io", "home-user", "pw", &err), 0);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, NULL, &err), 0);
	assert_string_equal(c.username, "home-user");
	sk_cred_clear(&c);
	assert_int_equal(chown(homecfg, 1000, 1000), 0);
	assert_int_equal(sk_cred_lookup("r.io", "a", NULL, &c, &looked, &err), 0);
	assert_null(c.username);
	assert_skipped(&looked, homecfg, "owned by uid 1000");
	sk_strv_free(&looked);

	alarm(0);
	unsetenv("XDG_RUNTIME_DIR");
	sk_rm_rf(dir);
	free(dir);
}

static void test_cred_helper(void **state)
{
	char *dir = make_tmpdir(), *script, *cfg, path[4096];
	const char *old_path = getenv("PATH");
	struct sk_error err = {0};
	struct sk_cred c = {0};

	(void)state;
	/* answers for helper.io only, like a real helper's "not found" otherwise */
	write_text(dir, "docker-credential-sktest",
		   "#!/bin/sh\n"
		   "[ \"$1\" = get ] || exit 3\n"
		   "read -r server\n"
		   "if [ \"$server\" = helper.io ]; then\n"
		   "  echo '{\"ServerURL\":\"helper.io\",\"Username\":\"hu\",\"Secret\":\"hs\"}'\n"
		   "elif [ \"$server\" = https://index.docker.io/v1/ ]; then\n"
		   "  echo '{\"ServerURL\":\"x\",\"Username\":\"hub\",\"Secret\":\"hubs\"}'\n"
		   "elif [ \"$server\" = broken.io ]; then\n"
		   "  echo 'secret-looking garbage'; exit 2\n"
		   "else echo 'credentials not found in native keychain'; exit 1; fi\n");
	script = sk_path_join(dir, "docker-credential-sktest");
	assert_int_equal(chmod(script, 0755), 0);
	snprintf(path, sizeof(path), "%s:%s", dir, old_path ? old_path : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	write_text(dir, "config.json", "{\"credsStore\":\"sktest\"}");
	cfg = sk_path_join(dir, "config.json");

	assert_int_equal(sk_cred_lookup("helper.io", "a", cfg, &c, NULL, &err), 0);
	assert_string_equal(c.username, "hu");
	assert_string_equal(c.password, "hs");
	assert_string_equal(c.source, "docker-credential-sktest");
	sk_cred_clear(&c);
	assert_int_equal(sk_cred_lookup("docker.io", "library/a", cfg, &c, NULL, &err), 0);
	assert_string_equal(c.username, "hub");
	sk_cred_clear(&c);
	assert_int_equal(sk_cred_lookup("other.io", "a", cfg, &c, NULL, &err), 0);
	assert_null(c.username);
	assert_int_equal(sk_cred_lookup("broken.io", "a", cfg, &c, NULL, &err), -EACCES);
	assert_non_null(strstr(err.msg, "exit status 2"));
	assert_null(strstr(err.msg, "garbage"));

	write_text(dir, "config.json", "{\"credsStore\":\"missing-helper\"}");
	assert_true(sk_cred_lookup("helper.io", "a", cfg, &c, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "docker-credential-missing-helper"));

	setenv("PATH", old_path ? old_path : "/usr/bin:/bin", 1);
	sk_rm_rf(dir);
	free(script);
	free(cfg);
	free(dir);
}

/* ---- the store ---- */

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_store_writer(void **state)
{
	char *dir = make_tmpdir(), *tmp, *blobs, dg[SK_DIGEST_MAX];
	struct sk_store_writer *w;
	struct sk_error err = {0};
	struct sk_store *s;
	struct sk_descriptor d = {0};

	(void)state;
	tmp = sk_path_join(dir, ".tmp");
	blobs = sk_path_join(dir, "blobs/sha256");
	assert_int_equal(sk_store_open(dir, &s, &err), 0);
	sk_digest_buf("hello", 5, dg);

	/* wrong content: refused, nothing visible, no temporary file left */
	assert_int_equal(sk_store_writer_new(s, &w, &err), 0);
	assert_int_equal(sk_store_writer_write(w, "hellO", 5, &err), 0);
	assert_int_equal(sk_store_writer_commit(w, dg, 5, &err), -EBADMSG);
	assert_false(sk_store_has_blob(s, dg, -1));
	assert_int_equal(count_entries(tmp), 0);
	assert_int_equal(count_entries(blobs), 0);

	/* wrong size */
	assert_int_equal(sk_store_writer_new(s, &w, &err), 0);
	assert_int_equal(sk_store_writer_write(w, "hello", 5, &err), 0);
	assert_int_equal(sk_store_writer_commit(w, dg, 6, &err), -EBADMSG);
	assert_false(sk_store_has_blob(s, dg, -1));

	/* a retried download: reset drops the first attempt's bytes */
	assert_int_equal(sk_store_writer_new(s, &w, &err), 0);
	assert_int_equal(sk_store_writer_write(w, "garbage", 7, &err), 0);
	assert_int_equal(count_entries(tmp), 1);
	assert_int_equal(sk_store_writer_reset(w, &err), 0);
	assert_int_equal(sk_store_writer_write(w, "hel", 3, &err), 0);
	assert_int_equal(sk_store_writer_write(w, "lo", 2, &err), 0);
	assert_int_equal(sk_store_writer_commit(w, dg, 5, &err), 0);
	assert_true(sk_store_has_blob(s, dg, 5));
	assert_false(sk_store_has_blob(s, dg, 4));
	assert_int_equal(count_entries(tmp), 0);

	/* an aborted writer leaves nothing */
	assert_int_equal(sk_store_writer_new(s, &w, &err), 0);
	assert_int_equal(sk_store_writer_write(w, "x", 1, &err), 0);
	sk_store_writer_abort(w);
	assert_int_equal(count_entries(tmp), 0);

	assert_int_equal(sk_store_put(s, "hello", 5, dg, &err), 0);
	assert_int_equal(sk_store_put(s, "hellx", 5, dg, &err), -EBADMSG);

	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	snprintf(d.digest, sizeof(d.digest), "%s", dg);
	d.size = 5;
	assert_int_equal(sk_store_record(s, "r.io/x:v1", &d, &err), 0);
	{
		struct sk_descriptor got;

		assert_int_equal(sk_layout_resolve(sk_store_layout(s), "r.io/x:v1", &got, &err), 0);
		assert_string_equal(got.digest, dg);
	}
	sk_store_close(s);
	sk_rm_rf(dir);
	free(tmp);
	free(blobs);
	free(dir);
}

/* ---- oci-archive ---- */

static void make_tar(const char *path, const char *name, int type, const char *linkto,
		     const char *content)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t len = content ? strlen(content) : 0;

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, (unsigned)type);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)len : 0);
	if (linkto)
		archive_entry_set_symlink(e, linkto);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (len)
		archive_write_data(a, content, len);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
}

static void test_archive_round_trip(void **state)
{
	char *dir = make_tmpdir(), src[512], tar1[512], tar2[512], out[512], dg[SK_DIGEST_MAX];
	struct sk_error err = {0};
	struct sk_layout *l;
	struct sk_descriptor d;
	uint8_t *a, *b;
	size_t alen, blen;

	(void)state;
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(tar1, sizeof(tar1), "%s/a.tar", dir);
	snprintf(tar2, sizeof(tar2), "%s/b.tar", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	assert_int_equal(sk_layout_create(src, &l, &err), 0);
	assert_int_equal(sk_layout_put_blob(l, "{}", 2, dg, &err), 0);
	memset(&d, 0, sizeof(d));
	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	snprintf(d.digest, sizeof(d.digest), "%s", dg);
	d.size = 2;
	assert_int_equal(sk_layout_add_manifest(l, &d, "v1", &err), 0);
	sk_layout_close(l);
	write_text(src, "blobs/sha256/not-a-digest.tmp", "junk");

	assert_int_equal(sk_archive_write(src, tar1, &err), 0);
	sleep(1); /* mtimes differ: the output must not */
	assert_int_equal(sk_archive_write(src, tar2, &err), 0);
	assert_int_equal(sk_read_file(tar1, 1 << 20, &a, &alen, &err), 0);
	assert_int_equal(sk_read_file(tar2, 1 << 20, &b, &blen, &err), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);

	assert_int_equal(mkdir(out, 0755), 0);
	assert_int_equal(sk_archive_extract(tar1, out, 1 << 20, &err), 0);
	assert_int_equal(sk_layout_open(out, &l, &err), 0);
	assert_int_equal(sk_layout_resolve(l, "v1", &d, &err), 0);
	assert_string_equal(d.digest, dg);
	assert_true(sk_layout_has_blob(l, dg));
	sk_layout_close(l);
	{
		char *junk = sk_path_join(out, "blobs/sha256/not-a-digest.tmp");

		assert_false(sk_is_file(junk));
		free(junk);
	}
	/* the size limit */
	sk_rm_rf(out);
	assert_int_equal(mkdir(out, 0755), 0);
	assert_int_equal(sk_archive_extract(tar1, out, 10, &err), -EFBIG);
	sk_rm_rf(dir);
	free(dir);
}

static void test_archive_hostile(void **state)
{
	static const struct {
		const char *name;
		int type;
		const char *link;
		const char *msg;
	} cases[] = {
	    {"../evil", AE_IFREG, NULL, "absolute or '..'"},
	    {"blobs/../../evil", AE_IFREG, NULL, "absolute or '..'"},
	    {"/etc/evil", AE_IFREG, NULL, "absolute or '..'"},
	    {"index.json", AE_IFLNK, "/etc/passwd", "not allowed"},
	    {"blobs/sha256/" D64, AE_IFLNK, "/etc/shadow", "not allowed"},
	    {"dev", AE_IFCHR, NULL, "not allowed"},
	    {"fifo", AE_IFIFO, NULL, "not allowed"},
	    {"etc/passwd", AE_IFREG, NULL, "unexpected entry"},
	    {"blobs/sha256/short", AE_IFREG, NULL, "unexpected entry"},
	};
	char *dir = make_tmpdir(), tar[512], out[512];

	(void)state;
	snprintf(tar, sizeof(tar), "%s/h.tar", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sk_error err = {0};

		snprintf(out, sizeof(out), "%s/out%zu", dir, i);
		assert_int_equal(mkdir(out, 0755), 0);
		make_tar(tar, cases[i].name, cases[i].type, cases[i].link, "x");
		if (!sk_archive_extract(tar, out, 1 << 20, &err))
			fail_msg("entry %s was accepted", cases[i].name);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("%s: '%s' lacks '%s'", cases[i].name, err.msg, cases[i].msg);
	}
	{
		struct sk_error err = {0};

		write_text(dir, "notatar", "this is not a tar archive at all, just text\n");
		snprintf(tar, sizeof(tar), "%s/notatar", dir);
		snprintf(out, sizeof(out), "%s/outx", dir);
		assert_int_equal(mkdir(out, 0755), 0);
		assert_true(sk_archive_extract(tar, out, 1 << 20, &err) < 0);
	}
	sk_rm_rf(dir);
	free(dir);
}

/* ---- archives: nothing lands outside the extraction directory ---- */

struct tar_ent {
	const char *name;
	int type;
	const char *link;
	const char *data;
};

/* A ustar archive of ents in buf (cap bytes); returns its size. */
static size_t tar_mem(const struct tar_ent *ents, size_t n, char *buf, size_t cap)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_none(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = ents[i].data ? strlen(ents[i].data) : 0;

		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_filetype(e, (unsigned)ents[i].type);
		archive_entry_set_perm(e, ents[i].type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_size(e, ents[i].type == AE_IFREG ? (la_int64_t)len : 0);
		if (ents[i].link)
			archive_entry_set_symlink(e, ents[i].link);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, ents[i].data, len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return used;
}

static void write_bytes(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Number of entries in dir besides . and .. */
static int entries_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/*
 * Whole archives that try to reach outside: a symlink entry for the parent
 * of later entries, a second entry of a name, "../x" and absolute names
 * after a good entry. Each is refused, and the directory next to the
 * extraction directory stays empty.
 */
static void test_archive_hostile_sequences(void **state)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char *dir = make_tmpdir(), outside[512], out[512], tar[512], buf[64 << 10];
	struct tar_ent parent_link[] = {
	    {"blobs", AE_IFLNK, NULL, NULL},
	    {"blobs/sha256/" D64, AE_IFREG, NULL, "x"},
	};
	const struct {
		struct tar_ent ents[3];
		size_t n;
		const char *msg;
	} cases[] = {
	    {{{"oci-layout", AE_IFREG, NULL, layout}, {"oci-layout", AE_IFREG, NULL, layout}},
	     2,
	     "refusing duplicate entry 'oci-layout'"},
	    {{{"blobs/sha256/" D64, AE_IFREG, NULL, "a"},
	      {"./blobs/sha256/" D64, AE_IFREG, NULL, "b"}},
	     2,
	     "refusing duplicate entry 'blobs/sha256/" D64 "'"},
	    {{{"blobs/", AE_IFDIR, NULL, NULL}, {"blobs", AE_IFDIR, NULL, NULL}},
	     2,
	     "refusing duplicate entry 'blobs'"},
	    {{{"oci-layout", AE_IFREG, NULL, layout}, {"../x", AE_IFREG, NULL, "x"}},
	     2,
	     "refusing entry '../x' (absolute or '..')"},
	    {{{"oci-layout", AE_IFREG, NULL, layout}, {"/x", AE_IFREG, NULL, "x"}},
	     2,
	     "refusing entry '/x' (absolute or '..')"},
	    {{{"oci-layout", AE_IFREG, NULL, layout},
	      {"index.json", AE_IFLNK, "/etc/shadow", NULL}},
	     2,
	     "'index.json': links, devices and other special files are not allowed"},
	};

	(void)state;
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(tar, sizeof(tar), "%s/h.tar", dir);
	assert_int_equal(mkdir(outside, 0700), 0);
	parent_link[0].link = outside;
	for (size_t i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
		bool last = i == sizeof(cases) / sizeof(cases[0]);
		const struct tar_ent *ents = last ? parent_link : cases[i].ents;
		const char *msg = last ? "'blobs': links, devices and other special files are "
					 "not allowed"
				       : cases[i].msg;
		struct sk_error err = {0};

		snprintf(out, sizeof(out), "%s/out%zu", dir, i);
		assert_int_equal(mkdir(out, 0700), 0);
		write_bytes(tar, buf, tar_mem(ents, last ? 2 : cases[i].n, buf, sizeof(buf)));
		if (!sk_archive_extract(tar, out, 1 << 20, &err))
			fail_msg("case %zu was accepted", i);
		if (!strstr(err.msg, msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, msg);
		assert_int_equal(entries_in(outside), 0);
	}
	assert_int_equal(entries_in(dir), 2 + (int)(sizeof(cases) / sizeof(cases[0])) + 1);
	sk_rm_rf(dir);
	free(dir);
}

/*
 * What the extraction directory must be: a directory (not a symlink to
 * one), empty (a planted blobs -> elsewhere symlink is refused, not
 * followed), writable by its owner only. And the archive a regular file:
 * a FIFO is refused, not waited on.
 */
static void test_archive_destination(void **state)
{
	static const struct tar_ent ents[] = {{"blobs/sha256/" D64, AE_IFREG, NULL, "x"}};
	char *dir = make_tmpdir(), outside[512], out[512], link[512], tar[512], fifo[512];
	char buf[16 << 10];
	struct sk_error err = {0};

	(void)state;
	alarm(60); /* a hang on the FIFO fails the test */
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(link, sizeof(link), "%s/out/blobs", dir);
	snprintf(tar, sizeof(tar), "%s/a.tar", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.tar", dir);
	write_bytes(tar, buf, tar_mem(ents, 1, buf, sizeof(buf)));
	assert_int_equal(mkdir(outside, 0700), 0);
	assert_int_equal(mkdir(out, 0700), 0);

	/* blobs planted as a symlink to elsewhere before the extraction */
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(sk_archive_extract(tar, out, 1 << 20, &err), -ENOTEMPTY);
	assert_non_null(strstr(err.msg, "is not empty"));
	assert_int_equal(entries_in(outside), 0);
	assert_int_equal(unlink(link), 0);

	/* writable by others */
	assert_int_equal(chmod(out, 0777), 0);
	assert_int_equal(sk_archive_extract(tar, out, 1 << 20, &err), -EPERM);
	assert_non_null(strstr(err.msg, "may be written by others"));
	assert_int_equal(chmod(out, 0700), 0);

	/* the directory itself a symlink */
	snprintf(link, sizeof(link), "%s/out-link", dir);
	assert_int_equal(symlink(outside, link), 0);
	assert_true(sk_archive_extract(tar, link, 1 << 20, &err) < 0);
	assert_non_null(strstr(err.msg, "cannot open the extraction directory"));
	assert_int_equal(entries_in(outside), 0);

	/* a FIFO as the archive */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(sk_archive_extract(fifo, out, 1 << 20, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not a regular file"));

	/* and all is well with a fresh directory, from a path or from an fd */
	assert_int_equal(sk_archive_extract(tar, out, 1 << 20, &err), 0);
	snprintf(link, sizeof(link), "%s/out/blobs/sha256/" D64, dir);
	assert_true(sk_is_file(link));
	snprintf(out, sizeof(out), "%s/out2", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	{
		int fd = open(tar, O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(sk_archive_extract_fd(fd, out, 1 << 20, &err), 0);
		close(fd);
	}
	snprintf(link, sizeof(link), "%s/out2/blobs/sha256/" D64, dir);
	assert_true(sk_is_file(link));
	alarm(0);
	sk_rm_rf(dir);
	free(dir);
}

struct swap_feed {
	int wfd;
	const char *buf;
	size_t first, len; /* the first entry's bytes, and the whole archive's */
	char out[512], moved[512], outside[512];
	int swapped;
};

/* Feeds the first entry, swaps out/blobs/sha256 for a symlink, feeds the rest. */
static void *feed_and_swap(void *arg)
{
	struct swap_feed *f = arg;
	char first[600], sha[600];

	snprintf(first, sizeof(first), "%s/oci-layout", f->out);
	snprintf(sha, sizeof(sha), "%s/blobs/sha256", f->out);
	if (write(f->wfd, f->buf, f->first) == (ssize_t)f->first) {
		for (int i = 0; i < 1000 && access(first, F_OK); i++)
			usleep(10000);
		f->swapped = !rename(sha, f->moved) && !symlink(f->outside, sha);
		(void)!write(f->wfd, f->buf + f->first, f->len - f->first);
	}
	close(f->wfd);
	return NULL;
}

/*
 * The extraction directory raced: after the first entry is written,
 * blobs/sha256 is renamed away and replaced by a symlink to another
 * directory, before the blob entry arrives (the archive comes through a
 * pipe, so the moment is exact). The blob still lands in the directory the
 * extraction made (now renamed), never through the symlink.
 */
static void test_archive_parent_swapped(void **state)
{
	static const struct tar_ent ents[] = {
	    {"oci-layout", AE_IFREG, NULL, "{\"imageLayoutVersion\":\"1.0.0\"}"},
	    {"blobs/sha256/" D64, AE_IFREG, NULL, "x"},
	};
	char *dir = make_tmpdir(), buf[16 << 10], path[700];
	struct swap_feed f = {.buf = buf};
	struct sk_error err = {0};
	pthread_t t;
	int p[2], ret;

	(void)state;
	f.len = tar_mem(ents, 2, buf, sizeof(buf));
	f.first = 1024; /* ustar: a 512-byte header, the data padded to 512 */
	assert_true(f.len > f.first);
	snprintf(f.out, sizeof(f.out), "%s/out", dir);
	snprintf(f.moved, sizeof(f.moved), "%s/moved", dir);
	snprintf(f.outside, sizeof(f.outside), "%s/outside", dir);
	assert_int_equal(mkdir(f.out, 0700), 0);
	assert_int_equal(mkdir(f.outside, 0700), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f.wfd = p[1];
	assert_int_equal(pthread_create(&t, NULL, feed_and_swap, &f), 0);
	ret = sk_archive_extract_fd(p[0], f.out, 1 << 20, &err);
	pthread_join(t, NULL);
	close(p[0]);
	assert_true(f.swapped);
	assert_int_equal(entries_in(f.outside), 0);
	assert_int_equal(ret, 0);
	snprintf(path, sizeof(path), "%s/" D64, f.moved);
	assert_true(sk_is_file(path));
	sk_rm_rf(dir);
	free(dir);
}

/* ---- pulls: verify before anything enters the store ---- */

/* A layout with an index (linux/amd64) -> manifest -> config + one layer, tagged v1. */
static void make_layout(const char *dir, char top[SK_DIGEST_MAX], char man[SK_DIGEST_MAX])
{
	struct sk_error err = {0};
	struct sk_layout *l;
	struct sk_descriptor d = {0};
	char cfg[SK_DIGEST_MAX], layer[SK_DIGEST_MAX], json[2048];

	assert_int_equal(sk_layout_create(dir, &l, &err), 0);
	assert_int_equal(sk_layout_put_blob(l, "{}", 2, cfg, &err), 0);
	assert_int_equal(sk_layout_put_blob(l, "ELF!", 4, layer, &err), 0);
	snprintf(
	    json, sizeof(json),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
	    "\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
	    "\"size\":4}]}",
	    SK_MT_MANIFEST, SK_MT_SCHED_CONFIG, cfg, SK_MT_SCHED_BPF, layer);
	assert_int_equal(sk_layout_put_blob(l, json, strlen(json), man, &err), 0);
	snprintf(json + 1024, 1024,
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\","
		 "\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\","
		 "\"architecture\":\"amd64\"}}]}",
		 SK_MT_INDEX, SK_MT_MANIFEST, man, strlen(json));
	assert_int_equal(sk_layout_put_blob(l, json + 1024, strlen(json + 1024), top, &err), 0);
	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_INDEX);
	snprintf(d.digest, sizeof(d.digest), "%s", top);
	d.size = (int64_t)strlen(json + 1024);
	assert_int_equal(sk_layout_add_manifest(l, &d, "v1", &err), 0);
	sk_layout_close(l);
}

/* Every file under dir with its size and content digest, one per line, sorted. */
static char *tree_listing(const char *dir)
{
	char cmd[1024];
	struct sk_buf out = {0};
	char *argv[] = {"sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && find . -path ./.tmp -prune -o -type f -print | sort | "
		 "xargs -r sha256sum",
		 dir);
	assert_int_equal(sk_run(argv, &out, NULL), 0);
	assert_int_equal(sk_buf_append(&out, "", 1), 0);
	return (char *)out.data;
}

static void test_pull_refused_leaves_store(void **state)
{
	char *dir = make_tmpdir(), lay[512], src[600], top[SK_DIGEST_MAX], man[SK_DIGEST_MAX];
	char st[512], digest[SK_DIGEST_MAX], name[SK_REF_STRING_MAX], prefix[600];
	struct sk_verify_opts vo = {0};
	struct sk_verify_result vr = {0};
	struct sk_pull_opts o = {.arch = "amd64", .verify = &vo, .result = &vr};
	const char *keys[2] = {NULL, NULL};
	struct sk_error err = {0};
	struct sk_descriptor d;
	struct sk_store *s;
	struct sk_key *k = NULL;
	char *before, *after;

	(void)state;
	snprintf(lay, sizeof(lay), "%s/lay", dir);
	snprintf(st, sizeof(st), "%s/store", dir);
	snprintf(src, sizeof(src), "oci:%s:v1", lay);
	snprintf(prefix, sizeof(prefix), "%s/k", dir);
	make_layout(lay, top, man);
	assert_int_equal(sk_key_generate(&k, &err), 0);
	assert_int_equal(sk_key_write_pair(k, prefix, NULL, &err), 0);
	sk_key_free(k);
	snprintf(prefix, sizeof(prefix), "%s/k.pub", dir);
	keys[0] = prefix;
	vo.keys = keys;
	vo.identity = "registry.example/x";
	assert_int_equal(sk_store_open(st, &s, &err), 0);
	before = tree_listing(st);

	/* unsigned: refused before any blob is fetched, and the store is untouched */
	assert_int_equal(sk_pull(s, src, &o, digest, name, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.msg, "no signature"));
	assert_non_null(strstr(err.msg, "nothing was stored"));
	after = tree_listing(st);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(sk_layout_resolve(sk_store_layout(s), "v1", &d, NULL), -ENOENT);
	assert_false(sk_store_has_blob(s, man, -1));
	sk_verify_result_free(&vr);

	/* unverified on purpose: recorded, with every blob */
	o.verify = NULL;
	assert_int_equal(sk_pull(s, src, &o, digest, name, &err), 0);
	assert_string_equal(digest, top);
	assert_string_equal(name, "v1");
	assert_true(sk_store_has_blob(s, man, -1));
	assert_int_equal(sk_layout_resolve(sk_store_layout(s), "v1", &d, &err), 0);
	assert_string_equal(d.digest, top);

	/* record_as names the entry */
	o.record_as = "example.org/x:v1";
	assert_int_equal(sk_pull(s, src, &o, digest, name, &err), 0);
	assert_string_equal(name, "example.org/x:v1");
	assert_int_equal(sk_layout_resolve(sk_store_layout(s), "example.org/x:v1", &d, &err), 0);

	free(before);
	sk_store_close(s);
	sk_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ref_valid),
	    cmocka_unit_test(test_ref_reference),
	    cmocka_unit_test(test_ref_invalid),
	    cmocka_unit_test(test_ref_long_tag),
	    cmocka_unit_test(test_challenge_bearer),
	    cmocka_unit_test(test_challenge_basic_and_errors),
	    cmocka_unit_test(test_cred_parse_auths),
	    cmocka_unit_test(test_cred_parse_helpers_and_errors),
	    cmocka_unit_test(test_cred_store_remove),
	    cmocka_unit_test(test_cred_lookup_order),
	    cmocka_unit_test(test_cred_lookup_env_files_as_root),
	    cmocka_unit_test(test_cred_helper),
	    cmocka_unit_test(test_store_writer),
	    cmocka_unit_test(test_archive_round_trip),
	    cmocka_unit_test(test_archive_hostile),
	    cmocka_unit_test(test_archive_hostile_sequences),
	    cmocka_unit_test(test_archive_destination),
	    cmocka_unit_test(test_archive_parent_swapped),
	    cmocka_unit_test(test_pull_refused_leaves_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
