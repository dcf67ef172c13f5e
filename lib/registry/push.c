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

struct push_ctx {
	struct sk_layout *l;
	struct sk_registry *r;
	const struct sk_ref *dst;
	const struct sk_push_opts *opts;
};

static int push_blob(struct push_ctx *c, const struct sk_descriptor *d, struct sk_error *err)
{
	char *path = NULL;
	const char *from = NULL;
	int ret;

	ret = sk_registry_blob_exists(c->r, c->dst->repo, d->digest, NULL, err);
	if (ret < 0)
		return ret;
	if (ret == 1)
		return 0;
	path = sk_layout_blob_path(c->l, d->digest);
	if (!path)
		return sk_errf(err, -EINVAL, "bad digest %s in the layout", d->digest);
	ret = check_local_blob(path, d, err);
	if (!ret) {
		if (c->opts && c->opts->mount_from && c->opts->mount_from->n)
			from = c->opts->mount_from->v[0];
		ret = sk_registry_blob_push(c->r, c->dst->repo, d->digest, d->size, path, from,
					    NULL, err);
	}
	free(path);
	return ret;
}

static int read_layout_json(struct sk_layout *l, const struct sk_descriptor *d, uint8_t **data,
			    size_t *len, struct json_object **j, struct sk_error *err)
{
	int ret = sk_layout_get_blob(l, d->digest, d->size, SK_MANIFEST_MAX, data, len, err);

	if (ret)
		return ret;
	ret = sk_json_parse(*data, *len, d->digest, j, err);
	if (ret) {
		free(*data);
		*data = NULL;
	}
	return ret;
}

/* A manifest's blobs (config and layers), then the manifest by digest. */
static int push_manifest(struct push_ctx *c, const struct sk_descriptor *md, struct sk_error *err)
{
	struct json_object *m = NULL, *layers, *cfg;
	struct sk_descriptor d;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	ret = sk_registry_manifest_head(c->r, c->dst->repo, md->digest, NULL, err);
	if (ret < 0)
		return ret;
	if (ret == 1) /* the registry checked its blobs when it accepted it */
		return 0;
	ret = read_layout_json(c->l, md, &data, &len, &m, err);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(m, "config", &cfg) ||
	    !json_object_object_get_ex(m, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		ret = sk_errf(err, -EBADMSG, "manifest %s has no config or layers", md->digest);
		goto out;
	}
	ret = sk_descriptor_from_json(cfg, &d, err);
	if (!ret)
		ret = push_blob(c, &d, err);
	for (size_t i = 0; !ret && i < json_object_array_length(layers); i++) {
		ret = sk_descriptor_from_json(json_object_array_get_idx(layers, i), &d, err);
		if (!ret)
			ret = push_blob(c, &d, err);
	}
	if (ret)
		goto out;
	ret = sk_registry_manifest_put(c->r, c->dst->repo, md->digest,
				       md->media_type[0] ? md->media_type : SK_MT_MANIFEST, data,
				       len, err);
out:
	json_object_put(m);
	free(data);
	return ret;
}

int sk_push_layout(struct sk_layout *l, const char *tag, const struct sk_ref *dst,
		   const struct sk_push_opts *opts, char digest[SK_DIGEST_MAX],
		   struct sk_error *err)
{
	struct push_ctx c = {.l = l, .dst = dst, .opts = opts};
	struct sk_descriptor top, have;
	struct json_object *idx = NULL, *list;
	uint8_t *data = NULL;
	size_t len;
	const char *reference;
	int ret;

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
	ret = sk_registry_open(dst, opts ? &opts->reg : NULL, &c.r, err);
	if (ret)
		return ret;
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
	if (ret == 1 && !strcmp(have.digest, top.digest)) {
		ret = 0;
		goto done;
	}
	if (!strcmp(top.media_type, SK_MT_INDEX)) {
		ret = read_layout_json(l, &top, &data, &len, &idx, err);
		if (ret)
			goto out;
		if (!json_object_object_get_ex(idx, "manifests", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			ret = sk_errf(err, -EBADMSG, "index %s has no manifests", top.digest);
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct sk_descriptor md;

			ret = sk_descriptor_from_json(json_object_array_get_idx(list, i), &md, err);
			if (!ret)
				ret = push_manifest(&c, &md, err);
			if (ret)
				goto out;
		}
		ret = sk_registry_manifest_put(c.r, dst->repo, reference, SK_MT_INDEX, data, len,
					       err);
	} else {
		ret = push_manifest(&c, &top, err);
		if (!ret && !sk_digest_valid(reference)) {
			ret = sk_layout_get_blob(l, top.digest, top.size, SK_MANIFEST_MAX, &data,
						 &len, err);
			if (!ret)
				ret = sk_registry_manifest_put(c.r, dst->repo, reference,
							       top.media_type, data, len, err);
		}
	}
	if (ret)
		goto out;
done:
	snprintf(digest, SK_DIGEST_MAX, "%s", top.digest);
	if (opts && opts->reg.verbose)
		fprintf(stderr, "registry: %u requests\n", sk_registry_requests(c.r));
out:
	if (ret) {
		char where[SK_REF_STRING_MAX];

		sk_ref_string(dst, where, sizeof(where));
		sk_err_prefix(err, "pushing to %s: ", where);
	}
	json_object_put(idx);
	free(data);
	sk_registry_close(c.r);
	return ret;
}
