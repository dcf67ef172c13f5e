/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Analysis of a compiled sched_ext object without loading it: kfuncs (weak and
 * strong), the struct sched_ext_ops map, sleepable programs, tunables, license,
 * exit record. Sources, per SCHED_EXT.md "Loading conventions": the object's
 * own .BTF parsed with btf__new() (libbpf's view after open rewrites externs)
 * and the ELF (symbols, sections, relocations) via libelf, read the way
 * libbpf 1.4 reads them: a struct_ops map is a variable of a .struct_ops or
 * .struct_ops.link DATASEC, its initial bytes are the section's at the
 * variable's symbol, a program is a function symbol of its section.
 *
 * sk_sched_analyze() also opens the object with libbpf (no load), so that a
 * build refuses what libbpf would; sk_sched_check_object(), which skrun runs
 * before every load, does not: the load opens it, once.
 */
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "schedkit/kernel.h"
#include "internal.h"

#define SK_SCX_TIMEOUT_MAX_MS 30000 /* SCX_WATCHDOG_MAX_TIMEOUT: larger is -E2BIG */

struct ana {
	Elf *elf;
	size_t shstrndx;
	Elf_Data *symtab;
	size_t nsyms;
	size_t sym_strndx;
	struct btf *btf; /* the object's .BTF as compiled */
	struct sk_sched_info *info;
	struct sk_error *err;
};

/* ---- ELF ---- */

static const char *sec_name(struct ana *a, Elf_Scn *scn)
{
	GElf_Shdr sh;

	if (!gelf_getshdr(scn, &sh))
		return NULL;
	return elf_strptr(a->elf, a->shstrndx, sh.sh_name);
}

static Elf_Scn *find_sec(struct ana *a, const char *name)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(a->elf, scn))) {
		const char *n = sec_name(a, scn);

		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static Elf_Data *sec_data(Elf_Scn *scn)
{
	return scn ? elf_getdata(scn, NULL) : NULL;
}

/* A symbol by name; shndx selects the section (SHN_UNDEF for externs). */
static bool find_sym(struct ana *a, const char *name, size_t shndx, GElf_Sym *out)
{
	for (size_t i = 0; a->symtab && i < a->nsyms; i++) {
		GElf_Sym sym;
		const char *n;

		if (!gelf_getsym(a->symtab, (int)i, &sym) || sym.st_shndx != shndx)
			continue;
		n = elf_strptr(a->elf, a->sym_strndx, sym.st_name);
		if (n && !strcmp(n, name)) {
			*out = sym;
			return true;
		}
	}
	return false;
}

static int open_elf(struct ana *a, const void *obj, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return sk_errf(a->err, -EINVAL, "libelf initialisation failed: %s", elf_errmsg(-1));
	/* libelf only reads the image here; the cast mirrors libbpf's own use. */
	a->elf = elf_memory((char *)obj, len);
	if (!a->elf || elf_kind(a->elf) != ELF_K_ELF || !gelf_getehdr(a->elf, &eh))
		return sk_errf(a->err, -EINVAL,
			       "the object is not an ELF file (%zu bytes): pass the .bpf.o that "
			       "clang -target bpf produced",
			       len);
	if (eh.e_machine != EM_BPF)
		return sk_errf(a->err, -EINVAL,
			       "the object is an ELF file for machine %u, not BPF: compile it with "
			       "clang -target bpf",
			       eh.e_machine);
	if (elf_getshdrstrndx(a->elf, &a->shstrndx))
		return sk_errf(a->err, -EINVAL, "the object's ELF section names are unreadable: %s",
			       elf_errmsg(-1));
	while ((scn = elf_nextscn(a->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		a->symtab = elf_getdata(scn, NULL);
		a->nsyms = sh.sh_size / sh.sh_entsize;
		a->sym_strndx = sh.sh_link;
	}
	if (!a->symtab)
		return sk_errf(a->err, -EINVAL,
			       "the object has no ELF symbol table: do not strip it with "
			       "--strip-all (llvm-strip -g keeps what is needed)");
	return 0;
}

static int open_btf(struct ana *a)
{
	Elf_Data *d = sec_data(find_sec(a, ".BTF"));

	if (!d || !d->d_buf || !d->d_size)
		return sk_errf(a->err, -EINVAL,
			       "the object has no .BTF section: compile it with clang -g "
			       "(sched_ext's struct_ops needs BTF)");
	a->btf = btf__new(d->d_buf, d->d_size);
	if (!a->btf)
		return sk_errf(a->err, -errno ? -errno : -EINVAL,
			       "the object's .BTF section does not parse (%s): rebuild it with "
			       "clang-16 -g",
			       strerror(errno));
	return 0;
}

/*
 * libbpf 1.4 takes each struct_ops variable's offset from its ELF symbol,
 * truncated to 32 bits, and checks offset + size against the section with
 * 32-bit arithmetic: a value near 4 GiB wraps the check and
 * bpf_object__open_mem() copies from far outside the object. A hostile object
 * must be refused here, with 64-bit arithmetic, before libbpf sees it.
 */
static int check_struct_ops_bounds(struct ana *a)
{
	for (uint32_t id = 1; id < btf__type_cnt(a->btf); id++) {
		const struct btf_type *t = btf__type_by_id(a->btf, id);
		const struct btf_var_secinfo *vsi;
		const char *name;
		Elf_Data *d;

		if (!t || !btf_is_datasec(t))
			continue;
		name = btf__name_by_offset(a->btf, t->name_off);
		if (!name || strncmp(name, ".struct_ops", strlen(".struct_ops")))
			continue;
		d = sec_data(find_sec(a, name));
		if (!d)
			continue;
		vsi = btf_var_secinfos(t);
		for (uint16_t i = 0; i < btf_vlen(t); i++, vsi++) {
			const struct btf_type *var = btf__type_by_id(a->btf, vsi->type);
			const char *vname = var ? btf__name_by_offset(a->btf, var->name_off) : NULL;
			int tid = btf__resolve_type(a->btf, vsi->type);
			const struct btf_type *vt = tid > 0 ? btf__type_by_id(a->btf, tid) : NULL;
			uint64_t off = vsi->offset;

			if (!vt || !btf_is_struct(vt))
				continue;
			/* libbpf's find_elf_var_sym(): any object symbol of that name, any section.
			 */
			for (size_t s = 0; vname && s < a->nsyms; s++) {
				GElf_Sym sym;
				const char *sn;

				if (!gelf_getsym(a->symtab, (int)s, &sym) ||
				    GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
					continue;
				sn = elf_strptr(a->elf, a->sym_strndx, sym.st_name);
				if (sn && !strcmp(sn, vname) && sym.st_value > off)
					off = sym.st_value;
			}
			if (off + vt->size > d->d_size || off + vt->size < off)
				return sk_errf(
				    a->err, -EINVAL,
				    "struct_ops variable %s of section %s lies outside the "
				    "section: the object is malformed, rebuild it",
				    vname ? vname : "?", name);
		}
	}
	return 0;
}

/* ---- license ---- */

static int read_license(struct ana *a)
{
	/* The kernel's license_is_gpl_compatible(); sched_ext's kfuncs are GPL-only. */
	static const char *const gpl[] = {
	    "GPL",	    "GPL v2",	    "GPL and additional rights",
	    "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
	};
	Elf_Data *d = sec_data(find_sec(a, "license"));
	const char *lic;

	if (!d || !d->d_buf || !d->d_size)
		return sk_errf(a->err, -EINVAL,
			       "the object has no license section: add "
			       "char _license[] SEC(\"license\") = \"GPL\"; to the BPF source");
	lic = d->d_buf;
	if (!memchr(lic, '\0', d->d_size))
		return sk_errf(a->err, -EINVAL,
			       "the object's license section is not a NUL-terminated string: "
			       "declare it as char _license[] SEC(\"license\") = \"GPL\";");
	a->info->license = strdup(lic);
	if (!a->info->license)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(gpl) / sizeof(gpl[0]); i++)
		if (!strcmp(lic, gpl[i]))
			return 0;
	return sk_errf(a->err, -EINVAL,
		       "license \"%s\" is not GPL-compatible: the kernel refuses sched_ext "
		       "schedulers under it; use one of \"GPL\", \"GPL v2\", \"GPL and additional "
		       "rights\", \"Dual BSD/GPL\", \"Dual MIT/GPL\", \"Dual MPL/GPL\" in "
		       "SEC(\"license\")",
		       lic);
}

/* ---- kfuncs ---- */

/* libbpf's bpf_core_essential_name_len(): one trailing "___suffix" is a flavour. */
static size_t essential_len(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = n >= 5 ? n - 5 + 1 : 0; i-- > 0;) {
		const char *s = name + i;

		if (s[0] != '_' && s[1] == '_' && s[2] == '_' && s[3] == '_' && s[4] != '_')
			return i + 1;
	}
	return n;
}

/* "KNAME FLAVOR RET(P1, P2)" for a weak extern, as sk_req_kfunc_flavors() groups them. */
static int push_weak(struct ana *a, const char *kname, const char *name, uint32_t proto_id,
		     struct sk_strv *weak)
{
	struct sk_btf_view v;
	struct sk_buf b = {0};
	int ret;

	sk_btf_view_libbpf(a->btf, &v);
	ret = sk_buf_printf(&b, "%s %s ", kname, name);
	if (!ret)
		ret = sk_btf_render_proto(&v, proto_id, &b);
	/* No FUNC_PROTO: libbpf refuses the object anyway; "?" never matches a kernel's. */
	if (ret == -EINVAL)
		ret = sk_buf_printf(&b, "?");
	if (!ret)
		ret = sk_strv_push(weak, (const char *)b.data);
	sk_buf_free(&b);
	return ret;
}

static int read_kfuncs(struct ana *a)
{
	struct sk_sched_info *info = a->info;
	struct sk_strv weak = {0};
	int ret = 0;

	for (uint32_t id = 1; !ret && id < btf__type_cnt(a->btf); id++) {
		const struct btf_type *t = btf__type_by_id(a->btf, id);
		const char *name;
		char *kname;
		GElf_Sym sym;
		bool is_weak;

		/* A FUNC's vlen holds its linkage. */
		if (!btf_is_func(t) || btf_vlen(t) != BTF_FUNC_EXTERN)
			continue;
		name = btf__name_by_offset(a->btf, t->name_off);
		if (!name || !*name)
			continue;
		/* No undefined symbol is unusual; strong is the safe reading. */
		is_weak =
		    find_sym(a, name, SHN_UNDEF, &sym) && GELF_ST_BIND(sym.st_info) == STB_WEAK;
		kname = strndup(name, essential_len(name));
		if (!kname)
			return -ENOMEM;
		if (is_weak)
			ret = push_weak(a, kname, name, t->type, &weak);
		else
			ret = sk_strv_push(&info->kfuncs_required, kname);
		if (!ret && !is_weak)
			ret = sk_req_kfunc_proto(a->btf, t->type, kname, &info->kfunc_protos);
		free(kname);
	}
	sk_strv_sort_uniq(&info->kfuncs_required);
	/* A name both weak (one flavour) and strong (another) is required. */
	if (!ret)
		ret = sk_req_kfunc_flavors(info, &weak);
	sk_strv_free(&weak);
	sk_strv_sort_uniq(&info->kfuncs_required);
	sk_strv_sort_uniq(&info->kfuncs_optional);
	sk_strv_sort_uniq(&info->kfunc_protos);
	sk_strv_sort_uniq(&info->kfunc_oneof);
	return ret;
}

/* ---- BTF helpers ---- */

/*
 * A hostile object's BTF may chain modifiers into a cycle, which btf__new()
 * accepts: type walks stop after libbpf's own limit (MAX_RESOLVE_DEPTH).
 */
#define BTF_WALK_MAX 32

static const struct btf_type *skip_mods(const struct btf *btf, uint32_t id, uint32_t *out_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	unsigned depth = 0;

	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		if (++depth > BTF_WALK_MAX)
			return NULL;
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (out_id)
		*out_id = id;
	return t;
}

static const char *type_name(const struct btf *btf, const struct btf_type *t)
{
	const char *n = t ? btf__name_by_offset(btf, t->name_off) : NULL;

	return n ? n : "";
}

static bool has_member(const struct btf *btf, const struct btf_type *t, const char *name)
{
	const struct btf_member *m = btf_members(t);

	for (uint16_t i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, m[i].name_off), name))
			return true;
	return false;
}

