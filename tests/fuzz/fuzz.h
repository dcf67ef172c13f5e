/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the libFuzzer harnesses. Each harness is one translation
 * unit that includes this header; the helpers are static so that a harness
 * carries only what it uses.
 *
 * A harness aborts (a crash libFuzzer reports and keeps as an input) when a
 * parser breaks a promise its header makes, not only on memory errors: e.g. a
 * failure without a message, or an accepted document that does not survive a
 * round trip.
 */
#ifndef SCHEDKIT_FUZZ_H
#define SCHEDKIT_FUZZ_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Stops the run with a message: the fuzzer records the input as a crash. */
#define FZ_ASSERT(cond, ...)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz assertion failed: %s (%s:%d): ", #cond, __FILE__,    \
				__LINE__);                                                         \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * Every failure must say what went wrong: a negative code and a message.
 * FUZZ_VERBOSE=1 prints each result, to see how far a replayed input gets.
 */
#define FZ_CHECK_ERROR(ret, err)                                                                   \
	do {                                                                                       \
		if (getenv("FUZZ_VERBOSE"))                                                        \
			fprintf(stderr, "%s:%d: %d %s\n", __FILE__, __LINE__, (int)(ret),          \
				(ret) < 0 ? (err)->msg : "");                                      \
		FZ_ASSERT((ret) >= 0 || ((err)->code < 0 && (err)->msg[0]),                        \
			  "failed with %d but left no error message", (int)(ret));                 \
	} while (0)

/* The input as a NUL-terminated string (the parsers of text take C strings). */
static inline char *fz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * A private scratch directory for harnesses that need files, made once per
 * process (on tmpfs when there is one: every iteration writes to it).
 */
static inline const char *fz_scratch_dir(void)
{
	static char dir[256];
	const char *base = getenv("FUZZ_TMPDIR");

	if (dir[0])
		return dir;
	if (!base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/skfuzz.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	return dir;
}

static inline void fz_remove_scratch(void)
{
	const char *dir = fz_scratch_dir();

	sk_rm_rf(dir);
}

/* Writes a whole file or aborts: a harness that cannot set up proves nothing. */
static inline void fz_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) {
		perror(path);
		abort();
	}
}

/* Reads a fixture file of the repository (cwd is the repository root) or aborts. */
static inline uint8_t *fz_read_fixture(const char *path, size_t *len)
{
	uint8_t *data = NULL;
	struct sk_error err = {0};

	if (sk_read_file(path, 1u << 20, &data, len, &err)) {
		fprintf(stderr, "fuzz setup: %s\n", err.msg);
		abort();
	}
	return data;
}

/*
 * Splits the input at the separator "\n==\n" into at most max parts; the last
 * part keeps the rest (it may be a binary blob holding the separator). Returns
 * the number of parts; parts point into data.
 */
struct fz_part {
	const uint8_t *p;
	size_t n;
};

static inline size_t fz_split(const uint8_t *data, size_t size, struct fz_part *parts, size_t max)
{
	static const char sep[] = "\n==\n";
	const size_t sl = sizeof(sep) - 1;
	size_t n = 0, start = 0;

	for (size_t i = 0; n + 1 < max && i + sl <= size; i++) {
		if (memcmp(data + i, sep, sl))
			continue;
		parts[n].p = data + start;
		parts[n].n = i - start;
		n++;
		start = i + sl;
		i = start - 1;
	}
	parts[n].p = data + start;
	parts[n].n = size - start;
	return n + 1;
}

#endif
