/* SPDX-License-Identifier: Apache-2.0 */
/* Leases, listing and garbage collection of the content store (lib/store/gc.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "schedkit/common.h"
#include "schedkit/oci.h"
#include "schedkit/store.h"

struct art {
	char manifest[SK_DIGEST_MAX], config[SK_DIGEST_MAX], layer[SK_DIGEST_MAX];
	int64_t size;
};

static char *make_store(struct sk_store **s)
{
	char *dir = strdup("/tmp/sk-test-gc.XXXXXX");
	struct sk_error err = {0};

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sk_store_open(dir, s, &err), 0);
	return dir;
}

static void put(struct sk_store *s, const char *text, char digest[SK_DIGEST_MAX])
{
	struct sk_error err = {0};

	sk_digest_buf(text, strlen(text), digest);
	assert_int_equal(sk_store_put(s, text, strlen(text), digest, &err), 0);
}

static bool there(struct sk_store *s, const char *digest)
{
	return sk_store_has_blob(s, digest, -1);
}

/* A manifest with a config and a layer, recorded as name (NULL: not recorded). */
static void artifact(struct sk_store *s, const char *name, const char *tag, struct art *a)
{
	struct sk_descriptor d = {0};
	struct sk_error err = {0};
	char cfg[64], layer[64], m[1024];

	snprintf(cfg, sizeof(cfg), "{\"c\":\"%s\"}", tag);
	snprintf(layer, sizeof(layer), "ELF-layer-%s", tag);
	put(s, cfg, a->config);
	put(s, layer, a->layer);
	snprintf(
	    m, sizeof(m),
	    "{\"schemaVersion\":2,\"mediaType\":\"" SK_MT_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" SK_MT_SCHED_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"" SK_MT_SCHED_BPF "\",\"digest\":\"%s\",\"size\":%zu}]}",
	    a->config, strlen(cfg), a->layer, strlen(layer));
	put(s, m, a->manifest);
	a->size = (int64_t)(strlen(cfg) + strlen(layer) + strlen(m));
	if (!name)
		return;
	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	snprintf(d.digest, sizeof(d.digest), "%s", a->manifest);
	d.size = (int64_t)strlen(m);
	assert_int_equal(sk_store_record(s, name, &d, &err), 0);
}

static bool all_there(struct sk_store *s, const struct art *a)
{
	return there(s, a->manifest) && there(s, a->config) && there(s, a->layer);
}

static bool none_there(struct sk_store *s, const struct art *a)
{
	return !there(s, a->manifest) && !there(s, a->config) && !there(s, a->layer);
}

static void gc(struct sk_store *s, struct sk_store_gc_report *r)
{
	struct sk_error err = {0};

	assert_int_equal(sk_store_gc(s, r, &err), 0);
}

static void test_unreferenced_collected(void **state)
{
	struct sk_store *s;
	char *dir = make_store(&s), stray[SK_DIGEST_MAX];
	struct sk_store_gc_report r;
	struct art a;

	(void)state;
	artifact(s, "r.example/a:1", "a", &a);
	put(s, "left behind by an interrupted pull", stray);
	gc(s, &r);
	assert_int_equal(r.removed, 1);
	assert_int_equal(r.freed, strlen("left behind by an interrupted pull"));
	assert_int_equal(r.kept, 3);
	assert_int_equal(r.leased, 0);
	assert_false(there(s, stray));
	assert_true(all_there(s, &a));
	sk_store_gc_report_free(&r);
	sk_store_close(s);
	sk_rm_rf(dir);
	free(dir);
}

static void test_lease_keeps_what_a_digest_reaches(void **state)
{
	const char *names[] = {"r.example/a:1"};
	struct sk_store_lease *l = NULL;
	struct sk_store_gc_report r;
	struct sk_error err = {0};
	struct sk_store *s;
	char *dir = make_store(&s);
	size_t removed = 0;
	struct art a;

	(void)state;
	artifact(s, names[0], "a", &a);
	assert_int_equal(sk_store_lease_new(s, "skrun run (pid 1)", &l, &err), 0);
	/* the top digest alone: its config and layer are kept through it */
	assert_int_equal(sk_store_lease_add(l, a.manifest, &err), 0);
	assert_int_equal(sk_store_remove(s, names, 1, &removed, &err), 0);
	assert_int_equal(removed, 1);
	gc(s, &r);
	assert_int_equal(r.removed, 0);
	assert_int_equal(r.leased, 3);
	assert_int_equal(r.holders.n, 1);
	assert_non_null(strstr(r.holders.v[0], "skrun run (pid 1): sha256:"));
	assert_true(all_there(s, &a));
	sk_store_gc_report_free(&r);
	/* the lease ends: nothing keeps them */
	sk_store_lease_release(l);
	gc(s, &r);
	assert_int_equal(r.removed, 3);
	assert_true(none_there(s, &a));
	sk_store_gc_report_free(&r);
	sk_store_close(s);
	sk_rm_rf(dir);
	free(dir);
}

static void test_lease_set_replaces(void **state)
{
	struct sk_store_lease *l = NULL;
	struct sk_store_gc_report r;
	struct sk_error err = {0};
	struct sk_store *s;
	char *dir = make_store(&s);
	struct art a, b;
	const char *now[] = {NULL, ""};

	(void)state;
	artifact(s, NULL, "a", &a);
	artifact(s, NULL, "b", &b);
	assert_int_equal(sk_store_lease_new(s, "switching", &l, &err), 0);
	assert_int_equal(sk_store_lease_add(l, a.manifest, &err), 0);
	assert_int_equal(sk_store_lease_add(l, b.manifest, &err), 0);
	now[0] = b.manifest;
	assert_int_equal(sk_store_lease_set(l, now, 2, &err), 0);
	gc(s, &r);
	assert_true(none_there(s, &a));
	assert_true(all_there(s, &b));
	sk_store_gc_report_free(&r);
	assert_int_equal(sk_store_lease_add(l, "sha256:nope", &err), -EINVAL);
	sk_store_lease_release(l);
	sk_store_close(s);
	sk_rm_rf(dir);
	free(dir);
}

