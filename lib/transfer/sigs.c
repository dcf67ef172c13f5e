/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures on their way from a source into the store. Reading is lenient
 * (a junk layer costs a counter, not the good signatures next to it) and
 * bounded; keeping is strict: the store only ever holds signatures that
 * verified, so nobody can plant layers there through a refused pull.
 *
 * Two kinds are read for a digest:
 *  - cosign's legacy signatures: the sha256-<hex>.sig manifest, one
 *    simple-signing payload per layer;
 *  - Sigstore bundles (cosign v3): manifests whose subject is the digest and
 *    whose one layer is a bundle, found through the OCI 1.1 referrers API
 *    where the registry has it, else through the referrers tag scheme (the
 *    sha256-<hex> tag holds an index of them), which is also how layouts,
 *    archives and the store carry them.
 * Bundles cost requests that a digest signed the legacy way never needs, so
 * a set read from a source looks for them only when the legacy signatures do
 * not satisfy the policy (sk_sigset_judge).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schedkit/sigstore.h"

/* A referrer manifest is a few hundred bytes; its config is "{}". */
#define REFERRER_MANIFEST_MAX (64u << 10)
#define REFERRER_CONFIG_MAX   (64u << 10)
/* sha256 of "{}", the OCI empty descriptor cosign gives bundle manifests as config */
#define EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

static void bundle_free(struct sk_sigbundle *b)
{
	sk_buf_free(&b->manifest);
	sk_buf_free(&b->config);
	sk_buf_free(&b->bundle);
}

void sk_sigset_free(struct sk_sigset *s)
{
	for (size_t i = 0; s->payloads && i < s->npayloads; i++)
		sk_buf_free(&s->payloads[i]);
	free(s->payloads);
	sk_sig_list_free(&s->list);
	for (size_t i = 0; i < s->nbundles; i++)
		bundle_free(&s->bundles[i]);
	free(s->bundles);
	memset(s, 0, sizeof(*s));
}

/* "sha256-<hex>": the referrers tag scheme's tag for digest. */
static int referrers_tag(const char *digest, char out[SK_SIG_TAG_MAX], struct sk_error *err)
{
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
	snprintf(out, SK_SIG_TAG_MAX, "sha256-%s", digest + 7);
	return 0;
}

static int fetch_legacy(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
			struct sk_error *err)
{
	struct sk_buf m = {0};
	struct sk_descriptor d;
	struct sk_error e = {0};
	char tag[SK_SIG_TAG_MAX];
	size_t kept = 0;
	int ret;

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
	return ret;
}

/*
 * The referrers of digest: through the referrers API when the source is a
 * registry that has it, else the referrers tag. 0 with list empty when none.
 */
static int referrer_index(struct sk_fetch *f, const char *digest, struct sk_buf *list,
			  struct sk_error *err)
{
	struct sk_descriptor d;
	struct sk_error e = {0};
	char tag[SK_SIG_TAG_MAX];
	bool supported = false;
	int ret;

	memset(list, 0, sizeof(*list));
	ret = sk_fetch_referrers(f, digest, SK_MT_SIGSTORE_BUNDLE, SK_MANIFEST_MAX, list,
				 &supported, err);
	if (ret || supported)
		return ret;
	ret = referrers_tag(digest, tag, err);
	if (ret)
		return ret;
	ret = sk_fetch_manifest(f, tag, SK_MANIFEST_MAX, list, &d, &e);
	if (ret == -ENOENT)
		return 0;
	if (ret && err)
		*err = e;
	return ret;
}

/* Whether an index entry may be a cosign signature bundle (what is not is never fetched). */
static bool maybe_signature(struct json_object *entry, const struct sk_descriptor *d)
{
	struct json_object *ann;
	const char *pt;

	if (strcmp(d->media_type, SK_MT_MANIFEST))
		return false;
	/* cosign 3.1 lists its bundles with the config's type, the empty descriptor's */
	if (d->artifact_type[0] && strcmp(d->artifact_type, SK_MT_SIGSTORE_BUNDLE) &&
	    strcmp(d->artifact_type, SK_MT_EMPTY))
		return false;
	pt = json_object_object_get_ex(entry, "annotations", &ann)
		 ? sk_json_str(ann, SK_ANN_BUNDLE_PREDICATE)
		 : NULL;
	return !pt || !strcmp(pt, SK_COSIGN_SIGN_PREDICATE);
}

