/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fulcio certificates: the chain to a certificate authority of the trusted
 * root at the signing time, the embedded SCTs against the root's CT logs, and
 * the identity (SAN, OIDC issuer, the other Fulcio claims).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore_internal.h"

#define FULCIO_OID "1.3.6.1.4.1.57264.1."

static void fmt_asn1_time(const ASN1_TIME *t, char out[32])
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "?");
}

static int verify_with_ca(const struct sk_ss_ca *ca, X509 *leaf, time_t t, X509 **issuer, char *why,
			  size_t why_len)
{
	int n = sk_X509_num(ca->chain), ok = 0;
	X509 *anchor = sk_X509_value(ca->chain, n - 1);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;

	if (!untrusted || !store || !ctx || !X509_STORE_add_cert(store, anchor)) {
		snprintf(why, why_len, "out of memory");
		goto cleanup;
	}
	for (int i = 0; i < n - 1; i++)
		if (!sk_X509_push(untrusted, sk_X509_value(ca->chain, i))) {
			snprintf(why, why_len, "out of memory");
			goto cleanup;
		}
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
		snprintf(why, why_len, "out of memory");
		goto cleanup;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, t);
	/* A root file may list an intermediate as its last certificate: trust it as given. */
	if (X509_self_signed(anchor, 0) != 1)
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	ok = X509_verify_cert(ctx) == 1;
	if (ok) {
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);

		*issuer = sk_X509_value(chain, sk_X509_num(chain) > 1 ? 1 : 0);
		X509_up_ref(*issuer);
	} else {
		snprintf(why, why_len, "%s: %s", ca->name,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
cleanup:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	ERR_clear_error();
	return ok;
}

int sk_ss_verify_chain(const struct sk_sigstore_root *root, X509 *leaf, int64_t t_ms, X509 **issuer,
		       struct sk_error *err)
{
	time_t t = (time_t)(t_ms / 1000);
	char when[32], nb[32], na[32], why[512] = "";
	size_t tried = 0;

	*issuer = NULL;
	sk_ss_fmt_time(t_ms, when);
	if (X509_cmp_time(X509_get0_notBefore(leaf), &t) > 0 ||
	    X509_cmp_time(X509_get0_notAfter(leaf), &t) < 0) {
		fmt_asn1_time(X509_get0_notBefore(leaf), nb);
		fmt_asn1_time(X509_get0_notAfter(leaf), na);
		return sk_errf(err, -EKEYEXPIRED,
			       "signing time %s is outside the signing certificate's validity (%s "
			       "to %s)",
			       when, nb, na);
	}
	if (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN))
		return sk_errf(err, -EKEYREJECTED,
			       "the signing certificate is not for code signing (no codeSigning "
			       "extended key usage)");
	for (size_t i = 0; i < root->n_cas; i++) {
		if (!sk_X509_num(root->cas[i].chain) ||
		    !sk_ss_window_contains(&root->cas[i].valid, t_ms))
			continue;
		tried++;
		if (verify_with_ca(&root->cas[i], leaf, t, issuer, why, sizeof(why)))
			return 0;
	}
	if (!tried)
		return sk_errf(err, -EKEYREJECTED,
			       "certificate chain does not lead to a trusted root: no certificate "
			       "authority of the trusted root was valid at %s",
			       when);
	return sk_errf(err, -EKEYREJECTED,
		       "certificate chain does not lead to a trusted root: none of the %zu "
		       "certificate authorities valid at %s issued it (%s)",
		       tried, when, why);
}

/*
 * OpenSSL builds a CT log store only from a configuration file: hand it the
 * trusted root's CT logs through an anonymous memory file, so that nothing
 * touches the disk and SCT_validate() does the verification.
 */
