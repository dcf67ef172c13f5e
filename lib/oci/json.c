/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/oci.h"

/* Real manifests nest about 4 levels; anything near this is hostile input. */
#define SK_JSON_MAX_DEPTH 64

char *sk_json_dump(struct json_object *obj, size_t *len)
{
	const char *s;
	size_t n = 0;
	char *out;

	if (!obj)
		return NULL;
	s = json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (!s)
		return NULL;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

static bool only_whitespace(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return false;
	return true;
}

int sk_json_parse(const void *data, size_t len, const char *what, struct json_object **out,
		  struct sk_error *err)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int ret = 0;

	*out = NULL;
	if (!what)
		what = "JSON document";
	if (len > SK_MANIFEST_MAX)
		return sk_errf(err, -EFBIG, "%s: %zu bytes is larger than the %u bytes allowed",
			       what, len, SK_MANIFEST_MAX);
	if (!len)
		return sk_errf(err, -EBADMSG, "%s: empty document, expected a JSON object", what);
	tok = json_tokener_new_ex(SK_JSON_MAX_DEPTH);
	if (!tok)
		return sk_errf(err, -ENOMEM, "%s: out of memory", what);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!obj) {
		if (jerr == json_tokener_continue)
			ret = sk_errf(err, -EBADMSG,
				      "%s: invalid JSON: document ends early (after %zu bytes)",
				      what, len);
		else if (jerr == json_tokener_error_depth)
			ret = sk_errf(err, -EBADMSG,
				      "%s: invalid JSON: nested deeper than %d levels at byte %zu",
				      what, SK_JSON_MAX_DEPTH, end);
		else
			ret = sk_errf(err, -EBADMSG, "%s: invalid JSON at byte %zu: %s", what, end,
				      json_tokener_error_desc(jerr));
		goto out;
	}
	if (end < len && !only_whitespace((const char *)data + end, len - end)) {
		ret = sk_errf(err, -EBADMSG,
			      "%s: invalid JSON: unexpected data after the document at byte %zu",
			      what, end);
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		ret = sk_errf(err, -EBADMSG, "%s: expected a JSON object at the top level, got %s",
			      what, json_type_to_name(json_object_get_type(obj)));
		goto out;
	}
	*out = obj;
	obj = NULL;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return ret;
}

const char *sk_json_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t sk_json_int(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

int sk_json_add(struct json_object *o, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(o, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}
