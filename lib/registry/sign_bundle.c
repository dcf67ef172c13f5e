/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing in the Sigstore bundle format, as cosign v3 does for an OCI
 * artifact: the bundle (a DSSE envelope over an in-toto statement naming the
 * manifest digest) goes into a manifest whose subject is the signed manifest
 * and whose one layer is the bundle. A registry with the OCI 1.1 referrers
 * API indexes it by its subject (it answers OCI-Subject); elsewhere the
 * referrers tag scheme stands in: the sha256-<hex> tag holds an index of
 * such manifests, updated here. Layouts get the tag too.
 *
 * With a key the bundle names the key by its hint and carries no log entry
 * (what `cosign sign --key` writes with the log turned off). Keyless, it
 * carries the Fulcio certificate of an ephemeral key, the Rekor entry and,
 * when a timestamp authority is named, an RFC 3161 timestamp.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "schedkit/sigstore.h"
#include "sign_bundle.h"

#define EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
/* A referrer manifest and its index are small; the index grows by ~400 bytes a signature. */
#define REFERRER_MANIFEST_MAX (64u << 10)

struct sk_bundle_signer {
	const struct sk_sign_opts *o;
	const struct sk_key *key; /* with a key, or keyless: */
	struct sk_key *ephemeral; /* made with the certificate, on first use */
	uint8_t *cert;
	size_t cert_len;
	char hint[64];
};

int sk_sig_format_parse(const char *s, enum sk_sig_format *out)
{
	if (!strcmp(s, "legacy"))
		*out = SK_SIG_FORMAT_LEGACY;
	else if (!strcmp(s, "bundle"))
		*out = SK_SIG_FORMAT_BUNDLE;
	else if (!strcmp(s, "both"))
		*out = SK_SIG_FORMAT_BOTH;
	else
		return -EINVAL;
	return 0;
}

bool sk_sign_wants_legacy(const struct sk_sign_opts *o)
{
	enum sk_sig_format f = o ? o->format : SK_SIG_FORMAT_DEFAULT;

	if (f == SK_SIG_FORMAT_DEFAULT)
		return !(o && o->keyless);
	return f & SK_SIG_FORMAT_LEGACY;
}

bool sk_sign_wants_bundle(const struct sk_sign_opts *o)
{
	enum sk_sig_format f = o ? o->format : SK_SIG_FORMAT_DEFAULT;

	if (f == SK_SIG_FORMAT_DEFAULT)
		return o && o->keyless;
	return f & SK_SIG_FORMAT_BUNDLE;
}

int sk_bundle_signer_new(const struct sk_key *key, const struct sk_sign_opts *o,
			 struct sk_bundle_signer **out, struct sk_error *err)
{
	struct sk_bundle_signer *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s)
		return sk_errf(err, -ENOMEM, "out of memory");
	s->o = o;
	s->key = key;
	if (!key && !(o && o->keyless)) {
		free(s);
		return sk_errf(err, -EINVAL, "signing needs a key, or keyless signing");
	}
	if (key) {
		ret = sk_key_hint(key, s->hint, err);
		if (ret) {
			free(s);
			return ret;
		}
	}
	*out = s;
	return 0;
}

void sk_bundle_signer_free(struct sk_bundle_signer *s)
{
	if (!s)
		return;
	sk_key_free(s->ephemeral);
	free(s->cert);
	free(s);
}

/* Keyless: one certificate (and ephemeral key) for every digest this run signs. */
static int certify(struct sk_bundle_signer *s, struct sk_error *err)
{
	char *token = NULL;
	int ret;

	if (s->cert)
		return 0;
	if (!s->o || !s->o->keyless)
		return sk_errf(err, -EINVAL, "keyless signing needs its options");
	ret = sk_keyless_token(s->o->keyless, &token, err);
	if (!ret)
		ret = sk_key_generate(&s->ephemeral, err);
	if (!ret)
		ret = sk_keyless_certificate(s->o->keyless, token, s->ephemeral, &s->cert,
					     &s->cert_len, err);
	sk_password_free(token);
	return ret;
}

/* The descriptor of the signed manifest: top itself, or one top lists. */
static int subject_of(const void *top, size_t top_len, const char *digest, struct sk_descriptor *d,
		      struct sk_error *err)
{
	struct json_object *j = NULL, *list;
	char tdigest[SK_DIGEST_MAX];
	const char *mt;
	int ret;