/*
 * One referrer manifest: 1 when it is a signature bundle about digest (b
 * filled), 0 when it is something else (an attestation, another artifact
 * type: not ours to count), -EBADMSG when it claims to be one and is not.
 */
static int read_referrer(struct sk_fetch *f, const char *digest, const struct sk_descriptor *d,
			 struct sk_sigbundle *b, struct sk_error *err)
{
	struct json_object *m = NULL, *subj, *cfg, *layers, *ann;
	struct sk_descriptor cd, ld, sd;
	const char *at, *pt;
	int ret;

	memset(b, 0, sizeof(*b));
	if (d->size < 0 || (uint64_t)d->size > REFERRER_MANIFEST_MAX)
		return sk_errf(err, -EFBIG, "referrer %s: %lld bytes, more than the %u allowed",
			       d->digest, (long long)d->size, REFERRER_MANIFEST_MAX);
	ret = sk_fetch_manifest(f, d->digest, REFERRER_MANIFEST_MAX, &b->manifest, &sd, err);
	if (!ret)
		ret = sk_json_parse(b->manifest.data, b->manifest.len, d->digest, &m, err);
	if (ret)
		goto out;
	snprintf(b->manifest_digest, sizeof(b->manifest_digest), "%s", d->digest);
	at = sk_json_str(m, "artifactType");
	pt = json_object_object_get_ex(m, "annotations", &ann)
		 ? sk_json_str(ann, SK_ANN_BUNDLE_PREDICATE)
		 : NULL;
	if (!json_object_object_get_ex(m, "config", &cfg) ||
	    sk_descriptor_from_json(cfg, &cd, NULL)) {
		ret = sk_errf(err, -EBADMSG, "referrer %s has no config", d->digest);
		goto out;
	}
	if ((at && strcmp(at, SK_MT_SIGSTORE_BUNDLE)) ||
	    (!at && strcmp(cd.media_type, SK_MT_SIGSTORE_BUNDLE)) ||
	    (pt && strcmp(pt, SK_COSIGN_SIGN_PREDICATE))) {
		ret = 0; /* not a signature bundle */
		goto out;
	}
	if (!json_object_object_get_ex(m, "subject", &subj) ||
	    sk_descriptor_from_json(subj, &sd, NULL) || strcmp(sd.digest, digest)) {
		ret = sk_errf(err, -EBADMSG, "referrer %s is not about %s (its subject)", d->digest,
			      digest);
		goto out;
	}
	if (!json_object_object_get_ex(m, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array) ||
	    json_object_array_length(layers) != 1 ||
	    sk_descriptor_from_json(json_object_array_get_idx(layers, 0), &ld, NULL) ||
	    strncmp(ld.media_type, "application/vnd.dev.sigstore.bundle", 35)) {
		ret = sk_errf(err, -EBADMSG, "referrer %s does not hold exactly one bundle layer",
			      d->digest);
		goto out;
	}
	if (ld.size < 0 || (uint64_t)ld.size > SK_BUNDLE_READ_MAX) {
		ret = sk_errf(err, -EFBIG, "bundle %s: %lld bytes, more than the %u allowed",
			      ld.digest, (long long)ld.size, SK_BUNDLE_READ_MAX);
		goto out;
	}
	if (!strcmp(cd.digest, EMPTY_DIGEST) && cd.size == 2)
		ret =
		    sk_buf_append(&b->config, "{}", 2) ? sk_errf(err, -ENOMEM, "out of memory") : 0;
	else if (cd.size < 0 || (uint64_t)cd.size > REFERRER_CONFIG_MAX)
		ret = sk_errf(err, -EFBIG, "referrer %s: config of %lld bytes", d->digest,
			      (long long)cd.size);
	else
		ret = sk_fetch_blob(f, cd.digest, cd.size, REFERRER_CONFIG_MAX, &b->config, err);
	if (!ret)
		ret = sk_fetch_blob(f, ld.digest, ld.size, SK_BUNDLE_READ_MAX, &b->bundle, err);
	if (ret)
		goto out;
	snprintf(b->config_digest, sizeof(b->config_digest), "%s", cd.digest);
	snprintf(b->bundle_digest, sizeof(b->bundle_digest), "%s", ld.digest);
	ret = 1;
out:
	json_object_put(m);
	if (ret != 1)
		bundle_free(b);
	return ret;
}

