/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which endpoints a registry pull tries, in order (registries.conf mirrors,
 * then the primary location), and how their failures are reported. The
 * caller keeps judging trust on the source as the user named it: an
 * endpoint only changes where the bytes come from (docs/mirrors.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void sk_route_free(struct sk_route *r)
{
	for (size_t i = 0; r->insecure && i < r->n; i++)
		sk_strv_free(&r->insecure[i]);
	free(r->insecure);
	free(r->reg);
	free(r->via);
	free(r->ep);
	sk_buf_free(&r->why);
	memset(r, 0, sizeof(*r));
}

int sk_route_open(const struct sk_source *src, const struct sk_registry_opts *reg,
		  struct sk_route *r, struct sk_error *err)
{
	struct sk_regconf conf = {0};
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (src->kind == SK_SOURCE_REGISTRY) {
		ret = sk_regconf_load(reg->registries_conf, &conf, err);
		if (!ret)
			ret = sk_regconf_endpoints(&conf, &src->ref, &r->ep, &r->n, err);
		sk_regconf_free(&conf);
		if (ret)
			return ret;
	} else {
		r->n = 1;
	}
	r->via = calloc(r->n, sizeof(*r->via));
	r->reg = calloc(r->n, sizeof(*r->reg));
	r->insecure = calloc(r->n, sizeof(*r->insecure));
	if (!r->via || !r->reg || !r->insecure) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		r->via[i] = *src;
		r->reg[i] = *reg;
		if (!r->ep)
			continue;
		r->via[i].ref = r->ep[i].ref;
		for (size_t j = 0; reg->insecure && j < reg->insecure->n; j++)
			if (sk_strv_push(&r->insecure[i], reg->insecure->v[j]))
				ret = -ENOMEM;
		if (r->ep[i].insecure && (sk_strv_push(&r->insecure[i], r->ep[i].ref.host) ||
					  sk_strv_push(&r->insecure[i], r->ep[i].ref.registry)))
			ret = -ENOMEM;
		r->reg[i].insecure = &r->insecure[i];
		/* credentials given for the command go to the registry it names, not to
		 * mirrors: those get what the auth files hold for their own host */
		if (r->ep[i].mirror && !reg->no_cred_lookup) {
			r->reg[i].username = NULL;
			r->reg[i].password = NULL;
			r->reg[i].cred_source = NULL;
		}
	}
	if (ret)
		ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	if (ret)
		sk_route_free(r);
	return ret;
}

/* Failures of this host or of the request itself: no other endpoint does better. */
static bool local_failure(int code)
{
	return code == -ENOMEM || code == -ENOSPC || code == -EDQUOT || code == -EROFS;
}

bool sk_route_next(struct sk_route *r, size_t i, struct sk_error *err)
{
	const char *msg = err && err->msg[0] ? err->msg : "failed";
	bool more = i + 1 < r->n && !(err && local_failure(err->code));

	if (r->n <= 1)
		return false;
	r->failed++;
	sk_buf_printf(&r->why, "%s%s: %.600s", r->why.len ? "; " : "", r->ep[i].label, msg);
	if (more) {
		fprintf(stderr, "%s failed: %s; trying %s\n", r->ep[i].label, msg,
			r->ep[i + 1].label);
		return true;
	}
	if (err && r->failed > 1)
		snprintf(err->msg, sizeof(err->msg), "no endpoint served it (%zu tried): %s",
			 r->failed, r->why.len ? (const char *)r->why.data : "");
	else if (err && i + 1 < r->n)
		sk_err_prefix(err, "%s: ", r->ep[i].label);
	return false;
}

void sk_route_served(const struct sk_route *r, size_t i, bool verbose)
{
	if (r->ep && r->n > 1 && (verbose || r->failed))
		fprintf(stderr, "fetched from %s\n", r->ep[i].label);
}
