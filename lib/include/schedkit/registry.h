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
	bool verbose;	       /* one line per request on stderr (method, URL, status) */
	unsigned max_attempts; /* per request on transient failures; 0: 5 */
	unsigned budget_ms;    /* total time one request may take with retries; 0: 120 s */
	size_t chunk_size;     /* blobs larger than this go up in PATCH chunks; 0: 16 MiB */
};

/*
 * ---- the registry options of the command line ----
 *
 * One parser for what every command that talks to a registry accepts:
 * --insecure (the host of the command's reference), --ca-cert, --authfile,
 * -v/--verbose, and skrun run's repeatable --insecure-registry HOST. A
 * command puts SK_REGISTRY_CLI_LONGOPTS (and SK_REGISTRY_CLI_LONGOPT_VERBOSE
 * with "v" in its short options) into its getopt_long table, offers every
 * option to sk_registry_cli_opt first, and calls sk_registry_cli_finish once
 * its arguments are known.
 */
enum {
	/* above any character, so they never clash with a command's own options */
	SK_REGISTRY_OPT_INSECURE = 0x1000,
	SK_REGISTRY_OPT_CA_CERT,
	SK_REGISTRY_OPT_AUTHFILE,
	SK_REGISTRY_OPT_INSECURE_REGISTRY,
};

/* struct option entries (getopt.h); -v/--verbose is separate: not every command logs. */
/* clang-format off */
#define SK_REGISTRY_CLI_LONGOPTS                                                                   \
	{"insecure", no_argument, NULL, SK_REGISTRY_OPT_INSECURE},                                 \
	{"ca-cert", required_argument, NULL, SK_REGISTRY_OPT_CA_CERT},                             \
	{"authfile", required_argument, NULL, SK_REGISTRY_OPT_AUTHFILE}
#define SK_REGISTRY_CLI_LONGOPT_VERBOSE {"verbose", no_argument, NULL, 'v'}
/* clang-format on */

/* The --help lines of SK_REGISTRY_CLI_LONGOPTS and of -v/--verbose, options in 22 columns. */
#define SK_REGISTRY_CLI_HELP                                                                       \
	"  --insecure          the registry may use plain HTTP or an unverified\n"                 \
	"                      certificate (loopback registries may use plain HTTP\n"              \
	"                      by default; their certificates are still verified)\n"               \
	"  --ca-cert FILE      trust this PEM CA bundle too\n"                                     \
	"  --authfile FILE     read credentials only from FILE\n"
#define SK_REGISTRY_CLI_HELP_VERBOSE "  -v, --verbose       log each HTTP request to stderr\n"

struct sk_registry_cli {
	struct sk_registry_opts opts; /* opts.insecure is set by sk_registry_cli_finish */
	struct sk_strv insecure;      /* the hosts opts.insecure names */
	bool insecure_ref;	      /* --insecure: the reference's host joins the list */
	bool oom;		      /* a host could not be added; finish reports it */
};

/* 1 when opt (getopt_long's return, arg its optarg) was a registry option and is recorded. */
int sk_registry_cli_opt(struct sk_registry_cli *c, int opt, const char *arg);
/*
 * Adds the host of ref (may be NULL) to the insecure list when --insecure was
 * given and ref parses as a registry reference (layouts and archives have no
 * host), then points opts.insecure at the list. -ENOMEM when a host could not
 * be added.
 */
int sk_registry_cli_finish(struct sk_registry_cli *c, const char *ref);
void sk_registry_cli_free(struct sk_registry_cli *c);

struct sk_registry;

/* A client for ref->host (no network yet). One per registry; reuses its connection. */
int sk_registry_open(const struct sk_ref *ref, const struct sk_registry_opts *opts,
		     struct sk_registry **out, struct sk_error *err);
