/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sigstore trusted roots (trusted_root.json): the Fulcio CAs, Rekor logs, CT
 * logs and timestamp authorities to believe, each with its validity window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "schedkit/oci.h"
#include "sigstore_internal.h"

static const char *const root_media_types[] = {
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
    NULL,
};

static void free_log(struct sk_ss_log *l)
{
	free(l->base_url);
	EVP_PKEY_free(l->key);
}

static void free_ca(struct sk_ss_ca *c)
{
	free(c->name);
	sk_X509_pop_free(c->chain, X509_free);
}

void sk_sigstore_root_free(struct sk_sigstore_root *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_tlogs; i++)
		free_log(&r->tlogs[i]);
	for (size_t i = 0; i < r->n_ctlogs; i++)
		free_log(&r->ctlogs[i]);
	for (size_t i = 0; i < r->n_cas; i++)
		free_ca(&r->cas[i]);
	for (size_t i = 0; i < r->n_tsas; i++)
		free_ca(&r->tsas[i]);
	free(r->tlogs);
	free(r->ctlogs);
	free(r->cas);
	free(r->tsas);
	free(r);
}

void sk_sigstore_root_info(const struct sk_sigstore_root *r, struct sk_sigstore_root_info *info)
{
	info->tlogs = r->n_tlogs;
	info->ctlogs = r->n_ctlogs;
	info->certificate_authorities = r->n_cas;
	info->timestamp_authorities = r->n_tsas;
}

const struct sk_ss_log *sk_ss_find_log(const struct sk_ss_log *logs, size_t n, const uint8_t *id,
				       size_t id_len)
{
	for (size_t i = 0; i < n; i++)
		if (logs[i].log_id_len == id_len && !memcmp(logs[i].log_id, id, id_len))
			return &logs[i];
	return NULL;
}

/* validFor {start, end}: start is required, end optional (open window). */
static int parse_window(struct json_object *obj, const char *what, struct sk_ss_window *w,
			struct sk_error *err)
{
	struct json_object *vf = sk_ss_json_get(obj, "validFor", json_type_object);
	struct json_object *end;
	const char *s;

	w->start_ms = 0;
	w->end_ms = SK_SS_NO_END;
	if (!vf)
		return sk_errf(err, -EBADMSG, "%s: missing \"validFor\"", what);
	s = sk_json_str(vf, "start");
	if (!s || sk_ss_parse_time(s, &w->start_ms))
		return sk_errf(err, -EBADMSG, "%s: validFor.start is not an RFC 3339 time", what);
	end = sk_ss_json_get(vf, "end", json_type_string);
	if (end && sk_ss_parse_time(json_object_get_string(end), &w->end_ms))
		return sk_errf(err, -EBADMSG, "%s: validFor.end is not an RFC 3339 time", what);
	if (w->end_ms < w->start_ms)
		return sk_errf(err, -EBADMSG, "%s: validFor ends before it starts", what);
	return 0;
}

static EVP_PKEY *parse_key(const struct sk_ss_bytes *der, const char *details)
{
	const unsigned char *p = der->data;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)der->len);

	/* PKCS1_RSA_* keys are an RSAPublicKey, not a SubjectPublicKeyInfo. */
	if (!k && details && !strncmp(details, "PKCS1_RSA", 9)) {
		p = der->data;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)der->len);
	}
	if (k && p != der->data + der->len) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	ERR_clear_error();
	return k;
}

static int parse_log(struct json_object *obj, const char *what, struct sk_ss_log *l,
		     struct sk_error *err)
{
	struct json_object *pk = sk_ss_json_get(obj, "publicKey", json_type_object);
	struct json_object *id = sk_ss_json_get(obj, "logId", json_type_object);
	struct sk_ss_bytes der = {0}, lid = {0};
	const char *s;
	int ret;

	s = sk_json_str(obj, "baseUrl");
	l->base_url = strdup(s ? s : "(no baseUrl)");
	if (!l->base_url)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!pk || !sk_json_str(pk, "rawBytes"))
		return sk_errf(err, -EBADMSG, "%s (%s): missing publicKey.rawBytes", what,
			       l->base_url);
	if (!id || !sk_json_str(id, "keyId"))
		return sk_errf(err, -EBADMSG, "%s (%s): missing logId.keyId", what, l->base_url);
	s = sk_json_str(obj, "hashAlgorithm");
	if (s && strcmp(s, "SHA2_256"))
		return sk_errf(err, -EOPNOTSUPP,
			       "%s (%s): hashAlgorithm %s is not supported (only SHA2_256)", what,
			       l->base_url, s);
	ret = parse_window(pk, what, &l->valid, err);
	if (ret)
		return ret;
	ret = sk_ss_b64_decode(sk_json_str(pk, "rawBytes"), what, &der, err);
	if (ret)
		return ret;
	l->key = parse_key(&der, sk_json_str(pk, "keyDetails"));
	sk_ss_bytes_free(&der);
	if (!l->key)
		return sk_errf(err, -EBADMSG, "%s (%s): publicKey.rawBytes is not a public key",
			       what, l->base_url);
	ret = sk_ss_b64_decode(sk_json_str(id, "keyId"), what, &lid, err);
	if (ret)
		return ret;
	if (!lid.len || lid.len > sizeof(l->log_id)) {
		sk_ss_bytes_free(&lid);
		return sk_errf(err, -EBADMSG, "%s (%s): logId.keyId has %zu bytes", what,
			       l->base_url, lid.len);
	}
	memcpy(l->log_id, lid.data, lid.len);
	l->log_id_len = lid.len;
	sk_ss_bytes_free(&lid);
	return 0;
}

