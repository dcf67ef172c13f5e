/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The distribution-spec client: one libcurl easy handle per registry (so the
 * connection is reused), auth (anonymous, Basic, Bearer tokens), retries with
 * backoff, and streaming verification of everything downloaded.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schedkit/registry.h"

#define DEFAULT_ATTEMPTS   5
#define DEFAULT_BUDGET_MS  120000u
#define DEFAULT_CHUNK	   (16u << 20)
#define ERROR_BODY_MAX	   (64u << 10)
#define TOKEN_BODY_MAX	   (1u << 20)
#define TAGS_BODY_MAX	   (4u << 20)
#define BACKOFF_BASE_MS	   200u
#define BACKOFF_CAP_MS	   8000u
#define CONNECT_TIMEOUT_MS 10000L
#define ACCEPT_MANIFESTS                                                                           \
	SK_MT_INDEX ", " SK_MT_MANIFEST ", " SK_MT_DOCKER_LIST ", " SK_MT_DOCKER_MANIFEST

enum auth_kind { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct sk_registry {
	CURL *curl;
	struct sk_ref ref;
	char scheme[8];		       /* "" until the first ping */
	bool insecure;		       /* named by the user: unverified TLS and plain HTTP */
	bool plain_ok;		       /* plain HTTP allowed (insecure or loopback) */
	struct sk_strv insecure_hosts; /* every host the user named insecure (token realms) */
	char *ca_cert;
	char *auth_file;
	bool verbose;
	unsigned max_attempts;
	unsigned budget_ms;
	size_t chunk_size;
	unsigned requests;
	unsigned seed;

	struct sk_cred cred;
	bool cred_loaded;
	bool cred_explicit;
	struct sk_strv looked; /* auth files consulted, for "no credentials" messages */

