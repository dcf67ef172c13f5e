/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pull, in the order that keeps the store clean:
 *   1. the top manifest (the one tag resolution), from the store when pinned
 *      and present;
 *   2. its signatures, judged before anything else is fetched;
 *   3. the platform manifest(s) and their blobs, each copied out of the
 *      source or staging into a sealed store writer while it is re-hashed;
 *   4. only then: every blob renamed into place, the manifests, the verified
 *      signatures, and the reference recorded.
 * A refusal or failure before step 4 leaves the store as it was.
 *
 * Every digest is leased before the store is asked whether it has it, and
 * step 4 runs with the lease held, so garbage collection never takes a blob
 * the pull counts on (lib/store/gc.c). The pull policy (--pull) decides
 * whether a tag is resolved at the registry or from the store; from the
 * store the same steps run offline from the recorded digest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define INDEX_MAX_ENTRIES 256
/* A scheduler artifact has two or three layers; thousands only cost disk and fsyncs. */
#define MANIFEST_MAX_LAYERS 256

struct staged_blob {
	char digest[SK_DIGEST_MAX];
	struct sk_store_writer *w;
};

struct staged_manifest {
	char digest[SK_DIGEST_MAX];
	struct sk_buf body;
};

struct pull {
	struct sk_store *store;
	struct sk_fetch *f;
	const struct sk_pull_opts *o;
	struct staged_blob *blobs;
	size_t nblobs;
	struct staged_manifest *manifests; /* top last */
	size_t nmanifests;
	struct sk_sigset sigs; /* of the top digest, with accepted[] */
	bool *accepted;
	struct sk_sigset *carried; /* copy_signatures: as found, for each manifest */
	size_t ncarried;
	struct sk_store_lease *lease;
	bool offline;	     /* from the store only: fetching anything is an error */
	bool config_refused; /* by opts->accept_config: no other endpoint would differ */
};

/* What an offline pull needs and the store does not have. */
static int not_stored(const struct pull *p, const char *what, const char *digest,
		      struct sk_error *err)
{
	return sk_errf(err, -ENOENT,
		       "%s %s is not in the store and --pull %s fetches nothing; pull it "
		       "again with --pull always (or missing) while the registry is reachable",
		       what, digest, sk_pull_policy_str(p->o->policy));
}

static void pull_free(struct pull *p)
{
	for (size_t i = 0; i < p->nblobs; i++)
		sk_store_writer_abort(p->blobs[i].w);
	free(p->blobs);
	for (size_t i = 0; i < p->nmanifests; i++)
		sk_buf_free(&p->manifests[i].body);
	free(p->manifests);
	sk_sigset_free(&p->sigs);
	free(p->accepted);
	for (size_t i = 0; i < p->ncarried; i++)
		sk_sigset_free(&p->carried[i]);
	free(p->carried);
}

static bool staged(const struct pull *p, const char *digest)
{
	for (size_t i = 0; i < p->nblobs; i++)
		if (!strcmp(p->blobs[i].digest, digest))
			return true;
	return false;
}

/* Copies a blob out of the source into a sealed (not yet visible) store writer. */
static int stage_blob(struct pull *p, const struct sk_descriptor *d, struct sk_error *err)
{
	struct staged_blob *nb;
	struct sk_store_writer *w = NULL;
	char buf[65536];
	int fd = -1, ret;

	if (!sk_digest_valid(d->digest))
		return sk_errf(err, -EINVAL, "'%s' is not a sha256 digest", d->digest);
	if (d->size < 0 || (uint64_t)d->size > SK_BLOB_MAX)
		return sk_errf(err, -EFBIG, "blob %s: size %lld is beyond the %u bytes allowed",
			       d->digest, (long long)d->size, SK_BLOB_MAX);
	ret = sk_store_lease_add(p->lease, d->digest, err);
	if (ret)
		return ret;
	if (sk_store_has_blob(p->store, d->digest, d->size) || staged(p, d->digest))
		return 0;
	if (p->offline)
		return not_stored(p, "blob", d->digest, err);
	nb = realloc(p->blobs, (p->nblobs + 1) * sizeof(*nb));
	if (!nb)
		return sk_errf(err, -ENOMEM, "out of memory");
	p->blobs = nb;
	ret = sk_fetch_blob_fd(p->f, d->digest, d->size, &fd, err);
	if (!ret)
		ret = sk_store_writer_new(p->store, &w, err);
	while (!ret) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = sk_errf(err, -errno, "blob %s: read failed: %s", d->digest,
				      strerror(errno));
		if (n <= 0)
			break;
		ret = sk_store_writer_write(w, buf, (size_t)n, err);
	}
	if (fd >= 0)
		close(fd);
	sk_fetch_release(p->f, d->digest);
	if (!ret)
		ret = sk_store_writer_seal(w, d->digest, d->size, err);
	if (ret) {
		sk_store_writer_abort(w);
		return sk_err_prefix(err, "refusing blob: ");
	}
	snprintf(p->blobs[p->nblobs].digest, SK_DIGEST_MAX, "%s", d->digest);
	p->blobs[p->nblobs++].w = w;
	return 0;
}

