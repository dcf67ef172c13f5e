/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier, told to a scheduler's author: one-line hints for the
 * rejections met most, the log of a rejected load, and the statistics of a
 * successful one (log_level 4, what `veristat` reads).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gelf.h>
#include <libelf.h>

#include "internal.h"
#include "schedkit/verifier.h"

#define LOG_SIZE       (4u << 20)
#define STATS_LOG_SIZE 4096
#define KSYMS_SEC      ".ksyms"
#define HINT_LOOP                                                                                  \
	"an unbounded loop: the verifier must see every loop end; iterate with "                   \
	"bpf_for(i, 0, n) or bpf_repeat(n) (open-coded iterators, upstream scx's "                 \
	"common.bpf.h) or give the loop a constant bound"
#define HINT_BOUNDS                                                                                \
	"an index or offset the verifier cannot bound: compare it with the "                       \
	"array's size (if (i >= N) return;) or reduce it (i % N) right before the "                \
	"access"
#define HINT_KFUNC                                                                                 \
	"a kfunc this kernel lacks: declare it __weak __ksym and guard the call "                  \
	"with bpf_ksym_exists(), or require a newer kernel (`skrun check` lists "                  \
	"what this kernel has)"
#define HINT_KSYM                                                                                  \
	"a kfunc declared without __ksym: declare it `extern ... __ksym;` "                        \
	"(bpf/schedkit/scx.h declares the sched_ext ones)"
#define HINT_NULL "a pointer that may be NULL: test it (if (!p) return ...;) before using it"
#define HINT_SCALAR                                                                                \
	"memory read through a plain number: read kernel memory with "                             \
	"BPF_CORE_READ() or bpf_probe_read_kernel(), and keep pointers typed"
#define HINT_LICENSE                                                                               \
	"a GPL-only helper or kfunc: declare char _license[] SEC(\"license\") = "                  \
	"\"GPL\";"

struct hint {
	const char *needle; /* a substring of the kernel's or libbpf's message */
	const char *hint;
};

/* First match wins: the more specific messages come first. */
static const struct hint hints[] = {
    {"infinite loop detected", HINT_LOOP},
    {"back-edge from insn", HINT_LOOP},
    {"BPF program is too large", HINT_LOOP},
    {"jumps is too complex", HINT_LOOP},
    {"loop is not bounded", HINT_LOOP},
    {"not found in kernel", HINT_KFUNC},
    {"calling kernel function", HINT_KFUNC},
    {"kernel function", HINT_KFUNC},
    {"without __ksym", HINT_KSYM},
    {"failed to find BTF for extern", HINT_KSYM},
    {"unrecognized extern section", HINT_KSYM},
    {"cannot call GPL-restricted function", HINT_LICENSE},
    {"GPL-compatible", HINT_LICENSE},
    {"_or_null", HINT_NULL},
    {"Possibly NULL pointer", HINT_NULL},
    {"invalid mem access 'scalar'", HINT_SCALAR},
    {"invalid access to map value", HINT_BOUNDS},
    {"unbounded memory access", HINT_BOUNDS},
    {"min value is negative", HINT_BOUNDS},
    {"outside of the allowed memory range", HINT_BOUNDS},
    {"invalid variable-offset", HINT_BOUNDS},
};

const char *sk_verifier_hint(const char *log)
{
	if (!log)
		return NULL;
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strstr(log, hints[i].needle))
			return hints[i].hint;
	return NULL;
}

static void write_log(const char *path, const char *log)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		fprintf(stderr, "warning: %s=%s: cannot write the verifier log: %s\n",
			SK_VERIFIER_LOG_ENV, path, strerror(errno));
		return;
	}
	fputs(log, f);
	if (fclose(f))
		fprintf(stderr, "warning: %s=%s: writing the verifier log failed: %s\n",
			SK_VERIFIER_LOG_ENV, path, strerror(errno));
}

void sk_verifier_explain(const char *log, struct sk_error *err)
{
	const char *path = getenv(SK_VERIFIER_LOG_ENV);
	const char *hint = sk_verifier_hint(log);
	size_t n;

	if (path && *path && log)
		write_log(path, log);
	if (!err || !hint)
		return;
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, "\nhint: %s", hint);
}

