/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/trust internals: keyless identities and Sigstore bundles in the trust
 * policy (identity.c). policy.c owns the policy's structures and parses keys
 * and scopes; it hands the "identities" and "trusted_root" fields to this
 * file and lets it look at a scope through struct sk_scope_view.
 */
#ifndef SK_TRUST_IDENTITY_H
#define SK_TRUST_IDENTITY_H

#include <regex.h>

#include <json-c/json.h>

#include "schedkit/common.h"
#include "schedkit/sigstore.h"
#include "schedkit/trust.h"

/* GitHub workflow claims an identity may pin (Fulcio extensions, as cosign reads them). */
enum sk_gh_claim {
	SK_GH_REPOSITORY,
	SK_GH_REF,
	SK_GH_WORKFLOW,
	SK_GH_TRIGGER,
	SK_GH_SHA,
	SK_GH_CLAIMS,
};

/* One trusted signer identity (an entry of the policy's "identities"). */
struct sk_policy_identity {
	char name[SK_KEY_NAME_MAX];
	char *issuer;	      /* OIDC issuer, exact */
	char *subject;	      /* certificate SAN, exact; NULL when subject_regexp */
	char *subject_regexp; /* as written, anchored */
	regex_t re;
	bool has_re;
	char *github[SK_GH_CLAIMS]; /* NULL: not pinned */
};

/* The policy-wide part: named identities and the trusted root. */
struct sk_policy_ids {
	struct sk_policy_identity *v;
	size_t n;
	char *root_path; /* resolved; NULL: SK_SIGSTORE_ROOT_DEFAULT */
	struct sk_sigstore_root
	    *root; /* loaded with the policy when it names one or has identities */
};

/* The identities a scope trusts: indices into sk_policy_ids.v. */
struct sk_scope_ids {
	size_t *idx;
	size_t n;
};

/* A scope as identity.c sees it (filled by policy.c's sk_policy_scope_view). */
struct sk_scope_view {
	const char *name;
	bool is_default;
	unsigned threshold;
	const size_t *keys; /* indices for sk_policy_key */
	size_t nkeys;
	const struct sk_strv *req_keys; /* parallel to req_values */
	const struct sk_strv *req_values;
	const struct sk_strv *mirror_of;
	const struct sk_scope_ids *ids;
};

/* ---- policy.c's side (the hooks it provides) ---- */

void sk_policy_scope_view(const struct sk_policy *p, const char *repo, struct sk_scope_view *v);
size_t sk_policy_nkeys(const struct sk_policy *p);
const struct sk_key *sk_policy_key(const struct sk_policy *p, size_t i, const char **name);
const struct sk_policy_ids *sk_policy_ids(const struct sk_policy *p);

/* ---- identity.c's side (what policy.c calls) ---- */

/*
 * The top-level "identities" and "trusted_root" of a policy document (root).
 * keys (may be NULL) is the document's "keys" object: an identity may not
 * share a name with a key (both count toward thresholds by name). Loads the
 * trusted root when the policy names one or defines an identity.
 */
int sk_identity_parse_policy(struct json_object *root, struct json_object *keys, const char *what,
			     const char *base_dir, struct sk_policy_ids *out, struct sk_error *err);
void sk_identity_policy_free(struct sk_policy_ids *ids);
/* A scope's "identities" (absent: none), by name; ctx names the scope in errors. */
int sk_identity_parse_scope(struct json_object *scope, const struct sk_policy_ids *ids,
			    const char *ctx, struct sk_scope_ids *out, struct sk_error *err);
void sk_identity_scope_free(struct sk_scope_ids *s);
/*
 * 0 when re is a POSIX extended regular expression anchored at both ends
 * (^...$, no top-level alternation); else -EINVAL with why (the reason and
 * how to anchor it).
 */
int sk_identity_regex_check(const char *re, char *why, size_t len);

/* ---- linting (skrun policy check) ---- */

typedef void (*sk_identity_lint_fn)(void *ctx, enum sk_lint_severity sev, const char *where,
				    const char *hint, const char *msg);
/* The top-level "identities" and "trusted_root"; names go into defined. */
void sk_identity_lint_policy(struct json_object *root, const char *base_dir,
			     struct sk_strv *defined, sk_identity_lint_fn add, void *ctx);
/* A scope's "identities"; names listed go into used. Returns how many it lists. */
size_t sk_identity_lint_scope(struct json_object *scope, const char *where,
			      const struct sk_strv *defined, struct sk_strv *used,
			      sk_identity_lint_fn add, void *ctx);

#endif
