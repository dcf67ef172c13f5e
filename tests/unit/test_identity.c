/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identities and Sigstore bundles in the trust policy (lib/trust/identity.c):
 * anchored regular expressions, parsing of identities, trusted roots and
 * scopes, and the judging of key-based bundles made here (with the legacy
 * signatures, thresholds, required annotations, mirrors). Keyless bundles need
 * a CA, a CT log and a log: tests/host/sigstore_keyless.sh and
 * sigstore_reject.sh run those against tests/sigstore/standin.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schedkit/sigstore.h"
#include "schedkit/trust.h"
#include "trust/identity.h"

#define KEYS	"\"" SK_SRC_DATADIR "/tests/trust/keys"
#define ROOT	SK_SRC_DATADIR "/../shared/sigstore/trusted_root.public-good.json"
#define REPO	"reg.example/team/sched"
#define DIGEST	"sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define DIGEST2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

struct state {
	struct sk_key *k1; /* ec-sec1.pem: "k1" in the policies */
	struct sk_key *k2; /* ec-pkcs8.pem: "k2" */
};

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

	s->k1 = load_priv(SK_SRC_DATADIR "/tests/trust/keys/ec-sec1.pem");
	s->k2 = load_priv(SK_SRC_DATADIR "/tests/trust/keys/ec-pkcs8.pem");
	*state = s;
	return 0;
}

static int group_teardown(void **state)
{
	struct state *s = *state;

	sk_key_free(s->k1);
	sk_key_free(s->k2);
	free(s);
	return 0;
}

static void regex_ok(const char *re)
{
	char why[1024] = "";

	if (sk_identity_regex_check(re, why, sizeof(why)))
		fail_msg("%s refused: %s", re, why);
}

static void regex_refused(const char *re, const char *want)
{
	char why[1024] = "";

	assert_int_equal(sk_identity_regex_check(re, why, sizeof(why)), -EINVAL);
	if (!strstr(why, want))
		fail_msg("%s: \"%s\" does not say \"%s\"", re, why, want);
}

static void test_regex_anchors(void **state)
{
	(void)state;
	regex_ok("^https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/v.*$");
	regex_ok("^(a|b)$");
	regex_ok("^x[|)]y$");  /* | and ) in a bracket expression are members */
	regex_ok("^x[]|]y$");  /* ] first in a bracket is a member too */
	regex_ok("^x[^]|]y$"); /* and after ^ */
	regex_ok("^a[[:alnum:]|]*$");
	regex_ok("^a\\|b$"); /* an escaped | is a character */
	regex_refused("https://github.com/org/.*", "is not anchored");
	regex_refused("^https://github.com/org/.*", "is not anchored");
	regex_refused("https://github.com/org/x$", "is not anchored");
	regex_refused("", "is not anchored");
	regex_refused("^a|b$", "top-level |");
	regex_refused("^(a)|(b)$", "top-level |");
	regex_refused("^a\\$", "escaped \\$");
	regex_refused("^a\\d+$", "\\d is not POSIX");
}

static struct sk_policy *parse(const char *json, struct sk_error *err)
{
	struct sk_policy *p = NULL;

	memset(err, 0, sizeof(*err));
	if (sk_policy_parse(json, strlen(json), "policy", NULL, &p, err))
		return NULL;
	return p;
}

static void refused_policy(const char *json, const char *want)
{
	struct sk_error err;
	struct sk_policy *p = parse(json, &err);

	if (p)
		fail_msg("accepted: %s", json);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, want);
}

#define ID_OK "{\"issuer\": \"https://issuer.example\", \"subject\": \"ci@example.com\"}"

