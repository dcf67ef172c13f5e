/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A kernel's BTF, read for a handful of names in one pass.
 *
 * libbpf's btf__parse() copies the whole BTF twice, then indexes and
 * validates every one of its ~120k types; bpf_object__load() does all of it
 * again, and libbpf 1.4 takes no parsed BTF from its caller. Under emulation
 * that is 0.4-1 s per parse, plus ~20 ms per btf__find_by_name_kind(). What
 * skrun asks before a load (does kfunc X exist, which members has struct
 * sched_ext_ops, which bits has enum scx_ops_flags, what is enumerator
 * SCX_Y) needs only names, so raw native-endian BTF is mapped (sysfs BTF can
 * be mapped since 6.16; older kernels and pipes are read) and walked once,
 * without copying it to the heap. Every record and string is bounds-checked:
 * `--btf FILE` may hold anything. Anything else (a vmlinux ELF, the other byte
 * order) goes through libbpf's parser, which converts it, and is walked the
 * same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "internal.h"

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_BTF_ENDIAN BTF_LITTLE_ENDIAN
#else
#define HOST_BTF_ENDIAN BTF_BIG_ENDIAN
#endif

/*
 * The size of a type record of each kind: struct btf_type and its fixed tail
 * (rec_fixed, 0: a kind libbpf 1.4 does not know), plus per vlen unit
 * (members, enumerators, params, secinfos). Tables, not a switch: the walk
 * runs ~120k times per check, emulated in the test VMs.
 */
#define REC(extra) ((uint8_t)(sizeof(struct btf_type) + (extra)))
static const uint8_t rec_fixed[32] = {
    [BTF_KIND_INT] = REC(4),
    [BTF_KIND_PTR] = REC(0),
    [BTF_KIND_ARRAY] = REC(sizeof(struct btf_array)),
    [BTF_KIND_STRUCT] = REC(0),
    [BTF_KIND_UNION] = REC(0),
    [BTF_KIND_ENUM] = REC(0),
    [BTF_KIND_FWD] = REC(0),
    [BTF_KIND_TYPEDEF] = REC(0),
    [BTF_KIND_VOLATILE] = REC(0),
    [BTF_KIND_CONST] = REC(0),
    [BTF_KIND_RESTRICT] = REC(0),
    [BTF_KIND_FUNC] = REC(0), /* its vlen is the linkage */
    [BTF_KIND_FUNC_PROTO] = REC(0),
    [BTF_KIND_VAR] = REC(4),
    [BTF_KIND_DATASEC] = REC(0),
    [BTF_KIND_FLOAT] = REC(0),
    [BTF_KIND_DECL_TAG] = REC(4),
    [BTF_KIND_TYPE_TAG] = REC(0),
    [BTF_KIND_ENUM64] = REC(0),
};
static const uint8_t rec_per_vlen[32] = {
    [BTF_KIND_STRUCT] = sizeof(struct btf_member),
    [BTF_KIND_UNION] = sizeof(struct btf_member),
    [BTF_KIND_ENUM] = sizeof(struct btf_enum),
    [BTF_KIND_FUNC_PROTO] = sizeof(struct btf_param),
    [BTF_KIND_DATASEC] = sizeof(struct btf_var_secinfo),
    [BTF_KIND_ENUM64] = sizeof(struct btf_enum64),
};

