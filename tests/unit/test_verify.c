/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing and verifying artifacts without a registry: signatures written into
 * a layout, judged there, carried into the store by a pull and judged again
 * from the store; the unverified mark; .sig entries never taken for the
 * artifact. (The registry paths are in tests/host/sign_*.sh and verify_*.sh.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "schedkit/registry.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

#define REPO "registry.example/team/sched"

struct state {
	char tmp[64];
	char pub[128], other_pub[128];
	struct sk_key *key, *other;
};

static void write_pub(const struct sk_key *k, const char *path)
{
	struct sk_buf pem = {0};
	struct sk_error err = {0};

	if (sk_key_public_pem(k, &pem, &err) ||
	    sk_write_file_atomic(path, pem.data, pem.len, 0644, &err))
		fail_msg("%s", err.msg);
	sk_buf_free(&pem);
}

static int group_setup(void **st)
{
	struct state *s = calloc(1, sizeof(*s));
	struct sk_error err = {0};

	if (!s)
		return -1;
	snprintf(s->tmp, sizeof(s->tmp), "/tmp/sk-test-verify-XXXXXX");
	if (!mkdtemp(s->tmp) || sk_key_generate(&s->key, &err) || sk_key_generate(&s->other, &err))
		return -1;
	snprintf(s->pub, sizeof(s->pub), "%s/k.pub", s->tmp);
	snprintf(s->other_pub, sizeof(s->other_pub), "%s/other.pub", s->tmp);
	write_pub(s->key, s->pub);
	write_pub(s->other, s->other_pub);
	*st = s;
	return 0;
}

static int group_teardown(void **st)
{
	struct state *s = *st;

	sk_key_free(s->key);
	sk_key_free(s->other);
	sk_rm_rf(s->tmp);
	free(s);
	return 0;
}

/* A one-manifest layout (config + one layer) tagged tag; its manifest digest out. */
static void make_layout(const char *dir, const char *tag, const char *seed,
			char digest[SK_DIGEST_MAX])
{
	struct sk_layout *l = NULL;
	struct sk_error err = {0};
	struct sk_descriptor d = {0};
	char cfg[SK_DIGEST_MAX], layer[SK_DIGEST_MAX], *m = NULL;
	const char *cfg_data = "{}";
	int n;

	if (sk_layout_create(dir, &l, &err) ||
	    sk_layout_put_blob(l, cfg_data, strlen(cfg_data), cfg, &err) ||
	    sk_layout_put_blob(l, seed, strlen(seed), layer, &err))
		fail_msg("%s", err.msg);
	n = asprintf(&m,
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		     "\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"%s\",\"digest\":"
		     "\"%s\",\"size\":%zu}]}",
		     SK_MT_MANIFEST, SK_MT_SCHED_CONFIG, cfg, SK_MT_SCHED_BPF, layer, strlen(seed));
	assert_true(n > 0);
	if (sk_layout_put_blob(l, m, (size_t)n, digest, &err))
		fail_msg("%s", err.msg);
	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	snprintf(d.digest, sizeof(d.digest), "%s", digest);
	d.size = n;
	if (sk_layout_add_manifest(l, &d, tag, &err))
		fail_msg("%s", err.msg);
	free(m);
	sk_layout_close(l);
}

static void sign(struct state *s, const char *target, const struct sk_key *k, const char *identity)
{
	struct sk_sign_opts o = {.identity = identity};
	struct sk_sign_result r = {0};
	struct sk_error err = {0};

	if (sk_sign_artifact(target, k, &o, &r, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(r.signed_digests.n, 1);
	sk_sign_result_free(&r);
	(void)s;
}

static void test_sign_and_verify_layout(void **st)
{
	struct state *s = *st;
	const char *keys[] = {s->pub, NULL}, *others[] = {s->other_pub, NULL};
	struct sk_verify_opts o = {.keys = keys, .identity = REPO};
	struct sk_verify_result r = {0};
	struct sk_error err = {0};
	char dir[128], src[160], digest[SK_DIGEST_MAX];

	snprintf(dir, sizeof(dir), "%s/lay1", s->tmp);
	snprintf(src, sizeof(src), "%s:v1", dir);
	make_layout(dir, "v1", "one", digest);
	assert_int_equal(sk_trust_verify_source(src, NULL, &o, &r, &err), -EKEYREJECTED);
	assert_int_equal(r.reason, SK_TRUST_NO_SIGNATURE);
	assert_non_null(strstr(err.msg, "no signature for"));
	sk_verify_result_free(&r);

	sign(s, src, s->key, REPO);
	assert_int_equal(sk_trust_verify_source(src, NULL, &o, &r, &err), 0);
	assert_string_equal(r.digest, digest);
	assert_string_equal(r.identity, REPO);
	assert_int_equal(r.matched.n, 1);
	assert_string_equal(r.matched.v[0], s->pub);
	assert_int_equal(r.nsigs, 1);
	sk_verify_result_free(&r);

	/* the layout's tag is no repository: the identity must be given */
	o.identity = NULL;
	assert_int_equal(sk_trust_verify_source(src, NULL, &o, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--identity"));
	o.identity = "registry.example/team/other";
	assert_int_equal(sk_trust_verify_source(src, NULL, &o, &r, &err), -EKEYREJECTED);
	assert_int_equal(r.reason, SK_TRUST_OTHER_REPO);
	sk_verify_result_free(&r);

	o.identity = REPO;
	o.keys = others;
	assert_int_equal(sk_trust_verify_source(src, NULL, &o, &r, &err), -EKEYREJECTED);
	assert_int_equal(r.reason, SK_TRUST_NOT_VERIFIED);
	sk_verify_result_free(&r);

	/* a second key adds a signature, the first stays */
	sign(s, src, s->other, REPO);
	assert_int_equal(sk_trust_verify_source(src, NULL, &o, &r, &err), 0);
	assert_int_equal(r.nsigs, 2);
	sk_verify_result_free(&r);
	o.keys = keys;
	assert_int_equal(sk_trust_verify_source(src, NULL, &o, &r, &err), 0);
	sk_verify_result_free(&r);
}

static void test_identity_from_ref_name(void **st)
{
	struct state *s = *st;
	const char *keys[] = {s->pub, NULL};
	struct sk_verify_opts o = {.keys = keys};
	struct sk_verify_result r = {0};
	struct sk_error err = {0};
	struct sk_layout *l = NULL;
	struct sk_descriptor d;
	char dir[128], digest[SK_DIGEST_MAX];

	snprintf(dir, sizeof(dir), "%s/lay2", s->tmp);
	make_layout(dir, REPO ":v2", "two", digest);
	/* signed and verified with no identity option: the entry names the repository */
	sign(s, dir, s->key, NULL);
	assert_int_equal(sk_trust_verify_source(dir, NULL, &o, &r, &err), 0);
	assert_string_equal(r.identity, REPO);
	sk_verify_result_free(&r);
	/* the .sig entry is in the layout, and does not count as a second artifact */
	assert_int_equal(sk_layout_open(dir, &l, &err), 0);
	assert_int_equal(sk_layout_resolve(l, NULL, &d, &err), -EINVAL);
	assert_int_equal(sk_layout_resolve_artifact(l, NULL, &d, &err), 0);
	assert_string_equal(d.digest, digest);
	sk_layout_close(l);

	/* a pull recording another name still checks the repository the entry names */
	{
		struct sk_verify_opts vo = {.keys = keys};
		struct sk_verify_result vr = {0};
		struct sk_pull_opts po = {.verify = &vo, .result = &vr, .record_as = "local"};
		struct sk_store *store = NULL;
		char sdir[128], got[SK_DIGEST_MAX];

		snprintf(sdir, sizeof(sdir), "%s/store2", s->tmp);
		assert_int_equal(sk_store_open(sdir, &store, &err), 0);
		if (sk_pull(store, dir, &po, got, NULL, &err))
			fail_msg("%s", err.msg);
		assert_string_equal(vr.identity, REPO);
		sk_verify_result_free(&vr);
		sk_store_close(store);
	}
}

static bool has_entry(struct sk_store *st, const char *name, const char *digest)
{
	struct sk_descriptor d;

	return !sk_layout_resolve(sk_store_layout(st), name, &d, NULL) && !strcmp(d.digest, digest);
}

static void test_pull_keeps_signatures(void **st)
{
	struct state *s = *st;
	const char *keys[] = {s->pub, NULL}, *others[] = {s->other_pub, NULL};
	struct sk_verify_opts vo = {.keys = keys, .identity = REPO};
	struct sk_verify_result vr = {0};
	struct sk_pull_opts po = {.verify = &vo, .result = &vr};
	struct sk_verify_opts o = {.keys = keys};
	struct sk_verify_result r = {0};
	struct sk_error err = {0};
	struct sk_store *store = NULL;
	char dir[128], sdir[128], src[160], digest[SK_DIGEST_MAX], got[SK_DIGEST_MAX];
	char tag[SK_SIG_TAG_MAX], name[SK_REF_STRING_MAX];

	snprintf(dir, sizeof(dir), "%s/lay3", s->tmp);
	snprintf(sdir, sizeof(sdir), "%s/store3", s->tmp);
	snprintf(src, sizeof(src), "%s:v3", dir);
	make_layout(dir, "v3", "three", digest);
	sign(s, src, s->key, REPO);
	assert_int_equal(sk_store_open(sdir, &store, &err), 0);

	/* --key of another key: refused, nothing recorded */
	vo.keys = others;
	assert_int_equal(sk_pull(store, src, &po, got, name, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.msg, "nothing was stored"));
	assert_false(has_entry(store, "v3", digest));
	sk_verify_result_free(&vr);

	vo.keys = keys;
	if (sk_pull(store, src, &po, got, name, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(got, digest);
	assert_true(has_entry(store, "v3", digest));
	assert_int_equal(vr.matched.n, 1);
	sk_verify_result_free(&vr);
	assert_int_equal(sk_sig_tag(digest, tag, &err), 0);
	{
		struct sk_descriptor d;

		/* the signatures sit in the store next to what they sign */
		assert_int_equal(sk_layout_resolve(sk_store_layout(store), tag, &d, &err), 0);
	}

	/* offline, from the store */
	assert_int_equal(sk_trust_verify_stored(store, REPO, digest, &o, &r, &err), 0);
	assert_int_equal(r.matched.n, 1);
	sk_verify_result_free(&r);
	assert_int_equal(sk_trust_verify_stored(store, REPO ":v3", digest, &o, &r, &err), 0);
	sk_verify_result_free(&r);
	assert_int_equal(sk_trust_verify_stored(store, "registry.example/x", digest, &o, &r, &err),
			 -EKEYREJECTED);
	assert_int_equal(r.reason, SK_TRUST_OTHER_REPO);
	sk_verify_result_free(&r);
	o.keys = others;
	assert_int_equal(sk_trust_verify_stored(store, REPO, digest, &o, &r, &err), -EKEYREJECTED);
	sk_verify_result_free(&r);
	assert_int_equal(sk_trust_verify_stored(store, REPO, "sha256:nope", &o, &r, &err), -EINVAL);

	/*
	 * A later signature by another key: while the stored one satisfies the
	 * policy the source is not asked; when the policy wants the other key,
	 * the new signature is fetched, verified and kept next to the stored one.
	 */
	sign(s, src, s->other, REPO);
	vo.keys = others;
	if (sk_pull(store, src, &po, got, name, &err))
		fail_msg("%s", err.msg);
	sk_verify_result_free(&vr);
	assert_int_equal(sk_trust_verify_stored(store, REPO, digest, &o, &r, &err), 0);
	assert_int_equal(r.nsigs, 2);
	sk_verify_result_free(&r);
	sk_store_close(store);
}

static const char *entry_annotation(const char *sdir, const char *name, const char *key)
{
	static char out[256];
	struct json_object *idx = NULL, *list, *e, *a;
	struct sk_error err = {0};
	uint8_t *data = NULL;
	size_t len = 0;
	char path[256];

	snprintf(path, sizeof(path), "%s/index.json", sdir);
	if (sk_read_file(path, 1 << 20, &data, &len, &err) ||
	    sk_json_parse(data, len, path, &idx, &err))
		fail_msg("%s", err.msg);
	snprintf(out, sizeof(out), "-");
	json_object_object_get_ex(idx, "manifests", &list);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(e, "annotations", &a) &&
		    sk_json_str(a, SK_ANN_REF_NAME) &&
		    !strcmp(sk_json_str(a, SK_ANN_REF_NAME), name))
			snprintf(out, sizeof(out), "%s",
				 sk_json_str(a, key) ? sk_json_str(a, key) : "-");
	}
	json_object_put(idx);
	free(data);
	return out;
}

/* Entries of index.json for digest that carry no name. */
static int unnamed_entries(const char *sdir, const char *digest)
{
	struct json_object *idx = NULL, *list, *e, *a;
	struct sk_error err = {0};
	uint8_t *data = NULL;
	size_t len = 0;
	char path[256];
	int n = 0;

	snprintf(path, sizeof(path), "%s/index.json", sdir);
	if (sk_read_file(path, 1 << 20, &data, &len, &err) ||
	    sk_json_parse(data, len, path, &idx, &err))
		fail_msg("%s", err.msg);
	json_object_object_get_ex(idx, "manifests", &list);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		if (!strcmp(sk_json_str(e, "digest"), digest) &&
		    !(json_object_object_get_ex(e, "annotations", &a) &&
		      sk_json_str(a, SK_ANN_REF_NAME)))
			n++;
	}
	json_object_put(idx);
	free(data);
	return n;
}

static void test_unverified_mark(void **st)
{
	struct state *s = *st;
	static const char *const mark[] = {SK_ANN_VERIFIED "=false", NULL};
	static const char *const bad[] = {"novalue", NULL};
	const char *keys[] = {s->pub, NULL};
	struct sk_verify_opts vo = {.keys = keys, .identity = REPO};
	struct sk_verify_result vr = {0};
	struct sk_pull_opts po = {.record_annotations = mark};
	struct sk_error err = {0};
	struct sk_store *store = NULL;
	struct sk_descriptor d = {0};
	char dir[128], sdir[128], src[160], digest[SK_DIGEST_MAX], got[SK_DIGEST_MAX];

	snprintf(dir, sizeof(dir), "%s/lay4", s->tmp);
	snprintf(sdir, sizeof(sdir), "%s/store4", s->tmp);
	snprintf(src, sizeof(src), "%s:v4", dir);
	make_layout(dir, "v4", "four", digest);
	assert_int_equal(sk_store_open(sdir, &store, &err), 0);
	if (sk_pull(store, src, &po, got, NULL, &err))
		fail_msg("%s", err.msg);
	assert_true(has_entry(store, "v4", digest));
	assert_string_equal(entry_annotation(sdir, "v4", SK_ANN_VERIFIED), "false");

	/* signed now, pulled verified: the same name loses the mark */
	sign(s, src, s->key, REPO);
	po = (struct sk_pull_opts){.verify = &vo, .result = &vr};
	if (sk_pull(store, src, &po, got, NULL, &err))
		fail_msg("%s", err.msg);
	sk_verify_result_free(&vr);
	assert_string_equal(entry_annotation(sdir, "v4", SK_ANN_VERIFIED), "-");
	assert_true(has_entry(store, "v4", digest));

	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	snprintf(d.digest, sizeof(d.digest), "%s", digest);
	d.size = 1;
	assert_int_equal(sk_store_record_annotated(store, "x", &d, bad, &err), -EINVAL);
	/* unnamed: recorded once per digest, replaced in place */
	assert_int_equal(sk_store_record_annotated(store, NULL, &d, mark, &err), 0);
	assert_int_equal(sk_store_record_annotated(store, NULL, &d, mark, &err), 0);
	assert_int_equal(unnamed_entries(sdir, digest), 1);
	sk_store_close(store);
}

static void test_missing_policy(void **st)
{
	struct state *s = *st;
	struct sk_verify_opts o = {.policy_path = "/nonexistent/policy.json", .identity = REPO};
	struct sk_verify_result r = {0};
	struct sk_error err = {0};
	char src[160];

	snprintf(src, sizeof(src), "%s/lay1:v1", s->tmp);
	assert_true(sk_trust_verify_source(src, NULL, &o, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/policy.json"));
	sk_verify_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_and_verify_layout),
	    cmocka_unit_test(test_identity_from_ref_name),
	    cmocka_unit_test(test_pull_keeps_signatures),
	    cmocka_unit_test(test_unverified_mark),
	    cmocka_unit_test(test_missing_policy),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