/* The sched_ext_ops map skrun would choose; the others are not created. */
static struct bpf_map *choose_ops(struct bpf_object *obj, const char *want, struct sk_error *err)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m, *found = NULL;
	int n = 0;

	bpf_object__for_each_map(m, obj)
	{
		const struct btf_type *t;

		if (bpf_map__type(m) != BPF_MAP_TYPE_STRUCT_OPS || !btf)
			continue;
		t = btf__type_by_id(btf, bpf_map__btf_value_type_id(m));
		while (t && (btf_is_mod(t) || btf_is_typedef(t)))
			t = btf__type_by_id(btf, t->type);
		if (!t || !sk_is_scx_ops_type(btf__name_by_offset(btf, t->name_off)))
			continue;
		n++;
		if (!want || !strcmp(want, bpf_map__name(m)))
			found = m;
	}
	if (!n) {
		sk_errf(err, -ENOENT,
			"the object has no struct sched_ext_ops map; define one in "
			"SEC(\".struct_ops.link\")");
		return NULL;
	}
	if (!found && want) {
		sk_errf(err, -ENOENT, "no sched_ext_ops map named '%s'", want);
		return NULL;
	}
	if (!found || (n > 1 && !want)) {
		sk_errf(err, -EINVAL,
			"the object has %d sched_ext_ops maps; choose one with --ops NAME", n);
		return NULL;
	}
	bpf_object__for_each_map(m, obj)
	{
		if (bpf_map__type(m) == BPF_MAP_TYPE_STRUCT_OPS && m != found)
			bpf_map__set_autocreate(m, false);
	}
	return found;
}

static bool in_ksyms(const struct btf *btf, __u32 id)
{
	__s32 sec = btf__find_by_name_kind(btf, KSYMS_SEC, BTF_KIND_DATASEC);
	const struct btf_type *t = sec > 0 ? btf__type_by_id(btf, (__u32)sec) : NULL;
	const struct btf_var_secinfo *v = t ? btf_var_secinfos(t) : NULL;

	for (int i = 0; t && i < btf_vlen(t); i++)
		if (v[i].type == id)
			return true;
	return false;
}

/* What an extern's ELF symbol says: 1 weak, 0 not (or not found). */
static int sym_is_weak(const void *obj, size_t len, const char *name)
{
	Elf *e = elf_memory((char *)obj, len);
	Elf_Scn *scn = NULL;
	int weak = 0;

	while (e && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(d, (int)i, &sym))
				continue;
			n = elf_strptr(e, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name))
				weak = GELF_ST_BIND(sym.st_info) == STB_WEAK;
		}
	}
	elf_end(e);
	return weak;
}

/* The object's own BTF, from its .BTF section (no libbpf open: that may be what failed). */
static struct btf *object_btf(const void *obj, size_t len)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	struct btf *btf = NULL;
	size_t shstrndx;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	e = elf_memory((char *)obj, len);
	if (!e || elf_getshdrstrndx(e, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *n;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(e, shstrndx, sh.sh_name);
		if (!n || strcmp(n, ".BTF"))
			continue;
		d = elf_getdata(scn, NULL);
		if (d && d->d_buf)
			btf = btf__new(d->d_buf, (__u32)d->d_size);
		break;
	}
out:
	elf_end(e);
	return btf && !libbpf_get_error(btf) ? btf : NULL;
}

/*
 * What libbpf refuses before the kernel sees anything, said with the name:
 * an extern function outside .ksyms (declared without __ksym), or, when
 * check_kernel, a strong kfunc this kernel's BTF does not have (libbpf strips
 * a ___flavour suffix before it looks). Writes one line to *line and the hint
 * to hint; false when none applies.
 */
static bool explain_externs(const void *obj, size_t len, bool check_kernel, char *line,
			    size_t line_sz, char *hint, size_t hint_sz)
{
	struct btf *btf = object_btf(obj, len), *vmlinux = NULL;
	__u32 n = btf ? btf__type_cnt(btf) : 0;
	bool found = false;

	for (__u32 id = 1; id < n && !found; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		char base[128];
		const char *name;

		/* a FUNC's vlen is its linkage */
		if (!btf_is_func(t) || btf_vlen(t) != BTF_FUNC_EXTERN)
			continue;
		name = btf__name_by_offset(btf, t->name_off);
		if (!in_ksyms(btf, id)) {
			snprintf(
			    line, line_sz,
			    "extern function '%s' is declared without __ksym, so libbpf cannot "
			    "resolve it against the kernel",
			    name);
			snprintf(hint, hint_sz, "%s", HINT_KSYM);
			found = true;
			break;
		}
		if (!check_kernel || sym_is_weak(obj, len, name))
			continue;
		snprintf(
		    base, sizeof(base), "%.*s",
		    (int)(strstr(name, "___") ? strstr(name, "___") - name : (long)strlen(name)),
		    name);
		if (!vmlinux)
			vmlinux = btf__load_vmlinux_btf();
		if (vmlinux && btf__find_by_name_kind(vmlinux, base, BTF_KIND_FUNC) < 0) {
			snprintf(
			    line, line_sz,
			    "kfunc '%s' is not in this kernel's BTF (libbpf: extern (func ksym) "
			    "'%s': not found in kernel)",
			    base, base);
			snprintf(hint, hint_sz, "%s", HINT_KFUNC);
			found = true;
		}
	}
	btf__free(vmlinux);
	btf__free(btf);
	return found;
}

void sk_verifier_explain_object(const void *obj, size_t len, struct sk_error *err)
{
	char line[512], hint[320];
	size_t n;

	if (!err || !explain_externs(obj, len, false, line, sizeof(line), hint, sizeof(hint)))
		return;
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, "\n%s\nhint: %s", line, hint);
}

