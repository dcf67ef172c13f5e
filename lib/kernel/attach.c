/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading and attaching a sched_ext scheduler, doing what the loaders of
 * upstream scx schedulers do so that their objects run unchanged: fill the
 * __SCX_* enum placeholders from this kernel's BTF, set hotplug_seq, size the
 * exit dump, and read the `uei` exit record afterwards.
 *
 * skrun stays resident for as long as the scheduler runs, so once the
 * scheduler is attached everything libbpf built to load it is released: the
 * struct_ops link and a descriptor of the map that holds the exit record are
 * all a running scheduler needs from user space.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <ctype.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "schedkit/kernel.h"
#include "schedkit/verifier.h"
#include "internal.h"
#include "loadspec.h"

#define SCX_SYSFS	 "/sys/kernel/sched_ext"
#define LOG_BUF_SIZE	 (4u << 20)
#define DEFAULT_DUMP_LEN 32768

/* Where the upstream exit record `uei` lies in the .data map; resolved at load. */
struct uei_layout {
	int fd;		     /* the .data map, our own descriptor; -1: no exit record */
	uint32_t data_size;  /* the map's value size */
	uint32_t off;	     /* of uei in the value */
	uint32_t size;	     /* of uei */
	int64_t kind_off;    /* -1 when absent or not 4 bytes */
	int64_t code_off;    /* -1 when absent or not 8 bytes */
	int64_t reason_off;  /* -1 when absent */
	uint32_t reason_len; /* bytes */
	int64_t msg_off;     /* -1 when absent */
	uint32_t msg_len;
};

struct sk_sched {
	uint8_t *obj_copy;	/* libbpf parses the ELF in place; NULL once attached */
	struct bpf_object *obj; /* NULL once attached (see release_loader) */
	struct bpf_map *ops_map;
	struct bpf_link *link;
	char *log;
	struct uei_layout uei;
	int uei_err; /* what sk_sched_exit_info returns while uei.fd is -1 */
	char name[SK_SCX_NAME_LEN];
};

static const struct btf_type *skip_mods(const struct btf *btf, uint32_t id, uint32_t *res_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	unsigned depth = 0;

	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		/* A hostile BTF may chain modifiers into a cycle; libbpf stops at 32 too. */
		if (++depth > 32)
			return NULL;
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (res_id)
		*res_id = id;
	return t;
}

/* Finds the map backing a global data section (".rodata", ".data", ...). */
static struct bpf_map *find_datasec_map(struct bpf_object *obj, const char *sec,
					const struct btf_type **dsec)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m;

	if (!btf)
		return NULL;
	bpf_object__for_each_map(m, obj)
	{
		const struct btf_type *t;

		if (!bpf_map__is_internal(m))
			continue;
		t = btf__type_by_id(btf, bpf_map__btf_value_type_id(m));
		if (t && btf_is_datasec(t) && !strcmp(btf__name_by_offset(btf, t->name_off), sec)) {
			if (dsec)
				*dsec = t;
			return m;
		}
	}
	return NULL;
}

struct var_loc {
	uint32_t offset;
	uint32_t size;
	uint32_t type_id; /* of the variable's type, modifiers included */
};

static int find_var(const struct btf *btf, const struct btf_type *dsec, const char *name,
		    struct var_loc *loc)
{
	const struct btf_var_secinfo *vs = btf_var_secinfos(dsec);

