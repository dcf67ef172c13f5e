/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.conf (containers-registries.conf(5)): which endpoints serve a
 * reference. The reader is a strict TOML subset, exactly what these files
 * use: [table] and [[array.of.tables]] headers, key = value with bare or
 * quoted keys, basic and literal strings, booleans, arrays of strings (over
 * several lines too), and comments. Anything else (numbers, dates, inline
 * tables, multi-line strings, dotted keys) is refused with FILE:LINE: a
 * file we half-understand could point pulls somewhere nobody meant.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedkit/transfer.h"

enum table {
	T_TOP,
	T_REGISTRY,
	T_MIRROR,
	T_ALIASES,   /* short-name aliases: skrun resolves no short names */
	T_V1_SEARCH, /* version 1's search list: the same */
};

enum vtype { V_STR, V_BOOL, V_ARRAY };

struct value {
	enum vtype t;
	char *s;
	bool b;
	struct sk_strv a;
};

struct parser {
	const char *p, *end;
	const char *name;
	unsigned line;
	struct sk_error *err;
	enum table table;
	struct sk_strv seen;   /* keys of the current table */
	struct sk_strv tables; /* single-bracket tables defined so far */
	struct sk_regconf out; /* this file's registries */
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return sk_errf(ps->err, -EINVAL, "%s:%u: %s", ps->name, ps->line, msg);
}

static void value_free(struct value *v)
{
	free(v->s);
	sk_strv_free(&v->a);
	memset(v, 0, sizeof(*v));
}

static void mirror_free(struct sk_regconf_mirror *m)
{
	free(m->location);
}

static void registry_free(struct sk_regconf_registry *r)
{
	free(r->prefix);
	free(r->location);
	for (size_t i = 0; i < r->nmirrors; i++)
		mirror_free(&r->mirrors[i]);
	free(r->mirrors);
	memset(r, 0, sizeof(*r));
}

void sk_regconf_free(struct sk_regconf *c)
{
	for (size_t i = 0; i < c->n; i++)
		registry_free(&c->reg[i]);
	free(c->reg);
	sk_strv_free(&c->files);
	memset(c, 0, sizeof(*c));
}

/* ---- lexing ---- */

static void skip_blank(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static void skip_comment(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
}

/* Blanks, comments and line breaks (inside an array). */
static void skip_space(struct parser *ps)
{
	for (;;) {
		skip_blank(ps);
		skip_comment(ps);
		if (ps->p < ps->end && *ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n')
			ps->p++;
		if (ps->p < ps->end && *ps->p == '\n') {
			ps->p++;
			ps->line++;
			continue;
		}
		return;
	}
}

/* The rest of a line after a header or a value: blanks and a comment only. */
static int end_of_line(struct parser *ps)
{
	skip_blank(ps);
	skip_comment(ps);
	if (ps->p < ps->end && *ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n')
		ps->p++;
	if (ps->p < ps->end && *ps->p != '\n')
		return fail(ps, "unexpected '%.1s' after the value: one key = value per line",
			    ps->p);
	return 0;
}

static bool bare_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static int put_utf8(struct sk_buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sk_buf_append(b, u, n);
}

/* A "basic" or 'literal' string on one line; *out malloc'd. */
static int parse_string(struct parser *ps, char **out)
{
	char q = *ps->p;
	struct sk_buf b = {0};
	int ret = 0;

	*out = NULL;
	if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q)
		return fail(ps,
			    "multi-line strings (%.3s) are not supported here: write the "
			    "value on one line",
			    ps->p);
	ps->p++;
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '\r') {
			ret = fail(ps, "string not closed on its line: add the closing %.1s", &q);
			goto out;
		}
		c = (unsigned char)*ps->p++;
		if (c == (unsigned char)q)
			break;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			ret = fail(ps, "control character in a string: remove it");
			goto out;
		}
		if (c == '\\' && q == '"') {
			const char *esc = "b\bt\tn\nf\fr\r\"\"\\\\";
			const char *hit;
			char e = ps->p < ps->end ? *ps->p++ : '\0';

			if (e == 'u' || e == 'U') {
				int digits = e == 'u' ? 4 : 8;
				unsigned long cp = 0;

				for (int i = 0; i < digits; i++) {
					char h = ps->p < ps->end ? *ps->p++ : '\0';
					int v = (h >= '0' && h <= '9')	 ? h - '0'
						: (h >= 'a' && h <= 'f') ? h - 'a' + 10
						: (h >= 'A' && h <= 'F') ? h - 'A' + 10
									 : -1;

					if (v < 0) {
						ret = fail(ps,
							   "bad \\%.1s escape: it takes hex digits",
							   &e);
						goto out;
					}
					cp = cp * 16 + (unsigned long)v;
				}
				if (!cp || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
					ret = fail(ps, "\\%.1s escape names no character", &e);
					goto out;
				}
				if (put_utf8(&b, cp)) {
					ret = sk_errf(ps->err, -ENOMEM, "out of memory");
					goto out;
				}
				continue;
			}
			for (hit = esc; *hit && *hit != e; hit += 2)
				;
			if (!e || !*hit) {
				ret = fail(ps, "unknown escape \\%.1s in a string", &e);
				goto out;
			}
			c = (unsigned char)hit[1];
		}
		if (sk_buf_append(&b, &c, 1)) {
			ret = sk_errf(ps->err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (sk_buf_append(&b, "", 1)) {
		ret = sk_errf(ps->err, -ENOMEM, "out of memory");
		goto out;
	}
	*out = (char *)b.data;
	b.data = NULL;
out:
	sk_buf_free(&b);
	return ret;
}

static int parse_key(struct parser *ps, char **out)
{
	const char *s = ps->p;

	*out = NULL;
	if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\''))
		return parse_string(ps, out);
	while (ps->p < ps->end && bare_char(*ps->p))
		ps->p++;
	if (ps->p == s)
		return fail(ps,
			    "expected a key (letters, digits, '-', '_' or a quoted string) "
			    "at '%.1s'",
			    s < ps->end ? s : "\n");
	*out = strndup(s, (size_t)(ps->p - s));
	return *out ? 0 : sk_errf(ps->err, -ENOMEM, "out of memory");
}