	enum auth_kind auth;
	char realm[1024];
	char service[256];
	struct sk_strv scopes;
	char *token;
	bool token_secret;   /* obtained with credentials: as secret as they are */
	double token_expiry; /* monotonic seconds */
	char errbuf[CURL_ERROR_SIZE];
};

/* Where a request body comes from: memory or a byte range of a file. */
struct body {
	const uint8_t *mem;
	int fd;
	off_t off;
	size_t len;
	size_t pos;
};

struct req {
	const char *method;
	const char *url; /* absolute */
	const char *accept;
	const char *content_type;
	const char *content_range;
	struct body *body;
	bool follow;
	bool token_request;	    /* to the token endpoint: no challenge handling */
	bool token_basic;	    /* token_request: send the Basic credentials */
	const struct sk_sink *sink; /* successful body goes here (else into resp.body) */
	int64_t expect_size;	    /* >= 0: cut off beyond this many bytes */
	size_t max;		    /* limit for bodies kept in memory */
	const char *what;	    /* the step, for messages */
};

struct resp {
	long status;
	char location[2048];
	char digest[128];
	char ctype[256];
	char range[64];
	char link[1024];
	char www_auth[2048];
	int64_t clen;
	long retry_after_ms;
	struct sk_buf body;
	struct sk_hasher *hasher;
	int64_t got;
	bool too_large;
	int sink_ret;
	struct sk_error sink_err;
	const struct req *req;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static bool host_is_loopback(const char *hostport)
{
	char host[SK_REF_REGISTRY_MAX];
	const char *end;

	if (hostport[0] == '[') {
		end = strchr(hostport, ']');
		snprintf(host, sizeof(host), "%.*s", end ? (int)(end - hostport - 1) : 0,
			 hostport + 1);
	} else {
		end = strchr(hostport, ':');
		snprintf(host, sizeof(host), "%.*s",
			 end ? (int)(end - hostport) : (int)strlen(hostport), hostport);
	}
	return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

int sk_registry_open(const struct sk_ref *ref, const struct sk_registry_opts *opts,
		     struct sk_registry **out, struct sk_error *err)
{
	static const struct sk_registry_opts none;
	struct sk_registry *r;

	if (!opts)
		opts = &none;
	r = calloc(1, sizeof(*r));
	if (!r)
		return sk_errf(err, -ENOMEM, "out of memory");
	r->ref = *ref;
	r->curl = curl_easy_init();
	if (!r->curl) {
		free(r);
		return sk_errf(err, -ENOMEM, "cannot initialise libcurl");
	}
	r->insecure = opts->insecure && (sk_strv_contains(opts->insecure, ref->host) ||
					 sk_strv_contains(opts->insecure, ref->registry));
	r->plain_ok = r->insecure || host_is_loopback(ref->host);
	for (size_t i = 0; opts->insecure && i < opts->insecure->n; i++) {
		if (sk_strv_push(&r->insecure_hosts, opts->insecure->v[i])) {
			sk_registry_close(r);
			return sk_errf(err, -ENOMEM, "out of memory");
		}
	}
	r->ca_cert = opts->ca_cert ? strdup(opts->ca_cert) : NULL;
	r->auth_file = opts->auth_file ? strdup(opts->auth_file) : NULL;
	r->verbose = opts->verbose;
	r->max_attempts = opts->max_attempts ? opts->max_attempts : DEFAULT_ATTEMPTS;
	r->budget_ms = opts->budget_ms ? opts->budget_ms : DEFAULT_BUDGET_MS;
	r->chunk_size = opts->chunk_size ? opts->chunk_size : DEFAULT_CHUNK;
	r->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)r;
	if (opts->username) {
		r->cred.username = strdup(opts->username);
		r->cred.password = strdup(opts->password ? opts->password : "");
		snprintf(r->cred.source, sizeof(r->cred.source), "%s",
			 opts->cred_source ? opts->cred_source : "the command line");
		/* found in a file by the root side: as if this client had looked it up */
		r->cred_loaded = true;
		r->cred_explicit = !opts->cred_source;
	}
	/* the root side looked already; the helper reads no file of its own */
	if (opts->no_cred_lookup) {
		r->cred_loaded = true;
		for (size_t i = 0; opts->cred_looked && i < opts->cred_looked->n; i++)
			if (sk_strv_push(&r->looked, opts->cred_looked->v[i]))
				r->cred_loaded = false;
	}
	if ((opts->ca_cert && !r->ca_cert) || (opts->auth_file && !r->auth_file) ||
	    (opts->username && (!r->cred.username || !r->cred.password))) {
		sk_registry_close(r);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	if (r->ca_cert && !sk_is_file(r->ca_cert)) {
		int ret =
		    sk_errf(err, -ENOENT, "CA certificate file %s does not exist", r->ca_cert);

		sk_registry_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

void sk_registry_close(struct sk_registry *r)
{
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	free(r->ca_cert);
	free(r->auth_file);
	sk_cred_clear(&r->cred);
	sk_strv_free(&r->looked);
	sk_strv_free(&r->scopes);
	sk_strv_free(&r->insecure_hosts);
	if (r->token) {
		OPENSSL_cleanse(r->token, strlen(r->token));
		free(r->token);
	}
	free(r);
}

unsigned sk_registry_requests(const struct sk_registry *r)
{
	return r->requests;
}

const char *sk_registry_name(const struct sk_registry *r)
{
	return r->ref.registry;
}

int sk_registry_add_scope(struct sk_registry *r, const char *repo, bool push)
{
	char scope[SK_REF_REPO_MAX + 40];

	snprintf(scope, sizeof(scope), "repository:%s:%s", repo, push ? "pull,push" : "pull");
	if (sk_strv_contains(&r->scopes, scope))
		return 0;
	return sk_strv_push(&r->scopes, scope);
}

/* ---- curl callbacks ---- */

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct resp *rs = ud;
	size_t len = size * n, vlen;
	const char *colon, *v;

	if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
		/* a new response (after a redirect or 100 Continue): forget the last one's headers
		 */
		const char *sp = memchr(buf, ' ', len);

		rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		rs->location[0] = rs->digest[0] = rs->ctype[0] = rs->range[0] = '\0';
		rs->link[0] = rs->www_auth[0] = '\0';
		rs->clen = -1;
		rs->retry_after_ms = -1;
		return len;
	}
	colon = memchr(buf, ':', len);
	if (!colon)
		return len;
	v = colon + 1;
	while (v < buf + len && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(buf + len - v);
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
#define HDR(name) ((size_t)(colon - buf) == strlen(name) && !strncasecmp(buf, name, strlen(name)))
#define COPY(dst) snprintf(dst, sizeof(dst), "%.*s", (int)(vlen < sizeof(dst) ? vlen : 0), v)
	if (HDR("Location")) {
		COPY(rs->location);
	} else if (HDR("Docker-Content-Digest")) {
		COPY(rs->digest);
	} else if (HDR("Content-Type")) {
		COPY(rs->ctype);
	} else if (HDR("Range")) {
		COPY(rs->range);
	} else if (HDR("Link")) {
		COPY(rs->link);
	} else if (HDR("WWW-Authenticate")) {
		/* several challenges may come in several headers: a Bearer one is preferred */
		if (!rs->www_auth[0] || (vlen >= 6 && !strncasecmp(v, "Bearer", 6)))
			COPY(rs->www_auth);
	} else if (HDR("Content-Length")) {
		char tmp[32];

		COPY(tmp);
		rs->clen = tmp[0] ? strtoll(tmp, NULL, 10) : -1;
	} else if (HDR("Retry-After")) {
		char tmp[64];
		char *end;
		long secs;

		COPY(tmp);
		secs = strtol(tmp, &end, 10);
		if (end != tmp && *end == '\0' && secs >= 0) {
			rs->retry_after_ms = secs * 1000;
		} else {
			time_t when = curl_getdate(tmp, NULL);

			if (when > 0)
				rs->retry_after_ms =
				    when > time(NULL) ? (long)(when - time(NULL)) * 1000 : 0;
		}
	}
#undef HDR
#undef COPY
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	struct resp *rs = ud;
	const struct req *rq = rs->req;
	size_t len = size * n;

	if (rs->status >= 200 && rs->status < 300) {
		if (rq->expect_size >= 0 && rs->got + (int64_t)len > rq->expect_size) {
			rs->too_large = true;
			return 0;
		}
		if (rq->max && (uint64_t)rs->got + len > rq->max) {
			rs->too_large = true;
			return 0;
		}
		if (rs->hasher)
			sk_hasher_update(rs->hasher, buf, len);
		rs->got += (int64_t)len;
		if (rq->sink) {
			rs->sink_ret = rq->sink->write(rq->sink->ctx, buf, len, &rs->sink_err);
			return rs->sink_ret ? 0 : len;
		}
		return sk_buf_append(&rs->body, buf, len) ? 0 : len;
	}
	/* error bodies: keep enough to explain the failure */
	if (rs->body.len + len > ERROR_BODY_MAX)
		return len;
	sk_buf_append(&rs->body, buf, len);
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct body *b = ud;
	size_t want = size * n, left = b->len - b->pos;
	ssize_t got;

	if (want > left)
		want = left;
	if (!want)
		return 0;
	if (b->mem) {
		memcpy(buf, b->mem + b->pos, want);
		b->pos += want;
		return want;
	}
	got = pread(b->fd, buf, want, b->off + (off_t)b->pos);
	if (got <= 0)
		return CURL_READFUNC_ABORT;
	b->pos += (size_t)got;
	return (size_t)got;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct body *b = ud;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > b->len)
		return CURL_SEEKFUNC_CANTSEEK;
	b->pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- helpers ---- */

/* Turns the registry's error JSON into "CODE: message; ..." (or a cleaned-up snippet). */
static void describe_error(const struct resp *rs, char *out, size_t len)
{
	struct json_object *j = NULL, *errs;
	struct sk_buf b = {0};

	out[0] = '\0';
	if (rs->body.len && !sk_json_parse(rs->body.data, rs->body.len, "error", &j, NULL) &&
	    json_object_object_get_ex(j, "errors", &errs) &&
	    json_object_is_type(errs, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(errs) && i < 4; i++) {
			struct json_object *e = json_object_array_get_idx(errs, i);
			const char *code = sk_json_str(e, "code"), *msg = sk_json_str(e, "message");

			sk_buf_printf(&b, "%s%s%s%s", i ? "; " : "", code ? code : "",
				      code && msg ? ": " : "", msg ? msg : "");
		}
	}
	if (j)
		json_object_put(j);
	if (b.len) {
		snprintf(out, len, "%s", (char *)b.data);
	} else if (rs->body.len) {
		size_t o = 0;

		for (size_t i = 0; i < rs->body.len && o + 1 < len && o < 160; i++) {
			char c = (char)rs->body.data[i];

			out[o++] = (c >= 32 && c < 127) ? c : ' ';
		}
		out[o] = '\0';
	}
	sk_buf_free(&b);
}

static int http_error(struct sk_registry *r, const struct req *rq, const struct resp *rs,
		      struct sk_error *err)
{
	char detail[512];
	int code = rs->status == 404			    ? -ENOENT
		   : rs->status == 401 || rs->status == 403 ? -EACCES
							    : -EPROTO;

	describe_error(rs, detail, sizeof(detail));
	return sk_errf(err, code, "registry %s: %s: HTTP %ld%s%s", r->ref.registry, rq->what,
		       rs->status, detail[0] ? ": " : "", detail);
}

/* Builds an absolute URL from a path on the registry, or resolves a Location. */
static int make_url(struct sk_registry *r, const char *path_or_url, char **out)
{
	CURLU *u = curl_url();
	char base[SK_REF_REGISTRY_MAX + 16];
	int ret = 0;

	if (!u)
		return -ENOMEM;
	snprintf(base, sizeof(base), "%s://%s/", r->scheme[0] ? r->scheme : "https", r->ref.host);
	if (curl_url_set(u, CURLUPART_URL, base, 0) ||
	    curl_url_set(u, CURLUPART_URL, path_or_url, 0) ||
	    curl_url_get(u, CURLUPART_URL, out, 0))
		ret = -EINVAL;
	curl_url_cleanup(u);
	return ret;
}

/* Appends key=value (URL-encoded) to url's query. Returns a new string. */
static int url_add_query(const char *url, const char *key, const char *value, char **out)
{
	CURLU *u = curl_url();
	char *kv = NULL;
	int ret = 0;

	if (!u || asprintf(&kv, "%s=%s", key, value) < 0) {
		curl_url_cleanup(u);
		return -ENOMEM;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_set(u, CURLUPART_QUERY, kv, CURLU_APPENDQUERY | CURLU_URLENCODE) ||
	    curl_url_get(u, CURLUPART_URL, out, 0))
		ret = -EINVAL;
	free(kv);
	curl_url_cleanup(u);
	return ret;
}

/* Credentials go only to the registry itself, never to a host a Location names. */
static bool same_host(struct sk_registry *r, const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, want[SK_REF_REGISTRY_MAX + 8];
	bool same = false;

	if (!u)
		return false;
	if (!curl_url_set(u, CURLUPART_URL, url, 0) && !curl_url_get(u, CURLUPART_HOST, &host, 0) &&
	    !curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		const char *h = r->ref.host;
		/* host[:port] or [v6][:port]: a port is present after the last ']' */
		const char *after = h[0] == '[' ? strchr(h, ']') : h;
		char got[SK_REF_REGISTRY_MAX + 8];

		if (after && strchr(after, ':'))
			snprintf(want, sizeof(want), "%s", h);
		else
			snprintf(want, sizeof(want), "%s:%s", h,
				 !strcmp(r->scheme, "http") ? "80" : "443");
		snprintf(got, sizeof(got), "%s:%s", host, port);
		same = !strcasecmp(got, want);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return same;
}

/* HOST[:PORT] of an absolute URL, the way a user names it, and whether it is plain HTTP. */
static int url_host(const char *url, char *out, size_t len, bool *plain)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int ret = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (!curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
			port = NULL;
		snprintf(out, len, "%s%s%s", host, port ? ":" : "", port ? port : "");
		*plain = strcasecmp(scheme, "https") != 0;
		ret = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

/*
 * Whether a secret (credentials, or a token bought with them) may go to url:
 * over TLS, yes; over plain HTTP only to a host the user named insecure. A
 * registry named insecure may also point at a plain-HTTP token server: the
 * challenge naming it came over that same unprotected connection, and the
 * command line of skbuild can name one host only.
 */
static bool secret_ok(const struct sk_registry *r, const char *url)
{
	char host[SK_REF_REGISTRY_MAX + 16];
	bool plain = true;

	if (url_host(url, host, sizeof(host), &plain))
		return false;
	return !plain || r->insecure || sk_strv_contains(&r->insecure_hosts, host);
}

/* The same, for the registry itself (its scheme is known once it answered). */
static bool registry_secret_ok(const struct sk_registry *r)
{
	return strcmp(r->scheme, "http") != 0 || r->insecure;
}

/*
 * Loopback registries speak plain HTTP without being named, but only
 * anonymously. realm: the token server's URL when it is the one in the clear,
 * NULL for the registry itself.
 */
static int plain_refusal(struct sk_registry *r, const char *what, const char *realm,
			 struct sk_error *err)
{
	char where[SK_REF_REGISTRY_MAX + 1100];

	if (realm)
		snprintf(where, sizeof(where), "token server at %s", realm);
	else
		snprintf(where, sizeof(where), "registry at http://%s", r->ref.host);
	return sk_errf(err, -EACCES,
		       "registry %s: %s: the %s asks for credentials over plain HTTP; "
		       "refusing to send them. To allow it, name the registry insecure "
		       "(--insecure, or --insecure-registry %s), or serve it over TLS",
		       r->ref.registry, what, where, r->ref.registry);
}

static bool curl_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static const char *curl_hint(struct sk_registry *r, CURLcode c)
{
	switch (c) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return r->ca_cert ? " (the certificate is not signed by the CA in --ca-cert, or "
				    "names another host)"
				  : " (pass the registry's CA with --ca-cert FILE, or name the "
				    "registry with --insecure)";
	case CURLE_SSL_CONNECT_ERROR:
		return r->plain_ok
			   ? ""
			   : " (if the registry speaks plain HTTP, name it with --insecure)";
	case CURLE_COULDNT_CONNECT:
		return " (is the registry running and the address right?)";
	default:
		return "";
	}
}

static void set_tls(struct sk_registry *r, CURL *c)
{
	if (r->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		return;
	}
	if (r->ca_cert) {
		/* the private CA in addition to, not instead of, the system's */
		const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);

		curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_cert);
		if (vi->capath)
			curl_easy_setopt(c, CURLOPT_CAPATH, vi->capath);
		else
			curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
}

static int get_token(struct sk_registry *r, const char *challenge_scope, struct sk_error *err);
static int load_credentials(struct sk_registry *r, struct sk_error *err);

/* One attempt; returns the CURLcode. */
static CURLcode perform(struct sk_registry *r, const struct req *rq, struct resp *rs,
			double deadline)
{
	CURL *c = r->curl;
	struct curl_slist *h = NULL;
	char line[512];
	double left_ms = (deadline - now_s()) * 1000.0;
	CURLcode cc;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "schedkit/1");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, r->plain_ok ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(left_ms > 1000 ? left_ms : 1000));
	/* a stalled transfer counts as a dropped connection */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
	set_tls(r, c);
	r->errbuf[0] = '\0';

	h = curl_slist_append(h, "Expect:");
	if (rq->accept) {
		snprintf(line, sizeof(line), "Accept: %s", rq->accept);
		h = curl_slist_append(h, line);
	}
	if (rq->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
		h = curl_slist_append(h, line);
	}
	if (rq->content_range) {
		snprintf(line, sizeof(line), "Content-Range: %s", rq->content_range);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);

	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (!strcmp(rq->method, "PUT") || !strcmp(rq->method, "PATCH")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		if (!strcmp(rq->method, "PATCH"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
		if (rq->body) {
			rq->body->pos = 0;
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, rq->body);
			curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
			curl_easy_setopt(c, CURLOPT_SEEKDATA, rq->body);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body->len);
		} else {
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
		}
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	if (rq->follow) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	}
	/* the callers decide; this is the last line against secrets in the clear */
	if (rq->token_request) {
		if (rq->token_basic && r->cred.username && secret_ok(r, rq->url)) {
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(c, CURLOPT_USERNAME, r->cred.username);
			curl_easy_setopt(c, CURLOPT_PASSWORD, r->cred.password);
		}
	} else if (same_host(r, rq->url)) {
		if (r->auth == AUTH_BASIC && r->cred.username && secret_ok(r, rq->url)) {
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(c, CURLOPT_USERNAME, r->cred.username);
			curl_easy_setopt(c, CURLOPT_PASSWORD, r->cred.password);
		} else if (r->auth == AUTH_BEARER && r->token &&
			   (!r->token_secret || secret_ok(r, rq->url))) {
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
			curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, r->token);
		}
	}
	rs->req = rq;
	rs->status = 0;
	rs->clen = -1;
	rs->retry_after_ms = -1;
	r->requests++;
	cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (r->verbose) {
		if (cc == CURLE_OK)
			fprintf(stderr, "registry: %s %s -> %ld\n", rq->method, rq->url,
				rs->status);
		else
			fprintf(stderr, "registry: %s %s -> %s\n", rq->method, rq->url,
				curl_easy_strerror(cc));
	}
	return cc;
}

static void resp_reset(struct resp *rs)
{
	char *data = (char *)rs->body.data;

	rs->body.len = 0;
	if (data)
		data[0] = '\0';
	rs->got = 0;
	rs->too_large = false;
	rs->sink_ret = 0;
	if (rs->hasher) {
		sk_hasher_free(rs->hasher);
		rs->hasher = sk_hasher_new();
	}
}

static void resp_free(struct resp *rs)
{
	sk_buf_free(&rs->body);
	if (rs->hasher)
		sk_hasher_free(rs->hasher);
	rs->hasher = NULL;
}

/* Exponential backoff with jitter: half the step fixed, half random. */
static unsigned backoff_ms(struct sk_registry *r, unsigned attempt)
{
	unsigned delay = BACKOFF_BASE_MS << (attempt - 1 < 6 ? attempt - 1 : 6);

	if (delay > BACKOFF_CAP_MS)
		delay = BACKOFF_CAP_MS;
	return delay / 2 + (unsigned)rand_r(&r->seed) % (delay / 2 + 1);
}

static int no_credentials(struct sk_registry *r, const struct req *rq, struct sk_error *err)
{
	char *files = sk_strv_join(&r->looked, ", ");

	sk_errf(err, -EACCES,
		"registry %s: %s: authentication required, but no credentials for %s were "
		"found (looked in: %s); run `skbuild login %s`",
		r->ref.registry, rq->what, r->ref.registry, files && *files ? files : "nothing",
		r->ref.registry);
	free(files);
	return -EACCES;
}

/* A 401 arrived: learn the scheme from WWW-Authenticate and get what it asks for. */
static int handle_challenge(struct sk_registry *r, const struct req *rq, const struct resp *rs,
			    struct sk_error *err)
{
	struct sk_challenge ch;
	int ret;