	memset(d, 0, sizeof(*d));
	ret = sk_json_parse(top, top_len, "the signed manifest", &j, err);
	if (ret)
		return ret;
	sk_digest_buf(top, top_len, tdigest);
	if (!strcmp(tdigest, digest)) {
		mt = sk_json_str(j, "mediaType");
		if (!mt)
			mt = json_object_object_get_ex(j, "manifests", NULL) ? SK_MT_INDEX
									     : SK_MT_MANIFEST;
		snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
		snprintf(d->digest, sizeof(d->digest), "%s", digest);
		d->size = (int64_t)top_len;
		goto out;
	}
	ret = -ENOENT;
	if (json_object_object_get_ex(j, "manifests", &list) &&
	    json_object_is_type(list, json_type_array))
		for (size_t i = 0; ret && i < json_object_array_length(list); i++)
			if (!sk_descriptor_from_json(json_object_array_get_idx(list, i), d, NULL) &&
			    !strcmp(d->digest, digest))
				ret = 0;
	if (ret)
		ret = sk_errf(err, -ENOENT, "%s is neither %s nor listed in it", digest, tdigest);
out:
	json_object_put(j);
	return ret;
}

/* ---- reading what is attached already ---- */

struct mem_sink {
	struct sk_buf *b;
	size_t max;
};

static int msink_write(void *ctx, const void *data, size_t len, struct sk_error *err)
{
	struct mem_sink *m = ctx;

	if (m->b->len + len > m->max)
		return sk_errf(err, -EFBIG, "more than the %zu bytes allowed", m->max);
	return sk_buf_append(m->b, data, len) ? sk_errf(err, -ENOMEM, "out of memory") : 0;
}

static int msink_reset(void *ctx, struct sk_error *err)
{
	struct mem_sink *m = ctx;

	(void)err;
	m->b->len = 0;
	return 0;
}

static int get_blob(struct sk_registry *reg, const char *repo, struct sk_layout *layout,
		    const struct sk_descriptor *d, size_t max, struct sk_buf *out,
		    struct sk_error *err)
{
	struct mem_sink m = {.b = out, .max = max};
	struct sk_sink sink = {.write = msink_write, .reset = msink_reset, .ctx = &m};
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (d->size < 0 || (uint64_t)d->size > max)
		return sk_errf(err, -EFBIG, "blob %s is too large", d->digest);
	if (reg)
		return sk_registry_blob_get(reg, repo, d->digest, d->size, &sink, err);
	ret = sk_layout_get_blob(layout, d->digest, d->size, max, &data, &len, err);
	out->data = data;
	out->len = len;
	return ret;
}

static int get_manifest(struct sk_registry *reg, const char *repo, struct sk_layout *layout,
			const char *ref, size_t max, struct sk_buf *out, struct sk_error *err)
{
	char mt[256], got[SK_DIGEST_MAX];
	struct sk_descriptor d;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (reg)
		return sk_registry_manifest_get(reg, repo, ref, max, out, mt, got, err);
	ret = sk_layout_resolve(layout, ref, &d, err);
	if (!ret)
		ret = sk_layout_get_blob(layout, d.digest, d.size, max, &data, &len, err);
	out->data = data;
	out->len = len;
	return ret;
}

/* The referrers of digest: the API's list where the registry has it, else the tag's index. */
static int referrers(struct sk_registry *reg, const char *repo, struct sk_layout *layout,
		     const char *digest, struct sk_buf *list, bool *api, struct sk_error *err)
{
	struct sk_error e = {0};
	char tag[SK_DIGEST_MAX];
	int ret;

	*api = false;
	if (reg) {
		ret = sk_registry_referrers(reg, repo, digest, SK_MT_SIGSTORE_BUNDLE,
					    SK_MANIFEST_MAX, list, err);
		if (ret < 0)
			return ret;
		*api = ret == 1;
		if (*api)
			return 0;
	}
	snprintf(tag, sizeof(tag), "sha256-%s", digest + 7);
	ret = get_manifest(reg, repo, layout, tag, SK_MANIFEST_MAX, list, &e);
	if (ret == -ENOENT)
		return 0;
	if (ret && err)
		*err = e;
	return ret;
}

/*
 * 1 when a bundle by this key over exactly this statement is attached
 * already: signing again would only add a duplicate.
 */