static int parse_value(struct parser *ps, struct value *v)
{
	int ret;

	memset(v, 0, sizeof(*v));
	if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '#')
		return fail(ps, "a key without a value: write key = value");
	if (*ps->p == '"' || *ps->p == '\'') {
		v->t = V_STR;
		return parse_string(ps, &v->s);
	}
	if ((size_t)(ps->end - ps->p) >= 4 && !strncmp(ps->p, "true", 4) &&
	    (ps->p + 4 == ps->end || !bare_char(ps->p[4]))) {
		v->t = V_BOOL;
		v->b = true;
		ps->p += 4;
		return 0;
	}
	if ((size_t)(ps->end - ps->p) >= 5 && !strncmp(ps->p, "false", 5) &&
	    (ps->p + 5 == ps->end || !bare_char(ps->p[5]))) {
		v->t = V_BOOL;
		ps->p += 5;
		return 0;
	}
	if (*ps->p == '[') {
		v->t = V_ARRAY;
		ps->p++;
		for (;;) {
			char *s = NULL;

			skip_space(ps);
			if (ps->p < ps->end && *ps->p == ']') {
				ps->p++;
				return 0;
			}
			if (ps->p >= ps->end)
				return fail(ps, "array not closed: add ']'");
			if (*ps->p != '"' && *ps->p != '\'')
				return fail(ps,
					    "arrays here hold strings only (found '%.1s'): quote "
					    "each entry",
					    ps->p);
			ret = parse_string(ps, &s);
			if (!ret && sk_strv_push(&v->a, s))
				ret = sk_errf(ps->err, -ENOMEM, "out of memory");
			free(s);
			if (ret)
				return ret;
			skip_space(ps);
			if (ps->p < ps->end && *ps->p == ',')
				ps->p++;
			else if (ps->p < ps->end && *ps->p != ']')
				return fail(ps, "expected ',' or ']' in an array, found '%.1s'",
					    ps->p);
		}
	}
	if (*ps->p == '{')
		return fail(ps, "inline tables are not supported here: write a [[registry]] or "
				"[[registry.mirror]] table instead");
	return fail(ps,
		    "unsupported value starting '%.1s': registries.conf values are \"strings\", "
		    "true/false or [\"arrays\", \"of strings\"]",
		    ps->p);
}

/* ---- meaning ---- */

static const char *vname(enum vtype t)
{
	return t == V_STR ? "a string" : t == V_BOOL ? "true or false" : "an array";
}

