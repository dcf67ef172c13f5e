/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sigstore bundles, verified offline against a trusted root.
 *
 * A Sigstore bundle (application/vnd.dev.sigstore.bundle, versions 0.1, 0.2
 * and 0.3) carries a signature (over an artifact, or a DSSE envelope), the
 * signer's certificate (keyless: issued by Fulcio for an OIDC identity) or a
 * hint naming a managed key, transparency log entries (Rekor v1 or v2) and
 * RFC 3161 timestamps. A trusted root (Sigstore's trusted_root.json) names the
 * certificate authorities, transparency logs, CT logs and timestamp
 * authorities to believe, each with the window in which its key was valid.
 *
 * Everything here is a pure function over bytes: no network, no files except
 * in the *_load() helpers. Functions return 0 or a negative errno and fill
 * struct sk_error with the reason (docs/sigstore.md lists what is checked).
 */
#ifndef SCHEDKIT_SIGSTORE_H
#define SCHEDKIT_SIGSTORE_H

#include <json-c/json.h>

#include "schedkit/common.h"
#include "schedkit/trust.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sk_key;

/* Bundles and trusted roots are small; in-toto payloads can be large-ish. */
#define SK_BUNDLE_MAX	     (4u << 20)
#define SK_SIGSTORE_ROOT_MAX (4u << 20)
/* Where the operator installs the trusted root (docs/sigstore.md). */
#define SK_SIGSTORE_ROOT_DEFAULT "/etc/schedkit/sigstore/trusted_root.json"

/* ---- trusted root ---- */

struct sk_sigstore_root;

/* Parses a trusted_root.json; what names the source in errors. */
int sk_sigstore_root_parse(const void *json, size_t len, const char *what,
			   struct sk_sigstore_root **out, struct sk_error *err);
int sk_sigstore_root_load(const char *path, struct sk_sigstore_root **out, struct sk_error *err);
void sk_sigstore_root_free(struct sk_sigstore_root *r);

struct sk_sigstore_root_info {
	size_t tlogs;			/* Rekor logs */
	size_t ctlogs;			/* certificate transparency logs */
	size_t certificate_authorities; /* Fulcio */
	size_t timestamp_authorities;	/* RFC 3161 */
};
void sk_sigstore_root_info(const struct sk_sigstore_root *r, struct sk_sigstore_root_info *info);

/* ---- bundles ---- */

enum sk_bundle_version {
	SK_BUNDLE_V0_1 = 1,
	SK_BUNDLE_V0_2 = 2,
	SK_BUNDLE_V0_3 = 3,
};

enum sk_bundle_content {
	SK_BUNDLE_MESSAGE_SIGNATURE = 1, /* a signature over the artifact (hashedrekord) */
	SK_BUNDLE_DSSE = 2,		 /* a DSSE envelope, usually an in-toto statement */
};

enum sk_bundle_material {
	SK_BUNDLE_CERTIFICATE = 1, /* keyless: a Fulcio certificate */
	SK_BUNDLE_PUBLIC_KEY = 2,  /* a managed key, named by a hint only */
};

struct sk_bundle;

/*
 * Parses a bundle (JSON). Structural problems are refused here: unknown
 * versions, missing or duplicated parts, bad base64, negative indices, an
 * empty certificate chain. Nothing is verified yet.
 */
int sk_bundle_parse(const void *json, size_t len, const char *what, struct sk_bundle **out,
		    struct sk_error *err);
int sk_bundle_load(const char *path, struct sk_bundle **out, struct sk_error *err);
void sk_bundle_free(struct sk_bundle *b);

enum sk_bundle_version sk_bundle_version(const struct sk_bundle *b);
enum sk_bundle_content sk_bundle_content(const struct sk_bundle *b);
enum sk_bundle_material sk_bundle_material(const struct sk_bundle *b);
/* DSSE only (NULL otherwise): the payload type and the decoded payload, unverified. */
const char *sk_bundle_payload_type(const struct sk_bundle *b);
const void *sk_bundle_payload(const struct sk_bundle *b, size_t *len);

/* ---- verification ---- */

/* What the bundle must be about: the artifact's bytes, or only its SHA-256. */
struct sk_bundle_artifact {
	const void *data; /* NULL: use sha256 */
	size_t len;
	const uint8_t *sha256; /* 32 bytes; used when data is NULL */
};

/* Fulcio's certificate extensions, by their arc under 1.3.6.1.4.1.57264.1. */
enum sk_fulcio_claim {
	SK_FULCIO_ISSUER_V1 = 1,	 /* deprecated raw-string issuer */
	SK_FULCIO_GITHUB_TRIGGER = 2,	 /* deprecated */
	SK_FULCIO_GITHUB_SHA = 3,	 /* deprecated */
	SK_FULCIO_GITHUB_WORKFLOW = 4,	 /* deprecated */
	SK_FULCIO_GITHUB_REPOSITORY = 5, /* deprecated */
	SK_FULCIO_GITHUB_REF = 6,	 /* deprecated */
	SK_FULCIO_ISSUER = 8,
	SK_FULCIO_BUILD_SIGNER_URI = 9,
	SK_FULCIO_BUILD_SIGNER_DIGEST = 10,
	SK_FULCIO_RUNNER_ENVIRONMENT = 11,
	SK_FULCIO_SOURCE_REPOSITORY_URI = 12,
	SK_FULCIO_SOURCE_REPOSITORY_DIGEST = 13,
	SK_FULCIO_SOURCE_REPOSITORY_REF = 14,
	SK_FULCIO_SOURCE_REPOSITORY_ID = 15,
	SK_FULCIO_SOURCE_REPOSITORY_OWNER_URI = 16,
	SK_FULCIO_SOURCE_REPOSITORY_OWNER_ID = 17,
	SK_FULCIO_BUILD_CONFIG_URI = 18,
	SK_FULCIO_BUILD_CONFIG_DIGEST = 19,
	SK_FULCIO_BUILD_TRIGGER = 20,
	SK_FULCIO_RUN_INVOCATION_URI = 21,
	SK_FULCIO_SOURCE_REPOSITORY_VISIBILITY = 22,
	SK_FULCIO_CLAIM_MAX = 23,
};

/* What a verified bundle says. Strings are malloc'd; free with sk_bundle_result_free(). */
struct sk_bundle_result {
	enum sk_bundle_version version;
	enum sk_bundle_content content;
	enum sk_bundle_material material;
	char *san;    /* keyless: the certificate's subject alternative name */
	char *issuer; /* keyless: the OIDC issuer (extension .8, else the legacy .1) */
	char *claims[SK_FULCIO_CLAIM_MAX]; /* keyless: Fulcio extensions present, by arc */
	char *payload_type;		   /* DSSE */
	char *predicate_type;		   /* DSSE in-toto statements */
	uint8_t sha256[32];		   /* the artifact digest the bundle was bound to */
	int64_t signed_at;		   /* earliest verified signing time (s), 0 if none */
	int64_t log_index;		   /* the first log entry's index, -1 if none */
	unsigned tlog_entries;		   /* verified transparency log entries */
	unsigned timestamps;		   /* verified RFC 3161 timestamps */
	unsigned scts;			   /* verified SCTs */
	/* DSSE in-toto: the annotations of the subject that names the artifact, as
	 * "key=value" (string values only; cosign sign -a puts them there) */
	struct sk_strv annotations;
};
void sk_bundle_result_free(struct sk_bundle_result *r);

struct sk_bundle_policy;

/* Which check refused a bundle (sk_bundle_policy.failed), for callers that sort refusals. */
enum sk_bundle_check {
	SK_BUNDLE_CHECK_NONE = 0,
	SK_BUNDLE_CHECK_POLICY,	     /* the caller's policy cannot judge it (no key, no identity) */
	SK_BUNDLE_CHECK_SIGNATURE,   /* the signature does not verify with the key/certificate */
	SK_BUNDLE_CHECK_ARTIFACT,    /* verified, but about another artifact */
	SK_BUNDLE_CHECK_TLOG,	     /* a transparency log entry */
	SK_BUNDLE_CHECK_TIME,	     /* no verified signing time (timestamps, SETs) */
	SK_BUNDLE_CHECK_CERTIFICATE, /* chain, validity at signing time, SCTs */
	SK_BUNDLE_CHECK_IDENTITY,    /* SAN, issuer or the caller's match */
};

/*
 * A caller's identity check (regular expressions, GitHub claims): called once
 * the certificate is verified, with the result filled so far. Returns 0 to
 * accept, or a negative errno with err saying why not.
 */
typedef int (*sk_bundle_identity_fn)(const struct sk_bundle_result *r, void *ctx,
				     struct sk_error *err);

struct sk_bundle_policy {
	/*
	 * Keyless bundles: the certificate SAN and the OIDC issuer, both exact
	 * (what cosign's --certificate-identity/--certificate-oidc-issuer take),
	 * and/or match. A keyless bundle with none of them is refused.
	 */
	const char *identity;
	const char *issuer;
	sk_bundle_identity_fn match;
	void *match_ctx;
	/* Managed-key bundles: the key (key, else a PUBLIC KEY PEM). */
	const struct sk_key *key;
	const void *key_pem;
	size_t key_pem_len;
	/*
	 * Accept a key-signed bundle without a transparency log entry (what
	 * cosign writes with the log turned off). Never applies to keyless.
	 */
	bool allow_no_tlog;
	/* "Now" in seconds since the epoch, for refusing future log times; 0: the clock. */
	int64_t now;
	/* Non-NULL: set to the check that refused the bundle (NONE when verified). */
	enum sk_bundle_check *failed;
};

/*
 * Verifies everything the bundle claims against the trusted root and binds it
 * to the artifact (messageSignature: the signature is over it; DSSE: an
 * in-toto subject has its SHA-256). out (may be NULL) is filled on success
 * and must be freed with sk_bundle_result_free() either way. root may be NULL
 * for a bundle signed with a managed key: then any log entry or timestamp it
 * carries cannot be verified and is refused, and none is needed with
 * allow_no_tlog. A keyless bundle always needs a root.
 */
int sk_bundle_verify(const struct sk_bundle *b, const struct sk_sigstore_root *root,
		     const struct sk_bundle_policy *p, const struct sk_bundle_artifact *a,
		     struct sk_bundle_result *out, struct sk_error *err);
/* The same for an artifact known by digest only: "sha256:<64 hex>" (an OCI manifest). */
int sk_bundle_verify_digest(const struct sk_bundle *b, const struct sk_sigstore_root *root,
			    const struct sk_bundle_policy *p, const char *digest,
			    struct sk_bundle_result *out, struct sk_error *err);

/* ---- bundles attached to OCI artifacts (cosign v3) ---- */

/* The bundle media type cosign v3 uses as artifactType and layer media type. */
#define SK_MT_SIGSTORE_BUNDLE	 "application/vnd.dev.sigstore.bundle.v0.3+json"
#define SK_COSIGN_SIGN_PREDICATE "https://sigstore.dev/cosign/sign/v1"
#define SK_IN_TOTO_PAYLOAD_TYPE	 "application/vnd.in-toto+json"
/* Annotations cosign v3 puts on a bundle's manifest. */
#define SK_ANN_BUNDLE_PREDICATE "dev.sigstore.bundle.predicateType"
#define SK_ANN_BUNDLE_CONTENT	"dev.sigstore.bundle.content"
/* Bundles attached to OCI artifacts are small; this bounds what is read of one. */
#define SK_BUNDLE_READ_MAX (256u << 10)

/* ---- making bundles (lib/trust/bundle_build.c; signing is lib/registry's) ---- */

struct sk_key;

/*
 * cosign v3's in-toto statement for an OCI manifest digest: one subject with
 * its sha256 and the signed annotations ("KEY=VALUE", may be NULL), predicate
 * type SK_COSIGN_SIGN_PREDICATE, an empty predicate.
 */
int sk_bundle_statement(const char *digest, const struct sk_strv *annotations, struct sk_buf *out,
			struct sk_error *err);
/* DSSE's pre-authentication encoding: what the envelope's signature is over. -ENOMEM only. */
int sk_dsse_pae(const char *payload_type, const void *payload, size_t len, struct sk_buf *out);
/* cosign's public key hint: base64 of the SHA-256 of the DER SubjectPublicKeyInfo. */
int sk_key_hint(const struct sk_key *k, char out[64], struct sk_error *err);

/* What a v0.3 bundle with a DSSE envelope is made of. */
struct sk_bundle_parts {
	const void *payload; /* the statement */
	size_t payload_len;
	const char *sig_b64;  /* over the PAE */
	const char *key_hint; /* a managed key, or ... */
	const void *cert_der; /* ... keyless: the Fulcio certificate */
	size_t cert_der_len;
	struct json_object *tlog_entry; /* a TransparencyLogEntry (borrowed), or NULL */
	const void *tsr;		/* an RFC 3161 TimeStampResp (DER), or NULL */
	size_t tsr_len;
};
int sk_bundle_build(const struct sk_bundle_parts *p, struct sk_buf *out, struct sk_error *err);
/*
 * Rekor v1's answer to POST /api/v1/log/entries ({"<uuid>": {body,
 * integratedTime, logID, logIndex, verification}}) as a bundle's
 * TransparencyLogEntry (hex turned into base64, the body as it was).
 */
int sk_rekor_entry_to_bundle(const void *json, size_t len, struct json_object **out,
			     struct sk_error *err);

/* ---- bundles in the trust policy (lib/trust/identity.c, docs/policy.md) ---- */

/* A bundle found for a digest, as bytes (parsed and verified by the judge). */
struct sk_trust_bundle {
	const void *data;
	size_t len;
	const char *what; /* names it in messages (the blob's digest); may be NULL */
};

/*
 * sk_policy_evaluate with Sigstore bundles as well: the signatures (cosign's
 * legacy .sig payloads) are judged exactly as sk_policy_evaluate does, each
 * bundle by the scope's keys (bundles with a public-key hint) or identities
 * (keyless bundles, verified against the policy's trusted root), and the
 * keys and identities that accepted something count together toward the
 * scope's threshold. bres (nb entries, may be NULL) gets each bundle's
 * result. Returns 0 when trusted, -EKEYREJECTED when not (v->reason, v->msg).
 */
int sk_policy_evaluate_bundles(const struct sk_policy *p, const char *repo, const char *digest,
			       const struct sk_trust_signature *sigs, size_t n,
			       const struct sk_trust_bundle *bundles, size_t nb,
			       struct sk_trust_verdict *v, struct sk_trust_sig_result *bres,
			       struct sk_error *err);
/*
 * sk_trust_judge with bundles: accepted (n) and bundle_accepted (nb) may be
 * NULL and say which of each were accepted (only those are kept).
 */
int sk_trust_judge_bundles(const struct sk_verify_opts *o, const char *identity, const char *digest,
			   const struct sk_trust_signature *sigs, size_t n,
			   const struct sk_trust_bundle *bundles, size_t nb,
			   struct sk_verify_result *res, bool *accepted, bool *bundle_accepted,
			   struct sk_error *err);

/* ---- building blocks (transparency logs) ---- */

/* RFC 6962 leaf hash: SHA-256(0x00 || leaf). */
int sk_merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[32]);
/* RFC 6962 node hash: SHA-256(0x01 || left || right). */
int sk_merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);
/*
 * RFC 9162 2.1.3.2: recomputes the root from the leaf hash at index in a tree
 * of size leaves and the audit path (n hashes of 32 bytes), and compares it
 * with root. -EBADMSG with the reason when it does not hash to the root.
 */
int sk_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[32],
			       const uint8_t (*path)[32], size_t n, const uint8_t root[32],
			       struct sk_error *err);

/* One signature line of a signed note: "— name base64(keyhint[4] || signature)". */
struct sk_checkpoint_sig {
	char *name;
	uint8_t hint[4];
	uint8_t *sig;
	size_t sig_len;
};

/* A transparency log checkpoint (C2SP tlog-checkpoint in a signed note). */
struct sk_checkpoint {
	char *origin;
	uint64_t size;
	uint8_t root[32];
	size_t text_len; /* the signed text is the envelope's first text_len bytes */
	struct sk_checkpoint_sig *sigs;
	size_t n_sigs;
};

int sk_checkpoint_parse(const char *envelope, size_t len, struct sk_checkpoint *out,
			struct sk_error *err);
void sk_checkpoint_free(struct sk_checkpoint *c);

#ifdef __cplusplus
}
#endif
#endif
