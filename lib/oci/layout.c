/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedkit/oci.h"

#define OCI_LAYOUT_FILE	   "oci-layout"
#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define INDEX_FILE	   "index.json"

/*
 * Crash safety without a directory fsync per blob: each blob file is fsynced
 * before its rename, and blobs/sha256 is fsynced once before index.json is
 * rewritten, so index.json never names a blob whose rename could be lost.
 * blobs_unsynced: this handle renamed blobs that no fsync has covered yet.
 */
struct sk_layout {
	char *dir;
	bool blobs_unsynced;
};

static char *layout_path(const struct sk_layout *l, const char *name)
{
	return sk_path_join(l->dir, name);
}

static int check_oci_layout_file(const char *dir, struct sk_error *err)
{
	struct json_object *o = NULL;
	char *path = sk_path_join(dir, OCI_LAYOUT_FILE);
	const char *ver;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!sk_is_file(path)) {
		ret = sk_errf(err, -ENOENT,
			      "%s is not an OCI image layout (it has no oci-layout file); pass the "
			      "directory `skbuild pack` wrote, or create one with skbuild",
			      dir);
		goto out;
	}
	ret = sk_read_beneath(dir, OCI_LAYOUT_FILE, 4096, &data, &len, err);
	if (ret)
		goto out;
	ret = sk_json_parse(data, len, path, &o, err);
	if (ret)
		goto out;
	ver = sk_json_str(o, "imageLayoutVersion");
	if (!ver || strncmp(ver, "1.", 2)) {
		ret = sk_errf(err, -EPROTO,
			      "%s: unsupported imageLayoutVersion \"%s\"; only 1.x layouts are "
			      "supported",
			      path, ver ? ver : "(missing)");
		goto out;
	}
out:
	json_object_put(o);
	free(data);
	free(path);
	return ret;
}

static struct json_object *new_index(void)
{
	struct json_object *idx = json_object_new_object();

	if (!idx)
		return NULL;
	json_object_object_add(idx, "schemaVersion", json_object_new_int(2));
	json_object_object_add(idx, "mediaType", json_object_new_string(SK_MT_INDEX));
	json_object_object_add(idx, "manifests", json_object_new_array());
	return idx;
}

/* dir_sync false: the caller fsyncs the directory (see sk_write_file_synced). */
static int write_json(const char *path, struct json_object *o, bool dir_sync, struct sk_error *err)
{
	size_t len;
	char *s = sk_json_dump(o, &len);
	int ret;

	if (!s)
		return sk_errf(err, -ENOMEM, "%s: out of memory", path);
	ret = dir_sync ? sk_write_file_atomic(path, s, len, 0644, err)
		       : sk_write_file_synced(path, s, len, 0644, err);
	free(s);
	return ret;
}

/* Makes every rename into blobs/sha256 so far (by anyone) survive a crash. */
static int sync_blobs(struct sk_layout *l, struct sk_error *err)
{
	char *dir = sk_path_join(l->dir, "blobs/sha256");
	int ret;

	if (!dir)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_fsync_dir(dir, err);
	free(dir);
	if (!ret)
		l->blobs_unsynced = false;
	return ret;
}

static int read_index(const struct sk_layout *l, struct json_object **out, struct sk_error *err)
{
	char *path = layout_path(l, INDEX_FILE);
	struct json_object *idx = NULL, *m;
	uint8_t *data = NULL;
	size_t len;
	int ret;

	*out = NULL;
	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_read_beneath(l->dir, INDEX_FILE, SK_MANIFEST_MAX, &data, &len, err);
	if (ret)
		goto out;
	ret = sk_json_parse(data, len, path, &idx, err);
	if (ret)
		goto out;
	if (sk_json_int(idx, "schemaVersion") != 2) {
		ret = sk_errf(err, -EPROTO, "%s: schemaVersion must be 2", path);
		goto out;
	}
	if (!json_object_object_get_ex(idx, "manifests", &m)) {
		/* Some writers omit an empty list; add it so callers can append. */
		json_object_object_add(idx, "manifests", json_object_new_array());
	} else if (!json_object_is_type(m, json_type_array)) {
		ret = sk_errf(err, -EPROTO, "%s: \"manifests\" must be an array", path);
		goto out;
	}
	*out = idx;
	idx = NULL;
out:
	json_object_put(idx);
	free(data);
	free(path);
	return ret;
}

