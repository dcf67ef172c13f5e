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
#include "skrun.h"

/* Gate 1: fetch by digest (digest-verified by the reader). */
static int fetch(const char *ref, const struct skr_source_opts *o, struct skr_target *t,
		 struct sk_error *err)
{
	struct sk_layout *l = NULL;
	char *dir = NULL, *tag = NULL;
	int ret;

	if (sk_layout_ref_split(ref, &dir, &tag))
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_layout_open(dir, &l, err);
	if (!ret)
		ret = sk_artifact_read(l, tag, o->arch, &t->artifact, err);
	if (!ret)
		snprintf(t->digest, sizeof(t->digest), "%s",
			 t->artifact->index_digest[0] ? t->artifact->index_digest
						      : t->artifact->manifest_digest);
	sk_layout_close(l);
	free(dir);
	free(tag);
	return ret;
}

/* Gate 3: this kernel's own BTF has every feature the scheduler needs. */
static int check_kernel(const struct skr_source_opts *o, struct skr_target *t,
			struct sk_error *err)
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
	t->verified = false;
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
