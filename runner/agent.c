/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent (skrun run --follow): follows a desired state instead of
 * one reference. The state is either a file (the skrun.json a Kubernetes
 * ConfigMap projects into the pod, watched with inotify on its directory so
 * that kubelet's atomic ..data symlink swap is seen) or a registry tag polled
 * once per interval. A switch the agent starts is committed only after a
 * health window without an ejection; otherwise the supervisor rolls back and
 * the digest is remembered as bad for that desired state, so that the node
 * does not flap. The memory (committed target, bad digests, transitions)
 * lives in the state dir, so a restarted agent or a new pod keeps it.
 *
 * Rule: bad input (a malformed, half-written or deleted file, an unsigned
 * digest, an outage, a kernel that cannot run it) is reported and never
 * takes away what runs.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "skrun.h"

#define DEBOUNCE_MS   200
#define TRANSITIONS   16
#define BAD_MAX	      16
#define REASON_MAX    512
#define MEMORY_FILE   "agent.json"
#define DESIRED_MAX   (256u << 10)
#define RETRY_DEFAULT 30
#define WATCH_MASK                                                                                 \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF |   \
	 IN_MOVE_SELF | IN_ATTRIB)

struct bad {
	char digest[SK_DIGEST_MAX];
	char key[SK_DIGEST_MAX]; /* the desired state it failed under */
	char reason[REASON_MAX];
	time_t at;
};

struct transition {
	time_t at;
	enum skr_agent_event event;
	char from[SK_DIGEST_MAX], to[SK_DIGEST_MAX];
	char ref[256];
	char reason[REASON_MAX];
};

struct record {
	char ref[1024];
	char digest[SK_DIGEST_MAX];
	char identity[512];
	char scheduler[128];
	char mode[64];
	struct sk_strv sets;
	time_t at;
};

/* Fields in the order the padding check wants (largest alignment first). */
struct skr_agent {
	/* the source: a file watched (config) or a reference followed (cli_*) */
	char *config;
	char *dir, *base;
	char *target_dir;  /* the directory the file resolves to now, when another */
	int64_t reload_at; /* monotonic ms; 0: nothing to read */
	char *cli_ref;
	char *cli_identity;
	struct skr_metrics *metrics;
	int64_t check_at; /* monotonic ms of the next fetch; -1: none planned */
	time_t pending_since, pending_deadline;
	int64_t pending_until; /* monotonic ms */
	size_t nbad;
	size_t ntr;
	struct sk_strv cli_sets;
	struct skr_agent_req want; /* the desired state */
	struct record committed;   /* what survives restarts (MEMORY_FILE): */
	struct bad bad[BAD_MAX];
	struct transition tr[TRANSITIONS];
	int ifd, wd;
	int wd_target; /* the watch of target_dir */
	int cli_poll_s, cli_window_s;
	int poll_s, window_s;
	bool pull_given;
	bool have_desired; /* a valid one was ever read */
	bool valid;	   /* the last read was valid */
	bool poll;	   /* a registry reference: re-resolve every poll_s */
	bool pending;	   /* a switch on trial (the health window) */
	bool have_committed;
	bool changed;
	char key[SK_DIGEST_MAX];	 /* the desired state's content digest */
	char want_digest[SK_DIGEST_MAX]; /* once a fetch resolved it */
	char pending_digest[SK_DIGEST_MAX];
	char noted[2 * SK_DIGEST_MAX]; /* the refusal last reported (key+digest) */
	char error[REASON_MAX];
	char state_dir[1024];
	char pending_ref[1024];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("skrun: agent: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void iso8601(time_t t, char *buf, size_t sz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static time_t parse_time(const char *s)
{
	struct tm tm = {0};

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return timegm(&tm);
}

/* ---- memory in the state dir ---- */

static struct json_object *sets_json(const struct sk_strv *sets)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < sets->n; i++)
		json_object_array_add(a, json_object_new_string(sets->v[i]));
	return a;
}

static struct json_object *record_json(const struct record *r)
{
	struct json_object *o = json_object_new_object();
	char when[64];

	json_object_object_add(o, "ref", json_object_new_string(r->ref));
	json_object_object_add(o, "digest", json_object_new_string(r->digest));
	json_object_object_add(o, "identity", json_object_new_string(r->identity));
	json_object_object_add(o, "scheduler", json_object_new_string(r->scheduler));
	json_object_object_add(o, "mode", json_object_new_string(r->mode));
	json_object_object_add(o, "set", sets_json(&r->sets));
	iso8601(r->at, when, sizeof(when));
	json_object_object_add(o, "at", json_object_new_string(when));
	return o;
}

