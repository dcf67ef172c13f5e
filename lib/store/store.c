/* SPDX-License-Identifier: Apache-2.0 */
/* The local content store: an OCI layout whose blobs only ever appear complete and verified. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schedkit/ref.h"
#include "schedkit/store.h"

#define TMP_DIR	       ".tmp"
#define STALE_TMP_SECS (24L * 3600)
#define CREATE_TRIES   8

/*
 * A committed blob's file is fsynced before its rename, but the rename is made
 * durable only by one fsync of blobs/sha256 before index.json is rewritten
 * (the layout does that, told by sk_layout_blobs_renamed): a crash leaves no
 * blob or a complete one, and index.json never names a blob whose rename could
 * be lost.
 */
struct sk_store {
	char *dir;
	char *tmp;
	struct sk_layout *layout;
};

struct sk_store_writer {
	struct sk_store *s;
	int fd;
	char *path;
	struct sk_hasher *h;
	int64_t len;
	char sealed[SK_DIGEST_MAX]; /* set by sk_store_writer_seal: checked and synced */
};

/*
 * A writer holds an exclusive flock on its temporary file for as long as it
 * lives, so a temporary file nobody has locked belongs to a writer that was
 * killed: it is invisible but takes space (on a full file system it would
 * block every later pull), so it goes at once. Extraction directories of
 * killed archive pulls carry no lock and go once they are a day old.
 */
static void sweep_tmp(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	time_t now = time(NULL);

	if (!d)
		return;
	/* readdir_r is deprecated; this DIR stream is never shared between threads */
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(d))) {
		struct stat st, again;
		int fd;

		/*
		 * A fetch helper's staging directory: its session locks it before it
		 * gets this name, so one we can lock belongs to a skrun that is gone.
		 */
		if (!strncmp(e->d_name, "fetch-", 6)) {
			int dfd = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (dfd >= 0 && !flock(dfd, LOCK_EX | LOCK_NB)) {
				char *path = sk_path_join(tmp, e->d_name);

				if (path)
					sk_rm_rf(path);
				free(path);
			}
			if (dfd >= 0)
				close(dfd);
			continue;
		}
		if (!strncmp(e->d_name, "archive-", 8) || !strncmp(e->d_name, ".fetchnew-", 10)) {
			char *path = sk_path_join(tmp, e->d_name);

			if (path && !lstat(path, &st) && S_ISDIR(st.st_mode) &&
			    now - st.st_mtime > STALE_TMP_SECS)
				sk_rm_rf(path);
			free(path);
			continue;
		}
		if (strncmp(e->d_name, "blob-", 5))
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* still the file we locked: never unlink a name a new writer just took */
		if (!flock(fd, LOCK_EX | LOCK_NB) && !fstat(fd, &st) && S_ISREG(st.st_mode) &&
		    !fstatat(dirfd(d), e->d_name, &again, AT_SYMLINK_NOFOLLOW) &&
		    st.st_ino == again.st_ino && st.st_dev == again.st_dev)
			unlinkat(dirfd(d), e->d_name, 0);
		close(fd);
	}
	closedir(d);
}

/* What to do about a failed write into the store, for the message. */
static const char *write_hint(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return "; free space there or pass --store DIR on a larger file system";
	case EROFS:
		return "; the store is on a read-only file system: remount it read-write or pass "
		       "--store DIR";
	case EACCES:
	case EPERM:
		return "; run as a user who may write there or pass --store DIR";
	default:
		return "";
	}
}

int sk_store_open(const char *dir, struct sk_store **out, struct sk_error *err)
{
	struct sk_store *s;
	int ret;

	*out = NULL;
	if (!dir)
		dir = SK_STORE_DEFAULT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return sk_errf(err, -ENOMEM, "out of memory");
	s->dir = strdup(dir);
	s->tmp = sk_path_join(dir, TMP_DIR);
	if (!s->dir || !s->tmp) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	ret = sk_layout_create(dir, &s->layout, err);
	if (ret) {
		sk_err_prefix(err, "opening the store (pass --store DIR to use another): ");
		goto fail;
	}
	ret = sk_mkdir_p(s->tmp, 0700, err);
	if (ret)
		goto fail;
	sweep_tmp(s->tmp);
	*out = s;
	return 0;
fail:
	sk_store_close(s);
	return ret;
}

void sk_store_close(struct sk_store *s)
{
	if (!s)
		return;
	sk_layout_close(s->layout);
	free(s->dir);
	free(s->tmp);
	free(s);
}

