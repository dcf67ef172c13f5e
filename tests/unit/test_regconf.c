/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.conf: the strict TOML subset reader, the version 2 semantics
 * (longest prefix, location rewrite, mirrors and pull-from-mirror, blocked),
 * drop-in merging, and the ownership rule for root.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "schedkit/transfer.h"
#include "transfer/internal.h"

static int parse(struct sk_regconf *c, const char *text, struct sk_error *err)
{
	return sk_regconf_parse(c, text, strlen(text), "t.conf", err);
}

static void endpoints(const struct sk_regconf *c, const char *refs, struct sk_endpoint **e,
		      size_t *n)
{
	struct sk_ref ref;
	struct sk_error err = {0};

	assert_int_equal(sk_ref_parse(refs, &ref, NULL), 0);
	assert_int_equal(sk_regconf_endpoints(c, &ref, e, n, &err), 0);
}

static void assert_ep(const struct sk_endpoint *e, const char *registry, const char *repo,
		      bool mirror)
{
	assert_string_equal(e->ref.registry, registry);
	assert_string_equal(e->ref.repo, repo);
	assert_int_equal(e->mirror, mirror);
}

/* The man page's example, and what it says a pull tries. */
static void test_man_example(void **state)
{
	static const char text[] = "unqualified-search-registries = [\"example.com\"]\n"
				   "\n"
				   "[[registry]]\n"
				   "prefix = \"example.com/foo\"\n"
				   "insecure = false\n"
				   "blocked = false\n"
				   "location = \"internal-registry-for-example.com/bar\"\n"
				   "\n"
				   "[[registry.mirror]]\n"
				   "location = \"example-mirror-0.local/mirror-for-foo\"\n"
				   "\n"
				   "[[registry.mirror]]\n"
				   "location = \"example-mirror-1.local/mirrors/foo\"\n"
				   "insecure = true\n"
				   "[[registry]]\n"
				   "location = \"registry.com\"\n"
				   "\n"
				   "[[registry.mirror]]\n"
				   "location = \"mirror.registry.com\"\n";
	struct sk_regconf c = {0};
	struct sk_error err = {0};
	struct sk_endpoint *e = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(parse(&c, text, &err), 0);
	assert_int_equal(c.n, 2);
	endpoints(&c, "example.com/foo/image:latest", &e, &n);
	assert_int_equal(n, 3);
	assert_ep(&e[0], "example-mirror-0.local", "mirror-for-foo/image", true);
	assert_ep(&e[1], "example-mirror-1.local", "mirrors/foo/image", true);
	assert_true(e[1].insecure);
	assert_false(e[0].insecure);
	assert_ep(&e[2], "internal-registry-for-example.com", "bar/image", false);
	assert_string_equal(e[2].ref.tag, "latest");
	assert_string_equal(e[0].label, "mirror example-mirror-0.local/mirror-for-foo/image");
	free(e);
	/* the mirrors of example.com/foo are not registry.com's */
	endpoints(&c, "registry.com/image:1", &e, &n);
	assert_int_equal(n, 2);
	assert_ep(&e[0], "mirror.registry.com", "image", true);
	assert_ep(&e[1], "registry.com", "image", false);
	free(e);
	/* "example.com/foobar" is not under "example.com/foo" */
	endpoints(&c, "example.com/foobar:1", &e, &n);
	assert_int_equal(n, 1);
	assert_ep(&e[0], "example.com", "foobar", false);
	free(e);
	sk_regconf_free(&c);
}

