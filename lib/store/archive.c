/* SPDX-License-Identifier: Apache-2.0 */
/* oci-archive: a tar of an OCI layout, written deterministically and read defensively. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedkit/store.h"

#define MAX_ENTRIES 4096

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_entry(struct archive *a, const char *dir, const char *name, bool is_dir,
		     struct sk_error *err)
{
	struct archive_entry *e = archive_entry_new();
	char *path = sk_path_join(dir, name), buf[65536];
	struct stat st;
	int ret = 0, fd = -1;

	if (!e || !path) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (lstat(path, &st) || (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		ret = sk_errf(err, -EINVAL, "%s: missing or not a %s", path,
			      is_dir ? "directory" : "regular file");
		goto out;
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, is_dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, is_dir ? 0755 : 0644);
	archive_entry_set_size(e, is_dir ? 0 : st.st_size);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "");
	archive_entry_set_gname(e, "");
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		ret =
		    sk_errf(err, -EIO, "archive: cannot add %s: %s", name, archive_error_string(a));
		goto out;
	}
	if (!is_dir) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = sk_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
			goto out;
		}
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				ret = sk_errf(err, -errno, "%s: read failed: %s", path,
					      strerror(errno));
				goto out;
			}
			if (n == 0)
				break;
			if (archive_write_data(a, buf, (size_t)n) != n) {
				ret = sk_errf(err, -EIO, "archive: writing %s: %s", name,
					      archive_error_string(a));
				goto out;
			}
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	archive_entry_free(e);
	return ret;
}

int sk_archive_write(const char *dir, const char *tar_path, struct sk_error *err)
{
	struct sk_strv blobs = {0};
	struct archive *a = NULL;
	char *bdir = sk_path_join(dir, "blobs/sha256"), *tmp = NULL;
	DIR *d = NULL;
	struct dirent *de;
	int ret = 0, fd = -1;

	if (!bdir)
		return sk_errf(err, -ENOMEM, "out of memory");
	d = opendir(bdir);
	if (!d) {
		ret = sk_errf(err, -errno, "%s: not an OCI layout (no blobs/sha256): %s", dir,
			      strerror(errno));
		goto out;
	}
	/* only blobs by name: temporary files and anything else stay out */
	/* readdir_r is deprecated; this DIR stream is never shared between threads */
	/* cppcheck-suppress readdirCalled */
	while ((de = readdir(d))) {
		char name[96];

		if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64)
			continue;
		snprintf(name, sizeof(name), "blobs/sha256/%s", de->d_name);
		if (sk_strv_push(&blobs, name)) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (blobs.n)
		qsort(blobs.v, blobs.n, sizeof(*blobs.v), cmp_names);
	if (asprintf(&tmp, "%s.tmp.XXXXXX", tar_path) < 0) {
		tmp = NULL;
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = sk_errf(err, -errno, "%s: cannot create: %s", tar_path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	a = archive_write_new();
	if (!a || archive_write_set_format_ustar(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK || archive_write_open_fd(a, fd)) {
		ret = sk_errf(err, -EIO, "archive: cannot start %s", tar_path);
		goto out;
	}
	ret = add_entry(a, dir, "blobs", true, err);
	if (!ret)
		ret = add_entry(a, dir, "blobs/sha256", true, err);
	for (size_t i = 0; !ret && i < blobs.n; i++)
		ret = add_entry(a, dir, blobs.v[i], false, err);
	if (!ret)
		ret = add_entry(a, dir, "index.json", false, err);
	if (!ret)
		ret = add_entry(a, dir, "oci-layout", false, err);
	if (ret)
		goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		ret = sk_errf(err, -EIO, "archive: finishing %s: %s", tar_path,
			      archive_error_string(a));
		goto out;
	}
	if (fchmod(fd, 0644) || fsync(fd) || rename(tmp, tar_path)) {
		ret = sk_errf(err, -errno, "%s: cannot write: %s", tar_path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
out:
	if (a)
		archive_write_free(a);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (d)
		closedir(d);
	free(bdir);
	sk_strv_free(&blobs);
	return ret;
}

static int write_all(int fd, const char *p, size_t len, struct sk_error *err)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			return sk_errf(
			    err, -e, "%s%s", strerror(e),
			    e == ENOSPC || e == EDQUOT
				? " (the archive is unpacked inside the store first: free "
				  "space there or pass --store DIR on a larger file system)"
				: "");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The only names an OCI layout archive needs; anything else is refused. */
static bool allowed_name(const char *n, bool is_dir)
{
	if (is_dir)
		return !strcmp(n, "blobs") || !strcmp(n, "blobs/sha256");
	if (!strcmp(n, "oci-layout") || !strcmp(n, "index.json"))
		return true;
	return !strncmp(n, "blobs/sha256/", 13) && strlen(n + 13) == 64 &&
	       strspn(n + 13, "0123456789abcdef") == 64;
}

/*
 * A directory entry below dfd that this extraction creates itself: mkdirat
 * fails if anything (a planted symlink included) is already there, and the
 * open refuses a symlink swapped in between.
 */
static int make_dir_at(int dfd, const char *name, const char *what, const char *shown,
		       struct sk_error *err)
{
	int fd;

	if (mkdirat(dfd, name, 0755))
		return sk_errf(err, -errno, "%s: cannot create %s in the extraction directory: %s",
			       what, shown, strerror(errno));
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_errf(err, -errno, "%s: cannot open %s in the extraction directory: %s",
			       what, shown, strerror(errno));
	return fd;
}

/* dest: an empty directory no one else may write into (a fresh mkdtemp). */
static int open_dest(const char *dest, const char *what, struct sk_error *err)
{
	struct dirent *de;
	struct stat st;
	int fd, scan;
	DIR *d;

	fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_errf(err, -errno, "%s: cannot open the extraction directory %s: %s", what,
			       dest, strerror(errno));
	if (fstat(fd, &st) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return sk_errf(err, -EPERM,
			       "%s: the extraction directory %s may be written by others; "
			       "extract into a fresh directory (mkdtemp) instead",
			       what, dest);
	}
	scan = dup(fd);
	d = scan >= 0 ? fdopendir(scan) : NULL;
	if (!d) {
		int e = errno;

		if (scan >= 0)
			close(scan);
		close(fd);
		return sk_errf(err, -e, "%s: cannot list %s: %s", what, dest, strerror(e));
	}
	/* readdir_r is deprecated; this DIR stream is never shared between threads */
	/* cppcheck-suppress readdirCalled */
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			break;
	closedir(d);
	if (de) {
		close(fd);
		return sk_errf(err, -ENOTEMPTY,
			       "%s: the extraction directory %s is not empty; extract into a "
			       "fresh directory",
			       what, dest);
	}
	return fd;
}

/*
 * The extraction itself. Every file is created with openat relative to a
 * directory fd this function made and holds (dest, dest/blobs/sha256), with
 * O_CREAT|O_EXCL|O_NOFOLLOW: no path is resolved again, so no symlink in any
 * component is followed, no existing file is opened, and a directory renamed
 * or replaced by a symlink mid-way changes nothing. (libarchive's
 * archive_write_disk is not used: with its SECURE_* flags it still checks
 * paths first and creates by path, and it would create whatever is named.)
 */
static int extract(int in, const char *what, const char *dest, uint64_t max_total,
		   struct sk_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct sk_strv seen = {0};
	uint64_t total = 0;
	unsigned entries = 0;
	int ret = 0, r, dfd = -1, bfd = -1, sfd = -1, fd = -1;

	if (!a) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	dfd = open_dest(dest, what, err);
	if (dfd < 0) {
		ret = dfd;
		goto out;
	}
	bfd = make_dir_at(dfd, "blobs", what, "blobs", err);
	if (bfd < 0) {
		ret = bfd;
		goto out;
	}
	sfd = make_dir_at(bfd, "sha256", what, "blobs/sha256", err);
	if (sfd < 0) {
		ret = sfd;
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	if (archive_read_open_fd(a, in, 65536) != ARCHIVE_OK) {
		ret = sk_errf(err, -EINVAL, "%s: not a readable tar archive: %s", what,
			      archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		mode_t type = archive_entry_filetype(e);
		int64_t size = archive_entry_size(e);
		char clean[256];
		size_t len;

		if (++entries > MAX_ENTRIES) {
			ret = sk_errf(err, -EFBIG, "%s: more than %d entries", what, MAX_ENTRIES);
			goto out;
		}
		if (!name || !*name || name[0] == '/' || strstr(name, "..")) {
			ret = sk_errf(err, -EINVAL, "%s: refusing entry '%s' (absolute or '..')",
				      what, name ? name : "");
			goto out;
		}
		while (!strncmp(name, "./", 2))
			name += 2;
		snprintf(clean, sizeof(clean), "%s", name);
		len = strlen(clean);
		while (len && clean[len - 1] == '/')
			clean[--len] = '\0';
		if (!len || !strcmp(clean, "."))
			continue;
		if (type != AE_IFREG && type != AE_IFDIR) {
			ret = sk_errf(err, -EINVAL,
				      "%s: refusing entry '%s': links, devices and other special "
				      "files are not allowed",
				      what, clean);
			goto out;
		}
		if (archive_entry_hardlink(e) || archive_entry_symlink(e)) {
			ret = sk_errf(err, -EINVAL, "%s: refusing link entry '%s'", what, clean);
			goto out;
		}
		if (!allowed_name(clean, type == AE_IFDIR)) {
			ret = sk_errf(err, -EINVAL,
				      "%s: unexpected entry '%s' (an oci-archive holds oci-layout, "
				      "index.json and blobs/sha256/<digest>)",
				      what, clean);
			goto out;
		}
		/* a second entry of a name would replace (or add to) what was checked */
		if (sk_strv_contains(&seen, clean)) {
			ret =
			    sk_errf(err, -EINVAL, "%s: refusing duplicate entry '%s'", what, clean);
			goto out;
		}
		if (sk_strv_push(&seen, clean)) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		if (type == AE_IFDIR)
			continue;
		if (size < 0 || (uint64_t)size > SK_BLOB_MAX ||
		    total + (uint64_t)size > max_total) {
			ret = sk_errf(err, -EFBIG, "%s: entry '%s' is too large (%lld bytes)", what,
				      clean, (long long)size);
			goto out;
		}
		total += (uint64_t)size;
		if (!strncmp(clean, "blobs/sha256/", 13))
			fd = openat(sfd, clean + 13,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		else
			fd = openat(dfd, clean,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			ret = sk_errf(err, -errno, "%s: cannot extract '%s' into %s: %s", what,
				      clean, dest, strerror(errno));
			goto out;
		}
		{
			int64_t written = 0;
			char buf[65536];
			la_ssize_t n;

			while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
				written += n;
				if (written > size) {
					ret =
					    sk_errf(err, -EBADMSG,
						    "%s: entry '%s' holds more than the %lld bytes "
						    "its header declares",
						    what, clean, (long long)size);
					goto out;
				}
				ret = write_all(fd, buf, (size_t)n, err);
				if (ret) {
					sk_err_prefix(err, "%s: extracting '%s' into %s: ", what,
						      clean, dest);
					goto out;
				}
			}
			if (n < 0 || written != size) {
				ret = sk_errf(err, -EIO, "%s: entry '%s' is truncated: %s", what,
					      clean, n < 0 ? archive_error_string(a) : "short");
				goto out;
			}
		}
		if (close(fd)) {
			int e = errno;

			fd = -1;
			ret = sk_errf(err, -e, "%s: extracting '%s' into %s: %s", what, clean, dest,
				      strerror(e));
			goto out;
		}
		fd = -1;
	}
	if (r != ARCHIVE_EOF) {
		ret =
		    sk_errf(err, -EINVAL, "%s: corrupt archive: %s", what, archive_error_string(a));
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	if (bfd >= 0)
		close(bfd);
	if (dfd >= 0)
		close(dfd);
	if (a)
		archive_read_free(a);
	sk_strv_free(&seen);
	return ret;
}

int sk_archive_extract_fd(int fd, const char *dest, uint64_t max_total, struct sk_error *err)
{
	return extract(fd, "the archive", dest, max_total, err);
}

int sk_archive_extract(const char *tar_path, const char *dest, uint64_t max_total,
		       struct sk_error *err)
{
	struct stat st;
	int fd, ret;

	/* O_NONBLOCK: a FIFO is refused below, not waited on at open */
	fd = open(tar_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return sk_errf(err, -errno, "%s: cannot open: %s", tar_path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return sk_errf(err, -EINVAL, "%s is not a regular file (an oci-archive is)",
			       tar_path);
	}
	ret = extract(fd, tar_path, dest, max_total, err);
	close(fd);
	return ret;
}
