/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Naming registry content and the credentials for it: references, credential
 * look-up in the files users already keep, WWW-Authenticate challenges, and the
 * registry options every command accepts. No network: this is what the root
 * side of skrun needs to hand a transfer to the fetch helper (transfer.h).
 *
 * Credentials are never written to output, errors or logs.
 */
#ifndef SCHEDKIT_REF_H
#define SCHEDKIT_REF_H

#include "schedkit/common.h"
#include "schedkit/oci.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_DOCKER_HUB	      "docker.io"
#define SK_DOCKER_HUB_API     "registry-1.docker.io"
#define SK_REF_REGISTRY_MAX   256
#define SK_REF_REPO_MAX	      256
#define SK_REF_TAG_MAX	      129
#define SK_REF_STRING_MAX     (SK_REF_REGISTRY_MAX + SK_REF_REPO_MAX + SK_REF_TAG_MAX + SK_DIGEST_MAX)
#define SK_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define SK_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"

/* ---- references: [REGISTRY/]REPO[:TAG][@sha256:DIGEST] ---- */

struct sk_ref {
	char registry[SK_REF_REGISTRY_MAX]; /* "docker.io", "127.0.0.1:5000" */
	char host[SK_REF_REGISTRY_MAX];	    /* where the API is: "registry-1.docker.io" */
	char repo[SK_REF_REPO_MAX];	    /* "library/alpine" */
	char tag[SK_REF_TAG_MAX];	    /* "" when absent */
	char digest[SK_DIGEST_MAX];	    /* "" when absent */
};

/*
 * Parses a reference (Docker rules: the first component is a registry when it
 * contains '.' or ':' or is "localhost"; otherwise docker.io, with "library/"
 * prepended to single-component names). Validates the distribution-spec name,
 * tag and digest grammar. Neither tag nor digest given: tag stays "".
 */
int sk_ref_parse(const char *s, struct sk_ref *ref, struct sk_error *err);
/* "registry/repo[:tag][@digest]" */
void sk_ref_string(const struct sk_ref *ref, char *buf, size_t len);
/* The digest if set, else the tag, else "latest": what to ask the registry for. */
const char *sk_ref_reference(const struct sk_ref *ref);

/* ---- credentials ---- */

struct sk_cred {
	char *username;	  /* NULL when anonymous */
	char *password;	  /* wiped before free */
	char source[512]; /* where they came from (a path or "docker-credential-X"), for messages */
};

void sk_cred_clear(struct sk_cred *c);

/*
 * Finds credentials for registry (and repo, for repository-scoped entries in
 * containers' auth.json), trying in order: auth_file if not NULL; otherwise
 * $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * ~/.config/containers/auth.json, $DOCKER_CONFIG/config.json or
 * ~/.docker/config.json. The first file holding an entry (or a credential
 * helper) for the registry wins. Nothing found: 0 with c->username NULL.
 * looked (may be NULL) receives the list of files consulted, for messages.
 */
int sk_cred_lookup(const char *registry, const char *repo, const char *auth_file, struct sk_cred *c,
		   struct sk_strv *looked, struct sk_error *err);

/*
 * Parses one auth file's contents (exposed for tests). On a match fills c, or
 * sets *helper (malloc'd) to the credential helper name to run. 1: an entry
 * or helper matched; 0: nothing for registry.
 */
int sk_cred_parse(const char *json, size_t len, const char *path, const char *registry,
		  const char *repo, struct sk_cred *c, char **helper, struct sk_error *err);
/* Runs `docker-credential-NAME get` with the registry on stdin. */
int sk_cred_helper_get(const char *helper, const char *registry, struct sk_cred *c,
		       struct sk_error *err);

/* Where login writes: auth_file, else $REGISTRY_AUTH_FILE, else Docker's config.json. */
char *sk_cred_store_path(const char *auth_file);
/* Adds/replaces registry's base64 `auth` entry; file mode 0600, written atomically. */
int sk_cred_store(const char *path, const char *registry, const char *username,
		  const char *password, struct sk_error *err);
/* Removes registry's entry. 1 removed, 0 there was none. */
int sk_cred_remove(const char *path, const char *registry, struct sk_error *err);

/* ---- WWW-Authenticate ---- */

struct sk_challenge {
	char scheme[16]; /* "Bearer", "Basic" (as sent; compare case-insensitively) */
	char realm[1024];
	char service[256];
	char scope[1024]; /* may hold several, space-separated */
	char error[64];	  /* "insufficient_scope", "invalid_token", ... */
};

int sk_challenge_parse(const char *header, struct sk_challenge *c, struct sk_error *err);

/* ---- registry client ---- */

struct sk_registry_opts {
	const char *ca_cert;		/* extra PEM CA bundle, NULL: system CAs only */
	const struct sk_strv *insecure; /* host[:port] names allowed HTTP/unverified TLS */
	const char *auth_file;		/* NULL: the usual search (sk_cred_lookup) */
	const char *username;		/* explicit credentials (login), NULL: look up */
	const char *password;
	/* the fetch helper: username/password are all there is (the root side looked
	 * them up); never read a credentials file */
	bool no_cred_lookup;
	const char *cred_source; /* where username/password came from; NULL: the command line */
	const struct sk_strv *cred_looked; /* with no_cred_lookup: the files the root side read */
	bool verbose;	       /* one line per request on stderr (method, URL, status) */
	unsigned max_attempts; /* per request on transient failures; 0: 5 */
	unsigned budget_ms;    /* total time one request may take with retries; 0: 120 s */
	size_t chunk_size;     /* blobs larger than this go up in PATCH chunks; 0: 16 MiB */
	/* pulls: the registries.conf to read alone (--registries-conf); NULL: the usual */
	const char *registries_conf;
};

/* Where streamed bytes go. reset() discards what was written, before a retry. */
struct sk_sink {
	int (*write)(void *ctx, const void *data, size_t len, struct sk_error *err);
	int (*reset)(void *ctx, struct sk_error *err);
	void *ctx;
};

#ifdef __cplusplus
}
#endif
#endif
