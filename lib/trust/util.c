/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

/* Deep enough for a manifest's annotations, shallow enough to bound recursion. */
#define JSON_DEPTH 16

void sk_trust_sha256(const void *data, size_t len, char out[80])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

bool sk_trust_digest_valid(const char *digest)
{
	if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 7 + 64)
		return false;
	for (const char *p = digest + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int sk_trust_json_parse(const void *data, size_t len, size_t max, const char *what,
			struct json_object **out, struct sk_error *err)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	const char *p = data;
	size_t end;
	int ret = 0;

	if (len > max)
		return sk_errf(err, -EFBIG, "%s: %zu bytes, more than the %zu allowed", what, len,
			       max);
	if (len > (size_t)INT32_MAX || memchr(data, '\0', len))
		return sk_errf(err, -EBADMSG, "%s: not JSON (contains a NUL byte)", what);
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return sk_errf(err, -ENOMEM, "%s: out of memory", what);
	/* Standard JSON only: no trailing commas, single quotes or other leniencies. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, p, (int)len);
	if (json_tokener_get_error(tok) == json_tokener_continue) {
		ret =
		    sk_errf(err, -EBADMSG, "%s: truncated JSON (ends after %zu bytes)", what, len);
		goto out;
	}
	if (json_tokener_get_error(tok) != json_tokener_success) {
		ret = sk_errf(err, -EBADMSG, "%s: invalid JSON at byte %zu: %s", what,
			      json_tokener_get_parse_end(tok),
			      json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (p[end] != ' ' && p[end] != '\n' && p[end] != '\r' && p[end] != '\t') {
			ret = sk_errf(err, -EBADMSG, "%s: unexpected data after the JSON value",
				      what);
			goto out;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		ret = sk_errf(err, -EBADMSG, "%s: not a JSON object", what);
		goto out;
	}
	*out = obj;
	obj = NULL;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return ret;
}

const char *sk_trust_json_str(struct json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

int sk_trust_json_only(struct json_object *obj, const char *const *allowed, const char *what,
		       struct sk_error *err)
{
	json_object_object_foreach(obj, key, val)
	{
		bool ok = false;

		(void)val;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || !strcmp(key, *a);
		if (!ok) {
			char list[512] = "";
			size_t off = 0;

			for (const char *const *a = allowed; *a && off < sizeof(list); a++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							a == allowed ? "" : ", ", *a);
			return sk_errf(err, -EBADMSG, "%s: unknown field \"%s\" (allowed: %s)",
				       what, key, list);
		}
	}
	return 0;
}

bool sk_trust_repo_valid(const char *repo, bool allow_host_only)
{
	const char *slash = strchr(repo, '/');
	size_t len = strlen(repo);

	if (!len || len >= 512 || strstr(repo, "://") || strchr(repo, '@') || strstr(repo, "//") ||
	    repo[0] == '/' || repo[len - 1] == '/')
		return false;
	for (const char *p = repo; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return false;
	if (!slash)
		return allow_host_only;
	/* A ':' after the host is a tag, which a repository name does not have. */
	return !strchr(slash, ':');
}

int sk_trust_split_kv(const char *s, char **key, const char **value, const char *what,
		      struct sk_error *err)
{
	const char *eq = strchr(s, '=');

	if (!eq || eq == s)
		return sk_errf(err, -EINVAL, "%s \"%s\": expected key=value", what, s);
	*key = strndup(s, (size_t)(eq - s));
	if (!*key)
		return sk_errf(err, -ENOMEM, "out of memory");
	*value = eq + 1;
	return 0;
}
