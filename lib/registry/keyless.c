/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The services keyless signing talks to: the CI's OIDC token, Fulcio (a
 * short-lived certificate for that identity and an ephemeral key), Rekor v1
 * (the transparency log) and, optionally, an RFC 3161 timestamp authority.
 * Plain HTTP only to loopback (a local stand-in); every other URL must be
 * verified HTTPS. Tokens are secrets: never printed, wiped when freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "schedkit/sigstore.h"
#include "sign_bundle.h"

/* Fulcio's chain, Rekor's entry and a timestamp are a few KiB. */
#define ANSWER_MAX     (1u << 20)
#define HTTP_TIMEOUT_S 60L

struct answer {
	struct sk_buf body;
	size_t max;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t len = size * n;

	if (a->body.len + len > a->max) {
		a->too_big = true;
		return 0;
	}
	return sk_buf_append(&a->body, data, len) ? 0 : len;
}

/* https anywhere; http only to a loopback stand-in. */
static int check_url(const char *url, const char *what, struct sk_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ret = 0;

	if (!u)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		ret = sk_errf(err, -EINVAL, "%s URL \"%s\" is not a URL", what, url);
	} else if (strcmp(scheme, "https") &&
		   !(!strcmp(scheme, "http") &&
		     (!strcmp(host, "localhost") || !strncmp(host, "127.", 4) ||
		      !strcmp(host, "[::1]")))) {
		ret = sk_errf(err, -EINVAL,
			      "%s URL \"%s\": only https is allowed (plain http only to a loopback "
			      "stand-in)",
			      what, url);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

/* One request; body may be NULL (GET). *status is the HTTP status; out the answer. */
static int http(const struct sk_keyless_opts *o, const char *url, const char *ctype,
		const char *accept, const char *bearer, const void *body, size_t len,
		struct sk_buf *out, long *status, const char *what, struct sk_error *err)
{
	struct answer a = {.max = ANSWER_MAX};
	struct curl_slist *h = NULL;
	char line[256], *auth = NULL, ebuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_url(url, what, err);
	if (ret)
		return ret;
	c = curl_easy_init();
	if (!c)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		h = curl_slist_append(h, line);
	}
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		h = curl_slist_append(h, line);
	}
	if (bearer) {
		if (asprintf(&auth, "Authorization: bearer %s", bearer) < 0)
			auth = NULL;
		h = auth ? curl_slist_append(h, auth) : h;
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "skbuild");
	if (o && o->ca_cert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_cert);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_WRITE_ERROR && a.too_big)
		ret = sk_errf(err, -EFBIG, "%s: the answer is larger than the %u bytes allowed",
			      what, ANSWER_MAX);
	else if (cc)
		ret = sk_errf(err, -EHOSTUNREACH, "%s: %s", what,
			      ebuf[0] ? ebuf : curl_easy_strerror(cc));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (ret) {
		sk_buf_free(&a.body);
		return ret;
	}
	*out = a.body;
	if (!out->data && sk_buf_append(out, "", 0))
		return sk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

/* The service's own words for a refusal: printable, short. */
static const char *why(const struct sk_buf *b, char *buf, size_t len)
{
	size_t i = 0;

	for (; i < len - 1 && i < b->len; i++)
		buf[i] = b->data[i] >= 0x20 && b->data[i] < 0x7f ? (char)b->data[i] : ' ';
	buf[i] = '\0';
	return buf;
}

