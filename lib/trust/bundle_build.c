/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Making Sigstore bundles the way cosign v3 does for an OCI artifact: an
 * in-toto statement naming the manifest digest (predicate type
 * https://sigstore.dev/cosign/sign/v1, the signed annotations on the
 * subject), signed as a DSSE envelope, with the signer's public-key hint or
 * Fulcio certificate, and the Rekor entry and RFC 3161 timestamp when there
 * are any. Pure: the network side is lib/registry/keyless.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "internal.h"
#include "schedkit/oci.h"
#include "sigstore_internal.h"

/* Adds val to the array a, taking it over either way (like sk_json_add). */
static int array_add(struct json_object *a, struct json_object *val)
{
	if (!val || json_object_array_add(a, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

int sk_bundle_statement(const char *digest, const struct sk_strv *annotations, struct sk_buf *out,
			struct sk_error *err)
{
	struct json_object *st = json_object_new_object(), *subjects = NULL, *subject = NULL;
	struct json_object *d = NULL, *ann = NULL;
	struct sk_strv sorted = {0};
	const char *text;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!st)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!sk_digest_valid(digest)) {
		ret = sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
		goto out;
	}
	/* st owns everything below as soon as it is added; a failure puts it all */
	ret = sk_json_add(st, "_type", json_object_new_string("https://in-toto.io/Statement/v1"));
	if (!ret)
		ret = sk_json_add(st, "subject", subjects = json_object_new_array());
	if (!ret)
		ret = array_add(subjects, subject = json_object_new_object());
	if (!ret)
		ret = sk_json_add(subject, "digest", d = json_object_new_object());
	if (!ret)
		ret = sk_json_add(d, "sha256", json_object_new_string(digest + 7));
	if (!ret)
		ret = sk_json_add(subject, "annotations", ann = json_object_new_object());
	if (!ret)
		ret = sk_json_add(st, "predicateType",
				  json_object_new_string(SK_COSIGN_SIGN_PREDICATE));
	if (!ret)
		ret = sk_json_add(st, "predicate", json_object_new_object());
	if (ret) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* in key order, as cosign writes them (Go marshals maps sorted) */
	for (size_t i = 0; annotations && i < annotations->n; i++)
		if (sk_strv_push(&sorted, annotations->v[i])) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
	sk_strv_sort_uniq(&sorted);
	for (size_t i = 0; i < sorted.n; i++) {
		char *eq = strchr(sorted.v[i], '=');

		if (!eq || eq == sorted.v[i]) {
			ret = sk_errf(err, -EINVAL, "annotation \"%s\" is not KEY=VALUE",
				      sorted.v[i]);
			goto out;
		}
		*eq = '\0';
		if (json_object_object_get_ex(ann, sorted.v[i], NULL)) {
			ret = sk_errf(err, -EINVAL, "annotation %s is given twice", sorted.v[i]);
			goto out;
		}
		if (sk_json_add(ann, sorted.v[i], json_object_new_string(eq + 1))) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	text = sk_trust_json_str(st, &len);
	if (!text || sk_buf_append(out, text, len))
		ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	if (ret)
		sk_buf_free(out);
	json_object_put(st);
	sk_strv_free(&sorted);
	return ret;
}

int sk_dsse_pae(const char *payload_type, const void *payload, size_t len, struct sk_buf *out)
{
	memset(out, 0, sizeof(*out));
	if (sk_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(payload_type), payload_type, len) ||
	    sk_buf_append(out, payload, len)) {
		sk_buf_free(out);
		return -ENOMEM;
	}
	return 0;
}

int sk_key_hint(const struct sk_key *k, char out[64], struct sk_error *err)
{
	EVP_PKEY *pk = sk_trust_key_pkey(k);
	unsigned char *der = NULL;
	uint8_t md[32];
	char *b64;
	int n;

	n = pk ? i2d_PUBKEY(pk, &der) : -1;
	if (n <= 0)
		return sk_errf(err, -EINVAL, "cannot encode the public key");
	sk_ss_digest(EVP_sha256(), der, (size_t)n, md, NULL);
	OPENSSL_free(der);
	b64 = sk_ss_b64_encode(md, sizeof(md));
	if (!b64)
		return sk_errf(err, -ENOMEM, "out of memory");
	snprintf(out, 64, "%s", b64);
	free(b64);
	return 0;
}

static int add_b64(struct json_object *o, const char *key, const void *data, size_t len)
{
	char *b64 = sk_ss_b64_encode(data, len);
	int ret;

	if (!b64)
		return -ENOMEM;
	ret = sk_json_add(o, key, json_object_new_string(b64));
	free(b64);
	return ret;
}

int sk_bundle_build(const struct sk_bundle_parts *p, struct sk_buf *out, struct sk_error *err)
{
	struct json_object *b, *vm = NULL, *o = NULL, *arr = NULL, *env = NULL, *sigs = NULL;
	struct json_object *sig = NULL, *tvd = NULL, *ts = NULL, *t = NULL;
	const char *text;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!p->sig_b64 || !p->payload || !p->key_hint == !p->cert_der)
		return sk_errf(err, -EINVAL,
			       "a bundle needs a payload, a signature and one of a key hint and a "
			       "certificate");
	b = json_object_new_object();
	if (!b)
		return sk_errf(err, -ENOMEM, "out of memory");
	/* b owns each part as soon as it is added; a failure puts them all */
	ret = sk_json_add(b, "mediaType", json_object_new_string(SK_MT_SIGSTORE_BUNDLE));
	if (!ret)
		ret = sk_json_add(b, "verificationMaterial", vm = json_object_new_object());
	if (!ret)
		ret = sk_json_add(vm, p->cert_der ? "certificate" : "publicKey",
				  o = json_object_new_object());
	if (!ret && p->cert_der)
		ret = add_b64(o, "rawBytes", p->cert_der, p->cert_der_len);
	else if (!ret)
		ret = sk_json_add(o, "hint", json_object_new_string(p->key_hint));
	if (!ret)
		ret = sk_json_add(vm, "tlogEntries", arr = json_object_new_array());
	if (!ret && p->tlog_entry)
		ret = array_add(arr, json_object_get(p->tlog_entry));
	if (!ret && p->tsr) {
		ret = sk_json_add(vm, "timestampVerificationData", tvd = json_object_new_object());
		if (!ret)
			ret = sk_json_add(tvd, "rfc3161Timestamps", ts = json_object_new_array());
		if (!ret)
			ret = array_add(ts, t = json_object_new_object());
		if (!ret)
			ret = add_b64(t, "signedTimestamp", p->tsr, p->tsr_len);
	}
	if (!ret)
		ret = sk_json_add(b, "dsseEnvelope", env = json_object_new_object());
	if (!ret)
		ret = add_b64(env, "payload", p->payload, p->payload_len);
	if (!ret)
		ret = sk_json_add(env, "payloadType",
				  json_object_new_string(SK_IN_TOTO_PAYLOAD_TYPE));
	if (!ret)
		ret = sk_json_add(env, "signatures", sigs = json_object_new_array());
	if (!ret)
		ret = array_add(sigs, sig = json_object_new_object());
	if (!ret)
		ret = sk_json_add(sig, "sig", json_object_new_string(p->sig_b64));
	if (!ret) {
		text = sk_trust_json_str(b, &len);
		ret = !text || sk_buf_append(out, text, len) ? -ENOMEM : 0;
	}
	json_object_put(b);
	if (ret) {
		sk_buf_free(out);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* A hex string into base64, for the fields Rekor v1 writes in hex and bundles in base64. */
static int hex_to_b64(struct json_object *dst, const char *key, const char *hex, size_t max)
{
	long n = 0;
	unsigned char *raw;
	int ret;

	if (!hex || strlen(hex) > 2 * max)
		return -EBADMSG;
	raw = OPENSSL_hexstr2buf(hex, &n);
	if (!raw || n <= 0) {
		OPENSSL_free(raw);
		return -EBADMSG;
	}
	ret = add_b64(dst, key, raw, (size_t)n);
	OPENSSL_free(raw);
	return ret;
}

static int add_int_string(struct json_object *o, const char *key, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return sk_json_add(o, key, json_object_new_string(buf));
}

int sk_rekor_entry_to_bundle(const void *json, size_t len, struct json_object **out,
			     struct sk_error *err)
{
	struct json_object *resp = NULL, *entry = NULL, *ver, *proof, *hashes, *e = NULL, *o;
	struct json_object *body = NULL;
	struct sk_ss_bytes raw = {0};
	const char *b64, *kind, *version;
	int ret;

	*out = NULL;
	ret = sk_json_parse(json, len, "Rekor's answer", &resp, err);
	if (ret)
		return ret;
	/* {"<uuid>": {body, integratedTime, logID, logIndex, verification}} */
	if (json_object_object_length(resp) != 1) {
		ret = sk_errf(err, -EBADMSG, "Rekor's answer holds %d entries, not one",
			      json_object_object_length(resp));
		goto out;
	}
	json_object_object_foreach(resp, uuid, v)
	{
		(void)uuid;
		entry = v;
	}
	ver = sk_ss_json_get(entry, "verification", json_type_object);
	proof = sk_ss_json_get(ver, "inclusionProof", json_type_object);
	hashes = sk_ss_json_get(proof, "hashes", json_type_array);
	b64 = sk_json_str(entry, "body");
	if (!b64 || !ver || sk_ss_b64_decode(b64, "Rekor entry body", &raw, NULL) ||
	    sk_json_parse(raw.data, raw.len, "Rekor entry body", &body, NULL)) {
		ret = sk_errf(err, -EBADMSG, "Rekor's entry has no readable body");
		goto out;
	}
	kind = sk_json_str(body, "kind");
	version = sk_json_str(body, "apiVersion");
	e = json_object_new_object();
	o = json_object_new_object();
	if (!e || !o || !kind || !version) {
		json_object_put(o);
		ret = kind && version ? sk_errf(err, -ENOMEM, "out of memory")
				      : sk_errf(err, -EBADMSG, "Rekor's entry body has no kind");
		goto out;
	}
	ret = add_int_string(e, "logIndex", sk_json_int(entry, "logIndex"));
	if (!ret)
		ret = hex_to_b64(o, "keyId", sk_json_str(entry, "logID"), 64);
	if (!ret)
		ret = sk_json_add(e, "logId", o);
	else
		json_object_put(o);
	o = json_object_new_object();
	if (!ret && (!o || sk_json_add(o, "kind", json_object_new_string(kind)) ||
		     sk_json_add(o, "version", json_object_new_string(version))))
		ret = -ENOMEM;
	if (!ret)
		ret = sk_json_add(e, "kindVersion", o);
	else
		json_object_put(o);
	if (!ret)
		ret = add_int_string(e, "integratedTime", sk_json_int(entry, "integratedTime"));
	if (!ret && sk_json_str(ver, "signedEntryTimestamp")) {
		o = json_object_new_object();
		ret = !o || sk_json_add(
				o, "signedEntryTimestamp",
				json_object_new_string(sk_json_str(ver, "signedEntryTimestamp")))
			  ? -ENOMEM
			  : sk_json_add(e, "inclusionPromise", o);
	}
	if (!ret && proof) {
		struct json_object *p = json_object_new_object(), *h = json_object_new_array();
		struct json_object *cp = json_object_new_object();

		ret = !p || !h || !cp ? -ENOMEM : 0;
		if (!ret)
			ret = add_int_string(p, "logIndex", sk_json_int(proof, "logIndex"));
		if (!ret)
			ret = hex_to_b64(p, "rootHash", sk_json_str(proof, "rootHash"), 32);
		if (!ret)
			ret = add_int_string(p, "treeSize", sk_json_int(proof, "treeSize"));
		for (size_t i = 0; !ret && hashes && i < json_object_array_length(hashes); i++) {
			struct json_object *t = json_object_new_object(), *s;

			ret = t ? hex_to_b64(
				      t, "h",
				      json_object_get_string(json_object_array_get_idx(hashes, i)),
				      32)
				: -ENOMEM;
			if (!ret && json_object_object_get_ex(t, "h", &s))
				ret = json_object_array_add(h, json_object_get(s));
			json_object_put(t);
		}
		if (!ret && sk_json_str(proof, "checkpoint"))
			ret = sk_json_add(cp, "envelope",
					  json_object_new_string(sk_json_str(proof, "checkpoint")));
		if (!ret) {
			ret = sk_json_add(p, "hashes", h);
			h = NULL;
		}
		if (!ret) {
			ret = sk_json_add(p, "checkpoint", cp);
			cp = NULL;
		}
		if (!ret) {
			ret = sk_json_add(e, "inclusionProof", p);
			p = NULL;
		}
		json_object_put(p);
		json_object_put(h);
		json_object_put(cp);
	}
	if (!ret)
		ret = sk_json_add(e, "canonicalizedBody", json_object_new_string(b64));
	if (ret) {
		ret = ret == -ENOMEM ? sk_errf(err, ret, "out of memory")
				     : sk_errf(err, -EBADMSG, "Rekor's entry is malformed");
		goto out;
	}
	*out = e;
	e = NULL;
out:
	json_object_put(e);
	json_object_put(body);
	json_object_put(resp);
	sk_ss_bytes_free(&raw);
	return ret;
}