static long stat_after(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* log_level 4: "processed N insns (limit ...) max_states_per_insn M total_states T peak_states P".
 */
static void parse_stats(const char *log, struct sk_verifier_prog *p)
{
	p->insns = stat_after(log, "processed ");
	p->max_states_per_insn = stat_after(log, "max_states_per_insn ");
	p->states = stat_after(log, "total_states ");
	p->peak_states = stat_after(log, "peak_states ");
	p->time_usec = stat_after(log, "verification time ");
}

static int open_obj(const void *obj, size_t len, char *log, const char *ops_name,
		    struct bpf_object **out, struct sk_error *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_buf = log,
		    .kernel_log_size = log ? LOG_SIZE : 0, .object_name = "sched");
	struct bpf_object *o = bpf_object__open_mem(obj, len, &oo);
	int ret;

	if (!o) {
		ret = -errno;
		return sk_errf(err, ret, "the BPF object cannot be opened: %s", strerror(-ret));
	}
	if (!choose_ops(o, ops_name, err)) {
		bpf_object__close(o);
		return err ? err->code : -EINVAL;
	}
	*out = o;
	return 0;
}

/* The second load, now that the kernel accepts it: per-program statistics only. */
static int collect_stats(const void *obj, size_t len, const char *ops_name,
			 struct sk_verifier_report *r, struct sk_error *err)
{
	struct bpf_object *o = NULL;
	struct bpf_program *p;
	char *bufs = NULL;
	size_t n = 0, i = 0;
	int ret;

	ret = open_obj(obj, len, NULL, ops_name, &o, err);
	if (ret)
		return ret;
	bpf_object__for_each_program(p, o) n++;
	bufs = calloc(n ? n : 1, STATS_LOG_SIZE);
	r->progs = calloc(n ? n : 1, sizeof(*r->progs));
	if (!bufs || !r->progs) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	bpf_object__for_each_program(p, o)
	{
		bpf_program__set_log_buf(p, bufs + i * STATS_LOG_SIZE, STATS_LOG_SIZE);
		bpf_program__set_log_level(p, 4);
		i++;
	}
	ret = bpf_object__load(o);
	if (ret) {
		sk_errf(err, ret, "the second load, for statistics, failed: %s", strerror(-ret));
		goto out;
	}
	i = 0;
	bpf_object__for_each_program(p, o)
	{
		struct sk_verifier_prog *s = &r->progs[r->nprogs];

		if (!bpf_program__autoload(p)) {
			i++;
			continue;
		}
		snprintf(s->name, sizeof(s->name), "%s", bpf_program__name(p));
		parse_stats(bufs + i * STATS_LOG_SIZE, s);
		r->nprogs++;
		i++;
	}
out:
	free(bufs);
	bpf_object__close(o);
	return ret;
}

int sk_verifier_load(const void *obj, size_t len, const char *ops_name,
		     struct sk_verifier_report *r, struct sk_error *err)
{
	struct bpf_object *o = NULL;
	char *log = calloc(1, LOG_SIZE);
	int ret;

	memset(r, 0, sizeof(*r));
	if (!log)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = open_obj(obj, len, log, ops_name, &o, err);
	if (ret) {
		char line[512];

		/* libbpf refused it at open: a rejection with a reason, not an error */
		if (explain_externs(obj, len, false, line, sizeof(line), r->hint,
				    sizeof(r->hint)) &&
		    asprintf(&r->log, "%s\n", line) > 0)
			ret = 0;
		goto out;
	}
	/* log_level 0: on a rejection libbpf loads again at level 1, the whole log */
	ret = bpf_object__load(o);
	if (!ret) {
		bpf_object__close(o);
		o = NULL;
		r->loaded = true;
		ret = collect_stats(obj, len, ops_name, r, err);
		goto out;
	}
	r->log = log;
	log = NULL;
	if (!r->log[0]) {
		char line[512];

		if (explain_externs(obj, len, true, line, sizeof(line), r->hint, sizeof(r->hint))) {
			free(r->log);
			r->log = NULL;
			if (asprintf(&r->log, "%s\n", line) < 0)
				r->log = NULL;
			ret = 0;
			goto out;
		}
	}
	if (sk_verifier_hint(r->log))
		snprintf(r->hint, sizeof(r->hint), "%s", sk_verifier_hint(r->log));
	if (!r->log[0]) {
		free(r->log);
		if (asprintf(&r->log,
			     "(no verifier log: libbpf refused the object before the "
			     "kernel saw it: %s)\n",
			     strerror(-ret)) < 0)
			r->log = NULL;
	}
	ret = 0;
out:
	bpf_object__close(o);
	free(log);
	return ret;
}

void sk_verifier_report_free(struct sk_verifier_report *r)
{
	free(r->log);
	free(r->progs);
	memset(r, 0, sizeof(*r));
}
