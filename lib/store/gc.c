/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the store holds, what is in use, and garbage collection that never
 * takes what a running supervisor, its fallback or a pull in progress needs.
 *
 * Leases live in DIR/leases: one file per lease ("lease-PID-RANDOM"), whose
 * first line names the owner ("owner skrun run (pid 12)") and whose other
 * lines are digests. The owner holds an exclusive flock on its file for the
 * lease's whole life, so a file nobody has locked belongs to a process that
 * is gone and counts for nothing (collection removes it). A leased digest
 * keeps its blob and everything the blob references.
 *
 * A flock on DIR/leases itself orders leasing against collecting: a lease is
 * created or grows under a shared flock, and a pull makes its blobs visible and records
 * them under one too; collection holds it exclusively from reading the leases
 * to the last unlink. So a digest is leased either before the collector reads
 * the leases (kept) or after it finished (the pull then finds the blob there
 * or fetches it again): a pull checks for a blob only after leasing it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedkit/store.h"
#include "schedkit/trust.h"

#define LEASES_DIR   "leases"
#define LEASE_PREFIX "lease-"
#define LEASE_MAX    (1u << 20)
#define HEX_LEN	     64
#define NESTED_MAX   3 /* index -> manifest -> config/layers */

struct sk_store_lease {
	int dirfd;  /* DIR/leases */
	int lockfd; /* DIR/leases again, for flock */
	int fd;	    /* the lease file, flocked exclusively while the lease lives */
	char name[64];
	char owner[256];
	struct sk_strv digests;
	bool held; /* lockfd is flocked shared until sk_store_lease_unhold */
};

static int flock_retry(int fd, int op)
{
	while (flock(fd, op)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * DIR/leases, created when missing, opened twice: one fd to work in, one to
 * flock (the directory itself is the lock, so locking writes nothing).
 */
static int open_leases_in(struct sk_store *s, bool create, int *dirfd, int *lockfd,
			  struct sk_error *err)
{
	char *path = sk_path_join(sk_store_dir(s), LEASES_DIR);
	int ret = 0;

	*dirfd = *lockfd = -1;
	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!create && !sk_is_dir(path)) {
		ret = -ENOENT; /* nobody ever leased anything here */
		goto out;
	}
	ret = sk_mkdir_p(path, 0700, err);
	if (ret)
		goto out;
	*dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dirfd >= 0)
		*lockfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*lockfd < 0) {
		ret = sk_errf(err, -errno, "store %s: cannot open %s: %s", sk_store_dir(s), path,
			      strerror(errno));
		if (*dirfd >= 0)
			close(*dirfd);
		*dirfd = -1;
	}
out:
	free(path);
	return ret;
}