	for (int i = 0; i < btf_vlen(dsec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (!v || !btf_is_var(v) || strcmp(btf__name_by_offset(btf, v->name_off), name))
			continue;
		loc->offset = vs->offset;
		loc->size = vs->size;
		loc->type_id = v->type;
		return 0;
	}
	return -ENOENT;
}

static const char *var_name(const struct btf *btf, const struct btf_var_secinfo *vs)
{
	const struct btf_type *v = btf__type_by_id(btf, vs->type);
	const char *n = v && btf_is_var(v) ? btf__name_by_offset(btf, v->name_off) : NULL;

	return n ? n : "";
}

/*
 * Upstream's SCX_ENUM_INIT: const volatile __SCX_FOO takes enumerator SCX_FOO's
 * value. Only objects with placeholders read the kernel BTF here, and only
 * until every wanted enumerator is found (kbtf.c): libbpf parses it in the
 * load anyway.
 */
static int fill_enum_placeholders(struct sk_sched *s, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(s->obj);
	const struct btf_type *dsec;
	struct bpf_map *ro = find_datasec_map(s->obj, ".rodata", &dsec);
	const struct btf_var_secinfo *vs;
	struct sk_nameset want = {0};
	struct sk_kbtf k = {0};
	const char **names = NULL;
	size_t size, n = 0;
	uint8_t *data;
	int ret = 0;

	data = ro ? bpf_map__initial_value(ro, &size) : NULL;
	if (!data)
		return 0;
	names = calloc(btf_vlen(dsec) + 1, sizeof(*names));
	if (!names)
		return sk_errf(err, -ENOMEM, "out of memory");
	vs = btf_var_secinfos(dsec);
	for (int i = 0; i < btf_vlen(dsec); i++)
		if (!strncmp(var_name(btf, &vs[i]), "__SCX_", 6))
			names[n++] = var_name(btf, &vs[i]) + 2;
	if (!n)
		goto out;
	ret = sk_nameset_init(&want, names, n);
	if (ret) {
		sk_errf(err, ret, "out of memory");
		goto out;
	}
	ret = sk_kbtf_open(SK_SYSFS_BTF, 0, &k, err);
	if (!ret)
		ret = sk_kbtf_enum_values(&k, &want, err);
	if (ret) {
		sk_err_prefix(err, "filling the scheduler's __SCX_* enum placeholders: ");
		goto out;
	}
	for (int i = 0; i < btf_vlen(dsec); i++) {
		const char *name = var_name(btf, &vs[i]);
		long w;

		if (strncmp(name, "__SCX_", 6) || (w = sk_nameset_find(&want, name + 2)) < 0)
			continue;
		/*
		 * The headers list enumerators of several releases (7.2's list
		 * SCX_RQ_BAL_PENDING, which 7.2's own BTF lacks); upstream's
		 * loader sets the ones this kernel lacks to 0, and so do we.
		 */
		if ((uint64_t)vs[i].offset + vs[i].size <= size)
			sk_store_uint(data + vs[i].offset, vs[i].size,
				      want.found[w] ? want.vals[w] : 0);
	}
out:
	sk_kbtf_close(&k);
	sk_nameset_free(&want);
	free(names);
	return ret;
}

static int read_sysfs(const char *name, char *buf, size_t sz)
{
	char path[256];
	FILE *f;

	/* Defined even on failure: callers may read it whatever the return. */
	buf[0] = '\0';
	snprintf(path, sizeof(path), SCX_SYSFS "/%s", name);
	f = fopen(path, "re");
	if (!f)
		return errno ? -errno : -ENOENT;
	if (!fgets(buf, (int)sz, f))
		buf[0] = '\0';
	fclose(f);
	sk_rstrip(buf);
	return 0;
}

int sk_scx_state(char *buf, size_t sz)
{
	if (read_sysfs("state", buf, sz)) {
		snprintf(buf, sz, "absent");
		return -ENOENT;
	}
	return 0;
}

int sk_scx_ops_name(char *buf, size_t sz)
{
	if (read_sysfs("root/ops", buf, sz)) {
		buf[0] = '\0';
		return -ENOENT;
	}
	return 0;
}

static bool all_chars(const char *p, int (*is)(int))
{
	for (; *p; p++)
		if (!is((unsigned char)*p))
			return false;
	return true;
}

/*
 * A number for a tunable of `bits` bits: decimal without leading zeros, or
 * 0x hex; a '-' only for signed types; nothing around it. (strtoull alone
 * skips blanks and wraps " -1" to 2^64-1.) Returns NULL with *out set, or why
 * the value is refused.
 */
static const char *parse_number(const char *v, bool is_signed, uint32_t bits, uint64_t *out)
{
	const char *digits = v;
	unsigned long long mag, max;
	bool neg = false, hex;
	char *end;

	if (!*v)
		return "it is empty";
	if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[strlen(v) - 1]))
		return "it has leading or trailing whitespace";
	if (*v == '+')
		return "it has a '+' sign (write the number alone)";
	if (*v == '-') {
		if (!is_signed)
			return "the tunable is unsigned and takes no sign";
		neg = true;
		digits++;
	}
	hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
	if (hex)
		digits += 2;
	if (!*digits)
		return hex ? "'0x' needs hex digits after it" : "it is not a number";
	if (!all_chars(digits, hex ? isxdigit : isdigit))
		return "it is not a decimal or 0x-prefixed hex number";
	if (!hex && digits[0] == '0' && digits[1])
		return "it has a leading zero (octal is not accepted; write decimal or 0x hex)";
	errno = 0;
	mag = strtoull(digits, &end, hex ? 16 : 10);
	if (errno == ERANGE || *end)
		return "it is out of range";
	if (is_signed)
		max = (1ULL << (bits - 1)) - (neg ? 0 : 1);
	else
		max = bits >= 64 ? ULLONG_MAX : (1ULL << bits) - 1;
	if (mag > max)
		return "it is out of range";
	*out = neg ? 0 - (uint64_t)mag : (uint64_t)mag;
	return NULL;
}

static int member_offset(const struct btf *btf, const struct btf_type *st, const char *name,
			 uint32_t *off, uint32_t *size)
{
	const struct btf_member *m = btf_members(st);

	for (int i = 0; i < btf_vlen(st); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), name))
			continue;
		if (btf_member_bitfield_size(st, i))
			return -EINVAL;
		*off = btf_member_bit_offset(st, i) / 8;
		*size = (uint32_t)btf__resolve_size(btf, m->type);
		return 0;
	}
	return -ENOENT;
}

