/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load-time declarations: what the user-space loader of an scx scheduler does
 * between open and attach, said in the scheduler's schedkit.json instead of
 * written in Rust or C, so that skrun does it from the artifact alone:
 *
 *   "load": {
 *     "needsUserSpace": "why",                 skrun refuses to run it
 *     "rodata":   {"VAR": VALUE, ...},         const volatile globals
 *     "data":     {"VAR": VALUE, ...},         .data/.bss globals
 *     "maps":     {"MAP": {"maxEntries": VALUE, "innerMaps": "create"}},
 *     "syscalls": [{"program": "P", "for": "once"|"cpu"|"siblingPair"|...,
 *                   "args": {"FIELD": VALUE}}],
 *     "ops":      {"flags": [FLAG, ...], "timeout_ms": VALUE, ...}
 *   }
 *
 * A VALUE is a JSON integer or boolean, the name of a host fact (a string;
 * hostfacts.c has the closed list), or {"kernelEnum": "NAME"}: an enumerator
 * of the running kernel, read from its BTF. Nothing else: no expressions.
 * Every name is typed against the object's BTF when skbuild records the
 * declarations and again when skrun applies them.
 */
#include <errno.h>
#include <stdarg.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "schedkit/kernel.h"
#include "internal.h"
#include "loadspec.h"

#define SCX_TIMEOUT_MAX_MS 30000

/* ---- JSON and BTF helpers ---- */

static struct json_object *get(const struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_get_ex((struct json_object *)o, key, &v);
	return v;
}

/* Refuses keys outside allowed (NULL-terminated), naming where and what is allowed. */
static int only_keys(const struct json_object *o, const char *where, const char *const *allowed,
		     struct sk_error *err)
{
	json_object_object_foreach((struct json_object *)o, k, v)
	{
		bool ok = false;
		struct sk_buf names = {0};
		int ret;

		(void)v;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, k);
		if (ok)
			continue;
		for (const char *const *a = allowed; *a; a++)
			sk_buf_printf(&names, "%s\"%s\"", a == allowed ? "" : ", ", *a);
		ret = sk_errf(err, -EINVAL, "%s: unknown key \"%s\" (allowed: %s)", where, k,
			      names.data ? (char *)names.data : "");
		sk_buf_free(&names);
		return ret;
	}
	return 0;
}

static const struct btf_type *skip_mods(const struct btf *btf, uint32_t id, uint32_t *res)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	for (unsigned depth = 0; t && (btf_is_mod(t) || btf_is_typedef(t)); depth++) {
		if (depth > 32)
			return NULL;
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (res)
		*res = id;
	return t;
}

/* An integer (or enum) slot: what a declared value can be stored into. */
struct slot {
	uint32_t size;	/* bytes, 1..8 */
	bool is_bool;	/* _Bool */
	uint32_t nelem; /* 0: a scalar; else an array of that many slots of size */
};

/* Classifies the type id as a scalar integer/enum or an array of them; false otherwise. */
static bool classify(const struct btf *btf, uint32_t id, struct slot *s)
{
	const struct btf_type *t = skip_mods(btf, id, NULL);

	memset(s, 0, sizeof(*s));
	if (t && btf_is_array(t)) {
		s->nelem = btf_array(t)->nelems;
		t = skip_mods(btf, btf_array(t)->type, NULL);
		if (!s->nelem)
			return false;
	}
	if (!t)
		return false;
	if (btf_is_int(t)) {
		s->size = t->size;
		s->is_bool = btf_int_encoding(t) & BTF_INT_BOOL;
		return s->size >= 1 && s->size <= 8 && btf_int_bits(t) <= s->size * 8;
	}
	if (btf_is_enum(t) || btf_is_enum64(t)) {
		s->size = t->size;
		return s->size >= 1 && s->size <= 8;
	}
	return false;
}

static const char *slot_desc(const struct slot *s, char *buf, size_t sz)
{
	if (s->nelem)
		snprintf(buf, sz, "an array of %u %u-byte integers", s->nelem, s->size);
	else
		snprintf(buf, sz, "a %u-byte %s", s->size, s->is_bool ? "bool" : "integer");
	return buf;
}