static void test_longest_prefix_and_digests(void **state)
{
	static const char text[] =
	    "[[registry]]\n"
	    "location = \"reg.example:5000\"\n"
	    "[[registry.mirror]]\n"
	    "location = \"all.example\"\n"
	    "\n"
	    "[[registry]]\n"
	    "prefix = \"reg.example:5000/scheds\"\n"
	    "location = \"reg.example:5000/scheds\"\n"
	    "[[registry.mirror]]\n"
	    "location = \"digests.example/m\"\n"
	    "pull-from-mirror = \"digest-only\"\n"
	    "[[registry.mirror]]\n"
	    "location = 'tags.example'   # literal string, comment after it\n"
	    "pull-from-mirror = \"tag-only\"\n"
	    "[[registry.mirror]]\n"
	    "location = \"any.example\"\n"
	    "pull-from-mirror = \"all\"\n";
	static const char digest[] =
	    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct sk_regconf c = {0};
	struct sk_error err = {0};
	struct sk_endpoint *e = NULL;
	char ref[256];
	size_t n = 0;

	(void)state;
	assert_int_equal(parse(&c, text, &err), 0);
	endpoints(&c, "reg.example:5000/scheds/vtime:stable", &e, &n);
	assert_int_equal(n, 3);
	assert_ep(&e[0], "tags.example", "vtime", true);
	assert_ep(&e[1], "any.example", "vtime", true);
	assert_ep(&e[2], "reg.example:5000", "scheds/vtime", false);
	free(e);
	snprintf(ref, sizeof(ref), "reg.example:5000/scheds/vtime@%s", digest);
	endpoints(&c, ref, &e, &n);
	assert_int_equal(n, 3);
	assert_ep(&e[0], "digests.example", "m/vtime", true);
	assert_string_equal(e[0].ref.digest, digest);
	assert_ep(&e[1], "any.example", "vtime", true);
	assert_ep(&e[2], "reg.example:5000", "scheds/vtime", false);
	free(e);
	/* the shorter prefix still serves the rest of the registry */
	endpoints(&c, "reg.example:5000/other:1", &e, &n);
	assert_int_equal(n, 2);
	assert_ep(&e[0], "all.example", "other", true);
	free(e);
	sk_regconf_free(&c);

	/* mirror-by-digest-only: every mirror only for digests */
	assert_int_equal(parse(&c,
			       "[[registry]]\nlocation = \"r.example\"\nmirror-by-digest-only = "
			       "true\n[[registry.mirror]]\nlocation = \"m.example\"\n",
			       &err),
			 0);
	endpoints(&c, "r.example/a:1", &e, &n);
	assert_int_equal(n, 1);
	assert_ep(&e[0], "r.example", "a", false);
	free(e);
	snprintf(ref, sizeof(ref), "r.example/a@%s", digest);
	endpoints(&c, ref, &e, &n);
	assert_int_equal(n, 2);
	assert_ep(&e[0], "m.example", "a", true);
	free(e);
	sk_regconf_free(&c);
}

static void test_blocked_and_wildcard(void **state)
{
	struct sk_regconf c = {0};
	struct sk_error err = {0};
	struct sk_endpoint *e = NULL;
	struct sk_ref ref;
	size_t n = 0;

	(void)state;
	assert_int_equal(parse(&c,
			       "[[registry]]\nprefix = \"*.corp.example\"\n[[registry.mirror]]\n"
			       "location = \"cache.example/corp\"\n\n[[registry]]\nlocation = "
			       "\"bad.example\"\nblocked = true\n",
			       &err),
			 0);
	endpoints(&c, "a.b.corp.example/x/y:1", &e, &n);
	assert_int_equal(n, 2);
	assert_ep(&e[0], "cache.example", "corp/x/y", true);
	assert_ep(&e[1], "a.b.corp.example", "x/y", false);
	free(e);
	/* the wildcard needs a subdomain */
	endpoints(&c, "corp.example/x:1", &e, &n);
	assert_int_equal(n, 1);
	free(e);
	assert_int_equal(sk_ref_parse("bad.example/x:1", &ref, NULL), 0);
	assert_int_equal(sk_regconf_endpoints(&c, &ref, &e, &n, &err), -EACCES);
	assert_non_null(strstr(err.msg, "blocked = true"));
	assert_non_null(strstr(err.msg, "t.conf:6"));
	sk_regconf_free(&c);
}

