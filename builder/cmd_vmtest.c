/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skbuild vmtest: try schedulers on a sched_ext kernel without a sched_ext
 * host. Builds what is given as sources, then hands the layouts to the VM
 * harness the tests use (scripts/vmtest.sh over scripts/vm.sh), which boots
 * the test kernel once in qemu and runs skrun there.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "schedkit/common.h"
#include "schedkit/oci.h"

#define MAX_ARTIFACTS 8

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: skbuild vmtest DIR|FILE.bpf.c|LAYOUT[:TAG]... [options]\n"
	    "\n"
	    "Boots the sched_ext test kernel in qemu (once, for every artifact given),\n"
	    "and for each artifact: loads it (the verifier's statistics, or its whole\n"
	    "log and a hint when it refuses), attaches it with skrun, runs a CPU-bound\n"
	    "workload, stops it and prints the exit record, then a verdict. Sources\n"
	    "(a scheduler directory or .bpf.c) are built first against the kernel's\n"
	    "BTF; a LAYOUT is an OCI layout directory (oci:DIR[:TAG] or DIR[:TAG]).\n"
	    "The artifact runs unverified (--insecure-skip-verify): this is a test.\n"
	    "Exit status: 0 every artifact passed, 6 one was refused or failed, 1 the\n"
	    "VM gave no answer, 2 usage.\n"
	    "\n"
	    "  --kernel DIR          the test kernel: DIR/vmlinuz and DIR/vmlinux (default\n"
	    "                        $SCHEDKIT_KERNEL_CACHE, else /var/cache/schedkit/kernel,\n"
	    "                        which `make kernel` fills)\n"
	    "  --verifier-log FILE   write the verifier's log (statistics when accepted)\n"
	    "  --set NAME=VALUE      set a tunable (repeatable), as skrun run --set\n"
	    "  --ops NAME            the sched_ext_ops map when an object has several\n"
	    "  --loops N             size of the workload's two busy loops (default 20000)\n"
	    "  --skrun PATH          the skrun to run in the guest (default: next to skbuild)\n");
}

/* A directory holding an OCI layout (its oci-layout file), given as DIR or DIR:TAG. */
static bool is_layout(const char *arg, char **dir, char **tag)
{
	const char *a = strncmp(arg, "oci:", 4) ? arg : arg + 4;
	char *d = NULL, *t = NULL, *marker;
	bool yes;

	if (sk_layout_ref_split(a, &d, &t))
		return false;
	marker = sk_path_join(d, "oci-layout");
	yes = marker && sk_is_file(marker);
	free(marker);
	if (!yes && a != arg)
		yes = true; /* oci: says so; opening it reports what is wrong */
	if (yes) {
		*dir = d;
		*tag = t;
	} else {
		free(d);
		free(t);
	}
	return yes;
}

/* skbuild build ARG into tmp; the scheduler's name from build --json. */
static int build_one(const char *arg, const char *kernel, const char *tmp, int i, char *name,
		     size_t name_sz, char *layout, size_t layout_sz)
{
	struct json_object *j = NULL;
	struct sk_error err = {0};
	struct sk_buf out = {0};
	char btf[4200], self[4096];
	char *argv[] = {self,	"build", (char *)arg, "--btf",	btf, "-o",
			layout, "-t",	 "vmtest",    "--json", NULL};
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int ret;

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(btf, sizeof(btf), "%s/vmlinux", kernel);
	snprintf(layout, layout_sz, "%s/a%d.oci", tmp, i);
	fprintf(stderr, "vmtest: building %s against %s\n", arg, btf);
	ret = sk_run(argv, &out, &err);
	if (ret) {
		if (out.len)
			fprintf(stderr, "%.*s", (int)out.len, (char *)out.data);
		sk_die_msg("vmtest: building %s failed%s%s", arg, err.msg[0] ? ": " : "", err.msg);
		ret = -EINVAL;
		goto out;
	}
	/* sk_run merges stderr (clang's warnings) with the JSON: parse from the object */
	{
		char *start = out.data ? strstr((char *)out.data, "{\n") : NULL;

		if (!start || sk_json_parse(start, out.len - (size_t)(start - (char *)out.data),
					    arg, &j, &err)) {
			sk_die_msg("vmtest: building %s printed no result", arg);
			ret = -EINVAL;
			goto out;
		}
	}
	snprintf(name, name_sz, "%s", sk_json_str(j, "name") ? sk_json_str(j, "name") : "sched");
out:
	json_object_put(j);
	sk_buf_free(&out);
	return ret;
}

static bool safe_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

