/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/trust's Sigstore verification, check by check: RFC 6962 Merkle proofs
 * (against trees computed here from the RFC's definition), checkpoint
 * parsing and signatures, bundle and trusted-root parsing, and verification
 * of the conformance suite's happy-path bundles with one thing changed at a
 * time. The bundles come from ../shared/sigstore, where CI puts them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "schedkit/common.h"
#include "schedkit/sigstore.h"
#include "trust/sigstore_internal.h"

#define SHARED	    SK_SRC_DATADIR "/../shared/sigstore"
#define CASES	    SHARED "/bundle-verify"
#define PUBLIC_GOOD SHARED "/trusted_root.public-good.json"
#define BEACON_ID                                                                                  \
	"https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/"  \
	"workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define BEACON_ISSUER "https://token.actions.githubusercontent.com"

/* ---- helpers ---- */

static void expect_err(int ret, const struct sk_error *err, const char *want)
{
	if (ret >= 0)
		fail_msg("expected a failure with \"%s\", got %d", want, ret);
	if (!strstr(err->msg, want))
		fail_msg("expected \"%s\" in the error, got: %s", want, err->msg);
}

static char *slurp(const char *path, size_t *len)
{
	struct sk_error err = {0};
	uint8_t *data = NULL;
	size_t n = 0;

	if (sk_read_file(path, 16 << 20, &data, &n, &err))
		fail_msg("test material missing: %s (CI places the sigstore-conformance cases in "
			 "../shared/sigstore)",
			 err.msg);
	if (len)
		*len = n;
	return (char *)data;
}

static struct json_object *load_json(const char *path)
{
	char *text = slurp(path, NULL);
	struct json_object *o = json_tokener_parse(text);

	free(text);
	assert_non_null(o);
	return o;
}

static struct json_object *at(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (json_object_is_type(o, json_type_array))
		v = json_object_array_get_idx(o, (size_t)atoi(key));
	else
		assert_true(json_object_object_get_ex(o, key, &v));
	assert_non_null(v);
	return v;
}

static int parse_json_bundle(struct json_object *o, struct sk_bundle **b, struct sk_error *err)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

	return sk_bundle_parse(s, len, "test bundle", b, err);
}

static struct sk_sigstore_root *root_from_json(struct json_object *o)
{
	struct sk_sigstore_root *r = NULL;
	struct sk_error err = {0};
	size_t len = 0;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

	if (sk_sigstore_root_parse(s, len, "test root", &r, &err))
		fail_msg("trusted root: %s", err.msg);
	return r;
}

static struct sk_sigstore_root *public_good(void)
{
	struct sk_sigstore_root *r = NULL;
	struct sk_error err = {0};

	if (sk_sigstore_root_load(PUBLIC_GOOD, &r, &err))
		fail_msg("%s", err.msg);
	return r;
}

/* Verifies a bundle (as JSON) over a.txt with the beacon identity. */
static int verify_json(struct json_object *bundle, const struct sk_sigstore_root *root,
		       const struct sk_bundle_policy *policy, struct sk_bundle_result *res,
		       struct sk_error *err)
{
	struct sk_bundle_policy p = {.identity = BEACON_ID, .issuer = BEACON_ISSUER};
	struct sk_bundle_artifact a = {0};
	struct sk_bundle *b = NULL;
	char *artifact;
	int ret;

	artifact = slurp(CASES "/a.txt", &a.len);
	a.data = artifact;
	ret = parse_json_bundle(bundle, &b, err);
	if (!ret)
		ret = sk_bundle_verify(b, root, policy ? policy : &p, &a, res, err);
	sk_bundle_free(b);
	free(artifact);
	return ret;
}

/* ---- Merkle trees, from RFC 6962 section 2.1 ---- */