/* What podman's own files hold, which skrun reads and ignores. */
static void test_ignored_keys(void **state)
{
	static const char text[] =
	    "# comment\n"
	    "unqualified-search-registries = [\n"
	    "  \"registry.fedoraproject.org\", # trailing comment\n"
	    "  'docker.io',\n"
	    "]\n"
	    "short-name-mode = \"enforcing\"\n"
	    "credential-helpers = []\n"
	    "[aliases]\n"
	    "  \"almalinux\" = \"docker.io/library/almalinux\"\n"
	    "  \"opensuse/leap\" = \"registry.opensuse.org/opensuse/leap\"\r\n"
	    "  plain-key = \"a\\u0041\\t\"\n"
	    "[registries.search]\n"
	    "registries = ['registry1.com']\n";
	struct sk_regconf c = {0};
	struct sk_error err = {0};
	struct sk_endpoint *e = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(parse(&c, text, &err), 0);
	assert_int_equal(c.n, 0);
	endpoints(&c, "docker.io/library/alpine:3", &e, &n);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].ref.host, SK_DOCKER_HUB_API);
	free(e);
	sk_regconf_free(&c);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"[[registry]]\nlocation = \"r.example\"\nport = \"5000\"\n",
	     "t.conf:3: unknown key \"port\""},
	    {"[[registry]]\nlocation = \"r.example\"\ninsecure = 1\n",
	     "t.conf:3: unsupported value"},
	    {"[[registry]]\nlocation = \"r.example\"\ninsecure = \"yes\"\n",
	     "t.conf:3: insecure must be true or false"},
	    {"[[registry]]\nlocation = {a = \"b\"}\n", "t.conf:2: inline tables"},
	    {"[[registry]]\nlocation = \"r.example\n", "t.conf:2: string not closed"},
	    {"[[registry]]\nlocation = \"\"\"r.example\"\"\"\n", "t.conf:2: multi-line strings"},
	    {"unqualified-search-registries = [\"a\",\n\"b\"\n", "array not closed"},
	    {"unqualified-search-registries = [\"a\", true]\n",
	     "t.conf:1: arrays here hold strings"},
	    {"[[registry]]\nmirror.location = \"m.example\"\n", "t.conf:2: dotted key"},
	    {"[[registry]]\nlocation = \"r.example\"\nlocation = \"s.example\"\n",
	     "t.conf:3: location is set twice"},
	    {"[registry]\nlocation = \"r.example\"\n", "t.conf:1: [registry] must be an array"},
	    {"[[registry.mirror]]\nlocation = \"m.example\"\n",
	     "t.conf:1: [[registry.mirror]] before"},
	    {"[registries.insecure]\nregistries = [\"r.example\"]\n",
	     "t.conf:1: [registries.insecure] is "
	     "the deprecated version 1"},
	    {"[[registry]]\nlocation = \"r.example\"\n[[registry.mirror]]\nlocation = "
	     "\"m.example\"\npull-from-mirror = \"sometimes\"\n",
	     "t.conf:5: pull-from-mirror is \"sometimes\""},
	    {"[[registry]]\nprefix = \"*.example.com\"\nlocation = \"r.example\"\n",
	     "t.conf:1: prefix \"*.example.com\" is a wildcard"},
	    {"[[registry]]\nprefix = \"*.example.com:5000\"\n", "a wildcard is only *.DOMAIN"},
	    {"[[registry]]\nprefix = \"r.example/repo:tag\"\n",
	     "t.conf:1: prefix \"r.example/repo:tag\" "
	     "is not HOST"},
	    {"[[registry]]\nlocation = \"nodots/repo\"\n",
	     "t.conf:1: prefix \"nodots/repo\" is not"},
	    {"[[registry]]\nprefix = \"r.example\"\nlocation = \"nodots\"\n",
	     "t.conf:1: location \"nodots\" is not HOST"},
	    {"[[registry]]\nlocation = \"r.example\"\n[[registry.mirror]]\ninsecure = true\n",
	     "t.conf:3: a mirror needs location"},
	    {"[[registry]]\nlocation = \"r.example\"\nmirror-by-digest-only = true\n"
	     "[[registry.mirror]]\nlocation = \"m.example\"\npull-from-mirror = \"tag-only\"\n",
	     "t.conf:4: pull-from-mirror is not allowed"},
	    {"[[registry]]\nlocation = \"r.example\"\n[[registry]]\nprefix = \"r.example\"\n",
	     "t.conf:3: prefix \"r.example\" already has a [[registry]] at t.conf:1"},
	    {"[[registry]]\ninsecure = true\n",
	     "t.conf:1: [[registry]] needs a prefix or a location"},
	    {"[[registry]]\nlocation = \"r.example\" junk\n", "t.conf:2: unexpected 'j'"},
	    {"[[registry]\n", "t.conf:1: table header not closed"},
	    {"[mirrors]\n", "t.conf:1: unknown table mirrors"},
	    {"registry = \"r.example\"\n", "t.conf:1: registry is a table, not a key"},
	    {"[[registry]]\nlocation = \"r\\qexample\"\n", "t.conf:2: unknown escape \\q"},
	    {"[[registry]]\nlocation\n", "t.conf:2: expected '='"},
	    {"[[registry]]\n= \"r.example\"\n", "t.conf:2: expected a key"},
	    {"[aliases]\na = \"x\"\n[aliases]\n", "t.conf:3: [aliases] appears twice"},
	};
	struct sk_regconf c = {0};

	(void)state;
	/* a good configuration first: a refused file must leave it as it was */
	assert_int_equal(parse(&c, "[[registry]]\nlocation = \"keep.example\"\n", NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sk_error err = {0};
		int ret = parse(&c, cases[i].text, &err);

		if (ret != -EINVAL || !strstr(err.msg, cases[i].want))
			fail_msg("case %zu: got %d \"%s\", want \"%s\"", i, ret, err.msg,
				 cases[i].want);
		assert_int_equal(c.n, 1);
		assert_string_equal(c.reg[0].location, "keep.example");
	}
	{
		struct sk_error err = {0};
		char nul[] = "[[registry]]\nlocation = \"r.example\"\n\0x";

		assert_int_equal(sk_regconf_parse(&c, nul, sizeof(nul) - 1, "t.conf", &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "NUL byte"));
	}
	sk_regconf_free(&c);
}

