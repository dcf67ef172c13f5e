/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root side of the fetch helper. A session starts skrun-fetch on first
 * use: in a child that drops to the helper's user (no groups, no
 * capabilities, no_new_privs) before it executes the helper, with a minimal
 * environment, a socket for requests (fd 3), the staging directory it may
 * write (fd 4, owned by that user) and, for archives, the archive opened here
 * (fd 5): the helper never needs to open a file of ours. What it stages is
 * read back without following links and checked against its digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "schedkit/transfer.h"

#ifndef SK_LIBEXECDIR
#define SK_LIBEXECDIR "/usr/local/libexec"
#endif

#define NOBODY	   65534
#define FD_SOCK	   3
#define FD_STAGE   4
#define FD_ARCHIVE 5
#define FD_CA	   6

struct sk_fetch {
	enum sk_source_kind kind;
	struct sk_ref ref;
	char *path;		  /* layout directory or archive file */
	struct sk_fetch_opts o;	  /* borrowed from the caller, but for: */
	char *staging_parent;	  /* owned: callers build it in a local buffer */
	struct sk_layout *layout; /* layouts, and archives once extracted into staging */
	pid_t pid;
	int sock;
	char *stage;
	int stage_lock; /* flocked while the session lives: the store's sweeper skips it */
	bool started;
	struct sk_strv staged; /* fetched by a batch, waiting in staging for sk_fetch_blob_fd */
	unsigned requests;
	char report[512];
};

/* ---- finding and starting the helper ---- */

static int find_helper(const struct sk_fetch_opts *o, char out[PATH_MAX], struct sk_error *err)
{
	const char *env = getenv(SK_FETCH_HELPER_ENV);
	char self[PATH_MAX];
	ssize_t n;

	if (o->helper || (env && *env)) {
		snprintf(out, PATH_MAX, "%s", o->helper ? o->helper : env);
		goto check;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(out, PATH_MAX, "%s/%s", dirname(self), SK_FETCH_HELPER_NAME);
		if (!access(out, X_OK))
			return 0;
	}
	snprintf(out, PATH_MAX, "%s/schedkit/%s", SK_LIBEXECDIR, SK_FETCH_HELPER_NAME);
check:
	if (access(out, X_OK))
		return sk_errf(err, -ENOENT,
			       "the fetch helper %s cannot be run (%s): install it with `make "
			       "install`, or name it with $%s",
			       out, strerror(errno), SK_FETCH_HELPER_ENV);
	return 0;
}

