/* SPDX-License-Identifier: Apache-2.0 */
/* skrun store: look after the local content store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/common.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun store verify [--store DIR]\n"
		   "\n"
		   "verify  re-hash every blob in the store and check that every recorded\n"
		   "        reference is complete: its manifests, configs and layers present,\n"
		   "        well-formed and of the size their descriptors give, and each name\n"
		   "        recorded once. Prints a summary and exits 0 when the store is\n"
		   "        consistent; lists each problem and exits 1 otherwise.\n"
		   "\n"
		   "  --store DIR   the content store (default " SK_STORE_DEFAULT ")\n");
}

static int store_verify(const char *dir)
{
	struct sk_store_report r;
	struct sk_error err = {0};
	struct sk_store *s = NULL;
	char *marker = sk_path_join(dir, "oci-layout");
	int ret = 1;

	if (!marker) {
		sk_die_msg("store verify: out of memory");
		return 1;
	}
	/* checking must not create an empty store where there was none */
	if (!sk_is_file(marker)) {
		sk_die_msg("store verify: %s is not a content store (it has no oci-layout file); "
			   "pass the directory skrun pull --store used",
			   dir);
		goto out;
	}
	if (sk_store_open(dir, &s, &err)) {
		sk_die_msg("store verify: %s", err.msg);
		goto out;
	}
	if (sk_store_verify(s, &r, &err)) {
		sk_die_msg("store verify: %s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < r.problems.n; i++)
		sk_die_msg("store verify: %s: %s", dir, r.problems.v[i]);
	printf("store %s: %u blobs (%llu bytes) re-hashed, %u references, %u manifests checked, "
	       "%u unreferenced blobs: ",
	       dir, r.blobs, (unsigned long long)r.bytes, r.refs, r.manifests, r.unreferenced);
	if (r.problems.n) {
		printf("%zu problem(s)\n", r.problems.n);
		sk_die_msg("store verify: %s is NOT consistent (%zu problem(s) above); pull the "
			   "affected references again",
			   dir, r.problems.n);
	} else {
		printf("consistent\n");
		ret = 0;
	}
	sk_store_report_free(&r);
out:
	sk_store_close(s);
	free(marker);
	return ret;
}

int cmd_store(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = SK_STORE_DEFAULT, *sub;
	int c;

	if (argc < 2)
		return sk_cli_usage(usage, false);
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help"))
		return sk_cli_usage(usage, true);
	argc--;
	argv++;
	while ((c = sk_cli_getopt(argc, argv, "h", long_opts)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (optind != argc)
		return sk_cli_usage(usage, false);
	if (!strcmp(sub, "verify"))
		return store_verify(dir);
	sk_die_msg("store: '%s' is not a store command; see 'skrun store --help'", sub);
	return 2;
}