/* Fields the loader, not the author, owns: hotplug_seq and the exit dump size. */
static int prepare_ops(struct sk_sched *s, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(s->obj);
	const struct btf_type *st = skip_mods(btf, bpf_map__btf_value_type_id(s->ops_map), NULL);
	const struct btf_type *dsec;
	struct bpf_map *ro, *dump;
	struct var_loc loc;
	uint32_t off, size, dump_len = DEFAULT_DUMP_LEN;
	uint64_t seq;
	uint8_t *ops, *rodata;
	size_t ops_size, ro_size;
	char buf[64];
	int ret;

	ops = bpf_map__initial_value(s->ops_map, &ops_size);
	if (!ops || !st)
		return sk_errf(err, -EINVAL, "cannot read the struct_ops map's initial value");
	if (!member_offset(btf, st, "name", &off, &size) && off + size <= ops_size)
		snprintf(s->name, sizeof(s->name), "%.*s", (int)size, (char *)ops + off);
	/* 0 (the kernel does not compare) unless sysfs gives a number that fits. */
	if (!member_offset(btf, st, "hotplug_seq", &off, &size) && off + size <= ops_size && size &&
	    size <= 8 && !read_sysfs("hotplug_seq", buf, sizeof(buf)) &&
	    !parse_number(buf, false, size * 8, &seq))
		sk_store_uint(ops + off, size, seq);
	if (!member_offset(btf, st, "exit_dump_len", &off, &size) && off + size <= ops_size &&
	    size == 4) {
		uint32_t v;

		memcpy(&v, ops + off, 4);
		if (v)
			dump_len = v;
	}

	/* UEI_DEFINE: a resizable .data.uei_dump array and its length in .rodata. */
	ro = find_datasec_map(s->obj, ".rodata", &dsec);
	if (!ro || find_var(btf, dsec, "uei_dump_len", &loc))
		return 0;
	dump = find_datasec_map(s->obj, ".data.uei_dump", NULL);
	if (dump) {
		ret = bpf_map__set_value_size(dump, dump_len);
		if (ret)
			return sk_errf(err, ret, "cannot size the exit dump buffer to %u bytes: %s",
				       dump_len, strerror(-ret));
	}
	rodata = bpf_map__initial_value(ro, &ro_size);
	if (rodata && loc.offset + loc.size <= ro_size)
		sk_store_uint(rodata + loc.offset, loc.size, dump ? dump_len : 0);
	return 0;
}

/* "0 to 255", "-128 to 127" */
static void int_range(bool is_signed, uint32_t bits, char *buf, size_t sz)
{
	if (is_signed)
		snprintf(buf, sz, "%" PRId64 " to %" PRId64,
			 bits >= 64 ? INT64_MIN : -(int64_t)(1ULL << (bits - 1)),
			 (int64_t)((1ULL << (bits - 1)) - 1));
	else
		snprintf(buf, sz, "0 to %" PRIu64,
			 bits >= 64 ? UINT64_MAX : (uint64_t)((1ULL << bits) - 1));
}

/* The tunable's type as its source names it: "u64", "_Bool", "enum fifo_mode". */
static const char *type_display(const struct btf *btf, uint32_t id, char *buf, size_t sz)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	for (unsigned depth = 0; t && btf_is_mod(t) && depth < 32; depth++)
		t = btf__type_by_id(btf, t->type);
	if (!t)
		return "?";
	snprintf(buf, sz, "%s%s", btf_is_enum(t) || btf_is_enum64(t) ? "enum " : "",
		 btf__name_by_offset(btf, t->name_off));
	return buf;
}

/* --set NAME=VALUE: typed by the variable's BTF type; refused before load. */
int sk_set_apply(const struct btf *btf, const char *assign, uint8_t *data, size_t size,
		 struct sk_error *err)
{
	int ds = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	const struct btf_type *dsec = ds > 0 ? btf__type_by_id(btf, ds) : NULL, *t;
	const char *eq = strchr(assign, '=');
	struct var_loc loc;
	char name[128];
	uint64_t v = 0;