int sk_keyless_token(const struct sk_keyless_opts *o, char **token, struct sk_error *err)
{
	const char *env = getenv(SK_OIDC_TOKEN_ENV), *url = getenv(SK_GHA_TOKEN_URL_ENV);
	const char *bearer = getenv(SK_GHA_TOKEN_TOKEN_ENV);
	struct json_object *j = NULL;
	struct sk_buf b = {0};
	char *full = NULL;
	long status = 0;
	int ret;

	*token = NULL;
	if ((o && o->identity_token) || (env && *env)) {
		*token = strdup(o && o->identity_token ? o->identity_token : env);
		return *token ? 0 : sk_errf(err, -ENOMEM, "out of memory");
	}
	if (!url || !*url || !bearer || !*bearer)
		return sk_errf(
		    err, -ENOENT,
		    "keyless signing needs an OIDC identity token: set $%s (GitLab: an "
		    "id_token with aud sigstore), or run in GitHub Actions with "
		    "permissions id-token: write ($%s and $%s), or pass --identity-token",
		    SK_OIDC_TOKEN_ENV, SK_GHA_TOKEN_URL_ENV, SK_GHA_TOKEN_TOKEN_ENV);
	if (asprintf(&full, "%s%saudience=sigstore", url, strchr(url, '?') ? "&" : "?") < 0)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = http(o, full, NULL, "application/json", bearer, NULL, 0, &b, &status,
		   "asking GitHub Actions for an OIDC token", err);
	free(full);
	if (ret)
		return ret;
	if (status != 200)
		ret = sk_errf(err, -EACCES,
			      "GitHub Actions refused an OIDC token (HTTP %ld): does the workflow "
			      "have permissions: id-token: write?",
			      status);
	else if (sk_json_parse(b.data, b.len, "GitHub Actions' token answer", &j, err) ||
		 !sk_json_str(j, "value"))
		ret = sk_errf(err, -EBADMSG, "GitHub Actions' token answer has no \"value\"");
	else if (!(*token = strdup(sk_json_str(j, "value"))))
		ret = sk_errf(err, -ENOMEM, "out of memory");
	json_object_put(j);
	explicit_bzero(b.data, b.len);
	sk_buf_free(&b);
	return ret;
}