static int fetch_bundles(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
			 struct sk_error *err)
{
	struct sk_buf list = {0};
	struct json_object *idx = NULL, *entries;
	size_t n;
	int ret;

	out->src = NULL;
	out->bundles_read = true;
	ret = referrer_index(f, digest, &list, err);
	if (ret)
		return sk_err_prefix(err, "Sigstore bundles of %s: ", digest);
	if (!list.len)
		return 0;
	if (sk_json_parse(list.data, list.len, "referrers", &idx, NULL) ||
	    !json_object_object_get_ex(idx, "manifests", &entries) ||
	    !json_object_is_type(entries, json_type_array)) {
		out->skipped++; /* not an index: nothing to judge, and said so */
		goto out;
	}
	n = json_object_array_length(entries);
	out->bundles = calloc(n ? n : 1, sizeof(*out->bundles));
	if (!out->bundles) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(entries, i);
		struct sk_descriptor d;
		struct sk_error why = {0};
		bool dup = false;
		int r;

		if (sk_descriptor_from_json(e, &d, NULL)) {
			out->skipped++;
			continue;
		}
		if (!maybe_signature(e, &d))
			continue;
		for (size_t k = 0; k < out->nbundles && !dup; k++)
			dup = !strcmp(out->bundles[k].manifest_digest, d.digest);
		if (dup)
			continue;
		if (out->nbundles >= SK_SIGS_READ_MAX) {
			out->skipped++;
			continue;
		}
		r = read_referrer(f, digest, &d, &out->bundles[out->nbundles], &why);
		if (r == -ENOMEM) {
			ret = sk_errf(err, r, "out of memory");
			goto out;
		}
		if (r < 0)
			out->skipped++;
		else if (r == 1)
			out->nbundles++;
	}
	out->found = out->found || out->nbundles;
out:
	json_object_put(idx);
	sk_buf_free(&list);
	return ret;
}

int sk_sigset_fetch(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
		    struct sk_error *err)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = fetch_legacy(f, digest, out, err);
	if (ret) {
		sk_sigset_free(out);
		return ret;
	}
	/* bundles later, and only if the legacy signatures do not do (sk_sigset_judge) */
	out->src = f;
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	return 0;
}

int sk_sigset_fetch_all(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
			struct sk_error *err)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = fetch_legacy(f, digest, out, err);
	if (!ret)
		ret = fetch_bundles(f, digest, out, err);
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
	ret = sk_sigset_fetch_all(f, digest, out, err);
	sk_fetch_close(f);
	return ret;
}

static int judge_once(struct sk_sigset *set, const struct sk_verify_opts *o, const char *identity,
		      const char *digest, struct sk_verify_result *res, bool *accepted,
		      struct sk_error *err)
{
	struct sk_trust_signature *sigs = NULL;
	struct sk_trust_bundle *bundles = NULL;
	bool *bacc = NULL;
	char(*names)[SK_DIGEST_MAX] = NULL;
	int ret;

