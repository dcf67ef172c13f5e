/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading and attaching a sched_ext scheduler, doing what the loaders of
 * upstream scx schedulers do so that their objects run unchanged: fill the
 * __SCX_* enum placeholders from this kernel's BTF, set hotplug_seq, size the
 * exit dump, and read the `uei` exit record afterwards.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "schedkit/kernel.h"
#include "schedkit/verifier.h"
#include "internal.h"

#define SCX_SYSFS	 "/sys/kernel/sched_ext"
#define LOG_BUF_SIZE	 (4u << 20)
#define DEFAULT_DUMP_LEN 32768

struct sk_sched {
	uint8_t *obj_copy; /* libbpf parses the ELF in place */
	struct bpf_object *obj;
	struct bpf_map *ops_map;
	struct bpf_link *link;
	char *log;
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

/* Looks an enumerator up in every enum of the kernel BTF. */
static int kernel_enum_value(const struct btf *kbtf, const char *name, uint64_t *val)
{
	uint32_t n = btf__type_cnt(kbtf);

	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(kbtf, id);

		if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t);

			for (int i = 0; i < btf_vlen(t); i++, e++)
				if (!strcmp(btf__name_by_offset(kbtf, e->name_off), name)) {
					*val = (uint64_t)(int64_t)e->val;
					return 0;
				}
		} else if (btf_is_enum64(t)) {
			const struct btf_enum64 *e = btf_enum64(t);

			for (int i = 0; i < btf_vlen(t); i++, e++)
				if (!strcmp(btf__name_by_offset(kbtf, e->name_off), name)) {
					*val = btf_enum64_value(e);
					return 0;
				}
		}
	}
	return -ENOENT;
}

static void store_uint(uint8_t *dst, uint32_t size, uint64_t v)
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
	default: {
		memcpy(dst, &v, size < 8 ? size : 8);
		break;
	}
	}
}

/*
 * Upstream's SCX_ENUM_INIT: const volatile __SCX_FOO takes enumerator SCX_FOO's
 * value. The kernel BTF is parsed only for objects that have placeholders:
 * it costs tens of milliseconds that a schedkit scheduler need not pay.
 */
static int fill_enum_placeholders(struct sk_sched *s, struct sk_error *err)
{
	struct btf *kbtf = NULL;
	struct btf *btf = bpf_object__btf(s->obj);
	const struct btf_type *dsec;
	struct bpf_map *ro = find_datasec_map(s->obj, ".rodata", &dsec);
	const struct btf_var_secinfo *vs;
	uint8_t *data;
	size_t size;

	if (!ro)
		return 0;
	data = bpf_map__initial_value(ro, &size);
	if (!data)
		return 0;
	vs = btf_var_secinfos(dsec);
	for (int i = 0; i < btf_vlen(dsec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);
		const char *name = btf__name_by_offset(btf, v->name_off);
		uint64_t val = 0;

		if (strncmp(name, "__SCX_", 6))
			continue;
		if (!kbtf) {
			kbtf = btf__load_vmlinux_btf();
			if (!kbtf)
				return sk_errf(err, -errno ? -errno : -ENOENT,
					       "this kernel exposes no BTF at " SK_SYSFS_BTF
					       "; sched_ext needs CONFIG_DEBUG_INFO_BTF=y");
		}
		/*
		 * The headers list enumerators of several releases (7.2's list
		 * SCX_RQ_BAL_PENDING, which 7.2's own BTF lacks); upstream's
		 * loader sets the ones this kernel lacks to 0, and so do we.
		 */
		kernel_enum_value(kbtf, name + 2, &val);
		if (vs->offset + vs->size <= size)
			store_uint(data + vs->offset, vs->size, val);
	}
	btf__free(kbtf);
	return 0;
}