static int check_header(struct sk_kbtf *k, const char *path, struct sk_error *err)
{
	struct btf_header h;
	uint64_t types_end, strs_end;

	if (k->len < sizeof(h))
		return sk_errf(err, -EINVAL, "kernel BTF %s: %zu bytes, too short for a BTF header",
			       path, k->len);
	memcpy(&h, k->data, sizeof(h));
	if (h.magic != BTF_MAGIC || h.version != BTF_VERSION)
		return sk_errf(err, -EINVAL,
			       "kernel BTF %s: not raw BTF (magic 0x%04x, version %u; expected "
			       "0x%04x, %u)",
			       path, h.magic, h.version, BTF_MAGIC, BTF_VERSION);
	types_end = (uint64_t)h.hdr_len + h.type_off + h.type_len;
	strs_end = (uint64_t)h.hdr_len + h.str_off + h.str_len;
	/* 4-byte alignment lets the records be read in place, as libbpf requires too. */
	if (h.hdr_len < sizeof(h) || h.hdr_len % 4 || h.type_off % 4 || types_end > k->len ||
	    strs_end > k->len || !h.str_len)
		return sk_errf(err, -EINVAL,
			       "kernel BTF %s: malformed header (header %u bytes, types %u+%u, "
			       "strings %u+%u, file %zu bytes)",
			       path, h.hdr_len, h.type_off, h.type_len, h.str_off, h.str_len,
			       k->len);
	k->types = k->data + h.hdr_len + h.type_off;
	k->types_len = h.type_len;
	k->strs = (const char *)k->data + h.hdr_len + h.str_off;
	k->strs_len = h.str_len;
	if (k->strs[0] || k->strs[k->strs_len - 1])
		return sk_errf(err, -EINVAL,
			       "kernel BTF %s: malformed string section (it must start and end "
			       "with a NUL byte)",
			       path);
	return 0;
}

/* Maps the file, or reads it into an anonymous mapping when it cannot be mapped. */
static int map_raw(struct sk_kbtf *k, int fd, const char *path, size_t size, unsigned flags,
		   struct sk_error *err)
{
	size_t done = 0;
	void *m = MAP_FAILED;

	/* MAP_PRIVATE, read-only: the only mapping sysfs BTF allows. */
	if (!(flags & SK_KBTF_READ))
		m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m != MAP_FAILED) {
		k->map = m;
		k->map_len = size;
		k->data = m;
		k->len = size;
		return 0;
	}
	/* A heap buffer of this size would raise malloc's mmap threshold for good. */
	/* cppcheck-suppress invalidFunctionArg ; fd -1 is what MAP_ANONYMOUS asks for */
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return sk_errf(err, -errno, "kernel BTF %s: cannot allocate %zu bytes: %s", path,
			       size, strerror(errno));
	k->map = m;
	k->map_len = size;
	while (done < size) {
		ssize_t n = pread(fd, (char *)m + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sk_errf(err, -errno, "reading kernel BTF %s: %s", path,
				       strerror(errno));
		if (!n)
			break;
		done += (size_t)n;
	}
	k->data = m;
	k->len = done;
	return 0;
}

/* A vmlinux ELF or BTF of the other byte order: libbpf converts it to native raw BTF. */
static int parse_with_libbpf(struct sk_kbtf *k, const char *path, struct sk_error *err)
{
	uint32_t size = 0;
	int ret;

	k->btf = btf__parse(path, NULL);
	if (!k->btf) {
		ret = -errno ? -errno : -EINVAL;
		return sk_errf(err, ret,
			       "reading kernel BTF %s: %s (a kernel built without "
			       "CONFIG_DEBUG_INFO_BTF has none; pass another with --btf FILE)",
			       path, strerror(-ret));
	}
	ret = btf__set_endianness(k->btf, HOST_BTF_ENDIAN);
	k->data = ret ? NULL : btf__raw_data(k->btf, &size);
	if (!k->data)
		return sk_errf(err, -EINVAL, "kernel BTF %s: libbpf cannot give its raw bytes",
			       path);
	k->len = size;
	return 0;
}

int sk_kbtf_open(const char *path, unsigned flags, struct sk_kbtf *k, struct sk_error *err)
{
	struct stat st;
	uint16_t magic = 0;
	int fd, ret;

	memset(k, 0, sizeof(*k));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return sk_errf(err, ret,
			       "reading kernel BTF %s: %s (a kernel built without "
			       "CONFIG_DEBUG_INFO_BTF has none; pass another with --btf FILE)",
			       path, strerror(-ret));
	}
	if (fstat(fd, &st)) {
		ret = sk_errf(err, -errno, "kernel BTF %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    pread(fd, &magic, sizeof(magic), 0) != sizeof(magic) || magic != BTF_MAGIC) {
		ret = parse_with_libbpf(k, path, err);
		goto out;
	}
	if ((unsigned long long)st.st_size > SIZE_MAX / 2) {
		ret = sk_errf(err, -EFBIG, "kernel BTF %s: %lld bytes is too large", path,
			      (long long)st.st_size);
		goto out;
	}
	ret = map_raw(k, fd, path, (size_t)st.st_size, flags, err);
out:
	close(fd);
	k->path = path;
	if (!ret)
		ret = check_header(k, path, err);
	if (ret)
		sk_kbtf_close(k);
	return ret;
}

