/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild save: an artifact (every platform) as an oci-archive tarball for air-gapped hosts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/registry.h"
#include "schedkit/transfer.h"
#include "schedkit/store.h"
#include "schedkit/trust.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skbuild save REF|LAYOUT[:TAG] -o FILE.tar [options]\n"
		"\n"
		"Writes the artifact (its index and every platform) as an oci-archive: a tar\n"
		"of an OCI layout, byte-for-byte the same for the same content. From a\n"
		"registry the entry is named by the full reference, so `skrun pull FILE.tar`\n"
		"records the same name a pull from the registry would. Signatures travel\n"
		"along: the sha256-<hex>.sig manifests of the index and of each platform\n"
		"manifest (and their payloads) and their Sigstore bundles (the sha256-<hex>\n"
		"referrers), so the archive verifies offline.\n"
		"\n"
		"  -o, --output FILE   the archive to write (required)\n"
		"%s%s",
		SK_REGISTRY_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

int cmd_save(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	/* not a verification: save copies the signatures; the host that pulls judges them */
	struct sk_pull_opts opts = {
	    .all_platforms = true, .with_source = true, .copy_signatures = true};
	struct sk_registry_cli reg = {0};
	struct sk_error err = {0};
	struct sk_store *s = NULL;
	const char *out = NULL, *tmpbase = getenv("TMPDIR");
	char tmp[4096], digest[SK_DIGEST_MAX];
	bool made = false;
	int c, ret = 1;

	while ((c = sk_cli_getopt(argc, argv, "o:vh", long_opts)) != -1) {
		if (sk_registry_cli_opt(&reg, c, optarg))
			continue;
		switch (c) {
		case 'o':
			out = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (argc - optind != 1 || !out)
		return sk_cli_usage(usage, false);
	if (sk_registry_cli_finish(&reg, argv[optind]))
		goto done;
	opts.reg = reg.opts;
	snprintf(tmp, sizeof(tmp), "%s/skbuild-save-XXXXXX",
		 tmpbase && *tmpbase ? tmpbase : "/tmp");
	if (!mkdtemp(tmp)) {
		sk_die_msg("save: cannot create a temporary directory in %s",
			   tmpbase ? tmpbase : "/tmp");
		goto done;
	}
	made = true;
	if (sk_store_open(tmp, &s, &err) || sk_pull(s, argv[optind], &opts, digest, NULL, &err) ||
	    sk_archive_write(tmp, out, &err)) {
		sk_die_msg("save: %s", err.msg);
		goto done;
	}
	printf("%s\n", digest);
	ret = 0;
done:
	sk_store_close(s);
	if (made)
		sk_rm_rf(tmp);
	sk_registry_cli_free(&reg);
	return ret;
}
