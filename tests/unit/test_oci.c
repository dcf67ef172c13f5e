/* SPDX-License-Identifier: Apache-2.0 */
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

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "schedkit/oci.h"

#define EMPTY_SHA "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA	  "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char *make_tmpdir(void)
{
	char *dir = strdup("/tmp/sk-test-oci.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_tmpdir(char *dir)
{
	sk_rm_rf(dir);
	free(dir);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static struct json_object *parse_ok(const char *text)
{
	struct json_object *o = NULL;
	struct sk_error err = {0};

	assert_int_equal(sk_json_parse(text, strlen(text), "test", &o, &err), 0);
	return o;
}

/* ---- digests ---- */

static void test_digest_vectors(void **state)
{
	char d[SK_DIGEST_MAX];
	struct sk_hasher *h;

	(void)state;
	sk_digest_buf("", 0, d);
	assert_string_equal(d, EMPTY_SHA);
	sk_digest_buf("abc", 3, d);
	assert_string_equal(d, ABC_SHA);

	h = sk_hasher_new();
	assert_non_null(h);
	sk_hasher_update(h, "a", 1);
	sk_hasher_update(h, "", 0);
	sk_hasher_update(h, "bc", 2);
	sk_hasher_final(h, d);
	assert_string_equal(d, ABC_SHA);

	h = sk_hasher_new();
	assert_non_null(h);
	sk_hasher_final(h, d);
	assert_string_equal(d, EMPTY_SHA);
	sk_hasher_free(sk_hasher_new());
}

static void test_digest_validation(void **state)
{
	struct sk_error err = {0};

	(void)state;
	assert_true(sk_digest_valid(ABC_SHA));
	assert_false(sk_digest_valid(NULL));
	assert_false(sk_digest_valid(""));
	assert_false(sk_digest_valid(
	    "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	assert_false(sk_digest_valid("sha256:ba7816bf"));
	assert_false(sk_digest_valid(ABC_SHA "0"));
	assert_false(sk_digest_valid(
	    "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(sk_digest_valid(
	    "sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(sk_digest_valid(
	    "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(sk_digest_valid(
	    "sha256:../../../etc/passwd0000000000000000000000000000000000000000000000"));

	assert_int_equal(sk_digest_check("abc", 3, ABC_SHA, "blob", &err), 0);
	assert_int_equal(sk_digest_check("abd", 3, ABC_SHA, "my blob", &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "my blob"));
	assert_non_null(strstr(err.msg, ABC_SHA));
	assert_int_equal(sk_digest_check("abc", 3, "sha256:abc", "blob", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a valid digest"));
}

/* ---- JSON ---- */

static void test_json_dump(void **state)
{
	struct json_object *o = json_object_new_object(), *inner = json_object_new_object();
	char *a, *b;
	size_t la, lb;

	(void)state;
	json_object_object_add(o, "zeta", json_object_new_string("application/vnd.x+json"));
	json_object_object_add(o, "alpha", json_object_new_int64(42));
	json_object_object_add(inner, "k", json_object_new_string("a\"b"));
	json_object_object_add(o, "inner", inner);
	a = sk_json_dump(o, &la);
	b = sk_json_dump(o, &lb);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_string_equal(a, "{\"zeta\":\"application/vnd.x+json\",\"alpha\":42,"
			       "\"inner\":{\"k\":\"a\\\"b\"}}");
	assert_int_equal(la, strlen(a));
	assert_null(strstr(a, "\\/"));
	free(a);
	free(b);

	/* A parse/dump round trip of compact input keeps the bytes. */
	{
		const char *text = "{\"b\":[1,2,{\"c\":\"d/e\"}],\"a\":true,\"n\":null}";
		struct json_object *p = parse_ok(text);

		a = sk_json_dump(p, &la);
		assert_string_equal(a, text);
		free(a);
		json_object_put(p);
	}
	json_object_put(o);
	assert_null(sk_json_dump(NULL, NULL));
}

static void test_json_parse_limits(void **state)
{
	struct json_object *o = NULL;
	struct sk_error err = {0};
	struct sk_buf b = {0};
	char *big;
	int ret;

	(void)state;
	/* 100 nested arrays is over the depth limit; 20 is fine. */
	sk_buf_printf(&b, "{\"a\":");
	for (int i = 0; i < 100; i++)
		sk_buf_printf(&b, "[");
	for (int i = 0; i < 100; i++)
		sk_buf_printf(&b, "]");
	sk_buf_printf(&b, "}");
	ret = sk_json_parse(b.data, b.len, "deep doc", &o, &err);
	assert_int_equal(ret, -EBADMSG);
	assert_null(o);
	assert_non_null(strstr(err.msg, "deep doc"));
	assert_non_null(strstr(err.msg, "deeper"));
	sk_buf_free(&b);
	b = (struct sk_buf){0};
	sk_buf_printf(&b, "{\"a\":");
	for (int i = 0; i < 20; i++)
		sk_buf_printf(&b, "[");
	for (int i = 0; i < 20; i++)
		sk_buf_printf(&b, "]");
	sk_buf_printf(&b, "}");
	assert_int_equal(sk_json_parse(b.data, b.len, "doc", &o, &err), 0);
	json_object_put(o);
	sk_buf_free(&b);

	/* Over the size limit: refused before parsing, even though it is valid JSON. */
	big = malloc(SK_MANIFEST_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', SK_MANIFEST_MAX + 1);
	big[0] = '{';
	big[SK_MANIFEST_MAX] = '}';
	ret = sk_json_parse(big, SK_MANIFEST_MAX + 1, "huge doc", &o, &err);
	assert_int_equal(ret, -EFBIG);
	assert_non_null(strstr(err.msg, "huge doc"));
	free(big);

	ret = sk_json_parse("{\"a\":1}x", 8, "trailing", &o, &err);
	assert_int_equal(ret, -EBADMSG);
	assert_non_null(strstr(err.msg, "trailing"));
	assert_non_null(strstr(err.msg, "byte 7"));
	ret = sk_json_parse("{\"a\":1}{}", 9, "two docs", &o, &err);
	assert_int_equal(ret, -EBADMSG);
	assert_int_equal(sk_json_parse("{\"a\":1} \n", 9, "ws", &o, &err), 0);
	json_object_put(o);
	ret = sk_json_parse("{\"a\":1}\0", 8, "nul", &o, &err);
	assert_int_equal(ret, -EBADMSG);

	ret = sk_json_parse("[1,2]", 5, "array doc", &o, &err);
	assert_int_equal(ret, -EBADMSG);
	assert_non_null(strstr(err.msg, "object"));
	ret = sk_json_parse("{\"a\":", 5, "cut doc", &o, &err);
	assert_int_equal(ret, -EBADMSG);
	assert_non_null(strstr(err.msg, "cut doc"));
	ret = sk_json_parse("", 0, "empty", &o, &err);
	assert_int_equal(ret, -EBADMSG);
	ret = sk_json_parse("{\"a\":\"\xff\"}", 8, "utf8", &o, &err);
	assert_int_equal(ret, -EBADMSG);

	o = parse_ok("{\"s\":\"x\",\"i\":7,\"f\":1.5}");
	assert_string_equal(sk_json_str(o, "s"), "x");
	assert_null(sk_json_str(o, "i"));
	assert_null(sk_json_str(o, "missing"));
	assert_int_equal(sk_json_int(o, "i"), 7);
	assert_int_equal(sk_json_int(o, "s"), 0);
	assert_int_equal(sk_json_int(o, "f"), 0);
	json_object_put(o);
}

/* A refusal of text (a C string) as document "doc", with msg in the error. */
static void expect_json_error(const char *text, const char *msg)
{
	struct json_object *o = NULL;
	struct sk_error err = {0};
	int ret = sk_json_parse(text, strlen(text), "doc.json", &o, &err);

	if (ret != -EBADMSG) {
		json_object_put(o);
		fail_msg("accepted (%d): %s", ret, text);
	}
	assert_null(o);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not contain \"%s\"", err.msg, msg);
}

/* Regression: json-c keeps the last of two equal keys, other parsers the first. */
static void test_json_duplicate_keys(void **state)
{
	(void)state;
	expect_json_error("{\"a\":1,\"b\":2,\"a\":3}",
			  "doc.json: invalid JSON: duplicate key \"a\" at byte 13");
	expect_json_error("{\"x\":{\"k\":1,\"j\":[],\"k\":{}}}", "duplicate key \"k\" at byte 19");
	expect_json_error("{\"l\":[1,{\"k\":1,\"k\":2}]}", "duplicate key \"k\"");
	/* Equal once decoded: the message shows the later key as written. */
	expect_json_error("{\"a\":1,\"\\u0061\":2}", "duplicate key \"\\u0061\"");
	expect_json_error("{\"\\u00e9\":1,\"\xc3\xa9\":2}", "duplicate key \"\xc3\xa9\"");
	expect_json_error("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", "duplicate key");
	expect_json_error("{\"a\\/b\":1,\"a/b\":2}", "duplicate key \"a/b\"");
	/* json-c turns every lone surrogate into U+FFFD: these two are one key to it. */
	expect_json_error("{\"\\ud800\":1,\"\\ud801\":2}", "duplicate key \"\\ud801\"");
	expect_json_error("{\"\":1,\"\":2}", "duplicate key \"\"");

	/* The same key in different objects, keys that only look alike, and a key
	 * spelled as a value are all fine. */
	struct json_object *o =
	    parse_ok("{\"a\":{\"a\":1,\"b\":{\"a\":2}},\"b\":[{\"a\":1},{\"a\":1}],"
		     "\"c\":\"a\",\"d\":[\"a\",\"a\"],\"A\":0,\"a\\\\\":0,"
		     "\"a\\\"\":0,\"a \":0,\"\\\\u0061\":0}");
	assert_int_equal(json_object_object_length(o), 9);
	json_object_put(o);
}

/* Many keys: sorted per object, not compared pairwise. */
static void test_json_many_keys(void **state)
{
	struct json_object *o = NULL;
	struct sk_error err = {0};
	struct sk_buf b = {0};
	const int n = 100000;

	(void)state;
	sk_buf_printf(&b, "{");
	for (int i = 0; i < n; i++)
		sk_buf_printf(&b, "%s\"key-%d\":%d", i ? "," : "", i, i);
	sk_buf_printf(&b, "}");
	assert_int_equal(sk_json_parse(b.data, b.len, "doc", &o, &err), 0);
	assert_int_equal(json_object_object_length(o), n);
	json_object_put(o);
	/* The same document with the first key again at the end. */
	b.len--;
	sk_buf_printf(&b, ",\"key-0\":0}");
	assert_int_equal(sk_json_parse(b.data, b.len, "doc", &o, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "duplicate key \"key-0\""));
	sk_buf_free(&b);
}

/* Regression: "a\u0000b" was compared (strcmp) as "a". */
static void test_json_nul_in_strings(void **state)
{
	struct json_object *o;

	(void)state;
	expect_json_error("{\"id\":\"r.io/sched/nul\\u0000.evil.example/x\"}",
			  "doc.json: invalid JSON: the string at byte 6 contains a NUL character "
			  "(\\u0000)");
	expect_json_error("{\"a\":{\"stage\":\"production\\u0000-NOT\"}}",
			  "string at byte 14 contains a NUL character");
	expect_json_error("{\"l\":[\"x\",\"\\u0000\"]}", "string at byte 10 contains a NUL");
	/* In a key json-c would cut it short: "a\u0000b" would become "a". */
	expect_json_error("{\"a\\u0000b\":1}", "string at byte 1 contains a NUL character");
	expect_json_error("{\"a\\u0000\":1,\"a\":2}", "contains a NUL character");
	/* After a high surrogate that it does not complete. */
	expect_json_error("{\"a\":\"\\ud800\\u0000\"}", "contains a NUL character");
	/* An escaped backslash before "u0000" is no escape, and U+0100 is no NUL. */
	o = parse_ok("{\"a\":\"\\\\u0000\",\"b\":\"\\u0100\",\"c\":\"\\u1000\"}");
	json_object_put(o);
}

/* ---- descriptors ---- */

static void test_descriptor(void **state)
{
	struct sk_descriptor d = {0}, back;
	struct sk_error err = {0};
	struct json_object *o, *bad;
	char *s;

	(void)state;
	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	snprintf(d.digest, sizeof(d.digest), "%s", ABC_SHA);
	d.size = 3;
	snprintf(d.artifact_type, sizeof(d.artifact_type), "%s", SK_ARTIFACT_TYPE);
	snprintf(d.platform_os, sizeof(d.platform_os), "linux");
	snprintf(d.platform_arch, sizeof(d.platform_arch), "arm64");
	snprintf(d.ref_name, sizeof(d.ref_name), "v1");
	o = sk_descriptor_to_json(&d, NULL);
	assert_non_null(o);
	s = sk_json_dump(o, NULL);
	assert_string_equal(s, "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			       "\"digest\":\"" ABC_SHA "\",\"size\":3,"
			       "\"artifactType\":\"application/vnd.schedkit.scheduler.v1\","
			       "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"},"
			       "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}");
	free(s);
	assert_int_equal(sk_descriptor_from_json(o, &back, &err), 0);
	assert_memory_equal(&back, &d, sizeof(d));
	json_object_put(o);

	bad = parse_ok("{\"mediaType\":\"x\",\"digest\":\"sha256:00\",\"size\":1}");
	assert_int_equal(sk_descriptor_from_json(bad, &back, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "digest"));
	json_object_put(bad);
	bad = parse_ok("{\"mediaType\":\"x\",\"digest\":\"" ABC_SHA "\",\"size\":-1}");
	assert_int_equal(sk_descriptor_from_json(bad, &back, &err), -EBADMSG);
	json_object_put(bad);
	bad = parse_ok("{\"digest\":\"" ABC_SHA "\",\"size\":1}");
	assert_int_equal(sk_descriptor_from_json(bad, &back, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "mediaType"));
	json_object_put(bad);
	bad = parse_ok("{\"mediaType\":\"x\",\"digest\":\"" ABC_SHA "\",\"size\":\"3\"}");
	assert_int_equal(sk_descriptor_from_json(bad, &back, &err), -EBADMSG);
	json_object_put(bad);
}

/* ---- layouts ---- */

static void test_layout_blobs(void **state)
{
	struct sk_layout *l = NULL, *l2 = NULL;
	struct sk_error err = {0};
	char digest[SK_DIGEST_MAX];
	char *dir = make_tmpdir(), *sub, *path, *blob;
	uint8_t *data = NULL;
	size_t len;

	(void)state;
	sub = sk_path_join(dir, "a/b/layout");
	assert_int_equal(sk_layout_create(sub, &l, &err), 0);
	assert_string_equal(sk_layout_dir(l), sub);
	path = sk_path_join(sub, "oci-layout");
	assert_int_equal(sk_read_file(path, 4096, &data, &len, &err), 0);
	assert_string_equal((char *)data, "{\"imageLayoutVersion\":\"1.0.0\"}");
	free(data);
	free(path);
	path = sk_path_join(sub, "index.json");
	assert_int_equal(sk_read_file(path, 4096, &data, &len, &err), 0);
	assert_string_equal((char *)data, "{\"schemaVersion\":2,\"mediaType\":"
					  "\"application/vnd.oci.image.index.v1+json\","
					  "\"manifests\":[]}");
	free(data);
	free(path);

	assert_false(sk_layout_has_blob(l, ABC_SHA));
	assert_int_equal(sk_layout_put_blob(l, "abc", 3, digest, &err), 0);
	assert_string_equal(digest, ABC_SHA);
	assert_true(sk_layout_has_blob(l, ABC_SHA));
	blob = sk_layout_blob_path(l, ABC_SHA);
	assert_non_null(strstr(blob, "/blobs/sha256/ba7816bf"));
	assert_true(sk_is_file(blob));
	assert_null(sk_layout_blob_path(l, "sha256:../../x"));
	/* Idempotent. */
	assert_int_equal(sk_layout_put_blob(l, "abc", 3, digest, &err), 0);

	assert_int_equal(sk_layout_get_blob(l, ABC_SHA, 3, 1024, &data, &len, &err), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abc", 3);
	free(data);
	assert_int_equal(sk_layout_get_blob(l, ABC_SHA, -1, 0, &data, &len, &err), 0);
	free(data);
	/* Size disagreeing with the descriptor. */
	assert_int_equal(sk_layout_get_blob(l, ABC_SHA, 4, 1024, &data, &len, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "descriptor says 4"));
	/* Over the caller's limit. */
	assert_int_equal(sk_layout_get_blob(l, ABC_SHA, 3, 2, &data, &len, &err), -EFBIG);
	assert_int_equal(sk_layout_get_blob(l, ABC_SHA, -1, 2, &data, &len, &err), -EFBIG);
	/* Missing and invalid. */
	assert_int_equal(sk_layout_get_blob(l, EMPTY_SHA, -1, 0, &data, &len, &err), -ENOENT);
	assert_non_null(strstr(err.msg, EMPTY_SHA));
	assert_non_null(strstr(err.msg, sub));
	assert_int_equal(sk_layout_get_blob(l, "sha256:../../etc/passwd", -1, 0, &data, &len, &err),
			 -EINVAL);

	/* Tampered on disk: same size, other bytes. */
	write_text(blob, "abd");
	assert_int_equal(sk_layout_get_blob(l, ABC_SHA, 3, 1024, &data, &len, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "digest mismatch"));
	assert_null(data);
	/* put_blob repairs a damaged blob. */
	assert_int_equal(sk_layout_put_blob(l, "abc", 3, digest, &err), 0);
	assert_int_equal(sk_layout_get_blob(l, ABC_SHA, 3, 1024, &data, &len, &err), 0);
	free(data);

	/* Reopen, and creating over an existing layout keeps it. */
	assert_int_equal(sk_layout_open(sub, &l2, &err), 0);
	assert_true(sk_layout_has_blob(l2, ABC_SHA));
	sk_layout_close(l2);
	assert_int_equal(sk_layout_create(sub, &l2, &err), 0);
	assert_true(sk_layout_has_blob(l2, ABC_SHA));
	sk_layout_close(l2);

	/* Not a layout. */
	assert_int_equal(sk_layout_open(dir, &l2, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "not an OCI image layout"));
	assert_non_null(strstr(err.msg, dir));
	path = sk_path_join(dir, "nope");
	assert_int_equal(sk_layout_open(path, &l2, &err), -ENOENT);
	free(path);

	free(blob);
	free(sub);
	sk_layout_close(l);
	remove_tmpdir(dir);
}

static void make_desc(struct sk_layout *l, const char *content, struct sk_descriptor *d)
{
	struct sk_error err = {0};

	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", SK_MT_MANIFEST);
	assert_int_equal(sk_layout_put_blob(l, content, strlen(content), d->digest, &err), 0);
	d->size = (int64_t)strlen(content);
}

static size_t index_entries(struct sk_layout *l)
{
	struct json_object *idx = NULL, *m;
	struct sk_error err = {0};
	char *path = sk_path_join(sk_layout_dir(l), "index.json");
	uint8_t *data;
	size_t len, n;

	assert_int_equal(sk_read_file(path, SK_MANIFEST_MAX, &data, &len, &err), 0);
	assert_int_equal(sk_json_parse(data, len, "index", &idx, &err), 0);
	assert_true(json_object_object_get_ex(idx, "manifests", &m));
	n = json_object_array_length(m);
	json_object_put(idx);
	free(data);
	free(path);
	return n;
}

static void test_layout_tags(void **state)
{
	struct sk_descriptor d1, d2, d3, got;
	struct sk_layout *l = NULL;
	struct sk_error err = {0};
	char *dir = make_tmpdir();

	(void)state;
	assert_int_equal(sk_layout_create(dir, &l, &err), 0);
	/* Empty. */
	assert_int_equal(sk_layout_resolve(l, NULL, &got, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "empty"));
	assert_non_null(strstr(err.msg, dir));

	make_desc(l, "{\"one\":1}", &d1);
	make_desc(l, "{\"two\":2}", &d2);
	make_desc(l, "{\"three\":3}", &d3);
	assert_int_equal(sk_layout_add_manifest(l, &d1, "v1", &err), 0);
	assert_int_equal(sk_layout_resolve(l, NULL, &got, &err), 0);
	assert_string_equal(got.digest, d1.digest);
	assert_string_equal(got.ref_name, "v1");
	assert_int_equal(got.size, d1.size);

	/* Same tag again replaces the entry. */
	assert_int_equal(sk_layout_add_manifest(l, &d2, "v1", &err), 0);
	assert_int_equal(index_entries(l), 1);
	assert_int_equal(sk_layout_resolve(l, "v1", &got, &err), 0);
	assert_string_equal(got.digest, d2.digest);

	assert_int_equal(sk_layout_add_manifest(l, &d3, "v2", &err), 0);
	assert_int_equal(sk_layout_add_manifest(l, &d1, NULL, &err), 0);
	assert_int_equal(sk_layout_add_manifest(l, &d1, NULL, &err), 0);
	assert_int_equal(index_entries(l), 3);
	assert_int_equal(sk_layout_resolve(l, "v2", &got, &err), 0);
	assert_string_equal(got.digest, d3.digest);
	assert_int_equal(sk_layout_resolve(l, d1.digest, &got, &err), 0);
	assert_string_equal(got.digest, d1.digest);
	assert_string_equal(got.ref_name, "");

	/* Ambiguous: the error lists what there is. */
	assert_int_equal(sk_layout_resolve(l, NULL, &got, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "v1"));
	assert_non_null(strstr(err.msg, "v2"));
	assert_non_null(strstr(err.msg, "untagged"));
	assert_non_null(strstr(err.msg, dir));

	/* Not found: names the layout and the tag. */
	assert_int_equal(sk_layout_resolve(l, "v9", &got, &err), -ENOENT);
	assert_non_null(strstr(err.msg, dir));
	assert_non_null(strstr(err.msg, "\"v9\""));
	assert_non_null(strstr(err.msg, "v2"));
	assert_int_equal(sk_layout_resolve(l, EMPTY_SHA, &got, &err), -ENOENT);
	assert_non_null(strstr(err.msg, EMPTY_SHA));

	sk_layout_close(l);
	remove_tmpdir(dir);
}

static void test_layout_ref_split(void **state)
{
	char *dir = make_tmpdir(), *colon_dir, *arg, *d, *t;

	(void)state;
	assert_int_equal(sk_layout_ref_split("out/fifo:v1", &d, &t), 0);
	assert_string_equal(d, "out/fifo");
	assert_string_equal(t, "v1");
	free(d);
	free(t);
	assert_int_equal(sk_layout_ref_split("out/fifo", &d, &t), 0);
	assert_string_equal(d, "out/fifo");
	assert_null(t);
	free(d);
	assert_int_equal(sk_layout_ref_split("out:", &d, &t), 0);
	assert_string_equal(d, "out");
	assert_null(t);
	free(d);
	assert_int_equal(sk_layout_ref_split("a:b/c", &d, &t), 0);
	assert_string_equal(d, "a:b/c");
	assert_null(t);
	free(d);
	assert_int_equal(sk_layout_ref_split("out@" ABC_SHA, &d, &t), 0);
	assert_string_equal(d, "out");
	assert_string_equal(t, ABC_SHA);
	free(d);
	free(t);
	assert_int_equal(sk_layout_ref_split("out:" ABC_SHA, &d, &t), 0);
	assert_string_equal(d, "out");
	assert_string_equal(t, ABC_SHA);
	free(d);
	free(t);
	/* An existing directory whose name has a colon is taken whole. */
	colon_dir = sk_path_join(dir, "a:b");
	assert_int_equal(mkdir(colon_dir, 0755), 0);
	assert_int_equal(sk_layout_ref_split(colon_dir, &d, &t), 0);
	assert_string_equal(d, colon_dir);
	assert_null(t);
	free(d);
	assert_int_equal(asprintf(&arg, "%s:tag", colon_dir) > 0, 1);
	assert_int_equal(sk_layout_ref_split(arg, &d, &t), 0);
	assert_string_equal(d, colon_dir);
	assert_string_equal(t, "tag");
	free(d);
	free(t);
	free(arg);
	assert_int_equal(sk_layout_ref_split("", &d, &t), -EINVAL);
	free(colon_dir);
	remove_tmpdir(dir);
}

/* ---- source archives ---- */

static void build_tgz(const struct sk_source_file *files, size_t n, struct sk_buf *out)
{
	struct sk_error err = {0};

	*out = (struct sk_buf){0};
	if (sk_source_tar_gz(files, n, out, &err))
		fail_msg("sk_source_tar_gz: %s", err.msg);
}

static void test_tar_deterministic(void **state)
{
	char *dir = make_tmpdir(), *pa, *pb, *pc;
	struct sk_buf one, two;
	struct sk_error err = {0};
	struct archive *a;
	struct archive_entry *e;
	const char *want_names[] = {"Makefile", "include/x.h", "sched.bpf.c"};
	const char *want_data[] = {"all:\n", "#define X 1\n", "int x;\n"};
	size_t i = 0;

	(void)state;
	pa = sk_path_join(dir, "a.c");
	pb = sk_path_join(dir, "b.h");
	pc = sk_path_join(dir, "mk");
	write_text(pa, "int x;\n");
	write_text(pb, "#define X 1\n");
	write_text(pc, "all:\n");
	chmod(pa, 0700);
	{
		/* Given out of order: the archive is sorted by name. */
		struct sk_source_file files[] = {
		    {pa, "sched.bpf.c"}, {pb, "include/x.h"}, {pc, "Makefile"}};
		struct sk_source_file reordered[] = {
		    {pc, "Makefile"}, {pa, "sched.bpf.c"}, {pb, "include/x.h"}};

		build_tgz(files, 3, &one);
		sleep(1);
		/* New mtimes and modes must not change a byte. */
		write_text(pa, "int x;\n");
		chmod(pa, 0600);
		build_tgz(reordered, 3, &two);
	}
	assert_int_equal(one.len, two.len);
	assert_memory_equal(one.data, two.data, one.len);
	/* gzip header: no FNAME flag, MTIME zero. */
	assert_true(one.len > 10);
	assert_int_equal(one.data[0], 0x1f);
	assert_int_equal(one.data[1], 0x8b);
	assert_int_equal(one.data[3] & 0x08, 0);
	assert_int_equal(one.data[4] | one.data[5] | one.data[6] | one.data[7], 0);

	a = archive_read_new();
	assert_non_null(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, one.data, one.len), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		char buf[64] = {0};
		la_ssize_t n;

		assert_true(i < 3);
		assert_string_equal(archive_entry_pathname(e), want_names[i]);
		assert_int_equal(archive_entry_mtime(e), 0);
		assert_int_equal(archive_entry_perm(e), 0644);
		assert_int_equal(archive_entry_filetype(e), AE_IFREG);
		assert_int_equal(archive_entry_uid(e), 0);
		assert_int_equal(archive_entry_gid(e), 0);
		assert_true(!archive_entry_uname(e) || !*archive_entry_uname(e));
		assert_true(!archive_entry_gname(e) || !*archive_entry_gname(e));
		n = archive_read_data(a, buf, sizeof(buf) - 1);
		assert_int_equal(n, (la_ssize_t)strlen(want_data[i]));
		assert_string_equal(buf, want_data[i]);
		i++;
	}
	assert_int_equal(i, 3);
	archive_read_free(a);
	sk_buf_free(&one);
	sk_buf_free(&two);

	{
		struct sk_source_file dup[] = {{pa, "x.c"}, {pb, "x.c"}};
		struct sk_source_file up[] = {{pa, "../x.c"}};
		struct sk_source_file abs[] = {{pa, "/etc/x.c"}};
		struct sk_source_file missing[] = {{"/nonexistent/sk", "x.c"}};

		assert_int_equal(sk_source_tar_gz(dup, 2, &one, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "x.c"));
		assert_int_equal(sk_source_tar_gz(up, 1, &one, &err), -EINVAL);
		assert_int_equal(sk_source_tar_gz(abs, 1, &one, &err), -EINVAL);
		assert_int_equal(sk_source_tar_gz(missing, 1, &one, &err), -ENOENT);
		assert_non_null(strstr(err.msg, "/nonexistent/sk"));
	}
	free(pa);
	free(pb);
	free(pc);
	remove_tmpdir(dir);
}

/* ---- artifacts ---- */

static const char CONFIG_AMD64[] =
    "{\"schemaVersion\":1,\"name\":\"fifo\",\"version\":\"1.0.0\",\"ops\":{\"map\":"
    "\"fifo_ops\",\"name\":\"fifo\"},\"build\":{\"arch\":\"amd64\"}}";
static const char CONFIG_ARM64[] =
    "{\"schemaVersion\":1,\"name\":\"fifo\",\"version\":\"1.0.0\",\"ops\":{\"map\":"
    "\"fifo_ops\",\"name\":\"fifo\"},\"build\":{\"arch\":\"arm64\"}}";

struct fixture {
	struct json_object *cfg[2];
	struct json_object *ann;
	struct json_object *index_ann;
	struct sk_artifact_platform plats[2];
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg[0] = parse_ok(CONFIG_AMD64);
	f->cfg[1] = parse_ok(CONFIG_ARM64);
	/* Keys deliberately not sorted: the order given must survive. */
	f->ann = parse_ok("{\"" SK_ANN_SCHED_NAME "\":\"fifo\",\"" SK_ANN_MIN_VERSION
			  "\":\"6.12\",\"" SK_ANN_KFUNCS "\":\"scx_bpf_dsq_insert\"}");
	f->index_ann = parse_ok("{\"org.opencontainers.image.created\":\"1970-01-01T00:00:00Z\"}");
	f->plats[0] = (struct sk_artifact_platform){
	    .os = "linux",
	    .arch = "amd64",
	    .object = "\177ELF-amd64-object",
	    .object_len = 17,
	    .config = f->cfg[0],
	    .annotations = f->ann,
	    .source_tgz = "fake-tgz",
	    .source_len = 8,
	    .object_title = "fifo.bpf.o",
	};
	f->plats[1] = f->plats[0];
	f->plats[1].arch = "arm64";
	f->plats[1].object = "\177ELF-arm64-object!";
	f->plats[1].object_len = 18;
	f->plats[1].config = f->cfg[1];
	f->plats[1].source_tgz = NULL;
}

static void fixture_free(struct fixture *f)
{
	json_object_put(f->cfg[0]);
	json_object_put(f->cfg[1]);
	json_object_put(f->ann);
	json_object_put(f->index_ann);
}

static char *blob_text(struct sk_layout *l, const char *digest)
{
	struct sk_error err = {0};
	uint8_t *data = NULL;
	size_t len;

	if (sk_layout_get_blob(l, digest, -1, SK_MANIFEST_MAX, &data, &len, &err))
		fail_msg("%s", err.msg);
	return (char *)data;
}

static void test_artifact_round_trip(void **state)
{
	char *dir = make_tmpdir(), *dir2, *text, *dump;
	char digest[SK_DIGEST_MAX], digest2[SK_DIGEST_MAX];
	struct sk_layout *l = NULL, *l2 = NULL;
	struct sk_artifact *a = NULL;
	struct sk_error err = {0};
	struct json_object *idx, *m, *layers, *layer;
	struct sk_descriptor d;
	struct fixture f;

	(void)state;
	fixture_init(&f);
	assert_int_equal(sk_layout_create(dir, &l, &err), 0);
	if (sk_artifact_write(l, f.plats, 2, f.index_ann, "1.0.0", digest, &err))
		fail_msg("%s", err.msg);

	/* Deterministic: a second layout gets the same index digest. */
	dir2 = sk_path_join(dir, "again");
	assert_int_equal(sk_layout_create(dir2, &l2, &err), 0);
	assert_int_equal(sk_artifact_write(l2, f.plats, 2, f.index_ann, "1.0.0", digest2, &err), 0);
	assert_string_equal(digest, digest2);
	sk_layout_close(l2);

	/* The tag names the index; the index lists both platforms in order. */
	assert_int_equal(sk_layout_resolve(l, "1.0.0", &d, &err), 0);
	assert_string_equal(d.digest, digest);
	assert_string_equal(d.media_type, SK_MT_INDEX);
	assert_string_equal(d.artifact_type, SK_ARTIFACT_TYPE);
	text = blob_text(l, digest);
	idx = parse_ok(text);
	free(text);
	assert_string_equal(sk_json_str(idx, "mediaType"), SK_MT_INDEX);
	assert_string_equal(sk_json_str(idx, "artifactType"), SK_ARTIFACT_TYPE);
	assert_int_equal(sk_json_int(idx, "schemaVersion"), 2);
	assert_true(json_object_object_get_ex(idx, "manifests", &m));
	assert_int_equal(json_object_array_length(m), 2);
	assert_int_equal(sk_descriptor_from_json(json_object_array_get_idx(m, 1), &d, &err), 0);
	assert_string_equal(d.platform_os, "linux");
	assert_string_equal(d.platform_arch, "arm64");
	assert_string_equal(d.artifact_type, SK_ARTIFACT_TYPE);
	assert_int_equal(sk_descriptor_from_json(json_object_array_get_idx(m, 0), &d, &err), 0);
	assert_string_equal(d.platform_arch, "amd64");
	assert_true(json_object_object_get_ex(idx, "annotations", &m));
	assert_string_equal(sk_json_str(m, "org.opencontainers.image.created"),
			    "1970-01-01T00:00:00Z");
	json_object_put(idx);

	/* amd64 manifest: config, object layer with its title, then the source. */
	text = blob_text(l, d.digest);
	assert_non_null(strstr(text, "\"annotations\":{\"" SK_ANN_SCHED_NAME
				     "\":\"fifo\",\"" SK_ANN_MIN_VERSION
				     "\":\"6.12\",\"" SK_ANN_KFUNCS "\":\"scx_bpf_dsq_insert\"}}"));
	m = parse_ok(text);
	free(text);
	assert_string_equal(sk_json_str(m, "artifactType"), SK_ARTIFACT_TYPE);
	assert_true(json_object_object_get_ex(m, "layers", &layers));
	assert_int_equal(json_object_array_length(layers), 2);
	layer = json_object_array_get_idx(layers, 0);
	assert_string_equal(sk_json_str(layer, "mediaType"), SK_MT_SCHED_BPF);
	assert_true(json_object_object_get_ex(layer, "annotations", &layer));
	assert_string_equal(sk_json_str(layer, "org.opencontainers.image.title"), "fifo.bpf.o");
	layer = json_object_array_get_idx(layers, 1);
	assert_string_equal(sk_json_str(layer, "mediaType"), SK_MT_SCHED_SOURCE);
	assert_true(json_object_object_get_ex(layer, "annotations", &layer));
	assert_string_equal(sk_json_str(layer, "org.opencontainers.image.title"), "source.tar.gz");
	assert_true(json_object_object_get_ex(m, "config", &layer));
	assert_string_equal(sk_json_str(layer, "mediaType"), SK_MT_SCHED_CONFIG);
	json_object_put(m);

	/* Read back arm64 (no source layer there). */
	if (sk_artifact_read(l, "1.0.0", "arm64", &a, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(a->index_digest, digest);
	assert_string_equal(a->os, "linux");
	assert_string_equal(a->arch, "arm64");
	assert_int_equal(a->object_len, 18);
	assert_memory_equal(a->object, "\177ELF-arm64-object!", 18);
	dump = sk_json_dump(a->config, NULL);
	assert_string_equal(dump, CONFIG_ARM64);
	free(dump);
	assert_non_null(a->annotations);
	assert_string_equal(sk_json_str(a->annotations, SK_ANN_MIN_VERSION), "6.12");
	assert_true(sk_digest_valid(a->manifest_digest));
	sk_artifact_free(a);

	/* Default arch is the host's. */
	if (!strcmp(sk_host_arch(), "amd64") || !strcmp(sk_host_arch(), "arm64")) {
		if (sk_artifact_read(l, NULL, NULL, &a, &err))
			fail_msg("%s", err.msg);
		assert_string_equal(a->arch, sk_host_arch());
		sk_artifact_free(a);
	}

	/* Tampering with the object blob is caught. */
	assert_int_equal(sk_artifact_read(l, "1.0.0", "amd64", &a, &err), 0);
	{
		char od[SK_DIGEST_MAX], *p;

		sk_digest_buf(a->object, a->object_len, od);
		sk_artifact_free(a);
		p = sk_layout_blob_path(l, od);
		write_text(p, "\177ELF-amd64-objecX");
		free(p);
	}
	assert_int_equal(sk_artifact_read(l, "1.0.0", "amd64", &a, &err), -EBADMSG);
	assert_null(a);
	assert_non_null(strstr(err.msg, "digest mismatch"));

	free(dir2);
	sk_layout_close(l);
	fixture_free(&f);
	remove_tmpdir(dir);
}

static void test_artifact_platform_error(void **state)
{
	char *dir = make_tmpdir();
	char digest[SK_DIGEST_MAX];
	struct sk_layout *l = NULL;
	struct sk_artifact *a = NULL;
	struct sk_error err = {0};
	struct fixture f;

	(void)state;
	fixture_init(&f);
	assert_int_equal(sk_layout_create(dir, &l, &err), 0);
	assert_int_equal(sk_artifact_write(l, f.plats, 2, NULL, "v1", digest, &err), 0);
	assert_int_equal(sk_artifact_read(l, "v1", "riscv64", &a, &err), -ENOENT);
	assert_null(a);
	assert_non_null(strstr(err.msg, "linux/riscv64"));
	assert_non_null(strstr(err.msg, "linux/amd64, linux/arm64"));
	assert_non_null(strstr(err.msg, dir));
	assert_int_equal(sk_artifact_read(l, "nope", "amd64", &a, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "nope"));

	/* The same platform twice is refused before anything is written. */
	f.plats[1].arch = "amd64";
	assert_int_equal(sk_artifact_write(l, f.plats, 2, NULL, "v2", digest, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "linux/amd64"));
	assert_int_equal(sk_artifact_write(l, f.plats, 0, NULL, "v2", digest, &err), -EINVAL);

	sk_layout_close(l);
	fixture_free(&f);
	remove_tmpdir(dir);
}

/* Builds a manifest by hand, tags it directly (no index) and reads it. */
static int read_hand_manifest(struct sk_layout *l, int bpf_layers, const char *artifact_type,
			      struct sk_artifact **a, struct sk_error *err)
{
	char cfg_d[SK_DIGEST_MAX], obj_d[SK_DIGEST_MAX];
	struct sk_descriptor md = {0};
	struct sk_buf m = {0};
	int ret;

	assert_int_equal(sk_layout_put_blob(l, CONFIG_AMD64, strlen(CONFIG_AMD64), cfg_d, err), 0);
	assert_int_equal(sk_layout_put_blob(l, "OBJ", 3, obj_d, err), 0);
	sk_buf_printf(&m,
		      "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"%s\","
		      "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
		      "\"layers\":[",
		      SK_MT_MANIFEST, artifact_type, SK_MT_SCHED_CONFIG, cfg_d,
		      strlen(CONFIG_AMD64));
	for (int i = 0; i < bpf_layers; i++)
		sk_buf_printf(&m, "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":3}",
			      i ? "," : "", SK_MT_SCHED_BPF, obj_d);
	sk_buf_printf(&m, "]}");
	snprintf(md.media_type, sizeof(md.media_type), "%s", SK_MT_MANIFEST);
	md.size = (int64_t)m.len;
	assert_int_equal(sk_layout_put_blob(l, m.data, m.len, md.digest, err), 0);
	sk_buf_free(&m);
	assert_int_equal(sk_layout_add_manifest(l, &md, "hand", err), 0);
	ret = sk_artifact_read(l, "hand", "amd64", a, err);
	return ret;
}

static void test_artifact_bad_manifests(void **state)
{
	char *dir = make_tmpdir();
	struct sk_layout *l = NULL;
	struct sk_artifact *a = NULL;
	struct sk_error err = {0};

	(void)state;
	assert_int_equal(sk_layout_create(dir, &l, &err), 0);

	/* One bpf layer, tag naming the manifest directly: accepted. */
	if (read_hand_manifest(l, 1, SK_ARTIFACT_TYPE, &a, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(a->index_digest, "");
	assert_string_equal(a->arch, "amd64");
	assert_int_equal(a->object_len, 3);
	assert_memory_equal(a->object, "OBJ", 3);
	sk_artifact_free(a);
	a = NULL;

	assert_int_equal(read_hand_manifest(l, 2, SK_ARTIFACT_TYPE, &a, &err), -EPROTO);
	assert_null(a);
	assert_non_null(strstr(err.msg, "more than one"));

	assert_int_equal(read_hand_manifest(l, 0, SK_ARTIFACT_TYPE, &a, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "no " SK_MT_SCHED_BPF));

	assert_int_equal(read_hand_manifest(l, 1, "application/vnd.example.other", &a, &err),
			 -EPROTO);
	assert_non_null(strstr(err.msg, "not a schedkit scheduler"));

	sk_layout_close(l);
	remove_tmpdir(dir);
}

static void test_host_arch(void **state)
{
	const char *arch = sk_host_arch();

	(void)state;
	assert_non_null(arch);
#if defined(__x86_64__)
	assert_string_equal(arch, "amd64");
#elif defined(__aarch64__)
	assert_string_equal(arch, "arm64");
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest_vectors),
	    cmocka_unit_test(test_digest_validation),
	    cmocka_unit_test(test_json_dump),
	    cmocka_unit_test(test_json_parse_limits),
	    cmocka_unit_test(test_json_duplicate_keys),
	    cmocka_unit_test(test_json_many_keys),
	    cmocka_unit_test(test_json_nul_in_strings),
	    cmocka_unit_test(test_descriptor),
	    cmocka_unit_test(test_layout_blobs),
	    cmocka_unit_test(test_layout_tags),
	    cmocka_unit_test(test_layout_ref_split),
	    cmocka_unit_test(test_tar_deterministic),
	    cmocka_unit_test(test_artifact_round_trip),
	    cmocka_unit_test(test_artifact_platform_error),
	    cmocka_unit_test(test_artifact_bad_manifests),
	    cmocka_unit_test(test_host_arch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
