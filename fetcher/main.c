/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun-fetch: the only part of schedkit on a host that talks to registries
 * or reads archives. skrun starts it as an unprivileged user with no
 * capabilities and no_new_privs; it confines itself further with Landlock
 * and answers skrun's requests (lib/transfer/proto.c) until told to stop.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"

int main(int argc, char **argv)
{
	const char *ca_cert = NULL;
	bool archive = false;
	char desc[256];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--archive")) {
			archive = true;
		} else if (!strcmp(argv[i], "--ca-cert-fd")) {
			ca_cert = CA_PATH;
		} else {
			fprintf(stderr,
				"usage: skrun-fetch [--archive] [--ca-cert-fd]\n"
				"skrun starts this helper itself; it is not run by hand.\n");
			return 2;
		}
	}
	if (!getuid() || !geteuid()) {
		fprintf(stderr, "skrun-fetch: refusing to run as root: skrun starts it as an "
				"unprivileged user (set SKRUN_FETCH_USER to choose which)\n");
		return 2;
	}
	/* relative paths land in staging (an archive is extracted into ".") */
	if (fchdir(FD_STAGE)) {
		perror("skrun-fetch: staging directory");
		return 1;
	}
	if (skf_sandbox(FD_STAGE, ca_cert != NULL, desc, sizeof(desc))) {
		fprintf(stderr, "skrun-fetch: %s\n", desc);
		return 1;
	}
	return skf_serve(desc, ca_cert, archive);
}
