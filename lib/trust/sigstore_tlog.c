/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transparency log entries of a bundle (Rekor v1 and v2): the entry body must
 * describe this bundle's signature, key and artifact; the log vouches for the
 * entry with a signed entry timestamp (SET) and/or an inclusion proof under a
 * signed checkpoint.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "schedkit/oci.h"
#include "sigstore_internal.h"

/* Rekor v1 writes lower-case names ("sha256"), Rekor v2 the protobuf enum ("SHA2_256"). */
static int hash_nid(const char *alg)
{
	if (!alg)
		return 0;
	if (!strcmp(alg, "sha256") || !strcmp(alg, "SHA2_256"))
		return NID_sha256;
	if (!strcmp(alg, "sha384") || !strcmp(alg, "SHA2_384"))
		return NID_sha384;
	if (!strcmp(alg, "sha512") || !strcmp(alg, "SHA2_512"))
		return NID_sha512;
	return 0;
}

/* Walks obj along a path of object keys ("spec", "data", ...). */
static struct json_object *path_get(struct json_object *obj, const char *const *keys)
{
	for (; obj && *keys; keys++)
		obj = sk_ss_json_get(obj, *keys, json_type_object);
	return obj;
}

/* A base64 string member, decoded. */
static int b64_at(struct json_object *obj, const char *key, const char *what,
		  struct sk_ss_bytes *out, struct sk_error *err)
{
	const char *s = sk_json_str(obj, key);

	if (!s)
		return sk_errf(err, -EBADMSG, "log entry body has no %s", what);
	return sk_ss_b64_decode(s, what, out, err);
}

/* The signer named in the body (a certificate or key, PEM or DER) must be the bundle's. */
static int check_verifier(const uint8_t *blob, size_t len, const struct sk_ss_expect *x,
			  struct sk_error *err)
{
	X509 *cert = sk_ss_x509_from_pem_or_der(blob, len);
	EVP_PKEY *key = NULL;
	bool same;

	if (x->leaf) {
		same = sk_ss_same_cert(cert, x->leaf);
		X509_free(cert);
		if (!same)
			return sk_errf(err, -EKEYREJECTED,
				       "the log entry names a different signing certificate than "
				       "the bundle (the entry is for another signature)");
		return 0;
	}
	key = cert ? X509_get_pubkey(cert) : sk_ss_pkey_from_pem_or_der(blob, len);
	same = sk_ss_same_key(key, x->key);
	EVP_PKEY_free(key);
	X509_free(cert);
	if (!same)
		return sk_errf(err, -EKEYREJECTED,
			       "the log entry names a different public key than the one given");
	return 0;
}

static int check_sig(const struct sk_ss_bytes *logged, const struct sk_ss_expect *x,
		     struct sk_error *err)
{
	const struct sk_ss_bytes *sig = &x->b->signature;

	if (logged->len != sig->len || memcmp(logged->data, sig->data, sig->len))
		return sk_errf(err, -EBADMSG,
			       "the log entry records a different signature than the bundle's %s "
			       "(the entry is for another signature)",
			       x->b->content == SK_BUNDLE_DSSE ? "DSSE envelope" : "message");
	return 0;
}

static int check_digest(int nid, const uint8_t *got, size_t got_len, const void *data, size_t len,
			const char *what, struct sk_error *err)
{
	const EVP_MD *md = EVP_get_digestbynid(nid);
	uint8_t want[64];
	unsigned n = 0;

	if (!md || sk_ss_digest(md, data, len, want, &n))
		return sk_errf(err, -EOPNOTSUPP, "log entry body: unsupported digest for %s", what);
	if (got_len != n || memcmp(got, want, n))
		return sk_errf(err, -EBADMSG,
			       "the log entry's %s digest does not match the bundle's (the entry "
			       "is for another artifact)",
			       what);
	return 0;
}

/* The artifact digest a messageSignature entry must carry: the one computed by the caller. */
static int check_artifact_digest(int nid, const uint8_t *got, size_t got_len,
				 const struct sk_ss_expect *x, struct sk_error *err)
{
	if (nid != x->digest_nid || got_len != x->digest_len ||
	    memcmp(got, x->digest, x->digest_len))
		return sk_errf(err, -EBADMSG,
			       "the log entry is for another artifact: its digest differs from "
			       "the artifact's");
	return 0;
}

