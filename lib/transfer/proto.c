/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames between skrun and its fetch helper: a 4-byte big-endian length and
 * one JSON object (parsed with the same limits as any untrusted document).
 * Small on purpose: the helper is the less trusted side, so every reply is
 * bounded before it is read and validated field by field by its reader.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "schedkit/transfer.h"

static int write_all(int fd, const void *data, size_t len, struct sk_error *err)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sk_errf(err, -errno, "fetch helper channel: write failed: %s",
				       strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1: filled, 0: clean end of stream before the first byte, < 0: error. */
static int read_all(int fd, void *data, size_t len, struct sk_error *err)
{
	uint8_t *p = data;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sk_errf(err, -errno, "fetch helper channel: read failed: %s",
				       strerror(errno));
		if (n == 0)
			return got ? sk_errf(err, -EPROTO,
					     "fetch helper channel: a frame was cut short")
				   : 0;
		got += (size_t)n;
	}
	return 1;
}

int sk_proto_send(int fd, struct json_object *msg, struct sk_error *err)
{
	size_t len;
	char *s = sk_json_dump(msg, &len);
	uint8_t hdr[4];
	int ret;

	if (!s)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (len > SK_PROTO_MSG_MAX) {
		free(s);
		return sk_errf(err, -EMSGSIZE, "fetch helper message of %zu bytes is over %u", len,
			       SK_PROTO_MSG_MAX);
	}
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	ret = write_all(fd, hdr, sizeof(hdr), err);
	if (!ret)
		ret = write_all(fd, s, len, err);
	/* frames may carry credentials */
	explicit_bzero(s, len);
	free(s);
	return ret;
}

static size_t frame_len(const uint8_t hdr[4])
{
	return (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
}

int sk_proto_decode(const void *frame, size_t len, struct json_object **msg, struct sk_error *err)
{
	const uint8_t *p = frame;
	size_t n;

	*msg = NULL;
	if (len < 4)
		return sk_errf(err, -EPROTO, "fetch helper frame of %zu bytes has no header", len);
	n = frame_len(p);
	if (n > SK_PROTO_MSG_MAX)
		return sk_errf(err, -EPROTO, "fetch helper frame announces %zu bytes, over %u", n,
			       SK_PROTO_MSG_MAX);
	if (n != len - 4)
		return sk_errf(err, -EPROTO, "fetch helper frame announces %zu bytes, holds %zu", n,
			       len - 4);
	return sk_json_parse(p + 4, n, "fetch helper message", msg, err);
}

int sk_proto_recv(int fd, struct json_object **msg, struct sk_error *err)
{
	uint8_t *buf;
	size_t n;
	int ret;

	*msg = NULL;
	buf = malloc(4 + SK_PROTO_MSG_MAX);
	if (!buf)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = read_all(fd, buf, 4, err);
	if (ret == 0)
		ret = sk_errf(err, -ECONNRESET, "the fetch helper closed its channel");
	if (ret < 0)
		goto out;
	n = frame_len(buf);
	if (n > SK_PROTO_MSG_MAX) {
		ret = sk_errf(err, -EPROTO, "fetch helper frame announces %zu bytes, over %u", n,
			      SK_PROTO_MSG_MAX);
		goto out;
	}
	ret = read_all(fd, buf + 4, n, err);
	if (ret == 0)
		ret = sk_errf(err, -EPROTO, "fetch helper channel: a frame was cut short");
	if (ret < 0)
		goto out;
	ret = sk_proto_decode(buf, 4 + n, msg, err);
out:
	explicit_bzero(buf, 4 + SK_PROTO_MSG_MAX);
	free(buf);
	return ret;
}

int sk_proto_blobs_request(const struct sk_proto_blob *items, size_t n, struct json_object **req,
			   struct sk_error *err)
{
	struct json_object *r = json_object_new_object(), *a = json_object_new_array();
	int ret = 0;

	*req = NULL;
	if (n > SK_PROTO_BATCH_MAX) {
		ret = sk_errf(err, -E2BIG, "%zu blobs in one request, more than the %d allowed", n,
			      SK_PROTO_BATCH_MAX);
		goto fail;
	}
	if (!r || !a)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		if (!o || json_object_array_add(a, o) ||
		    sk_json_add(o, "digest", json_object_new_string(items[i].digest)) ||
		    sk_json_add(o, "size", json_object_new_int64(items[i].size)))
			goto oom;
	}
	if (sk_json_add(r, "op", json_object_new_string("blobs")))
		goto oom;
	ret = sk_json_add(r, "items", a);
	a = NULL;
	if (ret)
		goto oom;
	*req = r;
	return 0;
oom:
	ret = sk_errf(err, -ENOMEM, "out of memory");
fail:
	json_object_put(a);
	json_object_put(r);
	return ret;
}

