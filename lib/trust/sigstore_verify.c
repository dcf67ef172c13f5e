/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sigstore bundle verification: the order of the checks and the policy
 * (identity or key, thresholds). Each check lives in its own file:
 * sigstore_tlog.c (log entries), sigstore_checkpoint.c (Merkle proofs and
 * checkpoints), sigstore_tsa.c (RFC 3161), sigstore_cert.c (Fulcio chain,
 * SCTs, identity).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"
#include "schedkit/oci.h"
#include "sigstore_internal.h"

/* Rekor's clock and ours may disagree a little; a log time further ahead is refused. */
#define SK_SS_CLOCK_SKEW_MS ((int64_t)60 * 1000)
#define IN_TOTO_TYPE	    "application/vnd.in-toto+json"

void sk_bundle_result_free(struct sk_bundle_result *r)
{
	if (!r)
		return;
	free(r->san);
	free(r->issuer);
	for (int i = 0; i < SK_FULCIO_CLAIM_MAX; i++)
		free(r->claims[i]);
	free(r->payload_type);
	free(r->predicate_type);
	sk_strv_free(&r->annotations);
	memset(r, 0, sizeof(*r));
	r->log_index = -1;
}

/* A verified signing time and what vouched for it. */
struct vtime {
	int64_t ms;
	char source[64];
};

struct vtimes {
	struct vtime *v;
	size_t n;
};