static const struct {
	const char *data;
	size_t len;
} leaves[] = {
    {"", 0},
    {"\x00", 1},
    {"\x10", 1},
    {"\x20\x21", 2},
    {"\x30\x31", 2},
    {"\x40\x41\x42\x43", 4},
    {"\x50\x51\x52\x53\x54\x55\x56\x57", 8},
    {"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16},
};

static void leaf_hash(size_t i, uint8_t out[32])
{
	char buf[32];

	/* Beyond the RFC's eight inputs, leaves are their index as text. */
	if (i < 8) {
		assert_int_equal(sk_merkle_leaf_hash(leaves[i].data, leaves[i].len, out), 0);
	} else {
		snprintf(buf, sizeof(buf), "leaf %zu", i);
		assert_int_equal(sk_merkle_leaf_hash(buf, strlen(buf), out), 0);
	}
}

static size_t split(size_t n)
{
	size_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH(D[lo:hi]) */
static void mth(size_t lo, size_t hi, uint8_t out[32])
{
	uint8_t l[32], r[32];
	size_t k;

	if (hi - lo == 1) {
		leaf_hash(lo, out);
		return;
	}
	k = split(hi - lo);
	mth(lo, lo + k, l);
	mth(lo + k, hi, r);
	assert_int_equal(sk_merkle_node_hash(l, r, out), 0);
}

/* PATH(m, D[lo:hi]), appended to path. */
static void audit_path(size_t m, size_t lo, size_t hi, uint8_t (*path)[32], size_t *n)
{
	size_t k;

	if (hi - lo == 1)
		return;
	k = split(hi - lo);
	if (m < k) {
		audit_path(m, lo, lo + k, path, n);
		mth(lo + k, hi, path[(*n)++]);
	} else {
		audit_path(m - k, lo + k, hi, path, n);
		mth(lo, lo + k, path[(*n)++]);
	}
}

static void test_merkle_rfc6962_roots(void **state)
{
	/* The published RFC 6962 test roots for the first 1, 2, ..., 8 inputs. */
	static const char *const roots[] = {
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	};
	uint8_t root[32];
	char hex[65];

	(void)state;
	for (size_t n = 1; n <= 8; n++) {
		mth(0, n, root);
		sk_ss_hex(root, 32, hex);
		assert_string_equal(hex, roots[n - 1]);
	}
}

static void test_merkle_inclusion_all_positions(void **state)
{
	uint8_t path[64][32], root[32], bigger[32], leaf[32], bad[32];
	struct sk_error err = {0};

	(void)state;
	for (size_t size = 1; size <= 33; size++) {
		mth(0, size, root);
		for (size_t m = 0; m < size; m++) {
			size_t n = 0;

			audit_path(m, 0, size, path, &n);
			leaf_hash(m, leaf);
			if (sk_merkle_verify_inclusion(m, size, leaf, (const uint8_t(*)[32])path, n,
						       root, &err))
				fail_msg("leaf %zu of %zu: %s", m, size, err.msg);
			/* Every hash of the path matters. */
			for (size_t i = 0; i < n; i++) {
				path[i][i % 32] ^= 0x01;
				expect_err(sk_merkle_verify_inclusion(m, size, leaf,
								      (const uint8_t(*)[32])path, n,
								      root, &err),
					   &err, "does not hash to the checkpoint root");
				path[i][i % 32] ^= 0x01;
			}
			/* Another leaf, index or size does not prove this one. */
			memcpy(bad, leaf, 32);
			bad[0] ^= 0x80;
			assert_int_not_equal(sk_merkle_verify_inclusion(m, size, bad,
									(const uint8_t(*)[32])path,
									n, root, &err),
					     0);
			if (size > 1)
				assert_int_not_equal(sk_merkle_verify_inclusion(
							 (m + 1) % size, size, leaf,
							 (const uint8_t(*)[32])path, n, root, &err),
						     0);
			/* Nor the tree with one more leaf (the checkpoint commits to the size). */
			mth(0, size + 1, bigger);
			assert_int_not_equal(sk_merkle_verify_inclusion(m, size + 1, leaf,
									(const uint8_t(*)[32])path,
									n, bigger, &err),
					     0);
			if (n) {
				expect_err(sk_merkle_verify_inclusion(m, size, leaf,
								      (const uint8_t(*)[32])path,
								      n - 1, root, &err),
					   &err, "");
			}
			memset(path[n], 0, 32);
			assert_int_not_equal(sk_merkle_verify_inclusion(m, size, leaf,
									(const uint8_t(*)[32])path,
									n + 1, root, &err),
					     0);
		}
	}
	mth(0, 4, root);
	leaf_hash(0, leaf);
	expect_err(sk_merkle_verify_inclusion(4, 4, leaf, NULL, 0, root, &err), &err,
		   "outside a tree of 4 leaves");
	expect_err(sk_merkle_verify_inclusion(0, 0, leaf, NULL, 0, root, &err), &err,
		   "outside a tree of 0 leaves");
}

/* ---- checkpoints ---- */

static void test_checkpoint_parse(void **state)
{
	static const char ok[] = "log.example - 42\n"
				 "736\n"
				 "rs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n"
				 "Timestamp: 1\n"
				 "\n"
				 "\xe2\x80\x94 log.example AAECAwQFBgc=\n"
				 "\xe2\x80\x94 witness.example/w1 CAkKCwwNDg8=\n";
	struct sk_checkpoint c;
	struct sk_error err = {0};

	(void)state;
	if (sk_checkpoint_parse(ok, strlen(ok), &c, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(c.origin, "log.example - 42");
	assert_int_equal(c.size, 736);
	assert_int_equal(c.root[0], 0xae);
	assert_int_equal(c.text_len, strlen(ok) - strlen(strstr(ok, "\n\n")) + 1);
	assert_int_equal(c.n_sigs, 2);
	assert_string_equal(c.sigs[0].name, "log.example");
	assert_memory_equal(c.sigs[0].hint, "\x00\x01\x02\x03", 4);
	assert_int_equal(c.sigs[0].sig_len, 4);
	assert_string_equal(c.sigs[1].name, "witness.example/w1");
	sk_checkpoint_free(&c);

	struct {
		const char *text, *why;
	} bad[] = {
	    {"o\n1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n", "no signature lines"},
	    {"o\n1\n\n\xe2\x80\x94 o AAECAwQF\n", "no root hash line"},
	    {"o\n01\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n\xe2\x80\x94 o AAECAwQF\n",
	     "not a tree size"},
	    {"o\n-1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n\xe2\x80\x94 o AAECAwQF\n",
	     "not a tree size"},
	    {"o\n1\nAAEC\n\n\xe2\x80\x94 o AAECAwQF\n", "root hash has 3 bytes"},
	    {"o\n1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n- o AAECAwQF\n",
	     "does not start with"},
	    {"o\n1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n\xe2\x80\x94 o AAECAwQF",
	     "does not end with a newline"},
	    {"o\n1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n\xe2\x80\x94 o AAEC\n",
	     "too short"},
	    {"o\n1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n", "no blank line"},
	    {"\n1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n\xe2\x80\x94 o AAECAwQF\n",
	     "no origin line"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_err(sk_checkpoint_parse(bad[i].text, strlen(bad[i].text), &c, &err), &err,
			   bad[i].why);
}

/* A log with a fresh Ed25519 key and a checkpoint it signs (optionally with a witness first). */
static char *signed_checkpoint(EVP_PKEY *key, const uint8_t hint[4], const char *text,
			       bool witness_first)
{
	uint8_t blob[4 + 64];
	size_t siglen = 64;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *b64, *out;

	assert_non_null(ctx);
	memcpy(blob, hint, 4);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key), 1);
	assert_int_equal(
	    EVP_DigestSign(ctx, blob + 4, &siglen, (const uint8_t *)text, strlen(text)), 1);
	EVP_MD_CTX_free(ctx);
	b64 = sk_ss_b64_encode(blob, 4 + siglen);
	assert_non_null(b64);
	out = malloc(strlen(text) + strlen(b64) + 200);
	assert_non_null(out);
	sprintf(out, "%s\n%s\xe2\x80\x94 log.example %s\n", text,
		witness_first ? "\xe2\x80\x94 witness.example AAAAAAAAAAAAAAAA\n" : "", b64);
	free(b64);
	return out;
}

static void test_checkpoint_signature(void **state)
{
	static const char text[] = "log.example\n3\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n";
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct sk_ss_log log = {.base_url = "https://log.example", .log_id_len = 32};
	struct sk_checkpoint c;
	struct sk_error err = {0};
	uint8_t root[32];
	char *env;

	(void)state;
	assert_non_null(key);
	assert_non_null(other);
	memset(log.log_id, 0x5a, sizeof(log.log_id));
	log.key = key;
	env = signed_checkpoint(key, log.log_id, text, false);
	assert_int_equal(sk_checkpoint_parse(env, strlen(env), &c, &err), 0);
	memcpy(root, c.root, 32);
	sk_checkpoint_free(&c);
	if (sk_ss_verify_checkpoint(env, &log, 3, root, &err))
		fail_msg("%s", err.msg);
	expect_err(sk_ss_verify_checkpoint(env, &log, 4, root, &err), &err,
		   "does not commit to the inclusion proof's tree");
	root[31] ^= 1;
	expect_err(sk_ss_verify_checkpoint(env, &log, 3, root, &err), &err, "different root hash");
	root[31] ^= 1;
	free(env);

	/* Unknown witnesses are skipped, whatever their position. */
	env = signed_checkpoint(key, log.log_id, text, true);
	if (sk_ss_verify_checkpoint(env, &log, 3, root, &err))
		fail_msg("%s", err.msg);
	free(env);

	/* Signed by another key under the log's hint: refused. */
	env = signed_checkpoint(other, log.log_id, text, false);
	expect_err(sk_ss_verify_checkpoint(env, &log, 3, root, &err), &err,
		   "does not verify with its key");
	free(env);

	/* The right key, but a hint naming another log: nothing of this log's. */
	env = signed_checkpoint(key, (const uint8_t *)"\x01\x02\x03\x04", text, false);
	expect_err(sk_ss_verify_checkpoint(env, &log, 3, root, &err), &err,
		   "checkpoint signed by an unknown key");
	free(env);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* ---- parsing ---- */

static void test_bundle_parse(void **state)
{
	struct json_object *o = load_json(CASES "/happy-path-v0.1/bundle.sigstore.json");
	struct sk_bundle *b = NULL;
	struct sk_error err = {0};
	size_t len = 0;
	char *text = slurp(CASES "/happy-path-v0.1/bundle.sigstore.json", &len);
	struct json_object *tmp;

	(void)state;
	if (sk_bundle_parse(text, len, "happy", &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(sk_bundle_version(b), SK_BUNDLE_V0_1);
	assert_int_equal(sk_bundle_content(b), SK_BUNDLE_MESSAGE_SIGNATURE);
	assert_int_equal(sk_bundle_material(b), SK_BUNDLE_CERTIFICATE);
	assert_null(sk_bundle_payload(b, NULL));
	sk_bundle_free(b);

	/* Truncated anywhere: refused as JSON, never half-read. */
	for (size_t cut = 1; cut < len; cut += len / 37 + 1)
		expect_err(sk_bundle_parse(text, cut, "cut", &b, &err), &err, "invalid JSON");
	free(text);
	expect_err(sk_bundle_parse("[]", 2, "array", &b, &err), &err, "");
	expect_err(sk_bundle_parse("{}", 2, "empty", &b, &err), &err, "unknown bundle version");

	json_object_object_add(
	    o, "mediaType",
	    json_object_new_string("application/vnd.dev.sigstore.bundle.v0.4+json"));
	expect_err(parse_json_bundle(o, &b, &err), &err, "unknown bundle version");
	json_object_object_add(
	    o, "mediaType",
	    json_object_new_string("application/vnd.dev.sigstore.bundle+json;version=0.3"));
	expect_err(parse_json_bundle(o, &b, &err), &err,
		   "must carry a certificate, not an x509CertificateChain");
	json_object_object_add(
	    o, "mediaType",
	    json_object_new_string("application/vnd.dev.sigstore.bundle+json;version=0.1"));

	/* Exactly one content and one verification material. */
	tmp = json_object_get(at(o, "messageSignature"));
	json_object_object_add(o, "dsseEnvelope", tmp);
	expect_err(parse_json_bundle(o, &b, &err), &err, "exactly one of messageSignature");
	json_object_object_del(o, "dsseEnvelope");
	json_object_object_add(at(o, "verificationMaterial"), "publicKey",
			       json_object_new_object());
	expect_err(parse_json_bundle(o, &b, &err), &err, "exactly one of x509CertificateChain");
	json_object_object_del(at(o, "verificationMaterial"), "publicKey");

	/* v0.1 needs the log's promise; v0.2 the inclusion proof. */
	tmp = json_object_get(
	    at(at(at(at(o, "verificationMaterial"), "tlogEntries"), "0"), "inclusionPromise"));
	json_object_object_del(at(at(at(o, "verificationMaterial"), "tlogEntries"), "0"),
			       "inclusionPromise");
	expect_err(parse_json_bundle(o, &b, &err), &err, "has no inclusionPromise");
	json_object_object_add(at(at(at(o, "verificationMaterial"), "tlogEntries"), "0"),
			       "inclusionPromise", tmp);
	json_object_object_add(
	    o, "mediaType",
	    json_object_new_string("application/vnd.dev.sigstore.bundle+json;version=0.2"));
	json_object_object_del(at(at(at(o, "verificationMaterial"), "tlogEntries"), "0"),
			       "inclusionProof");
	expect_err(parse_json_bundle(o, &b, &err), &err, "has no inclusion proof");
	json_object_put(o);

	/* A DSSE envelope carries exactly one signature. */
	o = load_json(CASES "/dsse-invalid-sig_fail/bundle.sigstore.json");
	tmp = at(at(o, "dsseEnvelope"), "signatures");
	json_object_array_add(tmp, json_object_get(json_object_array_get_idx(tmp, 0)));
	expect_err(parse_json_bundle(o, &b, &err), &err, "has 2 signatures");
	json_object_put(o);
}

static void test_root_parse(void **state)
{
	struct sk_sigstore_root *r = public_good();
	struct sk_sigstore_root_info info;
	struct json_object *o;
	struct sk_error err = {0};
	size_t len;
	const char *s;

	(void)state;
	sk_sigstore_root_info(r, &info);
	assert_int_equal(info.tlogs, 2);
	assert_int_equal(info.ctlogs, 2);
	assert_int_equal(info.certificate_authorities, 2);
	assert_int_equal(info.timestamp_authorities, 1);
	sk_sigstore_root_free(r);

	o = load_json(PUBLIC_GOOD);
	json_object_object_add(o, "mediaType", json_object_new_string("application/x-other"));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	expect_err(sk_sigstore_root_parse(s, len, "root", &r, &err), &err,
		   "is not a trusted root version");
	json_object_put(o);

	o = load_json(PUBLIC_GOOD);
	json_object_object_add(at(at(at(at(o, "tlogs"), "0"), "publicKey"), "validFor"), "start",
			       json_object_new_string("yesterday"));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	expect_err(sk_sigstore_root_parse(s, len, "root", &r, &err), &err,
		   "validFor.start is not an RFC 3339 time");
	json_object_put(o);

	o = load_json(PUBLIC_GOOD);
	json_object_object_add(at(at(at(o, "certificateAuthorities"), "0"), "certChain"),
			       "certificates", json_object_new_array());
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	if (sk_sigstore_root_parse(s, len, "root", &r, &err))
		fail_msg("a CA without certificates is kept, unused: %s", err.msg);
	sk_sigstore_root_free(r);
	json_object_put(o);
}

static void test_time_and_base64(void **state)
{
	struct sk_ss_bytes b = {0};
	struct sk_error err = {0};
	int64_t ms = 0;

	(void)state;
	assert_int_equal(sk_ss_parse_time("2023-07-12T15:56:36Z", &ms), 0);
	assert_int_equal(ms, 1689177396000LL);
	assert_int_equal(sk_ss_parse_time("2022-12-31T23:59:59.999Z", &ms), 0);
	assert_int_equal(ms, 1672531199999LL);
	assert_int_equal(sk_ss_parse_time("2023-07-12T17:56:36+02:00", &ms), 0);
	assert_int_equal(ms, 1689177396000LL);
	assert_int_not_equal(sk_ss_parse_time("2023-07-12 15:56:36", &ms), 0);
	assert_int_not_equal(sk_ss_parse_time("2023-07-12T15:56:36", &ms), 0);
	assert_int_not_equal(sk_ss_parse_time("2023-07-12T15:56:36Zjunk", &ms), 0);

	assert_int_equal(sk_ss_b64_decode("YWJj", "t", &b, &err), 0);
	assert_int_equal(b.len, 3);
	sk_ss_bytes_free(&b);
	assert_int_equal(sk_ss_b64_decode("YQ==", "t", &b, &err), 0);
	assert_int_equal(b.len, 1);
	sk_ss_bytes_free(&b);
	/* protobuf JSON: URL-safe and unpadded are the same bytes */
	assert_int_equal(sk_ss_b64_decode("-_8", "t", &b, &err), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "\xfb\xff", 2);
	sk_ss_bytes_free(&b);
	/* Go's decoder skips line breaks, and some bundles wrap long values. */
	assert_int_equal(sk_ss_b64_decode("YW\nJj\r\n", "t", &b, &err), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "abc", 3);
	sk_ss_bytes_free(&b);
	expect_err(sk_ss_b64_decode("YQ=A", "t", &b, &err), &err, "invalid base64");
	expect_err(sk_ss_b64_decode("Y", "t", &b, &err), &err, "truncated");
	expect_err(sk_ss_b64_decode("YW Jj", "t", &b, &err), &err, "invalid base64");
	expect_err(sk_ss_b64_decode("====", "t", &b, &err), &err, "invalid base64");
}

/* ---- verification, one change at a time ---- */

static int reject_all(const struct sk_bundle_result *r, void *ctx, struct sk_error *err)
{
	*(int *)ctx += 1;
	return sk_errf(err, -EKEYREJECTED, "repository %s is not allowed",
		       r->claims[SK_FULCIO_GITHUB_REPOSITORY]
			   ? r->claims[SK_FULCIO_GITHUB_REPOSITORY]
			   : "(none)");
}

static void test_verify_happy_path(void **state)
{
	struct json_object *o = load_json(CASES "/happy-path-v0.1/bundle.sigstore.json");
	struct sk_sigstore_root *root = public_good();
	struct sk_bundle_result res = {0};
	struct sk_bundle_policy p = {0};
	struct sk_error err = {0};
	int calls = 0;

	(void)state;
	if (verify_json(o, root, NULL, &res, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(res.san, BEACON_ID);
	assert_string_equal(res.issuer, BEACON_ISSUER);
	assert_string_equal(res.claims[SK_FULCIO_GITHUB_REPOSITORY],
			    "sigstore-conformance/extremely-dangerous-public-oidc-beacon");
	assert_string_equal(res.claims[SK_FULCIO_GITHUB_REF], "refs/heads/main");
	assert_int_equal(res.log_index, 27246492);
	assert_int_equal(res.signed_at, 1689177396);
	assert_int_equal(res.tlog_entries, 1);
	assert_int_equal(res.scts, 1);
	assert_int_equal(res.timestamps, 0);
	sk_bundle_result_free(&res);

	/* The caller's matcher sees the claims and can refuse. */
	p.match = reject_all;
	p.match_ctx = &calls;
	expect_err(verify_json(o, root, &p, &res, &err), &err,
		   "repository sigstore-conformance/extremely-dangerous-public-oidc-beacon is not "
		   "allowed");
	assert_int_equal(calls, 1);
	sk_bundle_result_free(&res);

	/* Keyless without an expected identity is a usage error, not a pass. */
	memset(&p, 0, sizeof(p));
	p.identity = BEACON_ID;
	expect_err(verify_json(o, root, &p, &res, &err), &err, "an expected identity");
	sk_bundle_result_free(&res);

	/* "Now" before the log's time: the entry is from the future. */
	memset(&p, 0, sizeof(p));
	p.identity = BEACON_ID;
	p.issuer = BEACON_ISSUER;
	p.now = 1689177396 - 3600;
	expect_err(verify_json(o, root, &p, &res, &err), &err, "is in the future");
	sk_bundle_result_free(&res);
	json_object_put(o);
	sk_sigstore_root_free(root);
}

static void test_verify_tampered(void **state)
{
	struct sk_sigstore_root *root = public_good();
	struct sk_bundle_result res = {0};
	struct sk_error err = {0};
	struct json_object *o, *entry;
	char *s;

	(void)state;
	/* A SET over another integrated time. */
	o = load_json(CASES "/happy-path-v0.1/bundle.sigstore.json");
	entry = at(at(at(o, "verificationMaterial"), "tlogEntries"), "0");
	json_object_object_add(entry, "integratedTime", json_object_new_string("1689177397"));
	expect_err(verify_json(o, root, NULL, &res, &err), &err,
		   "signed entry timestamp (SET) does not verify");
	sk_bundle_result_free(&res);
	json_object_put(o);

	/* A SET flipped. */
	o = load_json(CASES "/happy-path-v0.1/bundle.sigstore.json");
	entry = at(at(at(o, "verificationMaterial"), "tlogEntries"), "0");
	s = strdup(
	    json_object_get_string(at(at(entry, "inclusionPromise"), "signedEntryTimestamp")));
	s[20] = s[20] == 'A' ? 'B' : 'A';
	json_object_object_add(at(entry, "inclusionPromise"), "signedEntryTimestamp",
			       json_object_new_string(s));
	free(s);
	expect_err(verify_json(o, root, NULL, &res, &err), &err, "(SET) does not verify");
	sk_bundle_result_free(&res);
	json_object_put(o);

	/* The checkpoint's tree differs from the proof's: one bit of its root hash. */
	o = load_json(CASES "/happy-path-v0.1/bundle.sigstore.json");
	entry = at(at(at(o, "verificationMaterial"), "tlogEntries"), "0");
	s = strdup(
	    json_object_get_string(at(at(at(entry, "inclusionProof"), "checkpoint"), "envelope")));
	*strstr(s, "dauhleYK") = 'e';
	json_object_object_add(at(at(entry, "inclusionProof"), "checkpoint"), "envelope",
			       json_object_new_string(s));
	free(s);
	expect_err(verify_json(o, root, NULL, &res, &err), &err, "");
	assert_true(strstr(err.msg, "checkpoint") != NULL);
	sk_bundle_result_free(&res);
	json_object_put(o);

	/* No log entry at all. */
	o = load_json(CASES "/happy-path-v0.1/bundle.sigstore.json");
	json_object_object_add(at(o, "verificationMaterial"), "tlogEntries",
			       json_object_new_array());
	expect_err(verify_json(o, root, NULL, &res, &err), &err, "no transparency log entry");
	sk_bundle_result_free(&res);
	json_object_put(o);
	sk_sigstore_root_free(root);
}

static void test_verify_root_windows(void **state)
{
	struct json_object *b = load_json(CASES "/happy-path-v0.1/bundle.sigstore.json");
	struct json_object *r;
	struct sk_sigstore_root *root;
	struct sk_bundle_result res = {0};
	struct sk_error err = {0};

	(void)state;
	/* The log's key expired one second before the entry was integrated. */
	r = load_json(PUBLIC_GOOD);
	json_object_object_add(at(at(at(at(r, "tlogs"), "0"), "publicKey"), "validFor"), "end",
			       json_object_new_string("2023-07-12T15:56:35Z"));
	root = root_from_json(r);
	expect_err(verify_json(b, root, NULL, &res, &err), &err,
		   "is outside the validity of log https://rekor.sigstore.dev's key");
	sk_bundle_result_free(&res);
	sk_sigstore_root_free(root);
	json_object_put(r);

	/* The CA was not valid yet at the signing time. */
	r = load_json(PUBLIC_GOOD);
	json_object_object_add(at(at(at(r, "certificateAuthorities"), "1"), "validFor"), "start",
			       json_object_new_string("2024-01-01T00:00:00Z"));
	root = root_from_json(r);
	expect_err(verify_json(b, root, NULL, &res, &err), &err,
		   "certificate chain does not lead to a trusted root");
	sk_bundle_result_free(&res);
	sk_sigstore_root_free(root);
	json_object_put(r);

	/* The issuing CA's entry lost its certificates: kept, but it vouches for nothing. */
	r = load_json(PUBLIC_GOOD);
	json_object_object_add(at(at(at(r, "certificateAuthorities"), "1"), "certChain"),
			       "certificates", json_object_new_array());
	root = root_from_json(r);
	expect_err(verify_json(b, root, NULL, &res, &err), &err,
		   "certificate chain does not lead to a trusted root");
	sk_bundle_result_free(&res);
	sk_sigstore_root_free(root);
	json_object_put(r);

	/* The CT log's key was not valid when it issued the SCT. */
	r = load_json(PUBLIC_GOOD);
	json_object_object_add(at(at(at(at(r, "ctlogs"), "1"), "publicKey"), "validFor"), "start",
			       json_object_new_string("2024-01-01T00:00:00Z"));
	root = root_from_json(r);
	expect_err(verify_json(b, root, NULL, &res, &err), &err,
		   "issued outside the validity of its CT log's key");
	sk_bundle_result_free(&res);
	sk_sigstore_root_free(root);
	json_object_put(r);
	json_object_put(b);
}

static void test_verify_managed_key(void **state)
{
	struct json_object *b =
	    load_json(CASES "/managed-key-and-trusted-root/bundle.sigstore.json");
	struct json_object *r = load_json(CASES "/managed-key-and-trusted-root/trusted_root.json");
	struct sk_sigstore_root *root = root_from_json(r);
	struct sk_bundle_policy p = {0};
	struct sk_bundle_result res = {0};
	struct sk_error err = {0};
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *der = NULL;
	int n;
	size_t len = 0;
	char *pem = slurp(CASES "/managed-key-and-trusted-root/key.pub", &len);

	(void)state;
	p.key_pem = pem;
	p.key_pem_len = len;
	if (verify_json(b, root, &p, &res, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(res.material, SK_BUNDLE_PUBLIC_KEY);
	assert_null(res.san);
	assert_int_equal(res.tlog_entries, 1);
	sk_bundle_result_free(&res);

	/* Another key: the signature does not verify. */
	assert_non_null(other);
	n = i2d_PUBKEY(other, &der);
	assert_true(n > 0);
	p.key_pem = der;
	p.key_pem_len = (size_t)n;
	expect_err(verify_json(b, root, &p, &res, &err), &err,
		   "signature does not verify over the artifact with the given key");
	sk_bundle_result_free(&res);

	/* Without a log entry: only when the caller allows it (cosign's tlog-less bundles). */
	p.key_pem = pem;
	p.key_pem_len = len;
	json_object_object_add(at(b, "verificationMaterial"), "tlogEntries",
			       json_object_new_array());
	expect_err(verify_json(b, root, &p, &res, &err), &err, "no transparency log entry");
	sk_bundle_result_free(&res);
	p.allow_no_tlog = true;
	if (verify_json(b, root, &p, &res, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(res.tlog_entries, 0);
	sk_bundle_result_free(&res);

	OPENSSL_free(der);
	EVP_PKEY_free(other);
	free(pem);
	sk_sigstore_root_free(root);
	json_object_put(r);
	json_object_put(b);
}

static void test_verify_digest_and_dsse(void **state)
{
	struct sk_sigstore_root *root = public_good();
	struct sk_bundle_policy p = {.identity = BEACON_ID, .issuer = BEACON_ISSUER};
	struct sk_bundle_result res = {0};
	struct sk_error err = {0};
	struct sk_bundle *b = NULL;
	struct json_object *o, *r;

	(void)state;
	if (sk_bundle_load(CASES "/happy-path-v0.3-new-mediaType/bundle.sigstore.json", &b, &err))
		fail_msg("%s", err.msg);
	if (sk_bundle_verify_digest(
		b, root, &p,
		"sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf", &res,
		&err))
		fail_msg("%s", err.msg);
	assert_int_equal(res.version, SK_BUNDLE_V0_3);
	sk_bundle_result_free(&res);
	expect_err(sk_bundle_verify_digest(b, root, &p, "sha256:A0CF", &res, &err), &err,
		   "is not a digest");
	sk_bundle_free(b);
	sk_sigstore_root_free(root);

	/* DSSE: the in-toto subject must be the artifact. */
	r = load_json(CASES "/intoto-with-custom-trust-root/trusted_root.json");
	root = root_from_json(r);
	if (sk_bundle_load(CASES "/intoto-with-custom-trust-root/bundle.sigstore.json", &b, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(sk_bundle_payload_type(b), "application/vnd.in-toto+json");
	if (sk_bundle_verify_digest(
		b, root, &p,
		"sha256:330a043220fa13e01d68a7db39c89e12b0c4c3b6a0346fe624b0903f1303b5b2", &res,
		&err))
		fail_msg("%s", err.msg);
	assert_string_equal(res.predicate_type, "https://slsa.dev/provenance/v1");
	assert_int_equal(res.timestamps, 1);
	sk_bundle_result_free(&res);
	expect_err(sk_bundle_verify_digest(
		       b, root, &p,
		       "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf",
		       &res, &err),
		   &err, "no subject of the in-toto statement");
	sk_bundle_result_free(&res);
	sk_bundle_free(b);
	sk_sigstore_root_free(root);
	json_object_put(r);

	/*
	 * The TSA's window must contain its timestamp, and the window must be
	 * that TSA's: another entry without certificates whose window covers
	 * the time lends it nothing.
	 */
	o = load_json(CASES "/intoto-with-custom-trust-root/trusted_root.json");
	json_object_object_add(at(at(at(o, "timestampAuthorities"), "0"), "validFor"), "end",
			       json_object_new_string("2023-01-31T00:00:00Z"));
	{
		struct json_object *empty = json_tokener_parse(
		    "{\"subject\":{\"commonName\":\"decoy\"},\"certChain\":{\"certificates\":[]},"
		    "\"validFor\":{\"start\":\"2023-01-31T00:00:00Z\"}}");

		assert_non_null(empty);
		json_object_array_add(at(o, "timestampAuthorities"), empty);
	}
	root = root_from_json(o);
	if (sk_bundle_load(CASES "/intoto-with-custom-trust-root/bundle.sigstore.json", &b, &err))
		fail_msg("%s", err.msg);
	/* The SET still gives a signing time: the failed TSA only does not count. */
	if (sk_bundle_verify_digest(
		b, root, &p,
		"sha256:330a043220fa13e01d68a7db39c89e12b0c4c3b6a0346fe624b0903f1303b5b2", &res,
		&err))
		fail_msg("%s", err.msg);
	assert_int_equal(res.timestamps, 0);
	sk_bundle_result_free(&res);
	sk_bundle_free(b);
	sk_sigstore_root_free(root);
	json_object_put(o);
}

/* ---- a synthetic log, signer and bundle built here (hashedrekord over DSSE) ---- */

static char *pub_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
	n = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)n);
	BIO_free(bio);
	assert_non_null(out);
	return out;
}

static char *sign_b64(EVP_PKEY *k, const void *data, size_t len, const uint8_t *prefix,
		      size_t prefix_len)
{
	uint8_t sig[256];
	size_t n = sizeof(sig) - prefix_len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *out;

	assert_non_null(ctx);
	if (prefix_len)
		memcpy(sig, prefix, prefix_len);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig + prefix_len, &n, data, len), 1);
	EVP_MD_CTX_free(ctx);
	out = sk_ss_b64_encode(sig, prefix_len + n);
	assert_non_null(out);
	return out;
}

static char *sha256_hex(const void *data, size_t len)
{
	uint8_t d[32];
	char *hex = malloc(65);

	assert_non_null(hex);
	assert_int_equal(sk_ss_digest(EVP_sha256(), data, len, d, NULL), 0);
	sk_ss_hex(d, 32, hex);
	return hex;
}

struct synth {
	struct json_object *bundle, *root;
	char *signer_pem;
};

/*
 * A managed-key DSSE bundle logged as hashedrekord 0.0.1 in a one-leaf log
 * of our own (SET and checkpoint), with the trusted root naming that log.
 * other_body: the log entry records the PAE of another statement.
 */
static void synth_build(struct synth *out, bool other_body)
{
	static const char type[] = "application/vnd.in-toto+json";
	EVP_PKEY *signer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *log = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct sk_buf payload = {0}, pae = {0}, logged = {0}, body = {0}, set = {0}, cp = {0};
	unsigned char *der = NULL;
	uint8_t logid[32], leaf[32];
	char logid_hex[65], *art_hex, *pae_hex, *sig, *pem_b64, *body_b64, *set_sig, *cp_sig;
	char *logid_b64, *der_b64, *payload_b64, *root_b64;
	size_t art_len = 0;
	char *art = slurp(CASES "/a.txt", &art_len);
	int n;

	assert_non_null(signer);
	assert_non_null(log);
	art_hex = sha256_hex(art, art_len);
	free(art);
	assert_int_equal(
	    sk_buf_printf(&payload,
			  "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
			  "\"name\":\"a.txt\",\"digest\":{\"sha256\":\"%s\"}}],"
			  "\"predicateType\":\"https://sigstore.dev/cosign/sign/v1\","
			  "\"predicate\":{}}",
			  art_hex),
	    0);
	assert_int_equal(sk_buf_printf(&pae, "DSSEv1 %zu %s %zu %.*s", strlen(type), type,
				       payload.len, (int)payload.len, (char *)payload.data),
			 0);
	assert_int_equal(sk_buf_printf(&logged, "DSSEv1 %zu %s %zu %.*s", strlen(type), type,
				       payload.len, (int)payload.len, (char *)payload.data),
			 0);
	if (other_body)
		logged.data[logged.len - 2] = '"'; /* another statement than the envelope's */
	sig = sign_b64(signer, pae.data, pae.len, NULL, 0);
	pae_hex = sha256_hex(logged.data, logged.len);
	out->signer_pem = pub_pem(signer);
	pem_b64 = sk_ss_b64_encode(out->signer_pem, strlen(out->signer_pem));
	assert_int_equal(
	    sk_buf_printf(&body,
			  "{\"apiVersion\":\"0.0.1\",\"kind\":\"hashedrekord\",\"spec\":{"
			  "\"data\":{\"hash\":{\"algorithm\":\"sha256\",\"value\":\"%s\"}"
			  "},\"signature\":{\"content\":\"%s\",\"publicKey\":{"
			  "\"content\":\"%s\"}}}}",
			  pae_hex, sig, pem_b64),
	    0);
	body_b64 = sk_ss_b64_encode(body.data, body.len);

	n = i2d_PUBKEY(log, &der);
	assert_true(n > 0);
	assert_int_equal(sk_ss_digest(EVP_sha256(), der, (size_t)n, logid, NULL), 0);
	sk_ss_hex(logid, 32, logid_hex);
	logid_b64 = sk_ss_b64_encode(logid, 32);
	der_b64 = sk_ss_b64_encode(der, (size_t)n);
	assert_int_equal(sk_buf_printf(&set,
				       "{\"body\":\"%s\",\"integratedTime\":1700000000,\"logID\":"
				       "\"%s\",\"logIndex\":7}",
				       body_b64, logid_hex),
			 0);
	set_sig = sign_b64(log, set.data, set.len, NULL, 0);
	assert_int_equal(sk_merkle_leaf_hash(body.data, body.len, leaf), 0);
	root_b64 = sk_ss_b64_encode(leaf, 32);
	assert_int_equal(sk_buf_printf(&cp, "synthetic.log\n1\n%s\n", root_b64), 0);
	cp_sig = sign_b64(log, cp.data, cp.len, logid, 4);
	assert_int_equal(sk_buf_printf(&cp, "\n\xe2\x80\x94 synthetic.log %s\n", cp_sig), 0);
	assert_int_equal(sk_buf_append(&cp, "", 1), 0);
	payload_b64 = sk_ss_b64_encode(payload.data, payload.len);

	{
		struct sk_buf b = {0}, r = {0};

		assert_int_equal(
		    sk_buf_printf(
			&b,
			"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\","
			"\"verificationMaterial\":{\"publicKey\":{\"hint\":\"synthetic\"},"
			"\"tlogEntries\":[{\"logIndex\":\"7\",\"logId\":{\"keyId\":\"%s\"},"
			"\"kindVersion\":{\"kind\":\"hashedrekord\",\"version\":\"0.0.1\"},"
			"\"integratedTime\":\"1700000000\",\"inclusionPromise\":{"
			"\"signedEntryTimestamp\":\"%s\"},\"inclusionProof\":{\"logIndex\":\"0\","
			"\"rootHash\":\"%s\",\"treeSize\":\"1\",\"hashes\":[],\"checkpoint\":{"
			"\"envelope\":\"\"}},\"canonicalizedBody\":\"%s\"}]},"
			"\"dsseEnvelope\":{\"payload\":\"%s\",\"payloadType\":\"%s\","
			"\"signatures\":[{\"sig\":\"%s\",\"keyid\":\"\"}]}}",
			logid_b64, set_sig, root_b64, body_b64, payload_b64, type, sig),
		    0);
		assert_int_equal(sk_buf_append(&b, "", 1), 0);
		out->bundle = json_tokener_parse((char *)b.data);
		assert_non_null(out->bundle);
		/* The checkpoint's newlines are easier to set through json-c than to escape. */
		json_object_object_add(
		    at(at(at(at(at(out->bundle, "verificationMaterial"), "tlogEntries"), "0"),
			  "inclusionProof"),
		       "checkpoint"),
		    "envelope", json_object_new_string((char *)cp.data));
		assert_int_equal(
		    sk_buf_printf(&r,
				  "{\"mediaType\":\"application/"
				  "vnd.dev.sigstore.trustedroot+json;version=0.1\",\"tlogs\":[{"
				  "\"baseUrl\":\"https://synthetic.log\",\"hashAlgorithm\":\"SHA2_"
				  "256\",\"publicKey\":{\"rawBytes\":\"%s\",\"keyDetails\":\"PKIX_"
				  "ECDSA_P256_SHA_256\",\"validFor\":{\"start\":\"2020-01-01T00:00:"
				  "00Z\"}},\"logId\":{\"keyId\":\"%s\"}}]}",
				  der_b64, logid_b64),
		    0);
		assert_int_equal(sk_buf_append(&r, "", 1), 0);
		out->root = json_tokener_parse((char *)r.data);
		assert_non_null(out->root);
		sk_buf_free(&b);
		sk_buf_free(&r);
	}
	free(art_hex);
	free(pae_hex);
	free(sig);
	free(pem_b64);
	free(body_b64);
	free(set_sig);
	free(cp_sig);
	free(logid_b64);
	free(der_b64);
	free(payload_b64);
	free(root_b64);
	OPENSSL_free(der);
	sk_buf_free(&payload);
	sk_buf_free(&pae);
	sk_buf_free(&logged);
	sk_buf_free(&body);
	sk_buf_free(&set);
	sk_buf_free(&cp);
	EVP_PKEY_free(signer);
	EVP_PKEY_free(log);
}

static void synth_free(struct synth *s)
{
	json_object_put(s->bundle);
	json_object_put(s->root);
	free(s->signer_pem);
}

static void test_verify_synthetic_hashedrekord_over_dsse(void **state)
{
	struct sk_bundle_result res = {0};
	struct sk_error err = {0};
	struct sk_bundle_policy p = {0};
	struct sk_sigstore_root *root;
	struct synth s;

	(void)state;
	synth_build(&s, false);
	root = root_from_json(s.root);
	p.key_pem = s.signer_pem;
	p.key_pem_len = strlen(s.signer_pem);
	if (verify_json(s.bundle, root, &p, &res, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(res.content, SK_BUNDLE_DSSE);
	assert_string_equal(res.predicate_type, "https://sigstore.dev/cosign/sign/v1");
	assert_int_equal(res.log_index, 7);
	assert_int_equal(res.signed_at, 1700000000);
	sk_bundle_result_free(&res);

	/* Our own log's time is checked against "now" like Rekor's. */
	p.now = 1700000000 - 61;
	expect_err(verify_json(s.bundle, root, &p, &res, &err), &err, "is in the future");
	sk_bundle_result_free(&res);
	p.now = 1700000000 - 59; /* within the allowed clock skew */
	if (verify_json(s.bundle, root, &p, &res, &err))
		fail_msg("%s", err.msg);
	sk_bundle_result_free(&res);
	sk_sigstore_root_free(root);
	synth_free(&s);

	/* The log entry is for the PAE of another statement. */
	synth_build(&s, true);
	root = root_from_json(s.root);
	p.now = 0;
	p.key_pem = s.signer_pem;
	p.key_pem_len = strlen(s.signer_pem);
	expect_err(verify_json(s.bundle, root, &p, &res, &err), &err,
		   "log entry's DSSE envelope digest does not match");
	sk_bundle_result_free(&res);
	sk_sigstore_root_free(root);
	synth_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merkle_rfc6962_roots),
	    cmocka_unit_test(test_merkle_inclusion_all_positions),
	    cmocka_unit_test(test_checkpoint_parse),
	    cmocka_unit_test(test_checkpoint_signature),
	    cmocka_unit_test(test_bundle_parse),
	    cmocka_unit_test(test_root_parse),
	    cmocka_unit_test(test_time_and_base64),
	    cmocka_unit_test(test_verify_happy_path),
	    cmocka_unit_test(test_verify_tampered),
	    cmocka_unit_test(test_verify_root_windows),
	    cmocka_unit_test(test_verify_managed_key),
	    cmocka_unit_test(test_verify_digest_and_dsse),
	    cmocka_unit_test(test_verify_synthetic_hashedrekord_over_dsse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