struct sk_layout *sk_store_layout(struct sk_store *s)
{
	return s->layout;
}

const char *sk_store_dir(const struct sk_store *s)
{
	return s->dir;
}

bool sk_store_has_blob(struct sk_store *s, const char *digest, int64_t size)
{
	char *path = sk_layout_blob_path(s->layout, digest);
	struct stat st;
	bool ok;

	ok = path && !stat(path, &st) && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
	free(path);
	return ok;
}

/*
 * Creates and locks the temporary file. A sweeper in another process may take
 * the lock between mkostemp and flock and unlink the name: then the file we
 * hold is no longer the one the name points to, and we start over.
 */
static int create_locked_tmp(struct sk_store_writer *w, struct sk_error *err)
{
	for (int i = 0; i < CREATE_TRIES; i++) {
		struct stat st, again;

		snprintf(w->path + strlen(w->path) - 6, 7, "XXXXXX");
		w->fd = mkostemp(w->path, O_CLOEXEC);
		if (w->fd < 0) {
			int e = errno;

			return sk_errf(err, -e,
				       "store %s: cannot create a temporary file in %s: %s%s",
				       w->s->dir, w->s->tmp, strerror(e), write_hint(e));
		}
		if (!flock(w->fd, LOCK_EX | LOCK_NB) && !fstat(w->fd, &st) &&
		    !stat(w->path, &again) && st.st_ino == again.st_ino &&
		    st.st_dev == again.st_dev)
			return 0;
		close(w->fd);
		w->fd = -1;
	}
	return sk_errf(err, -EAGAIN, "store %s: could not create a temporary file in %s", w->s->dir,
		       w->s->tmp);
}

int sk_store_writer_new(struct sk_store *s, struct sk_store_writer **out, struct sk_error *err)
{
	struct sk_store_writer *w = calloc(1, sizeof(*w));
	int ret;

	*out = NULL;
	if (!w)
		return sk_errf(err, -ENOMEM, "out of memory");
	w->s = s;
	w->fd = -1;
	w->h = sk_hasher_new();
	if (!w->h || asprintf(&w->path, "%s/blob-XXXXXX", s->tmp) < 0) {
		w->path = NULL;
		sk_store_writer_abort(w);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	ret = create_locked_tmp(w, err);
	if (ret) {
		free(w->path);
		w->path = NULL;
		sk_store_writer_abort(w);
		return ret;
	}
	*out = w;
	return 0;
}

int sk_store_writer_write(struct sk_store_writer *w, const void *data, size_t len,
			  struct sk_error *err)
{
	const uint8_t *p = data;

	if ((uint64_t)w->len + len > SK_BLOB_MAX)
		return sk_errf(err, -EFBIG, "blob larger than the %u bytes allowed", SK_BLOB_MAX);
	sk_hasher_update(w->h, data, len);
	w->len += (int64_t)len;
	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;

			return sk_errf(err, -e, "store %s: writing a blob into %s failed: %s%s",
				       w->s->dir, w->s->tmp, strerror(e), write_hint(e));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sk_store_writer_reset(struct sk_store_writer *w, struct sk_error *err)
{
	struct sk_hasher *h = sk_hasher_new();

	if (!h)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (ftruncate(w->fd, 0) || lseek(w->fd, 0, SEEK_SET) < 0) {
		sk_hasher_free(h);
		return sk_errf(err, -errno, "%s: cannot truncate: %s", w->path, strerror(errno));
	}
	sk_hasher_free(w->h);
	w->h = h;
	w->len = 0;
	return 0;
}

void sk_store_writer_abort(struct sk_store_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->path)
		unlink(w->path);
	if (w->h)
		sk_hasher_free(w->h);
	free(w->path);
	free(w);
}

int sk_store_writer_seal(struct sk_store_writer *w, const char *digest, int64_t size,
			 struct sk_error *err)
{
	char got[SK_DIGEST_MAX];

	if (w->sealed[0])
		return strcmp(w->sealed, digest)
			   ? sk_errf(err, -EINVAL, "blob %s: sealed as %s", digest, w->sealed)
			   : 0;
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "'%s' is not a sha256 digest", digest);
	sk_hasher_final(w->h, got);
	w->h = NULL;
	if (size >= 0 && w->len != size)
		return sk_errf(err, -EBADMSG, "blob %s: %lld bytes arrived, %lld expected", digest,
			       (long long)w->len, (long long)size);
	if (strcmp(got, digest))
		return sk_errf(err, -EBADMSG, "blob %s: the content hashes to %s", digest, got);
	if (fchmod(w->fd, 0644) || fsync(w->fd)) {
		int e = errno;

		return sk_errf(err, -e, "store %s: cannot sync %s: %s%s", w->s->dir, w->path,
			       strerror(e), write_hint(e));
	}
	snprintf(w->sealed, sizeof(w->sealed), "%s", digest);
	return 0;
}