/* Little- or big-endian alike: the low-order bytes of a value of that width. */
void sk_store_uint(uint8_t *dst, uint32_t size, uint64_t v)
{
	switch (size) {
	case 1: {
		uint8_t x = (uint8_t)v;
		memcpy(dst, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(dst, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(dst, &x, 4);
		break;
	}
	default:
		memcpy(dst, &v, size < 8 ? size : 8);
		break;
	}
}

/* Stores v into size bytes if it fits the signed or the unsigned range of that width. */
static int store(uint8_t *dst, uint32_t size, int64_t v, const char *where, struct sk_error *err)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return sk_errf(err, -EINVAL, "%s: a %u-byte integer cannot be stored", where, size);
	if (size < 8) {
		int64_t lo = -(INT64_C(1) << (size * 8 - 1));
		int64_t hi = (INT64_C(1) << (size * 8)) - 1;

		if (v < lo || v > hi)
			return sk_errf(err, -ERANGE,
				       "%s: the value %" PRId64 " does not fit in %u bytes", where,
				       v, size);
	}
	sk_store_uint(dst, size, (uint64_t)v);
	return 0;
}

/* ---- values ---- */

enum vkind { V_LIT, V_FACT, V_ENUM, V_SIBLING };

struct val {
	enum vkind kind;
	int64_t lit;
	const char *name; /* fact or enumerator; borrowed from the JSON */
	enum sk_fact_kind fact;
};

/* What a value may be where it is used. */
enum vctx {
	CTX_SCALAR,   /* one number: literals, host-wide facts, kernel enumerators */
	CTX_PER_CPU,  /* an array filled per CPU: per-CPU facts only */
	CTX_ITER_CPU, /* an argument of a per-CPU run: also per-CPU facts of that CPU */
	CTX_ITER_SIB, /* ... of a pair run (SMT, L2, L3, LLC): also "sibling" */
};

static int parse_val(struct json_object *j, const char *where, enum vctx ctx, struct val *v,
		     struct sk_error *err)
{
	memset(v, 0, sizeof(*v));
	if (json_object_is_type(j, json_type_int) || json_object_is_type(j, json_type_boolean)) {
		if (ctx == CTX_PER_CPU)
			return sk_errf(err, -EINVAL,
				       "%s: an array is filled per CPU from a per-CPU host fact "
				       "(cpu_capacity, cpus_by_capacity, cpu_node, ...), not a "
				       "constant",
				       where);
		v->kind = V_LIT;
		v->lit = json_object_get_int64(j);
		return 0;
	}
	if (json_object_is_type(j, json_type_string)) {
		v->name = json_object_get_string(j);
		if (!strcmp(v->name, "sibling")) {
			if (ctx != CTX_ITER_SIB)
				return sk_errf(
				    err, -EINVAL,
				    "%s: \"sibling\" is only defined in a syscall run "
				    "\"for\": \"siblingPair\" (or \"l2Pair\", \"l3Pair\", "
				    "\"llcPair\")",
				    where);
			v->kind = V_SIBLING;
			return 0;
		}
		v->kind = V_FACT;
		v->fact = sk_fact_kind(v->name);
		if (v->fact == SK_FACT_NONE)
			return sk_errf(err, -EINVAL, "%s: '%s' is not a host fact (known: %s)",
				       where, v->name, sk_fact_names());
		if (v->fact == SK_FACT_PER_CPU && ctx == CTX_SCALAR)
			return sk_errf(err, -EINVAL,
				       "%s: host fact '%s' has one value per CPU; here one value "
				       "is needed (declare it on an array, or in a syscall run "
				       "\"for\": \"cpu\")",
				       where, v->name);
		if (v->fact != SK_FACT_PER_CPU && ctx == CTX_PER_CPU)
			return sk_errf(err, -EINVAL,
				       "%s: host fact '%s' is one value for the host; an array "
				       "is filled from a per-CPU fact",
				       where, v->name);
		return 0;
	}
	if (json_object_is_type(j, json_type_object) && json_object_object_length(j) == 1 &&
	    get(j, "kernelEnum") && json_object_is_type(get(j, "kernelEnum"), json_type_string)) {
		if (ctx == CTX_PER_CPU)
			return sk_errf(err, -EINVAL,
				       "%s: an array is filled from a per-CPU host fact, not a "
				       "kernel enumerator",
				       where);
		v->kind = V_ENUM;
		v->name = json_object_get_string(get(j, "kernelEnum"));
		if (!v->name[0])
			return sk_errf(err, -EINVAL, "%s: \"kernelEnum\" needs an enumerator name",
				       where);
		return 0;
	}
	return sk_errf(err, -EINVAL,
		       "%s: a value is an integer, true/false, a host fact name (%s) or "
		       "{\"kernelEnum\": \"NAME\"}",
		       where, sk_fact_names());
}

/*
 * The pair runs: each online CPU with each other online CPU that shares its
 * core (SMT siblings), its L2, its L3 or its last-level cache. 0 for a
 * per-CPU run, -1 for an unknown name.
 */
enum pair_kind { PAIR_NONE, PAIR_SMT, PAIR_L2, PAIR_L3, PAIR_LLC };

static int pair_kind(const char *mode)
{
	static const char *const names[] = {"cpu", "siblingPair", "l2Pair", "l3Pair", "llcPair"};

	for (int i = 0; i < 5; i++)
		if (!strcmp(mode, names[i]))
			return i;
	return -1;
}

/* ---- the object ---- */

struct var_loc {
	struct bpf_map *map; /* the datasec map holding it */
	const struct btf_type *dsec;
	uint32_t offset, size, type_id;
	bool last; /* the section's last variable (libbpf can resize it) */
};

/*
 * The global variable name in a section of the family "rodata" (.rodata,
 * .rodata.NAME: const volatile) or "data" (.data, .bss and their .NAME
 * sections) of obj.
 */
static bool in_family(const char *sec, const char *family)
{
	static const char *const rodata[] = {".rodata", NULL}, *const data[] = {".data", ".bss",
										NULL};

	for (const char *const *p = strcmp(family, "rodata") ? data : rodata; *p; p++) {
		size_t n = strlen(*p);

		if (!strncmp(sec, *p, n) && (!sec[n] || sec[n] == '.'))
			return true;
	}
	return false;
}

static bool find_global_var(struct bpf_object *obj, const char *family, const char *name,
			    struct var_loc *loc)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj)
	{
		const struct btf_type *d;
		const struct btf_var_secinfo *vs;
		const char *sec;

		if (!btf || !bpf_map__is_internal(m))
			continue;
		d = btf__type_by_id(btf, bpf_map__btf_value_type_id(m));
		if (!d || !btf_is_datasec(d))
			continue;
		sec = btf__name_by_offset(btf, d->name_off);
		if (!sec || !in_family(sec, family))
			continue;
		vs = btf_var_secinfos(d);
		for (int i = 0; i < btf_vlen(d); i++, vs++) {
			const struct btf_type *v = btf__type_by_id(btf, vs->type);

			if (!v || !btf_is_var(v) ||
			    strcmp(btf__name_by_offset(btf, v->name_off), name))
				continue;
			loc->map = m;
			loc->dsec = d;
			loc->offset = vs->offset;
			loc->size = vs->size;
			loc->type_id = v->type;
			loc->last = i == btf_vlen(d) - 1;
			return true;
		}
	}
	return false;
}

static int member_slot(const struct btf *btf, const struct btf_type *st, const char *name,
		       uint32_t *off, struct slot *s)
{
	const struct btf_member *m = btf_members(st);

	for (int i = 0; i < btf_vlen(st); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), name))
			continue;
		if (btf_member_bitfield_size(st, i) || !classify(btf, m->type, s) || s->nelem)
			return -EINVAL;
		*off = btf_member_bit_offset(st, i) / 8;
		return 0;
	}
	return -ENOENT;
}

static void member_names(const struct btf *btf, const struct btf_type *st, struct sk_buf *b)
{
	const struct btf_member *m = btf_members(st);

	for (int i = 0; i < btf_vlen(st); i++, m++)
		sk_buf_printf(b, "%s%s", i ? ", " : "", btf__name_by_offset(btf, m->name_off));
}

/* The struct a SEC("syscall") program's argument points to; NULL when it takes none. */
static const struct btf_type *prog_arg_struct(const struct btf *btf, const char *prog)
{
	int id = btf__find_by_name_kind(btf, prog, BTF_KIND_FUNC);
	const struct btf_type *fn = id > 0 ? btf__type_by_id(btf, id) : NULL;
	const struct btf_type *proto = fn ? btf__type_by_id(btf, fn->type) : NULL;
	const struct btf_type *p;

	if (!proto || !btf_is_func_proto(proto) || btf_vlen(proto) < 1)
		return NULL;
	p = skip_mods(btf, btf_params(proto)[0].type, NULL);
	if (!p || !btf_is_ptr(p))
		return NULL;
	p = skip_mods(btf, p->type, NULL);
	return p && btf_is_struct(p) ? p : NULL;
}

static const struct btf_type *ops_struct(struct bpf_object *obj, struct bpf_map *ops_map)
{
	return skip_mods(bpf_object__btf(obj), bpf_map__btf_value_type_id(ops_map), NULL);
}

/* ---- checking ---- */

static const char *const top_keys[] = {"needsUserSpace", "rodata", "data", "maps",
				       "syscalls",	 "ops",	   NULL};
static const char *const map_keys[] = {"maxEntries", "innerMaps", NULL};
static const char *const run_keys[] = {"program", "for", "args", NULL};
static const char *const ops_keys[] = {"flags", "timeout_ms", "exit_dump_len", "dispatch_max_batch",
				       NULL};
static const char *const flag_keys[] = {"flag", "when", "optional", NULL};

