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
#include "schedkit/transfer.h"
#include "schedkit/store.h"
#include "schedkit/trust.h"
#include "skrun.h"

static void helper_report(void *ctx, const char *report)
{
	(void)ctx;
	printf("skrun: fetch helper: %s\n", report);
	fflush(stdout);
}

/*
 * Gates 1 and 2: pull into the store by digest through the fetch helper,
 * the signatures judged before any layer is fetched. What is read back is
 * addressed by the digest that was verified, never by tag again.
 */
/*
 * Gate 3 ahead of the download, on the config alone: a scheduler this kernel
 * cannot run is neither fetched nor kept. skr_prepare_stored checks again,
 * for what was in the store already.
 */
static int accept_config(void *ctx, const char *manifest_digest, struct json_object *config,
			 struct sk_error *err)
{
	const struct skr_source_opts *o = ctx;
	struct sk_check_report *r = NULL;
	int ret = sk_host_check(config, o->btf, NULL, &r, err);

	if (!ret && !sk_check_report_ok(r))
		ret = sk_check_report_error(r, err);
	sk_check_report_free(r);
	if (ret)
		sk_err_prefix(err, "%s is not compatible with this kernel: ", manifest_digest);
	return ret;
}

int skr_fetch(const char *ref, const struct skr_source_opts *o, char digest[SK_DIGEST_MAX],
	      struct sk_error *err)
{
	static const char *const unverified[] = {SK_ANN_VERIFIED "=false", NULL};
	struct sk_verify_opts vopts = {0};
	struct sk_verify_result vres = {0};
	struct sk_pull_opts po = {0};
	struct sk_store *store = NULL;
	struct sk_error warning = {0};
	char name[SK_REF_STRING_MAX], refused[SK_DIGEST_MAX] = "";
	int ret;

	po.reg = o->reg.opts;
	po.reg.insecure = &o->reg.insecure;
	po.arch = o->arch;
	po.on_helper = helper_report;
	po.policy = o->pull;
	po.lease = o->lease;
	po.warning = &warning;
	po.refused = refused;
	po.accept_top = o->accept_top;
	po.accept_top_ctx = o->accept_top_ctx;
	if (o->check_first && !o->skip_check) {
		po.accept_config = accept_config;
		po.accept_ctx = (void *)o;
	}
	if (o->insecure_skip_verify) {
		/* Explicit opt-out only: the store entry and the state say so. */
		po.record_annotations = unverified;
	} else {
		vopts.policy_path = o->policy;
		vopts.keys = o->keys.n ? (const char *const *)o->keys.v : NULL;
		vopts.identity = o->identity;
		po.verify = &vopts;
		po.result = &vres;
	}
	digest[0] = '\0';
	ret = sk_store_open(o->store, &store, err);
	if (ret)
		goto out;
	ret = sk_pull(store, ref, &po, digest, name, err);
	if (ret) {
		snprintf(digest, SK_DIGEST_MAX, "%s", refused);
		if (!o->insecure_skip_verify && sk_unsigned_build_explain(ref, err))
			ret = err->code;
		sk_err_prefix(err, "%s: ", ref);
		goto out;
	}
	if (warning.code)
		printf("skrun: warning: %s: %s\n", ref, warning.msg);
	if (!o->insecure_skip_verify) {
		char *keys = sk_strv_join(&vres.matched, ", ");

		printf("skrun: %s: %s verified (key %s)\n", ref, digest, keys ? keys : "?");
		free(keys);
	} else {
		printf("skrun: WARNING: %s: %s was NOT verified (--insecure-skip-verify)\n", ref,
		       digest);
	}
	fflush(stdout);
out:
	sk_verify_result_free(&vres);
	sk_store_close(store);
	return ret;
}

static int read_stored(const struct skr_source_opts *o, struct skr_target *t, struct sk_error *err)
{
	struct sk_store *store = NULL;
	int ret = sk_store_open(o->store, &store, err);

	if (!ret)
		ret =
		    sk_artifact_read(sk_store_layout(store), t->digest, o->arch, &t->artifact, err);
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
	/* the checks without a libbpf open: the load opens the object, once */
	int ret = sk_sched_check_object(t->artifact->object, t->artifact->object_len, t->ops_name,
					NULL, err);

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

int skr_prepare_stored(const char *ref, const char *digest, const struct skr_source_opts *o,
		       struct skr_target *t, struct sk_error *err)
{
	int ret;

	snprintf(t->ref, sizeof(t->ref), "%s", ref);
	snprintf(t->digest, sizeof(t->digest), "%s", digest);
	t->verified = !o->insecure_skip_verify;
	ret = read_stored(o, t, err);
	if (!ret)
		ret = check_object(t, err);
	if (!ret)
		ret = check_kernel(o, t, err);
	if (!ret)
		ret = check_sets(t, err);
	return ret;
}

int skr_prepare(const char *ref, const struct skr_source_opts *o, struct skr_target *t,
		struct sk_error *err)
{
	char digest[SK_DIGEST_MAX];
	int ret = skr_fetch(ref, o, digest, err);

	return ret ? ret : skr_prepare_stored(ref, digest, o, t, err);
}

void skr_target_free(struct skr_target *t)
{
	sk_artifact_free(t->artifact);
	t->artifact = NULL;
	sk_strv_free(&t->sets);
}
