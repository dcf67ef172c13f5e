/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading files inside directories that someone else may control: an OCI
 * layout handed to us, or the staging directory the unprivileged fetch helper
 * writes. No component is followed through a symlink, only regular files are
 * read (a FIFO would hang us, a device would read forever), and sizes are
 * bounded before anything is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedkit/common.h"

#define COMPONENT_MAX 255

static int open_component(int at, const char *name, bool last, const char *dir, const char *rel,
			  struct sk_error *err)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (last ? O_NONBLOCK : O_DIRECTORY);
	int fd = openat(at, name, flags);

	if (fd >= 0)
		return fd;
	if (errno == ELOOP || (errno == ENOTDIR && !last))
		return sk_errf(err, -ELOOP,
			       "%s/%s: a path component is a symbolic link or not a directory; "
			       "refusing to follow it (copy the layout without links)",
			       dir, rel);
	return sk_errf(err, -errno, "%s/%s: cannot open: %s", dir, rel, strerror(errno));
}

int sk_openat_beneath(int dirfd, const char *dir, const char *rel, struct sk_error *err)
{
	char name[COMPONENT_MAX + 1];
	const char *p = rel;
	int at = dirfd, fd = -1;

	if (!*rel || rel[0] == '/')
		return sk_errf(err, -EINVAL, "%s: \"%s\" is not a relative path", dir, rel);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		bool last = !slash;

		if (!n || n > COMPONENT_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			fd = sk_errf(err, -EINVAL, "%s: \"%s\" is not a plain relative path", dir,
				     rel);
			break;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		fd = open_component(at, name, last, dir, rel, err);
		if (at != dirfd)
			close(at);
		at = -1;
		if (fd < 0 || last)
			break;
		at = fd;
		p = slash + 1;
	}
	if (at >= 0 && at != dirfd)
		close(at);
	if (fd >= 0) {
		struct stat st;

		if (fstat(fd, &st)) {
			int e = errno;

			close(fd);
			return sk_errf(err, -e, "%s/%s: cannot stat: %s", dir, rel, strerror(e));
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			return sk_errf(err, -EINVAL,
				       "%s/%s is not a regular file; refusing to read it", dir,
				       rel);
		}
	}
	return fd;
}

int sk_open_beneath(const char *dir, const char *rel, struct sk_error *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0)
		return sk_errf(err, -errno, "%s: cannot open the directory: %s", dir,
			       strerror(errno));
	fd = sk_openat_beneath(dfd, dir, rel, err);
	close(dfd);
	return fd;
}

int sk_read_fd(int fd, const char *what, size_t max, uint8_t **data, size_t *len,
	       struct sk_error *err)
{
	struct sk_buf b = {0};
	uint8_t chunk[16384];
	struct stat st;
	int ret = 0;

	*data = NULL;
	*len = 0;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
		return sk_errf(err, -EFBIG, "%s: larger than the %zu bytes allowed (%lld bytes)",
			       what, max, (long long)st.st_size);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sk_errf(err, -errno, "%s: read failed: %s", what, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			ret = sk_errf(err, -EFBIG, "%s: larger than the %zu bytes allowed", what,
				      max);
			goto out;
		}
		if (sk_buf_append(&b, chunk, (size_t)n)) {
			ret = sk_errf(err, -ENOMEM, "%s: out of memory", what);
			goto out;
		}
	}
	if (!b.data && sk_buf_append(&b, "", 0)) {
		ret = sk_errf(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	*data = b.data;
	*len = b.len;
	b.data = NULL;
out:
	sk_buf_free(&b);
	return ret;
}

int sk_read_beneath(const char *dir, const char *rel, size_t max, uint8_t **data, size_t *len,
		    struct sk_error *err)
{
	char what[4096];
	int fd = sk_open_beneath(dir, rel, err), ret;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return fd;
	snprintf(what, sizeof(what), "%s/%s", dir, rel);
	ret = sk_read_fd(fd, what, max, data, len, err);
	close(fd);
	return ret;
}