static int check_vars(struct bpf_object *obj, const char *family, struct json_object *ro,
		      struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);
	bool is_ro = !strcmp(family, "rodata");

	if (!json_object_is_type(ro, json_type_object))
		return sk_errf(err, -EINVAL,
			       "load.%s: an object of \"VARIABLE\": VALUE is expected", family);
	json_object_object_foreach(ro, name, jv)
	{
		char where[256], desc[96];
		struct var_loc loc;
		struct slot s;
		struct val v;
		int ret;

		snprintf(where, sizeof(where), "load.%s.%s", family, name);
		if (!strncmp(name, "__SCX_", 6) || !strcmp(name, "uei_dump_len") ||
		    !strcmp(name, "uei"))
			return sk_errf(
			    err, -EINVAL,
			    "%s: '%s' is skrun's own (the kernel's enums, the exit record "
			    "and its dump size); remove the declaration",
			    where, name);
		if (!find_global_var(obj, family, name, &loc))
			return sk_errf(
			    err, -ENOENT,
			    is_ro ? "%s: the object has no const volatile variable '%s' (`skbuild "
				    "inspect` lists its tunables); fix the name or remove the "
				    "declaration"
				  : "%s: the object has no global variable '%s' in .data or .bss "
				    "(a const volatile one goes under \"rodata\"); fix the name or "
				    "remove the declaration",
			    where, name);
		if (!classify(btf, loc.type_id, &s))
			return sk_errf(err, -EINVAL,
				       "%s: '%s' is not an integer, bool, enum or an array of "
				       "them, so no host fact can fill it",
				       where, name);
		ret = parse_val(jv, where, s.nelem ? CTX_PER_CPU : CTX_SCALAR, &v, err);
		if (ret) {
			sk_err_prefix(err, "(%s is %s) ", name, slot_desc(&s, desc, sizeof(desc)));
			return ret;
		}
		if (s.is_bool && !s.nelem && v.kind == V_FACT && v.fact != SK_FACT_BOOL)
			return sk_errf(err, -EINVAL,
				       "%s: '%s' is a bool; host fact '%s' is a number (use a "
				       "condition: smt_enabled, numa)",
				       where, name, v.name);
		if (s.is_bool && v.kind == V_LIT && v.lit != 0 && v.lit != 1)
			return sk_errf(err, -EINVAL, "%s: '%s' is a bool; give true or false",
				       where, name);
	}
	return 0;
}

static int check_maps(struct bpf_object *obj, struct json_object *maps, struct sk_error *err)
{
	if (!json_object_is_type(maps, json_type_object))
		return sk_errf(err, -EINVAL, "load.maps: an object of \"MAP\": {...} is expected");
	json_object_object_foreach(maps, name, decl)
	{
		struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
		struct json_object *me, *inner;
		char where[256];
		struct val v;
		int ret;

		snprintf(where, sizeof(where), "load.maps.%s", name);
		if (!m || bpf_map__is_internal(m))
			return sk_errf(err, -ENOENT,
				       "%s: the object has no map '%s' in SEC(\".maps\"); fix the "
				       "name or remove the declaration",
				       where, name);
		if (!json_object_is_type(decl, json_type_object))
			return sk_errf(err, -EINVAL,
				       "%s: {\"maxEntries\": VALUE} or {\"innerMaps\": \"create\"} "
				       "is expected",
				       where);
		ret = only_keys(decl, where, map_keys, err);
		if (ret)
			return ret;
		me = get(decl, "maxEntries");
		if (me) {
			snprintf(where, sizeof(where), "load.maps.%s.maxEntries", name);
			ret = parse_val(me, where, CTX_SCALAR, &v, err);
			if (ret)
				return ret;
			if (bpf_map__type(m) == BPF_MAP_TYPE_STRUCT_OPS ||
			    bpf_map__type(m) == BPF_MAP_TYPE_TASK_STORAGE ||
			    bpf_map__type(m) == BPF_MAP_TYPE_INODE_STORAGE ||
			    bpf_map__type(m) == BPF_MAP_TYPE_SK_STORAGE ||
			    bpf_map__type(m) == BPF_MAP_TYPE_CGRP_STORAGE)
				return sk_errf(err, -EINVAL,
					       "%s: map '%s' is of a type whose size is not set by "
					       "max_entries",
					       where, name);
			if (v.kind == V_FACT && v.fact == SK_FACT_BOOL)
				return sk_errf(err, -EINVAL,
					       "%s: '%s' is a condition, not a number of entries",
					       where, v.name);
			if (v.kind == V_LIT && (v.lit <= 0 || v.lit > UINT32_MAX))
				return sk_errf(err, -ERANGE,
					       "%s: %" PRId64 " entries; give 1 to 4294967295",
					       where, v.lit);
		}
		inner = get(decl, "innerMaps");
		if (inner) {
			snprintf(where, sizeof(where), "load.maps.%s.innerMaps", name);
			if (!json_object_is_type(inner, json_type_string) ||
			    strcmp(json_object_get_string(inner), "create"))
				return sk_errf(
				    err, -EINVAL,
				    "%s: the only value is \"create\" (one inner map per "
				    "slot, made from the map's __array(values, ...) "
				    "template)",
				    where);
			if (bpf_map__type(m) != BPF_MAP_TYPE_ARRAY_OF_MAPS ||
			    !bpf_map__inner_map(m))
				return sk_errf(
				    err, -EINVAL,
				    "%s: map '%s' is not a BPF_MAP_TYPE_ARRAY_OF_MAPS with "
				    "an inner map template (__array(values, struct ...))",
				    where, name);
		}
	}
	return 0;
}