	sigs = calloc(set->list.n ? set->list.n : 1, sizeof(*sigs));
	bundles = calloc(set->nbundles ? set->nbundles : 1, sizeof(*bundles));
	bacc = calloc(set->nbundles ? set->nbundles : 1, sizeof(*bacc));
	names = calloc(set->nbundles ? set->nbundles : 1, sizeof(*names));
	if (!sigs || !bundles || !bacc || !names) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set->list.n; i++) {
		sigs[i].payload = set->payloads[i].data;
		sigs[i].payload_len = set->payloads[i].len;
		sigs[i].signature = set->list.v[i].signature;
	}
	for (size_t i = 0; i < set->nbundles; i++) {
		/* short names: messages list several */
		snprintf(names[i], sizeof(names[i]), "%.19s", set->bundles[i].bundle_digest);
		bundles[i].data = set->bundles[i].bundle.data;
		bundles[i].len = set->bundles[i].bundle.len;
		bundles[i].what = names[i];
	}
	res->skipped = set->skipped;
	ret = sk_trust_judge_bundles(o, identity, digest, sigs, set->list.n, bundles, set->nbundles,
				     res, accepted, bacc, err);
	for (size_t i = 0; i < set->nbundles; i++)
		set->bundles[i].accepted = bacc[i];
out:
	free(sigs);
	free(bundles);
	free(bacc);
	free(names);
	return ret;
}

int sk_sigset_judge(struct sk_sigset *set, const struct sk_verify_opts *o, const char *identity,
		    const char *digest, struct sk_verify_result *res, bool *accepted,
		    struct sk_error *err)
{
	int ret;

	ret = judge_once(set, o, identity, digest, res, accepted, err);
	if (ret == -EKEYREJECTED && set->src && !set->bundles_read &&
	    !strcmp(set->digest, digest)) {
		/* the legacy signatures did not do: look for bundles, then judge all */
		ret = fetch_bundles(set->src, digest, set, err);
		if (!ret)
			ret = judge_once(set, o, identity, digest, res, accepted, err);
	}
	if (ret == -EKEYREJECTED && set->skipped)
		sk_err_prefix(err, "(%zu unreadable or surplus signature layer%s skipped) ",
			      set->skipped, set->skipped == 1 ? "" : "s");
	return ret;
}

/* Adds the accepted legacy signatures of fresh to the .sig manifest the store keeps (have). */
static int keep_legacy(struct sk_store *st, const char *digest, const struct sk_sigset *fresh,
		       struct sk_sig_list *have, const bool *accepted, struct sk_error *err)
{
	struct sk_buf m = {0}, cfg = {0};
	struct sk_descriptor d = {0};
	char tag[SK_SIG_TAG_MAX], cfg_digest[80];
	size_t added = 0;
	int ret;

	ret = sk_sig_tag(digest, tag, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < fresh->list.n && have->n < SK_SIGS_KEEP_MAX; i++) {
		if (!accepted[i])
			continue;
		ret = sk_store_put(st, fresh->payloads[i].data, fresh->payloads[i].len,
				   fresh->list.v[i].digest, err);
		if (ret)
			goto out;
		ret = sk_sig_list_add(have, fresh->payloads[i].data, fresh->payloads[i].len,
				      fresh->list.v[i].signature, err);
		if (ret < 0)
			goto out;
		added += (size_t)ret;
	}
	ret = 0;
	if (!added)
		goto out;
	ret = sk_sigmanifest_build(have, &m, &cfg, cfg_digest, err);
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
	sk_buf_free(&m);
	sk_buf_free(&cfg);
	return ret;
}

/* The index entry of a kept bundle manifest: its artifactType and annotations, as the API lists it.
 */
static struct json_object *referrer_entry(const struct sk_sigbundle *b)
{
	struct json_object *m = NULL, *ann = NULL, *e;
	struct sk_descriptor d = {0};

	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
	snprintf(d.digest, sizeof(d.digest), "%s", b->manifest_digest);
	snprintf(d.artifact_type, sizeof(d.artifact_type), "%s", SK_MT_SIGSTORE_BUNDLE);
	d.size = (int64_t)b->manifest.len;
	if (!sk_json_parse(b->manifest.data, b->manifest.len, "referrer", &m, NULL) &&
	    json_object_object_get_ex(m, "annotations", &ann))
		json_object_get(ann);
	else
		ann = NULL;
	json_object_put(m);
	e = sk_descriptor_to_json(&d, ann);
	return e;
}

