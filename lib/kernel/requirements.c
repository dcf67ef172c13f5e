/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel release table (releases.def) and the derivation of a scheduler's
 * kernel requirements from what sk_sched_analyze() found in its object.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/kernel.h"
#include "internal.h"

#define SK_BASE_RELEASE "6.12" /* sched_ext's first mainline release */

struct sk_rel_entry {
	const char *name;
	const char *release;
};

struct sk_flag_entry {
	const char *name;
	uint64_t bit;
	const char *release;
};

static const struct sk_rel_entry sk_kfuncs[] = {
#define SK_KFUNC(n, r) {#n, r},
#include "releases.def"
};

static const struct sk_rel_entry sk_kfuncs_removed[] = {
#define SK_KFUNC_REMOVED(n, r) {#n, r},
#include "releases.def"
};

static const struct sk_rel_entry sk_members[] = {
#define SK_MEMBER(n, r) {#n, r},
#include "releases.def"
};

static const struct sk_rel_entry sk_ops_types[] = {
#define SK_OPS_TYPE(n, r) {#n, r},
#include "releases.def"
};

static const struct sk_flag_entry sk_flags[] = {
#define SK_FLAG(n, b, r) {#n, b, r},
#include "releases.def"
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *find_rel(const struct sk_rel_entry *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return t[i].release;
	return NULL;
}

const char *sk_req_release(enum sk_req_kind kind, const char *name)
{
	if (!name)
		return NULL;
	switch (kind) {
	case SK_REQ_KFUNC:
		return find_rel(sk_kfuncs, ARRAY_LEN(sk_kfuncs), name);
	case SK_REQ_CALLBACK:
		return find_rel(sk_members, ARRAY_LEN(sk_members), name);
	case SK_REQ_FLAG:
		for (size_t i = 0; i < ARRAY_LEN(sk_flags); i++)
			if (!strcmp(sk_flags[i].name, name))
				return sk_flags[i].release;
		return NULL;
	}
	return NULL;
}

size_t sk_scx_ops_type_len(const char *name)
{
	const char *flavour = name ? strstr(name, "___") : NULL;
	size_t base = strlen(SK_SCX_OPS_TYPE), len;

	if (!name)
		return 0;
	len = flavour ? (size_t)(flavour - name) : strlen(name);
	if (len < base || strncmp(name, SK_SCX_OPS_TYPE, base))
		return 0;
	if (len == base)
		return len;
	/* A later kernel's variant: "sched_ext_ops_" and a C identifier's tail. */
	if (name[base] != '_' || len == base + 1)
		return 0;
	for (size_t i = base + 1; i < len; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return 0;
	return len;
}

const char *sk_req_ops_type_release(const char *type)
{
	return type ? find_rel(sk_ops_types, ARRAY_LEN(sk_ops_types), type) : NULL;
}

const char *sk_req_kfunc_removed(const char *name)
{
	if (!name)
		return NULL;
	return find_rel(sk_kfuncs_removed, ARRAY_LEN(sk_kfuncs_removed), name);
}

const char *sk_req_flag_release(uint64_t bit)
{
	for (size_t i = 0; i < ARRAY_LEN(sk_flags); i++)
		if (sk_flags[i].bit == bit)
			return sk_flags[i].release;
	return NULL;
}

int sk_release_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	/* Numeric per dotted component, so "6.9" < "6.12" < "7.0". */
	while (*a || *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			char *ea, *eb;
			unsigned long long na = strtoull(a, &ea, 10);
			unsigned long long nb = strtoull(b, &eb, 10);

			if (na != nb)
				return na < nb ? -1 : 1;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b) {
			/* A release with more components is later: "6.12" < "6.12.1". */
			if (!*a)
				return -1;
			if (!*b)
				return 1;
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		}
		a++;
		b++;
	}
	return 0;
}

/* Accumulates the maximum release and the items that set it. */
struct sk_req_acc {
	struct sk_sched_info *info;
	const char *max;
};

static int acc_item(struct sk_req_acc *acc, const char *what, const char *name, const char *release)
{
	char item[256];
	int cmp;

	if (!release) {
		snprintf(item, sizeof(item), "%s %s", what, name);
		return sk_strv_push(&acc->info->unknown, item);
	}
	cmp = sk_release_cmp(release, acc->max);
	if (cmp < 0 || sk_release_cmp(release, SK_BASE_RELEASE) <= 0)
		return 0;
	if (cmp > 0) {
		sk_strv_free(&acc->info->min_kernel_because);
		acc->max = release;
	}
	snprintf(item, sizeof(item), "%s %s (%s)", what, name, release);
	return sk_strv_push(&acc->info->min_kernel_because, item);
}

