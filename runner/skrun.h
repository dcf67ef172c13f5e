/* SPDX-License-Identifier: Apache-2.0 */
/* skrun internals shared by its subcommands (not part of lib/'s public API). */
#ifndef SKRUN_H
#define SKRUN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "schedkit/common.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"
#include "schedkit/registry.h"
#include "schedkit/transfer.h"

#define SKRUN_STATE_DEFAULT "/run/schedkit"
/* The configuration: JSON next to the trust policy (docs/operators.md). */
#define SKRUN_CONFIG_DEFAULT "/etc/schedkit/skrun.json"
#define SKRUN_CONFIG_ENV     "SKRUN_CONFIG"

/* Where an artifact comes from and how it must be trusted. */
struct skr_source_opts {
	const char *store;	    /* NULL: the default store */
	const char *policy;	    /* NULL: the default policy */
	struct sk_strv keys;	    /* --key PUB: trust these instead of the policy */
	bool insecure_skip_verify;  /* explicit opt-out, reported loudly */
	const char *identity;	    /* layouts/archives: the repository they were signed for */
	const char *arch;	    /* NULL: the host's */
	const char *btf;	    /* NULL: the running kernel (for the compatibility check) */
	struct sk_registry_cli reg; /* --insecure-registry, --ca-cert, --authfile */
	bool skip_check;	    /* only for tests of the loader itself */
	/* the kernel check on the config before any layer is fetched (run and its
	 * switches): what this kernel cannot run never reaches the store */
	bool check_first;
	/* NULL, or judges the resolved digest before anything else is fetched */
	int (*accept_top)(void *ctx, const char *digest, struct sk_error *err);
	void *accept_top_ctx;
	enum sk_pull_policy pull; /* --pull: when a registry is asked */
	/* non-NULL: what is pulled is leased here (a supervisor's own lease) */
	struct sk_store_lease *lease;
};

/* A scheduler that passed every gate and is ready to load. */
struct skr_target {
	char ref[1024];
	char digest[SK_DIGEST_MAX]; /* what was verified: index or manifest digest */
	struct sk_artifact *artifact;
	struct sk_strv sets; /* NAME=VALUE tunables */
	const char *ops_name;
	bool verified;	     /* false only with --insecure-skip-verify */
	char identity[512];  /* --identity it was verified for; "" when its own name said */
	char scheduler[128]; /* its name in skrun.json; "" when started by reference */
	char mode[64];	     /* the skrun.json mode whose tunables it runs with; "" for none */
};

/*
 * The path from a reference to a loadable scheduler: fetch by digest, verify
 * the signature, check this kernel. Fails before anything is loaded.
 */
int skr_prepare(const char *ref, const struct skr_source_opts *o, struct skr_target *t,
		struct sk_error *err);
/*
 * Its network half: pulls and verifies ref into the store; digest is what was
 * verified. On failure digest is the top-level digest refused on its own
 * merits (signatures; with check_first, this kernel), "" otherwise (outage).
 */
int skr_fetch(const char *ref, const struct skr_source_opts *o, char digest[SK_DIGEST_MAX],
	      struct sk_error *err);
/* Its local half: reads the verified digest from the store and checks object, kernel, tunables. */
int skr_prepare_stored(const char *ref, const char *digest, const struct skr_source_opts *o,
		       struct skr_target *t, struct sk_error *err);
void skr_target_free(struct skr_target *t);

/* ---- state directory ---- */

/* ---- metrics (runner/metrics.c; names in docs/metrics.md) ---- */

#define SKRUN_METRICS_ENV "SKRUN_METRICS_FILE"
#define SKR_METRICS_KINDS 16

/* The node agent's transitions, as status --json and the metrics name them. */
enum skr_agent_event {
	SKR_EV_START,
	SKR_EV_SWITCH,
	SKR_EV_COMMIT,
	SKR_EV_ROLLBACK,
	SKR_EV_REFUSED,
	SKR_EV_FETCH_FAILED,
	SKR_EV_DESIRED_INVALID,
	SKR_EV_DESIRED,
};
extern const char *const skr_agent_event_names[8];

