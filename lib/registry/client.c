/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The distribution-spec client. Every request goes through one libcurl multi
 * handle per registry, so connections are pooled and reused, and blobs move
 * several at a time: multiplexed on one connection where the registry speaks
 * HTTP/2, on a few parallel HTTP/1.1 connections where it does not, never
 * more than SK_REGISTRY_CONCURRENCY at once. No anonymous GET /v2/ ping: the
 * first real request finds the scheme (plain HTTP first where it is allowed)
 * and the first 401 says how to authenticate (anonymous, Basic, Bearer
 * tokens). Retries with backoff (Retry-After honoured), interrupted blob
 * downloads continued with Range, and streaming verification of everything
 * downloaded.
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
/* blobs at least this large get a progress display (smaller ones take no time) */
#define PROGRESS_MIN	  (1 << 20)
#define PROGRESS_REDRAW_S 0.2
#define BLOB_BUFFER	  (256L << 10)
#define ACCEPT_MANIFESTS                                                                           \
	SK_MT_INDEX ", " SK_MT_MANIFEST ", " SK_MT_DOCKER_LIST ", " SK_MT_DOCKER_MANIFEST

enum auth_kind { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

/* A blob on the progress display. */
struct prog {
	char label[24]; /* "sha256:0123456789ab" */
	bool up;	/* pushing (else fetching) */
	int64_t total;
	int64_t base; /* bytes from earlier attempts (a resumed download) */
	int64_t now;
	double t0;
	bool shown;
};

/* One easy handle: a request in flight, or idle in the pool. */
struct xfer {
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	bool done;
	CURLcode cc;
	struct prog *prog;
	struct xfer *next;
};

struct sk_registry {
	CURLM *multi;
	CURLSH *share;
	struct xfer *idle;
	char *ca_cert;
	char *auth_file;
	size_t chunk_size;
	double drawn_at; /* progress: the last redraw */
	char *token;
	double token_expiry;	       /* monotonic seconds */
	struct sk_strv insecure_hosts; /* every host the user named insecure (token realms) */
	struct sk_strv looked;	       /* auth files consulted, for "no credentials" messages */
	struct sk_strv scopes;
	struct prog *shown[SK_REGISTRY_CONCURRENCY]; /* large blobs on the progress display */
	struct sk_cred cred;
	unsigned max_attempts;
	unsigned budget_ms;
	unsigned requests;
	unsigned seed;
	enum sk_progress progress;
	enum auth_kind auth;
	bool insecure; /* named by the user: unverified TLS and plain HTTP */
	bool plain_ok; /* plain HTTP allowed (insecure or loopback) */
	bool verbose;
	bool tty; /* stderr is a terminal (asked once: transfers ask often) */
	bool cred_loaded;
	bool cred_explicit;
	bool token_secret; /* obtained with credentials: as secret as they are */
	char scheme[8];	   /* "" until the first request settled it */
	char service[256];
	struct sk_ref ref;
	char realm[1024];
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
	bool resumable;		    /* a blob GET: an interrupted body continues with Range */
	const struct sk_sink *sink; /* successful body goes here (else into resp.body) */
	int64_t expect_size;	    /* >= 0: cut off beyond this many bytes */
	size_t max;		    /* limit for bodies kept in memory */
	const char *what;	    /* the step, for messages */
	struct prog *prog;	    /* a blob on the progress display */
};

struct resp {
	long status;
	char location[2048];
	char digest[128];
	char ctype[256];
	char range[64];
	char crange[96];
	char link[1024];
	char subject[SK_DIGEST_MAX + 8]; /* OCI-Subject: the registry keeps referrers itself */
	char www_auth[2048];
	int64_t clen;
	long retry_after_ms;
	struct sk_buf body;
	struct sk_hasher *hasher;
	int64_t got;
	int64_t resume_from; /* > 0: this attempt asked for the bytes from here on */
	bool body_seen;
	bool too_large;
	bool bad_range;
	int sink_ret;
	struct sk_error sink_err;
	const struct req *req;
};

/* One request with its retries: the state do_request keeps, so that several run at once. */
struct call {
	struct req *rq;
	struct resp *rs;
	struct xfer *x; /* in flight, or done and not yet looked at */
	char *url;	/* the request's URL on the scheme found (curl_free), NULL: rq->url */
	double start, deadline, wake;
	unsigned attempt;
	unsigned reauths; /* 401s answered with new credentials or a new token */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	r->multi = curl_multi_init();
	r->share = curl_share_init();
	if (!r->multi || !r->share) {
		sk_registry_close(r);
		return sk_errf(err, -ENOMEM, "cannot initialise libcurl");
	}
	/* one HTTP/2 connection carries every stream; HTTP/1.1 gets a few connections */
	curl_multi_setopt(r->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)SK_REGISTRY_CONCURRENCY);
	curl_multi_setopt(r->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  (long)SK_REGISTRY_CONCURRENCY + 1);
	/* a new connection (a parallel one, a token server's) resumes the TLS session */
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
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
	r->progress = SK_PROGRESS_AUTO;
	r->tty = isatty(STDERR_FILENO);
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
	while (r->idle) {
		struct xfer *x = r->idle;

		r->idle = x->next;
		curl_easy_cleanup(x->easy);
		free(x);
	}
	if (r->multi)
		curl_multi_cleanup(r->multi);
	if (r->share)
		curl_share_cleanup(r->share);
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

void sk_registry_set_progress(struct sk_registry *r, enum sk_progress mode)
{
	r->progress = mode;
}

int sk_registry_add_scope(struct sk_registry *r, const char *repo, bool push)
{
	char scope[SK_REF_REPO_MAX + 40];

	snprintf(scope, sizeof(scope), "repository:%s:%s", repo, push ? "pull,push" : "pull");
	if (sk_strv_contains(&r->scopes, scope))
		return 0;
	return sk_strv_push(&r->scopes, scope);
}

/* ---- progress of large blobs ---- */

static void human(double bytes, char *out, size_t len)
{
	if (bytes >= 1 << 30)
		snprintf(out, len, "%.2f GiB", bytes / (1 << 30));
	else if (bytes >= 1 << 20)
		snprintf(out, len, "%.1f MiB", bytes / (1 << 20));
	else
		snprintf(out, len, "%.0f KiB", bytes / 1024);
}

static bool progress_live(const struct sk_registry *r)
{
	return r->progress == SK_PROGRESS_AUTO && r->tty;
}

/* TTY: one line, redrawn, with each blob's bytes, rate and time left. */
static void progress_draw(struct sk_registry *r, bool force)
{
	double t = now_s();
	char line[512];
	size_t o = 0;

	if (!force && t - r->drawn_at < PROGRESS_REDRAW_S)
		return;
	r->drawn_at = t;
	for (size_t i = 0; i < SK_REGISTRY_CONCURRENCY && o < sizeof(line) - 1; i++) {
		struct prog *p = r->shown[i];
		char done[32], total[32], eta[32] = "";
		double el, rate;

		if (!p)
			continue;
		el = t - p->t0;
		rate = el > 0 ? (double)(p->now - p->base) / el : 0;
		human((double)p->now, done, sizeof(done));
		human((double)p->total, total, sizeof(total));
		if (rate > 0 && p->total > p->now)
			snprintf(eta, sizeof(eta), " ETA %.0fs",
				 (double)(p->total - p->now) / rate);
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%.19s %s/%s %.1f MiB/s%s",
				      o ? " | " : "", p->label, done, total, rate / (1 << 20), eta);
	}
	if (o >= sizeof(line))
		o = sizeof(line) - 1;
	fprintf(stderr, "\r\033[K%.*s", (int)o, line);
	fflush(stderr);
}

