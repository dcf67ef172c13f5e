/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "schedkit/oci.h"

/* Copies an optional string member; a value that does not fit is an error, never truncated. */
static int copy_member(struct json_object *obj, const char *key, char *dst, size_t cap,
		       bool required, struct sk_error *err)
{
	struct json_object *v;
	const char *s;
	size_t n;

	dst[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return sk_errf(err, -EBADMSG, "descriptor: missing required \"%s\"", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return sk_errf(err, -EBADMSG, "descriptor: \"%s\" must be a string, got %s", key,
			       json_type_to_name(json_object_get_type(v)));
	s = json_object_get_string(v);
	n = strlen(s);
	if (n >= cap)
		return sk_errf(err, -EBADMSG,
			       "descriptor: \"%s\" is %zu bytes long, more than the %zu allowed",
			       key, n, cap - 1);
	if (required && !n)
		return sk_errf(err, -EBADMSG, "descriptor: \"%s\" is empty", key);
	memcpy(dst, s, n + 1);
	return 0;
}

int sk_descriptor_from_json(struct json_object *obj, struct sk_descriptor *d, struct sk_error *err)
{
	struct json_object *v, *plat, *ann;
	int ret;

	memset(d, 0, sizeof(*d));
	if (!obj || !json_object_is_type(obj, json_type_object))
		return sk_errf(err, -EBADMSG, "descriptor: expected a JSON object");
	ret = copy_member(obj, "mediaType", d->media_type, sizeof(d->media_type), true, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(obj, "digest", &v) &&
	    json_object_is_type(v, json_type_string)) {
		const char *dg = json_object_get_string(v), *colon = strchr(dg, ':');

		/* say why sha512:... is refused rather than that it is too long */
		if (colon && (colon - dg != 6 || strncmp(dg, "sha256", 6)))
			return sk_errf(err, -EBADMSG,
				       "descriptor: digest \"%.80s\" uses the %.*s algorithm; only "
				       "sha256 digests are supported",
				       dg, (int)(colon - dg > 16 ? 16 : colon - dg), dg);
		if (strlen(dg) >= sizeof(d->digest))
			return sk_errf(
			    err, -EBADMSG,
			    "descriptor: digest \"%.80s...\" is not sha256: followed by 64 "
			    "lowercase hex digits",
			    dg);
	}
	ret = copy_member(obj, "digest", d->digest, sizeof(d->digest), true, err);
	if (ret)
		return ret;
	if (!sk_digest_valid(d->digest))
		return sk_errf(err, -EBADMSG,
			       "descriptor: digest \"%s\" is not sha256: followed by 64 lowercase "
			       "hex digits",
			       d->digest);
	if (!json_object_object_get_ex(obj, "size", &v) || !json_object_is_type(v, json_type_int))
		return sk_errf(err, -EBADMSG, "descriptor %s: missing or non-integer \"size\"",
			       d->digest);
	d->size = json_object_get_int64(v);
	if (d->size < 0)
		return sk_errf(err, -EBADMSG, "descriptor %s: negative size %lld", d->digest,
			       (long long)d->size);
	ret = copy_member(obj, "artifactType", d->artifact_type, sizeof(d->artifact_type), false,
			  err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(obj, "platform", &plat)) {
		if (!json_object_is_type(plat, json_type_object))
			return sk_errf(err, -EBADMSG,
				       "descriptor %s: \"platform\" must be an object", d->digest);
		ret = copy_member(plat, "os", d->platform_os, sizeof(d->platform_os), true, err);
		if (!ret)
			ret = copy_member(plat, "architecture", d->platform_arch,
					  sizeof(d->platform_arch), true, err);
		if (!ret)
			ret = copy_member(plat, "variant", d->platform_variant,
					  sizeof(d->platform_variant), false, err);
		if (ret)
			return sk_err_prefix(err, "%s platform: ", d->digest);
	}
	if (json_object_object_get_ex(obj, "annotations", &ann) &&
	    !json_object_is_type(ann, json_type_null)) {
		if (!json_object_is_type(ann, json_type_object))
			return sk_errf(err, -EBADMSG,
				       "descriptor %s: \"annotations\" must be an object",
				       d->digest);
		ret =
		    copy_member(ann, SK_ANN_REF_NAME, d->ref_name, sizeof(d->ref_name), false, err);
		if (ret)
			return sk_err_prefix(err, "%s annotations: ", d->digest);
	}
	return 0;
}

struct json_object *sk_descriptor_to_json(const struct sk_descriptor *d,
					  struct json_object *annotations)
{
	struct json_object *o = json_object_new_object();
	struct json_object *plat;

	if (!o)
		goto fail;
	if (sk_json_add(o, "mediaType", json_object_new_string(d->media_type)) ||
	    sk_json_add(o, "digest", json_object_new_string(d->digest)) ||
	    sk_json_add(o, "size", json_object_new_int64(d->size)))
		goto fail;
	if (d->artifact_type[0] &&
	    sk_json_add(o, "artifactType", json_object_new_string(d->artifact_type)))
		goto fail;
	if (d->platform_os[0] || d->platform_arch[0]) {
		plat = json_object_new_object();
		if (sk_json_add(o, "platform", plat))
			goto fail;
		if (sk_json_add(plat, "architecture", json_object_new_string(d->platform_arch)) ||
		    sk_json_add(plat, "os", json_object_new_string(d->platform_os)))
			goto fail;
		if (d->platform_variant[0] &&
		    sk_json_add(plat, "variant", json_object_new_string(d->platform_variant)))
			goto fail;
	}
	if (d->ref_name[0]) {
		if (!annotations)
			annotations = json_object_new_object();
		if (!annotations ||
		    sk_json_add(annotations, SK_ANN_REF_NAME, json_object_new_string(d->ref_name)))
			goto fail;
	}
	/* An empty annotations map says nothing; leaving it out keeps the bytes canonical. */
	if (annotations && json_object_object_length(annotations) > 0) {
		struct json_object *a = annotations;

		annotations = NULL;
		if (sk_json_add(o, "annotations", a))
			goto fail;
	}
	json_object_put(annotations);
	return o;
fail:
	json_object_put(annotations);
	json_object_put(o);
	return NULL;
}
