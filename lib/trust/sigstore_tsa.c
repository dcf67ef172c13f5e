/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 3161 timestamps in bundles: a timestamp authority of the trusted root
 * signed, at a time inside its validity window, a digest of the bundle's
 * signature. That time is then a signing time the certificate must cover.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "sigstore_internal.h"

/* Verifies the token with one TSA of the root, its chain checked at time t. */
static int verify_with_tsa(const struct sk_ss_ca *tsa, PKCS7 *token, const struct sk_ss_bytes *sig,
			   time_t t, char *why, size_t why_len)
{
	int n = sk_X509_num(tsa->chain), ok = 0;
	X509 *anchor = sk_X509_value(tsa->chain, n - 1);
	TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *data = BIO_new_mem_buf(sig->data, (int)sig->len);

	if (!ctx || !store || !certs || !data || !X509_STORE_add_cert(store, anchor)) {
		snprintf(why, why_len, "out of memory");
		goto cleanup;
	}
	/* The TSA may leave its certificates out of the token: offer the root's. */
	for (int i = 0; i < n - 1; i++) {
		X509 *x = sk_X509_value(tsa->chain, i);

		if (!sk_X509_push(certs, x)) {
			snprintf(why, why_len, "out of memory");
			goto cleanup;
		}
		X509_up_ref(x);
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), t);
	if (X509_self_signed(anchor, 0) != 1)
		X509_VERIFY_PARAM_set_flags(X509_STORE_get0_param(store),
					    X509_V_FLAG_PARTIAL_CHAIN);
	TS_VERIFY_CTX_set_flags(ctx, TS_VFY_SIGNATURE | TS_VFY_DATA | TS_VFY_VERSION);
	TS_VERIFY_CTX_set_store(ctx, store);
	store = NULL;
	TS_VERIFY_CTX_set_certs(ctx, certs);
	certs = NULL;
	TS_VERIFY_CTX_set_data(ctx, data);
	data = NULL;
	ok = TS_RESP_verify_token(ctx, token) == 1;
	if (!ok) {
		unsigned long e = ERR_peek_last_error();
		char buf[256];

		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(why, why_len, "%s: %s", tsa->name, e ? buf : "does not verify");
	}
cleanup:
	ERR_clear_error();
	TS_VERIFY_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(data);
	return ok;
}

/* genTime may carry fractions of a second ("...20.123Z"); TSA windows are compared in ms. */
static int64_t gen_millis(const ASN1_GENERALIZEDTIME *g)
{
	const char *s = (const char *)ASN1_STRING_get0_data(g);
	const char *dot = memchr(s, '.', (size_t)ASN1_STRING_length(g));
	int64_t ms = 0, scale = 100;

	for (const char *p = dot ? dot + 1 : NULL;
	     p && p < s + ASN1_STRING_length(g) && *p >= '0' && *p <= '9' && scale;
	     p++, scale /= 10)
		ms += (*p - '0') * scale;
	return ms;
}

int sk_ss_verify_timestamp(const struct sk_sigstore_root *root, const struct sk_ss_bytes *tsr,
			   const struct sk_ss_bytes *sig, int64_t *t_ms, struct sk_error *err)
{
	const unsigned char *p = tsr->data;
	TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)tsr->len);
	PKCS7 *token = NULL, *own_token = NULL;
	TS_TST_INFO *info = NULL;
	const EVP_MD *md;
	ASN1_OCTET_STRING *imprint;
	struct tm tm;
	time_t t;
	int64_t t_gen;
	uint8_t digest[64];
	unsigned dlen = 0;
	char when[32], why[512] = "", outside[160] = "";
	int ret = 0;

	*t_ms = 0;
	if (resp && p == tsr->data + tsr->len) {
		const ASN1_INTEGER *status =
		    TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp));
		long s = status ? ASN1_INTEGER_get(status) : -1;

		/* 0 granted, 1 granted with modifications */
		if (s != 0 && s != 1) {
			ret = sk_errf(err, -EBADMSG, "the TSA refused the request (status %ld)", s);
			goto cleanup;
		}
		token = TS_RESP_get_token(resp);
	} else {
		/* Some writers store the bare TimeStampToken. */
		p = tsr->data;
		own_token = d2i_PKCS7(NULL, &p, (long)tsr->len);
		token = own_token && p == tsr->data + tsr->len ? own_token : NULL;
	}
	if (token)
		info = PKCS7_to_TS_TST_INFO(token);
	if (!info) {
		ret = sk_errf(err, -EBADMSG, "not an RFC 3161 timestamp response (malformed DER)");
		goto cleanup;
	}
	if (!ASN1_TIME_to_tm(TS_TST_INFO_get_time(info), &tm) || (t = timegm(&tm)) == -1) {
		ret = sk_errf(err, -EBADMSG, "the timestamp has no valid genTime");
		goto cleanup;
	}
	t_gen = (int64_t)t * 1000 + gen_millis(TS_TST_INFO_get_time(info));
	sk_ss_fmt_time(t_gen, when);
	imprint = TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(info));
	md = EVP_get_digestbyobj(
	    TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(info))->algorithm);
	if (!md || sk_ss_digest(md, sig->data, sig->len, digest, &dlen)) {
		ret = sk_errf(err, -EOPNOTSUPP,
			      "the timestamp's message imprint uses an unknown "
			      "digest");
		goto cleanup;
	}
	if ((unsigned)ASN1_STRING_length(imprint) != dlen ||
	    memcmp(ASN1_STRING_get0_data(imprint), digest, dlen)) {
		ret = sk_errf(err, -EBADMSG,
			      "TSA timestamp payload mismatch: the timestamp (%s) is over "
			      "different data than the bundle's signature",
			      when);
		goto cleanup;
	}
	for (size_t i = 0; i < root->n_tsas; i++) {
		char one[256];

		if (!sk_X509_num(root->tsas[i].chain))
			continue;
		if (!verify_with_tsa(&root->tsas[i], token, sig, t, one, sizeof(one))) {
			size_t off = strlen(why);

			snprintf(why + off, sizeof(why) - off, "%s%s", off ? "; " : "", one);
			continue;
		}
		if (sk_ss_window_contains(&root->tsas[i].valid, t_gen)) {
			*t_ms = t_gen;
			goto cleanup;
		}
		{
			char w[80];

			sk_ss_fmt_window(&root->tsas[i].valid, w);
			snprintf(outside, sizeof(outside), "%s (%s)", root->tsas[i].name, w);
		}
	}
	if (outside[0])
		ret = sk_errf(err, -EKEYEXPIRED,
			      "TSA timestamp outside the TSA's validity window: %s was signed by "
			      "%s",
			      when, outside);
	else
		ret = sk_errf(err, -EKEYREJECTED,
			      "TSA timestamp (%s) is not signed by a timestamp authority of the "
			      "trusted root (%s)",
			      when, why[0] ? why : "it names none with certificates");
cleanup:
	ERR_clear_error();
	TS_TST_INFO_free(info);
	PKCS7_free(own_token);
	TS_RESP_free(resp);
	return ret;
}
