/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers for the Sigstore code: base64, times, proto JSON, signatures. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sigstore_internal.h"

void sk_ss_bytes_free(struct sk_ss_bytes *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static bool b64_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '/';
}

int sk_ss_b64_decode(const char *in, const char *what, struct sk_ss_bytes *out,
		     struct sk_error *err)
{
	EVP_ENCODE_CTX *ctx = NULL;
	size_t n = strlen(in), m = 0, pad = 0;
	char *norm = NULL;
	int o1 = 0, o2 = 0, ret = 0;

	out->data = NULL;
	out->len = 0;
	if (n > INT_MAX / 2)
		return sk_errf(err, -EFBIG, "%s: base64 value too large", what);
	/*
	 * Protobuf's JSON mapping accepts URL-safe and unpadded base64, and Go's
	 * decoder skips line breaks (some bundles wrap long values): map those
	 * onto the standard alphabet with padding, which is all OpenSSL's
	 * decoder takes, and refuse anything else outright (the decoder itself
	 * would skip other whitespace and stop at '=' mid-string).
	 */
	norm = malloc(n + 3);
	out->data = malloc(n / 4 * 3 + 3);
	if (!norm || !out->data) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++)
		if (in[i] != '\r' && in[i] != '\n')
			norm[m++] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	for (size_t i = 0; i < m; i++) {
		if (norm[i] == '=' && i + 2 >= m && m % 4 == 0 && i >= 2) {
			pad++;
		} else if (!b64_char(norm[i]) || pad) {
			ret = sk_errf(err, -EBADMSG,
				      "%s: invalid base64 (character %zu is '%c'); expected the "
				      "standard base64 alphabet",
				      what, i + 1, isprint((unsigned char)norm[i]) ? norm[i] : '?');
			goto cleanup;
		}
	}
	n = m;
	if (n % 4 == 1) {
		ret = sk_errf(err, -EBADMSG, "%s: invalid base64 (truncated: %zu characters)", what,
			      n);
		goto cleanup;
	}
	while (n % 4)
		norm[n++] = '=';
	ctx = EVP_ENCODE_CTX_new();
	if (!ctx) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto cleanup;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out->data, &o1, (const unsigned char *)norm, (int)n) < 0 ||
	    EVP_DecodeFinal(ctx, out->data + o1, &o2) < 0) {
		ERR_clear_error();
		ret = sk_errf(err, -EBADMSG, "%s: invalid base64", what);
		goto cleanup;
	}
	out->len = (size_t)o1 + (size_t)o2;
cleanup:
	if (ret)
		sk_ss_bytes_free(out);
	EVP_ENCODE_CTX_free(ctx);
	free(norm);
	return ret;
}

char *sk_ss_b64_encode(const void *data, size_t len)
{
	char *s;

	if (len > INT_MAX / 2)
		return NULL;
	s = malloc(4 * ((len + 2) / 3) + 1);
	if (!s)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, data, (int)len);
	return s;
}

int sk_ss_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t frac = 0, scale = 100, off = 0;
	time_t t;

	if (!p || strlen(s) < 19)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
		   isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
		   isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		      ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ms = ((int64_t)t - off) * 1000 + frac;
	return 0;
}

void sk_ss_fmt_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%lld ms", (long long)ms);
}

bool sk_ss_window_contains(const struct sk_ss_window *w, int64_t ms)
{
	return ms >= w->start_ms && ms <= w->end_ms;
}

void sk_ss_fmt_window(const struct sk_ss_window *w, char out[80])
{
	char a[32], b[32];

	sk_ss_fmt_time(w->start_ms, a);
	if (w->end_ms == SK_SS_NO_END)
		snprintf(out, 80, "from %s on", a);
	else {
		sk_ss_fmt_time(w->end_ms, b);
		snprintf(out, 80, "%s to %s", a, b);
	}
}