static int layout_new(const char *dir, struct sk_layout **out, struct sk_error *err)
{
	struct sk_layout *l = calloc(1, sizeof(*l));

	if (!l || !(l->dir = strdup(dir))) {
		free(l);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	*out = l;
	return 0;
}

int sk_layout_open(const char *dir, struct sk_layout **out, struct sk_error *err)
{
	struct sk_layout *l = NULL;
	struct json_object *idx = NULL;
	int ret;

	*out = NULL;
	if (!sk_is_dir(dir))
		return sk_errf(err, -ENOENT,
			       "%s: no such directory; expected an OCI image layout directory",
			       dir);
	ret = check_oci_layout_file(dir, err);
	if (ret)
		return ret;
	ret = layout_new(dir, &l, err);
	if (ret)
		return ret;
	ret = read_index(l, &idx, err);
	json_object_put(idx);
	if (ret) {
		sk_layout_close(l);
		return ret;
	}
	*out = l;
	return 0;
}

int sk_layout_create(const char *dir, struct sk_layout **out, struct sk_error *err)
{
	struct json_object *idx = NULL;
	char *layout_file = NULL, *index = NULL, *blobs = NULL, *sha = NULL;
	bool new_blobs, wrote = false;
	int ret;

	*out = NULL;
	ret = sk_mkdir_p(dir, 0755, err);
	if (ret)
		return ret;
	layout_file = sk_path_join(dir, OCI_LAYOUT_FILE);
	index = sk_path_join(dir, INDEX_FILE);
	blobs = sk_path_join(dir, "blobs");
	sha = sk_path_join(dir, "blobs/sha256");
	if (!layout_file || !index || !blobs || !sha) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	new_blobs = !sk_is_dir(sha);
	if (new_blobs) {
		ret = sk_mkdir_p(sha, 0755, err);
		if (ret)
			goto out;
	}
	if (!sk_is_file(layout_file)) {
		ret = sk_write_file_synced(layout_file, OCI_LAYOUT_CONTENT,
					   strlen(OCI_LAYOUT_CONTENT), 0644, err);
		if (ret)
			goto out;
		wrote = true;
	}
	if (!sk_is_file(index)) {
		idx = new_index();
		if (!idx) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		ret = write_json(index, idx, false, err);
		if (ret)
			goto out;
		wrote = true;
	}
	/* one directory sync for everything created here, before any blob lands */
	if (new_blobs)
		ret = sk_fsync_dir(blobs, err);
	if (!ret && (new_blobs || wrote))
		ret = sk_fsync_dir(dir, err);
	if (!ret)
		ret = sk_layout_open(dir, out, err);
out:
	json_object_put(idx);
	free(layout_file);
	free(index);
	free(blobs);
	free(sha);
	return ret;
}

void sk_layout_close(struct sk_layout *l)
{
	if (!l)
		return;
	free(l->dir);
	free(l);
}

const char *sk_layout_dir(const struct sk_layout *l)
{
	return l->dir;
}

char *sk_layout_blob_path(struct sk_layout *l, const char *digest)
{
	char *out = NULL;

	/* Validating first keeps a hostile digest from naming a path outside the layout. */
	if (!sk_digest_valid(digest))
		return NULL;
	if (asprintf(&out, "%s/blobs/sha256/%s", l->dir, digest + strlen("sha256:")) < 0)
		return NULL;
	return out;
}

bool sk_layout_has_blob(struct sk_layout *l, const char *digest)
{
	char *path = sk_layout_blob_path(l, digest);
	bool ok = path && sk_is_file(path);

	free(path);
	return ok;
}

int sk_layout_put_blob(struct sk_layout *l, const void *data, size_t len,
		       char digest[SK_DIGEST_MAX], struct sk_error *err)
{
	char *path = NULL, *dir = NULL;
	uint8_t *old = NULL;
	size_t old_len;
	int ret;

	sk_digest_buf(data, len, digest);
	path = sk_layout_blob_path(l, digest);
	dir = sk_path_join(l->dir, "blobs/sha256");
	if (!path || !dir) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Rewrite a present blob only when it is damaged: keeps repeated packs cheap. */
	if (sk_is_file(path) && !sk_read_file(path, len, &old, &old_len, NULL) && old_len == len &&
	    !sk_digest_check(old, old_len, digest, path, NULL)) {
		ret = 0;
		goto out;
	}
	ret = sk_mkdir_p(dir, 0755, err);
	if (ret)
		goto out;
	/* the directory sync waits for sk_layout_add_manifest (see struct sk_layout) */
	ret = sk_write_file_synced(path, data, len, 0644, err);
	if (ret)
		sk_err_prefix(err, "storing blob %s in layout %s: ", digest, l->dir);
	else
		l->blobs_unsynced = true;
out:
	free(old);
	free(dir);
	free(path);
	return ret;
}

int sk_layout_get_blob(struct sk_layout *l, const char *digest, int64_t size, size_t max,
		       uint8_t **data, size_t *len, struct sk_error *err)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	char *path;
	int ret;

	*data = NULL;
	*len = 0;
	if (!max)
		max = SK_BLOB_MAX;
	path = sk_layout_blob_path(l, digest);
	if (!path) {
		if (!sk_digest_valid(digest))
			return sk_errf(err, -EINVAL,
				       "layout %s: \"%s\" is not a valid sha256 digest", l->dir,
				       digest ? digest : "(null)");
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	if (size >= 0 && (uint64_t)size > max) {
		ret = sk_errf(err, -EFBIG,
			      "layout %s: blob %s is %lld bytes: larger than the %zu bytes allowed",
			      l->dir, digest, (long long)size, max);
		goto out;
	}
	ret = sk_read_beneath(l->dir, path + strlen(l->dir) + 1, max, &buf, &n, err);
	if (ret == -ENOENT) {
		ret = sk_errf(err, -ENOENT,
			      "layout %s is missing blob %s (%s); the layout is incomplete: "
			      "pack or pull it again",
			      l->dir, digest, path);
		goto out;
	}
	if (ret)
		goto out;
	if (size >= 0 && (int64_t)n != size) {
		ret = sk_errf(err, -EBADMSG,
			      "layout %s: blob %s is %zu bytes but its descriptor says %lld; the "
			      "layout is corrupt: pack or pull it again",
			      l->dir, digest, n, (long long)size);
		goto out;
	}
	ret = sk_digest_check(buf, n, digest, path, err);
	if (ret)
		goto out;
	*data = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	free(path);
	return ret;
}

/* Serializes index.json updates between processes sharing a layout directory. */
static int lock_layout(const struct sk_layout *l, struct sk_error *err)
{
	int fd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return sk_errf(err, -errno, "%s: cannot open: %s", l->dir, strerror(errno));
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			int e = errno;

			close(fd);
			return sk_errf(err, -e, "%s: cannot lock: %s", l->dir, strerror(e));
		}
	}
	return fd;
}