int cmd_vmtest(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"verifier-log", required_argument, NULL, 'V'},
	    {"set", required_argument, NULL, 's'},
	    {"ops", required_argument, NULL, 'O'},
	    {"loops", required_argument, NULL, 'L'},
	    {"skrun", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_strv args = {0}, specs = {0};
	const char *kernel = getenv("SCHEDKIT_KERNEL_CACHE");
	char tmp[] = "/tmp/skbuild-vmtest.XXXXXX", *script = NULL, *skrun = NULL;
	char *opt_skrun = NULL;
	bool have_tmp = false;
	int c, status = SK_EXIT_FAILURE;

	if (!kernel || !*kernel)
		kernel = "/var/cache/schedkit/kernel";
	while ((c = sk_cli_getopt(argc, argv, "h", long_opts)) != -1) {
		switch (c) {
		case 'k':
			kernel = optarg;
			break;
		case 'V':
			sk_strv_push(&args, "--verifier-log");
			sk_strv_push(&args, optarg);
			break;
		case 's':
			sk_strv_push(&args, "--set");
			sk_strv_push(&args, optarg);
			break;
		case 'O':
			sk_strv_push(&args, "--ops");
			sk_strv_push(&args, optarg);
			break;
		case 'L':
			if (strspn(optarg, "0123456789") != strlen(optarg) || !*optarg) {
				sk_die_msg("vmtest: --loops wants a number, got '%s'", optarg);
				status = SK_EXIT_USAGE;
				goto out;
			}
			sk_strv_push(&args, "--loops");
			sk_strv_push(&args, optarg);
			break;
		case 'S':
			opt_skrun = optarg;
			break;
		default: /* -h/--help, or a usage error */
			status = sk_cli_usage(usage, c == 'h');
			goto out;
		}
	}
	if (optind == argc || argc - optind > MAX_ARTIFACTS) {
		if (argc - optind > MAX_ARTIFACTS)
			sk_die_msg("vmtest: at most %d artifacts per boot", MAX_ARTIFACTS);
		status = sk_cli_usage(usage, false);
		goto out;
	}
	{
		char vmlinuz[4200];

		snprintf(vmlinuz, sizeof(vmlinuz), "%s/vmlinuz", kernel);
		if (!sk_is_file(vmlinuz)) {
			sk_die_msg("vmtest: no test kernel at %s (vmlinuz); run `make kernel` in "
				   "schedkit's source tree, or pass --kernel DIR",
				   kernel);
			status = SK_EXIT_NOT_FOUND;
			goto out;
		}
	}
	skrun = opt_skrun ? strdup(opt_skrun) : skb_sibling_tool("skrun");
	if (!skrun) {
		sk_die_msg("vmtest: no skrun next to skbuild; install both (make install) or pass "
			   "--skrun PATH");
		status = SK_EXIT_NOT_FOUND;
		goto out;
	}
	script = skb_data_path("vm/vmtest.sh", "scripts/vmtest.sh");
	if (!script || !sk_is_file(script)) {
		sk_die_msg("vmtest: the VM harness %s is missing; reinstall schedkit",
			   script ? script : "vm/vmtest.sh");
		status = SK_EXIT_NOT_FOUND;
		goto out;
	}
	if (!mkdtemp(tmp)) {
		sk_die_msg("vmtest: cannot create a temporary directory: %s", strerror(errno));
		goto out;
	}
	have_tmp = true;
	for (int i = optind; i < argc; i++) {
		char name[128], layout[4300], spec[4600], *dir = NULL, *tag = NULL;

		if (is_layout(argv[i], &dir, &tag)) {
			const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;

			snprintf(name, sizeof(name), "%.*s", (int)strcspn(base, "."), base);
			snprintf(spec, sizeof(spec), "%s=%s:%s", name, dir, tag ? tag : "");
			free(dir);
			free(tag);
		} else if (build_one(argv[i], kernel, tmp, i, name, sizeof(name), layout,
				     sizeof(layout))) {
			goto out;
		} else {
			snprintf(spec, sizeof(spec), "%s=%s:vmtest", name, layout);
		}
		if (!safe_name(name)) {
			sk_die_msg("vmtest: '%s' gives no usable name ('%s')", argv[i], name);
			goto out;
		}
		sk_strv_push(&specs, spec);
	}
	{
		struct sk_strv cmd = {0};
		pid_t pid;
		int ws;

		sk_strv_push(&cmd, "sh");
		sk_strv_push(&cmd, script);
		sk_strv_push(&cmd, "--skrun");
		sk_strv_push(&cmd, skrun);
		for (size_t i = 0; i < args.n; i++)
			sk_strv_push(&cmd, args.v[i]);
		sk_strv_push(&cmd, "--");
		for (size_t i = 0; i < specs.n; i++)
			sk_strv_push(&cmd, specs.v[i]);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			setenv("SK_KERNEL", kernel, 1);
			execvp("sh", cmd.v);
			_exit(127);
		}
		sk_strv_free(&cmd);
		if (pid < 0 || waitpid(pid, &ws, 0) < 0) {
			sk_die_msg("vmtest: cannot run the VM harness: %s", strerror(errno));
			goto out;
		}
		status = WIFEXITED(ws) ? WEXITSTATUS(ws) : SK_EXIT_FAILURE;
	}
out:
	if (have_tmp)
		sk_rm_rf(tmp);
	free(script);
	free(skrun);
	sk_strv_free(&args);
	sk_strv_free(&specs);
	return status;
}
