/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An artifact's requirements against a kernel's BTF. `skrun run` calls this
 * before every load, and libbpf parses the same BTF again inside the load, so
 * the BTF is not parsed here: it is walked once (kbtf.c), collecting only the
 * kfuncs the config names, struct sched_ext_ops, the ops struct the map is of
 * (the config's ops.type: sched_ext_ops_cid on 7.2) and enum scx_ops_flags.
 * Features decide; the release number is only reported, because
 * distributions backport (SCHED_EXT.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <bpf/btf.h>

#include "schedkit/hostcheck.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"
#include "internal.h"

#define SK_SCX_TIMEOUT_MAX_MS 30000 /* SCX_WATCHDOG_MAX_TIMEOUT: larger is -E2BIG */
/* The kernel's registration of a struct_ops type T is struct bpf_struct_ops_T. */
#define SK_SCX_STRUCT_OPS_PREFIX "bpf_struct_ops_"
#define SK_SCX_FLAGS_ENUM	 "scx_ops_flags"
#define SK_SCX_ALL_FLAGS	 "SCX_OPS_ALL_FLAGS"
/* The full prototype of a kfunc with implicit arguments (KF_IMPLICIT_ARGS). */
#define SK_KFUNC_IMPL_SUFFIX "_impl"

struct hc {
	struct sk_kbtf k;
	struct sk_nameset kfuncs;   /* every kfunc the config names; found = a FUNC of that name,
				       vals = its FUNC_PROTO's id */
	struct json_object *protos; /* requirements.kfuncs.prototypes: NAME -> "RET(P1, P2)" */
	struct json_object *oneof;  /* requirements.kfuncs.oneOf: NAME -> {FLAVOR -> PROTO} */
	struct sk_kbtf_index idx;   /* every type's offset, made for the first prototype */
	struct sk_error *err;
	const struct btf_type *scx_st;	   /* struct sched_ext_ops, NULL without sched_ext */
	const char *ops_type;		   /* the map's struct: config ops.type, or sched_ext_ops */
	char wrapper[128];		   /* bpf_struct_ops_<ops_type> */
	const struct btf_type *ops_st;	   /* struct <ops_type>, NULL when the kernel lacks it */
	const struct btf_type *flags_enum; /* enum scx_ops_flags (ENUM or ENUM64) */
	bool struct_ops;		   /* struct bpf_struct_ops_<ops_type> */
	uint8_t first[32];		   /* the first bytes of every name looked for */
	struct sk_check_report *r;
};

/* A name from the kernel's BTF; "" for an offset outside its strings. */
static const char *kname(const struct hc *h, uint32_t off)
{
	const char *n = sk_kbtf_str(&h->k, off);

	return n ? n : "";
}

const char *sk_verdict_str(enum sk_verdict v)
{
	switch (v) {
	case SK_VERDICT_OK:
		return "ok";
	case SK_VERDICT_INFO:
		return "info";
	case SK_VERDICT_WARNING:
		return "warning";
	case SK_VERDICT_MISSING:
		return "missing";
	}
	return "?";
}

static int add_row(struct sk_check_report *r, const char *kind, const char *req, enum sk_verdict v,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int add_row(struct sk_check_report *r, const char *kind, const char *req, enum sk_verdict v,
		   const char *fmt, ...)
{
	struct sk_check_row *rows, *row;
	va_list ap;
	int n;

	rows = realloc(r->rows, (r->nr_rows + 1) * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r->rows = rows;
	row = &rows[r->nr_rows];
	memset(row, 0, sizeof(*row));
	row->verdict = v;
	row->kind = strdup(kind);
	row->requirement = strdup(req);
	va_start(ap, fmt);
	n = vasprintf(&row->host, fmt, ap);
	va_end(ap);
	if (n < 0)
		row->host = NULL;
	r->nr_rows++;
	if (!row->kind || !row->requirement || !row->host)
		return -ENOMEM;
	return 0;
}

static bool has_row(const struct sk_check_report *r, const char *kind, const char *req)
{
	for (size_t i = 0; i < r->nr_rows; i++)
		if (!strcmp(r->rows[i].kind, kind) && !strcmp(r->rows[i].requirement, req))
			return true;
	return false;
}

static size_t nr_missing(const struct sk_check_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nr_rows; i++)
		n += r->rows[i].verdict == SK_VERDICT_MISSING;
	return n;
}

static bool ops_has_member(const struct hc *h, const char *name)
{
	const struct btf_member *m;

	if (!h->ops_st)
		return false;
	m = btf_members(h->ops_st);
	for (int i = 0; i < btf_vlen(h->ops_st); i++, m++)
		if (!strcmp(kname(h, m->name_off), name))
			return true;
	return false;
}

/* ---- the individual requirement kinds ---- */

static bool other_ops_type(const struct hc *h)
{
	return strcmp(h->ops_type, SK_SCX_OPS_TYPE) != 0;
}

static int check_kernel(struct hc *h)
{
	const char *rel;
	int ret;

	if (h->scx_st)
		ret = add_row(h->r, "kernel", "sched_ext", SK_VERDICT_OK,
			      "struct sched_ext_ops (%d members)", btf_vlen(h->scx_st));
	else
		ret = add_row(h->r, "kernel", "sched_ext", SK_VERDICT_MISSING,
			      "no struct sched_ext_ops in this kernel's BTF: it was built without "
			      "sched_ext (needs 6.12+ with CONFIG_SCHED_CLASS_EXT=y; the scheduler "
			      "cannot run here)");
	if (ret)
		return ret;
	/* The map's own struct, when it is a later variant: its members are what count. */
	if (other_ops_type(h) && h->ops_st)
		ret = add_row(h->r, "ops", h->ops_type, SK_VERDICT_OK, "struct %s (%d members)",
			      h->ops_type, btf_vlen(h->ops_st));
	else if (other_ops_type(h) && h->scx_st) {
		rel = sk_req_ops_type_release(h->ops_type);
		ret =
		    add_row(h->r, "ops", h->ops_type, SK_VERDICT_MISSING,
			    "no struct %s in this kernel's BTF%s%s%s: the ops map is of that "
			    "type, and this kernel only registers struct sched_ext_ops",
			    h->ops_type, rel ? " (added in " : "", rel ? rel : "", rel ? ")" : "");
	}
	if (ret)
		return ret;
	if (h->struct_ops)
		return add_row(h->r, "kernel", "struct_ops", SK_VERDICT_OK, "%s", h->wrapper);
	return add_row(h->r, "kernel", "struct_ops", SK_VERDICT_MISSING,
		       "no %s in the BTF: this kernel cannot register %s struct_ops maps",
		       h->wrapper, h->ops_type);
}

/*
 * The kernel's prototype of a kfunc, rendered as the config records the
 * object's. > 0 (and a MISSING row) when the FUNC has none.
 */
static int kernel_proto(struct hc *h, const char *name, uint32_t proto_id, struct sk_buf *kern)
{
	struct sk_btf_view v;
	int ret;

	if (!h->idx.off) {
		ret = sk_kbtf_index(&h->k, &h->idx, h->err);
		if (ret)
			return ret;
	}
	sk_kbtf_view(&h->idx, &v);
	ret = sk_btf_render_proto(&v, proto_id, kern);
	if (ret != -EINVAL)
		return ret;
	ret = add_row(h->r, "kfunc", name, SK_VERDICT_MISSING,
		      "this kernel's FUNC %s has no function prototype (type %u): libbpf "
		      "cannot link it",
		      name, proto_id);
	return ret ? ret : 1;
}

/*
 * The object's prototype of a required kfunc against the kernel's, as libbpf
 * links the extern (bpf_core_types_are_compat): a kfunc whose parameters
 * changed is present by name, yet the load fails. Artifacts built before
 * prototypes were recorded are judged by name.
 */
static int check_kfunc_proto(struct hc *h, const char *name, uint32_t proto_id)
{
	struct json_object *p = NULL;
	struct sk_buf kern = {0};
	char why[1024];
	int ret;

	if (!h->protos || !json_object_object_get_ex(h->protos, name, &p) ||
	    !json_object_is_type(p, json_type_string))
		return add_row(h->r, "kfunc", name, SK_VERDICT_OK, "present");
	ret = kernel_proto(h, name, proto_id, &kern);
	if (!ret && sk_req_proto_compat(json_object_get_string(p), (const char *)kern.data, why,
					sizeof(why)))
		ret = add_row(h->r, "kfunc", name, SK_VERDICT_OK, "present, %s",
			      (const char *)kern.data);
	else if (!ret)
		ret = add_row(h->r, "kfunc", name, SK_VERDICT_MISSING,
			      "%s; libbpf refuses to link the extern, the scheduler cannot load "
			      "here",
			      why);
	sk_buf_free(&kern);
	return ret > 0 ? 0 : ret;
}

/* "FLAVOR RET(P1, P2), FLAVOR2 ...": a one-of kfunc's flavors, for messages. */
static int flavor_list(struct json_object *flavors, struct sk_buf *out)
{
	const char *sep = "";
	int ret = 0;

	json_object_object_foreach(flavors, fl, p)
	{
		if (!ret)
			ret = sk_buf_printf(out, "%s%s %s", sep, fl,
					    json_object_is_type(p, json_type_string)
						? json_object_get_string(p)
						: "(no prototype)");
		sep = ", ";
	}
	return ret;
}

/*
 * A kfunc the object declares as several weak flavors, one of which must
 * link (requirements.kfuncs.oneOf): libbpf links each flavor whose prototype
 * matches the kernel's and leaves the others unresolved, so the kernel is
 * refused only when none matches.
 */
static int check_kfunc_oneof(struct hc *h, const char *name, struct json_object *flavors,
			     uint32_t proto_id)
{
	struct sk_buf kern = {0}, list = {0};
	const char *match = NULL;
	int ret;

	ret = kernel_proto(h, name, proto_id, &kern);
	if (ret)
		goto out;
	json_object_object_foreach(flavors, fl, p)
	{
		char why[1024];

		if (!match && json_object_is_type(p, json_type_string) &&
		    sk_req_proto_compat(json_object_get_string(p), (const char *)kern.data, why,
					sizeof(why)))
			match = fl;
	}
	if (match) {
		ret = add_row(h->r, "kfunc", name, SK_VERDICT_OK, "present, %s (flavor %s links)",
			      (const char *)kern.data, match);
		goto out;
	}
	ret = flavor_list(flavors, &list);
	if (!ret)
		ret = add_row(h->r, "kfunc", name, SK_VERDICT_MISSING,
			      "none of the scheduler's flavors links with this kernel's %s (%s): "
			      "libbpf leaves them all unresolved and the scheduler cannot create "
			      "what it needs; rebuild it with a flavor of this prototype",
			      (const char *)kern.data, (const char *)list.data);
out:
	sk_buf_free(&kern);
	sk_buf_free(&list);
	return ret > 0 ? 0 : ret;
}

/*
 * Does the kernel declare name with an implicit last parameter, a struct
 * bpf_prog_aux * that its verifier fills in (not one named *__prog, which
 * the caller passes as NULL), while its BTF lacks the NAME_impl FUNC that
 * the verifier looks the full prototype up in? Then no program can call it
 * ("cannot find function NAME_impl in BTF"), whatever it declares: Debian's
 * 7.1.13 is such a build for scx_bpf_create_dsq and others.
 */
static bool implicit_aux_uncallable(struct hc *h, const char *name, uint32_t proto_id)
{
	char impl[320];
	const struct btf_type *t, *a;
	const struct btf_param *p;
	const char *pname, *aname;
	struct sk_btf_view v;
	long i;

	snprintf(impl, sizeof(impl), "%s" SK_KFUNC_IMPL_SUFFIX, name);
	i = sk_nameset_find(&h->kfuncs, impl);
	if (i < 0 || h->kfuncs.found[i])
		return false;
	if (!h->idx.off && sk_kbtf_index(&h->k, &h->idx, h->err))
		return false; /* no index, no verdict: the prototype check says the rest */
	sk_kbtf_view(&h->idx, &v);
	t = v.type(v.src, proto_id);
	if (!t || !btf_is_func_proto(t) || !btf_vlen(t))
		return false;
	p = &btf_params(t)[btf_vlen(t) - 1];
	pname = v.name(v.src, p->name_off);
	if (pname && strlen(pname) >= 6 && !strcmp(pname + strlen(pname) - 6, "__prog"))
		return false;
	a = v.type(v.src, p->type);
	if (!a || !btf_is_ptr(a))
		return false;
	a = v.type(v.src, a->type);
	for (int depth = 0; a && depth < 8 && (btf_is_mod(a) || btf_is_typedef(a)); depth++)
		a = v.type(v.src, a->type);
	aname = a && btf_is_struct(a) ? v.name(v.src, a->name_off) : NULL;
	return aname && !strcmp(aname, "bpf_prog_aux");
}

static int check_kfunc(struct hc *h, const char *name, bool optional)
{
	long i = sk_nameset_find(&h->kfuncs, name);
	struct json_object *flavors = NULL;
	const char *removed;

	/*
	 * An optional (weak) kfunc with another prototype is not refused: libbpf
	 * resolves it to 0, as if absent, and bpf_ksym_exists() guards its calls.
	 * Flavors of a one-of kfunc are judged together.
	 */
	if (h->oneof && json_object_object_get_ex(h->oneof, name, &flavors) &&
	    !json_object_is_type(flavors, json_type_object))
		flavors = NULL;
	/*
	 * Flavors of a kfunc the kernel cannot call: a flavor that links makes
	 * the verifier refuse the object, and none linking is refused below.
	 */
	if (i >= 0 && h->kfuncs.found[i] &&
	    implicit_aux_uncallable(h, name, (uint32_t)h->kfuncs.vals[i])) {
		if (optional && !flavors)
			return add_row(h->r, "optional kfunc", name, SK_VERDICT_INFO,
				       "not callable here: its last parameter is an implicit "
				       "struct bpf_prog_aux * and this kernel's BTF has no "
				       "%s" SK_KFUNC_IMPL_SUFFIX " (the scheduler's fallback runs)",
				       name);
		return add_row(h->r, "kfunc", name, SK_VERDICT_MISSING,
			       "no program can call it on this kernel: its last parameter is an "
			       "implicit struct bpf_prog_aux * that the verifier fills in, and "
			       "the verifier needs %s" SK_KFUNC_IMPL_SUFFIX
			       " for that, which this kernel's BTF lacks: use another kernel, or a "
			       "scheduler that tests the kfunc with bpf_ksym_exists() and does "
			       "without it",
			       name);
	}
	if (i >= 0 && h->kfuncs.found[i] && flavors)
		return check_kfunc_oneof(h, name, flavors, (uint32_t)h->kfuncs.vals[i]);
	if (i >= 0 && h->kfuncs.found[i] && !optional)
		return check_kfunc_proto(h, name, (uint32_t)h->kfuncs.vals[i]);
	if (i >= 0 && h->kfuncs.found[i])
		return add_row(h->r, "optional kfunc", name, SK_VERDICT_OK, "available");
	if (optional)
		return add_row(h->r, "optional kfunc", name, SK_VERDICT_INFO, "missing (optional)");
	removed = sk_req_kfunc_removed(name);
	if (removed)
		return add_row(h->r, "kfunc", name, SK_VERDICT_MISSING,
			       "not in this kernel (removed in %s; needed; the scheduler cannot "
			       "load here)",
			       removed);
	return add_row(h->r, "kfunc", name, SK_VERDICT_MISSING,
		       "not in this kernel (needed; the scheduler cannot load here)");
}

/* kind is "callback" or "member"; both are members of the map's ops struct. */
static int check_member(struct hc *h, const char *kind, const char *name)
{
	const char *rel;

	if (has_row(h->r, kind, name))
		return 0;
	if (ops_has_member(h, name))
		return add_row(h->r, kind, name, SK_VERDICT_OK, "in struct %s", h->ops_type);
	if (!h->scx_st)
		return add_row(h->r, kind, name, SK_VERDICT_MISSING, "no sched_ext in this kernel");
	if (!h->ops_st)
		return add_row(h->r, kind, name, SK_VERDICT_MISSING, "no struct %s in this kernel",
			       h->ops_type);
	rel = sk_req_release(SK_REQ_CALLBACK, name);
	if (rel)
		return add_row(h->r, kind, name, SK_VERDICT_MISSING,
			       "not in this kernel's struct %s (added in %s; the kernel rejects "
			       "the ops)",
			       h->ops_type, rel);
	return add_row(h->r, kind, name, SK_VERDICT_MISSING,
		       "not in this kernel's struct %s (the kernel rejects the ops)", h->ops_type);
}

/*
 * The flag bits this kernel accepts: SCX_OPS_ALL_FLAGS when the enum has it
 * (the kernel validates against exactly that), else every public enumerator.
 */
static int flag_names(struct hc *h, uint64_t *known, const struct btf_type **enum_t)
{
	const struct btf_type *t = h->flags_enum;
	uint64_t all = 0, pub = 0;
	bool have_all = false;

	*known = 0;
	*enum_t = NULL;
	if (!t)
		return -ENOENT;
	for (int i = 0; i < btf_vlen(t); i++) {
		const char *n;
		uint64_t v;

		if (btf_is_enum64(t)) {
			const struct btf_enum64 *e = btf_enum64(t) + i;

			n = kname(h, e->name_off);
			v = btf_enum64_value(e);
		} else {
			const struct btf_enum *e = btf_enum(t) + i;

			n = kname(h, e->name_off);
			v = (uint32_t)e->val;
		}
		if (!strcmp(n, SK_SCX_ALL_FLAGS)) {
			all = v;
			have_all = true;
		} else if (strncmp(n, "__", 2)) {
			pub |= v;
		}
	}
	*known = have_all ? all : pub;
	*enum_t = t;
	return 0;
}

static const char *flag_name(struct hc *h, const struct btf_type *t, uint64_t bit)
{
	for (int i = 0; t && i < btf_vlen(t); i++) {
		const char *n;
		uint64_t v;

		if (btf_is_enum64(t)) {
			n = kname(h, btf_enum64(t)[i].name_off);
			v = btf_enum64_value(btf_enum64(t) + i);
		} else {
			n = kname(h, btf_enum(t)[i].name_off);
			v = (uint32_t)btf_enum(t)[i].val;
		}
		if (v == bit && strcmp(n, SK_SCX_ALL_FLAGS))
			return n;
	}
	return NULL;
}

static int check_flags(struct hc *h, uint64_t flags)
{
	const struct btf_type *t = NULL;
	uint64_t known = 0;
	bool have_enum;
	int ret = 0;

	if (!flags)
		return 0;
	have_enum = flag_names(h, &known, &t) == 0;
	for (int b = 0; !ret && b < 64; b++) {
		uint64_t bit = 1ULL << b;
		const char *n = flag_name(h, t, bit);
		char req[64];

		if (!(flags & bit))
			continue;
		if (n)
			snprintf(req, sizeof(req), "%s", n);
		else
			snprintf(req, sizeof(req), "0x%" PRIx64, bit);
		if (have_enum && (known & bit))
			ret = add_row(h->r, "flag", req, SK_VERDICT_OK, "in enum scx_ops_flags");
		else if (!h->scx_st)
			ret = add_row(h->r, "flag", req, SK_VERDICT_MISSING,
				      "no sched_ext in this kernel");
		else
			ret = add_row(h->r, "flag", req, SK_VERDICT_MISSING,
				      "bit 0x%" PRIx64 " is not in this kernel's enum "
				      "scx_ops_flags (the kernel rejects the ops with EINVAL)",
				      bit);
	}
	return ret;
}

static int check_timeout(struct hc *h, uint64_t timeout_ms)
{
	char req[64];

	if (!timeout_ms)
		return 0;
	snprintf(req, sizeof(req), "timeout_ms %" PRIu64, timeout_ms);
	if (timeout_ms <= SK_SCX_TIMEOUT_MAX_MS)
		return add_row(h->r, "ops", req, SK_VERDICT_OK, "within the %d ms watchdog limit",
			       SK_SCX_TIMEOUT_MAX_MS);
	return add_row(h->r, "ops", req, SK_VERDICT_MISSING,
		       "above the kernel's %d ms watchdog limit (the kernel rejects the ops with "
		       "E2BIG)",
		       SK_SCX_TIMEOUT_MAX_MS);
}

/* ---- config access ---- */

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static size_t arr_len(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static const char *arr_str(struct json_object *a, size_t i)
{
	struct json_object *v = json_object_array_get_idx(a, i);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : 0;
}

/*
 * Requirements recorded as "member sub_cgroup_id (7.1)" / "callback x" (in
 * minKernelBecause and unknown): the data members the config does not list
 * elsewhere, and anything the analyser did not recognise.
 */
static bool listed_entry(const char *s, char kind[32], char name[256])
{
	const char *sp = s ? strchr(s, ' ') : NULL;
	size_t klen;

	if (!sp)
		return false;
	klen = (size_t)(sp - s);
	if (klen >= 32)
		return false;
	memcpy(kind, s, klen);
	kind[klen] = '\0';
	snprintf(name, 256, "%s", sp + 1);
	name[strcspn(name, " ")] = '\0';
	return name[0] != '\0';
}

static int check_listed(struct hc *h, struct json_object *list)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < arr_len(list); i++) {
		char kind[32], name[256];

		if (!listed_entry(arr_str(list, i), kind, name))
			continue;
		if (!strcmp(kind, "kfunc")) {
			if (!has_row(h->r, "kfunc", name))
				ret = check_kfunc(h, name, false);
		} else if (!strcmp(kind, "callback") || !strcmp(kind, "member")) {
			ret = check_member(h, kind, name);
		}
		/* "flag ...": every set bit is checked from opsFlags already; "ops ..." by
		 * check_kernel(). */
	}
	return ret;
}

/* "6.18.44-foo" -> "6.18"; false when it does not start with MAJOR.MINOR. */
static bool major_minor(const char *release, char *out, size_t sz)
{
	unsigned int maj, min;

	if (!release || sscanf(release, "%u.%u", &maj, &min) != 2)
		return false;
	snprintf(out, sz, "%u.%u", maj, min);
	return true;
}

static int insert_row_at(struct sk_check_report *r, size_t pos)
{
	struct sk_check_row last = r->rows[r->nr_rows - 1];

	memmove(&r->rows[pos + 1], &r->rows[pos], (r->nr_rows - 1 - pos) * sizeof(last));
	r->rows[pos] = last;
	return 0;
}

/* Release rows go right after the kernel rows, but are judged after the features. */
static int check_release(struct hc *h, struct json_object *req, size_t pos)
{
	const char *min = json_object_get_string(get(req, "minKernel"));
	struct json_object *before_o = get(req, "kernelBefore");
	const char *before = json_object_is_type(before_o, json_type_string)
				 ? json_object_get_string(before_o)
				 : NULL;
	const char *rel = h->r->release;
	bool features = nr_missing(h->r) == 0;
	char mm[32], rq[64];
	int ret = 0;

	if (min && *min) {
		snprintf(rq, sizeof(rq), ">= %s", min);
		if (!*rel)
			ret = add_row(h->r, "release", rq, SK_VERDICT_INFO,
				      "release not known; the features decide");
		else if (!major_minor(rel, mm, sizeof(mm)))
			ret = add_row(h->r, "release", rq, SK_VERDICT_INFO,
				      "%s (not a MAJOR.MINOR release; the features decide)", rel);
		else if (sk_release_cmp(mm, min) >= 0)
			ret = add_row(h->r, "release", rq, SK_VERDICT_OK, "%s", rel);
		else if (features)
			ret = add_row(h->r, "release", rq, SK_VERDICT_WARNING,
				      "%s is older than %s, but every feature it needs is present "
				      "(backported)",
				      rel, min);
		else
			ret =
			    add_row(h->r, "release", rq, SK_VERDICT_WARNING,
				    "%s is older than %s (the missing features decide)", rel, min);
		if (ret)
			return ret;
		insert_row_at(h->r, pos++);
	}
	if (before && *before) {
		snprintf(rq, sizeof(rq), "< %s", before);
		if (!*rel || !major_minor(rel, mm, sizeof(mm)))
			ret = add_row(h->r, "release", rq, SK_VERDICT_INFO,
				      "release not known; the features decide");
		else if (sk_release_cmp(mm, before) < 0)
			ret = add_row(h->r, "release", rq, SK_VERDICT_OK, "%s", rel);
		else
			ret = add_row(h->r, "release", rq, SK_VERDICT_WARNING,
				      "%s is not older than %s, which removed kfuncs it needs (%s)",
				      rel, before,
				      features ? "but they are present" : "the features decide");
		if (ret)
			return ret;
		insert_row_at(h->r, pos);
	}
	return 0;
}

/* Every kfunc name the config mentions, so that one walk of the BTF answers them all. */
static int wanted_kfuncs(struct json_object *req, struct sk_strv *names)
{
	struct json_object *kfuncs = get(req, "kfuncs");
	struct json_object *lists[] = {get(kfuncs, "required"), get(kfuncs, "optional")};
	struct json_object *listed[] = {get(req, "minKernelBecause"), get(req, "unknown")};
	int ret = 0;

	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; !ret && i < arr_len(lists[l]); i++) {
			char impl[320];

			if (!arr_str(lists[l], i))
				continue;
			ret = sk_strv_push(names, arr_str(lists[l], i));
			/* for implicit_aux_uncallable() */
			snprintf(impl, sizeof(impl), "%s" SK_KFUNC_IMPL_SUFFIX,
				 arr_str(lists[l], i));
			if (!ret)
				ret = sk_strv_push(names, impl);
		}
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; !ret && i < arr_len(listed[l]); i++) {
			char kind[32], name[256];

			if (listed_entry(arr_str(listed[l], i), kind, name) &&
			    !strcmp(kind, "kfunc"))
				ret = sk_strv_push(names, name);
		}
	return ret;
}

