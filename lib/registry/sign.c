/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing artifacts in a registry or a layout, the way `cosign sign --key`
 * does: one simple-signing payload per signed digest, added as a layer to the
 * digest's sha256-<hex>.sig manifest next to the signatures already there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/registry.h"
#include "schedkit/trust.h"
#include "schedkit/transfer.h"
#include "sign_bundle.h"

/* Where the signature manifests go: a registry repository, or a layout. */
struct sigdst {
	struct sk_registry *reg;
	const char *repo;
	struct sk_layout *layout;
};

/* Reads the current signature manifest of tag into l (empty when there is none). */
static int load_existing(const struct sigdst *d, const char *tag, struct sk_sig_list *l,
			 struct sk_error *err)
{
	struct sk_buf body = {0};
	struct sk_error e = {0};
	int ret;

	if (d->reg) {
		char mt[256], got[SK_DIGEST_MAX];

		ret = sk_registry_manifest_get(d->reg, d->repo, tag, SK_MANIFEST_MAX, &body, mt,
					       got, &e);
	} else {
		struct sk_descriptor desc;
		uint8_t *data = NULL;
		size_t len = 0;

		ret = sk_layout_resolve(d->layout, tag, &desc, &e);
		if (!ret) {
			ret = sk_layout_get_blob(d->layout, desc.digest, desc.size, SK_MANIFEST_MAX,
						 &data, &len, &e);
			body.data = data;
			body.len = len;
		}
	}
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		if (err)
			*err = e;
		return ret;
	}
	ret = sk_sigmanifest_parse(body.data, body.len, l, err);
	if (ret)
		sk_err_prefix(err,
			      "the existing %s is not a signature manifest (refusing to replace "
			      "it): ",
			      tag);
	sk_buf_free(&body);
	return ret;
}

/*
 * The payload and the config a signature manifest names, before the manifest:
 * to a registry in one concurrent batch, without a HEAD first (both are small;
 * uploading one that is there already costs what asking would).
 */
static int put_blobs(const struct sigdst *d, const struct sk_buf *payload, const char *pdigest,
		     const struct sk_buf *cfg, const char *cdigest, struct sk_error *err)
{
	char got[SK_DIGEST_MAX];
	int ret;

	if (d->reg) {
		struct sk_registry_blob b[2] = {
		    {.digest = pdigest, .size = (int64_t)payload->len, .data = payload->data},
		    {.digest = cdigest, .size = (int64_t)cfg->len, .data = cfg->data},
		};

		return sk_registry_blobs_push(d->reg, d->repo, b, 2, err);
	}
	ret = sk_layout_put_blob(d->layout, payload->data, payload->len, got, err);
	if (!ret)
		ret = sk_layout_put_blob(d->layout, cfg->data, cfg->len, got, err);
	return ret;
}

/*
 * 1 when l has a signature by key over exactly this payload (same identity,
 * digest and annotations): signing again would only add a duplicate.
 */
static int already_signed(const struct sk_sig_list *l, const struct sk_key *key,
			  const struct sk_buf *payload)
{
	char pdigest[SK_DIGEST_MAX];

	sk_digest_buf(payload->data, payload->len, pdigest);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].signature && !strcmp(l->v[i].digest, pdigest) &&
		    !sk_verify(key, payload->data, payload->len, l->v[i].signature, NULL))
			return 1;
	return 0;
}

/* Signs one digest and writes its updated signature manifest; 1: it was signed already. */
static int sign_digest(const struct sigdst *d, const struct sk_key *key, const char *identity,
		       const char *digest, const struct sk_strv *annotations, bool force,
		       struct sk_error *err)
{
	struct sk_buf payload = {0}, m = {0}, cfg = {0};
	struct sk_sig_list l = {0};
	char tag[SK_SIG_TAG_MAX], cfg_digest[80], pdigest[SK_DIGEST_MAX], mdigest[SK_DIGEST_MAX];
	char *sig = NULL;
	bool unchanged = false;
	int ret;

