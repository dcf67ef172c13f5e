/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside lib/kernel only. */
#ifndef SK_KERNEL_INTERNAL_H
#define SK_KERNEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <linux/btf.h>

struct btf;

#include "schedkit/kernel.h"

/*
 * struct sched_ext_ops, or a later variant such as the cid-form struct
 * sched_ext_ops_cid (7.2's scx_qmap uses it), possibly with a "___flavour"
 * suffix that libbpf strips when it matches the kernel type.
 */
static inline bool sk_is_scx_ops_type(const char *name)
{
	return sk_scx_ops_type_len(name) > 0;
}

/*
 * One "NAME=VALUE" against the tunables (DATASEC .rodata) of an object's BTF,
 * by the rules of sk_sched_validate_sets(). With data (the .rodata map's
 * initial value, size bytes) the value is also written there; without, it
 * is only checked. (attach.c)
 */
int sk_set_apply(const struct btf *btf, const char *assign, uint8_t *data, size_t size,
		 struct sk_error *err);

/* ---- a kernel's BTF, walked once for a few names (kbtf.c) ---- */

/* Raw native-endian BTF, mapped or read, never indexed. */
struct sk_kbtf {
	const char *path; /* borrowed, for messages */
	const uint8_t *data;
	size_t len;
	void *map; /* our mapping of data, or NULL */
	size_t map_len;
	struct btf *btf; /* libbpf's parse, for ELF or foreign-endian input */
	const uint8_t *types;
	uint32_t types_len;
	const char *strs;
	uint32_t strs_len;
};

/* Read raw BTF instead of mapping it (what kernels before 6.16 force for sysfs BTF). */
#define SK_KBTF_READ 1u

/*
 * Opens path (raw BTF such as /sys/kernel/btf/vmlinux, a vmlinux ELF, or BTF
 * of the other byte order) and checks its header. Errors name the file and
 * say how to pass another. path must outlive k.
 */
int sk_kbtf_open(const char *path, unsigned flags, struct sk_kbtf *k, struct sk_error *err);
void sk_kbtf_close(struct sk_kbtf *k);
/*
 * The string at off, or NULL when off lies outside the string section. (The
 * section ends with a NUL, so every offset inside it starts a string.)
 * Inline, as sk_nameset_find: both run once per type of a ~120k-type walk.
 */
static inline const char *sk_kbtf_str(const struct sk_kbtf *k, uint32_t off)
{
	return off < k->strs_len ? k->strs + off : NULL;
}

/* Returns 0 to go on, > 0 to stop the walk early (the walk then returns 0), < 0 to fail. */
typedef int sk_kbtf_visit_fn(const struct btf_type *t, uint32_t id, void *ctx);
/* 256 bits, one per first byte of a name. */
static inline void sk_bitmap_add(uint8_t bits[32], const char *name)
{
	bits[(uint8_t)name[0] / 8] |= (uint8_t)(1u << ((uint8_t)name[0] % 8));
}

/* A NULL name (an offset outside the strings) is never in. */
static inline bool sk_bitmap_has(const uint8_t bits[32], const char *name)
{
	return name && (bits[(uint8_t)name[0] / 8] & (1u << ((uint8_t)name[0] % 8)));
}

#define SK_KBTF_KIND(kind) (1u << (kind))

/* Which types a walk visits: most of a kernel's ~120k are of no interest. */
struct sk_kbtf_filter {
	uint32_t kinds;	      /* SK_KBTF_KIND(BTF_KIND_FUNC) | ... */
	const uint8_t *first; /* NULL, or only names starting with a byte in this bitmap */
};

/*
 * Calls visit for every type that passes f, in id order; every record is
 * checked to lie inside the type section (members, enumerators and params
 * included), visited or not.
 */
int sk_kbtf_walk(const struct sk_kbtf *k, const struct sk_kbtf_filter *f, sk_kbtf_visit_fn *visit,
		 void *ctx, struct sk_error *err);

/* A sorted set of names looked up by every type's name; found/vals per name. */
struct sk_nameset {
	const char **names; /* borrowed strings, sorted, unique */
	bool *found;
	uint64_t *vals;
	size_t n;
	uint8_t first[32]; /* bitmap of the names' first bytes: most lookups stop here */
};