static int check_run(struct bpf_object *obj, struct json_object *run, size_t idx,
		     struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);
	struct json_object *jp = get(run, "program"), *jfor = get(run, "for"),
			   *args = get(run, "args");
	const struct btf_type *st;
	struct bpf_program *p;
	const char *prog, *mode = "once";
	char where[256];
	enum vctx ctx = CTX_SCALAR;
	int ret;

	snprintf(where, sizeof(where), "load.syscalls[%zu]", idx);
	if (!json_object_is_type(run, json_type_object))
		return sk_errf(err, -EINVAL,
			       "%s: {\"program\": NAME, \"for\": ..., \"args\": {...}} is expected",
			       where);
	ret = only_keys(run, where, run_keys, err);
	if (ret)
		return ret;
	if (!jp || !json_object_is_type(jp, json_type_string))
		return sk_errf(err, -EINVAL, "%s: \"program\" must name a SEC(\"syscall\") program",
			       where);
	prog = json_object_get_string(jp);
	p = bpf_object__find_program_by_name(obj, prog);
	if (!p)
		return sk_errf(err, -ENOENT,
			       "%s: the object has no program '%s'; fix the name or remove the "
			       "declaration",
			       where, prog);
	if (bpf_program__type(p) != BPF_PROG_TYPE_SYSCALL)
		return sk_errf(err, -EINVAL,
			       "%s: program '%s' is in SEC(\"%s\"), not SEC(\"syscall\"): only "
			       "syscall programs can be run before attach",
			       where, prog, bpf_program__section_name(p));
	if (jfor) {
		mode =
		    json_object_is_type(jfor, json_type_string) ? json_object_get_string(jfor) : "";
		if (pair_kind(mode) == PAIR_NONE)
			ctx = CTX_ITER_CPU;
		else if (pair_kind(mode) > PAIR_NONE)
			ctx = CTX_ITER_SIB;
		else if (strcmp(mode, "once"))
			return sk_errf(
			    err, -EINVAL,
			    "%s: \"for\" is \"once\", \"cpu\" (each online CPU), "
			    "\"siblingPair\" (each online CPU with each of its SMT "
			    "siblings), \"l2Pair\", \"l3Pair\" or \"llcPair\" (with each "
			    "online CPU sharing that cache)",
			    where);
	}
	st = prog_arg_struct(btf, prog);
	if (!args)
		return 0;
	if (!json_object_is_type(args, json_type_object))
		return sk_errf(err, -EINVAL, "%s.args: an object of \"FIELD\": VALUE is expected",
			       where);
	if (!st)
		return sk_errf(err, -EINVAL,
			       "%s.args: program '%s' takes no pointer to a struct, so it has no "
			       "argument fields to fill",
			       where, prog);
	json_object_object_foreach(args, field, jv)
	{
		char fw[320];
		uint32_t off;
		struct slot s;
		struct val v;

		snprintf(fw, sizeof(fw), "%s.args.%s", where, field);
		ret = member_slot(btf, st, field, &off, &s);
		if (ret) {
			struct sk_buf names = {0};

			member_names(btf, st, &names);
			ret =
			    sk_errf(err, ret,
				    ret == -ENOENT ? "%s: struct %s (the argument of '%s') has no "
						     "field '%s'; its fields: %s"
						   : "%s: struct %s (the argument of '%s'): field "
						     "'%s' is not an integer (fields: %s)",
				    fw, btf__name_by_offset(btf, st->name_off), prog, field,
				    names.data ? (char *)names.data : "");
			sk_buf_free(&names);
			return ret;
		}
		ret = parse_val(jv, fw, ctx, &v, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_ops(struct bpf_object *obj, struct bpf_map *ops_map, struct json_object *ops,
		     struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *st = ops_struct(obj, ops_map);
	struct json_object *flags;
	int ret;

	if (!json_object_is_type(ops, json_type_object))
		return sk_errf(err, -EINVAL, "load.ops: an object is expected");
	ret = only_keys(ops, "load.ops", ops_keys, err);
	if (ret)
		return ret;
	if (!st || !btf_is_struct(st))
		return sk_errf(err, -EINVAL, "load.ops: the ops map's BTF type is not a struct");
	json_object_object_foreach(ops, field, jv)
	{
		char where[128];
		uint32_t off;
		struct slot s;
		struct val v;

		if (!strcmp(field, "flags"))
			continue;
		snprintf(where, sizeof(where), "load.ops.%s", field);
		if (member_slot(btf, st, field, &off, &s))
			return sk_errf(err, -ENOENT,
				       "%s: struct %s of map '%s' has no integer field '%s'", where,
				       btf__name_by_offset(btf, st->name_off),
				       bpf_map__name(ops_map), field);
		ret = parse_val(jv, where, CTX_SCALAR, &v, err);
		if (ret)
			return ret;
		if (!strcmp(field, "timeout_ms") && v.kind == V_LIT &&
		    (v.lit < 0 || v.lit > SCX_TIMEOUT_MAX_MS))
			return sk_errf(err, -ERANGE,
				       "%s: %" PRId64 " ms; the kernel takes 0 to %d (0: 30 s)",
				       where, v.lit, SCX_TIMEOUT_MAX_MS);
	}
	flags = get(ops, "flags");
	if (!flags)
		return 0;
	if (!json_object_is_type(flags, json_type_array))
		return sk_errf(err, -EINVAL,
			       "load.ops.flags: a list of SCX_OPS_* names or {\"flag\", \"when\", "
			       "\"optional\"} objects is expected");
	for (size_t i = 0; i < json_object_array_length(flags); i++) {
		struct json_object *f = json_object_array_get_idx(flags, i), *name = f, *when;
		char where[64];

		snprintf(where, sizeof(where), "load.ops.flags[%zu]", i);
		if (json_object_is_type(f, json_type_object)) {
			ret = only_keys(f, where, flag_keys, err);
			if (ret)
				return ret;
			name = get(f, "flag");
			when = get(f, "when");
			if (when && (!json_object_is_type(when, json_type_string) ||
				     sk_fact_kind(json_object_get_string(when)) != SK_FACT_BOOL))
				return sk_errf(err, -EINVAL,
					       "%s.when: a condition is a boolean host fact: "
					       "smt_enabled or numa",
					       where);
			if (get(f, "optional") &&
			    !json_object_is_type(get(f, "optional"), json_type_boolean))
				return sk_errf(err, -EINVAL, "%s.optional: true or false", where);
		}
		if (!name || !json_object_is_type(name, json_type_string) ||
		    strncmp(json_object_get_string(name), "SCX_OPS_", 8))
			return sk_errf(err, -EINVAL,
				       "%s: a flag is named by its kernel enumerator, SCX_OPS_...; "
				       "its value is read from the kernel's BTF",
				       where);
	}
	return 0;
}

int sk_loadspec_refuse_user_space(const struct json_object *load, const char *sched,
				  struct sk_error *err)
{
	struct json_object *us = get(load, "needsUserSpace");

	if (!us)
		return 0;
	return sk_errf(err, -EOPNOTSUPP,
		       "scheduler '%s' needs its own user-space half at run time: %s. skrun "
		       "runs only the BPF side of a scheduler, so it cannot run this one; run "
		       "it with its own loader",
		       sched,
		       json_object_is_type(us, json_type_string)
			   ? json_object_get_string(us)
			   : "(declared in load.needsUserSpace)");
}

int sk_loadspec_check(struct bpf_object *obj, struct bpf_map *ops_map,
		      const struct json_object *load, struct sk_error *err)
{
	struct json_object *v;
	int ret;

	if (!load)
		return 0;
	if (!json_object_is_type(load, json_type_object))
		return sk_errf(err, -EINVAL, "load: an object is expected");
	ret = only_keys(load, "load", top_keys, err);
	if (ret)
		return ret;
	v = get(load, "needsUserSpace");
	if (v && (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v)))
		return sk_errf(err, -EINVAL,
			       "load.needsUserSpace: a sentence naming the user-space part the "
			       "scheduler needs is expected");
	if ((v = get(load, "rodata")) && (ret = check_vars(obj, "rodata", v, err)))
		return ret;
	if ((v = get(load, "data")) && (ret = check_vars(obj, "data", v, err)))
		return ret;
	if ((v = get(load, "maps")) && (ret = check_maps(obj, v, err)))
		return ret;
	if ((v = get(load, "syscalls"))) {
		if (!json_object_is_type(v, json_type_array))
			return sk_errf(err, -EINVAL, "load.syscalls: a list of runs is expected");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			ret = check_run(obj, json_object_array_get_idx(v, i), i, err);
			if (ret)
				return ret;
		}
	}
	if ((v = get(load, "ops")) && (ret = check_ops(obj, ops_map, v, err)))
		return ret;
	return 0;
}

