/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helper's side of the protocol: hello, open (a registry repository, or
 * the archive on FD_ARCHIVE), manifest, blob, blobs (several, concurrently),
 * referrers (the OCI 1.1 referrers API of a digest). Everything fetched is
 * written beneath FD_STAGE as an OCI layout's blobs/sha256/<hex>, never anywhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fetch.h"
#include "schedkit/registry.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"

#define ARCHIVE_MAX_TOTAL (1ull << 30)

struct session {
	struct sk_registry *reg;
	struct sk_ref ref;
	struct sk_strv insecure;
	char *username;
	char *password;
	char *cred_source;
	struct sk_strv looked;
	const char *sandbox;
	const char *ca_cert;
	bool archive;
};

static int reply(int code, const char *msg, struct json_object *extra, const struct session *s)
{
	struct json_object *r = extra ? extra : json_object_new_object();
	struct sk_error e = {0};

	if (!r)
		return -ENOMEM;
	json_object_object_add(r, "ok", json_object_new_boolean(code == 0));
	if (code) {
		json_object_object_add(r, "errno", json_object_new_int(-code));
		json_object_object_add(r, "msg", json_object_new_string(msg ? msg : "failed"));
	}
	if (s->reg)
		json_object_object_add(r, "requests",
				       json_object_new_int64(sk_registry_requests(s->reg)));
	code = sk_proto_send(FD_SOCK, r, &e);
	json_object_put(r);
	return code;
}

