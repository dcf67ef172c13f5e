/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/registry internals: signing in the Sigstore bundle format (cosign v3),
 * with a key or keyless (sign_bundle.c), and the Fulcio, Rekor and timestamp
 * authority clients keyless signing needs (keyless.c).
 */
#ifndef SK_REGISTRY_SIGN_BUNDLE_H
#define SK_REGISTRY_SIGN_BUNDLE_H

#include <json-c/json.h>

#include "schedkit/oci.h"
#include "schedkit/registry.h"
#include "schedkit/trust.h"

/* ---- keyless.c ---- */

/*
 * The OIDC identity token: o->identity_token, else $SIGSTORE_ID_TOKEN, else
 * one asked of GitHub Actions ($ACTIONS_ID_TOKEN_REQUEST_URL with
 * $ACTIONS_ID_TOKEN_REQUEST_TOKEN, audience sigstore). A secret: free with
 * sk_password_free().
 */
int sk_keyless_token(const struct sk_keyless_opts *o, char **token, struct sk_error *err);
/*
 * A Fulcio certificate for the ephemeral key (POST /api/v2/signingCert, the
 * proof of possession being its signature over the token's email, else sub
 * claim): the leaf in DER.
 */
int sk_keyless_certificate(const struct sk_keyless_opts *o, const char *token,
			   const struct sk_key *ephemeral, uint8_t **der, size_t *len,
			   struct sk_error *err);
/* Logs a DSSE envelope signed by the certificate in Rekor v1; the bundle's log entry. */
int sk_keyless_log(const struct sk_keyless_opts *o, const char *envelope, const uint8_t *cert_der,
		   size_t cert_len, struct json_object **entry, struct sk_error *err);
/* An RFC 3161 timestamp over the signature (its SHA-256), from o->tsa_url. */
int sk_keyless_timestamp(const struct sk_keyless_opts *o, const uint8_t *sig, size_t sig_len,
			 uint8_t **tsr, size_t *tsr_len, struct sk_error *err);

/* ---- sign_bundle.c ---- */

struct sk_bundle_signer;

/* With key (a private key), or keyless when key is NULL (o->keyless says where to). */
int sk_bundle_signer_new(const struct sk_key *key, const struct sk_sign_opts *o,
			 struct sk_bundle_signer **out, struct sk_error *err);
void sk_bundle_signer_free(struct sk_bundle_signer *s);
/*
 * Signs digest (top itself, or a manifest top lists) and attaches the bundle
 * to it in reg/repo (through the referrers API where the registry keeps
 * them, else the sha256-<hex> referrers tag) or in layout (the tag). Returns
 * 1 when this key's bundle over the same statement is there already (and
 * !o->force), 0 when signed.
 */
int sk_bundle_sign_digest(struct sk_bundle_signer *s, struct sk_registry *reg, const char *repo,
			  struct sk_layout *layout, const char *digest, const void *top,
			  size_t top_len, struct sk_error *err);
/* Whether o asks for legacy .sig signatures, for bundles (SK_SIG_FORMAT_DEFAULT resolved). */
bool sk_sign_wants_legacy(const struct sk_sign_opts *o);
bool sk_sign_wants_bundle(const struct sk_sign_opts *o);

#endif