static void progress_start(struct sk_registry *r, struct prog *p)
{
	if (p->shown || p->total < PROGRESS_MIN || r->progress == SK_PROGRESS_OFF)
		return;
	p->t0 = now_s();
	p->now = p->base;
	for (size_t i = 0; i < SK_REGISTRY_CONCURRENCY; i++) {
		if (!r->shown[i]) {
			r->shown[i] = p;
			p->shown = true;
			return;
		}
	}
}

/* A blob is done (ok) or given up: a line of its own, on a TTY and in logs alike. */
static void progress_end(struct sk_registry *r, struct prog *p, bool ok)
{
	char total[32];
	double el;

	if (!p->shown)
		return;
	for (size_t i = 0; i < SK_REGISTRY_CONCURRENCY; i++)
		if (r->shown[i] == p)
			r->shown[i] = NULL;
	p->shown = false;
	el = now_s() - p->t0;
	human((double)p->total, total, sizeof(total));
	if (progress_live(r))
		fprintf(stderr, "\r\033[K");
	if (ok)
		fprintf(stderr, "%s %.19s: %s in %.1f s (%.1f MiB/s)\n",
			p->up ? "pushed" : "fetched", p->label, total, el,
			el > 0 ? (double)(p->total - p->base) / el / (1 << 20) : 0.0);
	else
		fprintf(stderr, "%s %.19s: stopped after %lld of %lld bytes\n",
			p->up ? "pushing" : "fetching", p->label, (long long)p->now,
			(long long)p->total);
	if (progress_live(r))
		progress_draw(r, true);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct sk_registry *r = ud;
	bool any = false;

	(void)dltotal;
	(void)ultotal;
	(void)dlnow;
	(void)ulnow;
	for (size_t i = 0; i < SK_REGISTRY_CONCURRENCY; i++)
		any |= r->shown[i] != NULL;
	if (any && progress_live(r))
		progress_draw(r, false);
	return 0;
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
		rs->link[0] = rs->www_auth[0] = rs->crange[0] = rs->subject[0] = '\0';
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
	} else if (HDR("Content-Range")) {
		COPY(rs->crange);
	} else if (HDR("Link")) {
		COPY(rs->link);
	} else if (HDR("OCI-Subject")) {
		COPY(rs->subject);
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
			/* a registry may ask for long; the request's time budget still applies */
			rs->retry_after_ms = secs > 3600 ? 3600000 : secs * 1000;
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

/*
 * The first body bytes of a resumed download: a 206 must continue exactly
 * where the last attempt stopped; a 200 (the registry ignored Range) starts
 * over, so what was kept is thrown away.
 */
static int resume_check(struct resp *rs, const struct req *rq)
{
	long long from = -1;

	if (!rs->resume_from)
		return 0;
	if (rs->status == 206) {
		if (sscanf(rs->crange, "bytes %lld-", &from) != 1 || from != rs->resume_from) {
			rs->bad_range = true;
			return -1;
		}
		return 0;
	}
	if (rq->sink && rq->sink->reset) {
		rs->sink_ret = rq->sink->reset(rq->sink->ctx, &rs->sink_err);
		if (rs->sink_ret)
			return -1;
	}
	if (rs->hasher) {
		sk_hasher_free(rs->hasher);
		rs->hasher = sk_hasher_new();
	}
	rs->got = 0;
	rs->resume_from = 0;
	if (rq->prog)
		rq->prog->base = rq->prog->now = 0;
	return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	struct resp *rs = ud;
	const struct req *rq = rs->req;
	size_t len = size * n;

	if (rs->status >= 200 && rs->status < 300) {
		if (!rs->body_seen) {
			rs->body_seen = true;
			if (resume_check(rs, rq))
				return 0;
		}
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
		if (rq->prog)
			rq->prog->now = rs->got;
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
	struct req *rq = ud;
	struct body *b = rq->body;
	size_t want = size * n, left = b->len - b->pos;
	ssize_t got;

	if (want > left)
		want = left;
	if (!want)
		return 0;
	if (b->mem) {
		memcpy(buf, b->mem + b->pos, want);
	} else {
		got = pread(b->fd, buf, want, b->off + (off_t)b->pos);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	b->pos += want;
	if (rq->prog)
		rq->prog->now = (int64_t)b->off + (int64_t)b->pos;
	return want;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct req *rq = ud;
	struct body *b = rq->body;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > b->len)
		return CURL_SEEKFUNC_CANTSEEK;
	b->pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- helpers ---- */

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
	/* before the first answer: the scheme the first request tries (see probe()) */
	snprintf(base, sizeof(base), "%s://%s/",
		 r->scheme[0]  ? r->scheme
		 : r->plain_ok ? "http"
			       : "https",
		 r->ref.host);
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
static int handle_challenge(struct sk_registry *r, const struct req *rq, const struct resp *rs,
			    struct sk_error *err);
static int no_credentials(struct sk_registry *r, const struct req *rq, struct sk_error *err);
static unsigned backoff_ms(struct sk_registry *r, unsigned attempt);

/* ---- the engine: easy handles on the multi handle ---- */

static struct xfer *xfer_get(struct sk_registry *r)
{
	struct xfer *x = r->idle;

	if (x) {
		r->idle = x->next;
		curl_easy_reset(x->easy);
	} else {
		x = calloc(1, sizeof(*x));
		if (!x)
			return NULL;
		x->easy = curl_easy_init();
		if (!x->easy) {
			free(x);
			return NULL;
		}
	}
	x->next = NULL;
	x->done = false;
	x->cc = CURLE_OK;
	x->hdrs = NULL;
	x->errbuf[0] = '\0';
	x->prog = NULL;
	return x;
}

/* Takes x off the multi handle (done or not) and keeps it for the next request. */
static void xfer_put(struct sk_registry *r, struct xfer *x)
{
	if (!x)
		return;
	curl_multi_remove_handle(r->multi, x->easy);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->next = r->idle;
	r->idle = x;
}

static bool reap(struct sk_registry *r)
{
	bool any = false;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(r->multi, &left))) {
		struct xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x) {
			x->done = true;
			x->cc = m->data.result;
			any = true;
		}
	}
	return any;
}

