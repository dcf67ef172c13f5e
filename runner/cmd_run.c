/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun run: prepare (fetch, verify, check) the scheduler and its fallback,
 * take the host's supervisor lock, then supervise in the foreground. With no
 * REF, what to run comes from skrun.json.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "schedkit/store.h"
#include "skrun.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: skrun run [REF] [options]\n"
	    "\n"
	    "Fetches the scheduler by digest, verifies it, checks this kernel, loads it\n"
	    "(the kernel verifier runs), attaches it and supervises it in the foreground.\n"
	    "SIGTERM/SIGINT or `skrun stop` detach it cleanly; when the kernel ejects it,\n"
	    "the exit kind, reason and message are reported and the restart policy\n"
	    "applies. REF is a registry reference, an OCI layout DIR[:TAG] or an\n"
	    "oci-archive FILE[:TAG]; it is pulled into the store first. Without REF,\n"
	    "the configuration (" SKRUN_CONFIG_DEFAULT ", or $" SKRUN_CONFIG_ENV ") names\n"
	    "the scheduler, its tunables and mode, the fallback and the restart and pull\n"
	    "policies; options given here override it.\n"
	    "\n"
	    "  --pull POLICY           always (default): resolve tags at the registry, the\n"
	    "                          stored digest (with a warning) when it is down;\n"
	    "                          missing: a tag in the store resolves there, offline;\n"
	    "                          never: only from the store\n"
	    "  --fallback REF          attach this (prepared the same way) when REF keeps\n"
	    "                          failing; otherwise the kernel default stays\n"
	    "  --restart POLICY        on-failure (default), always, never\n"
	    "  --backoff-ms N          first restart delay, doubled each time (default 1000)\n"
	    "  --backoff-max-ms N      cap of the delay (default 30000)\n"
	    "  --max-restarts N        restarts allowed within the window (default 5)\n"
	    "  --restart-window S      the window in seconds (default 300)\n"
	    "  --set NAME=VALUE        set a tunable before load (repeatable)\n"
	    "  --ops NAME              the sched_ext_ops map when the object has several\n"
	    "  --store DIR             content store (default /var/lib/schedkit)\n"
	    "  --policy FILE           trust policy (default /etc/schedkit/policy.json)\n"
	    "  --key PUB               trust this public key instead of the policy\n"
	    "  --identity HOST/REPO    REF is a layout or archive signed for this\n"
	    "                          repository (archives from `skbuild save REF` record it)\n"
	    "  --fallback-identity HOST/REPO  the same for the fallback\n"
	    "  --insecure-skip-verify  run without signature verification (marked so)\n"
	    "  --config FILE           the configuration to read when REF is not given\n"
	    "  --mode NAME             start in this mode of the configured scheduler\n"
	    "  --metrics-file FILE     rewrite Prometheus metrics there on every change\n"
	    "                          (node_exporter's textfile collector; docs/metrics.md)\n"
	    "  --follow                node agent: follow a desired state instead of running\n"
	    "                          one reference. Without REF the configuration file is\n"
	    "                          the desired state, watched with inotify (a Kubernetes\n"
	    "                          ConfigMap's ..data swap included); with REF a registry\n"
	    "                          tag is polled. A switch is committed after the health\n"
	    "                          window, else rolled back and its digest not retried\n"
	    "                          until the desired state changes (docs/fleet.md)\n"
	    "  --poll-interval S       --follow: resolve the tag every S seconds (default 60\n"
	    "                          for REF; the file's \"follow\": {\"pollS\"} otherwise)\n"
	    "  --health-window S       --follow: seconds without an ejection before a switch\n"
	    "                          is committed (default 30; \"health\": {\"windowS\"})\n"
	    "%s"
	    "\n"
	    "Exit status: 0 after a clean stop, 1 when nothing trusted could be kept\n"
	    "running, 3 when verification refused it, 4 not found, 5 registry\n"
	    "unreachable, 6 this kernel cannot run it, 2 on usage errors.\n"
	    "State: $SKRUN_STATE_DIR or /run/schedkit (lock, state.json, control.sock).\n",
	    SK_REGISTRY_CLI_HELP);
}