static int already_bundled(struct sk_bundle_signer *s, struct sk_registry *reg, const char *repo,
			   struct sk_layout *layout, const char *digest,
			   const struct sk_buf *statement, struct sk_error *err)
{
	struct sk_buf list = {0};
	struct json_object *idx = NULL, *entries;
	bool api;
	int ret, found = 0;

	ret = referrers(reg, repo, layout, digest, &list, &api, err);
	if (ret || !list.len)
		goto out;
	if (sk_json_parse(list.data, list.len, "referrers", &idx, NULL) ||
	    !json_object_object_get_ex(idx, "manifests", &entries) ||
	    !json_object_is_type(entries, json_type_array))
		goto out;
	for (size_t i = 0; !found && i < json_object_array_length(entries); i++) {
		struct sk_descriptor d, ld;
		struct sk_buf m = {0}, b = {0};
		struct json_object *mj = NULL, *layers;
		struct sk_bundle *bundle = NULL;
		const void *payload;
		size_t plen = 0;

		if (sk_descriptor_from_json(json_object_array_get_idx(entries, i), &d, NULL) ||
		    d.size < 0 || (uint64_t)d.size > REFERRER_MANIFEST_MAX ||
		    get_manifest(reg, repo, layout, d.digest, REFERRER_MANIFEST_MAX, &m, NULL))
			continue;
		if (!sk_json_parse(m.data, m.len, "referrer", &mj, NULL) &&
		    json_object_object_get_ex(mj, "layers", &layers) &&
		    json_object_is_type(layers, json_type_array) &&
		    json_object_array_length(layers) == 1 &&
		    !sk_descriptor_from_json(json_object_array_get_idx(layers, 0), &ld, NULL) &&
		    !strcmp(ld.media_type, SK_MT_SIGSTORE_BUNDLE) &&
		    !get_blob(reg, repo, layout, &ld, SK_BUNDLE_READ_MAX, &b, NULL) &&
		    !sk_bundle_parse(b.data, b.len, NULL, &bundle, NULL) &&
		    sk_bundle_material(bundle) == SK_BUNDLE_PUBLIC_KEY &&
		    (payload = sk_bundle_payload(bundle, &plen)) && plen == statement->len &&
		    !memcmp(payload, statement->data, plen)) {
			struct sk_bundle_policy p = {.key = s->key, .allow_no_tlog = true};

			found = !sk_bundle_verify_digest(bundle, NULL, &p, digest, NULL, NULL);
		}
		sk_bundle_free(bundle);
		json_object_put(mj);
		sk_buf_free(&m);
		sk_buf_free(&b);
	}
out:
	json_object_put(idx);
	sk_buf_free(&list);
	return ret ? ret : found;
}

/* ---- making and attaching ---- */