static void test_policy_identities(void **state)
{
	struct sk_error err;
	struct sk_policy *p;
	char buf[2048];

	(void)state;
	/* identities need a trusted root: the policy's, here public-good */
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"identities\": {\"ci\": " ID_OK "},"
		 " \"scopes\": {\"r.io\": {\"identities\": [\"ci\"]}}}",
		 ROOT);
	p = parse(buf, &err);
	if (!p)
		fail_msg("%s", err.msg);
	sk_policy_free(p);
	/* keys and identities count together toward a threshold */
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"keys\": {\"k1\": %s/ec-sec1.pub\"},"
		 " \"identities\": {\"ci\": " ID_OK "},"
		 " \"scopes\": {\"r.io\": {\"keys\": [\"k1\"], \"identities\": [\"ci\"],"
		 " \"threshold\": 2}}}",
		 ROOT, KEYS);
	p = parse(buf, &err);
	if (!p)
		fail_msg("%s", err.msg);
	sk_policy_free(p);
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"keys\": {\"k1\": %s/ec-sec1.pub\"},"
		 " \"identities\": {\"ci\": " ID_OK "},"
		 " \"scopes\": {\"r.io\": {\"keys\": [\"k1\"], \"identities\": [\"ci\"],"
		 " \"threshold\": 3}}}",
		 ROOT, KEYS);
	refused_policy(buf, "more than the 2 key(s) and identities listed");
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"identities\": {\"ci\": %s},"
		 " \"scopes\": {\"r.io\": {\"identities\": [\"ci\"]}}}",
		 ROOT, "{\"issuer\": \"https://i\", \"subject_regexp\": \"ci@example\\\\.com\"}");
	refused_policy(buf, "is not anchored");
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"identities\": {\"ci\": %s}}", ROOT,
		 "{\"subject\": \"x\"}");
	refused_policy(buf, "\"issuer\" (the OIDC issuer, matched exactly) is required");
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"identities\": {\"ci\": %s}}", ROOT,
		 "{\"issuer\": \"i\", \"subject\": \"x\", \"subject_regexp\": \"^x$\"}");
	refused_policy(buf, "exactly one of \"subject\"");
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"identities\": {\"ci\": %s}}", ROOT,
		 "{\"issuer\": \"i\", \"subject\": \"x\", \"github\": {\"repo\": \"o/r\"}}");
	refused_policy(buf, "unknown field \"repo\"");
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"keys\": {\"ci\": %s/ec-sec1.pub\"},"
		 " \"identities\": {\"ci\": " ID_OK "}}",
		 ROOT, KEYS);
	refused_policy(buf, "names both a key and an identity");
	snprintf(buf, sizeof(buf),
		 "{\"version\": 1, \"trusted_root\": \"%s\", \"identities\": {\"ci\": " ID_OK "},"
		 " \"scopes\": {\"r.io\": {\"identities\": [\"cd\"]}}}",
		 ROOT);
	refused_policy(buf, "identity \"cd\" is not defined in \"identities\"");
	refused_policy("{\"version\": 1, \"trusted_root\": \"/nonexistent/root.json\"}",
		       "/nonexistent/root.json");
	/* a scope without keys or identities still needs "keys" */
	refused_policy("{\"version\": 1, \"scopes\": {\"r.io\": {}}}", "\"keys\"");
}

/* A key-based bundle made the way skbuild makes them (no log, like cosign's --tlog-upload=false).
 */
static void make_bundle(const struct sk_key *k, const char *digest, const char *annotation,
			struct sk_buf *out)
{
	struct sk_strv ann = {0};
	struct sk_buf st = {0}, pae = {0};
	struct sk_bundle_parts parts = {0};
	struct sk_error err = {0};
	char hint[64], *sig = NULL;

	if (annotation)
		sk_strv_push(&ann, annotation);
	if (sk_bundle_statement(digest, &ann, &st, &err) || sk_key_hint(k, hint, &err) ||
	    sk_dsse_pae(SK_IN_TOTO_PAYLOAD_TYPE, st.data, st.len, &pae) ||
	    sk_sign(k, pae.data, pae.len, &sig, &err))
		fail_msg("%s", err.msg);
	parts.payload = st.data;
	parts.payload_len = st.len;
	parts.sig_b64 = sig;
	parts.key_hint = hint;
	if (sk_bundle_build(&parts, out, &err))
		fail_msg("%s", err.msg);
	free(sig);
	sk_buf_free(&st);
	sk_buf_free(&pae);
	sk_strv_free(&ann);
}

static void test_statement_is_cosigns(void **state)
{
	struct sk_strv ann = {0};
	struct sk_buf st = {0};
	struct sk_error err = {0};

	(void)state;
	sk_strv_push(&ann, "stage=production");
	sk_strv_push(&ann, "a=1");
	assert_int_equal(sk_bundle_statement(DIGEST, &ann, &st, &err), 0);
	sk_buf_append(&st, "", 1);
	/* byte for byte what cosign 3.1.1 signs, annotations in key order */
	assert_string_equal(
	    (char *)st.data,
	    "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":"
	    "{\"sha256\":\"1111111111111111111111111111111111111111111111111111111111"
	    "111111\"},\"annotations\":{\"a\":\"1\",\"stage\":\"production\"}}],"
	    "\"predicateType\":\"https://sigstore.dev/cosign/sign/v1\","
	    "\"predicate\":{}}");
	sk_buf_free(&st);
	sk_strv_free(&ann);
}