/* Base64url (JWT) into bytes. */
static int b64url_decode(const char *s, size_t n, struct sk_buf *out)
{
	char *t = malloc(n + 4);
	size_t m = 0;
	int got;

	if (!t)
		return -ENOMEM;
	if (!n) {
		free(t);
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++)
		t[m++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (m % 4)
		t[m++] = '=';
	memset(out, 0, sizeof(*out));
	out->data = malloc(m / 4 * 3 + 1);
	if (!out->data) {
		free(t);
		return -ENOMEM;
	}
	got = EVP_DecodeBlock(out->data, (unsigned char *)t, (int)m);
	if (got >= 0)
		out->len = (size_t)got - (t[m - 1] == '=') - (t[m - 2] == '=');
	free(t);
	return got < 0 ? -EBADMSG : 0;
}

/* What Fulcio's proof of possession is over: the token's email claim, else its sub. */
static int token_subject(const char *token, char **out, struct sk_error *err)
{
	const char *a = strchr(token, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	struct json_object *claims = NULL;
	struct sk_buf raw = {0};
	const char *s;
	int ret;

	*out = NULL;
	if (!a || !b)
		return sk_errf(err, -EINVAL, "the OIDC identity token is not a JWT");
	ret = b64url_decode(a + 1, (size_t)(b - a - 1), &raw);
	if (!ret)
		ret = sk_json_parse(raw.data, raw.len, "the OIDC token's claims", &claims, err);
	else
		ret = sk_errf(err, -EINVAL, "the OIDC identity token's claims are not base64url");
	if (!ret) {
		s = sk_json_str(claims, "email") ? sk_json_str(claims, "email")
						 : sk_json_str(claims, "sub");
		if (!s)
			ret = sk_errf(err, -EINVAL, "the OIDC identity token has no sub claim");
		else if (!(*out = strdup(s)))
			ret = sk_errf(err, -ENOMEM, "out of memory");
	}
	json_object_put(claims);
	sk_buf_free(&raw);
	return ret;
}

int sk_keyless_certificate(const struct sk_keyless_opts *o, const char *token,
			   const struct sk_key *ephemeral, uint8_t **der, size_t *len,
			   struct sk_error *err)
{
	const char *base = o->fulcio_url ? o->fulcio_url : SK_FULCIO_URL_DEFAULT;
	struct json_object *req = json_object_new_object(), *j = NULL, *v, *certs;
	struct sk_buf pem = {0}, ans = {0};
	char *subject = NULL, *pop = NULL, *url = NULL, w[300];
	const char *body, *leaf;
	size_t blen = 0;
	long status = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	unsigned char *p;
	int ret, n;

	*der = NULL;
	if (!req)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = token_subject(token, &subject, err);
	if (!ret)
		ret = sk_key_public_pem(ephemeral, &pem, err);
	if (!ret)
		ret = sk_sign(ephemeral, subject, strlen(subject), &pop, err);
	if (ret)
		goto out;
	if (sk_buf_append(&pem, "", 1) || asprintf(&url, "%s/api/v2/signingCert", base) < 0) {
		url = NULL;
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	{
		struct json_object *cred = NULL, *pkr = NULL, *pk = NULL;

		/* req owns each object once added; a failure stops the chain */
		if (sk_json_add(req, "credentials", cred = json_object_new_object()) ||
		    sk_json_add(cred, "oidcIdentityToken", json_object_new_string(token)) ||
		    sk_json_add(req, "publicKeyRequest", pkr = json_object_new_object()) ||
		    sk_json_add(pkr, "publicKey", pk = json_object_new_object()) ||
		    sk_json_add(pk, "algorithm", json_object_new_string("ECDSA")) ||
		    sk_json_add(pk, "content", json_object_new_string((char *)pem.data)) ||
		    sk_json_add(pkr, "proofOfPossession", json_object_new_string(pop))) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	body = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &blen);
	ret = http(o, url, "application/json", "application/json", NULL, body, blen, &ans, &status,
		   "asking Fulcio for a signing certificate", err);
	if (ret)
		goto out;
	if (status != 200 && status != 201) {
		ret = sk_errf(err, status == 401 || status == 403 ? -EACCES : -EPROTO,
			      "Fulcio %s refused the signing certificate (HTTP %ld): %s", base,
			      status, why(&ans, w, sizeof(w)));
		goto out;
	}
	ret = sk_json_parse(ans.data, ans.len, "Fulcio's answer", &j, err);
	if (ret)
		goto out;
	v = json_object_object_get_ex(j, "signedCertificateEmbeddedSct", &v) ? v : NULL;
	if (!v || !json_object_object_get_ex(v, "chain", &v) ||
	    !json_object_object_get_ex(v, "certificates", &certs) ||
	    !json_object_is_type(certs, json_type_array) || !json_object_array_length(certs) ||
	    !(leaf = json_object_get_string(json_object_array_get_idx(certs, 0)))) {
		ret =
		    sk_errf(err, -EBADMSG,
			    "Fulcio's answer has no signedCertificateEmbeddedSct chain (a detached "
			    "SCT is not supported)");
		goto out;
	}
	bio = BIO_new_mem_buf(leaf, -1);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	n = x ? i2d_X509(x, NULL) : -1;
	if (n <= 0 || !(*der = malloc((size_t)n))) {
		ret = sk_errf(err, -EBADMSG, "Fulcio's certificate is not a PEM X.509 certificate");
		goto out;
	}
	p = *der;
	i2d_X509(x, &p);
	*len = (size_t)n;
out:
	X509_free(x);
	BIO_free(bio);
	json_object_put(j);
	/* the request holds the token */
	if (req) {
		const char *s = json_object_to_json_string(req);

		if (s)
			explicit_bzero((char *)s, strlen(s));
	}
	json_object_put(req);
	free(subject);
	free(pop);
	free(url);
	sk_buf_free(&pem);
	sk_buf_free(&ans);
	return ret;
}

/* Adds val to a, which takes it over either way. */
static int array_add(struct json_object *a, struct json_object *val)
{
	if (!val || json_object_array_add(a, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

int sk_keyless_log(const struct sk_keyless_opts *o, const char *envelope, const uint8_t *cert_der,
		   size_t cert_len, struct json_object **entry, struct sk_error *err)
{
	const char *base = o->rekor_url ? o->rekor_url : SK_REKOR_URL_DEFAULT;
	struct json_object *req = json_object_new_object(), *spec = NULL, *pc = NULL, *vs = NULL;
	struct sk_buf ans = {0};
	char *url = NULL, *pem64 = NULL, w[300];
	const char *body;
	size_t blen = 0;
	long status = 0;
	BIO *bio = BIO_new(BIO_s_mem());
	X509 *x = NULL;
	const unsigned char *cp = cert_der;
	int ret = 0;

	*entry = NULL;
	x = d2i_X509(NULL, &cp, (long)cert_len);
	if (!req || !bio || !x || !PEM_write_bio_X509(bio, x)) {
		ret = sk_errf(err, -ENOMEM, "cannot encode the signing certificate");
		goto out;
	}
	{
		char *data = NULL;
		long n = BIO_get_mem_data(bio, &data);

		pem64 = malloc(4 * (((size_t)n + 2) / 3) + 1);
		if (!pem64) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		EVP_EncodeBlock((unsigned char *)pem64, (unsigned char *)data, (int)n);
	}
	if (sk_json_add(req, "apiVersion", json_object_new_string("0.0.1")) ||
	    sk_json_add(req, "kind", json_object_new_string("dsse")) ||
	    sk_json_add(req, "spec", spec = json_object_new_object()) ||
	    sk_json_add(spec, "proposedContent", pc = json_object_new_object()) ||
	    sk_json_add(pc, "envelope", json_object_new_string(envelope)) ||
	    sk_json_add(pc, "verifiers", vs = json_object_new_array()) ||
	    array_add(vs, json_object_new_string(pem64)) ||
	    asprintf(&url, "%s/api/v1/log/entries", base) < 0) {
		url = NULL;
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	body = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &blen);
	ret = http(o, url, "application/json", "application/json", NULL, body, blen, &ans, &status,
		   "logging the signature in Rekor", err);
	if (!ret && status != 201 && status != 200)
		ret = sk_errf(err, -EPROTO, "Rekor %s refused the entry (HTTP %ld): %s", base,
			      status, why(&ans, w, sizeof(w)));
	if (!ret)
		ret = sk_rekor_entry_to_bundle(ans.data, ans.len, entry, err);
out:
	X509_free(x);
	BIO_free(bio);
	json_object_put(req);
	free(url);
	free(pem64);
	sk_buf_free(&ans);
	return ret;
}

int sk_keyless_timestamp(const struct sk_keyless_opts *o, const uint8_t *sig, size_t sig_len,
			 uint8_t **tsr, size_t *tsr_len, struct sk_error *err)
{
	TS_REQ *q = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = ASN1_INTEGER_new();
	struct sk_buf ans = {0};
	unsigned char md[32], nonce_bytes[8], *der = NULL;
	uint64_t nv = 0;
	char w[300];
	long status = 0;
	int n = -1, ret = 0;

	*tsr = NULL;
	if (!q || !mi || !alg || !nonce || RAND_bytes(nonce_bytes, sizeof(nonce_bytes)) != 1) {
		ret = sk_errf(err, -ENOMEM, "cannot build a timestamp request");
		goto out;
	}
	for (size_t i = 0; i < sizeof(nonce_bytes); i++)
		nv = nv << 8 | nonce_bytes[i];
	EVP_Digest(sig, sig_len, md, NULL, EVP_sha256(), NULL);
	X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
	if (!TS_MSG_IMPRINT_set_algo(mi, alg) || !TS_MSG_IMPRINT_set_msg(mi, md, sizeof(md)) ||
	    !TS_REQ_set_version(q, 1) || !TS_REQ_set_msg_imprint(q, mi) ||
	    !ASN1_INTEGER_set_uint64(nonce, nv >> 1) || !TS_REQ_set_nonce(q, nonce) ||
	    !TS_REQ_set_cert_req(q, 1) || (n = i2d_TS_REQ(q, &der)) <= 0) {
		ret = sk_errf(err, -ENOMEM, "cannot build a timestamp request");
		goto out;
	}
	ret = http(o, o->tsa_url, "application/timestamp-query", "application/timestamp-reply",
		   NULL, der, (size_t)n, &ans, &status, "asking the timestamp authority", err);
	if (!ret && status != 200 && status != 201)
		ret = sk_errf(err, -EPROTO, "the timestamp authority %s refused (HTTP %ld): %s",
			      o->tsa_url, status, why(&ans, w, sizeof(w)));
	if (ret)
		goto out;
	*tsr = ans.data;
	*tsr_len = ans.len;
	memset(&ans, 0, sizeof(ans));
out:
	OPENSSL_free(der);
	TS_REQ_free(q);
	TS_MSG_IMPRINT_free(mi);
	X509_ALGOR_free(alg);
	ASN1_INTEGER_free(nonce);
	sk_buf_free(&ans);
	return ret;
}