static const char *entry_ref_name(struct json_object *entry)
{
	struct json_object *ann;

	if (!json_object_object_get_ex(entry, "annotations", &ann))
		return NULL;
	return sk_json_str(ann, SK_ANN_REF_NAME);
}

void sk_layout_blobs_renamed(struct sk_layout *l)
{
	l->blobs_unsynced = true;
}

int sk_layout_add_manifest(struct sk_layout *l, const struct sk_descriptor *d, const char *ref_name,
			   struct sk_error *err)
{
	return sk_layout_add_manifest_annotated(l, d, ref_name, NULL, err);
}

int sk_layout_add_manifest_annotated(struct sk_layout *l, const struct sk_descriptor *d,
				     const char *ref_name, struct json_object *annotations,
				     struct sk_error *err)
{
	struct json_object *idx = NULL, *old, *list = NULL, *entry = NULL;
	struct sk_descriptor copy = *d;
	char *path = NULL;
	size_t replaced = 0, same = 0;
	int lock, ret;

	if (ref_name && !*ref_name)
		ref_name = NULL;
	if (ref_name && strlen(ref_name) >= sizeof(copy.ref_name)) {
		json_object_put(annotations);
		return sk_errf(err, -EINVAL, "tag \"%.64s...\" is too long", ref_name);
	}
	snprintf(copy.ref_name, sizeof(copy.ref_name), "%s", ref_name ? ref_name : "");
	/* sk_descriptor_to_json takes annotations over, even when it fails */
	entry = sk_descriptor_to_json(&copy, annotations);
	if (!entry)
		return sk_errf(err, -ENOMEM, "out of memory");
	lock = lock_layout(l, err);
	if (lock < 0) {
		json_object_put(entry);
		return lock;
	}
	path = layout_path(l, INDEX_FILE);
	if (!path) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = read_index(l, &idx, err);
	if (ret)
		goto out;
	json_object_object_get_ex(idx, "manifests", &old);
	list = json_object_new_array();
	if (!list) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(old); i++) {
		struct json_object *e = json_object_array_get_idx(old, i);
		const char *name = entry_ref_name(e);

		/* Re-adding the same untagged manifest must not duplicate it. */
		if ((ref_name && name && !strcmp(name, ref_name)) ||
		    (!ref_name && !name && sk_json_str(e, "digest") &&
		     !strcmp(sk_json_str(e, "digest"), copy.digest))) {
			replaced++;
			same += json_object_equal(e, entry);
			continue;
		}
		json_object_array_add(list, json_object_get(e));
	}
	/* Already recorded as it is: nothing to write (a read-only layout stays usable). */
	if (replaced == 1 && same == 1) {
		ret = l->blobs_unsynced ? sync_blobs(l, err) : 0;
		goto out;
	}
	json_object_array_add(list, entry);
	entry = NULL;
	json_object_object_add(idx, "manifests", list);
	list = NULL;
	/* unconditionally: blobs another process renamed in may not be durable yet */
	ret = sync_blobs(l, err);
	if (!ret)
		ret = write_json(path, idx, true, err);