static int vtimes_add(struct vtimes *t, int64_t ms, const char *fmt, size_t idx)
{
	struct vtime *v = realloc(t->v, (t->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	t->v = v;
	v[t->n].ms = ms;
	snprintf(v[t->n].source, sizeof(v[t->n].source), fmt, idx);
	t->n++;
	return 0;
}

static int signer_key(const struct sk_bundle *b, const struct sk_bundle_policy *p, EVP_PKEY **key,
		      struct sk_error *err)
{
	*key = NULL;
	if (b->material == SK_BUNDLE_CERTIFICATE) {
		*key = X509_get_pubkey(b->leaf);
		ERR_clear_error();
		return *key ? 0
			    : sk_errf(err, -EBADMSG,
				      "the signing certificate's public key is not supported");
	}
	if (p->key) {
		*key = sk_trust_key_pkey(p->key);
		if (*key)
			EVP_PKEY_up_ref(*key);
	} else if (p->key_pem && p->key_pem_len) {
		*key = sk_ss_pkey_from_pem_or_der(p->key_pem, p->key_pem_len);
		if (!*key)
			return sk_errf(err, -EBADMSG,
				       "the given key cannot be read: not a valid "
				       "PUBLIC KEY PEM or DER");
	}
	if (!*key)
		return sk_errf(err, -ENOKEY,
			       "the bundle is signed with a managed key (hint \"%s\") but no key "
			       "was given to verify it with",
			       b->key_hint);
	return 0;
}

static int check_policy(const struct sk_bundle *b, const struct sk_bundle_policy *p,
			struct sk_error *err)
{
	if (b->material != SK_BUNDLE_CERTIFICATE)
		return 0;
	if (!p->match && (!p->identity || !*p->identity || !p->issuer || !*p->issuer))
		return sk_errf(err, -EINVAL,
			       "the bundle is signed keyless (a certificate): an expected identity "
			       "(certificate SAN) and OIDC issuer are needed to verify it");
	return 0;
}

/* DSSE's pre-authentication encoding: "DSSEv1 <len> <type> <len> <payload>". */
static int dsse_pae(const struct sk_bundle *b, struct sk_buf *out)
{
	if (sk_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(b->payload_type), b->payload_type,
			  b->payload.len) ||
	    sk_buf_append(out, b->payload.data, b->payload.len))
		return -ENOMEM;
	return 0;
}

/* The string annotations of the subject naming the artifact: what `cosign sign -a` signed. */
static int subject_annotations(struct json_object *subject, struct sk_bundle_result *r,
			       struct sk_error *err)
{
	struct json_object *a = sk_ss_json_get(subject, "annotations", json_type_object);

	if (!a)
		return 0;
	json_object_object_foreach(a, k, v)
	{
		char *kv = NULL;

		if (!json_object_is_type(v, json_type_string))
			continue;
		if (asprintf(&kv, "%s=%s", k, json_object_get_string(v)) < 0)
			return sk_errf(err, -ENOMEM, "out of memory");
		if (sk_strv_push(&r->annotations, kv)) {
			free(kv);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
		free(kv);
	}
	return 0;
}

/* The in-toto statement must name the artifact's SHA-256 among its subjects. */
static int check_statement(const struct sk_bundle *b, const uint8_t sha256[32],
			   struct sk_bundle_result *r, struct sk_error *err)
{
	struct json_object *st = NULL, *subjects;
	const char *type, *pt;
	char hex[65];
	size_t n;
	int ret;

	ret = sk_json_parse(b->payload.data, b->payload.len, "in-toto statement", &st, err);
	if (ret)
		return ret;
	type = sk_json_str(st, "_type");
	if (!type || (strcmp(type, "https://in-toto.io/Statement/v1") &&
		      strcmp(type, "https://in-toto.io/Statement/v0.1"))) {
		ret = sk_errf(err, -EBADMSG,
			      "the DSSE payload is not an in-toto statement (_type "
			      "Statement/v1 or v0.1)");
		goto cleanup;
	}
	pt = sk_json_str(st, "predicateType");
	if (pt && !(r->predicate_type = strdup(pt))) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto cleanup;
	}
	subjects = sk_ss_json_get(st, "subject", json_type_array);
	n = subjects ? json_object_array_length(subjects) : 0;
	sk_ss_hex(sha256, 32, hex);
	for (size_t i = 0; i < n; i++) {
		struct json_object *d = sk_ss_json_get(json_object_array_get_idx(subjects, i),
						       "digest", json_type_object);
		const char *s = sk_json_str(d, "sha256");

		if (s && !strcasecmp(s, hex)) {
			ret = subject_annotations(json_object_array_get_idx(subjects, i), r, err);
			goto cleanup;
		}
	}
	ret = sk_errf(err, -EBADMSG,
		      "no subject of the in-toto statement (%zu) has the artifact's digest "
		      "sha256:%s",
		      n, hex);
cleanup:
	json_object_put(st);
	return ret;
}

static int verify_message(const struct sk_bundle *b, EVP_PKEY *key,
			  const struct sk_bundle_artifact *a, uint8_t digest[64],
			  struct sk_ss_expect *x, struct sk_bundle_result *r,
			  enum sk_bundle_check *stage, struct sk_error *err)
{
	int nid = b->md_nid ? b->md_nid : NID_sha256;
	const EVP_MD *md = EVP_get_digestbynid(nid);
	unsigned dlen = 32;
	int ret;

	if (a->data) {
		if (sk_ss_digest(md, a->data, a->len, digest, &dlen) ||
		    sk_ss_digest(EVP_sha256(), a->data, a->len, r->sha256, NULL))
			return sk_errf(err, -EIO, "cannot hash the artifact");
	} else {
		if (nid != NID_sha256)
			return sk_errf(err, -EINVAL,
				       "the bundle signs a %s digest; the artifact is known by its "
				       "SHA-256 only",
				       OBJ_nid2sn(nid));
		memcpy(digest, a->sha256, 32);
		memcpy(r->sha256, a->sha256, 32);
	}
	x->digest = digest;
	x->digest_len = dlen;
	x->digest_nid = nid;
	/* The bundle's digest is only a hint, but one that disagrees means another artifact. */
	*stage = SK_BUNDLE_CHECK_ARTIFACT;
	if (b->digest.len && (b->digest.len != dlen || memcmp(b->digest.data, digest, dlen)))
		return sk_errf(err, -EBADMSG,
			       "the bundle's messageDigest does not match the artifact (the bundle "
			       "is for another artifact)");
	*stage = SK_BUNDLE_CHECK_SIGNATURE;
	if (!sk_ss_key_md(key)) {
		if (!a->data)
			return sk_errf(err, -EINVAL,
				       "an Ed25519 message signature can only be verified over the "
				       "artifact itself, not its digest");
		ret = sk_ss_verify_sig(key, a->data, a->len, b->signature.data, b->signature.len);
	} else {
		ret = sk_ss_verify_prehashed(key, md, digest, dlen, b->signature.data,
					     b->signature.len);
	}
	if (ret == -EKEYREJECTED)
		return sk_errf(err, ret,
			       "the signature does not verify over the artifact with the %s",
			       b->material == SK_BUNDLE_CERTIFICATE ? "signing certificate's key"
								    : "given key");
	return ret ? sk_errf(err, ret, "cannot verify the message signature") : 0;
}

static int verify_dsse(const struct sk_bundle *b, EVP_PKEY *key, const struct sk_bundle_artifact *a,
		       struct sk_buf *pae, struct sk_ss_expect *x, struct sk_bundle_result *r,
		       enum sk_bundle_check *stage, struct sk_error *err)
{
	int ret;

	*stage = SK_BUNDLE_CHECK_SIGNATURE;
	if (dsse_pae(b, pae))
		return sk_errf(err, -ENOMEM, "out of memory");
	x->pae = pae->data;
	x->pae_len = pae->len;
	ret = sk_ss_verify_sig(key, pae->data, pae->len, b->signature.data, b->signature.len);
	if (ret == -EKEYREJECTED)
		return sk_errf(err, ret,
			       "the DSSE envelope's signature does not verify with the %s",
			       b->material == SK_BUNDLE_CERTIFICATE ? "signing certificate's key"
								    : "given key");
	if (ret)
		return sk_errf(err, ret, "cannot verify the DSSE signature");
	*stage = SK_BUNDLE_CHECK_ARTIFACT;
	r->payload_type = strdup(b->payload_type);
	if (!r->payload_type)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (strcmp(b->payload_type, IN_TOTO_TYPE))
		return sk_errf(err, -EBADMSG,
			       "the DSSE payload type is \"%s\", not an in-toto statement: nothing "
			       "binds it to the artifact",
			       b->payload_type);
	if (a->data) {
		if (sk_ss_digest(EVP_sha256(), a->data, a->len, r->sha256, NULL))
			return sk_errf(err, -EIO, "cannot hash the artifact");
	} else {
		memcpy(r->sha256, a->sha256, 32);
	}
	return check_statement(b, r->sha256, r, err);
}

static bool any_time_in(const struct vtimes *t, size_t n, const struct sk_ss_window *w)
{
	for (size_t i = 0; i < n && i < t->n; i++)
		if (sk_ss_window_contains(w, t->v[i].ms))
			return true;
	return false;
}

static int verify_entries(const struct sk_bundle *b, const struct sk_sigstore_root *root,
			  const struct sk_ss_expect *x, int64_t now_ms, struct vtimes *times,
			  struct sk_bundle_result *r, struct sk_error *err)
{
	size_t n_tsa = times->n; /* the TSA times come first */
	int ret;

	for (size_t i = 0; i < b->n_entries; i++) {
		const struct sk_ss_entry *e = &b->entries[i];
		const struct sk_ss_log *log = NULL;
		int64_t set_time = 0;

		ret = sk_ss_verify_entry(root, e, x, b->version, &set_time, &log, err);
		if (ret)
			return sk_err_prefix(err, "tlog entry %zu (log index %lld): ", i + 1,
					     (long long)e->log_index);
		if (set_time) {
			char t[32], n[32];

			if (set_time * 1000 > now_ms + SK_SS_CLOCK_SKEW_MS) {
				sk_ss_fmt_time(set_time * 1000, t);
				sk_ss_fmt_time(now_ms, n);
				return sk_errf(
				    err, -EBADMSG,
				    "tlog entry %zu: integrated time %s is in the future "
				    "(now %s)",
				    i + 1, t, n);
			}
			if (vtimes_add(times, set_time * 1000, "log entry %zu's integrated time",
				       i + 1))
				return sk_errf(err, -ENOMEM, "out of memory");
		} else if (n_tsa && !any_time_in(times, n_tsa, &log->valid)) {
			char w[80];

			/* Without an integrated time, the TSA says when the log signed. */
			sk_ss_fmt_window(&log->valid, w);
			return sk_errf(
			    err, -EKEYEXPIRED,
			    "tlog entry %zu: no verified timestamp falls in the validity "
			    "of log %s's key (%s)",
			    i + 1, log->base_url, w);
		}
		if (r->log_index < 0)
			r->log_index = e->log_index;
		r->tlog_entries++;
	}
	return 0;
}

static int check_identity(const struct sk_bundle_policy *p, struct sk_bundle_result *r,
			  struct sk_error *err)
{
	if (p->identity && strcmp(p->identity, r->san))
		return sk_errf(err, -EKEYREJECTED,
			       "SAN does not match: the certificate was issued to \"%s\", not the "
			       "expected identity",
			       r->san);
	if (p->issuer && strcmp(p->issuer, r->issuer))
		return sk_errf(
		    err, -EKEYREJECTED,
		    "OIDC issuer does not match: the certificate's issuer is \"%s\", not "
		    "the expected one",
		    r->issuer);
	return p->match ? p->match(r, p->match_ctx, err) : 0;
}

static int verify_certificate(const struct sk_bundle *b, const struct sk_sigstore_root *root,
			      const struct sk_bundle_policy *p, const struct vtimes *times,
			      int64_t now_ms, struct sk_bundle_result *r,
			      enum sk_bundle_check *stage, struct sk_error *err)
{
	X509 *issuer = NULL;
	int ret = 0;

	for (size_t i = 0; i < times->n; i++) {
		X509 *iss = NULL;

		ret = sk_ss_verify_chain(root, b->leaf, times->v[i].ms, &iss, err);
		if (ret) {
			sk_err_prefix(err, "at %s: ", times->v[i].source);
			goto cleanup;
		}
		if (!issuer)
			issuer = iss;
		else
			X509_free(iss);
	}
	ret = sk_ss_verify_scts(root, b->leaf, issuer, now_ms, &r->scts, err);
	if (!ret)
		ret = sk_ss_cert_identity(b->leaf, r, err);
	if (!ret) {
		*stage = SK_BUNDLE_CHECK_IDENTITY;
		ret = check_identity(p, r, err);
	}
cleanup:
	X509_free(issuer);
	return ret;
}

int sk_bundle_verify(const struct sk_bundle *b, const struct sk_sigstore_root *root,
		     const struct sk_bundle_policy *p, const struct sk_bundle_artifact *a,
		     struct sk_bundle_result *out, struct sk_error *err)
{
	struct sk_bundle_result r = {.log_index = -1};
	struct sk_ss_expect x = {0};
	struct vtimes times = {0};
	struct sk_buf pae = {0};
	char tsa_why[SK_ERROR_MSG_MAX / 2] = "";
	/* a managed key without a root: entries and timestamps find no log or TSA here */
	static const struct sk_sigstore_root no_root;
	enum sk_bundle_check stage = SK_BUNDLE_CHECK_POLICY;
	uint8_t digest[64];
	EVP_PKEY *key = NULL;
	int64_t now_ms;
	int ret;

	if (out) {
		memset(out, 0, sizeof(*out));
		out->log_index = -1;
	}
	if (p && p->failed)
		*p->failed = SK_BUNDLE_CHECK_POLICY;
	if (!b || !p || !a || (!a->data && !a->sha256))
		return sk_errf(err, -EINVAL, "sk_bundle_verify: missing argument");
	if (!root && b->material == SK_BUNDLE_CERTIFICATE)
		return sk_errf(err, -ENOENT,
			       "the bundle is signed keyless (a certificate) and no trusted root "
			       "was given to verify its certificate chain and log entries");
	if (!root)
		root = &no_root;
	now_ms = (p->now ? p->now : (int64_t)time(NULL)) * 1000;
	r.version = b->version;
	r.content = b->content;
	r.material = b->material;

	ret = check_policy(b, p, err);
	if (!ret)
		ret = signer_key(b, p, &key, err);
	if (ret)
		goto cleanup;
	x.b = b;
	x.leaf = b->leaf;
	x.key = key;

	/* 1. The signature over the artifact or envelope, bound to the artifact. */
	if (b->content == SK_BUNDLE_MESSAGE_SIGNATURE)
		ret = verify_message(b, key, a, digest, &x, &r, &stage, err);
	else
		ret = verify_dsse(b, key, a, &pae, &x, &r, &stage, err);
	if (ret)
		goto cleanup;

	/* 2. RFC 3161 timestamps: those a trusted TSA signed count as signing times. */
	for (size_t i = 0; i < b->n_timestamps; i++) {
		struct sk_error terr = {0};
		int64_t t = 0;

		if (sk_ss_verify_timestamp(root, &b->timestamps[i], &b->signature, &t, &terr)) {
			size_t off = strlen(tsa_why);

			snprintf(tsa_why + off, sizeof(tsa_why) - off,
				 "%sRFC 3161 timestamp %zu: %s", off ? "; " : "", i + 1, terr.msg);
			continue;
		}
		if (vtimes_add(&times, t, "RFC 3161 timestamp %zu's time", i + 1)) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto cleanup;
		}
		r.timestamps++;
	}

	/* 3. Transparency log entries: body, SET, inclusion proof and checkpoint. */
	stage = SK_BUNDLE_CHECK_TLOG;
	ret = verify_entries(b, root, &x, now_ms, &times, &r, err);
	if (ret)
		goto cleanup;
	if (!b->n_entries && !(b->material == SK_BUNDLE_PUBLIC_KEY && p->allow_no_tlog)) {
		ret =
		    sk_errf(err, -EBADMSG,
			    "the bundle has no transparency log entry (at least one is required)");
		goto cleanup;
	}
	stage = SK_BUNDLE_CHECK_TIME;
	if (!times.n && (b->material == SK_BUNDLE_CERTIFICATE || b->n_timestamps)) {
		ret = sk_errf(err, -EKEYREJECTED,
			      "no verified signing time: neither a log entry with a signed entry "
			      "timestamp nor an RFC 3161 timestamp from a trusted TSA%s%s%s",
			      tsa_why[0] ? " (" : "", tsa_why, tsa_why[0] ? ")" : "");
		goto cleanup;
	}

	/* 4. Keyless: chain at every signing time, SCTs, identity. */
	if (b->material == SK_BUNDLE_CERTIFICATE) {
		stage = SK_BUNDLE_CHECK_CERTIFICATE;
		ret = verify_certificate(b, root, p, &times, now_ms, &r, &stage, err);
		if (ret)
			goto cleanup;
	}
	for (size_t i = 0; i < times.n; i++)
		if (!r.signed_at || times.v[i].ms / 1000 < r.signed_at)
			r.signed_at = times.v[i].ms / 1000;
	stage = SK_BUNDLE_CHECK_NONE;
	if (out) {
		*out = r;
		memset(&r, 0, sizeof(r));
	}
cleanup:
	if (p->failed)
		*p->failed = stage;
	sk_bundle_result_free(&r);
	EVP_PKEY_free(key);
	free(times.v);
	sk_buf_free(&pae);
	return ret;
}

int sk_bundle_verify_digest(const struct sk_bundle *b, const struct sk_sigstore_root *root,
			    const struct sk_bundle_policy *p, const char *digest,
			    struct sk_bundle_result *out, struct sk_error *err)
{
	struct sk_bundle_artifact a = {0};
	uint8_t sha[32];
	long n = 0;
	unsigned char *raw;

	if (out) {
		memset(out, 0, sizeof(*out));
		out->log_index = -1;
	}
	if (p && p->failed)
		*p->failed = SK_BUNDLE_CHECK_ARTIFACT;
	if (!sk_digest_valid(digest))
		return sk_errf(
		    err, -EINVAL,
		    "'%s' is not a digest (expected sha256: and 64 lowercase hex digits)",
		    digest ? digest : "(null)");
	raw = OPENSSL_hexstr2buf(digest + 7, &n);
	if (!raw || n != 32) {
		OPENSSL_free(raw);
		ERR_clear_error();
		return sk_errf(err, -EINVAL, "'%s' is not a digest", digest);
	}
	memcpy(sha, raw, 32);
	OPENSSL_free(raw);
	a.sha256 = sha;
	return sk_bundle_verify(b, root, p, &a, out, err);
}
