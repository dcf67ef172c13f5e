/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/oci.h"
#include "schedkit/trust.h"
#include "internal.h"

struct kv {
	char *key;
	const char *value;
};

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

/* cosign's "optional" is a Go map, which encoding/json writes sorted by key. */
static int build_optional(const struct sk_strv *annotations, struct json_object **out,
			  struct sk_error *err)
{
	struct json_object *opt = NULL;
	struct kv *kvs;
	size_t n = annotations->n;
	int ret = 0;

	kvs = calloc(n, sizeof(*kvs));
	if (!kvs)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		ret = sk_trust_split_kv(annotations->v[i], &kvs[i].key, &kvs[i].value, "annotation",
					err);
		if (ret)
			goto out;
	}
	qsort(kvs, n, sizeof(*kvs), kv_cmp);
	for (size_t i = 1; i < n; i++) {
		if (!strcmp(kvs[i].key, kvs[i - 1].key)) {
			ret = sk_errf(err, -EINVAL, "annotation \"%s\" given twice", kvs[i].key);
			goto out;
		}
	}
	opt = json_object_new_object();
	if (!opt) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		json_object_object_add(opt, kvs[i].key, json_object_new_string(kvs[i].value));
	*out = opt;
out:
	for (size_t i = 0; i < n; i++)
		free(kvs[i].key);
	free(kvs);
	return ret;
}

int sk_payload_build(const char *reference, const char *digest, const struct sk_strv *annotations,
		     struct sk_buf *out, struct sk_error *err)
{
	struct json_object *root = NULL, *crit, *ident, *image, *opt = NULL;
	const char *s;
	size_t len;
	int ret;

	if (!sk_trust_repo_valid(reference, false))
		return sk_errf(err, -EINVAL,
			       "\"%s\" is not a repository name (HOST/REPO, without tag or digest)",
			       reference);
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
	if (annotations && annotations->n) {
		ret = build_optional(annotations, &opt, err);
		if (ret)
			return ret;
	}
	root = json_object_new_object();
	crit = json_object_new_object();
	ident = json_object_new_object();
	image = json_object_new_object();
	if (!root || !crit || !ident || !image) {
		json_object_put(crit);
		json_object_put(ident);
		json_object_put(image);
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_add(ident, "docker-reference", json_object_new_string(reference));
	json_object_object_add(image, "docker-manifest-digest", json_object_new_string(digest));
	json_object_object_add(crit, "identity", ident);
	json_object_object_add(crit, "image", image);
	json_object_object_add(crit, "type", json_object_new_string(SK_COSIGN_SIGNATURE_TYPE));
	json_object_object_add(root, "critical", crit);
	json_object_object_add(root, "optional", opt); /* NULL serializes as null */
	opt = NULL;
	s = sk_trust_json_str(root, &len);
	ret = s && !sk_buf_append(out, s, len) ? 0 : sk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(opt);
	json_object_put(root);
	return ret;
}

/* obj[key] as the only field of obj, a string. */
static int only_string(struct json_object *obj, const char *key, const char *what, const char **out,
		       struct sk_error *err)
{
	const char *const allowed[] = {key, NULL};
	struct json_object *v;
	int ret;

	if (!json_object_is_type(obj, json_type_object))
		return sk_errf(err, -EBADMSG, "payload: %s is not an object", what);
	ret = sk_trust_json_only(obj, allowed, what, err);
	if (ret) {
		sk_err_prefix(err, "payload: ");
		return ret;
	}
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return sk_errf(err, -EBADMSG, "payload: %s.%s is missing or not a string", what,
			       key);
	*out = json_object_get_string(v);
	return 0;
}

int sk_payload_parse(const void *data, size_t len, struct sk_payload *out, struct sk_error *err)
{
	static const char *const top_keys[] = {"critical", "optional", NULL};
	static const char *const crit_keys[] = {"identity", "image", "type", NULL};
	struct json_object *root = NULL, *crit, *v;
	const char *ref, *digest;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = sk_trust_json_parse(data, len, SK_PAYLOAD_MAX, "payload", &root, err);
	if (ret)
		return ret == -EFBIG ? -EBADMSG : ret;
	ret = sk_trust_json_only(root, top_keys, "payload", err);
	if (ret)
		goto out;
	if (!json_object_object_get_ex(root, "critical", &crit) ||
	    !json_object_is_type(crit, json_type_object)) {
		ret = sk_errf(err, -EBADMSG, "payload: \"critical\" is missing or not an object");
		goto out;
	}
	ret = sk_trust_json_only(crit, crit_keys, "payload: critical", err);
	if (ret)
		goto out;
	if (!json_object_object_get_ex(crit, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), SK_COSIGN_SIGNATURE_TYPE)) {
		ret = sk_errf(err, -EBADMSG, "payload: critical.type is not \"%s\"",
			      SK_COSIGN_SIGNATURE_TYPE);
		goto out;
	}
	if (!json_object_object_get_ex(crit, "identity", &v)) {
		ret = sk_errf(err, -EBADMSG, "payload: critical.identity is missing");
		goto out;
	}
	ret = only_string(v, "docker-reference", "critical.identity", &ref, err);
	if (ret)
		goto out;
	if (!json_object_object_get_ex(crit, "image", &v)) {
		ret = sk_errf(err, -EBADMSG, "payload: critical.image is missing");
		goto out;
	}
	ret = only_string(v, "docker-manifest-digest", "critical.image", &digest, err);
	if (ret)
		goto out;
	if (strlen(ref) >= sizeof(out->reference) || strlen(digest) >= sizeof(out->digest)) {
		ret = sk_errf(err, -EBADMSG, "payload: reference or digest too long");
		goto out;
	}
	if (!json_object_object_get_ex(root, "optional", &v)) {
		ret = sk_errf(err, -EBADMSG, "payload: \"optional\" is missing");
		goto out;
	}
	if (v && !json_object_is_type(v, json_type_object)) {
		ret = sk_errf(err, -EBADMSG, "payload: \"optional\" is neither null nor an object");
		goto out;
	}
	strcpy(out->reference, ref);
	strcpy(out->digest, digest);
	out->optional = json_object_get(v);
out:
	json_object_put(root);
	return ret;
}

const char *sk_payload_annotation(const struct sk_payload *p, const char *key)
{
	struct json_object *v;

	if (!p->optional || !json_object_object_get_ex(p->optional, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void sk_payload_free(struct sk_payload *p)
{
	json_object_put(p->optional);
	p->optional = NULL;
}