out:
	json_object_put(entry);
	json_object_put(list);
	json_object_put(idx);
	free(path);
	close(lock);
	return ret;
}

/* "a, b, sha256:... (untagged)" for error messages. */
static char *list_entries(struct json_object *list)
{
	struct sk_buf b = {0};
	char *out;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *name = entry_ref_name(e);

		if (name)
			sk_buf_printf(&b, "%s%s", i ? ", " : "", name);
		else
			sk_buf_printf(&b, "%s%s (untagged)", i ? ", " : "",
				      sk_json_str(e, "digest") ? sk_json_str(e, "digest") : "?");
	}
	if (sk_buf_append(&b, "", 1))
		return NULL;
	out = (char *)b.data;
	return out;
}

int sk_layout_resolve(struct sk_layout *l, const char *tag, struct sk_descriptor *d,
		      struct sk_error *err)
{
	struct json_object *idx = NULL, *list, *found = NULL;
	bool by_digest;
	char *names = NULL;
	size_t n;
	int ret;

	memset(d, 0, sizeof(*d));
	if (tag && !*tag)
		tag = NULL;
	ret = read_index(l, &idx, err);
	if (ret)
		return ret;
	json_object_object_get_ex(idx, "manifests", &list);
	n = json_object_array_length(list);
	by_digest = tag && !strncmp(tag, "sha256:", 7);
	if (!n) {
		ret = sk_errf(err, -ENOENT, "layout %s is empty: it holds no manifest%s%s", l->dir,
			      tag ? " for " : "", tag ? tag : "");
		goto out;
	}
	if (!tag) {
		if (n > 1) {
			names = list_entries(list);
			ret = sk_errf(err, -EINVAL,
				      "layout %s holds %zu manifests (%s); name one as %s:TAG",
				      l->dir, n, names ? names : "?", l->dir);
			goto out;
		}
		found = json_object_array_get_idx(list, 0);
	}
	for (size_t i = 0; tag && i < n && !found; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *key = by_digest ? sk_json_str(e, "digest") : entry_ref_name(e);

		if (key && !strcmp(key, tag))
			found = e;
	}
	if (!found) {
		names = list_entries(list);
		ret = sk_errf(err, -ENOENT, "layout %s has no %s \"%s\" (it holds: %s)", l->dir,
			      by_digest ? "manifest with digest" : "tag", tag, names ? names : "?");
		goto out;
	}
	ret = sk_descriptor_from_json(found, d, err);
	if (ret)
		sk_err_prefix(err, "%s/%s: ", l->dir, INDEX_FILE);
out:
	free(names);
	json_object_put(idx);
	return ret;
}

