/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the kernel's verifier said about a scheduler, for its author: the
 * statistics of a successful load (libbpf's log_level 4: instructions
 * processed, states), the whole log of a rejected one, and a one-line hint
 * for the rejections authors meet most (lib/kernel/hints.c).
 */
#ifndef SCHEDKIT_VERIFIER_H
#define SCHEDKIT_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include "schedkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* skrun writes the whole verifier log of a rejected load to this file when set. */
#define SK_VERIFIER_LOG_ENV "SKRUN_VERIFIER_LOG"

/* A one-line hint for a rejection's log (the kernel's and libbpf's words), or NULL. */
const char *sk_verifier_hint(const char *log);

/*
 * Where a load was rejected: appends the hint for log (if one matches) to
 * err's message, and writes the whole log to $SKRUN_VERIFIER_LOG when that
 * is set. The error's code is kept.
 */
void sk_verifier_explain(const char *log, struct sk_error *err);

/*
 * For an object libbpf would not even open: when its BTF shows an extern
 * function declared without __ksym, appends that (with the name) and the
 * hint to err's message.
 */
void sk_verifier_explain_object(const void *obj, size_t len, struct sk_error *err);

struct sk_verifier_prog {
	char name[64];
	long insns;	  /* instructions processed */
	long states;	  /* total_states */
	long peak_states; /* peak_states */
	long max_states_per_insn;
	long time_usec; /* verification time; -1: not reported */
};

struct sk_verifier_report {
	bool loaded;			/* the kernel accepted every program */
	char *log;			/* rejected: the whole verifier log (may be "") */
	char hint[320];			/* rejected: the one-line hint, or "" */
	struct sk_verifier_prog *progs; /* loaded: one per program, in object order */
	size_t nprogs;
};

/*
 * Loads the object's programs into the kernel (no attach) the way skrun does
 * (ops_name selects the sched_ext_ops map when there are several; NULL: the
 * only one), then unloads them. A rejection is not an error: it returns 0
 * with loaded false, the log and the hint. Also finds, before the kernel
 * does, kfuncs declared without __ksym and strong kfuncs this kernel's BTF
 * lacks. Errors: the object cannot be opened, out of memory.
 */
int sk_verifier_load(const void *obj, size_t len, const char *ops_name,
		     struct sk_verifier_report *r, struct sk_error *err);
void sk_verifier_report_free(struct sk_verifier_report *r);

#ifdef __cplusplus
}
#endif
#endif