static int keep_manifest(struct pull *p, const char *digest, struct sk_buf *body,
			 struct sk_error *err)
{
	struct staged_manifest *nm = realloc(p->manifests, (p->nmanifests + 1) * sizeof(*nm));

	if (!nm)
		return sk_errf(err, -ENOMEM, "out of memory");
	p->manifests = nm;
	snprintf(nm[p->nmanifests].digest, SK_DIGEST_MAX, "%s", digest);
	nm[p->nmanifests++].body = *body;
	memset(body, 0, sizeof(*body));
	return 0;
}

/* A manifest by digest: from the store when it is there (content-addressed), else the source. */
static int get_manifest(struct pull *p, const char *digest, int64_t size, struct sk_buf *body,
			struct sk_error *err)
{
	struct sk_descriptor d;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	memset(body, 0, sizeof(*body));
	if (sk_digest_valid(digest)) {
		ret = sk_store_lease_add(p->lease, digest, err);
		if (ret)
			return ret;
	}
	if (sk_digest_valid(digest) && sk_store_has_blob(p->store, digest, size)) {
		ret = sk_layout_get_blob(sk_store_layout(p->store), digest, size, SK_MANIFEST_MAX,
					 &data, &len, err);
		if (ret)
			return ret;
		body->data = data;
		body->len = len;
		body->cap = len + 1;
		return 0;
	}
	if (p->offline)
		return not_stored(p, "manifest", digest, err);
	ret = sk_fetch_manifest(p->f, digest, SK_MANIFEST_MAX, body, &d, err);
	if (!ret && size >= 0 && (int64_t)body->len != size) {
		ret = sk_errf(err, -EBADMSG, "manifest %s: %zu bytes, its descriptor says %lld",
			      digest, body->len, (long long)size);
		sk_buf_free(body);
	}
	return ret;
}

static int carry_signatures(struct pull *p, const char *digest, struct sk_error *err)
{
	struct sk_sigset *nc;
	int ret;

	if (!p->o->copy_signatures)
		return 0;
	nc = realloc(p->carried, (p->ncarried + 1) * sizeof(*nc));
	if (!nc)
		return sk_errf(err, -ENOMEM, "out of memory");
	p->carried = nc;
	ret = sk_sigset_fetch_all(p->f, digest, &nc[p->ncarried], err);
	if (!ret)
		p->ncarried++;
	return ret;
}

/* A blob already in memory, its digest checked, into a sealed store writer. */
static int stage_bytes(struct pull *p, const struct sk_descriptor *d, const struct sk_buf *b,
		       struct sk_error *err)
{
	struct staged_blob *nb = realloc(p->blobs, (p->nblobs + 1) * sizeof(*nb));
	struct sk_store_writer *w = NULL;
	int ret;

	if (!nb)
		return sk_errf(err, -ENOMEM, "out of memory");
	p->blobs = nb;
	ret = sk_store_writer_new(p->store, &w, err);
	if (!ret)
		ret = sk_store_writer_write(w, b->data, b->len, err);
	if (!ret)
		ret = sk_store_writer_seal(w, d->digest, d->size, err);
	if (ret) {
		sk_store_writer_abort(w);
		return sk_err_prefix(err, "refusing blob: ");
	}
	snprintf(p->blobs[p->nblobs].digest, SK_DIGEST_MAX, "%s", d->digest);
	p->blobs[p->nblobs++].w = w;
	return 0;
}

/*
 * The config judged by opts->accept_config before any layer is asked for: a
 * host that cannot run the scheduler neither downloads nor keeps its object.
 * A config staged already was judged with the manifest that staged it.
 */