	if (!eq || eq == assign || (size_t)(eq - assign) >= sizeof(name))
		return sk_errf(err, -EINVAL, "--set %s: expected NAME=VALUE", assign);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - assign), assign);
	const char *val = eq + 1;

	/* The __SCX_* placeholders and the exit dump length are the loader's. */
	if (!dsec || find_var(btf, dsec, name, &loc) || !strncmp(name, "__", 2) ||
	    !strcmp(name, "uei_dump_len"))
		return sk_errf(err, -ENOENT,
			       "--set %s: the scheduler has no tunable named '%s' "
			       "(`skbuild inspect` lists them)",
			       assign, name);
	/* An object as compiled may leave DATASEC sizes to the linker; the type knows. */
	if (!loc.size && btf__resolve_size(btf, loc.type_id) > 0)
		loc.size = (uint32_t)btf__resolve_size(btf, loc.type_id);
	if (data && (uint64_t)loc.offset + loc.size > size)
		return sk_errf(err, -EINVAL, "--set %s: cannot reach .rodata", assign);
	t = skip_mods(btf, loc.type_id, NULL);
	if (!t)
		return sk_errf(err, -EINVAL, "--set %s: the tunable's BTF type is malformed",
			       assign);
	if (btf_is_int(t)) {
		uint8_t enc = btf_int_encoding(t);
		bool is_signed = enc & BTF_INT_SIGNED;
		uint32_t bits = btf_int_bits(t);
		const char *why;
		char range[64], tn[128];

		if (loc.size > 8 || !loc.size || !bits || bits > loc.size * 8)
			return sk_errf(
			    err, -EOPNOTSUPP,
			    "--set %s: tunable '%s' is a %u-byte integer, which cannot be "
			    "set from the command line",
			    assign, name, loc.size);
		if (enc & BTF_INT_BOOL) {
			if (!strcmp(val, "true") || !strcmp(val, "1"))
				v = 1;
			else if (!strcmp(val, "false") || !strcmp(val, "0"))
				v = 0;
			else
				return sk_errf(
				    err, -EINVAL,
				    "--set %s: '%s' is not a valid value for tunable '%s' "
				    "(%s); accepted: true, false, 1 or 0",
				    assign, val, name,
				    type_display(btf, loc.type_id, tn, sizeof(tn)));
			if (data)
				sk_store_uint(data + loc.offset, loc.size, v);
			return 0;
		}
		why = parse_number(val, is_signed, bits, &v);
		if (why) {
			int_range(is_signed, bits, range, sizeof(range));
			return sk_errf(
			    err, -ERANGE,
			    "--set %s: '%s' is not a valid %s integer for tunable '%s' (%s, %u "
			    "bits): %s; accepted: %s, in decimal or 0x hex",
			    assign, val, is_signed ? "signed" : "unsigned", name,
			    type_display(btf, loc.type_id, tn, sizeof(tn)), bits, why, range);
		}
		if (data)
			sk_store_uint(data + loc.offset, loc.size, v);
		return 0;
	}
	if (btf_is_enum(t) || btf_is_enum64(t)) {
		bool found = false;

		if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t);

			for (int i = 0; i < btf_vlen(t) && !found; i++, e++)
				if (!strcmp(btf__name_by_offset(btf, e->name_off), val)) {
					v = (uint64_t)(int64_t)e->val;
					found = true;
				}
		} else {
			const struct btf_enum64 *e = btf_enum64(t);

			for (int i = 0; i < btf_vlen(t) && !found; i++, e++)
				if (!strcmp(btf__name_by_offset(btf, e->name_off), val)) {
					v = btf_enum64_value(e);
					found = true;
				}
		}
		if (!found &&
		    (loc.size > 8 || !loc.size || parse_number(val, true, loc.size * 8, &v))) {
			char tn[128];

			return sk_errf(err, -EINVAL,
				       "--set %s: '%s' is not a valid value for tunable '%s' (%s): "
				       "give one of the enum's names (`skbuild inspect` lists the "
				       "tunables) or a signed %u-bit number in decimal or 0x hex",
				       assign, val, name,
				       type_display(btf, loc.type_id, tn, sizeof(tn)),
				       loc.size * 8);
		}
		if (data)
			sk_store_uint(data + loc.offset, loc.size, v);
		return 0;
	}
	if (btf_is_array(t)) {
		const struct btf_type *elem = skip_mods(btf, btf_array(t)->type, NULL);

		if (elem && btf_is_int(elem) && elem->size == 1) {
			size_t n = strlen(val);

			if (n >= loc.size)
				return sk_errf(err, -E2BIG,
					       "--set %s: value is %zu bytes; at most %u fit",
					       assign, n, loc.size - 1);
			if (!data)
				return 0;
			memset(data + loc.offset, 0, loc.size);
			/* n < loc.size and the memset above leave the NUL in place. */
			// NOLINTNEXTLINE(bugprone-not-null-terminated-result)
			memcpy(data + loc.offset, val, n);
			return 0;
		}
	}
	return sk_errf(err, -EOPNOTSUPP,
		       "--set %s: tunable '%s' has a type that cannot be set from the command line",
		       assign, name);
}

