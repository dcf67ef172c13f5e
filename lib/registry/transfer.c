/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push (layout -> registry) and pull (registry, layout or archive -> store).
 * Pull order: top manifest, platform manifests, blobs, each verified by digest
 * as it lands in the store; then the verifier; only then the store records
 * the reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/registry.h"
#include "schedkit/store.h"

#define ARCHIVE_MAX_TOTAL (1ull << 30)
#define INDEX_MAX_ENTRIES 256
/* A scheduler artifact has two or three layers; thousands only cost disk and fsyncs. */
#define MANIFEST_MAX_LAYERS 256

/* ---- push ---- */

/* "sha256-<64 hex>.sig": a cosign signature tag, never an artifact. */
static bool is_sig_tag(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n != 7 + 64 + 4 || strncmp(name, "sha256-", 7) || strcmp(name + 71, ".sig"))
		return false;
	for (size_t i = 7; i < 71; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

int sk_layout_resolve_artifact(struct sk_layout *l, const char *tag, struct sk_descriptor *d,
			       struct sk_error *err)
{
	struct json_object *idx = NULL, *list;
	char *path, pick[SK_DIGEST_MAX + 256] = "";
	uint8_t *data = NULL;
	size_t len, found = 0;
	int ret;

	if (tag && *tag)
		return sk_layout_resolve(l, tag, d, err);
	path = sk_path_join(sk_layout_dir(l), "index.json");
	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_read_file(path, SK_MANIFEST_MAX, &data, &len, err);
	if (!ret)
		ret = sk_json_parse(data, len, path, &idx, err);
	free(path);
	free(data);
	if (ret)
		return ret;
	if (json_object_object_get_ex(idx, "manifests", &list) &&
	    json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *e = json_object_array_get_idx(list, i), *a;
			const char *name = NULL, *dg = sk_json_str(e, "digest");

			if (json_object_object_get_ex(e, "annotations", &a))
				name = sk_json_str(a, SK_ANN_REF_NAME);
			if (is_sig_tag(name))
				continue;
			found++;
			snprintf(pick, sizeof(pick), "%s", name ? name : dg ? dg : "");
		}
	}
	json_object_put(idx);
	/* anything but exactly one artifact: the layout's own message lists what it holds */
	return sk_layout_resolve(l, found == 1 && pick[0] ? pick : NULL, d, err);
}

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

/* ---- pull ---- */

struct source {
	struct sk_registry *reg; /* registry source */
	const struct sk_ref *ref;
	struct sk_layout *layout; /* layout source */
};

/* Fetches a manifest (by tag or digest) verified against its digest; mt from the JSON. */
static int src_manifest(struct source *src, struct sk_store *s, const char *reference, int64_t size,
			struct sk_buf *body, char digest[SK_DIGEST_MAX], struct sk_error *err)
{
	struct sk_layout *from = src->layout;
	char mt[256];
	int ret;

	/* content-addressed: what the store already holds by this digest needs no fetch */
	if (sk_digest_valid(reference) && sk_store_has_blob(s, reference, size))
		from = sk_store_layout(s);
	if (src->reg && from == src->layout) {
		ret = sk_registry_manifest_get(src->reg, src->ref->repo, reference, SK_MANIFEST_MAX,
					       body, mt, digest, err);
	} else {
		struct sk_descriptor d;
		uint8_t *data = NULL;
		size_t len;

		if (sk_digest_valid(reference)) {
			memset(&d, 0, sizeof(d));
			snprintf(d.digest, sizeof(d.digest), "%s", reference);
			d.size = size;
		} else {
			ret = sk_layout_resolve(from, reference, &d, err);
			if (ret)
				return ret;
		}
		ret = sk_layout_get_blob(from, d.digest, d.size, SK_MANIFEST_MAX, &data, &len, err);
		if (ret)
			return ret;
		body->data = data;
		body->len = len;
		body->cap = len + 1;
		snprintf(digest, SK_DIGEST_MAX, "%s", d.digest);
	}
	if (!ret && size >= 0 && (int64_t)body->len != size) {
		ret = sk_errf(err, -EBADMSG, "manifest %s: %zu bytes, its descriptor says %lld",
			      digest, body->len, (long long)size);
		sk_buf_free(body);
	}
	return ret;
}