void sk_registry_close(struct sk_registry *r);
/* Declares what the token must allow: "repository:REPO:pull" or ":pull,push". */
int sk_registry_add_scope(struct sk_registry *r, const char *repo, bool push);
/* GET /v2/: picks http/https, learns the auth scheme, checks the credentials. */
int sk_registry_ping(struct sk_registry *r, struct sk_error *err);
/* Number of HTTP requests made so far (token requests included). */
unsigned sk_registry_requests(const struct sk_registry *r);
const char *sk_registry_name(const struct sk_registry *r);

/* Where streamed bytes go. reset() discards what was written, before a retry. */
struct sk_sink {
	int (*write)(void *ctx, const void *data, size_t len, struct sk_error *err);
	int (*reset)(void *ctx, struct sk_error *err);
	void *ctx;
};

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
/* All tags of repo (follows pagination). */
int sk_registry_tags(struct sk_registry *r, const char *repo, struct sk_strv *tags,
		     struct sk_error *err);

/* ---- push and pull pipelines ---- */

struct sk_store;
struct sk_layout;

struct sk_push_opts {
	struct sk_registry_opts reg;
	const struct sk_strv *mount_from; /* repositories to try cross-repo mounts from */
};

/*
 * Pushes the manifest or index tagged `tag` in layout l (NULL: its only
 * entry) to dst: blobs the registry lacks, every platform manifest, then the
 * top-level one under dst's tag (or digest). digest receives what was pushed.
 */
int sk_push_layout(struct sk_layout *l, const char *tag, const struct sk_ref *dst,
		   const struct sk_push_opts *opts, char digest[SK_DIGEST_MAX],
		   struct sk_error *err);

/*
 * sk_layout_resolve, except that with no tag the signature manifests a signed
 * layout carries next to its artifact (tagged sha256-<hex>.sig) do not count:
 * a layout or archive holding one artifact and its signatures names it alone.
 * What sk_pull and sk_push_layout use.
 */
int sk_layout_resolve_artifact(struct sk_layout *l, const char *tag, struct sk_descriptor *d,
			       struct sk_error *err);

/* What a pull verifier sees; every manifest and blob named here is already in the store,
 * verified against its digest. */
struct sk_pull_subject {
	const char *name;	  /* the ref.name the store will record */
	const struct sk_ref *ref; /* registry sources; NULL for layouts/archives */
	struct sk_registry
	    *registry;		  /* registry sources: open client (connects lazily), else NULL */
	struct sk_layout *source; /* layout/archive sources; NULL for registries */
	const char *digest;	  /* top-level digest (index, or manifest) */
	const char *manifest_digest; /* the selected platform's manifest ("" with all_platforms) */
	struct sk_store *store;
};

/*
 * Runs after everything is fetched and verified by digest and before the store
 * records the reference: return non-zero to refuse (nothing gets recorded).
 * This is where signature verification plugs in.
 */
typedef int (*sk_pull_verify_fn)(void *ctx, const struct sk_pull_subject *s, struct sk_error *err);

struct sk_pull_opts {
	struct sk_registry_opts reg;
	const char *os;		  /* NULL: "linux" */
	const char *arch;	  /* NULL: the host's */
	bool all_platforms;	  /* fetch every manifest of an index (save) */
	const char *record_as;	  /* ref.name to record; NULL: derived from the source */
	sk_pull_verify_fn verify; /* NULL: no verification step */
	void *verify_ctx;
	/* "KEY=VALUE" annotations for the recorded index.json entry, NULL-terminated
	 * (NULL: none); sk_store_record_annotated */
	const char *const *record_annotations;
};

/*
 * Pulls src into the store: a registry reference, "oci:DIR[:TAG]" or an existing
 * directory (an OCI layout), "oci-archive:FILE[:TAG]" or an existing file (a
 * tar of a layout). Resolves the tag once, selects the platform, fetches and
 * verifies every blob, runs the verifier, then records the reference.
 * digest: the top-level digest recorded. name (may be NULL, SK_REF_STRING_MAX):
 * the ref.name recorded.
 */
int sk_pull(struct sk_store *s, const char *src, const struct sk_pull_opts *opts,
	    char digest[SK_DIGEST_MAX], char *name, struct sk_error *err);

#ifdef __cplusplus
}
#endif
#endif