/* ---- kernel enumerators ---- */

static void collect_enum(struct json_object *j, struct sk_strv *names)
{
	struct json_object *e =
	    json_object_is_type(j, json_type_object) ? get(j, "kernelEnum") : NULL;

	if (e && json_object_is_type(e, json_type_string))
		sk_strv_push(names, json_object_get_string(e));
}

/* Every enumerator the declarations name: flags and {"kernelEnum"} values. */
static void enum_names(const struct json_object *load, struct sk_strv *names)
{
	struct json_object *maps = get(load, "maps"), *runs = get(load, "syscalls"),
			   *ops = get(load, "ops"), *flags;

	for (int f = 0; f < 2; f++) {
		struct json_object *vars = get(load, f ? "data" : "rodata");

		if (!vars)
			continue;
		json_object_object_foreach(vars, k1, v1)
		{
			(void)k1;
			collect_enum(v1, names);
		}
	}
	if (maps) {
		json_object_object_foreach(maps, k2, v2)
		{
			(void)k2;
			collect_enum(get(v2, "maxEntries"), names);
		}
	}
	for (size_t i = 0; runs && i < json_object_array_length(runs); i++) {
		struct json_object *args = get(json_object_array_get_idx(runs, i), "args");

		if (args) {
			json_object_object_foreach(args, k3, v3)
			{
				(void)k3;
				collect_enum(v3, names);
			}
		}
	}
	if (ops) {
		json_object_object_foreach(ops, k4, v4)
		{
			(void)k4;
			collect_enum(v4, names);
		}
	}
	flags = get(ops, "flags");
	for (size_t i = 0; flags && i < json_object_array_length(flags); i++) {
		struct json_object *f = json_object_array_get_idx(flags, i);

		if (json_object_is_type(f, json_type_object))
			f = get(f, "flag");
		if (f && json_object_is_type(f, json_type_string))
			sk_strv_push(names, json_object_get_string(f));
	}
	sk_strv_sort_uniq(names);
}

struct enums {
	struct sk_strv names;
	struct sk_nameset set;
	const char *path;
};

static int enums_resolve(const struct json_object *load, const char *kbtf_path, struct enums *e,
			 struct sk_error *err)
{
	struct sk_kbtf k = {0};
	int ret;

	e->path = kbtf_path ? kbtf_path : SK_SYSFS_BTF;
	enum_names(load, &e->names);
	if (!e->names.n)
		return 0;
	ret = sk_nameset_init(&e->set, (const char *const *)e->names.v, e->names.n);
	if (ret)
		return sk_errf(err, ret, "out of memory");
	ret = sk_kbtf_open(e->path, 0, &k, err);
	if (!ret)
		ret = sk_kbtf_enum_values(&k, &e->set, err);
	sk_kbtf_close(&k);
	if (ret)
		sk_err_prefix(err, "load declarations: reading the kernel's enumerators: ");
	return ret;
}

static bool enum_value(const struct enums *e, const char *name, int64_t *out)
{
	long i = e->set.n ? sk_nameset_find(&e->set, name) : -1;

	if (i < 0 || !e->set.found[i])
		return false;
	*out = (int64_t)e->set.vals[i];
	return true;
}

static void enums_free(struct enums *e)
{
	sk_nameset_free(&e->set);
	sk_strv_free(&e->names);
}

/* ---- applying ---- */

struct inner_tmpl {
	char *outer;
	enum bpf_map_type type;
	uint32_t key_size, value_size, max_entries, flags;
};

struct sk_loadspec_state {
	struct sk_hostfacts facts;
	struct enums enums;
	struct inner_tmpl *inner;
	size_t ninner;
	struct sk_buf done; /* what was applied, for the operator's log */
};

/* One item of what was applied: "nr_cpu_ids=2", "map pair_ctx max_entries=1". */
static void note(struct sk_loadspec_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct sk_loadspec_state *st, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sk_buf_printf(&st->done, "%s%s", st->done.len ? ", " : "", buf);
}

static int eval(const struct sk_loadspec_state *st, const struct val *v, uint32_t cpu,
		int64_t sibling, const char *where, int64_t *out, struct sk_error *err)
{
	int ret;

	switch (v->kind) {
	case V_LIT:
		*out = v->lit;
		return 0;
	case V_SIBLING:
		*out = sibling;
		return 0;
	case V_ENUM:
		if (enum_value(&st->enums, v->name, out))
			return 0;
		return sk_errf(err, -ENOENT,
			       "%s: this kernel has no enumerator %s (looked in %s); the "
			       "scheduler expects a kernel that has it",
			       where, v->name, st->enums.path);
	case V_FACT:
		ret = sk_fact_value(&st->facts, v->name, cpu, out, err);
		if (ret)
			sk_err_prefix(err, "%s: ", where);
		return ret;
	}
	return -EINVAL;
}

static int apply_vars(struct bpf_object *obj, const char *family, struct sk_loadspec_state *st,
		      struct json_object *ro, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);
	uint32_t ncpu = st->facts.nr_cpu_ids;

	json_object_object_foreach(ro, name, jv)
	{
		char where[256];
		struct var_loc loc;
		struct slot s;
		struct val v;
		uint8_t *data;
		size_t size;
		int64_t x;
		int ret;

		snprintf(where, sizeof(where), "load.%s.%s", family, name);
		if (!find_global_var(obj, family, name, &loc) || !classify(btf, loc.type_id, &s))
			return sk_errf(err, -ENOENT, "%s: not in the object", where);
		ret = parse_val(jv, where, s.nelem ? CTX_PER_CPU : CTX_SCALAR, &v, err);
		if (ret)
			return ret;
		if (s.nelem && s.nelem < ncpu) {
			/*
			 * upstream's RESIZABLE_ARRAY: the array at the end of its
			 * own .rodata.NAME (.data.NAME, .bss.NAME) section, which
			 * libbpf resizes (and its BTF with it).
			 */
			const char *sec = btf__name_by_offset(btf, loc.dsec->name_off);

			if (!loc.last || !sec || !strchr(sec + 1, '.'))
				return sk_errf(
				    err, -E2BIG,
				    "%s: '%s' has %u entries and this host has %u possible "
				    "CPUs; rebuild with a larger array, or declare it "
				    "with RESIZABLE_ARRAY(%s, %s)",
				    where, name, s.nelem, ncpu, family, name);
			ret = bpf_map__set_value_size(loc.map, loc.offset + ncpu * s.size);
			if (ret)
				return sk_errf(err, ret, "%s: cannot resize '%s' to %u entries: %s",
					       where, name, ncpu, strerror(-ret));
			s.nelem = ncpu;
		}
		data = bpf_map__initial_value(loc.map, &size);
		if (!data || loc.offset + (uint64_t)(s.nelem ? s.nelem : 1) * s.size > size)
			return sk_errf(err, -EINVAL, "%s: cannot reach '%s' in its section", where,
				       name);
		if (!s.nelem) {
			ret = eval(st, &v, 0, -1, where, &x, err);
			if (!ret)
				ret = store(data + loc.offset, s.size, s.is_bool ? !!x : x, where,
					    err);
			if (ret)
				return ret;
			note(st, "%s=%" PRId64, name, s.is_bool ? !!x : x);
			continue;
		}
		for (uint32_t c = 0; c < ncpu && c < s.nelem; c++) {
			ret = eval(st, &v, c, -1, where, &x, err);
			if (!ret)
				ret = store(data + loc.offset + (size_t)c * s.size, s.size, x,
					    where, err);
			if (ret)
				return ret;
			if (c < 4)
				note(st, "%s[%u]=%" PRId64, name, c, x);
		}
		if (ncpu > 4)
			note(st, "%s[4..%u] from %s", name, ncpu - 1, v.name);
	}
	return 0;
}

