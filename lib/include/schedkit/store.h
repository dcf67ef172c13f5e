/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local content store: an OCI image layout (default /var/lib/schedkit)
 * that several skrun processes may use at once.
 *
 * - Blobs arrive through a writer: a temporary file under DIR/.tmp (same file
 *   system), hashed while written, checked against the expected digest and
 *   size, fsynced, then renamed into blobs/sha256/. A kill at any point leaves
 *   at most an invisible temporary file, never a partial blob; the writer
 *   holds a flock on it, so the next sk_store_open removes the files of
 *   writers that are gone (they would otherwise fill a small disk).
 * - index.json changes (sk_store_record) happen under the layout's exclusive
 *   flock (sk_layout_add_manifest locks the directory), so concurrent pulls do
 *   not lose each other's entries.
 * - A blob being present means its content was verified when it was written.
 *   A reference being recorded in index.json means the pull that wrote it
 *   finished, including its verification step.
 *
 * Also here: oci-archive files (a tar of a layout), written deterministically
 * and read defensively.
 */
#ifndef SCHEDKIT_STORE_H
#define SCHEDKIT_STORE_H

#include "schedkit/common.h"
#include "schedkit/oci.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_STORE_DEFAULT "/var/lib/schedkit"

struct sk_store;
struct sk_store_writer;

/* Opens dir (NULL: SK_STORE_DEFAULT), creating an empty layout if needed. */
int sk_store_open(const char *dir, struct sk_store **out, struct sk_error *err);
void sk_store_close(struct sk_store *s);
struct sk_layout *sk_store_layout(struct sk_store *s);
const char *sk_store_dir(const struct sk_store *s);

/* True when the blob file exists with this size (size < 0: any). */
bool sk_store_has_blob(struct sk_store *s, const char *digest, int64_t size);

/* Starts a blob write into a temporary file. */
int sk_store_writer_new(struct sk_store *s, struct sk_store_writer **out, struct sk_error *err);
int sk_store_writer_write(struct sk_store_writer *w, const void *data, size_t len,
			  struct sk_error *err);
/* Drops everything written so far (a retried download starts over). */
int sk_store_writer_reset(struct sk_store_writer *w, struct sk_error *err);
/*
 * Verifies digest and size (size < 0: any) and fsyncs, without making the
 * blob visible: a pull seals every blob first and renames them all only when
 * everything it needs arrived intact, so a failed pull adds nothing.
 * On failure w stays valid (abort it).
 */
int sk_store_writer_seal(struct sk_store_writer *w, const char *digest, int64_t size,
			 struct sk_error *err);
/*
 * Seals (unless sealed already with this digest) and renames into place.
 * Frees w whatever happens; on failure the temporary file is removed.
 */
int sk_store_writer_commit(struct sk_store_writer *w, const char *digest, int64_t size,
			   struct sk_error *err);
void sk_store_writer_abort(struct sk_store_writer *w);
/* A sink (see ref.h) writing into w. */
struct sk_sink;
void sk_store_writer_sink(struct sk_store_writer *w, struct sk_sink *sink);

/* Stores bytes that must hash to digest. */
int sk_store_put(struct sk_store *s, const void *data, size_t len, const char *digest,
		 struct sk_error *err);

/* Records d under ref_name in index.json (replacing an entry of that name), under the lock. */
int sk_store_record(struct sk_store *s, const char *ref_name, const struct sk_descriptor *d,
		    struct sk_error *err);
/*
 * Like sk_store_record, and the entry also carries annotations: "KEY=VALUE"
 * strings, NULL-terminated (e.g. SK_ANN_VERIFIED=false of trust.h). An entry
 * of the same name (unnamed: of the same digest) is replaced.
 */
int sk_store_record_annotated(struct sk_store *s, const char *ref_name,
			      const struct sk_descriptor *d, const char *const *annotations,
			      struct sk_error *err);

/* ---- consistency check ---- */

/* What sk_store_verify found. */
struct sk_store_report {
	unsigned blobs;		 /* blob files re-hashed */
	uint64_t bytes;		 /* their total size */
	unsigned refs;		 /* index.json entries checked */
	unsigned manifests;	 /* manifests checked, reached from those entries */
	unsigned unreferenced;	 /* verified blobs no entry reaches (interrupted pulls; harmless) */
	struct sk_strv problems; /* one message each; empty when the store is consistent */
};

/*
 * Re-hashes every blob and checks that each index.json entry is well-formed,
 * named once, and complete: its manifests (of an index, those of the
 * platforms that were pulled, at least one), their configs and layers present
 * with the sizes their descriptors give. Problems go into r->problems; the
 * return value is negative only when the check itself could not run.
 */
