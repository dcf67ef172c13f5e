/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun check --load: what the verifier says, with statistics or the log and a
 * hint; for an artifact with load declarations, the load skrun run does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "load.h"
#include "schedkit/kernel.h"
#include "schedkit/verifier.h"

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

static char *stats_text(const struct sk_verifier_report *r)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < r->nprogs; i++) {
		const struct sk_verifier_prog *p = &r->progs[i];

		fprintf(f, "  %-28s %7ld insns processed, %5ld states (peak %ld, max %ld per insn)",
			p->name, p->insns, p->states, p->peak_states, p->max_states_per_insn);
		if (p->time_usec >= 0)
			fprintf(f, ", %ld us", p->time_usec);
		fputc('\n', f);
	}
	fclose(f);
	return s;
}

static struct json_object *report_json(const struct sk_verifier_report *r)
{
	struct json_object *j = json_object_new_object(), *progs = json_object_new_array();

	json_object_object_add(j, "loaded", json_object_new_boolean(r->loaded));
	for (size_t i = 0; i < r->nprogs; i++) {
		const struct sk_verifier_prog *p = &r->progs[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(p->name));
		json_object_object_add(o, "insnsProcessed", json_object_new_int64(p->insns));
		json_object_object_add(o, "totalStates", json_object_new_int64(p->states));
		json_object_object_add(o, "peakStates", json_object_new_int64(p->peak_states));
		json_object_object_add(o, "maxStatesPerInsn",
				       json_object_new_int64(p->max_states_per_insn));
		json_object_array_add(progs, o);
	}
	json_object_object_add(j, "programs", progs);
	json_object_object_add(j, "log",
			       r->loaded ? NULL : json_object_new_string(r->log ? r->log : ""));
	json_object_object_add(j, "hint", r->hint[0] ? json_object_new_string(r->hint) : NULL);
	return j;
}

/*
 * An artifact with load declarations is loaded as `skrun run` loads it (host
 * facts, sized maps, syscall programs): the bare load would fail where the
 * run succeeds (scx_pair's map of max_entries 0). The verdict and the reason
 * come from that load; statistics are not collected on this path.
 */
static int declared_load_check(const struct sk_artifact *a, const char *ops, const char *log_path,
			       FILE *out, struct json_object *json)
{
	struct sk_load_opts lo = {.ops_name = ops, .config = a->config};
	struct sk_sched *s = NULL;
	struct sk_error err = {0};
	bool ok = !sk_sched_load(a->object, a->object_len, &lo, &s, &err);
	int ret;

	sk_sched_close(s);
	if (log_path) {
		ret = write_text(log_path, ok ? "" : err.msg);
		if (ret)
			sk_die_msg("check --load: --verifier-log %s: %s", log_path, strerror(-ret));
	}
	if (out && ok)
		fprintf(out, "verifier: accepted, with the artifact's load declarations applied\n");
	else if (out)
		fprintf(out,
			"verifier: REJECTED, with the artifact's load declarations applied:\n%s\n",
			err.msg);
	if (json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "loaded", json_object_new_boolean(ok));
		json_object_object_add(j, "programs", json_object_new_array());
		json_object_object_add(j, "log", ok ? NULL : json_object_new_string(err.msg));
		json_object_object_add(j, "hint", NULL);
		json_object_object_add(json, "load", j);
	}
	return ok ? SK_EXIT_OK : SK_EXIT_KERNEL;
}

int skr_load_check(const struct sk_artifact *a, const char *ops, const char *log_path, FILE *out,
		   struct json_object *json)
{
	struct sk_verifier_report r;
	struct sk_error err = {0};
	char *stats = NULL;
	int ret;

	if (a->config && json_object_object_get_ex(a->config, "load", NULL))
		return declared_load_check(a, ops, log_path, out, json);
	ret = sk_verifier_load(a->object, a->object_len, ops, &r, &err);
	if (ret) {
		sk_die_msg("check --load: %s", err.msg);
		return sk_cli_exit_status(ret);
	}
	stats = r.loaded ? stats_text(&r) : NULL;
	if (log_path) {
		ret = write_text(log_path, r.loaded ? (stats ? stats : "") : (r.log ? r.log : ""));
		if (ret)
			sk_die_msg("check --load: --verifier-log %s: %s", log_path, strerror(-ret));
	}
	if (out && r.loaded) {
		fprintf(out, "verifier: accepted; statistics (log_level 4):\n%s",
			stats ? stats : "");
	} else if (out) {
		fprintf(out, "verifier: REJECTED; the whole log:\n%s", r.log ? r.log : "");
		if (r.log && r.log[0] && r.log[strlen(r.log) - 1] != '\n')
			fputc('\n', out);
		fprintf(out, "verifier: end of log\n");
		if (r.hint[0])
			fprintf(out, "hint: %s\n", r.hint);
	}
	if (json)
		json_object_object_add(json, "load", report_json(&r));
	ret = r.loaded ? SK_EXIT_OK : SK_EXIT_KERNEL;
	free(stats);
	sk_verifier_report_free(&r);
	return ret;
}
