/* SPDX-License-Identifier: Apache-2.0 */
/* skrun check: can this artifact run on this kernel? Its requirements against the BTF. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <bpf/btf.h>

#include "commands.h"
#include "load.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"
#include "schedkit/hostcheck.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"

/* nfd-worker's local feature source reads every file here (docs/fleet.md). */
#define NFD_DIR "/etc/kubernetes/node-feature-discovery/features.d"
/* a sub-namespace of feature.node.kubernetes.io: nfd-master allows it by default */
#define NFD_NS	  "schedkit.feature.node.kubernetes.io/"
#define LABEL_MAX 63

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun check LAYOUT[:TAG] [options]\n"
		   "       skrun check --nfd [REF] [options]\n"
		   "\n"
		   "Tests the artifact's kernel requirements against this kernel's own BTF:\n"
		   "sched_ext and struct_ops support, every required kfunc, every callback and\n"
		   "data member of struct sched_ext_ops it sets, every ops flag bit, the watchdog\n"
		   "timeout. Optional (weak) kfuncs are reported without failing. The release is\n"
		   "compared with the artifact's minimum too, but features decide: distributions\n"
		   "backport. Lists the tunables (skrun run --set NAME=VALUE).\n"
		   "Exit status: 0 when it can run here, 6 when it cannot, 2 on usage errors,\n"
		   "4 when the artifact is not found (skrun(1) lists them all).\n"
		   "\n"
		   "  --json         machine-readable report\n"
		   "  --btf FILE     kernel BTF to test against: raw BTF or a vmlinux ELF\n"
		   "                 (default " SK_SYSFS_BTF ")\n"
		   "  --release R    kernel release to compare with (default: uname -r, or\n"
		   "                 not compared when --btf names another kernel's BTF)\n"
		   "  --arch ARCH    platform to check (default: this machine's)\n"
		   "  --load         then load the object into this kernel (the verifier runs;\n"
		   "                 nothing is attached) and print its statistics, or the\n"
		   "                 whole verifier log and a hint when it is rejected\n"
		   "  --verifier-log FILE  with --load: write the log (or statistics) to FILE\n"
		   "  --ops NAME     with --load: the sched_ext_ops map when there are several\n"
		   "  --pull POLICY  missing: a reference the store recorded is read from it,\n"
		   "                 offline; never: only from the store; always (default):\n"
		   "                 fetched into a throwaway store\n"
		   "  --store DIR    the store --pull reads (default " SK_STORE_DEFAULT ")\n"
		   "  --nfd          write a Node Feature Discovery local feature file instead:\n"
		   "                 sched_ext, the kernel release, every sched_ext kfunc and\n"
		   "                 sched_ext_ops member of this kernel, and with REF whether\n"
		   "                 it can run here (can-run.NAME); exit 0 once written\n"
		   "  --nfd-file FILE  where (default " NFD_DIR "/schedkit,\n"
		   "                 or schedkit-NAME with REF; - for standard output)\n"
		   "  --nfd-name NAME  NAME in can-run.NAME (default: the scheduler's name)\n");
}

/*
 * The one place that turns a command-line source into an artifact; registry
 * references and the store plug in here.
 */
/*
 * A layout is read in place; a registry reference or archive is fetched to a
 * throwaway store. --pull missing|never read a reference the store recorded
 * from the store instead, offline.
 */
static int open_artifact(const char *src, const char *arch, enum sk_pull_policy pull,
			 const char *store, struct sk_artifact **out, struct sk_error *err)
{
	struct sk_pull_opts po = {.policy = pull};
	char digest[SK_DIGEST_MAX], *marker = sk_path_join(store, "oci-layout");
	struct sk_store *s = NULL;
	int ret = -ENOENT;

	if (!marker)
		return sk_errf(err, -ENOMEM, "out of memory");
	/* looking must not create an empty store */
	if (pull != SK_PULL_ALWAYS && !sk_is_file(marker)) {
		ret = sk_errf(err, -ENOENT,
			      "%s is not a content store (nothing was pulled into it)", store);
	} else if (pull != SK_PULL_ALWAYS) {
		ret = sk_store_open(store, &s, err);
		if (!ret)
			ret = sk_pull_stored(s, src, digest, NULL, err);
		if (!ret)
			ret = sk_artifact_read(sk_store_layout(s), digest, arch, out, err);
		sk_store_close(s);
	}
	free(marker);
	if (ret == -ENOENT && pull == SK_PULL_NEVER) {
		sk_err_prefix(err, "--pull never reads only the store: ");
		return ret;
	}
	if (ret != -ENOENT && ret != -EINVAL && pull != SK_PULL_ALWAYS)
		return ret;
	return sk_artifact_open_any(src, &po, arch, out, err);
}

