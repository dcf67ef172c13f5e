/* SPDX-License-Identifier: Apache-2.0 */
/* Keys, cosign-format signatures, signature manifests and the trust policy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "schedkit/trust.h"

#define FIX  SK_SRC_DATADIR "/tests/trust"
#define KEYS FIX "/keys"
#define COS  FIX "/cosign-2.5"

/* The artifact cosign signed when the fixtures in tests/trust/cosign-2.5 were made. */
#define COSIGN_REPO   "127.0.0.1:52147/test/x"
#define COSIGN_DIGEST "sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958"

#define REPO   "reg.example/team/sched"
#define DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define OTHER  "sha256:2222222222222222222222222222222222222222222222222222222222222222"

struct state {
	struct sk_key *k1;    /* ec-sec1.pem */
	struct sk_key *k2;    /* ec-pkcs8.pem */
	struct sk_key *k3;    /* ed25519.pem */
	struct sk_key *stray; /* generated, in no policy */
	char tmp[64];
};

/* A signed payload: what the registry part hands to sk_policy_evaluate. */
struct signed_payload {
	struct sk_buf payload;
	char *sig;
};

static uint8_t *read_all(const char *path, size_t *len)
{
	struct sk_error err = {0};
	uint8_t *data = NULL;

	if (sk_read_file(path, 1 << 20, &data, len, &err))
		fail_msg("%s", err.msg);
	return data;
}

static struct sk_key *load_priv(const char *path)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL;

	if (sk_key_load_private_file(path, NULL, &k, &err))
		fail_msg("%s", err.msg);
	return k;
}

static int group_setup(void **state)
{
	struct state *s = calloc(1, sizeof(*s));
	struct sk_error err = {0};

	s->k1 = load_priv(KEYS "/ec-sec1.pem");
	s->k2 = load_priv(KEYS "/ec-pkcs8.pem");
	s->k3 = load_priv(KEYS "/ed25519.pem");
	if (sk_key_generate(&s->stray, &err))
		fail_msg("%s", err.msg);
	snprintf(s->tmp, sizeof(s->tmp), "/tmp/sktrust.XXXXXX");
	if (!mkdtemp(s->tmp))
		fail_msg("mkdtemp");
	unsetenv(SK_KEY_PASSWORD_ENV);
	*state = s;
	return 0;
}

static int group_teardown(void **state)
{
	struct state *s = *state;

	sk_key_free(s->k1);
	sk_key_free(s->k2);
	sk_key_free(s->k3);
	sk_key_free(s->stray);
	sk_rm_rf(s->tmp);
	free(s);
	return 0;
}

static void sign_payload(const struct sk_key *k, const char *repo, const char *digest,
			 const char *ann, struct signed_payload *out)
{
	struct sk_strv a = {0};
	struct sk_error err = {0};

	memset(out, 0, sizeof(*out));
	if (ann)
		assert_int_equal(sk_strv_push(&a, ann), 0);
	if (sk_payload_build(repo, digest, &a, &out->payload, &err) ||
	    sk_sign(k, out->payload.data, out->payload.len, &out->sig, &err))
		fail_msg("%s", err.msg);
	sk_strv_free(&a);
}

static void signed_free(struct signed_payload *p)
{
	sk_buf_free(&p->payload);
	free(p->sig);
}

static struct sk_trust_signature as_sig(const struct signed_payload *p)
{
	return (struct sk_trust_signature){p->payload.data, p->payload.len, p->sig};
}

static bool same_public(const struct sk_key *a, const char *pub_path)
{
	struct sk_error err = {0};
	struct sk_key *p = NULL;
	bool same;

	if (sk_key_load_public_file(pub_path, &p, &err))
		fail_msg("%s", err.msg);
	same = sk_key_same_public(a, p);
	sk_key_free(p);
	return same;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---- keys ---- */

static void test_key_generate_unencrypted(void **state)
{
	struct sk_error err = {0};
	struct sk_buf pem = {0}, pub = {0};
	struct sk_key *k = NULL, *back = NULL, *pk = NULL;
	char *sig = NULL;

	(void)state;
	assert_int_equal(sk_key_generate(&k, &err), 0);
	assert_int_equal(sk_key_type(k), SK_KEY_ECDSA_P256);
	assert_int_equal(sk_key_private_pem(k, NULL, &pem, &err), 0);
	assert_non_null(memmem(pem.data, pem.len, "-----BEGIN PRIVATE KEY-----", 27));
	assert_false(sk_key_pem_is_encrypted(pem.data, pem.len));
	assert_int_equal(sk_key_load_private(pem.data, pem.len, NULL, "mem", &back, &err), 0);
	assert_true(sk_key_same_public(k, back));
	assert_int_equal(sk_key_public_pem(k, &pub, &err), 0);
	assert_non_null(memmem(pub.data, pub.len, "-----BEGIN PUBLIC KEY-----", 26));
	assert_int_equal(sk_key_load_public(pub.data, pub.len, "mem", &pk, &err), 0);
	assert_false(sk_key_is_private(pk));
	assert_int_equal(sk_sign(back, "abc", 3, &sig, &err), 0);
	assert_int_equal(sk_verify(pk, "abc", 3, sig, &err), 0);
	free(sig);
	sk_buf_free_secret(&pem);
	sk_buf_free(&pub);
	sk_key_free(k);
	sk_key_free(back);
	sk_key_free(pk);
}

static void test_key_generate_encrypted(void **state)
{
	struct sk_error err = {0};
	struct sk_buf pem = {0};
	struct sk_key *k = NULL, *back = NULL;

	(void)state;
	assert_int_equal(sk_key_generate(&k, &err), 0);
	assert_int_equal(sk_key_private_pem(k, "s3cret pass", &pem, &err), 0);
	assert_non_null(memmem(pem.data, pem.len, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37));
	assert_true(sk_key_pem_is_encrypted(pem.data, pem.len));
	assert_int_equal(sk_key_load_private(pem.data, pem.len, "wrong", "k.key", &back, &err),
			 -EACCES);
	assert_contains(err.msg, "k.key: cannot decrypt the key: wrong password");
	assert_int_equal(sk_key_load_private(pem.data, pem.len, NULL, "k.key", &back, &err),
			 -EACCES);
	assert_contains(err.msg, "encrypted; set " SK_KEY_PASSWORD_ENV);
	assert_int_equal(
	    sk_key_load_private(pem.data, pem.len, "s3cret pass", "k.key", &back, &err), 0);
	assert_true(sk_key_same_public(k, back));
	sk_buf_free_secret(&pem);
	sk_key_free(k);
	sk_key_free(back);
}

static void test_key_write_pair(void **state)
{
	struct state *s = *state;
	struct sk_error err = {0};
	struct sk_key *k = NULL, *back = NULL;
	char prefix[128], path[160];
	struct stat st;
	uint8_t *before, *after;
	size_t lb, la;

	snprintf(prefix, sizeof(prefix), "%s/release", s->tmp);
	assert_int_equal(sk_key_generate(&k, &err), 0);
	assert_int_equal(sk_key_write_pair(k, prefix, "pw", &err), 0);
	snprintf(path, sizeof(path), "%s.key", prefix);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	before = read_all(path, &lb);
	assert_non_null(memmem(before, lb, "ENCRYPTED PRIVATE KEY", 21));

	/* Refuses to overwrite, and leaves the existing key as it was. */
	assert_int_equal(sk_key_write_pair(s->stray, prefix, NULL, &err), -EEXIST);
	assert_contains(err.msg, "already exists; refusing to overwrite");
	after = read_all(path, &la);
	assert_memory_equal(before, after, lb);
	assert_int_equal(lb, la);

	/* The password comes from the environment when loading for signing. */
	setenv(SK_KEY_PASSWORD_ENV, "pw", 1);
	assert_int_equal(sk_key_load_signing_key(path, &back, &err), 0);
	unsetenv(SK_KEY_PASSWORD_ENV);
	assert_true(sk_key_same_public(k, back));
	snprintf(path, sizeof(path), "%s.pub", prefix);
	assert_true(same_public(k, path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	free(before);
	free(after);
	sk_key_free(k);
	sk_key_free(back);
}

static void test_key_load_sec1_from_ecparam(void **state)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL;

	(void)state;
	/* `openssl ecparam -genkey` writes an EC PARAMETERS block before the key. */
	assert_int_equal(sk_key_load_private_file(KEYS "/ec-sec1.pem", NULL, &k, &err), 0);
	assert_int_equal(sk_key_type(k), SK_KEY_ECDSA_P256);
	assert_true(same_public(k, KEYS "/ec-sec1.pub"));
	sk_key_free(k);
	assert_int_equal(
	    sk_key_load_private_file(KEYS "/ec-sec1-enc.pem", "fixture-password", &k, &err), 0);
	assert_true(same_public(k, KEYS "/ec-sec1.pub"));
	sk_key_free(k);
	assert_int_equal(sk_key_load_private_file(KEYS "/ec-sec1-enc.pem", "nope", &k, &err),
			 -EACCES);
	assert_contains(err.msg, "wrong password");
}

static void test_key_load_pkcs8(void **state)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL;

	(void)state;
	assert_int_equal(sk_key_load_private_file(KEYS "/ec-pkcs8.pem", NULL, &k, &err), 0);
	assert_true(same_public(k, KEYS "/ec-pkcs8.pub"));
	sk_key_free(k);
	assert_int_equal(
	    sk_key_load_private_file(KEYS "/ec-pkcs8-enc.pem", "fixture-password", &k, &err), 0);
	assert_true(same_public(k, KEYS "/ec-pkcs8.pub"));
	sk_key_free(k);
	k = NULL;
	assert_int_equal(
	    sk_key_load_private_file(KEYS "/ec-pkcs8-enc.pem", "wrong-password", &k, &err),
	    -EACCES);
	assert_null(k);
	assert_contains(err.msg, KEYS "/ec-pkcs8-enc.pem: cannot decrypt the key: wrong password");
}

static void test_key_load_ed25519(void **state)
{
	struct sk_error err = {0};
	struct sk_key *k = NULL, *pub = NULL;
	char *sig = NULL;

	(void)state;
	assert_int_equal(sk_key_load_private_file(KEYS "/ed25519.pem", NULL, &k, &err), 0);
	assert_int_equal(sk_key_type(k), SK_KEY_ED25519);
	assert_string_equal(sk_key_type_name(k), "ed25519");
	assert_int_equal(sk_key_load_public_file(KEYS "/ed25519.pub", &pub, &err), 0);
	assert_int_equal(sk_sign(k, "payload", 7, &sig, &err), 0);
	assert_int_equal(sk_verify(pub, "payload", 7, sig, &err), 0);
	assert_int_equal(sk_verify(pub, "payloaD", 7, sig, &err), -EKEYREJECTED);
	free(sig);
	sk_key_free(k);
	sk_key_free(pub);
}

static void test_key_unsupported_types(void **state)
{
	static const char *const rsa[] = {KEYS "/rsa.pem", KEYS "/rsa-traditional.pem"};
	struct sk_error err = {0};
	struct sk_key *k = NULL;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(sk_key_load_private_file(rsa[i], NULL, &k, &err), -ENOTSUP);
		assert_contains(err.msg,
				"unsupported key type RSA; use an ECDSA P-256 or Ed25519 key");
	}
	assert_int_equal(sk_key_load_public_file(KEYS "/rsa.pub", &k, &err), -ENOTSUP);
	assert_contains(err.msg, "unsupported key type RSA; use an ECDSA P-256 or Ed25519 key");
	assert_int_equal(sk_key_load_private_file(KEYS "/ec384.pem", NULL, &k, &err), -ENOTSUP);
	assert_contains(err.msg, "unsupported key type ECDSA secp384r1");
	assert_null(k);
}