struct json_object *sk_ss_json_get(struct json_object *obj, const char *key, json_type type)
{
	struct json_object *v = NULL;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

int sk_ss_json_int64(struct json_object *obj, const char *key, bool absent_ok, const char *what,
		     int64_t *out, struct sk_error *err)
{
	struct json_object *v = NULL;
	const char *s;
	char *end = NULL;
	long long n;

	*out = 0;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (absent_ok)
			return 0;
		return sk_errf(err, -EBADMSG, "%s: missing \"%s\"", what, key);
	}
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		n = json_object_get_int64(v);
		if (errno)
			return sk_errf(err, -EBADMSG, "%s: \"%s\" is out of range", what, key);
	} else if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		errno = 0;
		n = strtoll(s, &end, 10);
		if (!*s || *end || errno || isspace((unsigned char)*s))
			return sk_errf(err, -EBADMSG, "%s: \"%s\" is not an integer: \"%.40s\"",
				       what, key, s);
	} else {
		return sk_errf(err, -EBADMSG, "%s: \"%s\" is not an integer", what, key);
	}
	if (n < 0)
		return sk_errf(err, -EBADMSG, "%s: \"%s\" is negative (%lld)", what, key, n);
	*out = n;
	return 0;
}

const EVP_MD *sk_ss_key_md(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		return NULL;
	case EVP_PKEY_EC:
		/* The Sigstore algorithm registry pairs each curve with one hash. */
		if (EVP_PKEY_get_bits(key) > 384)
			return EVP_sha512();
		if (EVP_PKEY_get_bits(key) > 256)
			return EVP_sha384();
		return EVP_sha256();
	default:
		return EVP_sha256();
	}
}

int sk_ss_verify_sig(EVP_PKEY *key, const void *data, size_t len, const uint8_t *sig,
		     size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestVerifyInit(ctx, NULL, sk_ss_key_md(key), NULL, key) == 1 &&
	     EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -EKEYREJECTED;
}

int sk_ss_verify_prehashed(EVP_PKEY *key, const EVP_MD *md, const uint8_t *digest,
			   size_t digest_len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if (!sk_ss_key_md(key))
		return -EOPNOTSUPP; /* pure Ed25519 signs the message, not a digest */
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx)
		return -ENOMEM;
	ok = EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 &&
	     EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -EKEYREJECTED;
}

int sk_ss_digest(const EVP_MD *md, const void *data, size_t len, uint8_t *out, unsigned *out_len)
{
	unsigned n = 0;

	if (EVP_Digest(data, len, out, &n, md, NULL) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	if (out_len)
		*out_len = n;
	return 0;
}

void sk_ss_hex(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

X509 *sk_ss_x509_from_pem_or_der(const uint8_t *data, size_t len)
{
	const unsigned char *p = data;
	X509 *x = NULL;
	BIO *bio;

	if (len > INT_MAX)
		return NULL;
	if (len > 10 && !memcmp(data, "-----BEGIN", 10)) {
		bio = BIO_new_mem_buf(data, (int)len);
		if (bio)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		x = d2i_X509(NULL, &p, (long)len);
		if (x && p != data + len) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	return x;
}

EVP_PKEY *sk_ss_pkey_from_pem_or_der(const uint8_t *data, size_t len)
{
	const unsigned char *p = data;
	EVP_PKEY *k = NULL;
	BIO *bio;

	if (len > INT_MAX)
		return NULL;
	if (len > 10 && !memcmp(data, "-----BEGIN", 10)) {
		bio = BIO_new_mem_buf(data, (int)len);
		if (bio)
			k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		k = d2i_PUBKEY(NULL, &p, (long)len);
		if (k && p != data + len) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	ERR_clear_error();
	return k;
}

bool sk_ss_same_cert(X509 *a, X509 *b)
{
	return a && b && X509_cmp(a, b) == 0;
}

bool sk_ss_same_key(EVP_PKEY *a, EVP_PKEY *b)
{
	bool same = a && b && EVP_PKEY_eq(a, b) == 1;

	ERR_clear_error();
	return same;
}
