/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sigstore bundles: parsing (versions 0.1 to 0.3) and the structural rules of
 * each version. Verification is in sigstore_verify.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "schedkit/oci.h"
#include "sigstore_internal.h"

static const struct {
	const char *media_type;
	enum sk_bundle_version version;
} bundle_versions[] = {
    {"application/vnd.dev.sigstore.bundle+json;version=0.1", SK_BUNDLE_V0_1},
    {"application/vnd.dev.sigstore.bundle+json;version=0.2", SK_BUNDLE_V0_2},
    {"application/vnd.dev.sigstore.bundle+json;version=0.3", SK_BUNDLE_V0_3},
    {"application/vnd.dev.sigstore.bundle.v0.3+json", SK_BUNDLE_V0_3},
};

static void free_entry(struct sk_ss_entry *e)
{
	sk_ss_bytes_free(&e->log_id);
	free(e->kind);
	free(e->kind_version);
	sk_ss_bytes_free(&e->set);
	free(e->proof.hashes);
	free(e->proof.checkpoint);
	sk_ss_bytes_free(&e->body);
	free(e->body_b64);
}

void sk_bundle_free(struct sk_bundle *b)
{
	if (!b)
		return;
	X509_free(b->leaf);
	sk_X509_pop_free(b->chain, X509_free);
	free(b->key_hint);
	for (size_t i = 0; i < b->n_entries; i++)
		free_entry(&b->entries[i]);
	free(b->entries);
	for (size_t i = 0; i < b->n_timestamps; i++)
		sk_ss_bytes_free(&b->timestamps[i]);
	free(b->timestamps);
	sk_ss_bytes_free(&b->digest);
	sk_ss_bytes_free(&b->signature);
	free(b->payload_type);
	sk_ss_bytes_free(&b->payload);
	free(b);
}

enum sk_bundle_version sk_bundle_version(const struct sk_bundle *b)
{
	return b->version;
}

enum sk_bundle_content sk_bundle_content(const struct sk_bundle *b)
{
	return b->content;
}

enum sk_bundle_material sk_bundle_material(const struct sk_bundle *b)
{
	return b->material;
}

const char *sk_bundle_payload_type(const struct sk_bundle *b)
{
	return b->payload_type;
}

const void *sk_bundle_payload(const struct sk_bundle *b, size_t *len)
{
	if (len)
		*len = b->payload.len;
	return b->content == SK_BUNDLE_DSSE ? b->payload.data : NULL;
}

/* A required base64 string member, decoded and non-empty. */
static int b64_member(struct json_object *obj, const char *key, const char *what,
		      struct sk_ss_bytes *out, struct sk_error *err)
{
	char where[160];
	const char *s = sk_json_str(obj, key);
	int ret;

	snprintf(where, sizeof(where), "%s.%s", what, key);
	if (!s)
		return sk_errf(err, -EBADMSG, "%s is missing", where);
	ret = sk_ss_b64_decode(s, where, out, err);
	if (!ret && !out->len)
		ret = sk_errf(err, -EBADMSG, "%s is empty", where);
	return ret;
}

static int strdup_member(struct json_object *obj, const char *key, const char *what, char **out,
			 struct sk_error *err)
{
	const char *s = sk_json_str(obj, key);

	if (!s || !*s)
		return sk_errf(err, -EBADMSG, "%s.%s is missing", what, key);
	*out = strdup(s);
	return *out ? 0 : sk_errf(err, -ENOMEM, "out of memory");
}

static int parse_cert(const char *b64, const char *what, X509 **out, struct sk_error *err)
{
	struct sk_ss_bytes der = {0};
	int ret;

	ret = sk_ss_b64_decode(b64, what, &der, err);
	if (ret)
		return ret;
	*out = sk_ss_x509_from_pem_or_der(der.data, der.len);
	sk_ss_bytes_free(&der);
	if (!*out)
		return sk_errf(err, -EBADMSG, "%s is not a DER X.509 certificate", what);
	return 0;
}

static bool is_self_signed_ca(X509 *x)
{
	bool yes = X509_check_ca(x) > 0 && X509_self_signed(x, 0) == 1;

	ERR_clear_error();
	return yes;
}

static int check_leaf(X509 *leaf, struct sk_error *err)
{
	bool ca = X509_check_ca(leaf) > 0;

	ERR_clear_error();
	if (ca)
		return sk_errf(err, -EBADMSG,
			       "the bundle's signing certificate is a CA certificate, not a leaf");
	return 0;
}

