/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "schedkit/oci.h"

#define SOURCE_TITLE "source.tar.gz"
#define ANN_TITLE    "org.opencontainers.image.title"

static int append(struct json_object *arr, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_array_add(arr, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* Copies a string->string map keeping the caller's key order (it is part of the digest). */
static int copy_annotations(struct json_object *src, const char *what, struct json_object **out,
			    struct sk_error *err)
{
	struct json_object *dst;

	*out = NULL;
	if (!src || json_object_object_length(src) == 0)
		return 0;
	if (!json_object_is_type(src, json_type_object))
		return sk_errf(err, -EINVAL, "%s: annotations must be a JSON object", what);
	dst = json_object_new_object();
	if (!dst)
		return sk_errf(err, -ENOMEM, "out of memory");
	json_object_object_foreach(src, key, val)
	{
		if (!json_object_is_type(val, json_type_string)) {
			json_object_put(dst);
			return sk_errf(err, -EINVAL,
				       "%s: annotation \"%s\" must be a string (OCI annotations "
				       "are string to string)",
				       what, key);
		}
		if (sk_json_add(dst, key, json_object_new_string(json_object_get_string(val)))) {
			json_object_put(dst);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	*out = dst;
	return 0;
}

static int fill_desc(struct sk_descriptor *d, const char *media_type, const char *digest,
		     size_t size)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", media_type);
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->size = (int64_t)size;
	return 0;
}

/* Stores a JSON document as a blob; its exact bytes are what the digest names. */
static int put_json(struct sk_layout *l, struct json_object *o, char digest[SK_DIGEST_MAX],
		    size_t *len, struct sk_error *err)
{
	char *s = sk_json_dump(o, len);
	int ret;

	if (!s)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_layout_put_blob(l, s, *len, digest, err);
	free(s);
	return ret;
}

static struct json_object *titled(const char *title)
{
	struct json_object *a = json_object_new_object();

	if (a && sk_json_add(a, ANN_TITLE, json_object_new_string(title))) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

static int check_platform(const struct sk_artifact_platform *p, size_t i, struct sk_error *err)
{
	if (!p->os || !*p->os || !p->arch || !*p->arch)
		return sk_errf(err, -EINVAL, "artifact platform %zu: os and arch are required", i);
	if (strlen(p->os) >= 32 || strlen(p->arch) >= 32)
		return sk_errf(err, -EINVAL, "artifact platform %zu: os/arch name too long", i);
	if (!p->object || !p->object_len)
		return sk_errf(err, -EINVAL, "artifact platform %s/%s: the BPF object is empty",
			       p->os, p->arch);
	if (!p->config || !json_object_is_type(p->config, json_type_object))
		return sk_errf(err, -EINVAL,
			       "artifact platform %s/%s: config must be a JSON object", p->os,
			       p->arch);
	if (!p->object_title || !*p->object_title)
		return sk_errf(err, -EINVAL, "artifact platform %s/%s: object title is required",
			       p->os, p->arch);
	return 0;
}

static int write_manifest(struct sk_layout *l, const struct sk_artifact_platform *p,
			  struct sk_descriptor *out, struct sk_error *err)
{
	struct json_object *m = NULL, *layers, *ann = NULL;
	struct sk_descriptor d;
	char digest[SK_DIGEST_MAX];
	size_t len;
	int ret;

	m = json_object_new_object();
	if (!m || sk_json_add(m, "schemaVersion", json_object_new_int(2)) ||
	    sk_json_add(m, "mediaType", json_object_new_string(SK_MT_MANIFEST)) ||
	    sk_json_add(m, "artifactType", json_object_new_string(SK_ARTIFACT_TYPE)))
		goto nomem;

	ret = put_json(l, p->config, digest, &len, err);
	if (ret)
		goto out;
	fill_desc(&d, SK_MT_SCHED_CONFIG, digest, len);
	if (sk_json_add(m, "config", sk_descriptor_to_json(&d, NULL)))
		goto nomem;

	layers = json_object_new_array();
	if (sk_json_add(m, "layers", layers))
		goto nomem;
	ret = sk_layout_put_blob(l, p->object, p->object_len, digest, err);
	if (ret)
		goto out;
	fill_desc(&d, SK_MT_SCHED_BPF, digest, p->object_len);
	if (append(layers, sk_descriptor_to_json(&d, titled(p->object_title))))
		goto nomem;
	if (p->source_tgz) {
		ret = sk_layout_put_blob(l, p->source_tgz, p->source_len, digest, err);
		if (ret)
			goto out;
		fill_desc(&d, SK_MT_SCHED_SOURCE, digest, p->source_len);
		if (append(layers, sk_descriptor_to_json(&d, titled(SOURCE_TITLE))))
			goto nomem;
	}
	ret = copy_annotations(p->annotations, "manifest", &ann, err);
	if (ret)
		goto out;
	if (ann) {
		struct json_object *a = ann;

		ann = NULL;
		if (sk_json_add(m, "annotations", a))
			goto nomem;
	}

	ret = put_json(l, m, digest, &len, err);
	if (ret)
		goto out;
	fill_desc(out, SK_MT_MANIFEST, digest, len);
	snprintf(out->artifact_type, sizeof(out->artifact_type), "%s", SK_ARTIFACT_TYPE);
	snprintf(out->platform_os, sizeof(out->platform_os), "%s", p->os);
	snprintf(out->platform_arch, sizeof(out->platform_arch), "%s", p->arch);
	goto out;
nomem:
	ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(ann);
	json_object_put(m);
	return ret;
}

int sk_artifact_write(struct sk_layout *l, const struct sk_artifact_platform *plats, size_t n,
		      struct json_object *index_annotations, const char *tag,
		      char index_digest[SK_DIGEST_MAX], struct sk_error *err)
{
	struct json_object *idx = NULL, *list, *ann = NULL;
	struct sk_descriptor d;
	size_t len;
	int ret;

	if (!n)
		return sk_errf(err, -EINVAL, "artifact: at least one platform is required");
	for (size_t i = 0; i < n; i++) {
		ret = check_platform(&plats[i], i, err);
		if (ret)
			return ret;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(plats[i].os, plats[j].os) &&
			    !strcmp(plats[i].arch, plats[j].arch))
				return sk_errf(
				    err, -EINVAL,
				    "artifact: platform %s/%s is given twice; build each "
				    "architecture once",
				    plats[i].os, plats[i].arch);
	}
	idx = json_object_new_object();
	list = json_object_new_array();
	if (!idx || sk_json_add(idx, "schemaVersion", json_object_new_int(2)) ||
	    sk_json_add(idx, "mediaType", json_object_new_string(SK_MT_INDEX)) ||
	    sk_json_add(idx, "artifactType", json_object_new_string(SK_ARTIFACT_TYPE)) ||
	    sk_json_add(idx, "manifests", list))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		ret = write_manifest(l, &plats[i], &d, err);
		if (ret) {
			sk_err_prefix(err, "writing the %s/%s manifest: ", plats[i].os,
				      plats[i].arch);
			goto out;
		}
		if (append(list, sk_descriptor_to_json(&d, NULL)))
			goto nomem;
	}
	ret = copy_annotations(index_annotations, "index", &ann, err);
	if (ret)
		goto out;
	if (ann) {
		struct json_object *a = ann;

		ann = NULL;
		if (sk_json_add(idx, "annotations", a))
			goto nomem;
	}
	ret = put_json(l, idx, index_digest, &len, err);
	if (ret)
		goto out;
	fill_desc(&d, SK_MT_INDEX, index_digest, len);
	snprintf(d.artifact_type, sizeof(d.artifact_type), "%s", SK_ARTIFACT_TYPE);
	ret = sk_layout_add_manifest(l, &d, tag, err);
	goto out;
nomem:
	ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(ann);
	json_object_put(idx);
	return ret;
}

static int load_json_blob(struct sk_layout *l, const struct sk_descriptor *d, const char *what,
			  struct json_object **out, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len;
	int ret;

	ret = sk_layout_get_blob(l, d->digest, d->size, SK_MANIFEST_MAX, &data, &len, err);
	if (!ret)
		ret = sk_json_parse(data, len, what, out, err);
	free(data);
	return ret;
}

/* A document's own mediaType, when present, must agree with what its descriptor claimed. */
static int check_media_type(struct json_object *doc, const char *want, const char *what,
			    struct sk_error *err)
{
	const char *mt = sk_json_str(doc, "mediaType");

	if (sk_json_int(doc, "schemaVersion") != 2)
		return sk_errf(err, -EPROTO, "%s: schemaVersion must be 2", what);
	if (mt && strcmp(mt, want))
		return sk_errf(err, -EPROTO, "%s: mediaType is %s, expected %s", what, mt, want);
	return 0;
}

static int pick_platform(struct sk_layout *l, const struct sk_descriptor *index_desc,
			 const char *ref, const char *arch, struct sk_descriptor *out,
			 struct sk_error *err)
{
	struct json_object *idx = NULL, *list;
	struct sk_buf avail = {0};
	struct sk_descriptor d;
	char what[640];
	bool found = false;
	int ret;

	snprintf(what, sizeof(what), "image index %s of %s", index_desc->digest, ref);
	ret = load_json_blob(l, index_desc, what, &idx, err);
	if (ret)
		return ret;
	ret = check_media_type(idx, SK_MT_INDEX, what, err);
	if (ret)
		goto out;
	if (!json_object_object_get_ex(idx, "manifests", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		ret = sk_errf(err, -EPROTO, "%s: \"manifests\" is missing or not an array", what);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		ret = sk_descriptor_from_json(json_object_array_get_idx(list, i), &d, err);
		if (ret) {
			sk_err_prefix(err, "%s: ", what);
			goto out;
		}
		sk_buf_printf(&avail, "%s%s/%s", avail.len ? ", " : "",
			      d.platform_os[0] ? d.platform_os : "?",
			      d.platform_arch[0] ? d.platform_arch : "?");
		if (!found && !strcmp(d.platform_os, "linux") && !strcmp(d.platform_arch, arch)) {
			*out = d;
			found = true;
		}
	}
	if (!found) {
		sk_buf_append(&avail, "", 1);
		ret = sk_errf(err, -ENOENT,
			      "%s has no build for linux/%s (available: %s); rebuild it for %s or "
			      "choose one of the available architectures",
			      ref, arch, avail.data && avail.data[0] ? (char *)avail.data : "none",
			      arch);
		goto out;
	}
	if (strcmp(out->media_type, SK_MT_MANIFEST)) {
		ret = sk_errf(err, -EPROTO,
			      "%s: the linux/%s entry is a %s, expected an image "
			      "manifest",
			      what, arch, out->media_type);
		goto out;
	}
out:
	sk_buf_free(&avail);
	json_object_put(idx);
	return ret;
}

static int load_object(struct sk_layout *l, struct sk_artifact *a, const char *what,
		       struct sk_error *err)
{
	struct json_object *layers, *bpf = NULL;
	struct sk_descriptor d;
	int ret;

	if (!json_object_object_get_ex(a->manifest, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array))
		return sk_errf(err, -EPROTO, "%s: \"layers\" is missing or not an array", what);
	for (size_t i = 0; i < json_object_array_length(layers); i++) {
		struct json_object *e = json_object_array_get_idx(layers, i);
		const char *mt = sk_json_str(e, "mediaType");

		if (!mt || strcmp(mt, SK_MT_SCHED_BPF))
			continue;
		if (bpf)
			return sk_errf(err, -EPROTO,
				       "%s: more than one %s layer; a scheduler artifact carries "
				       "exactly one BPF object",
				       what, SK_MT_SCHED_BPF);
		bpf = e;
	}
	if (!bpf)
		return sk_errf(err, -EPROTO, "%s: no %s layer; this artifact carries no BPF object",
			       what, SK_MT_SCHED_BPF);
	ret = sk_descriptor_from_json(bpf, &d, err);
	if (ret)
		return sk_err_prefix(err, "%s: BPF layer: ", what);
	ret = sk_layout_get_blob(l, d.digest, d.size, SK_BLOB_MAX, &a->object, &a->object_len, err);
	if (ret)
		return sk_err_prefix(err, "%s: BPF object: ", what);
	return 0;
}

int sk_artifact_read(struct sk_layout *l, const char *tag, const char *arch,
		     struct sk_artifact **out, struct sk_error *err)
{
	struct sk_artifact *a = NULL;
	struct sk_descriptor top, md, cd;
	struct json_object *cfg;
	const char *at;
	char ref[512], what[700];
	int ret;

	*out = NULL;
	if (!arch)
		arch = sk_host_arch();
	snprintf(ref, sizeof(ref), "%s%s%s", sk_layout_dir(l), tag && *tag ? ":" : "",
		 tag ? tag : "");
	ret = sk_layout_resolve(l, tag, &top, err);
	if (ret)
		return ret;
	a = calloc(1, sizeof(*a));
	if (!a)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!strcmp(top.media_type, SK_MT_INDEX)) {
		ret = pick_platform(l, &top, ref, arch, &md, err);
		if (ret)
			goto fail;
		snprintf(a->index_digest, sizeof(a->index_digest), "%s", top.digest);
	} else if (!strcmp(top.media_type, SK_MT_MANIFEST)) {
		md = top;
	} else {
		ret = sk_errf(err, -EPROTO,
			      "%s is a %s, not an image index or manifest; it is not a schedkit "
			      "scheduler",
			      ref, top.media_type);
		goto fail;
	}
	snprintf(a->manifest_digest, sizeof(a->manifest_digest), "%s", md.digest);
	snprintf(what, sizeof(what), "manifest %s of %s", md.digest, ref);
	ret = load_json_blob(l, &md, what, &a->manifest, err);
	if (ret)
		goto fail;
	ret = check_media_type(a->manifest, SK_MT_MANIFEST, what, err);
	if (ret)
		goto fail;
	at = sk_json_str(a->manifest, "artifactType");
	if (!at || strcmp(at, SK_ARTIFACT_TYPE)) {
		ret = sk_errf(err, -EPROTO,
			      "%s is not a schedkit scheduler: its artifactType is %s, expected %s",
			      ref, at ? at : "(none)", SK_ARTIFACT_TYPE);
		goto fail;
	}
	if (!json_object_object_get_ex(a->manifest, "config", &cfg)) {
		ret = sk_errf(err, -EPROTO, "%s: no config descriptor", what);
		goto fail;
	}
	ret = sk_descriptor_from_json(cfg, &cd, err);
	if (ret) {
		sk_err_prefix(err, "%s: config: ", what);
		goto fail;
	}
	if (strcmp(cd.media_type, SK_MT_SCHED_CONFIG)) {
		ret = sk_errf(err, -EPROTO, "%s: config mediaType is %s, expected %s", what,
			      cd.media_type, SK_MT_SCHED_CONFIG);
		goto fail;
	}
	snprintf(what, sizeof(what), "config %s of %s", cd.digest, ref);
	ret = load_json_blob(l, &cd, what, &a->config, err);
	if (ret)
		goto fail;
	snprintf(what, sizeof(what), "manifest %s of %s", md.digest, ref);
	ret = load_object(l, a, what, err);
	if (ret)
		goto fail;
	if (json_object_object_get_ex(a->manifest, "annotations", &a->annotations) &&
	    !json_object_is_type(a->annotations, json_type_object))
		a->annotations = NULL;
	if (md.platform_os[0]) {
		snprintf(a->os, sizeof(a->os), "%s", md.platform_os);
		snprintf(a->arch, sizeof(a->arch), "%s", md.platform_arch);
	} else {
		/* A bare manifest has no platform; the config records what it was built for. */
		struct json_object *build;
		const char *barch = NULL;

		if (json_object_object_get_ex(a->config, "build", &build))
			barch = sk_json_str(build, "arch");
		snprintf(a->os, sizeof(a->os), "linux");
		snprintf(a->arch, sizeof(a->arch), "%s", barch ? barch : "");
	}
	*out = a;
	return 0;
fail:
	sk_artifact_free(a);
	return ret;
}

void sk_artifact_free(struct sk_artifact *a)
{
	if (!a)
		return;
	json_object_put(a->manifest);
	json_object_put(a->config);
	free(a->object);
	free(a);
}

const char *sk_host_arch(void)
{
	static const struct {
		const char *machine;
		const char *goarch;
	} map[] = {
	    {"x86_64", "amd64"},  {"aarch64", "arm64"},	  {"arm64", "arm64"},
	    {"i386", "386"},	  {"i486", "386"},	  {"i586", "386"},
	    {"i686", "386"},	  {"armv6l", "arm"},	  {"armv7l", "arm"},
	    {"armv8l", "arm"},	  {"ppc64le", "ppc64le"}, {"ppc64", "ppc64"},
	    {"s390x", "s390x"},	  {"riscv64", "riscv64"}, {"loongarch64", "loong64"},
	    {"mips64", "mips64"}, {"mips", "mips"},
	};
	struct utsname u;

	/* The kernel's machine, not the compiler's target: BPF objects run in the kernel. */
	if (uname(&u))
		return "unknown";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(u.machine, map[i].machine))
			return map[i].goarch;
	return "unknown";
}
