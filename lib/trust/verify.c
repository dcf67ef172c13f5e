/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifying artifacts: finds the sha256-<hex>.sig manifest of a digest in a
 * registry, a layout (or extracted archive) or the store, reads its payload
 * blobs (each verified by digest), and lets the policy judge them. Pulls copy
 * the signatures into the store next to what they sign, so that later checks
 * (skrun run, skrun verify --store) need no network.
 *
 * Nothing here resolves a tag more than once: the digest the caller resolved
 * is the only thing whose signatures are looked up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/registry.h"
#include "schedkit/store.h"
#include "schedkit/trust.h"
#include "internal.h"

/* cosign's config grows by ~60 bytes per layer; 256 layers fit comfortably. */
#define SIG_CONFIG_MAX	  (256u << 10)
#define ARCHIVE_MAX_TOTAL (1ull << 30)

/* Where signatures are read from: a registry repository, or a layout. */
struct sigsrc {
	struct sk_registry *reg;
	const char *repo;
	struct sk_layout *layout;
};

/* A signature manifest and the blobs it names, in memory, each verified by digest. */
struct sigset {
	struct sk_buf manifest;
	char manifest_digest[SK_DIGEST_MAX];
	char media_type[256];
	struct sk_descriptor config;
	struct sk_buf config_data; /* only when asked for (to store the manifest) */
	struct sk_sig_list list;
	struct sk_buf *blobs; /* one per list entry, as fetched */
	size_t nblobs;	      /* the list may grow past them when merged into */
};

static void sigset_free(struct sigset *s)
{
	for (size_t i = 0; s->blobs && i < s->nblobs; i++)
		sk_buf_free(&s->blobs[i]);
	free(s->blobs);
	sk_sig_list_free(&s->list);
	sk_buf_free(&s->manifest);
	sk_buf_free(&s->config_data);
	memset(s, 0, sizeof(*s));
}

static int buf_write(void *ctx, const void *data, size_t len, struct sk_error *err)
{
	struct sk_buf *b = ctx;

	if (b->len + len > SIG_CONFIG_MAX)
		return sk_errf(err, -EFBIG, "signature blob larger than %u bytes", SIG_CONFIG_MAX);
	return sk_buf_append(b, data, len) ? sk_errf(err, -ENOMEM, "out of memory") : 0;
}

static int buf_reset(void *ctx, struct sk_error *err)
{
	(void)err;
	((struct sk_buf *)ctx)->len = 0;
	return 0;
}

/* A blob of a signature manifest, at most max bytes, verified against its digest. */
static int src_blob(const struct sigsrc *src, const char *digest, int64_t size, size_t max,
		    struct sk_buf *out, struct sk_error *err)
{
	if (size < 0 || (uint64_t)size > max)
		return sk_errf(err, -EFBIG,
			       "signature blob %s: %lld bytes, more than the %zu allowed", digest,
			       (long long)size, max);
	if (src->reg) {
		struct sk_sink sink = {.write = buf_write, .reset = buf_reset, .ctx = out};
		int ret = sk_registry_blob_get(src->reg, src->repo, digest, size, &sink, err);

		if (!ret && !out->data)
			ret = sk_buf_append(out, "", 0);
		return ret;
	} else {
		uint8_t *data = NULL;
		size_t len = 0;
		int ret = sk_layout_get_blob(src->layout, digest, size, max, &data, &len, err);

		if (ret)
			return ret;
		out->data = data;
		out->len = len;
		out->cap = len + 1;
		return 0;
	}
}

/*
 * Reads the signature manifest of digest and its layer blobs (and its config
 * when with_config). 1: found, 0: there is none, < 0: failure.
 */
static int fetch_sigset(const struct sigsrc *src, const char *digest, bool with_config,
			struct sigset *set, struct sk_error *err)
{
	struct json_object *m = NULL, *cfg;
	char tag[SK_SIG_TAG_MAX];
	int ret;