static int parse_int(const char *s, int min, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || end == s || v < min || v > 1000000000)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Options that override the configuration once both are known. */
struct cli {
	const char *ref, *fallback, *identity, *fallback_identity, *config, *mode, *ops;
	const char *metrics;
	struct sk_strv sets;
	struct skr_policy pol;
	unsigned pol_given; /* bits: 1 restart, 2 backoff, 4 backoff max, 8 max, 16 window */
	bool pull_given;
	enum sk_pull_policy pull;
	bool follow;
	int poll_s, window_s; /* -1: not given */
};

static void apply_policy(struct skr_policy *pol, const struct cli *c)
{
	if (c->pol_given & 1)
		pol->restart = c->pol.restart;
	if (c->pol_given & 2)
		pol->backoff_ms = c->pol.backoff_ms;
	if (c->pol_given & 4)
		pol->backoff_max_ms = c->pol.backoff_max_ms;
	if (c->pol_given & 8)
		pol->max_restarts = c->pol.max_restarts;
	if (c->pol_given & 16)
		pol->window_s = c->pol.window_s;
}

/* The targets from skrun.json, then the command line's overrides. */
static int from_config(struct cli *c, struct skr_config *cf, struct skr_target *primary,
		       struct skr_target *fallback, struct skr_policy *pol,
		       struct skr_source_opts *src, struct sk_error *err)
{
	const struct skr_sched_conf *s, *fs;
	int ret;

	ret = skr_config_load(c->config ? c->config : skr_config_path(), cf, err);
	if (ret) {
		if (ret == -ENOENT && !c->follow)
			sk_err_prefix(err,
				      "no REF given and no configuration to take it from: name "
				      "a scheduler (skrun run REF) or write one "
				      "(docs/operators.md): ");
		return ret;
	}
	ret = skr_config_sched(cf, cf->scheduler, &s, err);
	if (ret)
		return ret;
	c->ref = s->ref;
	if (!c->mode)
		c->mode = cf->mode;
	ret = skr_config_sets(s, c->mode, &primary->sets, err);
	if (ret)
		return sk_err_prefix(err, "%s: ", cf->path);
	if (!c->identity)
		c->identity = s->identity;
	snprintf(primary->scheduler, sizeof(primary->scheduler), "%s", s->name);
	snprintf(primary->mode, sizeof(primary->mode), "%s", c->mode ? c->mode : "");
	if (!c->fallback && cf->fallback) {
		ret = skr_config_sched(cf, cf->fallback, &fs, err);
		if (ret)
			return ret;
		c->fallback = fs->ref;
		if (!c->fallback_identity)
			c->fallback_identity = fs->identity;
		ret = skr_config_sets(fs, NULL, &fallback->sets, err);
		if (ret)
			return ret;
		snprintf(fallback->scheduler, sizeof(fallback->scheduler), "%s", fs->name);
	}
	if (cf->has_restart)
		*pol = cf->restart;
	if (cf->has_pull)
		src->pull = cf->pull;
	if (!c->metrics)
		c->metrics = cf->metrics;
	return 0;
}

/* Prepares one target: its own identity, the lease the supervisor will hold. */
static int prepare(const char *ref, const char *identity, const struct skr_source_opts *src,
		   struct skr_target *t, struct sk_error *err)
{
	struct skr_source_opts o = *src;

	o.identity = identity;
	snprintf(t->identity, sizeof(t->identity), "%s", identity ? identity : "");
	return skr_prepare(ref, &o, t, err);
}

/* The supervisor's lease, held from the first pull until it exits. */
static struct sk_store_lease *supervisor_lease(const char *store)
{
	struct sk_store_lease *l = NULL;
	struct sk_store *s = NULL;
	struct sk_error err = {0};
	char owner[64];

	snprintf(owner, sizeof(owner), "skrun run (pid %d)", (int)getpid());
	if (sk_store_open(store, &s, &err) || sk_store_lease_new(s, owner, &l, &err))
		printf("skrun: warning: no lease in the store (%s); `skrun store prune` may "
		       "remove what runs\n",
		       err.msg);
	sk_store_close(s);
	return l;
}

/*
 * The node agent: the lock first (the agent's memory lives next to it), then
 * what this node committed last, prepared from the store, so that a new pod
 * whose desired state fails rolls back to what the node ran before. The
 * desired state itself is fetched by the supervisor's switch path, never
 * here: bad input must not keep the agent from starting.
 */