int sk_layout_ref_split(const char *arg, char **dir, char **tag)
{
	const char *sep = NULL, *p;
	size_t dlen;

	*dir = NULL;
	*tag = NULL;
	if (!arg || !*arg)
		return -EINVAL;
	if (!sk_is_dir(arg)) {
		/* DIR@sha256:... (oras' spelling for a digest) and DIR:sha256:... */
		p = strrchr(arg, '@');
		if (p && !strncmp(p + 1, "sha256:", 7)) {
			sep = p;
		} else {
			for (p = strstr(arg, ":sha256:"); p; p = strstr(p + 1, ":sha256:"))
				sep = p;
			if (!sep) {
				p = strrchr(arg, ':');
				/* A colon followed by a '/' belongs to the path, not a tag. */
				if (p && p != arg && !strchr(p, '/'))
					sep = p;
			}
		}
	}
	dlen = sep ? (size_t)(sep - arg) : strlen(arg);
	*dir = strndup(arg, dlen);
	if (!*dir)
		return -ENOMEM;
	if (sep && sep[1]) {
		*tag = strdup(sep + 1);
		if (!*tag) {
			free(*dir);
			*dir = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * "sha256-<64 hex>.sig" (a cosign signature tag) or "sha256-<64 hex>" (the
 * referrers tag holding Sigstore bundles): never an artifact.
 */
static bool is_sig_tag(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if ((n != 7 + 64 + 4 && n != 7 + 64) || strncmp(name, "sha256-", 7) ||
	    (n == 7 + 64 + 4 && strcmp(name + 71, ".sig")))
		return false;
	for (size_t i = 7; i < 71; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

int sk_layout_resolve_artifact(struct sk_layout *l, const char *tag, struct sk_descriptor *d,
			       struct sk_error *err)
{
	struct json_object *idx = NULL, *list;
	char pick[SK_DIGEST_MAX + 256] = "";
	size_t found = 0;
	int ret;

	if (tag && *tag)
		return sk_layout_resolve(l, tag, d, err);
	ret = read_index(l, &idx, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(idx, "manifests", &list) &&
	    json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *e = json_object_array_get_idx(list, i), *a;
			const char *name = NULL, *dg = sk_json_str(e, "digest");

			if (json_object_object_get_ex(e, "annotations", &a))
				name = sk_json_str(a, SK_ANN_REF_NAME);
			if (is_sig_tag(name))
				continue;
			found++;
			snprintf(pick, sizeof(pick), "%s", name ? name : dg ? dg : "");
		}
	}
	json_object_put(idx);
	/* anything but exactly one artifact: the layout's own message lists what it holds */
	return sk_layout_resolve(l, found == 1 && pick[0] ? pick : NULL, d, err);
}

int sk_layout_remove_manifests(struct sk_layout *l, const char *const *keys, size_t nkeys,
			       size_t *removed, struct sk_error *err)
{
	struct json_object *idx = NULL, *old, *list = NULL;
	char *path = layout_path(l, INDEX_FILE);
	size_t gone = 0;
	int lock, ret;

	if (removed)
		*removed = 0;
	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	lock = lock_layout(l, err);
	if (lock < 0) {
		free(path);
		return lock;
	}
	ret = read_index(l, &idx, err);
	if (ret)
		goto out;
	json_object_object_get_ex(idx, "manifests", &old);
	list = json_object_new_array();
	if (!list) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(old); i++) {
		struct json_object *e = json_object_array_get_idx(old, i);
		const char *name = entry_ref_name(e), *dg = sk_json_str(e, "digest");
		bool match = false;

		for (size_t k = 0; k < nkeys && !match; k++)
			match = (name && !strcmp(name, keys[k])) || (dg && !strcmp(dg, keys[k]));
		if (match)
			gone++;
		else
			json_object_array_add(list, json_object_get(e));
	}
	if (!gone)
		goto out; /* nothing to write */
	json_object_object_add(idx, "manifests", list);
	list = NULL;
	ret = write_json(path, idx, true, err);
	if (!ret && removed)
		*removed = gone;
out:
	json_object_put(list);
	json_object_put(idx);
	free(path);
	close(lock);
	return ret;
}