	memset(set, 0, sizeof(*set));
	ret = sk_sig_tag(digest, tag, err);
	if (ret)
		return ret;
	if (src->reg) {
		struct sk_error e = {0};

		ret = sk_registry_manifest_get(src->reg, src->repo, tag, SK_MANIFEST_MAX,
					       &set->manifest, set->media_type,
					       set->manifest_digest, &e);
		if (ret == -ENOENT)
			return 0;
		if (ret) {
			if (err)
				*err = e;
			return ret;
		}
	} else {
		struct sk_descriptor d;
		struct sk_error e = {0};
		uint8_t *data = NULL;
		size_t len = 0;

		ret = sk_layout_resolve(src->layout, tag, &d, &e);
		if (ret == -ENOENT)
			return 0;
		if (ret) {
			if (err)
				*err = e;
			return ret;
		}
		ret = sk_layout_get_blob(src->layout, d.digest, d.size, SK_MANIFEST_MAX, &data,
					 &len, err);
		if (ret)
			return ret;
		set->manifest.data = data;
		set->manifest.len = len;
		set->manifest.cap = len + 1;
		snprintf(set->manifest_digest, sizeof(set->manifest_digest), "%s", d.digest);
		snprintf(set->media_type, sizeof(set->media_type), "%s", d.media_type);
	}
	ret = sk_sigmanifest_parse(set->manifest.data, set->manifest.len, &set->list, err);
	if (ret)
		goto fail;
	ret = sk_json_parse(set->manifest.data, set->manifest.len, tag, &m, err);
	if (ret)
		goto fail;
	if (!json_object_object_get_ex(m, "config", &cfg)) {
		ret = sk_errf(err, -EBADMSG, "signature manifest %s has no config", tag);
		goto fail;
	}
	ret = sk_descriptor_from_json(cfg, &set->config, err);
	if (ret)
		goto fail;
	/* what the manifest says it is; the sender's Content-Type is not part of it */
	snprintf(set->media_type, sizeof(set->media_type), "%s",
		 sk_json_str(m, "mediaType") ? sk_json_str(m, "mediaType") : SK_MT_MANIFEST);
	json_object_put(m);
	m = NULL;
	set->blobs = calloc(set->list.n ? set->list.n : 1, sizeof(*set->blobs));
	if (!set->blobs) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	set->nblobs = set->list.n;
	for (size_t i = 0; i < set->list.n; i++) {
		ret = src_blob(src, set->list.v[i].digest, set->list.v[i].size, SK_PAYLOAD_MAX,
			       &set->blobs[i], err);
		if (ret)
			goto fail;
	}
	if (with_config) {
		ret = src_blob(src, set->config.digest, set->config.size, SIG_CONFIG_MAX,
			       &set->config_data, err);
		if (ret)
			goto fail;
	}
	return 1;
fail:
	sk_err_prefix(err, "signatures of %s (%s): ", digest, tag);
	json_object_put(m);
	sigset_free(set);
	return ret;
}

/* ---- policy and judgement ---- */

static int load_policy(const struct sk_verify_opts *o, struct sk_policy **p, struct sk_error *err)
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

static int judge(const struct sigset *set, bool found, const char *identity, const char *digest,
		 const struct sk_verify_opts *o, struct sk_verify_result *res, struct sk_error *err)
{
	struct sk_trust_signature *sigs = NULL;
	struct sk_trust_verdict v = {0};
	struct sk_policy *p = NULL;
	size_t n = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	snprintf(res->digest, sizeof(res->digest), "%s", digest);
	snprintf(res->identity, sizeof(res->identity), "%s", identity);
	res->reason = SK_TRUST_NOT_VERIFIED;
	ret = load_policy(o, &p, err);
	if (ret)
		return ret;
	if (found && set->list.n) {
		sigs = calloc(set->list.n, sizeof(*sigs));
		if (!sigs) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < set->list.n; i++) {
			if (!set->list.v[i].signature)
				continue; /* a layer of another kind */
			sigs[n].payload = set->blobs[i].data;
			sigs[n].payload_len = set->blobs[i].len;
			sigs[n].signature = set->list.v[i].signature;
			n++;
		}
	}
	res->nsigs = n;
	ret = sk_policy_evaluate(p, identity, digest, sigs, n, &v, err);
	res->reason = ret ? v.reason : SK_TRUST_OK;
	snprintf(res->scope, sizeof(res->scope), "%s", v.scope);
	for (size_t i = 0; !ret && i < v.matched.n; i++)
		if (sk_strv_push(&res->matched, v.matched.v[i]))
			ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	sk_trust_verdict_free(&v);
	sk_policy_free(p);
	free(sigs);
	return ret;
}