struct verdict {
	int ret;
	struct sk_trust_verdict v;
	struct sk_trust_sig_result br[4];
	struct sk_error err;
};

static void evaluate(const char *policy, const char *repo, const struct sk_buf *bundles, size_t nb,
		     const struct sk_trust_signature *sigs, size_t n, struct verdict *out)
{
	struct sk_trust_bundle tb[4] = {0};
	struct sk_policy *p;

	memset(out, 0, sizeof(*out));
	p = parse(policy, &out->err);
	if (!p)
		fail_msg("%s", out->err.msg);
	for (size_t i = 0; i < nb; i++) {
		tb[i].data = bundles[i].data;
		tb[i].len = bundles[i].len;
		tb[i].what = "b";
	}
	out->ret = sk_policy_evaluate_bundles(p, repo, DIGEST, sigs, n, tb, nb, &out->v, out->br,
					      &out->err);
	sk_policy_free(p);
}

static void expect(struct verdict *r, enum sk_trust_reason reason, const char *msg)
{
	assert_int_equal(r->v.reason, reason);
	assert_int_equal(r->ret, reason == SK_TRUST_OK ? 0 : -EKEYREJECTED);
	if (!strstr(r->v.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", r->v.msg, msg);
	sk_trust_verdict_free(&r->v);
}

#define POLICY(scope)                                                                              \
	"{\"version\": 1, \"keys\": {\"k1\": " KEYS "/ec-sec1.pub\", \"k2\": " KEYS                \
	"/ec-pkcs8.pub\"}, \"scopes\": {" scope "}}"

static void test_keyed_bundles(void **state)
{
	struct state *s = *state;
	struct sk_buf b1 = {0}, b2 = {0}, other = {0}, ann = {0}, pair[2];
	struct verdict r;

	make_bundle(s->k1, DIGEST, NULL, &b1);
	make_bundle(s->k2, DIGEST, NULL, &b2);
	make_bundle(s->k1, DIGEST2, NULL, &other);
	make_bundle(s->k1, DIGEST, "stage=production", &ann);

	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\"]}"), REPO, &b1, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_OK, "signed by k1");
	assert_int_equal(r.br[0].reason, SK_TRUST_OK);
	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\"]}"), REPO, &b2, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_UNTRUSTED_KEY, "key \"k2\" is not trusted for scope reg.example");
	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\"]}"), REPO, &other, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_OTHER_DIGEST, "no subject of the in-toto statement");
	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\"], \"require\": {\"stage\": "
			"\"production\"}}"),
		 REPO, &b1, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_ANNOTATION_MISSING, "required annotation stage=production missing");
	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\"], \"require\": {\"stage\": "
			"\"production\"}}"),
		 REPO, &ann, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_OK, "signed by k1");
	/* thresholds count different keys, across bundles */
	pair[0] = b1;
	pair[1] = b2;
	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\", \"k2\"], \"threshold\": 2}"), REPO,
		 pair, 2, NULL, 0, &r);
	expect(&r, SK_TRUST_OK, "signed by k1, k2");
	pair[1] = ann;
	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\", \"k2\"], \"threshold\": 2}"), REPO,
		 pair, 2, NULL, 0, &r);
	expect(&r, SK_TRUST_THRESHOLD, "threshold 2 of 2 keys not met (1 matched: k1)");
	/* a fenced scope stays fenced */
	evaluate(POLICY("\"reg.example\": {\"keys\": []}"), REPO, &b1, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_NO_SCOPE, "no trusted key for scope reg.example");
	/* a bundle names no repository: a mirror counts it only if the origin does too */
	evaluate(POLICY("\"mirror.example\": {\"keys\": [\"k1\"], \"mirror_of\": "
			"[\"reg.example\"]}, \"reg.example\": {\"keys\": [\"k2\"]}"),
		 "mirror.example/team/sched", &b1, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_UNTRUSTED_KEY, "names no repository, so through mirror scope");
	evaluate(POLICY("\"mirror.example\": {\"keys\": [\"k1\"], \"mirror_of\": "
			"[\"reg.example\"]}, \"reg.example\": {\"keys\": [\"k1\"]}"),
		 "mirror.example/team/sched", &b1, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_OK, "signed by k1");
	sk_buf_free(&b1);
	sk_buf_free(&b2);
	sk_buf_free(&other);
	sk_buf_free(&ann);
}

