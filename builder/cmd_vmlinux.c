/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild vmlinux: the vmlinux.h skbuild compiles against, for editors and other builds. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/kernel.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skbuild vmlinux [--btf SRC] [-o DIR]\n"
		   "\n"
		   "Writes vmlinux.h generated from a kernel's BTF (libbpf's btf_dump).\n"
		   "\n"
		   "  --btf SRC         vmlinux ELF or raw BTF (default: $SKBUILD_BTF, else\n"
		   "                    /sys/kernel/btf/vmlinux); it must contain struct\n"
		   "                    sched_ext_ops\n"
		   "  -o, --output DIR  directory to write vmlinux.h into (default: print the\n"
		   "                    path of the cached header)\n");
}

int cmd_vmlinux(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"btf", required_argument, NULL, 'b'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *btf = getenv("SKBUILD_BTF"), *outdir = NULL;
	char cache[4096], dir[4200], digest[SK_DIGEST_MAX];
	struct sk_error err = {0};
	uint8_t *data = NULL;
	size_t len;
	char *src = NULL, *dst = NULL;
	int c, status = 1;

	while ((c = sk_cli_getopt(argc, argv, "o:h", longopts)) != -1) {
		switch (c) {
		case 'b':
			btf = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (optind != argc)
		return sk_cli_usage(usage, false);
	if (btf && !*btf)
		btf = NULL;
	skb_cache_dir(cache, sizeof(cache), "vmlinux");
	if (sk_vmlinux_h(btf, cache, dir, sizeof(dir), digest, &err))
		goto fail;
	src = sk_path_join(dir, "vmlinux.h");
	if (!outdir) {
		printf("%s\n", src);
		status = 0;
		goto out;
	}
	if (sk_mkdir_p(outdir, 0755, &err))
		goto fail;
	dst = sk_path_join(outdir, "vmlinux.h");
	if (sk_read_file(src, 1u << 30, &data, &len, &err) ||
	    sk_write_file_atomic(dst, data, len, 0644, &err))
		goto fail;
	printf("%s (BTF %s)\n", dst, digest);
	status = 0;
	goto out;
fail:
	sk_die_msg("vmlinux: %s", err.msg);
out:
	free(data);
	free(src);
	free(dst);
	return status;
}
