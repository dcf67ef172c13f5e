/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skr_prepare: the audited path from a reference to a loadable scheduler.
 * Every gate runs before anything reaches the kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/hostcheck.h"
#include "schedkit/registry.h"
#include "schedkit/store.h"
#include "schedkit/trust.h"
#include "skrun.h"

/*
 * Gate 1 and 2: pull into the store by digest (every byte digest-verified),
 * with signature verification between fetching and recording. What is read
 * back is addressed by the digest that was verified, never by tag again.
 */
static int fetch(const char *ref, const struct skr_source_opts *o, struct skr_target *t,
		 struct sk_error *err)
{
	static const char *const unverified[] = {SK_ANN_VERIFIED "=false", NULL};
	struct sk_verify_ctx vctx = {0};
	struct sk_pull_opts po = {0};
	struct sk_store *store = NULL;
	char name[SK_REF_STRING_MAX];
	int ret;

	po.reg = o->reg.opts;
	po.reg.insecure = &o->reg.insecure;
	po.arch = o->arch;
	if (o->insecure_skip_verify) {
		/* Explicit opt-out only: the store entry and the state say so. */
		po.verify = sk_trust_pull_copy_signatures;
		po.record_annotations = unverified;
	} else {
		vctx.opts.policy_path = o->policy;
		vctx.opts.keys = o->keys.n ? (const char *const *)o->keys.v : NULL;
		vctx.opts.identity = o->identity;
		po.verify = sk_trust_pull_verify;
		po.verify_ctx = &vctx;
	}
	ret = sk_store_open(o->store, &store, err);
	if (ret)
		goto out;
	ret = sk_pull(store, ref, &po, t->digest, name, err);
	if (ret) {
		sk_err_prefix(err, "%s: ", ref);
		goto out;
	}
	t->verified = !o->insecure_skip_verify;
	if (t->verified) {
		char *keys = sk_strv_join(&vctx.result.matched, ", ");

		printf("skrun: %s: %s verified (key %s)\n", ref, t->digest, keys ? keys : "?");
		free(keys);
	} else {
		printf("skrun: WARNING: %s: %s was NOT verified (--insecure-skip-verify)\n", ref,
		       t->digest);
	}
	ret = sk_artifact_read(sk_store_layout(store), t->digest, o->arch, &t->artifact, err);
out:
	sk_verify_result_free(&vctx.result);
	sk_store_close(store);
	return ret;
}

/* Gate 3: this kernel's own BTF has every feature the scheduler needs. */
static int check_kernel(const struct skr_source_opts *o, struct skr_target *t, struct sk_error *err)
{
	struct sk_check_report *r = NULL;
	int ret;

	if (o->skip_check)
		return 0;
	ret = sk_host_check(t->artifact->config, o->btf, NULL, &r, err);
	if (!ret && !sk_check_report_ok(r))
		ret = sk_check_report_error(r, err);
	sk_check_report_free(r);
	if (ret)
		sk_err_prefix(err, "%s is not compatible with this kernel: ", t->ref);
	return ret;
}

/*
 * The object itself is validated before libbpf loads it: the analyser checks
 * the ELF and BTF bounds that libbpf 1.4 trusts, and the ops map skrun will
 * select must be there.
 */
static int check_object(struct skr_target *t, struct sk_error *err)
{
	struct sk_sched_info *info = NULL;
	int ret =
	    sk_sched_analyze(t->artifact->object, t->artifact->object_len, t->ops_name, &info, err);

	sk_sched_info_free(info);
	if (ret)
		sk_err_prefix(err, "%s: the BPF object is not usable: ", t->ref);
	return ret;
}

/* Tunables are typed against the object's BTF now, not discovered at load time. */
static int check_sets(struct skr_target *t, struct sk_error *err)
{
	if (!t->sets.n)
		return 0;
	return sk_sched_validate_sets(t->artifact->object, t->artifact->object_len,
				      (const char *const *)t->sets.v, err);
}

int skr_prepare(const char *ref, const struct skr_source_opts *o, struct skr_target *t,
		struct sk_error *err)
{
	int ret;

	snprintf(t->ref, sizeof(t->ref), "%s", ref);
	ret = fetch(ref, o, t, err);
	if (ret)
		return ret;
	ret = check_object(t, err);
	if (!ret)
		ret = check_kernel(o, t, err);
	if (!ret)
		ret = check_sets(t, err);
	return ret;
}

void skr_target_free(struct skr_target *t)
{
	sk_artifact_free(t->artifact);
	t->artifact = NULL;
	sk_strv_free(&t->sets);
}
