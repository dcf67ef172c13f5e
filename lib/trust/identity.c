/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keyless identities and Sigstore bundles in the trust policy.
 *
 * A scope trusts keys, identities, or both. A key-based signature (cosign's
 * legacy .sig payload) is judged by policy.c exactly as before; a Sigstore
 * bundle (cosign v3) is judged here: one with a public-key hint by the
 * scope's keys, a keyless one (a Fulcio certificate) against the policy's
 * trusted root and then by the scope's identities (OIDC issuer, certificate
 * SAN exact or by an anchored regular expression, GitHub workflow claims).
 * The keys and identities that accepted something count together toward the
 * threshold; required annotations come from the in-toto subject's
 * annotations. A bundle names no repository, so through a mirror scope it
 * counts only when every origin the mirror stands for accepts it too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"
#include "internal.h"
#include "schedkit/oci.h"

/* ---- parsing ---- */

static const char *const identity_fields[] = {"issuer", "subject", "subject_regexp", "github",
					      NULL};
static const char *const github_fields[] = {"repository", "ref", "workflow",
					    "trigger",	  "sha", NULL};

static void identity_free(struct sk_policy_identity *id)
{
	free(id->issuer);
	free(id->subject);
	free(id->subject_regexp);
	if (id->has_re)
		regfree(&id->re);
	for (int i = 0; i < SK_GH_CLAIMS; i++)
		free(id->github[i]);
}

void sk_identity_policy_free(struct sk_policy_ids *ids)
{
	for (size_t i = 0; ids && i < ids->n; i++)
		identity_free(&ids->v[i]);
	if (!ids)
		return;
	free(ids->v);
	free(ids->root_path);
	sk_sigstore_root_free(ids->root);
	memset(ids, 0, sizeof(*ids));
}

void sk_identity_scope_free(struct sk_scope_ids *s)
{
	free(s->idx);
	memset(s, 0, sizeof(*s));
}

/*
 * Anchored: starts with ^, ends with an unescaped $, and no | at the top
 * level (^a|b$ is "^a" or "b$": each branch is open at one end). \d and
 * friends are Perl's, not POSIX's: glibc would read \d as a plain d.
 */
int sk_identity_regex_check(const char *re, char *why, size_t len)
{
	size_t n = strlen(re), depth = 0;
	bool escaped_end = false;

	if (!n || re[0] != '^' || re[n - 1] != '$') {
		snprintf(why, len,
			 "regular expression \"%s\" is not anchored: it must start with ^ and end "
			 "with $, or it matches subjects that merely contain it",
			 re);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (re[i] == '\\') {
			if (i + 1 < n && strchr("dDsSwWbB", re[i + 1])) {
				snprintf(why, len,
					 "regular expression \"%s\": \\%c is not POSIX (use a "
					 "bracket expression such as [0-9] or [[:space:]])",
					 re, re[i + 1]);
				return -EINVAL;
			}
			escaped_end = i + 1 == n - 1;
			i++;
			continue;
		}
		if (re[i] == '[') {
			/* a bracket expression: ']' right after '[' or '[^' is a member */
			size_t j = i + 1;

			if (j < n && re[j] == '^')
				j++;
			if (j < n && re[j] == ']')
				j++;
			while (j < n && re[j] != ']') {
				if (re[j] == '[' && j + 1 < n && strchr(":.=", re[j + 1])) {
					const char *close = strchr(re + j + 2, re[j + 1]);

					j = close && close[1] == ']' ? (size_t)(close - re) + 1 : j;
				}
				j++;
			}
			i = j;
			continue;
		}
		if (re[i] == '(')
			depth++;
		else if (re[i] == ')' && depth)
			depth--;
		else if (re[i] == '|' && !depth) {
			snprintf(why, len,
				 "regular expression \"%s\" has a top-level |: each alternative is "
				 "anchored at one end only; group them, as in ^(a|b)$",
				 re);
			return -EINVAL;
		}
	}
	if (escaped_end) {
		snprintf(why, len,
			 "regular expression \"%s\" ends with an escaped \\$, not the anchor $",
			 re);
		return -EINVAL;
	}
	return 0;
}

static int dup_string(struct json_object *obj, const char *key, const char *ctx, char **out,
		      struct sk_error *err)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
		return sk_errf(err, -EINVAL, "%s: \"%s\" must be a non-empty string", ctx, key);
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : sk_errf(err, -ENOMEM, "out of memory");
}

static int parse_identity(const char *name, struct json_object *spec, const char *what,
			  struct sk_policy_identity *id, struct sk_error *err)
{
	struct json_object *gh;
	char ctx[SK_KEY_NAME_MAX + 600], why[1024];
	int ret;