void sk_kbtf_close(struct sk_kbtf *k)
{
	if (k->map)
		munmap(k->map, k->map_len);
	btf__free(k->btf);
	memset(k, 0, sizeof(*k));
}

int sk_kbtf_walk(const struct sk_kbtf *k, const struct sk_kbtf_filter *f, sk_kbtf_visit_fn *visit,
		 void *ctx, struct sk_error *err)
{
	const uint8_t *p = k->types, *end = k->types + k->types_len;
	uint32_t id = 1;

	for (; p < end; id++) {
		const struct btf_type *t = (const struct btf_type *)p;
		size_t left = (size_t)(end - p), rec;
		unsigned kind;
		int ret;

		if (left < sizeof(*t))
			return sk_errf(err, -EINVAL,
				       "kernel BTF %s: type %u at offset %zu is cut off by the end "
				       "of the type section",
				       k->path, id, (size_t)(p - k->types));
		kind = btf_kind(t);
		rec = rec_fixed[kind] + (size_t)rec_per_vlen[kind] * btf_vlen(t);
		if (!rec_fixed[kind])
			return sk_errf(err, -EINVAL,
				       "kernel BTF %s: type %u has kind %u, which libbpf 1.4 does "
				       "not know either (a newer kernel? upgrade libbpf and "
				       "schedkit)",
				       k->path, id, kind);
		if (rec > left)
			return sk_errf(err, -EINVAL,
				       "kernel BTF %s: type %u at offset %zu runs past the end of "
				       "the type section",
				       k->path, id, (size_t)(p - k->types));
		if (((f->kinds >> kind) & 1) &&
		    (!f->first || sk_bitmap_has(f->first, sk_kbtf_str(k, t->name_off)))) {
			ret = visit(t, id, ctx);
			if (ret)
				return ret < 0 ? ret : 0;
		}
		p += rec;
	}
	return 0;
}

/* ---- name sets ---- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sk_nameset_init(struct sk_nameset *s, const char *const *names, size_t n)
{
	size_t u = 0;

	memset(s, 0, sizeof(*s));
	if (!n)
		return 0;
	s->names = malloc(n * sizeof(*s->names));
	s->found = calloc(n, sizeof(*s->found));
	s->vals = calloc(n, sizeof(*s->vals));
	if (!s->names || !s->found || !s->vals) {
		sk_nameset_free(s);
		return -ENOMEM;
	}
	memcpy(s->names, names, n * sizeof(*s->names));
	qsort(s->names, n, sizeof(*s->names), cmp_name);
	for (size_t i = 0; i < n; i++) {
		if (u && !strcmp(s->names[u - 1], s->names[i]))
			continue;
		s->names[u++] = s->names[i];
		sk_bitmap_add(s->first, s->names[i]);
	}
	s->n = u;
	return 0;
}

void sk_nameset_free(struct sk_nameset *s)
{
	free(s->names);
	free(s->found);
	free(s->vals);
	memset(s, 0, sizeof(*s));
}

long sk_nameset_search(const struct sk_nameset *s, const char *name)
{
	const char **hit = bsearch(&name, s->names, s->n, sizeof(*s->names), cmp_name);

	return hit ? hit - s->names : -1;
}

/* ---- enumerator values ---- */

struct enum_walk {
	const struct sk_kbtf *k;
	struct sk_nameset *want;
	size_t left;
};

static void enum_hit(struct enum_walk *w, uint32_t name_off, uint64_t val)
{
	const char *n = sk_kbtf_str(w->k, name_off);
	long i = n ? sk_nameset_find(w->want, n) : -1;

	/* The first enumerator of that name in type order, as a lookup by name gives. */
	if (i < 0 || w->want->found[i])
		return;
	w->want->found[i] = true;
	w->want->vals[i] = val;
	w->left--;
}