/* What the metrics file counts: transitions seen by the supervisor since it started. */
struct skr_metrics {
	const char *path; /* NULL: $SKRUN_METRICS_FILE, else no metrics file */
	const char *prev; /* the status last published; NULL before the first */
	bool prev_fallback;
	int prev_restarts;
	uint64_t restarts, switches, fallbacks, rollbacks;
	/* the node agent's (skrun run --follow); agent false without one */
	bool agent, agent_ready, agent_pending;
	unsigned agent_bad;
	uint64_t agent_events[8]; /* by skr_agent_event */
	struct {
		int kind; /* the exit record's; -1 when the scheduler has none */
		uint64_t n;
	} ejections[SKR_METRICS_KINDS];
	size_t nkinds;
	time_t last_transition;
	time_t prev_exit_at; /* the exit record last seen, so each is counted once */
};

struct skr_state {
	char dir[1024];
	int lock_fd;		    /* held by the supervising skrun for its lifetime */
	struct skr_metrics metrics; /* written on every publish when a path is set */
};

const char *skr_state_dir(void);
/* Takes the single-supervisor lock; -EBUSY (with the holder's pid) if taken. */
int skr_state_lock(struct skr_state *st, struct sk_error *err);
void skr_state_unlock(struct skr_state *st);

struct skr_status {
	const char *status; /* "running", "restarting", "fallback", "stopped", "failed" */
	const char *ref;
	const char *digest;
	const char *name;
	bool verified;
	bool on_fallback;
	time_t since;
	int restarts;
	bool have_exit;
	struct sk_exit_info last_exit;
	time_t last_exit_at;
	const struct skr_target *target;   /* what runs: tunables, identity, mode */
	const struct skr_target *fallback; /* NULL: none */
	const char *pull;		   /* the pull policy it runs with */
	const char *error;		   /* status "failed" at start: why */
	struct json_object *agent;	   /* the node agent's record; NULL when not following */
};

/* Writes state.json atomically. */
int skr_state_write(const struct skr_state *st, const struct skr_status *s, struct sk_error *err);
/* Reads state.json from dir; *out is owned by the caller. */
int skr_state_read(const char *dir, struct json_object **out, struct sk_error *err);
/* True while pid runs (a zombie does not). */
bool skr_pid_alive(int pid);
/* The pid recorded in state.json if that process is alive, else 0. */
int skr_state_pid(const char *dir);
/*
 * A start that failed records so (status "failed", the reason), so that no
 * earlier run's record outlives it; a live supervisor's record is left alone.
 */
void skr_state_record_failure(const char *ref, const char *why);

/* Counts the transition to s (ejections, switches, fallbacks, restarts). */
void skr_metrics_update(struct skr_metrics *m, const struct skr_status *s, time_t now);
/* The text exposition format; scx_state/scx_ops as sysfs has them. */
int skr_metrics_render(const struct skr_metrics *m, const struct skr_status *s,
		       const char *scx_state, const char *scx_ops, struct sk_buf *out);
/* The configured path, or NULL when no metrics file is wanted. */
const char *skr_metrics_path(const struct skr_metrics *m);
/* Renders and writes the file atomically (temp, fsync, rename); 0 without a path. */
int skr_metrics_write(const struct skr_metrics *m, const struct skr_status *s,
		      const char *scx_state, const char *scx_ops, struct sk_error *err);
/* The supervisor's hook: update, read sysfs, write; a failure is a warning only. */
void skr_metrics_publish(struct skr_metrics *m, const struct skr_status *s);
/* The same without counting a transition (the agent's record changed, not the status). */
void skr_metrics_rewrite(struct skr_metrics *m, const struct skr_status *s);

