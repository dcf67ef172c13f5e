/* SPDX-License-Identifier: Apache-2.0 */
/* skrun policy check: every problem of a trust policy, before verification meets it. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "schedkit/trust.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skrun policy check [--json] [FILE]\n"
		   "\n"
		   "Checks a trust policy (default " SK_POLICY_DEFAULT ") for everything\n"
		   "verification would refuse: unknown fields (with the field meant), the\n"
		   "version, key names, key files (present, readable, ECDSA P-256 or Ed25519\n"
		   "public keys), scope names, the keys each scope lists, thresholds against\n"
		   "the number of keys, require, mirror_of. Every problem is listed with where\n"
		   "it is and how to fix it, not only the first. Warnings name what loads but\n"
		   "cannot be meant: a key no scope trusts, a mirror whose origin no scope\n"
		   "trusts, a policy that trusts nothing. skrun doctor runs the same check.\n"
		   "\n"
		   "Exit status: 0 when verification would accept the policy (warnings\n"
		   "allowed), 1 when it would refuse it, 2 on usage errors.\n"
		   "\n"
		   "  --json   {\"policy\",\"ok\",\"errors\",\"warnings\",\"keys\",\"scopes\",\n"
		   "           \"problems\":[{\"severity\",\"where\",\"message\",\"hint\"}]}\n");
}

static int policy_check(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_policy_lint l = {0};
	struct sk_error err = {0};
	const char *path = SK_POLICY_DEFAULT;
	bool json = false;
	int c, ret;

	while ((c = sk_cli_getopt(argc, argv, "h", long_opts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (argc - optind > 1)
		return sk_cli_usage(usage, false);
	if (optind < argc)
		path = argv[optind];
	if (sk_policy_lint(path, &l, &err)) {
		sk_die_msg("policy check: %s", err.msg);
		return SK_EXIT_FAILURE;
	}
	if (json) {
		struct json_object *j = sk_policy_lint_to_json(path, &l);

		if (!j) {
			sk_die_msg("policy check: out of memory");
			sk_policy_lint_free(&l);
			return SK_EXIT_FAILURE;
		}
		sk_cli_print_json(j);
		json_object_put(j);
	} else {
		for (size_t i = 0; i < l.n; i++) {
			const struct sk_lint_problem *p = &l.v[i];

			printf("%s: %s%s%s\n", sk_lint_severity_str(p->severity), p->where,
			       *p->where ? ": " : "", p->msg);
			if (p->hint)
				printf("  hint: %s\n", p->hint);
		}
		if (l.errors)
			printf("%s: %zu error(s), %zu warning(s): verification would refuse this "
			       "policy\n",
			       path, l.errors, l.warnings);
		else
			printf("%s: valid (%zu key(s), %zu scope(s)%s%zu warning(s))\n", path,
			       l.nkeys, l.nscopes, ", ", l.warnings);
	}
	ret = l.errors ? SK_EXIT_FAILURE : SK_EXIT_OK;
	sk_policy_lint_free(&l);
	return ret;
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2)
		return sk_cli_usage(usage, false);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return sk_cli_usage(usage, true);
	if (!strcmp(argv[1], "check"))
		return policy_check(argc - 1, argv + 1);
	sk_die_msg("policy: '%s' is not a policy command; see 'skrun policy --help'", argv[1]);
	return SK_EXIT_USAGE;
}