static int visit_kernel(const struct btf_type *t, uint32_t id, void *ctx)
{
	struct hc *h = ctx;
	const char *n;
	long i;

	(void)id;
	switch (btf_kind(t)) {
	case BTF_KIND_FUNC:
		n = sk_kbtf_str(&h->k, t->name_off);
		i = n ? sk_nameset_find(&h->kfuncs, n) : -1;
		/* The first FUNC of that name, as libbpf's lookup by name finds. */
		if (i >= 0 && !h->kfuncs.found[i]) {
			h->kfuncs.found[i] = true;
			h->kfuncs.vals[i] = t->type;
		}
		break;
	case BTF_KIND_STRUCT:
		n = kname(h, t->name_off);
		if (!h->scx_st && !strcmp(n, SK_SCX_OPS_TYPE))
			h->scx_st = t;
		if (!h->ops_st && !strcmp(n, h->ops_type))
			h->ops_st = t;
		else if (!strcmp(n, h->wrapper))
			h->struct_ops = true;
		break;
	case BTF_KIND_ENUM64:
	case BTF_KIND_ENUM:
		/* An ENUM64 of that name wins over an ENUM, whatever the order. */
		if ((!h->flags_enum || (btf_is_enum64(t) && !btf_is_enum64(h->flags_enum))) &&
		    !strcmp(kname(h, t->name_off), SK_SCX_FLAGS_ENUM))
			h->flags_enum = t;
		break;
	default:
		break;
	}
	return 0;
}