static int open_leases(struct sk_store *s, int *dirfd, int *lockfd, struct sk_error *err)
{
	return open_leases_in(s, true, dirfd, lockfd, err);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The whole file again: owner line, then one digest per line. */
static int lease_rewrite(struct sk_store_lease *l)
{
	struct sk_buf b = {0};
	int ret;

	sk_buf_printf(&b, "owner %s\n", l->owner);
	for (size_t i = 0; i < l->digests.n; i++)
		sk_buf_printf(&b, "%s\n", l->digests.v[i]);
	if (!b.data)
		return -ENOMEM;
	ret = ftruncate(l->fd, 0) ? -errno : write_all(l->fd, (char *)b.data, b.len);
	sk_buf_free(&b);
	return ret;
}

int sk_store_lease_new(struct sk_store *s, const char *owner, struct sk_store_lease **out,
		       struct sk_error *err)
{
	struct sk_store_lease *l = calloc(1, sizeof(*l));
	int ret;

	*out = NULL;
	if (!l)
		return sk_errf(err, -ENOMEM, "out of memory");
	l->fd = -1;
	/* one line: a newline in the owner would read as a digest */
	snprintf(l->owner, sizeof(l->owner), "%s", owner ? owner : "?");
	for (char *c = l->owner; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	ret = open_leases(s, &l->dirfd, &l->lockfd, err);
	if (ret)
		goto fail;
	/* shared: a collector never sees the file before its owner locked it */
	ret = flock_retry(l->lockfd, LOCK_SH);
	if (ret) {
		sk_errf(err, ret, "store %s: cannot lock leases: %s", sk_store_dir(s),
			strerror(-ret));
		goto fail;
	}
	for (int i = 0; i < 16 && l->fd < 0; i++) {
		uint32_t r = 0;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)i;
		snprintf(l->name, sizeof(l->name), LEASE_PREFIX "%d-%08x", (int)getpid(), r);
		l->fd = openat(l->dirfd, l->name,
			       O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (l->fd < 0 && errno != EEXIST)
			break;
	}
	if (l->fd < 0) {
		ret = sk_errf(err, errno ? -errno : -EEXIST, "store %s: cannot create a lease: %s",
			      sk_store_dir(s), strerror(errno ? errno : EEXIST));
		flock_retry(l->lockfd, LOCK_UN);
		goto fail;
	}
	ret = flock_retry(l->fd, LOCK_EX | LOCK_NB);
	if (!ret)
		ret = lease_rewrite(l);
	flock_retry(l->lockfd, LOCK_UN);
	if (ret) {
		sk_errf(err, ret, "store %s: cannot write lease %s: %s", sk_store_dir(s), l->name,
			strerror(-ret));
		goto fail;
	}
	*out = l;
	return 0;
fail:
	sk_store_lease_release(l);
	return ret;
}

int sk_store_lease_add(struct sk_store_lease *l, const char *digest, struct sk_error *err)
{
	char line[SK_DIGEST_MAX + 1];
	int ret;

	if (!l || sk_strv_contains(&l->digests, digest))
		return 0;
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "lease: '%s' is not a sha256 digest", digest);
	if (sk_strv_push(&l->digests, digest))
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!l->held) {
		ret = flock_retry(l->lockfd, LOCK_SH);
		if (ret)
			return sk_errf(err, ret, "lease %s: cannot lock: %s", l->name,
				       strerror(-ret));
	}
	snprintf(line, sizeof(line), "%s\n", digest);
	ret = write_all(l->fd, line, strlen(line));
	if (!l->held)
		flock_retry(l->lockfd, LOCK_UN);
	return ret ? sk_errf(err, ret, "lease %s: cannot write: %s", l->name, strerror(-ret)) : 0;
}

int sk_store_lease_set(struct sk_store_lease *l, const char *const *digests, size_t n,
		       struct sk_error *err)
{
	struct sk_strv next = {0};
	int ret = 0;

	if (!l)
		return 0;
	for (size_t i = 0; i < n && !ret; i++) {
		if (!digests[i] || !*digests[i] || sk_strv_contains(&next, digests[i]))
			continue;
		if (!sk_digest_valid(digests[i]))
			ret =
			    sk_errf(err, -EINVAL, "lease: '%s' is not a sha256 digest", digests[i]);
		else if (sk_strv_push(&next, digests[i]))
			ret = sk_errf(err, -ENOMEM, "out of memory");
	}
	if (ret) {
		sk_strv_free(&next);
		return ret;
	}
	sk_strv_free(&l->digests);
	l->digests = next;
	if (!l->held) {
		ret = flock_retry(l->lockfd, LOCK_SH);
		if (ret)
			return sk_errf(err, ret, "lease %s: cannot lock: %s", l->name,
				       strerror(-ret));
	}
	ret = lease_rewrite(l);
	if (!l->held)
		flock_retry(l->lockfd, LOCK_UN);
	return ret ? sk_errf(err, ret, "lease %s: cannot write: %s", l->name, strerror(-ret)) : 0;
}