/* systemd readiness (Type=notify) when NOTIFY_SOCKET is set; a no-op otherwise. */
void skr_notify(const char *msg);

/* ---- supervision ---- */

enum skr_restart {
	SKR_RESTART_ON_FAILURE,
	SKR_RESTART_ALWAYS,
	SKR_RESTART_NEVER,
};

struct skr_policy {
	enum skr_restart restart;
	int backoff_ms;	    /* first delay */
	int backoff_max_ms; /* cap */
	int max_restarts;   /* within window_s */
	int window_s;
};

struct skr_agent;

/*
 * Runs in the foreground until a signal, or until nothing is left to run.
 * With an agent (skrun run --follow): primary may be NULL (nothing committed
 * yet), the agent's desired state drives the switches, and nothing left to
 * run means waiting for a new desired state, not exiting.
 */
int skr_supervise(struct skr_state *st, struct skr_target *primary, struct skr_target *fallback,
		  const struct skr_policy *pol, const struct skr_source_opts *src,
		  struct skr_agent *agent);

/* ---- the node agent (runner/agent.c; docs/fleet.md) ---- */

#define SKR_AGENT_WINDOW_DEFAULT 30
#define SKR_AGENT_POLL_DEFAULT	 60

struct skr_agent_opts {
	const char *config; /* the desired-state file (skrun.json), watched; or NULL */
	const char *ref;    /* or a reference followed (a tag polled) */
	const struct sk_strv *sets;
	const char *identity;
	int poll_s;	 /* -1: the file's "follow.pollS", else SKR_AGENT_POLL_DEFAULT for a tag */
	int window_s;	 /* -1: the file's "health.windowS", else SKR_AGENT_WINDOW_DEFAULT */
	bool pull_given; /* --pull on the command line wins over the file's "pull" */
	const char *state_dir;
	struct skr_metrics *metrics;
};

/* What the agent wants the supervisor to fetch and switch to. */
struct skr_agent_req {
	char ref[1024];
	struct sk_strv sets;
	char identity[512];
	char scheduler[128];
	char mode[64];
	bool has_pull;
	enum sk_pull_policy pull;
};

enum skr_agent_action {
	SKR_AGENT_NONE,
	SKR_AGENT_SWITCH, /* start a switch to *req (its sets are the caller's to free) */
	SKR_AGENT_COMMIT, /* the health window passed: the previous target can go */
};

enum skr_agent_verdict {
	SKR_AGENT_PROCEED,
	SKR_AGENT_SKIP,	  /* the desired state already runs */
	SKR_AGENT_REFUSE, /* a digest remembered as bad for this desired state */
};

/* Reads the memory in the state dir, opens the watch; the first desired state is read. */
int skr_agent_new(const struct skr_agent_opts *o, struct skr_agent **out, struct sk_error *err);
void skr_agent_free(struct skr_agent *a);
/* The last committed target, to start with (its sets copied in); false when none. */
bool skr_agent_committed(const struct skr_agent *a, struct skr_target *t);
/* The inotify descriptor to poll (-1 for a tag). */
int skr_agent_fd(const struct skr_agent *a);
/* Source events, timers, the health window. busy: a switch is under way. */
enum skr_agent_action skr_agent_tick(struct skr_agent *a, const struct skr_target *cur, bool busy,
				     struct skr_agent_req *req);
/* A switch's fetch resolved digest: go on, or not. */
enum skr_agent_verdict skr_agent_fetched(struct skr_agent *a, const char *digest,
					 const struct skr_target *cur);
/*
 * For the fetch (sk_pull_opts.accept_top): -EALREADY when digest failed
 * before under the same desired state, so that it is not fetched again.
 */
int skr_agent_accept_top(void *agent, const char *digest, struct sk_error *err);
/* The switch failed before anything changed; digest when known (then it is remembered bad). */
void skr_agent_failed(struct skr_agent *a, const char *digest, int code, const char *why,
		      const struct skr_target *cur);
