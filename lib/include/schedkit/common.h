/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schedkit common definitions: error reporting and small utilities shared by
 * every part of lib/.
 *
 * Conventions (libbpf's): functions return 0 or a negative errno. A function
 * that can fail takes a `struct sk_error *` last; on failure it fills it with a
 * message that says what failed, where, and how to fix it. `err` may be NULL.
 */
#ifndef SCHEDKIT_COMMON_H
#define SCHEDKIT_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_ERROR_MSG_MAX 4096

struct sk_error {
	int code;		    /* negative errno, 0 when unset */
	char msg[SK_ERROR_MSG_MAX]; /* human-readable, never holds credentials */
};

/* Fills err (if not NULL) and returns code, which must be negative. */
int sk_errf(struct sk_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Prefixes an existing message with more context ("pulling X: " + old msg).
 * Returns err->code (-EIO when err is NULL), so `return sk_err_prefix(...)`
 * always reports a failure.
 */
int sk_err_prefix(struct sk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __clang_analyzer__
/*
 * For the static analyzer (make lint) only: it does not look into error.c, so
 * it would follow `return sk_errf(...)` as if it could return 0 and report
 * null dereferences on paths that never run. This says what sk_errf returns.
 */
#define sk_errf(err, code, ...)                                                                    \
	__extension__({                                                                            \
		int sk_code_ = (code);                                                             \
		sk_errf((err), sk_code_, __VA_ARGS__);                                             \
		sk_code_ < 0 ? sk_code_ : -1;                                                      \
	})
#endif

/* A growable, NULL-terminated vector of owned strings. */
struct sk_strv {
	char **v;
	size_t n;
	size_t cap;
};

int sk_strv_push(struct sk_strv *s, const char *str);
bool sk_strv_contains(const struct sk_strv *s, const char *str);
/* Sorts in byte order and drops duplicates: output must not depend on input order. */
void sk_strv_sort_uniq(struct sk_strv *s);
/* Returns a malloc'd string, or NULL on allocation failure. */
char *sk_strv_join(const struct sk_strv *s, const char *sep);
void sk_strv_free(struct sk_strv *s);

/* A growable byte buffer. */
struct sk_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

int sk_buf_append(struct sk_buf *b, const void *data, size_t len);
int sk_buf_printf(struct sk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sk_buf_free(struct sk_buf *b);

/* Reads a whole file; refuses files larger than max bytes. Adds a NUL after the data. */
int sk_read_file(const char *path, size_t max, uint8_t **data, size_t *len, struct sk_error *err);
/*
 * Writes a file so that readers see either the old or the new contents, never a
 * mix: temp file in the same directory, fsync, rename, fsync of the directory.
 */
int sk_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct sk_error *err);
/*
 * sk_write_file_atomic without the directory fsync: readers see the old or the
 * new contents, and the new contents are on disk, but the rename itself
 * survives a crash only after sk_fsync_dir() of the directory. For writing
 * several files into one directory and syncing it once.
 */
int sk_write_file_synced(const char *path, const void *data, size_t len, mode_t mode,
			 struct sk_error *err);
/*
 * Opens rel ("a/b/c": no "..", not absolute) beneath the directory dir (or the
 * open directory dirfd, named dir in messages) without following a symlink in
 * any component, and only if it is a regular file (a FIFO is refused, not
 * waited on). Returns the fd (O_RDONLY, O_CLOEXEC) or a negative errno. For
 * layouts someone else handed us and the fetch helper's staging directory.
 */
int sk_open_beneath(const char *dir, const char *rel, struct sk_error *err);
int sk_openat_beneath(int dirfd, const char *dir, const char *rel, struct sk_error *err);
/* Reads a file opened with sk_open_beneath: at most max bytes (NUL added after the data). */
int sk_read_beneath(const char *dir, const char *rel, size_t max, uint8_t **data, size_t *len,
		    struct sk_error *err);
/* Reads fd to its end, at most max bytes (NUL added); what names it in messages. */
int sk_read_fd(int fd, const char *what, size_t max, uint8_t **data, size_t *len,
	       struct sk_error *err);
/* fsync of a directory: the renames and creations in it so far survive a crash. */
int sk_fsync_dir(const char *dir, struct sk_error *err);
/* mkdir -p; existing directories are fine. */
int sk_mkdir_p(const char *path, mode_t mode, struct sk_error *err);
/* Removes a directory tree (used only for temporary directories we created). */
int sk_rm_rf(const char *path);
bool sk_is_dir(const char *path);
bool sk_is_file(const char *path);
/* Joins two path components into a malloc'd string. */
char *sk_path_join(const char *a, const char *b);

/*
 * Runs argv (argv[0] looked up in PATH) and waits for it. Its stdout and stderr
 * are captured into *out (may be NULL to discard). Returns the exit status
 * (>= 0), or a negative errno when it could not be run.
 */
int sk_run(char *const argv[], struct sk_buf *out, struct sk_error *err);

/* Trims trailing whitespace in place. */
void sk_rstrip(char *s);

/*
 * For "did you mean": the candidate (n of them, NULLs skipped) closest to word
 * by edit distance, ignoring case, or NULL when none is close enough (at most
 * 2 edits, or a third of the word for longer words).
 */
const char *sk_suggest(const char *word, const char *const *candidates, size_t n);

#ifdef __cplusplus
}
#endif
#endif