int sk_store_lease_hold(struct sk_store_lease *l, struct sk_error *err)
{
	int ret;

	if (!l || l->held)
		return 0;
	ret = flock_retry(l->lockfd, LOCK_SH);
	if (ret)
		return sk_errf(err, ret, "lease %s: cannot lock: %s", l->name, strerror(-ret));
	l->held = true;
	return 0;
}

void sk_store_lease_unhold(struct sk_store_lease *l)
{
	if (!l || !l->held)
		return;
	flock_retry(l->lockfd, LOCK_UN);
	l->held = false;
}

void sk_store_lease_release(struct sk_store_lease *l)
{
	if (!l)
		return;
	sk_store_lease_unhold(l);
	/* unlinked while still locked: a collector never mistakes it for a stale one */
	if (l->fd >= 0) {
		unlinkat(l->dirfd, l->name, 0);
		close(l->fd);
	}
	if (l->lockfd >= 0)
		close(l->lockfd);
	if (l->dirfd >= 0)
		close(l->dirfd);
	sk_strv_free(&l->digests);
	free(l);
}

/* ---- reading the store ---- */

struct lease_info {
	char *owner;
	struct sk_strv digests;
};

struct entry {
	char *name; /* NULL when untagged */
	char digest[SK_DIGEST_MAX];
	char media_type[256];
	bool unverified;
};

struct scan {
	struct sk_store *s;
	int blobs_fd;
	struct entry *entries;
	size_t nentries;
	struct lease_info *leases;
	size_t nleases;
	unsigned stale;
	struct sk_strv marked; /* hex names */
	uint64_t marked_bytes;
	bool oom; /* a mark was lost: collecting must stop */
};

static void scan_free(struct scan *c)
{
	for (size_t i = 0; i < c->nentries; i++)
		free(c->entries[i].name);
	free(c->entries);
	for (size_t i = 0; i < c->nleases; i++) {
		free(c->leases[i].owner);
		sk_strv_free(&c->leases[i].digests);
	}
	free(c->leases);
	sk_strv_free(&c->marked);
	if (c->blobs_fd >= 0)
		close(c->blobs_fd);
}

static int parse_lease(struct scan *c, const char *text)
{
	struct lease_info *nl = realloc(c->leases, (c->nleases + 1) * sizeof(*nl));
	struct lease_info *li;
	const char *line = text;

	if (!nl)
		return -ENOMEM;
	c->leases = nl;
	li = &nl[c->nleases++];
	memset(li, 0, sizeof(*li));
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[300];

		snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1),
			 line);
		if (!strncmp(buf, "owner ", 6) && !li->owner)
			li->owner = strdup(buf + 6);
		else if (sk_digest_valid(buf) && sk_strv_push(&li->digests, buf))
			return -ENOMEM;
		line += len + (end ? 1 : 0);
	}
	if (!li->owner)
		li->owner = strdup("(unnamed)");
	return li->owner ? 0 : -ENOMEM;
}

/*
 * The live leases. With reap (the leases lock held exclusively), the files of
 * owners that are gone are removed; without, they are only skipped.
 */