	if (!rs->www_auth[0])
		return http_error(r, rq, rs, err);
	ret = sk_challenge_parse(rs->www_auth, &ch, err);
	if (ret)
		return sk_err_prefix(err, "registry %s: %s: ", r->ref.registry, rq->what);
	if (!strcasecmp(ch.scheme, "Bearer")) {
		snprintf(r->realm, sizeof(r->realm), "%s", ch.realm);
		snprintf(r->service, sizeof(r->service), "%s", ch.service);
		r->auth = AUTH_BEARER;
		return get_token(r, ch.scope, err);
	}
	if (!strcasecmp(ch.scheme, "Basic")) {
		r->auth = AUTH_BASIC;
		if (!registry_secret_ok(r))
			return plain_refusal(r, rq->what, NULL, err);
		ret = load_credentials(r, err);
		if (!ret && !r->cred.username)
			return no_credentials(r, rq, err);
		return ret;
	}
	return sk_errf(err, -ENOTSUP, "registry %s: %s: unsupported auth scheme '%s'",
		       r->ref.registry, rq->what, ch.scheme);
}

/*
 * Runs a request with retries: connection errors, 408, 429 and 5xx are retried
 * with exponential backoff and jitter (Retry-After honoured) within the time
 * budget; a 401 triggers authentication and one more try. Returns 0 with
 * rs->status set for any other HTTP answer (the caller decides what it means).
 */
static int do_request(struct sk_registry *r, const struct req *rq, struct resp *rs,
		      struct sk_error *err)
{
	double start = now_s(), deadline = start + r->budget_ms / 1000.0;
	bool reauthed = false;
	unsigned attempt = 0;