/* The var's type in DATASEC sec_name, when the var is there. */
static bool datasec_var(const struct btf *btf, const char *sec, const char *var, uint32_t *type_id)
{
	int ds = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	const struct btf_type *t;
	const struct btf_var_secinfo *vsi;

	if (ds < 0)
		return false;
	t = btf__type_by_id(btf, ds);
	vsi = btf_var_secinfos(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++) {
		const struct btf_type *v = btf__type_by_id(btf, vsi[i].type);

		if (v && btf_is_var(v) && !strcmp(type_name(btf, v), var)) {
			*type_id = v->type;
			return true;
		}
	}
	return false;
}

/* Upstream's exit record: UEI_DEFINE(NAME) puts struct user_exit_info NAME in .data. */
static bool is_uei(const struct btf *btf, const char *name)
{
	const struct btf_type *t;
	uint32_t tid;

	if (!datasec_var(btf, ".data", name, &tid))
		return false;
	t = skip_mods(btf, tid, NULL);
	return t && btf_is_struct(t) && has_member(btf, t, "kind") &&
	       has_member(btf, t, "exit_code") && has_member(btf, t, "reason") &&
	       has_member(btf, t, "msg");
}

/* ---- struct sched_ext_ops ---- */

/* A struct_ops variable: libbpf makes each one a map of that name. */
struct ops_var {
	const char *name;
	uint32_t type_id; /* the struct, modifiers skipped */
};

