/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where bytes come from, and how they get into the store.
 *
 * - One way to name a source (sk_source_parse): a registry reference
 *   HOST/REPO[:TAG][@DIGEST], an OCI layout `oci:DIR[:TAG]`, an oci-archive
 *   `oci-archive:FILE[:TAG]` (the containers-transports(5) spellings), or a
 *   path that starts with "/", "./" or "../" (a directory is a layout, a file
 *   an archive). Nothing else is ever opened as a file.
 * - The fetch helper (skrun-fetch): every registry transfer and every archive
 *   read happens in a separate executable that runs as an unprivileged user,
 *   writes only into a staging directory it is handed, and answers small,
 *   versioned requests over a socket (proto.c). This process only reads what
 *   it staged, without following links, and re-hashes every byte.
 * - Pulls verify before they download: the top manifest and the signatures
 *   the policy needs come first; layers are fetched only once those are
 *   trusted; nothing enters the store until everything arrived intact, and
 *   only signatures that verified are kept.
 * - Mirrors (registries.conf): a registry reference is fetched from its
 *   mirrors, then its primary location, each a pull of its own; trust is
 *   judged on the reference as named, whichever endpoint served it.
 */
#ifndef SCHEDKIT_TRANSFER_H
#define SCHEDKIT_TRANSFER_H

#include <json-c/json.h>

#include "schedkit/common.h"
#include "schedkit/oci.h"
#include "schedkit/ref.h"
#include "schedkit/trust.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- naming a source ---- */

enum sk_source_kind { SK_SOURCE_REGISTRY, SK_SOURCE_LAYOUT, SK_SOURCE_ARCHIVE };

struct sk_source {
	enum sk_source_kind kind;
	struct sk_ref ref; /* SK_SOURCE_REGISTRY */
	char *path;	   /* layout directory or archive file */
	char *tag;	   /* inside a layout or archive: tag or digest; NULL: its only artifact */
	char *arg;	   /* as given, for messages */
};

/*
 * Parses a source argument (see above). A name that parses as a registry
 * reference is one, whatever files exist; a Docker Hub short name (no host)
 * that is also an existing local path is refused as ambiguous, with the two
 * spellings that would say which is meant.
 */
int sk_source_parse(const char *arg, struct sk_source *src, struct sk_error *err);
void sk_source_free(struct sk_source *src);
/*
 * Splits FILE[:TAG] where FILE exists into malloc'd parts (tag NULL when
 * absent), or -ENOENT. The first colon after which the path names a file
 * splits: tags of saved archives are full references ("host:port/repo:tag").
 */
int sk_archive_ref_split(const char *arg, char **file, char **tag);
/* The repository identity of a registry source ("HOST/REPO"); "" for others. */
void sk_source_identity(const struct sk_source *src, char out[512]);

/*
 * ---- the registry options of the command line ----
 *
 * One parser for what every command that talks to a registry accepts, the
 * same everywhere: --insecure (the host of the command's references),
 * --insecure-registry HOST (repeatable), --ca-cert, --authfile, --username
 * with --password-stdin, and -v/--verbose. Without --username the
 * credentials come from $SCHEDKIT_REGISTRY_USERNAME and
 * $SCHEDKIT_REGISTRY_PASSWORD when both are set (for CI secrets), else from
 * the auth files. --registries-conf FILE names the registries.conf that pulls
 * take their mirrors from (see below). A command puts SK_REGISTRY_CLI_LONGOPTS (and
 * SK_REGISTRY_CLI_LONGOPT_VERBOSE with "v" in its short options) into its
 * getopt_long table, offers every option to sk_registry_cli_opt first, and
 * calls sk_registry_cli_finish once its arguments are known.
 */
#define SK_REGISTRY_USERNAME_ENV "SCHEDKIT_REGISTRY_USERNAME"
#define SK_REGISTRY_PASSWORD_ENV "SCHEDKIT_REGISTRY_PASSWORD"