int sk_store_writer_commit(struct sk_store_writer *w, const char *digest, int64_t size,
			   struct sk_error *err)
{
	char *dst = NULL;
	int ret;

	ret = sk_store_writer_seal(w, digest, size, err);
	if (ret)
		goto out;
	dst = sk_layout_blob_path(w->s->layout, digest);
	if (!dst) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (rename(w->path, dst)) {
		int e = errno;

		ret = sk_errf(err, -e, "store %s: cannot move a blob into place at %s: %s%s",
			      w->s->dir, dst, strerror(e), write_hint(e));
		goto out;
	}
	free(w->path);
	w->path = NULL;
	/* the rename becomes durable with the directory sync before index.json changes */
	sk_layout_blobs_renamed(w->s->layout);
	ret = 0;
out:
	free(dst);
	sk_store_writer_abort(w);
	return ret;
}

static int sink_write(void *ctx, const void *data, size_t len, struct sk_error *err)
{
	return sk_store_writer_write(ctx, data, len, err);
}

static int sink_reset(void *ctx, struct sk_error *err)
{
	return sk_store_writer_reset(ctx, err);
}

void sk_store_writer_sink(struct sk_store_writer *w, struct sk_sink *sink)
{
	sink->write = sink_write;
	sink->reset = sink_reset;
	sink->ctx = w;
}

int sk_store_put(struct sk_store *s, const void *data, size_t len, const char *digest,
		 struct sk_error *err)
{
	struct sk_store_writer *w;
	int ret;

	if (sk_store_has_blob(s, digest, (int64_t)len)) {
		char got[SK_DIGEST_MAX];

		/* content-addressed: an existing file was verified when written */
		sk_digest_buf(data, len, got);
		if (strcmp(got, digest))
			return sk_errf(err, -EBADMSG, "blob %s: the content hashes to %s", digest,
				       got);
		return 0;
	}
	ret = sk_store_writer_new(s, &w, err);
	if (ret)
		return ret;
	ret = sk_store_writer_write(w, data, len, err);
	if (ret) {
		sk_store_writer_abort(w);
		return ret;
	}
	return sk_store_writer_commit(w, digest, (int64_t)len, err);
}

static struct json_object *annotations_json(const char *const *kv, struct sk_error *err)
{
	struct json_object *ann = json_object_new_object();

	if (!ann) {
		sk_errf(err, -ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; kv && kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		char *key;

		if (!eq || eq == kv[i]) {
			sk_errf(err, -EINVAL, "annotation \"%s\" is not KEY=VALUE", kv[i]);
			json_object_put(ann);
			return NULL;
		}
		key = strndup(kv[i], (size_t)(eq - kv[i]));
		if (!key || json_object_object_add(ann, key, json_object_new_string(eq + 1))) {
			free(key);
			json_object_put(ann);
			sk_errf(err, -ENOMEM, "out of memory");
			return NULL;
		}
		free(key);
	}
	return ann;
}

/* The layout records the entry; the store adds its annotations and the error context. */
static int record_entry(struct sk_store *s, const char *ref_name, const struct sk_descriptor *d,
			const char *const *annotations, struct sk_error *err)
{
	struct json_object *ann = NULL;
	int ret;

	if (ref_name && !*ref_name)
		ref_name = NULL;
	if (annotations && annotations[0]) {
		ann = annotations_json(annotations, err);
		if (!ann)
			return err ? err->code : -EINVAL;
	}
	ret = sk_layout_add_manifest_annotated(s->layout, d, ref_name, ann, err);
	if (ret)
		sk_err_prefix(
		    err, "recording %s in the store %s: ", ref_name ? ref_name : d->digest, s->dir);
	return ret;
}

int sk_store_record(struct sk_store *s, const char *ref_name, const struct sk_descriptor *d,
		    struct sk_error *err)
{
	return record_entry(s, ref_name, d, NULL, err);
}

int sk_store_record_annotated(struct sk_store *s, const char *ref_name,
			      const struct sk_descriptor *d, const char *const *annotations,
			      struct sk_error *err)
{
	return record_entry(s, ref_name, d, annotations, err);
}