static int verify_in(const struct sigsrc *src, const char *identity, const char *digest,
		     const struct sk_verify_opts *o, struct sk_verify_result *res,
		     struct sk_error *err)
{
	struct sigset set;
	int ret = fetch_sigset(src, digest, false, &set, err);

	if (ret < 0)
		return ret;
	ret = judge(&set, ret == 1, identity, digest, o, res, err);
	sigset_free(&set);
	return ret;
}

/* ---- keeping signatures in the store ---- */

static int record_sigs(struct sk_store *st, const char *tag, const char *mt, const void *m,
		       size_t len, const char *digest, struct sk_error *err)
{
	struct sk_descriptor d = {0};
	int ret = sk_store_put(st, m, len, digest, err);

	if (ret)
		return ret;
	snprintf(d.media_type, sizeof(d.media_type), "%s", mt);
	snprintf(d.digest, sizeof(d.digest), "%s", digest);
	d.size = (int64_t)len;
	return sk_store_record(st, tag, &d, err);
}

/*
 * Copies the signatures of digest from src into the store. When the store
 * already holds other signatures for it (e.g. pulled earlier from a mirror),
 * the two sets are merged into one manifest: nothing verified before is lost.
 */
static int copy_sigs(const struct sigsrc *src, struct sk_store *st, const char *digest,
		     struct sk_error *err)
{
	struct sigsrc here = {.layout = sk_store_layout(st)};
	struct sigset in, have = {0};
	struct sk_buf m = {0}, cfg = {0};
	char tag[SK_SIG_TAG_MAX], cfg_digest[80], m_digest[SK_DIGEST_MAX];
	size_t added = 0;
	int ret;

	ret = fetch_sigset(src, digest, true, &in, err);
	if (ret <= 0)
		return ret;
	ret = sk_sig_tag(digest, tag, err);
	for (size_t i = 0; !ret && i < in.list.n; i++)
		ret = sk_store_put(st, in.blobs[i].data, in.blobs[i].len, in.list.v[i].digest, err);
	if (!ret)
		ret = sk_store_put(st, in.config_data.data, in.config_data.len, in.config.digest,
				   err);
	if (ret)
		goto out;
	ret = fetch_sigset(&here, digest, false, &have, err);
	if (ret < 0)
		goto out;
	if (ret == 0 || !strcmp(have.manifest_digest, in.manifest_digest)) {
		ret = ret == 0 ? record_sigs(st, tag, in.media_type, in.manifest.data,
					     in.manifest.len, in.manifest_digest, err)
			       : 0;
		goto out;
	}
	for (size_t i = 0; i < in.list.n; i++) {
		if (!in.list.v[i].signature)
			continue;
		ret = sk_sig_list_add(&have.list, in.blobs[i].data, in.blobs[i].len,
				      in.list.v[i].signature, err);
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
	sk_digest_buf(m.data, m.len, m_digest);
	ret = record_sigs(st, tag, SK_MT_MANIFEST, m.data, m.len, m_digest, err);
out:
	if (ret)
		sk_err_prefix(err, "keeping the signatures of %s in the store: ", digest);
	sk_buf_free(&m);
	sk_buf_free(&cfg);
	sigset_free(&in);
	sigset_free(&have);
	return ret;
}

static struct sigsrc subject_src(const struct sk_pull_subject *s)
{
	struct sigsrc src = {0};