static int want(struct parser *ps, const char *key, const struct value *v, enum vtype t)
{
	char k[128];

	if (v->t == t)
		return 0;
	snprintf(k, sizeof(k), "%s", key);
	return fail(ps, "%s must be %s", k, vname(t));
}

static int take_str(struct parser *ps, const char *key, struct value *v, char **dst)
{
	int ret = want(ps, key, v, V_STR);

	if (ret)
		return ret;
	free(*dst);
	*dst = v->s;
	v->s = NULL;
	return 0;
}

static int set_key(struct parser *ps, const char *key, struct value *v)
{
	struct sk_regconf_registry *r = ps->out.n ? &ps->out.reg[ps->out.n - 1] : NULL;
	struct sk_regconf_mirror *m = r && r->nmirrors ? &r->mirrors[r->nmirrors - 1] : NULL;
	int ret;

	/* the header made them: a registry table has r, a mirror table m */
	if ((ps->table == T_REGISTRY && !r) || (ps->table == T_MIRROR && !m))
		return sk_errf(ps->err, -EINVAL, "%s:%u: a key outside its table", ps->name,
			       ps->line);
	switch (ps->table) {
	case T_TOP:
		/* what podman reads for short names and helpers; skrun uses neither */
		if (!strcmp(key, "unqualified-search-registries") ||
		    !strcmp(key, "credential-helpers"))
			return want(ps, key, v, V_ARRAY);
		if (!strcmp(key, "short-name-mode"))
			return want(ps, key, v, V_STR);
		if (!strcmp(key, "registry") || !strcmp(key, "registries") ||
		    !strcmp(key, "aliases"))
			return fail(
			    ps, "%s is a table, not a key: write its header on a line of its own",
			    key);
		return fail(ps,
			    "unknown key \"%s\" (skrun reads [[registry]] tables; see "
			    "docs/mirrors.md for the keys it accepts)",
			    key);
	case T_ALIASES:
		return want(ps, key, v, V_STR);
	case T_V1_SEARCH:
		if (!strcmp(key, "registries"))
			return want(ps, key, v, V_ARRAY);
		return fail(ps, "unknown key \"%s\" in [registries.search]", key);
	case T_REGISTRY:
		if (!strcmp(key, "prefix"))
			return take_str(ps, key, v, &r->prefix);
		if (!strcmp(key, "location"))
			return take_str(ps, key, v, &r->location);
		if (!strcmp(key, "insecure") || !strcmp(key, "blocked") ||
		    !strcmp(key, "mirror-by-digest-only")) {
			ret = want(ps, key, v, V_BOOL);
			if (ret)
				return ret;
			*(key[0] == 'i'	  ? &r->insecure
			  : key[0] == 'b' ? &r->blocked
					  : &r->mirror_by_digest_only) = v->b;
			return 0;
		}
		return fail(ps,
			    "unknown key \"%s\" in [[registry]] (known: prefix, location, "
			    "insecure, blocked, mirror-by-digest-only, [[registry.mirror]])",
			    key);
	case T_MIRROR:
		if (!strcmp(key, "location"))
			return take_str(ps, key, v, &m->location);
		if (!strcmp(key, "insecure")) {
			ret = want(ps, key, v, V_BOOL);
			if (!ret)
				m->insecure = v->b;
			return ret;
		}
		if (!strcmp(key, "pull-from-mirror")) {
			ret = want(ps, key, v, V_STR);
			if (ret || !v->s)
				return ret ? ret : -EINVAL;
			m->pull_from_set = true;
			if (!strcmp(v->s, "all") || !*v->s)
				m->pull_from = SK_MIRROR_ALL;
			else if (!strcmp(v->s, "digest-only"))
				m->pull_from = SK_MIRROR_DIGEST_ONLY;
			else if (!strcmp(v->s, "tag-only"))
				m->pull_from = SK_MIRROR_TAG_ONLY;
			else
				return fail(ps,
					    "pull-from-mirror is \"%s\": use \"all\", "
					    "\"digest-only\" or \"tag-only\"",
					    v->s);
			return 0;
		}
		return fail(ps,
			    "unknown key \"%s\" in [[registry.mirror]] (known: location, "
			    "insecure, pull-from-mirror)",
			    key);
	}
	return -EINVAL;
}

/*
 * A namespace as prefix and location spell it: HOST[:PORT][/PATH], the host
 * a registry name (with '.' or ':' or "localhost"), the path repository
 * components. Tags and digests in a prefix are refused: skrun maps
 * repositories.
 */