static int run_agent(struct cli *c, struct skr_config *cf, struct skr_target *primary,
		     struct skr_target *fallback, struct skr_policy *pol,
		     struct skr_source_opts *src)
{
	struct skr_state st = {.lock_fd = -1};
	struct skr_agent_opts ao = {0};
	struct skr_target scratch = {0};
	struct skr_agent *agent = NULL;
	struct sk_error err = {0};
	struct cli fc = *c;
	bool have_primary = false, have_fallback = false;
	int status;

	if (!c->ref) {
		ao.config = c->config ? c->config : skr_config_path();
		/* start-up settings (fallback, restart, pull, metrics) from the file as it is */
		if (from_config(&fc, cf, &scratch, fallback, pol, src, &err)) {
			printf(
			    "skrun: agent: warning: %s; starting without the file's fallback and "
			    "policies (the agent reports the desired state)\n",
			    err.msg);
			fc = *c;
			skr_target_free(fallback);
			memset(fallback, 0, sizeof(*fallback));
		}
		skr_target_free(&scratch);
	}
	apply_policy(pol, c);
	if (c->pull_given)
		src->pull = c->pull;
	if (sk_registry_cli_finish(&src->reg, c->ref ? c->ref : fc.ref) ||
	    (fc.fallback && sk_registry_cli_finish(&src->reg, fc.fallback)))
		return SK_EXIT_USAGE;
	snprintf(st.dir, sizeof(st.dir), "%s", skr_state_dir());
	if (skr_state_lock(&st, &err)) {
		sk_die_msg("run: %s", err.msg);
		return sk_cli_exit_status(err.code);
	}
	st.metrics.path = fc.metrics;
	src->lease = supervisor_lease(src->store);
	ao.ref = c->ref;
	ao.sets = &c->sets;
	ao.identity = c->identity;
	ao.poll_s = c->poll_s;
	ao.window_s = c->window_s;
	ao.pull_given = c->pull_given;
	ao.state_dir = st.dir;
	ao.metrics = &st.metrics;
	if (skr_agent_new(&ao, &agent, &err)) {
		sk_die_msg("run: %s", err.msg);
		status = sk_cli_exit_status(err.code);
		goto out;
	}
	if (skr_agent_committed(agent, primary)) {
		char ref[sizeof(primary->ref)], digest[SK_DIGEST_MAX];

		snprintf(ref, sizeof(ref), "%s", primary->ref);
		snprintf(digest, sizeof(digest), "%s", primary->digest);
		primary->ops_name = c->ops;
		/* it was verified when it was committed; by digest from the root-owned store */
		if (!sk_store_lease_add(src->lease, digest, &err) &&
		    !skr_prepare_stored(ref, digest, src, primary, &err)) {
			have_primary = true;
			printf("skrun: agent: starting with what this node committed: %s (%s)\n",
			       ref, digest);
		} else {
			printf("skrun: agent: warning: the committed %s (%s) cannot run: %s\n", ref,
			       digest, err.msg);
		}
	}
	if (fc.fallback) {
		if (prepare(fc.fallback, fc.fallback_identity, src, fallback, &err))
			printf("skrun: agent: warning: fallback %s: %s; running without one\n",
			       fc.fallback, err.msg);
		else
			have_fallback = true;
	}
	fflush(stdout);
	/* a switch names its own identity */
	src->identity = NULL;
	status = skr_supervise(&st, have_primary ? primary : NULL, have_fallback ? fallback : NULL,
			       pol, src, agent);
out:
	skr_agent_free(agent);
	skr_state_unlock(&st);
	return status;
}