static int judge_config(struct pull *p, const char *manifest_digest, const struct sk_descriptor *d,
			struct sk_error *err)
{
	struct sk_buf b = {0};
	struct json_object *cfg = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	bool fetched = false;
	int ret;

	if (!sk_digest_valid(d->digest))
		return sk_errf(err, -EINVAL, "manifest %s: config '%s' is not a sha256 digest",
			       manifest_digest, d->digest);
	if (staged(p, d->digest))
		return 0;
	ret = sk_store_lease_add(p->lease, d->digest, err);
	if (ret)
		return ret;
	if (sk_store_has_blob(p->store, d->digest, d->size)) {
		ret = sk_layout_get_blob(sk_store_layout(p->store), d->digest, d->size,
					 SK_MANIFEST_MAX, &data, &len, err);
		b.data = data;
		b.len = len;
	} else if (p->offline) {
		ret = not_stored(p, "config", d->digest, err);
	} else {
		ret = sk_fetch_blob(p->f, d->digest, d->size, SK_MANIFEST_MAX, &b, err);
		fetched = !ret;
	}
	if (!ret)
		ret = sk_json_parse(b.data, b.len, d->digest, &cfg, err);
	if (!ret) {
		ret = p->o->accept_config(p->o->accept_ctx, manifest_digest, cfg, err);
		p->config_refused = ret != 0;
	}
	if (!ret && fetched)
		ret = stage_bytes(p, d, &b, err);
	json_object_put(cfg);
	sk_buf_free(&b);
	return ret;
}

/*
 * A manifest's config and layers: those the store lacks asked of the source
 * in one go (a registry sends them concurrently), then each copied into the
 * store. The source tarball only when asked for: nothing on a host reads it.
 */
static int fetch_blobs(struct pull *p, const char *digest, struct json_object *cfg,
		       struct json_object *layers, struct sk_error *err)
{
	size_t n = json_object_array_length(layers), k = 0, nwant = 0;
	struct sk_descriptor *d = calloc(n + 1, sizeof(*d)), *want = calloc(n + 1, sizeof(*want));
	int ret = 0;

	if (!d || !want) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = sk_descriptor_from_json(cfg, &d[k++], err);
	if (!ret && p->o->accept_config)
		ret = judge_config(p, digest, &d[0], err);
	for (size_t i = 0; !ret && i < n; i++) {
		ret = sk_descriptor_from_json(json_object_array_get_idx(layers, i), &d[k], err);
		if (!ret && (p->o->with_source || strcmp(d[k].media_type, SK_MT_SCHED_SOURCE)))
			k++;
	}
	for (size_t i = 0; !ret && i < k; i++)
		if (sk_digest_valid(d[i].digest) &&
		    !sk_store_has_blob(p->store, d[i].digest, d[i].size) && !staged(p, d[i].digest))
			want[nwant++] = d[i];
	if (!ret && !p->offline && nwant > 1)
		ret = sk_fetch_blobs(p->f, want, nwant, err);
	for (size_t i = 0; !ret && i < k; i++)
		ret = stage_blob(p, &d[i], err);
out:
	free(d);
	free(want);
	return ret;
}

/* have (may be NULL): the manifest's bytes, already fetched and checked; taken over. */
static int fetch_manifest_tree(struct pull *p, const char *digest, int64_t size,
			       struct sk_buf *have, struct sk_error *err)
{
	struct sk_buf body = {0};
	struct json_object *m = NULL, *cfg, *layers;
	const char *mt;
	int ret;

