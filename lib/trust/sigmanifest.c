/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/oci.h"
#include "schedkit/trust.h"
#include "internal.h"

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
/* More layers than anyone signs with; bounds the work an untrusted manifest causes. */
#define MAX_LAYERS 256
/* go-containerregistry's zero time, which cosign leaves in its config blob. */
#define ZERO_TIME "0001-01-01T00:00:00Z"

int sk_sig_tag(const char *digest, char out[SK_SIG_TAG_MAX], struct sk_error *err)
{
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "\"%s\" is not a sha256 digest", digest);
	snprintf(out, SK_SIG_TAG_MAX, "sha256-%s.sig", digest + 7);
	return 0;
}

static int grow(struct sk_sig_list *l, struct sk_error *err)
{
	struct sk_sig_entry *v;
	size_t cap;

	if (l->n < l->cap)
		return 0;
	cap = l->cap ? l->cap * 2 : 4;
	v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return sk_errf(err, -ENOMEM, "out of memory");
	l->v = v;
	l->cap = cap;
	return 0;
}

static int parse_layer(struct json_object *layer, size_t i, struct sk_sig_entry *e,
		       struct sk_error *err)
{
	struct json_object *mt, *dg, *sz, *ann = NULL, *sig;

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(layer, json_type_object) ||
	    !json_object_object_get_ex(layer, "mediaType", &mt) ||
	    !json_object_is_type(mt, json_type_string) ||
	    !json_object_object_get_ex(layer, "digest", &dg) ||
	    !json_object_is_type(dg, json_type_string) ||
	    !json_object_object_get_ex(layer, "size", &sz) ||
	    !json_object_is_type(sz, json_type_int))
		return sk_errf(err, -EBADMSG,
			       "signature manifest: layer %zu lacks mediaType, digest or size", i);
	if (!sk_digest_valid(json_object_get_string(dg)) || json_object_get_int64(sz) < 0 ||
	    strlen(json_object_get_string(mt)) >= sizeof(e->media_type))
		return sk_errf(err, -EBADMSG,
			       "signature manifest: layer %zu has an invalid digest, size or "
			       "mediaType",
			       i);
	if (json_object_object_get_ex(layer, "annotations", &ann) && ann &&
	    !json_object_is_type(ann, json_type_object))
		return sk_errf(err, -EBADMSG,
			       "signature manifest: layer %zu annotations are not an object", i);
	snprintf(e->media_type, sizeof(e->media_type), "%s", json_object_get_string(mt));
	snprintf(e->digest, sizeof(e->digest), "%s", json_object_get_string(dg));
	e->size = json_object_get_int64(sz);
	e->annotations = json_object_get(ann);
	if (strcmp(e->media_type, SK_MT_COSIGN_SIMPLESIGNING) || !ann ||
	    !json_object_object_get_ex(ann, SK_ANN_COSIGN_SIGNATURE, &sig) ||
	    !json_object_is_type(sig, json_type_string))
		return 0;
	e->signature = strdup(json_object_get_string(sig));
	if (!e->signature) {
		json_object_put(e->annotations);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int sk_sigmanifest_parse(const void *data, size_t len, struct sk_sig_list *out,
			 struct sk_error *err)
{
	struct json_object *root = NULL, *v, *layers;
	struct sk_sig_list l = {0};
	size_t n;
	int ret;

	ret = sk_trust_json_parse(data, len, SK_MANIFEST_MAX, "signature manifest", &root, err);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(root, "schemaVersion", &v) || json_object_get_int(v) != 2) {
		ret = sk_errf(err, -EBADMSG, "signature manifest: schemaVersion is not 2");
		goto out;
	}
	if (json_object_object_get_ex(root, "mediaType", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     (strcmp(json_object_get_string(v), SK_MT_MANIFEST) &&
	      strcmp(json_object_get_string(v), MT_DOCKER_MANIFEST)))) {
		ret = sk_errf(err, -EBADMSG,
			      "signature manifest: mediaType %s is not an image manifest",
			      json_object_to_json_string(v));
		goto out;
	}
	if (!json_object_object_get_ex(root, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		ret = sk_errf(err, -EBADMSG, "signature manifest: \"layers\" is not an array");
		goto out;
	}
	n = json_object_array_length(layers);
	if (n > MAX_LAYERS) {
		ret = sk_errf(err, -EBADMSG, "signature manifest: %zu layers, more than %d", n,
			      MAX_LAYERS);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ret = grow(&l, err);
		if (!ret)
			ret = parse_layer(json_object_array_get_idx(layers, i), i, &l.v[l.n], err);
		if (ret)
			goto out;
		l.n++;
	}
	*out = l;
	l = (struct sk_sig_list){0};
out:
	sk_sig_list_free(&l);
	json_object_put(root);
	return ret;
}

int sk_sigmanifest_parse_lenient(const void *data, size_t len, size_t max_sigs,
				 struct sk_sig_list *out, size_t *skipped, struct sk_error *err)
{
	struct json_object *root = NULL, *layers;
	struct sk_sig_list l = {0};
	size_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = sk_trust_json_parse(data, len, SK_MANIFEST_MAX, "signature manifest", &root, err);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(root, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		ret = sk_errf(err, -EBADMSG, "signature manifest: \"layers\" is not an array");
		goto out;
	}
	n = json_object_array_length(layers);
	for (size_t i = 0; i < n; i++) {
		struct sk_sig_entry e;

		/* one bad or surplus layer must not hide the good ones: skip and count */
		if (l.n >= max_sigs ||
		    parse_layer(json_object_array_get_idx(layers, i), i, &e, NULL)) {
			(*skipped)++;
			continue;
		}
		if (!e.signature || e.size < 0 || (uint64_t)e.size > SK_PAYLOAD_MAX) {
			free(e.signature);
			json_object_put(e.annotations);
			(*skipped)++;
			continue;
		}
		ret = grow(&l, err);
		if (ret) {
			free(e.signature);
			json_object_put(e.annotations);
			goto out;
		}
		l.v[l.n++] = e;
	}
	*out = l;
	l = (struct sk_sig_list){0};
out:
	sk_sig_list_free(&l);
	json_object_put(root);
	return ret;
}

int sk_sig_list_add(struct sk_sig_list *l, const void *payload, size_t payload_len,
		    const char *sig_b64, struct sk_error *err)
{
	struct sk_sig_entry *e;
	char digest[80];
	int ret;

	sk_digest_buf(payload, payload_len, digest);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].signature && !strcmp(l->v[i].digest, digest) &&
		    !strcmp(l->v[i].signature, sig_b64))
			return 0;
	ret = grow(l, err);
	if (ret)
		return ret;
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->media_type, sizeof(e->media_type), "%s", SK_MT_COSIGN_SIMPLESIGNING);
	snprintf(e->digest, sizeof(e->digest), "%s", digest);
	e->size = (int64_t)payload_len;
	e->signature = strdup(sig_b64);
	e->annotations = json_object_new_object();
	if (!e->signature || !e->annotations) {
		free(e->signature);
		json_object_put(e->annotations);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	json_object_object_add(e->annotations, SK_ANN_COSIGN_SIGNATURE,
			       json_object_new_string(sig_b64));
	l->n++;
	return 1;
}