static void test_bad_bundles(void **state)
{
	struct state *s = *state;
	struct sk_buf b = {0}, cut = {0}, att = {0};
	struct verdict r;
	char *p;

	make_bundle(s->k1, DIGEST, NULL, &b);
	sk_buf_append(&cut, b.data, b.len / 2);
	evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\"]}"), REPO, &cut, 1, NULL, 0, &r);
	expect(&r, SK_TRUST_BAD_BUNDLE, "Sigstore bundle: invalid JSON");
	/* a DSSE signature over something else than cosign's signing predicate: an attestation */
	sk_buf_append(&att, b.data, b.len);
	sk_buf_append(&att, "", 1);
	p = strstr((char *)att.data, "\"payload\":\"");
	assert_non_null(p);
	{
		/* re-sign a statement of another predicate type */
		struct sk_buf st = {0}, pae = {0}, out = {0};
		struct sk_bundle_parts parts = {0};
		struct sk_error err = {0};
		char hint[64], *sig = NULL;
		const char *text = "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
				   "\"digest\":{\"sha256\":\"1111111111111111111111111111111111111"
				   "111111111111111111111111111\"}}],\"predicateType\":"
				   "\"https://slsa.dev/provenance/v1\",\"predicate\":{}}";

		sk_buf_append(&st, text, strlen(text));
		sk_key_hint(s->k1, hint, &err);
		sk_dsse_pae(SK_IN_TOTO_PAYLOAD_TYPE, st.data, st.len, &pae);
		sk_sign(s->k1, pae.data, pae.len, &sig, &err);
		parts.payload = st.data;
		parts.payload_len = st.len;
		parts.sig_b64 = sig;
		parts.key_hint = hint;
		assert_int_equal(sk_bundle_build(&parts, &out, &err), 0);
		evaluate(POLICY("\"reg.example\": {\"keys\": [\"k1\"]}"), REPO, &out, 1, NULL, 0,
			 &r);
		expect(&r, SK_TRUST_BAD_PAYLOAD,
		       "an attestation (predicate type https://slsa.dev/provenance/v1)");
		free(sig);
		sk_buf_free(&st);
		sk_buf_free(&pae);
		sk_buf_free(&out);
	}
	sk_buf_free(&b);
	sk_buf_free(&cut);
	sk_buf_free(&att);
}

/* With keys only and no bundle, the verdict is sk_policy_evaluate's, word for word. */
static void test_keys_unchanged(void **state)
{
	struct state *s = *state;
	const char *pol = POLICY("\"reg.example\": {\"keys\": [\"k1\", \"k2\"], \"threshold\": 2}");
	struct sk_trust_signature sig = {0};
	struct sk_trust_verdict v1, v2;
	struct sk_error e1 = {0}, e2 = {0};
	struct sk_buf payload = {0};
	struct sk_policy *p;
	char *b64 = NULL;
	int r1, r2;

	assert_int_equal(sk_payload_build(REPO, DIGEST, NULL, &payload, &e1), 0);
	assert_int_equal(sk_sign(s->k1, payload.data, payload.len, &b64, &e1), 0);
	sig.payload = payload.data;
	sig.payload_len = payload.len;
	sig.signature = b64;
	p = parse(pol, &e1);
	assert_non_null(p);
	r1 = sk_policy_evaluate(p, REPO, DIGEST, &sig, 1, &v1, &e1);
	r2 = sk_policy_evaluate_bundles(p, REPO, DIGEST, &sig, 1, NULL, 0, &v2, NULL, &e2);
	assert_int_equal(r1, r2);
	assert_int_equal(v1.reason, v2.reason);
	assert_string_equal(v1.msg, v2.msg);
	assert_string_equal(e1.msg, e2.msg);
	sk_trust_verdict_free(&v1);
	sk_trust_verdict_free(&v2);
	/* and a legacy signature counts with a bundle toward the threshold */
	{
		struct sk_buf b2 = {0};
		struct sk_trust_bundle tb = {0};

		make_bundle(s->k2, DIGEST, NULL, &b2);
		tb.data = b2.data;
		tb.len = b2.len;
		r2 = sk_policy_evaluate_bundles(p, REPO, DIGEST, &sig, 1, &tb, 1, &v2, NULL, &e2);
		assert_int_equal(r2, 0);
		assert_non_null(strstr(v2.msg, "signed by k1, k2"));
		sk_trust_verdict_free(&v2);
		sk_buf_free(&b2);
	}
	sk_policy_free(p);
	sk_buf_free(&payload);
	free(b64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_regex_anchors),	 cmocka_unit_test(test_policy_identities),
	    cmocka_unit_test(test_statement_is_cosigns), cmocka_unit_test(test_keyed_bundles),
	    cmocka_unit_test(test_bad_bundles),		 cmocka_unit_test(test_keys_unchanged),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