static int visit_enum(const struct btf_type *t, uint32_t id, void *ctx)
{
	struct enum_walk *w = ctx;

	(void)id;
	if (btf_is_enum(t)) {
		const struct btf_enum *e = btf_enum(t);

		for (uint16_t i = 0; i < btf_vlen(t); i++)
			enum_hit(w, e[i].name_off, (uint64_t)(int64_t)e[i].val);
	} else if (btf_is_enum64(t)) {
		const struct btf_enum64 *e = btf_enum64(t);

		for (uint16_t i = 0; i < btf_vlen(t); i++)
			enum_hit(w, e[i].name_off, btf_enum64_value(&e[i]));
	}
	return w->left ? 0 : 1;
}

int sk_kbtf_enum_values(const struct sk_kbtf *k, struct sk_nameset *want, struct sk_error *err)
{
	struct enum_walk w = {.k = k, .want = want, .left = want->n};

	struct sk_kbtf_filter f = {SK_KBTF_KIND(BTF_KIND_ENUM) | SK_KBTF_KIND(BTF_KIND_ENUM64),
				   NULL};

	return w.left ? sk_kbtf_walk(k, &f, visit_enum, &w, err) : 0;
}

/* ---- types by id, for the few prototypes a check compares ---- */

struct index_walk {
	const struct sk_kbtf *k;
	uint32_t *off;
	uint32_t n, cap;
};

static int visit_index(const struct btf_type *t, uint32_t id, void *ctx)
{
	struct index_walk *w = ctx;

	(void)id;
	if (w->n == w->cap) {
		uint32_t cap = w->cap ? w->cap * 2 : 4096;
		uint32_t *off = realloc(w->off, cap * sizeof(*off));

		if (!off)
			return -ENOMEM;
		w->off = off;
		w->cap = cap;
	}
	w->off[w->n++] = (uint32_t)((const uint8_t *)t - w->k->types);
	return 0;
}

int sk_kbtf_index(const struct sk_kbtf *k, struct sk_kbtf_index *idx, struct sk_error *err)
{
	struct index_walk w = {.k = k};
	struct sk_kbtf_filter f = {UINT32_MAX, NULL};
	int ret;

	memset(idx, 0, sizeof(*idx));
	ret = sk_kbtf_walk(k, &f, visit_index, &w, err);
	if (ret) {
		free(w.off);
		return ret == -ENOMEM ? sk_errf(err, ret, "out of memory") : ret;
	}
	idx->k = k;
	idx->off = w.off;
	idx->n = w.n;
	return 0;
}

void sk_kbtf_index_free(struct sk_kbtf_index *idx)
{
	free(idx->off);
	memset(idx, 0, sizeof(*idx));
}

static const struct btf_type *index_type(const void *src, uint32_t id)
{
	const struct sk_kbtf_index *idx = src;

	if (!id || id > idx->n)
		return NULL;
	return (const struct btf_type *)(idx->k->types + idx->off[id - 1]);
}

static const char *index_name(const void *src, uint32_t off)
{
	const struct sk_kbtf_index *idx = src;

	return sk_kbtf_str(idx->k, off);
}

void sk_kbtf_view(const struct sk_kbtf_index *idx, struct sk_btf_view *v)
{
	v->src = idx;
	v->type = index_type;
	v->name = index_name;
}

/* ---- prototypes, in the terms libbpf compares them ---- */

/* libbpf's MAX_RESOLVE_DEPTH: a cycle of modifiers or pointers ends here. */
#define PROTO_DEPTH 32

/* Modifiers and typedefs do not count (libbpf's skip_mods_and_typedefs). */
/* NULL with *out 0 for void, non-zero for a type that is out of range or a cycle. */
static const struct btf_type *skip_mods(const struct sk_btf_view *v, uint32_t id, uint32_t *out)
{
	int d = 0;

	for (; id && d < PROTO_DEPTH; d++) {
		const struct btf_type *t = v->type(v->src, id);

		if (!t) {
			*out = id;
			return NULL;
		}
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_CONST:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			id = t->type;
			break;
		default:
			*out = id;
			return t;
		}
	}
	*out = id ? UINT32_MAX : 0;
	return NULL;
}