int sk_proto_blobs_parse(struct json_object *req, struct sk_proto_blob *items, size_t max,
			 size_t *n, struct sk_error *err)
{
	struct json_object *a;
	size_t len;

	*n = 0;
	if (max > SK_PROTO_BATCH_MAX)
		max = SK_PROTO_BATCH_MAX;
	if (!json_object_object_get_ex(req, "items", &a) ||
	    !json_object_is_type(a, json_type_array))
		return sk_errf(err, -EINVAL, "blobs: \"items\" must be an array");
	len = json_object_array_length(a);
	if (len > max)
		return sk_errf(err, -EINVAL, "blobs: %zu items, at most %zu allowed", len, max);
	for (size_t i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(a, i), *sz;
		const char *d =
		    json_object_is_type(o, json_type_object) ? sk_json_str(o, "digest") : NULL;
		int64_t size;

		if (!d || !sk_digest_valid(d))
			return sk_errf(err, -EINVAL, "blobs: item %zu has no valid sha256 digest",
				       i);
		if (!json_object_object_get_ex(o, "size", &sz) ||
		    !json_object_is_type(sz, json_type_int))
			return sk_errf(err, -EINVAL, "blobs: item %zu has no integer size", i);
		size = json_object_get_int64(sz);
		if (size < 0 || (uint64_t)size > SK_BLOB_MAX)
			return sk_errf(err, -EINVAL,
				       "blobs: item %zu: size %lld is beyond the %u bytes allowed",
				       i, (long long)size, SK_BLOB_MAX);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(items[k].digest, d))
				return sk_errf(err, -EINVAL, "blobs: %s is named twice", d);
		snprintf(items[i].digest, sizeof(items[i].digest), "%s", d);
		items[i].size = size;
	}
	*n = len;
	return 0;
}

int sk_proto_referrers_parse(struct json_object *req, char digest[SK_DIGEST_MAX],
			     char artifact_type[256], size_t *max, struct sk_error *err)
{
	const char *d = sk_json_str(req, "digest"), *at = sk_json_str(req, "artifactType");
	int64_t m = sk_json_int(req, "max");

	if (!d || !sk_digest_valid(d))
		return sk_errf(err, -EINVAL, "referrers: no valid sha256 digest");
	if (m <= 0 || (uint64_t)m > SK_MANIFEST_MAX)
		return sk_errf(err, -EINVAL, "referrers: the size limit must be 1 to %u bytes",
			       SK_MANIFEST_MAX);
	artifact_type[0] = '\0';
	if (at) {
		/* RFC 6838 media type characters only: it ends up in a URL */
		if (!*at || strlen(at) >= 256 ||
		    strspn(at, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			       "!#$&^_.+-/") != strlen(at))
			return sk_errf(err, -EINVAL, "referrers: artifactType is not a media type");
		snprintf(artifact_type, 256, "%s", at);
	}
	snprintf(digest, SK_DIGEST_MAX, "%s", d);
	*max = (size_t)m;
	return 0;
}
