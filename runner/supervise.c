/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The foreground supervisor: keeps one scheduler attached, reports why the
 * kernel ejected it, restarts it with backoff, falls back when it keeps
 * failing, and serves `skrun switch` / `skrun stop` on a control socket.
 * Rule throughout: the host is never left worse off than it was found.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "schedkit/store.h"
#include "skrun.h"

#define POLL_MS		      100
#define SCX_ECODE_ACT_RESTART (1LL << 48)
#define MAX_RESTART_LOG	      64

struct sup {
	struct skr_state *st;
	const struct skr_policy *pol;
	const struct skr_source_opts *src;
	struct skr_target *cur; /* what runs (primary, fallback or a switched-in one) */
	struct skr_target *fallback;
	struct skr_target switched; /* storage for a target brought in by switch */
	/* the node agent (--follow): what ran before a switch on trial, to roll back to */
	struct skr_agent *agent;
	struct skr_target *prev; /* NULL: the kernel's default ran */
	struct skr_target prev_store;
	/* a switch whose pull runs in a child while this loop goes on */
	struct {
		pid_t pid; /* 0: none pending */
		int pipe;  /* the child's one-line outcome */
		int client;
		char ref[1024];
		struct sk_strv sets;
		char identity[512]; /* "" : the source's own name says */
		char scheduler[128];
		char mode[64];
		bool has_pull;
		enum sk_pull_policy pull;
	} sw;
	struct sk_sched *sched;
	struct skr_status status;
	int sig_fd;
	int ctl_fd;
	char *ctl_path;
	time_t restart_log[MAX_RESTART_LOG];
	int nr_restart_log;
	int consecutive;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("skrun: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* count: a status change (metrics count transitions), or the same status written again */
static void record_state(struct sup *s, const char *status, bool count)
{
	struct sk_error err = {0};

	s->status.status = status;
	if (s->cur) {
		s->status.ref = s->cur->ref;
		s->status.digest = s->cur->digest;
		s->status.verified = s->cur->verified;
		s->status.name = s->sched ? sk_sched_name(s->sched) : "";
		s->status.target = s->cur;
	} else if (s->agent) {
		/* an agent with nothing attached: the kernel's default runs */
		s->status.ref = s->status.digest = s->status.name = "";
		s->status.verified = false;
		s->status.target = NULL;
	}
	s->status.fallback = s->fallback;
	s->status.pull = sk_pull_policy_str(s->src->pull);
	s->status.agent =
	    s->agent ? skr_agent_json(s->agent, s->sched ? s->cur : NULL, status) : NULL;
	if (skr_state_write(s->st, &s->status, &err))
		say("warning: cannot record state: %s", err.msg);
	if (count)
		skr_metrics_publish(&s->st->metrics, &s->status);
	else
		skr_metrics_rewrite(&s->st->metrics, &s->status);
	json_object_put(s->status.agent);
	s->status.agent = NULL;
}

static void publish(struct sup *s, const char *status)
{
	record_state(s, status, true);
}

static int load_attach(struct skr_target *t, struct sk_sched **out, struct sk_error *err)
{
	struct sk_load_opts lo = {
	    .ops_name = t->ops_name,
	    .set = (const char *const *)t->sets.v,
	    .config = t->artifact->config,
	};
	int ret;

	/* libbpf's messages in order with ours (idempotent; main may do it earlier) */
	sk_kernel_log_init();
	/*
	 * Residency: before the load, so that libbpf's copies of the kernel BTF
	 * come on top of what is in use rather than of everything the checks
	 * touched (the peak), and after the attach, for the steady state.
	 */
	sk_trim_resident();
	ret = sk_sched_load(t->artifact->object, t->artifact->object_len, &lo, out, err);
	if (ret)
		return ret;
	ret = sk_sched_attach(*out, err);
	if (ret) {
		sk_sched_close(*out);
		*out = NULL;
		return ret;
	}
	sk_trim_resident();
	return 0;
}

static void report_attached(struct sup *s)
{
	char state[32], ops[SK_SCX_NAME_LEN], msg[512];

	sk_scx_state(state, sizeof(state));
	sk_scx_ops_name(ops, sizeof(ops));
	say("attached '%s' from %s (%s): state=%s ops=%s", sk_sched_name(s->sched), s->cur->ref,
	    s->cur->digest, state, ops);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=running %s (%s)\nMAINPID=%d",
		 sk_sched_name(s->sched), s->cur->digest, (int)getpid());
	skr_notify(msg);
}

static void wait_disabled(int max_ms)
{
	char state[32];

	for (int waited = 0; waited < max_ms; waited += 10) {
		sk_scx_state(state, sizeof(state));
		if (!strcmp(state, "disabled") || !strcmp(state, "absent"))
			return;
		nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
	}
}

static void report_exit(struct sup *s, const struct sk_exit_info *ei, bool by_us)
{
	const char *name = sk_sched_name(s->sched);

	s->status.have_exit = true;
	s->status.last_exit = *ei;
	s->status.last_exit_at = time(NULL);
	if (!ei->valid) {
		say("%s: no exit record (the scheduler defines no uei)", name);
		return;
	}
	say("%s exited: kind=%d (%s) code=%lld%s%s%s", name, ei->kind, sk_exit_kind_str(ei->kind),
	    (long long)ei->exit_code, ei->reason[0] ? " reason=\"" : "", ei->reason,
	    ei->reason[0] ? "\"" : "");
	if (ei->msg[0])
		say("%s message: %s", name, ei->msg);
	if (!by_us && (ei->exit_code & SCX_ECODE_ACT_RESTART))
		say("%s asked to be restarted (SCX_ECODE_ACT_RESTART)", name);
}

/* The scheduler is gone when its exit record is filled or the kernel stopped running it. */
static bool ejected(struct sup *s, struct sk_exit_info *ei)
{
	char state[32], ops[SK_SCX_NAME_LEN];

	if (!sk_sched_exit_info(s->sched, ei) && ei->valid)
		return true;
	sk_scx_state(state, sizeof(state));
	if (!strcmp(state, "enabling"))
		return false;
	sk_scx_ops_name(ops, sizeof(ops));
	return strcmp(state, "enabled") || strcmp(ops, sk_sched_name(s->sched));
}

static bool wants_restart(const struct sup *s, const struct sk_exit_info *ei)
{
	if (s->pol->restart == SKR_RESTART_NEVER)
		return false;
	if (ei->valid && (ei->exit_code & SCX_ECODE_ACT_RESTART))
		return true;
	if (s->pol->restart == SKR_RESTART_ALWAYS)
		return true;
	/* on-failure: errors and stalls, not an operator's SysRq or a clean exit */
	return !ei->valid || ei->kind >= 1024;
}

/* Waits, but a signal or a control request ends the wait. Returns the signal or 0. */
static int interruptible_sleep(struct sup *s, int ms)
{
	struct pollfd p[1] = {{.fd = s->sig_fd, .events = POLLIN}};
	struct signalfd_siginfo si;

	if (poll(p, 1, ms) > 0 && read(s->sig_fd, &si, sizeof(si)) == sizeof(si))
		return (int)si.ssi_signo;
	return 0;
}

static bool over_limit(struct sup *s)
{
	time_t now = time(NULL);
	int n = 0;

	for (int i = 0; i < s->nr_restart_log; i++)
		if (now - s->restart_log[i] < s->pol->window_s)
			n++;
	return n >= s->pol->max_restarts;
}

static void log_restart(struct sup *s)
{
	if (s->nr_restart_log == MAX_RESTART_LOG) {
		memmove(s->restart_log, s->restart_log + 1,
			sizeof(s->restart_log[0]) * (MAX_RESTART_LOG - 1));
		s->nr_restart_log--;
	}
	s->restart_log[s->nr_restart_log++] = time(NULL);
}

static int backoff_ms(struct sup *s)
{
	long d = s->pol->backoff_ms;
	unsigned int seed = (unsigned int)(time(NULL) ^ getpid() ^ s->consecutive);

	for (int i = 1; i < s->consecutive && d < s->pol->backoff_max_ms; i++)
		d *= 2;
	if (d > s->pol->backoff_max_ms)
		d = s->pol->backoff_max_ms;
	/* jitter up to 10%: many hosts ejected at once must not restart in lockstep */
	return (int)(d + (d / 10 ? rand_r(&seed) % (d / 10) : 0));
}

/*
 * Returns 0 when something is attached again (restart or fallback), 1 when the
 * kernel default scheduler is left in place, or a signal number.
 */
static int recover(struct sup *s, const struct sk_exit_info *ei)
{
	struct sk_error err = {0};

	while (wants_restart(s, ei) && !over_limit(s)) {
		int ms, sig;

		s->consecutive++;
		ms = backoff_ms(s);
		publish(s, "restarting");
		say("restarting '%s' in %d ms (restart %d)", sk_sched_name(s->sched), ms,
		    s->status.restarts + 1);
		sig = interruptible_sleep(s, ms);
		if (sig)
			return sig;
		log_restart(s);
		sk_sched_close(s->sched);
		s->sched = NULL;
		s->status.restarts++;
		if (!load_attach(s->cur, &s->sched, &err)) {
			s->status.since = time(NULL);
			report_attached(s);
			publish(s, s->status.on_fallback ? "fallback" : "running");
			return 0;
		}
		/* A load or attach that fails now will fail again: stop retrying. */
		say("restart failed: %s", err.msg);
		break;
	}
	if (wants_restart(s, ei) && over_limit(s))
		say("giving up: %d restarts within %d s", s->pol->max_restarts, s->pol->window_s);
	if (s->sched) {
		sk_sched_close(s->sched);
		s->sched = NULL;
	}
	if (s->fallback && s->cur != s->fallback) {
		say("attaching fallback %s (%s)", s->fallback->ref, s->fallback->digest);
		s->cur = s->fallback;
		s->consecutive = 0;
		s->nr_restart_log = 0;
		if (!load_attach(s->cur, &s->sched, &err)) {
			s->status.on_fallback = true;
			s->status.since = time(NULL);
			report_attached(s);
			publish(s, "fallback");
			return 0;
		}
		say("fallback failed: %s", err.msg);
	}
	say("leaving the kernel's default scheduler in place");
	publish(s, "failed");
	return 1;
}

static int open_control(struct sup *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	s->ctl_path = skr_control_path(s->st->dir);
	if (!s->ctl_path || strlen(s->ctl_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->ctl_path);
	unlink(s->ctl_path); /* we hold the lock: a leftover socket is stale */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	{
		/* the socket file is created with the umask's mode: make it 0600 from the start */
		mode_t old = umask(0177);
		int bad = bind(fd, (struct sockaddr *)&sa, sizeof(sa));

		umask(old);
		if (bad || chmod(s->ctl_path, 0600) || listen(fd, 4)) {
			int ret = -errno;

			close(fd);
			return ret;
		}
	}
	s->ctl_fd = fd;
	return 0;
}

static void reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(int fd, const char *fmt, ...)
{
	char buf[SK_ERROR_MSG_MAX + 128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* the client went away; the switch still completes */
	}
	fputs("skrun: ", stdout);
	fwrite(buf, 1, (size_t)n, stdout);
	fflush(stdout);
}

/* The lease holds what runs, the fallback and what a switch on trial would roll back to. */
static void lease_current(struct sup *s)
{
	const char *digests[3] = {s->cur ? s->cur->digest : NULL,
				  s->fallback ? s->fallback->digest : NULL,
				  s->prev ? s->prev->digest : NULL};
	struct sk_error err = {0};

	if (sk_store_lease_set(s->src->lease, digests, 3, &err))
		say("warning: %s", err.msg);
}

/*
 * switch: the new scheduler passes every gate and the verifier while the old
 * one keeps running; only then is the old one detached and the new attached.
 * If that attach fails, the old one is attached again. The pull (network,
 * signatures) runs in a child (start_switch) so that this loop keeps handling
 * ejections and signals; the rest is local and runs here (finish_switch).
 */
/*
 * failure: the fetch failed, and digest (may be NULL) is what it refused on
 * its own merits (signatures, this kernel): remembered bad by the agent.
 */
static void finish_switch(struct sup *s, const char *digest, const char *failure, int code)
{
	struct skr_target next = {0};
	struct sk_sched *loaded = NULL;
	struct sk_error err = {0};
	struct sk_load_opts lo = {0};
	char old_name[SK_SCX_NAME_LEN] = "";
	int fd = s->sw.client;

	next.sets = s->sw.sets;
	memset(&s->sw.sets, 0, sizeof(s->sw.sets));
	snprintf(next.identity, sizeof(next.identity), "%s", s->sw.identity);
	snprintf(next.scheduler, sizeof(next.scheduler), "%s", s->sw.scheduler);
	snprintf(next.mode, sizeof(next.mode), "%s", s->sw.mode);
	if (failure && code == -EALREADY && digest && s->agent) {
		/* remembered bad: the fetch stopped at the digest */
		skr_agent_fetched(s->agent, digest, s->sched ? s->cur : NULL);
		goto out;
	}
	if (failure) {
		reply(fd, "ERROR %s; '%s' is still attached", failure,
		      s->sched ? sk_sched_name(s->sched) : "(nothing)");
		if (s->agent)
			skr_agent_failed(s->agent, digest, code, failure, s->sched ? s->cur : NULL);
		goto out;
	}
	if (skr_prepare_stored(s->sw.ref, digest, s->src, &next, &err)) {
		reply(fd, "ERROR %s; '%s' is still attached", err.msg,
		      s->sched ? sk_sched_name(s->sched) : "(nothing)");
		if (s->agent)
			skr_agent_failed(s->agent, digest, err.code, err.msg,
					 s->sched ? s->cur : NULL);
		goto out;
	}
	lo.ops_name = next.ops_name;
	lo.set = (const char *const *)next.sets.v;
	lo.config = next.artifact->config;
	if (sk_sched_load(next.artifact->object, next.artifact->object_len, &lo, &loaded, &err)) {
		reply(fd, "ERROR %s", err.msg);
		reply(fd, "ERROR switch refused; '%s' is still attached",
		      s->sched ? sk_sched_name(s->sched) : "(nothing)");
		if (s->agent)
			skr_agent_failed(s->agent, digest, err.code, err.msg,
					 s->sched ? s->cur : NULL);
		goto out;
	}
	reply(fd, "switch: '%s' loaded (verifier accepted it); detaching '%s'",
	      sk_sched_name(loaded), s->sched ? sk_sched_name(s->sched) : "(nothing)");
	if (s->sched) {
		snprintf(old_name, sizeof(old_name), "%s", sk_sched_name(s->sched));
		sk_sched_detach(s->sched);
		wait_disabled(5000);
	}
	if (sk_sched_attach(loaded, &err)) {
		reply(fd, "ERROR attaching '%s' failed: %s", sk_sched_name(loaded), err.msg);
		if (s->agent)
			skr_agent_failed(s->agent, digest, err.code, err.msg,
					 s->sched ? s->cur : NULL);
		sk_sched_close(loaded);
		loaded = NULL;
		if (s->sched) {
			/* A fresh load: the detached object's exit record is already filled. */
			sk_sched_close(s->sched);
			s->sched = NULL;
			if (load_attach(s->cur, &s->sched, &err))
				reply(fd, "ERROR re-attaching '%s' failed too: %s", old_name,
				      err.msg);
			else
				reply(fd, "ERROR switch failed; '%s' re-attached", old_name);
		}
		goto out;
	}
	if (s->agent) {
		/* on trial: what ran before stays prepared for a rollback */
		skr_target_free(&s->prev_store);
		s->prev = s->sched ? s->cur : NULL;
		if (s->prev == &s->switched) {
			s->prev_store = s->switched;
			memset(&s->switched, 0, sizeof(s->switched));
			s->prev = &s->prev_store;
		}
	}
	sk_sched_close(s->sched);
	s->sched = loaded;
	loaded = NULL;
	skr_target_free(&s->switched);
	s->switched = next;
	memset(&next, 0, sizeof(next));
	s->cur = &s->switched;
	s->status.on_fallback = false;
	s->status.since = time(NULL);
	s->status.restarts = 0;
	s->consecutive = 0;
	s->nr_restart_log = 0;
	/* the switch's pull and checks left pages behind: give them back */
	sk_trim_resident();
	report_attached(s);
	if (s->agent)
		skr_agent_switched(s->agent, s->prev, s->cur);
	publish(s, "running");
	reply(fd, "OK switched from '%s' to '%s' (%s)%s%s", old_name[0] ? old_name : "(nothing)",
	      sk_sched_name(s->sched), s->cur->digest, s->cur->mode[0] ? ", mode " : "",
	      s->cur->mode);
out:
	lease_current(s);
	sk_sched_close(loaded);
	skr_target_free(&next);
	if (fd >= 0)
		close(fd);
	s->sw.client = -1;
}

/*
 * In the child: pull and verify, then one line on fd 3: "OK <digest>", or
 * "ERROR <errno> <refused digest or -> <why>".
 */
static void switch_child(const struct sup *s, int out)
{
	char digest[SK_DIGEST_MAX], line[SK_ERROR_MSG_MAX + 16];
	struct skr_source_opts o = *s->src;
	struct sk_error err = {0};
	sigset_t none;
	int n;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* the child must not keep the scheduler's link or the control socket alive */
	if (dup2(out, 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
	/* its own lease: the supervisor's went with the fds above */
	o.lease = NULL;
	o.identity = s->sw.identity[0] ? s->sw.identity : NULL;
	if (s->sw.has_pull)
		o.pull = s->sw.pull;
	if (s->agent) {
		o.accept_top = skr_agent_accept_top;
		o.accept_top_ctx = s->agent;
	}
	if (skr_fetch(s->sw.ref, &o, digest, &err))
		n = snprintf(line, sizeof(line), "ERROR %d %s %s", err.code,
			     digest[0] ? digest : "-", err.msg);
	else
		n = snprintf(line, sizeof(line), "OK %s", digest);
	fflush(stdout);
	if (n > 0)
		(void)!write(3, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	_exit(0);
}

static void close_client(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* The fetch child for what s->sw names; fd is the client told (-1: the agent's own switch). */
static void launch_switch(struct sup *s, int fd)
{
	int p[2];
	pid_t pid;

	reply(fd, "switch: preparing %s%s%s%s%s", s->sw.ref, s->sw.identity[0] ? " as " : "",
	      s->sw.identity, s->sw.mode[0] ? ", mode " : "", s->sw.mode);
	if (pipe2(p, O_CLOEXEC)) {
		reply(fd, "ERROR cannot start the switch: %s", strerror(errno));
		sk_strv_free(&s->sw.sets);
		close_client(fd);
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		switch_child(s, p[1]);
	close(p[1]);
	if (pid < 0) {
		reply(fd, "ERROR cannot start the switch: %s", strerror(errno));
		sk_strv_free(&s->sw.sets);
		close(p[0]);
		close_client(fd);
		return;
	}
	s->sw.pid = pid;
	s->sw.pipe = p[0];
	s->sw.client = fd;
}

static void start_switch(struct sup *s, int fd, char *args)
{
	char *save = NULL, *ref = strtok_r(args, "\t", &save);

	if (s->sw.pid) {
		reply(fd, "ERROR a switch to %s is in progress; try again when it is done",
		      s->sw.ref);
		close(fd);
		return;
	}
	if (!ref || !*ref) {
		reply(fd, "ERROR switch needs a reference");
		close(fd);
		return;
	}
	snprintf(s->sw.ref, sizeof(s->sw.ref), "%s", ref);
	s->sw.identity[0] = s->sw.scheduler[0] = s->sw.mode[0] = '\0';
	s->sw.has_pull = false;
	for (char *f = strtok_r(NULL, "\t", &save); f; f = strtok_r(NULL, "\t", &save)) {
		if (!strncmp(f, "set=", 4)) {
			sk_strv_push(&s->sw.sets, f + 4);
		} else if (!strncmp(f, "identity=", 9)) {
			snprintf(s->sw.identity, sizeof(s->sw.identity), "%s", f + 9);
		} else if (!strncmp(f, "scheduler=", 10)) {
			snprintf(s->sw.scheduler, sizeof(s->sw.scheduler), "%s", f + 10);
		} else if (!strncmp(f, "mode=", 5)) {
			snprintf(s->sw.mode, sizeof(s->sw.mode), "%s", f + 5);
		} else if (!strncmp(f, "pull=", 5) && !sk_pull_policy_parse(f + 5, &s->sw.pull)) {
			s->sw.has_pull = true;
		} else {
			reply(fd,
			      "ERROR switch: unknown field \"%.100s\" in the request (is this "
			      "skrun the same version as the supervisor?)",
			      f);
			sk_strv_free(&s->sw.sets);
			close(fd);
			return;
		}
	}
	launch_switch(s, fd);
}

/* The child's outcome arrived (or it died): finish the switch here. */
static void collect_switch(struct sup *s)
{
	char line[SK_ERROR_MSG_MAX + 16];
	ssize_t n, got = 0;

	while ((size_t)got < sizeof(line) - 1 &&
	       (n = read(s->sw.pipe, line + got, sizeof(line) - 1 - (size_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += n;
	}
	line[got] = '\0';
	close(s->sw.pipe);
	waitpid(s->sw.pid, NULL, 0);
	s->sw.pid = 0;
	if (!strncmp(line, "OK sha256:", 10) && sk_digest_valid(line + 3)) {
		struct sk_error err = {0};

		if (s->agent && skr_agent_fetched(s->agent, line + 3, s->sched ? s->cur : NULL) !=
				    SKR_AGENT_PROCEED) {
			/* already running, or remembered bad: nothing changes, not even the lease
			 */
			sk_strv_free(&s->sw.sets);
			s->sw.client = -1;
			return;
		}
		/* ours now: the child's lease ended with its pull */
		if (sk_store_lease_add(s->src->lease, line + 3, &err))
			say("warning: %s", err.msg);
		finish_switch(s, line + 3, NULL, 0);
	} else if (!strncmp(line, "ERROR ", 6)) {
		char *end, *why, refused[SK_DIGEST_MAX] = "";
		long code = strtol(line + 6, &end, 10);

		why = *end == ' ' ? end + 1 : line + 6;
		if (!strncmp(why, "- ", 2)) {
			why += 2;
		} else if (!strncmp(why, "sha256:", 7) && strchr(why, ' ')) {
			snprintf(refused, sizeof(refused), "%.*s", (int)(strchr(why, ' ') - why),
				 why);
			why = strchr(why, ' ') + 1;
		}
		finish_switch(s, sk_digest_valid(refused) ? refused : NULL, why, (int)code);
	} else {
		finish_switch(s, NULL, "the switch's fetch process died", -EIO);
	}
}

/* skrun is stopping: a pending switch is abandoned, its client told so. */
static void cancel_switch(struct sup *s)
{
	if (!s->sw.pid)
		return;
	kill(s->sw.pid, SIGKILL);
	waitpid(s->sw.pid, NULL, 0);
	close(s->sw.pipe);
	s->sw.pid = 0;
	reply(s->sw.client, "ERROR switch to %s cancelled: skrun is stopping", s->sw.ref);
	close_client(s->sw.client);
	s->sw.client = -1;
	sk_strv_free(&s->sw.sets);
}

/* Only root may steer the scheduler: the socket is 0600, and the peer is checked too. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

/* Returns 1 when the client asked us to stop. */
static int serve_control(struct sup *s)
{
	char buf[8192];
	ssize_t n;
	int fd = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	int stop = 0;

	if (fd < 0)
		return 0;
	/* One short request line; a stuck client must not wedge the supervisor. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){2, 0}, sizeof(struct timeval));
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		close(fd);
		return 0;
	}
	buf[n] = '\0';
	sk_rstrip(buf);
	if (!peer_allowed(fd)) {
		reply(fd, "ERROR permission denied: only root may control skrun");
	} else if (!strncmp(buf, "switch\t", 7) && s->agent) {
		reply(fd, "ERROR this skrun is a node agent (skrun run --follow): it runs its "
			  "desired state; change that (the file or the tag) instead of switching");
	} else if (!strncmp(buf, "switch\t", 7)) {
		start_switch(s, fd, buf + 7);
		return 0; /* the connection now belongs to the switch */
	} else if (!strcmp(buf, "stop")) {
		reply(fd, "OK stopping");
		stop = 1;
	} else {
		reply(fd, "ERROR unknown request");
	}
	close(fd);
	return stop;
}

/*
 * The switch on trial was ejected within the health window: back to what ran
 * before it (else the fallback, else the kernel's default), and the agent
 * remembers the digest as bad so that it is not tried again for this desired
 * state. No restart policy applies to a scheduler on trial.
 */
static void rollback(struct sup *s, const struct sk_exit_info *ei)
{
	struct skr_target *bad = s->cur, *to = s->prev;
	struct sk_error err = {0};
	char why[SK_ERROR_MSG_MAX];

	if (ei->valid)
		snprintf(why, sizeof(why), "'%s' ejected by the kernel: kind=%d (%s)%s%.300s",
			 sk_sched_name(s->sched), ei->kind, sk_exit_kind_str(ei->kind),
			 ei->msg[0] ? ": " : "", ei->msg);
	else
		snprintf(why, sizeof(why), "'%s' ejected by the kernel (no exit record)",
			 sk_sched_name(s->sched));
	sk_sched_close(s->sched);
	s->sched = NULL;
	if (to && load_attach(to, &s->sched, &err)) {
		say("rollback to %s (%s) failed: %s", to->ref, to->digest, err.msg);
		to = NULL;
	}
	if (!to && s->fallback && s->prev != s->fallback &&
	    !load_attach(s->fallback, &s->sched, &err))
		to = s->fallback;
	skr_agent_rolled_back(s->agent, bad, why, to, to && to == s->fallback);
	if (to == &s->prev_store) {
		skr_target_free(&s->switched);
		s->switched = s->prev_store;
		memset(&s->prev_store, 0, sizeof(s->prev_store));
		to = &s->switched;
	} else if (bad == &s->switched) {
		skr_target_free(&s->switched);
	}
	skr_target_free(&s->prev_store);
	s->prev = NULL;
	s->cur = to;
	s->status.on_fallback = to && to == s->fallback;
	s->status.since = time(NULL);
	s->status.restarts = 0;
	s->consecutive = 0;
	s->nr_restart_log = 0;
	lease_current(s);
	if (!to) {
		say("leaving the kernel's default scheduler in place until the desired state "
		    "changes");
		publish(s, "waiting");
		return;
	}
	report_attached(s);
	publish(s, s->status.on_fallback ? "fallback" : "running");
}

/* The agent's turn: its source, its timers, the health window. */
static void agent_step(struct sup *s)
{
	struct skr_agent_req req;

	if (!s->agent)
		return;
	switch (skr_agent_tick(s->agent, s->sched ? s->cur : NULL, s->sw.pid != 0, &req)) {
	case SKR_AGENT_SWITCH:
		snprintf(s->sw.ref, sizeof(s->sw.ref), "%s", req.ref);
		snprintf(s->sw.identity, sizeof(s->sw.identity), "%s", req.identity);
		snprintf(s->sw.scheduler, sizeof(s->sw.scheduler), "%s", req.scheduler);
		snprintf(s->sw.mode, sizeof(s->sw.mode), "%s", req.mode);
		s->sw.has_pull = req.has_pull;
		s->sw.pull = req.pull;
		sk_strv_free(&s->sw.sets);
		s->sw.sets = req.sets;
		launch_switch(s, -1);
		break;
	case SKR_AGENT_COMMIT:
		skr_target_free(&s->prev_store);
		s->prev = NULL;
		lease_current(s);
		break;
	case SKR_AGENT_NONE:
		break;
	}
	if (skr_agent_take_changed(s->agent))
		record_state(s, s->status.status ? s->status.status : "waiting", false);
}

static int detach_and_report(struct sup *s, const char *why)
{
	struct sk_exit_info ei;
	char state[32];

	if (!s->sched) {
		/* an agent waiting with the kernel's default in place: nothing to detach */
		say("%s; nothing attached", why);
		skr_notify("STOPPING=1");
		publish(s, "stopped");
		return 0;
	}
	say("%s, detaching '%s'", why, sk_sched_name(s->sched));
	skr_notify("STOPPING=1");
	sk_sched_detach(s->sched);
	wait_disabled(5000);
	sk_scx_state(state, sizeof(state));
	say("detached: state=%s", state);
	sk_sched_exit_info(s->sched, &ei);
	report_exit(s, &ei, true);
	publish(s, "stopped");
	return 0;
}

int skr_supervise(struct skr_state *st, struct skr_target *primary, struct skr_target *fallback,
		  const struct skr_policy *pol, const struct skr_source_opts *src,
		  struct skr_agent *agent)
{
	struct sup s = {
	    .st = st,
	    .pol = pol,
	    .src = src,
	    .cur = primary,
	    .fallback = fallback,
	    .sig_fd = -1,
	    .ctl_fd = -1,
	    .sw = {.client = -1, .pipe = -1},
	    .agent = agent,
	};
	struct sk_error err = {0};
	struct sk_exit_info ei;
	sigset_t sigs;
	int ret = 1;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	s.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.sig_fd < 0) {
		say("cannot watch signals: %s", strerror(errno));
		goto out;
	}
	if (open_control(&s))
		say("warning: no control socket in %s (switch and stop unavailable)", st->dir);
	lease_current(&s);

	s.status.since = time(NULL);
	if (!s.cur) {
		say("nothing committed on this node yet: the kernel's default scheduler runs until "
		    "the desired state is attached");
		publish(&s, "waiting");
	} else if (load_attach(s.cur, &s.sched, &err)) {
		say("%s", err.msg);
		memset(&ei, 0, sizeof(ei));
		ei.kind = 1024; /* treat like an error: the fallback may take over */
		s.sched = NULL;
		if (!fallback && agent) {
			s.cur = NULL;
			publish(&s, "waiting");
		} else if (!fallback) {
			publish(&s, "failed");
			goto out;
		} else {
			s.consecutive = pol->max_restarts; /* a load failure is not transient */
			s.nr_restart_log = 0;
			{
				struct skr_policy no_restart = *pol;

				no_restart.restart = SKR_RESTART_NEVER;
				s.pol = &no_restart;
				ret = recover(&s, &ei);
				s.pol = pol;
			}
			if (ret == 1 && agent) {
				s.cur = NULL;
				publish(&s, "waiting");
				ret = 0;
			} else if (ret) {
				goto out;
			}
		}
	} else {
		report_attached(&s);
		publish(&s, "running");
	}

	for (;;) {
		struct pollfd p[4] = {{.fd = s.sig_fd, .events = POLLIN},
				      {.fd = s.ctl_fd, .events = POLLIN},
				      {.fd = s.sw.pid ? s.sw.pipe : -1, .events = POLLIN},
				      {.fd = agent ? skr_agent_fd(agent) : -1, .events = POLLIN}};
		struct signalfd_siginfo si;

		if (poll(p, 4, POLL_MS) > 0) {
			if ((p[0].revents & POLLIN) &&
			    read(s.sig_fd, &si, sizeof(si)) == sizeof(si)) {
				cancel_switch(&s);
				ret = detach_and_report(&s, strsignal((int)si.ssi_signo));
				goto out;
			}
			if (s.ctl_fd >= 0 && (p[1].revents & POLLIN) && serve_control(&s)) {
				cancel_switch(&s);
				ret = detach_and_report(&s, "stop requested");
				goto out;
			}
			if (s.sw.pid && (p[2].revents & (POLLIN | POLLHUP)))
				collect_switch(&s);
		}
		agent_step(&s);
		if (!s.sched || !ejected(&s, &ei))
			continue;
		wait_disabled(5000);
		{
			char state[32];

			sk_scx_state(state, sizeof(state));
			say("the kernel ejected '%s': state=%s", sk_sched_name(s.sched), state);
		}
		sk_sched_exit_info(s.sched, &ei);
		report_exit(&s, &ei, false);
		if (agent && skr_agent_pending(agent)) {
			rollback(&s, &ei);
			continue;
		}
		ret = recover(&s, &ei);
		if (ret == 1 && agent) {
			/* nothing left that runs: wait for a new desired state */
			s.cur = NULL;
			publish(&s, "waiting");
			ret = 0;
			continue;
		}
		if (ret == 1)
			goto out;
		if (ret) {
			say("%s received while restarting; not restarting", strsignal(ret));
			publish(&s, "stopped");
			ret = 0;
			goto out;
		}
	}
out:
	cancel_switch(&s);
	sk_sched_close(s.sched);
	skr_target_free(&s.switched);
	skr_target_free(&s.prev_store);
	if (s.ctl_fd >= 0) {
		close(s.ctl_fd);
		unlink(s.ctl_path);
	}
	free(s.ctl_path);
	if (s.sig_fd >= 0)
		close(s.sig_fd);
	return ret;
}
