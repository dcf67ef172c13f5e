/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "schedkit/oci.h"

static la_ssize_t buf_write(struct archive *a, void *client, const void *data, size_t len)
{
	struct sk_buf *b = client;

	if (sk_buf_append(b, data, len)) {
		archive_set_error(a, ENOMEM, "out of memory");
		return -1;
	}
	return (la_ssize_t)len;
}

static int cmp_name(const void *a, const void *b)
{
	const struct sk_source_file *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Names are relative, without "." or ".." components, so unpacking stays in its directory. */
static bool safe_name(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return p[-1] != '/';
}

static int add_file(struct archive *a, const struct sk_source_file *f, struct sk_error *err)
{
	struct archive_entry *e = NULL;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	ret = sk_read_file(f->path, SK_BLOB_MAX, &data, &len, err);
	if (ret)
		return sk_err_prefix(err, "adding %s to the source archive: ", f->name);
	e = archive_entry_new();
	if (!e) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Only the name and the bytes may vary: everything else is fixed for reproducibility. */
	archive_entry_set_pathname(e, f->name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "");
	archive_entry_set_gname(e, "");
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		ret = sk_errf(err, -EIO, "source archive: cannot add %s: %s", f->name,
			      archive_error_string(a));
		goto out;
	}
	if (len && archive_write_data(a, data, len) != (la_ssize_t)len) {
		ret = sk_errf(err, -EIO, "source archive: cannot write %s: %s", f->name,
			      archive_error_string(a));
		goto out;
	}
out:
	archive_entry_free(e);
	free(data);
	return ret;
}

int sk_source_tar_gz(const struct sk_source_file *files, size_t n, struct sk_buf *out,
		     struct sk_error *err)
{
	const struct sk_source_file **sorted = NULL;
	struct sk_buf b = {0};
	struct archive *a = NULL;
	int ret = 0;

	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!sorted)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!files[i].name || !files[i].path || !safe_name(files[i].name)) {
			ret = sk_errf(err, -EINVAL,
				      "source archive: file name \"%s\" must be a relative path "
				      "without '.' or '..' components",
				      files[i].name ? files[i].name : "(null)");
			goto out;
		}
		sorted[i] = &files[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_name);
	for (size_t i = 1; i < n; i++) {
		if (!strcmp(sorted[i - 1]->name, sorted[i]->name)) {
			ret = sk_errf(
			    err, -EINVAL,
			    "source archive: two files are named %s (%s and %s); rename one",
			    sorted[i]->name, sorted[i - 1]->path, sorted[i]->path);
			goto out;
		}
	}
	a = archive_write_new();
	if (!a) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * pax-restricted is ustar unless a name needs more; the gzip header gets
	 * neither a timestamp nor a file name, so builds at different times match.
	 */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level", "9") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, &b, NULL, buf_write, NULL) != ARCHIVE_OK) {
		ret = sk_errf(err, -EIO, "source archive: cannot set up libarchive: %s",
			      archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ret = add_file(a, sorted[i], err);
		if (ret)
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		ret = sk_errf(err, -EIO, "source archive: cannot finish: %s",
			      archive_error_string(a));
		goto out;
	}
	*out = b;
	b = (struct sk_buf){0};
out:
	if (a)
		archive_write_free(a);
	sk_buf_free(&b);
	free(sorted);
	return ret;
}