/*
 * Moves every transfer along; waits up to timeout_ms for something to happen
 * when nothing finished yet. A request waited for inside another one (a token
 * while blobs stream) drives the others too: they are only marked done, and
 * whoever owns them looks at them later.
 */
static void pump(struct sk_registry *r, int timeout_ms)
{
	int running = 0;

	curl_multi_perform(r->multi, &running);
	if (reap(r) || timeout_ms <= 0)
		return;
	curl_multi_poll(r->multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(r->multi, &running);
	reap(r);
}

static void wait_done(struct sk_registry *r, struct xfer *x)
{
	while (!x->done)
		pump(r, 1000);
}

/* Backoff that keeps the other transfers moving. */
static void wait_until(struct sk_registry *r, double t)
{
	for (;;) {
		double left = t - now_s();

		if (left <= 0)
			return;
		pump(r, (int)(left * 1000.0) + 1);
	}
}

static void resp_reset(struct resp *rs)
{
	char *data = (char *)rs->body.data;

	rs->status = 0;
	rs->clen = -1;
	rs->retry_after_ms = -1;
	rs->body_seen = false;
	rs->too_large = false;
	rs->bad_range = false;
	rs->sink_ret = 0;
	/* a resumed download keeps what it has: its bytes, its hash so far */
	if (rs->resume_from > 0)
		return;
	rs->body.len = 0;
	if (data)
		data[0] = '\0';
	rs->got = 0;
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

static void call_init(struct call *c, struct sk_registry *r, struct req *rq, struct resp *rs)
{
	memset(c, 0, sizeof(*c));
	c->rq = rq;
	c->rs = rs;
	c->start = now_s();
	c->deadline = c->start + r->budget_ms / 1000.0;
}

static void call_free(struct sk_registry *r, struct call *c)
{
	if (c->x)
		xfer_put(r, c->x);
	c->x = NULL;
	curl_free(c->url);
	c->url = NULL;
}

/* Puts one attempt of c on the multi handle. */
static int call_send(struct sk_registry *r, struct call *c, struct sk_error *err)
{
	struct req *rq = c->rq;
	struct resp *rs = c->rs;
	const char *url = c->url ? c->url : rq->url;
	double left_ms = (c->deadline - now_s()) * 1000.0;
	struct xfer *x;
	char line[512];
	CURL *e;
	int ret;

	if (rq->sink && c->attempt > 0 && !rs->resume_from && rq->sink->reset) {
		ret = rq->sink->reset(rq->sink->ctx, err);
		if (ret)
			return ret;
	}
	if (r->auth == AUTH_BEARER && r->token && !rq->token_request &&
	    now_s() >= r->token_expiry) {
		ret = get_token(r, NULL, err);
		if (ret)
			return ret;
	}
	resp_reset(rs);
	x = xfer_get(r);
	if (!x)
		return sk_errf(err, -ENOMEM, "out of memory");
	e = x->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(e, CURLOPT_SHARE, r->share);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "schedkit/1");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, r->plain_ok ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(left_ms > 1000 ? left_ms : 1000));
	/* HTTP/2 where TLS offers it; a new stream waits for that connection, not for one of its
	 * own */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (!strncmp(url, "https:", 6))
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	/* a stalled transfer counts as a dropped connection */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, rs);
	/* blobs: fewer, larger reads and writes (the default is 16 KiB) */
	if (rq->sink)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)BLOB_BUFFER);
	if (rq->body && rq->body->len > 65536)
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)BLOB_BUFFER);
	if (rq->prog && rq->prog->shown) {
		curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
	}
	set_tls(r, e);
	/*
	 * Proxies come from the environment as curl and Go clients read them
	 * (https_proxy, HTTPS_PROXY, all_proxy, no_proxy, NO_PROXY). For http://,
	 * curl reads only the lower-case http_proxy (a precaution for CGI scripts);
	 * Go's HTTP_PROXY is honoured too, NO_PROXY still applying.
	 */
	if (!strncmp(url, "http:", 5) && !getenv("http_proxy")) {
		const char *p = getenv("HTTP_PROXY");

		if (p && *p)
			curl_easy_setopt(e, CURLOPT_PROXY, p);
	}

	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	if (rq->accept) {
		snprintf(line, sizeof(line), "Accept: %s", rq->accept);
		x->hdrs = curl_slist_append(x->hdrs, line);
	}
	if (rq->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
		x->hdrs = curl_slist_append(x->hdrs, line);
	}
	if (rq->content_range) {
		snprintf(line, sizeof(line), "Content-Range: %s", rq->content_range);
		x->hdrs = curl_slist_append(x->hdrs, line);
	}
	if (rs->resume_from > 0) {
		/* closed when the size is known: some registries (crane's) refuse "N-" */
		if (rq->expect_size > rs->resume_from)
			snprintf(line, sizeof(line), "Range: bytes=%lld-%lld",
				 (long long)rs->resume_from, (long long)rq->expect_size - 1);
		else
			snprintf(line, sizeof(line), "Range: bytes=%lld-",
				 (long long)rs->resume_from);
		x->hdrs = curl_slist_append(x->hdrs, line);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);

	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "POST")) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (!strcmp(rq->method, "PUT") || !strcmp(rq->method, "PATCH")) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		if (!strcmp(rq->method, "PATCH"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PATCH");
		if (rq->body) {
			rq->body->pos = 0;
			curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(e, CURLOPT_READDATA, rq);
			curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
			curl_easy_setopt(e, CURLOPT_SEEKDATA, rq);
			curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body->len);
		} else {
			curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
		}
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	if (rq->follow) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	}
	/* the callers decide; this is the last line against secrets in the clear */
	if (rq->token_request) {
		if (rq->token_basic && r->cred.username && secret_ok(r, url)) {
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(e, CURLOPT_USERNAME, r->cred.username);
			curl_easy_setopt(e, CURLOPT_PASSWORD, r->cred.password);
		}
	} else if (same_host(r, url)) {
		if (r->auth == AUTH_BASIC && r->cred.username && secret_ok(r, url)) {
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(e, CURLOPT_USERNAME, r->cred.username);
			curl_easy_setopt(e, CURLOPT_PASSWORD, r->cred.password);
		} else if (r->auth == AUTH_BEARER && r->token &&
			   (!r->token_secret || secret_ok(r, url))) {
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
			curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, r->token);
		}
	}
	rs->req = rq;
	if (curl_multi_add_handle(r->multi, e) != CURLM_OK) {
		curl_slist_free_all(x->hdrs);
		x->hdrs = NULL;
		x->next = r->idle;
		r->idle = x;
		return sk_errf(err, -ENOMEM, "registry %s: %s: cannot start the request",
			       r->ref.registry, rq->what);
	}
	r->requests++;
	c->x = x;
	return 0;
}