static int parse_material(struct sk_bundle *b, struct json_object *vm, struct sk_error *err)
{
	struct json_object *chain = sk_ss_json_get(vm, "x509CertificateChain", json_type_object);
	struct json_object *cert = sk_ss_json_get(vm, "certificate", json_type_object);
	struct json_object *pk = sk_ss_json_get(vm, "publicKey", json_type_object);
	struct json_object *certs;
	size_t n;
	int ret;

	if (!!chain + !!cert + !!pk != 1)
		return sk_errf(
		    err, -EBADMSG,
		    "verificationMaterial must hold exactly one of x509CertificateChain, "
		    "certificate and publicKey (it holds %d)",
		    !!chain + !!cert + !!pk);
	if (pk) {
		const char *hint = sk_json_str(pk, "hint");

		b->material = SK_BUNDLE_PUBLIC_KEY;
		b->key_hint = strdup(hint ? hint : "");
		return b->key_hint ? 0 : sk_errf(err, -ENOMEM, "out of memory");
	}
	b->material = SK_BUNDLE_CERTIFICATE;
	if (cert) {
		const char *raw = sk_json_str(cert, "rawBytes");

		if (!raw)
			return sk_errf(err, -EBADMSG,
				       "verificationMaterial.certificate has no "
				       "rawBytes");
		ret = parse_cert(raw, "verificationMaterial.certificate", &b->leaf, err);
		return ret ? ret : check_leaf(b->leaf, err);
	}
	/* v0.3 replaced the chain by the leaf alone: intermediates come from the trusted root. */
	if (b->version >= SK_BUNDLE_V0_3)
		return sk_errf(
		    err, -EBADMSG,
		    "a v0.3 bundle must carry a certificate, not an x509CertificateChain");
	certs = sk_ss_json_get(chain, "certificates", json_type_array);
	n = certs ? json_object_array_length(certs) : 0;
	if (!n)
		return sk_errf(err, -EBADMSG,
			       "verificationMaterial.x509CertificateChain is empty: "
			       "the bundle has no signing certificate");
	b->chain = sk_X509_new_null();
	if (!b->chain)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *raw = sk_json_str(json_object_array_get_idx(certs, i), "rawBytes");
		char what[96];
		X509 *x = NULL;

		snprintf(what, sizeof(what), "x509CertificateChain certificate %zu", i + 1);
		if (!raw)
			return sk_errf(err, -EBADMSG, "%s has no rawBytes", what);
		ret = parse_cert(raw, what, &x, err);
		if (ret)
			return ret;
		if (i == 0) {
			b->leaf = x;
			continue;
		}
		/*
		 * protobuf-specs' client policy: the chain must not carry a root;
		 * trust anchors come from the trusted root only.
		 */
		if (is_self_signed_ca(x)) {
			char subject[256];

			X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
			X509_free(x);
			return sk_errf(err, -EBADMSG,
				       "the bundle's certificate chain contains a root CA "
				       "certificate (%s, certificate %zu); trust anchors must come "
				       "from the trusted root only",
				       subject, i + 1);
		}
		if (!sk_X509_push(b->chain, x)) {
			X509_free(x);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	return check_leaf(b->leaf, err);
}

static int parse_proof(struct json_object *p, const char *what, struct sk_ss_proof *proof,
		       struct sk_error *err)
{
	struct json_object *hashes = sk_ss_json_get(p, "hashes", json_type_array);
	struct json_object *cp = sk_ss_json_get(p, "checkpoint", json_type_object);
	struct sk_ss_bytes root = {0};
	char where[160];
	int ret;

	proof->present = true;
	snprintf(where, sizeof(where), "%s.inclusionProof", what);
	ret = sk_ss_json_int64(p, "logIndex", false, where, &proof->log_index, err);
	if (!ret)
		ret = sk_ss_json_int64(p, "treeSize", false, where, &proof->tree_size, err);
	if (!ret)
		ret = b64_member(p, "rootHash", where, &root, err);
	if (ret)
		return ret;
	if (root.len != 32) {
		sk_ss_bytes_free(&root);
		return sk_errf(err, -EBADMSG, "%s.rootHash has %zu bytes, not 32", where, root.len);
	}
	memcpy(proof->root, root.data, 32);
	sk_ss_bytes_free(&root);
	proof->n_hashes = hashes ? json_object_array_length(hashes) : 0;
	if (proof->n_hashes > 64)
		return sk_errf(err, -EBADMSG, "%s has %zu hashes; a tree of 2^63 leaves needs 63",
			       where, proof->n_hashes);
	proof->hashes = calloc(proof->n_hashes + 1, 32);
	if (!proof->hashes)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < proof->n_hashes; i++) {
		struct json_object *h = json_object_array_get_idx(hashes, i);
		struct sk_ss_bytes d = {0};

		if (!json_object_is_type(h, json_type_string))
			return sk_errf(err, -EBADMSG, "%s.hashes[%zu] is not a string", where, i);
		ret = sk_ss_b64_decode(json_object_get_string(h), where, &d, err);
		if (ret)
			return ret;
		if (d.len != 32) {
			sk_ss_bytes_free(&d);
			return sk_errf(err, -EBADMSG, "%s.hashes[%zu] has %zu bytes, not 32", where,
				       i, d.len);
		}
		memcpy(proof->hashes[i], d.data, 32);
		sk_ss_bytes_free(&d);
	}
	if (cp && sk_json_str(cp, "envelope")) {
		proof->checkpoint = strdup(sk_json_str(cp, "envelope"));
		if (!proof->checkpoint)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static int parse_entry(struct json_object *t, size_t idx, enum sk_bundle_version version,
		       struct sk_ss_entry *e, struct sk_error *err)
{
	struct json_object *id = sk_ss_json_get(t, "logId", json_type_object);
	struct json_object *kv = sk_ss_json_get(t, "kindVersion", json_type_object);
	struct json_object *promise = sk_ss_json_get(t, "inclusionPromise", json_type_object);
	struct json_object *proof = sk_ss_json_get(t, "inclusionProof", json_type_object);
	char what[64];
	int ret;

	snprintf(what, sizeof(what), "tlog entry %zu", idx + 1);
	if (!json_object_is_type(t, json_type_object))
		return sk_errf(err, -EBADMSG, "%s is not an object", what);
	ret = sk_ss_json_int64(t, "logIndex", false, what, &e->log_index, err);
	if (ret)
		return ret;
	if (!id)
		return sk_errf(err, -EBADMSG, "%s: missing logId", what);
	ret = b64_member(id, "keyId", what, &e->log_id, err);
	if (ret)
		return ret;
	if (!kv)
		return sk_errf(err, -EBADMSG, "%s: missing kindVersion", what);
	ret = strdup_member(kv, "kind", what, &e->kind, err);
	if (!ret)
		ret = strdup_member(kv, "version", what, &e->kind_version, err);
	if (!ret)
		ret = sk_ss_json_int64(t, "integratedTime", true, what, &e->integrated_time, err);
	if (ret)
		return ret;
	if (promise) {
		ret = b64_member(promise, "signedEntryTimestamp", what, &e->set, err);
		if (ret)
			return ret;
	}
	if (proof) {
		ret = parse_proof(proof, what, &e->proof, err);
		if (ret)
			return ret;
	}
	/*
	 * The versions differ in what must be offline-verifiable: 0.1 needs the
	 * log's promise (SET), 0.2 and later the inclusion proof itself.
	 */
	if (version == SK_BUNDLE_V0_1 && !promise)
		return sk_errf(err, -EBADMSG,
			       "%s has no inclusionPromise (a v0.1 bundle must carry the log's "
			       "signed entry timestamp)",
			       what);
	if (version >= SK_BUNDLE_V0_2 && !proof)
		return sk_errf(
		    err, -EBADMSG,
		    "%s has no inclusion proof (required from bundle v0.2 on; the log is "
		    "never queried)",
		    what);
	ret = strdup_member(t, "canonicalizedBody", what, &e->body_b64, err);
	if (!ret)
		ret = b64_member(t, "canonicalizedBody", what, &e->body, err);
	return ret;
}

static int parse_entries(struct sk_bundle *b, struct json_object *vm, struct sk_error *err)
{
	struct json_object *tl = sk_ss_json_get(vm, "tlogEntries", json_type_array);
	struct json_object *tv = sk_ss_json_get(vm, "timestampVerificationData", json_type_object);
	struct json_object *ts = sk_ss_json_get(tv, "rfc3161Timestamps", json_type_array);
	size_t n = tl ? json_object_array_length(tl) : 0;
	size_t m = ts ? json_object_array_length(ts) : 0;
	int ret;

	if (n) {
		b->entries = calloc(n, sizeof(*b->entries));
		if (!b->entries)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		b->n_entries++;
		ret = parse_entry(json_object_array_get_idx(tl, i), i, b->version, &b->entries[i],
				  err);
		if (ret)
			return ret;
	}
	if (m) {
		b->timestamps = calloc(m, sizeof(*b->timestamps));
		if (!b->timestamps)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < m; i++) {
		char what[64];

		snprintf(what, sizeof(what), "RFC 3161 timestamp %zu", i + 1);
		b->n_timestamps++;
		ret = b64_member(json_object_array_get_idx(ts, i), "signedTimestamp", what,
				 &b->timestamps[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_message(struct sk_bundle *b, struct json_object *ms, struct sk_error *err)
{
	struct json_object *md = sk_ss_json_get(ms, "messageDigest", json_type_object);
	int ret;

	b->content = SK_BUNDLE_MESSAGE_SIGNATURE;
	if (md) {
		const char *alg = sk_json_str(md, "algorithm");

		if (!alg || !strcmp(alg, "SHA2_256"))
			b->md_nid = NID_sha256;
		else if (!strcmp(alg, "SHA2_384"))
			b->md_nid = NID_sha384;
		else if (!strcmp(alg, "SHA2_512"))
			b->md_nid = NID_sha512;
		else
			return sk_errf(err, -EOPNOTSUPP,
				       "messageSignature.messageDigest.algorithm %s is not "
				       "supported (SHA2_256, SHA2_384, SHA2_512)",
				       alg);
		ret = b64_member(md, "digest", "messageSignature.messageDigest", &b->digest, err);
		if (ret)
			return ret;
		if (b->digest.len != (size_t)EVP_MD_get_size(EVP_get_digestbynid(b->md_nid)))
			return sk_errf(err, -EBADMSG,
				       "messageSignature.messageDigest.digest has %zu bytes, wrong "
				       "for %s",
				       b->digest.len, alg ? alg : "SHA2_256");
	}
	return b64_member(ms, "signature", "messageSignature", &b->signature, err);
}

static int parse_dsse(struct sk_bundle *b, struct json_object *env, struct sk_error *err)
{
	struct json_object *sigs = sk_ss_json_get(env, "signatures", json_type_array);
	size_t n = sigs ? json_object_array_length(sigs) : 0;
	int ret;

	b->content = SK_BUNDLE_DSSE;
	ret = strdup_member(env, "payloadType", "dsseEnvelope", &b->payload_type, err);
	if (ret)
		return ret;
	ret = b64_member(env, "payload", "dsseEnvelope", &b->payload, err);
	if (ret)
		return ret;
	if (n != 1)
		return sk_errf(err, -EBADMSG,
			       "dsseEnvelope has %zu signatures; a Sigstore bundle's envelope "
			       "carries exactly one",
			       n);
	return b64_member(json_object_array_get_idx(sigs, 0), "sig", "dsseEnvelope.signatures[0]",
			  &b->signature, err);
}

int sk_bundle_parse(const void *json, size_t len, const char *what, struct sk_bundle **out,
		    struct sk_error *err)
{
	struct json_object *obj = NULL, *vm, *ms, *env;
	struct sk_bundle *b = NULL;
	const char *mt;
	int ret;

	*out = NULL;
	if (!what)
		what = "Sigstore bundle";
	if (len > SK_BUNDLE_MAX)
		return sk_errf(err, -EFBIG, "%s: %zu bytes, more than the %u allowed", what, len,
			       SK_BUNDLE_MAX);
	ret = sk_json_parse(json, len, what, &obj, err);
	if (ret)
		return ret;
	b = calloc(1, sizeof(*b));
	if (!b) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto cleanup;
	}
	mt = sk_json_str(obj, "mediaType");
	for (size_t i = 0; mt && i < sizeof(bundle_versions) / sizeof(bundle_versions[0]); i++)
		if (!strcmp(mt, bundle_versions[i].media_type))
			b->version = bundle_versions[i].version;
	if (!b->version) {
		ret = sk_errf(err, -EPROTONOSUPPORT,
			      "unknown bundle version: mediaType %s%s%s is none of the versions "
			      "this verifier knows (0.1, 0.2, 0.3: %s)",
			      mt ? "\"" : "", mt ? mt : "(missing)", mt ? "\"" : "",
			      bundle_versions[3].media_type);
		goto cleanup;
	}
	vm = sk_ss_json_get(obj, "verificationMaterial", json_type_object);
	if (!vm) {
		ret = sk_errf(err, -EBADMSG, "missing verificationMaterial");
		goto cleanup;
	}
	ret = parse_material(b, vm, err);
	if (!ret)
		ret = parse_entries(b, vm, err);
	if (ret)
		goto cleanup;
	ms = sk_ss_json_get(obj, "messageSignature", json_type_object);
	env = sk_ss_json_get(obj, "dsseEnvelope", json_type_object);
	if (!!ms + !!env != 1) {
		ret = sk_errf(err, -EBADMSG,
			      "the bundle must hold exactly one of messageSignature "
			      "and dsseEnvelope");
		goto cleanup;
	}
	ret = ms ? parse_message(b, ms, err) : parse_dsse(b, env, err);
	if (ret)
		goto cleanup;
	*out = b;
	b = NULL;
cleanup:
	if (ret && err && obj)
		sk_err_prefix(err, "%s: ", what);
	sk_bundle_free(b);
	json_object_put(obj);
	return ret;
}

int sk_bundle_load(const char *path, struct sk_bundle **out, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = sk_read_file(path, SK_BUNDLE_MAX, &data, &len, err);
	if (ret)
		return ret;
	ret = sk_bundle_parse(data, len, path, out, err);
	free(data);
	return ret;
}