static const char *view_name(const struct sk_btf_view *v, const struct btf_type *t)
{
	const char *n = v->name(v->src, t->name_off);

	return n && *n ? n : "(anon)";
}

static int render_proto(const struct sk_btf_view *v, const struct btf_type *t, int depth,
			struct sk_buf *b);

static int render_type(const struct sk_btf_view *v, uint32_t id, int depth, struct sk_buf *b)
{
	const struct btf_type *t;
	uint32_t enc;

	if (depth > PROTO_DEPTH)
		return sk_buf_printf(b, "?");
	if (!id)
		return sk_buf_printf(b, "void");
	t = skip_mods(v, id, &id);
	if (!t)
		return sk_buf_printf(b, id ? "?" : "void");
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		enc = *(const uint32_t *)(t + 1);
		if (BTF_INT_OFFSET(enc))
			return sk_buf_printf(b, "bitfield%u", BTF_INT_BITS(enc));
		if (BTF_INT_ENCODING(enc) & BTF_INT_BOOL)
			return sk_buf_printf(b, "bool");
		if (BTF_INT_ENCODING(enc) & BTF_INT_CHAR)
			return sk_buf_printf(b, "char");
		return sk_buf_printf(b, "%c%u", BTF_INT_ENCODING(enc) & BTF_INT_SIGNED ? 's' : 'u',
				     t->size * 8);
	case BTF_KIND_PTR: {
		int ret = render_type(v, t->type, depth + 1, b);

		if (ret)
			return ret;
		return sk_buf_printf(b, b->len && b->data[b->len - 1] == '*' ? "*" : " *");
	}
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = (const struct btf_array *)(t + 1);
		int ret = render_type(v, a->type, depth + 1, b);

		return ret ? ret : sk_buf_printf(b, "[%u]", a->nelems);
	}
	case BTF_KIND_STRUCT:
		return sk_buf_printf(b, "struct %s", view_name(v, t));
	case BTF_KIND_UNION:
		return sk_buf_printf(b, "union %s", view_name(v, t));
	case BTF_KIND_ENUM:
		return sk_buf_printf(b, "enum %s", view_name(v, t));
	case BTF_KIND_ENUM64:
		return sk_buf_printf(b, "enum64 %s", view_name(v, t));
	case BTF_KIND_FWD:
		return sk_buf_printf(b, "fwd %s", view_name(v, t));
	case BTF_KIND_FUNC_PROTO:
		/* A function pointer: libbpf compares its prototype too. */
		return render_proto(v, t, depth + 1, b);
	case BTF_KIND_FLOAT:
		return sk_buf_printf(b, "float%u", t->size * 8);
	default:
		return sk_buf_printf(b, "kind%u", btf_kind(t));
	}
}

static int render_proto(const struct sk_btf_view *v, const struct btf_type *t, int depth,
			struct sk_buf *out)
{
	const struct btf_param *p;
	int ret;

	ret = render_type(v, t->type, depth, out);
	if (!ret)
		ret = sk_buf_printf(out, "(");
	p = btf_params(t);
	for (uint16_t i = 0; !ret && i < btf_vlen(t); i++) {
		if (i)
			ret = sk_buf_printf(out, ", ");
		/* A last parameter of type 0 is "...". */
		if (!ret && !p[i].type && i == btf_vlen(t) - 1)
			ret = sk_buf_printf(out, "...");
		else if (!ret)
			ret = render_type(v, p[i].type, depth, out);
	}
	return ret ? ret : sk_buf_printf(out, ")");
}

int sk_btf_render_proto(const struct sk_btf_view *v, uint32_t proto_id, struct sk_buf *out)
{
	const struct btf_type *t = v->type(v->src, proto_id);

	if (!t || !btf_is_func_proto(t))
		return -EINVAL;
	return render_proto(v, t, 0, out);
}

static const struct btf_type *libbpf_type(const void *src, uint32_t id)
{
	return btf__type_by_id(src, id);
}

static const char *libbpf_name(const void *src, uint32_t off)
{
	return btf__str_by_offset(src, off);
}

void sk_btf_view_libbpf(const struct btf *btf, struct sk_btf_view *v)
{
	v->src = btf;
	v->type = libbpf_type;
	v->name = libbpf_name;
}