/* blobs/sha256 beneath staging, made on first use; an fd for it. */
static int blob_dir(struct sk_error *err)
{
	int b, sha;

	if (mkdirat(FD_STAGE, "blobs", 0700) && errno != EEXIST)
		return sk_errf(err, -errno, "staging: cannot create blobs/: %s", strerror(errno));
	b = openat(FD_STAGE, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b < 0)
		return sk_errf(err, -errno, "staging: blobs/: %s", strerror(errno));
	if (mkdirat(b, "sha256", 0700) && errno != EEXIST) {
		close(b);
		return sk_errf(err, -errno, "staging: cannot create blobs/sha256/: %s",
			       strerror(errno));
	}
	sha = openat(b, "sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(b);
	if (sha < 0)
		return sk_errf(err, -errno, "staging: blobs/sha256/: %s", strerror(errno));
	return sha;
}

struct file_sink {
	int fd;
};

static int fsink_write(void *ctx, const void *data, size_t len, struct sk_error *err)
{
	struct file_sink *fs = ctx;
	const char *p = data;

	while (len) {
		ssize_t n = write(fs->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sk_errf(err, -errno, "staging: write failed: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsink_reset(void *ctx, struct sk_error *err)
{
	struct file_sink *fs = ctx;

	if (ftruncate(fs->fd, 0) || lseek(fs->fd, 0, SEEK_SET) < 0)
		return sk_errf(err, -errno, "staging: truncate failed: %s", strerror(errno));
	return 0;
}

/* Writes digest's bytes into staging: through a temporary name, renamed when complete. */
static int stage(const char *digest, const void *data, size_t len, struct session *s, int64_t size,
		 struct sk_error *err)
{
	char tmp[128];
	struct file_sink fs;
	struct sk_sink sink = {.write = fsink_write, .reset = fsink_reset, .ctx = &fs};
	int dir = blob_dir(err), ret;

	if (dir < 0)
		return dir;
	snprintf(tmp, sizeof(tmp), ".part-%s", digest + 7);
	unlinkat(dir, tmp, 0);
	fs.fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fs.fd < 0) {
		ret = sk_errf(err, -errno, "staging: cannot create a file: %s", strerror(errno));
		close(dir);
		return ret;
	}
	if (data)
		ret = fsink_write(&fs, data, len, err);
	else
		ret = sk_registry_blob_get(s->reg, s->ref.repo, digest, size, &sink, err);
	if (close(fs.fd) && !ret)
		ret = sk_errf(err, -errno, "staging: write failed: %s", strerror(errno));
	if (!ret && renameat(dir, tmp, dir, digest + 7))
		ret = sk_errf(err, -errno, "staging: rename failed: %s", strerror(errno));
	if (ret)
		unlinkat(dir, tmp, 0);
	close(dir);
	return ret;
}

static void wipe_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)) {
		char *p = (char *)json_object_get_string(v);

		explicit_bzero(p, strlen(p));
	}
}

static int do_open(struct session *s, struct json_object *req, struct sk_error *err)
{
	struct sk_registry_opts o = {0};
	struct json_object *ins;
	const char *kind = sk_json_str(req, "kind"), *reg, *host, *repo;
	int ret;

	if (s->reg)
		return sk_errf(err, -EALREADY, "a source is open already");
	if (kind && !strcmp(kind, "archive")) {
		if (!s->archive)
			return sk_errf(err, -EINVAL, "no archive was handed over");
		/* the layout lands in staging; skrun reads it from there */
		return sk_archive_extract_fd(FD_ARCHIVE, ".", ARCHIVE_MAX_TOTAL, err);
	}
	if (!kind || strcmp(kind, "registry"))
		return sk_errf(err, -EINVAL, "unknown source kind");
	reg = sk_json_str(req, "registry");
	host = sk_json_str(req, "host");
	repo = sk_json_str(req, "repo");
	if (!reg || !host || !repo || strlen(reg) >= sizeof(s->ref.registry) ||
	    strlen(host) >= sizeof(s->ref.host) || strlen(repo) >= sizeof(s->ref.repo))
		return sk_errf(err, -EINVAL, "open: registry, host and repo are required");
	snprintf(s->ref.registry, sizeof(s->ref.registry), "%s", reg);
	snprintf(s->ref.host, sizeof(s->ref.host), "%s", host);
	snprintf(s->ref.repo, sizeof(s->ref.repo), "%s", repo);
	if (json_object_object_get_ex(req, "insecure", &ins) &&
	    json_object_is_type(ins, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(ins) && i < 64; i++) {
			const char *h = json_object_get_string(json_object_array_get_idx(ins, i));

			if (h && sk_strv_push(&s->insecure, h))
				return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	if (sk_json_str(req, "username")) {
		s->username = strdup(sk_json_str(req, "username"));
		s->password =
		    strdup(sk_json_str(req, "password") ? sk_json_str(req, "password") : "");
		if (!s->username || !s->password)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	if (json_object_object_get_ex(req, "looked", &ins) &&
	    json_object_is_type(ins, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(ins) && i < 64; i++) {
			const char *h = json_object_get_string(json_object_array_get_idx(ins, i));

			if (h && sk_strv_push(&s->looked, h))
				return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	if (sk_json_str(req, "cred_source")) {
		s->cred_source = strdup(sk_json_str(req, "cred_source"));
		if (!s->cred_source)
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	o.cred_source = s->cred_source;
	o.cred_looked = &s->looked;
	o.insecure = &s->insecure;
	o.username = s->username;
	o.password = s->password;
	o.no_cred_lookup = true;
	o.verbose = json_object_get_boolean(json_object_object_get(req, "verbose"));
	/* the CA file skrun was given; the sandbox lets us read exactly it */
	o.ca_cert = s->ca_cert;
	ret = sk_registry_open(&s->ref, &o, &s->reg, err);
	if (!ret && sk_registry_add_scope(s->reg, s->ref.repo, false))
		ret = sk_errf(err, -ENOMEM, "out of memory");
	return ret;
}

static int do_manifest(struct session *s, struct json_object *req, struct json_object **extra,
		       struct sk_error *err)
{
	const char *reference = sk_json_str(req, "reference");
	int64_t max = sk_json_int(req, "max");
	struct sk_buf body = {0};
	char mt[256] = "", digest[SK_DIGEST_MAX], *b64 = NULL;
	int ret;

	if (!s->reg)
		return sk_errf(err, -EINVAL, "no registry is open");
	if (!reference || max <= 0 || max > SK_MANIFEST_MAX)
		return sk_errf(err, -EINVAL, "manifest: a reference and a size limit are required");
	ret = sk_registry_manifest_get(s->reg, s->ref.repo, reference, (size_t)max, &body, mt,
				       digest, err);
	/* a small manifest rides in the reply: no staging file to write and read back */
	if (!ret && body.len <= SK_PROTO_INLINE_MAX) {
		b64 = malloc(4 * ((body.len + 2) / 3) + 1);
		if (!b64)
			ret = sk_errf(err, -ENOMEM, "out of memory");
		else
			EVP_EncodeBlock((unsigned char *)b64, body.data, (int)body.len);
	} else if (!ret) {
		ret = stage(digest, body.data, body.len, s, -1, err);
	}
	if (!ret) {
		*extra = json_object_new_object();
		if (!*extra)
			ret = sk_errf(err, -ENOMEM, "out of memory");
		else {
			json_object_object_add(*extra, "digest", json_object_new_string(digest));
			json_object_object_add(*extra, "mediaType", json_object_new_string(mt));
			json_object_object_add(*extra, "size",
					       json_object_new_int64((int64_t)body.len));
			if (b64)
				json_object_object_add(*extra, "data", json_object_new_string(b64));
		}
	}
	free(b64);
	sk_buf_free(&body);
	return ret;
}

/* The referrers API: "supported" false on a registry without it; else the index, as a manifest. */
static int do_referrers(struct session *s, struct json_object *req, struct json_object **extra,
			struct sk_error *err)
{
	char digest[SK_DIGEST_MAX], at[256], got[SK_DIGEST_MAX], *b64 = NULL;
	struct sk_buf body = {0};
	size_t max;
	int ret;

	if (!s->reg)
		return sk_errf(err, -EINVAL, "no registry is open");
	ret = sk_proto_referrers_parse(req, digest, at, &max, err);
	if (!ret)
		ret = sk_registry_referrers(s->reg, s->ref.repo, digest, at[0] ? at : NULL, max,
					    &body, err);
	if (ret < 0)
		return ret;
	*extra = json_object_new_object();
	if (!*extra)
		return sk_errf(err, -ENOMEM, "out of memory");
	json_object_object_add(*extra, "supported", json_object_new_boolean(ret == 1));
	if (ret != 1)
		return 0;
	sk_digest_buf(body.data, body.len, got);
	ret = 0;
	if (body.len <= SK_PROTO_INLINE_MAX) {
		b64 = malloc(4 * ((body.len + 2) / 3) + 1);
		if (!b64)
			ret = sk_errf(err, -ENOMEM, "out of memory");
		else
			EVP_EncodeBlock((unsigned char *)b64, body.data, (int)body.len);
	} else {
		ret = stage(got, body.data, body.len, s, -1, err);
	}
	if (!ret) {
		json_object_object_add(*extra, "digest", json_object_new_string(got));
		json_object_object_add(*extra, "size", json_object_new_int64((int64_t)body.len));
		if (b64)
			json_object_object_add(*extra, "data", json_object_new_string(b64));
	}
	free(b64);
	sk_buf_free(&body);
	return ret;
}

static int do_blob(struct session *s, struct json_object *req, struct sk_error *err)
{
	const char *digest = sk_json_str(req, "digest");
	int64_t size = sk_json_int(req, "size");

	if (!s->reg)
		return sk_errf(err, -EINVAL, "no registry is open");
	if (!digest || !sk_digest_valid(digest) || size < 0 || (uint64_t)size > SK_BLOB_MAX)
		return sk_errf(err, -EINVAL,
			       "blob: a digest and a size within limits are required");
	return stage(digest, NULL, 0, s, size, err);
}

/*
 * Several blobs at once, each through its own temporary name: fetched
 * concurrently, renamed into place only when every one arrived intact.
 */
static int do_blobs(struct session *s, struct json_object *req, struct sk_error *err)
{
	struct sk_proto_blob *items = NULL;
	struct sk_registry_blob *b = NULL;
	struct file_sink *fs = NULL;
	struct sk_sink *sinks = NULL;
	char tmp[128];
	size_t n = 0;
	int dir = -1, ret;

	if (!s->reg)
		return sk_errf(err, -EINVAL, "no registry is open");
	items = calloc(SK_PROTO_BATCH_MAX, sizeof(*items));
	if (!items)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_proto_blobs_parse(req, items, SK_PROTO_BATCH_MAX, &n, err);
	if (ret || !n)
		goto out;
	b = calloc(n, sizeof(*b));
	fs = calloc(n, sizeof(*fs));
	sinks = calloc(n, sizeof(*sinks));
	if (!b || !fs || !sinks) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		fs[i].fd = -1;
	dir = blob_dir(err);
	if (dir < 0) {
		ret = dir;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(tmp, sizeof(tmp), ".part-%s", items[i].digest + 7);
		unlinkat(dir, tmp, 0);
		fs[i].fd =
		    openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fs[i].fd < 0) {
			ret = sk_errf(err, -errno, "staging: cannot create a file: %s",
				      strerror(errno));
			goto out;
		}
		sinks[i] =
		    (struct sk_sink){.write = fsink_write, .reset = fsink_reset, .ctx = &fs[i]};
		b[i].digest = items[i].digest;
		b[i].size = items[i].size;
		b[i].sink = &sinks[i];
	}
	ret = sk_registry_blobs_get(s->reg, s->ref.repo, b, n, err);
	for (size_t i = 0; i < n; i++) {
		if (fs[i].fd >= 0 && close(fs[i].fd) && !ret)
			ret = sk_errf(err, -errno, "staging: write failed: %s", strerror(errno));
		fs[i].fd = -1;
	}
	for (size_t i = 0; !ret && i < n; i++) {
		snprintf(tmp, sizeof(tmp), ".part-%s", items[i].digest + 7);
		if (renameat(dir, tmp, dir, items[i].digest + 7))
			ret = sk_errf(err, -errno, "staging: rename failed: %s", strerror(errno));
	}
out:
	for (size_t i = 0; fs && i < n; i++) {
		if (fs[i].fd >= 0)
			close(fs[i].fd);
		if (ret && dir >= 0) {
			snprintf(tmp, sizeof(tmp), ".part-%s", items[i].digest + 7);
			unlinkat(dir, tmp, 0);
		}
	}
	if (dir >= 0)
		close(dir);
	free(sinks);
	free(fs);
	free(b);
	free(items);
	return ret;
}

int skf_serve(const char *sandbox_desc, const char *ca_cert, bool archive)
{
	struct session s = {.sandbox = sandbox_desc, .ca_cert = ca_cert, .archive = archive};
	int status = 0;

	for (;;) {
		struct json_object *req = NULL, *extra = NULL;
		struct sk_error err = {0};
		const char *op;
		int ret;

		ret = sk_proto_recv(FD_SOCK, &req, &err);
		if (ret == -ECONNRESET)
			break; /* skrun is done with us */
		if (ret) {
			fprintf(stderr, "skrun-fetch: %s\n", err.msg);
			status = 1;
			break;
		}
		op = sk_json_str(req, "op");
		if (!op) {
			ret = sk_errf(&err, -EINVAL, "a request without \"op\"");
		} else if (!strcmp(op, "hello")) {
			extra = json_object_new_object();
			if (extra) {
				json_object_object_add(extra, "v",
						       json_object_new_int(SK_PROTO_VERSION));
				json_object_object_add(extra, "sandbox",
						       json_object_new_string(s.sandbox));
			}
			ret = extra ? 0 : sk_errf(&err, -ENOMEM, "out of memory");
		} else if (!strcmp(op, "open")) {
			ret = do_open(&s, req, &err);
			wipe_string(req, "password");
		} else if (!strcmp(op, "manifest")) {
			ret = do_manifest(&s, req, &extra, &err);
		} else if (!strcmp(op, "blob")) {
			ret = do_blob(&s, req, &err);
		} else if (!strcmp(op, "blobs")) {
			ret = do_blobs(&s, req, &err);
		} else if (!strcmp(op, "referrers")) {
			ret = do_referrers(&s, req, &extra, &err);
		} else if (!strcmp(op, "bye")) {
			json_object_put(req);
			break;
		} else {
			ret = sk_errf(&err, -EINVAL, "unknown request \"%.40s\"", op);
		}
		json_object_put(req);
		if (reply(ret, err.msg, extra, &s)) {
			status = 1;
			break;
		}
	}
	sk_registry_close(s.reg);
	sk_strv_free(&s.insecure);
	sk_strv_free(&s.looked);
	free(s.cred_source);
	if (s.password) {
		explicit_bzero(s.password, strlen(s.password));
		free(s.password);
	}
	free(s.username);
	return status;
}