static int parse(int argc, char **argv, struct cli *c, struct skr_source_opts *src,
		 struct sk_error *err)
{
	static const struct option longopts[] = {
	    {"fallback", required_argument, NULL, 'f'},
	    {"restart", required_argument, NULL, 'r'},
	    {"backoff-ms", required_argument, NULL, 'b'},
	    {"backoff-max-ms", required_argument, NULL, 'B'},
	    {"max-restarts", required_argument, NULL, 'm'},
	    {"restart-window", required_argument, NULL, 'w'},
	    {"set", required_argument, NULL, 's'},
	    {"ops", required_argument, NULL, 'o'},
	    {"store", required_argument, NULL, 'S'},
	    {"policy", required_argument, NULL, 'p'},
	    {"key", required_argument, NULL, 'k'},
	    {"insecure-skip-verify", no_argument, NULL, 'I'},
	    {"identity", required_argument, NULL, 'N'},
	    {"fallback-identity", required_argument, NULL, 'F'},
	    {"pull", required_argument, NULL, 'P'},
	    {"config", required_argument, NULL, 'C'},
	    {"mode", required_argument, NULL, 'M'},
	    {"metrics-file", required_argument, NULL, 'X'},
	    {"follow", no_argument, NULL, 'W'},
	    {"poll-interval", required_argument, NULL, 'i'},
	    {"health-window", required_argument, NULL, 'H'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = sk_cli_getopt(argc, argv, "h", longopts)) != -1) {
		if (sk_registry_cli_opt(&src->reg, opt, optarg))
			continue;
		switch (opt) {
		case 'f':
			c->fallback = optarg;
			break;
		case 'r':
			c->pol_given |= 1;
			if (!strcmp(optarg, "on-failure"))
				c->pol.restart = SKR_RESTART_ON_FAILURE;
			else if (!strcmp(optarg, "always"))
				c->pol.restart = SKR_RESTART_ALWAYS;
			else if (!strcmp(optarg, "never"))
				c->pol.restart = SKR_RESTART_NEVER;
			else
				return sk_errf(err, -EINVAL,
					       "--restart %s: use on-failure, always or never",
					       optarg);
			break;
		case 'b':
		case 'B':
		case 'm':
		case 'w': {
			int *dst = opt == 'b'	? &c->pol.backoff_ms
				   : opt == 'B' ? &c->pol.backoff_max_ms
				   : opt == 'm' ? &c->pol.max_restarts
						: &c->pol.window_s;

			c->pol_given |= opt == 'b' ? 2 : opt == 'B' ? 4 : opt == 'm' ? 8 : 16;
			if (parse_int(optarg, opt == 'm' ? 0 : 1, dst))
				return sk_errf(err, -EINVAL, "'%s' is not a valid number here",
					       optarg);
			break;
		}
		case 's':
			if (skr_sets_put(&c->sets, optarg))
				return sk_errf(err, -ENOMEM, "out of memory");
			break;
		case 'o':
			c->ops = optarg;
			break;
		case 'S':
			src->store = optarg;
			break;
		case 'p':
			src->policy = optarg;
			break;
		case 'k':
			if (sk_strv_push(&src->keys, optarg))
				return sk_errf(err, -ENOMEM, "out of memory");
			break;
		case 'I':
			src->insecure_skip_verify = true;
			break;
		case 'N':
			c->identity = optarg;
			break;
		case 'F':
			c->fallback_identity = optarg;
			break;
		case 'P':
			if (sk_pull_policy_parse(optarg, &c->pull))
				return sk_errf(err, -EINVAL,
					       "--pull %s: use always, missing or never", optarg);
			c->pull_given = true;
			break;
		case 'C':
			c->config = optarg;
			break;
		case 'M':
			c->mode = optarg;
			break;
		case 'X':
			c->metrics = optarg;
			break;
		case 'W':
			c->follow = true;
			break;
		case 'i':
		case 'H':
			if (parse_int(optarg, opt == 'i' ? 1 : 0,
				      opt == 'i' ? &c->poll_s : &c->window_s))
				return sk_errf(err, -EINVAL, "--%s %s: a whole number of seconds%s",
					       opt == 'i' ? "poll-interval" : "health-window",
					       optarg, opt == 'i' ? " from 1" : "");
			break;
		default: /* -h/--help, or a usage error */
			return opt == 'h' ? 1 : -EINVAL;
		}
	}
	if (optind < argc - 1)
		return sk_errf(err, -EINVAL, "one REF at most (got '%s' and '%s')", argv[optind],
			       argv[optind + 1]);
	if (optind == argc - 1)
		c->ref = argv[optind];
	if (!c->follow && (c->poll_s >= 0 || c->window_s >= 0))
		return sk_errf(err, -EINVAL,
			       "--poll-interval and --health-window go with --follow (the node "
			       "agent)");
	if (c->follow && !c->ref && (c->mode || c->sets.n || c->identity))
		return sk_errf(err, -EINVAL,
			       "--mode, --set and --identity with --follow and no REF: the desired "
			       "state file names them; put them there");
	if (c->ref && (c->mode || c->config))
		return sk_errf(err, -EINVAL,
			       "--mode and --config go with the configured scheduler: leave out "
			       "REF, or pass its tunables with --set");
	if (c->fallback_identity && !c->fallback && c->ref)
		return sk_errf(err, -EINVAL, "--fallback-identity without --fallback");
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct skr_policy pol = {
	    .restart = SKR_RESTART_ON_FAILURE,
	    .backoff_ms = 1000,
	    .backoff_max_ms = 30000,
	    .max_restarts = 5,
	    .window_s = 300,
	};
	struct skr_source_opts src = {0};
	struct skr_target primary = {0}, fallback = {0};
	struct skr_state st = {.lock_fd = -1};
	struct skr_config cf = {0};
	struct sk_error err = {0};
	struct cli c = {.poll_s = -1, .window_s = -1};
	int ret, status = SK_EXIT_FAILURE;