	if (have) {
		body = *have;
		memset(have, 0, sizeof(*have));
	} else {
		ret = get_manifest(p, digest, size, &body, err);
		if (ret)
			return ret;
	}
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
	ret = fetch_blobs(p, digest, cfg, layers, err);
	if (!ret)
		ret = carry_signatures(p, digest, err);
	if (!ret)
		ret = keep_manifest(p, digest, &body, err);
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

/* The platform manifest(s) of an index the pull needs. */
static int fetch_index(struct pull *p, struct json_object *top, const char *digest,
		       const char *label, char manifest_digest[SK_DIGEST_MAX], struct sk_error *err)
{
	const char *os = p->o->os ? p->o->os : "linux";
	struct sk_buf avail = {0};
	struct json_object *list;
	char arch[64], *variant;
	bool found = false;
	int ret = 0;

	snprintf(arch, sizeof(arch), "%s", p->o->arch ? p->o->arch : sk_host_arch());
	variant = strchr(arch, '/');
	if (variant)
		*variant++ = '\0';
	if (!json_object_object_get_ex(top, "manifests", &list) ||
	    !json_object_is_type(list, json_type_array))
		return sk_errf(err, -EBADMSG, "index %s: no usable manifests list", digest);
	if (json_object_array_length(list) > INDEX_MAX_ENTRIES)
		return sk_errf(err, -EFBIG,
			       "index %s lists %zu manifests, more than the %d allowed", digest,
			       json_object_array_length(list), INDEX_MAX_ENTRIES);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct sk_descriptor d;

		ret = sk_descriptor_from_json(json_object_array_get_idx(list, i), &d, err);
		if (ret) {
			sk_err_prefix(err, "index %s: ", digest);
			break;
		}
		if (p->o->all_platforms || platform_match(&d, os, arch, variant)) {
			if (strcmp(d.media_type, SK_MT_MANIFEST)) {
				if (!p->o->all_platforms)
					continue;
				ret = sk_errf(err, -EBADMSG,
					      "index %s: entry %s is a %s, not a manifest", digest,
					      d.digest, d.media_type);
				break;
			}
			ret = fetch_manifest_tree(p, d.digest, d.size, NULL, err);
			if (ret)
				break;
			if (!found)
				snprintf(manifest_digest, SK_DIGEST_MAX, "%s", d.digest);
			found = true;
			if (!p->o->all_platforms)
				break;
		} else {
			sk_buf_printf(&avail, "%s%s/%s%s%s", avail.len ? ", " : "",
				      d.platform_os[0] ? d.platform_os : "?",
				      d.platform_arch[0] ? d.platform_arch : "?",
				      d.platform_variant[0] ? "/" : "", d.platform_variant);
		}
	}
	if (!ret && !found)
		ret = sk_errf(err, -ENOENT,
			      "%s has no manifest for %s/%s%s%s (it has: %s); pick one with "
			      "--platform",
			      label, os, arch, variant ? "/" : "", variant ? variant : "",
			      avail.len ? (char *)avail.data : "none");
	sk_buf_free(&avail);
	return ret;
}

/* The repository the top digest was signed for. */
static int subject_identity(const struct sk_source *src, const struct sk_descriptor *top,
			    const struct sk_verify_opts *v, char out[512], struct sk_error *err)
{
	if (src->kind == SK_SOURCE_REGISTRY) {
		sk_source_identity(src, out);
		return 0;
	}
	if (v->identity)
		return sk_trust_repo_identity(v->identity, false, out, err);
	if (top->ref_name[0])
		return sk_trust_repo_identity(top->ref_name, true, out, err);
	return sk_errf(err, -EINVAL,
		       "%s in %s has no name to take the repository from: pass --identity "
		       "HOST/REPO, the repository it was signed for",
		       top->digest, src->arg);
}

/*
 * Step 2. Signatures the store already keeps come first: when they satisfy
 * the policy, the source is not asked at all (a pinned re-pull stays offline).
 */
static int verify_top(struct pull *p, const char *identity, const char *digest,
		      struct sk_error *err)
{
	struct sk_verify_result scratch = {0}, *res = p->o->result ? p->o->result : &scratch;
	struct sk_sigset stored = {0};
	int ret;

	ret = sk_sigset_stored(p->store, digest, &stored, err);
	if (ret)
		goto out;
	if (p->offline) {
		/* the signatures kept when it was pulled are all there is to judge */
		ret = sk_sigset_judge(&stored, p->o->verify, identity, digest, res, NULL, err);
		goto out;
	}
	if ((stored.list.n || stored.nbundles) &&
	    !sk_sigset_judge(&stored, p->o->verify, identity, digest, res, NULL, NULL))
		goto out;
	ret = sk_sigset_fetch(p->f, digest, &p->sigs, err);
	if (ret)
		goto out;
	p->accepted = calloc(p->sigs.list.n ? p->sigs.list.n : 1, sizeof(*p->accepted));
	if (!p->accepted) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = sk_sigset_judge(&p->sigs, p->o->verify, identity, digest, res, p->accepted, err);
out:
	sk_sigset_free(&stored);
	sk_verify_result_free(&scratch);
	return ret;
}

