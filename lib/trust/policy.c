/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/oci.h"
#include "schedkit/trust.h"
#include "identity.h"
#include "internal.h"

#define DEFAULT_SCOPE "default"

struct named_key {
	char name[SK_KEY_NAME_MAX];
	struct sk_key *key;
};

struct scope {
	char *name;
	size_t *keys; /* indices into policy->keys */
	size_t nkeys;
	unsigned threshold;
	struct sk_strv req_keys; /* parallel to req_values */
	struct sk_strv req_values;
	struct sk_strv mirror_of;
	struct sk_scope_ids ids; /* keyless identities (identity.c) */
};

struct sk_policy {
	struct named_key *keys;
	size_t nkeys;
	struct scope *scopes;
	size_t nscopes;
	struct scope def;	  /* no keys when the policy has no "default": reject */
	struct sk_policy_ids ids; /* identities and the trusted root (identity.c) */
};

static void scope_free(struct scope *s)
{
	free(s->name);
	free(s->keys);
	sk_strv_free(&s->req_keys);
	sk_strv_free(&s->req_values);
	sk_strv_free(&s->mirror_of);
	sk_identity_scope_free(&s->ids);
}

void sk_policy_free(struct sk_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nkeys; i++)
		sk_key_free(p->keys[i].key);
	free(p->keys);
	for (size_t i = 0; p->scopes && i < p->nscopes; i++)
		scope_free(&p->scopes[i]);
	free(p->scopes);
	scope_free(&p->def);
	sk_identity_policy_free(&p->ids);
	free(p);
}

static int load_key(struct sk_policy *p, const char *name, struct json_object *spec,
		    const char *what, const char *base_dir, struct sk_error *err)
{
	static const char *const fields[] = {"path", "pem", NULL};
	struct json_object *path = NULL, *pem = NULL;
	struct named_key *nk = &p->keys[p->nkeys];
	char ctx[SK_KEY_NAME_MAX + 600];
	char *full = NULL;
	int ret;

	snprintf(ctx, sizeof(ctx), "%s: key \"%s\"", what, name);
	if (!sk_trust_name_valid(name))
		return sk_errf(err, -EINVAL,
			       "%s: key names use letters, digits, '-', '_' and '.' (at most %d)",
			       ctx, SK_KEY_NAME_MAX - 1);
	if (json_object_is_type(spec, json_type_string)) {
		path = spec;
	} else if (json_object_is_type(spec, json_type_object)) {
		ret = sk_trust_json_only(spec, fields, ctx, err);
		if (ret)
			return ret;
		json_object_object_get_ex(spec, "path", &path);
		json_object_object_get_ex(spec, "pem", &pem);
		if (!path == !pem)
			return sk_errf(err, -EINVAL, "%s: give exactly one of \"path\" or \"pem\"",
				       ctx);
	} else {
		return sk_errf(err, -EINVAL,
			       "%s: must be a path string or an object with \"path\" or \"pem\"",
			       ctx);
	}
	if ((path && !json_object_is_type(path, json_type_string)) ||
	    (pem && !json_object_is_type(pem, json_type_string)))
		return sk_errf(err, -EINVAL, "%s: \"path\"/\"pem\" must be a string", ctx);
	if (pem) {
		const char *s = json_object_get_string(pem);

		ret = sk_key_load_public(s, strlen(s), ctx, &nk->key, err);
	} else {
		const char *s = json_object_get_string(path);

		if (!*s)
			return sk_errf(err, -EINVAL, "%s: empty path", ctx);
		full = s[0] == '/' || !base_dir ? strdup(s) : sk_path_join(base_dir, s);
		if (!full)
			return sk_errf(err, -ENOMEM, "out of memory");
		ret = sk_key_load_public_file(full, &nk->key, err);
		if (ret)
			sk_err_prefix(err, "%s: ", ctx);
	}
	free(full);
	if (ret)
		return ret;
	snprintf(nk->name, sizeof(nk->name), "%s", name);
	p->nkeys++;
	return 0;
}

static int find_key(const struct sk_policy *p, const char *name, size_t *idx)
{
	for (size_t i = 0; i < p->nkeys; i++) {
		if (!strcmp(p->keys[i].name, name)) {
			*idx = i;
			return 0;
		}
	}
	return -ENOENT;
}

