/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun.json: the default scheduler, its fallback, the restart and pull
 * policies, and named modes (tunable presets per scheduler, as scx_loader's
 * gaming/power-save/low-latency/server). JSON, next to policy.json, read as
 * strictly as the policy: an unknown field is an error that names the field
 * meant, never a setting silently ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skrun.h"

#define CONFIG_MAX   (256u << 10)
#define MODE_DEFAULT "default"

static const char *const top_fields[] = {"$schema",  "version", "scheduler", "mode",
					 "fallback", "pull",	"restart",   "schedulers",
					 "metrics",  "follow",	"health",    NULL};
static const char *const sched_fields[] = {"ref", "identity", "set", "modes", NULL};
static const char *const follow_fields[] = {"pollS", NULL};
static const char *const health_fields[] = {"windowS", NULL};
static const char *const restart_fields[] = {"policy",	    "backoffMs", "backoffMaxMs",
					     "maxRestarts", "windowS",	 NULL};

const char *skr_config_path(void)
{
	const char *env = getenv(SKRUN_CONFIG_ENV);

	return env && *env ? env : SKRUN_CONFIG_DEFAULT;
}

static size_t count(const char *const *v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

/* Refuses fields outside allowed, naming the one most like it. */
static int only(struct json_object *o, const char *const *allowed, const char *path,
		const char *where, struct sk_error *err)
{
	json_object_object_foreach(o, key, val)
	{
		const char *near;
		bool ok = false;

		(void)val;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || !strcmp(key, *a);
		if (ok)
			continue;
		near = sk_suggest(key, allowed, count(allowed));
		return sk_errf(err, -EINVAL, "%s: %s%sunknown field \"%s\"%s%s%s", path, where,
			       *where ? ": " : "", key, near ? " (did you mean \"" : "",
			       near ? near : "", near ? "\"?)" : "");
	}
	return 0;
}

static int str_field(struct json_object *o, const char *key, char **out, const char *path,
		     const char *where, struct sk_error *err)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
		return sk_errf(err, -EINVAL, "%s: %s%s\"%s\" must be a non-empty string", path,
			       where, *where ? ": " : "", key);
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : sk_errf(err, -ENOMEM, "out of memory");
}

int skr_sets_put(struct sk_strv *sets, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);

	for (size_t i = 0; i < sets->n; i++) {
		if (!strncmp(sets->v[i], kv, klen) && sets->v[i][klen] == '=') {
			char *copy = strdup(kv);

			if (!copy)
				return -ENOMEM;
			free(sets->v[i]);
			sets->v[i] = copy;
			return 0;
		}
	}
	return sk_strv_push(sets, kv);
}

