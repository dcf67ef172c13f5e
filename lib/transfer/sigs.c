/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures on their way from a source into the store. Reading is lenient
 * (a junk layer costs a counter, not the good signatures next to it) and
 * bounded; keeping is strict: the store only ever holds signatures that
 * verified, so nobody can plant layers there through a refused pull.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void sk_sigset_free(struct sk_sigset *s)
{
	for (size_t i = 0; s->payloads && i < s->npayloads; i++)
		sk_buf_free(&s->payloads[i]);
	free(s->payloads);
	sk_sig_list_free(&s->list);
	memset(s, 0, sizeof(*s));
}

int sk_sigset_fetch(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
		    struct sk_error *err)
{
	struct sk_buf m = {0};
	struct sk_descriptor d;
	struct sk_error e = {0};
	char tag[SK_SIG_TAG_MAX];
	size_t kept = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = sk_sig_tag(digest, tag, err);
	if (ret)
		return ret;
	ret = sk_fetch_manifest(f, tag, SK_MANIFEST_MAX, &m, &d, &e);
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		if (err)
			*err = e;
		return sk_err_prefix(err, "signatures of %s: ", digest);
	}
	out->found = true;
	if (sk_sigmanifest_parse_lenient(m.data, m.len, SK_SIGS_READ_MAX, &out->list, &out->skipped,
					 NULL)) {
		/* a manifest that is not one at all: nothing to judge, and said so */
		out->skipped++;
		goto out;
	}
	out->payloads = calloc(out->list.n ? out->list.n : 1, sizeof(*out->payloads));
	if (!out->payloads) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < out->list.n; i++) {
		struct sk_sig_entry *s = &out->list.v[i];
		struct sk_buf b = {0};

		ret = sk_fetch_blob(f, s->digest, s->size, SK_PAYLOAD_MAX, &b, &e);
		if (ret == -ENOMEM) {
			*err = e;
			goto out;
		}
		ret = 0;
		if (!b.data) {
			/* unreadable payload: drop the entry, keep the rest */
			out->skipped++;
			free(s->signature);
			json_object_put(s->annotations);
			continue;
		}
		out->list.v[kept] = *s;
		out->payloads[kept] = b;
		out->npayloads = ++kept;
	}
	out->list.n = kept;
	out->npayloads = kept;
out:
	sk_buf_free(&m);
	if (ret)
		sk_sigset_free(out);
	return ret;
}

int sk_sigset_stored(struct sk_store *st, const char *digest, struct sk_sigset *out,
		     struct sk_error *err)
{
	struct sk_source src = {.kind = SK_SOURCE_LAYOUT, .path = (char *)sk_store_dir(st)};
	struct sk_fetch *f = NULL;
	int ret = sk_fetch_open(&src, NULL, &f, err);

	memset(out, 0, sizeof(*out));
	if (ret)
		return ret;
	ret = sk_sigset_fetch(f, digest, out, err);
	sk_fetch_close(f);
	return ret;
}

int sk_sigset_judge(const struct sk_sigset *set, const struct sk_verify_opts *o,
		    const char *identity, const char *digest, struct sk_verify_result *res,
		    bool *accepted, struct sk_error *err)
{
	struct sk_trust_signature *sigs = NULL;
	int ret;

	if (set->list.n) {
		sigs = calloc(set->list.n, sizeof(*sigs));
		if (!sigs)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < set->list.n; i++) {
		sigs[i].payload = set->payloads[i].data;
		sigs[i].payload_len = set->payloads[i].len;
		sigs[i].signature = set->list.v[i].signature;
	}
	res->skipped = set->skipped;
	ret = sk_trust_judge(o, identity, digest, sigs, set->list.n, res, accepted, err);
	if (ret && set->skipped)
		sk_err_prefix(err, "(%zu unreadable or surplus signature layer%s skipped) ",
			      set->skipped, set->skipped == 1 ? "" : "s");
	free(sigs);
	return ret;
}

int sk_sigset_keep(struct sk_store *st, const char *digest, const struct sk_sigset *fresh,
		   const bool *accepted, struct sk_error *err)
{
	struct sk_sigset have = {0};
	struct sk_buf m = {0}, cfg = {0};
	struct sk_descriptor d = {0};
	char tag[SK_SIG_TAG_MAX], cfg_digest[80];
	size_t added = 0;
	int ret;

	ret = sk_sig_tag(digest, tag, err);
	if (!ret)
		ret = sk_sigset_stored(st, digest, &have, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < fresh->list.n && have.list.n < SK_SIGS_KEEP_MAX; i++) {
		if (!accepted[i])
			continue;
		ret = sk_store_put(st, fresh->payloads[i].data, fresh->payloads[i].len,
				   fresh->list.v[i].digest, err);
		if (ret)
			goto out;
		ret = sk_sig_list_add(&have.list, fresh->payloads[i].data, fresh->payloads[i].len,
				      fresh->list.v[i].signature, err);
		if (ret < 0)
			goto out;
		added += (size_t)ret;
	}
	ret = 0;
	if (!added)
		goto out;
	ret = sk_sigmanifest_build(&have.list, &m, &cfg, cfg_digest, err);
	if (!ret)
		ret = sk_store_put(st, cfg.data, cfg.len, cfg_digest, err);
	if (ret)
		goto out;
	sk_digest_buf(m.data, m.len, d.digest);
	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	d.size = (int64_t)m.len;
	ret = sk_store_put(st, m.data, m.len, d.digest, err);
	if (!ret)
		ret = sk_store_record(st, tag, &d, err);
out:
	if (ret)
		sk_err_prefix(err, "keeping the signatures of %s in the store: ", digest);
	sk_buf_free(&m);
	sk_buf_free(&cfg);
	sk_sigset_free(&have);
	return ret;
}
