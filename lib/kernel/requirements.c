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