	if (s->ref) {
		src.reg = s->registry;
		src.repo = s->ref->repo;
	} else {
		src.layout = s->source;
	}
	return src;
}

int sk_trust_pull_copy_signatures(void *ctx, const struct sk_pull_subject *s, struct sk_error *err)
{
	struct sigsrc src = subject_src(s);
	struct json_object *idx = NULL, *list;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	(void)ctx;
	ret = copy_sigs(&src, s->store, s->digest, err);
	if (ret)
		return ret;
	/* every platform manifest of an index: those are signed too */
	ret = sk_layout_get_blob(sk_store_layout(s->store), s->digest, -1, SK_MANIFEST_MAX, &data,
				 &len, err);
	if (!ret)
		ret = sk_json_parse(data, len, s->digest, &idx, err);
	if (ret)
		goto out;
	if (json_object_object_get_ex(idx, "manifests", &list) &&
	    json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; !ret && i < json_object_array_length(list); i++) {
			const char *d = sk_json_str(json_object_array_get_idx(list, i), "digest");

			if (d && sk_digest_valid(d))
				ret = copy_sigs(&src, s->store, d, err);
		}
	}
out:
	json_object_put(idx);
	free(data);
	return ret;
}

/* The repository a pulled subject was signed for. */
static int subject_identity(const struct sk_pull_subject *s, const struct sk_verify_opts *o,
			    char out[512], struct sk_error *err)
{
	if (s->ref) {
		snprintf(out, 512, "%s/%s", s->ref->registry, s->ref->repo);
		return 0;
	}
	if (o->identity)
		return sk_trust_repo_identity(o->identity, false, out, err);
	/* the source entry's own name: s->name may be a record_as chosen by the caller */
	if (s->source) {
		struct sk_descriptor d;

		if (!sk_layout_resolve(s->source, s->digest, &d, NULL) && d.ref_name[0])
			return sk_trust_repo_identity(d.ref_name, true, out, err);
	}
	if (!s->name || !*s->name)
		return sk_errf(err, -EINVAL,
			       "the layout entry has no name to take the repository from: pass "
			       "--identity HOST/REPO, the repository it was signed for");
	return sk_trust_repo_identity(s->name, true, out, err);
}

int sk_trust_pull_verify(void *ctx, const struct sk_pull_subject *s, struct sk_error *err)
{
	struct sk_verify_ctx *c = ctx;
	struct sigsrc src = subject_src(s);
	char identity[512];
	int ret;

	ret = subject_identity(s, &c->opts, identity, err);
	if (ret)
		return ret;
	/*
	 * A registry digest whose signatures in the store already satisfy the
	 * policy needs no request: signatures are bound to the digest, not to
	 * where they were found, so a pinned re-pull stays offline.
	 */
	if (s->ref &&
	    !sk_trust_verify_stored(s->store, identity, s->digest, &c->opts, &c->result, NULL))
		return 0;
	ret = copy_sigs(&src, s->store, s->digest, err);
	if (!ret && s->manifest_digest && s->manifest_digest[0] &&
	    strcmp(s->manifest_digest, s->digest))
		ret = copy_sigs(&src, s->store, s->manifest_digest, err);
	if (ret)
		return ret;
	return sk_trust_verify_stored(s->store, identity, s->digest, &c->opts, &c->result, err);
}

int sk_trust_verify_stored(struct sk_store *st, const char *identity, const char *digest,
			   const struct sk_verify_opts *o, struct sk_verify_result *res,
			   struct sk_error *err)
{
	struct sigsrc src = {.layout = sk_store_layout(st)};
	char repo[512];
	int ret;

	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
	ret = sk_trust_repo_identity(identity, false, repo, err);
	if (ret)
		return ret;
	return verify_in(&src, repo, digest, o, res, err);
}

/* ---- verifying a source without pulling it ---- */

