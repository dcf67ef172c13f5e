/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedkit/registry.h"
#include "schedkit/store.h"

int sk_archive_ref_split(const char *arg, char **file, char **tag)
{
	*file = *tag = NULL;
	if (sk_is_file(arg)) {
		*file = strdup(arg);
		return *file ? 0 : -ENOMEM;
	}
	for (const char *colon = strchr(arg, ':'); colon; colon = strchr(colon + 1, ':')) {
		*file = strndup(arg, (size_t)(colon - arg));
		if (!*file)
			return -ENOMEM;
		if (sk_is_file(*file)) {
			*tag = strdup(colon + 1);
			if (*tag)
				return 0;
			free(*file);
			*file = NULL;
			return -ENOMEM;
		}
		free(*file);
		*file = NULL;
	}
	return -ENOENT;
}

enum sk_source_kind sk_source_classify(const char *src, const char **rest)
{
	char *dir = NULL, *tag = NULL;
	enum sk_source_kind k = SK_SOURCE_REGISTRY;

	*rest = src;
	if (!strncmp(src, "oci:", 4)) {
		*rest = src + 4;
		return SK_SOURCE_LAYOUT;
	}
	if (!strncmp(src, "oci-archive:", 12)) {
		*rest = src + 12;
		return SK_SOURCE_ARCHIVE;
	}
	if (!sk_archive_ref_split(src, &dir, &tag))
		k = SK_SOURCE_ARCHIVE;
	else if (!sk_layout_ref_split(src, &dir, &tag) && sk_is_dir(dir))
		k = SK_SOURCE_LAYOUT;
	free(dir);
	free(tag);
	return k;
}

int sk_artifact_open_any(const char *src, const struct sk_pull_opts *opts, const char *arch,
			 struct sk_artifact **out, struct sk_error *err)
{
	struct sk_pull_opts po = {0};
	struct sk_layout *l = NULL;
	struct sk_store *store = NULL;
	char tmp[] = "/tmp/schedkit-view.XXXXXX", digest[SK_DIGEST_MAX];
	char *dir = NULL, *tag = NULL;
	int ret;

	*out = NULL;
	ret = sk_layout_ref_split(src, &dir, &tag);
	if (ret)
		return sk_errf(err, ret, "out of memory");
	if (sk_is_dir(dir)) {
		ret = sk_layout_open(dir, &l, err);
		if (!ret)
			ret = sk_artifact_read(l, tag, arch, out, err);
		goto out;
	}
	if ((dir[0] == '/' || dir[0] == '.') && access(dir, F_OK)) {
		/* A path, not a registry reference: say what is missing. */
		ret =
		    sk_errf(err, -ENOENT, "%s: no such OCI image layout directory or archive", dir);
		goto out;
	}
	if (!mkdtemp(tmp)) {
		ret = sk_errf(err, -errno, "cannot create a temporary directory: %s",
			      strerror(errno));
		goto out;
	}
	if (opts)
		po = *opts;
	po.verify = NULL;
	po.arch = arch;
	ret = sk_store_open(tmp, &store, err);
	if (!ret)
		ret = sk_pull(store, src, &po, digest, NULL, err);
	if (!ret)
		ret = sk_artifact_read(sk_store_layout(store), digest, arch, out, err);
	sk_store_close(store);
	sk_rm_rf(tmp);
out:
	sk_layout_close(l);
	free(dir);
	free(tag);
	return ret;
}