/* --set NAME=VALUE into the opened object's .rodata. */
static int apply_set(struct sk_sched *s, const char *assign, struct sk_error *err)
{
	const struct btf_type *dsec;
	struct bpf_map *ro = find_datasec_map(s->obj, ".rodata", &dsec);
	size_t size = 0;
	uint8_t *data = ro ? bpf_map__initial_value(ro, &size) : NULL;

	if (!data)
		return sk_errf(err, -ENOENT,
			       "--set %s: the scheduler has no tunables (`skbuild inspect` lists "
			       "them)",
			       assign);
	return sk_set_apply(bpf_object__btf(s->obj), assign, data, size, err);
}

/*
 * A map left at max_entries 0 is one the scheduler's own loader sizes at run
 * time (upstream's scx_pair: bpf_map__set_max_entries(pair_ctx, nr_cpus / 2)).
 * The kernel refuses it with a bare EINVAL; say what it means instead. Local
 * storage maps are exempt: 0 is their required value.
 */
static int check_map_sizes(struct sk_sched *s, struct sk_error *err)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, s->obj)
	{
		switch (bpf_map__type(m)) {
		case BPF_MAP_TYPE_HASH:
		case BPF_MAP_TYPE_ARRAY:
		case BPF_MAP_TYPE_PERCPU_HASH:
		case BPF_MAP_TYPE_PERCPU_ARRAY:
		case BPF_MAP_TYPE_LRU_HASH:
		case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		case BPF_MAP_TYPE_QUEUE:
		case BPF_MAP_TYPE_STACK:
		case BPF_MAP_TYPE_RINGBUF:
		case BPF_MAP_TYPE_USER_RINGBUF:
		case BPF_MAP_TYPE_ARENA:
			break;
		default:
			continue;
		}
		if (bpf_map__autocreate(m) && !bpf_map__is_internal(m) && !bpf_map__max_entries(m))
			return sk_errf(
			    err, -EINVAL,
			    "scheduler '%s': map '%s' has max_entries 0, so its size is "
			    "meant to be set at run time by the scheduler's own user-space "
			    "loader; it cannot run under skrun without that component",
			    s->name, bpf_map__name(m));
	}
	return 0;
}

struct bpf_map *sk_select_ops_map(struct bpf_object *obj, const char *want, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m, *found = NULL;
	struct sk_buf names = {0};
	int n = 0;

	bpf_object__for_each_map(m, obj)
	{
		const struct btf_type *t;

		if (bpf_map__type(m) != BPF_MAP_TYPE_STRUCT_OPS || !btf)
			continue;
		t = skip_mods(btf, bpf_map__btf_value_type_id(m), NULL);
		if (!t || !sk_is_scx_ops_type(btf__name_by_offset(btf, t->name_off)))
			continue;
		sk_buf_printf(&names, "%s%s", n ? ", " : "", bpf_map__name(m));
		n++;
		if (!want || !strcmp(want, bpf_map__name(m))) {
			if (found && !want) {
				found = NULL;
				continue;
			}
			if (!found || want)
				found = m;
		}
	}
	if (!n)
		sk_errf(err, -ENOENT,
			"the object has no struct sched_ext_ops map; define one in "
			"SEC(\".struct_ops.link\")");
	else if (!found && want)
		sk_errf(err, -ENOENT, "no sched_ext_ops map named '%s' (the object has: %s)", want,
			(char *)names.data);
	else if (!found || (n > 1 && !want)) {
		sk_errf(err, -EINVAL,
			"the object has %d sched_ext_ops maps (%s); choose one with --ops NAME", n,
			(char *)names.data);
		found = NULL;
	}
	sk_buf_free(&names);
	return found;
}

/* The end of a verifier log says why; the start is the program listing. */
static void log_tail(const char *log, char *out, size_t sz, int max_lines)
{
	size_t len = strlen(log);
	int lines = 0;
	size_t i = len;

	while (i > 0) {
		if (log[i - 1] == '\n' && i != len && ++lines >= max_lines)
			break;
		i--;
	}
	snprintf(out, sz, "%s%s", i ? "...\n" : "", log + i);
	sk_rstrip(out);
}

/* -1 unless member name lies inside the record (and has size want, when want is not 0). */
static int64_t uei_member(const struct btf *btf, const struct btf_type *st, uint32_t rec_size,
			  const char *name, uint32_t want, uint32_t *size)
{
	uint32_t off, sz;

	if (member_offset(btf, st, name, &off, &sz) || (want && sz != want) ||
	    (uint64_t)off + sz > rec_size)
		return -1;
	if (size)
		*size = sz;
	return off;
}

/*
 * Where the upstream exit record lies in .data, and a descriptor of that map
 * of our own: the exit record is read after the object is released, and
 * after the scheduler is detached.
 */
