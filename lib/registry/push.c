/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push (layout -> registry). Pulls go through the fetch helper (lib/transfer):
 * this client is linked only into skbuild and skrun-fetch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/registry.h"

/* ---- push ---- */

/* Hashes a layout blob before it leaves: never push what the layout does not vouch for. */
static int check_local_blob(const char *path, const struct sk_descriptor *d, struct sk_error *err)
{
	struct sk_hasher *h = sk_hasher_new();
	char buf[65536], got[SK_DIGEST_MAX];
	int64_t total = 0;
	int fd, ret = 0;

	if (!h)
		return sk_errf(err, -ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sk_hasher_free(h);
		return sk_errf(err, -errno, "blob %s is missing from the layout (%s): %s",
			       d->digest, path, strerror(errno));
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sk_errf(err, -errno, "%s: read failed: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		sk_hasher_update(h, buf, (size_t)n);
		total += n;
	}
	close(fd);
	if (ret) {
		sk_hasher_free(h);
		return ret;
	}
	sk_hasher_final(h, got);
	if (strcmp(got, d->digest) || total != d->size)
		return sk_errf(err, -EBADMSG,
			       "layout blob %s is corrupt (hashes to %s, %lld bytes, descriptor "
			       "says %lld)",
			       path, got, (long long)total, (long long)d->size);
	return 0;
}

/* Below this size a HEAD costs about what the upload does: upload without asking. */
#define SMALL_BLOB (256u << 10)
/* Platform manifests of one index that one push handles. */
#define PUSH_MANIFESTS_MAX 256
#define PUSH_BLOBS_MAX	   1024

struct push_ctx {
	struct sk_layout *l;
	struct sk_registry *r;
	const struct sk_ref *dst;
	const struct sk_push_opts *opts;
	struct sk_registry_blob *blobs; /* what the manifests to push need, deduplicated */
	char (*digests)[SK_DIGEST_MAX]; /* what blobs[i].digest points at */
	char **paths;
	size_t nblobs;
};

static void push_ctx_free(struct push_ctx *c)
{
	for (size_t i = 0; i < c->nblobs; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->digests);
	free(c->blobs);
}

/* Adds a blob the registry may lack, checked against the layout first. */
static int want_blob(struct push_ctx *c, const struct sk_descriptor *d, struct sk_error *err)
{
	struct sk_registry_blob *b;
	char *path;
	int ret;

	for (size_t i = 0; i < c->nblobs; i++)
		if (!strcmp(c->blobs[i].digest, d->digest))
			return 0;
	if (c->nblobs >= PUSH_BLOBS_MAX)
		return sk_errf(err, -EFBIG, "more than %d blobs to push", PUSH_BLOBS_MAX);
	path = sk_layout_blob_path(c->l, d->digest);
	if (!path)
		return sk_errf(err, -EINVAL, "bad digest %s in the layout", d->digest);
	ret = check_local_blob(path, d, err);
	if (ret) {
		free(path);
		return ret;
	}
	b = &c->blobs[c->nblobs];
	memset(b, 0, sizeof(*b));
	c->paths[c->nblobs] = path;
	snprintf(c->digests[c->nblobs], SK_DIGEST_MAX, "%s", d->digest);
	b->digest = c->digests[c->nblobs];
	b->path = path;
	b->size = d->size;
	if (c->opts && c->opts->mount_from && c->opts->mount_from->n)
		b->mount_from = c->opts->mount_from->v[0];
	else
		b->check_first = (uint64_t)d->size >= SMALL_BLOB;
	c->nblobs++;
	return 0;
}

/* The config and layers of a manifest the registry does not have. */
static int want_manifest_blobs(struct push_ctx *c, const uint8_t *data, size_t len,
			       const char *digest, struct sk_error *err)
{
	struct json_object *m = NULL, *layers, *cfg;
	struct sk_descriptor d;
	int ret;

	ret = sk_json_parse(data, len, digest, &m, err);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(m, "config", &cfg) ||
	    !json_object_object_get_ex(m, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		ret = sk_errf(err, -EBADMSG, "manifest %s has no config or layers", digest);
		goto out;
	}
	ret = sk_descriptor_from_json(cfg, &d, err);
	if (!ret)
		ret = want_blob(c, &d, err);
	for (size_t i = 0; !ret && i < json_object_array_length(layers); i++) {
		ret = sk_descriptor_from_json(json_object_array_get_idx(layers, i), &d, err);
		if (!ret)
			ret = want_blob(c, &d, err);
	}
out:
	json_object_put(m);
	return ret;
}

struct manifest_put {
	struct sk_descriptor d;
	uint8_t *data;
	size_t len;
};

/*
 * What gets pushed, in this order: the blobs (several at a time), the
 * platform manifests, then the top-level index or manifest under its tag.
 * A platform manifest the registry has is skipped with its blobs (the
 * registry checked them when it accepted it); when it lacks the manifest,
 * small blobs go up without a HEAD first.
 */
static int push_tree(struct push_ctx *c, const struct sk_descriptor *top, const uint8_t *data,
		     size_t len, const char *reference, struct sk_error *err)
{
	struct manifest_put *pending = NULL;
	struct json_object *idx = NULL, *list;
	size_t npending = 0, nlist;
	int ret = 0;

	if (!strcmp(top->media_type, SK_MT_INDEX)) {
		ret = sk_json_parse(data, len, top->digest, &idx, err);
		if (ret)
			return ret;
		if (!json_object_object_get_ex(idx, "manifests", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			ret = sk_errf(err, -EBADMSG, "index %s has no manifests", top->digest);
			goto out;
		}
		nlist = json_object_array_length(list);
		if (nlist > PUSH_MANIFESTS_MAX) {
			ret = sk_errf(err, -EFBIG, "index %s lists more than %d manifests",
				      top->digest, PUSH_MANIFESTS_MAX);
			goto out;
		}
		pending = calloc(nlist ? nlist : 1, sizeof(*pending));
		if (!pending) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < nlist; i++) {
			struct manifest_put *t = &pending[npending];

			ret =
			    sk_descriptor_from_json(json_object_array_get_idx(list, i), &t->d, err);
			if (ret)
				goto out;
			ret = sk_registry_manifest_head(c->r, c->dst->repo, t->d.digest, NULL, err);
			if (ret < 0)
				goto out;
			if (ret == 1) {
				ret = 0;
				continue;
			}
			ret = sk_layout_get_blob(c->l, t->d.digest, t->d.size, SK_MANIFEST_MAX,
						 &t->data, &t->len, err);
			if (!ret)
				ret = want_manifest_blobs(c, t->data, t->len, t->d.digest, err);
			npending++;
			if (ret)
				goto out;
		}
	} else {
		ret = want_manifest_blobs(c, data, len, top->digest, err);
		if (ret)
			goto out;
	}
	ret = sk_registry_blobs_push(c->r, c->dst->repo, c->blobs, c->nblobs, err);
	for (size_t i = 0; !ret && i < npending; i++)
		ret = sk_registry_manifest_put(c->r, c->dst->repo, pending[i].d.digest,
					       pending[i].d.media_type[0] ? pending[i].d.media_type
									  : SK_MT_MANIFEST,
					       pending[i].data, pending[i].len, err);
	if (!ret)
		ret = sk_registry_manifest_put(c->r, c->dst->repo, reference, top->media_type, data,
					       len, err);
out:
	for (size_t i = 0; i < npending; i++)
		free(pending[i].data);
	free(pending);
	json_object_put(idx);
	return ret;
}

int sk_push_layout(struct sk_layout *l, const char *tag, const struct sk_ref *dst,
		   const struct sk_push_opts *opts, char digest[SK_DIGEST_MAX],
		   struct sk_error *err)
{
	struct push_ctx c = {.l = l, .dst = dst, .opts = opts};
	struct sk_descriptor top, have;
	uint8_t *data = NULL;
	size_t len = 0;
	const char *reference;
	int ret;

	if (opts && opts->session)
		*opts->session = NULL;
	ret = sk_layout_resolve_artifact(l, tag, &top, err);
	if (ret)
		return ret;
	if (dst->digest[0] && strcmp(dst->digest, top.digest))
		return sk_errf(err, -EINVAL,
			       "the destination names digest %s but the layout's content is %s",
			       dst->digest, top.digest);
	if (strcmp(top.media_type, SK_MT_INDEX) && strcmp(top.media_type, SK_MT_MANIFEST))
		return sk_errf(err, -EINVAL, "%s is a %s, not an OCI index or manifest", top.digest,
			       top.media_type);
	reference = dst->tag[0]				   ? dst->tag
		    : dst->digest[0]			   ? dst->digest
		    : tag && *tag && !sk_digest_valid(tag) ? tag
							   : "latest";
	c.blobs = calloc(PUSH_BLOBS_MAX, sizeof(*c.blobs));
	c.paths = calloc(PUSH_BLOBS_MAX, sizeof(*c.paths));
	c.digests = calloc(PUSH_BLOBS_MAX, sizeof(*c.digests));
	if (!c.blobs || !c.paths || !c.digests) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = sk_layout_get_blob(l, top.digest, top.size, SK_MANIFEST_MAX, &data, &len, err);
	if (ret)
		goto out;
	ret = sk_registry_open(dst, opts ? &opts->reg : NULL, &c.r, err);
	if (ret)
		goto out;
	if (opts)
		sk_registry_set_progress(c.r, opts->progress);
	ret = sk_registry_add_scope(c.r, dst->repo, true);
	for (size_t i = 0; !ret && opts && opts->mount_from && i < opts->mount_from->n; i++)
		ret = sk_registry_add_scope(c.r, opts->mount_from->v[i], false);
	if (ret) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* an unchanged re-push: the tag already names this digest */
	ret = sk_registry_manifest_head(c.r, dst->repo, reference, &have, err);
	if (ret < 0)
		goto out;
	if (ret == 1 && !strcmp(have.digest, top.digest))
		ret = 0;
	else
		ret = push_tree(&c, &top, data, len, reference, err);
	if (ret)
		goto out;
	snprintf(digest, SK_DIGEST_MAX, "%s", top.digest);
	if (opts && opts->reg.verbose)
		fprintf(stderr, "registry: %u requests\n", sk_registry_requests(c.r));
	if (opts && opts->session) {
		/* signing goes on over this connection, with the bytes it has */
		*opts->session = c.r;
		c.r = NULL;
		if (opts->top) {
			opts->top->data = data;
			opts->top->len = len;
			opts->top->cap = len;
			data = NULL;
		}
	}
out:
	if (ret) {
		char where[SK_REF_STRING_MAX];

		sk_ref_string(dst, where, sizeof(where));
		sk_err_prefix(err, "pushing to %s: ", where);
	}
	free(data);
	push_ctx_free(&c);
	sk_registry_close(c.r);
	return ret;
}