/* Only FUNCs, STRUCTs and ENUMs whose names start like one of the names looked for. */
static void kernel_filter(struct hc *h, struct sk_kbtf_filter *f)
{
	memcpy(h->first, h->kfuncs.first, sizeof(h->first));
	sk_bitmap_add(h->first, SK_SCX_OPS_TYPE);
	sk_bitmap_add(h->first, h->ops_type);
	sk_bitmap_add(h->first, h->wrapper);
	sk_bitmap_add(h->first, SK_SCX_FLAGS_ENUM);
	f->kinds = SK_KBTF_KIND(BTF_KIND_FUNC) | SK_KBTF_KIND(BTF_KIND_STRUCT) |
		   SK_KBTF_KIND(BTF_KIND_ENUM) | SK_KBTF_KIND(BTF_KIND_ENUM64);
	f->first = h->first;
}

int sk_host_check(struct json_object *config, const char *btf_path, const char *release,
		  struct sk_check_report **out, struct sk_error *err)
{
	struct json_object *req = get(config, "requirements"), *ops = get(config, "ops");
	struct json_object *kfuncs = get(req, "kfuncs"), *tun = get(config, "tunables"), *list;
	struct sk_check_report *r = NULL;
	struct sk_kbtf_filter filter;
	struct sk_strv names = {0};
	struct hc h = {0};
	struct utsname uts;
	size_t release_pos;
	uint64_t flags, timeout;
	int ret;