static int parse_ca(struct json_object *obj, const char *what, struct sk_ss_ca *c,
		    struct sk_error *err)
{
	struct json_object *chain = sk_ss_json_get(obj, "certChain", json_type_object);
	struct json_object *certs = sk_ss_json_get(chain, "certificates", json_type_array);
	struct json_object *subj = sk_ss_json_get(obj, "subject", json_type_object);
	const char *org = sk_json_str(subj, "organization"), *cn = sk_json_str(subj, "commonName");
	const char *uri = sk_json_str(obj, "uri");
	char name[512];
	size_t n;
	int ret;

	snprintf(name, sizeof(name), "%s%s%s%s%s", org ? org : "", org && cn ? "/" : "",
		 cn ? cn : "", uri ? (org || cn ? " " : "") : "", uri ? uri : "");
	c->name = strdup(name[0] ? name : "(unnamed)");
	if (!c->name)
		return sk_errf(err, -ENOMEM, "out of memory");
	/* An authority without certificates is kept, but can never vouch for anything. */
	n = certs ? json_object_array_length(certs) : 0;
	ret = parse_window(obj, what, &c->valid, err);
	if (ret)
		return ret;
	c->chain = sk_X509_new_null();
	if (!c->chain)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *raw = sk_json_str(json_object_array_get_idx(certs, i), "rawBytes");
		struct sk_ss_bytes der = {0};
		X509 *x;

		if (!raw)
			return sk_errf(err, -EBADMSG, "%s %s: certificate %zu has no rawBytes",
				       what, c->name, i + 1);
		ret = sk_ss_b64_decode(raw, what, &der, err);
		if (ret)
			return ret;
		x = sk_ss_x509_from_pem_or_der(der.data, der.len);
		sk_ss_bytes_free(&der);
		if (!x)
			return sk_errf(err, -EBADMSG, "%s %s: certificate %zu is not DER X.509",
				       what, c->name, i + 1);
		if (!sk_X509_push(c->chain, x)) {
			X509_free(x);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

/* Parses the array key of obj into *items with one parse function per kind. */
#define PARSE_ARRAY(obj, key, what, arr, count, fn)                                                \
	do {                                                                                       \
		struct json_object *a_ = sk_ss_json_get(obj, key, json_type_array);                \
		size_t n_ = a_ ? json_object_array_length(a_) : 0;                                 \
		if (n_) {                                                                          \
			(arr) = calloc(n_, sizeof(*(arr)));                                        \
			if (!(arr)) {                                                              \
				ret = sk_errf(err, -ENOMEM, "out of memory");                      \
				goto cleanup;                                                      \
			}                                                                          \
		}                                                                                  \
		for (size_t i_ = 0; i_ < n_; i_++) {                                               \
			struct json_object *o_ = json_object_array_get_idx(a_, i_);                \
			(count)++;                                                                 \
			ret = json_object_is_type(o_, json_type_object)                            \
				  ? fn(o_, what, &(arr)[i_], err)                                  \
				  : sk_errf(err, -EBADMSG, "%s: not an object", what);             \
			if (ret)                                                                   \
				goto cleanup;                                                      \
		}                                                                                  \
	} while (0)

int sk_sigstore_root_parse(const void *json, size_t len, const char *what,
			   struct sk_sigstore_root **out, struct sk_error *err)
{
	struct sk_sigstore_root *r = NULL;
	struct json_object *obj = NULL;
	const char *mt;
	bool known = false;
	int ret;

	*out = NULL;
	if (!what)
		what = "trusted root";
	if (len > SK_SIGSTORE_ROOT_MAX)
		return sk_errf(err, -EFBIG, "%s: %zu bytes, more than the %u allowed", what, len,
			       SK_SIGSTORE_ROOT_MAX);
	ret = sk_json_parse(json, len, what, &obj, err);
	if (ret)
		return ret;
	mt = sk_json_str(obj, "mediaType");
	for (const char *const *m = root_media_types; mt && *m; m++)
		known = known || !strcmp(mt, *m);
	if (!known) {
		ret = sk_errf(err, -EPROTONOSUPPORT,
			      "mediaType %s%s%s is not a trusted root version this verifier knows "
			      "(%s)",
			      mt ? "\"" : "", mt ? mt : "(missing)", mt ? "\"" : "",
			      root_media_types[0]);
		goto cleanup;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto cleanup;
	}
	PARSE_ARRAY(obj, "tlogs", "trusted root tlogs", r->tlogs, r->n_tlogs, parse_log);
	PARSE_ARRAY(obj, "ctlogs", "trusted root ctlogs", r->ctlogs, r->n_ctlogs, parse_log);
	PARSE_ARRAY(obj, "certificateAuthorities", "trusted root certificate authority", r->cas,
		    r->n_cas, parse_ca);
	PARSE_ARRAY(obj, "timestampAuthorities", "trusted root timestamp authority", r->tsas,
		    r->n_tsas, parse_ca);
	if (!r->n_tlogs && !r->n_tsas) {
		ret = sk_errf(err, -EBADMSG,
			      "names no transparency log and no timestamp authority; nothing could "
			      "vouch for a signing time");
		goto cleanup;
	}
	*out = r;
	r = NULL;
cleanup:
	if (ret && err)
		sk_err_prefix(err, "%s: ", what);
	sk_sigstore_root_free(r);
	json_object_put(obj);
	return ret;
}

int sk_sigstore_root_load(const char *path, struct sk_sigstore_root **out, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = sk_read_file(path, SK_SIGSTORE_ROOT_MAX, &data, &len, err);
	if (ret)
		return ret;
	ret = sk_sigstore_root_parse(data, len, path, out, err);
	free(data);
	return ret;
}
