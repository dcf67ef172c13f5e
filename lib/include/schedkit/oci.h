/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI content: digests, image layouts (directories), and the schedkit artifact
 * format (an image index of per-platform OCI 1.1 artifact manifests).
 * Format reference: docs/artifact-format.md.
 */
#ifndef SCHEDKIT_OCI_H
#define SCHEDKIT_OCI_H

#include <json-c/json.h>

#include "schedkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "sha256:" + 64 hex digits + NUL */
#define SK_DIGEST_MAX 72

#define SK_MT_INDEX	   "application/vnd.oci.image.index.v1+json"
#define SK_MT_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define SK_MT_OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define SK_MT_EMPTY	   "application/vnd.oci.empty.v1+json"
#define SK_ARTIFACT_TYPE   "application/vnd.schedkit.scheduler.v1"
#define SK_MT_SCHED_CONFIG "application/vnd.schedkit.scheduler.config.v1+json"
#define SK_MT_SCHED_BPF	   "application/vnd.schedkit.scheduler.bpf.v1+elf"
#define SK_MT_SCHED_SOURCE "application/vnd.schedkit.scheduler.source.v1.tar+gzip"
#define SK_ANN_REF_NAME	   "org.opencontainers.image.ref.name"
#define SK_ANN_MIN_VERSION "org.schedkit.scheduler.kernel.min-version"
#define SK_ANN_SCHED_NAME  "org.schedkit.scheduler.name"
#define SK_ANN_KFUNCS	   "org.schedkit.scheduler.kernel.kfuncs"
#define SK_ANN_OPS	   "org.schedkit.scheduler.ops"
/* The ops map's struct: sched_ext_ops, or a later one such as sched_ext_ops_cid (7.2). */
#define SK_ANN_OPS_TYPE "org.schedkit.scheduler.ops.type"

/* Limits on untrusted JSON documents. */
#define SK_MANIFEST_MAX (4u << 20)
#define SK_BLOB_MAX	(256u << 20)

/* ---- digests ---- */

/* sha256 of a buffer, as "sha256:<hex>". */
void sk_digest_buf(const void *data, size_t len, char out[SK_DIGEST_MAX]);
/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool sk_digest_valid(const char *digest);
/* Checks data against an expected digest; a clear error on mismatch. */
int sk_digest_check(const void *data, size_t len, const char *expected, const char *what,
		    struct sk_error *err);

/* Streaming sha256 (for bytes arriving from the network). */
struct sk_hasher;
struct sk_hasher *sk_hasher_new(void);
void sk_hasher_update(struct sk_hasher *h, const void *data, size_t len);
/* Writes "sha256:<hex>" and frees h. */
void sk_hasher_final(struct sk_hasher *h, char out[SK_DIGEST_MAX]);
void sk_hasher_free(struct sk_hasher *h);

/* ---- JSON ---- */

/*
 * Serializes compactly and deterministically (insertion order, no escaped
 * slashes): the bytes whose digest names a manifest. Returns a malloc'd string.
 */
char *sk_json_dump(struct json_object *obj, size_t *len);
/* Parses untrusted JSON with a size and depth limit; must be an object. */
int sk_json_parse(const void *data, size_t len, const char *what, struct json_object **out,
		  struct sk_error *err);
/* Accessors returning NULL/0 when absent or of the wrong type. */
const char *sk_json_str(struct json_object *obj, const char *key);
int64_t sk_json_int(struct json_object *obj, const char *key);
/*
 * Adds val under key, taking ownership of it: on failure val is released.
 * A NULL val stands for a failed allocation (json_object_new_*): -ENOMEM.
 */
int sk_json_add(struct json_object *o, const char *key, struct json_object *val);

/* ---- descriptors ---- */

struct sk_descriptor {
	char media_type[256];
	char digest[SK_DIGEST_MAX];
	int64_t size;
	char artifact_type[256];   /* optional, "" when absent */
	char platform_os[32];	   /* optional, "" when absent */
	char platform_arch[32];	   /* optional */
	char platform_variant[32]; /* optional */
	char ref_name[256];	   /* org.opencontainers.image.ref.name, optional */
};

/* Validates and reads a descriptor object (mediaType, digest, size required). */
int sk_descriptor_from_json(struct json_object *obj, struct sk_descriptor *d, struct sk_error *err);
/* New JSON object for a descriptor; annotations (may be NULL) is taken over. */
struct json_object *sk_descriptor_to_json(const struct sk_descriptor *d,
					  struct json_object *annotations);

/* ---- image layouts ---- */

struct sk_layout;

/* Creates dir (and parents) as an empty layout, or opens it if it is one. */
int sk_layout_create(const char *dir, struct sk_layout **out, struct sk_error *err);
/* Opens an existing layout; fails with a clear error if dir is not one. */
int sk_layout_open(const char *dir, struct sk_layout **out, struct sk_error *err);
void sk_layout_close(struct sk_layout *l);
const char *sk_layout_dir(const struct sk_layout *l);

/* Stores a blob (atomically, idempotently) and returns its digest. */
int sk_layout_put_blob(struct sk_layout *l, const void *data, size_t len,
		       char digest[SK_DIGEST_MAX], struct sk_error *err);
