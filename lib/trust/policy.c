/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/oci.h"
#include "schedkit/trust.h"
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
};

struct sk_policy {
	struct named_key *keys;
	size_t nkeys;
	struct scope *scopes;
	size_t nscopes;
	struct scope def; /* no keys when the policy has no "default": reject */
};

static void scope_free(struct scope *s)
{
	free(s->name);
	free(s->keys);
	sk_strv_free(&s->req_keys);
	sk_strv_free(&s->req_values);
	sk_strv_free(&s->mirror_of);
}

void sk_policy_free(struct sk_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nkeys; i++)
		sk_key_free(p->keys[i].key);
	free(p->keys);
	for (size_t i = 0; i < p->nscopes; i++)
		scope_free(&p->scopes[i]);
	free(p->scopes);
	scope_free(&p->def);
	free(p);
}

static bool key_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= SK_KEY_NAME_MAX)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			return false;
	return true;
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
	if (!key_name_valid(name))
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
	static const char *const fields[] = {"keys", "threshold", "require", "mirror_of", NULL};
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
	if (ret)
		return ret;
	if (!json_object_object_get_ex(obj, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array))
		return sk_errf(err, -EINVAL,
			       "%s: \"keys\" (a list of key names, [] to reject everything) is "
			       "required",
			       ctx);
	n = json_object_array_length(keys);
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
	s->threshold = n ? 1 : 0;
	if (json_object_object_get_ex(obj, "threshold", &v)) {
		int64_t t = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || t < 1)
			return sk_errf(err, -EINVAL,
				       "%s: bad threshold %s: it must be a whole number >= 1", ctx,
				       json_object_to_json_string(v));
		if ((uint64_t)t > n)
			return sk_errf(err, -EINVAL,
				       "%s: bad threshold %lld: more than the %zu key(s) listed",
				       ctx, (long long)t, n);
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
	static const char *const fields[] = {"$schema", "version", "keys",
					     "scopes",	"default", NULL};
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
