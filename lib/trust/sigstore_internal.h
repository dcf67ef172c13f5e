/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by lib/trust/bundle.c and lib/trust/sigstore_*.c only; not public API. */
#ifndef SCHEDKIT_SIGSTORE_INTERNAL_H
#define SCHEDKIT_SIGSTORE_INTERNAL_H

#include <json-c/json.h>

#include <openssl/types.h>
#include <openssl/x509.h>

#include "schedkit/common.h"
#include "schedkit/sigstore.h"

/* Times are kept in milliseconds since the epoch: trusted roots carry fractions. */
#define SK_SS_NO_END INT64_MAX

/* A validity window from the trusted root; both ends inclusive. */
struct sk_ss_window {
	int64_t start_ms;
	int64_t end_ms; /* SK_SS_NO_END when open */
};

/* A transparency log or CT log of the trusted root. */
struct sk_ss_log {
	char *base_url;
	uint8_t log_id[64];
	size_t log_id_len;
	EVP_PKEY *key;
	struct sk_ss_window valid;
};

/* A certificate authority or timestamp authority of the trusted root. */
struct sk_ss_ca {
	char *name;		/* "organization/commonName" or the URI, for messages */
	STACK_OF(X509) * chain; /* as in the file: leaf (or intermediate) first, root last */
	struct sk_ss_window valid;
};

struct sk_sigstore_root {
	struct sk_ss_log *tlogs;
	size_t n_tlogs;
	struct sk_ss_log *ctlogs;
	size_t n_ctlogs;
	struct sk_ss_ca *cas;
	size_t n_cas;
	struct sk_ss_ca *tsas;
	size_t n_tsas;
};

struct sk_ss_bytes {
	uint8_t *data;
	size_t len;
};

struct sk_ss_proof {
	bool present;
	int64_t log_index;
	int64_t tree_size;
	uint8_t root[32];
	uint8_t (*hashes)[32];
	size_t n_hashes;
	char *checkpoint; /* NULL when absent */
};

struct sk_ss_entry {
	int64_t log_index;
	struct sk_ss_bytes log_id;
	char *kind;
	char *kind_version;
	int64_t integrated_time; /* 0 when absent (Rekor v2) */
	struct sk_ss_bytes set;	 /* inclusion promise, len 0 when absent */
	struct sk_ss_proof proof;
	struct sk_ss_bytes body; /* canonicalizedBody, decoded */
	char *body_b64;		 /* as in the bundle: what the SET signs */
};

struct sk_bundle {
	enum sk_bundle_version version;
	enum sk_bundle_content content;
	enum sk_bundle_material material;
	X509 *leaf;		/* SK_BUNDLE_CERTIFICATE */
	STACK_OF(X509) * chain; /* certificates after the leaf (v0.1/v0.2 chains) */
	char *key_hint;		/* SK_BUNDLE_PUBLIC_KEY */
	struct sk_ss_entry *entries;
	size_t n_entries;
	struct sk_ss_bytes *timestamps; /* RFC 3161 TimeStampResp DER */
	size_t n_timestamps;
	/* messageSignature */
	int md_nid; /* messageDigest algorithm (NID_sha256...); 0 when absent */
	struct sk_ss_bytes digest;
	struct sk_ss_bytes signature; /* also the DSSE envelope's one signature */
	/* dsseEnvelope */
	char *payload_type;
	struct sk_ss_bytes payload;
};

/* ---- sigstore_util.c ---- */

/* Standard or URL-safe base64, padded or not; anything else is refused. */
int sk_ss_b64_decode(const char *in, const char *what, struct sk_ss_bytes *out,
		     struct sk_error *err);
/* Encodes into a malloc'd string (standard alphabet, padded). */
char *sk_ss_b64_encode(const void *data, size_t len);
void sk_ss_bytes_free(struct sk_ss_bytes *b);
/* RFC 3339 ("2021-01-12T11:53:27.5Z") to milliseconds since the epoch. */
int sk_ss_parse_time(const char *s, int64_t *ms);
/* Formats seconds as "2023-07-12T15:56:36Z". */
void sk_ss_fmt_time(int64_t ms, char out[32]);
/* Proto JSON int64: a decimal string or a number. absent_ok: 0 when missing. */
int sk_ss_json_int64(struct json_object *obj, const char *key, bool absent_ok, const char *what,
		     int64_t *out, struct sk_error *err);