static int read_leases(struct scan *c, int dirfd, bool reap, struct sk_error *err)
{
	int dup_fd = dup(dirfd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	int ret = 0;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return sk_errf(err, -errno, "store %s: cannot list leases: %s", sk_store_dir(c->s),
			       strerror(errno));
	}
	/* readdir_r is deprecated; this DIR stream is never shared between threads */
	/* cppcheck-suppress readdirCalled */
	while (!ret && (e = readdir(d))) {
		struct stat st, again;
		uint8_t *data = NULL;
		size_t len;
		int fd;

		if (strncmp(e->d_name, LEASE_PREFIX, strlen(LEASE_PREFIX)))
			continue;
		fd = openat(dirfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		if (!flock(fd, LOCK_SH | LOCK_NB)) {
			/* nobody holds it: its owner is gone */
			if (reap && !fstatat(dirfd, e->d_name, &again, AT_SYMLINK_NOFOLLOW) &&
			    again.st_ino == st.st_ino && again.st_dev == st.st_dev &&
			    !unlinkat(dirfd, e->d_name, 0))
				c->stale++;
			close(fd);
			continue;
		}
		if (!sk_read_fd(fd, e->d_name, LEASE_MAX, &data, &len, NULL))
			ret = parse_lease(c, (char *)data);
		free(data);
		close(fd);
		if (ret)
			ret = sk_errf(err, ret, "out of memory");
	}
	closedir(d);
	return ret;
}

static const char *entry_name(struct json_object *e)
{
	struct json_object *ann;

	return json_object_object_get_ex(e, "annotations", &ann) ? sk_json_str(ann, SK_ANN_REF_NAME)
								 : NULL;
}

static int read_entries(struct scan *c, struct sk_error *err)
{
	struct json_object *idx = NULL, *list;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	ret = sk_read_beneath(sk_store_dir(c->s), "index.json", SK_MANIFEST_MAX, &data, &len, err);
	if (!ret)
		ret = sk_json_parse(data, len, "index.json", &idx, err);
	free(data);
	if (ret)
		return sk_err_prefix(err, "store %s: ", sk_store_dir(c->s));
	if (!json_object_object_get_ex(idx, "manifests", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		json_object_put(idx);
		return 0;
	}
	c->entries = calloc(json_object_array_length(list) + 1, sizeof(*c->entries));
	if (!c->entries) {
		json_object_put(idx);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *ann;
		struct entry *en = &c->entries[c->nentries];
		const char *dg = sk_json_str(e, "digest"), *mt = sk_json_str(e, "mediaType");
		const char *name = entry_name(e), *v;

		if (!dg || !sk_digest_valid(dg))
			continue; /* store verify reports it; nothing here can be kept by it */
		snprintf(en->digest, sizeof(en->digest), "%s", dg);
		snprintf(en->media_type, sizeof(en->media_type), "%s", mt ? mt : "");
		if (name && !(en->name = strdup(name))) {
			json_object_put(idx);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
		v = json_object_object_get_ex(e, "annotations", &ann)
			? sk_json_str(ann, SK_ANN_VERIFIED)
			: NULL;
		en->unverified = v && !strcmp(v, "false");
		c->nentries++;
	}
	json_object_put(idx);
	return 0;
}

/* blobs/sha256 open; entries and leases are read separately. */
static int scan_open(struct scan *c, struct sk_store *s, struct sk_error *err)
{
	char *path = sk_path_join(sk_store_dir(s), "blobs/sha256");

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->blobs_fd = -1;
	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	c->blobs_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (c->blobs_fd < 0)
		return sk_errf(err, -errno, "store %s: cannot open blobs/sha256: %s",
			       sk_store_dir(s), strerror(errno));
	return 0;
}

/*
 * "sha256-<64 hex>.sig" (legacy signatures) or "sha256-<64 hex>" (Sigstore
 * bundles, the referrers tag): the signatures kept for the digest it names.
 */
static bool sig_subject(const char *name, char out[SK_DIGEST_MAX])
{
	size_t n = name ? strlen(name) : 0;

	if ((n != 7 + HEX_LEN + 4 && n != 7 + HEX_LEN) || strncmp(name, "sha256-", 7) ||
	    (n == 7 + HEX_LEN + 4 && strcmp(name + 7 + HEX_LEN, ".sig")))
		return false;
	snprintf(out, SK_DIGEST_MAX, "sha256:%.*s", HEX_LEN, name + 7);
	return sk_digest_valid(out);
}

static void mark(struct scan *c, const char *digest, int depth);

static void mark_descriptor(struct scan *c, struct json_object *d, int depth)
{
	const char *dg = json_object_is_type(d, json_type_object) ? sk_json_str(d, "digest") : NULL;

	if (dg)
		mark(c, dg, depth);
}

/* What a manifest or index blob references: its manifests, config and layers. */
static void mark_children(struct scan *c, const char *digest, int depth)
{
	const char *hex = digest + 7;
	struct json_object *o = NULL, *v;
	uint8_t *data = NULL;
	struct stat st;
	size_t len;
	int fd;

	if (depth >= NESTED_MAX || fstatat(c->blobs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISREG(st.st_mode) || st.st_size > (off_t)SK_MANIFEST_MAX || st.st_size < 2)
		return;
	fd = openat(c->blobs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	/* only JSON can reference anything; an ELF object is skipped at its first byte */
	if (sk_read_fd(fd, hex, SK_MANIFEST_MAX, &data, &len, NULL) || !len || data[0] != '{' ||
	    sk_json_parse(data, len, hex, &o, NULL))
		goto out;
	if (json_object_object_get_ex(o, "manifests", &v) &&
	    json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			mark_descriptor(c, json_object_array_get_idx(v, i), depth + 1);
	if (json_object_object_get_ex(o, "config", &v))
		mark_descriptor(c, v, depth + 1);
	if (json_object_object_get_ex(o, "layers", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			mark_descriptor(c, json_object_array_get_idx(v, i), depth + 1);
out:
	json_object_put(o);
	free(data);
	close(fd);
}

/* Marks the blob of digest and (for manifests and indexes) what it references. */
static void mark(struct scan *c, const char *digest, int depth)
{
	struct stat st;

	if (!sk_digest_valid(digest) || sk_strv_contains(&c->marked, digest + 7))
		return;
	if (fstatat(c->blobs_fd, digest + 7, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
		return; /* not (or not yet) there */
	if (sk_strv_push(&c->marked, digest + 7)) {
		c->oom = true;
		return;
	}
	c->marked_bytes += (uint64_t)st.st_size;
	mark_children(c, digest, depth);
}

static bool leased(const struct scan *c, const char *digest)
{
	for (size_t i = 0; i < c->nleases; i++)
		if (sk_strv_contains(&c->leases[i].digests, digest))
			return true;
	return false;
}

/* ---- listing ---- */

/* The bytes of the blobs digest reaches (itself included). */
static uint64_t reach_size(struct scan *c, const char *digest)
{
	struct sk_strv saved = c->marked;
	uint64_t bytes = c->marked_bytes, size;

	memset(&c->marked, 0, sizeof(c->marked));
	c->marked_bytes = 0;
	mark(c, digest, 0);
	size = c->marked_bytes;
	sk_strv_free(&c->marked);
	c->marked = saved;
	c->marked_bytes = bytes;
	return size;
}

static int add_listed(struct sk_store_entry **out, size_t *n, struct scan *c, const char *name,
		      const char *digest, const char *media_type, bool unverified)
{
	struct sk_store_entry *ne = realloc(*out, (*n + 1) * sizeof(*ne));
	struct sk_store_entry *e;
	char tag[SK_DIGEST_MAX + 8];
	struct stat st;

	if (!ne)
		return -ENOMEM;
	*out = ne;
	e = &ne[*n];
	memset(e, 0, sizeof(*e));
	(*n)++;
	if (name && !(e->name = strdup(name)))
		return -ENOMEM;
	snprintf(e->digest, sizeof(e->digest), "%s", digest);
	snprintf(e->media_type, sizeof(e->media_type), "%s", media_type ? media_type : "");
	e->unverified = unverified;
	e->present = !fstatat(c->blobs_fd, digest + 7, &st, AT_SYMLINK_NOFOLLOW);
	e->size = reach_size(c, digest);
	snprintf(tag, sizeof(tag), "sha256-%s.sig", digest + 7);
	for (size_t i = 0; i < c->nentries; i++)
		if (c->entries[i].name && (!strcmp(c->entries[i].name, tag) ||
					   (strlen(c->entries[i].name) == strlen(tag) - 4 &&
					    !strncmp(c->entries[i].name, tag, strlen(tag) - 4))))
			e->signatures = true;
	for (size_t i = 0; i < c->nleases; i++)
		if (sk_strv_contains(&c->leases[i].digests, digest) &&
		    !sk_strv_contains(&e->in_use, c->leases[i].owner) &&
		    sk_strv_push(&e->in_use, c->leases[i].owner))
			return -ENOMEM;
	return 0;
}

/*
 * Leased digests that no entry names and no other leased or recorded blob
 * references: what a supervisor runs after its name was removed, or the top
 * of a pull that has not recorded yet.
 */
static int add_leased_tops(struct sk_store_entry **out, size_t *n, struct scan *c)
{
	int ret = 0;

	sk_strv_free(&c->marked);
	for (size_t i = 0; i < c->nentries; i++)
		mark(c, c->entries[i].digest, 0);
	for (size_t i = 0; i < c->nleases; i++)
		for (size_t j = 0; j < c->leases[i].digests.n; j++)
			mark_children(c, c->leases[i].digests.v[j], 0);
	for (size_t i = 0; !ret && i < c->nleases; i++) {
		for (size_t j = 0; !ret && j < c->leases[i].digests.n; j++) {
			const char *dg = c->leases[i].digests.v[j];
			bool listed = false;
			struct stat st;

			for (size_t k = 0; k < *n; k++)
				listed = listed || !strcmp((*out)[k].digest, dg);
			if (listed || sk_strv_contains(&c->marked, dg + 7) ||
			    fstatat(c->blobs_fd, dg + 7, &st, AT_SYMLINK_NOFOLLOW))
				continue;
			ret = add_listed(out, n, c, NULL, dg, NULL, false);
		}
	}
	return ret;
}

/* Entries and live leases, read under the leases lock (shared, or exclusive to reap). */
static int scan_all(struct scan *c, struct sk_store *s, int *lockfd, bool reap,
		    struct sk_error *err)
{
	int dirfd = -1, ret;

	*lockfd = -1;
	ret = scan_open(c, s, err);
	if (!ret) {
		/* a listing creates nothing: a store never leased has no leases */
		ret = open_leases_in(s, reap, &dirfd, lockfd, err);
		if (ret == -ENOENT && !reap)
			return read_entries(c, err);
	}
	if (!ret) {
		ret = flock_retry(*lockfd, reap ? LOCK_EX : LOCK_SH);
		if (ret)
			sk_errf(err, ret, "store %s: cannot lock leases: %s", sk_store_dir(s),
				strerror(-ret));
	}
	/* leases first, then index.json: a pull records before it lets its lease go */
	if (!ret)
		ret = read_leases(c, dirfd, reap, err);
	if (!ret)
		ret = read_entries(c, err);
	if (dirfd >= 0)
		close(dirfd);
	return ret;
}

int sk_store_list(struct sk_store *s, struct sk_store_entry **out, size_t *n, struct sk_error *err)
{
	struct scan c;
	int lockfd, ret;

	*out = NULL;
	*n = 0;
	ret = scan_all(&c, s, &lockfd, false, err);
	if (lockfd >= 0)
		close(lockfd); /* a listing is a snapshot; it need not hold anyone up */
	for (size_t i = 0; !ret && i < c.nentries; i++) {
		char subject[SK_DIGEST_MAX];
		const struct entry *en = &c.entries[i];

		if (sig_subject(en->name, subject))
			continue; /* shown as the signatures of their subject */
		if (add_listed(out, n, &c, en->name, en->digest, en->media_type, en->unverified))
			ret = sk_errf(err, -ENOMEM, "out of memory");
	}
	if (!ret && add_leased_tops(out, n, &c))
		ret = sk_errf(err, -ENOMEM, "out of memory");
	if (!ret && c.oom)
		ret = sk_errf(err, -ENOMEM, "out of memory");
	scan_free(&c);
	if (ret) {
		sk_store_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return ret;
}

void sk_store_list_free(struct sk_store_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].name);
		sk_strv_free(&e[i].in_use);
	}
	free(e);
}

/* ---- removing names ---- */

int sk_store_remove(struct sk_store *s, const char *const *names, size_t n, size_t *removed,
		    struct sk_error *err)
{
	return sk_layout_remove_manifests(sk_store_layout(s), names, n, removed, err);
}

/* ---- collecting ---- */

static int sweep(struct scan *c, struct sk_store_gc_report *r, struct sk_error *err)
{
	int dup_fd = dup(c->blobs_fd), ret = 0;
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return sk_errf(err, -errno, "store %s: cannot list blobs: %s", sk_store_dir(c->s),
			       strerror(errno));
	}
	/* readdir_r is deprecated; this DIR stream is never shared between threads */
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(d))) {
		struct stat st;

		if (strlen(e->d_name) != HEX_LEN ||
		    strspn(e->d_name, "0123456789abcdef") != HEX_LEN ||
		    fstatat(c->blobs_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (sk_strv_contains(&c->marked, e->d_name)) {
			r->kept++;
			continue;
		}
		if (unlinkat(c->blobs_fd, e->d_name, 0)) {
			ret = sk_errf(err, -errno, "store %s: cannot remove blobs/sha256/%s: %s",
				      sk_store_dir(c->s), e->d_name, strerror(errno));
			break;
		}
		r->removed++;
		r->freed += (uint64_t)st.st_size;
	}
	closedir(d);
	if (!ret && r->removed)
		fsync(c->blobs_fd);
	return ret;
}

int sk_store_gc(struct sk_store *s, struct sk_store_gc_report *r, struct sk_error *err)
{
	struct sk_strv orphans = {0};
	struct scan c;
	size_t before;
	int lockfd, ret;

	memset(r, 0, sizeof(*r));
	/* exclusive until the last unlink: nobody leases or records meanwhile */
	ret = scan_all(&c, s, &lockfd, true, err);
	if (ret)
		goto out;
	r->stale_leases = c.stale;
	for (size_t i = 0; i < c.nentries; i++) {
		char subject[SK_DIGEST_MAX];

		if (!sig_subject(c.entries[i].name, subject))
			mark(&c, c.entries[i].digest, 0);
	}
	before = c.marked.n;
	for (size_t i = 0; i < c.nleases; i++) {
		for (size_t j = 0; j < c.leases[i].digests.n; j++) {
			char line[600];

			mark(&c, c.leases[i].digests.v[j], 0);
			snprintf(line, sizeof(line), "%s: %s", c.leases[i].owner,
				 c.leases[i].digests.v[j]);
			if (sk_strv_push(&r->holders, line))
				c.oom = true;
		}
	}
	r->leased = (unsigned)(c.marked.n - before);
	/* signatures stay with their subject; alone they leave index.json */
	for (size_t i = 0; i < c.nentries; i++) {
		char subject[SK_DIGEST_MAX];

		if (!sig_subject(c.entries[i].name, subject))
			continue;
		if (sk_strv_contains(&c.marked, subject + 7) || leased(&c, subject))
			mark(&c, c.entries[i].digest, 0);
		else if (sk_strv_push(&orphans, c.entries[i].name))
			c.oom = true;
	}
	if (c.oom) {
		/* a mark that did not happen must not turn into an unlink */
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (orphans.n) {
		size_t n = 0;

		ret = sk_layout_remove_manifests(sk_store_layout(s), (const char *const *)orphans.v,
						 orphans.n, &n, err);
		r->sig_entries = (unsigned)n;
		if (ret)
			goto out;
	}
	ret = sweep(&c, r, err);
out:
	if (lockfd >= 0) {
		flock_retry(lockfd, LOCK_UN);
		close(lockfd);
	}
	scan_free(&c);
	sk_strv_free(&orphans);
	return ret;
}

void sk_store_gc_report_free(struct sk_store_gc_report *r)
{
	sk_strv_free(&r->holders);
}