/* The DATASECs libbpf 1.4 makes struct_ops maps of ("?" : not created by default). */
static bool is_struct_ops_sec(const char *name)
{
	if (name[0] == '?')
		name++;
	return !strcmp(name, ".struct_ops") || !strcmp(name, ".struct_ops.link");
}

static int select_ops_map(struct ana *a, const char *ops_name, struct ops_var *out)
{
	struct sk_sched_info *info = a->info;
	struct ops_var sel = {0};
	char *list;
	int ret;

	for (uint32_t id = 1; id < btf__type_cnt(a->btf); id++) {
		const struct btf_type *ds = btf__type_by_id(a->btf, id);
		const struct btf_var_secinfo *vsi;

		if (!btf_is_datasec(ds) || !is_struct_ops_sec(type_name(a->btf, ds)))
			continue;
		vsi = btf_var_secinfos(ds);
		for (uint16_t i = 0; i < btf_vlen(ds); i++) {
			const struct btf_type *v = btf__type_by_id(a->btf, vsi[i].type);
			const struct btf_type *t;
			uint32_t tid;

			if (!v || !btf_is_var(v))
				continue;
			t = skip_mods(a->btf, v->type, &tid);
			if (!t || !btf_is_struct(t) || !sk_is_scx_ops_type(type_name(a->btf, t)))
				continue;
			ret = sk_strv_push(&info->all_ops_maps, type_name(a->btf, v));
			if (ret)
				return ret;
			if (!ops_name || !strcmp(ops_name, type_name(a->btf, v)))
				sel = (struct ops_var){type_name(a->btf, v), tid};
		}
	}
	sk_strv_sort_uniq(&info->all_ops_maps);
	if (!info->all_ops_maps.n)
		return sk_errf(a->err, -ENOENT,
			       "no struct sched_ext_ops map: a scheduler needs "
			       "SEC(\".struct_ops.link\") struct sched_ext_ops NAME = { ... }; "
			       "in its BPF source");
	if (sel.name && (ops_name || info->all_ops_maps.n == 1)) {
		*out = sel;
		return 0;
	}
	list = sk_strv_join(&info->all_ops_maps, ", ");
	if (!list)
		return -ENOMEM;
	if (ops_name)
		ret = sk_errf(a->err, -ENOENT,
			      "no struct sched_ext_ops map named \"%s\" in the object; it has: %s",
			      ops_name, list);
	else
		ret = sk_errf(a->err, -EINVAL,
			      "the object has %zu struct sched_ext_ops maps (%s): choose one "
			      "with --ops NAME",
			      info->all_ops_maps.n, list);
	free(list);
	return ret;
}