	*out = NULL;
	if (!json_object_is_type(req, json_type_object))
		return sk_errf(err, -EINVAL,
			       "the artifact config has no \"requirements\" object: not a schedkit "
			       "scheduler config (rebuild it with skbuild build)");
	h.ops_type = json_object_get_string(get(ops, "type"));
	if (!h.ops_type)
		h.ops_type = SK_SCX_OPS_TYPE; /* configs made before ops.type: sched_ext_ops */
	if (sk_scx_ops_type_len(h.ops_type) != strlen(h.ops_type) ||
	    strlen(h.ops_type) + strlen(SK_SCX_STRUCT_OPS_PREFIX) >= sizeof(h.wrapper))
		return sk_errf(
		    err, -EINVAL,
		    "the artifact config's ops.type \"%s\" is not a sched_ext ops struct "
		    "(sched_ext_ops or sched_ext_ops_SUFFIX): rebuild it with skbuild build",
		    h.ops_type);
	snprintf(h.wrapper, sizeof(h.wrapper), SK_SCX_STRUCT_OPS_PREFIX "%s", h.ops_type);
	if (!btf_path)
		btf_path = SK_SYSFS_BTF;
	if (!release) {
		if (uname(&uts))
			return sk_errf(err, -errno, "uname: %s", strerror(errno));
		release = uts.release;
	}
	ret = sk_kbtf_open(btf_path, 0, &h.k, err);
	if (ret)
		return ret;
	ret = wanted_kfuncs(req, &names);
	if (!ret)
		ret = sk_nameset_init(&h.kfuncs, (const char *const *)names.v, names.n);
	if (ret)
		goto out;
	kernel_filter(&h, &filter);
	ret = sk_kbtf_walk(&h.k, &filter, visit_kernel, &h, err);
	if (ret) {
		/* The walk said what is wrong with the file. */
		sk_nameset_free(&h.kfuncs);
		sk_strv_free(&names);
		sk_kbtf_close(&h.k);
		return ret;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	h.r = r;
	h.err = err;
	h.protos = get(kfuncs, "prototypes");
	h.oneof = get(kfuncs, "oneOf");
	r->release = strdup(release);
	r->btf = strdup(btf_path);
	if (!r->release || !r->btf) {
		ret = -ENOMEM;
		goto out;
	}
	if (json_object_is_type(tun, json_type_array))
		r->tunables = json_object_get(tun);

	ret = check_kernel(&h);
	release_pos = r->nr_rows;
	list = get(kfuncs, "required");
	for (size_t i = 0; !ret && i < arr_len(list); i++)
		if (arr_str(list, i) && !has_row(r, "kfunc", arr_str(list, i)))
			ret = check_kfunc(&h, arr_str(list, i), false);
	list = get(req, "callbacks");
	for (size_t i = 0; !ret && i < arr_len(list); i++)
		if (arr_str(list, i))
			ret = check_member(&h, "callback", arr_str(list, i));
	/* Non-zero data members of the ops map that the config records as values. */
	if (!ret && get_u64(ops, "dispatchMaxBatch"))
		ret = check_member(&h, "member", "dispatch_max_batch");
	if (!ret && get_u64(ops, "exitDumpLen"))
		ret = check_member(&h, "member", "exit_dump_len");
	if (!ret)
		ret = check_listed(&h, get(req, "minKernelBecause"));
	if (!ret)
		ret = check_listed(&h, get(req, "unknown"));
	flags = get(req, "opsFlags") ? get_u64(req, "opsFlags") : get_u64(ops, "flags");
	timeout = get(req, "timeoutMs") ? get_u64(req, "timeoutMs") : get_u64(ops, "timeoutMs");
	if (!ret && flags)
		ret = check_member(&h, "member", "flags");
	if (!ret && timeout)
		ret = check_member(&h, "member", "timeout_ms");
	if (!ret)
		ret = check_flags(&h, flags);
	if (!ret)
		ret = check_timeout(&h, timeout);
	list = get(kfuncs, "optional");
	for (size_t i = 0; !ret && i < arr_len(list); i++)
		if (arr_str(list, i) && !has_row(r, "kfunc", arr_str(list, i)))
			ret = check_kfunc(&h, arr_str(list, i), true);
	if (!ret)
		ret = check_release(&h, req, release_pos);
	/* declared by the author: no kernel runs it without its own user-space program */
	list = get(get(config, "load"), "needsUserSpace");
	if (!ret && list)
		ret =
		    add_row(r, "user space", "its own user-space half", SK_VERDICT_MISSING,
			    "the scheduler needs its own user-space half at run time: %s; skrun "
			    "runs only a scheduler's BPF side, so run this one with its own loader",
			    json_object_is_type(list, json_type_string)
				? json_object_get_string(list)
				: "(declared in load.needsUserSpace)");
out:
	sk_kbtf_index_free(&h.idx);
	sk_nameset_free(&h.kfuncs);
	sk_strv_free(&names);
	sk_kbtf_close(&h.k);
	if (ret) {
		sk_check_report_free(r);
		return sk_errf(err, ret, "checking requirements against %s: %s", btf_path,
			       strerror(-ret));
	}
	*out = r;
	return 0;
}

bool sk_check_report_ok(const struct sk_check_report *r)
{
	return r && nr_missing(r) == 0;
}

int sk_check_report_error(const struct sk_check_report *r, struct sk_error *err)
{
	struct sk_buf b = {0};
	size_t n = 0;
	int ret;

	if (sk_check_report_ok(r))
		return 0;
	if (!r)
		return sk_errf(err, -EINVAL, "no compatibility report");
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct sk_check_row *row = &r->rows[i];

		if (row->verdict != SK_VERDICT_MISSING)
			continue;
		if (sk_buf_printf(&b, "%s%s %s: %s", n++ ? "; " : "", row->kind, row->requirement,
				  row->host)) {
			sk_buf_free(&b);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	ret = sk_errf(err, -ENOTSUP, "the scheduler cannot run on this kernel (%s, BTF %s): %s",
		      *r->release ? r->release : "release unknown", r->btf,
		      b.data ? (char *)b.data : "");
	sk_buf_free(&b);
	return ret;
}

void sk_check_report_print(const struct sk_check_report *r, FILE *f)
{
	int w_req = (int)strlen("REQUIREMENT"), w_host = (int)strlen("HOST");
	size_t nt;

	for (size_t i = 0; i < r->nr_rows; i++) {
		int lr = (int)(strlen(r->rows[i].kind) + 1 + strlen(r->rows[i].requirement));
		int lh = (int)strlen(r->rows[i].host);

		if (lr > w_req)
			w_req = lr;
		if (lh > w_host)
			w_host = lh;
	}
	/* Long sentences overflow rather than push every verdict off the screen. */
	if (w_host > 60)
		w_host = 60;
	fprintf(f, "kernel %s, BTF %s\n\n", *r->release ? r->release : "(release unknown)", r->btf);
	fprintf(f, "%-*s  %-*s  %s\n", w_req, "REQUIREMENT", w_host, "HOST", "VERDICT");
	for (size_t i = 0; i < r->nr_rows; i++) {
		const struct sk_check_row *row = &r->rows[i];
		char req[512];

		snprintf(req, sizeof(req), "%s %s", row->kind, row->requirement);
		fprintf(f, "%-*s  %-*s  %s\n", w_req, req, w_host, row->host,
			sk_verdict_str(row->verdict));
	}
	if (sk_check_report_ok(r))
		fprintf(f, "\nresult: can run on this kernel\n");
	else
		fprintf(f, "\nresult: cannot run on this kernel (%zu requirement(s) missing)\n",
			nr_missing(r));
	nt = arr_len(r->tunables);
	if (!nt) {
		fprintf(f, "\ntunables: none\n");
		return;
	}
	fprintf(f, "\ntunables (skrun run --set NAME=VALUE):\n");
	fprintf(f, "  %-24s %-16s %s\n", "NAME", "TYPE", "DEFAULT");
	for (size_t i = 0; i < nt; i++) {
		struct json_object *t = json_object_array_get_idx(r->tunables, i);
		const char *n = sk_json_str(t, "name"), *ty = sk_json_str(t, "type");
		const char *d = sk_json_str(t, "default");

		fprintf(f, "  %-24s %-16s %s\n", n ? n : "?", ty ? ty : "?", d ? d : "-");
	}
}

struct json_object *sk_check_report_to_json(const struct sk_check_report *r)
{
	struct json_object *o = json_object_new_object(), *k = json_object_new_object();
	struct json_object *checks = json_object_new_array();
	int ret = (o && k && checks) ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < r->nr_rows; i++) {
		const struct sk_check_row *row = &r->rows[i];
		struct json_object *c = json_object_new_object();

		if (!c) {
			ret = -ENOMEM;
			break;
		}
		ret = sk_json_add(c, "requirement", json_object_new_string(row->requirement));
		if (!ret)
			ret = sk_json_add(c, "kind", json_object_new_string(row->kind));
		if (!ret)
			ret = sk_json_add(c, "host", json_object_new_string(row->host));
		if (!ret)
			ret = sk_json_add(c, "verdict",
					  json_object_new_string(sk_verdict_str(row->verdict)));
		if (ret || json_object_array_add(checks, c)) {
			json_object_put(c);
			ret = -ENOMEM;
		}
	}
	if (!ret && *r->release)
		ret = sk_json_add(k, "release", json_object_new_string(r->release));
	else if (!ret)
		ret = json_object_object_add(k, "release", NULL) ? -ENOMEM : 0;
	if (!ret)
		ret = sk_json_add(k, "btf", json_object_new_string(r->btf));
	if (!ret)
		ret = sk_json_add(o, "ok", json_object_new_boolean(sk_check_report_ok(r)));
	if (!ret) {
		ret = sk_json_add(o, "kernel", k);
		k = NULL;
	}
	if (!ret) {
		ret = sk_json_add(o, "checks", checks);
		checks = NULL;
	}
	if (!ret)
		ret = sk_json_add(o, "tunables",
				  r->tunables ? json_object_get(r->tunables)
					      : json_object_new_array());
	if (ret) {
		json_object_put(o);
		o = NULL;
	}
	json_object_put(k);
	json_object_put(checks);
	return o;
}

void sk_check_report_free(struct sk_check_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nr_rows; i++) {
		free(r->rows[i].kind);
		free(r->rows[i].requirement);
		free(r->rows[i].host);
	}
	free(r->rows);
	free(r->release);
	free(r->btf);
	json_object_put(r->tunables);
	free(r);
}
