/* SPDX-License-Identifier: Apache-2.0 */
/* /run/schedkit: one supervisor per host (a lock), what it runs (state.json). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "skrun.h"

const char *skr_state_dir(void)
{
	const char *env = getenv("SKRUN_STATE_DIR");

	return env && *env ? env : SKRUN_STATE_DEFAULT;
}

char *skr_control_path(const char *dir)
{
	return sk_path_join(dir, "control.sock");
}

int skr_state_lock(struct skr_state *st, struct sk_error *err)
{
	char *path;
	int fd, pid;

	if (sk_mkdir_p(st->dir, 0755, err))
		return err ? err->code : -EIO;
	path = sk_path_join(st->dir, "lock");
	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int ret = -errno;

		free(path);
		return sk_errf(err, ret, "%s/lock: %s", st->dir, strerror(-ret));
	}
	free(path);
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		pid = skr_state_pid(st->dir);
		if (pid)
			return sk_errf(err, -EBUSY,
				       "skrun is already supervising a scheduler on this host "
				       "(pid %d); use `skrun switch REF` to replace it or "
				       "`skrun stop` first",
				       pid);
		return sk_errf(err, -EBUSY,
			       "another skrun holds %s/lock; use `skrun switch` or `skrun stop`",
			       st->dir);
	}
	st->lock_fd = fd;
	return 0;
}

void skr_state_unlock(struct skr_state *st)
{
	if (st->lock_fd > 0) {
		close(st->lock_fd);
		st->lock_fd = -1;
	}
}

static void iso8601(time_t t, char *buf, size_t sz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What runs with which tunables, identity and mode, and what would take over. */
static void add_target(struct json_object *o, const struct skr_status *s)
{
	const struct skr_target *t = s->target, *f = s->fallback;
	struct json_object *tun = json_object_new_object();

	for (size_t i = 0; t && tun && i < t->sets.n; i++) {
		const char *eq = strchr(t->sets.v[i], '=');
		char name[256];

		if (!eq)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - t->sets.v[i]), t->sets.v[i]);
		json_object_object_add(tun, name, json_object_new_string(eq + 1));
	}
	json_object_object_add(o, "tunables", tun);
	if (t && t->identity[0])
		json_object_object_add(o, "identity", json_object_new_string(t->identity));
	if (t && t->scheduler[0])
		json_object_object_add(o, "scheduler", json_object_new_string(t->scheduler));
	if (t && t->mode[0])
		json_object_object_add(o, "mode", json_object_new_string(t->mode));
	if (s->pull)
		json_object_object_add(o, "pull", json_object_new_string(s->pull));
	if (f) {
		struct json_object *fo = json_object_new_object();

		json_object_object_add(fo, "ref", json_object_new_string(f->ref));
		json_object_object_add(fo, "digest", json_object_new_string(f->digest));
		if (f->identity[0])
			json_object_object_add(fo, "identity", json_object_new_string(f->identity));
		json_object_object_add(o, "fallbackTarget", fo);
	}
}

int skr_state_write(const struct skr_state *st, const struct skr_status *s, struct sk_error *err)
{
	struct json_object *o = json_object_new_object(), *e;
	char when[64], *path = sk_path_join(st->dir, "state.json"), *txt;
	size_t len;
	int ret;

	json_object_object_add(o, "status", json_object_new_string(s->status));
	/* a stopped or failed skrun is about to exit: its pid would soon name another process */
	json_object_object_add(
	    o, "pid",
	    json_object_new_int(
		!strcmp(s->status, "stopped") || !strcmp(s->status, "failed") ? 0 : getpid()));
	json_object_object_add(o, "ref", json_object_new_string(s->ref ? s->ref : ""));
	json_object_object_add(o, "digest", json_object_new_string(s->digest ? s->digest : ""));
	json_object_object_add(o, "name", json_object_new_string(s->name ? s->name : ""));
	json_object_object_add(o, "verified", json_object_new_boolean(s->verified));
	json_object_object_add(o, "fallback", json_object_new_boolean(s->on_fallback));
	iso8601(s->since, when, sizeof(when));
	json_object_object_add(o, "since", json_object_new_string(when));
	json_object_object_add(o, "restarts", json_object_new_int(s->restarts));
	add_target(o, s);
	if (s->error)
		json_object_object_add(o, "error", json_object_new_string(s->error));
	if (s->agent)
		json_object_object_add(o, "agent", json_object_get(s->agent));
	if (s->have_exit) {
		e = json_object_new_object();
		json_object_object_add(e, "kind", json_object_new_int(s->last_exit.kind));
		json_object_object_add(e, "kindName",
				       json_object_new_string(sk_exit_kind_str(s->last_exit.kind)));
		json_object_object_add(e, "exitCode",
				       json_object_new_int64(s->last_exit.exit_code));
		json_object_object_add(e, "reason", json_object_new_string(s->last_exit.reason));
		json_object_object_add(e, "message", json_object_new_string(s->last_exit.msg));
		json_object_object_add(
		    e, "restartRequested",
		    json_object_new_boolean(!!(s->last_exit.exit_code & (1LL << 48))));
		iso8601(s->last_exit_at, when, sizeof(when));
		json_object_object_add(e, "at", json_object_new_string(when));
		json_object_object_add(o, "lastExit", e);
	}
	txt = sk_json_dump(o, &len);
	ret = txt && path ? sk_write_file_atomic(path, txt, len, 0644, err)
			  : sk_errf(err, -ENOMEM, "out of memory");
	free(txt);
	free(path);
	json_object_put(o);
	return ret;
}

int skr_state_read(const char *dir, struct json_object **out, struct sk_error *err)
{
	char *path = sk_path_join(dir, "state.json");
	uint8_t *data = NULL;
	size_t len;
	int ret;

	if (!path)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = sk_read_file(path, 1 << 20, &data, &len, err);
	if (!ret)
		ret = sk_json_parse(data, len, path, out, err);
	free(data);
	free(path);
	return ret;
}

bool skr_pid_alive(int pid)
{
	char path[64], buf[256], *close_paren;
	FILE *f;
	bool zombie = false;

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		return false;
	/* an exited child its parent has not waited for yet is no supervisor */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')) &&
		    close_paren[1] == ' ')
			zombie = close_paren[2] == 'Z' || close_paren[2] == 'X';
		fclose(f);
	}
	return !zombie;
}

int skr_state_pid(const char *dir)
{
	struct json_object *o = NULL;
	int pid = 0;

	if (skr_state_read(dir, &o, NULL))
		return 0;
	pid = (int)sk_json_int(o, "pid");
	json_object_put(o);
	return skr_pid_alive(pid) ? pid : 0;
}

void skr_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0) {
		/* systemd will time the unit out and say so; nothing better to do here */
	}
	close(fd);
}

void skr_state_record_failure(const char *ref, const char *why)
{
	struct skr_state st = {.lock_fd = -1};
	struct skr_status s = {
	    .status = "failed",
	    .ref = ref,
	    .since = time(NULL),
	    .error = why,
	};
	char *path;
	int fd;

	snprintf(st.dir, sizeof(st.dir), "%s", skr_state_dir());
	path = sk_path_join(st.dir, "lock");
	if (!path)
		return;
	/* no lock file: no supervisor ever ran here; otherwise only if none runs now */
	fd = open(path, O_RDWR | O_CLOEXEC);
	free(path);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return;
	}
	if (fd < 0 && sk_mkdir_p(st.dir, 0755, NULL))
		return;
	/* a record that stays stale is the one thing worse than none */
	skr_state_write(&st, &s, NULL);
	if (fd >= 0)
		close(fd);
}