static int resolve_uei(struct sk_sched *s, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(s->obj);
	const struct btf_type *dsec, *st;
	struct bpf_map *data = find_datasec_map(s->obj, ".data", &dsec);
	struct uei_layout *u = &s->uei;
	struct var_loc loc;

	s->uei_err = -ENOENT;
	if (!data || find_var(btf, dsec, "uei", &loc))
		return 0;
	st = skip_mods(btf, loc.type_id, NULL);
	u->data_size = bpf_map__value_size(data);
	if (!st || !btf_is_struct(st) || (uint64_t)loc.offset + loc.size > u->data_size) {
		s->uei_err = -EINVAL;
		return 0;
	}
	u->off = loc.offset;
	u->size = loc.size;
	u->kind_off = uei_member(btf, st, loc.size, "kind", 4, NULL);
	u->code_off = uei_member(btf, st, loc.size, "exit_code", 8, NULL);
	u->reason_off = uei_member(btf, st, loc.size, "reason", 0, &u->reason_len);
	u->msg_off = uei_member(btf, st, loc.size, "msg", 0, &u->msg_len);
	u->fd = fcntl(bpf_map__fd(data), F_DUPFD_CLOEXEC, 3);
	if (u->fd < 0)
		return sk_errf(err, -errno, "cannot keep the exit record's map open: %s",
			       strerror(errno));
	return 0;
}

/*
 * libbpf reads the kernel config for __kconfig externs from /boot or
 * /proc/config.gz itself and fails with little to say when neither exists.
 * skrun looks in the same places and /lib/modules/RELEASE/config (where
 * Debian's 7.x kernels keep it), and only for an object that has such
 * externs. Without a config, weak externs read as 0 (what they read on a
 * kernel whose config lacks the option) and a notice names them; a strong
 * one is refused, named.
 */
static bool kconfig_has(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == '=')
			return true;
	return false;
}

static int find_kconfig(const void *obj, size_t len, const char *root, char **kconfig,
			struct sk_error *err)
{
	struct sk_strv strong = {0}, weak = {0}, unset = {0};
	struct sk_error why = {0};
	struct sk_buf text = {0};
	char from[512] = "";
	char *cfg = NULL, *names = NULL;
	int ret;

	*kconfig = NULL;
	ret = sk_kconfig_externs(obj, len, &strong, &weak, err);
	if (ret || (!strong.n && !weak.n))
		goto out;
	ret = sk_kconfig_read(root, &cfg, from, sizeof(from), &why);
	if (ret && ret != -ENOENT) {
		sk_errf(err, ret, "%s", why.msg);
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < strong.n; i++) {
		if (cfg && kconfig_has(cfg, strong.v[i]))
			continue;
		ret = cfg ? sk_errf(err, -ENOENT,
				    "the scheduler reads %s from the kernel config (__kconfig, not "
				    "weak), and %s does not set it",
				    strong.v[i], from)
			  : sk_errf(err, -ENOENT,
				    "the scheduler reads %s from the kernel config (__kconfig, not "
				    "weak), and %s",
				    strong.v[i], why.msg);
		goto out;
	}
	sk_buf_printf(&text, "%s\n", cfg ? cfg : "");
	/* weak ones the config lacks read as unset, so libbpf needs no file of its own */
	for (size_t i = 0; i < weak.n; i++) {
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(weak.v[i], "="), weak.v[i]);
		if (cfg && kconfig_has(cfg, name))
			continue;
		sk_buf_printf(&text, "%s\n", weak.v[i]);
		sk_strv_push(&unset, name);
	}
	if (!cfg && unset.n) {
		names = sk_strv_join(&unset, ", ");
		fflush(stdout);
		fprintf(stderr,
			"%s: notice: %s; the scheduler's optional kernel config options %s read "
			"as unset\n",
			program_invocation_short_name, why.msg, names ? names : "");
	}
	*kconfig = text.data ? strdup((char *)text.data) : NULL;
	if (!*kconfig)
		ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	free(names);
	free(cfg);
	sk_buf_free(&text);
	sk_strv_free(&strong);
	sk_strv_free(&weak);
	sk_strv_free(&unset);
	return ret;
}

static const struct json_object *config_load(const struct sk_load_opts *opts)
{
	struct json_object *load = NULL;

	if (opts && opts->config)
		json_object_object_get_ex((struct json_object *)opts->config, "load", &load);
	return load;
}

int sk_sched_load(const void *obj, size_t len, const struct sk_load_opts *opts,
		  struct sk_sched **out, struct sk_error *err)
{
	struct sk_sched *s = calloc(1, sizeof(*s));
	const struct json_object *load = config_load(opts);
	const char *root = opts && opts->host_root ? opts->host_root : "";
	struct sk_loadspec_state *ls = NULL;
	char *kconfig = NULL;
	struct bpf_map *m;
	int ret;