	snprintf(ctx, sizeof(ctx), "%s%sidentity \"%s\"", what ? what : "", what ? ": " : "", name);
	if (!sk_trust_name_valid(name))
		return sk_errf(err, -EINVAL,
			       "%s: identity names use letters, digits, '-', '_' and '.' (at most "
			       "%d)",
			       ctx, SK_KEY_NAME_MAX - 1);
	snprintf(id->name, sizeof(id->name), "%s", name);
	if (!json_object_is_type(spec, json_type_object))
		return sk_errf(err, -EINVAL,
			       "%s: must be an object with \"issuer\" and \"subject\" or "
			       "\"subject_regexp\"",
			       ctx);
	ret = sk_trust_json_only(spec, identity_fields, ctx, err);
	if (!ret)
		ret = dup_string(spec, "issuer", ctx, &id->issuer, err);
	if (!ret)
		ret = dup_string(spec, "subject", ctx, &id->subject, err);
	if (!ret)
		ret = dup_string(spec, "subject_regexp", ctx, &id->subject_regexp, err);
	if (ret)
		return ret;
	if (!id->issuer)
		return sk_errf(err, -EINVAL,
			       "%s: \"issuer\" (the OIDC issuer, matched exactly) is required",
			       ctx);
	if (!id->subject == !id->subject_regexp)
		return sk_errf(err, -EINVAL,
			       "%s: give exactly one of \"subject\" (the certificate SAN, exact) "
			       "and \"subject_regexp\" (an anchored regular expression)",
			       ctx);
	if (id->subject_regexp) {
		int rc;

		if (sk_identity_regex_check(id->subject_regexp, why, sizeof(why)))
			return sk_errf(err, -EINVAL, "%s: %s", ctx, why);
		/* regfree() in identity_free once has_re is set; a failed regcomp
		 * keeps nothing allocated (glibc frees its work on error) */
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		rc = regcomp(&id->re, id->subject_regexp, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			regerror(rc, &id->re, why, sizeof(why));
			return sk_errf(err, -EINVAL, "%s: regular expression \"%s\": %s", ctx,
				       id->subject_regexp, why);
		}
		id->has_re = true;
	}
	if (json_object_object_get_ex(spec, "github", &gh)) {
		char gctx[sizeof(ctx) + 16];

		snprintf(gctx, sizeof(gctx), "%s: github", ctx);
		if (!json_object_is_type(gh, json_type_object))
			return sk_errf(err, -EINVAL,
				       "%s: must be an object of workflow claims (repository, ref, "
				       "workflow, trigger, sha)",
				       gctx);
		ret = sk_trust_json_only(gh, github_fields, gctx, err);
		for (int i = 0; !ret && i < SK_GH_CLAIMS; i++)
			ret = dup_string(gh, github_fields[i], gctx, &id->github[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

int sk_identity_parse_policy(struct json_object *root, struct json_object *keys, const char *what,
			     const char *base_dir, struct sk_policy_ids *out, struct sk_error *err)
{
	struct json_object *ids = NULL, *tr = NULL;
	const char *path;
	int ret;

	memset(out, 0, sizeof(*out));
	if (json_object_object_get_ex(root, "trusted_root", &tr)) {
		if (!json_object_is_type(tr, json_type_string) || !*json_object_get_string(tr))
			return sk_errf(
			    err, -EINVAL,
			    "%s: \"trusted_root\" must be the path of a trusted_root.json", what);
		path = json_object_get_string(tr);
		out->root_path =
		    path[0] == '/' || !base_dir ? strdup(path) : sk_path_join(base_dir, path);
		if (!out->root_path)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	if (json_object_object_get_ex(root, "identities", &ids)) {
		if (!json_object_is_type(ids, json_type_object))
			return sk_errf(err, -EINVAL,
				       "%s: \"identities\" must be an object of named identities",
				       what);
		out->v = calloc(json_object_object_length(ids) + 1, sizeof(*out->v));
		if (!out->v)
			return sk_errf(err, -ENOMEM, "out of memory");
		json_object_object_foreach(ids, name, spec)
		{
			if (keys && json_object_object_get_ex(keys, name, NULL))
				return sk_errf(err, -EINVAL,
					       "%s: \"%s\" names both a key and an identity; "
					       "thresholds count signers by name, so give them "
					       "different names",
					       what, name);
			ret = parse_identity(name, spec, what, &out->v[out->n], err);
			out->n++;
			if (ret)
				return ret;
		}
	}
	/*
	 * A root the policy names must be there; the default one only when an
	 * identity needs it (key-based bundles use it when it exists).
	 */
	if (!out->root_path && !out->n)
		return 0;
	path = out->root_path ? out->root_path : SK_SIGSTORE_ROOT_DEFAULT;
	if (!out->root_path && access(path, F_OK))
		return sk_errf(err, -ENOENT,
			       "%s: the policy trusts identities (keyless signatures), which are "
			       "verified against a Sigstore trusted root, but %s does not exist: "
			       "install it (docs/sigstore.md) or name one with \"trusted_root\"",
			       what, path);
	ret = sk_sigstore_root_load(path, &out->root, err);
	if (ret)
		return sk_err_prefix(err, "%s: trusted root: ", what);
	return 0;
}

int sk_identity_parse_scope(struct json_object *scope, const struct sk_policy_ids *ids,
			    const char *ctx, struct sk_scope_ids *out, struct sk_error *err)
{
	struct json_object *list;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!json_object_object_get_ex(scope, "identities", &list))
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return sk_errf(err, -EINVAL, "%s: \"identities\" must be a list of identity names",
			       ctx);
	n = json_object_array_length(list);
	out->idx = calloc(n ? n : 1, sizeof(*out->idx));
	if (!out->idx)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *name = json_object_get_string(e);
		size_t k;

		if (!json_object_is_type(e, json_type_string))
			return sk_errf(err, -EINVAL, "%s: \"identities\" must hold identity names",
				       ctx);
		for (k = 0; k < ids->n && strcmp(ids->v[k].name, name); k++)
			;
		if (k == ids->n)
			return sk_errf(err, -EINVAL,
				       "%s: identity \"%s\" is not defined in \"identities\"", ctx,
				       name);
		for (size_t j = 0; j < out->n; j++)
			if (out->idx[j] == k)
				return sk_errf(err, -EINVAL, "%s: identity \"%s\" listed twice",
					       ctx, name);
		out->idx[out->n++] = k;
	}
	return 0;
}

/* ---- matching a certificate against identities ---- */

/* The claim an identity pins, as Fulcio writes it: the old GitHub arc, else its successor. */
static const char *gh_claim(const struct sk_bundle_result *r, enum sk_gh_claim c)
{
	static const int old_arc[SK_GH_CLAIMS] = {SK_FULCIO_GITHUB_REPOSITORY, SK_FULCIO_GITHUB_REF,
						  SK_FULCIO_GITHUB_WORKFLOW,
						  SK_FULCIO_GITHUB_TRIGGER, SK_FULCIO_GITHUB_SHA};
	static const int new_arc[SK_GH_CLAIMS] = {0, SK_FULCIO_SOURCE_REPOSITORY_REF, 0,
						  SK_FULCIO_BUILD_TRIGGER,
						  SK_FULCIO_SOURCE_REPOSITORY_DIGEST};

	if (r->claims[old_arc[c]])
		return r->claims[old_arc[c]];
	return new_arc[c] ? r->claims[new_arc[c]] : NULL;
}

/* NULL when r is id's; else why not (static text plus r's values, into buf). */
static const char *identity_mismatch(const struct sk_policy_identity *id,
				     const struct sk_bundle_result *r, char *buf, size_t len)
{
	if (strcmp(id->issuer, r->issuer)) {
		snprintf(buf, len,
			 "OIDC issuer does not match: the certificate's issuer is \"%.300s\", "
			 "identity \"%s\" expects \"%.300s\"",
			 r->issuer, id->name, id->issuer);
		return buf;
	}
	if (id->subject && strcmp(id->subject, r->san)) {
		snprintf(buf, len,
			 "SAN does not match: the certificate was issued to \"%.300s\", identity "
			 "\"%s\" expects \"%.300s\"",
			 r->san, id->name, id->subject);
		return buf;
	}
	if (id->has_re && regexec(&id->re, r->san, 0, NULL, 0)) {
		snprintf(buf, len,
			 "SAN does not match: the certificate was issued to \"%.300s\", identity "
			 "\"%s\" expects a subject matching %.300s",
			 r->san, id->name, id->subject_regexp);
		return buf;
	}
	for (int c = 0; c < SK_GH_CLAIMS; c++) {
		const char *have = gh_claim(r, (enum sk_gh_claim)c);

		if (!id->github[c] || (have && !strcmp(have, id->github[c])))
			continue;
		snprintf(buf, len,
			 "GitHub workflow %s does not match: the certificate says %s%.300s%s, "
			 "identity \"%s\" expects \"%.300s\"",
			 github_fields[c], have ? "\"" : "", have ? have : "nothing",
			 have ? "\"" : "", id->name, id->github[c]);
		return buf;
	}
	return NULL;
}

struct match_ctx {
	const struct sk_policy_ids *ids;
	const struct sk_scope_view *scope;
	size_t matched; /* index into ids->v when accepted */
};

/* sk_bundle_policy.match: the first identity of the scope the certificate is. */
static int match_scope(const struct sk_bundle_result *r, void *ctx, struct sk_error *err)
{
	struct match_ctx *m = ctx;
	char why[1024] = "", other[1024];
	const char *first = NULL;

	for (size_t i = 0; i < m->scope->ids->n; i++) {
		const struct sk_policy_identity *id = &m->ids->v[m->scope->ids->idx[i]];
		const char *w = identity_mismatch(id, r, other, sizeof(other));

		if (!w) {
			m->matched = m->scope->ids->idx[i];
			return 0;
		}
		if (!first) {
			snprintf(why, sizeof(why), "%s", w);
			first = why;
		}
	}
	/* an identity the policy trusts, only not here: say which */
	for (size_t k = 0; k < m->ids->n; k++) {
		bool in_scope = false;

		for (size_t i = 0; i < m->scope->ids->n; i++)
			in_scope = in_scope || m->scope->ids->idx[i] == k;
		if (!in_scope && !identity_mismatch(&m->ids->v[k], r, other, sizeof(other)))
			return sk_errf(
			    err, -EKEYREJECTED,
			    "signed by identity \"%s\" (%.300s, issuer %.300s), which is "
			    "not trusted for scope %s",
			    m->ids->v[k].name, r->san, r->issuer, m->scope->name);
	}
	if (!m->scope->ids->n)
		return sk_errf(err, -EKEYREJECTED,
			       "signed keyless by %.300s (issuer %.300s), and scope %s trusts no "
			       "identity",
			       r->san, r->issuer, m->scope->name);
	if (m->scope->ids->n == 1)
		return sk_errf(err, -EKEYREJECTED, "%s", why);
	return sk_errf(err, -EKEYREJECTED,
		       "the certificate (%.300s, issuer %.300s) is none of the %zu identities "
		       "trusted for scope %s; the first says: %s",
		       r->san, r->issuer, m->scope->ids->n, m->scope->name, why);
}

/* ---- judging bundles ---- */

struct parsed {
	struct sk_bundle *b; /* NULL when it did not parse */
	char why[SK_ERROR_MSG_MAX / 2];
	const char *what;
};

struct judge {
	const struct sk_policy *p;
	const char *digest;
	const struct sk_trust_signature *sigs;
	size_t n;
	struct parsed *bundles;
	size_t nb;
	const struct sk_sigstore_root *root;
	struct sk_sigstore_root *own_root;   /* the default root, loaded here */
	char root_why[SK_ERROR_MSG_MAX / 2]; /* why there is none */
};

static int rank(enum sk_trust_reason r)
{
	switch (r) {
	case SK_TRUST_ANNOTATION_MISSING:
		return 9;
	case SK_TRUST_OTHER_REPO:
		return 8;
	case SK_TRUST_OTHER_DIGEST:
		return 7;
	case SK_TRUST_UNTRUSTED_IDENTITY:
		return 6;
	case SK_TRUST_BAD_PAYLOAD:
		return 5;
	case SK_TRUST_BAD_BUNDLE:
		return 4;
	case SK_TRUST_UNTRUSTED_KEY:
		return 3;
	case SK_TRUST_NOT_VERIFIED:
		return 2;
	case SK_TRUST_BAD_BASE64:
		return 1;
	default:
		return 0;
	}
}

static enum sk_trust_reason reason_of(enum sk_bundle_check c)
{
	switch (c) {
	case SK_BUNDLE_CHECK_SIGNATURE:
		return SK_TRUST_NOT_VERIFIED;
	case SK_BUNDLE_CHECK_ARTIFACT:
		return SK_TRUST_OTHER_DIGEST;
	case SK_BUNDLE_CHECK_IDENTITY:
		return SK_TRUST_UNTRUSTED_IDENTITY;
	default:
		return SK_TRUST_BAD_BUNDLE;
	}
}

static void set_result(struct sk_trust_sig_result *r, enum sk_trust_reason reason, const char *what,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_result(struct sk_trust_sig_result *r, enum sk_trust_reason reason, const char *what,
		       const char *fmt, ...)
{
	va_list ap;
	int off;

	r->reason = reason;
	off = snprintf(r->msg, sizeof(r->msg), "bundle %.80s: ", what ? what : "");
	if (off < 0 || (size_t)off >= sizeof(r->msg))
		off = 0;
	va_start(ap, fmt);
	vsnprintf(r->msg + off, sizeof(r->msg) - (size_t)off, fmt, ap);
	va_end(ap);
}

/* The root for keyless bundles: the policy's, else the default one if installed. */
static const struct sk_sigstore_root *root_for(struct judge *j)
{
	const struct sk_policy_ids *ids = sk_policy_ids(j->p);
	struct sk_error e = {0};

	if (ids->root || j->root || j->root_why[0])
		return ids->root ? ids->root : j->root;
	if (access(SK_SIGSTORE_ROOT_DEFAULT, F_OK)) {
		snprintf(j->root_why, sizeof(j->root_why),
			 "no Sigstore trusted root: %s does not exist (install it, "
			 "docs/sigstore.md, or name one with \"trusted_root\" in the policy)",
			 SK_SIGSTORE_ROOT_DEFAULT);
		return NULL;
	}
	if (sk_sigstore_root_load(SK_SIGSTORE_ROOT_DEFAULT, &j->own_root, &e)) {
		snprintf(j->root_why, sizeof(j->root_why), "%.1500s", e.msg);
		return NULL;
	}
	j->root = j->own_root;
	return j->root;
}

/* What a verified bundle must say besides its signature: a signature, and the required annotations.
 */
static bool check_content(const struct sk_scope_view *s, const struct sk_bundle_result *r,
			  const char *what, struct sk_trust_sig_result *out)
{
	if (r->content == SK_BUNDLE_DSSE &&
	    (!r->predicate_type || strcmp(r->predicate_type, SK_COSIGN_SIGN_PREDICATE))) {
		set_result(out, SK_TRUST_BAD_PAYLOAD, what,
			   "an attestation (predicate type %.200s), not a signature (%s)",
			   r->predicate_type ? r->predicate_type : "none",
			   SK_COSIGN_SIGN_PREDICATE);
		return false;
	}
	for (size_t i = 0; i < s->req_keys->n; i++) {
		const char *have = NULL;
		size_t kl = strlen(s->req_keys->v[i]);

		for (size_t a = 0; a < r->annotations.n && !have; a++)
			if (!strncmp(r->annotations.v[a], s->req_keys->v[i], kl) &&
			    r->annotations.v[a][kl] == '=')
				have = r->annotations.v[a] + kl + 1;
		if (!have || strcmp(have, s->req_values->v[i])) {
			set_result(out, SK_TRUST_ANNOTATION_MISSING, what,
				   "required annotation %.100s=%.100s missing%s%.100s%s",
				   s->req_keys->v[i], s->req_values->v[i],
				   have ? " (payload has " : "", have ? have : "", have ? ")" : "");
			return false;
		}
	}
	return true;
}

/* A bundle with a public-key hint: the scope's keys, then the policy's others for the message. */
static void judge_keyed(struct judge *j, const struct sk_scope_view *s, const struct parsed *pb,
			struct sk_trust_sig_result *out)
{
	const struct sk_sigstore_root *root = root_for(j);
	struct sk_bundle_result r = {0};
	enum sk_bundle_check failed = SK_BUNDLE_CHECK_NONE;
	struct sk_bundle_policy bp = {.allow_no_tlog = true, .failed = &failed};
	struct sk_error e = {0};
	char names[600] = "";
	size_t off = 0;

	for (size_t i = 0; i < s->nkeys; i++) {
		const char *name = NULL;

		bp.key = sk_policy_key(j->p, s->keys[i], &name);
		off += (size_t)snprintf(names + off, off < sizeof(names) ? sizeof(names) - off : 0,
					"%s%s", i ? ", " : "", name);
		if (off >= sizeof(names))
			off = sizeof(names);
		if (!sk_bundle_verify_digest(pb->b, root, &bp, j->digest, &r, &e)) {
			snprintf(out->key, sizeof(out->key), "%s", name);
			if (check_content(s, &r, pb->what, out)) {
				out->reason = SK_TRUST_OK;
				snprintf(out->msg, sizeof(out->msg),
					 "bundle %.80s: verified with key \"%s\"", pb->what, name);
			}
			sk_bundle_result_free(&r);
			return;
		}
		sk_bundle_result_free(&r);
		if (failed == SK_BUNDLE_CHECK_SIGNATURE)
			continue;
		/* this key made the signature; something after it failed */
		snprintf(out->key, sizeof(out->key), "%s", name);
		set_result(out, reason_of(failed), pb->what, "%s%s%.1000s",
			   !root && failed == SK_BUNDLE_CHECK_TLOG ? j->root_why : "",
			   !root && failed == SK_BUNDLE_CHECK_TLOG ? ": " : "", e.msg);
		return;
	}
	for (size_t k = 0; k < sk_policy_nkeys(j->p); k++) {
		const char *name = NULL;
		bool in_scope = false;

		for (size_t i = 0; i < s->nkeys; i++)
			in_scope = in_scope || s->keys[i] == k;
		if (in_scope)
			continue;
		bp.key = sk_policy_key(j->p, k, &name);
		sk_bundle_verify_digest(pb->b, root, &bp, j->digest, &r, NULL);
		sk_bundle_result_free(&r);
		if (failed != SK_BUNDLE_CHECK_SIGNATURE && failed != SK_BUNDLE_CHECK_POLICY) {
			set_result(
			    out, SK_TRUST_UNTRUSTED_KEY, pb->what,
			    "signed by an untrusted key: key \"%s\" is not trusted for scope "
			    "%s",
			    name, s->name);
			return;
		}
	}
	if (!s->nkeys)
		set_result(out, SK_TRUST_NOT_VERIFIED, pb->what,
			   "signed with a key, and scope %s trusts no key (only identities)",
			   s->name);
	else
		set_result(out, SK_TRUST_NOT_VERIFIED, pb->what,
			   "modified payload or untrusted key: the signature does not verify with "
			   "any key trusted for scope %s (%s)",
			   s->name, names);
}

/* A keyless bundle: the trusted root, then the scope's identities. */
static void judge_keyless(struct judge *j, const struct sk_scope_view *s, const struct parsed *pb,
			  struct sk_trust_sig_result *out)
{
	const struct sk_policy_ids *ids = sk_policy_ids(j->p);
	const struct sk_sigstore_root *root = root_for(j);
	struct match_ctx m = {.ids = ids, .scope = s};
	struct sk_bundle_result r = {0};
	enum sk_bundle_check failed = SK_BUNDLE_CHECK_NONE;
	struct sk_bundle_policy bp = {.match = match_scope, .match_ctx = &m, .failed = &failed};
	struct sk_error e = {0};

	if (!root) {
		set_result(out, SK_TRUST_BAD_BUNDLE, pb->what, "signed keyless, and %s",
			   j->root_why);
		return;
	}
	if (sk_bundle_verify_digest(pb->b, root, &bp, j->digest, &r, &e)) {
		set_result(out, reason_of(failed), pb->what, "%.1500s", e.msg);
		sk_bundle_result_free(&r);
		return;
	}
	snprintf(out->key, sizeof(out->key), "%s", ids->v[m.matched].name);
	if (check_content(s, &r, pb->what, out)) {
		out->reason = SK_TRUST_OK;
		snprintf(out->msg, sizeof(out->msg),
			 "bundle %.80s: verified keyless, identity \"%s\" (%.200s, issuer %.200s)",
			 pb->what, ids->v[m.matched].name, r.san, r.issuer);
	}
	sk_bundle_result_free(&r);
}

static void judge_bundle(struct judge *j, const struct sk_scope_view *s, const struct parsed *pb,
			 struct sk_trust_sig_result *out)
{
	memset(out, 0, sizeof(*out));
	if (!pb->b)
		set_result(out, SK_TRUST_BAD_BUNDLE, pb->what, "%s", pb->why);
	else if (sk_bundle_material(pb->b) == SK_BUNDLE_PUBLIC_KEY)
		judge_keyed(j, s, pb, out);
	else
		judge_keyless(j, s, pb, out);
}

static int evaluate(struct judge *j, const char *repo, bool mirrors, struct sk_trust_verdict *v,
		    struct sk_trust_sig_result *bres);

/*
 * A bundle names no repository: through a mirror scope it could have been
 * made for any origin the mirror stands for, so each of them must accept it
 * as well (the origin judged without its own mirrors), or it does not count.
 */
static int check_mirror_origins(struct judge *j, const struct sk_scope_view *s, const char *repo,
				struct sk_trust_sig_result *bres)
{
	struct sk_trust_sig_result *ob = NULL;
	size_t slen = strlen(s->name);
	int ret = 0;

	if (s->is_default || !s->mirror_of->n)
		return 0;
	ob = calloc(j->nb ? j->nb : 1, sizeof(*ob));
	if (!ob)
		return -ENOMEM;
	for (size_t m = 0; !ret && m < s->mirror_of->n; m++) {
		struct sk_trust_verdict ov;
		char origin[SK_REFERENCE_MAX];

		snprintf(origin, sizeof(origin), "%s%s", s->mirror_of->v[m], repo + slen);
		ret = evaluate(j, origin, false, &ov, ob);
		for (size_t i = 0; !ret && i < j->nb; i++) {
			if (bres[i].reason != SK_TRUST_OK ||
			    (ov.reason == SK_TRUST_OK && ob[i].reason == SK_TRUST_OK))
				continue;
			bres[i].reason = ov.reason == SK_TRUST_OK ? ob[i].reason : ov.reason;
			snprintf(bres[i].msg, sizeof(bres[i].msg),
				 "bundle %.80s names no repository, so through mirror scope %.100s "
				 "it counts only if origin scope %.100s accepts it too (a mirror "
				 "only narrows trust): %.500s",
				 j->bundles[i].what, s->name, ov.scope,
				 ov.reason == SK_TRUST_OK ? ob[i].msg : ov.msg);
		}
		sk_trust_verdict_free(&ov);
	}
	free(ob);
	return ret;
}

/* Fills v (legacy verdict merged with the bundles'); 0 whether trusted or not, or -ENOMEM. */
static int evaluate(struct judge *j, const char *repo, bool mirrors, struct sk_trust_verdict *v,
		    struct sk_trust_sig_result *bres)
{
	struct sk_scope_view s;
	const struct sk_trust_sig_result *best = NULL;
	struct sk_error e = {0};
	size_t signers;
	int ret;

	sk_policy_scope_view(j->p, repo, &s);
	for (size_t i = 0; i < j->nb; i++) {
		memset(&bres[i], 0, sizeof(bres[i]));
		bres[i].reason = SK_TRUST_NOT_VERIFIED;
		snprintf(bres[i].msg, sizeof(bres[i].msg), "bundle %.80s: not judged",
			 j->bundles[i].what);
	}
	ret = sk_policy_evaluate(j->p, repo, j->digest, j->sigs, j->n, v, &e);
	if (ret && ret != -EKEYREJECTED)
		return ret;
	if (!j->nb && !s.ids->n)
		return 0; /* keys alone: exactly what policy.c decided */
	if (!s.nkeys && !s.ids->n)
		return 0; /* fenced off: no trusted key or identity */
	for (size_t i = 0; i < j->nb; i++)
		judge_bundle(j, &s, &j->bundles[i], &bres[i]);
	if (mirrors) {
		ret = check_mirror_origins(j, &s, repo, bres);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < j->nb; i++)
		if (bres[i].reason == SK_TRUST_OK && sk_strv_push(&v->matched, bres[i].key))
			return -ENOMEM;
	sk_strv_sort_uniq(&v->matched);
	v->threshold = s.threshold;
	snprintf(v->scope, sizeof(v->scope), "%s", s.name);
	signers = s.nkeys + s.ids->n;
	if (v->matched.n && v->matched.n >= s.threshold) {
		char *list = sk_strv_join(&v->matched, ", ");

		v->reason = SK_TRUST_OK;
		snprintf(v->msg, sizeof(v->msg), "verified %s: signed by %s (scope %s)", j->digest,
			 list ? list : "?", s.name);
		free(list);
		return 0;
	}
	if (v->matched.n) {
		char *list = sk_strv_join(&v->matched, ", ");

		v->reason = SK_TRUST_THRESHOLD;
		snprintf(v->msg, sizeof(v->msg), "threshold %u of %zu %s not met (%zu matched: %s)",
			 s.threshold, signers, s.ids->n ? "keys and identities" : "keys",
			 v->matched.n, list ? list : "?");
		free(list);
		return 0;
	}
	for (size_t i = 0; i < v->nsigs; i++)
		if (!best || rank(v->sigs[i].reason) > rank(best->reason))
			best = &v->sigs[i];
	for (size_t i = 0; i < j->nb; i++)
		if (!best || rank(bres[i].reason) > rank(best->reason))
			best = &bres[i];
	if (best) {
		v->reason = best->reason;
		snprintf(v->msg, sizeof(v->msg), "%s", best->msg);
		if (j->n + j->nb > 1)
			snprintf(v->msg + strlen(v->msg), sizeof(v->msg) - strlen(v->msg),
				 " (%zu signatures checked, none accepted)", j->n + j->nb);
	} else if (j->n) {
		/* key-based signatures, and the scope trusts identities only */
		v->reason = SK_TRUST_NOT_VERIFIED;
		snprintf(v->msg, sizeof(v->msg),
			 "scope %s trusts only identities (keyless Sigstore bundles): the %zu "
			 "key-based signature%s found cannot count",
			 s.name, j->n, j->n == 1 ? "" : "s");
	} else {
		v->reason = SK_TRUST_NO_SIGNATURE;
		snprintf(v->msg, sizeof(v->msg), "no signature for %s in %.300s", j->digest, repo);
	}
	return 0;
}

int sk_policy_evaluate_bundles(const struct sk_policy *p, const char *repo, const char *digest,
			       const struct sk_trust_signature *sigs, size_t n,
			       const struct sk_trust_bundle *bundles, size_t nb,
			       struct sk_trust_verdict *v, struct sk_trust_sig_result *bres,
			       struct sk_error *err)
{
	struct judge j = {.p = p, .digest = digest, .sigs = sigs, .n = n, .nb = nb};
	struct sk_trust_sig_result *own = NULL;
	int ret = 0;

	memset(v, 0, sizeof(*v));
	if (!sk_trust_repo_valid(repo, false))
		return sk_errf(err, -EINVAL, "\"%s\" is not a repository name (HOST/REPO)", repo);
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
	j.bundles = calloc(nb ? nb : 1, sizeof(*j.bundles));
	if (!bres)
		bres = own = calloc(nb ? nb : 1, sizeof(*bres));
	if (!j.bundles || !bres) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nb; i++) {
		struct sk_error e = {0};

		j.bundles[i].what = bundles[i].what ? bundles[i].what : "";
		if (sk_bundle_parse(bundles[i].data, bundles[i].len, "Sigstore bundle",
				    &j.bundles[i].b, &e))
			snprintf(j.bundles[i].why, sizeof(j.bundles[i].why), "%.1500s", e.msg);
	}
	ret = evaluate(&j, repo, true, v, bres);
	if (ret) {
		ret = sk_errf(err, ret, "out of memory");
		goto out;
	}
	if (v->reason != SK_TRUST_OK)
		ret = sk_errf(err, -EKEYREJECTED, "%.300s@%s is not trusted: %s", repo, digest,
			      v->msg);
out:
	for (size_t i = 0; j.bundles && i < nb; i++)
		sk_bundle_free(j.bundles[i].b);
	free(j.bundles);
	free(own);
	sk_sigstore_root_free(j.own_root);
	return ret;
}

int sk_trust_judge_bundles(const struct sk_verify_opts *o, const char *identity, const char *digest,
			   const struct sk_trust_signature *sigs, size_t n,
			   const struct sk_trust_bundle *bundles, size_t nb,
			   struct sk_verify_result *res, bool *accepted, bool *bundle_accepted,
			   struct sk_error *err)
{
	struct sk_trust_verdict v = {0};
	struct sk_trust_sig_result *bres = NULL;
	struct sk_policy *p = NULL;
	size_t skipped = res->skipped;
	int ret;

	sk_strv_free(&res->matched);
	memset(res, 0, sizeof(*res));
	res->skipped = skipped;
	snprintf(res->digest, sizeof(res->digest), "%s", digest);
	snprintf(res->identity, sizeof(res->identity), "%s", identity);
	res->reason = SK_TRUST_NOT_VERIFIED;
	res->nsigs = n + nb;
	for (size_t i = 0; accepted && i < n; i++)
		accepted[i] = false;
	for (size_t i = 0; bundle_accepted && i < nb; i++)
		bundle_accepted[i] = false;
	bres = calloc(nb ? nb : 1, sizeof(*bres));
	if (!bres)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_trust_load_policy(o, &p, err);
	if (ret)
		goto out;
	ret = sk_policy_evaluate_bundles(p, identity, digest, sigs, n, bundles, nb, &v, bres, err);
	res->reason = ret ? v.reason : SK_TRUST_OK;
	snprintf(res->scope, sizeof(res->scope), "%s", v.scope);
	for (size_t i = 0; !ret && i < v.matched.n; i++)
		if (sk_strv_push(&res->matched, v.matched.v[i]))
			ret = sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; !ret && accepted && i < v.nsigs && i < n; i++)
		accepted[i] = v.sigs[i].reason == SK_TRUST_OK;
	for (size_t i = 0; !ret && bundle_accepted && i < nb; i++)
		bundle_accepted[i] = bres[i].reason == SK_TRUST_OK;
out:
	sk_trust_verdict_free(&v);
	sk_policy_free(p);
	free(bres);
	return ret;
}

/* ---- linting ---- */

static void lint_identity(const char *name, struct json_object *spec, sk_identity_lint_fn add,
			  void *ctx)
{
	struct sk_policy_identity id = {0};
	struct sk_error e = {0};
	char where[SK_KEY_NAME_MAX + 32], why[1024];
	struct json_object *v;

	snprintf(where, sizeof(where), "identities.%s", name);
	if (json_object_is_type(spec, json_type_object)) {
		json_object_object_foreach(spec, key, val)
		{
			const char *near;
			char hint[300];
			bool ok = false;

			(void)val;
			for (size_t i = 0; identity_fields[i]; i++)
				ok = ok || !strcmp(key, identity_fields[i]);
			if (ok)
				continue;
			near = sk_suggest(key, identity_fields, 4);
			snprintf(hint, sizeof(hint),
				 "%s%s%sallowed: issuer, subject, subject_regexp, github",
				 near ? "did you mean \"" : "", near ? near : "",
				 near ? "\"? (" : "");
			if (near)
				snprintf(hint + strlen(hint), sizeof(hint) - strlen(hint), ")");
			snprintf(why, sizeof(why),
				 "unknown field \"%s\" (unknown fields are refused, so that a typo "
				 "never weakens a policy)",
				 key);
			add(ctx, SK_LINT_ERROR, where, hint, why);
		}
		if (json_object_object_get_ex(spec, "subject_regexp", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    sk_identity_regex_check(json_object_get_string(v), why, sizeof(why))) {
			add(ctx, SK_LINT_ERROR, where,
			    "anchor it at both ends, e.g. "
			    "\"^https://github\\\\.com/org/repo/\\\\.github/workflows/"
			    "release\\\\.yml@refs/"
			    "tags/v[0-9.]+$\"",
			    why);
			return;
		}
	}
	if (parse_identity(name, spec, NULL, &id, &e))
		add(ctx, SK_LINT_ERROR, where,
		    "{\"issuer\": \"https://token.actions.githubusercontent.com\", \"subject\": "
		    "\"https://github.com/org/repo/.github/workflows/release.yml@refs/heads/"
		    "main\"}",
		    e.msg);
	identity_free(&id);
}

void sk_identity_lint_policy(struct json_object *root, const char *base_dir,
			     struct sk_strv *defined, sk_identity_lint_fn add, void *ctx)
{
	struct json_object *ids, *tr, *keys = NULL;
	struct sk_sigstore_root *r = NULL;
	struct sk_error e = {0};
	const char *path = NULL;
	char *full = NULL, hint[1200];

	json_object_object_get_ex(root, "keys", &keys);
	if (json_object_object_get_ex(root, "identities", &ids)) {
		if (!json_object_is_type(ids, json_type_object)) {
			add(ctx, SK_LINT_ERROR, "identities",
			    "\"identities\": {\"release-ci\": {\"issuer\": ..., \"subject\": ...}}",
			    "\"identities\" must be an object of named identities");
		} else {
			json_object_object_foreach(ids, name, spec)
			{
				char where[SK_KEY_NAME_MAX + 32];

				snprintf(where, sizeof(where), "identities.%s", name);
				if (sk_strv_push(defined, name))
					return;
				if (keys && json_object_is_type(keys, json_type_object) &&
				    json_object_object_get_ex(keys, name, NULL))
					add(ctx, SK_LINT_ERROR, where, "rename one of them",
					    "names both a key and an identity (thresholds count "
					    "signers by name)");
				lint_identity(name, spec, add, ctx);
			}
		}
	}
	if (json_object_object_get_ex(root, "trusted_root", &tr)) {
		if (!json_object_is_type(tr, json_type_string) || !*json_object_get_string(tr)) {
			add(ctx, SK_LINT_ERROR, "trusted_root",
			    "\"trusted_root\": \"sigstore/trusted_root.json\"",
			    "\"trusted_root\" must be the path of a trusted_root.json");
			return;
		}
		path = json_object_get_string(tr);
		full = path[0] == '/' || !base_dir ? strdup(path) : sk_path_join(base_dir, path);
		path = full;
	} else if (defined->n) {
		path = SK_SIGSTORE_ROOT_DEFAULT;
	}
	if (!path)
		return;
	snprintf(hint, sizeof(hint),
		 "install the Sigstore trusted root at %s (docs/sigstore.md: from the public-good "
		 "instance's TUF repository, or your own instance's)%s",
		 path, full ? "; a relative path is taken from the policy's directory" : "");
	if (sk_sigstore_root_load(path, &r, &e))
		add(ctx, SK_LINT_ERROR, "trusted_root", hint, e.msg);
	sk_sigstore_root_free(r);
	free(full);
}

size_t sk_identity_lint_scope(struct json_object *scope, const char *where,
			      const struct sk_strv *defined, struct sk_strv *used,
			      sk_identity_lint_fn add, void *ctx)
{
	struct json_object *list;
	struct sk_strv seen = {0};
	size_t n;

	if (!json_object_object_get_ex(scope, "identities", &list))
		return 0;
	if (!json_object_is_type(list, json_type_array)) {
		add(ctx, SK_LINT_ERROR, where, "\"identities\": [\"release-ci\"]",
		    "\"identities\" must be a list of identity names");
		return 0;
	}
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *name = json_object_get_string(e), *near;
		char hint[400], msg[400];

		if (!json_object_is_type(e, json_type_string)) {
			add(ctx, SK_LINT_ERROR, where, NULL,
			    "\"identities\" must hold identity names");
			continue;
		}
		if (sk_strv_contains(&seen, name)) {
			snprintf(msg, sizeof(msg), "identity \"%s\" listed twice", name);
			add(ctx, SK_LINT_ERROR, where, "list each identity once", msg);
		}
		sk_strv_push(&seen, name);
		sk_strv_push(used, name);
		if (sk_strv_contains(defined, name))
			continue;
		near = sk_suggest(name, (const char *const *)defined->v, defined->n);
		if (near)
			snprintf(hint, sizeof(hint), "did you mean \"%s\"?", near);
		else
			snprintf(hint, sizeof(hint),
				 "define it under \"identities\" (issuer and subject)");
		snprintf(msg, sizeof(msg), "identity \"%s\" is not defined in \"identities\"",
			 name);
		add(ctx, SK_LINT_ERROR, where, hint, msg);
	}
	sk_strv_free(&seen);
	return n;
}