int sk_nameset_init(struct sk_nameset *s, const char *const *names, size_t n);
void sk_nameset_free(struct sk_nameset *s);
long sk_nameset_search(const struct sk_nameset *s, const char *name);
/* Index of name in s->names, or -1. */
static inline long sk_nameset_find(const struct sk_nameset *s, const char *name)
{
	uint8_t c = (uint8_t)name[0];

	/* Most of the ~120k names start with a letter no wanted name starts with. */
	if (!(s->first[c / 8] & (1u << (c % 8))))
		return -1;
	return sk_nameset_search(s, name);
}
/*
 * Fills want->found/vals with the value of the first enumerator of each name
 * (ENUM values sign-extended, as the kernel's enums are int). Stops the walk
 * once every name is found.
 */
int sk_kbtf_enum_values(const struct sk_kbtf *k, struct sk_nameset *want, struct sk_error *err);

/* ---- prototypes (kbtf.c) ---- */

/* Types by id and names by offset, from libbpf's parse or a kernel's raw BTF. */
struct sk_btf_view {
	const void *src;
	const struct btf_type *(*type)(const void *src, uint32_t id); /* NULL: out of range */
	const char *(*name)(const void *src, uint32_t off);	      /* NULL: out of range */
};

/* Every type's offset in a kernel's raw BTF, so that ids can be followed. */
struct sk_kbtf_index {
	const struct sk_kbtf *k;
	uint32_t *off; /* off[id - 1] */
	uint32_t n;
};

int sk_kbtf_index(const struct sk_kbtf *k, struct sk_kbtf_index *idx, struct sk_error *err);
void sk_kbtf_index_free(struct sk_kbtf_index *idx);
void sk_kbtf_view(const struct sk_kbtf_index *idx, struct sk_btf_view *v);
void sk_btf_view_libbpf(const struct btf *btf, struct sk_btf_view *v);

/*
 * The FUNC_PROTO proto_id as "RET(P1, P2)" in the terms libbpf's
 * bpf_core_types_are_compat() compares (modifiers and typedefs skipped):
 * void, bool, char, sN/uN, "struct NAME", "union NAME", "enum NAME",
 * "enum64 NAME", "fwd NAME", floatN, a function type as RET(PARAMS), then " *"
 * per pointer and "[N]" per
 * array. -EINVAL when proto_id is not a FUNC_PROTO.
 */
int sk_btf_render_proto(const struct sk_btf_view *v, uint32_t proto_id, struct sk_buf *out);

/*
 * Does a kfunc the object declares as obj (a rendered prototype) link against
 * the kernel's kern? As libbpf decides: the same number of parameters, and
 * each parameter and the return of the same kind (integers of any size match
 * each other; struct, union and enum names do not count; pointers and arrays
 * compare what they point to). When not, why says how, e.g. "this kernel's
 * takes 3 arguments, the scheduler calls it with 2". (requirements.c)
 */
bool sk_req_proto_compat(const char *obj, const char *kern, char *why, size_t why_sz);

/*
 * Adds "KNAME RET(P1, P2)" for the extern's FUNC_PROTO proto_id in the
 * object's btf to protos, unless KNAME has one already. (requirements.c)
 */
int sk_req_kfunc_proto(const struct btf *btf, uint32_t proto_id, const char *kname,
		       struct sk_strv *protos);
/* {"NAME": "RET(P1, P2)", ...}: the config's requirements.kfuncs.prototypes. */
struct json_object *sk_req_kfunc_protos_json(const struct sk_strv *protos);

/*
 * Sorts the weak externs ("KNAME FLAVOR RET(P1, P2)", one per extern) into
 * info: a kfunc that is also strong is required already; two or more weak
 * flavors with different prototypes are "where the kernel has KNAME, one of
 * these must link" (KNAME goes to kfuncs_optional, each flavor to
 * kfunc_oneof); anything else is optional. (requirements.c)
 */
int sk_req_kfunc_flavors(struct sk_sched_info *info, struct sk_strv *weak);
/* {"KNAME": {"FLAVOR": "RET(P1, P2)", ...}, ...}: requirements.kfuncs.oneOf. */
struct json_object *sk_req_kfunc_oneof_json(const struct sk_strv *oneof);

#endif