static int read_sysfs(const char *name, char *buf, size_t sz)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), SCX_SYSFS "/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
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
	uint8_t *ops, *rodata;
	size_t ops_size, ro_size;
	char buf[64];
	int ret;

	ops = bpf_map__initial_value(s->ops_map, &ops_size);
	if (!ops || !st)
		return sk_errf(err, -EINVAL, "cannot read the struct_ops map's initial value");
	if (!member_offset(btf, st, "name", &off, &size) && off + size <= ops_size)
		snprintf(s->name, sizeof(s->name), "%.*s", (int)size, (char *)ops + off);
	if (!member_offset(btf, st, "hotplug_seq", &off, &size) && off + size <= ops_size &&
	    !read_sysfs("hotplug_seq", buf, sizeof(buf)))
		store_uint(ops + off, size, strtoull(buf, NULL, 10));
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
		store_uint(rodata + loc.offset, loc.size, dump ? dump_len : 0);
	return 0;
}

static int parse_bool(const char *v, uint64_t *out)
{
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
		 !strcasecmp(v, "off"))
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

static int parse_int(const char *v, bool is_signed, uint32_t size, uint64_t *out)
{
	char *end;

	errno = 0;
	if (is_signed) {
		long long x = strtoll(v, &end, 0);
		long long max = size >= 8 ? LLONG_MAX : (1LL << (size * 8 - 1)) - 1;

		if (errno || *end || end == v || x > max || x < -max - 1)
			return -ERANGE;
		*out = (uint64_t)x;
	} else {
		unsigned long long x;

		if (*v == '-')
			return -ERANGE;
		x = strtoull(v, &end, 0);
		if (errno || *end || end == v || (size < 8 && x >> (size * 8)))
			return -ERANGE;
		*out = x;
	}
	return 0;
}