enum {
	/* above any character, so they never clash with a command's own options */
	SK_REGISTRY_OPT_INSECURE = 0x1000,
	SK_REGISTRY_OPT_CA_CERT,
	SK_REGISTRY_OPT_AUTHFILE,
	SK_REGISTRY_OPT_INSECURE_REGISTRY,
	SK_REGISTRY_OPT_USERNAME,
	SK_REGISTRY_OPT_PASSWORD_STDIN,
	SK_REGISTRY_OPT_REGISTRIES_CONF,
};

/* struct option entries (getopt.h); -v/--verbose is separate: not every command logs. */
/* clang-format off */
#define SK_REGISTRY_CLI_LONGOPTS                                                                   \
	{"insecure", no_argument, NULL, SK_REGISTRY_OPT_INSECURE},                                 \
	{"insecure-registry", required_argument, NULL, SK_REGISTRY_OPT_INSECURE_REGISTRY},         \
	{"ca-cert", required_argument, NULL, SK_REGISTRY_OPT_CA_CERT},                             \
	{"authfile", required_argument, NULL, SK_REGISTRY_OPT_AUTHFILE},                           \
	{"username", required_argument, NULL, SK_REGISTRY_OPT_USERNAME},                           \
	{"password-stdin", no_argument, NULL, SK_REGISTRY_OPT_PASSWORD_STDIN},                     \
	{"registries-conf", required_argument, NULL, SK_REGISTRY_OPT_REGISTRIES_CONF}
#define SK_REGISTRY_CLI_LONGOPT_VERBOSE {"verbose", no_argument, NULL, 'v'}
/* clang-format on */

/* The --help lines of SK_REGISTRY_CLI_LONGOPTS and of -v/--verbose, options in 22 columns. */
#define SK_REGISTRY_CLI_HELP                                                                       \
	"  --insecure          the registry of the reference(s) may use plain HTTP or an\n"        \
	"                      unverified certificate (loopback registries may use\n"              \
	"                      plain HTTP by default; their certificates are verified)\n"          \
	"  --insecure-registry HOST  the same for registry HOST[:PORT] (repeatable)\n"             \
	"  --ca-cert FILE      trust this PEM CA bundle too\n"                                     \
	"  --authfile FILE     read credentials only from FILE\n"                                  \
	"  --username USER     log in as USER with the password read from standard\n"              \
	"  --password-stdin    input (both together; default: $" SK_REGISTRY_USERNAME_ENV "\n"     \
	"                      and $" SK_REGISTRY_PASSWORD_ENV ", else the auth files)\n"          \
	"  --registries-conf FILE  pull through the mirrors FILE names\n"                          \
	"                      (containers-registries.conf(5)); default\n"                         \
	"                      $" SK_REGCONF_ENV ", else\n"                                        \
	"                      " SK_REGCONF_PATH " and its .d/*.conf;\n"                           \
	"                      trust stays the reference's (docs/mirrors.md)\n"
#define SK_REGISTRY_CLI_HELP_VERBOSE "  -v, --verbose       log each HTTP request to stderr\n"

struct sk_registry_cli {
	struct sk_registry_opts opts; /* opts.insecure is set by sk_registry_cli_finish */
	struct sk_strv insecure;      /* the hosts opts.insecure names */
	bool insecure_ref;	      /* --insecure: the reference's host joins the list */
	bool password_stdin;	      /* --password-stdin: finish reads it */
	char *password;		      /* what finish read or copied, wiped by free */
	bool oom;		      /* a host could not be added; finish reports it */
	bool bad;		      /* finish refused the credential options; err says why */
};

/* 1 when opt (getopt_long's return, arg its optarg) was a registry option and is recorded. */
int sk_registry_cli_opt(struct sk_registry_cli *c, int opt, const char *arg);
/*
 * The command-line spelling of a registry option (for commands that hand
 * them on, as build --push does), or NULL when opt is not one.
 */
const char *sk_registry_cli_optname(int opt);
/*
 * Adds the host of ref (may be NULL) to the insecure list when --insecure was
 * given and ref parses as a registry reference (layouts and archives have no
 * host), then points opts.insecure at the list. Called again for another
 * reference (skrun run's --fallback), adds that host too. The first call
 * settles the credentials: --username with the password from standard input,
 * or the environment's. -ENOMEM when a host could not be added, -EINVAL
 * (with a message on stderr) for credential options that do not go together.
 */