/* The switch attached to; from what (NULL: the kernel's default). The health window starts. */
void skr_agent_switched(struct skr_agent *a, const struct skr_target *from,
			const struct skr_target *to);
bool skr_agent_pending(const struct skr_agent *a);
/* The pending target bad was ejected (why); the supervisor rolled back to to (NULL: nothing). */
void skr_agent_rolled_back(struct skr_agent *a, const struct skr_target *bad, const char *why,
			   const struct skr_target *to, bool to_fallback);
/* Something happened that is not a status change (a desired state read, a refusal). */
bool skr_agent_take_changed(struct skr_agent *a);
/* state.json's "agent" object (new reference), readiness included. */
struct json_object *skr_agent_json(struct skr_agent *a, const struct skr_target *cur,
				   const char *status);
/* Whether what runs is the desired state, committed; why not in why. */
bool skr_agent_ready(const struct skr_agent *a, const struct skr_target *cur, const char *status,
		     char *why, size_t whysz);

/* Control socket path in the state dir (malloc'd). */
char *skr_control_path(const char *dir);
/*
 * Sends one request line, prints the replies; 0 when the last reply is
 * "OK ...". -ENOTCONN when no supervisor listens.
 */
int skr_control_request(const char *request, struct sk_error *err);

/*
 * The switch request: "switch\tREF" then "\tKEY=VALUE" fields, KEY one of
 * set (repeatable), identity, pull, scheduler, mode. Values hold no tab or
 * newline (-EINVAL otherwise).
 */
int skr_switch_request(struct sk_buf *req, const char *ref, const struct sk_strv *sets,
		       const char *identity, const char *pull, const char *scheduler,
		       const char *mode, struct sk_error *err);

/* ---- configuration (skrun.json) ---- */

struct skr_mode {
	char *name;
	struct sk_strv sets; /* NAME=VALUE */
};

struct skr_sched_conf {
	char *name;
	char *ref;
	char *identity;	     /* may be NULL */
	struct sk_strv sets; /* its tunables in every mode */
	struct skr_mode *modes;
	size_t nmodes;
};

struct skr_config {
	char *path;
	char *scheduler; /* the default */
	char *mode;	 /* the mode skrun run starts in; may be NULL */
	char *fallback;	 /* a scheduler's name; may be NULL */
	char *metrics;	 /* the metrics file (docs/metrics.md); may be NULL */
	bool has_pull;
	enum sk_pull_policy pull;
	bool has_restart;
	struct skr_policy restart;
	int poll_s;   /* "follow": {"pollS"}: a tag's poll interval; -1 when not given */
	int window_s; /* "health": {"windowS"}: the health window; -1 when not given */
	struct skr_sched_conf *scheds;
	size_t nscheds;
};

/* $SKRUN_CONFIG, else SKRUN_CONFIG_DEFAULT. */
const char *skr_config_path(void);
/* Reads and checks it; unknown fields and names are refused with the one meant. */
int skr_config_load(const char *path, struct skr_config *c, struct sk_error *err);
/* The same from bytes already read (the agent hashes what it parsed); path names it in messages. */
int skr_config_parse(const char *path, const uint8_t *data, size_t len, struct skr_config *c,
		     struct sk_error *err);
void skr_config_free(struct skr_config *c);
/* The scheduler named name; -ENOENT with the names there are. */
int skr_config_sched(const struct skr_config *c, const char *name,
		     const struct skr_sched_conf **out, struct sk_error *err);
/*
 * The tunables of s in mode (NULL or "default": its own only), appended to
 * out; a mode's value replaces the scheduler's for the same name. -ENOENT
 * with the modes there are when s has no such mode.
 */
int skr_config_sets(const struct skr_sched_conf *s, const char *mode, struct sk_strv *out,
		    struct sk_error *err);
/* Appends NAME=VALUE to sets, replacing an earlier value of NAME. */
int skr_sets_put(struct sk_strv *sets, const char *kv);

#endif