static int parse_scope(struct sk_policy *p, const char *name, struct json_object *obj,
		       bool is_default, const char *what, struct scope *s, struct sk_error *err)
{
	static const char *const fields[] = {"keys",	  "threshold",	"require",
					     "mirror_of", "identities", NULL};
	struct json_object *keys, *v;
	char ctx[1200];
	size_t n;
	int ret;

	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	if (!s->name)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (is_default)
		snprintf(ctx, sizeof(ctx), "%s: \"default\"", what);
	else
		snprintf(ctx, sizeof(ctx), "%s: scope \"%s\"", what, name);
	if (!is_default && !sk_trust_repo_valid(name, true))
		return sk_errf(err, -EINVAL,
			       "%s: not a registry host or repository (HOST[:PORT][/PATH], no "
			       "scheme, tag or digest)",
			       ctx);
	if (!json_object_is_type(obj, json_type_object))
		return sk_errf(err, -EINVAL, "%s: must be an object", ctx);
	ret = sk_trust_json_only(obj, fields, ctx, err);
	if (!ret)
		ret = sk_identity_parse_scope(obj, &p->ids, ctx, &s->ids, err);
	if (ret)
		return ret;
	/* a scope that trusts identities may leave out "keys" */
	keys = NULL;
	json_object_object_get_ex(obj, "keys", &keys);
	if (keys ? !json_object_is_type(keys, json_type_array) : !s->ids.n)
		return sk_errf(err, -EINVAL,
			       "%s: \"keys\" (a list of key names, [] to reject everything) is "
			       "required",
			       ctx);
	n = keys ? json_object_array_length(keys) : 0;
	s->keys = calloc(n ? n : 1, sizeof(*s->keys));
	if (!s->keys)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *k = json_object_array_get_idx(keys, i);
		const char *kn = json_object_get_string(k);
		size_t idx;

		if (!json_object_is_type(k, json_type_string))
			return sk_errf(err, -EINVAL, "%s: \"keys\" must hold key names", ctx);
		if (find_key(p, kn, &idx))
			return sk_errf(err, -EINVAL, "%s: key \"%s\" is not defined in \"keys\"",
				       ctx, kn);
		for (size_t j = 0; j < s->nkeys; j++)
			if (s->keys[j] == idx)
				return sk_errf(err, -EINVAL, "%s: key \"%s\" listed twice", ctx,
					       kn);
		s->keys[s->nkeys++] = idx;
	}
	/* keys and identities count toward the threshold alike */
	n += s->ids.n;
	s->threshold = n ? 1 : 0;
	if (json_object_object_get_ex(obj, "threshold", &v)) {
		int64_t t = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || t < 1)
			return sk_errf(err, -EINVAL,
				       "%s: bad threshold %s: it must be a whole number >= 1", ctx,
				       json_object_to_json_string(v));
		if ((uint64_t)t > n)
			return sk_errf(err, -EINVAL,
				       "%s: bad threshold %lld: more than the %zu key(s)%s listed",
				       ctx, (long long)t, n, s->ids.n ? " and identities" : "");
		s->threshold = (unsigned)t;
	}
	if (json_object_object_get_ex(obj, "require", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return sk_errf(err, -EINVAL,
				       "%s: \"require\" must be an object of string values", ctx);
		json_object_object_foreach(v, rk, rv)
		{
			if (!*rk || !json_object_is_type(rv, json_type_string))
				return sk_errf(err, -EINVAL,
					       "%s: require \"%s\" must have a string value", ctx,
					       rk);
			if (sk_strv_push(&s->req_keys, rk) ||
			    sk_strv_push(&s->req_values, json_object_get_string(rv)))
				return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	if (json_object_object_get_ex(obj, "mirror_of", &v)) {
		if (is_default)
			return sk_errf(err, -EINVAL,
				       "%s: \"mirror_of\" needs a scope to replace; put it in a "
				       "scope",
				       ctx);
		if (!json_object_is_type(v, json_type_array))
			return sk_errf(err, -EINVAL, "%s: \"mirror_of\" must be a list", ctx);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *m = json_object_array_get_idx(v, i);

			if (!json_object_is_type(m, json_type_string) ||
			    !sk_trust_repo_valid(json_object_get_string(m), true))
				return sk_errf(err, -EINVAL,
					       "%s: mirror_of entries must be registry hosts or "
					       "repositories",
					       ctx);
			if (sk_strv_push(&s->mirror_of, json_object_get_string(m)))
				return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

int sk_policy_parse(const void *data, size_t len, const char *what, const char *base_dir,
		    struct sk_policy **out, struct sk_error *err)
{
	static const char *const fields[] = {"$schema", "version",    "keys",	      "scopes",
					     "default", "identities", "trusted_root", NULL};
	struct json_object *root = NULL, *v, *keys = NULL, *scopes = NULL;
	struct sk_policy *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_trust_json_parse(data, len, SK_POLICY_MAX, what, &root, err);
	if (ret)
		goto out;
	ret = sk_trust_json_only(root, fields, what, err);
	if (ret) {
		ret = -EINVAL;
		goto out;
	}
	if (!json_object_object_get_ex(root, "version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int(v) != 1) {
		ret = sk_errf(err, -EINVAL, "%s: \"version\": 1 is required", what);
		goto out;
	}
	if (json_object_object_get_ex(root, "$schema", &v) &&
	    !json_object_is_type(v, json_type_string)) {
		ret = sk_errf(err, -EINVAL, "%s: \"$schema\" must be a string", what);
		goto out;
	}
	if (json_object_object_get_ex(root, "keys", &keys) &&
	    !json_object_is_type(keys, json_type_object)) {
		ret = sk_errf(err, -EINVAL, "%s: \"keys\" must be an object of named keys", what);
		goto out;
	}
	if (keys) {
		p->keys = calloc(json_object_object_length(keys) + 1, sizeof(*p->keys));
		if (!p->keys) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		json_object_object_foreach(keys, kname, kspec)
		{
			ret = load_key(p, kname, kspec, what, base_dir, err);
			if (ret)
				goto out;
		}
	}
	ret = sk_identity_parse_policy(root, keys, what, base_dir, &p->ids, err);
	if (ret)
		goto out;
	if (json_object_object_get_ex(root, "scopes", &scopes) &&
	    !json_object_is_type(scopes, json_type_object)) {
		ret = sk_errf(err, -EINVAL, "%s: \"scopes\" must be an object", what);
		goto out;
	}
	if (scopes) {
		p->scopes = calloc(json_object_object_length(scopes) + 1, sizeof(*p->scopes));
		if (!p->scopes) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		json_object_object_foreach(scopes, sname, sobj)
		{
			ret = parse_scope(p, sname, sobj, false, what, &p->scopes[p->nscopes], err);
			p->nscopes++;
			if (ret)
				goto out;
		}
	}
	if (json_object_object_get_ex(root, "default", &v)) {
		ret = parse_scope(p, DEFAULT_SCOPE, v, true, what, &p->def, err);
	} else {
		p->def.name = strdup(DEFAULT_SCOPE);
		ret = p->def.name ? 0 : sk_errf(err, -ENOMEM, "out of memory");
	}
	if (ret)
		goto out;
	*out = p;
	p = NULL;
out:
	sk_policy_free(p);
	json_object_put(root);
	return ret;
}

int sk_policy_load(const char *path, struct sk_policy **out, struct sk_error *err)
{
	uint8_t *data = NULL;
	char *copy = NULL;
	size_t len = 0;
	int ret;

	ret = sk_read_file(path, SK_POLICY_MAX, &data, &len, err);
	if (ret) {
		sk_err_prefix(err, "trust policy: ");
		return ret;
	}
	copy = strdup(path);
	if (!copy) {
		free(data);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	ret = sk_policy_parse(data, len, path, dirname(copy), out, err);
	free(copy);
	free(data);
	return ret;
}

int sk_policy_from_keys(const char *const *paths, size_t n, const struct sk_strv *require,
			struct sk_policy **out, struct sk_error *err)
{
	struct sk_policy *p = calloc(1, sizeof(*p));
	int ret = 0;

	if (!p)
		return sk_errf(err, -ENOMEM, "out of memory");
	p->keys = calloc(n + 1, sizeof(*p->keys));
	p->def.keys = calloc(n + 1, sizeof(*p->def.keys));
	p->def.name = strdup("--key");
	if (!p->keys || !p->def.keys || !p->def.name) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ret = sk_key_load_public_file(paths[i], &p->keys[i].key, err);
		if (ret)
			goto out;
		snprintf(p->keys[i].name, sizeof(p->keys[i].name), "%s", paths[i]);
		p->nkeys++;
		p->def.keys[p->def.nkeys++] = i;
	}
	p->def.threshold = n ? 1 : 0;
	for (size_t i = 0; require && i < require->n; i++) {
		const char *value;
		char *key;

		ret = sk_trust_split_kv(require->v[i], &key, &value, "required annotation", err);
		if (ret)
			goto out;
		ret = sk_strv_push(&p->def.req_keys, key) || sk_strv_push(&p->def.req_values, value)
			  ? sk_errf(err, -ENOMEM, "out of memory")
			  : 0;
		free(key);
		if (ret)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	sk_policy_free(p);
	return ret;
}

/* scope equals repo, or is a prefix of it ending at a '/'. */
static bool scope_covers(const char *scope, const char *repo)
{
	size_t n = strlen(scope);

	return !strncmp(scope, repo, n) && (repo[n] == '\0' || repo[n] == '/');
}

static const struct scope *find_scope(const struct sk_policy *p, const char *repo)
{
	const struct scope *best = &p->def;
	size_t best_len = 0;

	for (size_t i = 0; i < p->nscopes; i++) {
		size_t len = strlen(p->scopes[i].name);

		if (scope_covers(p->scopes[i].name, repo) && len > best_len) {
			best = &p->scopes[i];
			best_len = len;
		}
	}
	return best;
}

const char *sk_policy_scope_for(const struct sk_policy *p, const char *repo)
{
	return find_scope(p, repo)->name;
}

const char *sk_trust_reason_str(enum sk_trust_reason r)
{
	switch (r) {
	case SK_TRUST_OK:
		return "trusted";
	case SK_TRUST_NO_SCOPE:
		return "no trusted key for scope";
	case SK_TRUST_NO_SIGNATURE:
		return "no signature";
	case SK_TRUST_BAD_BASE64:
		return "corrupted base64 signature";
	case SK_TRUST_NOT_VERIFIED:
		return "modified payload or untrusted key";
	case SK_TRUST_UNTRUSTED_KEY:
		return "signature by an untrusted key";
	case SK_TRUST_BAD_PAYLOAD:
		return "invalid payload";
	case SK_TRUST_OTHER_DIGEST:
		return "payload for another digest";
	case SK_TRUST_OTHER_REPO:
		return "signature copied from another repository";
	case SK_TRUST_ANNOTATION_MISSING:
		return "required annotation missing";
	case SK_TRUST_THRESHOLD:
		return "threshold not met";
	case SK_TRUST_BAD_BUNDLE:
		return "invalid Sigstore bundle";
	case SK_TRUST_UNTRUSTED_IDENTITY:
		return "untrusted identity";
	}
	return "unknown";
}

/* How far a rejected signature got: the furthest one explains the verdict best. */
static int reason_rank(enum sk_trust_reason r)
{
	switch (r) {
	case SK_TRUST_ANNOTATION_MISSING:
		return 7;
	case SK_TRUST_OTHER_REPO:
		return 6;
	case SK_TRUST_OTHER_DIGEST:
		return 5;
	case SK_TRUST_BAD_PAYLOAD:
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

/*
 * The identities a payload may name for repo: repo itself, and (mirrors) its
 * mirror_of remaps, which set *via_mirror.
 */
static bool identity_ok(const struct scope *s, const char *repo, const char *ref, bool mirrors,
			bool *via_mirror)
{
	size_t slen = strlen(s->name);

	*via_mirror = false;
	if (!strcmp(ref, repo))
		return true;
	for (size_t i = 0; mirrors && i < s->mirror_of.n; i++) {
		const char *m = s->mirror_of.v[i];
		size_t mlen = strlen(m);

		/* repo is scope + rest; the original is mirror + the same rest. */
		if (!strncmp(ref, m, mlen) && !strcmp(ref + mlen, repo + slen)) {
			*via_mirror = true;
			return true;
		}
	}
	return false;
}

static void key_list(const struct sk_policy *p, const struct scope *s, char *out, size_t size)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->nkeys && off < size; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%s", i ? ", " : "",
					p->keys[s->keys[i]].name);
}

/* origin: set to the repository the payload names when it was accepted through mirror_of. */
static void judge_one(const struct sk_policy *p, const struct scope *s, const char *repo,
		      const char *digest, const struct sk_trust_signature *sig,
		      struct sk_key **scope_keys, bool mirrors, struct sk_trust_sig_result *r,
		      char origin[SK_REFERENCE_MAX])
{
	struct sk_payload pl = {0};
	struct sk_error e = {0};
	bool via_mirror;
	size_t idx = 0;
	char names[600];
	int ret;

	r->key[0] = '\0';
	origin[0] = '\0';
	if (sig->payload_len > SK_PAYLOAD_MAX) {
		r->reason = SK_TRUST_BAD_PAYLOAD;
		snprintf(r->msg, sizeof(r->msg), "payload of %zu bytes is larger than %u",
			 sig->payload_len, SK_PAYLOAD_MAX);
		return;
	}
	ret = sk_verify_any(scope_keys, s->nkeys, sig->payload, sig->payload_len,
			    sig->signature ? sig->signature : "", &idx, &e);
	if (ret == -EILSEQ) {
		r->reason = SK_TRUST_BAD_BASE64;
		snprintf(r->msg, sizeof(r->msg), "corrupted base64 signature");
		return;
	}
	if (ret) {
		/* Signed by a key the policy knows but does not trust here? Say which. */
		for (size_t i = 0; i < p->nkeys; i++) {
			bool in_scope = false;

			for (size_t j = 0; j < s->nkeys; j++)
				in_scope = in_scope || s->keys[j] == i;
			if (!in_scope && !sk_verify(p->keys[i].key, sig->payload, sig->payload_len,
						    sig->signature, NULL)) {
				r->reason = SK_TRUST_UNTRUSTED_KEY;
				snprintf(r->msg, sizeof(r->msg),
					 "signature by an untrusted key: key \"%s\" is not trusted "
					 "for scope %s",
					 p->keys[i].name, s->name);
				return;
			}
		}
		key_list(p, s, names, sizeof(names));
		r->reason = SK_TRUST_NOT_VERIFIED;
		snprintf(r->msg, sizeof(r->msg),
			 "modified payload or untrusted key: the signature does not verify with "
			 "any key trusted for scope %s (%s)",
			 s->name, names);
		return;
	}
	snprintf(r->key, sizeof(r->key), "%s", p->keys[s->keys[idx]].name);
	if (sk_payload_parse(sig->payload, sig->payload_len, &pl, &e)) {
		r->reason = SK_TRUST_BAD_PAYLOAD;
		snprintf(r->msg, sizeof(r->msg), "%.500s", e.msg);
		return;
	}
	if (strcmp(pl.digest, digest)) {
		r->reason = SK_TRUST_OTHER_DIGEST;
		snprintf(r->msg, sizeof(r->msg), "payload for another digest (%.80s)", pl.digest);
		goto out;
	}
	if (!identity_ok(s, repo, pl.reference, mirrors, &via_mirror)) {
		r->reason = SK_TRUST_OTHER_REPO;
		snprintf(r->msg, sizeof(r->msg),
			 "signature copied from another repository (docker-reference %.300s)",
			 pl.reference);
		goto out;
	}
	for (size_t i = 0; i < s->req_keys.n; i++) {
		const char *have = sk_payload_annotation(&pl, s->req_keys.v[i]);

		if (!have || strcmp(have, s->req_values.v[i])) {
			r->reason = SK_TRUST_ANNOTATION_MISSING;
			snprintf(r->msg, sizeof(r->msg),
				 "required annotation %.100s=%.100s missing%s%.100s%s",
				 s->req_keys.v[i], s->req_values.v[i], have ? " (payload has " : "",
				 have ? have : "", have ? ")" : "");
			goto out;
		}
	}
	r->reason = SK_TRUST_OK;
	snprintf(r->msg, sizeof(r->msg), "verified with key \"%s\"", r->key);
	if (via_mirror)
		snprintf(origin, SK_REFERENCE_MAX, "%s", pl.reference);
out:
	sk_payload_free(&pl);
}

static int evaluate(const struct sk_policy *p, const char *repo, const char *digest,
		    const struct sk_trust_signature *sigs, size_t n, bool mirrors,
		    struct sk_trust_verdict *v);

/*
 * A mirror may only narrow trust: signatures accepted for repo because they
 * name a mirror_of origin count only if the scope covering that origin
 * accepts the same signatures too (its fence, threshold, keys and require).
 * The origin is judged without mirrors, so this never recurses further.
 * Refused signatures get the origin's reason; refused[i] marks them.
 */
static int check_origins(const struct sk_policy *p, const char *digest,
			 const struct sk_trust_signature *sigs, size_t n,
			 char (*origins)[SK_REFERENCE_MAX], struct sk_trust_verdict *v,
			 bool *refused)
{
	for (size_t i = 0; i < n; i++) {
		struct sk_trust_verdict ov;
		int ret;

		if (!origins[i][0])
			continue;
		ret = evaluate(p, origins[i], digest, sigs, n, false, &ov);
		/* Every signature naming this origin shares its verdict; judged once. */
		for (size_t j = n; j-- > i;) {
			struct sk_trust_sig_result *r = &v->sigs[j];

			if (j != i && strcmp(origins[j], origins[i]))
				continue;
			if (!ret && ov.reason != SK_TRUST_OK) {
				r->reason = ov.reason;
				refused[j] = true;
				snprintf(r->msg, sizeof(r->msg),
					 "signed for %.200s, which its origin scope %.200s refuses "
					 "(a mirror only narrows trust): %s",
					 origins[i], ov.scope, ov.msg);
			}
			origins[j][0] = '\0';
		}
		sk_trust_verdict_free(&ov);
		if (ret)
			return ret;
	}
	return 0;
}

/* Fills v; returns 0 whether trusted or not (v->reason says), or -ENOMEM. */
static int evaluate(const struct sk_policy *p, const char *repo, const char *digest,
		    const struct sk_trust_signature *sigs, size_t n, bool mirrors,
		    struct sk_trust_verdict *v)
{
	const struct scope *s;
	struct sk_key **keys = NULL;
	char(*origins)[SK_REFERENCE_MAX] = NULL;
	bool *refused = NULL;
	const struct sk_trust_sig_result *best = NULL;
	int ret = 0;

	memset(v, 0, sizeof(*v));
	s = find_scope(p, repo);
	snprintf(v->scope, sizeof(v->scope), "%s", s->name);
	v->threshold = s->threshold;
	if (!s->nkeys) {
		v->reason = SK_TRUST_NO_SCOPE;
		snprintf(v->msg, sizeof(v->msg), "no trusted key for scope %s%s", s->name,
			 s == &p->def && strcmp(s->name, "--key")
			     ? " (no scope of the policy covers "
			     : "");
		if (s == &p->def && strcmp(s->name, "--key"))
			snprintf(v->msg + strlen(v->msg), sizeof(v->msg) - strlen(v->msg),
				 "%.300s, and the default is reject)", repo);
		return 0;
	}
	if (!n) {
		v->reason = SK_TRUST_NO_SIGNATURE;
		snprintf(v->msg, sizeof(v->msg), "no signature for %s in %.300s", digest, repo);
		return 0;
	}
	keys = calloc(s->nkeys, sizeof(*keys));
	v->sigs = calloc(n, sizeof(*v->sigs));
	origins = calloc(n, sizeof(*origins));
	refused = calloc(n, sizeof(*refused));
	if (!keys || !v->sigs || !origins || !refused) {
		ret = -ENOMEM;
		goto out;
	}
	v->nsigs = n;
	for (size_t i = 0; i < s->nkeys; i++)
		keys[i] = p->keys[s->keys[i]].key;
	for (size_t i = 0; i < n; i++)
		judge_one(p, s, repo, digest, &sigs[i], keys, mirrors, &v->sigs[i], origins[i]);
	ret = check_origins(p, digest, sigs, n, origins, v, refused);
	if (ret)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (v->sigs[i].reason == SK_TRUST_OK) {
			if (sk_strv_push(&v->matched, v->sigs[i].key)) {
				ret = -ENOMEM;
				goto out;
			}
			continue;
		}
		/* An origin's refusal comes after every check of this scope: it explains most. */
		if (!best || (refused[i] && !refused[best - v->sigs]) ||
		    (refused[i] == refused[best - v->sigs] &&
		     reason_rank(v->sigs[i].reason) > reason_rank(best->reason)))
			best = &v->sigs[i];
	}
	sk_strv_sort_uniq(&v->matched);
	if (v->matched.n >= s->threshold) {
		char *list = sk_strv_join(&v->matched, ", ");

		v->reason = SK_TRUST_OK;
		snprintf(v->msg, sizeof(v->msg), "verified %s: signed by %s (scope %s)", digest,
			 list ? list : "?", s->name);
		free(list);
		goto out;
	}
	if (v->matched.n) {
		char *list = sk_strv_join(&v->matched, ", ");

		v->reason = SK_TRUST_THRESHOLD;
		snprintf(v->msg, sizeof(v->msg),
			 "threshold %u of %zu keys not met (%zu matched: %s)", s->threshold,
			 s->nkeys, v->matched.n, list ? list : "?");
		free(list);
	} else {
		/* n > 0 and none accepted (matched is empty), so best was set in the loop. */
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
		v->reason = best->reason;
		snprintf(v->msg, sizeof(v->msg), "%s", best->msg);
		if (n > 1)
			snprintf(v->msg + strlen(v->msg), sizeof(v->msg) - strlen(v->msg),
				 " (%zu signatures checked, none accepted)", n);
	}
out:
	free(keys);
	free(origins);
	free(refused);
	return ret;
}

int sk_policy_evaluate(const struct sk_policy *p, const char *repo, const char *digest,
		       const struct sk_trust_signature *sigs, size_t n, struct sk_trust_verdict *v,
		       struct sk_error *err)
{
	int ret;

	memset(v, 0, sizeof(*v));
	if (!sk_trust_repo_valid(repo, false))
		return sk_errf(err, -EINVAL, "\"%s\" is not a repository name (HOST/REPO)", repo);
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
	ret = evaluate(p, repo, digest, sigs, n, true, v);
	if (ret)
		return sk_errf(err, ret, "out of memory");
	if (v->reason != SK_TRUST_OK)
		return sk_errf(err, -EKEYREJECTED, "%.300s@%s is not trusted: %s", repo, digest,
			       v->msg);
	return 0;
}

void sk_trust_verdict_free(struct sk_trust_verdict *v)
{
	sk_strv_free(&v->matched);
	free(v->sigs);
	v->sigs = NULL;
	v->nsigs = 0;
}

/* ---- identity.c's view of a scope (Sigstore bundles and identities) ---- */

void sk_policy_scope_view(const struct sk_policy *p, const char *repo, struct sk_scope_view *v)
{
	const struct scope *s = find_scope(p, repo);

	v->name = s->name;
	v->is_default = s == &p->def;
	v->threshold = s->threshold;
	v->keys = s->keys;
	v->nkeys = s->nkeys;
	v->req_keys = &s->req_keys;
	v->req_values = &s->req_values;
	v->mirror_of = &s->mirror_of;
	v->ids = &s->ids;
}

size_t sk_policy_nkeys(const struct sk_policy *p)
{
	return p->nkeys;
}

const struct sk_key *sk_policy_key(const struct sk_policy *p, size_t i, const char **name)
{
	*name = p->keys[i].name;
	return p->keys[i].key;
}

const struct sk_policy_ids *sk_policy_ids(const struct sk_policy *p)
{
	return &p->ids;
}

/*
 * ---- the linter (skrun policy check, skrun doctor) ----
 *
 * It walks the same document the loader reads, with the same rules, but
 * records every problem (where, what, how to fix it) and goes on, and adds
 * what the loader accepts but cannot be meant: keys nothing trusts, mirrors
 * whose origin no scope trusts, a policy that trusts nothing. Whatever it
 * passes is loaded once more at the end, so it never passes a policy that
 * verification would refuse.
 */

static const char *const top_fields[] = {"$schema", "version",	  "keys",	  "scopes",
					 "default", "identities", "trusted_root", NULL};
static const char *const key_fields[] = {"path", "pem", NULL};
static const char *const scope_fields[] = {"keys",	"threshold",  "require",
					   "mirror_of", "identities", NULL};

struct lint {
	struct sk_policy_lint *out;
	const char *path;
	const char *base_dir;
	struct sk_strv key_names; /* defined, whether or not they loaded */
	struct sk_strv used_keys;
	struct sk_strv keyed_scopes; /* scopes that list at least one key or identity */
	struct sk_strv mirrors;	     /* "SCOPE\tORIGIN" */
	struct sk_strv id_names;     /* identities defined (identity.c lints them) */
	struct sk_strv used_ids;
	bool oom;
};

static void lint_add(struct lint *l, enum sk_lint_severity sev, const char *where, const char *hint,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void lint_add(struct lint *l, enum sk_lint_severity sev, const char *where, const char *hint,
		     const char *fmt, ...)
{
	struct sk_policy_lint *o = l->out;
	struct sk_lint_problem *np = realloc(o->v, (o->n + 1) * sizeof(*np));
	va_list ap;
	char *msg = NULL;

	if (!np) {
		l->oom = true;
		return;
	}
	o->v = np;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	np[o->n].severity = sev;
	np[o->n].msg = msg;
	np[o->n].where = strdup(where ? where : "");
	np[o->n].hint = hint ? strdup(hint) : NULL;
	if (!msg || !np[o->n].where || (hint && !np[o->n].hint))
		l->oom = true;
	o->n++;
	if (sev == SK_LINT_ERROR)
		o->errors++;
	else
		o->warnings++;
}

/* identity.c reports its problems through this. */
static void lint_add_ids(void *ctx, enum sk_lint_severity sev, const char *where, const char *hint,
			 const char *msg)
{
	lint_add(ctx, sev, where, hint, "%s", msg);
}

/* Unknown fields, each with the allowed one it most resembles. */
static void lint_fields(struct lint *l, struct json_object *obj, const char *const *allowed,
			const char *where)
{
	size_t n = 0;

	while (allowed[n])
		n++;
	json_object_object_foreach(obj, key, val)
	{
		const char *near;
		char hint[600], list[300] = "", at[700];
		size_t off = 0;
		bool ok = false;

		(void)val;
		for (size_t i = 0; i < n; i++)
			ok = ok || !strcmp(key, allowed[i]);
		if (ok)
			continue;
		for (size_t i = 0; i < n && off < sizeof(list); i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						i ? ", " : "", allowed[i]);
		near = sk_suggest(key, allowed, n);
		if (near)
			snprintf(hint, sizeof(hint), "did you mean \"%s\"? (allowed: %s)", near,
				 list);
		else
			snprintf(hint, sizeof(hint), "allowed here: %s", list);
		snprintf(at, sizeof(at), "%s%s%s", where, *where ? "." : "", key);
		lint_add(l, SK_LINT_ERROR, at, hint,
			 "unknown field \"%s\" (unknown fields are refused, so that a typo never "
			 "weakens a policy)",
			 key);
	}
}

static void lint_key(struct lint *l, const char *name, struct json_object *spec)
{
	struct json_object *path = NULL, *pem = NULL;
	struct sk_key *k = NULL;
	struct sk_error e = {0};
	char where[SK_KEY_NAME_MAX + 32], *full = NULL;

	snprintf(where, sizeof(where), "keys.%s", name);
	if (!sk_trust_name_valid(name))
		lint_add(l, SK_LINT_ERROR, where, "rename it",
			 "key names use letters, digits, '-', '_' and '.' (at most %d)",
			 SK_KEY_NAME_MAX - 1);
	if (json_object_is_type(spec, json_type_string)) {
		path = spec;
	} else if (json_object_is_type(spec, json_type_object)) {
		lint_fields(l, spec, key_fields, where);
		json_object_object_get_ex(spec, "path", &path);
		json_object_object_get_ex(spec, "pem", &pem);
		if (!path == !pem) {
			lint_add(l, SK_LINT_ERROR, where,
				 "{\"path\": \"keys/ci.pub\"} or {\"pem\": \"-----BEGIN PUBLIC "
				 "KEY-----...\"}",
				 "give exactly one of \"path\" or \"pem\"");
			return;
		}
	} else {
		lint_add(l, SK_LINT_ERROR, where, "\"ci\": \"keys/ci.pub\"",
			 "must be a path string or an object with \"path\" or \"pem\"");
		return;
	}
	if ((path && !json_object_is_type(path, json_type_string)) ||
	    (pem && !json_object_is_type(pem, json_type_string))) {
		lint_add(l, SK_LINT_ERROR, where, NULL, "\"path\"/\"pem\" must be a string");
		return;
	}
	if (pem) {
		const char *s = json_object_get_string(pem);

		if (sk_key_load_public(s, strlen(s), where, &k, &e))
			lint_add(l, SK_LINT_ERROR, where,
				 "paste the whole PEM of an ECDSA P-256 or Ed25519 public key "
				 "(skbuild key generate writes one)",
				 "%s", e.msg);
	} else {
		const char *s = json_object_get_string(path);

		if (!*s) {
			lint_add(l, SK_LINT_ERROR, where, NULL, "empty path");
			return;
		}
		full = s[0] == '/' || !l->base_dir ? strdup(s) : sk_path_join(l->base_dir, s);
		if (!full) {
			l->oom = true;
			return;
		}
		if (sk_key_load_public_file(full, &k, &e)) {
			char hint[1200];

			if (e.code == -ENOENT || e.code == -EACCES)
				snprintf(
				    hint, sizeof(hint),
				    "a relative path is taken from the policy's directory (%s); "
				    "put the public key at %s or fix the path",
				    l->base_dir ? l->base_dir : ".", full);
			else
				snprintf(
				    hint, sizeof(hint),
				    "use an ECDSA P-256 or Ed25519 PUBLIC KEY PEM (skbuild key "
				    "generate, cosign generate-key-pair)");
			lint_add(l, SK_LINT_ERROR, where, hint, "%s", e.msg);
		}
	}
	free(full);
	sk_key_free(k);
}

static void lint_scope(struct lint *l, const char *name, struct json_object *obj, bool is_default)
{
	struct json_object *keys, *v;
	char where[700];
	size_t n = 0, nids;

	if (is_default)
		snprintf(where, sizeof(where), "default");
	else
		snprintf(where, sizeof(where), "scopes.\"%s\"", name);
	if (!is_default && !sk_trust_repo_valid(name, true))
		lint_add(l, SK_LINT_ERROR, where,
			 "name a registry (\"r.example.com:5000\") or a repository prefix "
			 "(\"r.example.com/team\")",
			 "not a registry host or repository (HOST[:PORT][/PATH], no scheme, tag or "
			 "digest)");
	if (!json_object_is_type(obj, json_type_object)) {
		lint_add(l, SK_LINT_ERROR, where, "{\"keys\": [\"ci\"]}", "must be an object");
		return;
	}
	lint_fields(l, obj, scope_fields, where);
	nids = sk_identity_lint_scope(obj, where, &l->id_names, &l->used_ids, lint_add_ids, l);
	if (!json_object_object_get_ex(obj, "keys", &keys) && nids) {
		/* identities alone: "keys" may be left out */
		if (sk_strv_push(&l->keyed_scopes, is_default ? "default" : name))
			l->oom = true;
	} else if (!keys || !json_object_is_type(keys, json_type_array)) {
		lint_add(l, SK_LINT_ERROR, where, "\"keys\": [\"ci\"], or [] to fence it off",
			 "\"keys\" (a list of key names, [] to reject everything) is required");
	} else {
		struct sk_strv seen = {0};

		n = json_object_array_length(keys);
		for (size_t i = 0; i < n; i++) {
			struct json_object *k = json_object_array_get_idx(keys, i);
			const char *kn = json_object_get_string(k), *near;
			char hint[400];

			if (!json_object_is_type(k, json_type_string)) {
				lint_add(l, SK_LINT_ERROR, where, NULL,
					 "\"keys\" must hold key names");
				continue;
			}
			if (sk_strv_contains(&seen, kn))
				lint_add(l, SK_LINT_ERROR, where, "list each key once",
					 "key \"%s\" listed twice", kn);
			if (sk_strv_push(&seen, kn) || sk_strv_push(&l->used_keys, kn))
				l->oom = true;
			if (sk_strv_contains(&l->key_names, kn))
				continue;
			near = sk_suggest(kn, (const char *const *)l->key_names.v, l->key_names.n);
			if (near)
				snprintf(hint, sizeof(hint), "did you mean \"%s\"?", near);
			else
				snprintf(
				    hint, sizeof(hint),
				    "define it under \"keys\" (a name and its public key file)");
			lint_add(l, SK_LINT_ERROR, where, hint,
				 "key \"%s\" is not defined in \"keys\"", kn);
		}
		sk_strv_free(&seen);
		if ((n || nids) && sk_strv_push(&l->keyed_scopes, is_default ? "default" : name))
			l->oom = true;
	}
	n += nids; /* identities count toward the threshold too */
	if (json_object_object_get_ex(obj, "threshold", &v)) {
		int64_t t = json_object_get_int64(v);
		char hint[200];

		snprintf(hint, sizeof(hint), "a whole number from 1 to %zu (the keys%s listed)", n,
			 nids ? " and identities" : "");
		if (!json_object_is_type(v, json_type_int) || t < 1)
			lint_add(l, SK_LINT_ERROR, where, hint,
				 "bad threshold %s: it must be a whole number >= 1",
				 json_object_to_json_string(v));
		else if ((uint64_t)t > n)
			lint_add(l, SK_LINT_ERROR, where, n ? hint : "list the keys it counts",
				 "bad threshold %lld: more than the %zu key(s) listed",
				 (long long)t, n);
	}
	if (json_object_object_get_ex(obj, "require", &v)) {
		if (!json_object_is_type(v, json_type_object)) {
			lint_add(l, SK_LINT_ERROR, where,
				 "\"require\": {\"stage\": \"production\"}",
				 "\"require\" must be an object of string values");
		} else {
			json_object_object_foreach(v, rk, rv)
			{
				if (!*rk || !json_object_is_type(rv, json_type_string))
					lint_add(l, SK_LINT_ERROR, where,
						 "\"require\": {\"stage\": \"production\"}",
						 "require \"%s\" must have a string value", rk);
			}
		}
	}
	if (json_object_object_get_ex(obj, "mirror_of", &v)) {
		if (is_default) {
			lint_add(l, SK_LINT_ERROR, where,
				 "move it into the scope of the mirror's registry",
				 "\"mirror_of\" needs a scope to replace; put it in a scope");
		} else if (!json_object_is_type(v, json_type_array)) {
			lint_add(l, SK_LINT_ERROR, where,
				 "\"mirror_of\": [\"registry.example.com\"]",
				 "\"mirror_of\" must be a list");
		} else {
			for (size_t i = 0; i < json_object_array_length(v); i++) {
				struct json_object *m = json_object_array_get_idx(v, i);
				const char *ms = json_object_get_string(m);
				char pair[1100];

				if (!json_object_is_type(m, json_type_string) ||
				    !sk_trust_repo_valid(ms, true)) {
					lint_add(l, SK_LINT_ERROR, where,
						 "name registries or repositories, as scopes are "
						 "named",
						 "mirror_of entries must be registry hosts or "
						 "repositories");
					continue;
				}
				if (!strcmp(ms, name))
					lint_add(l, SK_LINT_WARNING, where, "remove it",
						 "mirror_of names the scope itself");
				snprintf(pair, sizeof(pair), "%s\t%s", name, ms);
				if (sk_strv_push(&l->mirrors, pair))
					l->oom = true;
			}
		}
	}
}

/* What the loader accepts but cannot be meant. */
static void lint_meaning(struct lint *l, struct json_object *root)
{
	for (size_t i = 0; i < l->key_names.n; i++)
		if (!sk_strv_contains(&l->used_keys, l->key_names.v[i])) {
			char where[SK_KEY_NAME_MAX + 8];

			snprintf(where, sizeof(where), "keys.%s", l->key_names.v[i]);
			lint_add(
			    l, SK_LINT_WARNING, where,
			    "list it in the \"keys\" of a scope (or \"default\"), or remove it",
			    "key \"%s\" is defined but no scope trusts it", l->key_names.v[i]);
		}
	for (size_t i = 0; i < l->mirrors.n; i++) {
		const char *tab = strchr(l->mirrors.v[i], '\t'), *origin = tab + 1;
		const char *best =
		    json_object_object_get_ex(root, "default", NULL) ? "default" : NULL;
		size_t best_len = 0;
		char where[700], hint[900];
		struct json_object *scopes;

		/* the scope that covers the origin, as find_scope picks it */
		if (json_object_object_get_ex(root, "scopes", &scopes) &&
		    json_object_is_type(scopes, json_type_object)) {
			json_object_object_foreach(scopes, sname, sobj)
			{
				(void)sobj;
				if (scope_covers(sname, origin) && strlen(sname) > best_len) {
					best = sname;
					best_len = strlen(sname);
				}
			}
		}
		if (best && sk_strv_contains(&l->keyed_scopes, best))
			continue;
		snprintf(where, sizeof(where), "scopes.\"%.*s\".mirror_of",
			 (int)(tab - l->mirrors.v[i]), l->mirrors.v[i]);
		snprintf(hint, sizeof(hint),
			 "add a scope for %s with the keys that sign there (a mirror only narrows "
			 "the origin's trust)",
			 origin);
		if (best)
			lint_add(l, SK_LINT_WARNING, where, hint,
				 "the origin %s falls to %s, which lists no key: every signature "
				 "accepted through this mirror is refused",
				 origin, best);
		else
			lint_add(l, SK_LINT_WARNING, where, hint,
				 "no scope covers the origin %s: every signature accepted through "
				 "this mirror is refused",
				 origin);
	}
	for (size_t i = 0; i < l->id_names.n; i++)
		if (!sk_strv_contains(&l->used_ids, l->id_names.v[i])) {
			char where[SK_KEY_NAME_MAX + 16];

			snprintf(where, sizeof(where), "identities.%s", l->id_names.v[i]);
			lint_add(l, SK_LINT_WARNING, where,
				 "list it in the \"identities\" of a scope (or \"default\"), or "
				 "remove it",
				 "identity \"%s\" is defined but no scope trusts it",
				 l->id_names.v[i]);
		}
	if (!l->keyed_scopes.n)
		lint_add(l, SK_LINT_WARNING, "", "add a scope with keys (docs/policy.md)",
			 "no scope and no default lists a key: every artifact is refused");
}

int sk_policy_lint(const char *path, struct sk_policy_lint *out, struct sk_error *err)
{
	struct lint l = {.out = out, .path = path};
	struct json_object *root = NULL, *v, *keys, *scopes;
	struct sk_policy *p = NULL;
	struct sk_error e = {0};
	uint8_t *data = NULL;
	char *copy = NULL;
	size_t len = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (sk_read_file(path, SK_POLICY_MAX, &data, &len, &e)) {
		lint_add(&l, SK_LINT_ERROR, "",
			 "write a trust policy there (docs/policy.md) or pass the file to check",
			 "%s", e.msg);
		goto out;
	}
	copy = strdup(path);
	if (!copy) {
		l.oom = true;
		goto out;
	}
	l.base_dir = dirname(copy);
	if (sk_trust_json_parse(data, len, SK_POLICY_MAX, path, &root, &e)) {
		lint_add(&l, SK_LINT_ERROR, "", "fix the JSON syntax (docs/policy.schema.json)",
			 "%s", e.msg);
		goto out;
	}
	lint_fields(&l, root, top_fields, "");
	if (!json_object_object_get_ex(root, "version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int(v) != 1)
		lint_add(&l, SK_LINT_ERROR, "version", "\"version\": 1",
			 "\"version\": 1 is required");
	if (json_object_object_get_ex(root, "$schema", &v) &&
	    !json_object_is_type(v, json_type_string))
		lint_add(&l, SK_LINT_ERROR, "$schema", NULL, "\"$schema\" must be a string");
	if (json_object_object_get_ex(root, "keys", &keys)) {
		if (!json_object_is_type(keys, json_type_object)) {
			lint_add(&l, SK_LINT_ERROR, "keys", "\"keys\": {\"ci\": \"keys/ci.pub\"}",
				 "\"keys\" must be an object of named keys");
		} else {
			json_object_object_foreach(keys, kname, kspec)
			{
				if (sk_strv_push(&l.key_names, kname))
					l.oom = true;
				lint_key(&l, kname, kspec);
			}
		}
	}
	sk_identity_lint_policy(root, l.base_dir, &l.id_names, lint_add_ids, &l);
	if (json_object_object_get_ex(root, "scopes", &scopes)) {
		if (!json_object_is_type(scopes, json_type_object)) {
			lint_add(
			    &l, SK_LINT_ERROR, "scopes",
			    "\"scopes\": {\"registry.example.com/team\": {\"keys\": [\"ci\"]}}",
			    "\"scopes\" must be an object");
		} else {
			json_object_object_foreach(scopes, sname, sobj)
			{
				out->nscopes++;
				lint_scope(&l, sname, sobj, false);
			}
		}
	}
	if (json_object_object_get_ex(root, "default", &v))
		lint_scope(&l, "default", v, true);
	lint_meaning(&l, root);
	out->nkeys = l.key_names.n;
	/* the loader has the last word: nothing it refuses passes here */
	if (!out->errors && sk_policy_load(path, &p, &e))
		lint_add(&l, SK_LINT_ERROR, "", NULL, "%s", e.msg);
out:
	if (l.oom)
		ret = sk_errf(err, -ENOMEM, "out of memory");
	sk_policy_free(p);
	json_object_put(root);
	free(copy);
	free(data);
	sk_strv_free(&l.key_names);
	sk_strv_free(&l.used_keys);
	sk_strv_free(&l.keyed_scopes);
	sk_strv_free(&l.mirrors);
	sk_strv_free(&l.id_names);
	sk_strv_free(&l.used_ids);
	return ret;
}

void sk_policy_lint_free(struct sk_policy_lint *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		free(l->v[i].where);
		free(l->v[i].msg);
		free(l->v[i].hint);
	}
	if (l) {
		free(l->v);
		memset(l, 0, sizeof(*l));
	}
}

const char *sk_lint_severity_str(enum sk_lint_severity s)
{
	return s == SK_LINT_ERROR ? "error" : "warning";
}

struct json_object *sk_policy_lint_to_json(const char *path, const struct sk_policy_lint *l)
{
	struct json_object *o = json_object_new_object(), *list = json_object_new_array();

	if (!o || !list) {
		json_object_put(o);
		json_object_put(list);
		return NULL;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct json_object *p = json_object_new_object();

		if (!p ||
		    sk_json_add(p, "severity",
				json_object_new_string(sk_lint_severity_str(l->v[i].severity))) ||
		    sk_json_add(p, "where", json_object_new_string(l->v[i].where)) ||
		    sk_json_add(p, "message", json_object_new_string(l->v[i].msg)) ||
		    json_object_object_add(
			p, "hint", l->v[i].hint ? json_object_new_string(l->v[i].hint) : NULL) ||
		    json_object_array_add(list, p)) {
			json_object_put(p);
			json_object_put(list);
			json_object_put(o);
			return NULL;
		}
	}
	if (sk_json_add(o, "policy", json_object_new_string(path)) ||
	    sk_json_add(o, "ok", json_object_new_boolean(!l->errors)) ||
	    sk_json_add(o, "errors", json_object_new_int64((int64_t)l->errors)) ||
	    sk_json_add(o, "warnings", json_object_new_int64((int64_t)l->warnings)) ||
	    sk_json_add(o, "keys", json_object_new_int64((int64_t)l->nkeys)) ||
	    sk_json_add(o, "scopes", json_object_new_int64((int64_t)l->nscopes))) {
		json_object_put(list);
		json_object_put(o);
		return NULL;
	}
	/* sk_json_add releases list when it fails */
	if (sk_json_add(o, "problems", list)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