/*
 * Judges the attempt that finished: 1 when it is an HTTP answer for the
 * caller (rs->status set), 0 to send again once c->wake is reached (a
 * transient failure with attempts and time left, or a 401 that got us
 * credentials), < 0 when the request failed for good.
 */
static int call_eval(struct sk_registry *r, struct call *c, struct sk_error *err)
{
	struct req *rq = c->rq;
	struct resp *rs = c->rs;
	struct xfer *x = c->x;
	CURLcode cc = x->cc;
	char xerr[CURL_ERROR_SIZE];
	unsigned delay;

	snprintf(xerr, sizeof(xerr), "%s", x->errbuf);
	c->x = NULL;
	xfer_put(r, x);
	c->attempt++;
	if (r->verbose) {
		const char *url = c->url ? c->url : rq->url;

		if (cc == CURLE_OK)
			fprintf(stderr, "registry: %s %s -> %ld\n", rq->method, url, rs->status);
		else
			fprintf(stderr, "registry: %s %s -> %s\n", rq->method, url,
				curl_easy_strerror(cc));
	}
	if (rs->sink_ret)
		return sk_errf(err, rs->sink_ret, "registry %s: %s: %s", r->ref.registry, rq->what,
			       rs->sink_err.msg);
	if (rs->bad_range)
		return sk_errf(err, -EPROTO,
			       "registry %s: %s: asked for the bytes from %lld on, the answer "
			       "holds \"%s\"",
			       r->ref.registry, rq->what, (long long)rs->resume_from, rs->crange);
	if (cc == CURLE_WRITE_ERROR && rs->too_large)
		return sk_errf(
		    err, -EFBIG,
		    "registry %s: %s: the response is larger than the %lld bytes "
		    "expected; refusing it",
		    r->ref.registry, rq->what,
		    (long long)(rq->expect_size >= 0 ? rq->expect_size : (int64_t)rq->max));
	if (cc != CURLE_OK) {
		if (!curl_transient(cc))
			return sk_errf(err, -EIO, "registry %s: %s: %s%s%s%s", r->ref.registry,
				       rq->what, curl_easy_strerror(cc), xerr[0] ? ": " : "", xerr,
				       curl_hint(r, cc));
	} else if (rs->status == 401 && !rq->token_request &&
		   (!c->reauths || (c->reauths == 1 && r->auth == AUTH_BEARER))) {
		/*
		 * Once; and for Bearer once more: a token the token server just issued
		 * can expire on its way (registries count whole seconds), which is not
		 * a refusal of the credentials.
		 */
		int ret = handle_challenge(r, rq, rs, err);

		c->reauths++;
		if (ret)
			return ret;
		c->wake = 0;
		return 0;
	} else if (rs->status == 401 && !rq->token_request) {
		/* an anonymous token was not enough */
		if (!registry_secret_ok(r))
			return plain_refusal(r, rq->what, NULL, err);
		if (!r->cred.username)
			return no_credentials(r, rq, err);
		return sk_errf(err, -EACCES,
			       "registry %s: %s: the registry rejected the credentials from "
			       "%s (wrong user name or password, or no access to this "
			       "repository)",
			       r->ref.registry, rq->what, r->cred.source);
	} else if (rs->status != 408 && rs->status != 429 && rs->status < 500) {
		return 1;
	}

	/* transient: back off and try again, if time and attempts remain */
	delay = backoff_ms(r, c->attempt);
	if (cc == CURLE_OK && rs->retry_after_ms >= 0)
		delay = (unsigned)rs->retry_after_ms;
	if (c->attempt >= r->max_attempts || now_s() + delay / 1000.0 >= c->deadline) {
		char why[600];

		if (cc != CURLE_OK) {
			snprintf(why, sizeof(why), "%s%s%s", curl_easy_strerror(cc),
				 xerr[0] ? ": " : "", xerr);
		} else {
			char d[400];

			describe_error(rs, d, sizeof(d));
			snprintf(why, sizeof(why), "HTTP %ld%s%s", rs->status, d[0] ? ": " : "", d);
		}
		return sk_errf(err, -EAGAIN,
			       "registry %s: %s: gave up after %u attempts in %.1f s: %s",
			       r->ref.registry, rq->what, c->attempt, now_s() - c->start, why);
	}
	/* a download cut off part-way goes on from where it stopped */
	if (rq->resumable && cc != CURLE_OK && (rs->status == 200 || rs->status == 206) &&
	    rs->got > 0)
		rs->resume_from = rs->got;
	if (r->verbose)
		fprintf(stderr, "registry: retrying in %u ms%s\n", delay,
			rs->resume_from ? " (resuming)" : "");
	c->wake = now_s() + delay / 1000.0;
	return 0;
}

/* url with another scheme (curl_free). */
static int with_scheme(const char *url, const char *scheme, char **out)
{
	CURLU *u = curl_url();
	int ret = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_set(u, CURLUPART_SCHEME, scheme, 0) || curl_url_get(u, CURLUPART_URL, out, 0))
		ret = -EINVAL;
	curl_url_cleanup(u);
	return ret;
}