	/* run and the switches it makes: this kernel judges the config before the download */
	src.check_first = true;
	ret = parse(argc, argv, &c, &src, &err);
	if (ret) {
		if (ret < 0 && err.msg[0])
			sk_die_msg("run: %s", err.msg);
		status = ret > 0 ? SK_EXIT_OK : SK_EXIT_USAGE;
		if (ret > 0 || !err.msg[0])
			sk_cli_usage(usage, ret > 0);
		goto out;
	}
	if (c.follow) {
		status = run_agent(&c, &cf, &primary, &fallback, &pol, &src);
		goto out;
	}
	if (!c.ref) {
		if (from_config(&c, &cf, &primary, &fallback, &pol, &src, &err)) {
			status = sk_cli_exit_status(err.code);
			skr_state_record_failure(c.config ? c.config : skr_config_path(), err.msg);
			goto fail;
		}
		printf("skrun: %s: scheduler '%s'%s%s%s%s\n", cf.path, primary.scheduler,
		       primary.mode[0] ? ", mode " : "", primary.mode,
		       fallback.scheduler[0] ? ", fallback " : "", fallback.scheduler);
		fflush(stdout);
	}
	apply_policy(&pol, &c);
	if (c.pull_given)
		src.pull = c.pull;
	/* --insecure names the hosts of both references */
	if (sk_registry_cli_finish(&src.reg, c.ref) ||
	    (c.fallback && sk_registry_cli_finish(&src.reg, c.fallback))) {
		status = SK_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < c.sets.n; i++)
		if (skr_sets_put(&primary.sets, c.sets.v[i])) {
			sk_errf(&err, -ENOMEM, "out of memory");
			goto fail;
		}
	primary.ops_name = c.ops;
	src.lease = supervisor_lease(src.store);
	if (prepare(c.ref, c.identity, &src, &primary, &err))
		goto failed_start;
	if (c.fallback && prepare(c.fallback, c.fallback_identity, &src, &fallback, &err)) {
		sk_err_prefix(&err, "fallback %s: ", c.fallback);
		goto failed_start;
	}
	snprintf(st.dir, sizeof(st.dir), "%s", skr_state_dir());
	if (skr_state_lock(&st, &err))
		goto failed_start; /* a live supervisor's record is left as it is */
	/* a switch names its own identity; this one belongs to REF */
	src.identity = NULL;
	st.metrics.path = c.metrics;
	status = skr_supervise(&st, &primary, c.fallback ? &fallback : NULL, &pol, &src, NULL);
	skr_state_unlock(&st);
	goto out;
failed_start:
	status = sk_cli_exit_status(err.code);
	skr_state_record_failure(c.ref, err.msg);
fail:
	sk_die_msg("run: %s", err.msg);
out:
	sk_store_lease_release(src.lease);
	skr_target_free(&primary);
	skr_target_free(&fallback);
	skr_config_free(&cf);
	sk_strv_free(&c.sets);
	sk_strv_free(&src.keys);
	sk_registry_cli_free(&src.reg);
	return status;
}