static struct json_object *descriptor(const char *media_type, int64_t size, const char *digest)
{
	struct json_object *d = json_object_new_object();

	/* go-containerregistry's field order: mediaType, size, digest, annotations. */
	json_object_object_add(d, "mediaType", json_object_new_string(media_type));
	json_object_object_add(d, "size", json_object_new_int64(size));
	json_object_object_add(d, "digest", json_object_new_string(digest));
	return d;
}

/* The config go-containerregistry writes for cosign's layers-only image. */
static struct json_object *config_json(const struct sk_sig_list *l)
{
	struct json_object *c = json_object_new_object(), *hist = json_object_new_array();
	struct json_object *rootfs = json_object_new_object(), *ids = json_object_new_array();

	for (size_t i = 0; i < l->n; i++) {
		struct json_object *h = json_object_new_object();

		json_object_object_add(h, "created", json_object_new_string(ZERO_TIME));
		json_object_array_add(hist, h);
		json_object_array_add(ids, json_object_new_string(l->v[i].digest));
	}
	json_object_object_add(c, "architecture", json_object_new_string(""));
	json_object_object_add(c, "created", json_object_new_string(ZERO_TIME));
	json_object_object_add(c, "history", hist);
	json_object_object_add(c, "os", json_object_new_string(""));
	json_object_object_add(rootfs, "type", json_object_new_string("layers"));
	json_object_object_add(rootfs, "diff_ids", ids);
	json_object_object_add(c, "rootfs", rootfs);
	json_object_object_add(c, "config", json_object_new_object());
	return c;
}

int sk_sigmanifest_build(const struct sk_sig_list *l, struct sk_buf *manifest,
			 struct sk_buf *config, char config_digest[80], struct sk_error *err)
{
	struct json_object *cfg = NULL, *m = NULL, *layers;
	const char *s;
	size_t len;
	int ret = 0;

	if (!l->n)
		return sk_errf(err, -EINVAL, "a signature manifest needs at least one signature");
	cfg = config_json(l);
	s = sk_trust_json_str(cfg, &len);
	if (!s || sk_buf_append(config, s, len)) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	sk_digest_buf(s, len, config_digest);
	m = json_object_new_object();
	layers = json_object_new_array();
	json_object_object_add(m, "schemaVersion", json_object_new_int(2));
	json_object_object_add(m, "mediaType", json_object_new_string(SK_MT_MANIFEST));
	json_object_object_add(m, "config",
			       descriptor(SK_MT_OCI_CONFIG, (int64_t)len, config_digest));
	for (size_t i = 0; i < l->n; i++) {
		const struct sk_sig_entry *e = &l->v[i];
		struct json_object *d = descriptor(e->media_type, e->size, e->digest);

		if (e->annotations && json_object_object_length(e->annotations))
			json_object_object_add(d, "annotations", json_object_get(e->annotations));
		json_object_array_add(layers, d);
	}
	json_object_object_add(m, "layers", layers);
	s = sk_trust_json_str(m, &len);
	if (!s || sk_buf_append(manifest, s, len))
		ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(cfg);
	json_object_put(m);
	return ret;
}

void sk_sig_list_free(struct sk_sig_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].signature);
		json_object_put(l->v[i].annotations);
	}
	free(l->v);
	*l = (struct sk_sig_list){0};
}
