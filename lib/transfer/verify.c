/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verification without a pull: of a digest the store holds (offline), or of
 * a source whose tag is resolved once and whose signatures are judged where
 * they are. Nothing is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int sk_trust_verify_stored(struct sk_store *st, const char *identity, const char *digest,
			   const struct sk_verify_opts *o, struct sk_verify_result *res,
			   struct sk_error *err)
{
	struct sk_sigset set = {0};
	char repo[512];
	int ret;

	memset(res, 0, sizeof(*res));
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
	ret = sk_trust_repo_identity(identity, false, repo, err);
	if (!ret)
		ret = sk_sigset_stored(st, digest, &set, err);
	if (!ret)
		ret = sk_sigset_judge(&set, o, repo, digest, res, NULL, err);
	sk_sigset_free(&set);
	return ret;
}

/* src as the user named it (trust is judged on it), fetched through via with reg. */
static int verify_at(const struct sk_source *src, const struct sk_source *via,
		     const struct sk_registry_opts *reg, const struct sk_pull_opts *po,
		     const struct sk_verify_opts *o, struct sk_verify_result *res,
		     struct sk_error *err)
{
	struct sk_fetch_opts fo = {.reg = *reg};
	struct sk_fetch *f = NULL;
	struct sk_sigset set = {0};
	struct sk_descriptor top = {0};
	struct sk_buf body = {0};
	char identity[512];
	int ret;

	sk_verify_result_free(res);
	memset(res, 0, sizeof(*res));
	if (po) {
		fo.helper = po->fetch_helper;
		fo.user = po->fetch_user;
	}
	ret = sk_fetch_open(via, &fo, &f, err);
	if (ret)
		goto out;
	if (src->kind == SK_SOURCE_REGISTRY && src->ref.digest[0]) {
		/* pinned: the signed payload names the digest; the manifest adds nothing */
		snprintf(top.digest, sizeof(top.digest), "%s", src->ref.digest);
	} else {
		ret = sk_fetch_manifest(
		    f, src->kind == SK_SOURCE_REGISTRY ? sk_ref_reference(&via->ref) : src->tag,
		    SK_MANIFEST_MAX, &body, &top, err);
		if (ret)
			goto out;
	}
	if (src->kind == SK_SOURCE_REGISTRY)
		sk_source_identity(src, identity);
	else if (o && o->identity)
		ret = sk_trust_repo_identity(o->identity, false, identity, err);
	else if (top.ref_name[0])
		ret = sk_trust_repo_identity(top.ref_name, true, identity, err);
	else
		ret = sk_errf(err, -EINVAL,
			      "%s has no name to take the repository from: pass --identity "
			      "HOST/REPO, the repository it was signed for",
			      top.digest);
	if (!ret)
		ret = sk_sigset_fetch(f, top.digest, &set, err);
	if (!ret)
		ret = sk_sigset_judge(&set, o, identity, top.digest, res, NULL, err);
	if (!ret && reg->verbose && src->kind == SK_SOURCE_REGISTRY)
		fprintf(stderr, "registry: %u requests\n", sk_fetch_requests(f));
out:
	sk_sigset_free(&set);
	sk_buf_free(&body);
	sk_fetch_close(f);
	return ret;
}

int sk_trust_verify_source(const char *s, const struct sk_pull_opts *po,
			   const struct sk_verify_opts *o, struct sk_verify_result *res,
			   struct sk_error *err)
{
	static const struct sk_registry_opts noreg;
	struct sk_source src;
	struct sk_route r = {0};
	int ret;

	memset(res, 0, sizeof(*res));
	ret = sk_source_parse(s, &src, err);
	if (ret)
		return ret;
	ret = sk_route_open(&src, po ? &po->reg : &noreg, &r, err);
	for (size_t i = 0; !ret && i < r.n; i++) {
		ret = verify_at(&src, &r.via[i], &r.reg[i], po, o, res, err);
		if (!ret) {
			sk_route_served(&r, i, po && po->reg.verbose);
			break;
		}
		if (!sk_route_next(&r, i, err))
			break;
		if (err)
			memset(err, 0, sizeof(*err));
		ret = 0;
	}
	if (ret)
		sk_err_prefix(err, "verifying %s: ", s);
	sk_route_free(&r);
	sk_source_free(&src);
	return ret;
}