static uint64_t read_uint(const uint8_t *p, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	case 8:
		memcpy(&u64, p, 8);
		return u64;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int check_ops_name(struct ana *a, const uint8_t *p, size_t size)
{
	const char *map = a->info->ops->map_name;
	const char *end = memchr(p, '\0', size);

	if (!end)
		return sk_errf(a->err, -EINVAL,
			       "struct_ops map %s: .name is not NUL-terminated within %zu bytes: "
			       "shorten it to at most %zu characters",
			       map, size, size - 1);
	if (end == (const char *)p)
		return sk_errf(a->err, -EINVAL,
			       "struct_ops map %s: .name is empty and the kernel rejects that: set "
			       ".name = \"...\" (letters, digits, '_' and '.')",
			       map);
	/* The kernel's bpf_obj_name_cpy(): isalnum(), '_' and '.' only. */
	for (const uint8_t *c = p; c < (const uint8_t *)end; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_' || *c == '.';

		if (!ok)
			return sk_errf(
			    a->err, -EINVAL,
			    "struct_ops map %s: .name \"%.*s\" has the character 0x%02x at "
			    "offset %td, which the kernel rejects: use only letters, "
			    "digits, '_' and '.'",
			    map, (int)((const char *)end - (const char *)p), p, *c, c - p);
	}
	a->info->ops->name =
	    strndup((const char *)p, (size_t)((const char *)end - (const char *)p));
	return a->info->ops->name ? 0 : -ENOMEM;
}

/*
 * Implemented callbacks are the function-pointer slots the ELF relocations of
 * the ops' section fill. libbpf 1.4 also stores program pointers in the
 * initial value, but that is an implementation detail; the relocations are
 * what every libbpf reads.
 */
static int read_callbacks(struct ana *a, const struct btf *obtf, const struct btf_type *st,
			  size_t sec_idx, uint64_t base, uint64_t size)
{
	struct sk_ops_info *ops = a->info->ops;
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(a->elf, scn))) {
		Elf_Data *d;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_REL || sh.sh_info != sec_idx ||
		    !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t r = 0; d && r < sh.sh_size / sh.sh_entsize; r++) {
			const struct btf_member *m = btf_members(st);
			GElf_Rel rel;

			if (!gelf_getrel(d, (int)r, &rel) || rel.r_offset < base ||
			    rel.r_offset >= base + size)
				continue;
			for (uint16_t i = 0; i < btf_vlen(st); i++) {
				const struct btf_type *mt = skip_mods(obtf, m[i].type, NULL);
				int ret;

				if (btf_member_bit_offset(st, i) / 8 != rel.r_offset - base ||
				    !mt || !btf_is_ptr(mt))
					continue;
				ret = sk_strv_push(&ops->callbacks,
						   btf__name_by_offset(obtf, m[i].name_off));
				if (ret)
					return ret;
			}
		}
	}
	sk_strv_sort_uniq(&ops->callbacks);
	return 0;
}