/* Adds val to a, which takes it over either way (as sk_json_add does for objects). */
static int array_add(struct json_object *a, struct json_object *val)
{
	if (!val || json_object_array_add(a, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static int make_bundle(struct sk_bundle_signer *s, const struct sk_buf *statement,
		       struct sk_buf *bundle, struct sk_error *err)
{
	const struct sk_key *signer = s->key ? s->key : s->ephemeral;
	struct sk_bundle_parts parts = {.payload = statement->data, .payload_len = statement->len};
	struct json_object *env = NULL, *sigs = NULL, *sig = NULL, *entry = NULL;
	struct sk_buf pae = {0};
	uint8_t *raw = NULL, *tsr = NULL;
	size_t tsr_len = 0;
	char *sig_b64 = NULL, *p64 = NULL;
	const char *envelope;
	int ret;

	if (sk_dsse_pae(SK_IN_TOTO_PAYLOAD_TYPE, statement->data, statement->len, &pae))
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_sign(signer, pae.data, pae.len, &sig_b64, err);
	if (ret)
		goto out;
	parts.sig_b64 = sig_b64;
	if (s->key) {
		parts.key_hint = s->hint;
		goto build;
	}
	/* keyless: the envelope goes to Rekor, which logs it against the certificate */
	if (!s->o || !s->o->keyless) {
		ret = sk_errf(err, -EINVAL, "keyless signing needs its options");
		goto out;
	}
	p64 = malloc(4 * ((statement->len + 2) / 3) + 1);
	env = json_object_new_object();
	if (!p64 || !env) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)p64, statement->data, (int)statement->len);
	if (sk_json_add(env, "payload", json_object_new_string(p64)) ||
	    sk_json_add(env, "payloadType", json_object_new_string(SK_IN_TOTO_PAYLOAD_TYPE)) ||
	    sk_json_add(env, "signatures", sigs = json_object_new_array()) ||
	    array_add(sigs, sig = json_object_new_object()) ||
	    sk_json_add(sig, "sig", json_object_new_string(sig_b64))) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	envelope = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	ret = sk_keyless_log(s->o->keyless, envelope, s->cert, s->cert_len, &entry, err);
	if (ret)
		goto out;
	if (s->o->keyless->tsa_url) {
		size_t n = strlen(sig_b64);
		int got;

		raw = malloc(n / 4 * 3 + 1);
		got = raw ? EVP_DecodeBlock(raw, (unsigned char *)sig_b64, (int)n) : -1;
		if (got < 0) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		got -= (n && sig_b64[n - 1] == '=') + (n > 1 && sig_b64[n - 2] == '=');
		ret = sk_keyless_timestamp(s->o->keyless, raw, (size_t)got, &tsr, &tsr_len, err);
		if (ret)
			goto out;
	}
	parts.cert_der = s->cert;
	parts.cert_der_len = s->cert_len;
	parts.tlog_entry = entry;
	parts.tsr = tsr;
	parts.tsr_len = tsr_len;
build:
	ret = sk_bundle_build(&parts, bundle, err);
out:
	json_object_put(env);
	json_object_put(entry);
	sk_buf_free(&pae);
	free(sig_b64);
	free(p64);
	free(raw);
	free(tsr);
	return ret;
}

/* The manifest that carries the bundle, as cosign v3 writes it. */
static int referrer_manifest(const struct sk_descriptor *subject, const char *bdigest, size_t blen,
			     struct sk_buf *out, struct json_object **ann, struct sk_error *err)
{
	struct json_object *m = json_object_new_object(), *a = NULL;
	struct sk_descriptor cfg = {.size = 2}, layer = {.size = (int64_t)blen};
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	char *text = NULL;
	size_t len = 0;
	int ret;

	*ann = NULL;
	if (!m)
		return sk_errf(err, -ENOMEM, "out of memory");
	snprintf(cfg.media_type, sizeof(cfg.media_type), "%s", SK_MT_EMPTY);
	snprintf(cfg.digest, sizeof(cfg.digest), "%s", EMPTY_DIGEST);
	snprintf(layer.media_type, sizeof(layer.media_type), "%s", SK_MT_SIGSTORE_BUNDLE);
	snprintf(layer.digest, sizeof(layer.digest), "%s", bdigest);
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ret = sk_json_add(m, "schemaVersion", json_object_new_int(2));
	if (!ret)
		ret = sk_json_add(m, "mediaType", json_object_new_string(SK_MT_MANIFEST));
	if (!ret)
		ret = sk_json_add(m, "artifactType", json_object_new_string(SK_MT_SIGSTORE_BUNDLE));
	if (!ret)
		ret = sk_json_add(m, "config", sk_descriptor_to_json(&cfg, NULL));
	if (!ret) {
		struct json_object *layers = NULL;

		ret = sk_json_add(m, "layers", layers = json_object_new_array());
		if (!ret)
			ret = array_add(layers, sk_descriptor_to_json(&layer, NULL));
	}
	if (!ret)
		ret = sk_json_add(m, "subject", sk_descriptor_to_json(subject, NULL));
	if (!ret)
		ret = sk_json_add(m, "annotations", a = json_object_new_object());
	if (!ret)
		ret =
		    sk_json_add(a, SK_ANN_BUNDLE_CONTENT, json_object_new_string("dsse-envelope"));
	if (!ret)
		ret = sk_json_add(a, SK_ANN_BUNDLE_PREDICATE,
				  json_object_new_string(SK_COSIGN_SIGN_PREDICATE));
	if (!ret)
		ret = sk_json_add(a, "org.opencontainers.image.created",
				  json_object_new_string(created));
	if (!ret) {
		text = sk_json_dump(m, &len);
		ret = !text || sk_buf_append(out, text, len) ? -ENOMEM : 0;
	}
	if (!ret)
		*ann = json_object_get(a);
	free(text);
	json_object_put(m);
	return ret ? sk_errf(err, -ENOMEM, "out of memory") : 0;
}

/* Adds the referrer to the sha256-<hex> index (the tag scheme), keeping what it lists. */
static int update_tag(struct sk_registry *reg, const char *repo, struct sk_layout *layout,
		      const char *digest, const struct sk_descriptor *md, struct json_object *ann,
		      struct sk_error *err)
{
	struct json_object *idx = NULL, *list, *e;
	struct sk_descriptor d = {0}, ed = *md;
	struct sk_buf old = {0};
	struct sk_error e2 = {0};
	char tag[SK_DIGEST_MAX], *text = NULL;
	size_t len = 0;
	int ret;

	snprintf(tag, sizeof(tag), "sha256-%s", digest + 7);
	ret = get_manifest(reg, repo, layout, tag, SK_MANIFEST_MAX, &old, &e2);
	if (ret == -ENOENT) {
		ret = 0;
	} else if (ret) {
		if (err)
			*err = e2;
		goto out;
	} else if (sk_json_parse(old.data, old.len, tag, &idx, NULL) ||
		   !json_object_object_get_ex(idx, "manifests", &list) ||
		   !json_object_is_type(list, json_type_array)) {
		ret = sk_errf(err, -EEXIST,
			      "the tag %s exists and is not an index of referrers (refusing to "
			      "replace it)",
			      tag);
		goto out;
	}
	if (!idx) {
		idx = json_object_new_object();
		if (!idx || sk_json_add(idx, "schemaVersion", json_object_new_int(2)) ||
		    sk_json_add(idx, "mediaType", json_object_new_string(SK_MT_INDEX)) ||
		    sk_json_add(idx, "manifests", list = json_object_new_array())) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	snprintf(ed.artifact_type, sizeof(ed.artifact_type), "%s", SK_MT_SIGSTORE_BUNDLE);
	e = sk_descriptor_to_json(&ed, json_object_get(ann));
	if (array_add(list, e)) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	text = sk_json_dump(idx, &len);
	if (!text) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (reg) {
		ret = sk_registry_manifest_put(reg, repo, tag, SK_MT_INDEX, text, len, err);
	} else {
		ret = sk_layout_put_blob(layout, text, len, d.digest, err);
		snprintf(d.media_type, sizeof(d.media_type), "%s", SK_MT_INDEX);
		d.size = (int64_t)len;
		if (!ret)
			ret = sk_layout_add_manifest(layout, &d, tag, err);
	}
out:
	free(text);
	json_object_put(idx);
	sk_buf_free(&old);
	return ret;
}

static int attach(struct sk_registry *reg, const char *repo, struct sk_layout *layout,
		  const char *digest, const struct sk_descriptor *subject,
		  const struct sk_buf *bundle, struct sk_error *err)
{
	struct sk_buf m = {0};
	struct json_object *ann = NULL;
	struct sk_descriptor md = {0};
	char bdigest[SK_DIGEST_MAX], got[SK_DIGEST_MAX];
	bool kept = false;
	int ret;

	sk_digest_buf(bundle->data, bundle->len, bdigest);
	ret = referrer_manifest(subject, bdigest, bundle->len, &m, &ann, err);
	if (ret)
		return ret;
	sk_digest_buf(m.data, m.len, md.digest);
	snprintf(md.media_type, sizeof(md.media_type), "%s", SK_MT_MANIFEST);
	md.size = (int64_t)m.len;
	/* blobs before the manifest that names them, the manifest before the index */
	if (reg) {
		struct sk_registry_blob b[2] = {
		    {.digest = EMPTY_DIGEST, .size = 2, .data = "{}"},
		    {.digest = bdigest, .size = (int64_t)bundle->len, .data = bundle->data},
		};

		ret = sk_registry_blobs_push(reg, repo, b, 2, err);
		if (!ret)
			ret = sk_registry_manifest_put_referrer(
			    reg, repo, md.digest, SK_MT_MANIFEST, m.data, m.len, &kept, err);
	} else {
		ret = sk_layout_put_blob(layout, "{}", 2, got, err);
		if (!ret)
			ret = sk_layout_put_blob(layout, bundle->data, bundle->len, got, err);
		if (!ret)
			ret = sk_layout_put_blob(layout, m.data, m.len, got, err);
	}
	/* a registry that indexes referrers itself needs no tag; the rest do */
	if (!ret && !kept)
		ret = update_tag(reg, repo, layout, digest, &md, ann, err);
	json_object_put(ann);
	sk_buf_free(&m);
	return ret;
}

int sk_bundle_sign_digest(struct sk_bundle_signer *s, struct sk_registry *reg, const char *repo,
			  struct sk_layout *layout, const char *digest, const void *top,
			  size_t top_len, struct sk_error *err)
{
	struct sk_descriptor subject;
	struct sk_buf statement = {0}, bundle = {0};
	int ret;

	ret = subject_of(top, top_len, digest, &subject, err);
	if (!ret)
		ret = sk_bundle_statement(digest, s->o ? s->o->annotations : NULL, &statement, err);
	if (ret)
		goto out;
	if (s->key && !(s->o && s->o->force)) {
		ret = already_bundled(s, reg, repo, layout, digest, &statement, err);
		if (ret)
			goto out;
	}
	if (!s->key)
		ret = certify(s, err);
	if (!ret)
		ret = make_bundle(s, &statement, &bundle, err);
	if (!ret)
		ret = attach(reg, repo, layout, digest, &subject, &bundle, err);
out:
	if (ret < 0)
		sk_err_prefix(err, "Sigstore bundle for %s: ", digest);
	sk_buf_free(&statement);
	sk_buf_free(&bundle);
	return ret;
}