static int copy_file_into(struct sk_store_writer *w, const char *path, struct sk_error *err)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return sk_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
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
		ret = sk_store_writer_write(w, buf, (size_t)n, err);
		if (ret)
			break;
	}
	close(fd);
	return ret;
}

static int src_blob(struct source *src, struct sk_store *s, const struct sk_descriptor *d,
		    struct sk_error *err)
{
	struct sk_store_writer *w;
	struct sk_sink sink;
	int ret;

	if (!sk_digest_valid(d->digest))
		return sk_errf(err, -EINVAL, "'%s' is not a sha256 digest", d->digest);
	if (d->size < 0 || (uint64_t)d->size > SK_BLOB_MAX)
		return sk_errf(err, -EFBIG, "blob %s: size %lld is beyond the %u bytes allowed",
			       d->digest, (long long)d->size, SK_BLOB_MAX);
	if (sk_store_has_blob(s, d->digest, d->size))
		return 0;
	ret = sk_store_writer_new(s, &w, err);
	if (ret)
		return ret;
	if (src->reg) {
		sk_store_writer_sink(w, &sink);
		ret =
		    sk_registry_blob_get(src->reg, src->ref->repo, d->digest, d->size, &sink, err);
	} else {
		char *path = sk_layout_blob_path(src->layout, d->digest);

		ret = path ? copy_file_into(w, path, err) : sk_errf(err, -ENOMEM, "out of memory");
		free(path);
	}
	if (ret) {
		sk_store_writer_abort(w);
		return ret;
	}
	ret = sk_store_writer_commit(w, d->digest, d->size, err);
	if (ret)
		sk_err_prefix(err, "refusing blob: ");
	return ret;
}