static int apply_maps(struct bpf_object *obj, struct sk_loadspec_state *st,
		      struct json_object *maps, struct sk_error *err)
{
	json_object_object_foreach(maps, name, decl)
	{
		struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
		struct json_object *me = get(decl, "maxEntries");
		char where[256];
		struct val v;
		int64_t n;
		int ret;

		snprintf(where, sizeof(where), "load.maps.%s.maxEntries", name);
		if (me) {
			ret = parse_val(me, where, CTX_SCALAR, &v, err);
			if (!ret)
				ret = eval(st, &v, 0, -1, where, &n, err);
			if (ret)
				return ret;
			if (n <= 0 || n > UINT32_MAX)
				return sk_errf(err, -ERANGE,
					       "%s: %" PRId64
					       " entries on this host; a map needs 1 "
					       "to 4294967295",
					       where, n);
			ret = bpf_map__set_max_entries(m, (uint32_t)n);
			if (ret)
				return sk_errf(err, ret,
					       "%s: cannot size map '%s' to %" PRId64 ": %s", where,
					       name, n, strerror(-ret));
			note(st, "map %s max_entries=%" PRId64, name, n);
		}
		if (get(decl, "innerMaps")) {
			/* libbpf drops the template once the outer map exists */
			struct bpf_map *t = bpf_map__inner_map(m);
			struct inner_tmpl *ni, *it;

			ni = realloc(st->inner, (st->ninner + 1) * sizeof(*ni));
			if (!ni)
				return sk_errf(err, -ENOMEM, "out of memory");
			st->inner = ni;
			it = &st->inner[st->ninner];
			*it = (struct inner_tmpl){
			    .outer = strdup(name),
			    .type = bpf_map__type(t),
			    .key_size = bpf_map__key_size(t),
			    .value_size = bpf_map__value_size(t),
			    .max_entries = bpf_map__max_entries(t),
			    .flags = bpf_map__map_flags(t),
			};
			if (!it->outer)
				return sk_errf(err, -ENOMEM, "out of memory");
			st->ninner++;
		}
	}
	return 0;
}

static int apply_ops(struct bpf_object *obj, struct bpf_map *ops_map, struct sk_loadspec_state *st,
		     struct json_object *ops, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *t = ops_struct(obj, ops_map);
	struct json_object *flags = get(ops, "flags");
	size_t size;
	uint8_t *data = bpf_map__initial_value(ops_map, &size);
	uint32_t off;
	struct slot s;
	int ret;

	if (!data || !t)
		return sk_errf(err, -EINVAL, "load.ops: cannot reach the ops map's value");
	json_object_object_foreach(ops, field, jv)
	{
		char where[128];
		struct val v;
		int64_t x;

		if (!strcmp(field, "flags"))
			continue;
		snprintf(where, sizeof(where), "load.ops.%s", field);
		if (member_slot(btf, t, field, &off, &s) || off + s.size > size)
			return sk_errf(err, -ENOENT, "%s: not in the ops struct", where);
		ret = parse_val(jv, where, CTX_SCALAR, &v, err);
		if (!ret)
			ret = eval(st, &v, 0, -1, where, &x, err);
		if (!ret)
			ret = store(data + off, s.size, x, where, err);
		if (ret)
			return ret;
		note(st, "ops.%s=%" PRId64, field, x);
	}
	if (!flags)
		return 0;
	if (member_slot(btf, t, "flags", &off, &s) || off + s.size > size || s.size != 8)
		return sk_errf(err, -EINVAL, "load.ops.flags: the ops struct has no u64 flags");
	for (size_t i = 0; i < json_object_array_length(flags); i++) {
		struct json_object *f = json_object_array_get_idx(flags, i), *when = NULL;
		const char *name;
		bool optional = false;
		uint64_t cur;
		int64_t x;

		if (json_object_is_type(f, json_type_object)) {
			when = get(f, "when");
			optional = json_object_get_boolean(get(f, "optional"));
			f = get(f, "flag");
		}
		name = json_object_get_string(f);
		if (when) {
			ret = sk_fact_value(&st->facts, json_object_get_string(when), 0, &x, err);
			if (ret)
				return ret;
			if (!x)
				continue;
		}
		if (!enum_value(&st->enums, name, &x)) {
			if (optional)
				continue;
			return sk_errf(err, -ENOENT,
				       "load.ops.flags: this kernel has no %s (not in the enums of "
				       "%s); it is too old for this scheduler, or the flag should "
				       "be declared {\"flag\": \"%s\", \"optional\": true}",
				       name, st->enums.path, name);
		}
		memcpy(&cur, data + off, 8);
		cur |= (uint64_t)x;
		memcpy(data + off, &cur, 8);
		note(st, "ops.flags|=%s", name);
	}
	return 0;
}

int sk_loadspec_before_load(struct bpf_object *obj, struct bpf_map *ops_map,
			    const struct json_object *load, const char *root, const char *kbtf_path,
			    struct sk_loadspec_state **out, struct sk_error *err)
{
	struct sk_loadspec_state *st = calloc(1, sizeof(*st));
	struct json_object *v;
	int ret;

	*out = st;
	if (!st)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!load)
		return 0;
	ret = sk_hostfacts_read(root, &st->facts, err);
	if (ret)
		return ret;
	ret = enums_resolve(load, kbtf_path, &st->enums, err);
	if (ret)
		return ret;
	if ((v = get(load, "rodata")) && (ret = apply_vars(obj, "rodata", st, v, err)))
		return ret;
	if ((v = get(load, "data")) && (ret = apply_vars(obj, "data", st, v, err)))
		return ret;
	if ((v = get(load, "maps")) && (ret = apply_maps(obj, st, v, err)))
		return ret;
	if ((v = get(load, "ops")) && (ret = apply_ops(obj, ops_map, st, v, err)))
		return ret;
	return 0;
}