int sk_registry_cli_finish(struct sk_registry_cli *c, const char *ref);
void sk_registry_cli_free(struct sk_registry_cli *c);

/*
 * When verifying src failed because it is a local layout that nobody signed
 * (a fresh `skbuild build`), replaces err with a message that says exactly
 * that and names the two ways forward (skbuild sign, --insecure-skip-verify);
 * err->code becomes -EKEYREJECTED. Returns 1 then, else 0 (err untouched).
 */
int sk_unsigned_build_explain(const char *src, struct sk_error *err);

/*
 * ---- registries.conf: mirrors and location rewrites ----
 *
 * containers-registries.conf(5), version 2, the subset that says where bytes
 * come from: [[registry]] (prefix, location, insecure, blocked,
 * mirror-by-digest-only) and [[registry.mirror]] (location, insecure,
 * pull-from-mirror). unqualified-search-registries, short-name-mode,
 * credential-helpers, [aliases] and version 1's [registries.search] are read
 * and ignored (skrun resolves no short names); everything else is refused
 * with FILE:LINE. Mirrors serve bytes only: trust is judged on the user's
 * reference, whatever endpoint answered (docs/mirrors.md).
 */
#define SK_REGCONF_PATH "/etc/containers/registries.conf"
#define SK_REGCONF_DIR	"/etc/containers/registries.conf.d"
#define SK_REGCONF_ENV	"CONTAINERS_REGISTRIES_CONF"
/* One file is a few KiB; this bounds what a mistake can make us read. */
#define SK_REGCONF_FILE_MAX (1u << 20)

enum sk_pull_from_mirror { SK_MIRROR_ALL, SK_MIRROR_DIGEST_ONLY, SK_MIRROR_TAG_ONLY };

struct sk_regconf_mirror {
	char *location;
	bool insecure;
	bool pull_from_set; /* pull-from-mirror was given */
	enum sk_pull_from_mirror pull_from;
	char where[300]; /* FILE:LINE of its [[registry.mirror]] */
};

struct sk_regconf_registry {
	char *prefix;	/* as written, or the location when absent */
	char *location; /* "" for a wildcard prefix without one: no rewrite */
	bool insecure, blocked, mirror_by_digest_only;
	struct sk_regconf_mirror *mirrors;
	size_t nmirrors;
	char where[300]; /* FILE:LINE of its [[registry]] */
};

struct sk_regconf {
	struct sk_regconf_registry *reg;
	size_t n;
	struct sk_strv files; /* what was read, in order */
};

/*
 * Parses one file's text (name: for messages) and merges it into c: a
 * [[registry]] whose prefix an earlier file had replaces that one, others are
 * added. -EINVAL with "NAME:LINE: what, and what to do" for anything outside
 * the subset; c is unchanged then.
 */
int sk_regconf_parse(struct sk_regconf *c, const char *text, size_t len, const char *name,
		     struct sk_error *err);
/*
 * Reads the configuration: override (--registries-conf) alone when given,
 * else $CONTAINERS_REGISTRIES_CONF alone when set, else SK_REGCONF_PATH and
 * then SK_REGCONF_DIR's *.conf in byte order (missing ones are skipped). As
 * root, a file not owned by root or writable by group or others is refused.
 */
int sk_regconf_load(const char *override, struct sk_regconf *c, struct sk_error *err);
/* The same for one file, with the ownership rule when as_root; for tests and load. */
int sk_regconf_load_file(const char *path, bool as_root, bool must_exist, struct sk_regconf *c,
			 struct sk_error *err);
void sk_regconf_free(struct sk_regconf *c);

/* A place to fetch a reference from: a mirror, or the primary location (last). */
struct sk_endpoint {
	struct sk_ref ref; /* the rewritten reference (same tag or digest) */
	bool mirror;
	bool insecure; /* the configuration allows plain HTTP / unverified TLS */
	char label[SK_REF_REGISTRY_MAX + SK_REF_REPO_MAX + 32]; /* "mirror HOST/REPO" */
};

