/* SPDX-License-Identifier: Apache-2.0 */
/* skrun doctor: is this host fit to run sched_ext schedulers? */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/hostcheck.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun doctor [options]\n"
		   "\n"
		   "Checks what this host needs to run schedulers, each under a stable ID:\n"
		   "  kernel.release  kernel.btf  kernel.sched_ext  kernel.config  caps.bpf\n"
		   "  bpf.syscall  store.readable  policy.readable  clock.sane\n"
		   "with status ok, warn or fail and a fix hint for each that is not ok.\n"
		   "Exit status: 0 when nothing fails, 1 otherwise, 2 on usage errors.\n"
		   "\n"
		   "  --json             machine-readable report\n"
		   "  --store DIR        the content store (default " SK_STORE_DEFAULT ")\n"
		   "  --policy FILE      the trust policy (default " SK_POLICY_DEFAULT ")\n"
		   "Where to look (for tests and chroots):\n"
		   "  --sysfs-root DIR   instead of /sys (default: $SKRUN_SYSFS, else /sys)\n"
		   "  --proc-root DIR    instead of /proc (config.gz, self/status)\n"
		   "  --boot-dir DIR     instead of /boot (config-RELEASE)\n"
		   "  --btf FILE         kernel BTF (default SYSFS/kernel/btf/vmlinux)\n"
		   "  --release R        kernel release (default: uname -r)\n"
		   "  --now EPOCH        the time to judge instead of the realtime clock\n");
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"store", required_argument, NULL, 's'},
	    {"policy", required_argument, NULL, 'p'},
	    {"sysfs-root", required_argument, NULL, 'S'},
	    {"proc-root", required_argument, NULL, 'P'},
	    {"boot-dir", required_argument, NULL, 'B'},
	    {"btf", required_argument, NULL, 'b'},
	    {"release", required_argument, NULL, 'r'},
	    {"now", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_doctor_opts o = {.sysfs_root = getenv("SKRUN_SYSFS")};
	struct sk_doctor_report *r = NULL;
	struct sk_error err = {0};
	struct json_object *j;
	bool json = false;
	char *end;
	int c, ret;

	if (o.sysfs_root && !*o.sysfs_root)
		o.sysfs_root = NULL;
	while ((c = sk_cli_getopt(argc, argv, "h", long_opts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			o.store_dir = optarg;
			break;
		case 'p':
			o.policy_path = optarg;
			break;
		case 'S':
			o.sysfs_root = optarg;
			break;
		case 'P':
			o.proc_root = optarg;
			break;
		case 'B':
			o.boot_dir = optarg;
			break;
		case 'b':
			o.btf_path = optarg;
			break;
		case 'r':
			o.release = optarg;
			break;
		case 'n':
			errno = 0;
			o.now = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || o.now <= 0) {
				sk_die_msg("--now wants seconds since the epoch, not '%s'", optarg);
				return 2;
			}
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (optind != argc)
		return sk_cli_usage(usage, false);
	if (sk_doctor_run(&o, &r, &err)) {
		sk_die_msg("%s", err.msg);
		return 1;
	}
	if (json) {
		j = sk_doctor_to_json(r);
		if (!j) {
			sk_doctor_report_free(r);
			sk_die_msg("out of memory");
			return 1;
		}
		printf("%s\n", json_object_to_json_string_ext(
				   j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		sk_doctor_print(r, stdout);
	}
	ret = sk_doctor_ok(r) ? 0 : 1;
	sk_doctor_report_free(r);
	return ret;
}