static int fetch_manifest_tree(struct source *src, struct sk_store *s, const char *digest,
			       int64_t size, struct sk_error *err)
{
	struct sk_buf body = {0};
	struct json_object *m = NULL, *cfg, *layers;
	struct sk_descriptor d;
	char got[SK_DIGEST_MAX];
	const char *mt;
	int ret;

	ret = src_manifest(src, s, digest, size, &body, got, err);
	if (ret)
		return ret;
	ret = sk_json_parse(body.data, body.len, digest, &m, err);
	if (ret)
		goto out;
	mt = sk_json_str(m, "mediaType");
	if (mt && strcmp(mt, SK_MT_MANIFEST)) {
		ret = sk_errf(err, -EBADMSG, "%s is a %s, not an OCI image manifest", digest, mt);
		goto out;
	}
	if (!json_object_object_get_ex(m, "config", &cfg) ||
	    !json_object_object_get_ex(m, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		ret = sk_errf(err, -EBADMSG, "manifest %s has no config or layers", digest);
		goto out;
	}
	if (json_object_array_length(layers) > MANIFEST_MAX_LAYERS) {
		ret = sk_errf(err, -EFBIG, "manifest %s has %zu layers, more than the %d allowed",
			      digest, json_object_array_length(layers), MANIFEST_MAX_LAYERS);
		goto out;
	}
	ret = sk_descriptor_from_json(cfg, &d, err);
	if (!ret)
		ret = src_blob(src, s, &d, err);
	for (size_t i = 0; !ret && i < json_object_array_length(layers); i++) {
		ret = sk_descriptor_from_json(json_object_array_get_idx(layers, i), &d, err);
		if (!ret)
			ret = src_blob(src, s, &d, err);
	}
	/* the manifest goes in last: its presence implies its blobs are there */
	if (!ret)
		ret = sk_store_put(s, body.data, body.len, got, err);
out:
	json_object_put(m);
	sk_buf_free(&body);
	return ret;
}

static bool platform_match(const struct sk_descriptor *d, const char *os, const char *arch,
			   const char *variant)
{
	return !strcmp(d->platform_os, os) && !strcmp(d->platform_arch, arch) &&
	       (!variant || !*variant || !strcmp(d->platform_variant, variant));
}

struct pulled {
	char digest[SK_DIGEST_MAX];
	char manifest_digest[SK_DIGEST_MAX];
	struct sk_descriptor top;
};

static int pull_from(struct source *src, struct sk_store *s, const char *reference,
		     const struct sk_pull_opts *o, struct pulled *p, struct sk_error *err)
{
	struct sk_buf body = {0};
	struct json_object *top = NULL, *list;
	const char *mt, *os = o->os ? o->os : "linux";
	char arch[64], *variant;
	int ret;

	snprintf(arch, sizeof(arch), "%s", o->arch ? o->arch : sk_host_arch());
	variant = strchr(arch, '/');
	if (variant)
		*variant++ = '\0';
	ret = src_manifest(src, s, reference, -1, &body, p->digest, err);
	if (ret)
		return ret;
	ret = sk_json_parse(body.data, body.len, reference, &top, err);
	if (ret)
		goto out;
	mt = sk_json_str(top, "mediaType");
	if (!mt)
		mt = json_object_object_get_ex(top, "manifests", &list) ? SK_MT_INDEX
									: SK_MT_MANIFEST;
	memset(&p->top, 0, sizeof(p->top));
	snprintf(p->top.media_type, sizeof(p->top.media_type), "%s", mt);
	snprintf(p->top.digest, sizeof(p->top.digest), "%s", p->digest);
	p->top.size = (int64_t)body.len;
	if (!strcmp(mt, SK_MT_MANIFEST)) {
		ret = fetch_manifest_tree(src, s, p->digest, (int64_t)body.len, err);
		snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", p->digest);
		goto out;
	}
	if (strcmp(mt, SK_MT_INDEX)) {
		ret = sk_errf(err, -EBADMSG,
			      "%s is a %s, not an OCI index or manifest (not a schedkit artifact)",
			      reference, mt);
		goto out;
	}
	if (!json_object_object_get_ex(top, "manifests", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		ret = sk_errf(err, -EBADMSG, "index %s: no usable manifests list", p->digest);
		goto out;
	}
	if (json_object_array_length(list) > INDEX_MAX_ENTRIES) {
		ret = sk_errf(err, -EFBIG, "index %s lists %zu manifests, more than the %d allowed",
			      p->digest, json_object_array_length(list), INDEX_MAX_ENTRIES);
		goto out;
	}
	{
		struct sk_buf avail = {0};
		bool found = false;

		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct sk_descriptor d;

			ret = sk_descriptor_from_json(json_object_array_get_idx(list, i), &d, err);
			if (ret) {
				sk_err_prefix(err, "index %s: ", p->digest);
				break;
			}
			if (o->all_platforms || platform_match(&d, os, arch, variant)) {
				if (strcmp(d.media_type, SK_MT_MANIFEST)) {
					if (!o->all_platforms)
						continue;
					ret = sk_errf(err, -EBADMSG,
						      "index %s: entry %s is a %s, not a manifest",
						      p->digest, d.digest, d.media_type);
					break;
				}
				ret = fetch_manifest_tree(src, s, d.digest, d.size, err);
				if (ret)
					break;
				if (!found && !o->all_platforms)
					snprintf(p->manifest_digest, sizeof(p->manifest_digest),
						 "%s", d.digest);
				found = true;
				if (!o->all_platforms)
					break;
			} else {
				sk_buf_printf(&avail, "%s%s/%s%s%s", avail.len ? ", " : "",
					      d.platform_os[0] ? d.platform_os : "?",
					      d.platform_arch[0] ? d.platform_arch : "?",
					      d.platform_variant[0] ? "/" : "", d.platform_variant);
			}
		}
		if (!ret && !found && !o->all_platforms)
			ret =
			    sk_errf(err, -ENOENT,
				    "%s has no manifest for %s/%s%s%s (it has: %s); pick one with "
				    "--platform",
				    reference, os, arch, variant ? "/" : "", variant ? variant : "",
				    avail.len ? (char *)avail.data : "none");
		sk_buf_free(&avail);
		if (ret)
			goto out;
	}
	ret = sk_store_put(s, body.data, body.len, p->digest, err);
out:
	json_object_put(top);
	sk_buf_free(&body);
	return ret;
}

/* How the command-line source names its content. */
int sk_pull(struct sk_store *s, const char *srcname, const struct sk_pull_opts *opts,
	    char digest[SK_DIGEST_MAX], char *name, struct sk_error *err)
{
	static const struct sk_pull_opts none;
	struct source src = {0};
	struct sk_ref ref;
	struct sk_descriptor top;
	struct pulled p = {0};
	char refname[SK_REF_STRING_MAX] = "", *dir = NULL, *tag = NULL, *tmpdir = NULL;
	const char *rest, *reference = NULL;
	enum sk_source_kind kind;
	int ret;

	if (!opts)
		opts = &none;
	kind = sk_source_classify(srcname, &rest);
	if (kind == SK_SOURCE_REGISTRY) {
		ret = sk_ref_parse(srcname, &ref, err);
		if (ret) {
			if (!strchr(srcname, ':') && !strchr(srcname, '/'))
				sk_err_prefix(err, "'%s' is not a directory or file either; ",
					      srcname);
			return ret;
		}
		src.ref = &ref;
		reference = sk_ref_reference(&ref);
		sk_ref_string(&ref, refname, sizeof(refname));
		if (!ref.tag[0] && !ref.digest[0])
			snprintf(refname + strlen(refname), sizeof(refname) - strlen(refname),
				 ":latest");
		/*
		 * No request happens until something is missing from the store: a
		 * pinned reference whose content is all here makes none.
		 */
		ret = sk_registry_open(&ref, &opts->reg, &src.reg, err);
		if (ret)
			return ret;
		ret = sk_registry_add_scope(src.reg, ref.repo, false);
		if (ret) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
	} else {
		if (kind == SK_SOURCE_ARCHIVE) {
			ret = sk_archive_ref_split(rest, &dir, &tag);
			if (ret) {
				ret = sk_errf(err, ret, "%s: no such archive file", rest);
				goto out;
			}
			if (asprintf(&tmpdir, "%s/.tmp/archive-XXXXXX", sk_store_dir(s)) < 0 ||
			    !mkdtemp(tmpdir)) {
				ret =
				    sk_errf(err, -errno, "cannot create a directory in %s/.tmp: %s",
					    sk_store_dir(s), strerror(errno));
				goto out;
			}
			ret = sk_archive_extract(dir, tmpdir, ARCHIVE_MAX_TOTAL, err);
			if (ret)
				goto out;
			ret = sk_layout_open(tmpdir, &src.layout, err);
		} else {
			if (sk_layout_ref_split(rest, &dir, &tag)) {
				ret = sk_errf(err, -ENOMEM, "out of memory");
				goto out;
			}
			ret = sk_layout_open(dir, &src.layout, err);
		}
		if (ret)
			goto out;
		ret = sk_layout_resolve_artifact(src.layout, tag, &top, err);
		if (ret)
			goto out;
		reference = top.digest;
		snprintf(refname, sizeof(refname), "%s", top.ref_name);
	}
	ret = pull_from(&src, s, reference, opts, &p, err);
	if (ret)
		goto out;
	if (opts->record_as)
		snprintf(refname, sizeof(refname), "%s", opts->record_as);
	if (opts->verify) {
		struct sk_pull_subject subj = {
		    .name = refname,
		    .ref = kind == SK_SOURCE_REGISTRY ? &ref : NULL,
		    .registry = src.reg,
		    .source = src.layout,
		    .digest = p.digest,
		    .manifest_digest = p.manifest_digest,
		    .store = s,
		};

		ret = opts->verify(opts->verify_ctx, &subj, err);
		if (ret) {
			sk_err_prefix(err, "verification of %s failed, not recorded: ", p.digest);
			goto out;
		}
	}
	ret = opts->record_annotations && opts->record_annotations[0]
		  ? sk_store_record_annotated(s, refname[0] ? refname : NULL, &p.top,
					      opts->record_annotations, err)
		  : sk_store_record(s, refname[0] ? refname : NULL, &p.top, err);
	if (ret)
		goto out;
	snprintf(digest, SK_DIGEST_MAX, "%s", p.digest);
	if (name)
		snprintf(name, SK_REF_STRING_MAX, "%s", refname);
	if (src.reg && opts->reg.verbose)
		fprintf(stderr, "registry: %u requests\n", sk_registry_requests(src.reg));
out:
	if (ret)
		sk_err_prefix(err, "pulling %s: ", srcname);
	sk_registry_close(src.reg);
	sk_layout_close(src.layout);
	if (tmpdir) {
		sk_rm_rf(tmpdir);
		free(tmpdir);
	}
	free(dir);
	free(tag);
	return ret;
}
