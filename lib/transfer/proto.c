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