static int acc_removed(struct sk_sched_info *info, const char *kfunc)
{
	const char *removed = sk_req_kfunc_removed(kfunc);
	char item[256];
	int cmp;

	if (!removed)
		return 0;
	cmp = info->kernel_before[0] ? sk_release_cmp(removed, info->kernel_before) : -1;
	if (cmp > 0)
		return 0;
	if (cmp < 0) {
		sk_strv_free(&info->kernel_before_because);
		snprintf(info->kernel_before, sizeof(info->kernel_before), "%s", removed);
	}
	snprintf(item, sizeof(item), "kfunc %s (removed in %s)", kfunc, removed);
	return sk_strv_push(&info->kernel_before_because, item);
}

int sk_requirements_derive(struct sk_sched_info *info)
{
	struct sk_req_acc acc = {.info = info, .max = SK_BASE_RELEASE};
	const struct sk_ops_info *ops = info->ops;
	int ret = 0;

	sk_strv_free(&info->min_kernel_because);
	sk_strv_free(&info->unknown);
	sk_strv_free(&info->kernel_before_because);
	info->kernel_before[0] = '\0';

	for (size_t i = 0; !ret && i < info->kfuncs_required.n; i++) {
		const char *k = info->kfuncs_required.v[i];

		ret = acc_item(&acc, "kfunc", k, sk_req_release(SK_REQ_KFUNC, k));
		if (!ret)
			ret = acc_removed(info, k);
	}
	/* A later ops struct is a requirement of its own (6.16 has no sched_ext_ops_cid). */
	if (ops && ops->type && strcmp(ops->type, SK_SCX_OPS_TYPE))
		ret = acc_item(&acc, "ops", ops->type, sk_req_ops_type_release(ops->type));
	for (size_t i = 0; ops && !ret && i < ops->callbacks.n; i++) {
		const char *c = ops->callbacks.v[i];

		ret = acc_item(&acc, "callback", c, sk_req_release(SK_REQ_CALLBACK, c));
	}
	for (size_t i = 0; ops && !ret && i < ops->members.n; i++) {
		const char *m = ops->members.v[i];

		ret = acc_item(&acc, "member", m, sk_req_release(SK_REQ_CALLBACK, m));
	}
	for (int b = 0; ops && !ret && b < 64; b++) {
		uint64_t bit = 1ULL << b;
		char hex[32];
		const char *name = hex;

		if (!(ops->flags & bit))
			continue;
		snprintf(hex, sizeof(hex), "0x%" PRIx64, bit);
		for (size_t i = 0; i < ARRAY_LEN(sk_flags); i++)
			if (sk_flags[i].bit == bit)
				name = sk_flags[i].name;
		ret = acc_item(&acc, "flag", name, sk_req_flag_release(bit));
	}
	if (ret)
		return ret;
	snprintf(info->min_kernel, sizeof(info->min_kernel), "%s", acc.max);
	sk_strv_sort_uniq(&info->min_kernel_because);
	sk_strv_sort_uniq(&info->unknown);
	sk_strv_sort_uniq(&info->kernel_before_because);
	return 0;
}

/* ---- kfunc prototypes, compared as libbpf links them ---- */

static bool is_int_token(const char *tok, size_t n)
{
	if ((n == 4 && !strncmp(tok, "bool", 4)) || (n == 4 && !strncmp(tok, "char", 4)))
		return true;
	if (n < 2 || (tok[0] != 's' && tok[0] != 'u'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)tok[i]))
			return false;
	return true;
}

/*
 * A rendered prototype reduced to what libbpf's bpf_core_types_are_compat()
 * compares: integers of every size are "int", struct/union/enum/fwd keep
 * their kind and lose their name, arrays lose their length. False when it
 * holds a type libbpf never matches (bit-field integers, floats, kinds it
 * does not know, broken references).
 */
