/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The link step of a multi-object scheduler: each .bpf.c of schedkit.json's
 * "objects" is compiled on its own, then libbpf's static linker makes one
 * object of them, and analysis, validation and packing see only that one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "link.h"

/* libbpf says why it refuses a file only through its print callback: warnings go to stderr. */
static int link_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * The linker leaves a function that no unit defines as an extern, and
 * libbpf's open would then look it up as a kfunc. kfuncs are the externs of
 * the .ksyms section; any other extern function is a unit left out.
 */
static int check_unresolved(const char *out, size_t n, struct sk_error *err)
{
	struct btf *btf = btf__parse_elf(out, NULL);
	const struct btf_type *ksyms = NULL;
	int ret = 0;

	if (!btf)
		return sk_errf(err, -EINVAL, "the linked object %s has no readable BTF", out);
	for (uint32_t id = 1; !ksyms && id < btf__type_cnt(btf); id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (btf_is_datasec(t) && !strcmp(btf__name_by_offset(btf, t->name_off), ".ksyms"))
			ksyms = t;
	}
	for (uint32_t id = 1; !ret && id < btf__type_cnt(btf); id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		bool kfunc = false;

		if (!btf_is_func(t) || btf_vlen(t) != BTF_FUNC_EXTERN)
			continue;
		for (int i = 0; ksyms && !kfunc && i < btf_vlen(ksyms); i++)
			kfunc = btf_var_secinfos(ksyms)[i].type == id;
		if (!kfunc)
			ret = sk_errf(err, -ENOENT,
				      "linking %zu objects: function %s is declared but none of "
				      "\"objects\" defines it (a unit left out of the list?)",
				      n, btf__name_by_offset(btf, t->name_off));
	}
	btf__free(btf);
	return ret;
}

int skb_link_objects(const char *const *in, const char *const *names, size_t n, const char *out,
		     struct sk_error *err)
{
	LIBBPF_OPTS(bpf_linker_opts, opts);
	libbpf_print_fn_t old = libbpf_set_print(link_print);
	struct bpf_linker *linker;
	int ret = 0;

	if (!n) {
		ret = sk_errf(err, -EINVAL, "nothing to link");
		goto out;
	}
	linker = bpf_linker__new(out, &opts);
	if (!linker) {
		ret = -errno ? -errno : -EINVAL;
		ret =
		    sk_errf(err, ret, "cannot start the BPF link into %s: %s", out, strerror(-ret));
		goto out;
	}
	for (size_t i = 0; !ret && i < n; i++) {
		ret = bpf_linker__add_file(linker, in[i], NULL);
		if (ret)
			ret = sk_errf(err, ret < 0 ? ret : -EINVAL,
				      "linking %s: libbpf's linker refused it (%s; the lines above "
				      "say why: a symbol defined twice, a map or extern declared "
				      "differently in two objects)",
				      names[i], strerror(ret < 0 ? -ret : EINVAL));
	}
	if (!ret) {
		ret = bpf_linker__finalize(linker);
		if (ret)
			ret = sk_errf(err, ret < 0 ? ret : -EINVAL,
				      "linking %zu objects: libbpf's linker could not finish (%s; "
				      "an extern that no object defines?)",
				      n, strerror(ret < 0 ? -ret : EINVAL));
	}
	bpf_linker__free(linker);
	if (!ret)
		ret = check_unresolved(out, n, err);
out:
	libbpf_set_print(old);
	return ret;
}
