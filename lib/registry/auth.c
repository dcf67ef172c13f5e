/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials where users already keep them (Docker's config.json, containers'
 * auth.json, docker-credential-* helpers) and WWW-Authenticate challenges.
 * Nothing here ever puts a secret into an error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "schedkit/registry.h"

#define AUTH_FILE_MAX  (1u << 20)
#define HELPER_OUT_MAX (64u << 10)

extern char **environ;

static void free_secret(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void sk_cred_clear(struct sk_cred *c)
{
	free_secret(c->username);
	free_secret(c->password);
	c->username = NULL;
	c->password = NULL;
	c->source[0] = '\0';
}

/* Docker Hub goes by several names in auth files. */
static const char *canonical_host(const char *h)
{
	if (!strcmp(h, "index.docker.io") || !strcmp(h, "registry-1.docker.io") ||
	    !strcmp(h, "docker.io"))
		return SK_DOCKER_HUB;
	return h;
}

/*
 * Splits an auths key into host and path: "https://index.docker.io/v1/" ->
 * ("docker.io", ""), "quay.io/org/repo" -> ("quay.io", "org/repo"). URL-style
 * keys are Docker's and never carry a repository path.
 */
static void split_key(const char *key, char *host, size_t hlen, const char **path)
{
	bool url = false;
	const char *slash;

	if (!strncmp(key, "https://", 8)) {
		key += 8;
		url = true;
	} else if (!strncmp(key, "http://", 7)) {
		key += 7;
		url = true;
	}
	char raw[SK_REF_REGISTRY_MAX];

	slash = strchr(key, '/');
	snprintf(raw, sizeof(raw), "%.*s", slash ? (int)(slash - key) : (int)strlen(key), key);
	snprintf(host, hlen, "%s", canonical_host(raw));
	*path = (slash && !url) ? slash + 1 : "";
}

/* Length of the matching repository prefix, or -1 when key is not for this repo. */
static int key_match(const char *key, const char *registry, const char *repo)
{
	char host[SK_REF_REGISTRY_MAX];
	const char *path;
	size_t plen;

	split_key(key, host, sizeof(host), &path);
	if (strcmp(host, canonical_host(registry)))
		return -1;
	plen = strlen(path);
	while (plen && path[plen - 1] == '/')
		plen--;
	if (!plen)
		return 0;
	if (!repo || strncmp(repo, path, plen) || (repo[plen] != '\0' && repo[plen] != '/'))
		return -1;
	return (int)plen;
}

static int b64_decode_auth(const char *b64, struct sk_cred *c, const char *path,
			   struct sk_error *err)
{
	size_t len = strlen(b64), pad = 0;
	unsigned char *out;
	char *colon;
	int n;

	if (!len || len % 4)
		return sk_errf(err, -EINVAL, "%s: an 'auth' entry is not valid base64", path);
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return sk_errf(err, -ENOMEM, "out of memory");
	n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		free(out);
		return sk_errf(err, -EINVAL, "%s: an 'auth' entry is not valid base64", path);
	}
	/* EVP_DecodeBlock counts '=' padding as zero bytes */
	while (pad < 2 && len > pad && b64[len - 1 - pad] == '=')
		pad++;
	n -= (int)pad;
	out[n] = '\0';
	colon = memchr(out, ':', (size_t)n);
	if (!colon || colon == (char *)out) {
		OPENSSL_cleanse(out, (size_t)n);
		free(out);
		return sk_errf(err, -EINVAL, "%s: an 'auth' entry does not decode to USER:PASSWORD",
			       path);
	}
	*colon = '\0';
	c->username = strdup((char *)out);
	c->password = strdup(colon + 1);
	OPENSSL_cleanse(out, (size_t)n);
	free(out);
	if (!c->username || !c->password) {
		sk_cred_clear(c);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int sk_cred_parse(const char *json, size_t len, const char *path, const char *registry,
		  const char *repo, struct sk_cred *c, char **helper, struct sk_error *err)
{
	struct json_object *root = NULL, *auths, *helpers, *best = NULL, *v;
	const char *store;
	int best_len = -1, ret = 0;

	*helper = NULL;
	ret = sk_json_parse(json, len, path, &root, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(root, "credHelpers", &helpers) &&
	    json_object_is_type(helpers, json_type_object)) {
		json_object_object_foreach(helpers, key, val)
		{
			if (key_match(key, registry, NULL) == 0 &&
			    json_object_is_type(val, json_type_string)) {
				*helper = strdup(json_object_get_string(val));
				ret = *helper ? 1 : sk_errf(err, -ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	if (json_object_object_get_ex(root, "auths", &auths) &&
	    json_object_is_type(auths, json_type_object)) {
		json_object_object_foreach(auths, key, val)
		{
			int m = key_match(key, registry, repo);

			if (m > best_len && json_object_is_type(val, json_type_object)) {
				best = val;
				best_len = m;
			}
		}
	}
	store = sk_json_str(root, "credsStore");
	if (store && *store && !best) {
		*helper = strdup(store);
		ret = *helper ? 1 : sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (!best)
		goto out;
	if (json_object_object_get_ex(best, "auth", &v) &&
	    json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
		ret = b64_decode_auth(json_object_get_string(v), c, path, err);
	} else if (sk_json_str(best, "username") && sk_json_str(best, "password")) {
		c->username = strdup(sk_json_str(best, "username"));
		c->password = strdup(sk_json_str(best, "password"));
		if (!c->username || !c->password) {
			sk_cred_clear(c);
			ret = sk_errf(err, -ENOMEM, "out of memory");
		}
	} else if (sk_json_str(best, "identitytoken")) {
		ret = sk_errf(err, -ENOTSUP,
			      "%s: the entry for %s holds an identity token, which is not "
			      "supported; log in with a user name and password",
			      path, registry);
	} else if (store && *store) {
		/* an empty placeholder entry: the secret lives in the store helper */
		*helper = strdup(store);
		ret = *helper ? 1 : sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	} else {
		goto out;
	}
	if (!ret) {
		snprintf(c->source, sizeof(c->source), "%s", path);
		ret = 1;
	}
out:
	json_object_put(root);
	return ret;
}

/* The server URL Docker passes to helpers for this registry. */
static const char *helper_server(const char *registry)
{
	return strcmp(canonical_host(registry), SK_DOCKER_HUB) ? registry
							       : "https://index.docker.io/v1/";
}

int sk_cred_helper_get(const char *helper, const char *registry, struct sk_cred *c,
		       struct sk_error *err)
{
	char prog[256], *argv[3];
	posix_spawn_file_actions_t fa;
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	struct sk_buf buf = {0};
	struct json_object *j = NULL;
	const char *server = helper_server(registry);
	int status, ret = 0, rc;
	pid_t pid;

	for (const char *p = helper; *p; p++)
		if (*p == '/' || *p == ' ')
			return sk_errf(err, -EINVAL, "credential helper name '%s' is not valid",
				       helper);
	snprintf(prog, sizeof(prog), "docker-credential-%s", helper);
	argv[0] = prog;
	argv[1] = "get";
	argv[2] = NULL;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		ret = sk_errf(err, -errno, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (rc) {
		ret = sk_errf(err, -rc, "cannot run credential helper %s: %s", prog, strerror(rc));
		goto out;
	}
	{
		/* the helper may exit without reading: do not die of SIGPIPE */
		struct sigaction ign = {.sa_handler = SIG_IGN}, old;

		sigaction(SIGPIPE, &ign, &old);
		if (write(in[1], server, strlen(server)) < 0 && errno != EPIPE)
			ret = -errno;
		sigaction(SIGPIPE, &old, NULL);
	}
	close(in[1]);
	in[1] = -1;
	for (;;) {
		char chunk[4096];
		ssize_t n = read(out[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf.len + (size_t)n > HELPER_OUT_MAX || sk_buf_append(&buf, chunk, (size_t)n)) {
			ret = -EFBIG;
			break;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret) {
		ret = sk_errf(err, ret, "credential helper %s: could not talk to it", prog);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		/* "credentials not found" is an ordinary miss: anonymous access */
		if (buf.data && strstr((char *)buf.data, "not found"))
			goto out;
		ret = sk_errf(err, -EACCES, "credential helper %s failed for %s (exit status %d)",
			      prog, registry, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto out;
	}
	if (sk_json_parse(buf.data ? buf.data : (uint8_t *)"", buf.len, prog, &j, err)) {
		ret = sk_errf(err, -EINVAL, "credential helper %s: its answer is not JSON", prog);
		goto out;
	}
	if (!sk_json_str(j, "Username") || !sk_json_str(j, "Secret")) {
		ret = sk_errf(err, -EINVAL, "credential helper %s: answer lacks Username/Secret",
			      prog);
		goto out;
	}
	if (!strcmp(sk_json_str(j, "Username"), "<token>")) {
		ret = sk_errf(err, -ENOTSUP,
			      "credential helper %s holds an identity token for %s, which is not "
			      "supported",
			      prog, registry);
		goto out;
	}
	c->username = strdup(sk_json_str(j, "Username"));
	c->password = strdup(sk_json_str(j, "Secret"));
	if (!c->username || !c->password) {
		sk_cred_clear(c);
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(c->source, sizeof(c->source), "%s", prog);
out:
	if (j)
		json_object_put(j);
	if (buf.data)
		OPENSSL_cleanse(buf.data, buf.len);
	sk_buf_free(&buf);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return ret;
}

static int path_push(struct sk_strv *v, const char *a, const char *b)
{
	char *p;
	int ret;

	if (!a || !*a)
		return 0;
	p = b ? sk_path_join(a, b) : strdup(a);
	if (!p)
		return -ENOMEM;
	ret = sk_strv_push(v, p);
	free(p);
	return ret;
}

/*
 * Reads one auth file. explicit: the user named it (--authfile), so it is read
 * as given, symlinks included. Otherwise the path came from the environment
 * (HOME, XDG_RUNTIME_DIR, DOCKER_CONFIG, REGISTRY_AUTH_FILE), which root may
 * have inherited from anyone (sudo -E, a unit's Environment=): as root such a
 * file is read only when it is root's own, not a symlink, and not writable by
 * others. A file passed over is not an error: *skipped says why (and *data
 * stays NULL). Only regular files are read: a FIFO would hang the read.
 * 1: read, 0: absent or skipped.
 */
static int read_auth_file(const char *path, bool explicit, uint8_t **data, size_t *len,
			  char *skipped, size_t skipped_len, struct sk_error *err)
{
	bool guard = !explicit && geteuid() == 0;
	int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (guard ? O_NOFOLLOW : 0);
	struct sk_buf b = {0};
	struct stat st;
	int fd, ret = 0;

	*data = NULL;
	skipped[0] = '\0';
	fd = open(path, flags);
	if (fd < 0) {
		if (errno == ENOENT && !explicit)
			return 0;
		if (errno == ENOENT)
			return sk_errf(err, -ENOENT, "auth file %s does not exist", path);
		if (errno == ELOOP && guard) {
			snprintf(skipped, skipped_len, "a symbolic link");
			return 0;
		}
		return sk_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	}
	if (fstat(fd, &st)) {
		ret = sk_errf(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		if (explicit) {
			ret = sk_errf(err, -EINVAL, "auth file %s is not a regular file", path);
			goto out;
		}
		snprintf(skipped, skipped_len, "not a regular file");
		goto out;
	}
	if (guard && st.st_uid != 0) {
		snprintf(skipped, skipped_len,
			 "owned by uid %u, not root; pass it with --authfile "
			 "if it is meant",
			 (unsigned)st.st_uid);
		goto out;
	}
	if (guard && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(skipped, skipped_len, "writable by group or others (mode %04o)",
			 (unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		uint8_t chunk[8192];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sk_errf(err, -errno, "%s: read failed: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > AUTH_FILE_MAX) {
			ret = sk_errf(err, -EFBIG, "%s: larger than the %u bytes allowed", path,
				      AUTH_FILE_MAX);
			goto out;
		}
		if (sk_buf_append(&b, chunk, (size_t)n)) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		OPENSSL_cleanse(chunk, (size_t)n);
	}
	if (!b.data && sk_buf_append(&b, "", 0)) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	*data = b.data;
	*len = b.len;
	b.data = NULL;
	ret = 1;
out:
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	sk_buf_free(&b);
	close(fd);
	return ret;
}

static int search_path(const char *auth_file, struct sk_strv *files)
{
	const char *home = getenv("HOME");
	const char *docker_config = getenv("DOCKER_CONFIG");
	int ret = 0;

	if (auth_file)
		return path_push(files, auth_file, NULL);
	ret |= path_push(files, getenv("REGISTRY_AUTH_FILE"), NULL);
	ret |= path_push(files, getenv("XDG_RUNTIME_DIR"), "containers/auth.json");
	ret |= path_push(files, home, ".config/containers/auth.json");
	if (docker_config && *docker_config)
		ret |= path_push(files, docker_config, "config.json");
	else
		ret |= path_push(files, home, ".docker/config.json");
	return ret ? -ENOMEM : 0;
}

int sk_cred_lookup(const char *registry, const char *repo, const char *auth_file, struct sk_cred *c,
		   struct sk_strv *looked, struct sk_error *err)
{
	struct sk_strv files = {0};
	int ret = 0;

	memset(c, 0, sizeof(*c));
	if (search_path(auth_file, &files)) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < files.n; i++) {
		uint8_t *data = NULL;
		char *helper = NULL, skipped[128];
		size_t len = 0;

		ret = read_auth_file(files.v[i], auth_file != NULL, &data, &len, skipped,
				     sizeof(skipped), err);
		if (looked) {
			char *entry = NULL;

			/* the "no credentials" message tells which files were passed over */
			if (skipped[0] &&
			    asprintf(&entry, "%s (skipped: %s)", files.v[i], skipped) < 0)
				entry = NULL;
			sk_strv_push(looked, entry ? entry : files.v[i]);
			free(entry);
		}
		if (ret < 0)
			goto out;
		if (ret == 0)
			continue;
		ret = sk_cred_parse((char *)data, len, files.v[i], registry, repo, c, &helper, err);
		OPENSSL_cleanse(data, len);
		free(data);
		if (ret < 0)
			goto out;
		if (ret == 0)
			continue;
		ret = 0;
		if (helper) {
			ret = sk_cred_helper_get(helper, registry, c, err);
			free(helper);
			if (ret || c->username)
				goto out;
			continue;
		}
		goto out;
	}
out:
	sk_strv_free(&files);
	return ret;
}

char *sk_cred_store_path(const char *auth_file)
{
	const char *home = getenv("HOME");
	const char *auth_env = getenv("REGISTRY_AUTH_FILE");
	const char *docker_config = getenv("DOCKER_CONFIG");

	if (auth_file)
		return strdup(auth_file);
	if (auth_env && *auth_env)
		return strdup(auth_env);
	if (docker_config && *docker_config)
		return sk_path_join(docker_config, "config.json");
	return sk_path_join(home && *home ? home : "/root", ".docker/config.json");
}

static int load_for_update(const char *path, struct json_object **root, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len;
	char skipped[128];
	int ret;

	/* the file login writes: read as given, but never a FIFO to hang on */
	ret = read_auth_file(path, true, &data, &len, skipped, sizeof(skipped), err);
	if (ret == -ENOENT) {
		*root = json_object_new_object();
		return *root ? 0 : sk_errf(err, -ENOMEM, "out of memory");
	}
	if (ret < 0)
		return ret;
	ret = sk_json_parse(data, len, path, root, err);
	OPENSSL_cleanse(data, len);
	free(data);
	return ret;
}

static int save_auth(const char *path, struct json_object *root, struct sk_error *err)
{
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_PRETTY_TAB |
								    JSON_C_TO_STRING_NOSLASHESCAPE);
	char *dir = strdup(path), *slash;
	int ret = 0;

	if (!text || !dir) {
		free(dir);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		ret = sk_mkdir_p(dir, 0700, err);
	}
	free(dir);
	if (!ret)
		ret = sk_write_file_atomic(path, text, strlen(text), 0600, err);
	/* the serialized text held the secret: json-c keeps it in the object's buffer */
	OPENSSL_cleanse((char *)text, strlen(text));
	return ret;
}

/* Removes every auths key naming this registry (its URL and plain forms). */
static int drop_keys(struct json_object *auths, const char *registry)
{
	struct sk_strv del = {0};
	int n = 0;

	json_object_object_foreach(auths, key, val)
	{
		(void)val;
		if (key_match(key, registry, NULL) == 0 && sk_strv_push(&del, key) == 0)
			n++;
	}
	for (size_t i = 0; i < del.n; i++)
		json_object_object_del(auths, del.v[i]);
	sk_strv_free(&del);
	return n;
}

int sk_cred_store(const char *path, const char *registry, const char *username,
		  const char *password, struct sk_error *err)
{
	struct json_object *root = NULL, *auths, *entry;
	size_t ulen = strlen(username), plen = strlen(password);
	char *plain = NULL;
	unsigned char *b64 = NULL;
	int ret;

	if (!ulen || strchr(username, ':'))
		return sk_errf(err, -EINVAL, "the user name must be non-empty and contain no ':'");
	ret = load_for_update(path, &root, err);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(root, "auths", &auths) ||
	    !json_object_is_type(auths, json_type_object)) {
		auths = json_object_new_object();
		json_object_object_add(root, "auths", auths);
	}
	drop_keys(auths, registry);
	plain = malloc(ulen + plen + 2);
	b64 = malloc(((ulen + plen + 1) / 3 + 1) * 4 + 1);
	entry = json_object_new_object();
	if (!plain || !b64 || !entry) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		json_object_put(entry);
		goto out;
	}
	snprintf(plain, ulen + plen + 2, "%s:%s", username, password);
	EVP_EncodeBlock(b64, (unsigned char *)plain, (int)(ulen + plen + 1));
	json_object_object_add(entry, "auth", json_object_new_string((char *)b64));
	json_object_object_add(auths, helper_server(registry), entry);
	ret = save_auth(path, root, err);
out:
	if (plain) {
		OPENSSL_cleanse(plain, ulen + plen + 1);
		free(plain);
	}
	if (b64) {
		OPENSSL_cleanse(b64, strlen((char *)b64));
		free(b64);
	}
	json_object_put(root);
	return ret;
}

int sk_cred_remove(const char *path, const char *registry, struct sk_error *err)
{
	struct json_object *root = NULL, *auths;
	int ret, n = 0;

	if (!sk_is_file(path))
		return 0;
	ret = load_for_update(path, &root, err);
	if (ret)
		return ret;
	if (json_object_object_get_ex(root, "auths", &auths) &&
	    json_object_is_type(auths, json_type_object))
		n = drop_keys(auths, registry);
	if (n)
		ret = save_auth(path, root, err);
	json_object_put(root);
	return ret ? ret : n > 0;
}

/* ---- WWW-Authenticate: scheme param="value", param=token, ... ---- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static bool is_tchar(char c)
{
	return c && !strchr(" \t,=\"", c);
}

int sk_challenge_parse(const char *header, struct sk_challenge *c, struct sk_error *err)
{
	const char *p = skip_ws(header);
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	while (is_tchar(p[n]))
		n++;
	if (!n || n >= sizeof(c->scheme))
		return sk_errf(err, -EINVAL, "WWW-Authenticate header has no auth scheme");
	memcpy(c->scheme, p, n);
	p = skip_ws(p + n);
	while (*p) {
		char key[32], val[1024];
		size_t kl = 0, vl = 0;
		char *dst = NULL;
		size_t dlen = 0;

		while (is_tchar(p[kl]))
			kl++;
		if (!kl)
			return sk_errf(err, -EINVAL, "WWW-Authenticate: malformed parameters");
		if (p[kl] != '=') {
			/* a token not followed by '=' starts the next challenge */
			break;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(kl < 31 ? kl : 31), p);
		p += kl + 1;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (vl + 1 >= sizeof(val))
					return sk_errf(err, -EINVAL,
						       "WWW-Authenticate: parameter %s too long",
						       key);
				val[vl++] = *p;
			}
			if (*p != '"')
				return sk_errf(err, -EINVAL,
					       "WWW-Authenticate: unterminated quoted string");
			p++;
		} else {
			while (is_tchar(*p) && vl + 1 < sizeof(val))
				val[vl++] = *p++;
		}
		val[vl] = '\0';
		if (!strcasecmp(key, "realm")) {
			dst = c->realm;
			dlen = sizeof(c->realm);
		} else if (!strcasecmp(key, "service")) {
			dst = c->service;
			dlen = sizeof(c->service);
		} else if (!strcasecmp(key, "scope")) {
			dst = c->scope;
			dlen = sizeof(c->scope);
		} else if (!strcasecmp(key, "error")) {
			dst = c->error;
			dlen = sizeof(c->error);
		}
		if (dst) {
			if (vl >= dlen)
				return sk_errf(err, -EINVAL,
					       "WWW-Authenticate: parameter %s too long", key);
			memcpy(dst, val, vl + 1);
		}
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p)
			return sk_errf(err, -EINVAL, "WWW-Authenticate: malformed parameters");
	}
	if (!strcasecmp(c->scheme, "Bearer") && !c->realm[0])
		return sk_errf(err, -EINVAL, "WWW-Authenticate: Bearer challenge without a realm");
	return 0;
}