static bool proto_kinds(const char *s, struct sk_buf *out)
{
	bool drop_name = false, in_array = false, ok = true;

	while (*s) {
		size_t n = 0;

		if (isalnum((unsigned char)*s) || *s == '_') {
			while (isalnum((unsigned char)s[n]) || s[n] == '_')
				n++;
			if (in_array) {
				/* the length does not count */
			} else if (drop_name) {
				drop_name = false;
			} else if (is_int_token(s, n)) {
				sk_buf_printf(out, "int ");
			} else {
				if ((n == 6 &&
				     (!strncmp(s, "struct", 6) || !strncmp(s, "enum64", 6))) ||
				    (n == 5 && !strncmp(s, "union", 5)) ||
				    (n == 4 && !strncmp(s, "enum", 4)) ||
				    (n == 3 && !strncmp(s, "fwd", 3)))
					drop_name = true;
				else if (!(n == 4 && !strncmp(s, "void", 4)))
					ok = false; /* bitfieldN, floatN, kindN */
				sk_buf_printf(out, "%.*s ", (int)n, s);
			}
			s += n;
			continue;
		}
		if (*s == '[')
			in_array = true;
		else if (*s == ']')
			in_array = false;
		else if (*s == '?')
			ok = false;
		if (*s != ' ')
			sk_buf_printf(out, "%c", *s);
		s++;
	}
	return ok;
}

/* The parameter list: the parenthesised group that ends the string. */
static bool split_proto(const char *s, size_t *open, size_t *close)
{
	size_t len = strlen(s);
	int depth = 0;

	if (!len || s[len - 1] != ')')
		return false;
	*close = len - 1;
	for (size_t i = len; i-- > 0;) {
		depth += s[i] == ')';
		depth -= s[i] == '(';
		if (!depth) {
			*open = i;
			return true;
		}
	}
	return false;
}

/* The parameters between open and close, split at top-level commas (as [start, end) pairs). */
static size_t split_params(const char *s, size_t open, size_t close, size_t pos[][2], size_t max)
{
	size_t n = 0, start = open + 1;
	int depth = 0;

	if (close == open + 1)
		return 0;
	for (size_t i = open + 1; i <= close; i++) {
		if (s[i] == '(' || s[i] == '[')
			depth++;
		else if ((s[i] == ')' || s[i] == ']') && i != close)
			depth--;
		if ((i == close || (s[i] == ',' && !depth)) && n < max) {
			pos[n][0] = start;
			pos[n][1] = i;
			n++;
			start = i + 1;
			while (s[start] == ' ')
				start++;
		}
	}
	return n;
}

static bool part_compat(const char *a, size_t alen, const char *b, size_t blen)
{
	char *x = strndup(a, alen), *y = strndup(b, blen);
	struct sk_buf kx = {0}, ky = {0};
	bool ok;

	ok = x && y && proto_kinds(x, &kx) && proto_kinds(y, &ky) && kx.len == ky.len &&
	     (!kx.len || !memcmp(kx.data, ky.data, kx.len));
	sk_buf_free(&kx);
	sk_buf_free(&ky);
	free(x);
	free(y);
	return ok;
}

#define PROTO_MAX_PARAMS 64

bool sk_req_proto_compat(const char *obj, const char *kern, char *why, size_t why_sz)
{
	size_t oo, oc, ko, kc, np_o, np_k;
	size_t po[PROTO_MAX_PARAMS][2], pk[PROTO_MAX_PARAMS][2];

	if (why_sz)
		why[0] = '\0';
	if (!split_proto(obj, &oo, &oc) || !split_proto(kern, &ko, &kc)) {
		snprintf(why, why_sz,
			 "the prototypes cannot be compared (kernel: %s; scheduler: %s)", kern,
			 obj);
		return false;
	}
	np_o = split_params(obj, oo, oc, po, PROTO_MAX_PARAMS);
	np_k = split_params(kern, ko, kc, pk, PROTO_MAX_PARAMS);
	if (np_o != np_k) {
		snprintf(why, why_sz,
			 "this kernel's takes %zu argument%s, the scheduler calls it with %zu "
			 "(kernel: %s; scheduler: %s)",
			 np_k, np_k == 1 ? "" : "s", np_o, kern, obj);
		return false;
	}
	for (size_t i = 0; i < np_o; i++)
		if (!part_compat(obj + po[i][0], po[i][1] - po[i][0], kern + pk[i][0],
				 pk[i][1] - pk[i][0])) {
			snprintf(
			    why, why_sz,
			    "argument %zu: this kernel's takes %.*s, the scheduler passes %.*s "
			    "(kernel: %s; scheduler: %s)",
			    i + 1, (int)(pk[i][1] - pk[i][0]), kern + pk[i][0],
			    (int)(po[i][1] - po[i][0]), obj + po[i][0], kern, obj);
			return false;
		}
	if (!part_compat(obj, oo, kern, ko)) {
		snprintf(why, why_sz,
			 "this kernel's returns %.*s, the scheduler expects %.*s (kernel: %s; "
			 "scheduler: %s)",
			 (int)ko, kern, (int)oo, obj, kern, obj);
		return false;
	}
	return true;
}