/*
 * A config that carries no requirements (not written by skbuild) gets them
 * from the object itself, so check never trusts an absence.
 */
static int config_for_check(struct sk_artifact *a, struct json_object **out, struct sk_error *err)
{
	struct json_object *req = NULL, *ops = NULL;
	struct sk_sched_info *info = NULL;
	const char *map;
	int ret;

	if (json_object_object_get_ex(a->config, "requirements", &req)) {
		*out = json_object_get(a->config);
		return 0;
	}
	map = json_object_object_get_ex(a->config, "ops", &ops) ? sk_json_str(ops, "map") : NULL;
	ret = sk_sched_analyze(a->object, a->object_len, map, &info, err);
	if (ret)
		return sk_err_prefix(err, "the config records no requirements; analysing the "
					  "object: ");
	*out = sk_sched_info_to_json(info);
	sk_sched_info_free(info);
	if (!*out)
		return sk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

/*
 * A Kubernetes label value: at most 63 characters of [-_.A-Za-z0-9],
 * alphanumeric at both ends. Others become '_' ("7.2.13+deb14" is not one).
 */
static void label_value(const char *in, char *out, size_t sz)
{
	size_t n = 0;

	for (const char *p = in; *p && n < LABEL_MAX && n + 1 < sz; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';

		out[n++] = ok ? *p : '_';
	}
	out[n] = '\0';
	while (n && !((out[n - 1] >= 'a' && out[n - 1] <= 'z') ||
		      (out[n - 1] >= 'A' && out[n - 1] <= 'Z') ||
		      (out[n - 1] >= '0' && out[n - 1] <= '9')))
		out[--n] = '\0';
	if (n && !((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z') ||
		   (out[0] >= '0' && out[0] <= '9')))
		out[0] = 'x';
}

/* One "NAMESPACE/NAME=VALUE" line; a name a label cannot carry is left out. */
static int nfd_line(struct sk_buf *b, const char *name, const char *value)
{
	char v[LABEL_MAX + 1];

	if (strlen(name) > LABEL_MAX)
		return 0;
	label_value(value, v, sizeof(v));
	return sk_buf_printf(b, NFD_NS "%s=%s\n", name, v);
}

/* What this kernel (its BTF) offers sched_ext: the kfuncs and the ops members. */
static int nfd_kernel(struct sk_buf *b, const char *btf_path, const char *release,
		      struct sk_error *err)
{
	struct btf *btf = btf_path ? btf__parse(btf_path, NULL) : btf__load_vmlinux_btf();
	struct sk_strv names = {0};
	const struct btf_type *t;
	int id, ret;

	if (!btf)
		return sk_errf(err, -errno,
			       "%s: cannot read the kernel's BTF (%s); name a vmlinux or raw BTF "
			       "with --btf",
			       btf_path ? btf_path : SK_SYSFS_BTF, strerror(errno));
	id = btf__find_by_name_kind(btf, "sched_ext_ops", BTF_KIND_STRUCT);
	ret = nfd_line(b, "sched_ext", id > 0 ? "true" : "false");
	if (!ret && release && *release)
		ret = nfd_line(b, "kernel-release", release);
	for (int i = 1; !ret && id > 0 && i < (int)btf__type_cnt(btf); i++) {
		const char *name;

		t = btf__type_by_id(btf, i);
		name = btf_is_func(t) ? btf__name_by_offset(btf, t->name_off) : NULL;
		if (name && !strncmp(name, "scx_bpf_", 8)) {
			char key[128];

			snprintf(key, sizeof(key), "kfunc.%s", name);
			ret = sk_strv_push(&names, key);
		}
	}
	if (!ret && id > 0) {
		const struct btf_member *m;

		t = btf__type_by_id(btf, id);
		m = btf_members(t);
		for (int i = 0; !ret && i < btf_vlen(t); i++) {
			const char *name = btf__name_by_offset(btf, m[i].name_off);
			char key[128];

			if (!name || !*name)
				continue;
			snprintf(key, sizeof(key), "ops.%s", name);
			ret = sk_strv_push(&names, key);
		}
	}
	/* the same kernel gives the same file, whatever order BTF lists them in */
	sk_strv_sort_uniq(&names);
	for (size_t i = 0; !ret && i < names.n; i++)
		ret = nfd_line(b, names.v[i], "true");
	sk_strv_free(&names);
	btf__free(btf);
	return ret ? sk_errf(err, ret, "out of memory") : 0;
}

struct nfd_opts {
	const char *file, *name, *btf, *release, *arch, *store;
	enum sk_pull_policy pull;
};

/* The feature file: this kernel's facts, and with src whether it can run that artifact. */
static int nfd_write(const char *src, const struct nfd_opts *o)
{
	char path[1024], name[LABEL_MAX + 1] = "", key[LABEL_MAX + 16], rel[256];
	struct sk_check_report *report = NULL;
	struct json_object *config = NULL;
	struct sk_artifact *a = NULL;
	struct sk_error err = {0};
	const char *release = o->release, *raw;
	struct utsname u;
	struct sk_buf b = {0};
	bool can = false;
	int ret;

	/* another kernel's BTF says nothing about the running kernel's release */
	if (!release && !o->btf && !uname(&u)) {
		snprintf(rel, sizeof(rel), "%s", u.release);
		release = rel;
	}
	if (src) {
		ret = open_artifact(src, o->arch, o->pull, o->store, &a, &err);
		if (!ret)
			ret = config_for_check(a, &config, &err);
		if (!ret)
			ret = sk_host_check(config, o->btf, o->btf && !o->release ? "" : release,
					    &report, &err);
		if (ret) {
			sk_die_msg("check --nfd %s: %s", src, err.msg);
			ret = sk_cli_exit_status(err.code);
			goto out;
		}
		can = sk_check_report_ok(report);
		raw = o->name ? o->name : sk_json_str(a->config, "name");
		label_value(raw ? raw : "scheduler", name, sizeof(name));
		if (!name[0]) {
			sk_die_msg("check --nfd: %s \"%s\" is not usable in a label name; use "
				   "letters, digits, '-', '_' and '.' (--nfd-name NAME)",
				   o->name ? "--nfd-name" : "the scheduler's name", raw);
			ret = SK_EXIT_USAGE;
			goto out;
		}
	}
	ret = sk_buf_printf(&b, "# skrun check --nfd%s%s: rewritten whole each time; do not edit\n",
			    src ? " " : "", src ? src : "");
	if (!ret && nfd_kernel(&b, o->btf, release, &err)) {
		sk_die_msg("check --nfd: %s", err.msg);
		ret = sk_cli_exit_status(err.code);
		goto out;
	}
	if (!ret && src) {
		snprintf(key, sizeof(key), "can-run.%s", name);
		ret = nfd_line(&b, key, can ? "true" : "false");
	}
	if (ret) {
		sk_die_msg("out of memory");
		ret = SK_EXIT_FAILURE;
		goto out;
	}
	if (o->file && !strcmp(o->file, "-")) {
		fwrite(b.data, 1, b.len, stdout);
		fflush(stdout);
		ret = SK_EXIT_OK;
		goto out;
	}
	if (o->file)
		snprintf(path, sizeof(path), "%s", o->file);
	else
		snprintf(path, sizeof(path), NFD_DIR "/schedkit%s%s", src ? "-" : "", name);
	/* nfd-worker reads either the old file or the new one, never a mix */
	if (sk_write_file_atomic(path, b.data, b.len, 0644, &err)) {
		sk_die_msg("check --nfd: %s%s", err.msg,
			   o->file ? ""
				   : " (is nfd-worker's features.d on this host? --nfd-file names "
				     "another file)");
		ret = sk_cli_exit_status(err.code);
		goto out;
	}
	printf("%s: sched_ext features%s%s%s\n", path, src ? "; can-run." : "", name,
	       src ? (can ? "=true" : "=false") : "");
	ret = SK_EXIT_OK;
out:
	sk_buf_free(&b);
	sk_check_report_free(report);
	json_object_put(config);
	sk_artifact_free(a);
	return ret;
}

int cmd_check(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"btf", required_argument, NULL, 'b'},
	    {"release", required_argument, NULL, 'r'},
	    {"arch", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {"load", no_argument, NULL, 'L'},
	    {"verifier-log", required_argument, NULL, 'V'},
	    {"ops", required_argument, NULL, 'O'},
	    {"pull", required_argument, NULL, 'U'},
	    {"store", required_argument, NULL, 'S'},
	    {"nfd", no_argument, NULL, 'n'},
	    {"nfd-file", required_argument, NULL, 'F'},
	    {"nfd-name", required_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0},
	};
	enum sk_pull_policy pull = SK_PULL_ALWAYS;
	const char *store = SK_STORE_DEFAULT;
	const char *vlog = NULL, *ops = NULL;
	bool load = false;
	const char *btf = NULL, *release = NULL, *arch = NULL;
	struct sk_check_report *report = NULL;
	struct json_object *config = NULL, *j;
	struct sk_artifact *a = NULL;
	struct sk_error err = {0};
	bool json = false, nfd = false;
	const char *nfd_file = NULL, *nfd_name = NULL;
	int c, ret = 1;

	while ((c = sk_cli_getopt(argc, argv, "h", long_opts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'b':
			btf = optarg;
			break;
		case 'r':
			release = optarg;
			break;
		case 'a':
			arch = optarg;
			break;
		case 'L':
			load = true;
			break;
		case 'V':
			vlog = optarg;
			break;
		case 'O':
			ops = optarg;
			break;
		case 'U':
			if (sk_pull_policy_parse(optarg, &pull)) {
				sk_die_msg("check: --pull %s: use always, missing or never",
					   optarg);
				return SK_EXIT_USAGE;
			}
			break;
		case 'S':
			store = optarg;
			break;
		case 'n':
			nfd = true;
			break;
		case 'F':
			nfd_file = optarg;
			break;
		case 'N':
			nfd_name = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (nfd && optind >= argc - 1 && !json && !load) {
		struct nfd_opts o = {.file = nfd_file,
				     .name = nfd_name,
				     .btf = btf,
				     .release = release,
				     .arch = arch,
				     .store = store,
				     .pull = pull};

		return nfd_write(optind == argc - 1 ? argv[optind] : NULL, &o);
	}
	if (optind != argc - 1 || nfd || nfd_file || nfd_name)
		return sk_cli_usage(usage, false);
	/* Another kernel's BTF says nothing about the running kernel's release. */
	if (btf && !release)
		release = "";
	if (open_artifact(argv[optind], arch, pull, store, &a, &err) ||
	    config_for_check(a, &config, &err) ||
	    sk_host_check(config, btf, release, &report, &err)) {
		sk_die_msg("check %s: %s", argv[optind], err.msg);
		ret = sk_cli_exit_status(err.code);
		goto out;
	}
	ret = sk_check_report_ok(report) ? SK_EXIT_OK : SK_EXIT_KERNEL;
	if (json) {
		j = sk_check_report_to_json(report);
		if (!j) {
			sk_die_msg("out of memory");
			goto out;
		}
		if (load && !ret)
			ret = skr_load_check(a, ops, vlog, NULL, j);
		sk_cli_print_json(j);
		json_object_put(j);
	} else {
		printf("%s (%s/%s, %s)\n", argv[optind], a->os, a->arch, a->manifest_digest);
		sk_check_report_print(report, stdout);
		fflush(stdout);
		if (load && !ret)
			ret = skr_load_check(a, ops, vlog, stdout, NULL);
	}
out:
	sk_check_report_free(report);
	json_object_put(config);
	sk_artifact_free(a);
	return ret;
}