/* Drop-ins: a later file's [[registry]] replaces the same prefix, adds the others. */
static void test_dropin_merge(void **state)
{
	struct sk_regconf c = {0};
	struct sk_error err = {0};
	struct sk_endpoint *e = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(
	    parse(&c,
		  "[[registry]]\nlocation = \"a.example\"\n[[registry.mirror]]\n"
		  "location = \"old.example\"\n[[registry]]\nlocation = \"b.example\"\n",
		  &err),
	    0);
	assert_int_equal(
	    sk_regconf_parse(&c,
			     "[[registry]]\nprefix = \"a.example\"\n[[registry.mirror]]"
			     "\nlocation = \"new.example\"\n[[registry]]\nlocation = "
			     "\"c.example\"\n",
			     strlen("[[registry]]\nprefix = \"a.example\"\n[[registry."
				    "mirror]]\nlocation = \"new.example\"\n[[registry]]"
				    "\nlocation = \"c.example\"\n"),
			     "50-drop.conf", &err),
	    0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.files.n, 2);
	endpoints(&c, "a.example/x:1", &e, &n);
	assert_int_equal(n, 2);
	assert_ep(&e[0], "new.example", "x", true);
	assert_non_null(strstr(c.reg[0].where, "50-drop.conf:1"));
	free(e);
	endpoints(&c, "b.example/x:1", &e, &n);
	assert_int_equal(n, 1);
	free(e);
	sk_regconf_free(&c);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_files(void **state)
{
	char dir[] = "/tmp/test_regconf.XXXXXX", path[256];
	struct sk_regconf c = {0};
	struct sk_error err = {0};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/registries.conf", dir);
	write_file(path, "[[registry]]\nlocation = \"r.example\"\n", 0644);
	assert_int_equal(sk_regconf_load_file(path, true, true, &c, &err), geteuid() ? -EPERM : 0);
	sk_regconf_free(&c);
	/* the override alone is read, and names itself in the error */
	write_file(path, "[[registry]]\nlocation = \"r.example\"\nblocked = maybe\n", 0644);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sk_regconf_load(path, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "registries.conf:3: unsupported value"));
	assert_int_equal(c.n, 0);
	/* the same through the environment podman and skopeo honour */
	setenv(SK_REGCONF_ENV, path, 1);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sk_regconf_load(NULL, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "registries.conf:3"));
	unsetenv(SK_REGCONF_ENV);
	write_file(path, "[[registry]]\nlocation = \"r.example\"\n", 0666);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sk_regconf_load_file(path, true, true, &c, &err), -EPERM);
	assert_non_null(strstr(err.msg, "writable by group or others (mode 0666)"));
	/* not as root: the rule does not apply */
	assert_int_equal(sk_regconf_load_file(path, false, true, &c, &err), 0);
	assert_int_equal(c.n, 1);
	sk_regconf_free(&c);
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0644), 0);
		assert_int_equal(chown(path, 65534, 65534), 0);
		memset(&err, 0, sizeof(err));
		assert_int_equal(sk_regconf_load_file(path, true, true, &c, &err), -EPERM);
		assert_non_null(strstr(err.msg, "owned by uid 65534, not root"));
	}
	/* a missing override is an error; a missing default file is not */
	unlink(path);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sk_regconf_load(path, &c, &err), -ENOENT);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(sk_regconf_load_file(path, true, false, &c, &err), 0);
	/* a directory is not a configuration */
	memset(&err, 0, sizeof(err));
	assert_int_equal(sk_regconf_load_file(dir, true, true, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));
	rmdir(dir);
}

