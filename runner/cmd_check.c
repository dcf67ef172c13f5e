/* SPDX-License-Identifier: Apache-2.0 */
/* skrun check: can this artifact run on this kernel? Its requirements against the BTF. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "load.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"
#include "schedkit/hostcheck.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun check LAYOUT[:TAG] [options]\n"
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
		   "  --store DIR    the store --pull reads (default " SK_STORE_DEFAULT ")\n");
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
	if (pull != SK_PULL_ALWAYS && sk_is_file(marker)) {
		ret = sk_store_open(store, &s, err);
		if (!ret)
			ret = sk_pull_stored(s, src, digest, NULL, err);
		if (!ret)
			ret = sk_artifact_read(sk_store_layout(s), digest, arch, out, err);
		sk_store_close(s);
	}
	free(marker);
	if (ret == -ENOENT && pull == SK_PULL_NEVER)
		return sk_err_prefix(err, "--pull never reads only the store: ");
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
	bool json = false;
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
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (optind != argc - 1)
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
