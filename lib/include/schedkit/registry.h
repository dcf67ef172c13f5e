/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI distribution: references, credentials, and a registry client speaking the
 * distribution-spec protocol over libcurl, plus the push/pull pipelines that
 * move schedkit artifacts between layouts, registries and the local store.
 *
 * Transport security (what sk_registry_open does, in order):
 *  - HTTPS is always tried first, verified against the system CAs plus
 *    opts->ca_cert when given.
 *  - Hosts named in opts->insecure: certificate verification is off and, when
 *    the host does not speak TLS, plain HTTP is used instead.
 *  - Loopback hosts (localhost, 127.0.0.0/8, ::1), like Docker's default
 *    127.0.0.0/8 insecure range: plain HTTP is used when the host does not
 *    speak TLS, but a certificate it presents is still verified (so a test CA
 *    must still be passed with --ca-cert).
 *  - Every other host: verified HTTPS only.
 *
 * Credentials are never written to output, errors or logs.
 */
#ifndef SCHEDKIT_REGISTRY_H
#define SCHEDKIT_REGISTRY_H

#include "schedkit/common.h"
#include "schedkit/oci.h"
#include "schedkit/ref.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sk_registry;

/* A client for ref->host (no network yet). One per registry; reuses its connection. */
int sk_registry_open(const struct sk_ref *ref, const struct sk_registry_opts *opts,
		     struct sk_registry **out, struct sk_error *err);
void sk_registry_close(struct sk_registry *r);
/* Declares what the token must allow: "repository:REPO:pull" or ":pull,push". */
int sk_registry_add_scope(struct sk_registry *r, const char *repo, bool push);
/*
 * GET /v2/: picks http/https, learns the auth scheme, checks the credentials
 * (skbuild login). Other requests need no ping: the first one finds the
 * scheme and the first 401 says how to authenticate.
 */
int sk_registry_ping(struct sk_registry *r, struct sk_error *err);
/* Blobs in flight at once per client (one HTTP/2 connection, or this many HTTP/1.1 ones). */
#define SK_REGISTRY_CONCURRENCY 4
/*
 * Progress of blobs of 1 MiB and more on stderr. AUTO: on a terminal one
 * redrawn line with each blob's bytes, rate and time left, and a line per blob
 * when it is done; elsewhere only that line. LINES: the line per blob only
 * (--quiet, logs). OFF: nothing.
 */
enum sk_progress { SK_PROGRESS_AUTO, SK_PROGRESS_LINES, SK_PROGRESS_OFF };
void sk_registry_set_progress(struct sk_registry *r, enum sk_progress mode);
/* Number of HTTP requests made so far (token requests included). */
unsigned sk_registry_requests(const struct sk_registry *r);
const char *sk_registry_name(const struct sk_registry *r);

/* 1: present (size filled when not NULL), 0: absent. */
int sk_registry_blob_exists(struct sk_registry *r, const char *repo, const char *digest,
			    int64_t *size, struct sk_error *err);
/*
 * Streams a blob into sink, hashing it; fails unless exactly size bytes with
 * this digest arrived (a longer body is cut off at size).
 */
int sk_registry_blob_get(struct sk_registry *r, const char *repo, const char *digest, int64_t size,
			 const struct sk_sink *sink, struct sk_error *err);
/*
 * One blob of a batch. Downloads stream into sink, verified as in
 * sk_registry_blob_get (an interrupted body continues with a Range request,
 * the digest still checked over every byte). Uploads send path (a file) or
 * data (memory) as in sk_registry_blob_push; check_first asks with a HEAD
 * whether the registry has it already (worth it for large blobs only: a small
 * upload costs what the HEAD does).
 */
struct sk_registry_blob {
	const char *digest;
	int64_t size;
	const struct sk_sink *sink; /* download */
	const char *path;	    /* upload: a file, or ... */
	const void *data;	    /* ... bytes in memory */
	bool check_first;	    /* upload: HEAD first */
	const char *mount_from;	    /* upload: try a cross-repository mount from this repository */
	bool existed;		    /* upload: the registry had it (HEAD or mount) */
	bool mounted;
};
/*
 * Moves n blobs concurrently, at most SK_REGISTRY_CONCURRENCY at a time. The
 * first failure stops the batch and is returned; a download's sink may hold
 * part of a blob then.
 */