static bool namespace_ok(const char *s)
{
	struct sk_ref ref;
	char probe[SK_REF_REGISTRY_MAX + SK_REF_REPO_MAX];
	size_t hostlen = strcspn(s, "/");

	if (!*s || strlen(s) + 3 > sizeof(probe) || s[strlen(s) - 1] == '/')
		return false;
	snprintf(probe, sizeof(probe), "%s/x", s);
	if (sk_ref_parse(probe, &ref, NULL) || ref.tag[0] || ref.digest[0])
		return false;
	return strlen(ref.registry) == hostlen && !strncmp(ref.registry, s, hostlen);
}

static bool wildcard(const char *s)
{
	return !strncmp(s, "*.", 2);
}

static bool wildcard_ok(const char *s)
{
	const char *d = s + 2;

	if (!*d || strpbrk(d, "/:*@"))
		return false;
	for (; *d; d++)
		if (!bare_char(*d) && *d != '.')
			return false;
	return true;
}

static int check_registry(struct parser *ps, struct sk_regconf_registry *r)
{
	char *what = r->where;

	if (!r->prefix && !r->location)
		return sk_errf(ps->err, -EINVAL, "%s: [[registry]] needs a prefix or a location",
			       what);
	if (!r->prefix) {
		r->prefix = strdup(r->location);
		if (!r->prefix)
			return sk_errf(ps->err, -ENOMEM, "out of memory");
	}
	if (wildcard(r->prefix)) {
		if (!wildcard_ok(r->prefix))
			return sk_errf(ps->err, -EINVAL,
				       "%s: prefix \"%s\": a wildcard is only *.DOMAIN (no port, "
				       "path or other '*')",
				       what, r->prefix);
		if (r->location && *r->location)
			return sk_errf(ps->err, -EINVAL,
				       "%s: prefix \"%s\" is a wildcard: it rewrites nothing, so "
				       "leave location out",
				       what, r->prefix);
	} else if (!namespace_ok(r->prefix)) {
		return sk_errf(ps->err, -EINVAL,
			       "%s: prefix \"%s\" is not HOST[:PORT][/PATH] (skrun maps "
			       "repositories: no tag, digest or trailing '/')",
			       what, r->prefix);
	}
	if (!r->location) {
		r->location = strdup(wildcard(r->prefix) ? "" : r->prefix);
		if (!r->location)
			return sk_errf(ps->err, -ENOMEM, "out of memory");
	} else if (!wildcard(r->prefix) && !namespace_ok(r->location)) {
		return sk_errf(ps->err, -EINVAL,
			       "%s: location \"%s\" is not HOST[:PORT][/PATH]: the host needs a "
			       "'.' or a ':' (or is localhost)",
			       what, r->location);
	}
	for (size_t i = 0; i < r->nmirrors; i++) {
		struct sk_regconf_mirror *m = &r->mirrors[i];

		if (!m->location || !namespace_ok(m->location))
			return sk_errf(ps->err, -EINVAL,
				       "%s: a mirror needs location = \"HOST[:PORT][/PATH]\"%s%s%s",
				       m->where, m->location ? " (not \"" : "",
				       m->location ? m->location : "", m->location ? "\")" : "");
		if (r->mirror_by_digest_only && m->pull_from_set)
			return sk_errf(ps->err, -EINVAL,
				       "%s: pull-from-mirror is not allowed when the registry sets "
				       "mirror-by-digest-only (%s): keep one of the two",
				       m->where, what);
	}
	return 0;
}