	ret = sk_sig_tag(digest, tag, err);
	if (!ret)
		ret = sk_payload_build(identity, digest, annotations, &payload, err);
	if (!ret)
		ret = sk_sign(key, payload.data, payload.len, &sig, err);
	if (!ret)
		ret = load_existing(d, tag, &l, err);
	if (ret)
		goto out;
	if (!force && already_signed(&l, key, &payload)) {
		unchanged = true;
		goto out;
	}
	ret = sk_sig_list_add(&l, payload.data, payload.len, sig, err);
	if (ret <= 0) { /* 0: this very signature is there already (Ed25519 is deterministic) */
		unchanged = ret == 0;
		goto out;
	}
	ret = sk_sigmanifest_build(&l, &m, &cfg, cfg_digest, err);
	if (ret)
		goto out;
	sk_digest_buf(payload.data, payload.len, pdigest);
	/* blobs first: the manifest must never name something the store lacks */
	ret = put_blobs(d, &payload, pdigest, &cfg, cfg_digest, err);
	if (ret)
		goto out;
	if (d->reg) {
		ret = sk_registry_manifest_put(d->reg, d->repo, tag, SK_MT_MANIFEST, m.data, m.len,
					       err);
	} else {
		struct sk_descriptor desc = {0};

		ret = sk_layout_put_blob(d->layout, m.data, m.len, mdigest, err);
		snprintf(desc.media_type, sizeof(desc.media_type), "%s", SK_MT_MANIFEST);
		snprintf(desc.digest, sizeof(desc.digest), "%s", mdigest);
		desc.size = (int64_t)m.len;
		if (!ret)
			ret = sk_layout_add_manifest(d->layout, &desc, tag, err);
	}
out:
	if (ret < 0)
		sk_err_prefix(err, "%s: ", digest);
	free(sig);
	sk_buf_free(&payload);
	sk_buf_free(&m);
	sk_buf_free(&cfg);
	sk_sig_list_free(&l);
	return ret < 0 ? ret : unchanged ? 1 : 0;
}

/*
 * The top-level digest: what skrun pull judges, and it binds every platform
 * manifest the index names. recursive: then each platform manifest of an
 * index too, as `cosign sign --recursive` does, for tools that verify
 * platform digests.
 */
static int digests_to_sign(const void *top, size_t len, const char *digest, bool recursive,
			   struct sk_strv *out, struct sk_error *err)
{
	struct json_object *j = NULL, *list;
	int ret;

	if (sk_strv_push(out, digest))
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!recursive)
		return 0;
	ret = sk_json_parse(top, len, digest, &j, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(j, "manifests", &list) &&
	    json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; !ret && i < json_object_array_length(list); i++) {
			struct sk_descriptor d;

			ret = sk_descriptor_from_json(json_object_array_get_idx(list, i), &d, err);
			if (!ret && !strcmp(d.media_type, SK_MT_MANIFEST) &&
			    !sk_strv_contains(out, d.digest) && sk_strv_push(out, d.digest))
				ret = sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	json_object_put(j);
	return ret;
}

/* bs: the Sigstore bundle format as well (or instead), top the manifest bytes it needs. */
static int sign_all(const struct sigdst *d, const struct sk_key *key, const struct sk_sign_opts *o,
		    struct sk_bundle_signer *bs, const void *top, size_t top_len,
		    struct sk_sign_result *res, struct sk_error *err)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < res->signed_digests.n; i++) {
		int legacy = 1;

		if (sk_sign_wants_legacy(o))
			ret = legacy = sign_digest(d, key, res->identity, res->signed_digests.v[i],
						   o ? o->annotations : NULL, o && o->force, err);
		if (ret >= 0 && bs)
			ret = sk_bundle_sign_digest(bs, d->reg, d->repo, d->layout,
						    res->signed_digests.v[i], top, top_len, err);
		/* unchanged only when every format asked for was there already */
		if (ret == 1 && legacy == 1)
			ret = sk_strv_push(&res->unchanged, res->signed_digests.v[i])
				  ? sk_errf(err, -ENOMEM, "out of memory")
				  : 0;
		else if (ret > 0)
			ret = 0;
	}
	return ret;
}

static int sign_layout(const char *dir, const char *tag, const struct sk_key *key,
		       const struct sk_sign_opts *o, struct sk_bundle_signer *bs,
		       struct sk_sign_result *res, struct sk_error *err)
{
	struct sk_layout *l = NULL;
	struct sk_descriptor top;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	ret = sk_layout_open(dir, &l, err);
	if (!ret)
		ret = sk_layout_resolve_artifact(l, tag, &top, err);
	if (ret)
		goto out;
	if (o && o->identity)
		ret = sk_trust_repo_identity(o->identity, false, res->identity, err);
	else if (top.ref_name[0])
		ret = sk_trust_repo_identity(top.ref_name, true, res->identity, err);
	else
		ret = sk_errf(err, -EINVAL,
			      "%s has no name to take the repository from: pass --identity "
			      "HOST/REPO, the repository it will be verified as",
			      top.digest);
	if (ret)
		goto out;
	snprintf(res->digest, sizeof(res->digest), "%s", top.digest);
	ret = sk_layout_get_blob(l, top.digest, top.size, SK_MANIFEST_MAX, &data, &len, err);
	if (!ret)
		ret = digests_to_sign(data, len, top.digest, o && o->recursive,
				      &res->signed_digests, err);
	if (!ret) {
		struct sigdst d = {.layout = l};

		ret = sign_all(&d, key, o, bs, data, len, res, err);
	}
out:
	free(data);
	sk_layout_close(l);
	return ret;
}

