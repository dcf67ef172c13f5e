/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skr_prepare: the audited path from a reference to a loadable scheduler.
 * Every gate runs before anything reaches the kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int skr_prepare(const char *ref, const struct skr_source_opts *o, struct skr_target *t,
		struct sk_error *err)
{
	int ret;

	snprintf(t->ref, sizeof(t->ref), "%s", ref);
	ret = fetch(ref, o, t, err);
	if (ret)
		return ret;
	t->verified = false;
	return 0;
}

void skr_target_free(struct skr_target *t)
{
	sk_artifact_free(t->artifact);
	t->artifact = NULL;
	sk_strv_free(&t->sets);
}