/* A child object of the given JSON type, or NULL. */
struct json_object *sk_ss_json_get(struct json_object *obj, const char *key, json_type type);
bool sk_ss_window_contains(const struct sk_ss_window *w, int64_t ms);
void sk_ss_fmt_window(const struct sk_ss_window *w, char out[80]);
/* The digest to sign with for this key (NULL for Ed25519), by key type and size. */
const EVP_MD *sk_ss_key_md(EVP_PKEY *key);
/* Verifies sig over data with key (its usual digest, see sk_ss_key_md). */
int sk_ss_verify_sig(EVP_PKEY *key, const void *data, size_t len, const uint8_t *sig,
		     size_t sig_len);
/* Verifies sig over a precomputed digest made with md. */
int sk_ss_verify_prehashed(EVP_PKEY *key, const EVP_MD *md, const uint8_t *digest,
			   size_t digest_len, const uint8_t *sig, size_t sig_len);
/* out must hold EVP_MD_get_size(md) bytes. */
int sk_ss_digest(const EVP_MD *md, const void *data, size_t len, uint8_t *out, unsigned *out_len);
void sk_ss_hex(const uint8_t *data, size_t len, char *out);
/* DER of the certificate in a PEM or DER blob; the public key of a PEM/DER blob. */
X509 *sk_ss_x509_from_pem_or_der(const uint8_t *data, size_t len);
EVP_PKEY *sk_ss_pkey_from_pem_or_der(const uint8_t *data, size_t len);
bool sk_ss_same_cert(X509 *a, X509 *b);
bool sk_ss_same_key(EVP_PKEY *a, EVP_PKEY *b);

/* ---- sigstore_root.c ---- */

const struct sk_ss_log *sk_ss_find_log(const struct sk_ss_log *logs, size_t n, const uint8_t *id,
				       size_t id_len);

/* ---- sigstore_tlog.c ---- */

/* What the log entry must say: the bundle's signature, key and digests. */
struct sk_ss_expect {
	const struct sk_bundle *b;
	X509 *leaf;	       /* keyless */
	EVP_PKEY *key;	       /* the signer's key (the leaf's, or the managed key) */
	const uint8_t *digest; /* messageSignature: the artifact's digest */
	size_t digest_len;
	int digest_nid;
	const uint8_t *pae; /* DSSE: the pre-authentication encoding */
	size_t pae_len;
};

/*
 * Verifies one entry: known log, body matches the bundle, SET and/or
 * inclusion proof with a signed checkpoint. *set_time is the integrated time
 * (s) when a SET vouches for it, else 0.
 */
int sk_ss_verify_entry(const struct sk_sigstore_root *root, const struct sk_ss_entry *e,
		       const struct sk_ss_expect *x, enum sk_bundle_version version,
		       int64_t *set_time, const struct sk_ss_log **log, struct sk_error *err);
/* Verifies a checkpoint's signature by log and that it commits to size and root. */
int sk_ss_verify_checkpoint(const char *envelope, const struct sk_ss_log *log, uint64_t size,
			    const uint8_t root[32], struct sk_error *err);

/* ---- sigstore_cert.c ---- */

/* Verifies the leaf chains to a CA of the root valid at t_ms (and the leaf is valid then). */
int sk_ss_verify_chain(const struct sk_sigstore_root *root, X509 *leaf, int64_t t_ms, X509 **issuer,
		       struct sk_error *err);
/* Verifies the embedded SCTs: at least one from a CT log of the root. Returns the count. */
int sk_ss_verify_scts(const struct sk_sigstore_root *root, X509 *leaf, X509 *issuer, int64_t now_ms,
		      unsigned *count, struct sk_error *err);
/* SAN, issuer and the other Fulcio claims into r. */
int sk_ss_cert_identity(X509 *leaf, struct sk_bundle_result *r, struct sk_error *err);

/* ---- sigstore_tsa.c ---- */

/* Verifies an RFC 3161 timestamp over sig against the root's TSAs; *t_ms its time. */
int sk_ss_verify_timestamp(const struct sk_sigstore_root *root, const struct sk_ss_bytes *tsr,
			   const struct sk_ss_bytes *sig, int64_t *t_ms, struct sk_error *err);

#endif