static int header(struct parser *ps)
{
	bool array = ps->p + 1 < ps->end && ps->p[1] == '[';
	const char *s = ps->p + (array ? 2 : 1), *e = s;
	char name[64];
	size_t len;

	while (e < ps->end && *e != ']' && *e != '\n')
		e++;
	len = (size_t)(e - s);
	if (e >= ps->end || *e != ']' || (array && (e + 1 >= ps->end || e[1] != ']')))
		return fail(ps, "table header not closed: end it with %s", array ? "]]" : "]");
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63), s);
	ps->p = e + (array ? 2 : 1);
	sk_strv_free(&ps->seen);
	if (array && !strcmp(name, "registry")) {
		struct sk_regconf_registry *nr =
		    realloc(ps->out.reg, (ps->out.n + 1) * sizeof(*nr));

		if (!nr)
			return sk_errf(ps->err, -ENOMEM, "out of memory");
		ps->out.reg = nr;
		memset(&nr[ps->out.n], 0, sizeof(*nr));
		snprintf(nr[ps->out.n].where, sizeof(nr->where), "%s:%u", ps->name, ps->line);
		ps->out.n++;
		ps->table = T_REGISTRY;
	} else if (array && !strcmp(name, "registry.mirror")) {
		struct sk_regconf_registry *r;
		struct sk_regconf_mirror *nm;

		if (!ps->out.n)
			return fail(ps, "[[registry.mirror]] before any [[registry]]: a mirror "
					"belongs to the [[registry]] above it");
		r = &ps->out.reg[ps->out.n - 1];
		nm = realloc(r->mirrors, (r->nmirrors + 1) * sizeof(*nm));
		if (!nm)
			return sk_errf(ps->err, -ENOMEM, "out of memory");
		r->mirrors = nm;
		memset(&nm[r->nmirrors], 0, sizeof(*nm));
		snprintf(nm[r->nmirrors].where, sizeof(nm->where), "%s:%u", ps->name, ps->line);
		r->nmirrors++;
		ps->table = T_MIRROR;
	} else if (!array && (!strcmp(name, "aliases") || !strcmp(name, "registries.search"))) {
		if (sk_strv_contains(&ps->tables, name))
			return fail(ps, "[%s] appears twice in this file: merge the two", name);
		if (sk_strv_push(&ps->tables, name))
			return sk_errf(ps->err, -ENOMEM, "out of memory");
		ps->table = name[0] == 'a' ? T_ALIASES : T_V1_SEARCH;
	} else if (!array &&
		   (!strcmp(name, "registries.insecure") || !strcmp(name, "registries.block"))) {
		return fail(ps,
			    "[%s] is the deprecated version 1 format: write a [[registry]] with "
			    "location = \"HOST\" and %s = true instead",
			    name, name[11] == 'i' ? "insecure" : "blocked");
	} else if (!array && (!strcmp(name, "registry") || !strcmp(name, "registry.mirror"))) {
		return fail(ps, "[%s] must be an array of tables: write [[%s]]", name, name);
	} else {
		return fail(ps,
			    "unknown table %s: skrun reads [[registry]], [[registry.mirror]] "
			    "(and ignores [aliases])",
			    name);
	}
	return end_of_line(ps);
}