/* Reads a blob and verifies its digest (and size when size >= 0). */
int sk_layout_get_blob(struct sk_layout *l, const char *digest, int64_t size, size_t max,
		       uint8_t **data, size_t *len, struct sk_error *err);
bool sk_layout_has_blob(struct sk_layout *l, const char *digest);
/* Path of a blob file (malloc'd), whether or not it exists. */
char *sk_layout_blob_path(struct sk_layout *l, const char *digest);

/*
 * Adds d to index.json, tagged with ref_name (may be NULL for untagged). An
 * entry with the same ref_name is replaced. index.json is rewritten atomically.
 */
int sk_layout_add_manifest(struct sk_layout *l, const struct sk_descriptor *d, const char *ref_name,
			   struct sk_error *err);
/*
 * Like sk_layout_add_manifest, and the entry also carries annotations (may be
 * NULL; taken over). Nothing is written when the entry is there as it is;
 * otherwise blobs/sha256 is fsynced once before index.json is rewritten.
 */
int sk_layout_add_manifest_annotated(struct sk_layout *l, const struct sk_descriptor *d,
				     const char *ref_name, struct json_object *annotations,
				     struct sk_error *err);
/*
 * Removes every entry whose ref name or digest is one of keys (nkeys of them),
 * under the lock sk_layout_add_manifest* takes. *removed (may be NULL) counts
 * them; index.json is not rewritten when none matched.
 */
int sk_layout_remove_manifests(struct sk_layout *l, const char *const *keys, size_t nkeys,
			       size_t *removed, struct sk_error *err);
/*
 * For a caller that renamed an fsynced blob file into blobs/sha256 itself: the
 * next sk_layout_add_manifest* fsyncs the directory even if it writes nothing.
 */
void sk_layout_blobs_renamed(struct sk_layout *l);
/*
 * Finds the entry for tag (NULL: the only entry, or the error lists the tags).
 * A tag may also be a digest ("sha256:...") of an entry.
 */
int sk_layout_resolve(struct sk_layout *l, const char *tag, struct sk_descriptor *d,
		      struct sk_error *err);

/*
 * sk_layout_resolve, except that with no tag the signature manifests a signed
 * layout carries next to its artifact (tagged sha256-<hex>.sig) do not count:
 * a layout or archive holding one artifact and its signatures names it alone.
 */
int sk_layout_resolve_artifact(struct sk_layout *l, const char *tag, struct sk_descriptor *d,
			       struct sk_error *err);

/*
 * Splits "DIR[:TAG]" as used on command lines. An existing directory path wins
 * over the split (a directory named "a:b" works). Returns malloc'd strings.
 */
int sk_layout_ref_split(const char *arg, char **dir, char **tag);

/* ---- deterministic source archives ---- */

struct sk_source_file {
	const char *path; /* on disk */
	const char *name; /* inside the archive */
};

/*
 * tar+gzip of files, sorted by name, owners/times/modes normalized (0644,
 * uid/gid 0, mtime 0, no gzip timestamp): the same inputs give the same bytes.
 */
int sk_source_tar_gz(const struct sk_source_file *files, size_t n, struct sk_buf *out,
		     struct sk_error *err);

/* ---- schedkit artifacts ---- */

struct sk_artifact_platform {
	const char *os;	  /* "linux" */
	const char *arch; /* "amd64", "arm64" */
	const void *object;
	size_t object_len;
	struct json_object *config;	 /* borrowed; serialized with sk_json_dump */
	struct json_object *annotations; /* manifest annotations, borrowed */
	const void *source_tgz;		 /* NULL for --no-source */
	size_t source_len;
	const char *object_title; /* layer title annotation, e.g. "fifo.bpf.o" */
};

/*
 * Writes blobs, one manifest per platform, and an index into the layout and
 * tags it. index_annotations (may be NULL) is borrowed. index digest out.
 */
int sk_artifact_write(struct sk_layout *l, const struct sk_artifact_platform *plats, size_t n,
		      struct json_object *index_annotations, const char *tag,
		      char index_digest[SK_DIGEST_MAX], struct sk_error *err);

/* What a reader gets back for one platform. */
struct sk_artifact {
	char index_digest[SK_DIGEST_MAX]; /* "" when the ref named a manifest */
	char manifest_digest[SK_DIGEST_MAX];
	char os[32];
	char arch[32];
	struct json_object *manifest;	 /* owned */
	struct json_object *config;	 /* owned */
	struct json_object *annotations; /* borrowed from manifest, may be NULL */
	uint8_t *object;		 /* owned, digest-verified */
	size_t object_len;
};

/*
 * Resolves tag in the layout, picks os/arch from the index (arch NULL: the
 * host's), and loads config and object, verifying every digest.
 */
int sk_artifact_read(struct sk_layout *l, const char *tag, const char *arch,
		     struct sk_artifact **out, struct sk_error *err);
void sk_artifact_free(struct sk_artifact *a);
/* The GOARCH-style name of the machine this runs on ("amd64", "arm64", ...). */
const char *sk_host_arch(void);

#ifdef __cplusplus
}
#endif
#endif