/*
 * How a TLS server answers a plain HTTP request when it answers in HTTP: Go's
 * (docker-registry) "Client sent an HTTP request to an HTTPS server", nginx's
 * "The plain HTTP request was sent to HTTPS port", both 400. A HEAD has no
 * body to tell by, and no registry answers a HEAD with 400 otherwise. (Others
 * send a TLS alert, which is no HTTP, or drop the connection: a curl error.)
 */
static bool tls_refusal(const struct resp *rs, const struct req *rq)
{
	if (rs->status != 400)
		return false;
	if (!strcmp(rq->method, "HEAD"))
		return true;
	return rs->body.data && memmem(rs->body.data, rs->body.len, "HTTPS", 5);
}

static int call_rescheme(struct call *c, const char *scheme, struct sk_error *err)
{
	char *u = NULL;

	if (with_scheme(c->rq->url, scheme, &u))
		return sk_errf(err, -EINVAL, "bad URL %s", c->rq->url);
	curl_free(c->url);
	c->url = u;
	return 0;
}

/*
 * The first request finds the scheme; there is no anonymous GET /v2/ ping.
 * Where plain HTTP is allowed anyway (loopback, --insecure), plain HTTP
 * first: an HTTPS probe first would load the CA bundle (~20 ms) before a
 * plain-HTTP registry got to answer. HTTPS follows, with certificates
 * verified as for any host, when HTTP got no usable answer: a TLS server
 * refuses it with a 400 or a protocol error, and without a port in the name
 * HTTPS listens on another port. Elsewhere HTTPS only. A registry that is
 * down is asked again (both ways) with backoff, so a restarting plain-HTTP
 * registry is not taken for an HTTPS one. Returns with c->x done (its answer
 * judged as any other), or an error.
 */
static int probe(struct sk_registry *r, struct call *c, struct sk_error *err)
{
	int ret;

	for (unsigned attempt = 1;; attempt++) {
		char http_err[CURL_ERROR_SIZE];
		CURLcode http_cc, cc;

		if (!r->plain_ok) {
			snprintf(r->scheme, sizeof(r->scheme), "https");
			ret = call_rescheme(c, "https", err);
			if (!ret)
				ret = call_send(r, c, err);
			if (!ret)
				wait_done(r, c->x);
			return ret;
		}
		snprintf(r->scheme, sizeof(r->scheme), "http");
		ret = call_rescheme(c, "http", err);
		if (!ret)
			ret = call_send(r, c, err);
		if (ret)
			goto fail;
		wait_done(r, c->x);
		/*
		 * An HTTP answer settles it, even one we cut short ourselves (too
		 * large, wrong digest): only no answer at all, or a TLS server's
		 * refusal, sends the request to HTTPS.
		 */
		if ((c->x->cc == CURLE_OK || c->rs->status > 0) && !tls_refusal(c->rs, c->rq))
			return 0;
		http_cc = c->x->cc;
		snprintf(http_err, sizeof(http_err), "%s", c->x->errbuf);
		xfer_put(r, c->x);
		c->x = NULL;
		snprintf(r->scheme, sizeof(r->scheme), "https");
		ret = call_rescheme(c, "https", err);
		if (!ret)
			ret = call_send(r, c, err);
		if (ret)
			goto fail;
		wait_done(r, c->x);
		cc = c->x->cc;
		/* no answer in plain HTTP, no TLS either: (re)starting */
		if (cc == CURLE_OK || !curl_transient(http_cc) ||
		    (cc != CURLE_SSL_CONNECT_ERROR && !curl_transient(cc)))
			return 0;
		xfer_put(r, c->x);
		c->x = NULL;
		if (attempt >= r->max_attempts) {
			ret = sk_errf(
			    err, -EAGAIN,
			    "registry %s: %s: connecting over http (gave up after retrying): "
			    "%s%s%s%s",
			    r->ref.registry, c->rq->what, curl_easy_strerror(http_cc),
			    http_err[0] ? ": " : "", http_err, curl_hint(r, http_cc));
			goto fail;
		}
		r->scheme[0] = '\0';
		wait_until(r, now_s() + backoff_ms(r, attempt) / 1000.0);
	}
fail:
	r->scheme[0] = '\0';
	return ret;
}

/*
 * Runs a request with retries: connection errors, 408, 429 and 5xx are retried
 * with exponential backoff and jitter (Retry-After honoured) within the time
 * budget; a 401 triggers authentication and one more try. Returns 0 with
 * rs->status set for any other HTTP answer (the caller decides what it means).
 */
static int do_request(struct sk_registry *r, struct req *rq, struct resp *rs, struct sk_error *err)
{
	struct call c;
	int ret = 0;

	call_init(&c, r, rq, rs);
	if (!r->scheme[0])
		ret = probe(r, &c, err);
	while (!ret) {
		if (!c.x) {
			wait_until(r, c.wake);
			ret = call_send(r, &c, err);
			if (ret)
				break;
		}
		wait_done(r, c.x);
		ret = call_eval(r, &c, err);
		if (ret == 1) {
			ret = 0;
			break;
		}
	}
	call_free(r, &c);
	return ret;
}

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

/*
 * Whether scopes already ask for what a challenge names: "repository:X:pull"
 * is covered by "repository:X:pull,push" (the first request of a push is a
 * HEAD, whose challenge names pull only).
 */