/* --set NAME=VALUE: typed by the variable's BTF type; refused before load. */
static int apply_set(struct sk_sched *s, const char *assign, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(s->obj);
	const struct btf_type *dsec, *t;
	const char *eq = strchr(assign, '=');
	struct bpf_map *ro = find_datasec_map(s->obj, ".rodata", &dsec);
	struct var_loc loc;
	char name[128];
	uint8_t *data;
	size_t size;
	uint64_t v = 0;
	int ret;

	if (!eq || eq == assign || (size_t)(eq - assign) >= sizeof(name))
		return sk_errf(err, -EINVAL, "--set %s: expected NAME=VALUE", assign);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - assign), assign);
	const char *val = eq + 1;

	/* The __SCX_* placeholders and the exit dump length are the loader's. */
	if (!ro || find_var(btf, dsec, name, &loc) || !strncmp(name, "__", 2) ||
	    !strcmp(name, "uei_dump_len"))
		return sk_errf(err, -ENOENT,
			       "--set %s: the scheduler has no tunable named '%s' "
			       "(`skbuild inspect` lists them)",
			       assign, name);
	data = bpf_map__initial_value(ro, &size);
	if (!data || loc.offset + loc.size > size)
		return sk_errf(err, -EINVAL, "--set %s: cannot reach .rodata", assign);
	t = skip_mods(btf, loc.type_id, NULL);
	if (!t)
		return sk_errf(err, -EINVAL, "--set %s: the tunable's BTF type is malformed",
			       assign);
	if (btf_is_int(t)) {
		uint8_t enc = btf_int_encoding(t);

		if (enc & BTF_INT_BOOL)
			ret = parse_bool(val, &v);
		else
			ret = parse_int(val, enc & BTF_INT_SIGNED, loc.size, &v);
		if (ret)
			return sk_errf(err, -EINVAL, "--set %s: '%s' is not a valid %s of %u bytes",
				       assign, val,
				       (enc & BTF_INT_BOOL)	? "bool (true/false)"
				       : (enc & BTF_INT_SIGNED) ? "signed integer"
								: "unsigned integer",
				       loc.size);
		store_uint(data + loc.offset, loc.size, v);
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
		if (!found && parse_int(val, true, loc.size, &v))
			return sk_errf(err, -EINVAL,
				       "--set %s: '%s' is not one of the enum's values", assign,
				       val);
		store_uint(data + loc.offset, loc.size, v);
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

static struct bpf_map *select_ops_map(struct bpf_object *obj, const char *want,
				      struct sk_error *err)
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

int sk_sched_load(const void *obj, size_t len, const struct sk_load_opts *opts,
		  struct sk_sched **out, struct sk_error *err)
{
	struct sk_sched *s = calloc(1, sizeof(*s));
	struct bpf_map *m;
	int ret;

	if (!s)
		return sk_errf(err, -ENOMEM, "out of memory");
	s->obj_copy = malloc(len);
	s->log = calloc(1, LOG_BUF_SIZE);
	if (!s->obj_copy || !s->log) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(s->obj_copy, obj, len);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_buf = s->log,
		    .kernel_log_size = LOG_BUF_SIZE, .object_name = "sched",
		    .btf_custom_path = opts ? opts->btf_custom_path : NULL);
	s->obj = bpf_object__open_mem(s->obj_copy, len, &oo);
	if (!s->obj) {
		ret = -errno;
		sk_errf(err, ret, "the BPF object cannot be opened: %s", strerror(-ret));
		goto fail;
	}
	s->ops_map = select_ops_map(s->obj, opts ? opts->ops_name : NULL, err);
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
	ret = prepare_ops(s, err);
	if (ret)
		goto fail;
	for (const char *const *set = opts ? opts->set : NULL; set && *set; set++) {
		ret = apply_set(s, *set, err);
		if (ret)
			goto fail;
	}

	ret = check_map_sizes(s, err);
	if (ret)
		goto fail;

	ret = bpf_object__load(s->obj);
	if (ret) {
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
	*out = s;
	return 0;
fail:
	sk_sched_close(s);
	return ret;
}

int sk_sched_attach(struct sk_sched *s, struct sk_error *err)
{
	char state[32], ops[SK_SCX_NAME_LEN];
	int ret;

	if (s->link)
		return 0;
	s->link = bpf_map__attach_struct_ops(s->ops_map);
	if (s->link)
		return 0;
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
	free(s->obj_copy);
	free(s->log);
	free(s);
}

const char *sk_sched_name(const struct sk_sched *s)
{
	return s->name;
}

int sk_sched_exit_info(struct sk_sched *s, struct sk_exit_info *out)
{
	struct btf *btf = bpf_object__btf(s->obj);
	const struct btf_type *dsec, *st;
	struct bpf_map *data = find_datasec_map(s->obj, ".data", &dsec);
	struct var_loc loc;
	uint32_t off, size, zero = 0;
	uint8_t *buf = NULL, *p;
	size_t dsize;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!data || find_var(btf, dsec, "uei", &loc))
		return -ENOENT;
	/*
	 * libbpf 1.4 remaps global data onto the kernel's map only for
	 * skeletons; a plain object must read the live value from the map.
	 */
	dsize = bpf_map__value_size(data);
	buf = calloc(1, dsize);
	if (!buf)
		return -ENOMEM;
	if (bpf_map__lookup_elem(data, &zero, sizeof(zero), buf, dsize, 0)) {
		ret = -errno;
		goto out;
	}
	st = skip_mods(btf, loc.type_id, NULL);
	if (!st || !btf_is_struct(st) || loc.offset + loc.size > dsize) {
		ret = -EINVAL;
		goto out;
	}
	p = buf + loc.offset;
	if (!member_offset(btf, st, "kind", &off, &size) && size == 4)
		memcpy(&out->kind, p + off, 4);
	if (!member_offset(btf, st, "exit_code", &off, &size) && size == 8)
		memcpy(&out->exit_code, p + off, 8);
	if (!member_offset(btf, st, "reason", &off, &size))
		snprintf(out->reason, sizeof(out->reason), "%.*s", (int)size, (char *)p + off);
	if (!member_offset(btf, st, "msg", &off, &size))
		snprintf(out->msg, sizeof(out->msg), "%.*s", (int)size, (char *)p + off);
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

int sk_sched_validate_sets(const void *obj, size_t len, const char *const *set,
			   struct sk_error *err)
{
	struct sk_sched s = {0};
	int ret = 0;

	s.obj_copy = malloc(len);
	if (!s.obj_copy)
		return sk_errf(err, -ENOMEM, "out of memory");
	memcpy(s.obj_copy, obj, len);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "sched");
	s.obj = bpf_object__open_mem(s.obj_copy, len, &oo);
	if (!s.obj) {
		ret = -errno;
		sk_errf(err, ret, "the BPF object cannot be opened: %s", strerror(-ret));
		goto out;
	}
	for (; set && *set && !ret; set++)
		ret = apply_set(&s, *set, err);
out:
	bpf_object__close(s.obj);
	free(s.obj_copy);
	return ret;
}