static int sign_registry(const char *target, const struct sk_key *key, const struct sk_sign_opts *o,
			 struct sk_bundle_signer *bs, struct sk_sign_result *res,
			 struct sk_error *err)
{
	struct sk_registry *r = NULL;
	struct sk_buf body = {0};
	struct sk_ref ref;
	char mt[256];
	int ret;

	ret = sk_ref_parse(target, &ref, err);
	if (ret)
		return ret;
	if (o && o->session && o->top && ref.digest[0]) {
		/* right after a push: its connection, and the bytes it just sent */
		r = o->session;
		sk_digest_buf(o->top, o->top_len, res->digest);
		if (strcmp(res->digest, ref.digest))
			return sk_errf(err, -EINVAL, "the manifest handed over is %s, not %s",
				       res->digest, ref.digest);
		if (sk_buf_append(&body, o->top, o->top_len))
			return sk_errf(err, -ENOMEM, "out of memory");
	} else {
		ret = sk_registry_open(&ref, o ? &o->reg : NULL, &r, err);
		if (ret)
			return ret;
		if (sk_registry_add_scope(r, ref.repo, true)) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		/* the one resolution: a tag moving after this does not change what gets signed */
		ret = sk_registry_manifest_get(r, ref.repo, sk_ref_reference(&ref), SK_MANIFEST_MAX,
					       &body, mt, res->digest, err);
		if (ret)
			goto out;
	}
	if (o && o->identity)
		ret = sk_trust_repo_identity(o->identity, false, res->identity, err);
	else
		snprintf(res->identity, sizeof(res->identity), "%s/%s", ref.registry, ref.repo);
	if (!ret)
		ret = digests_to_sign(body.data, body.len, res->digest, o && o->recursive,
				      &res->signed_digests, err);
	if (!ret) {
		struct sigdst d = {.reg = r, .repo = ref.repo};

		ret = sign_all(&d, key, o, bs, body.data, body.len, res, err);
	}
out:
	sk_buf_free(&body);
	if (!o || r != o->session)
		sk_registry_close(r);
	return ret;
}

int sk_sign_artifact(const char *target, const struct sk_key *key, const struct sk_sign_opts *o,
		     struct sk_sign_result *res, struct sk_error *err)
{
	struct sk_bundle_signer *bs = NULL;
	struct sk_source src;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!(o && o->keyless) && (!key || !sk_key_is_private(key)))
		return sk_errf(err, -EINVAL, "signing needs a private key");
	if (o && o->keyless && sk_sign_wants_legacy(o))
		return sk_errf(err, -EINVAL,
			       "keyless signing writes Sigstore bundles only (--signature-format "
			       "bundle)");
	if (sk_sign_wants_bundle(o) && (ret = sk_bundle_signer_new(key, o, &bs, err)))
		return ret;
	ret = sk_source_parse(target, &src, err);
	if (ret) {
		sk_bundle_signer_free(bs);
		return sk_err_prefix(err, "signing %s: ", target);
	}
	if (src.kind == SK_SOURCE_LAYOUT)
		ret = sign_layout(src.path, src.tag, key, o, bs, res, err);
	else if (src.kind == SK_SOURCE_REGISTRY)
		ret = sign_registry(target, key, o, bs, res, err);
	else
		ret = sk_errf(err, -EINVAL,
			      "an oci-archive cannot be signed in place: sign the layout before "
			      "`skbuild save`, or the artifact in its registry");
	if (ret)
		sk_err_prefix(err, "signing %s: ", target);
	sk_bundle_signer_free(bs);
	sk_source_free(&src);
	return ret;
}

void sk_sign_result_free(struct sk_sign_result *r)
{
	sk_strv_free(&r->signed_digests);
	sk_strv_free(&r->unchanged);
}