static struct json_object *bad_json(const struct skr_agent *a)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < a->nbad; i++) {
		struct json_object *o = json_object_new_object();
		char when[64];

		iso8601(a->bad[i].at, when, sizeof(when));
		json_object_object_add(o, "digest", json_object_new_string(a->bad[i].digest));
		json_object_object_add(o, "reason", json_object_new_string(a->bad[i].reason));
		json_object_object_add(o, "desiredKey", json_object_new_string(a->bad[i].key));
		json_object_object_add(o, "at", json_object_new_string(when));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *transitions_json(const struct skr_agent *a)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < a->ntr; i++) {
		const struct transition *t = &a->tr[i];
		struct json_object *o = json_object_new_object();
		char when[64];

		iso8601(t->at, when, sizeof(when));
		json_object_object_add(o, "at", json_object_new_string(when));
		json_object_object_add(o, "event",
				       json_object_new_string(skr_agent_event_names[t->event]));
		json_object_object_add(o, "from", json_object_new_string(t->from));
		json_object_object_add(o, "to", json_object_new_string(t->to));
		json_object_object_add(o, "ref", json_object_new_string(t->ref));
		json_object_object_add(o, "reason", json_object_new_string(t->reason));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* Atomically, like state.json: a crash leaves the old memory or the new, never half. */
static void save(struct skr_agent *a)
{
	struct json_object *o = json_object_new_object();
	struct sk_error err = {0};
	char *path = sk_path_join(a->state_dir, MEMORY_FILE), *txt;
	size_t len;

	json_object_object_add(o, "version", json_object_new_int(1));
	if (a->have_committed)
		json_object_object_add(o, "committed", record_json(&a->committed));
	json_object_object_add(o, "bad", bad_json(a));
	json_object_object_add(o, "transitions", transitions_json(a));
	txt = sk_json_dump(o, &len);
	if (!txt || !path || sk_write_file_atomic(path, txt, len, 0644, &err))
		say("warning: cannot record the agent's memory in %s: %s", a->state_dir,
		    err.msg[0] ? err.msg : "out of memory");
	free(txt);
	free(path);
	json_object_put(o);
}

static void copy_str(char *dst, size_t sz, struct json_object *o, const char *key)
{
	const char *v = sk_json_str(o, key);

	snprintf(dst, sz, "%s", v ? v : "");
}

/* A memory that cannot be read is reported and started afresh: it must never stop the agent. */
static void load(struct skr_agent *a)
{
	struct json_object *root = NULL, *c, *arr, *sets;
	struct sk_error err = {0};
	char *path = sk_path_join(a->state_dir, MEMORY_FILE);
	uint8_t *data = NULL;
	size_t len;

	if (!path)
		return;
	if (sk_read_file(path, 1 << 20, &data, &len, &err)) {
		if (err.code != -ENOENT)
			say("warning: %s", err.msg);
		goto out;
	}
	if (sk_json_parse(data, len, path, &root, &err) ||
	    !json_object_is_type(root, json_type_object)) {
		say("warning: %s; starting with no memory", err.msg[0] ? err.msg : path);
		goto out;
	}
	if (json_object_object_get_ex(root, "committed", &c) &&
	    sk_digest_valid(sk_json_str(c, "digest") ? sk_json_str(c, "digest") : "")) {
		struct record *r = &a->committed;

		copy_str(r->ref, sizeof(r->ref), c, "ref");
		copy_str(r->digest, sizeof(r->digest), c, "digest");
		copy_str(r->identity, sizeof(r->identity), c, "identity");
		copy_str(r->scheduler, sizeof(r->scheduler), c, "scheduler");
		copy_str(r->mode, sizeof(r->mode), c, "mode");
		r->at = parse_time(sk_json_str(c, "at"));
		if (json_object_object_get_ex(c, "set", &sets) &&
		    json_object_is_type(sets, json_type_array))
			for (size_t i = 0; i < json_object_array_length(sets); i++)
				sk_strv_push(&r->sets, json_object_get_string(
							   json_object_array_get_idx(sets, i)));
		a->have_committed = r->ref[0] != '\0';
	}
	if (json_object_object_get_ex(root, "bad", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(arr) && a->nbad < BAD_MAX; i++) {
			struct json_object *b = json_object_array_get_idx(arr, i);
			struct bad *d = &a->bad[a->nbad];

			copy_str(d->digest, sizeof(d->digest), b, "digest");
			copy_str(d->key, sizeof(d->key), b, "desiredKey");
			copy_str(d->reason, sizeof(d->reason), b, "reason");
			d->at = parse_time(sk_json_str(b, "at"));
			if (sk_digest_valid(d->digest))
				a->nbad++;
		}
	}
	if (json_object_object_get_ex(root, "transitions", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(arr) && a->ntr < TRANSITIONS; i++) {
			struct json_object *t = json_object_array_get_idx(arr, i);
			struct transition *d = &a->tr[a->ntr];
			const char *ev = sk_json_str(t, "event");
			size_t k;

			for (k = 0; ev && k < 8; k++)
				if (!strcmp(ev, skr_agent_event_names[k]))
					break;
			if (!ev || k == 8)
				continue;
			d->event = (enum skr_agent_event)k;
			d->at = parse_time(sk_json_str(t, "at"));
			copy_str(d->from, sizeof(d->from), t, "from");
			copy_str(d->to, sizeof(d->to), t, "to");
			copy_str(d->ref, sizeof(d->ref), t, "ref");
			copy_str(d->reason, sizeof(d->reason), t, "reason");
			a->ntr++;
		}
	}
out:
	json_object_put(root);
	free(data);
	free(path);
}

/* ---- transitions ---- */

static void record(struct skr_agent *a, enum skr_agent_event ev, const char *from, const char *to,
		   const char *ref, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void record(struct skr_agent *a, enum skr_agent_event ev, const char *from, const char *to,
		   const char *ref, const char *fmt, ...)
{
	struct transition *t;
	va_list ap;

	if (a->ntr == TRANSITIONS) {
		memmove(&a->tr[0], &a->tr[1], sizeof(a->tr[0]) * (TRANSITIONS - 1));
		a->ntr--;
	}
	t = &a->tr[a->ntr++];
	memset(t, 0, sizeof(*t));
	t->at = time(NULL);
	t->event = ev;
	snprintf(t->from, sizeof(t->from), "%s", from ? from : "");
	snprintf(t->to, sizeof(t->to), "%s", to ? to : "");
	snprintf(t->ref, sizeof(t->ref), "%s", ref ? ref : "");
	va_start(ap, fmt);
	vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
	va_end(ap);
	say("%s%s%s%s%s: %s", skr_agent_event_names[ev], from && *from ? " from " : "",
	    from ? from : "", to && *to ? " to " : "", to ? to : "", t->reason);
	if (a->metrics) {
		a->metrics->agent_events[ev]++;
		a->metrics->last_transition = t->at;
		if (ev == SKR_EV_ROLLBACK)
			a->metrics->rollbacks++;
	}
	a->changed = true;
	save(a);
}

static const struct bad *find_bad(const struct skr_agent *a, const char *digest, const char *key)
{
	for (size_t i = 0; i < a->nbad; i++)
		if (!strcmp(a->bad[i].digest, digest) && (!key || !strcmp(a->bad[i].key, key)))
			return &a->bad[i];
	return NULL;
}

static void remember_bad(struct skr_agent *a, const char *digest, const char *why)
{
	struct bad *b = (struct bad *)find_bad(a, digest, NULL);

	if (!b) {
		if (a->nbad == BAD_MAX) {
			memmove(&a->bad[0], &a->bad[1], sizeof(a->bad[0]) * (BAD_MAX - 1));
			a->nbad--;
		}
		b = &a->bad[a->nbad++];
	}
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	snprintf(b->key, sizeof(b->key), "%s", a->key);
	snprintf(b->reason, sizeof(b->reason), "%s", why);
	b->at = time(NULL);
	/* so that the refusal of the next poll is reported once, not every time */
	snprintf(a->noted, sizeof(a->noted), "%s%s", a->key, digest);
}

/* ---- the desired state ---- */

static bool is_registry_ref(const char *ref)
{
	return ref[0] != '/' && ref[0] != '.' && strncmp(ref, "oci:", 4) &&
	       strncmp(ref, "oci-archive:", 12) && !strchr(ref, '@');
}

static void set_want(struct skr_agent *a, const char *ref, const struct sk_strv *sets,
		     const char *identity, const char *scheduler, const char *mode, bool has_pull,
		     enum sk_pull_policy pull)
{
	sk_strv_free(&a->want.sets);
	memset(&a->want, 0, sizeof(a->want));
	snprintf(a->want.ref, sizeof(a->want.ref), "%s", ref);
	for (size_t i = 0; sets && i < sets->n; i++)
		skr_sets_put(&a->want.sets, sets->v[i]);
	snprintf(a->want.identity, sizeof(a->want.identity), "%s", identity ? identity : "");
	snprintf(a->want.scheduler, sizeof(a->want.scheduler), "%s", scheduler ? scheduler : "");
	snprintf(a->want.mode, sizeof(a->want.mode), "%s", mode ? mode : "");
	a->want.has_pull = has_pull && !a->pull_given;
	a->want.pull = pull;
	a->want_digest[0] = '\0';
	a->noted[0] = '\0';
	a->have_desired = a->valid = true;
	a->error[0] = '\0';
	a->check_at = now_ms();
}

static void invalid(struct skr_agent *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void invalid(struct skr_agent *a, const char *fmt, ...)
{
	char why[REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	a->key[0] = '\0'; /* the same good content again is a change back */
	if (!a->valid && !strcmp(why, a->error))
		return;
	a->valid = false;
	snprintf(a->error, sizeof(a->error), "%s", why);
	record(a, SKR_EV_DESIRED_INVALID, NULL, NULL, a->config, "%s; keeping what runs", why);
}

/*
 * The file may be a symlink into another directory (kubelet's ..data/...):
 * that directory is watched too, so that a file written in place there is
 * seen; resolved again on every read, as the links move.
 */
static void follow_target(struct skr_agent *a)
{
	char *real = realpath(a->config, NULL), *dir;
	int wd;

	if (!real)
		return; /* gone: the directory's own watch sees it come back */
	dir = dirname(real);
	if (a->target_dir && !strcmp(a->target_dir, dir)) {
		free(real);
		return;
	}
	if (a->wd_target >= 0)
		inotify_rm_watch(a->ifd, a->wd_target);
	free(a->target_dir);
	a->target_dir = strdup(dir);
	wd = inotify_add_watch(a->ifd, dir, WATCH_MASK);
	/* the same directory as the file's own (same inode, same watch): nothing more */
	a->wd_target = wd == a->wd ? -1 : wd;
	free(real);
}

/* Reads the file the symlinks lead to now; what it says replaces the desired state. */
static void read_desired(struct skr_agent *a)
{
	struct skr_config cf = {0};
	const struct skr_sched_conf *s;
	struct sk_strv sets = {0};
	struct sk_error err = {0};
	char key[SK_DIGEST_MAX];
	uint8_t *data = NULL;
	size_t len;

	follow_target(a);
	if (sk_read_file(a->config, DESIRED_MAX, &data, &len, &err)) {
		if (err.code == -ENOENT)
			invalid(a,
				"%s is gone (deleted, or a swap left no file); a missing desired "
				"state is not a request to stop",
				a->config);
		else
			invalid(a, "%s", err.msg);
		return;
	}
	sk_digest_buf(data, len, key);
	if (a->valid && a->have_desired && !strcmp(key, a->key))
		goto out; /* kubelet's swap touches several names; the content is what counts */
	if (skr_config_parse(a->config, data, len, &cf, &err)) {
		invalid(a, "desired state not usable: %s", err.msg);
		goto out;
	}
	if (skr_config_sched(&cf, cf.scheduler, &s, &err) ||
	    skr_config_sets(s, cf.mode, &sets, &err)) {
		invalid(a, "desired state not usable: %s", err.msg);
		goto out;
	}
	snprintf(a->key, sizeof(a->key), "%s", key);
	set_want(a, s->ref, &sets, s->identity, s->name, cf.mode, cf.has_pull, cf.pull);
	a->window_s = a->cli_window_s >= 0 ? a->cli_window_s
		      : cf.window_s >= 0   ? cf.window_s
					   : SKR_AGENT_WINDOW_DEFAULT;
	a->poll_s = a->cli_poll_s >= 0 ? a->cli_poll_s : cf.poll_s;
	a->poll = a->poll_s > 0 && is_registry_ref(s->ref);
	record(a, SKR_EV_DESIRED, NULL, NULL, s->ref,
	       "%s: scheduler '%s'%s%s (content %s), health window %d s%s", a->config, s->name,
	       cf.mode ? ", mode " : "", cf.mode ? cf.mode : "", key, a->window_s,
	       a->poll ? ", tag polled" : "");
out:
	sk_strv_free(&sets);
	skr_config_free(&cf);
	free(data);
}

static int open_watch(struct skr_agent *a, struct sk_error *err)
{
	char *c1 = strdup(a->config), *c2 = strdup(a->config);

	if (!c1 || !c2) {
		free(c1);
		free(c2);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	a->dir = strdup(dirname(c1));
	a->base = strdup(basename(c2));
	free(c1);
	free(c2);
	if (!a->dir || !a->base)
		return sk_errf(err, -ENOMEM, "out of memory");
	a->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->ifd < 0)
		return sk_errf(err, -errno, "inotify: %s", strerror(errno));
	/*
	 * The directory, not the file: kubelet never writes skrun.json; it
	 * renames a new ..data symlink over the old one (IN_MOVED_TO) and
	 * removes the old timestamped directory. A plain file edited in place
	 * shows as IN_CLOSE_WRITE, a new one as IN_CREATE, a removal as IN_DELETE.
	 */
	a->wd = inotify_add_watch(a->ifd, a->dir, WATCH_MASK);
	if (a->wd < 0)
		return sk_errf(err, -errno,
			       "cannot watch %s (the desired state's directory): %s; it must "
			       "exist when the agent starts",
			       a->dir, strerror(errno));
	return 0;
}

/* Drains the events; any of them means "read it again soon". */
static void drain(struct skr_agent *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(a->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if ((ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) &&
			    ev->wd == a->wd) {
				/* the directory itself went: watch it again once it is back */
				inotify_rm_watch(a->ifd, a->wd);
				a->wd = -1;
			} else if ((ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) &&
				   ev->wd == a->wd_target) {
				/* kubelet removed the old data directory: resolved again on reading
				 */
				inotify_rm_watch(a->ifd, a->wd_target);
				a->wd_target = -1;
				free(a->target_dir);
				a->target_dir = NULL;
			}
			p += sizeof(*ev) + ev->len;
		}
		a->reload_at = now_ms() + DEBOUNCE_MS;
	}
}

int skr_agent_new(const struct skr_agent_opts *o, struct skr_agent **out, struct sk_error *err)
{
	struct skr_agent *a = calloc(1, sizeof(*a));
	int ret = 0;

	*out = NULL;
	if (!a)
		return sk_errf(err, -ENOMEM, "out of memory");
	a->ifd = a->wd = a->wd_target = -1;
	a->check_at = -1;
	a->cli_poll_s = o->poll_s;
	a->cli_window_s = o->window_s;
	a->pull_given = o->pull_given;
	a->metrics = o->metrics;
	a->window_s = o->window_s >= 0 ? o->window_s : SKR_AGENT_WINDOW_DEFAULT;
	snprintf(a->state_dir, sizeof(a->state_dir), "%s", o->state_dir);
	if (a->metrics)
		a->metrics->agent = true;
	load(a);
	if (o->config) {
		a->config = strdup(o->config);
		ret = a->config ? open_watch(a, err) : sk_errf(err, -ENOMEM, "out of memory");
		if (!ret) {
			record(a, SKR_EV_START, a->have_committed ? a->committed.digest : NULL,
			       NULL, a->config, "following %s (inotify on %s)", a->config, a->dir);
			read_desired(a);
		}
	} else {
		struct sk_buf kb = {0};

		a->cli_ref = strdup(o->ref);
		a->cli_identity = o->identity ? strdup(o->identity) : NULL;
		for (size_t i = 0; o->sets && i < o->sets->n; i++)
			sk_strv_push(&a->cli_sets, o->sets->v[i]);
		if (!a->cli_ref)
			ret = sk_errf(err, -ENOMEM, "out of memory");
		/* the command line is the desired state: its key is what it says */
		sk_buf_printf(&kb, "%s\n%s\n", o->ref, o->identity ? o->identity : "");
		for (size_t i = 0; o->sets && i < o->sets->n; i++)
			sk_buf_printf(&kb, "%s\n", o->sets->v[i]);
		sk_digest_buf(kb.data, kb.len, a->key);
		sk_buf_free(&kb);
		if (!ret) {
			a->poll_s = o->poll_s > 0 ? o->poll_s : SKR_AGENT_POLL_DEFAULT;
			record(a, SKR_EV_START, a->have_committed ? a->committed.digest : NULL,
			       NULL, o->ref, "following %s (%s), health window %d s", o->ref,
			       is_registry_ref(o->ref) ? "polled" : "read once", a->window_s);
			set_want(a, o->ref, &a->cli_sets, o->identity, "", "", false,
				 SK_PULL_ALWAYS);
			a->poll = is_registry_ref(o->ref);
		}
	}
	if (ret) {
		skr_agent_free(a);
		return ret;
	}
	*out = a;
	return 0;
}

void skr_agent_free(struct skr_agent *a)
{
	if (!a)
		return;
	if (a->ifd >= 0)
		close(a->ifd);
	free(a->config);
	free(a->dir);
	free(a->target_dir);
	free(a->base);
	free(a->cli_ref);
	free(a->cli_identity);
	sk_strv_free(&a->cli_sets);
	sk_strv_free(&a->want.sets);
	sk_strv_free(&a->committed.sets);
	free(a);
}

bool skr_agent_committed(const struct skr_agent *a, struct skr_target *t)
{
	const struct record *r = &a->committed;

	if (!a->have_committed)
		return false;
	snprintf(t->ref, sizeof(t->ref), "%s", r->ref);
	snprintf(t->digest, sizeof(t->digest), "%s", r->digest);
	snprintf(t->identity, sizeof(t->identity), "%s", r->identity);
	snprintf(t->scheduler, sizeof(t->scheduler), "%s", r->scheduler);
	snprintf(t->mode, sizeof(t->mode), "%s", r->mode);
	for (size_t i = 0; i < r->sets.n; i++)
		sk_strv_push(&t->sets, r->sets.v[i]);
	return true;
}

int skr_agent_fd(const struct skr_agent *a)
{
	return a->ifd;
}

static bool same_sets(const struct sk_strv *x, const struct sk_strv *y)
{
	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++)
		if (!sk_strv_contains(y, x->v[i]))
			return false;
	return true;
}

/* The desired state runs: its digest (once resolved) with its tunables. */
static bool satisfied(const struct skr_agent *a, const struct skr_target *cur)
{
	return cur && a->have_desired && a->want_digest[0] &&
	       !strcmp(cur->digest, a->want_digest) && same_sets(&cur->sets, &a->want.sets);
}

static void commit(struct skr_agent *a, const struct skr_target *cur)
{
	struct record *r = &a->committed;

	sk_strv_free(&r->sets);
	memset(r, 0, sizeof(*r));
	snprintf(r->ref, sizeof(r->ref), "%s", cur->ref);
	snprintf(r->digest, sizeof(r->digest), "%s", cur->digest);
	snprintf(r->identity, sizeof(r->identity), "%s", cur->identity);
	snprintf(r->scheduler, sizeof(r->scheduler), "%s", cur->scheduler);
	snprintf(r->mode, sizeof(r->mode), "%s", cur->mode);
	for (size_t i = 0; i < cur->sets.n; i++)
		sk_strv_push(&r->sets, cur->sets.v[i]);
	r->at = time(NULL);
	a->have_committed = true;
	a->pending = false;
	record(a, SKR_EV_COMMIT, NULL, cur->digest, cur->ref,
	       "no ejection within the health window of %d s", a->window_s);
}

enum skr_agent_action skr_agent_tick(struct skr_agent *a, const struct skr_target *cur, bool busy,
				     struct skr_agent_req *req)
{
	int64_t now = now_ms();

	if (a->ifd >= 0) {
		drain(a);
		if (a->wd < 0) {
			a->wd = inotify_add_watch(a->ifd, a->dir, WATCH_MASK);
			if (a->wd >= 0)
				a->reload_at = now;
		}
	}
	if (a->pending && cur && now >= a->pending_until) {
		commit(a, cur);
		return SKR_AGENT_COMMIT;
	}
	if (a->reload_at && now >= a->reload_at) {
		a->reload_at = 0;
		read_desired(a);
	}
	/* one switch at a time, and none while the last one is on trial */
	if (busy || a->pending || !a->have_desired || !a->valid || a->check_at < 0 ||
	    now < a->check_at)
		return SKR_AGENT_NONE;
	a->check_at = a->poll ? now + (int64_t)a->poll_s * 1000 : -1;
	memset(req, 0, sizeof(*req));
	*req = a->want;
	memset(&req->sets, 0, sizeof(req->sets));
	for (size_t i = 0; i < a->want.sets.n; i++)
		sk_strv_push(&req->sets, a->want.sets.v[i]);
	return SKR_AGENT_SWITCH;
}

enum skr_agent_verdict skr_agent_fetched(struct skr_agent *a, const char *digest,
					 const struct skr_target *cur)
{
	const struct bad *b;
	char note[sizeof(a->noted)];
	bool first = strcmp(a->want_digest, digest) != 0;

	snprintf(a->want_digest, sizeof(a->want_digest), "%s", digest);
	if (first)
		a->changed = true;
	if (satisfied(a, cur)) {
		if (first)
			say("the desired state (%s, %s) is what runs", a->want.ref, digest);
		return SKR_AGENT_SKIP;
	}
	b = find_bad(a, digest, a->key);
	if (!b)
		return SKR_AGENT_PROCEED;
	snprintf(note, sizeof(note), "%s%s", a->key, digest);
	if (strcmp(note, a->noted)) {
		snprintf(a->noted, sizeof(a->noted), "%s", note);
		record(a, SKR_EV_REFUSED, cur ? cur->digest : "", digest, a->want.ref,
		       "not retried: it failed before (%s); change the desired state to try "
		       "it again",
		       b->reason);
	}
	return SKR_AGENT_REFUSE;
}

int skr_agent_accept_top(void *agent, const char *digest, struct sk_error *err)
{
	const struct skr_agent *a = agent;
	const struct bad *b = find_bad(a, digest, a->key);

	if (!b)
		return 0;
	return sk_errf(err, -EALREADY, "%s failed before (%s)", digest, b->reason);
}

void skr_agent_failed(struct skr_agent *a, const char *digest, int code, const char *why,
		      const struct skr_target *cur)
{
	const char *from = cur ? cur->digest : "";

	if (digest && *digest) {
		snprintf(a->want_digest, sizeof(a->want_digest), "%s", digest);
		/* a tag still on a digest that failed verification: each poll fails alike */
		if (find_bad(a, digest, a->key))
			return;
		remember_bad(a, digest, why);
		record(a, SKR_EV_REFUSED, from, digest, a->want.ref, "%s%s; keeping what runs",
		       code == -ENOTSUP ? "cannot run on this kernel: " : "", why);
		return;
	}
	/* nothing known to be bad: an outage or a missing tag; the next poll tries again */
	if (a->check_at < 0)
		a->check_at =
		    now_ms() + (int64_t)(a->poll_s > 0 ? a->poll_s : RETRY_DEFAULT) * 1000;
	if (a->ntr && a->tr[a->ntr - 1].event == SKR_EV_FETCH_FAILED &&
	    !strncmp(a->tr[a->ntr - 1].reason, why, strlen(why))) {
		a->tr[a->ntr - 1].at = time(NULL);
		a->changed = true;
		return;
	}
	record(a, SKR_EV_FETCH_FAILED, from, NULL, a->want.ref, "%s; keeping what runs, retrying",
	       why);
}

void skr_agent_switched(struct skr_agent *a, const struct skr_target *from,
			const struct skr_target *to)
{
	record(a, SKR_EV_SWITCH, from ? from->digest : "", to->digest, to->ref,
	       "to the desired state%s%s%s; on trial for %d s", to->scheduler[0] ? " '" : "",
	       to->scheduler, to->scheduler[0] ? "'" : "", a->window_s);
	a->pending = true;
	snprintf(a->pending_digest, sizeof(a->pending_digest), "%s", to->digest);
	snprintf(a->pending_ref, sizeof(a->pending_ref), "%s", to->ref);
	a->pending_since = time(NULL);
	a->pending_deadline = a->pending_since + a->window_s;
	a->pending_until = now_ms() + (int64_t)a->window_s * 1000;
	save(a);
}

bool skr_agent_pending(const struct skr_agent *a)
{
	return a->pending;
}

void skr_agent_rolled_back(struct skr_agent *a, const struct skr_target *bad, const char *why,
			   const struct skr_target *to, bool to_fallback)
{
	a->pending = false;
	remember_bad(a, bad->digest, why);
	record(a, SKR_EV_ROLLBACK, bad->digest, to ? to->digest : "", to ? to->ref : "",
	       "%s within the health window; back to %s", why,
	       !to	     ? "the kernel's default scheduler (nothing committed, no fallback)"
	       : to_fallback ? "the fallback"
			     : "the previous digest");
}

bool skr_agent_take_changed(struct skr_agent *a)
{
	bool c = a->changed;

	a->changed = false;
	return c;
}

bool skr_agent_ready(const struct skr_agent *a, const struct skr_target *cur, const char *status,
		     char *why, size_t whysz)
{
	const struct bad *b;

	if (!a->valid) {
		snprintf(why, whysz, "the desired state is not usable: %s", a->error);
		return false;
	}
	if (!a->have_desired || !a->want_digest[0]) {
		snprintf(why, whysz, "the desired state (%s) is not resolved yet",
			 a->have_desired ? a->want.ref : "none");
		return false;
	}
	if (a->pending) {
		snprintf(why, whysz, "on trial: %s until the health window ends",
			 a->pending_digest);
		return false;
	}
	if (!satisfied(a, cur) || strcmp(status, "running")) {
		b = find_bad(a, a->want_digest, NULL);
		snprintf(why, whysz, "the desired %s does not run%s%s", a->want_digest,
			 b ? ": " : "", b ? b->reason : "");
		return false;
	}
	snprintf(why, whysz, "the desired state runs and is committed");
	return true;
}

static struct json_object *target_json(const char *ref, const char *digest, const char *sched)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ref", json_object_new_string(ref));
	json_object_object_add(o, "digest", json_object_new_string(digest));
	if (sched && *sched)
		json_object_object_add(o, "scheduler", json_object_new_string(sched));
	return o;
}

struct json_object *skr_agent_json(struct skr_agent *a, const struct skr_target *cur,
				   const char *status)
{
	struct json_object *o = json_object_new_object(), *src = json_object_new_object(), *d;
	char why[REASON_MAX + 128], when[64];
	bool ready = skr_agent_ready(a, cur, status, why, sizeof(why));

	json_object_object_add(src, "kind", json_object_new_string(a->config ? "file" : "tag"));
	json_object_object_add(src, a->config ? "path" : "ref",
			       json_object_new_string(a->config ? a->config : a->cli_ref));
	if (a->config)
		json_object_object_add(src, "watching", json_object_new_string(a->dir));
	json_object_object_add(o, "source", src);
	json_object_object_add(o, "pollS", json_object_new_int(a->poll ? a->poll_s : 0));
	json_object_object_add(o, "healthWindowS", json_object_new_int(a->window_s));
	d = json_object_new_object();
	json_object_object_add(d, "valid", json_object_new_boolean(a->valid));
	if (a->have_desired) {
		json_object_object_add(d, "ref", json_object_new_string(a->want.ref));
		json_object_object_add(d, "digest", json_object_new_string(a->want_digest));
		if (a->want.scheduler[0])
			json_object_object_add(d, "scheduler",
					       json_object_new_string(a->want.scheduler));
		if (a->want.mode[0])
			json_object_object_add(d, "mode", json_object_new_string(a->want.mode));
		json_object_object_add(d, "set", sets_json(&a->want.sets));
	}
	json_object_object_add(d, "key", json_object_new_string(a->key));
	if (!a->valid)
		json_object_object_add(d, "error", json_object_new_string(a->error));
	json_object_object_add(o, "desired", d);
	json_object_object_add(o, "running",
			       cur ? target_json(cur->ref, cur->digest, cur->scheduler) : NULL);
	json_object_object_add(o, "committed",
			       a->have_committed ? record_json(&a->committed) : NULL);
	if (a->pending) {
		d = target_json(a->pending_ref, a->pending_digest, NULL);
		iso8601(a->pending_since, when, sizeof(when));
		json_object_object_add(d, "since", json_object_new_string(when));
		iso8601(a->pending_deadline, when, sizeof(when));
		json_object_object_add(d, "deadline", json_object_new_string(when));
		json_object_object_add(o, "pending", d);
	} else {
		json_object_object_add(o, "pending", NULL);
	}
	json_object_object_add(o, "bad", bad_json(a));
	json_object_object_add(o, "transitions", transitions_json(a));
	json_object_object_add(o, "ready", json_object_new_boolean(ready));
	json_object_object_add(o, "readiness", json_object_new_string(why));
	if (a->metrics) {
		a->metrics->agent_ready = ready;
		a->metrics->agent_pending = a->pending;
		a->metrics->agent_bad = (unsigned)a->nbad;
	}
	return o;
}