	if (!s)
		return sk_errf(err, -ENOMEM, "out of memory");
	s->uei.fd = -1;
	/* before anything is opened: this one cannot run here whatever the host */
	if (load) {
		const char *name = sk_json_str((struct json_object *)opts->config, "name");

		ret = sk_loadspec_refuse_user_space(load, name ? name : "(unnamed)", err);
		if (ret)
			goto fail;
	}
	s->obj_copy = malloc(len);
	s->log = calloc(1, LOG_BUF_SIZE);
	if (!s->obj_copy || !s->log) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(s->obj_copy, obj, len);
	ret = find_kconfig(s->obj_copy, len, root, &kconfig, err);
	if (ret)
		goto fail;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_buf = s->log,
		    .kernel_log_size = LOG_BUF_SIZE, .object_name = "sched",
		    .btf_custom_path = opts ? opts->btf_custom_path : NULL, .kconfig = kconfig);
	s->obj = bpf_object__open_mem(s->obj_copy, len, &oo);
	if (!s->obj) {
		ret = -errno;
		sk_errf(err, ret, "the BPF object cannot be opened: %s", strerror(-ret));
		goto fail;
	}
	s->ops_map = sk_select_ops_map(s->obj, opts ? opts->ops_name : NULL, err);
	if (!s->ops_map) {
		ret = err ? err->code : -ENOENT;
		goto fail;
	}
	/* Only the chosen scheduler is created; the other ops maps stay inert. */
	bpf_object__for_each_map(m, s->obj)
	{
		if (bpf_map__type(m) == BPF_MAP_TYPE_STRUCT_OPS && m != s->ops_map)
			bpf_map__set_autocreate(m, false);
	}

	ret = fill_enum_placeholders(s, err);
	if (ret)
		goto fail;
	if (load) {
		/*
		 * Typed again here: a config is data from a registry, not from
		 * skbuild. Before prepare_ops, which sizes the exit dump from the
		 * exit_dump_len a declaration may set.
		 */
		ret = sk_loadspec_check(s->obj, s->ops_map, load, err);
		if (!ret)
			ret = sk_loadspec_before_load(s->obj, s->ops_map, load, root,
						      opts->btf_custom_path, &ls, err);
		if (ret) {
			sk_err_prefix(err, "ops map '%s': the artifact's load declarations: ",
				      bpf_map__name(s->ops_map));
			goto fail;
		}
	}
	ret = prepare_ops(s, err);
	if (ret)
		goto fail;
	for (const char *const *set = opts ? opts->set : NULL; set && *set; set++) {
		ret = apply_set(s, *set, err);
		if (ret)
			goto fail;
	}
	sk_loadspec_note_sets(ls, opts ? opts->set : NULL);

	ret = check_map_sizes(s, err);
	if (ret)
		goto fail;

	ret = bpf_object__load(s->obj);
	if (!ret) {
		free(s->log);
		s->log = NULL;
		ret = resolve_uei(s, err);
		if (ret)
			goto fail;
		ret = sk_loadspec_after_load(s->obj, load, ls, err);
		if (ret) {
			sk_err_prefix(err, "scheduler '%s': after load: ", s->name);
			goto fail;
		}
	} else {
		char tail[3072];

		log_tail(s->log, tail, sizeof(tail), 40);
		if (tail[0])
			sk_errf(
			    err, ret,
			    "the kernel rejected scheduler '%s' at load (%s); verifier log:\n%s",
			    s->name, strerror(-ret), tail);
		else
			sk_errf(err, ret,
				"the kernel rejected scheduler '%s' at load: %s (a kfunc or "
				"callback this kernel lacks? run `skrun check`)",
				s->name, strerror(-ret));
		sk_verifier_explain(s->log, err); /* hint; whole log to $SKRUN_VERIFIER_LOG */
		goto fail;
	}
	sk_loadspec_free(ls);
	free(kconfig);
	*out = s;
	return 0;
fail:
	sk_loadspec_free(ls);
	free(kconfig);
	sk_sched_close(s);
	return ret;
}

/*
 * Everything but the link and the exit record's map descriptor: libbpf's copy
 * of the object, its programs, maps and BTF. The kernel keeps the programs
 * and maps alive through the link.
 */
static void release_loader(struct sk_sched *s)
{
	/*
	 * A struct_ops map without BPF_F_LINK stays registered through the map's
	 * own descriptor, which the link reuses: it must stay open.
	 */
	if (!(bpf_map__map_flags(s->ops_map) & BPF_F_LINK))
		return;
	bpf_object__close(s->obj);
	s->obj = NULL;
	s->ops_map = NULL;
	free(s->obj_copy);
	s->obj_copy = NULL;
	/*
	 * The caller stays resident while the scheduler runs: hand back what the
	 * checks and the load freed (glibc keeps freed heap otherwise, and after
	 * a multi-megabyte free it raises its thresholds so that it keeps more).
	 */
	malloc_trim(0);
}