static int hex_decode(const char *hex, uint8_t *out, size_t max, size_t *len)
{
	long n = 0;
	unsigned char *buf = OPENSSL_hexstr2buf(hex, &n);

	ERR_clear_error();
	if (!buf || n <= 0 || (size_t)n > max || strchr(hex, ':')) {
		OPENSSL_free(buf);
		return -EBADMSG;
	}
	memcpy(out, buf, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(buf);
	return 0;
}

static int hashedrekord_v001(struct json_object *spec, const struct sk_ss_expect *x,
			     struct sk_error *err)
{
	static const char *const hash_path[] = {"data", "hash", NULL};
	static const char *const pk_path[] = {"signature", "publicKey", NULL};
	struct json_object *hash = path_get(spec, hash_path);
	struct json_object *sig = sk_ss_json_get(spec, "signature", json_type_object);
	struct sk_ss_bytes s = {0}, pk = {0};
	uint8_t digest[64];
	size_t dlen = 0;
	int ret;

	if (!hash || !sk_json_str(hash, "value") ||
	    hex_decode(sk_json_str(hash, "value"), digest, sizeof(digest), &dlen))
		return sk_errf(err, -EBADMSG, "log entry body has no valid spec.data.hash");
	/* Over a DSSE envelope (the client spec allows it) the logged hash is the PAE's. */
	if (x->b->content == SK_BUNDLE_DSSE)
		ret = check_digest(hash_nid(sk_json_str(hash, "algorithm")), digest, dlen, x->pae,
				   x->pae_len, "DSSE envelope", err);
	else
		ret = check_artifact_digest(hash_nid(sk_json_str(hash, "algorithm")), digest, dlen,
					    x, err);
	if (!ret)
		ret = b64_at(sig, "content", "spec.signature.content", &s, err);
	if (!ret)
		ret = check_sig(&s, x, err);
	if (!ret)
		ret = b64_at(path_get(spec, pk_path), "content", "spec.signature.publicKey.content",
			     &pk, err);
	if (!ret)
		ret = check_verifier(pk.data, pk.len, x, err);
	sk_ss_bytes_free(&s);
	sk_ss_bytes_free(&pk);
	return ret;
}

/* Rekor v2's verifier: {x509Certificate: {rawBytes}} or {publicKey: {rawBytes}}. */
static int check_v2_verifier(struct json_object *verifier, const struct sk_ss_expect *x,
			     struct sk_error *err)
{
	struct json_object *c = sk_ss_json_get(verifier, "x509Certificate", json_type_object);
	struct json_object *k = sk_ss_json_get(verifier, "publicKey", json_type_object);
	struct sk_ss_bytes raw = {0};
	int ret;

	if (!c && !k)
		return sk_errf(err, -EBADMSG, "log entry body names no verifier");
	ret = b64_at(c ? c : k, "rawBytes", "verifier rawBytes", &raw, err);
	if (!ret)
		ret = check_verifier(raw.data, raw.len, x, err);
	sk_ss_bytes_free(&raw);
	return ret;
}

static int hashedrekord_v002(struct json_object *spec, const struct sk_ss_expect *x,
			     struct sk_error *err)
{
	struct json_object *v = sk_ss_json_get(spec, "hashedRekordV002", json_type_object);
	struct json_object *data = sk_ss_json_get(v, "data", json_type_object);
	struct json_object *sig = sk_ss_json_get(v, "signature", json_type_object);
	struct sk_ss_bytes d = {0}, s = {0};
	int nid, ret;

	if (!data || !sig)
		return sk_errf(err, -EBADMSG, "log entry body has no spec.hashedRekordV002");
	nid = hash_nid(sk_json_str(data, "algorithm"));
	ret = b64_at(data, "digest", "spec.hashedRekordV002.data.digest", &d, err);
	if (ret)
		goto cleanup;
	/* Over a DSSE envelope, Rekor v2's hashedrekord logs the digest of its PAE. */
	if (x->b->content == SK_BUNDLE_DSSE)
		ret = check_digest(nid, d.data, d.len, x->pae, x->pae_len, "DSSE envelope", err);
	else
		ret = check_artifact_digest(nid, d.data, d.len, x, err);
	if (!ret)
		ret = b64_at(sig, "content", "spec.hashedRekordV002.signature.content", &s, err);
	if (!ret)
		ret = check_sig(&s, x, err);
	if (!ret)
		ret = check_v2_verifier(sk_ss_json_get(sig, "verifier", json_type_object), x, err);
cleanup:
	sk_ss_bytes_free(&d);
	sk_ss_bytes_free(&s);
	return ret;
}

static int dsse_v001(struct json_object *spec, const struct sk_ss_expect *x, struct sk_error *err)
{
	struct json_object *ph = sk_ss_json_get(spec, "payloadHash", json_type_object);
	struct json_object *sigs = sk_ss_json_get(spec, "signatures", json_type_array);
	uint8_t digest[64];
	size_t dlen = 0, n = sigs ? json_object_array_length(sigs) : 0;
	int ret;

	if (x->b->content != SK_BUNDLE_DSSE)
		return sk_errf(err, -EBADMSG, "a dsse log entry cannot record a message signature");
	if (!ph || !sk_json_str(ph, "value") ||
	    hex_decode(sk_json_str(ph, "value"), digest, sizeof(digest), &dlen))
		return sk_errf(err, -EBADMSG, "log entry body has no valid spec.payloadHash");
	ret = check_digest(hash_nid(sk_json_str(ph, "algorithm")), digest, dlen, x->b->payload.data,
			   x->b->payload.len, "DSSE payload", err);
	if (ret)
		return ret;
	if (n != 1)
		return sk_errf(err, -EBADMSG,
			       "the log entry records %zu DSSE signatures; the bundle has one", n);
	{
		struct json_object *s0 = json_object_array_get_idx(sigs, 0);
		struct sk_ss_bytes s = {0}, v = {0};

		ret = b64_at(s0, "signature", "spec.signatures[0].signature", &s, err);
		if (!ret)
			ret = check_sig(&s, x, err);
		if (!ret)
			ret = b64_at(s0, "verifier", "spec.signatures[0].verifier", &v, err);
		if (!ret)
			ret = check_verifier(v.data, v.len, x, err);
		sk_ss_bytes_free(&s);
		sk_ss_bytes_free(&v);
	}
	return ret;
}

static int dsse_v002(struct json_object *spec, const struct sk_ss_expect *x, struct sk_error *err)
{
	struct json_object *v = sk_ss_json_get(spec, "dsseV002", json_type_object);
	struct json_object *ph = sk_ss_json_get(v, "payloadHash", json_type_object);
	struct json_object *sigs = sk_ss_json_get(v, "signatures", json_type_array);
	struct sk_ss_bytes d = {0}, s = {0};
	size_t n = sigs ? json_object_array_length(sigs) : 0;
	int ret;

	if (x->b->content != SK_BUNDLE_DSSE)
		return sk_errf(err, -EBADMSG, "a dsse log entry cannot record a message signature");
	if (!ph)
		return sk_errf(err, -EBADMSG, "log entry body has no spec.dsseV002.payloadHash");
	ret = b64_at(ph, "digest", "spec.dsseV002.payloadHash.digest", &d, err);
	if (!ret)
		ret = check_digest(hash_nid(sk_json_str(ph, "algorithm")), d.data, d.len,
				   x->b->payload.data, x->b->payload.len, "DSSE payload", err);
	if (!ret && n != 1)
		ret = sk_errf(err, -EBADMSG,
			      "the log entry records %zu DSSE signatures; the bundle has one", n);
	if (!ret)
		ret = b64_at(json_object_array_get_idx(sigs, 0), "content",
			     "spec.dsseV002.signatures[0].content", &s, err);
	if (!ret)
		ret = check_sig(&s, x, err);
	if (!ret)
		ret = check_v2_verifier(sk_ss_json_get(json_object_array_get_idx(sigs, 0),
						       "verifier", json_type_object),
					x, err);
	sk_ss_bytes_free(&d);
	sk_ss_bytes_free(&s);
	return ret;
}

/*
 * Rekor's intoto 0.0.2 stores the envelope's byte fields base64-encoded once
 * more; a value that is not base64 text after one decoding (a raw DER
 * signature never is) is taken as it is, and compared as such.
 */
static int b64_twice(struct json_object *obj, const char *key, const char *what,
		     struct sk_ss_bytes *out, struct sk_error *err)
{
	struct sk_ss_bytes once = {0};
	char *s = NULL;
	int ret;

	ret = b64_at(obj, key, what, &once, err);
	if (ret)
		return ret;
	if (!memchr(once.data, '\0', once.len))
		s = strndup((const char *)once.data, once.len);
	if (s && !sk_ss_b64_decode(s, what, out, NULL)) {
		sk_ss_bytes_free(&once);
	} else {
		*out = once;
	}
	free(s);
	return 0;
}

static int intoto_v002(struct json_object *spec, const struct sk_ss_expect *x, struct sk_error *err)
{
	struct json_object *content = sk_ss_json_get(spec, "content", json_type_object);
	struct json_object *env = sk_ss_json_get(content, "envelope", json_type_object);
	struct json_object *ph = sk_ss_json_get(content, "payloadHash", json_type_object);
	struct json_object *sigs = sk_ss_json_get(env, "signatures", json_type_array);
	const char *type = sk_json_str(env, "payloadType");
	uint8_t digest[64];
	size_t dlen = 0, n = sigs ? json_object_array_length(sigs) : 0;
	int ret;

	if (x->b->content != SK_BUNDLE_DSSE)
		return sk_errf(err, -EBADMSG,
			       "an intoto log entry cannot record a message signature");
	if (!env || !ph || !sk_json_str(ph, "value") ||
	    hex_decode(sk_json_str(ph, "value"), digest, sizeof(digest), &dlen))
		return sk_errf(err, -EBADMSG,
			       "log entry body has no spec.content.envelope and payloadHash");
	if (!type || strcmp(type, x->b->payload_type))
		return sk_errf(err, -EBADMSG,
			       "the log entry's payload type differs from the bundle's DSSE "
			       "envelope");
	ret = check_digest(hash_nid(sk_json_str(ph, "algorithm")), digest, dlen, x->b->payload.data,
			   x->b->payload.len, "DSSE payload", err);
	if (ret)
		return ret;
	if (n != 1)
		return sk_errf(err, -EBADMSG,
			       "the log entry records %zu DSSE signatures; the bundle has one", n);
	{
		struct json_object *s0 = json_object_array_get_idx(sigs, 0);
		struct sk_ss_bytes s = {0}, v = {0};

		ret = b64_twice(s0, "sig", "spec.content.envelope.signatures[0].sig", &s, err);
		if (!ret)
			ret = check_sig(&s, x, err);
		if (!ret)
			ret = b64_at(s0, "publicKey",
				     "spec.content.envelope.signatures[0].publicKey", &v, err);
		if (!ret)
			ret = check_verifier(v.data, v.len, x, err);
		sk_ss_bytes_free(&s);
		sk_ss_bytes_free(&v);
	}
	return ret;
}

static int check_body(const struct sk_ss_entry *e, const struct sk_ss_expect *x,
		      struct sk_error *err)
{
	struct json_object *body = NULL, *spec;
	const char *kind, *version;
	int ret;

	ret = sk_json_parse(e->body.data, e->body.len, "log entry body", &body, err);
	if (ret)
		return ret;
	kind = sk_json_str(body, "kind");
	version = sk_json_str(body, "apiVersion");
	spec = sk_ss_json_get(body, "spec", json_type_object);
	if (!kind || !version || !spec) {
		ret = sk_errf(err, -EBADMSG, "log entry body has no kind, apiVersion or spec");
		goto cleanup;
	}
	if (strcmp(kind, e->kind) || strcmp(version, e->kind_version)) {
		ret =
		    sk_errf(err, -EBADMSG, "kindVersion says %s %s but the log entry body is %s %s",
			    e->kind, e->kind_version, kind, version);
		goto cleanup;
	}
	if (!strcmp(kind, "hashedrekord") && !strcmp(version, "0.0.1"))
		ret = hashedrekord_v001(spec, x, err);
	else if (!strcmp(kind, "hashedrekord") && !strcmp(version, "0.0.2"))
		ret = hashedrekord_v002(spec, x, err);
	else if (!strcmp(kind, "dsse") && !strcmp(version, "0.0.1"))
		ret = dsse_v001(spec, x, err);
	else if (!strcmp(kind, "dsse") && !strcmp(version, "0.0.2"))
		ret = dsse_v002(spec, x, err);
	else if (!strcmp(kind, "intoto") && !strcmp(version, "0.0.2"))
		ret = intoto_v002(spec, x, err);
	else
		ret = sk_errf(err, -EOPNOTSUPP,
			      "log entry kind %s %s is not supported (hashedrekord 0.0.1/0.0.2, "
			      "dsse 0.0.1/0.0.2, intoto 0.0.2)",
			      kind, version);
cleanup:
	json_object_put(body);
	return ret;
}

/*
 * The SET is the log's signature over the canonical JSON (RFC 8785: sorted
 * keys, no whitespace) of {body, integratedTime, logID (hex), logIndex}.
 */
static int verify_set(const struct sk_ss_entry *e, const struct sk_ss_log *log,
		      struct sk_error *err)
{
	struct json_object *o = json_object_new_object();
	char logid[2 * sizeof(log->log_id) + 1];
	const char *text;
	size_t len = 0;
	int ret;

	if (!o)
		return sk_errf(err, -ENOMEM, "out of memory");
	sk_ss_hex(e->log_id.data, e->log_id.len, logid);
	if (sk_json_add(o, "body", json_object_new_string(e->body_b64)) ||
	    sk_json_add(o, "integratedTime", json_object_new_int64(e->integrated_time)) ||
	    sk_json_add(o, "logID", json_object_new_string(logid)) ||
	    sk_json_add(o, "logIndex", json_object_new_int64(e->log_index))) {
		json_object_put(o);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	text = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	ret = text ? sk_ss_verify_sig(log->key, text, len, e->set.data, e->set.len) : -ENOMEM;
	json_object_put(o);
	if (ret == -EKEYREJECTED)
		return sk_errf(err, ret,
			       "the signed entry timestamp (SET) does not verify with the key of "
			       "log %s",
			       log->base_url);
	return ret ? sk_errf(err, ret, "cannot verify the SET") : 0;
}

static int verify_proof(const struct sk_ss_entry *e, const struct sk_ss_log *log,
			struct sk_error *err)
{
	const struct sk_ss_proof *p = &e->proof;
	uint8_t leaf[32];
	int ret;

	if (sk_merkle_leaf_hash(e->body.data, e->body.len, leaf))
		return sk_errf(err, -EIO, "cannot hash the log entry");
	ret =
	    sk_merkle_verify_inclusion((uint64_t)p->log_index, (uint64_t)p->tree_size, leaf,
				       (const uint8_t(*)[32])p->hashes, p->n_hashes, p->root, err);
	if (ret)
		return ret;
	if (!p->checkpoint)
		return sk_errf(err, -EBADMSG,
			       "the inclusion proof has no checkpoint: nothing signed by the log "
			       "vouches for its root hash");
	return sk_ss_verify_checkpoint(p->checkpoint, log, (uint64_t)p->tree_size, p->root, err);
}

int sk_ss_verify_entry(const struct sk_sigstore_root *root, const struct sk_ss_entry *e,
		       const struct sk_ss_expect *x, enum sk_bundle_version version,
		       int64_t *set_time, const struct sk_ss_log **logp, struct sk_error *err)
{
	const struct sk_ss_log *log;
	bool v2 = (!strcmp(e->kind, "hashedrekord") || !strcmp(e->kind, "dsse")) &&
		  !strcmp(e->kind_version, "0.0.2");
	int ret;

	(void)version;
	*set_time = 0;
	*logp = NULL;
	log = sk_ss_find_log(root->tlogs, root->n_tlogs, e->log_id.data, e->log_id.len);
	if (!log) {
		char *id = sk_ss_b64_encode(e->log_id.data, e->log_id.len);

		ret = sk_errf(err, -EKEYREJECTED,
			      "logged by a transparency log the trusted root does not name (log "
			      "ID %s)",
			      id ? id : "?");
		free(id);
		return ret;
	}
	*logp = log;
	ret = check_body(e, x, err);
	if (ret)
		return ret;
	if (!e->set.len && !e->proof.present)
		return sk_errf(err, -EBADMSG,
			       "has neither a signed entry timestamp nor an inclusion proof");
	if (v2 && !e->proof.present)
		return sk_errf(
		    err, -EBADMSG,
		    "is a Rekor v2 entry without an inclusion proof (required; the log is "
		    "never queried)");
	if (e->set.len) {
		if (!e->integrated_time)
			return sk_errf(err, -EBADMSG, "has a SET but no integratedTime");
		ret = verify_set(e, log, err);
		if (ret)
			return ret;
		*set_time = e->integrated_time;
		if (!sk_ss_window_contains(&log->valid, e->integrated_time * 1000)) {
			char t[32], w[80];

			sk_ss_fmt_time(e->integrated_time * 1000, t);
			sk_ss_fmt_window(&log->valid, w);
			return sk_errf(err, -EKEYEXPIRED,
				       "integrated time %s is outside the validity of log %s's key "
				       "(%s)",
				       t, log->base_url, w);
		}
	}
	if (e->proof.present) {
		ret = verify_proof(e, log, err);
		if (ret)
			return ret;
	}
	return 0;
}