	for (;;) {
		unsigned delay;
		CURLcode cc;

		if (rq->sink && attempt > 0 && rq->sink->reset) {
			int ret = rq->sink->reset(rq->sink->ctx, err);

			if (ret)
				return ret;
		}
		if (r->auth == AUTH_BEARER && r->token && !rq->token_request &&
		    now_s() >= r->token_expiry) {
			int ret = get_token(r, NULL, err);

			if (ret)
				return ret;
		}
		resp_reset(rs);
		cc = perform(r, rq, rs, deadline);
		attempt++;
		if (rs->sink_ret)
			return sk_errf(err, rs->sink_ret, "registry %s: %s: %s", r->ref.registry,
				       rq->what, rs->sink_err.msg);
		if (cc == CURLE_WRITE_ERROR && rs->too_large)
			return sk_errf(
			    err, -EFBIG,
			    "registry %s: %s: the response is larger than the %lld bytes "
			    "expected; refusing it",
			    r->ref.registry, rq->what,
			    (long long)(rq->expect_size >= 0 ? rq->expect_size : (int64_t)rq->max));
		if (cc != CURLE_OK) {
			/* ENETUNREACH: the exit status says "network" (sk_cli_exit_status) */
			if (!curl_transient(cc))
				return sk_errf(err, -ENETUNREACH, "registry %s: %s: %s%s%s%s",
					       r->ref.registry, rq->what, curl_easy_strerror(cc),
					       r->errbuf[0] ? ": " : "", r->errbuf,
					       curl_hint(r, cc));
		} else if (rs->status == 401 && !rq->token_request && !reauthed) {
			int ret = handle_challenge(r, rq, rs, err);

			reauthed = true;
			if (ret)
				return ret;
			continue;
		} else if (rs->status == 401 && !rq->token_request) {
			/* an anonymous token was not enough */
			if (!registry_secret_ok(r))
				return plain_refusal(r, rq->what, NULL, err);
			if (!r->cred.username)
				return no_credentials(r, rq, err);
			return sk_errf(
			    err, -EACCES,
			    "registry %s: %s: the registry rejected the credentials from "
			    "%s (wrong user name or password, or no access to this "
			    "repository)",
			    r->ref.registry, rq->what, r->cred.source);
		} else if (rs->status != 408 && rs->status != 429 && rs->status < 500) {
			return 0;
		}

		/* transient: back off and try again, if time and attempts remain */
		delay = backoff_ms(r, attempt);
		if (cc == CURLE_OK && rs->retry_after_ms >= 0)
			delay = (unsigned)rs->retry_after_ms;
		if (attempt >= r->max_attempts || now_s() + delay / 1000.0 >= deadline) {
			char why[600];

			if (cc != CURLE_OK) {
				snprintf(why, sizeof(why), "%s%s%s", curl_easy_strerror(cc),
					 r->errbuf[0] ? ": " : "", r->errbuf);
			} else {
				char d[400];

				describe_error(rs, d, sizeof(d));
				snprintf(why, sizeof(why), "HTTP %ld%s%s", rs->status,
					 d[0] ? ": " : "", d);
			}
			return sk_errf(err, -EAGAIN,
				       "registry %s: %s: gave up after %u attempts in %.1f s: %s",
				       r->ref.registry, rq->what, attempt, now_s() - start, why);
		}
		if (r->verbose)
			fprintf(stderr, "registry: retrying in %u ms\n", delay);
		sleep_ms(delay);
	}
}

static int load_credentials(struct sk_registry *r, struct sk_error *err)
{
	int ret;

	if (r->cred_loaded)
		return 0;
	r->cred_loaded = true;
	ret = sk_cred_lookup(r->ref.registry, r->ref.repo, r->auth_file, &r->cred, &r->looked, err);
	if (ret)
		return sk_err_prefix(err, "registry %s: reading credentials: ", r->ref.registry);
	return 0;
}

static int get_token(struct sk_registry *r, const char *challenge_scope, struct sk_error *err)
{
	struct resp rs = {0};
	struct req rq = {.method = "GET",
			 .token_request = true,
			 .max = TOKEN_BODY_MAX,
			 .expect_size = -1,
			 .what = "getting a token"};
	struct json_object *j = NULL;
	char *url = NULL, *next = NULL, realm_host[SK_REF_REGISTRY_MAX + 16];
	const char *clear_realm;
	bool realm_plain = true, with_cred;
	const char *tok;
	int64_t expires;
	int ret;

	if (challenge_scope && *challenge_scope) {
		char *copy = strdup(challenge_scope), *save = NULL;

		if (!copy)
			return sk_errf(err, -ENOMEM, "out of memory");
		for (char *s = strtok_r(copy, " ", &save); s; s = strtok_r(NULL, " ", &save))
			if (!sk_strv_contains(&r->scopes, s))
				sk_strv_push(&r->scopes, s);
		free(copy);
	}
	if (make_url(r, r->realm, &url) ||
	    url_host(url, realm_host, sizeof(realm_host), &realm_plain)) {
		curl_free(url);
		url = NULL;
		goto bad_realm;
	}
	/* plain HTTP goes to loopback or named hosts only, for tokens as for registries */
	if (realm_plain && !secret_ok(r, url) && !host_is_loopback(realm_host)) {
		ret = sk_errf(err, -EACCES,
			      "registry %s: the token server at %s is plain HTTP on a host that "
			      "is neither loopback nor named insecure; refusing to use it",
			      r->ref.registry, r->realm);
		goto out;
	}
	/* a token bought with credentials is sent to the registry: both ways must be safe */
	clear_realm = secret_ok(r, url) ? NULL : r->realm;
	with_cred = !clear_realm && registry_secret_ok(r);
	if (with_cred) {
		ret = load_credentials(r, err);
		if (ret)
			goto out;
	} else if (r->cred_explicit) {
		ret = plain_refusal(r, rq.what, clear_realm, err);
		goto out;
	}
	rq.token_basic = with_cred && r->cred.username;
	if (r->service[0]) {
		ret = url_add_query(url, "service", r->service, &next);
		curl_free(url);
		url = next;
		if (ret)
			goto bad_realm;
	}
	for (size_t i = 0; i < r->scopes.n; i++) {
		ret = url_add_query(url, "scope", r->scopes.v[i], &next);
		curl_free(url);
		url = next;
		if (ret)
			goto bad_realm;
	}
	rq.url = url;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	if (rs.status == 401 || rs.status == 403) {
		if (!with_cred)
			ret = plain_refusal(r, rq.what, clear_realm, err);
		else if (r->cred.username)
			ret =
			    sk_errf(err, -EACCES,
				    "registry %s: the token server at %s rejected the credentials "
				    "from %s (wrong user name or password?)",
				    r->ref.registry, r->realm, r->cred.source);
		else
			ret =
			    sk_errf(err, -EACCES,
				    "registry %s: the token server at %s requires credentials and "
				    "none were found; run `skbuild login %s`",
				    r->ref.registry, r->realm, r->ref.registry);
		goto out;
	}
	if (rs.status != 200) {
		ret = http_error(r, &rq, &rs, err);
		goto out;
	}
	ret = sk_json_parse(rs.body.data, rs.body.len, "token response", &j, err);
	if (ret)
		goto out;
	tok = sk_json_str(j, "token");
	if (!tok || !*tok)
		tok = sk_json_str(j, "access_token");
	if (!tok || !*tok) {
		ret = sk_errf(err, -EPROTO, "registry %s: the token server's answer has no token",
			      r->ref.registry);
		goto out;
	}
	if (r->token) {
		OPENSSL_cleanse(r->token, strlen(r->token));
		free(r->token);
	}
	r->token = strdup(tok);
	if (!r->token) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* the spec's default lifetime is 60 s; renew a little early */
	expires = sk_json_int(j, "expires_in");
	if (expires <= 0)
		expires = 60;
	r->token_expiry = now_s() + (double)expires - (expires > 20 ? 10.0 : (double)expires / 4);
	r->token_secret = rq.token_basic;
	r->auth = AUTH_BEARER;
out:
	if (j)
		json_object_put(j);
	if (rs.body.data)
		OPENSSL_cleanse(rs.body.data, rs.body.len);
	resp_free(&rs);
	curl_free(url);
	return ret;
bad_realm:
	curl_free(url);
	return sk_errf(err, -EINVAL, "registry %s: the token realm '%s' is not a valid URL",
		       r->ref.registry, r->realm);
}

static int ping_scheme(struct sk_registry *r, const char *scheme, struct resp *rs, CURLcode *cc)
{
	struct req rq = {
	    .method = "GET", .expect_size = -1, .max = ERROR_BODY_MAX, .what = "connecting"};
	char url[SK_REF_REGISTRY_MAX + 16];

	snprintf(r->scheme, sizeof(r->scheme), "%s", scheme);
	snprintf(url, sizeof(url), "%s://%s/v2/", scheme, r->ref.host);
	rq.url = url;
	resp_reset(rs);
	*cc = perform(r, &rq, rs, now_s() + r->budget_ms / 1000.0);
	rs->req = NULL; /* rq ends here; the caller only reads the response */
	return 0;
}

/*
 * How a TLS server answers a plain HTTP request when it answers in HTTP: Go's
 * (docker-registry) "Client sent an HTTP request to an HTTPS server", nginx's
 * "The plain HTTP request was sent to HTTPS port". (Others send a TLS alert,
 * which is no HTTP, or drop the connection: a curl error.)
 */
static bool tls_refusal(const struct resp *rs)
{
	return rs->status == 400 && rs->body.data &&
	       memmem(rs->body.data, rs->body.len, "HTTPS", 5);
}

int sk_registry_ping(struct sk_registry *r, struct sk_error *err)
{
	struct req rq = {.method = "GET",
			 .expect_size = -1,
			 .max = ERROR_BODY_MAX,
			 .what = "checking the API (GET /v2/)"};
	struct resp rs = {0};
	char *url = NULL;
	CURLcode cc;
	int ret;

	if (!r->scheme[0]) {
		/*
		 * Where plain HTTP is allowed anyway (loopback, --insecure), plain
		 * HTTP first: an HTTPS probe first would load the CA bundle (~20 ms)
		 * before a plain-HTTP registry got to answer. HTTPS follows, with
		 * certificates verified as for any host, when HTTP got no usable
		 * answer: a TLS server refuses it with a 400 or a protocol error,
		 * and without a port in the name HTTPS listens on another port.
		 * Elsewhere HTTPS only. A registry that is down is probed again
		 * (both ways) with backoff, so a restarting plain-HTTP registry is
		 * not taken for an HTTPS one.
		 */
		for (unsigned attempt = 1;; attempt++) {
			if (!r->plain_ok) {
				ping_scheme(r, "https", &rs, &cc);
			} else {
				ping_scheme(r, "http", &rs, &cc);
				if (cc != CURLE_OK || tls_refusal(&rs)) {
					CURLcode http_cc = cc;
					char http_err[CURL_ERROR_SIZE];

					snprintf(http_err, sizeof(http_err), "%s", r->errbuf);
					ping_scheme(r, "https", &rs, &cc);
					/* no answer in plain HTTP, no TLS either: (re)starting */
					if (curl_transient(http_cc) &&
					    (cc == CURLE_SSL_CONNECT_ERROR || curl_transient(cc))) {
						snprintf(r->scheme, sizeof(r->scheme), "http");
						snprintf(r->errbuf, sizeof(r->errbuf), "%s",
							 http_err);
						cc = http_cc;
					}
				}
			}
			if (!curl_transient(cc) || attempt >= r->max_attempts)
				break;
			sleep_ms(backoff_ms(r, attempt));
		}
		if (cc != CURLE_OK) {
			ret = sk_errf(err, curl_transient(cc) ? -EAGAIN : -EIO,
				      "registry %s: connecting over %s%s: %s%s%s%s",
				      r->ref.registry, r->scheme,
				      curl_transient(cc) ? " (gave up after retrying)" : "",
				      curl_easy_strerror(cc), r->errbuf[0] ? ": " : "", r->errbuf,
				      curl_hint(r, cc));
			r->scheme[0] = '\0';
			goto out;
		}
		if (cc == CURLE_OK && rs.status == 401) {
			ret = handle_challenge(r, &rq, &rs, err);
			if (ret) {
				r->scheme[0] = '\0';
				goto out;
			}
		} else if (cc == CURLE_OK && rs.status != 408 && rs.status != 429 &&
			   rs.status < 500) {
			if (rs.status != 200) {
				ret = http_error(r, &rq, &rs, err);
				r->scheme[0] = '\0';
			} else {
				ret = 0;
			}
			goto out;
		}
	}
	/* the generic path: retries, the auth challenge, then /v2/ once more with auth */
	ret = make_url(r, "/v2/", &url);
	if (ret) {
		ret = sk_errf(err, ret, "registry %s: bad host name", r->ref.registry);
		goto out;
	}
	rq.url = url;
	ret = do_request(r, &rq, &rs, err);
	if (!ret && rs.status != 200)
		ret = http_error(r, &rq, &rs, err);
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

static int ready(struct sk_registry *r, struct sk_error *err)
{
	return r->scheme[0] ? 0 : sk_registry_ping(r, err);
}

static int repo_url(struct sk_registry *r, const char *repo, const char *kind, const char *ref,
		    char **url, struct sk_error *err)
{
	char path[SK_REF_REPO_MAX + SK_DIGEST_MAX + 64];

	snprintf(path, sizeof(path), "/v2/%s/%s/%s", repo, kind, ref);
	if (make_url(r, path, url))
		return sk_errf(err, -EINVAL, "registry %s: cannot build a URL for %s",
			       r->ref.registry, path);
	return 0;
}

/* ---- blobs ---- */

int sk_registry_blob_exists(struct sk_registry *r, const char *repo, const char *digest,
			    int64_t *size, struct sk_error *err)
{
	struct req rq = {.method = "HEAD", .expect_size = -1, .what = "checking for a blob"};
	struct resp rs = {0};
	char *url = NULL, what[SK_DIGEST_MAX + 64];
	int ret;

	ret = ready(r, err);
	if (ret)
		return ret;
	ret = repo_url(r, repo, "blobs", digest, &url, err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "checking for blob %.19s", digest);
	rq.what = what;
	rq.url = url;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	if (rs.status == 200) {
		if (size)
			*size = rs.clen;
		ret = 1;
	} else if (rs.status == 404) {
		ret = 0;
	} else {
		ret = http_error(r, &rq, &rs, err);
	}
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

int sk_registry_blob_get(struct sk_registry *r, const char *repo, const char *digest, int64_t size,
			 const struct sk_sink *sink, struct sk_error *err)
{
	struct req rq = {.method = "GET", .follow = true, .sink = sink, .expect_size = size};
	struct resp rs = {0};
	char *url = NULL, what[SK_DIGEST_MAX + 64], got[SK_DIGEST_MAX];
	int ret;

	if (size < 0 || (uint64_t)size > SK_BLOB_MAX)
		return sk_errf(err, -EFBIG, "blob %s: size %lld is beyond the %u bytes allowed",
			       digest, (long long)size, SK_BLOB_MAX);
	ret = ready(r, err);
	if (ret)
		return ret;
	ret = repo_url(r, repo, "blobs", digest, &url, err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "fetching blob %s of %s", digest, repo);
	rq.what = what;
	rq.url = url;
	rs.hasher = sk_hasher_new();
	if (!rs.hasher) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (int tries = 0;; tries++) {
		ret = do_request(r, &rq, &rs, err);
		if (ret)
			goto out;
		if (rs.status != 200) {
			ret = http_error(r, &rq, &rs, err);
			goto out;
		}
		/* a short body is a dropped connection: fetch again, a few times */
		if (rs.got < size && tries < 2) {
			if (sink->reset && (ret = sink->reset(sink->ctx, err)))
				goto out;
			continue;
		}
		break;
	}
	if (rs.got != size) {
		ret = sk_errf(
		    err, -EBADMSG,
		    "registry %s: %s: got %lld bytes, the descriptor says %lld; refusing it",
		    r->ref.registry, what, (long long)rs.got, (long long)size);
		goto out;
	}
	sk_hasher_final(rs.hasher, got);
	rs.hasher = NULL;
	if (strcmp(got, digest)) {
		ret = sk_errf(err, -EBADMSG,
			      "registry %s: %s: content does not match its digest (got %s); "
			      "refusing it",
			      r->ref.registry, what, got);
		goto out;
	}
	ret = 0;
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

static int check_reported_digest(struct sk_registry *r, const struct resp *rs, const char *want,
				 const char *what, struct sk_error *err)
{
	if (rs->digest[0] && strcmp(rs->digest, want))
		return sk_errf(err, -EBADMSG,
			       "registry %s: %s: the registry reports digest %s, expected %s",
			       r->ref.registry, what, rs->digest, want);
	return 0;
}

static int upload_start(struct sk_registry *r, const char *repo, const char *digest,
			const char *mount_from, bool *mounted, char **location,
			struct sk_error *err)
{
	struct req rq = {.method = "POST", .expect_size = -1, .max = ERROR_BODY_MAX};
	struct resp rs = {0};
	char path[SK_REF_REPO_MAX + 32], what[SK_DIGEST_MAX + SK_REF_REPO_MAX + 64];
	char *url = NULL, *tmp = NULL;
	int ret;

	*mounted = false;
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", repo);
	if (make_url(r, path, &url))
		return sk_errf(err, -EINVAL, "registry %s: bad repository %s", r->ref.registry,
			       repo);
	if (mount_from) {
		if (url_add_query(url, "mount", digest, &tmp) ||
		    (curl_free(url), url = tmp, tmp = NULL,
		     url_add_query(url, "from", mount_from, &tmp))) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		curl_free(url);
		url = tmp;
		snprintf(what, sizeof(what), "mounting blob %.19s from %s", digest, mount_from);
	} else {
		snprintf(what, sizeof(what), "starting the upload of blob %.19s", digest);
	}
	rq.url = url;
	rq.what = what;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	if (rs.status == 201 && mount_from) {
		*mounted = true;
		ret = check_reported_digest(r, &rs, digest, what, err);
		goto out;
	}
	if (rs.status != 202) {
		ret = http_error(r, &rq, &rs, err);
		goto out;
	}
	if (!rs.location[0] || make_url(r, rs.location, location)) {
		ret = sk_errf(err, -EPROTO, "registry %s: %s: no usable Location in the answer",
			      r->ref.registry, what);
		goto out;
	}
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

int sk_registry_blob_push(struct sk_registry *r, const char *repo, const char *digest, int64_t size,
			  const char *path, const char *mount_from, bool *mounted,
			  struct sk_error *err)
{
	struct req rq = {
	    .expect_size = -1, .max = ERROR_BODY_MAX, .content_type = "application/octet-stream"};
	struct resp rs = {0};
	struct body body = {.fd = -1};
	char *location = NULL, *url = NULL, what[SK_DIGEST_MAX + SK_REF_REPO_MAX + 64];
	char range[64];
	bool was_mounted = false;
	struct stat st;
	int ret;

	if (mounted)
		*mounted = false;
	ret = ready(r, err);
	if (ret)
		return ret;
	body.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (body.fd < 0)
		return sk_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(body.fd, &st) || st.st_size != size) {
		ret = sk_errf(err, -EBADMSG, "%s: size %lld does not match its descriptor (%lld)",
			      path, (long long)st.st_size, (long long)size);
		goto out;
	}
	ret = upload_start(r, repo, digest, mount_from, &was_mounted, &location, err);
	if (ret || was_mounted) {
		if (mounted)
			*mounted = was_mounted;
		goto out;
	}
	rq.what = what;
	if ((size_t)size > r->chunk_size) {
		snprintf(what, sizeof(what), "uploading a chunk of blob %.19s", digest);
		for (off_t off = 0; off < size; off += (off_t)r->chunk_size) {
			size_t n = (size_t)(size - off) < r->chunk_size ? (size_t)(size - off)
									: r->chunk_size;

			body.off = off;
			body.len = n;
			snprintf(range, sizeof(range), "%lld-%lld", (long long)off,
				 (long long)off + (long long)n - 1);
			rq.method = "PATCH";
			rq.url = location;
			rq.body = &body;
			rq.content_range = range;
			ret = do_request(r, &rq, &rs, err);
			if (ret)
				goto out;
			if (rs.status != 202) {
				ret = http_error(r, &rq, &rs, err);
				goto out;
			}
			if (rs.location[0]) {
				char *next = NULL;

				if (make_url(r, rs.location, &next)) {
					ret = sk_errf(err, -EPROTO, "registry %s: bad Location",
						      r->ref.registry);
					goto out;
				}
				curl_free(location);
				location = next;
			}
		}
		rq.body = NULL;
		rq.content_range = NULL;
	} else {
		body.off = 0;
		body.len = (size_t)size;
		rq.body = &body;
	}
	snprintf(what, sizeof(what), "uploading blob %.19s to %s", digest, repo);
	if (url_add_query(location, "digest", digest, &url)) {
		ret = sk_errf(err, -EPROTO, "registry %s: bad upload Location", r->ref.registry);
		goto out;
	}
	rq.method = "PUT";
	rq.url = url;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	if (rs.status != 201) {
		ret = http_error(r, &rq, &rs, err);
		goto out;
	}
	ret = check_reported_digest(r, &rs, digest, what, err);
out:
	if (body.fd >= 0)
		close(body.fd);
	curl_free(location);
	curl_free(url);
	resp_free(&rs);
	return ret;
}

/* ---- manifests ---- */

static void media_type_of(const char *ctype, char out[256])
{
	size_t n = strcspn(ctype, ";");

	while (n && ctype[n - 1] == ' ')
		n--;
	snprintf(out, 256, "%.*s", (int)n, ctype);
}

int sk_registry_manifest_get(struct sk_registry *r, const char *repo, const char *reference,
			     size_t max, struct sk_buf *body, char media_type[256],
			     char digest[SK_DIGEST_MAX], struct sk_error *err)
{
	struct req rq = {
	    .method = "GET", .accept = ACCEPT_MANIFESTS, .expect_size = -1, .max = max};
	struct resp rs = {0};
	char *url = NULL, what[SK_DIGEST_MAX + SK_REF_REPO_MAX + 64];
	bool by_digest = sk_digest_valid(reference);
	int ret;

	ret = ready(r, err);
	if (ret)
		return ret;
	ret = repo_url(r, repo, "manifests", reference, &url, err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "fetching manifest %s%s%s", repo, by_digest ? "@" : ":",
		 reference);
	rq.what = what;
	rq.url = url;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	if (rs.status != 200) {
		ret = http_error(r, &rq, &rs, err);
		goto out;
	}
	sk_digest_buf(rs.body.data ? rs.body.data : (uint8_t *)"", rs.body.len, digest);
	if (by_digest && strcmp(digest, reference)) {
		ret = sk_errf(err, -EBADMSG, "registry %s: %s: content hashes to %s; refusing it",
			      r->ref.registry, what, digest);
		goto out;
	}
	if (rs.digest[0] && strcmp(rs.digest, digest)) {
		ret = sk_errf(err, -EBADMSG,
			      "registry %s: %s: content hashes to %s but Docker-Content-Digest "
			      "says %s; refusing it",
			      r->ref.registry, what, digest, rs.digest);
		goto out;
	}
	media_type_of(rs.ctype, media_type);
	*body = rs.body;
	memset(&rs.body, 0, sizeof(rs.body));
	if (!body->data)
		ret = sk_buf_append(body, "", 0);
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

int sk_registry_manifest_head(struct sk_registry *r, const char *repo, const char *reference,
			      struct sk_descriptor *d, struct sk_error *err)
{
	struct req rq = {.method = "HEAD", .accept = ACCEPT_MANIFESTS, .expect_size = -1};
	struct resp rs = {0};
	char *url = NULL, what[SK_DIGEST_MAX + SK_REF_REPO_MAX + 64];
	int ret;

	ret = ready(r, err);
	if (ret)
		return ret;
	ret = repo_url(r, repo, "manifests", reference, &url, err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "checking for manifest %s:%s", repo, reference);
	rq.what = what;
	rq.url = url;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	if (rs.status == 404) {
		ret = 0;
	} else if (rs.status == 200) {
		if (d) {
			memset(d, 0, sizeof(*d));
			media_type_of(rs.ctype, d->media_type);
			if (sk_digest_valid(rs.digest))
				memcpy(d->digest, rs.digest, strlen(rs.digest) + 1);
			d->size = rs.clen;
		}
		ret = 1;
	} else {
		ret = http_error(r, &rq, &rs, err);
	}
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

int sk_registry_manifest_put(struct sk_registry *r, const char *repo, const char *reference,
			     const char *media_type, const void *data, size_t len,
			     struct sk_error *err)
{
	struct req rq = {
	    .method = "PUT", .content_type = media_type, .expect_size = -1, .max = ERROR_BODY_MAX};
	struct body body = {.mem = data, .len = len, .fd = -1};
	struct resp rs = {0};
	char *url = NULL, what[SK_DIGEST_MAX + SK_REF_REPO_MAX + 64], digest[SK_DIGEST_MAX];
	int ret;

	ret = ready(r, err);
	if (ret)
		return ret;
	ret = repo_url(r, repo, "manifests", reference, &url, err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "pushing manifest %s%s%s", repo,
		 sk_digest_valid(reference) ? "@" : ":", reference);
	rq.what = what;
	rq.url = url;
	rq.body = &body;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	if (rs.status != 201 && rs.status != 200) {
		ret = http_error(r, &rq, &rs, err);
		goto out;
	}
	sk_digest_buf(data, len, digest);
	ret = check_reported_digest(r, &rs, digest, what, err);
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

/* Link: </v2/x/tags/list?last=a&n=100>; rel="next" */
static int next_link(const char *link, char *out, size_t len)
{
	const char *lt = strchr(link, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (!lt || !gt || !strstr(gt, "rel=\"next\"") || (size_t)(gt - lt - 1) >= len)
		return -1;
	snprintf(out, len, "%.*s", (int)(gt - lt - 1), lt + 1);
	return 0;
}

int sk_registry_tags(struct sk_registry *r, const char *repo, struct sk_strv *tags,
		     struct sk_error *err)
{
	struct req rq = {
	    .method = "GET", .expect_size = -1, .max = TAGS_BODY_MAX, .what = "listing tags"};
	struct resp rs = {0};
	char *url = NULL, next[1024];
	int ret, pages = 0;

	ret = ready(r, err);
	if (ret)
		return ret;
	snprintf(next, sizeof(next), "/v2/%s/tags/list", repo);
	while (next[0] && pages++ < 1000) {
		struct json_object *j = NULL, *arr;

		curl_free(url);
		url = NULL;
		if (make_url(r, next, &url)) {
			ret =
			    sk_errf(err, -EPROTO, "registry %s: bad tag list URL", r->ref.registry);
			goto out;
		}
		rq.url = url;
		ret = do_request(r, &rq, &rs, err);
		if (ret)
			goto out;
		if (rs.status != 200) {
			ret = http_error(r, &rq, &rs, err);
			goto out;
		}
		ret = sk_json_parse(rs.body.data, rs.body.len, "tag list", &j, err);
		if (ret)
			goto out;
		if (json_object_object_get_ex(j, "tags", &arr) &&
		    json_object_is_type(arr, json_type_array))
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				struct json_object *t = json_object_array_get_idx(arr, i);

				if (json_object_is_type(t, json_type_string) &&
				    sk_strv_push(tags, json_object_get_string(t))) {
					json_object_put(j);
					ret = sk_errf(err, -ENOMEM, "out of memory");
					goto out;
				}
			}
		json_object_put(j);
		if (!rs.link[0] || next_link(rs.link, next, sizeof(next)))
			next[0] = '\0';
	}
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}
