/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "schedkit/transfer.h"

int sk_registry_cli_opt(struct sk_registry_cli *c, int opt, const char *arg)
{
	switch (opt) {
	case SK_REGISTRY_OPT_INSECURE:
		c->insecure_ref = true;
		return 1;
	case SK_REGISTRY_OPT_INSECURE_REGISTRY:
		if (sk_strv_push(&c->insecure, arg))
			c->oom = true;
		return 1;
	case SK_REGISTRY_OPT_CA_CERT:
		c->opts.ca_cert = arg;
		return 1;
	case SK_REGISTRY_OPT_AUTHFILE:
		c->opts.auth_file = arg;
		return 1;
	case 'v':
		c->opts.verbose = true;
		return 1;
	default:
		return 0;
	}
}

int sk_registry_cli_finish(struct sk_registry_cli *c, const char *ref)
{
	struct sk_source src;

	/* layouts and archives have no host to name */
	if (c->insecure_ref && ref && !sk_source_parse(ref, &src, NULL)) {
		if (src.kind == SK_SOURCE_REGISTRY && sk_strv_push(&c->insecure, src.ref.host))
			c->oom = true;
		sk_source_free(&src);
	}
	c->opts.insecure = &c->insecure;
	return c->oom ? -ENOMEM : 0;
}

void sk_registry_cli_free(struct sk_registry_cli *c)
{
	sk_strv_free(&c->insecure);
}