int sk_registry_blobs_get(struct sk_registry *r, const char *repo, struct sk_registry_blob *b,
			  size_t n, struct sk_error *err);
int sk_registry_blobs_push(struct sk_registry *r, const char *repo, struct sk_registry_blob *b,
			   size_t n, struct sk_error *err);
/*
 * Uploads the file at path as digest/size: POST then PUT, or PATCH chunks when
 * larger than the chunk size. mount_from (may be NULL) names another repository
 * of this registry to mount the blob from instead. *mounted (may be NULL) tells.
 */
int sk_registry_blob_push(struct sk_registry *r, const char *repo, const char *digest, int64_t size,
			  const char *path, const char *mount_from, bool *mounted,
			  struct sk_error *err);

/*
 * GETs a manifest by tag or digest (<= max bytes), verified: by digest it must
 * hash to it; by tag it must match Docker-Content-Digest when the registry sends
 * one. media_type and digest (of the bytes) are filled.
 */
int sk_registry_manifest_get(struct sk_registry *r, const char *repo, const char *reference,
			     size_t max, struct sk_buf *body, char media_type[256],
			     char digest[SK_DIGEST_MAX], struct sk_error *err);
/* 1: exists (d filled from headers when not NULL), 0: absent. */
int sk_registry_manifest_head(struct sk_registry *r, const char *repo, const char *reference,
			      struct sk_descriptor *d, struct sk_error *err);
/* PUTs data under reference (tag or digest); checks the digest the registry reports. */
int sk_registry_manifest_put(struct sk_registry *r, const char *repo, const char *reference,
			     const char *media_type, const void *data, size_t len,
			     struct sk_error *err);
/*
 * sk_registry_manifest_put for a manifest with a subject: *subject_kept is
 * true when the registry answered OCI-Subject (it serves the referrers API
 * and indexes the manifest itself; no referrers tag is needed).
 */
int sk_registry_manifest_put_referrer(struct sk_registry *r, const char *repo,
				      const char *reference, const char *media_type,
				      const void *data, size_t len, bool *subject_kept,
				      struct sk_error *err);
/*
 * GET /v2/REPO/referrers/DIGEST (OCI 1.1), filtered by artifact_type (may be
 * NULL; registries may ignore the filter): 1 with the index in body (at most
 * max bytes), 0 when the registry has no referrers API (404), < 0 on error.
 */
int sk_registry_referrers(struct sk_registry *r, const char *repo, const char *digest,
			  const char *artifact_type, size_t max, struct sk_buf *body,
			  struct sk_error *err);
/* All tags of repo (follows pagination). */
int sk_registry_tags(struct sk_registry *r, const char *repo, struct sk_strv *tags,
		     struct sk_error *err);

/* ---- push ---- */

struct sk_layout;

struct sk_push_opts {
	struct sk_registry_opts reg;
	const struct sk_strv *mount_from; /* repositories to try cross-repo mounts from */
	/*
	 * Non-NULL: after a successful push the client is handed back here, open,
	 * instead of being closed (the caller closes it), so that signing goes on
	 * over the same connection and credentials; top (may be NULL) then gets
	 * the bytes of the top-level manifest pushed (the caller frees them).
	 */
	struct sk_registry **session;
	struct sk_buf *top;
	enum sk_progress progress; /* of large blobs (default AUTO; --quiet: LINES) */
};

/*
 * Pushes the manifest or index tagged `tag` in layout l (NULL: its only
 * entry) to dst: blobs the registry lacks, every platform manifest, then the
 * top-level one under dst's tag (or digest). digest receives what was pushed.
 */
int sk_push_layout(struct sk_layout *l, const char *tag, const struct sk_ref *dst,
		   const struct sk_push_opts *opts, char digest[SK_DIGEST_MAX],
		   struct sk_error *err);