int sk_store_verify(struct sk_store *s, struct sk_store_report *r, struct sk_error *err);
void sk_store_report_free(struct sk_store_report *r);

/* ---- leases, listing and garbage collection ---- */

/*
 * A lease keeps digests, and every blob they reference, out of garbage
 * collection for as long as its owner lives: a running supervisor leases what
 * it runs and its fallback, a pull leases each blob before it looks for it in
 * the store and until the reference is recorded. A lease is a file in
 * DIR/leases that its owner holds an exclusive flock on; when the owner dies
 * the lease ends with it (docs/operators.md describes the files).
 */
struct sk_store_lease;

/* owner describes the holder for `skrun store ls` ("skrun run (pid 12)"). */
int sk_store_lease_new(struct sk_store *s, const char *owner, struct sk_store_lease **out,
		       struct sk_error *err);
/* Adds digest (a no-op for a NULL lease or a digest already held). */
int sk_store_lease_add(struct sk_store_lease *l, const char *digest, struct sk_error *err);
/* Replaces what the lease holds with these n digests (NULL or "" entries skipped). */
int sk_store_lease_set(struct sk_store_lease *l, const char *const *digests, size_t n,
		       struct sk_error *err);
/*
 * While held, no collection runs: a pull holds its lease while it makes its
 * blobs visible and records them, so that what it wrote but has not recorded
 * yet is never collected, whatever it is (signatures included).
 */
int sk_store_lease_hold(struct sk_store_lease *l, struct sk_error *err);
void sk_store_lease_unhold(struct sk_store_lease *l);
/* Ends the lease (NULL is fine). */
void sk_store_lease_release(struct sk_store_lease *l);

/* One artifact in the store, as `skrun store ls` shows it. */
struct sk_store_entry {
	char *name; /* the recorded reference; NULL for a leased digest no entry names */
	char digest[SK_DIGEST_MAX];
	char media_type[256];
	uint64_t size;	       /* bytes of the blobs it reaches, itself included */
	bool present;	       /* its top blob is in the store */
	bool signatures;       /* verified signatures are kept for it (offline re-verification) */
	bool unverified;       /* recorded with --insecure-skip-verify */
	struct sk_strv in_use; /* owners of the leases that hold it */
};

/* Every named entry except signatures, then leased digests that no entry names. */
int sk_store_list(struct sk_store *s, struct sk_store_entry **out, size_t *n, struct sk_error *err);
void sk_store_list_free(struct sk_store_entry *e, size_t n);

/*
 * Removes the index.json entries named by any of names (a reference as
 * recorded, or a digest: every entry of it). *removed counts them. The blobs
 * stay until sk_store_gc, which keeps those a lease still holds.
 */
int sk_store_remove(struct sk_store *s, const char *const *names, size_t n, size_t *removed,
		    struct sk_error *err);

struct sk_store_gc_report {
	unsigned removed;	/* blob files deleted */
	uint64_t freed;		/* their bytes */
	unsigned kept;		/* blob files kept */
	unsigned leased;	/* of those, kept only because a lease holds them */
	unsigned stale_leases;	/* leases of owners that were gone, removed */
	unsigned sig_entries;	/* signature entries removed with the last name of their subject */
	struct sk_strv holders; /* "OWNER: DIGEST" for every leased digest */
};

/*
 * Removes every blob that no index.json entry and no live lease reaches, and
 * signature entries whose subject is gone. Holds the leases lock exclusively
 * throughout: leasing and recording wait, so nothing in flight is taken.
 */
int sk_store_gc(struct sk_store *s, struct sk_store_gc_report *r, struct sk_error *err);
void sk_store_gc_report_free(struct sk_store_gc_report *r);

/* ---- oci-archive ---- */

/*
 * Writes the layout at dir as a tar: entries sorted by name, owner 0:0, mtime
 * 0, modes 0644/0755, pax-free ustar: the same layout gives the same bytes.
 */
int sk_archive_write(const char *dir, const char *tar_path, struct sk_error *err);
/*
 * Extracts an oci-archive into the empty directory dest. Rejects absolute
 * names, "..", links, devices and anything but regular files and directories,
 * more than max_total bytes in all or more than 4096 entries.
 */
int sk_archive_extract(const char *tar_path, const char *dest, uint64_t max_total,
		       struct sk_error *err);
/* The same from an archive already open on fd (the fetch helper gets it from skrun). */
int sk_archive_extract_fd(int fd, const char *dest, uint64_t max_total, struct sk_error *err);

#ifdef __cplusplus
}
#endif
#endif