int sk_sched_attach(struct sk_sched *s, struct sk_error *err)
{
	char state[32], ops[SK_SCX_NAME_LEN];
	int ret;

	if (s->link)
		return 0;
	if (!s->obj)
		return sk_errf(err, -EINVAL,
			       "cannot attach '%s' again: what loaded it was released when it was "
			       "first attached; load it anew",
			       s->name);
	s->link = bpf_map__attach_struct_ops(s->ops_map);
	if (s->link) {
		release_loader(s);
		return 0;
	}
	ret = -errno;
	sk_scx_state(state, sizeof(state));
	sk_scx_ops_name(ops, sizeof(ops));
	if (ret == -EBUSY || ret == -EEXIST)
		return sk_errf(err, ret,
			       "cannot attach '%s': another sched_ext scheduler is active "
			       "(state %s, ops '%s'); stop it first",
			       s->name, state, ops);
	if (!strcmp(state, "absent"))
		return sk_errf(err, ret,
			       "cannot attach '%s': this kernel has no sched_ext "
			       "(CONFIG_SCHED_CLASS_EXT, 6.12+): %s",
			       s->name, strerror(-ret));
	return sk_errf(err, ret, "cannot attach '%s': %s (sched_ext state: %s)", s->name,
		       strerror(-ret), state);
}

void sk_sched_detach(struct sk_sched *s)
{
	if (s && s->link) {
		bpf_link__destroy(s->link);
		s->link = NULL;
	}
}

void sk_sched_close(struct sk_sched *s)
{
	if (!s)
		return;
	sk_sched_detach(s);
	bpf_object__close(s->obj);
	if (s->uei.fd >= 0)
		close(s->uei.fd);
	free(s->obj_copy);
	free(s->log);
	free(s);
}

/* True when the smaps entry of one mapping says it holds no private (copied) page. */
static bool no_private_copies(FILE *f, char *line, size_t sz)
{
	long anon = -1;

	while (fgets(line, (int)sz, f) && strncmp(line, "VmFlags:", 8))
		if (!strncmp(line, "Anonymous:", 10))
			anon = strtol(line + 10, NULL, 10);
	return anon == 0;
}

int sk_trim_resident(void)
{
	char line[512];
	FILE *f;

	malloc_trim(0);
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char perms[8];
		int path = 0;

		/* "start-end perms offset dev inode   path": one per mapping, its fields follow. */
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path) != 3 ||
		    !path)
			continue;
		/*
		 * Only files' pages that nobody wrote to: dropping their mapping
		 * changes nothing but residency (they fault back in from the page
		 * cache). A writable mapping, or a read-only one with private
		 * copies (relocated RELRO data), must keep its pages.
		 */
		if (line[path] != '/' || perms[1] != '-' ||
		    !no_private_copies(f, line, sizeof(line)))
			continue;
		madvise((void *)start, end - start, MADV_DONTNEED);
	}
	fclose(f);
	return 0;
}

/* libbpf's warnings, after the caller's buffered stdout so that the two stay in order. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	fflush(stdout);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	return vfprintf(stderr, fmt, ap);
}

void sk_kernel_log_init(void)
{
	libbpf_set_print(libbpf_log);
}

const char *sk_sched_name(const struct sk_sched *s)
{
	return s->name;
}

int sk_sched_exit_info(struct sk_sched *s, struct sk_exit_info *out)
{
	const struct uei_layout *u = &s->uei;
	uint32_t zero = 0;
	uint8_t *buf, *p;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (u->fd < 0)
		return s->uei_err;
	/*
	 * libbpf 1.4 remaps global data onto the kernel's map only for
	 * skeletons; the live value is read from the map.
	 */
	buf = calloc(1, u->data_size);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(u->fd, &zero, buf)) {
		ret = -errno;
		goto out;
	}
	p = buf + u->off;
	if (u->kind_off >= 0)
		memcpy(&out->kind, p + u->kind_off, 4);
	if (u->code_off >= 0)
		memcpy(&out->exit_code, p + u->code_off, 8);
	if (u->reason_off >= 0)
		snprintf(out->reason, sizeof(out->reason), "%.*s", (int)u->reason_len,
			 (char *)p + u->reason_off);
	if (u->msg_off >= 0)
		snprintf(out->msg, sizeof(out->msg), "%.*s", (int)u->msg_len,
			 (char *)p + u->msg_off);
	out->valid = out->kind != 0;
out:
	free(buf);
	return ret;
}

const char *sk_exit_kind_str(int kind)
{
	/* The kernel's own wording, as in "BPF scheduler ... disabled (REASON)". */
	switch (kind) {
	case 0:
		return "none";
	case 1:
		return "done";
	case 64:
		return "unregistered from user space";
	case 65:
		return "unregistered from BPF";
	case 66:
		return "unregistered from the main kernel";
	case 67:
		return "disabled by sysrq-S";
	case 68:
		return "parent scheduler exited";
	case 1024:
		return "runtime error";
	case 1025:
		return "scx_bpf_error";
	case 1026:
		return "runnable task stall";
	default:
		return "unknown exit kind";
	}
}