static int statement(struct parser *ps)
{
	struct value v = {0};
	char *key = NULL;
	int ret;

	ret = parse_key(ps, &key);
	if (ret)
		return ret;
	if (!key)
		return sk_errf(ps->err, -ENOMEM, "out of memory");
	skip_blank(ps);
	if (ps->p < ps->end && *ps->p == '.') {
		ret = fail(ps, "dotted key %s.…: write the table header instead", key);
		goto out;
	}
	if (ps->p >= ps->end || *ps->p != '=') {
		ret = fail(ps, "expected '=' after the key %s", key);
		goto out;
	}
	ps->p++;
	skip_blank(ps);
	if (sk_strv_contains(&ps->seen, key)) {
		ret = fail(ps, "%s is set twice in the same table: keep one", key);
		goto out;
	}
	if (sk_strv_push(&ps->seen, key)) {
		ret = sk_errf(ps->err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = parse_value(ps, &v);
	if (!ret)
		ret = set_key(ps, key, &v);
	if (!ret)
		ret = end_of_line(ps);
out:
	value_free(&v);
	free(key);
	return ret;
}

/* Drop-in semantics: a registry with a prefix seen before replaces it, others are added. */
static int merge(struct sk_regconf *c, struct sk_regconf *add, struct sk_error *err)
{
	struct sk_regconf_registry *nr = realloc(c->reg, (c->n + add->n + 1) * sizeof(*nr));

	if (!nr)
		return sk_errf(err, -ENOMEM, "out of memory");
	c->reg = nr;
	for (size_t i = 0; i < add->n; i++) {
		size_t j;

		for (j = 0; j < c->n && strcmp(c->reg[j].prefix, add->reg[i].prefix); j++)
			;
		if (j < c->n)
			registry_free(&c->reg[j]);
		else
			c->n++;
		c->reg[j] = add->reg[i];
	}
	free(add->reg);
	add->reg = NULL;
	add->n = 0;
	return 0;
}

int sk_regconf_parse(struct sk_regconf *c, const char *text, size_t len, const char *name,
		     struct sk_error *err)
{
	struct parser ps = {
	    .p = text, .end = text + len, .name = name, .line = 1, .err = err, .table = T_TOP};
	int ret = 0;

	if (len && memchr(text, '\0', len))
		return sk_errf(err, -EINVAL, "%s: holds a NUL byte: not a text file", name);
	while (!ret) {
		skip_space(&ps);
		if (ps.p >= ps.end)
			break;
		if (*ps.p == '[')
			ret = header(&ps);
		else
			ret = statement(&ps);
	}
	/* every [[registry]] checked once it is complete */
	for (size_t i = 0; !ret && i < ps.out.n; i++)
		ret = check_registry(&ps, &ps.out.reg[i]);
	for (size_t i = 0; !ret && i < ps.out.n; i++)
		for (size_t j = 0; !ret && j < i; j++)
			if (!strcmp(ps.out.reg[i].prefix, ps.out.reg[j].prefix))
				ret = sk_errf(err, -EINVAL,
					      "%s: prefix \"%s\" already has a [[registry]] at %s: "
					      "one table per prefix in a file",
					      ps.out.reg[i].where, ps.out.reg[i].prefix,
					      ps.out.reg[j].where);
	if (!ret)
		ret = merge(c, &ps.out, err);
	if (!ret && sk_strv_push(&c->files, name))
		ret = sk_errf(err, -ENOMEM, "out of memory");
	sk_regconf_free(&ps.out);
	sk_strv_free(&ps.seen);
	sk_strv_free(&ps.tables);
	return ret;
}

/* ---- files ---- */

int sk_regconf_load_file(const char *path, bool as_root, bool must_exist, struct sk_regconf *c,
			 struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return sk_errf(err, -errno, "registries configuration %s: %s", path,
			       strerror(errno));
	}
	if (fstat(fd, &st)) {
		ret = sk_errf(err, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = sk_errf(err, -EINVAL, "registries configuration %s is not a regular file",
			      path);
		goto out;
	}
	/* it decides where a root daemon's bytes come from: only root may say so */
	if (as_root && st.st_uid != 0) {
		ret = sk_errf(err, -EPERM,
			      "registries configuration %s is owned by uid %u, not root: skrun "
			      "runs as root and refuses it (chown root %s)",
			      path, (unsigned)st.st_uid, path);
		goto out;
	}
	if (as_root && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		ret = sk_errf(err, -EPERM,
			      "registries configuration %s is writable by group or others (mode "
			      "%04o): skrun runs as root and refuses it (chmod go-w %s)",
			      path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	ret = sk_read_fd(fd, path, SK_REGCONF_FILE_MAX, &data, &len, err);
	if (!ret)
		ret = sk_regconf_parse(c, (const char *)data, len, path, err);
out:
	free(data);
	close(fd);
	return ret;
}

static int conf_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".conf");
}

/* "lexical order" without the locale's collation: the same order on every host */
static int byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int sk_regconf_load(const char *override, struct sk_regconf *c, struct sk_error *err)
{
	const char *env = getenv(SK_REGCONF_ENV);
	bool root = geteuid() == 0;
	struct dirent **list = NULL;
	int n, ret;

	memset(c, 0, sizeof(*c));
	if (override || (env && *env))
		ret = sk_regconf_load_file(override ? override : env, root, true, c, err);
	else
		ret = sk_regconf_load_file(SK_REGCONF_PATH, root, false, c, err);
	if (ret || override || (env && *env))
		goto out;
	n = scandir(SK_REGCONF_DIR, &list, conf_name, byte_order);
	if (n < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			ret = sk_errf(err, -errno, "%s: %s", SK_REGCONF_DIR, strerror(errno));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", SK_REGCONF_DIR, list[i]->d_name);
		/* a directory named x.conf is not a drop-in: skip what is no file */
		if (!ret &&
		    (list[i]->d_type == DT_REG || list[i]->d_type == DT_LNK ||
		     list[i]->d_type == DT_UNKNOWN) &&
		    !sk_is_dir(path))
			ret = sk_regconf_load_file(path, root, false, c, err);
		free(list[i]);
	}
	free(list);
out:
	if (ret)
		sk_regconf_free(c);
	return ret;
}

/* ---- endpoints ---- */

/* How much of name ("HOST/REPO") the registry's prefix matches; 0: none. */
static size_t match_len(const struct sk_regconf_registry *r, const char *name, const char *registry)
{
	size_t pl = strlen(r->prefix);

	if (wildcard(r->prefix)) {
		size_t hl = strlen(registry), dl = pl - 1; /* ".example.com" */

		return hl > dl && !strcmp(registry + hl - dl, r->prefix + 1) ? hl : 0;
	}
	if (strncmp(name, r->prefix, pl) || (name[pl] && name[pl] != '/'))
		return 0;
	return pl;
}

/* location + the rest of name after the matched prefix, with ref's tag or digest. */
static int rewrite(const struct sk_ref *ref, const char *name, size_t matched, const char *location,
		   const char *where, struct sk_endpoint *e, bool mirror, bool insecure,
		   struct sk_error *err)
{
	char s[SK_REF_STRING_MAX];
	struct sk_error why = {0};
	int n;

	n = snprintf(s, sizeof(s), "%s%s%s%s%s", location, name + matched,
		     ref->digest[0] ? "@" : "",
		     ref->digest[0] ? ref->digest : (ref->tag[0] ? ":" : ""),
		     ref->digest[0] ? "" : ref->tag);
	if (n < 0 || (size_t)n >= sizeof(s) || sk_ref_parse(s, &e->ref, &why))
		return sk_errf(err, -EINVAL, "%s: %s maps %s to \"%s\", not a reference%s%s", where,
			       mirror ? "mirror" : "location", name, s, why.msg[0] ? ": " : "",
			       why.msg);
	/* a tag kept along with the digest when both were given */
	if (ref->digest[0] && ref->tag[0])
		snprintf(e->ref.tag, sizeof(e->ref.tag), "%s", ref->tag);
	e->mirror = mirror;
	e->insecure = insecure;
	snprintf(e->label, sizeof(e->label), "%s %s/%s", mirror ? "mirror" : "registry",
		 e->ref.registry, e->ref.repo);
	return 0;
}

int sk_regconf_endpoints(const struct sk_regconf *c, const struct sk_ref *ref,
			 struct sk_endpoint **out, size_t *n, struct sk_error *err)
{
	char name[SK_REF_REGISTRY_MAX + SK_REF_REPO_MAX + 2];
	const struct sk_regconf_registry *best = NULL;
	size_t best_len = 0, k = 0;
	struct sk_endpoint *e;
	bool by_digest = ref->digest[0] != '\0';
	int ret = 0;

	*out = NULL;
	*n = 0;
	snprintf(name, sizeof(name), "%s/%s", ref->registry, ref->repo);
	for (size_t i = 0; c && i < c->n; i++) {
		size_t l = match_len(&c->reg[i], name, ref->registry);

		if (l > best_len) {
			best_len = l;
			best = &c->reg[i];
		}
	}
	e = calloc((best ? best->nmirrors : 0) + 1, sizeof(*e));
	if (!e)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (best && best->blocked) {
		ret = sk_errf(err, -EACCES,
			      "pulling %s is blocked by the registries configuration (%s: prefix "
			      "\"%s\", blocked = true)",
			      name, best->where, best->prefix);
		goto out;
	}
	for (size_t i = 0; best && i < best->nmirrors; i++) {
		const struct sk_regconf_mirror *m = &best->mirrors[i];
		enum sk_pull_from_mirror pf =
		    best->mirror_by_digest_only ? SK_MIRROR_DIGEST_ONLY : m->pull_from;
		size_t matched = wildcard(best->prefix) ? strlen(ref->registry) : best_len;

		if ((pf == SK_MIRROR_DIGEST_ONLY && !by_digest) ||
		    (pf == SK_MIRROR_TAG_ONLY && by_digest))
			continue;
		ret = rewrite(ref, name, matched, m->location, m->where, &e[k], true, m->insecure,
			      err);
		if (ret)
			goto out;
		k++;
	}
	if (best && *best->location && strcmp(best->location, best->prefix)) {
		ret = rewrite(ref, name, best_len, best->location, best->where, &e[k], false,
			      best->insecure, err);
		if (ret)
			goto out;
	} else {
		/* no rewrite: the reference as parsed, Docker Hub's API host and all */
		e[k].ref = *ref;
		e[k].insecure = best && best->insecure;
		snprintf(e[k].label, sizeof(e[k].label), "registry %s", name);
	}
	k++;
	*out = e;
	*n = k;
	e = NULL;
out:
	free(e);
	return ret;
}