/* The route a pull takes: per-endpoint options, and how failures are told. */
static void test_route(void **state)
{
	char path[] = "/tmp/test_regconf_route.XXXXXX";
	struct sk_strv ins = {0};
	struct sk_registry_opts reg = {.username = "u", .password = "p", .insecure = &ins};
	struct sk_source src = {0};
	struct sk_route r;
	struct sk_error err = {0};
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_file(
	    path,
	    "[[registry]]\nlocation = \"r.example/s\"\n[[registry.mirror]]\nlocation = "
	    "\"m1.example\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"m2.example\"\n",
	    0644);
	assert_int_equal(sk_strv_push(&ins, "cli.example"), 0);
	assert_int_equal(sk_source_parse("r.example/s/x:1", &src, NULL), 0);
	reg.registries_conf = path;
	assert_int_equal(sk_route_open(&src, &reg, &r, &err), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.via[0].ref.registry, "m1.example");
	assert_string_equal(r.via[0].ref.repo, "x");
	assert_string_equal(r.via[2].ref.registry, "r.example");
	/* the command's credentials go to the registry it names, not to mirrors */
	assert_null(r.reg[0].username);
	assert_null(r.reg[1].username);
	assert_string_equal(r.reg[2].username, "u");
	/* the command's insecure hosts everywhere, the mirror's own where it says so */
	assert_true(sk_strv_contains(r.reg[0].insecure, "cli.example"));
	assert_true(sk_strv_contains(r.reg[0].insecure, "m1.example"));
	assert_false(sk_strv_contains(r.reg[1].insecure, "m1.example"));
	/* a mirror down: the next one; a full disk here: no other endpoint helps */
	sk_errf(&err, -ECONNREFUSED, "connection refused");
	assert_true(sk_route_next(&r, 0, &err));
	sk_errf(&err, -ENOSPC, "no space left");
	assert_false(sk_route_next(&r, 1, &err));
	assert_int_equal(err.code, -ENOSPC);
	assert_non_null(strstr(err.msg, "no endpoint served it (2 tried): mirror m1.example/x: "
					"connection refused; mirror m2.example/x: no space left"));
	sk_route_free(&r);
	/* all three fail: each is named, with the primary's code */
	assert_int_equal(sk_route_open(&src, &reg, &r, &err), 0);
	for (size_t i = 0; i < 3; i++) {
		sk_errf(&err, i == 2 ? -EHOSTUNREACH : -ENOENT, "reason %zu", i);
		assert_int_equal(sk_route_next(&r, i, &err), i < 2);
	}
	assert_int_equal(err.code, -EHOSTUNREACH);
	assert_non_null(strstr(err.msg,
			       "(3 tried): mirror m1.example/x: reason 0; mirror "
			       "m2.example/x: reason 1; registry r.example/s/x: reason 2"));
	sk_route_free(&r);
	sk_source_free(&src);
	sk_strv_free(&ins);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_man_example),
	    cmocka_unit_test(test_longest_prefix_and_digests),
	    cmocka_unit_test(test_blocked_and_wildcard),
	    cmocka_unit_test(test_ignored_keys),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_dropin_merge),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