/*
 * The endpoints for ref, in the order to try them: the mirrors of the
 * longest-prefix [[registry]] that pull-from-mirror allows for a tag or a
 * digest, then the primary location (ref rewritten by location, or ref).
 * -EACCES when the registry is blocked. *out is malloc'd, n >= 1 on success.
 */
int sk_regconf_endpoints(const struct sk_regconf *c, const struct sk_ref *ref,
			 struct sk_endpoint **out, size_t *n, struct sk_error *err);

/* ---- the fetch helper ---- */

/*
 * The protocol spoken over the helper's socket: one JSON object per frame.
 * Version 2 added {"op":"blobs","items":[{"digest":D,"size":N},...]}: the
 * helper fetches them concurrently and answers once all are staged (or with
 * the first failure). Version 3 added {"op":"referrers","digest":D,
 * "artifactType":T,"max":N}: the OCI 1.1 referrers API, answered with
 * "supported" and, when it is, the index as a manifest reply carries it.
 */
#define SK_PROTO_VERSION 3
/* manifests up to this size travel in the reply itself (base64), not through staging */
#define SK_PROTO_INLINE_MAX (32u << 10)
#define SK_PROTO_MSG_MAX    (64u << 10)
/* Blobs one "blobs" request may name: a manifest's config and its layers. */
#define SK_PROTO_BATCH_MAX   257
#define SK_FETCH_HELPER_ENV  "SKRUN_FETCH_HELPER"
#define SK_FETCH_USER_ENV    "SKRUN_FETCH_USER"
#define SK_FETCH_HELPER_NAME "skrun-fetch"

/* Writes one frame: a 4-byte big-endian length, then the compact JSON. */
int sk_proto_send(int fd, struct json_object *msg, struct sk_error *err);
/* Reads one frame (at most SK_PROTO_MSG_MAX bytes); -ECONNRESET at a clean end. */
int sk_proto_recv(int fd, struct json_object **msg, struct sk_error *err);
/* Decodes one frame held in memory (what sk_proto_recv does after reading it). */
int sk_proto_decode(const void *frame, size_t len, struct json_object **msg, struct sk_error *err);

/* One item of a "blobs" request. */
struct sk_proto_blob {
	char digest[SK_DIGEST_MAX];
	int64_t size;
};
/* {"op":"blobs","items":[...]} for n (<= SK_PROTO_BATCH_MAX) items. */
int sk_proto_blobs_request(const struct sk_proto_blob *items, size_t n, struct json_object **req,
			   struct sk_error *err);
/*
 * The items of a "blobs" request, checked: an array of at most max (and
 * SK_PROTO_BATCH_MAX) objects, each a sha256 digest and a size within
 * SK_BLOB_MAX, no digest twice. -EINVAL (with the reason) otherwise.
 */
int sk_proto_blobs_parse(struct json_object *req, struct sk_proto_blob *items, size_t max,
			 size_t *n, struct sk_error *err);

/*
 * The fields of a "referrers" request, checked: a sha256 digest, an
 * artifactType that is a media type (or absent: "" then), and a size limit
 * within SK_MANIFEST_MAX. -EINVAL (with the reason) otherwise.
 */
int sk_proto_referrers_parse(struct json_object *req, char digest[SK_DIGEST_MAX],
			     char artifact_type[256], size_t *max, struct sk_error *err);

struct sk_fetch_opts {
	struct sk_registry_opts reg; /* TLS, insecure hosts, credentials file, verbose */
	const char *helper;	     /* NULL: $SKRUN_FETCH_HELPER, next to this program, libexec */
	const char *user; /* as root, the helper's user; NULL: $SKRUN_FETCH_USER or nobody */
	const char *staging_parent; /* NULL: $TMPDIR or /tmp */
};

struct sk_fetch;

/*
 * A session with src. Layouts are read in place; registries and archives get
 * a helper, started when the first byte is needed (a pull that the store can
 * satisfy starts none).
 */
int sk_fetch_open(const struct sk_source *src, const struct sk_fetch_opts *o, struct sk_fetch **out,
		  struct sk_error *err);
