/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing and trust: keys, cosign-compatible signatures (the key-based "simple
 * signing" format that `cosign sign --key` writes), the `sha256-<hex>.sig`
 * signature manifest, and the host trust policy (docs/policy.md).
 *
 * The keys, payload, signature-manifest and policy parts talk to no registry:
 * they build, parse and judge. The last two sections (verification and
 * signing of artifacts) fetch and store signature manifests through the
 * registry client, layouts and the store.
 */
#ifndef SCHEDKIT_TRUST_H
#define SCHEDKIT_TRUST_H

#include <json-c/json.h>

#include "schedkit/common.h"
#include "schedkit/oci.h"
#include "schedkit/ref.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_KEY_PASSWORD_ENV "SKBUILD_KEY_PASSWORD"
#define SK_POLICY_DEFAULT   "/etc/schedkit/policy.json"

#define SK_MT_COSIGN_SIMPLESIGNING "application/vnd.dev.cosign.simplesigning.v1+json"
#define SK_ANN_COSIGN_SIGNATURE	   "dev.cosignproject.cosign/signature"
#define SK_COSIGN_SIGNATURE_TYPE   "cosign container image signature"

/* Signature payloads are tiny; anything larger is not one of ours. */
#define SK_PAYLOAD_MAX	(64u << 10)
#define SK_POLICY_MAX	(1u << 20)
#define SK_KEY_FILE_MAX (64u << 10)
/* "sha256-" + 64 hex + ".sig" + NUL */
#define SK_SIG_TAG_MAX	 80
#define SK_KEY_NAME_MAX	 128
#define SK_REFERENCE_MAX 512

/* ---- keys ---- */

enum sk_key_type {
	SK_KEY_ECDSA_P256 = 1,
	SK_KEY_ED25519 = 2,
};

/* A public key, or a private key (which can also verify). Never printed. */
struct sk_key;

/* A fresh ECDSA P-256 private key. */
int sk_key_generate(struct sk_key **out, struct sk_error *err);
/* An Ed25519 key pair: what cosign can import from PEM when its ECDSA import fails. */
int sk_key_generate_ed25519(struct sk_key **out, struct sk_error *err);
/*
 * Private key as PKCS#8 PEM; encrypted with AES-256-CBC when password is not
 * NULL and not empty. The buffer holds secret material: free it with
 * sk_buf_free_secret().
 */
int sk_key_private_pem(const struct sk_key *k, const char *password, struct sk_buf *out,
		       struct sk_error *err);
/* Public key as a "PUBLIC KEY" (SubjectPublicKeyInfo) PEM. */
int sk_key_public_pem(const struct sk_key *k, struct sk_buf *out, struct sk_error *err);
/*
 * Writes PREFIX.key (mode 0600) and PREFIX.pub (0644) atomically; refuses to
 * replace either file if it exists.
 */
int sk_key_write_pair(const struct sk_key *k, const char *prefix, const char *password,
		      struct sk_error *err);

/* True when the PEM text holds an "ENCRYPTED PRIVATE KEY" block. */
bool sk_key_pem_is_encrypted(const void *pem, size_t len);
/*
 * Loads a private key from PEM: SEC1 "EC PRIVATE KEY" (an "EC PARAMETERS"
 * block before it is fine), PKCS#8 "PRIVATE KEY", or "ENCRYPTED PRIVATE KEY"
 * (needs password). ECDSA P-256 and Ed25519 only. what names the source in
 * errors (a path).
 */
int sk_key_load_private(const void *pem, size_t len, const char *password, const char *what,
			struct sk_key **out, struct sk_error *err);
int sk_key_load_private_file(const char *path, const char *password, struct sk_key **out,
			     struct sk_error *err);
/*
 * Loads a signing key from a file, asking for the password (environment or
 * terminal, see sk_key_password) only when the key is encrypted.
 */
int sk_key_load_signing_key(const char *path, struct sk_key **out, struct sk_error *err);
/* Loads a "PUBLIC KEY" PEM (ECDSA P-256 or Ed25519). */
int sk_key_load_public(const void *pem, size_t len, const char *what, struct sk_key **out,
		       struct sk_error *err);
int sk_key_load_public_file(const char *path, struct sk_key **out, struct sk_error *err);

enum sk_key_type sk_key_type(const struct sk_key *k);
bool sk_key_is_private(const struct sk_key *k);
/* "ecdsa-p256" or "ed25519". */
const char *sk_key_type_name(const struct sk_key *k);
/* "sha256:<hex>" of the DER SubjectPublicKeyInfo: names a key without showing it. */
int sk_key_fingerprint(const struct sk_key *k, char out[80], struct sk_error *err);
/* True when both hold the same public key. */
bool sk_key_same_public(const struct sk_key *a, const struct sk_key *b);
void sk_key_free(struct sk_key *k);

/*
 * The password for a private key: $SKBUILD_KEY_PASSWORD when set (empty means
 * none), else asked on the terminal when stdin is one (twice when confirm),
 * else none. *out is NULL for "no password"; free with sk_password_free().
 */
int sk_key_password(const char *prompt, bool confirm, char **out, struct sk_error *err);
/* Wipes and frees. */
void sk_password_free(char *pw);
void sk_buf_free_secret(struct sk_buf *b);

/* ---- signatures ---- */

/*
 * cosign's signature over data: ECDSA P-256 over SHA-256, ASN.1 DER, or pure
 * Ed25519; base64 (standard alphabet, padded). *sig_b64 is malloc'd.
 */
int sk_sign(const struct sk_key *k, const void *data, size_t len, char **sig_b64,
	    struct sk_error *err);
/*
 * Verifies sig_b64 over data with k. Returns 0 when valid, -EILSEQ when
 * sig_b64 is not valid base64, -EKEYREJECTED when the signature does not
 * verify with this key.
 */
int sk_verify(const struct sk_key *k, const void *data, size_t len, const char *sig_b64,
	      struct sk_error *err);
/* Like sk_verify over several keys; *matched is the index of the key that verified. */
int sk_verify_any(struct sk_key *const *keys, size_t n, const void *data, size_t len,
		  const char *sig_b64, size_t *matched, struct sk_error *err);

/* ---- the simple-signing payload ---- */

/*
 * cosign's payload, byte for byte:
 * {"critical":{"identity":{"docker-reference":REF},"image":{"docker-manifest-digest":DIGEST},
 *  "type":"cosign container image signature"},"optional":null}
 * annotations ("key=value" strings, may be NULL) become the "optional" object,
 * sorted by key as cosign does. reference is "HOST/REPO" without tag or digest.
 */
int sk_payload_build(const char *reference, const char *digest, const struct sk_strv *annotations,
		     struct sk_buf *out, struct sk_error *err);

struct sk_payload {
	char reference[SK_REFERENCE_MAX]; /* critical.identity.docker-reference */
	char digest[80];		  /* critical.image.docker-manifest-digest */
	struct json_object *optional;	  /* owned; NULL when "optional" is null */
};

/*
 * Strict parser: size-limited, exactly "critical" and "optional" at the top,
 * exactly identity/image/type in critical (each with exactly its one field),
 * the cosign type. Returns -EBADMSG with a message naming the problem.
 */
int sk_payload_parse(const void *data, size_t len, struct sk_payload *out, struct sk_error *err);
/* The string value of an optional annotation, or NULL. */
const char *sk_payload_annotation(const struct sk_payload *p, const char *key);
void sk_payload_free(struct sk_payload *p);

/* ---- the signature manifest ---- */

/* "sha256-<hex>.sig" for "sha256:<hex>"; -EINVAL for an invalid digest. */
int sk_sig_tag(const char *digest, char out[SK_SIG_TAG_MAX], struct sk_error *err);

/* One layer of a signature manifest. */
struct sk_sig_entry {
	char media_type[256];
	char digest[80];		 /* of the payload blob */
	int64_t size;			 /* of the payload blob */
	char *signature;		 /* base64, NULL when the layer has none */
	struct json_object *annotations; /* the layer's annotations, owned, kept verbatim */
};

struct sk_sig_list {
	struct sk_sig_entry *v;
	size_t n;
	size_t cap;
};

/*
 * Parses a signature manifest (as written by cosign or by us) into its layers.
 * Layers that are not simple-signing signatures are kept (so that rebuilding
 * does not drop them) but have signature == NULL.
 */
int sk_sigmanifest_parse(const void *data, size_t len, struct sk_sig_list *out,
			 struct sk_error *err);
/*
 * For reading what others wrote: keeps at most max_sigs simple-signing layers
 * with a signature and a payload of at most SK_PAYLOAD_MAX bytes; every other
 * layer (malformed, of another kind, or past max_sigs) is skipped and counted
 * in *skipped instead of failing the whole manifest.
 */
int sk_sigmanifest_parse_lenient(const void *data, size_t len, size_t max_sigs,
				 struct sk_sig_list *out, size_t *skipped, struct sk_error *err);
/*
 * Adds a signature layer for payload (digest computed here). An entry with the
 * same payload digest and signature already present makes this a no-op:
 * returns 1 when added, 0 when it was already there.
 */
int sk_sig_list_add(struct sk_sig_list *l, const void *payload, size_t payload_len,
		    const char *sig_b64, struct sk_error *err);
/*
 * Serializes the manifest and its config blob the way cosign does (same bytes
 * for the same layers). config_digest receives the config blob's digest.
 */
int sk_sigmanifest_build(const struct sk_sig_list *l, struct sk_buf *manifest,
			 struct sk_buf *config, char config_digest[80], struct sk_error *err);
void sk_sig_list_free(struct sk_sig_list *l);

/* ---- trust policy ---- */

struct sk_policy;

/* Reads and validates a policy file; key paths are relative to its directory. */
int sk_policy_load(const char *path, struct sk_policy **out, struct sk_error *err);
/* Same from memory; base_dir resolves relative key paths (NULL: the cwd). */
int sk_policy_parse(const void *data, size_t len, const char *what, const char *base_dir,
		    struct sk_policy **out, struct sk_error *err);
/*
 * The policy `--key PUB...` stands for: these keys (any one suffices) for every
 * repository; require ("key=value", may be NULL) as required annotations.
 */
int sk_policy_from_keys(const char *const *paths, size_t n, const struct sk_strv *require,
			struct sk_policy **out, struct sk_error *err);
void sk_policy_free(struct sk_policy *p);
/* The scope that governs repo ("HOST/PATH"): its name, or "default". */
const char *sk_policy_scope_for(const struct sk_policy *p, const char *repo);

/* ---- checking a policy file (skrun policy check, skrun doctor) ---- */

enum sk_lint_severity {
	SK_LINT_ERROR,	 /* verification would refuse the policy */
	SK_LINT_WARNING, /* accepted, but cannot be what was meant */
};

struct sk_lint_problem {
	enum sk_lint_severity severity;
	char *where; /* "scopes.\"r.example.com/team\".threshold"; "" for the whole file */
	char *msg;
	char *hint; /* how to fix it; may be NULL */
};

struct sk_policy_lint {
	struct sk_lint_problem *v;
	size_t n;
	size_t errors, warnings;
	size_t nkeys, nscopes;
};

/*
 * Checks the policy file at path for everything sk_policy_load checks (fields,
 * key files and their types, scopes, thresholds against the keys listed,
 * require, mirrors), collecting every problem instead of stopping at the
 * first, with "did you mean" hints for unknown fields and key names, plus
 * warnings for what loads but cannot be meant (keys no scope trusts, mirrors
 * whose origin no scope trusts, a policy that trusts nothing). A policy with
 * no errors loads. Returns 0 when the check ran (out says what it found),
 * -ENOMEM otherwise. sk_policy_load is unchanged: it stops at the first.
 */
int sk_policy_lint(const char *path, struct sk_policy_lint *out, struct sk_error *err);
void sk_policy_lint_free(struct sk_policy_lint *l);
/* "error", "warning". */
const char *sk_lint_severity_str(enum sk_lint_severity s);
/*
 * {"policy","ok","errors","warnings","keys","scopes","problems":[{"severity",
 * "where","message","hint"}]}; NULL on allocation failure.
 */
struct json_object *sk_policy_lint_to_json(const char *path, const struct sk_policy_lint *l);

/* Why a verification failed, from the one reason that applies. */
enum sk_trust_reason {
	SK_TRUST_OK = 0,
	SK_TRUST_NO_SCOPE,	     /* no trusted key for the scope */
	SK_TRUST_NO_SIGNATURE,	     /* nothing signed this digest */
	SK_TRUST_BAD_BASE64,	     /* the signature is not base64 */
	SK_TRUST_NOT_VERIFIED,	     /* no trusted key verifies: modified payload or unknown key */
	SK_TRUST_UNTRUSTED_KEY,	     /* verifies with a policy key not trusted for the scope */
	SK_TRUST_BAD_PAYLOAD,	     /* signed, but not a valid simple-signing payload */
	SK_TRUST_OTHER_DIGEST,	     /* signed, for another manifest digest */
	SK_TRUST_OTHER_REPO,	     /* signed, for another repository */
	SK_TRUST_ANNOTATION_MISSING, /* signed, without a required annotation */
	SK_TRUST_THRESHOLD,	     /* fewer trusted keys than the scope requires */
	/* Sigstore bundles (lib/trust/identity.c) */
	SK_TRUST_BAD_BUNDLE,	     /* malformed, or a log, time or certificate check failed */
	SK_TRUST_UNTRUSTED_IDENTITY, /* keyless: the certificate's identity is not trusted here */
};

/* A short name for a reason ("no signature", "modified payload", ...). */
const char *sk_trust_reason_str(enum sk_trust_reason r);

/* One signature found for the digest: its payload blob and base64 signature. */
struct sk_trust_signature {
	const void *payload;
	size_t payload_len;
	const char *signature;
};

struct sk_trust_sig_result {
	enum sk_trust_reason reason;
	char key[SK_KEY_NAME_MAX]; /* the key that verified it, "" if none */
	char msg[512];
};

struct sk_trust_verdict {
	enum sk_trust_reason reason;
	char scope[SK_REFERENCE_MAX];
	struct sk_strv matched;		  /* names of the keys that count, sorted */
	struct sk_trust_sig_result *sigs; /* one per input signature */
	size_t nsigs;
	unsigned threshold;
	char msg[1024];
};

/*
 * Judges the signatures found for (repo, digest) against the policy. Returns 0
 * when accepted (v->matched names the keys), -EKEYREJECTED when not (v->reason,
 * v->msg and err say why), other negative errnos on internal failure.
 */
int sk_policy_evaluate(const struct sk_policy *p, const char *repo, const char *digest,
		       const struct sk_trust_signature *sigs, size_t n, struct sk_trust_verdict *v,
		       struct sk_error *err);
void sk_trust_verdict_free(struct sk_trust_verdict *v);

/* ---- judging an artifact's signatures (judge.c) ---- */

/*
 * Set to "false" on the store's index.json entry of a reference pulled with
 * --insecure-skip-verify; a verified pull of the same name replaces the entry
 * without it.
 */
#define SK_ANN_VERIFIED "org.schedkit.verified"

struct sk_verify_opts {
	const char *policy_path; /* NULL: SK_POLICY_DEFAULT (/etc/schedkit/policy.json) */
	/* --key PUB files, NULL-terminated; non-NULL: trust exactly these for this call,
	 * as `cosign verify --key` */
	const char *const *keys;
	/* "key=value" annotations the signatures must carry (only with keys; a policy
	 * file says its own). May be NULL. */
	const struct sk_strv *require;
	/*
	 * Layouts and archives: the repository (HOST/REPO) the artifact was signed
	 * for. NULL: the layout entry's ref name when it is a full reference with a
	 * registry (what `skbuild save REF` records); otherwise verification fails
	 * and asks for it. Ignored for registry sources.
	 */
	const char *identity;
};

struct sk_verify_result {
	char digest[SK_DIGEST_MAX];   /* the digest that was verified */
	struct sk_strv matched;	      /* names of the keys that matched */
	char identity[512];	      /* repository identity checked (docker-reference) */
	char scope[SK_REFERENCE_MAX]; /* the policy scope that applied */
	enum sk_trust_reason reason;  /* SK_TRUST_OK, or why not */
	size_t nsigs;		      /* signatures found for the digest */
	size_t skipped;		      /* signature layers skipped unread (unparseable, excess) */
};

/*
 * Judges the signatures found for digest, signed for identity (HOST/REPO),
 * against the policy o names (a policy file, or --key files). Pure: it reads
 * the policy and key files and nothing else. accepted (may be NULL, n
 * entries) tells which signatures verified, so that only those are kept.
 * Returns 0 when trusted, -EKEYREJECTED (err says why) when not.
 */
int sk_trust_judge(const struct sk_verify_opts *o, const char *identity, const char *digest,
		   const struct sk_trust_signature *sigs, size_t n, struct sk_verify_result *res,
		   bool *accepted, struct sk_error *err);
void sk_verify_result_free(struct sk_verify_result *r);

/*
 * "HOST/REPO" of s, a repository or a reference (tag and digest dropped).
 * need_registry: s must name its registry host (what a layout entry's ref name
 * must do to stand for an identity).
 */
int sk_trust_repo_identity(const char *s, bool need_registry, char out[512], struct sk_error *err);

#ifdef __cplusplus
}
#endif
#endif