static bool scope_covered(const struct sk_strv *scopes, const char *want)
{
	const char *colon = strrchr(want, ':');
	size_t plen;

	if (sk_strv_contains(scopes, want))
		return true;
	if (!colon)
		return false;
	plen = (size_t)(colon - want) + 1;
	for (size_t i = 0; i < scopes->n; i++) {
		const char *have = scopes->v[i];
		char actions[256], *save = NULL;
		bool all = true;

		if (strncmp(have, want, plen) || strchr(have + plen, ':'))
			continue;
		snprintf(actions, sizeof(actions), "%s", colon + 1);
		for (char *a = strtok_r(actions, ",", &save); a && all;
		     a = strtok_r(NULL, ",", &save)) {
			const char *h = have + plen;
			size_t al = strlen(a);
			bool found = false;

			while (*h && !found) {
				size_t hl = strcspn(h, ",");

				found = hl == al && !strncmp(h, a, al);
				h += hl + (h[hl] == ',');
			}
			all = found;
		}
		if (all)
			return true;
	}
	return false;
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
			if (!scope_covered(&r->scopes, s))
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

int sk_registry_ping(struct sk_registry *r, struct sk_error *err)
{
	struct req rq = {.method = "GET",
			 .expect_size = -1,
			 .max = ERROR_BODY_MAX,
			 .what = "checking the API (GET /v2/)"};
	struct resp rs = {0};
	char *url = NULL;
	int ret;

	ret = make_url(r, "/v2/", &url);
	if (ret)
		return sk_errf(err, ret, "registry %s: bad host name", r->ref.registry);
	rq.url = url;
	ret = do_request(r, &rq, &rs, err);
	if (!ret && rs.status != 200)
		ret = http_error(r, &rq, &rs, err);
	curl_free(url);
	resp_free(&rs);
	return ret;
}

/* Before a URL is built: a host where plain HTTP is not allowed speaks HTTPS. */
static int ready(struct sk_registry *r, struct sk_error *err)
{
	(void)err;
	if (!r->scheme[0] && !r->plain_ok)
		snprintf(r->scheme, sizeof(r->scheme), "https");
	return 0;
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

static int check_reported_digest(struct sk_registry *r, const struct resp *rs, const char *want,
				 const char *what, struct sk_error *err)
{
	if (rs->digest[0] && strcmp(rs->digest, want))
		return sk_errf(err, -EBADMSG,
			       "registry %s: %s: the registry reports digest %s, expected %s",
			       r->ref.registry, what, rs->digest, want);
	return 0;
}

/*
 * One blob moving up or down: a little state machine of requests (HEAD, POST,
 * PATCH..., PUT for a push; GET, and GET with Range after an interruption, for
 * a download), so that several run on the multi handle at once.
 */
enum job_state {
	J_START,
	J_GET,
	J_HEAD,
	J_POST,
	J_PATCH,
	J_PUT,
};

struct job {
	struct sk_registry_blob *b;
	const char *repo;
	bool up;
	enum job_state state;
	struct req rq;
	struct resp rs;
	struct call c;
	bool calling; /* c holds a request not yet answered */
	struct body body;
	char *url;
	char *location;
	char what[SK_DIGEST_MAX + SK_REF_REPO_MAX + 64];
	char crange[64];
	int64_t off;
	int shorts;	/* bodies that ended short of the size with a 200: continued with Range */
	bool restarted; /* a Range the registry refused: fetched from the start instead */
	struct prog prog;
	bool started, finished;
	struct sk_error err;
};

static void job_call(struct sk_registry *r, struct job *j)
{
	call_init(&j->c, r, &j->rq, &j->rs);
	j->calling = true;
}

static void job_finish(struct sk_registry *r, struct job *j)
{
	j->finished = true;
	progress_end(r, &j->prog, true);
}

static void job_free(struct sk_registry *r, struct job *j)
{
	call_free(r, &j->c);
	if (j->started && !j->finished)
		progress_end(r, &j->prog, false);
	resp_free(&j->rs);
	if (j->body.fd >= 0)
		close(j->body.fd);
	j->body.fd = -1;
	curl_free(j->url);
	curl_free(j->location);
	j->url = j->location = NULL;
}

static int get_step(struct sk_registry *r, struct job *j, struct sk_error *err)
{
	struct sk_registry_blob *b = j->b;
	char got[SK_DIGEST_MAX];
	int ret;

	if (j->state == J_START) {
		if (b->size < 0 || (uint64_t)b->size > SK_BLOB_MAX)
			return sk_errf(err, -EFBIG,
				       "blob %s: size %lld is beyond the %u bytes allowed",
				       b->digest, (long long)b->size, SK_BLOB_MAX);
		ret = repo_url(r, j->repo, "blobs", b->digest, &j->url, err);
		if (ret)
			return ret;
		snprintf(j->what, sizeof(j->what), "fetching blob %s of %s", b->digest, j->repo);
		j->rq = (struct req){.method = "GET",
				     .url = j->url,
				     .follow = true,
				     .resumable = true,
				     .sink = b->sink,
				     .expect_size = b->size,
				     .what = j->what,
				     .prog = &j->prog};
		j->rs.hasher = sk_hasher_new();
		if (!j->rs.hasher)
			return sk_errf(err, -ENOMEM, "out of memory");
		progress_start(r, &j->prog);
		j->state = J_GET;
		job_call(r, j);
		return 0;
	}
	/* J_GET, answered; a registry that cannot serve the range: all of it again */
	if (j->rs.resume_from && j->rs.status >= 400 && j->rs.status < 500 && !j->restarted) {
		j->restarted = true;
		if (b->sink->reset && (ret = b->sink->reset(b->sink->ctx, err)))
			return ret;
		j->rs.resume_from = 0;
		j->prog.base = j->prog.now = 0;
		job_call(r, j);
		return 0;
	}
	if ((j->rs.status != 200 && j->rs.status != 206) ||
	    (j->rs.status == 206 && !j->rs.resume_from))
		return http_error(r, &j->rq, &j->rs, err);
	/* a body that ended short with a clean 200: the rest, from where it stopped */
	if (j->rs.got < b->size && j->shorts++ < 2) {
		j->rs.resume_from = j->rs.got;
		job_call(r, j);
		return 0;
	}
	if (j->rs.got != b->size)
		return sk_errf(
		    err, -EBADMSG,
		    "registry %s: %s: got %lld bytes, the descriptor says %lld; refusing it",
		    r->ref.registry, j->what, (long long)j->rs.got, (long long)b->size);
	sk_hasher_final(j->rs.hasher, got);
	j->rs.hasher = NULL;
	if (strcmp(got, b->digest))
		return sk_errf(err, -EBADMSG,
			       "registry %s: %s: content does not match its digest (got %s); "
			       "refusing it",
			       r->ref.registry, j->what, got);
	job_finish(r, j);
	return 0;
}

/* The POST that starts an upload, or asks for a cross-repository mount. */
static int push_post(struct sk_registry *r, struct job *j, struct sk_error *err)
{
	struct sk_registry_blob *b = j->b;
	char path[SK_REF_REPO_MAX + 32], *tmp = NULL;

	curl_free(j->url);
	j->url = NULL;
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", j->repo);
	if (make_url(r, path, &j->url))
		return sk_errf(err, -EINVAL, "registry %s: bad repository %s", r->ref.registry,
			       j->repo);
	if (b->mount_from) {
		if (url_add_query(j->url, "mount", b->digest, &tmp))
			return sk_errf(err, -ENOMEM, "out of memory");
		curl_free(j->url);
		j->url = tmp;
		if (url_add_query(j->url, "from", b->mount_from, &tmp))
			return sk_errf(err, -ENOMEM, "out of memory");
		curl_free(j->url);
		j->url = tmp;
		snprintf(j->what, sizeof(j->what), "mounting blob %.19s from %s", b->digest,
			 b->mount_from);
	} else {
		snprintf(j->what, sizeof(j->what), "starting the upload of blob %.19s", b->digest);
	}
	j->rq = (struct req){.method = "POST",
			     .url = j->url,
			     .expect_size = -1,
			     .max = ERROR_BODY_MAX,
			     .what = j->what};
	j->state = J_POST;
	job_call(r, j);
	return 0;
}

/* The next PATCH of a chunked upload, or the PUT that completes it. */
static int push_data(struct sk_registry *r, struct job *j, struct sk_error *err)
{
	struct sk_registry_blob *b = j->b;

	j->rq = (struct req){.expect_size = -1,
			     .max = ERROR_BODY_MAX,
			     .content_type = "application/octet-stream",
			     .what = j->what,
			     .prog = &j->prog};
	if ((size_t)b->size > r->chunk_size && j->off < b->size) {
		size_t n = (size_t)(b->size - j->off) < r->chunk_size ? (size_t)(b->size - j->off)
								      : r->chunk_size;

		snprintf(j->what, sizeof(j->what), "uploading a chunk of blob %.19s", b->digest);
		j->body.off = j->off;
		j->body.len = n;
		snprintf(j->crange, sizeof(j->crange), "%lld-%lld", (long long)j->off,
			 (long long)j->off + (long long)n - 1);
		j->rq.method = "PATCH";
		j->rq.url = j->location;
		j->rq.body = &j->body;
		j->rq.content_range = j->crange;
		j->state = J_PATCH;
		job_call(r, j);
		return 0;
	}
	snprintf(j->what, sizeof(j->what), "uploading blob %.19s to %s", b->digest, j->repo);
	curl_free(j->url);
	j->url = NULL;
	if (url_add_query(j->location, "digest", b->digest, &j->url))
		return sk_errf(err, -EPROTO, "registry %s: bad upload Location", r->ref.registry);
	if ((size_t)b->size <= r->chunk_size) {
		j->body.off = 0;
		j->body.len = (size_t)b->size;
		j->rq.body = &j->body;
	}
	j->rq.method = "PUT";
	j->rq.url = j->url;
	j->state = J_PUT;
	job_call(r, j);
	return 0;
}

static int take_location(struct sk_registry *r, struct job *j, struct sk_error *err)
{
	char *next = NULL;

	if (!j->rs.location[0] || make_url(r, j->rs.location, &next))
		return sk_errf(err, -EPROTO, "registry %s: %s: no usable Location in the answer",
			       r->ref.registry, j->what);
	curl_free(j->location);
	j->location = next;
	return 0;
}

static int push_step(struct sk_registry *r, struct job *j, struct sk_error *err)
{
	struct sk_registry_blob *b = j->b;
	struct stat st;
	int ret;

	switch (j->state) {
	case J_START:
		if (b->path) {
			j->body.fd = open(b->path, O_RDONLY | O_CLOEXEC);
			if (j->body.fd < 0)
				return sk_errf(err, -errno, "%s: cannot open: %s", b->path,
					       strerror(errno));
			if (fstat(j->body.fd, &st) || st.st_size != b->size)
				return sk_errf(err, -EBADMSG,
					       "%s: size %lld does not match its descriptor (%lld)",
					       b->path, (long long)st.st_size, (long long)b->size);
		} else {
			j->body.mem = b->data ? b->data : (const uint8_t *)"";
		}
		j->prog.up = true;
		if (!b->check_first)
			return push_post(r, j, err);
		ret = repo_url(r, j->repo, "blobs", b->digest, &j->url, err);
		if (ret)
			return ret;
		snprintf(j->what, sizeof(j->what), "checking for blob %.19s", b->digest);
		j->rq = (struct req){
		    .method = "HEAD", .url = j->url, .expect_size = -1, .what = j->what};
		j->state = J_HEAD;
		job_call(r, j);
		return 0;
	case J_HEAD:
		if (j->rs.status == 200) {
			b->existed = true;
			job_finish(r, j);
			return 0;
		}
		if (j->rs.status != 404)
			return http_error(r, &j->rq, &j->rs, err);
		return push_post(r, j, err);
	case J_POST:
		if (j->rs.status == 201 && b->mount_from) {
			b->mounted = b->existed = true;
			ret = check_reported_digest(r, &j->rs, b->digest, j->what, err);
			if (!ret)
				job_finish(r, j);
			return ret;
		}
		if (j->rs.status != 202)
			return http_error(r, &j->rq, &j->rs, err);
		ret = take_location(r, j, err);
		if (ret)
			return ret;
		progress_start(r, &j->prog);
		return push_data(r, j, err);
	case J_PATCH:
		if (j->rs.status != 202)
			return http_error(r, &j->rq, &j->rs, err);
		if (j->rs.location[0]) {
			ret = take_location(r, j, err);
			if (ret)
				return ret;
		}
		j->off += (int64_t)j->body.len;
		return push_data(r, j, err);
	case J_PUT:
		if (j->rs.status != 201)
			return http_error(r, &j->rq, &j->rs, err);
		ret = check_reported_digest(r, &j->rs, b->digest, j->what, err);
		if (!ret)
			job_finish(r, j);
		return ret;
	default:
		return sk_errf(err, -EINVAL, "blob %s: bad state", b->digest);
	}
}

static int job_step(struct sk_registry *r, struct job *j, struct sk_error *err)
{
	int ret;

	call_free(r, &j->c);
	j->calling = false;
	ret = j->up ? push_step(r, j, err) : get_step(r, j, err);
	return ret;
}

/*
 * Runs jobs at most SK_REGISTRY_CONCURRENCY at a time. The first failure
 * stops the batch: nothing more is sent and what is in flight is dropped.
 */
static int run_jobs(struct sk_registry *r, struct job *jobs, size_t n, struct sk_error *err)
{
	size_t next = 0, active = 0;
	int ret = 0;

	/* the scheme is found by a first request; a batch never starts a session in practice */
	if (!r->scheme[0] && r->plain_ok)
		ret = sk_registry_ping(r, err);
	ready(r, err);
	while (!ret) {
		double now, wait_s = 1.0;
		bool moved = false;

		while (!ret && active < SK_REGISTRY_CONCURRENCY && next < n) {
			struct job *j = &jobs[next++];

			j->started = true;
			ret = job_step(r, j, &j->err);
			if (ret)
				*err = j->err;
			else if (!j->finished)
				active++;
		}
		if (ret || !active)
			break;
		now = now_s();
		for (size_t i = 0; i < next && !ret; i++) {
			struct job *j = &jobs[i];
			int rv;

			if (!j->started || j->finished)
				continue;
			if (!j->c.x) {
				if (j->c.wake > now) {
					if (j->c.wake - now < wait_s)
						wait_s = j->c.wake - now;
					continue;
				}
				rv = call_send(r, &j->c, &j->err);
			} else if (j->c.x->done) {
				rv = call_eval(r, &j->c, &j->err);
				if (rv == 1)
					rv = job_step(r, j, &j->err);
			} else {
				continue;
			}
			moved = true;
			if (rv < 0) {
				ret = rv;
				*err = j->err;
			} else if (j->finished) {
				active--;
			}
		}
		if (!ret)
			pump(r, moved ? 0 : (int)(wait_s * 1000.0) + 1);
	}
	for (size_t i = 0; i < n; i++)
		job_free(r, &jobs[i]);
	return ret;
}

static int run_blobs(struct sk_registry *r, const char *repo, struct sk_registry_blob *b, size_t n,
		     bool up, struct sk_error *err)
{
	struct job *jobs;
	int ret;

	if (!n)
		return 0;
	jobs = calloc(n, sizeof(*jobs));
	if (!jobs)
		return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		jobs[i].b = &b[i];
		jobs[i].repo = repo;
		jobs[i].up = up;
		jobs[i].body.fd = -1;
		b[i].existed = b[i].mounted = false;
		snprintf(jobs[i].prog.label, sizeof(jobs[i].prog.label), "%.19s", b[i].digest);
		jobs[i].prog.total = b[i].size;
	}
	ret = run_jobs(r, jobs, n, err);
	free(jobs);
	return ret;
}

int sk_registry_blobs_get(struct sk_registry *r, const char *repo, struct sk_registry_blob *b,
			  size_t n, struct sk_error *err)
{
	return run_blobs(r, repo, b, n, false, err);
}

int sk_registry_blobs_push(struct sk_registry *r, const char *repo, struct sk_registry_blob *b,
			   size_t n, struct sk_error *err)
{
	return run_blobs(r, repo, b, n, true, err);
}

int sk_registry_blob_get(struct sk_registry *r, const char *repo, const char *digest, int64_t size,
			 const struct sk_sink *sink, struct sk_error *err)
{
	struct sk_registry_blob b = {.digest = digest, .size = size, .sink = sink};

	return sk_registry_blobs_get(r, repo, &b, 1, err);
}

int sk_registry_blob_push(struct sk_registry *r, const char *repo, const char *digest, int64_t size,
			  const char *path, const char *mount_from, bool *mounted,
			  struct sk_error *err)
{
	struct sk_registry_blob b = {
	    .digest = digest, .size = size, .path = path, .mount_from = mount_from};
	int ret = sk_registry_blobs_push(r, repo, &b, 1, err);

	if (mounted)
		*mounted = !ret && b.mounted;
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

static int manifest_put(struct sk_registry *r, const char *repo, const char *reference,
			const char *media_type, const void *data, size_t len, bool *subject_kept,
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
	if (subject_kept)
		*subject_kept = !ret && rs.subject[0];
out:
	curl_free(url);
	resp_free(&rs);
	return ret;
}

int sk_registry_manifest_put(struct sk_registry *r, const char *repo, const char *reference,
			     const char *media_type, const void *data, size_t len,
			     struct sk_error *err)
{
	return manifest_put(r, repo, reference, media_type, data, len, NULL, err);
}

int sk_registry_manifest_put_referrer(struct sk_registry *r, const char *repo,
				      const char *reference, const char *media_type,
				      const void *data, size_t len, bool *subject_kept,
				      struct sk_error *err)
{
	*subject_kept = false;
	return manifest_put(r, repo, reference, media_type, data, len, subject_kept, err);
}

int sk_registry_referrers(struct sk_registry *r, const char *repo, const char *digest,
			  const char *artifact_type, size_t max, struct sk_buf *body,
			  struct sk_error *err)
{
	struct req rq = {.method = "GET", .accept = SK_MT_INDEX, .expect_size = -1, .max = max};
	struct resp rs = {0};
	char *url = NULL, *q = NULL, what[SK_DIGEST_MAX + SK_REF_REPO_MAX + 64];
	int ret;

	memset(body, 0, sizeof(*body));
	if (!sk_digest_valid(digest))
		return sk_errf(err, -EINVAL, "referrers: \"%s\" is not a digest", digest);
	ret = ready(r, err);
	if (ret)
		return ret;
	ret = repo_url(r, repo, "referrers", digest, &url, err);
	if (ret)
		return ret;
	if (artifact_type) {
		/* a filter the registry may ignore (OCI-Filters-Applied): the caller filters too */
		char *enc = curl_easy_escape(NULL, artifact_type, 0);

		if (!enc || asprintf(&q, "%s?artifactType=%s", url, enc) < 0)
			q = NULL;
		curl_free(enc);
		if (!q) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	snprintf(what, sizeof(what), "listing the referrers of %s@%s", repo, digest);
	rq.what = what;
	rq.url = q ? q : url;
	ret = do_request(r, &rq, &rs, err);
	if (ret)
		goto out;
	/* 404: no referrers API here; clients fall back to the referrers tag scheme */
	if (rs.status == 404 || rs.status == 405)
		goto out;
	if (rs.status != 200) {
		ret = http_error(r, &rq, &rs, err);
		goto out;
	}
	*body = rs.body;
	memset(&rs.body, 0, sizeof(rs.body));
	if (!body->data && sk_buf_append(body, "", 0))
		ret = sk_errf(err, -ENOMEM, "out of memory");
	else
		ret = 1;
out:
	free(q);
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