static int fill_inner(struct bpf_object *obj, const struct inner_tmpl *t,
		      struct sk_loadspec_state *st, struct sk_error *err)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, t->outer);
	int outer = m ? bpf_map__fd(m) : -1;
	uint32_t n = m ? bpf_map__max_entries(m) : 0;
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = t->flags);

	if (outer < 0)
		return sk_errf(err, -ENOENT, "load.maps.%s: the map was not created", t->outer);
	for (uint32_t i = 0; i < n; i++) {
		int fd =
		    bpf_map_create(t->type, NULL, t->key_size, t->value_size, t->max_entries, &o);
		int ret;

		if (fd < 0)
			return sk_errf(err, -errno,
				       "load.maps.%s.innerMaps: cannot create inner map %u of %u: "
				       "%s",
				       t->outer, i, n, strerror(errno));
		ret = bpf_map_update_elem(outer, &i, &fd, BPF_ANY) ? -errno : 0;
		close(fd);
		if (ret)
			return sk_errf(err, ret,
				       "load.maps.%s.innerMaps: cannot store inner map %u: %s",
				       t->outer, i, strerror(-ret));
	}
	note(st, "map %s: %u inner maps", t->outer, n);
	return 0;
}

/* One run of a syscall program with its argument struct filled for (cpu, sibling). */
static int run_once(struct bpf_program *p, const struct btf *btf, const struct btf_type *st,
		    struct json_object *args, const struct sk_loadspec_state *s, enum vctx ctx,
		    uint32_t cpu, int64_t sibling, const char *where, struct sk_error *err)
{
	uint8_t *buf = NULL;
	size_t size = st ? st->size : 0;
	LIBBPF_OPTS(bpf_test_run_opts, o);
	int ret = 0;

	/* checked when the declarations were: fields need a struct */
	if (args && !size)
		return sk_errf(err, -EINVAL, "%s: program '%s' takes no argument struct", where,
			       bpf_program__name(p));
	if (size) {
		buf = calloc(1, size);
		if (!buf)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	if (args) {
		json_object_object_foreach(args, field, jv)
		{
			uint32_t off;
			struct slot sl;
			struct val v;
			int64_t x;

			ret = member_slot(btf, st, field, &off, &sl);
			if (!ret && off + sl.size > size)
				ret = -EINVAL;
			if (ret) {
				sk_errf(err, ret, "%s.args.%s: not in the argument struct", where,
					field);
				goto out;
			}
			ret = parse_val(jv, where, ctx, &v, err);
			if (!ret)
				ret = eval(s, &v, cpu, sibling, where, &x, err);
			if (!ret)
				ret = store(buf + off, sl.size, x, where, err);
			if (ret)
				goto out;
		}
	}
	o.ctx_in = buf;
	o.ctx_size_in = (uint32_t)size;
	if (bpf_prog_test_run_opts(bpf_program__fd(p), &o)) {
		ret = sk_errf(err, -errno, "%s: running program '%s' failed: %s", where,
			      bpf_program__name(p), strerror(errno));
		goto out;
	}
	if (o.retval)
		ret = sk_errf(err, -EINVAL,
			      "%s: program '%s' returned %d (%s) for CPU %u%s; the scheduler "
			      "refused its setup",
			      where, bpf_program__name(p), (int)o.retval,
			      strerror(abs((int)o.retval)), cpu,
			      ctx == CTX_ITER_SIB ? " and a sibling" : "");
out:
	free(buf);
	return ret;
}

static int run_syscalls(struct bpf_object *obj, struct json_object *runs,
			struct sk_loadspec_state *s, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);

	for (size_t i = 0; i < json_object_array_length(runs); i++) {
		struct json_object *r = json_object_array_get_idx(runs, i), *args = get(r, "args");
		const char *prog = json_object_get_string(get(r, "program"));
		const char *mode = get(r, "for") ? json_object_get_string(get(r, "for")) : "once";
		struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);
		const struct btf_type *st = prog_arg_struct(btf, prog);
		int kind = pair_kind(mode);
		enum vctx ctx = kind == PAIR_NONE  ? CTX_ITER_CPU
				: kind > PAIR_NONE ? CTX_ITER_SIB
						   : CTX_SCALAR;
		char where[64];
		unsigned runs_done = 0;
		int ret = 0;

		snprintf(where, sizeof(where), "load.syscalls[%zu]", i);
		if (!p)
			return sk_errf(err, -ENOENT, "%s: no program '%s'", where, prog);
		if (ctx == CTX_SCALAR) {
			ret = run_once(p, btf, st, args, s, ctx, 0, -1, where, err);
			runs_done++;
		}
		for (uint32_t c = 0; ctx != CTX_SCALAR && !ret && c < s->facts.nr_cpu_ids; c++) {
			const struct sk_host_cpu *hc = &s->facts.cpu[c];

			if (!hc->online)
				continue;
			if (ctx == CTX_ITER_CPU) {
				ret = run_once(p, btf, st, args, s, ctx, c, -1, where, err);
				runs_done++;
			}
			for (int k = 0; kind == PAIR_SMT && !ret && k < hc->nr_siblings; k++) {
				ret = run_once(p, btf, st, args, s, ctx, c, hc->siblings[k], where,
					       err);
				runs_done++;
			}
			for (uint32_t o = 0; kind > PAIR_SMT && !ret && o < s->facts.nr_cpu_ids;
			     o++) {
				const struct sk_host_cpu *oc = &s->facts.cpu[o];
				int64_t mine = kind == PAIR_L2	 ? hc->l2_id
					       : kind == PAIR_L3 ? hc->l3_id
								 : hc->llc_id;
				int64_t theirs = kind == PAIR_L2   ? oc->l2_id
						 : kind == PAIR_L3 ? oc->l3_id
								   : oc->llc_id;

				if (o == c || !oc->online || mine < 0 || mine != theirs)
					continue;
				ret = run_once(p, btf, st, args, s, ctx, c, o, where, err);
				runs_done++;
			}
		}
		if (ret)
			return ret;
		note(s, "%s ran %u time(s)", prog, runs_done);
	}
	return 0;
}

void sk_loadspec_note_sets(struct sk_loadspec_state *st, const char *const *set)
{
	for (; st && set && *set; set++)
		note(st, "then --set %s", *set);
}

int sk_loadspec_after_load(struct bpf_object *obj, const struct json_object *load,
			   struct sk_loadspec_state *st, struct sk_error *err)
{
	struct json_object *runs = get(load, "syscalls");
	int ret;

	if (!load || !st)
		return 0;
	for (size_t i = 0; i < st->ninner; i++) {
		ret = fill_inner(obj, &st->inner[i], st, err);
		if (ret)
			return ret;
	}
	ret = runs ? run_syscalls(obj, runs, st, err) : 0;
	if (!ret) {
		/* in order with the caller's own output, as libbpf's messages are */
		fflush(stdout);
		fprintf(stderr,
			"%s: load declarations applied (host: %u possible CPUs, %u NUMA "
			"node(s), SMT %s): %s\n",
			program_invocation_short_name, st->facts.nr_cpu_ids, st->facts.nr_nodes,
			st->facts.smt_enabled ? "on" : "off",
			st->done.data ? (char *)st->done.data : "nothing");
	}
	return ret;
}