/* The unprivileged user: a name, or UID[:GID]; default nobody (65534). */
static int helper_user(const struct sk_fetch_opts *o, uid_t *uid, gid_t *gid, struct sk_error *err)
{
	const char *name = o->user ? o->user : getenv(SK_FETCH_USER_ENV);
	struct passwd pwd, *pw = NULL;
	char pwbuf[4096], *end;

	if (!name || !*name)
		name = "nobody";
	if (getpwnam_r(name, &pwd, pwbuf, sizeof(pwbuf), &pw))
		pw = NULL;
	if (pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else if (!strcmp(name, "nobody")) {
		*uid = NOBODY;
		*gid = NOBODY;
	} else {
		unsigned long u = strtoul(name, &end, 10), g = u;

		if (end == name || (*end && *end != ':'))
			return sk_errf(err, -EINVAL,
				       "fetch helper user \"%s\" does not exist; set $%s to a user "
				       "name or UID[:GID]",
				       name, SK_FETCH_USER_ENV);
		if (*end == ':') {
			const char *gs = end + 1;

			g = strtoul(gs, &end, 10);
			if (end == gs || *end)
				return sk_errf(err, -EINVAL, "fetch helper user \"%s\": bad GID",
					       name);
		}
		*uid = (uid_t)u;
		*gid = (gid_t)g;
	}
	if (*uid == 0 || *gid == 0)
		return sk_errf(err, -EINVAL,
			       "the fetch helper must not run as root (user \"%s\"); set $%s to an "
			       "unprivileged user",
			       name, SK_FETCH_USER_ENV);
	return 0;
}

/* The environment the helper starts with: a path, a locale, and the proxy settings. */
static int helper_env(char *envp[16], char store[][1024])
{
	static const char *const pass[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
					   "HTTPS_PROXY", "no_proxy",	 "NO_PROXY",
					   "all_proxy",	  "ALL_PROXY",	 NULL};
	int n = 0;

	envp[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[n++] = "LC_ALL=C";
	for (size_t i = 0; pass[i]; i++) {
		const char *v = getenv(pass[i]);

		if (v && strlen(pass[i]) + strlen(v) + 2 <= 1024) {
			snprintf(store[n], 1024, "%s=%s", pass[i], v);
			envp[n] = store[n];
			n++;
		}
	}
	envp[n] = NULL;
	return n;
}

/* Moves fd to the number want in the child (after fork: async-signal-safe calls only). */
static int place_fd(int fd, int want)
{
	if (fd == want)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, want) < 0 ? -1 : 0;
}

static void child_fail(const char *what)
{
	const char *e = strerror(errno);

	(void)!write(2, "skrun-fetch: cannot start: ", 27);
	(void)!write(2, what, strlen(what));
	(void)!write(2, ": ", 2);
	(void)!write(2, e, strlen(e));
	(void)!write(2, "\n", 1);
	_exit(127);
}

static void read_status(pid_t pid, char *out, size_t len)
{
	char path[64], line[256], uid[64] = "?", gid[64] = "?", cap[64] = "?", nnp[16] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(out, len, "pid %d (status unreadable)", (int)pid);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Uid:", 4))
			sscanf(line + 4, "%63s", uid);
		else if (!strncmp(line, "Gid:", 4))
			sscanf(line + 4, "%63s", gid);
		else if (!strncmp(line, "CapEff:", 7))
			sscanf(line + 7, "%63s", cap);
		else if (!strncmp(line, "NoNewPrivs:", 11))
			sscanf(line + 11, "%15s", nnp);
	}
	fclose(f);
	snprintf(out, len, "pid %d, uid %s, gid %s, capabilities %s, no_new_privs %s", (int)pid,
		 uid, gid, strspn(cap, "0") == strlen(cap) ? "none" : cap, nnp);
}