/* A lease file nobody holds a flock on belongs to a process that is gone. */
static void test_stale_lease_reaped(void **state)
{
	struct sk_store_lease *live = NULL;
	struct sk_store_gc_report r;
	struct sk_error err = {0};
	struct sk_store *s;
	char *dir = make_store(&s), path[600], text[256];
	struct art a;
	FILE *f;

	(void)state;
	artifact(s, NULL, "a", &a);
	/* creating a lease makes DIR/leases; then a dead holder's file beside it */
	assert_int_equal(sk_store_lease_new(s, "alive", &live, &err), 0);
	snprintf(path, sizeof(path), "%s/leases/lease-999999-dead", dir);
	snprintf(text, sizeof(text), "owner a killed skrun run\n%s\n", a.manifest);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	gc(s, &r);
	assert_int_equal(r.stale_leases, 1);
	assert_int_equal(r.removed, 3);
	assert_true(none_there(s, &a));
	assert_int_equal(access(path, F_OK), -1);
	sk_store_gc_report_free(&r);
	sk_store_lease_release(live);
	sk_store_close(s);
	sk_rm_rf(dir);
	free(dir);
}

/* Signatures stay with their subject, and go with its last name. */
static void test_signatures_follow_their_subject(void **state)
{
	const char *names[] = {"r.example/a:1"};
	struct sk_store_lease *l = NULL;
	struct sk_store_gc_report r;
	struct sk_error err = {0};
	struct sk_descriptor d;
	struct sk_store *s;
	char *dir = make_store(&s), tag[128];
	struct art a, sig;

	(void)state;
	artifact(s, names[0], "a", &a);
	snprintf(tag, sizeof(tag), "sha256-%s.sig", a.manifest + 7);
	artifact(s, tag, "signature", &sig);
	gc(s, &r);
	assert_int_equal(r.removed, 0);
	assert_int_equal(r.sig_entries, 0);
	sk_store_gc_report_free(&r);
	/* the name goes while a lease holds the digest: its signatures stay */
	assert_int_equal(sk_store_lease_new(s, "running", &l, &err), 0);
	assert_int_equal(sk_store_lease_add(l, a.manifest, &err), 0);
	assert_int_equal(sk_store_remove(s, names, 1, NULL, &err), 0);
	gc(s, &r);
	assert_int_equal(r.sig_entries, 0);
	assert_true(all_there(s, &sig));
	sk_store_gc_report_free(&r);
	sk_store_lease_release(l);
	gc(s, &r);
	assert_int_equal(r.sig_entries, 1);
	assert_int_equal(r.removed, 6);
	assert_true(none_there(s, &sig));
	assert_int_equal(sk_layout_resolve(sk_store_layout(s), tag, &d, NULL), -ENOENT);
	sk_store_gc_report_free(&r);
	sk_store_close(s);
	sk_rm_rf(dir);
	free(dir);
}

static void test_list(void **state)
{
	const char *names[] = {"r.example/b:1"};
	struct sk_store_lease *l = NULL;
	struct sk_store_entry *e = NULL;
	struct sk_error err = {0};
	struct sk_store *s;
	char *dir = make_store(&s), path[600], tag[128];
	size_t n = 0;
	struct art a, b, sig;
	struct stat st;

	(void)state;
	/* listing a store nobody leased from creates nothing in it */
	assert_int_equal(sk_store_list(s, &e, &n, &err), 0);
	assert_int_equal(n, 0);
	snprintf(path, sizeof(path), "%s/leases", dir);
	assert_int_equal(stat(path, &st), -1);
	sk_store_list_free(e, n);

	artifact(s, "r.example/a:1", "a", &a);
	artifact(s, names[0], "b", &b);
	snprintf(tag, sizeof(tag), "sha256-%s.sig", a.manifest + 7);
	artifact(s, tag, "signature", &sig);
	assert_int_equal(sk_store_lease_new(s, "skrun run (pid 7)", &l, &err), 0);
	assert_int_equal(sk_store_lease_add(l, b.manifest, &err), 0);
	assert_int_equal(sk_store_remove(s, names, 1, NULL, &err), 0);
	assert_int_equal(sk_store_list(s, &e, &n, &err), 0);
	/* a:1 by name (its signature entry folded into it), then b unnamed, in use */
	assert_int_equal(n, 2);
	assert_string_equal(e[0].name, "r.example/a:1");
	assert_string_equal(e[0].digest, a.manifest);
	assert_true(e[0].signatures);
	assert_true(e[0].present);
	assert_int_equal(e[0].size, a.size);
	assert_int_equal(e[0].in_use.n, 0);
	assert_null(e[1].name);
	assert_string_equal(e[1].digest, b.manifest);
	assert_false(e[1].signatures);
	assert_int_equal(e[1].in_use.n, 1);
	assert_string_equal(e[1].in_use.v[0], "skrun run (pid 7)");
	sk_store_list_free(e, n);
	sk_store_lease_release(l);
	sk_store_close(s);
	sk_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unreferenced_collected),
	    cmocka_unit_test(test_lease_keeps_what_a_digest_reaches),
	    cmocka_unit_test(test_lease_set_replaces),
	    cmocka_unit_test(test_stale_lease_reaped),
	    cmocka_unit_test(test_signatures_follow_their_subject),
	    cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