void sk_loadspec_free(struct sk_loadspec_state *st)
{
	if (!st)
		return;
	sk_hostfacts_free(&st->facts);
	enums_free(&st->enums);
	for (size_t i = 0; i < st->ninner; i++)
		free(st->inner[i].outer);
	free(st->inner);
	sk_buf_free(&st->done);
	free(st);
}

/* ---- build time ---- */

/*
 * Enumerators the build's kernel lacks are refused (flags unless optional):
 * a typo is caught here, not on the first host that starts the scheduler.
 */
static int check_enums_known(const struct json_object *load, const char *kbtf_path,
			     struct sk_error *err)
{
	struct json_object *flags = get(get(load, "ops"), "flags");
	struct sk_strv flag_names = {0};
	struct enums e = {0};
	int ret;

	ret = enums_resolve(load, kbtf_path, &e, err);
	for (size_t i = 0; flags && i < json_object_array_length(flags); i++) {
		struct json_object *f = json_object_array_get_idx(flags, i);

		if (json_object_is_type(f, json_type_object))
			f = get(f, "flag");
		sk_strv_push(&flag_names, json_object_get_string(f));
	}
	/* {"kernelEnum"} values have no "optional": the build's kernel must have them */
	for (size_t i = 0; !ret && i < e.names.n; i++) {
		int64_t x;

		if (!sk_strv_contains(&flag_names, e.names.v[i]) &&
		    !enum_value(&e, e.names.v[i], &x))
			ret = sk_errf(err, -ENOENT,
				      "load: {\"kernelEnum\": \"%s\"}: no such enumerator in the "
				      "kernel BTF this build uses (%s); fix the name",
				      e.names.v[i], e.path);
	}
	for (size_t i = 0; !ret && flags && i < json_object_array_length(flags); i++) {
		struct json_object *f = json_object_array_get_idx(flags, i);
		bool optional = false;
		int64_t x;

		if (json_object_is_type(f, json_type_object)) {
			optional = json_object_get_boolean(get(f, "optional"));
			f = get(f, "flag");
		}
		if (!optional && !enum_value(&e, json_object_get_string(f), &x))
			ret = sk_errf(err, -ENOENT,
				      "load.ops.flags[%zu]: %s is not an enumerator of the kernel "
				      "BTF this build uses (%s); fix the name, or declare it "
				      "{\"flag\": \"%s\", \"optional\": true} if only newer "
				      "kernels have it",
				      i, json_object_get_string(f), e.path,
				      json_object_get_string(f));
	}
	enums_free(&e);
	sk_strv_free(&flag_names);
	return ret;
}

int sk_loadspec_validate(const void *obj, size_t len, const char *ops_name,
			 const struct json_object *load, const char *kbtf_path,
			 struct json_object **out, struct sk_error *err)
{
	struct bpf_object *o = NULL;
	struct bpf_map *ops;
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	*out = NULL;
	if (!copy)
		return sk_errf(err, -ENOMEM, "out of memory");
	memcpy(copy, obj, len);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "sched");
	o = bpf_object__open_mem(copy, len, &oo);
	if (!o) {
		ret = sk_errf(err, -errno, "the BPF object cannot be opened: %s", strerror(errno));
		goto out;
	}
	ops = sk_select_ops_map(o, ops_name, err);
	if (!ops) {
		ret = err ? err->code : -ENOENT;
		goto out;
	}
	ret = sk_loadspec_check(o, ops, load, err);
	if (!ret)
		ret = check_enums_known(load, kbtf_path, err);
	if (!ret) {
		ret = json_object_deep_copy((struct json_object *)load, out, NULL) ? -ENOMEM : 0;
		if (ret)
			sk_errf(err, ret, "out of memory");
	}
out:
	bpf_object__close(o);
	free(copy);
	return ret;
}

/* ---- __kconfig externs ---- */

/*
 * The line that gives a weak extern the value it has on a kernel whose
 * config lacks the option: libbpf reads the file after the lines it is
 * given whenever one extern is left unset, so every one needs a line.
 */
static const char *kconfig_unset(const struct btf *btf, uint32_t type_id)
{
	const struct btf_type *t = skip_mods(btf, type_id, NULL);

	if (t && btf_is_array(t))
		return "\"\"";
	if (t && btf_is_int(t) && !(btf_int_encoding(t) & BTF_INT_BOOL) && t->size > 1)
		return "0";
	return "n"; /* bool, tristate (an enum), char */
}

int sk_kconfig_externs(const void *obj, size_t len, struct sk_strv *strong, struct sk_strv *weak,
		       struct sk_error *err)
{
	Elf *elf;
	Elf_Scn *scn = NULL, *btf_scn = NULL, *sym_scn = NULL;
	GElf_Shdr sym_sh = {0};
	size_t shstrndx;
	struct btf *btf = NULL;
	const struct btf_type *d;
	int id, ret = 0;

	elf_version(EV_CURRENT);
	elf = elf_memory((char *)obj, len);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		goto bad;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			goto bad;
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, ".BTF"))
			btf_scn = scn;
		if (sh.sh_type == SHT_SYMTAB) {
			sym_scn = scn;
			sym_sh = sh;
		}
	}
	if (!btf_scn || !sym_scn)
		goto out; /* no BTF or no symbols: libbpf finds no externs either */
	{
		Elf_Data *bd = elf_getdata(btf_scn, NULL);

		btf = bd ? btf__new(bd->d_buf, bd->d_size) : NULL;
	}
	if (!btf)
		goto bad;
	id = btf__find_by_name_kind(btf, ".kconfig", BTF_KIND_DATASEC);
	d = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (int i = 0; d && i < btf_vlen(d); i++) {
		const struct btf_type *v = btf__type_by_id(btf, btf_var_secinfos(d)[i].type);
		const char *name =
		    v && btf_is_var(v) ? btf__name_by_offset(btf, v->name_off) : NULL;
		Elf_Data *sd = elf_getdata(sym_scn, NULL);
		size_t nsym = sym_sh.sh_entsize ? sym_sh.sh_size / sym_sh.sh_entsize : 0;
		bool is_weak = false;

		/* LINUX_KERNEL_VERSION and LINUX_HAS_*: libbpf fills them without the config */
		if (!name || !strncmp(name, "LINUX_", 6))
			continue;
		for (size_t k = 0; sd && k < nsym; k++) {
			GElf_Sym s;
			const char *sn;

			if (!gelf_getsym(sd, (int)k, &s))
				continue;
			sn = elf_strptr(elf, sym_sh.sh_link, s.st_name);
			if (sn && !strcmp(sn, name)) {
				is_weak = GELF_ST_BIND(s.st_info) == STB_WEAK;
				break;
			}
		}
		if (is_weak) {
			char line[256];

			snprintf(line, sizeof(line), "%s=%s", name, kconfig_unset(btf, v->type));
			sk_strv_push(weak, line);
		} else {
			sk_strv_push(strong, name);
		}
	}
	goto out;
bad:
	ret = sk_errf(err, -EINVAL, "the BPF object's ELF or BTF cannot be read");
out:
	btf__free(btf);
	if (elf)
		elf_end(elf);
	return ret;
}
