/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Judging the signatures found for a digest: the policy (a file, or the keys
 * given on the command line) against bytes already in memory. Where the
 * bytes came from is the caller's business (lib/transfer).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/trust.h"
#include "internal.h"

int sk_trust_load_policy(const struct sk_verify_opts *o, struct sk_policy **p, struct sk_error *err)
{
	const char *path = o && o->policy_path ? o->policy_path : SK_POLICY_DEFAULT;

	if (o && o->keys) {
		size_t n = 0;

		while (o->keys[n])
			n++;
		return sk_policy_from_keys((const char *const *)o->keys, n, o->require, p, err);
	}
	if (o && o->require && o->require->n)
		return sk_errf(err, -EINVAL,
			       "required annotations on the command line go with --key; a "
			       "policy file names its own (\"require\" in a scope)");
	if ((!o || !o->policy_path) && access(path, F_OK))
		return sk_errf(err, -ENOENT,
			       "no trust policy: %s does not exist; write one (docs/policy.md), "
			       "or pass --policy FILE or --key PUB",
			       path);
	return sk_policy_load(path, p, err);
}

int sk_trust_repo_identity(const char *s, bool need_registry, char out[512], struct sk_error *err)
{
	struct sk_ref ref;
	const char *slash = strchr(s, '/');
	int ret;

	if (need_registry) {
		size_t n = slash ? (size_t)(slash - s) : 0;

		if (!slash || (!memchr(s, '.', n) && !memchr(s, ':', n) &&
			       !(n == 9 && !strncmp(s, "localhost", 9))))
			return sk_errf(err, -EINVAL,
				       "\"%s\" does not name a repository (HOST/REPO): pass "
				       "--identity HOST/REPO, the repository it was signed for",
				       s);
	}
	ret = sk_ref_parse(s, &ref, err);
	if (ret)
		return sk_err_prefix(err, "identity \"%s\": ", s);
	snprintf(out, 512, "%s/%s", ref.registry, ref.repo);
	return 0;
}

int sk_trust_judge(const struct sk_verify_opts *o, const char *identity, const char *digest,
		   const struct sk_trust_signature *sigs, size_t n, struct sk_verify_result *res,
		   bool *accepted, struct sk_error *err)
{
	struct sk_trust_verdict v = {0};
	struct sk_policy *p = NULL;
	size_t skipped = res->skipped;
	int ret;

	sk_strv_free(&res->matched);
	memset(res, 0, sizeof(*res));
	res->skipped = skipped;
	snprintf(res->digest, sizeof(res->digest), "%s", digest);
	snprintf(res->identity, sizeof(res->identity), "%s", identity);
	res->reason = SK_TRUST_NOT_VERIFIED;
	res->nsigs = n;
	for (size_t i = 0; accepted && i < n; i++)
		accepted[i] = false;
	ret = sk_trust_load_policy(o, &p, err);
	if (ret)
		return ret;
	ret = sk_policy_evaluate(p, identity, digest, sigs, n, &v, err);
	res->reason = ret ? v.reason : SK_TRUST_OK;
	snprintf(res->scope, sizeof(res->scope), "%s", v.scope);
	for (size_t i = 0; !ret && i < v.matched.n; i++)
		if (sk_strv_push(&res->matched, v.matched.v[i]))
			ret = sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; !ret && accepted && i < v.nsigs && i < n; i++)
		accepted[i] = v.sigs[i].reason == SK_TRUST_OK;
	sk_trust_verdict_free(&v);
	sk_policy_free(p);
	return ret;
}

void sk_verify_result_free(struct sk_verify_result *r)
{
	sk_strv_free(&r->matched);
}
