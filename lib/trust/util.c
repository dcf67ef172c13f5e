/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/oci.h"
#include "internal.h"

int sk_trust_json_parse(const void *data, size_t len, size_t max, const char *what,
			struct json_object **out, struct sk_error *err)
{
	if (len > max)
		return sk_errf(err, -EFBIG, "%s: %zu bytes, more than the %zu allowed", what, len,
			       max);
	return sk_json_parse(data, len, what, out, err);
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

bool sk_trust_name_valid(const char *name)
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