void sk_fetch_close(struct sk_fetch *f);
/*
 * A manifest by tag or digest (at most max bytes), verified against its digest;
 * -ENOENT when the source has none by that name. For layouts and archives a
 * NULL reference names their only artifact. desc gets media type, digest, size
 * and (layouts) the entry's ref name.
 */
int sk_fetch_manifest(struct sk_fetch *f, const char *reference, size_t max, struct sk_buf *body,
		      struct sk_descriptor *desc, struct sk_error *err);
/*
 * Makes a blob available and returns a read-only fd on a regular file holding
 * it (staging, or the layout). The caller re-hashes what it reads.
 */
int sk_fetch_blob_fd(struct sk_fetch *f, const char *digest, int64_t size, int *fd,
		     struct sk_error *err);
/*
 * Fetches n blobs at once (from a registry: concurrently, in one request to
 * the helper); sk_fetch_blob_fd then opens each without asking again. Does
 * nothing for layouts and archives, which hold them already.
 */
int sk_fetch_blobs(struct sk_fetch *f, const struct sk_descriptor *d, size_t n,
		   struct sk_error *err);
/*
 * The OCI 1.1 referrers API of a registry source: the index of the manifests
 * whose subject is digest (artifact_type: the filter to ask for, which the
 * registry may ignore), at most max bytes. *supported is false, and body
 * empty, for a registry without the API and for layouts and archives: the
 * referrers tag scheme (the sha256-<hex> tag) stands in for it there.
 */
int sk_fetch_referrers(struct sk_fetch *f, const char *digest, const char *artifact_type,
		       size_t max, struct sk_buf *body, bool *supported, struct sk_error *err);
/* A small blob into memory, verified against digest and size (at most max bytes). */
int sk_fetch_blob(struct sk_fetch *f, const char *digest, int64_t size, size_t max,
		  struct sk_buf *out, struct sk_error *err);
/* Drops a staged blob once it is copied (nothing for layouts). */
void sk_fetch_release(struct sk_fetch *f, const char *digest);
/* HTTP requests the helper made so far (0 for layouts and archives). */
unsigned sk_fetch_requests(struct sk_fetch *f);
/* "pid N, uid U, gid G, capabilities none, no_new_privs, landlock ..." once a helper ran. */
const char *sk_fetch_helper_report(const struct sk_fetch *f);

/* ---- pulling into the store ---- */

struct sk_store;
struct sk_store_lease;

/*
 * When a registry is asked (podman's --pull words). Layouts and archives are
 * local and always read; these govern registry references.
 */
enum sk_pull_policy {
	/* resolve the tag at the registry; when it cannot be reached, use the
	 * digest the store recorded for the tag (verified again), with a warning */
	SK_PULL_ALWAYS,
	/* a tag the store recorded resolves there, offline; otherwise as always */
	SK_PULL_MISSING,
	/* only the store: a tag must be recorded there and nothing is fetched */
	SK_PULL_NEVER,
};

/* "always", "missing", "never" -> the policy; -EINVAL for anything else. */
int sk_pull_policy_parse(const char *s, enum sk_pull_policy *out);
const char *sk_pull_policy_str(enum sk_pull_policy p);