/* Adds bundles (accepted ones, or all) to the sha256-<hex> index the store keeps for digest. */
static int keep_bundles(struct sk_store *st, const char *digest, const struct sk_sigset *fresh,
			const struct sk_sigset *have, bool all, struct sk_error *err)
{
	struct json_object *idx = NULL, *list = NULL;
	struct sk_descriptor d = {0};
	char tag[SK_SIG_TAG_MAX];
	size_t added = 0, kept = have->nbundles;
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = referrers_tag(digest, tag, err);
	if (ret)
		return ret;
	idx = json_object_new_object();
	list = json_object_new_array();
	if (!idx || !list) {
		json_object_put(list);
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < have->nbundles; i++)
		if (json_object_array_add(list, referrer_entry(&have->bundles[i]))) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			json_object_put(list);
			goto out;
		}
	for (size_t i = 0; i < fresh->nbundles && kept < SK_SIGS_KEEP_MAX; i++) {
		const struct sk_sigbundle *b = &fresh->bundles[i];
		bool dup = false;

		if (!all && !b->accepted)
			continue;
		for (size_t k = 0; k < have->nbundles && !dup; k++)
			dup = !strcmp(have->bundles[k].manifest_digest, b->manifest_digest);
		if (dup)
			continue;
		/* blobs before the manifest that names them, before the index */
		ret = sk_store_put(st, b->config.data, b->config.len, b->config_digest, err);
		if (!ret)
			ret =
			    sk_store_put(st, b->bundle.data, b->bundle.len, b->bundle_digest, err);
		if (!ret)
			ret = sk_store_put(st, b->manifest.data, b->manifest.len,
					   b->manifest_digest, err);
		if (!ret && json_object_array_add(list, referrer_entry(b)))
			ret = sk_errf(err, -ENOMEM, "out of memory");
		if (ret) {
			json_object_put(list);
			goto out;
		}
		added++;
		kept++;
	}
	if (!added) {
		json_object_put(list);
		goto out;
	}
	if (sk_json_add(idx, "schemaVersion", json_object_new_int(2)) ||
	    sk_json_add(idx, "mediaType", json_object_new_string(SK_MT_INDEX)) ||
	    sk_json_add(idx, "manifests", list)) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	text = sk_json_dump(idx, &len);
	if (!text) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	sk_digest_buf(text, len, d.digest);
	snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_INDEX);
	d.size = (int64_t)len;
	ret = sk_store_put(st, text, len, d.digest, err);
	if (!ret)
		ret = sk_store_record(st, tag, &d, err);
out:
	free(text);
	json_object_put(idx);
	return ret;
}

int sk_sigset_keep(struct sk_store *st, const char *digest, const struct sk_sigset *fresh,
		   const bool *accepted, struct sk_error *err)
{
	struct sk_sigset have = {0};
	int ret;

	ret = sk_sigset_stored(st, digest, &have, err);
	if (!ret)
		ret = keep_legacy(st, digest, fresh, &have.list, accepted, err);
	if (!ret)
		ret = keep_bundles(st, digest, fresh, &have, false, err);
	if (ret)
		sk_err_prefix(err, "keeping the signatures of %s in the store: ", digest);
	sk_sigset_free(&have);
	return ret;
}

int sk_sigset_carry_bundles(struct sk_store *st, const char *digest, const struct sk_sigset *set,
			    struct sk_error *err)
{
	struct sk_sigset have = {0};
	int ret;

	if (!set->nbundles)
		return 0;
	ret = sk_sigset_stored(st, digest, &have, err);
	if (!ret)
		ret = keep_bundles(st, digest, set, &have, true, err);
	if (ret)
		sk_err_prefix(err, "carrying the Sigstore bundles of %s: ", digest);
	sk_sigset_free(&have);
	return ret;
}