static void test_key_wrong_kind_of_file(void **state)
{
	static const char cosign_key[] = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
					 "eyJrZGYiOnt9fQ==\n"
					 "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
	struct sk_error err = {0};
	struct sk_key *k = NULL;

	(void)state;
	assert_int_equal(sk_key_load_private_file(KEYS "/ec-sec1.pub", NULL, &k, &err), -EINVAL);
	assert_contains(err.msg, "holds a public key; signing needs the private key");
	assert_int_equal(sk_key_load_public_file(KEYS "/ec-sec1.pem", &k, &err), -EINVAL);
	assert_contains(err.msg, "holds a private key; give the public key");
	assert_int_equal(
	    sk_key_load_private(cosign_key, sizeof(cosign_key) - 1, NULL, "c.key", &k, &err),
	    -ENOTSUP);
	assert_contains(err.msg, "cosign's own encrypted key format");
	assert_int_equal(sk_key_load_private("junk", 4, NULL, "j.key", &k, &err), -EBADMSG);
	assert_contains(err.msg, "not a PEM key");
	assert_null(k);
}

/* ---- signatures ---- */

static void test_sign_verify_ecdsa(void **state)
{
	struct state *s = *state;
	struct sk_error err = {0};
	struct sk_key *pub = NULL;
	struct sk_key *keys[3];
	char *sig = NULL;
	size_t idx = 99;

	assert_int_equal(sk_sign(s->k1, "hello", 5, &sig, &err), 0);
	/* ASN.1 DER SEQUENCE, base64: "MEUC" or "MEYC" for P-256. */
	assert_true(!strncmp(sig, "ME", 2));
	assert_int_equal(sk_key_load_public_file(KEYS "/ec-sec1.pub", &pub, &err), 0);
	assert_int_equal(sk_verify(pub, "hello", 5, sig, &err), 0);
	assert_int_equal(sk_verify(pub, "hellO", 5, sig, &err), -EKEYREJECTED);
	assert_int_equal(sk_verify(s->k2, "hello", 5, sig, &err), -EKEYREJECTED);
	keys[0] = s->k2;
	keys[1] = s->k3;
	keys[2] = pub;
	assert_int_equal(sk_verify_any(keys, 3, "hello", 5, sig, &idx, &err), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(sk_verify(pub, "hello", 5, "not base64!", &err), -EILSEQ);
	assert_contains(err.msg, "not valid base64");
	sig[3] = '*';
	assert_int_equal(sk_verify(pub, "hello", 5, sig, &err), -EILSEQ);
	assert_int_equal(sk_verify(pub, "hello", 5, "", &err), -EILSEQ);
	assert_int_equal(sk_sign(pub, "x", 1, &sig, &err) == 0, false);
	free(sig);
	sk_key_free(pub);
}

/* Signatures that cosign 2.5 itself made verify with our code. */
static void test_verify_cosign_made_signatures(void **state)
{
	struct sk_sig_list l = {0};
	struct sk_error err = {0};
	struct sk_key *ec = NULL, *ed = NULL;
	uint8_t *m, *p1, *p2;
	size_t ml, l1, l2;

	(void)state;
	m = read_all(COS "/sig-manifest.json", &ml);
	p1 = read_all(COS "/payload-ecdsa.json", &l1);
	p2 = read_all(COS "/payload-ed25519.json", &l2);
	assert_int_equal(sk_key_load_public_file(COS "/ecdsa.pub", &ec, &err), 0);
	assert_int_equal(sk_key_load_public_file(COS "/ed25519.pub", &ed, &err), 0);
	assert_int_equal(sk_sigmanifest_parse(m, ml, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(sk_verify(ec, p1, l1, l.v[0].signature, &err), 0);
	assert_int_equal(sk_verify(ed, p2, l2, l.v[1].signature, &err), 0);
	assert_int_equal(sk_verify(ed, p1, l1, l.v[0].signature, &err), -EKEYREJECTED);
	sk_sig_list_free(&l);
	sk_key_free(ec);
	sk_key_free(ed);
	free(m);
	free(p1);
	free(p2);
}

/* ---- payloads ---- */

static void test_payload_bytes_match_cosign(void **state)
{
	struct sk_error err = {0};
	struct sk_buf b = {0};
	struct sk_strv ann = {0};
	uint8_t *want;
	size_t wl;

	(void)state;
	assert_int_equal(sk_payload_build(COSIGN_REPO, COSIGN_DIGEST, NULL, &b, &err), 0);
	want = read_all(COS "/payload-ecdsa.json", &wl);
	assert_int_equal(b.len, wl);
	assert_memory_equal(b.data, want, wl);
	free(want);
	sk_buf_free(&b);

	/* `cosign sign -a stage=production -a b=2`: sorted keys in "optional". */
	assert_int_equal(sk_strv_push(&ann, "stage=production"), 0);
	assert_int_equal(sk_strv_push(&ann, "b=2"), 0);
	assert_int_equal(sk_payload_build(COSIGN_REPO, COSIGN_DIGEST, &ann, &b, &err), 0);
	want = read_all(COS "/payload-ed25519.json", &wl);
	assert_int_equal(b.len, wl);
	assert_memory_equal(b.data, want, wl);
	free(want);
	sk_buf_free(&b);
	sk_strv_free(&ann);

	assert_int_equal(sk_payload_build(REPO ":v1", DIGEST, NULL, &b, &err), -EINVAL);
	assert_int_equal(sk_payload_build(REPO, "sha256:abc", NULL, &b, &err), -EINVAL);
	assert_int_equal(sk_strv_push(&ann, "novalue"), 0);
	assert_int_equal(sk_payload_build(REPO, DIGEST, &ann, &b, &err), -EINVAL);
	assert_contains(err.msg, "expected key=value");
	sk_strv_free(&ann);
	assert_int_equal(sk_strv_push(&ann, "a=1"), 0);
	assert_int_equal(sk_strv_push(&ann, "a=2"), 0);
	assert_int_equal(sk_payload_build(REPO, DIGEST, &ann, &b, &err), -EINVAL);
	assert_contains(err.msg, "given twice");
	sk_strv_free(&ann);
	sk_buf_free(&b);
}

static void expect_payload_error(const char *json, const char *msg)
{
	struct sk_payload p;
	struct sk_error err = {0};

	if (sk_payload_parse(json, strlen(json), &p, &err) != -EBADMSG)
		fail_msg("accepted: %s", json);
	assert_contains(err.msg, msg);
}

#define CRIT_OK                                                                                    \
	"\"critical\":{\"identity\":{\"docker-reference\":\"r.io/a\"},\"image\":{\"docker-"        \
	"manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image signature\"}"

static void test_payload_parse_strict(void **state)
{
	struct sk_error err = {0};
	struct sk_payload p;
	const char *ok = "{" CRIT_OK ",\"optional\":{\"stage\":\"production\",\"n\":3}}";
	char big[SK_PAYLOAD_MAX + 16];

	(void)state;
	assert_int_equal(sk_payload_parse(ok, strlen(ok), &p, &err), 0);
	assert_string_equal(p.reference, "r.io/a");
	assert_string_equal(p.digest, DIGEST);
	assert_string_equal(sk_payload_annotation(&p, "stage"), "production");
	assert_null(sk_payload_annotation(&p, "n"));
	assert_null(sk_payload_annotation(&p, "missing"));
	sk_payload_free(&p);

	expect_payload_error("{\"critical\":{\"identity\":{\"docker-reference\":\"r.io/a\"},"
			     "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
			     "\"type\":\"cosign container image signature\",\"extra\":1},"
			     "\"optional\":null}",
			     "critical: unknown field \"extra\"");
	expect_payload_error("{\"critical\":{\"identity\":{\"docker-reference\":\"r.io/a\","
			     "\"x\":1},\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
			     "\"type\":\"cosign container image signature\"},\"optional\":null}",
			     "critical.identity: unknown field \"x\"");
	expect_payload_error("{" CRIT_OK ",\"optional\":null,\"more\":true}",
			     "unknown field \"more\"");
	expect_payload_error("{\"critical\":{\"identity\":{\"docker-reference\":\"r.io/a\"},"
			     "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
			     "\"type\":\"atomic container signature\"},\"optional\":null}",
			     "critical.type is not");
	expect_payload_error("{\"critical\":{\"identity\":{\"docker-reference\":\"r.io/a\"},"
			     "\"image\":{\"docker-manifest-digest\":5},"
			     "\"type\":\"cosign container image signature\"},\"optional\":null}",
			     "docker-manifest-digest is missing or not a string");
	expect_payload_error("{" CRIT_OK "}", "\"optional\" is missing");
	expect_payload_error("{" CRIT_OK ",\"optional\":[]}", "neither null nor an object");
	expect_payload_error("{" CRIT_OK ",\"optional\":null} x", "invalid JSON");
	expect_payload_error("[1]", "expected a JSON object");
	expect_payload_error("{\"critical\":", "document ends early");
	expect_payload_error("{\"critical\":}", "invalid JSON");
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	expect_payload_error(big, "more than the 65536 allowed");
}

/* Regression: the payload's strings were compared as C strings, ending at a NUL. */
static void test_payload_refuses_nul_and_duplicates(void **state)
{
	(void)state;
	expect_payload_error(
	    "{\"critical\":{\"identity\":{\"docker-reference\":"
	    "\"r.io/sched/nul\\u0000.evil.example/x\"},\"image\":{\"docker-"
	    "manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image "
	    "signature\"},\"optional\":null}",
	    "payload: invalid JSON: the string at byte 44 contains a NUL character");
	expect_payload_error("{" CRIT_OK ",\"optional\":{\"stage\":\"production\\u0000-NOT\"}}",
			     "contains a NUL character");
	/* Which "stage" counts would depend on the parser: neither does. */
	expect_payload_error("{" CRIT_OK
			     ",\"optional\":{\"stage\":\"staging\",\"stage\":\"production\"}}",
			     "payload: invalid JSON: duplicate key \"stage\"");
}

/* ---- signature manifests ---- */

static void test_sigmanifest_matches_cosign(void **state)
{
	struct sk_sig_list l = {0};
	struct sk_error err = {0};
	struct sk_buf man = {0}, cfg = {0};
	uint8_t *m, *m1, *want_cfg, *p2;
	size_t ml, m1l, cl, p2l;
	char cfg_digest[80];

	(void)state;
	m = read_all(COS "/sig-manifest.json", &ml);
	want_cfg = read_all(COS "/sig-config.json", &cl);
	/* Parsing and rebuilding cosign's two-signature manifest gives its exact bytes. */
	assert_int_equal(sk_sigmanifest_parse(m, ml, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].media_type, SK_MT_COSIGN_SIMPLESIGNING);
	assert_string_equal(
	    l.v[0].digest,
	    "sha256:627e0597aa96af83dc428de77c56d98de571288eb6cc69ce4603f94cd853c6d6");
	assert_int_equal(l.v[0].size, 238);
	assert_int_equal(sk_sigmanifest_build(&l, &man, &cfg, cfg_digest, &err), 0);
	assert_int_equal(man.len, ml);
	assert_memory_equal(man.data, m, ml);
	assert_int_equal(cfg.len, cl);
	assert_memory_equal(cfg.data, want_cfg, cl);
	assert_string_equal(
	    cfg_digest, "sha256:054d580e472e444008f476f16e91efa60ffbedb4a043537aa4f15fa97173d422");
	sk_sig_list_free(&l);
	sk_buf_free(&man);
	sk_buf_free(&cfg);

	/* Adding cosign's second signature to its one-signature manifest: same result. */
	m1 = read_all(COS "/sig-manifest-1.json", &m1l);
	p2 = read_all(COS "/payload-ed25519.json", &p2l);
	assert_int_equal(sk_sigmanifest_parse(m1, m1l, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(
	    sk_sig_list_add(&l, p2, p2l,
			    "tzrBHofn9NIi6hvOxbm0g/YD+ObXffeZmRy4lBVrqaGmm75231hRznR5joRMXD"
			    "Ikf7ozOh22SXVTXOuSKm7dCQ==",
			    &err),
	    1);
	assert_int_equal(sk_sigmanifest_build(&l, &man, &cfg, cfg_digest, &err), 0);
	assert_int_equal(man.len, ml);
	assert_memory_equal(man.data, m, ml);
	assert_memory_equal(cfg.data, want_cfg, cl);
	sk_sig_list_free(&l);
	sk_buf_free(&man);
	sk_buf_free(&cfg);
	free(m);
	free(m1);
	free(p2);
	free(want_cfg);
}

static void test_sig_list_add_idempotent(void **state)
{
	struct state *s = *state;
	struct sk_sig_list l = {0};
	struct sk_error err = {0};
	struct sk_buf man = {0}, cfg = {0};
	struct signed_payload a, b;
	char cd[80];

	sign_payload(s->k1, REPO, DIGEST, NULL, &a);
	sign_payload(s->k2, REPO, DIGEST, NULL, &b);
	assert_int_equal(sk_sig_list_add(&l, a.payload.data, a.payload.len, a.sig, &err), 1);
	assert_int_equal(sk_sig_list_add(&l, a.payload.data, a.payload.len, a.sig, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(sk_sig_list_add(&l, b.payload.data, b.payload.len, b.sig, &err), 1);
	assert_int_equal(l.n, 2);
	/* Same payload bytes, so the same layer blob, but a second signature layer. */
	assert_string_equal(l.v[0].digest, l.v[1].digest);
	assert_int_equal(sk_sigmanifest_build(&l, &man, &cfg, cd, &err), 0);
	sk_sig_list_free(&l);
	assert_int_equal(sk_sigmanifest_parse(man.data, man.len, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].signature, a.sig);
	assert_string_equal(l.v[1].signature, b.sig);
	assert_int_equal(sk_sig_list_add(&l, b.payload.data, b.payload.len, b.sig, &err), 0);
	sk_sig_list_free(&l);
	sk_buf_free(&man);
	sk_buf_free(&cfg);
	signed_free(&a);
	signed_free(&b);
}

static void test_sigmanifest_parse_other_layers_and_errors(void **state)
{
	static const char other[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":2,"
	    "\"digest\":\"" DIGEST "\"},\"layers\":[{\"mediaType\":\"application/x-other\","
	    "\"size\":3,\"digest\":\"" OTHER "\",\"annotations\":{\"a\":\"b\"}}]}";
	static const char bad_layer[] = "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":"
					"\"x\",\"size\":1,\"digest\":\"sha256:zz\"}]}";
	struct sk_sig_list l = {0};
	struct sk_error err = {0};
	struct sk_buf man = {0}, cfg = {0};
	char cd[80];

	(void)state;
	assert_int_equal(sk_sigmanifest_parse("{\"schemaVersion\":2,\"layers\":[", 29, &l, &err),
			 -EBADMSG);
	assert_contains(err.msg, "document ends early");
	assert_int_equal(sk_sigmanifest_parse(other, strlen(other), &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_null(l.v[0].signature);
	/* Kept verbatim when the manifest is rebuilt. */
	assert_int_equal(sk_sigmanifest_build(&l, &man, &cfg, cd, &err), 0);
	assert_non_null(memmem(man.data, man.len, "\"annotations\":{\"a\":\"b\"}", 23));
	sk_sig_list_free(&l);
	sk_buf_free(&man);
	sk_buf_free(&cfg);
	assert_int_equal(sk_sigmanifest_parse("{\"schemaVersion\":1}", 19, &l, &err), -EBADMSG);
	assert_int_equal(sk_sigmanifest_parse("{\"schemaVersion\":2,\"layers\":{}}", 31, &l, &err),
			 -EBADMSG);
	assert_int_equal(sk_sigmanifest_parse(bad_layer, strlen(bad_layer), &l, &err), -EBADMSG);
	assert_contains(err.msg, "layer 0");
	assert_int_equal(sk_sigmanifest_build(&l, &man, &cfg, cd, &err), -EINVAL);
}

static void test_sig_tag(void **state)
{
	struct sk_error err = {0};
	char tag[SK_SIG_TAG_MAX];

	(void)state;
	assert_int_equal(sk_sig_tag(COSIGN_DIGEST, tag, &err), 0);
	assert_string_equal(
	    tag, "sha256-2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958.sig");
	assert_int_equal(sk_sig_tag("sha256:ABC", tag, &err), -EINVAL);
	assert_int_equal(sk_sig_tag("sha512:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b"
				    "77cb2ba958",
				    tag, &err),
			 -EINVAL);
}

/* ---- policy ---- */

/* A policy over the fixture keys; relative paths resolve in tests/trust. */
static struct sk_policy *policy_from(const char *json)
{
	struct sk_error err = {0};
	struct sk_policy *p = NULL;

	if (sk_policy_parse(json, strlen(json), "policy.json", FIX, &p, &err))
		fail_msg("%s", err.msg);
	return p;
}

static void expect_policy_error(const char *json, const char *msg)
{
	struct sk_error err = {0};
	struct sk_policy *p = NULL;

	if (!sk_policy_parse(json, strlen(json), "policy.json", FIX, &p, &err)) {
		sk_policy_free(p);
		fail_msg("accepted: %s", json);
	}
	assert_contains(err.msg, msg);
}

#define KEYS_JSON                                                                                  \
	"\"keys\":{\"k1\":\"keys/ec-sec1.pub\",\"k2\":{\"path\":\"keys/ec-pkcs8.pub\"},\"k3\":{"   \
	"\"path\":\"keys/ed25519.pub\"}}"

static const char main_policy[] =
    "{\"$schema\":\"https://schedkit.dev/policy.schema.json\",\"version\":1," KEYS_JSON ","
    "\"scopes\":{"
    "\"reg.example\":{\"keys\":[\"k1\"]},"
    "\"reg.example/team\":{\"keys\":[\"k2\"]},"
    "\"reg.example/team/prod\":{\"keys\":[\"k1\",\"k2\",\"k3\"],\"threshold\":2,"
    "\"require\":{\"stage\":\"production\"}},"
    "\"reg.example/blocked\":{\"keys\":[]},"
    "\"mirror.local:5000\":{\"keys\":[\"k1\"],\"mirror_of\":[\"reg.example\"]}}}";

static void test_policy_parse_errors(void **state)
{
	(void)state;
	expect_policy_error("{\"version\":1,\"trust\":{}}",
			    "policy.json: unknown field \"trust\" (allowed: $schema, version");
	expect_policy_error("{\"keys\":{}}", "\"version\": 1 is required");
	expect_policy_error("{\"version\":1,\"keys\":{\"a\":\"keys/missing.pub\"}}",
			    "policy.json: key \"a\": ");
	expect_policy_error("{\"version\":1,\"keys\":{\"a\":\"keys/missing.pub\"}}",
			    "keys/missing.pub: cannot open: No such file or directory");
	expect_policy_error("{\"version\":1,\"keys\":{\"a\":{\"path\":\"keys/ec-sec1.pub\","
			    "\"pem\":\"x\"}}}",
			    "exactly one of \"path\" or \"pem\"");
	expect_policy_error("{\"version\":1,\"keys\":{\"a b\":\"keys/ec-sec1.pub\"}}",
			    "key names use letters");
	expect_policy_error("{\"version\":1,\"keys\":{\"r\":\"keys/rsa.pub\"}}",
			    "unsupported key type RSA");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io\":{\"keys\":[\"k1\"],\"threshold\":0}}}",
			    "scope \"r.io\": bad threshold 0");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io\":{\"keys\":[\"k1\",\"k2\"],\"threshold\":3}}}",
			    "bad threshold 3: more than the 2 key(s) listed");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io\":{\"keys\":[\"k1\"],\"threshold\":\"1\"}}}",
			    "bad threshold \"1\"");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io\":{\"keys\":[\"k9\"]}}}",
			    "key \"k9\" is not defined");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io\":{\"keys\":[\"k1\"],\"reqire\":{}}}}",
			    "scope \"r.io\": unknown field \"reqire\"");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"https://r.io\":{\"keys\":[\"k1\"]}}}",
			    "not a registry host or repository");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io/a:v1\":{\"keys\":[\"k1\"]}}}",
			    "not a registry host or repository");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"default\":{\"keys\":[\"k1\"],\"mirror_of\":[\"r.io\"]}}",
			    "\"mirror_of\" needs a scope");
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io\":{\"keys\":[\"k1\"],\"require\":{\"a\":1}}}}",
			    "require \"a\" must have a string value");
	/* Regression: the last of two same-named scopes used to win silently. */
	expect_policy_error("{\"version\":1," KEYS_JSON
			    ",\"scopes\":{\"r.io\":{\"keys\":[]},\"r.io\":{\"keys\":[\"k1\"]}}}",
			    "policy.json: invalid JSON: duplicate key \"r.io\"");
	expect_policy_error("{\"version\":1," KEYS_JSON ",\"scopes\":{\"r.io\":{\"keys\":[\"k1\"],"
			    "\"require\":{\"stage\":\"production\",\"stage\":\"dev\"}}}}",
			    "policy.json: invalid JSON: duplicate key \"stage\"");
	expect_policy_error("{\"version\":1,", "document ends early");
	expect_policy_error("{\"version\":1,}", "invalid JSON");
}

static void test_policy_scope_precedence(void **state)
{
	struct sk_policy *p = policy_from(main_policy);

	(void)state;
	assert_string_equal(sk_policy_scope_for(p, "reg.example/x"), "reg.example");
	assert_string_equal(sk_policy_scope_for(p, "reg.example/team/sched"), "reg.example/team");
	assert_string_equal(sk_policy_scope_for(p, "reg.example/team/prod"),
			    "reg.example/team/prod");
	assert_string_equal(sk_policy_scope_for(p, "reg.example/team/prod/sub"),
			    "reg.example/team/prod");
	/* Scopes match whole path components only. */
	assert_string_equal(sk_policy_scope_for(p, "reg.example/teamx/a"), "reg.example");
	assert_string_equal(sk_policy_scope_for(p, "reg.example:5000/a"), "default");
	assert_string_equal(sk_policy_scope_for(p, "other.io/a"), "default");
	sk_policy_free(p);
}

struct eval {
	struct sk_trust_verdict v;
	struct sk_error err;
	int ret;
};

static void evaluate(const struct sk_policy *p, const char *repo, const char *digest,
		     const struct signed_payload *sp, size_t n, struct eval *e)
{
	struct sk_trust_signature sigs[8];

	for (size_t i = 0; i < n; i++)
		sigs[i] = as_sig(&sp[i]);
	memset(e, 0, sizeof(*e));
	e->ret = sk_policy_evaluate(p, repo, digest, sigs, n, &e->v, &e->err);
}

static void expect_reject(const struct eval *e, enum sk_trust_reason r, const char *msg)
{
	if (e->ret != -EKEYREJECTED)
		fail_msg("expected a rejection (%s), got %d: %s", msg, e->ret, e->v.msg);
	assert_int_equal(e->v.reason, r);
	assert_contains(e->v.msg, msg);
	assert_contains(e->err.msg, msg);
	assert_contains(e->err.msg, "is not trusted");
}

static void test_policy_accepts(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp[2];
	struct eval e;

	sign_payload(s->k2, REPO, DIGEST, NULL, &sp[0]);
	evaluate(p, REPO, DIGEST, sp, 1, &e);
	assert_int_equal(e.ret, 0);
	assert_int_equal(e.v.reason, SK_TRUST_OK);
	assert_int_equal(e.v.matched.n, 1);
	assert_string_equal(e.v.matched.v[0], "k2");
	assert_string_equal(e.v.scope, "reg.example/team");
	sk_trust_verdict_free(&e.v);
	/* A bad signature next to a good one does not spoil it. */
	sign_payload(s->stray, REPO, DIGEST, NULL, &sp[1]);
	evaluate(p, REPO, DIGEST, sp, 2, &e);
	assert_int_equal(e.ret, 0);
	assert_int_equal(e.v.nsigs, 2);
	assert_int_equal(e.v.sigs[1].reason, SK_TRUST_NOT_VERIFIED);
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	signed_free(&sp[1]);
	sk_policy_free(p);
}

static void test_reject_no_signature(void **state)
{
	struct sk_policy *p = policy_from(main_policy);
	struct eval e;

	(void)state;
	evaluate(p, REPO, DIGEST, NULL, 0, &e);
	expect_reject(&e, SK_TRUST_NO_SIGNATURE, "no signature for " DIGEST " in " REPO);
	sk_trust_verdict_free(&e.v);
	sk_policy_free(p);
}

static void test_reject_untrusted_key(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;

	/* k1 is in the policy, but reg.example/team trusts only k2. */
	sign_payload(s->k1, REPO, DIGEST, NULL, &sp);
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_UNTRUSTED_KEY,
		      "signature by an untrusted key: key \"k1\" is not trusted for scope "
		      "reg.example/team");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	/* A key the policy has never heard of. */
	sign_payload(s->stray, REPO, DIGEST, NULL, &sp);
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_NOT_VERIFIED,
		      "untrusted key: the signature does not verify with any key trusted for "
		      "scope reg.example/team (k2)");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_reject_other_digest(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;

	sign_payload(s->k2, REPO, OTHER, NULL, &sp);
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_OTHER_DIGEST, "payload for another digest (" OTHER ")");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_reject_copied_from_other_repo(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;

	/* A valid k2 signature of reg.example/team/other, copied to REPO's .sig tag. */
	sign_payload(s->k2, "reg.example/team/other", DIGEST, NULL, &sp);
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_OTHER_REPO,
		      "signature copied from another repository (docker-reference "
		      "reg.example/team/other)");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_reject_modified_payload(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;
	char *at;

	sign_payload(s->k2, REPO, OTHER, NULL, &sp);
	/* Retarget the signed payload at DIGEST: the signature no longer matches. */
	at = memmem(sp.payload.data, sp.payload.len, OTHER, strlen(OTHER));
	assert_non_null(at);
	memcpy(at, DIGEST, strlen(DIGEST));
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_NOT_VERIFIED, "modified payload");
	assert_contains(e.v.msg, "does not verify with any key trusted for scope");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_reject_corrupted_base64(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;

	sign_payload(s->k2, REPO, DIGEST, NULL, &sp);
	sp.sig[5] = '%';
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_BAD_BASE64, "corrupted base64 signature");
	sk_trust_verdict_free(&e.v);
	sp.sig[5] = '\0';
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_BAD_BASE64, "corrupted base64 signature");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_reject_scope_without_keys(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;

	sign_payload(s->k1, "other.io/x", DIGEST, NULL, &sp);
	evaluate(p, "other.io/x", DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_NO_SCOPE,
		      "no trusted key for scope default (no scope of the policy covers "
		      "other.io/x, and the default is reject)");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sign_payload(s->k1, "reg.example/blocked/a", DIGEST, NULL, &sp);
	evaluate(p, "reg.example/blocked/a", DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_NO_SCOPE, "no trusted key for scope reg.example/blocked");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_reject_bad_payload(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp = {0};
	struct sk_error err = {0};
	const char *body = "{\"critical\":{\"identity\":{\"docker-reference\":\"" REPO "\"},"
			   "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
			   "\"type\":\"cosign container image signature\",\"extra\":{}},"
			   "\"optional\":null}";
	struct eval e;

	/* Properly signed by a trusted key, but with a field we do not know. */
	assert_int_equal(sk_buf_append(&sp.payload, body, strlen(body)), 0);
	assert_int_equal(sk_sign(s->k2, sp.payload.data, sp.payload.len, &sp.sig, &err), 0);
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_BAD_PAYLOAD, "critical: unknown field \"extra\"");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_threshold_and_annotations(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	const char *prod = "reg.example/team/prod";
	struct signed_payload sp[3];
	struct eval e;

	sign_payload(s->k1, prod, DIGEST, "stage=production", &sp[0]);
	sign_payload(s->k2, prod, DIGEST, "stage=staging", &sp[1]);
	sign_payload(s->k3, prod, DIGEST, "stage=production", &sp[2]);

	/* One good signature of the two required. */
	evaluate(p, prod, DIGEST, sp, 1, &e);
	expect_reject(&e, SK_TRUST_THRESHOLD, "threshold 2 of 3 keys not met (1 matched: k1)");
	sk_trust_verdict_free(&e.v);

	/* k2 signed, but for stage=staging: does not count. */
	evaluate(p, prod, DIGEST, sp, 2, &e);
	expect_reject(&e, SK_TRUST_THRESHOLD, "threshold 2 of 3 keys not met (1 matched: k1)");
	assert_int_equal(e.v.sigs[1].reason, SK_TRUST_ANNOTATION_MISSING);
	sk_trust_verdict_free(&e.v);

	evaluate(p, prod, DIGEST, sp + 1, 1, &e);
	expect_reject(&e, SK_TRUST_ANNOTATION_MISSING,
		      "required annotation stage=production missing (payload has staging)");
	sk_trust_verdict_free(&e.v);

	/* k1 and the Ed25519 k3: two of three. */
	evaluate(p, prod, DIGEST, sp, 3, &e);
	assert_int_equal(e.ret, 0);
	assert_int_equal(e.v.matched.n, 2);
	assert_string_equal(e.v.matched.v[0], "k1");
	assert_string_equal(e.v.matched.v[1], "k3");
	sk_trust_verdict_free(&e.v);

	/* The same key twice is still one key. */
	signed_free(&sp[2]);
	sign_payload(s->k1, prod, DIGEST, "stage=production", &sp[2]);
	evaluate(p, prod, DIGEST, sp, 3, &e);
	expect_reject(&e, SK_TRUST_THRESHOLD, "(1 matched: k1)");
	sk_trust_verdict_free(&e.v);
	for (size_t i = 0; i < 3; i++)
		signed_free(&sp[i]);

	sign_payload(s->k1, prod, DIGEST, NULL, &sp[0]);
	evaluate(p, prod, DIGEST, sp, 1, &e);
	expect_reject(&e, SK_TRUST_ANNOTATION_MISSING,
		      "required annotation stage=production missing");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	sk_policy_free(p);
}

static void test_mirror_identities(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;

	/* Signed as reg.example/a/b, pulled from mirror.local:5000/a/b. */
	sign_payload(s->k1, "reg.example/a/b", DIGEST, NULL, &sp);
	evaluate(p, "mirror.local:5000/a/b", DIGEST, &sp, 1, &e);
	assert_int_equal(e.ret, 0);
	sk_trust_verdict_free(&e.v);
	/* The mirror does not turn one repository's signature into another's. */
	evaluate(p, "mirror.local:5000/a/c", DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_OTHER_REPO, "(docker-reference reg.example/a/b)");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

/* A payload as given, signed by k: for payloads sk_payload_build cannot make. */
static void sign_raw(const struct sk_key *k, const char *json, struct signed_payload *out)
{
	struct sk_error err = {0};

	memset(out, 0, sizeof(*out));
	if (sk_buf_append(&out->payload, json, strlen(json)) ||
	    sk_sign(k, out->payload.data, out->payload.len, &out->sig, &err))
		fail_msg("%s", err.msg);
}

#define RAW_PAYLOAD(ref, optional)                                                                 \
	"{\"critical\":{\"identity\":{\"docker-reference\":\"" ref "\"},\"image\":{\"docker-"      \
	"manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image signature\"},"        \
	"\"optional\":" optional "}"

/* Regression: an identity or annotation with \u0000 was compared up to the NUL. */
static void test_reject_nul_in_signed_payload(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	const char *prod = "reg.example/team/prod";
	struct signed_payload sp[2];
	struct eval e;

	sign_raw(s->k2, RAW_PAYLOAD(REPO "\\u0000.evil.example/x", "null"), &sp[0]);
	evaluate(p, REPO, DIGEST, sp, 1, &e);
	expect_reject(&e, SK_TRUST_BAD_PAYLOAD, "payload: invalid JSON: the string at byte ");
	assert_contains(e.v.msg, "contains a NUL character");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);

	/* Two keys of reg.example/team/prod, stage=production only up to the NUL. */
	sign_raw(s->k1,
		 RAW_PAYLOAD("reg.example/team/prod", "{\"stage\":\"production\\u0000-NOT\"}"),
		 &sp[0]);
	sign_raw(s->k3,
		 RAW_PAYLOAD("reg.example/team/prod", "{\"stage\":\"production\\u0000-NOT\"}"),
		 &sp[1]);
	evaluate(p, prod, DIGEST, sp, 2, &e);
	expect_reject(&e, SK_TRUST_BAD_PAYLOAD, "contains a NUL character");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	signed_free(&sp[1]);
	sk_policy_free(p);
}

/*
 * docs/policy.md's example (release = k1, ci = k2, oncall = k3) with a mirror
 * at localhost:5000: what the mirror accepts as a registry.example.com name
 * must also pass the scope that covers that name.
 */
#define ORIGIN "registry.example.com"
#define MIRROR "localhost:5000"
#define DOCS_SCOPES                                                                                \
	"\"scopes\":{\"" ORIGIN "\":{\"keys\":[\"k1\"]},"                                          \
	"\"" ORIGIN "/sched\":{\"keys\":[\"k1\",\"k2\",\"k3\"],\"threshold\":2,"                   \
	"\"require\":{\"stage\":\"production\"}},"                                                 \
	"\"" ORIGIN "/sched/experimental\":{\"keys\":[]},"                                         \
	"\"" MIRROR "\":{\"keys\":[\"k1\"],\"mirror_of\":[\"" ORIGIN "\"]}}"

static const char docs_policy[] = "{\"version\":1," KEYS_JSON "," DOCS_SCOPES "}";

/* Regression: the mirror's one key opened the fenced-off origin scope. */
static void test_mirror_refused_by_fenced_origin(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(docs_policy);
	struct signed_payload sp;
	struct eval e;

	sign_payload(s->k1, ORIGIN "/sched/experimental", DIGEST, "stage=production", &sp);
	evaluate(p, ORIGIN "/sched/experimental", DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_NO_SCOPE,
		      "no trusted key for scope " ORIGIN "/sched/experimental");
	sk_trust_verdict_free(&e.v);
	evaluate(p, MIRROR "/sched/experimental", DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_NO_SCOPE,
		      "signed for " ORIGIN "/sched/experimental, which its origin scope " ORIGIN
		      "/sched/experimental refuses (a mirror only narrows trust): no trusted key "
		      "for scope " ORIGIN "/sched/experimental");
	assert_string_equal(e.v.scope, MIRROR);
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

/* Regression: one signature through the mirror stood in for the origin's 2 of 3. */
static void test_mirror_refused_by_origin_threshold(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(docs_policy);
	struct signed_payload sp;
	struct eval e;

	sign_payload(s->k1, ORIGIN "/sched/fifo", DIGEST, "stage=production", &sp);
	evaluate(p, MIRROR "/sched/fifo", DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_THRESHOLD,
		      "origin scope " ORIGIN "/sched refuses (a mirror only narrows trust): "
		      "threshold 2 of 3 keys not met (1 matched: k1)");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

/* Regression: the origin's required annotation did not apply through the mirror. */
static void test_mirror_refused_by_origin_require(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(docs_policy);
	struct signed_payload sp[2];
	struct eval e;

	sign_payload(s->k1, ORIGIN "/sched/fifo", DIGEST, NULL, &sp[0]);
	sign_payload(s->k2, ORIGIN "/sched/fifo", DIGEST, "stage=staging", &sp[1]);
	evaluate(p, MIRROR "/sched/fifo", DIGEST, sp, 2, &e);
	expect_reject(&e, SK_TRUST_ANNOTATION_MISSING,
		      "origin scope " ORIGIN "/sched refuses (a mirror only narrows trust): "
		      "required annotation stage=production missing");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	signed_free(&sp[1]);
	sk_policy_free(p);
}

/* The origin's own keys: main_policy's mirror trusts k1, reg.example/team only k2. */
static void test_mirror_refused_by_origin_keys(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(main_policy);
	struct signed_payload sp;
	struct eval e;

	sign_payload(s->k1, "reg.example/team/x", DIGEST, NULL, &sp);
	evaluate(p, "mirror.local:5000/team/x", DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_UNTRUSTED_KEY,
		      "origin scope reg.example/team refuses (a mirror only narrows trust): "
		      "signature by an untrusted key: key \"k1\" is not trusted for scope "
		      "reg.example/team");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp);
	sk_policy_free(p);
}

static void test_mirror_accepts_what_origin_accepts(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(docs_policy);
	struct signed_payload sp[2];
	struct eval e;

	/* 2 of 3 with stage=production for the origin; k1 for the mirror. */
	sign_payload(s->k1, ORIGIN "/sched/fifo", DIGEST, "stage=production", &sp[0]);
	sign_payload(s->k2, ORIGIN "/sched/fifo", DIGEST, "stage=production", &sp[1]);
	evaluate(p, MIRROR "/sched/fifo", DIGEST, sp, 2, &e);
	if (e.ret)
		fail_msg("refused: %s", e.err.msg);
	assert_int_equal(e.v.reason, SK_TRUST_OK);
	assert_string_equal(e.v.scope, MIRROR);
	assert_int_equal(e.v.matched.n, 1);
	assert_string_equal(e.v.matched.v[0], "k1");
	sk_trust_verdict_free(&e.v);
	/* k2 is the origin's, not the mirror's: alone it opens neither. */
	evaluate(p, MIRROR "/sched/fifo", DIGEST, sp + 1, 1, &e);
	expect_reject(&e, SK_TRUST_UNTRUSTED_KEY, "key \"k2\" is not trusted for scope " MIRROR);
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	signed_free(&sp[1]);
	/* Outside registry.example.com/sched the origin asks for k1 alone. */
	sign_payload(s->k1, ORIGIN "/tools/x", DIGEST, NULL, &sp[0]);
	evaluate(p, MIRROR "/tools/x", DIGEST, sp, 1, &e);
	if (e.ret)
		fail_msg("refused: %s", e.err.msg);
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	sk_policy_free(p);
}

/*
 * An archive picks its own identity: `skbuild save` records the entry name
 * localhost:5000/sched/experimental:v1, and the archive is then judged as
 * repository localhost:5000/sched/experimental, with the signatures it carries.
 * A signature in it for the fenced origin is refused like one pulled through
 * the mirror, and one the origin accepts still passes.
 */
static void test_mirror_archive_identity_judged_by_origin(void **state)
{
	struct state *s = *state;
	struct sk_policy *p = policy_from(docs_policy);
	struct signed_payload sp[2];
	struct eval e;

	sign_payload(s->k1, ORIGIN "/sched/experimental", DIGEST, "stage=production", &sp[0]);
	sign_payload(s->k3, ORIGIN "/sched/experimental", DIGEST, "stage=production", &sp[1]);
	evaluate(p, MIRROR "/sched/experimental", DIGEST, sp, 2, &e);
	expect_reject(&e, SK_TRUST_NO_SCOPE,
		      "which its origin scope " ORIGIN "/sched/experimental refuses");
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	signed_free(&sp[1]);
	sign_payload(s->k1, ORIGIN "/sched/fifo", DIGEST, "stage=production", &sp[0]);
	sign_payload(s->k3, ORIGIN "/sched/fifo", DIGEST, "stage=production", &sp[1]);
	evaluate(p, MIRROR "/sched/fifo", DIGEST, sp, 2, &e);
	if (e.ret)
		fail_msg("refused: %s", e.err.msg);
	sk_trust_verdict_free(&e.v);
	signed_free(&sp[0]);
	signed_free(&sp[1]);
	sk_policy_free(p);
}

static void test_policy_inline_pem_and_cosign_fixture(void **state)
{
	struct sk_error err = {0};
	struct sk_policy *p = NULL;
	struct sk_trust_signature sigs[2];
	struct sk_trust_verdict v;
	struct sk_sig_list l = {0};
	struct json_object *root, *keys, *ed;
	uint8_t *m, *p1, *p2, *pem;
	size_t ml, l1, l2, pl;
	const char *json;

	(void)state;
	/* Build the policy with json-c so that the inline PEM is escaped properly. */
	pem = read_all(COS "/ed25519.pub", &pl);
	root = json_tokener_parse("{\"version\":1,\"keys\":{\"ec\":\"cosign-2.5/ecdsa.pub\"},"
				  "\"scopes\":{\"127.0.0.1:52147\":{\"keys\":[\"ec\",\"ed\"],"
				  "\"threshold\":2}},\"default\":{\"keys\":[\"ed\"],"
				  "\"require\":{\"stage\":\"production\"}}}");
	json_object_object_get_ex(root, "keys", &keys);
	ed = json_object_new_object();
	json_object_object_add(ed, "pem", json_object_new_string((const char *)pem));
	json_object_object_add(keys, "ed", ed);
	json = json_object_to_json_string(root);
	assert_int_equal(sk_policy_parse(json, strlen(json), "p.json", FIX, &p, &err), 0);

	m = read_all(COS "/sig-manifest.json", &ml);
	p1 = read_all(COS "/payload-ecdsa.json", &l1);
	p2 = read_all(COS "/payload-ed25519.json", &l2);
	assert_int_equal(sk_sigmanifest_parse(m, ml, &l, &err), 0);
	sigs[0] = (struct sk_trust_signature){p1, l1, l.v[0].signature};
	sigs[1] = (struct sk_trust_signature){p2, l2, l.v[1].signature};
	/* Both signatures cosign made count: 2 of 2. */
	assert_int_equal(sk_policy_evaluate(p, COSIGN_REPO, COSIGN_DIGEST, sigs, 2, &v, &err), 0);
	assert_int_equal(v.matched.n, 2);
	sk_trust_verdict_free(&v);
	assert_int_equal(sk_policy_evaluate(p, COSIGN_REPO, COSIGN_DIGEST, sigs, 1, &v, &err),
			 -EKEYREJECTED);
	assert_contains(v.msg, "threshold 2 of 2 keys not met (1 matched: ec)");
	sk_trust_verdict_free(&v);
	/* The default scope trusts ed with stage=production, which cosign's -a gave it. */
	assert_int_equal(
	    sk_policy_evaluate(p, "other.io/test/x", COSIGN_DIGEST, sigs + 1, 1, &v, &err),
	    -EKEYREJECTED);
	assert_int_equal(v.reason, SK_TRUST_OTHER_REPO);
	sk_trust_verdict_free(&v);
	sk_sig_list_free(&l);
	sk_policy_free(p);
	json_object_put(root);
	free(m);
	free(p1);
	free(p2);
	free(pem);
}

static void test_policy_from_keys(void **state)
{
	struct state *s = *state;
	static const char *const paths[] = {KEYS "/ec-sec1.pub", KEYS "/ed25519.pub"};
	struct sk_strv req = {0};
	struct sk_error err = {0};
	struct sk_policy *p = NULL;
	struct signed_payload sp;
	struct eval e;

	assert_int_equal(sk_policy_from_keys(paths, 2, NULL, &p, &err), 0);
	sign_payload(s->k3, REPO, DIGEST, NULL, &sp);
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	assert_int_equal(e.ret, 0);
	assert_string_equal(e.v.matched.v[0], KEYS "/ed25519.pub");
	sk_trust_verdict_free(&e.v);
	sk_policy_free(p);
	assert_int_equal(sk_strv_push(&req, "stage=production"), 0);
	assert_int_equal(sk_policy_from_keys(paths, 2, &req, &p, &err), 0);
	evaluate(p, REPO, DIGEST, &sp, 1, &e);
	expect_reject(&e, SK_TRUST_ANNOTATION_MISSING,
		      "required annotation stage=production missing");
	sk_trust_verdict_free(&e.v);
	sk_policy_free(p);
	signed_free(&sp);
	sk_strv_free(&req);
	assert_int_equal(
	    sk_policy_from_keys((const char *const[]){KEYS "/nope.pub"}, 1, NULL, &p, &err),
	    -ENOENT);
	assert_contains(err.msg, "nope.pub: cannot open");
}

static void test_policy_load_file(void **state)
{
	struct state *s = *state;
	struct sk_error err = {0};
	struct sk_policy *p = NULL;
	char path[128], keypath[128];
	struct sk_buf pub = {0};
	const char *policy = "{\"version\":1,\"keys\":{\"k\":\"k1.pub\"},"
			     "\"scopes\":{\"r.io\":{\"keys\":[\"k\"]}}}\n";

	/* Relative key paths resolve next to the policy file, not in the cwd. */
	snprintf(path, sizeof(path), "%s/policy.json", s->tmp);
	snprintf(keypath, sizeof(keypath), "%s/k1.pub", s->tmp);
	assert_int_equal(sk_key_public_pem(s->k1, &pub, &err), 0);
	assert_int_equal(sk_write_file_atomic(keypath, pub.data, pub.len, 0644, &err), 0);
	assert_int_equal(sk_write_file_atomic(path, policy, strlen(policy), 0644, &err), 0);
	assert_int_equal(sk_policy_load(path, &p, &err), 0);
	assert_string_equal(sk_policy_scope_for(p, "r.io/x"), "r.io");
	sk_policy_free(p);
	unlink(keypath);
	assert_int_equal(sk_policy_load(path, &p, &err), -ENOENT);
	assert_contains(err.msg, "key \"k\": ");
	assert_contains(err.msg, "k1.pub: cannot open");
	sk_buf_free(&pub);
}

/* Regression: a repeated scope took the last value; a reader sees the first. */
static void test_policy_load_duplicate_key(void **state)
{
	struct state *s = *state;
	struct sk_error err = {0};
	struct sk_policy *p = NULL;
	char path[128], want[200];
	const char *policy = "{\"version\":1,\"keys\":{\"k\":\"" KEYS "/ec-sec1.pub\"},"
			     "\"scopes\":{\"r.io/prod\":{\"keys\":[]},\"r.io\":{\"keys\":[\"k\"]},"
			     "\"r.io/prod\":{\"keys\":[\"k\"]}}}\n";

	snprintf(path, sizeof(path), "%s/dup-policy.json", s->tmp);
	assert_int_equal(sk_write_file_atomic(path, policy, strlen(policy), 0644, &err), 0);
	assert_int_equal(sk_policy_load(path, &p, &err), -EBADMSG);
	assert_null(p);
	snprintf(want, sizeof(want), "%s: invalid JSON: duplicate key \"r.io/prod\"", path);
	assert_contains(err.msg, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_generate_unencrypted),
	    cmocka_unit_test(test_key_generate_encrypted),
	    cmocka_unit_test(test_key_write_pair),
	    cmocka_unit_test(test_key_load_sec1_from_ecparam),
	    cmocka_unit_test(test_key_load_pkcs8),
	    cmocka_unit_test(test_key_load_ed25519),
	    cmocka_unit_test(test_key_unsupported_types),
	    cmocka_unit_test(test_key_wrong_kind_of_file),
	    cmocka_unit_test(test_sign_verify_ecdsa),
	    cmocka_unit_test(test_verify_cosign_made_signatures),
	    cmocka_unit_test(test_payload_bytes_match_cosign),
	    cmocka_unit_test(test_payload_parse_strict),
	    cmocka_unit_test(test_payload_refuses_nul_and_duplicates),
	    cmocka_unit_test(test_sigmanifest_matches_cosign),
	    cmocka_unit_test(test_sig_list_add_idempotent),
	    cmocka_unit_test(test_sigmanifest_parse_other_layers_and_errors),
	    cmocka_unit_test(test_sig_tag),
	    cmocka_unit_test(test_policy_parse_errors),
	    cmocka_unit_test(test_policy_scope_precedence),
	    cmocka_unit_test(test_policy_accepts),
	    cmocka_unit_test(test_reject_no_signature),
	    cmocka_unit_test(test_reject_untrusted_key),
	    cmocka_unit_test(test_reject_other_digest),
	    cmocka_unit_test(test_reject_copied_from_other_repo),
	    cmocka_unit_test(test_reject_modified_payload),
	    cmocka_unit_test(test_reject_corrupted_base64),
	    cmocka_unit_test(test_reject_scope_without_keys),
	    cmocka_unit_test(test_reject_bad_payload),
	    cmocka_unit_test(test_threshold_and_annotations),
	    cmocka_unit_test(test_mirror_identities),
	    cmocka_unit_test(test_reject_nul_in_signed_payload),
	    cmocka_unit_test(test_mirror_refused_by_fenced_origin),
	    cmocka_unit_test(test_mirror_refused_by_origin_threshold),
	    cmocka_unit_test(test_mirror_refused_by_origin_require),
	    cmocka_unit_test(test_mirror_refused_by_origin_keys),
	    cmocka_unit_test(test_mirror_accepts_what_origin_accepts),
	    cmocka_unit_test(test_mirror_archive_identity_judged_by_origin),
	    cmocka_unit_test(test_policy_inline_pem_and_cosign_fixture),
	    cmocka_unit_test(test_policy_from_keys),
	    cmocka_unit_test(test_policy_load_file),
	    cmocka_unit_test(test_policy_load_duplicate_key),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
