/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one parser for "where bytes come from". A name is a registry reference
 * unless it says otherwise (a transport prefix, or a path spelled as one):
 * what files happen to exist in the current directory never changes what a
 * reference means.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schedkit/transfer.h"

static bool looks_like_path(const char *s)
{
	return s[0] == '/' || !strncmp(s, "./", 2) || !strncmp(s, "../", 3);
}

static int parse_layout(const char *rest, struct sk_source *src, struct sk_error *err)
{
	if (sk_layout_ref_split(rest, &src->path, &src->tag))
		return sk_errf(err, -EINVAL, "\"%s\" does not name a layout directory", rest);
	src->kind = SK_SOURCE_LAYOUT;
	return 0;
}

static int parse_archive(const char *rest, struct sk_source *src, struct sk_error *err)
{
	int ret = sk_archive_ref_split(rest, &src->path, &src->tag);

	if (ret == -ENOMEM)
		return sk_errf(err, ret, "out of memory");
	if (ret)
		return sk_errf(err, -ENOENT, "%s: no such archive file", rest);
	src->kind = SK_SOURCE_ARCHIVE;
	return 0;
}

/* A path argument: an existing directory is a layout, an existing file an archive. */
static int parse_path(const char *arg, struct sk_source *src, struct sk_error *err)
{
	char *dir = NULL, *tag = NULL;
	bool is_layout;

	if (sk_layout_ref_split(arg, &dir, &tag))
		return sk_errf(err, -ENOMEM, "out of memory");
	is_layout = sk_is_dir(dir);
	free(dir);
	free(tag);
	if (is_layout)
		return parse_layout(arg, src, err);
	if (parse_archive(arg, src, NULL) == 0)
		return 0;
	return sk_errf(err, -ENOENT,
		       "%s: no such OCI image layout directory or oci-archive file (a path names a "
		       "layout directory or an archive that exists)",
		       arg);
}

/* The part of a Docker Hub short name that could also be a local path. */
static bool local_path_exists(const char *arg)
{
	char *dir = NULL, *tag = NULL, *file = NULL;
	bool found = false;
	struct stat st;

	if (!stat(arg, &st))
		return true;
	if (!sk_layout_ref_split(arg, &dir, &tag))
		found = sk_is_dir(dir);
	if (!found && !sk_archive_ref_split(arg, &file, &tag))
		found = true;
	free(dir);
	free(tag);
	free(file);
	return found;
}

static int parse_registry(const char *arg, struct sk_source *src, struct sk_error *err)
{
	size_t hostlen = strcspn(arg, "/");
	bool explicit_host =
	    arg[hostlen] == '/' && (memchr(arg, '.', hostlen) || memchr(arg, ':', hostlen) ||
				    (hostlen == 9 && !strncmp(arg, "localhost", 9)));
	int ret;

	if (!explicit_host && local_path_exists(arg))
		return sk_errf(err, -EINVAL,
			       "\"%s\" is ambiguous: it could be a Docker Hub reference or the "
			       "local path of that name; write oci:%s (a layout), "
			       "oci-archive:%s (an archive) or ./%s for the local one, or "
			       "docker.io/%s for the registry",
			       arg, arg, arg, arg, arg);
	ret = sk_ref_parse(arg, &src->ref, err);
	if (ret)
		return sk_err_prefix(err,
				     "\"%s\" is not a registry reference (HOST/REPO[:TAG]), and "
				     "local sources are written oci:DIR[:TAG], "
				     "oci-archive:FILE[:TAG] or as a path starting with / or ./: ",
				     arg);
	src->kind = SK_SOURCE_REGISTRY;
	return 0;
}

int sk_source_parse(const char *arg, struct sk_source *src, struct sk_error *err)
{
	int ret;

	memset(src, 0, sizeof(*src));
	if (!arg || !*arg)
		return sk_errf(err, -EINVAL, "an empty source name");
	src->arg = strdup(arg);
	if (!src->arg)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!strncmp(arg, "oci:", 4))
		ret = parse_layout(arg + 4, src, err);
	else if (!strncmp(arg, "oci-archive:", 12))
		ret = parse_archive(arg + 12, src, err);
	else if (looks_like_path(arg))
		ret = parse_path(arg, src, err);
	else
		ret = parse_registry(arg, src, err);
	if (ret)
		sk_source_free(src);
	return ret;
}

void sk_source_free(struct sk_source *src)
{
	free(src->path);
	free(src->tag);
	free(src->arg);
	src->path = src->tag = src->arg = NULL;
}

void sk_source_identity(const struct sk_source *src, char out[512])
{
	if (src->kind == SK_SOURCE_REGISTRY)
		snprintf(out, 512, "%s/%s", src->ref.registry, src->ref.repo);
	else
		out[0] = '\0';
}

int sk_archive_ref_split(const char *arg, char **file, char **tag)
{
	*file = *tag = NULL;
	if (sk_is_file(arg)) {
		*file = strdup(arg);
		return *file ? 0 : -ENOMEM;
	}
	/* the first colon after which the path names a file: saved archives' tags are
	 * full references ("host:port/repo:tag") */
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