static int read_ops(struct ana *a, const struct ops_var *map)
{
	const struct btf *obtf = a->btf;
	const struct btf_type *st = btf__type_by_id(obtf, map->type_id);
	const struct btf_member *m = btf_members(st);
	struct sk_ops_info *ops;
	const uint8_t *val;
	size_t vsz = 0, sec_idx, nsec = 0;
	Elf_Data *d;
	GElf_Sym sym;
	bool found = false;
	int ret;

	ops = calloc(1, sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	a->info->ops = ops;
	ops->map_name = strdup(map->name);
	/* select_ops_map() took only struct types sk_scx_ops_type_len() accepts. */
	ops->type = strndup(btf__name_by_offset(obtf, st->name_off),
			    sk_scx_ops_type_len(btf__name_by_offset(obtf, st->name_off)));
	if (!ops->map_name || !ops->type)
		return -ENOMEM;

	if (elf_getshdrnum(a->elf, &nsec))
		return sk_errf(a->err, -EINVAL, "the object's ELF section table is unreadable: %s",
			       elf_errmsg(-1));
	/* The map is the ELF symbol of that name in .struct_ops or .struct_ops.link. */
	for (sec_idx = 1; sec_idx < nsec; sec_idx++) {
		const char *sn = sec_name(a, elf_getscn(a->elf, sec_idx));

		if (!sn || (strcmp(sn, ".struct_ops") && strcmp(sn, ".struct_ops.link")))
			continue;
		if (find_sym(a, ops->map_name, sec_idx, &sym)) {
			found = true;
			ops->link = !strcmp(sn, ".struct_ops.link");
			break;
		}
	}
	if (!found)
		return sk_errf(
		    a->err, -EINVAL,
		    "struct_ops map %s has no symbol in .struct_ops or .struct_ops.link: "
		    "declare it as SEC(\".struct_ops.link\") struct sched_ext_ops %s = "
		    "{ ... };",
		    ops->map_name, ops->map_name);

	/* libbpf's initial value: the section's bytes at the variable's symbol. */
	d = sec_data(elf_getscn(a->elf, sec_idx));
	vsz = st->size;
	if (!d || !d->d_buf || sym.st_value > d->d_size || vsz > d->d_size - sym.st_value)
		return sk_errf(a->err, -EINVAL,
			       "struct_ops map %s lies outside its section: the object is "
			       "malformed, rebuild it",
			       ops->map_name);
	val = (const uint8_t *)d->d_buf + sym.st_value;

	for (uint16_t i = 0; i < btf_vlen(st); i++) {
		const char *name = btf__name_by_offset(obtf, m[i].name_off);
		const struct btf_type *mt = skip_mods(obtf, m[i].type, NULL);
		uint32_t off = btf_member_bit_offset(st, i) / 8;
		long long msz = btf__resolve_size(obtf, m[i].type);
		const uint8_t *p = val + off;

		if (!mt || msz <= 0 || off + (uint64_t)msz > vsz || btf_is_ptr(mt))
			continue;
		if (!strcmp(name, "name")) {
			ret = check_ops_name(a, p, (size_t)msz);
			if (ret)
				return ret;
		} else if (!strcmp(name, "flags")) {
			ops->flags = read_uint(p, (size_t)msz);
		} else if (!strcmp(name, "timeout_ms")) {
			ops->timeout_ms = (uint32_t)read_uint(p, (size_t)msz);
		} else if (!strcmp(name, "dispatch_max_batch")) {
			ops->dispatch_max_batch = (uint32_t)read_uint(p, (size_t)msz);
		} else if (!strcmp(name, "exit_dump_len")) {
			ops->exit_dump_len = (uint32_t)read_uint(p, (size_t)msz);
		} else if (strcmp(name, "hotplug_seq") && !all_zero(p, (size_t)msz)) {
			/* hotplug_seq is the loader's to fill; anything else set is a requirement.
			 */
			ret = sk_strv_push(&ops->members, name);
			if (ret)
				return ret;
		}
	}
	sk_strv_sort_uniq(&ops->members);
	if (!ops->name)
		return sk_errf(
		    a->err, -EINVAL,
		    "struct_ops map %s: struct sched_ext_ops has no char name[128] member: "
		    "regenerate vmlinux.h from a sched_ext kernel's BTF",
		    ops->map_name);
	if (ops->timeout_ms > SK_SCX_TIMEOUT_MAX_MS)
		return sk_errf(
		    a->err, -E2BIG,
		    "struct_ops map %s: .timeout_ms = %" PRIu32 " exceeds the kernel's "
		    "watchdog limit of %d ms (it rejects the map): lower it, 0 means 30 s",
		    ops->map_name, ops->timeout_ms, SK_SCX_TIMEOUT_MAX_MS);
	if (ops->dispatch_max_batch > INT32_MAX)
		return sk_errf(a->err, -E2BIG,
			       "struct_ops map %s: .dispatch_max_batch = %" PRIu32 " exceeds "
			       "INT_MAX, which the kernel rejects",
			       ops->map_name, ops->dispatch_max_batch);
	return read_callbacks(a, obtf, st, sec_idx, sym.st_value,
			      sym.st_size ? sym.st_size : (uint64_t)vsz);
}

/* libbpf's programs: the function symbols of executable sections; sleepable ones in struct_ops.s/.
 */
static int read_programs(struct ana *a)
{
	int ret;

	for (size_t i = 0; i < a->nsyms; i++) {
		Elf_Scn *scn;
		GElf_Shdr sh;
		GElf_Sym sym;
		const char *sec, *name;

		if (!gelf_getsym(a->symtab, (int)i, &sym) ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
		    sym.st_shndx >= SHN_LORESERVE)
			continue;
		scn = elf_getscn(a->elf, sym.st_shndx);
		sec = scn ? sec_name(a, scn) : NULL;
		if (!sec || strncmp(sec, "struct_ops.s/", strlen("struct_ops.s/")) ||
		    !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		name = elf_strptr(a->elf, a->sym_strndx, sym.st_name);
		if (!name || !*name)
			continue;
		ret = sk_strv_push(&a->info->sleepable, name);
		if (ret)
			return ret;
	}
	sk_strv_sort_uniq(&a->info->sleepable);
	return 0;
}

/* ---- tunables ---- */

/* `const volatile` wherever it sits: on the var's type or, for arrays, on the element. */
static bool is_const_volatile(const struct btf *btf, uint32_t id)
{
	bool c = false, v = false;
	const struct btf_type *t = btf__type_by_id(btf, id);
	unsigned depth = 0;

	while (t) {
		if (++depth > BTF_WALK_MAX)
			return false;
		if (btf_is_const(t))
			c = true;
		else if (btf_is_volatile(t))
			v = true;
		else if (!btf_is_mod(t) && !btf_is_typedef(t) && !btf_is_array(t))
			break;
		t = btf__type_by_id(btf, btf_is_array(t) ? btf_array(t)->type : t->type);
	}
	return c && v;
}

static bool excluded_tunable(const struct btf *btf, const char *name)
{
	size_t n = strlen(name);
	const char *suffix = "_dump_len";
	size_t sl = strlen(suffix);
	char *rec;
	bool uei;

	/* __SCX_* enum placeholders the loader fills, and other loader-private names. */
	if (!strncmp(name, "__", 2))
		return true;
	if (n <= sl || strcmp(name + n - sl, suffix))
		return false;
	/* UEI_DEFINE(x) pairs the record x with x_dump_len: the loader sizes that one. */
	rec = strndup(name, n - sl);
	if (!rec)
		return false;
	uei = is_uei(btf, rec);
	free(rec);
	return uei;
}

static void dump_printf(void *ctx, const char *fmt, va_list args)
{
	struct sk_buf *b = ctx;
	char tmp[512];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, args);

	/* Type names are short; an overlong one is cut, never overflowed. */
	if (n > 0)
		sk_buf_append(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static const char *tunable_kind(const struct btf *btf, const struct btf_type *t)
{
	if (btf_is_int(t)) {
		uint8_t enc = btf_int_encoding(t);

		if (enc & BTF_INT_BOOL)
			return "bool";
		if (t->size > 8)
			return "other";
		return enc & BTF_INT_SIGNED ? "int" : "uint";
	}
	if (btf_is_any_enum(t))
		return "enum";
	if (btf_is_array(t)) {
		const struct btf_type *e = skip_mods(btf, btf_array(t)->type, NULL);

		if (e && btf_is_int(e) && e->size == 1 && !strcmp(type_name(btf, e), "char"))
			return "char-array";
	}
	return "other";
}

static char *render_default(const struct btf *btf, const struct btf_type *t, const char *kind,
			    const uint8_t *p, size_t size)
{
	struct sk_buf b = {0};
	int ret = 0;

	if (!strcmp(kind, "bool")) {
		ret = sk_buf_printf(&b, "%s", all_zero(p, size) ? "false" : "true");
	} else if (!strcmp(kind, "int") || !strcmp(kind, "uint") || !strcmp(kind, "enum")) {
		uint64_t u = read_uint(p, size);
		int64_t s = (int64_t)u;
		bool is_signed = !strcmp(kind, "int") || (btf_is_any_enum(t) && btf_kflag(t));
		const char *ename = NULL;

		if (is_signed && size < 8 && (u >> (size * 8 - 1)) & 1)
			s = (int64_t)(u | ~((1ULL << (size * 8)) - 1));
		for (uint16_t i = 0; btf_is_enum(t) && i < btf_vlen(t) && !ename; i++) {
			const struct btf_enum *e = btf_enum(t) + i;
			int64_t ev = btf_kflag(t) ? (int64_t)e->val : (int64_t)(uint32_t)e->val;

			if (ev == (is_signed ? s : (int64_t)u))
				ename = btf__name_by_offset(btf, e->name_off);
		}
		for (uint16_t i = 0; btf_is_enum64(t) && i < btf_vlen(t) && !ename; i++) {
			const struct btf_enum64 *e = btf_enum64(t) + i;

			if (btf_enum64_value(e) == u)
				ename = btf__name_by_offset(btf, e->name_off);
		}
		if (ename)
			ret = sk_buf_printf(&b, "%s", ename);
		else if (is_signed)
			ret = sk_buf_printf(&b, "%" PRId64, s);
		else
			ret = sk_buf_printf(&b, "%" PRIu64, u);
	} else if (!strcmp(kind, "char-array")) {
		const uint8_t *end = memchr(p, '\0', size);

		ret = sk_buf_append(&b, p, end ? (size_t)(end - p) : size);
	} else {
		/* Raw bytes in memory order: structs, floats, other arrays. */
		ret = sk_buf_printf(&b, "0x");
		for (size_t i = 0; !ret && i < size; i++)
			ret = sk_buf_printf(&b, "%02x", p[i]);
	}
	if (!ret && !b.data)
		ret = sk_buf_append(&b, "", 0);
	if (ret) {
		sk_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

static int cmp_tunable(const void *x, const void *y)
{
	return strcmp(((const struct sk_tunable *)x)->name, ((const struct sk_tunable *)y)->name);
}

static int add_tunable(struct ana *a, struct btf_dump *dump, struct sk_buf *tb,
		       const struct btf_var_secinfo *vsi, size_t rodata_idx, Elf_Data *rodata)
{
	const struct btf_type *v = btf__type_by_id(a->btf, vsi->type);
	const char *name = type_name(a->btf, v);
	struct sk_sched_info *info = a->info;
	LIBBPF_OPTS(btf_dump_emit_type_decl_opts, dopts, .field_name = "", .strip_mods = true);
	const struct btf_type *t;
	struct sk_tunable *tun, *grown;
	long long size;
	uint64_t off = vsi->offset;
	GElf_Sym sym;
	int ret;

	if (!v || !btf_is_var(v) || !is_const_volatile(a->btf, v->type) ||
	    excluded_tunable(a->btf, name))
		return 0;
	/* clang leaves DATASEC offsets 0 for the linker to fill; the symbol has the real one. */
	if (find_sym(a, name, rodata_idx, &sym))
		off = sym.st_value;
	size = btf__resolve_size(a->btf, v->type);
	if (size <= 0 || !rodata || !rodata->d_buf || off + (uint64_t)size > rodata->d_size)
		return sk_errf(
		    a->err, -EINVAL,
		    "tunable %s lies outside the object's .rodata section: the object is "
		    "malformed, rebuild it",
		    name);
	tb->len = 0;
	ret = btf_dump__emit_type_decl(dump, v->type, &dopts);
	if (ret || !tb->len)
		return sk_errf(a->err, ret ? ret : -EINVAL,
			       "cannot render the C type of tunable %s from the object's BTF",
			       name);
	grown = realloc(info->tunables, (info->nr_tunables + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	info->tunables = grown;
	tun = &info->tunables[info->nr_tunables++];
	memset(tun, 0, sizeof(*tun));
	t = skip_mods(a->btf, v->type, NULL);
	tun->size = (uint32_t)size;
	tun->offset = (uint32_t)off;
	tun->name = strdup(name);
	tun->type = strdup((const char *)tb->data);
	tun->kind = strdup(tunable_kind(a->btf, t));
	if (!tun->name || !tun->type || !tun->kind)
		return -ENOMEM;
	tun->default_str = render_default(a->btf, t, tun->kind,
					  (const uint8_t *)rodata->d_buf + off, (size_t)size);
	return tun->default_str ? 0 : -ENOMEM;
}

static int read_tunables(struct ana *a)
{
	int ds = btf__find_by_name_kind(a->btf, ".rodata", BTF_KIND_DATASEC);
	Elf_Scn *scn = find_sec(a, ".rodata");
	struct sk_buf tb = {0};
	struct btf_dump *dump;
	const struct btf_type *t;
	int ret = 0;

	if (ds < 0)
		return 0;
	dump = btf_dump__new(a->btf, dump_printf, &tb, NULL);
	if (!dump)
		return errno ? -errno : -ENOMEM;
	t = btf__type_by_id(a->btf, ds);
	for (uint16_t i = 0; !ret && i < btf_vlen(t); i++)
		ret = add_tunable(a, dump, &tb, btf_var_secinfos(t) + i, scn ? elf_ndxscn(scn) : 0,
				  sec_data(scn));
	sk_buf_free(&tb);
	btf_dump__free(dump);
	if (!ret && a->info->nr_tunables)
		qsort(a->info->tunables, a->info->nr_tunables, sizeof(*a->info->tunables),
		      cmp_tunable);
	return ret;
}

/* ---- entry points ---- */

/* What libbpf would refuse to open: a build must not produce it. */
static int libbpf_opens(struct ana *a, const void *obj, size_t len)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "sched");
	struct bpf_object *bobj = bpf_object__open_mem(obj, len, &oo);
	int ret;

	if (bobj) {
		bpf_object__close(bobj);
		return 0;
	}
	ret = -errno ? -errno : -EINVAL;
	return sk_errf(a->err, ret,
		       "libbpf cannot open the BPF object (%s): see libbpf's messages above; "
		       "rebuild it with clang-16 -target bpf -g against a sched_ext vmlinux.h",
		       strerror(-ret));
}

/*
 * The checks both entry points make: ELF, BTF, license, the struct_ops
 * bounds libbpf 1.4 trusts, the selected ops map and its values.
 */
static int check_structure(struct ana *a, const void *obj, size_t len, const char *ops_name,
			   bool full)
{
	struct ops_var map = {0};
	int ret;

	if (!obj || !len)
		return sk_errf(a->err, -EINVAL, "analysing the BPF object: it is empty");
	a->info = calloc(1, sizeof(*a->info));
	if (!a->info)
		return -ENOMEM;
	ret = open_elf(a, obj, len);
	if (!ret)
		ret = open_btf(a);
	if (!ret)
		ret = read_license(a);
	if (!ret && full)
		ret = read_kfuncs(a);
	if (!ret)
		ret = check_struct_ops_bounds(a);
	if (!ret && full)
		ret = libbpf_opens(a, obj, len);
	if (!ret)
		ret = select_ops_map(a, ops_name, &map);
	if (!ret)
		ret = read_ops(a, &map);
	return ret;
}

static void ana_free(struct ana *a, int ret)
{
	if (ret == -ENOMEM && a->err && !a->err->code)
		sk_errf(a->err, ret, "analysing the BPF object: out of memory");
	btf__free(a->btf);
	if (a->elf)
		elf_end(a->elf);
}

int sk_sched_analyze(const void *obj, size_t len, const char *ops_name, struct sk_sched_info **out,
		     struct sk_error *err)
{
	struct ana a = {.err = err};
	int ret;

	*out = NULL;
	ret = check_structure(&a, obj, len, ops_name, true);
	if (!ret)
		ret = read_programs(&a);
	if (!ret)
		ret = read_tunables(&a);
	if (!ret) {
		a.info->has_uei = is_uei(a.btf, "uei");
		ret = sk_requirements_derive(a.info);
	}
	ana_free(&a, ret);
	if (ret) {
		sk_sched_info_free(a.info);
		return ret;
	}
	*out = a.info;
	return 0;
}

int sk_sched_check_object(const void *obj, size_t len, const char *ops_name, const char *const *set,
			  struct sk_error *err)
{
	struct ana a = {.err = err};
	int ret = check_structure(&a, obj, len, ops_name, false);

	for (; !ret && set && *set; set++)
		ret = sk_set_apply(a.btf, *set, NULL, 0, err);
	ana_free(&a, ret);
	sk_sched_info_free(a.info);
	return ret;
}

int sk_sched_validate_sets(const void *obj, size_t len, const char *const *set,
			   struct sk_error *err)
{
	struct ana a = {.err = err};
	int ret = 0;

	if (!set || !*set)
		return 0;
	if (!obj || !len)
		return sk_errf(err, -EINVAL, "analysing the BPF object: it is empty");
	ret = open_elf(&a, obj, len);
	if (!ret)
		ret = open_btf(&a);
	for (; !ret && *set; set++)
		ret = sk_set_apply(a.btf, *set, NULL, 0, err);
	ana_free(&a, ret);
	return ret;
}

void sk_sched_info_free(struct sk_sched_info *info)
{
	if (!info)
		return;
	free(info->license);
	if (info->ops) {
		free(info->ops->map_name);
		free(info->ops->type);
		free(info->ops->name);
		sk_strv_free(&info->ops->callbacks);
		sk_strv_free(&info->ops->members);
		free(info->ops);
	}
	sk_strv_free(&info->all_ops_maps);
	sk_strv_free(&info->kfuncs_required);
	sk_strv_free(&info->kfuncs_optional);
	sk_strv_free(&info->kfunc_protos);
	sk_strv_free(&info->kfunc_oneof);
	sk_strv_free(&info->sleepable);
	for (size_t i = 0; i < info->nr_tunables; i++) {
		free(info->tunables[i].name);
		free(info->tunables[i].type);
		free(info->tunables[i].kind);
		free(info->tunables[i].default_str);
	}
	free(info->tunables);
	sk_strv_free(&info->min_kernel_because);
	sk_strv_free(&info->unknown);
	sk_strv_free(&info->kernel_before_because);
	free(info);
}

/* ---- JSON ---- */

static struct json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* Takes ownership of v; a NULL v is JSON null when nullable, else a failed allocation. */
static int add(struct json_object *o, const char *key, struct json_object *v, bool nullable)
{
	if (!v && !nullable)
		return -ENOMEM;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *strv_json(const struct sk_strv *s)
{
	struct json_object *arr = json_object_new_array();
	struct sk_strv copy = {0};

	if (!arr)
		return NULL;
	/* Sorted here too, so the output never depends on how the info was filled. */
	for (size_t i = 0; i < s->n; i++)
		if (sk_strv_push(&copy, s->v[i]))
			goto fail;
	sk_strv_sort_uniq(&copy);
	for (size_t i = 0; i < copy.n; i++) {
		struct json_object *e = json_object_new_string(copy.v[i]);

		if (!e || json_object_array_add(arr, e)) {
			json_object_put(e);
			goto fail;
		}
	}
	sk_strv_free(&copy);
	return arr;
fail:
	sk_strv_free(&copy);
	json_object_put(arr);
	return NULL;
}

static struct json_object *ops_json(const struct sk_ops_info *ops)
{
	struct json_object *o = json_object_new_object();
	int ret;

	if (!o)
		return NULL;
	ret = add(o, "map", str_or_null(ops->map_name), !ops->map_name);
	if (!ret)
		ret = add(o, "type", str_or_null(ops->type), !ops->type);
	if (!ret)
		ret = add(o, "name", str_or_null(ops->name), !ops->name);
	if (!ret)
		ret = add(o, "flags", json_object_new_uint64(ops->flags), false);
	if (!ret)
		ret = add(o, "timeoutMs", json_object_new_int64(ops->timeout_ms), false);
	if (!ret)
		ret = add(o, "dispatchMaxBatch", json_object_new_int64(ops->dispatch_max_batch),
			  false);
	if (!ret)
		ret = add(o, "exitDumpLen", json_object_new_int64(ops->exit_dump_len), false);
	if (!ret)
		ret = add(o, "link", json_object_new_boolean(ops->link), false);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *requirements_json(const struct sk_sched_info *info)
{
	static const struct sk_strv empty = {0};
	const struct sk_ops_info *ops = info->ops;
	struct json_object *o = json_object_new_object(), *k = json_object_new_object();
	int ret = (o && k) ? 0 : -ENOMEM;

	if (!ret)
		ret = add(o, "minKernel", json_object_new_string(info->min_kernel), false);
	if (!ret)
		ret = add(o, "minKernelBecause", strv_json(&info->min_kernel_because), false);
	if (!ret)
		ret = add(k, "required", strv_json(&info->kfuncs_required), false);
	if (!ret)
		ret = add(k, "optional", strv_json(&info->kfuncs_optional), false);
	if (!ret)
		ret = add(k, "prototypes", sk_req_kfunc_protos_json(&info->kfunc_protos), false);
	/* Only when there is one: configs of schedulers without flavors stay as they were. */
	if (!ret && info->kfunc_oneof.n)
		ret = add(k, "oneOf", sk_req_kfunc_oneof_json(&info->kfunc_oneof), false);
	if (!ret) {
		ret = add(o, "kfuncs", k, false);
		k = NULL;
	}
	if (!ret)
		ret = add(o, "callbacks", strv_json(ops ? &ops->callbacks : &empty), false);
	if (!ret)
		ret = add(o, "opsFlags", json_object_new_uint64(ops ? ops->flags : 0), false);
	if (!ret)
		ret = add(o, "timeoutMs", json_object_new_int64(ops ? ops->timeout_ms : 0), false);
	if (!ret)
		ret = add(o, "sleepable", strv_json(&info->sleepable), false);
	if (!ret)
		ret = add(o, "unknown", strv_json(&info->unknown), false);
	if (!ret)
		ret =
		    add(o, "kernelBefore",
			info->kernel_before[0] ? json_object_new_string(info->kernel_before) : NULL,
			!info->kernel_before[0]);
	if (!ret)
		ret = add(o, "kernelBeforeBecause", strv_json(&info->kernel_before_because), false);
	json_object_put(k);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *tunable_json(const struct sk_tunable *t)
{
	struct json_object *o = json_object_new_object();
	int ret = o ? 0 : -ENOMEM;

	if (!ret)
		ret = add(o, "name", str_or_null(t->name), !t->name);
	if (!ret)
		ret = add(o, "type", str_or_null(t->type), !t->type);
	if (!ret)
		ret = add(o, "kind", str_or_null(t->kind), !t->kind);
	if (!ret)
		ret = add(o, "size", json_object_new_int64(t->size), false);
	if (!ret)
		ret = add(o, "offset", json_object_new_int64(t->offset), false);
	if (!ret)
		ret = add(o, "default", str_or_null(t->default_str), !t->default_str);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *tunables_json(const struct sk_sched_info *info)
{
	struct json_object *arr = json_object_new_array();
	const struct sk_tunable **sorted;

	if (!arr)
		return NULL;
	sorted = calloc(info->nr_tunables + 1, sizeof(*sorted));
	if (!sorted) {
		json_object_put(arr);
		return NULL;
	}
	/* Insertion sort on pointers: the info stays const and tunables are few. */
	for (size_t i = 0; i < info->nr_tunables; i++) {
		size_t j = i;

		while (j && strcmp(sorted[j - 1]->name, info->tunables[i].name) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &info->tunables[i];
	}
	for (size_t i = 0; i < info->nr_tunables; i++) {
		struct json_object *e = tunable_json(sorted[i]);

		if (!e || json_object_array_add(arr, e)) {
			json_object_put(e);
			json_object_put(arr);
			arr = NULL;
			break;
		}
	}
	free(sorted);
	return arr;
}

struct json_object *sk_sched_info_to_json(const struct sk_sched_info *info)
{
	struct json_object *o = json_object_new_object(), *exit_info = json_object_new_object();
	int ret = (o && exit_info) ? 0 : -ENOMEM;

	if (!ret)
		ret = add(o, "license", str_or_null(info->license), !info->license);
	if (!ret)
		ret = add(o, "ops", info->ops ? ops_json(info->ops) : NULL, !info->ops);
	if (!ret)
		ret = add(o, "requirements", requirements_json(info), false);
	if (!ret)
		ret = add(o, "tunables", tunables_json(info), false);
	if (!ret)
		ret = add(exit_info, "uei", json_object_new_boolean(info->has_uei), false);
	if (!ret) {
		ret = add(o, "exitInfo", exit_info, false);
		exit_info = NULL;
	}
	json_object_put(exit_info);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
