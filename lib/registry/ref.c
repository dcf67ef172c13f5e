/* SPDX-License-Identifier: Apache-2.0 */
/* References: [REGISTRY/]REPO[:TAG][@sha256:DIGEST], the distribution-spec grammar. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "schedkit/registry.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool component_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (!len || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	while (i < len) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		/* a separator run: ".", "_", "__" or "-+", followed by an alnum */
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= len || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

static int repo_check(const char *repo, struct sk_error *err, const char *whole)
{
	const char *p = repo;

	if (!*repo)
		return sk_errf(err, -EINVAL, "invalid reference '%s': the repository name is empty",
			       whole);
	for (const char *c = repo; *c; c++)
		if (isupper((unsigned char)*c))
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': repository names must be lowercase",
				       whole);
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (!component_valid(p, len))
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': repository component '%.*s' must "
				       "match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*",
				       whole, (int)len, p);
		if (!slash)
			break;
		p = slash + 1;
		if (!*p)
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': repository ends with '/'", whole);
	}
	return 0;
}

/* host[:port] or [ipv6][:port]; host labels [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
static bool domain_valid(const char *d, size_t len)
{
	size_t i = 0;

	if (!len)
		return false;
	if (d[0] == '[') {
		const char *close = memchr(d, ']', len);

		if (!close || close == d + 1)
			return false;
		for (const char *c = d + 1; c < close; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
				return false;
		i = (size_t)(close - d) + 1;
	} else {
		while (i < len && d[i] != ':') {
			size_t start = i;

			while (i < len && (isalnum((unsigned char)d[i]) || d[i] == '-'))
				i++;
			if (i == start || d[start] == '-' || d[i - 1] == '-')
				return false;
			if (i < len && d[i] == '.') {
				i++;
				if (i == len || d[i] == ':')
					return false;
			}
		}
	}
	if (i == len)
		return true;
	if (d[i] != ':' || i + 1 == len || len - i - 1 > 5)
		return false;
	for (i++; i < len; i++)
		if (!isdigit((unsigned char)d[i]))
			return false;
	return true;
}

static bool tag_valid(const char *t)
{
	size_t len = strlen(t);

	if (!len || len > 128)
		return false;
	if (!isalnum((unsigned char)t[0]) && t[0] != '_')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

static bool looks_like_domain(const char *first, size_t len)
{
	if (memchr(first, '.', len) || memchr(first, ':', len))
		return true;
	if (len == 9 && !memcmp(first, "localhost", 9))
		return true;
	for (size_t i = 0; i < len; i++)
		if (isupper((unsigned char)first[i]))
			return true;
	return false;
}

int sk_ref_parse(const char *s, struct sk_ref *ref, struct sk_error *err)
{
	char name[SK_REF_STRING_MAX];
	const char *at, *slash, *repo;
	char *colon, *last_slash;
	size_t nlen;

	memset(ref, 0, sizeof(*ref));
	if (!s || !*s)
		return sk_errf(err, -EINVAL, "invalid reference: empty");
	if (strlen(s) >= sizeof(name))
		return sk_errf(err, -EINVAL, "invalid reference '%.64s...': too long", s);
	for (const char *c = s; *c; c++)
		if (isspace((unsigned char)*c) || !isprint((unsigned char)*c))
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': contains whitespace or control "
				       "characters",
				       s);
	if (strstr(s, "://"))
		return sk_errf(err, -EINVAL,
			       "invalid reference '%s': give HOST/REPO[:TAG], without a URL scheme",
			       s);

	at = strchr(s, '@');
	nlen = at ? (size_t)(at - s) : strlen(s);
	memcpy(name, s, nlen);
	name[nlen] = '\0';
	if (at) {
		const char *dg = at + 1;

		if (strncmp(dg, "sha256:", 7) && strchr(dg, ':'))
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': only sha256 digests are supported",
				       s);
		if (!sk_digest_valid(dg))
			return sk_errf(
			    err, -EINVAL,
			    "invalid reference '%s': the digest must be sha256: followed "
			    "by 64 lowercase hex digits",
			    s);
		snprintf(ref->digest, sizeof(ref->digest), "%s", dg);
	}

	last_slash = strrchr(name, '/');
	colon = strrchr(name, ':');
	if (colon && (!last_slash || colon > last_slash)) {
		*colon = '\0';
		if (!tag_valid(colon + 1))
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': tag '%s' must match "
				       "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
				       s, colon + 1);
		snprintf(ref->tag, sizeof(ref->tag), "%s", colon + 1);
	}

	slash = strchr(name, '/');
	if (slash && looks_like_domain(name, (size_t)(slash - name))) {
		size_t dlen = (size_t)(slash - name);

		if (!domain_valid(name, dlen) || dlen >= sizeof(ref->registry))
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': bad registry host '%.*s'", s,
				       (int)dlen, name);
		memcpy(ref->registry, name, dlen);
		ref->registry[dlen] = '\0';
		repo = slash + 1;
	} else {
		snprintf(ref->registry, sizeof(ref->registry), "%s", SK_DOCKER_HUB);
		repo = name;
	}
	if (!strcmp(ref->registry, "index.docker.io"))
		snprintf(ref->registry, sizeof(ref->registry), "%s", SK_DOCKER_HUB);
	if (repo_check(repo, err, s))
		return err ? err->code : -EINVAL;
	{
		bool library = !strcmp(ref->registry, SK_DOCKER_HUB) && !strchr(repo, '/');
		size_t rlen = strlen(repo);

		if (rlen + (library ? 8 : 0) >= sizeof(ref->repo))
			return sk_errf(err, -EINVAL,
				       "invalid reference '%s': repository name too long", s);
		memcpy(ref->repo, "library/", library ? 8 : 0);
		memcpy(ref->repo + (library ? 8 : 0), repo, rlen + 1);
	}
	if (strlen(ref->registry) + 1 + strlen(ref->repo) > 255)
		return sk_errf(
		    err, -EINVAL,
		    "invalid reference '%s': registry and repository exceed 255 characters", s);
	snprintf(ref->host, sizeof(ref->host), "%s",
		 strcmp(ref->registry, SK_DOCKER_HUB) ? ref->registry : SK_DOCKER_HUB_API);
	return 0;
}

void sk_ref_string(const struct sk_ref *ref, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s%s%s%s", ref->registry, ref->repo, ref->tag[0] ? ":" : "",
		 ref->tag, ref->digest[0] ? "@" : "", ref->digest);
}

const char *sk_ref_reference(const struct sk_ref *ref)
{
	/* a digest pins the content: the tag next to it is only informative */
	if (ref->digest[0])
		return ref->digest;
	if (ref->tag[0])
		return ref->tag;
	return "latest";
}