/* A reply: ok, or the helper's own error (its message, printable characters only). */
static int reply_ok(struct json_object *r, struct sk_error *err)
{
	struct json_object *ok;
	const char *msg;
	char clean[1024];
	size_t i = 0;
	int code;

	if (json_object_object_get_ex(r, "ok", &ok) && json_object_is_type(ok, json_type_boolean) &&
	    json_object_get_boolean(ok))
		return 0;
	code = (int)sk_json_int(r, "errno");
	if (code <= 0 || code > 4095)
		code = EIO;
	msg = sk_json_str(r, "msg");
	for (const char *p = msg ? msg : "the fetch helper failed"; *p && i < sizeof(clean) - 1;
	     p++)
		clean[i++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	clean[i] = '\0';
	return sk_errf(err, -code, "%s", clean);
}

static int request(struct sk_fetch *f, struct json_object *req, struct json_object **reply,
		   struct sk_error *err)
{
	int ret = sk_proto_send(f->sock, req, err);

	*reply = NULL;
	if (!ret)
		ret = sk_proto_recv(f->sock, reply, err);
	if (!ret) {
		int64_t n = sk_json_int(*reply, "requests");

		if (n > 0 && n < 1000000)
			f->requests = (unsigned)n;
		ret = reply_ok(*reply, err);
		/* staging shares the store's file system: say where the space ran out */
		if (ret == -ENOSPC || ret == -EDQUOT || ret == -EROFS)
			sk_err_prefix(err, "staging %s: ", f->stage ? f->stage : "?");
	}
	return ret;
}

static int spawn(struct sk_fetch *f, struct sk_error *err)
{
	char helper[PATH_MAX], envstore[16][1024], *envp[16];
	const char *parent = f->o.staging_parent ? f->o.staging_parent : getenv("TMPDIR");
	uid_t uid = 0;
	gid_t gid = 0;
	bool root = geteuid() == 0;
	int sv[2] = {-1, -1}, stage_fd = -1, arch_fd = -1, ca_fd = -1, exe_fd = -1, ret;
	char *argv[6];
	int argc = 0;
	pid_t pid, self;

	ret = find_helper(&f->o, helper, err);
	if (!ret && root)
		ret = helper_user(&f->o, &uid, &gid, err);
	if (ret)
		return ret;
	/*
	 * Made under a name the store's sweeper ignores, locked, then renamed:
	 * a "fetch-" directory is always locked by a live session or orphaned.
	 */
	if (asprintf(&f->stage, "%s/.fetchnew-XXXXXX", parent && *parent ? parent : "/tmp") < 0) {
		f->stage = NULL;
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	if (!mkdtemp(f->stage)) {
		ret = sk_errf(err, -errno, "cannot create a staging directory like %s: %s",
			      f->stage, strerror(errno));
		free(f->stage);
		f->stage = NULL;
		return ret;
	}
	f->stage_lock = open(f->stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->stage_lock < 0 || flock(f->stage_lock, LOCK_EX)) {
		ret = sk_errf(err, -errno, "%s: cannot lock the staging directory: %s", f->stage,
			      strerror(errno));
		goto fail;
	}
	{
		char *named = NULL, *base = strrchr(f->stage, '/');

		if (asprintf(&named, "%.*s/fetch-%s", (int)(base - f->stage), f->stage,
			     base + strlen("/.fetchnew-")) < 0) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto fail;
		}
		if (rename(f->stage, named)) {
			ret = sk_errf(err, -errno, "%s: cannot rename the staging directory: %s",
				      f->stage, strerror(errno));
			free(named);
			goto fail;
		}
		free(f->stage);
		f->stage = named;
	}
	if (root && chown(f->stage, uid, gid)) {
		ret = sk_errf(err, -errno, "%s: cannot hand the staging directory to uid %u: %s",
			      f->stage, (unsigned)uid, strerror(errno));
		goto fail;
	}
	stage_fd = open(f->stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (stage_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = sk_errf(err, -errno, "cannot set up the fetch helper: %s", strerror(errno));
		goto fail;
	}
	if (f->kind == SK_SOURCE_ARCHIVE) {
		struct stat st;

		/* opened here, as the user who named it; O_NONBLOCK: a FIFO must not hang us */
		arch_fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (arch_fd < 0 || fstat(arch_fd, &st)) {
			ret = sk_errf(err, -errno, "%s: cannot open the archive: %s", f->path,
				      strerror(errno));
			goto fail;
		}
		if (!S_ISREG(st.st_mode)) {
			ret = sk_errf(err, -EINVAL, "%s is not a regular file (an oci-archive is)",
				      f->path);
			goto fail;
		}
	}
	/*
	 * The helper's user may not be able to reach the files we name (a CA in a
	 * private directory, a build tree under /root): open them here and hand
	 * over fds, and execute the helper from an fd as well.
	 */
	if (f->o.reg.ca_cert) {
		ca_fd = open(f->o.reg.ca_cert, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (ca_fd < 0) {
			ret = sk_errf(err, -errno, "CA certificate file %s: %s", f->o.reg.ca_cert,
				      strerror(errno));
			goto fail;
		}
	}
	exe_fd = open(helper, O_RDONLY | O_CLOEXEC);
	if (exe_fd < 0) {
		ret = sk_errf(err, -errno, "the fetch helper %s: %s", helper, strerror(errno));
		goto fail;
	}
	argv[argc++] = helper;
	if (arch_fd >= 0)
		argv[argc++] = "--archive";
	if (ca_fd >= 0)
		argv[argc++] = "--ca-cert-fd";
	argv[argc] = NULL;
	helper_env(envp, envstore);
	self = getpid();
	pid = fork();
	if (pid < 0) {
		ret = sk_errf(err, -errno, "cannot start the fetch helper: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		int hs = fcntl(sv[1], F_DUPFD_CLOEXEC, 10),
		    hd = fcntl(stage_fd, F_DUPFD_CLOEXEC, 10);
		int ha = arch_fd >= 0 ? fcntl(arch_fd, F_DUPFD_CLOEXEC, 10) : -1;
		int hc = ca_fd >= 0 ? fcntl(ca_fd, F_DUPFD_CLOEXEC, 10) : -1;
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (hs < 0 || hd < 0 || (arch_fd >= 0 && ha < 0) || (ca_fd >= 0 && hc < 0) ||
		    null < 0)
			child_fail("fds");
		if (place_fd(null, 0) || place_fd(null, 1) || place_fd(hs, FD_SOCK) ||
		    place_fd(hd, FD_STAGE) || (ha >= 0 && place_fd(ha, FD_ARCHIVE)) ||
		    (hc >= 0 && place_fd(hc, FD_CA)))
			child_fail("fds");
		if (root) {
			if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
			    setresuid(uid, uid, uid))
				child_fail("dropping privileges");
			if (!getuid() || !geteuid() || setuid(0) != -1)
				child_fail("privileges still held");
		}
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			child_fail("no_new_privs");
		/* after the uid change, which clears it: the helper dies with its parent */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || getppid() != self)
			child_fail("parent gone");
		fexecve(exe_fd, argv, envp);
		child_fail(helper);
	}
	f->pid = pid;
	f->sock = sv[0];
	close(sv[1]);
	close(stage_fd);
	if (arch_fd >= 0)
		close(arch_fd);
	if (ca_fd >= 0)
		close(ca_fd);
	close(exe_fd);
	return 0;
fail:
	if (ca_fd >= 0)
		close(ca_fd);
	if (exe_fd >= 0)
		close(exe_fd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (stage_fd >= 0)
		close(stage_fd);
	if (arch_fd >= 0)
		close(arch_fd);
	sk_rm_rf(f->stage);
	free(f->stage);
	f->stage = NULL;
	return ret;
}

static int add_str(struct json_object *o, const char *k, const char *v)
{
	return v ? sk_json_add(o, k, json_object_new_string(v)) : 0;
}

/* Looks up the credentials here, as this user: the helper never reads our files. */
static int open_registry(struct sk_fetch *f, struct json_object *req, struct sk_error *err)
{
	struct sk_cred c = {0};
	struct sk_strv looked = {0};
	struct json_object *ins = json_object_new_array(), *lk = NULL;
	bool from_file = false;
	int ret;

	if (!ins)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; f->o.reg.insecure && i < f->o.reg.insecure->n; i++)
		json_object_array_add(ins, json_object_new_string(f->o.reg.insecure->v[i]));
	ret = sk_json_add(req, "insecure", ins);
	if (ret)
		return sk_errf(err, ret, "out of memory");
	if (f->o.reg.username) {
		c.username = strdup(f->o.reg.username);
		c.password = strdup(f->o.reg.password ? f->o.reg.password : "");
		if (!c.username || !c.password) {
			sk_cred_clear(&c);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
	} else {
		ret = sk_cred_lookup(f->ref.registry, f->ref.repo, f->o.reg.auth_file, &c, &looked,
				     err);
		if (ret) {
			sk_strv_free(&looked);
			return sk_err_prefix(err,
					     "registry %s: reading credentials: ", f->ref.registry);
		}
		from_file = c.username != NULL;
	}
	/* for the helper's messages: where they came from, or where we looked */
	lk = json_object_new_array();
	for (size_t i = 0; lk && i < looked.n; i++)
		json_object_array_add(lk, json_object_new_string(looked.v[i]));
	ret = add_str(req, "registry", f->ref.registry) || add_str(req, "host", f->ref.host) ||
	      add_str(req, "repo", f->ref.repo) || add_str(req, "username", c.username) ||
	      add_str(req, "password", c.password) ||
	      (from_file && add_str(req, "cred_source", c.source)) ||
	      sk_json_add(req, "looked", lk) ||
	      sk_json_add(req, "verbose", json_object_new_boolean(f->o.reg.verbose));
	sk_strv_free(&looked);
	sk_cred_clear(&c);
	return ret ? sk_errf(err, -ENOMEM, "out of memory") : 0;
}

/* Wipes the credentials out of a request before it is freed. */
static void wipe(struct json_object *req)
{
	struct json_object *v;

	if (json_object_object_get_ex(req, "password", &v)) {
		char *s = (char *)json_object_get_string(v);

		explicit_bzero(s, strlen(s));
	}
	json_object_put(req);
}

static int start(struct sk_fetch *f, struct sk_error *err)
{
	struct json_object *req = NULL, *reply = NULL;
	int ret;

	if (f->started)
		return f->sock >= 0 ? 0 : sk_errf(err, -EPIPE, "the fetch helper is gone");
	f->started = true;
	ret = spawn(f, err);
	if (ret)
		return ret;
	req = json_object_new_object();
	if (!req || sk_json_add(req, "op", json_object_new_string("hello")) ||
	    sk_json_add(req, "v", json_object_new_int(SK_PROTO_VERSION))) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = request(f, req, &reply, err);
	if (ret)
		goto out;
	if (sk_json_int(reply, "v") != SK_PROTO_VERSION) {
		ret = sk_errf(err, -EPROTO,
			      "the fetch helper speaks protocol version %lld, skrun %d: install "
			      "both from the same build",
			      (long long)sk_json_int(reply, "v"), SK_PROTO_VERSION);
		goto out;
	}
	/* what the kernel says about the helper, not what the helper says about itself */
	read_status(f->pid, f->report, sizeof(f->report));
	if (sk_json_str(reply, "sandbox"))
		snprintf(f->report + strlen(f->report), sizeof(f->report) - strlen(f->report),
			 ", sandbox: %.200s", sk_json_str(reply, "sandbox"));
	json_object_put(req);
	json_object_put(reply);
	reply = NULL;
	req = json_object_new_object();
	if (!req || sk_json_add(req, "op", json_object_new_string("open")) ||
	    sk_json_add(
		req, "kind",
		json_object_new_string(f->kind == SK_SOURCE_ARCHIVE ? "archive" : "registry"))) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (f->kind == SK_SOURCE_REGISTRY) {
		ret = open_registry(f, req, err);
		if (ret)
			goto out;
	}
	ret = request(f, req, &reply, err);
	if (!ret && f->kind == SK_SOURCE_ARCHIVE)
		ret = sk_layout_open(f->stage, &f->layout, err);
	if (ret && f->kind == SK_SOURCE_ARCHIVE)
		sk_err_prefix(err, "reading the archive %s: ", f->path);
out:
	if (req)
		wipe(req);
	json_object_put(reply);
	return ret;
}

/* ---- the session ---- */

int sk_fetch_open(const struct sk_source *src, const struct sk_fetch_opts *o, struct sk_fetch **out,
		  struct sk_error *err)
{
	struct sk_fetch *f = calloc(1, sizeof(*f));
	int ret = 0;

	*out = NULL;
	if (!f)
		return sk_errf(err, -ENOMEM, "out of memory");
	f->kind = src->kind;
	f->ref = src->ref;
	f->sock = -1;
	f->pid = -1;
	f->stage_lock = -1;
	if (o)
		f->o = *o;
	if (f->o.staging_parent) {
		f->staging_parent = strdup(f->o.staging_parent);
		if (!f->staging_parent) {
			free(f);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
		f->o.staging_parent = f->staging_parent;
	}
	if (src->path) {
		f->path = strdup(src->path);
		if (!f->path) {
			sk_fetch_close(f);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	if (f->kind == SK_SOURCE_LAYOUT)
		ret = sk_layout_open(f->path, &f->layout, err);
	if (ret) {
		sk_fetch_close(f);
		return ret;
	}
	*out = f;
	return 0;
}

static void stop_helper(struct sk_fetch *f)
{
	int status;

	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
	if (f->pid <= 0)
		return;
	/* it exits when its channel closes; one stuck in a transfer is killed */
	for (int i = 0; i < 200; i++) {
		if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
			f->pid = -1;
			return;
		}
		nanosleep(&(struct timespec){.tv_nsec = 5000000L}, NULL);
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, &status, 0);
	f->pid = -1;
}

void sk_fetch_close(struct sk_fetch *f)
{
	if (!f)
		return;
	stop_helper(f);
	sk_layout_close(f->layout);
	if (f->stage) {
		sk_rm_rf(f->stage);
		free(f->stage);
	}
	sk_strv_free(&f->staged);
	if (f->stage_lock >= 0)
		close(f->stage_lock);
	free(f->staging_parent);
	free(f->path);
	free(f);
}

unsigned sk_fetch_requests(struct sk_fetch *f)
{
	return f->requests;
}

const char *sk_fetch_helper_report(const struct sk_fetch *f)
{
	return f->report[0] ? f->report : NULL;
}

/* An archive is extracted into staging once; from then on it reads like a layout. */
static int need_layout(struct sk_fetch *f, struct sk_error *err)
{
	if (f->layout)
		return 0;
	return start(f, err);
}

static int staged_path(const char *digest, char rel[128], struct sk_error *err)
{
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EPROTO, "the fetch helper named \"%.80s\", not a digest",
			       digest ? digest : "(none)");
	snprintf(rel, 128, "blobs/sha256/%s", digest + 7);
	return 0;
}

/* A manifest the helper sent in its reply: base64, exactly "size" bytes once decoded. */
static int inline_bytes(struct json_object *reply, size_t max, uint8_t **data, size_t *len,
			struct sk_error *err)
{
	const char *b64 = sk_json_str(reply, "data");
	int64_t size = sk_json_int(reply, "size");
	size_t n = strlen(b64);
	uint8_t *buf;
	int got;

	if (size < 0 || (uint64_t)size > max || size > SK_PROTO_INLINE_MAX || n % 4 ||
	    n != 4 * (((size_t)size + 2) / 3))
		return sk_errf(err, -EPROTO, "the fetch helper sent a malformed manifest");
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return sk_errf(err, -ENOMEM, "out of memory");
	got = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (got < 0 || (size_t)got < (size_t)size) {
		free(buf);
		return sk_errf(err, -EPROTO, "the fetch helper sent a malformed manifest");
	}
	buf[size] = '\0';
	*data = buf;
	*len = (size_t)size;
	return 0;
}

int sk_fetch_manifest(struct sk_fetch *f, const char *reference, size_t max, struct sk_buf *body,
		      struct sk_descriptor *desc, struct sk_error *err)
{
	struct json_object *req = NULL, *reply = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	char rel[128];
	int ret;

	memset(desc, 0, sizeof(*desc));
	memset(body, 0, sizeof(*body));
	if (f->kind != SK_SOURCE_REGISTRY) {
		ret = need_layout(f, err);
		if (ret)
			return ret;
		if (reference && sk_digest_valid(reference)) {
			snprintf(desc->digest, sizeof(desc->digest), "%s", reference);
			desc->size = -1;
		} else {
			ret = sk_layout_resolve_artifact(f->layout, reference, desc, err);
			if (ret)
				return ret;
		}
		ret =
		    sk_layout_get_blob(f->layout, desc->digest, desc->size, max, &data, &len, err);
		if (ret)
			return ret;
		desc->size = (int64_t)len;
		goto done;
	}
	if (!reference)
		return sk_errf(err, -EINVAL, "a registry manifest needs a tag or digest");
	ret = start(f, err);
	if (ret)
		return ret;
	req = json_object_new_object();
	if (!req || sk_json_add(req, "op", json_object_new_string("manifest")) ||
	    sk_json_add(req, "reference", json_object_new_string(reference)) ||
	    sk_json_add(req, "max", json_object_new_int64((int64_t)max))) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = request(f, req, &reply, err);
	if (ret)
		goto out;
	ret = staged_path(sk_json_str(reply, "digest"), rel, err);
	if (ret)
		goto out;
	snprintf(desc->digest, sizeof(desc->digest), "%s", sk_json_str(reply, "digest"));
	snprintf(desc->media_type, sizeof(desc->media_type), "%s",
		 sk_json_str(reply, "mediaType") ? sk_json_str(reply, "mediaType") : "");
	if (sk_json_str(reply, "data"))
		ret = inline_bytes(reply, max, &data, &len, err);
	else
		ret = sk_read_beneath(f->stage, rel, max, &data, &len, err);
	if (!ret)
		ret = sk_digest_check(data, len, desc->digest, "a staged manifest", err);
	if (!ret && sk_digest_valid(reference) && strcmp(reference, desc->digest))
		ret = sk_errf(err, -EBADMSG, "asked for manifest %s, the registry served %s",
			      reference, desc->digest);
	sk_fetch_release(f, desc->digest);
	if (ret)
		goto out;
	desc->size = (int64_t)len;
done:
	body->data = data;
	body->len = len;
	body->cap = len + 1;
	data = NULL;
	ret = 0;
out:
	free(data);
	json_object_put(req);
	json_object_put(reply);
	return ret;
}

int sk_fetch_referrers(struct sk_fetch *f, const char *digest, const char *artifact_type,
		       size_t max, struct sk_buf *body, bool *supported, struct sk_error *err)
{
	struct json_object *req = NULL, *reply = NULL, *sup;
	uint8_t *data = NULL;
	size_t len = 0;
	char rel[128];
	int ret;

	memset(body, 0, sizeof(*body));
	*supported = false;
	if (f->kind != SK_SOURCE_REGISTRY)
		return 0;
	ret = start(f, err);
	if (ret)
		return ret;
	req = json_object_new_object();
	if (!req || sk_json_add(req, "op", json_object_new_string("referrers")) ||
	    sk_json_add(req, "digest", json_object_new_string(digest)) ||
	    (artifact_type &&
	     sk_json_add(req, "artifactType", json_object_new_string(artifact_type))) ||
	    sk_json_add(req, "max", json_object_new_int64((int64_t)max))) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	ret = request(f, req, &reply, err);
	if (ret)
		goto out;
	if (!json_object_object_get_ex(reply, "supported", &sup) ||
	    !json_object_is_type(sup, json_type_boolean)) {
		ret = sk_errf(err, -EPROTO,
			      "the fetch helper's referrers reply has no \"supported\"");
		goto out;
	}
	if (!json_object_get_boolean(sup))
		goto out;
	/* the list itself is a hint: every manifest it names is fetched by digest and checked */
	ret = staged_path(sk_json_str(reply, "digest"), rel, err);
	if (!ret && sk_json_str(reply, "data"))
		ret = inline_bytes(reply, max, &data, &len, err);
	else if (!ret)
		ret = sk_read_beneath(f->stage, rel, max, &data, &len, err);
	if (!ret)
		ret = sk_digest_check(data, len, sk_json_str(reply, "digest"), "a referrers list",
				      err);
	sk_fetch_release(f, sk_json_str(reply, "digest"));
	if (ret)
		goto out;
	body->data = data;
	body->len = len;
	body->cap = len + 1;
	data = NULL;
	*supported = true;
out:
	free(data);
	json_object_put(req);
	json_object_put(reply);
	return ret;
}

int sk_fetch_blob_fd(struct sk_fetch *f, const char *digest, int64_t size, int *fd,
		     struct sk_error *err)
{
	struct json_object *req = NULL, *reply = NULL;
	char rel[128];
	int ret;

	*fd = -1;
	ret = staged_path(digest, rel, err);
	if (ret)
		return ret;
	if (f->kind != SK_SOURCE_REGISTRY) {
		ret = need_layout(f, err);
		if (ret)
			return ret;
		ret = sk_open_beneath(sk_layout_dir(f->layout), rel, err);
		if (ret == -ENOENT)
			ret = sk_errf(err, -ENOENT, "%s holds no blob %s: it is incomplete",
				      f->path, digest);
	} else if (sk_strv_contains(&f->staged, digest) &&
		   (ret = sk_open_beneath(f->stage, rel, err)) != -ENOENT) {
		/* fetched by sk_fetch_blobs (or failed to open for another reason) */
	} else {
		ret = start(f, err);
		if (ret)
			return ret;
		req = json_object_new_object();
		if (!req || sk_json_add(req, "op", json_object_new_string("blob")) ||
		    sk_json_add(req, "digest", json_object_new_string(digest)) ||
		    sk_json_add(req, "size", json_object_new_int64(size))) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		ret = request(f, req, &reply, err);
		if (!ret)
			ret = sk_open_beneath(f->stage, rel, err);
	}
	if (ret >= 0) {
		*fd = ret;
		ret = 0;
	}
out:
	json_object_put(req);
	json_object_put(reply);
	return ret;
}

int sk_fetch_blobs(struct sk_fetch *f, const struct sk_descriptor *d, size_t n,
		   struct sk_error *err)
{
	struct sk_proto_blob *items = NULL;
	struct json_object *req = NULL, *reply = NULL;
	size_t k = 0;
	int ret;

	if (f->kind != SK_SOURCE_REGISTRY || !n)
		return 0;
	if (n > SK_PROTO_BATCH_MAX)
		return sk_errf(err, -E2BIG, "%zu blobs at once, more than the %d allowed", n,
			       SK_PROTO_BATCH_MAX);
	items = calloc(n, sizeof(*items));
	if (!items)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		bool dup = sk_strv_contains(&f->staged, d[i].digest);

		if (!sk_digest_valid(d[i].digest) || d[i].size < 0 ||
		    (uint64_t)d[i].size > SK_BLOB_MAX) {
			ret = sk_errf(err, -EINVAL, "blob %s: not a digest or size to fetch",
				      d[i].digest);
			goto out;
		}
		for (size_t j = 0; j < k && !dup; j++)
			dup = !strcmp(items[j].digest, d[i].digest);
		if (dup)
			continue;
		snprintf(items[k].digest, sizeof(items[k].digest), "%s", d[i].digest);
		items[k++].size = d[i].size;
	}
	ret = start(f, err);
	if (!ret)
		ret = sk_proto_blobs_request(items, k, &req, err);
	if (!ret)
		ret = request(f, req, &reply, err);
	for (size_t i = 0; !ret && i < k; i++)
		if (sk_strv_push(&f->staged, items[i].digest))
			ret = sk_errf(err, -ENOMEM, "out of memory");
out:
	json_object_put(req);
	json_object_put(reply);
	free(items);
	return ret;
}

int sk_fetch_blob(struct sk_fetch *f, const char *digest, int64_t size, size_t max,
		  struct sk_buf *out, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	if (size < 0 || (uint64_t)size > max)
		return sk_errf(err, -EFBIG, "blob %s: %lld bytes, more than the %zu allowed",
			       digest, (long long)size, max);
	ret = sk_fetch_blob_fd(f, digest, size, &fd, err);
	if (ret)
		return ret;
	ret = sk_read_fd(fd, digest, max, &data, &len, err);
	close(fd);
	sk_fetch_release(f, digest);
	if (!ret && (int64_t)len != size)
		ret = sk_errf(err, -EBADMSG, "blob %s: %zu bytes, its descriptor says %lld", digest,
			      len, (long long)size);
	if (!ret)
		ret = sk_digest_check(data, len, digest, "a fetched blob", err);
	if (ret) {
		free(data);
		return ret;
	}
	out->data = data;
	out->len = len;
	out->cap = len + 1;
	return 0;
}

void sk_fetch_release(struct sk_fetch *f, const char *digest)
{
	int dfd = -1, b = -1, sha = -1;

	if (f->kind != SK_SOURCE_REGISTRY || !f->stage || !sk_digest_valid(digest))
		return;
	/* the helper owns staging: never follow what it may have put there */
	dfd = open(f->stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd >= 0)
		b = openat(dfd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (b >= 0)
		sha = openat(b, "sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (sha >= 0)
		unlinkat(sha, digest + 7, 0);
	if (sha >= 0)
		close(sha);
	if (b >= 0)
		close(b);
	if (dfd >= 0)
		close(dfd);
}