/* Carried (unverified) signature sets, for a layout that only transports them. */
static int store_carried(struct pull *p, struct sk_error *err)
{
	for (size_t i = 0; i < p->ncarried; i++) {
		const struct sk_sigset *c = &p->carried[i];
		struct sk_buf m = {0}, cfg = {0};
		struct sk_descriptor d = {0};
		struct sk_sig_list l = {0};
		char tag[SK_SIG_TAG_MAX], cfg_digest[80];
		int ret = sk_sigset_carry_bundles(p->store, p->manifests[i].digest, c, err);

		if (ret)
			return ret;
		if (!c->list.n)
			continue;
		for (size_t j = 0; !ret && j < c->list.n; j++) {
			ret = sk_store_put(p->store, c->payloads[j].data, c->payloads[j].len,
					   c->list.v[j].digest, err);
			if (!ret)
				ret = sk_sig_list_add(&l, c->payloads[j].data, c->payloads[j].len,
						      c->list.v[j].signature, err) < 0;
		}
		if (!ret)
			ret = sk_sigmanifest_build(&l, &m, &cfg, cfg_digest, err);
		if (!ret)
			ret = sk_store_put(p->store, cfg.data, cfg.len, cfg_digest, err);
		if (!ret) {
			sk_digest_buf(m.data, m.len, d.digest);
			snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_MANIFEST);
			d.size = (int64_t)m.len;
			ret = sk_store_put(p->store, m.data, m.len, d.digest, err);
		}
		if (!ret)
			ret = sk_sig_tag(p->manifests[i].digest, tag, err);
		if (!ret)
			ret = sk_store_record(p->store, tag, &d, err);
		sk_sig_list_free(&l);
		sk_buf_free(&m);
		sk_buf_free(&cfg);
		if (ret)
			return ret < 0 ? ret : sk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Step 4: everything arrived intact and trusted; make it visible. */
static int commit(struct pull *p, const char *refname, const struct sk_descriptor *top,
		  struct sk_error *err)
{
	const struct sk_pull_opts *o = p->o;
	int ret = 0;

	for (size_t i = 0; !ret && i < p->nblobs; i++) {
		ret = sk_store_writer_commit(p->blobs[i].w, p->blobs[i].digest, -1, err);
		p->blobs[i].w = NULL;
	}
	for (size_t i = 0; !ret && i < p->nmanifests; i++)
		ret = sk_store_put(p->store, p->manifests[i].body.data, p->manifests[i].body.len,
				   p->manifests[i].digest, err);
	if (!ret && o->verify && p->accepted)
		ret = sk_sigset_keep(p->store, top->digest, &p->sigs, p->accepted, err);
	if (!ret)
		ret = store_carried(p, err);
	if (ret)
		return ret;
	return o->record_annotations && o->record_annotations[0]
		   ? sk_store_record_annotated(p->store, refname[0] ? refname : NULL, top,
					       o->record_annotations, err)
		   : sk_store_record(p->store, refname[0] ? refname : NULL, top, err);
}

static int open_source(struct pull *p, const struct sk_source *src,
		       const struct sk_registry_opts *reg, struct sk_error *err)
{
	struct sk_fetch_opts fo = {
	    .reg = *reg,
	    .helper = p->o->fetch_helper,
	    .user = p->o->fetch_user,
	};
	char tmp[4096];

	/* staging next to the store: the same file system, and swept with it */
	snprintf(tmp, sizeof(tmp), "%s/.tmp", sk_store_dir(p->store));
	fo.staging_parent = sk_is_dir(tmp) ? tmp : NULL;
	return sk_fetch_open(src, &fo, &p->f, err);
}

/*
 * One pull of src from one endpoint: via (with reg) is where bytes come from
 * (src itself, or a mirror's or location's rewrite of it); the name recorded
 * and the identity trust is judged on are src's, whatever answered. pin: the
 * top digest to start from instead of resolving the reference (a tag the
 * store recorded); offline: fetch nothing at all.
 */
static int pull_at(struct sk_store *s, const char *srcname, const struct sk_source *srcp,
		   const struct sk_source *via, const struct sk_registry_opts *reg,
		   const struct sk_pull_opts *opts, struct sk_store_lease *lease, const char *pin,
		   bool offline, char digest[SK_DIGEST_MAX], char *name, bool *judged,
		   struct sk_error *err)
{
	struct pull p = {.store = s, .o = opts, .lease = lease, .offline = offline};
	const struct sk_source src = *srcp;
	struct sk_descriptor top = {0};
	struct json_object *topj = NULL;
	struct sk_buf body = {0};
	char refname[SK_REF_STRING_MAX] = "", manifest_digest[SK_DIGEST_MAX] = "";
	char identity[512];
	const char *reference, *mt;
	bool held = false;
	int ret;

	if (p.o->refused)
		p.o->refused[0] = '\0';
	if (!pin && src.kind == SK_SOURCE_REGISTRY && src.ref.digest[0])
		pin = src.ref.digest;
	ret = open_source(&p, via, reg, err);
	if (ret)
		goto out;
	if (src.kind == SK_SOURCE_REGISTRY) {
		reference = sk_ref_reference(&via->ref);
		sk_ref_string(&src.ref, refname, sizeof(refname));
		if (!src.ref.tag[0] && !src.ref.digest[0])
			snprintf(refname + strlen(refname), sizeof(refname) - strlen(refname),
				 ":latest");
	} else {
		reference = src.tag;
	}
	/* 1. the one resolution (none when pinned and stored) */
	if (src.kind == SK_SOURCE_REGISTRY && pin) {
		ret = sk_store_lease_add(lease, pin, err);
		if (!ret && sk_store_has_blob(s, pin, -1))
			ret = get_manifest(&p, pin, -1, &body, err);
		else if (!ret && offline)
			ret = not_stored(&p, "manifest", pin, err);
		else if (!ret)
			ret = sk_fetch_manifest(p.f, pin, SK_MANIFEST_MAX, &body, &top, err);
		snprintf(top.digest, sizeof(top.digest), "%s", pin);
	} else {
		ret = sk_fetch_manifest(p.f, reference, SK_MANIFEST_MAX, &body, &top, err);
		if (!ret)
			ret = sk_store_lease_add(lease, top.digest, err);
	}
	if (ret)
		goto out;
	if (src.kind != SK_SOURCE_REGISTRY)
		snprintf(refname, sizeof(refname), "%s", top.ref_name);
	if (p.o->record_as)
		snprintf(refname, sizeof(refname), "%s", p.o->record_as);
	ret = sk_json_parse(body.data, body.len, top.digest, &topj, err);
	if (ret)
		goto out;
	mt = sk_json_str(topj, "mediaType");
	if (!mt)
		mt = json_object_object_get_ex(topj, "manifests", NULL) ? SK_MT_INDEX
									: SK_MT_MANIFEST;
	if (strcmp(mt, SK_MT_INDEX) && strcmp(mt, SK_MT_MANIFEST)) {
		ret = sk_errf(err, -EBADMSG,
			      "%s is a %s, not an OCI index or manifest (not a schedkit artifact)",
			      top.digest, mt);
		goto out;
	}
	snprintf(top.media_type, sizeof(top.media_type), "%s", mt);
	top.size = (int64_t)body.len;
	if (p.o->accept_top) {
		ret = p.o->accept_top(p.o->accept_top_ctx, top.digest, err);
		if (ret) {
			*judged = true;
			if (p.o->refused)
				snprintf(p.o->refused, SK_DIGEST_MAX, "%s", top.digest);
			goto out;
		}
	}
	/* 2. trust, before any layer is asked for */
	if (p.o->verify) {
		ret = subject_identity(&src, &top, p.o->verify, identity, err);
		if (!ret)
			ret = verify_top(&p, identity, top.digest, err);
		if (ret) {
			sk_err_prefix(
			    err, "verification of %s failed, nothing was stored: ", top.digest);
			if (p.o->refused)
				snprintf(p.o->refused, SK_DIGEST_MAX, "%s", top.digest);
			goto out;
		}
	}
	/* 3. what the trusted manifest names */
	if (!strcmp(mt, SK_MT_MANIFEST)) {
		ret = fetch_manifest_tree(&p, top.digest, top.size, &body, err);
	} else {
		ret = fetch_index(&p, topj, top.digest, srcname, manifest_digest, err);
		if (!ret)
			ret = carry_signatures(&p, top.digest, err);
		if (!ret)
			ret = keep_manifest(&p, top.digest, &body, err);
	}
	if (ret && p.config_refused) {
		*judged = true;
		if (p.o->refused)
			snprintf(p.o->refused, SK_DIGEST_MAX, "%s", top.digest);
		if (p.o->verify)
			sk_err_prefix(err, "%s verified%s: ", top.digest,
				      offline ? " from the store" : ", nothing was stored");
	}
	if (ret)
		goto out;
	/* 4. all or nothing, with no collection in between */
	ret = sk_store_lease_hold(lease, err);
	held = !ret;
	if (!ret)
		ret = commit(&p, refname, &top, err);
	if (ret)
		goto out;
	snprintf(digest, SK_DIGEST_MAX, "%s", top.digest);
	if (name)
		snprintf(name, SK_REF_STRING_MAX, "%s", refname);
	if (p.o->on_helper && sk_fetch_helper_report(p.f))
		p.o->on_helper(p.o->on_helper_ctx, sk_fetch_helper_report(p.f));
	if (src.kind == SK_SOURCE_REGISTRY && p.o->reg.verbose)
		fprintf(stderr, "registry: %u requests\n", sk_fetch_requests(p.f));
out:
	if (held)
		sk_store_lease_unhold(lease);
	json_object_put(topj);
	sk_buf_free(&body);
	pull_free(&p);
	sk_fetch_close(p.f);
	return ret;
}

static int pull_one(struct sk_store *s, const char *srcname, const struct sk_source *src,
		    const struct sk_pull_opts *o, struct sk_store_lease *lease, const char *pin,
		    bool offline, char digest[SK_DIGEST_MAX], char *name, bool *judged,
		    struct sk_error *err)
{
	struct sk_route r;
	int ret;

	*judged = false;
	/* from the store alone: no endpoint is asked, so none is chosen */
	if (offline || src->kind != SK_SOURCE_REGISTRY)
		return pull_at(s, srcname, src, src, &o->reg, o, lease, pin, offline, digest, name,
			       judged, err);
	ret = sk_route_open(src, &o->reg, &r, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < r.n; i++) {
		/* a failed endpoint leaves nothing: its writers were aborted, its staging removed
		 */
		ret = pull_at(s, srcname, src, &r.via[i], &r.reg[i], o, lease, pin, false, digest,
			      name, judged, err);
		if (!ret) {
			sk_route_served(&r, i, o->reg.verbose);
			break;
		}
		/* the config's verdict is the content's: every endpoint serves the same bytes */
		if (*judged)
			break;
		if (!sk_route_next(&r, i, err))
			break;
		if (err)
			memset(err, 0, sizeof(*err));
	}
	sk_route_free(&r);
	return ret;
}

/* The transport failures after which a registry counts as unreachable. */
static bool unreachable(int e)
{
	return e == -ECONNREFUSED || e == -EHOSTUNREACH || e == -ENETUNREACH || e == -ETIMEDOUT ||
	       e == -EAGAIN || e == -ECONNRESET || e == -EHOSTDOWN;
}

/* The digest the store recorded for a registry tag, leased; false when none. */
static bool stored_tag(struct sk_store *s, const struct sk_source *src,
		       const struct sk_pull_opts *o, struct sk_store_lease *lease,
		       char refname[SK_REF_STRING_MAX], char out[SK_DIGEST_MAX])
{
	struct sk_descriptor d;

	sk_ref_string(&src->ref, refname, SK_REF_STRING_MAX);
	if (!src->ref.tag[0])
		snprintf(refname + strlen(refname), SK_REF_STRING_MAX - strlen(refname), ":latest");
	if (o->record_as)
		snprintf(refname, SK_REF_STRING_MAX, "%s", o->record_as);
	if (sk_layout_resolve(sk_store_layout(s), refname, &d, NULL) ||
	    !sk_digest_valid(d.digest) || sk_store_lease_add(lease, d.digest, NULL))
		return false;
	snprintf(out, SK_DIGEST_MAX, "%s", d.digest);
	return true;
}

int sk_pull_policy_parse(const char *s, enum sk_pull_policy *out)
{
	if (!strcmp(s, "always"))
		*out = SK_PULL_ALWAYS;
	else if (!strcmp(s, "missing"))
		*out = SK_PULL_MISSING;
	else if (!strcmp(s, "never"))
		*out = SK_PULL_NEVER;
	else
		return -EINVAL;
	return 0;
}

const char *sk_pull_policy_str(enum sk_pull_policy p)
{
	switch (p) {
	case SK_PULL_MISSING:
		return "missing";
	case SK_PULL_NEVER:
		return "never";
	default:
		return "always";
	}
}

int sk_pull(struct sk_store *s, const char *srcname, const struct sk_pull_opts *opts,
	    char digest[SK_DIGEST_MAX], char *name, struct sk_error *err)
{
	static const struct sk_pull_opts none;
	const struct sk_pull_opts *o = opts ? opts : &none;
	struct sk_store_lease *own = NULL, *lease = o->lease;
	char refname[SK_REF_STRING_MAX], stored[SK_DIGEST_MAX];
	struct sk_source src;
	bool tag, judged = false;
	int ret;

	ret = sk_source_parse(srcname, &src, err);
	if (ret)
		return ret;
	if (!lease) {
		char owner[256];

		snprintf(owner, sizeof(owner), "pull of %.200s (pid %d)", srcname, (int)getpid());
		/* a store nobody may write has no collector either: pull without */
		if (sk_store_lease_new(s, owner, &own, NULL))
			own = NULL;
		lease = own;
	}
	tag = src.kind == SK_SOURCE_REGISTRY && !src.ref.digest[0];
	if (tag && o->policy != SK_PULL_ALWAYS) {
		if (stored_tag(s, &src, o, lease, refname, stored)) {
			ret = pull_one(s, srcname, &src, o, lease, stored, true, digest, name,
				       &judged, err);
			/* judged: refused for what it is, which a registry would not change */
			if (!ret || o->policy == SK_PULL_NEVER || judged)
				goto out;
			/* missing: what the store has is incomplete or no longer trusted */
			if (err)
				memset(err, 0, sizeof(*err));
		} else if (o->policy == SK_PULL_NEVER) {
			ret = sk_errf(err, -ENOENT,
				      "%s is not recorded in the store and --pull never fetches "
				      "nothing; pull it first (skrun pull) or use --pull missing",
				      refname);
			goto out;
		}
	}
	ret = pull_one(s, srcname, &src, o, lease, NULL, o->policy == SK_PULL_NEVER, digest, name,
		       &judged, err);
	if (ret && tag && o->policy == SK_PULL_ALWAYS && unreachable(ret) &&
	    stored_tag(s, &src, o, lease, refname, stored)) {
		struct sk_error why = {0};

		if (err)
			why = *err;
		ret =
		    pull_one(s, srcname, &src, o, lease, stored, true, digest, name, &judged, err);
		if (!ret && o->warning)
			sk_errf(o->warning, why.code ? why.code : -EHOSTUNREACH,
				"the registry could not be reached (%s); using %s, the digest the "
				"store recorded for %s, verified again from the signatures kept "
				"there",
				why.msg[0] ? why.msg : "no answer", stored, refname);
		if (ret)
			sk_err_prefix(err,
				      "the registry could not be reached (%s), and the "
				      "stored digest did not do either: ",
				      why.msg[0] ? why.msg : "no answer");
	}
out:
	if (ret)
		sk_err_prefix(err, "pulling %s: ", srcname);
	sk_store_lease_release(own);
	sk_source_free(&src);
	return ret;
}

int sk_pull_stored(struct sk_store *s, const char *srcname, char digest[SK_DIGEST_MAX],
		   char name[SK_REF_STRING_MAX], struct sk_error *err)
{
	static const struct sk_pull_opts none;
	struct sk_source src;
	char refname[SK_REF_STRING_MAX];
	int ret;

	if (sk_digest_valid(srcname)) {
		snprintf(refname, sizeof(refname), "%s", srcname);
		if (!sk_store_has_blob(s, srcname, -1))
			return sk_errf(err, -ENOENT, "%s is not in the store %s", srcname,
				       sk_store_dir(s));
		snprintf(digest, SK_DIGEST_MAX, "%s", srcname);
		if (name)
			snprintf(name, SK_REF_STRING_MAX, "%s", srcname);
		return 0;
	}
	ret = sk_source_parse(srcname, &src, err);
	if (ret)
		return ret;
	if (src.kind != SK_SOURCE_REGISTRY) {
		ret = sk_errf(err, -EINVAL,
			      "%s is a local file, not a name the store records; the store records "
			      "registry references",
			      srcname);
	} else if (src.ref.digest[0]) {
		sk_ref_string(&src.ref, refname, sizeof(refname));
		snprintf(digest, SK_DIGEST_MAX, "%s", src.ref.digest);
		if (!sk_store_has_blob(s, src.ref.digest, -1))
			ret = sk_errf(err, -ENOENT, "%s is not in the store %s", srcname,
				      sk_store_dir(s));
	} else if (!stored_tag(s, &src, &none, NULL, refname, digest)) {
		ret = sk_errf(err, -ENOENT, "%s is not recorded in the store %s", refname,
			      sk_store_dir(s));
	}
	if (!ret && name)
		snprintf(name, SK_REF_STRING_MAX, "%s", refname);
	sk_source_free(&src);
	return ret;
}