int sk_req_kfunc_proto(const struct btf *btf, uint32_t proto_id, const char *kname,
		       struct sk_strv *protos)
{
	struct sk_btf_view v;
	struct sk_buf b = {0};
	size_t klen = strlen(kname);
	int ret;

	/* Two strong flavours of one kfunc: libbpf links the first it meets. */
	for (size_t i = 0; i < protos->n; i++)
		if (!strncmp(protos->v[i], kname, klen) && protos->v[i][klen] == ' ')
			return 0;
	sk_btf_view_libbpf(btf, &v);
	ret = sk_buf_printf(&b, "%s ", kname);
	if (!ret)
		ret = sk_btf_render_proto(&v, proto_id, &b);
	/* An extern FUNC whose type is no FUNC_PROTO: libbpf refuses the object anyway. */
	if (ret == -EINVAL)
		ret = 0;
	else if (!ret)
		ret = sk_strv_push(protos, (const char *)b.data);
	sk_buf_free(&b);
	return ret;
}

struct json_object *sk_req_kfunc_protos_json(const struct sk_strv *protos)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; o && i < protos->n; i++) {
		const char *sp = strchr(protos->v[i], ' ');
		char *name = sp ? strndup(protos->v[i], (size_t)(sp - protos->v[i])) : NULL;
		struct json_object *v = sp ? json_object_new_string(sp + 1) : NULL;

		if (!name || !v || json_object_object_add(o, name, v)) {
			json_object_put(v);
			json_object_put(o);
			o = NULL;
		}
		free(name);
	}
	return o;
}

/* ---- weak flavors of one kfunc ---- */

/* "KNAME FLAVOR PROTO": the length of the first word, and where the third starts. */
static size_t word_len(const char *s)
{
	const char *sp = strchr(s, ' ');

	return sp ? (size_t)(sp - s) : strlen(s);
}

static const char *flavor_proto(const char *entry)
{
	const char *p = strchr(entry, ' ');

	p = p ? strchr(p + 1, ' ') : NULL;
	return p ? p + 1 : "";
}

int sk_req_kfunc_flavors(struct sk_sched_info *info, struct sk_strv *weak)
{
	int ret = 0;

	sk_strv_sort_uniq(weak);
	for (size_t i = 0, j; !ret && i < weak->n; i = j) {
		size_t klen = word_len(weak->v[i]);
		bool differ = false;
		char *kname = strndup(weak->v[i], klen);

		if (!kname)
			return -ENOMEM;
		for (j = i + 1; j < weak->n && word_len(weak->v[j]) == klen &&
				!strncmp(weak->v[j], kname, klen);
		     j++)
			differ |= strcmp(flavor_proto(weak->v[j]), flavor_proto(weak->v[i])) != 0;
		if (sk_strv_contains(&info->kfuncs_required, kname)) {
			/* a strong flavour: required already, with its prototype */
		} else if (differ) {
			/*
			 * Flavors only differ in their prototype to match different
			 * kernels: where the kernel has the kfunc, one of them must
			 * link. Still optional: a kernel without it may be served by
			 * a fallback under another name (upstream's compat.bpf.h falls
			 * back from scx_bpf_dsq_move_to_local___v1/___v2 to 6.12's
			 * scx_bpf_consume), so it neither raises minKernel nor
			 * refuses a kernel that lacks it.
			 */
			ret = sk_strv_push(&info->kfuncs_optional, kname);
			for (size_t f = i; !ret && f < j; f++)
				ret = sk_strv_push(&info->kfunc_oneof, weak->v[f]);
		} else {
			ret = sk_strv_push(&info->kfuncs_optional, kname);
		}
		free(kname);
	}
	return ret;
}

struct json_object *sk_req_kfunc_oneof_json(const struct sk_strv *oneof)
{
	struct json_object *o = json_object_new_object(), *group = NULL;
	int ret = o ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < oneof->n; i++) {
		const char *e = oneof->v[i], *fl = e + word_len(e) + (e[word_len(e)] == ' ');
		char *kname = strndup(e, word_len(e)), *flavor = strndup(fl, word_len(fl));
		struct json_object *v = json_object_new_string(flavor_proto(e));

		if (!kname || !flavor || !v)
			ret = -ENOMEM;
		if (!ret && !json_object_object_get_ex(o, kname, &group)) {
			group = json_object_new_object();
			if (!group || json_object_object_add(o, kname, group)) {
				json_object_put(group);
				ret = -ENOMEM;
			}
		}
		if (!ret && json_object_object_add(group, flavor, v))
			ret = -ENOMEM;
		else if (!ret)
			v = NULL;
		json_object_put(v);
		free(kname);
		free(flavor);
	}
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