/* ---- signing artifacts (sign.c), the way `cosign sign --key` does ---- */

struct sk_key;

/*
 * The signature formats skbuild writes (--signature-format): cosign's legacy
 * sha256-<hex>.sig manifests, Sigstore bundles attached as OCI referrers
 * (cosign v3), or both. DEFAULT: legacy with a key (what every cosign and
 * skrun reads), bundle when keyless (the only keyless format written).
 */
enum sk_sig_format {
	SK_SIG_FORMAT_DEFAULT = 0,
	SK_SIG_FORMAT_LEGACY = 1,
	SK_SIG_FORMAT_BUNDLE = 2,
	SK_SIG_FORMAT_BOTH = 3,
};
/* "legacy", "bundle", "both" -> the format; -EINVAL for anything else. */
int sk_sig_format_parse(const char *s, enum sk_sig_format *out);

/* Where the identity token comes from in CI (docs/ci.md). */
#define SK_OIDC_TOKEN_ENV      "SIGSTORE_ID_TOKEN"
#define SK_GHA_TOKEN_URL_ENV   "ACTIONS_ID_TOKEN_REQUEST_URL"
#define SK_GHA_TOKEN_TOKEN_ENV "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
#define SK_FULCIO_URL_DEFAULT  "https://fulcio.sigstore.dev"
#define SK_REKOR_URL_DEFAULT   "https://rekor.sigstore.dev"

/* Keyless signing: a Fulcio certificate for an OIDC identity, logged in Rekor. */
struct sk_keyless_opts {
	const char *fulcio_url;	    /* NULL: SK_FULCIO_URL_DEFAULT */
	const char *rekor_url;	    /* NULL: SK_REKOR_URL_DEFAULT */
	const char *tsa_url;	    /* an RFC 3161 timestamp authority too; NULL: none */
	const char *identity_token; /* NULL: from the environment (sk_keyless_token) */
	const char *ca_cert;	    /* a PEM CA bundle for their TLS, besides the system's */
};

struct sk_sign_opts {
	/* docker-reference to sign for. NULL: the registry reference's repository; for a
	 * layout, its entry's ref name when that is a full reference, else required. */
	const char *identity;
	const struct sk_strv *annotations; /* "key=value" for the payload's optional section */
	struct sk_registry_opts reg;
	/* add a signature even when one by this key over the same payload is there */
	bool force;
	/* also sign each platform manifest of an index (cosign sign --recursive); by
	 * default only the top-level digest, which binds them and is what skrun judges */
	bool recursive;
	/* an open client to the target's registry (sk_push_opts.session) and the
	 * target's manifest bytes (top, top_len): a REF@DIGEST target is then signed
	 * over that connection without fetching its manifest again */
	struct sk_registry *session;
	const void *top;
	size_t top_len;
	enum sk_sig_format format;
	/* non-NULL: sign keyless (the key given to sk_sign_artifact is NULL) */
	const struct sk_keyless_opts *keyless;
};

struct sk_sign_result {
	char digest[SK_DIGEST_MAX];    /* the top-level digest signed */
	char identity[512];	       /* the docker-reference in the payloads */
	struct sk_strv signed_digests; /* every digest signed (top level first) */
	struct sk_strv unchanged;      /* of those, the ones that had such a signature already */
};

/*
 * Signs target, a registry reference (HOST/REPO[:TAG][@DIGEST]) or a layout
 * (oci:DIR[:TAG], or a path starting with / or ./): resolves it once to a digest, signs that digest
 * and, with o->recursive, each platform manifest's of an index; adds each signature to the existing
 * sha256-<hex>.sig manifest (keeping the signatures already there) and writes it back: payload
 * blobs, config, then the manifest under the .sig tag. A digest that already carries a valid
 * signature by key over the same payload is left as it is (listed in res->unchanged) unless
 * o->force.
 */
int sk_sign_artifact(const char *target, const struct sk_key *key, const struct sk_sign_opts *o,
		     struct sk_sign_result *res, struct sk_error *err);
void sk_sign_result_free(struct sk_sign_result *r);

#ifdef __cplusplus
}
#endif
#endif
