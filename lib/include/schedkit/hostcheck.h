/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Can this scheduler run on this host? And is this host fit to run schedulers?
 *
 * sk_host_check() tests an artifact's recorded requirements (its config JSON,
 * docs/config.schema.json) against a kernel's own BTF: features decide, the
 * release number only informs, because distributions backport. It is what
 * `skrun check` prints and what `skrun run` calls before loading anything.
 *
 * sk_doctor_run() checks the host itself (kernel, BTF, sched_ext, kernel
 * config, capabilities, bpf(2), store, policy, clock) under stable check IDs.
 */
#ifndef SCHEDKIT_HOSTCHECK_H
#define SCHEDKIT_HOSTCHECK_H

#include <stdio.h>

#include <json-c/json.h>

#include "schedkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- artifact vs kernel ---- */

enum sk_verdict {
	SK_VERDICT_OK,
	SK_VERDICT_INFO,    /* reported, never decisive (optional kfunc missing, unknown release) */
	SK_VERDICT_WARNING, /* runs, but worth knowing (release below minKernel, features present)
			     */
	SK_VERDICT_MISSING, /* the kernel lacks it: the scheduler cannot load or attach here */
};

struct sk_check_row {
	char *kind;	   /* "kernel", "release", "kfunc", "optional kfunc", "callback", "member",
			      "flag", "ops" */
	char *requirement; /* "sched_ext", ">= 6.13", "scx_bpf_dsq_insert", "SCX_OPS_ENQ_LAST" */
	char *host;	   /* what this kernel has, a sentence for non-ok rows */
	enum sk_verdict verdict;
};

struct sk_check_report {
	char *release; /* kernel release checked against; "" when not known */
	char *btf;     /* the BTF file read */
	struct sk_check_row *rows;
	size_t nr_rows;
	struct json_object *tunables; /* the config's "tunables" array (owned reference) */
};

/*
 * Tests config's requirements against the BTF at btf_path (a raw BTF file or a
 * vmlinux ELF; NULL: /sys/kernel/btf/vmlinux). release is the kernel release to
 * compare with requirements.minKernel/kernelBefore (NULL: uname -r; "": not
 * known, reported as info). Fails (negative errno) only when the check itself
 * cannot be made (no BTF, a config without requirements); a kernel that lacks
 * something is a report with MISSING rows.
 */
int sk_host_check(struct json_object *config, const char *btf_path, const char *release,
		  struct sk_check_report **out, struct sk_error *err);
/* True when no row is MISSING. */
bool sk_check_report_ok(const struct sk_check_report *r);
/*
 * 0 when the report is ok; otherwise -ENOTSUP with err saying every missing
 * requirement, e.g. "kfunc scx_bpf_foo: not in this kernel (needed; the
 * scheduler cannot load here)".
 */
int sk_check_report_error(const struct sk_check_report *r, struct sk_error *err);
/* The table (requirement, host, verdict), a result line and the tunables. */
void sk_check_report_print(const struct sk_check_report *r, FILE *f);
/*
 * {"ok":bool,"kernel":{"release":..,"btf":..},"checks":[{"requirement","kind",
 * "host","verdict"}],"tunables":[...]} (release null when not known, tunables
 * as in the config); NULL on allocation failure.
 */
struct json_object *sk_check_report_to_json(const struct sk_check_report *r);
void sk_check_report_free(struct sk_check_report *r);
/* "ok", "info", "warning", "missing". */
const char *sk_verdict_str(enum sk_verdict v);

/* ---- host health (skrun doctor) ---- */

enum sk_doctor_status {
	SK_DOCTOR_OK,
	SK_DOCTOR_WARN,
	SK_DOCTOR_FAIL,
};

/* Every path may be NULL for the real one; tests point them at fake trees. */
struct sk_doctor_opts {
	const char *sysfs_root;	 /* "/sys": sched_ext state under SYSFS/kernel/sched_ext */
	const char *proc_root;	 /* "/proc": config.gz, self/status */
	const char *boot_dir;	 /* "/boot": config-RELEASE */
	const char *btf_path;	 /* NULL: SYSFS/kernel/btf/vmlinux */
	const char *release;	 /* NULL: uname -r */
	const char *store_dir;	 /* NULL: /var/lib/schedkit */
	const char *policy_path; /* NULL: /etc/schedkit/policy.json */
	int64_t now;		 /* seconds since the epoch; 0: the realtime clock */
};

struct sk_doctor_check {
	const char *id; /* stable: "kernel.release", "kernel.btf", ... (static string) */
	enum sk_doctor_status status;
	char *detail; /* what was found */
	char *hint;   /* how to fix it; NULL when ok */
};

struct sk_doctor_report {
	struct sk_doctor_check *checks; /* in a fixed order */
	size_t nr_checks;
};

/* Runs every check; fails only on allocation failure (every problem is a check result). */
int sk_doctor_run(const struct sk_doctor_opts *opts, struct sk_doctor_report **out,
		  struct sk_error *err);
/* True when no check is FAIL. */
bool sk_doctor_ok(const struct sk_doctor_report *r);
void sk_doctor_print(const struct sk_doctor_report *r, FILE *f);
/* {"ok":bool,"checks":[{"id","status","detail","hint"}]}; NULL on allocation failure. */
struct json_object *sk_doctor_to_json(const struct sk_doctor_report *r);
void sk_doctor_report_free(struct sk_doctor_report *r);
/* "ok", "warn", "fail". */
const char *sk_doctor_status_str(enum sk_doctor_status s);

#ifdef __cplusplus
}
#endif
#endif