struct sk_pull_opts {
	struct sk_registry_opts reg;
	const char *fetch_helper; /* see sk_fetch_opts */
	const char *fetch_user;
	const char *os;	    /* NULL: "linux" */
	const char *arch;   /* NULL: the host's */
	bool all_platforms; /* fetch every manifest of an index (save) */
	/* also fetch the source tarball layer (SK_MT_SCHED_SOURCE): provenance that
	 * nothing on a host reads, so left out unless asked for (save, --with-source) */
	bool with_source;
	const char *record_as; /* ref.name to record; NULL: derived from the source */
	/* non-NULL: verify against this before any layer is fetched; NULL: unverified */
	const struct sk_verify_opts *verify;
	struct sk_verify_result *result; /* with verify: what was verified (may be NULL) */
	/* without verify: carry the source's signatures as they are (skbuild save
	 * writes a layout for another host to judge; never for skrun's store) */
	bool copy_signatures;
	/* "KEY=VALUE" annotations for the recorded index.json entry, NULL-terminated */
	const char *const *record_annotations;
	/* called with the helper's report once one ran (may be NULL) */
	void (*on_helper)(void *ctx, const char *report);
	void *on_helper_ctx;
	enum sk_pull_policy policy; /* default SK_PULL_ALWAYS */
	/* set (code and message) when the registry could not be reached and the
	 * digest the store recorded was used instead (policy always); may be NULL */
	struct sk_error *warning;
	/* non-NULL: lease what the pull uses in this lease, which the caller keeps
	 * (a supervisor); NULL: the pull holds a lease of its own until it recorded */
	struct sk_store_lease *lease;
	/* non-NULL: judges each platform manifest's config before its layers are
	 * fetched (skrun: can this kernel run it?); a non-zero return refuses the
	 * pull with err as it set it, and the store stays as it was */
	int (*accept_config)(void *ctx, const char *manifest_digest, struct json_object *config,
			     struct sk_error *err);
	void *accept_ctx;
	/* non-NULL: judges the top-level digest as soon as it is resolved, before
	 * its signatures are asked for (skrun's agent: a digest that failed before
	 * costs one request); a non-zero return refuses the pull with err */
	int (*accept_top)(void *ctx, const char *digest, struct sk_error *err);
	void *accept_top_ctx;
	/* non-NULL (SK_DIGEST_MAX bytes): on failure, the top-level digest the pull
	 * refused on its own merits (its signatures, or accept_config); "" when it
	 * failed otherwise (unreachable, missing, bytes not matching their digest) */
	char *refused;
};

/*
 * Pulls src into the store: resolves the tag once, fetches the top manifest,
 * verifies its signatures (opts->verify), only then the platform manifest(s)
 * and layers, every byte checked against its digest; then commits all blobs,
 * the verified signatures, and records the reference. A refused or failed
 * pull leaves the store as it was. digest: the top-level digest recorded.
 * name (may be NULL, SK_REF_STRING_MAX): the ref.name recorded. A tag
 * resolved from the store (opts->policy) goes the same way from the recorded
 * digest: its signatures are judged again from those the store kept, and
 * every blob must be there.
 */
int sk_pull(struct sk_store *s, const char *src, const struct sk_pull_opts *opts,
	    char digest[SK_DIGEST_MAX], char *name, struct sk_error *err);

/*
 * What the store recorded for srcname, offline: a registry reference by the
 * name a pull records (HOST/REPO:TAG, ":latest" when untagged), a pinned
 * reference or a bare digest by its digest. digest gets the top digest, name
 * (may be NULL) the name matched. -ENOENT when the store has none, -EINVAL
 * for layouts and archives (local files, not names the store records).
 */
int sk_pull_stored(struct sk_store *s, const char *srcname, char digest[SK_DIGEST_MAX],
		   char name[SK_REF_STRING_MAX], struct sk_error *err);

/* ---- verifying without pulling ---- */

/*
 * Verifies a digest already in the store (offline), using the signatures kept
 * there. identity is "HOST/REPO" or a reference whose repository is used.
 */
int sk_trust_verify_stored(struct sk_store *st, const char *identity, const char *digest,
			   const struct sk_verify_opts *o, struct sk_verify_result *res,
			   struct sk_error *err);
/*
 * Verifies a source without writing anything: the tag is resolved once to a
 * digest and only that digest's signatures are judged. Layouts and archives
 * need no network.
 */
int sk_trust_verify_source(const char *src, const struct sk_pull_opts *po,
			   const struct sk_verify_opts *o, struct sk_verify_result *res,
			   struct sk_error *err);

/* ---- reading an artifact for inspection ---- */

/*
 * For read-only views (inspect, check): a layout is read in place; anything
 * else is pulled, digest by digest, into a throwaway store that is removed
 * before returning. No signature is verified: nothing read this way is ever
 * loaded.
 */
int sk_artifact_open_any(const char *src, const struct sk_pull_opts *opts, const char *arch,
			 struct sk_artifact **out, struct sk_error *err);

#ifdef __cplusplus
}
#endif
#endif