static int verify_layout(struct sk_layout *l, const char *tag, const struct sk_verify_opts *o,
			 struct sk_verify_result *res, struct sk_error *err)
{
	struct sigsrc src = {.layout = l};
	struct sk_descriptor top;
	char identity[512];
	int ret;

	ret = sk_layout_resolve_artifact(l, tag, &top, err);
	if (ret)
		return ret;
	if (o && o->identity)
		ret = sk_trust_repo_identity(o->identity, false, identity, err);
	else if (top.ref_name[0])
		ret = sk_trust_repo_identity(top.ref_name, true, identity, err);
	else
		ret = sk_errf(err, -EINVAL,
			      "%s in the layout has no name to take the repository from: pass "
			      "--identity HOST/REPO, the repository it was signed for",
			      top.digest);
	if (ret)
		return ret;
	return verify_in(&src, identity, top.digest, o, res, err);
}

static int verify_registry(const char *s, const struct sk_registry_opts *reg,
			   const struct sk_verify_opts *o, struct sk_verify_result *res,
			   struct sk_error *err)
{
	struct sk_registry *r = NULL;
	struct sk_buf body = {0};
	struct sigsrc src;
	struct sk_ref ref;
	char mt[256], digest[SK_DIGEST_MAX], identity[512];
	int ret;

	ret = sk_ref_parse(s, &ref, err);
	if (ret)
		return ret;
	ret = sk_registry_open(&ref, reg, &r, err);
	if (ret)
		return ret;
	if (sk_registry_add_scope(r, ref.repo, false)) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* the one resolution: everything below uses this digest */
	ret = sk_registry_manifest_get(r, ref.repo, sk_ref_reference(&ref), SK_MANIFEST_MAX, &body,
				       mt, digest, err);
	if (ret)
		goto out;
	snprintf(identity, sizeof(identity), "%s/%s", ref.registry, ref.repo);
	src = (struct sigsrc){.reg = r, .repo = ref.repo};
	ret = verify_in(&src, identity, digest, o, res, err);
out:
	sk_buf_free(&body);
	sk_registry_close(r);
	return ret;
}

int sk_trust_verify_source(const char *s, const struct sk_registry_opts *reg,
			   const struct sk_verify_opts *o, struct sk_verify_result *res,
			   struct sk_error *err)
{
	struct sk_layout *l = NULL;
	char *file = NULL, *tag = NULL, *tmp = NULL;
	const char *rest, *tmpbase = getenv("TMPDIR");
	enum sk_source_kind kind = sk_source_classify(s, &rest);
	int ret;

	if (kind == SK_SOURCE_REGISTRY) {
		ret = verify_registry(s, reg, o, res, err);
		goto out;
	}
	if (kind == SK_SOURCE_ARCHIVE) {
		if (sk_archive_ref_split(rest, &file, &tag)) {
			ret = sk_errf(err, -ENOENT, "%s: no such archive file", rest);
			goto out;
		}
		if (asprintf(&tmp, "%s/skrun-verify-XXXXXX",
			     tmpbase && *tmpbase ? tmpbase : "/tmp") < 0 ||
		    !mkdtemp(tmp)) {
			ret = sk_errf(err, -errno, "cannot create a temporary directory: %s",
				      strerror(errno));
			goto out;
		}
		ret = sk_archive_extract(file, tmp, ARCHIVE_MAX_TOTAL, err);
		if (!ret)
			ret = sk_layout_open(tmp, &l, err);
	} else {
		if (sk_layout_ref_split(rest, &file, &tag)) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		ret = sk_layout_open(file, &l, err);
	}
	if (!ret)
		ret = verify_layout(l, tag, o, res, err);
out:
	if (ret)
		sk_err_prefix(err, "verifying %s: ", s);
	sk_layout_close(l);
	if (tmp) {
		sk_rm_rf(tmp);
		free(tmp);
	}
	free(file);
	free(tag);
	return ret;
}

void sk_verify_result_free(struct sk_verify_result *r)
{
	sk_strv_free(&r->matched);
}
