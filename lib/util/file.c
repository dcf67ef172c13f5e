/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "schedkit/common.h"

extern char **environ;

int sk_read_file(const char *path, size_t max, uint8_t **data, size_t *len, struct sk_error *err)
{
	struct sk_buf b = {0};
	uint8_t chunk[65536];
	int fd, ret = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sk_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = sk_errf(err, -errno, "%s: read failed: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			ret = sk_errf(err, -EFBIG, "%s: larger than the %zu bytes allowed", path,
				      max);
			goto out;
		}
		ret = sk_buf_append(&b, chunk, (size_t)n);
		if (ret) {
			sk_errf(err, ret, "%s: out of memory", path);
			goto out;
		}
	}
	if (!b.data && sk_buf_append(&b, "", 0)) {
		ret = sk_errf(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	*data = b.data;
	*len = b.len;
	b.data = NULL;
out:
	sk_buf_free(&b);
	close(fd);
	return ret;
}

int sk_fsync_dir(const char *dir, struct sk_error *err)
{
	int fd, ret = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sk_errf(err, -errno, "%s: cannot open the directory to sync it: %s", dir,
			       strerror(errno));
	/* EINVAL: a file system that cannot sync directories, which then need no sync */
	if (fsync(fd) && errno != EINVAL)
		ret =
		    sk_errf(err, -errno, "%s: cannot sync the directory: %s", dir, strerror(errno));
	close(fd);
	return ret;
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int ret;

	if (!copy)
		return -ENOMEM;
	ret = sk_fsync_dir(dirname(copy), NULL);
	free(copy);
	return ret;
}

int sk_write_file_synced(const char *path, const void *data, size_t len, mode_t mode,
			 struct sk_error *err)
{
	const uint8_t *p = data;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	int fd = -1, ret = 0;

	if (!tmp)
		return sk_errf(err, -ENOMEM, "%s: out of memory", path);
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = sk_errf(err, -errno, "%s: cannot create a temporary file next to it: %s",
			      path, strerror(errno));
		free(tmp);
		return ret;
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = sk_errf(err, -errno, "%s: write failed: %s", path, strerror(errno));
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) || fsync(fd)) {
		ret = sk_errf(err, -errno, "%s: cannot sync: %s", path, strerror(errno));
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		ret = sk_errf(err, -errno, "%s: close failed: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path)) {
		ret =
		    sk_errf(err, -errno, "%s: cannot rename into place: %s", path, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return ret;
}

int sk_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct sk_error *err)
{
	int ret = sk_write_file_synced(path, data, len, mode, err);

	if (ret)
		return ret;
	fsync_dir_of(path);
	return 0;
}

int sk_mkdir_p(const char *path, mode_t mode, struct sk_error *err)
{
	char *copy = strdup(path);
	int ret = 0;

	if (!copy)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(copy, mode) && errno != EEXIST) {
			ret = sk_errf(err, -errno, "%s: cannot create directory: %s", copy,
				      strerror(errno));
			goto out;
		}
		if (!sk_is_dir(copy)) {
			ret = sk_errf(err, -ENOTDIR, "%s: exists and is not a directory", copy);
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
out:
	free(copy);
	return ret;
}

/* one fd per level; the trees removed here (layouts, staging) are a few levels deep */
#define RM_DEPTH_MAX 128

/*
 * Removes name in the directory dirfd, recursing into directories through
 * their fds: a path is never resolved again below dirfd, so a directory that
 * someone swaps for a symlink mid-way is refused (O_NOFOLLOW), not followed,
 * and a symlink inside the tree is unlinked, never entered. nftw(FTW_PHYS)
 * does not promise that: it opens each directory again by its path.
 */
static int rm_at(int dirfd, const char *name, unsigned depth)
{
	struct dirent *de;
	int fd, ret = 0, unlink_errno;
	DIR *d;

	if (!unlinkat(dirfd, name, 0) || errno == ENOENT)
		return 0;
	/* Linux says EISDIR for a directory, POSIX allows EPERM */
	unlink_errno = errno;
	if (unlink_errno != EISDIR && unlink_errno != EPERM)
		return -unlink_errno;
	if (depth >= RM_DEPTH_MAX)
		return -ELOOP;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno == ENOTDIR ? -unlink_errno : -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* readdir_r is deprecated; this DIR stream is never shared between threads */
	/* cppcheck-suppress readdirCalled */
	while ((de = readdir(d))) {
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rm_at(fd, de->d_name, depth + 1);
		if (r && !ret)
			ret = r;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) && errno != ENOENT && !ret)
		ret = -errno;
	return ret;
}

int sk_rm_rf(const char *path)
{
	return rm_at(AT_FDCWD, path, 0);
}

bool sk_is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

bool sk_is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

char *sk_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out = malloc(la + lb + 2);

	if (!out)
		return NULL;
	/* The NUL comes with b (lb + 1 bytes) below. */
	// NOLINTNEXTLINE(bugprone-not-null-terminated-result)
	memcpy(out, a, la);
	if (la && a[la - 1] != '/')
		out[la++] = '/';
	memcpy(out + la, b, lb + 1);
	return out;
}

int sk_run(char *const argv[], struct sk_buf *out, struct sk_error *err)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2] = {-1, -1};
	int status, ret;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return sk_errf(err, -errno, "cannot create a pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	ret = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (ret) {
		close(pipefd[0]);
		return sk_errf(err, -ret, "cannot run %s: %s (is it installed? `make deps`)",
			       argv[0], strerror(ret));
	}
	for (;;) {
		char chunk[4096];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && sk_buf_append(out, chunk, (size_t)n))
			out = NULL;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return sk_errf(err, -errno, "waiting for %s: %s", argv[0], strerror(errno));
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return sk_errf(err, -EINTR, "%s was killed by signal %d", argv[0], WTERMSIG(status));
}