static CTLOG_STORE *ct_store(const struct sk_sigstore_root *root, struct sk_error *err)
{
	CTLOG_STORE *store = NULL;
	struct sk_buf conf = {0};
	char path[64];
	int fd = -1, ret = 0;

	if (sk_buf_printf(&conf, "enabled_logs = "))
		goto nomem;
	for (size_t i = 0; i < root->n_ctlogs; i++)
		if (sk_buf_printf(&conf, "%sctlog%zu", i ? "," : "", i))
			goto nomem;
	if (sk_buf_printf(&conf, "\n"))
		goto nomem;
	for (size_t i = 0; i < root->n_ctlogs; i++) {
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(root->ctlogs[i].key, &der);
		char *b64 = n > 0 ? sk_ss_b64_encode(der, (size_t)n) : NULL;

		OPENSSL_free(der);
		ret = b64 ? sk_buf_printf(&conf, "[ctlog%zu]\ndescription = ctlog%zu\nkey = %s\n",
					  i, i, b64)
			  : -ENOMEM;
		free(b64);
		if (ret)
			goto nomem;
	}
	fd = memfd_create("schedkit-ctlogs", MFD_CLOEXEC);
	if (fd < 0 || write(fd, conf.data, conf.len) != (ssize_t)conf.len) {
		ret = errno ? -errno : -EIO;
		sk_errf(err, ret, "cannot hand the CT log keys to OpenSSL: %s", strerror(-ret));
		goto cleanup;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (access(path, R_OK)) {
		ret = sk_errf(err, -errno, "cannot read %s back (is /proc mounted?): %s", path,
			      strerror(errno));
		goto cleanup;
	}
	store = CTLOG_STORE_new();
	if (!store || CTLOG_STORE_load_file(store, path) != 1) {
		CTLOG_STORE_free(store);
		store = NULL;
		ret = sk_errf(err, -EIO, "OpenSSL did not accept the trusted root's CT log keys");
	}
	goto cleanup;
nomem:
	ret = sk_errf(err, -ENOMEM, "out of memory");
cleanup:
	ERR_clear_error();
	if (fd >= 0)
		close(fd);
	sk_buf_free(&conf);
	return ret ? NULL : store;
}

/* The trusted root's CT log whose key hashes to the SCT's log ID (RFC 6962 3.2). */
static const struct sk_ss_log *ct_log_by_key(const struct sk_sigstore_root *root,
					     const unsigned char *id, size_t id_len)
{
	for (size_t i = 0; i < root->n_ctlogs; i++) {
		unsigned char *der = NULL, digest[64];
		int n = i2d_PUBKEY(root->ctlogs[i].key, &der);
		unsigned dlen = 0;
		bool same = n > 0 && !sk_ss_digest(EVP_sha256(), der, (size_t)n, digest, &dlen) &&
			    dlen == id_len && !memcmp(digest, id, id_len);

		OPENSSL_free(der);
		if (same)
			return &root->ctlogs[i];
	}
	return NULL;
}

static const char *sct_status(sct_validation_status_t s)
{
	switch (s) {
	case SCT_VALIDATION_STATUS_UNKNOWN_LOG:
		return "from a CT log the trusted root does not name";
	case SCT_VALIDATION_STATUS_INVALID:
		return "its signature does not verify with the CT log's key";
	case SCT_VALIDATION_STATUS_UNKNOWN_VERSION:
		return "unknown SCT version";
	case SCT_VALIDATION_STATUS_UNVERIFIED:
		return "could not be verified";
	default:
		return "not validated";
	}
}

int sk_ss_verify_scts(const struct sk_sigstore_root *root, X509 *leaf, X509 *issuer, int64_t now_ms,
		      unsigned *count, struct sk_error *err)
{
	STACK_OF(SCT) *scts = X509_get_ext_d2i(leaf, NID_ct_precert_scts, NULL, NULL);
	CT_POLICY_EVAL_CTX *ctx = NULL;
	CTLOG_STORE *store = NULL;
	char why[512] = "";
	size_t off = 0;
	int ret = 0;

	*count = 0;
	ERR_clear_error();
	if (!scts || !sk_SCT_num(scts)) {
		ret = sk_errf(err, -EKEYREJECTED,
			      "the signing certificate has no embedded SCT: nothing shows it was "
			      "published to certificate transparency");
		goto cleanup;
	}
	if (!root->n_ctlogs) {
		ret = sk_errf(err, -EKEYREJECTED,
			      "the trusted root names no CT log to verify the certificate's SCTs "
			      "with");
		goto cleanup;
	}
	store = ct_store(root, err);
	if (!store) {
		ret = err ? err->code : -EIO;
		goto cleanup;
	}
	ctx = CT_POLICY_EVAL_CTX_new();
	if (!ctx || !CT_POLICY_EVAL_CTX_set1_cert(ctx, leaf) ||
	    !CT_POLICY_EVAL_CTX_set1_issuer(ctx, issuer)) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto cleanup;
	}
	CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, store);
	CT_POLICY_EVAL_CTX_set_time(ctx, (uint64_t)now_ms);
	for (int i = 0; i < sk_SCT_num(scts); i++) {
		SCT *sct = sk_SCT_value(scts, i);
		unsigned char *id = NULL;
		size_t id_len = SCT_get0_log_id(sct, &id);
		const struct sk_ss_log *log;
		int64_t t = (int64_t)SCT_get_timestamp(sct);

		if (SCT_validate(sct, ctx) != 1) {
			if (off < sizeof(why))
				off += (size_t)snprintf(why + off, sizeof(why) - off,
							"%sSCT %d: %s", off ? "; " : "", i + 1,
							sct_status(SCT_get_validation_status(sct)));
			continue;
		}
		log = ct_log_by_key(root, id, id_len);
		if (!log || !sk_ss_window_contains(&log->valid, t)) {
			if (off < sizeof(why))
				off += (size_t)snprintf(why + off, sizeof(why) - off,
							"%sSCT %d: issued outside the validity of "
							"its CT log's key",
							off ? "; " : "", i + 1);
			continue;
		}
		(*count)++;
	}
	if (!*count)
		ret = sk_errf(err, -EKEYREJECTED,
			      "no SCT of the signing certificate verifies with a CT log key of the "
			      "trusted root (%s)",
			      why);