/* {"NAME": value}: strings, whole numbers and booleans, as --set NAME=VALUE takes them. */
static int read_sets(struct json_object *o, struct sk_strv *out, const char *path,
		     const char *where, struct sk_error *err)
{
	if (!json_object_is_type(o, json_type_object))
		return sk_errf(
		    err, -EINVAL,
		    "%s: %s: must be an object of tunables, e.g. {\"slice_ns\": 5000000}", path,
		    where);
	json_object_object_foreach(o, name, val)
	{
		char kv[600];

		if (!*name || strchr(name, '=') || strchr(name, '\t') || strchr(name, '\n'))
			return sk_errf(err, -EINVAL, "%s: %s: \"%s\" is not a tunable name", path,
				       where, name);
		if (json_object_is_type(val, json_type_string))
			snprintf(kv, sizeof(kv), "%s=%s", name, json_object_get_string(val));
		else if (json_object_is_type(val, json_type_int))
			snprintf(kv, sizeof(kv), "%s=%s", name, json_object_to_json_string(val));
		else if (json_object_is_type(val, json_type_boolean))
			snprintf(kv, sizeof(kv), "%s=%s", name,
				 json_object_get_boolean(val) ? "true" : "false");
		else
			return sk_errf(
			    err, -EINVAL,
			    "%s: %s: tunable \"%s\" must be a string, a whole number or a "
			    "boolean",
			    path, where, name);
		if (strchr(kv, '\t') || strchr(kv, '\n'))
			return sk_errf(err, -EINVAL,
				       "%s: %s: tunable \"%s\" holds a tab or newline", path, where,
				       name);
		if (skr_sets_put(out, kv))
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static int read_sched(struct skr_sched_conf *s, const char *name, struct json_object *o,
		      const char *path, struct sk_error *err)
{
	struct json_object *v;
	char where[300];
	int ret;

	snprintf(where, sizeof(where), "schedulers.%s", name);
	s->name = strdup(name);
	if (!s->name)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!*name || strchr(name, '\t') || strchr(name, '\n'))
		return sk_errf(err, -EINVAL, "%s: \"%s\" is not a scheduler name", path, name);
	if (!json_object_is_type(o, json_type_object))
		return sk_errf(err, -EINVAL,
			       "%s: %s: must be an object, e.g. {\"ref\": "
			       "\"registry.example.com/scheds/vtime:1.0.0\"}",
			       path, where);
	ret = only(o, sched_fields, path, where, err);
	if (!ret)
		ret = str_field(o, "ref", &s->ref, path, where, err);
	if (!ret && !s->ref)
		ret =
		    sk_errf(err, -EINVAL, "%s: %s: \"ref\" (what to run) is required", path, where);
	if (!ret)
		ret = str_field(o, "identity", &s->identity, path, where, err);
	if (!ret && json_object_object_get_ex(o, "set", &v)) {
		char w[320];

		snprintf(w, sizeof(w), "%s.set", where);
		ret = read_sets(v, &s->sets, path, w, err);
	}
	if (ret || !json_object_object_get_ex(o, "modes", &v))
		return ret;
	if (!json_object_is_type(v, json_type_object))
		return sk_errf(err, -EINVAL,
			       "%s: %s.modes: must be an object of modes, e.g. {\"gaming\": "
			       "{\"slice_ns\": 1000000}}",
			       path, where);
	s->modes = calloc(json_object_object_length(v) + 1, sizeof(*s->modes));
	if (!s->modes)
		return sk_errf(err, -ENOMEM, "out of memory");
	json_object_object_foreach(v, mname, mobj)
	{
		struct skr_mode *m = &s->modes[s->nmodes++];
		char w[400];

		m->name = strdup(mname);
		if (!m->name)
			return sk_errf(err, -ENOMEM, "out of memory");
		if (!*mname || !strcmp(mname, MODE_DEFAULT) || strchr(mname, '\t') ||
		    strchr(mname, '\n'))
			return sk_errf(err, -EINVAL,
				       "%s: %s.modes: \"%s\" cannot name a mode (\"" MODE_DEFAULT
				       "\" is the scheduler's own tunables)",
				       path, where, mname);
		snprintf(w, sizeof(w), "%s.modes.%s", where, mname);
		ret = read_sets(mobj, &m->sets, path, w, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int read_int_in(struct json_object *o, const char *where, const char *key, int min, int *out,
		       const char *path, struct sk_error *err)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < min || n > 1000000000)
		return sk_errf(err, -EINVAL, "%s: %s.%s: a whole number from %d is required", path,
			       where, key, min);
	*out = (int)n;
	return 0;
}

static int read_int(struct json_object *o, const char *key, int min, int *out, const char *path,
		    struct sk_error *err)
{
	return read_int_in(o, "restart", key, min, out, path, err);
}

/* "follow": {"pollS": N} and "health": {"windowS": N}: the node agent's (skrun run --follow). */
static int read_agent(struct skr_config *c, struct json_object *root, struct sk_error *err)
{
	struct json_object *v;
	int ret = 0;

	if (json_object_object_get_ex(root, "follow", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return sk_errf(err, -EINVAL,
				       "%s: \"follow\" must be an object, e.g. {\"pollS\": 60}",
				       c->path);
		ret = only(v, follow_fields, c->path, "follow", err);
		if (!ret)
			ret = read_int_in(v, "follow", "pollS", 1, &c->poll_s, c->path, err);
	}
	if (!ret && json_object_object_get_ex(root, "health", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return sk_errf(err, -EINVAL,
				       "%s: \"health\" must be an object, e.g. {\"windowS\": 30}",
				       c->path);
		ret = only(v, health_fields, c->path, "health", err);
		if (!ret)
			ret = read_int_in(v, "health", "windowS", 0, &c->window_s, c->path, err);
	}
	return ret;
}

static int read_restart(struct skr_config *c, struct json_object *o, struct sk_error *err)
{
	struct skr_policy *p = &c->restart;
	char *policy = NULL;
	int ret;

	if (!json_object_is_type(o, json_type_object))
		return sk_errf(
		    err, -EINVAL,
		    "%s: \"restart\" must be an object, e.g. {\"policy\": \"on-failure\"}",
		    c->path);
	ret = only(o, restart_fields, c->path, "restart", err);
	if (!ret)
		ret = str_field(o, "policy", &policy, c->path, "restart", err);
	if (!ret && policy) {
		if (!strcmp(policy, "on-failure"))
			p->restart = SKR_RESTART_ON_FAILURE;
		else if (!strcmp(policy, "always"))
			p->restart = SKR_RESTART_ALWAYS;
		else if (!strcmp(policy, "never"))
			p->restart = SKR_RESTART_NEVER;
		else
			ret = sk_errf(err, -EINVAL,
				      "%s: restart.policy \"%s\": use on-failure, always or never",
				      c->path, policy);
	}
	free(policy);
	if (!ret)
		ret = read_int(o, "backoffMs", 1, &p->backoff_ms, c->path, err);
	if (!ret)
		ret = read_int(o, "backoffMaxMs", 1, &p->backoff_max_ms, c->path, err);
	if (!ret)
		ret = read_int(o, "maxRestarts", 0, &p->max_restarts, c->path, err);
	if (!ret)
		ret = read_int(o, "windowS", 1, &p->window_s, c->path, err);
	c->has_restart = !ret;
	return ret;
}

static const char **sched_names(const struct skr_config *c)
{
	const char **v = calloc(c->nscheds + 1, sizeof(*v));

	for (size_t i = 0; v && i < c->nscheds; i++)
		v[i] = c->scheds[i].name;
	return v;
}

int skr_config_sched(const struct skr_config *c, const char *name,
		     const struct skr_sched_conf **out, struct sk_error *err)
{
	const char **names;
	const char *near;
	struct sk_strv list = {0};
	char *joined;
	int ret;

	for (size_t i = 0; c->scheds && i < c->nscheds; i++) {
		if (c->scheds[i].name && !strcmp(c->scheds[i].name, name)) {
			*out = &c->scheds[i];
			return 0;
		}
	}
	names = sched_names(c);
	if (!names)
		return sk_errf(err, -ENOMEM, "out of memory");
	near = sk_suggest(name, names, c->nscheds);
	for (size_t i = 0; i < c->nscheds; i++)
		sk_strv_push(&list, names[i]);
	joined = sk_strv_join(&list, ", ");
	ret = sk_errf(err, -ENOENT, "%s: no scheduler \"%s\"%s%s%s (it has: %s)", c->path, name,
		      near ? "; did you mean \"" : "", near ? near : "", near ? "\"?" : "",
		      joined && *joined ? joined : "none");
	free(joined);
	sk_strv_free(&list);
	free(names);
	return ret;
}

int skr_config_sets(const struct skr_sched_conf *s, const char *mode, struct sk_strv *out,
		    struct sk_error *err)
{
	const struct skr_mode *m = NULL;

	if (mode && strcmp(mode, MODE_DEFAULT)) {
		for (size_t i = 0; i < s->nmodes && !m; i++)
			if (!strcmp(s->modes[i].name, mode))
				m = &s->modes[i];
		if (!m) {
			const char **names = calloc(s->nmodes + 1, sizeof(*names));
			struct sk_strv list = {0};
			const char *near;
			char *joined;
			int ret;

			if (!names)
				return sk_errf(err, -ENOMEM, "out of memory");
			sk_strv_push(&list, MODE_DEFAULT);
			for (size_t i = 0; i < s->nmodes; i++) {
				names[i] = s->modes[i].name;
				sk_strv_push(&list, names[i]);
			}
			near = sk_suggest(mode, names, s->nmodes);
			joined = sk_strv_join(&list, ", ");
			ret = sk_errf(err, -ENOENT,
				      "scheduler \"%s\" has no mode \"%s\"%s%s%s (its modes: %s)",
				      s->name, mode, near ? "; did you mean \"" : "",
				      near ? near : "", near ? "\"?" : "", joined ? joined : "?");
			free(joined);
			sk_strv_free(&list);
			free(names);
			return ret;
		}
	}
	for (size_t i = 0; i < s->sets.n; i++)
		if (skr_sets_put(out, s->sets.v[i]))
			return sk_errf(err, -ENOMEM, "out of memory");
	for (size_t i = 0; m && i < m->sets.n; i++)
		if (skr_sets_put(out, m->sets.v[i]))
			return sk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

int skr_config_load(const char *path, struct skr_config *c, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = sk_read_file(path, CONFIG_MAX, &data, &len, err);
	if (ret)
		return sk_err_prefix(err, "skrun configuration: ");
	ret = skr_config_parse(path, data, len, c, err);
	free(data);
	return ret;
}

int skr_config_parse(const char *path, const uint8_t *data, size_t len, struct skr_config *c,
		     struct sk_error *err)
{
	struct json_object *root = NULL, *v;
	const struct skr_sched_conf *s;
	char *pull = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	c->poll_s = -1;
	c->window_s = -1;
	c->restart = (struct skr_policy){
	    .restart = SKR_RESTART_ON_FAILURE,
	    .backoff_ms = 1000,
	    .backoff_max_ms = 30000,
	    .max_restarts = 5,
	    .window_s = 300,
	};
	c->path = strdup(path);
	if (!c->path)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (len > CONFIG_MAX) {
		ret = sk_errf(err, -EFBIG, "%s: larger than %u bytes", path, CONFIG_MAX);
		goto out;
	}
	ret = sk_json_parse(data, len, path, &root, err);
	if (!ret)
		ret = only(root, top_fields, path, "", err);
	if (ret)
		goto out;
	if (!json_object_object_get_ex(root, "version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int(v) != 1) {
		ret = sk_errf(err, -EINVAL, "%s: \"version\": 1 is required", path);
		goto out;
	}
	if (!json_object_object_get_ex(root, "schedulers", &v) ||
	    !json_object_is_type(v, json_type_object) || !json_object_object_length(v)) {
		ret = sk_errf(err, -EINVAL,
			      "%s: \"schedulers\" (an object of named schedulers, each with a "
			      "\"ref\") is required",
			      path);
		goto out;
	}
	c->scheds = calloc(json_object_object_length(v) + 1, sizeof(*c->scheds));
	if (!c->scheds) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_foreach(v, sname, sobj)
	{
		ret = read_sched(&c->scheds[c->nscheds++], sname, sobj, path, err);
		if (ret)
			goto out;
	}
	ret = str_field(root, "scheduler", &c->scheduler, path, "", err);
	if (!ret && !c->scheduler)
		ret = sk_errf(err, -EINVAL,
			      "%s: \"scheduler\" (the name of the default) is required", path);
	if (!ret)
		ret = skr_config_sched(c, c->scheduler, &s, err);
	if (!ret)
		ret = str_field(root, "mode", &c->mode, path, "", err);
	if (!ret && c->mode) {
		struct sk_strv scratch = {0};

		ret = skr_config_sets(s, c->mode, &scratch, err);
		sk_strv_free(&scratch);
		if (ret)
			sk_err_prefix(err, "%s: \"mode\": ", path);
	}
	if (!ret)
		ret = str_field(root, "fallback", &c->fallback, path, "", err);
	if (!ret && c->fallback) {
		ret = skr_config_sched(c, c->fallback, &s, err);
		if (!ret && !strcmp(c->fallback, c->scheduler))
			ret = sk_errf(err, -EINVAL,
				      "%s: \"fallback\" names the default scheduler itself", path);
	}
	if (!ret)
		ret = str_field(root, "pull", &pull, path, "", err);
	if (!ret && pull) {
		c->has_pull = true;
		if (sk_pull_policy_parse(pull, &c->pull))
			ret = sk_errf(err, -EINVAL,
				      "%s: \"pull\": \"%s\": use always, missing or never", path,
				      pull);
	}
	if (!ret && json_object_object_get_ex(root, "restart", &v))
		ret = read_restart(c, v, err);
	if (!ret)
		ret = str_field(root, "metrics", &c->metrics, path, "", err);
	if (!ret)
		ret = read_agent(c, root, err);
out:
	free(pull);
	json_object_put(root);
	if (ret)
		skr_config_free(c);
	return ret;
}

void skr_config_free(struct skr_config *c)
{
	for (size_t i = 0; c->scheds && i < c->nscheds; i++) {
		struct skr_sched_conf *s = &c->scheds[i];

		free(s->name);
		free(s->ref);
		free(s->identity);
		sk_strv_free(&s->sets);
		for (size_t j = 0; j < s->nmodes; j++) {
			free(s->modes[j].name);
			sk_strv_free(&s->modes[j].sets);
		}
		free(s->modes);
	}
	free(c->scheds);
	free(c->path);
	free(c->scheduler);
	free(c->mode);
	free(c->fallback);
	free(c->metrics);
	memset(c, 0, sizeof(*c));
}
