/* SPDX-License-Identifier: Apache-2.0 */
/* The client side of the supervisor's control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "commands.h"
#include "skrun.h"

int skr_control_request(const char *request, struct sk_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *path = skr_control_path(skr_state_dir());
	char buf[4096], last[16] = "";
	struct sk_buf line = {0};
	int fd = -1, ret;
	ssize_t n;

	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		ret = sk_errf(err, -ENAMETOOLONG, "state directory path too long");
		goto out;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EACCES)
			ret = sk_errf(err, -EACCES,
				      "permission denied: only root may control skrun (%s is 0600)",
				      path);
		else
			ret =
			    sk_errf(err, -ENOTCONN,
				    "no skrun is supervising a scheduler here (%s: %s); start one "
				    "with `skrun run REF`",
				    path, strerror(errno));
		goto out;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		ret = sk_errf(err, -errno, "sending to %s: %s", path, strerror(errno));
		goto out;
	}
	shutdown(fd, SHUT_WR);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		sk_buf_append(&line, buf, (size_t)n);
	}
	fflush(stdout);
	/* The verdict is the first word of the last line. */
	if (line.data) {
		char *end = (char *)line.data + line.len;

		while (end > (char *)line.data && end[-1] == '\n')
			*--end = '\0';
		char *lastline = strrchr((char *)line.data, '\n');

		snprintf(last, sizeof(last), "%s", lastline ? lastline + 1 : (char *)line.data);
	}
	ret = !strncmp(last, "OK", 2) ? 0 : sk_errf(err, -EIO, "the request failed (see above)");
out:
	if (fd >= 0)
		close(fd);
	free(path);
	sk_buf_free(&line);
	return ret;
}

static int add_field(struct sk_buf *req, const char *key, const char *value, struct sk_error *err)
{
	if (!value || !*value)
		return 0;
	if (strchr(value, '\t') || strchr(value, '\n'))
		return sk_errf(err, -EINVAL, "%s values cannot hold tabs or newlines", key);
	return sk_buf_printf(req, "\t%s=%s", key, value) ? sk_errf(err, -ENOMEM, "out of memory")
							 : 0;
}

int skr_switch_request(struct sk_buf *req, const char *ref, const struct sk_strv *sets,
		       const char *identity, const char *pull, const char *scheduler,
		       const char *mode, struct sk_error *err)
{
	int ret;

	if (strchr(ref, '\t') || strchr(ref, '\n'))
		return sk_errf(err, -EINVAL, "a reference cannot hold tabs or newlines");
	if (sk_buf_printf(req, "switch\t%s", ref))
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = add_field(req, "identity", identity, err);
	if (!ret)
		ret = add_field(req, "pull", pull, err);
	if (!ret)
		ret = add_field(req, "scheduler", scheduler, err);
	if (!ret)
		ret = add_field(req, "mode", mode, err);
	for (size_t i = 0; !ret && sets && i < sets->n; i++)
		ret = add_field(req, "set", sets->v[i], err);
	if (!ret && sk_buf_printf(req, "\n"))
		ret = sk_errf(err, -ENOMEM, "out of memory");
	return ret;
}
