/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/oci.h"

/* Real manifests nest about 4 levels; anything near this is hostile input. */
#define SK_JSON_MAX_DEPTH 64
/* How much of an offending key an error message quotes. */
#define SK_JSON_KEY_QUOTE 200

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

/*
 * A second look at a document json-c accepted. Two readers of one signed
 * document must never see two different documents, yet json-c keeps the last
 * of two equal keys where other parsers keep the first or refuse, and a person
 * reading a policy sees the first; json-c also cuts a key short at an escaped
 * NUL, and C code compares every string only up to its first NUL. json-c has
 * no hook for either, so this walks the text json-c accepted, tracking only
 * where strings are and which of them are object keys; json-c itself decodes
 * the keys that have escapes, so that "equal" means what it means to json-c.
 */
struct json_key {
	const char *s; /* decoded */
	size_t len;
	size_t at;		   /* byte offset of its opening quote */
	size_t raw_len;		   /* as written, without the quotes */
	struct json_object *owner; /* json-c's decoding when it has escapes, else NULL */
};

struct json_scan {
	const char *text;
	const char *what;
	struct json_key *keys; /* the keys of every open object, innermost last */
	size_t nkeys, cap;
	struct json_tokener *tok; /* decodes escaped keys; made on first use */
};

static int json_key_cmp(const void *a, const void *b)
{
	const struct json_key *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

static int scan_add_key(struct json_scan *sc, size_t at, size_t raw_len, bool escaped,
			struct sk_error *err)
{
	struct json_key *k;

	if (sc->nkeys == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct json_key *nk = realloc(sc->keys, cap * sizeof(*nk));

		if (!nk)
			return sk_errf(err, -ENOMEM, "%s: out of memory", sc->what);
		sc->keys = nk;
		sc->cap = cap;
	}
	k = &sc->keys[sc->nkeys];
	*k = (struct json_key){sc->text + at + 1, raw_len, at, raw_len, NULL};
	if (escaped) {
		if (!sc->tok)
			sc->tok = json_tokener_new_ex(1);
		if (!sc->tok)
			return sk_errf(err, -ENOMEM, "%s: out of memory", sc->what);
		json_tokener_reset(sc->tok);
		json_tokener_set_flags(sc->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		k->owner = json_tokener_parse_ex(sc->tok, sc->text + at, (int)raw_len + 2);
		if (!json_object_is_type(k->owner, json_type_string)) {
			json_object_put(k->owner);
			return sk_errf(err, -EBADMSG, "%s: invalid JSON: bad key at byte %zu",
				       sc->what, at);
		}
		k->s = json_object_get_string(k->owner);
		k->len = (size_t)json_object_get_string_len(k->owner);
	}
	sc->nkeys++;
	return 0;
}

/* Closes the object whose keys start at keys[base]: sorted, a repeat is adjacent. */
static int scan_close_object(struct json_scan *sc, size_t base, struct sk_error *err)
{
	const struct json_key *dup = NULL;
	size_t n = sc->nkeys - base;
	int ret = 0;

	if (n > 1) {
		qsort(sc->keys + base, n, sizeof(*sc->keys), json_key_cmp);
		for (size_t i = base + 1; i < sc->nkeys; i++) {
			const struct json_key *a = &sc->keys[i - 1], *b = &sc->keys[i];

			/* Of all repeats, name the one that comes first in the text. */
			if (a->len == b->len && !memcmp(a->s, b->s, a->len) &&
			    (!dup || b->at < dup->at))
				dup = b;
		}
	}
	if (dup)
		ret = sk_errf(
		    err, -EBADMSG,
		    "%s: invalid JSON: duplicate key \"%.*s\" at byte %zu (an object "
		    "must name each key once)",
		    sc->what,
		    (int)(dup->raw_len < SK_JSON_KEY_QUOTE ? dup->raw_len : SK_JSON_KEY_QUOTE),
		    sc->text + dup->at + 1, dup->at);
	for (size_t i = base; i < sc->nkeys; i++)
		json_object_put(sc->keys[i].owner);
	sc->nkeys = base;
	return ret;
}

/* text[0, len) is a document json-c accepted; refuses repeated keys and NULs in strings. */
static int scan_document(const char *text, size_t len, const char *what, struct sk_error *err)
{
	struct {
		bool object;
		bool want_key; /* the next string is a key */
		size_t base;   /* first key of this object in sc.keys */
	} st[SK_JSON_MAX_DEPTH + 1];
	struct json_scan sc = {.text = text, .what = what};
	size_t depth = 0;
	int ret = 0;

	for (size_t i = 0; i < len && !ret; i++) {
		switch (text[i]) {
		case '{':
		case '[':
			if (depth == SK_JSON_MAX_DEPTH + 1) {
				ret = sk_errf(err, -EBADMSG,
					      "%s: invalid JSON: nested deeper than %d levels at "
					      "byte %zu",
					      what, SK_JSON_MAX_DEPTH, i);
				break;
			}
			st[depth].object = text[i] == '{';
			st[depth].want_key = st[depth].object;
			st[depth].base = sc.nkeys;
			depth++;
			break;
		case '}':
		case ']':
			if (!depth) {
				ret =
				    sk_errf(err, -EBADMSG, "%s: invalid JSON at byte %zu", what, i);
				break;
			}
			depth--;
			if (st[depth].object)
				ret = scan_close_object(&sc, st[depth].base, err);
			break;
		case ',':
			if (depth && st[depth - 1].object)
				st[depth - 1].want_key = true;
			break;
		case '"': {
			size_t start = i;
			bool escaped = false;

			for (i++; i < len && text[i] != '"'; i++) {
				if (text[i] == '\0' ||
				    (text[i] == '\\' && i + 5 < len && text[i + 1] == 'u' &&
				     !memcmp(text + i + 2, "0000", 4))) {
					ret =
					    sk_errf(err, -EBADMSG,
						    "%s: invalid JSON: the string at byte %zu "
						    "contains a NUL character (\\u0000), which is "
						    "not allowed",
						    what, start);
					break;
				}
				if (text[i] == '\\') {
					escaped = true;
					i++;
				}
			}
			if (ret)
				break;
			if (i >= len) {
				ret = sk_errf(err, -EBADMSG,
					      "%s: invalid JSON: unterminated string at byte %zu",
					      what, start);
				break;
			}
			if (depth && st[depth - 1].want_key) {
				st[depth - 1].want_key = false;
				ret = scan_add_key(&sc, start, i - start - 1, escaped, err);
			}
			break;
		}
		default:
			break;
		}
	}
	while (sc.nkeys)
		json_object_put(sc.keys[--sc.nkeys].owner);
	free(sc.keys);
	if (sc.tok) /* json-c 0.16's json_tokener_free does not take NULL */
		json_tokener_free(sc.tok);
	return ret;
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
	ret = scan_document(data, end, what, err);
	if (ret)
		goto out;
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