cleanup:
	ERR_clear_error();
	CT_POLICY_EVAL_CTX_free(ctx);
	CTLOG_STORE_free(store);
	SCT_LIST_free(scts);
	return ret;
}

/* A string member of the result; NUL bytes inside are refused (they would truncate). */
static int set_str(char **dst, const unsigned char *data, int len, struct sk_error *err)
{
	if (len < 0 || memchr(data, '\0', (size_t)len))
		return sk_errf(err, -EBADMSG, "the signing certificate carries a NUL in a name");
	free(*dst);
	*dst = strndup((const char *)data, (size_t)len);
	return *dst ? 0 : sk_errf(err, -ENOMEM, "out of memory");
}

static int fulcio_claim(X509 *leaf, int arc, char **out, struct sk_error *err)
{
	char oid[64];
	ASN1_OBJECT *obj;
	ASN1_OCTET_STRING *data;
	X509_EXTENSION *ext;
	int idx, ret;

	snprintf(oid, sizeof(oid), FULCIO_OID "%d", arc);
	obj = OBJ_txt2obj(oid, 1);
	if (!obj)
		return sk_errf(err, -ENOMEM, "out of memory");
	idx = X509_get_ext_by_OBJ(leaf, obj, -1);
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return 0;
	ext = X509_get_ext(leaf, idx);
	data = X509_EXTENSION_get_data(ext);
	if (arc <= 6) {
		/* The deprecated extensions hold the raw string, not a DER value. */
		ret = set_str(out, ASN1_STRING_get0_data(data), ASN1_STRING_length(data), err);
	} else {
		const unsigned char *p = ASN1_STRING_get0_data(data);
		ASN1_UTF8STRING *s = d2i_ASN1_UTF8STRING(NULL, &p, ASN1_STRING_length(data));

		ERR_clear_error();
		if (!s)
			return sk_errf(err, -EBADMSG,
				       "the signing certificate's extension %s is not a UTF8String",
				       oid);
		ret = set_str(out, ASN1_STRING_get0_data(s), ASN1_STRING_length(s), err);
		ASN1_UTF8STRING_free(s);
	}
	return ret;
}

int sk_ss_cert_identity(X509 *leaf, struct sk_bundle_result *r, struct sk_error *err)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	ASN1_OBJECT *username = OBJ_txt2obj(FULCIO_OID "7", 1);
	int ret = 0;

	ERR_clear_error();
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !r->san && !ret; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		ASN1_STRING *s = NULL;

		if (g->type == GEN_URI)
			s = g->d.uniformResourceIdentifier;
		else if (g->type == GEN_EMAIL)
			s = g->d.rfc822Name;
		else if (g->type == GEN_OTHERNAME && username &&
			 !OBJ_cmp(g->d.otherName->type_id, username) &&
			 g->d.otherName->value->type == V_ASN1_UTF8STRING)
			s = g->d.otherName->value->value.utf8string;
		if (s)
			ret =
			    set_str(&r->san, ASN1_STRING_get0_data(s), ASN1_STRING_length(s), err);
	}
	GENERAL_NAMES_free(names);
	ASN1_OBJECT_free(username);
	if (ret)
		return ret;
	if (!r->san)
		return sk_errf(err, -EKEYREJECTED,
			       "the signing certificate has no subject alternative name (URI, "
			       "email or Fulcio username) to identify the signer");
	for (int arc = 1; arc < SK_FULCIO_CLAIM_MAX; arc++) {
		if (arc == 7)
			continue;
		ret = fulcio_claim(leaf, arc, &r->claims[arc], err);
		if (ret)
			return ret;
	}
	{
		const char *iss = r->claims[SK_FULCIO_ISSUER] ? r->claims[SK_FULCIO_ISSUER]
							      : r->claims[SK_FULCIO_ISSUER_V1];

		if (!iss)
			return sk_errf(err, -EKEYREJECTED,
				       "the signing certificate names no OIDC issuer (Fulcio "
				       "extension 1.3.6.1.4.1.57264.1.8 or .1)");
		r->issuer = strdup(iss);
		if (!r->issuer)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}
