/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * schedkit/scx.h: what a sched_ext scheduler written for schedkit includes.
 *
 * Usage (the build puts a vmlinux.h generated from a sched_ext kernel's BTF
 * on the include path, and -I<schedkit>/bpf):
 *
 *	#include <schedkit/vmlinux_wrap.h>  // or: #include "vmlinux.h"
 *	#include <schedkit/scx.h>
 *	#include <schedkit/exit_info.h>     // UEI_DEFINE / UEI_RECORD
 *
 * vmlinux_wrap.h is vmlinux.h with BPF_NO_KFUNC_PROTOTYPES defined first and
 * the 6.19+ -fms-extensions warnings silenced; a plain "vmlinux.h" works too.
 *
 * Compile with clang >= 16, -target bpf -mcpu=v3 -O2 -g.
 *
 * Written from the kernel's documented sched_ext interface
 * (Documentation/scheduler/sched-ext.rst and the kfunc signatures in the
 * kernel BTF). The design goal is that one object loads on every sched_ext
 * kernel from 6.12 to 7.x:
 *
 *  - kfuncs that exist under the same name since 6.12 are declared strong:
 *    an object that calls one needs it, and `skrun check` may treat it as a
 *    hard requirement.
 *  - kfuncs renamed in 6.13 (the 6.12 names were removed in 6.17) are
 *    declared __weak under both names, and the new name is redirected to a
 *    wrapper that calls whichever one the running kernel has. libbpf resolves
 *    a missing __weak kfunc to 0 and the verifier drops the dead branch.
 *  - kfuncs added after 6.12 are __weak; test them with bpf_ksym_exists().
 *
 * Why BPF_NO_KFUNC_PROTOTYPES: bpftool >= 7.5 appends an
 * `extern ... __weak __ksym` prototype for every kfunc of the kernel to
 * vmlinux.h. The weak attribute sticks to a symbol once any declaration has
 * it, so without the define every kfunc a scheduler calls ends up STB_WEAK in
 * the object and the strong/weak split above is lost (the object still loads;
 * only its requirement list becomes less precise). Our declarations repeat
 * the kernel's prototypes exactly, so both ways compile.
 */
#ifndef SCHEDKIT_SCX_H
#define SCHEDKIT_SCX_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/*
 * Callback definition: `s32 BPF_STRUCT_OPS(my_select_cpu, struct task_struct
 * *p, s32 prev_cpu, u64 wake_flags) { ... }`. struct_ops programs get their
 * arguments as an array of u64 in ctx; BPF_PROG unpacks them into typed
 * parameters, and the section name tells libbpf it is a struct_ops program.
 */
#define BPF_STRUCT_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)

/*
 * Same for callbacks the kernel runs in sleepable context (ops.init,
 * ops.init_task, ops.cgroup_init, ...). scx_bpf_create_dsq() is a sleepable
 * kfunc on 6.12, so an ops.init that creates DSQs must use this one.
 */
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

/*
 * Enum values as the *running* kernel defines them. Most SCX_* constants
 * (SCX_DSQ_*, SCX_SLICE_*, SCX_KICK_*, SCX_EXIT_*, SCX_ECODE_*) come straight
 * from vmlinux.h and are ABI-stable, so use them directly. The low 32 bits of
 * SCX_ENQ_* mirror the core scheduler's ENQUEUE_* flags and were renumbered
 * after 6.12 (SCX_ENQ_HEAD is 1<<4 on 6.12, 1<<16 on 7.2): to test or set
 * such a flag portably, write SCX_ENUM(scx_enq_flags, SCX_ENQ_HEAD); libbpf
 * relocates the value against the kernel BTF at load time (CO-RE).
 */
#define SCX_ENUM(type, name) bpf_core_enum_value(enum type, name)

/* --- kfuncs present under the same name since 6.12: strong --------------- */

extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
extern void scx_bpf_destroy_dsq(u64 dsq_id) __ksym;
extern s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				  bool *is_idle) __ksym;
extern void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
extern u32 scx_bpf_dispatch_nr_slots(void) __ksym;
extern void scx_bpf_dispatch_cancel(void) __ksym;
extern u32 scx_bpf_reenqueue_local(void) __ksym;
extern void scx_bpf_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data,
			      u32 data__sz) __ksym;
extern void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;
extern void scx_bpf_dump_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;
extern u32 scx_bpf_cpuperf_cap(s32 cpu) __ksym;
extern u32 scx_bpf_cpuperf_cur(s32 cpu) __ksym;
extern void scx_bpf_cpuperf_set(s32 cpu, u32 perf) __ksym;
extern u32 scx_bpf_nr_cpu_ids(void) __ksym;
extern const struct cpumask *scx_bpf_get_possible_cpumask(void) __ksym;
extern const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym;
extern void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym;
extern const struct cpumask *scx_bpf_get_idle_cpumask(void) __ksym;
extern const struct cpumask *scx_bpf_get_idle_smtmask(void) __ksym;
extern void scx_bpf_put_idle_cpumask(const struct cpumask *idle_mask) __ksym;
extern bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) __ksym;
extern s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym;
extern s32 scx_bpf_pick_any_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym;
extern bool scx_bpf_task_running(const struct task_struct *p) __ksym;
extern s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;
extern struct cgroup *scx_bpf_task_cgroup(struct task_struct *p) __ksym;
extern int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq *it, u64 dsq_id, u64 flags) __ksym;
extern struct task_struct *bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq *it) __ksym;
extern void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq *it) __ksym;

/* Generic cpumask kfuncs (since 6.3) that schedulers commonly need. */
extern bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
extern u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym;
extern u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;
extern bool bpf_cpumask_empty(const struct cpumask *cpumask) __ksym;

/* --- kfuncs added after 6.12: weak, check with bpf_ksym_exists() --------- */

extern u64 scx_bpf_now(void) __ksym __weak;	    /* 6.14 */
extern u32 scx_bpf_nr_node_ids(void) __ksym __weak; /* 6.15 */
extern s32 scx_bpf_cpu_node(s32 cpu) __ksym __weak; /* 6.15 */
extern s32 scx_bpf_select_cpu_and(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				  const struct cpumask *cpus_allowed,
				  u64 flags) __ksym __weak;				/* 6.16 */
extern struct task_struct *scx_bpf_cpu_curr(s32 cpu) __ksym __weak;			/* 6.18 */
extern struct task_struct *scx_bpf_dsq_peek(u64 dsq_id) __ksym __weak;			/* 6.19 */
extern bool scx_bpf_task_set_slice(struct task_struct *p, u64 slice) __ksym __weak;	/* 6.19 */
extern bool scx_bpf_task_set_dsq_vtime(struct task_struct *p, u64 vtime) __ksym __weak; /* 6.19 */

/*
 * --- a kfunc that one kernel cannot call: a weak flavor ------------------
 *
 * Debian's 7.1.13 declares scx_bpf_create_dsq (and the other kfuncs whose
 * last parameter is an implicit `const struct bpf_prog_aux *aux`) with three
 * parameters, and its BTF lacks the scx_bpf_create_dsq_impl that its verifier
 * looks up to call it ("cannot find function scx_bpf_create_dsq_impl in
 * BTF"): no program can create a DSQ there, whatever it declares. 6.12..7.0
 * and 7.2+ take two parameters (7.2 moved the third into the _impl).
 *
 * scx_bpf_create_dsq() is strong: a scheduler that needs its own DSQ (vtime
 * ordering, say) needs it, and `skrun check` refuses 7.1 for it. A scheduler
 * that can do without one tests sk_can_create_dsq() and uses a built-in DSQ
 * (SCX_DSQ_GLOBAL) otherwise: scx_bpf_create_dsq___sk is the same kfunc
 * under a weak flavor name (libbpf looks it up by the name before the last
 * "___"), which libbpf leaves unresolved on 7.1 because the parameter counts
 * differ, so the verifier drops the dead call.
 */
extern s32 scx_bpf_create_dsq___sk(u64 dsq_id, s32 node) __ksym __weak;
#define sk_can_create_dsq() bpf_ksym_exists(scx_bpf_create_dsq___sk)

/* --- kfuncs renamed in 6.13: both names weak ----------------------------- */

extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
			       u64 enq_flags) __ksym __weak;
extern void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice,
			     u64 enq_flags) __ksym __weak;
extern void scx_bpf_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				     u64 enq_flags) __ksym __weak;
extern void scx_bpf_dispatch_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				   u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym __weak;
extern bool scx_bpf_consume(u64 dsq_id) __ksym __weak;
extern bool scx_bpf_dsq_move(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id,
			     u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dispatch_from_dsq(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				      u64 dsq_id, u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dsq_move_vtime(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				   u64 dsq_id, u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dispatch_vtime_from_dsq(struct bpf_iter_scx_dsq *it__iter,
					    struct task_struct *p, u64 dsq_id,
					    u64 enq_flags) __ksym __weak;
extern void scx_bpf_dsq_move_set_slice(struct bpf_iter_scx_dsq *it__iter, u64 slice) __ksym __weak;
extern void scx_bpf_dispatch_from_dsq_set_slice(struct bpf_iter_scx_dsq *it__iter,
						u64 slice) __ksym __weak;
extern void scx_bpf_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it__iter, u64 vtime) __ksym __weak;
extern void scx_bpf_dispatch_from_dsq_set_vtime(struct bpf_iter_scx_dsq *it__iter,
						u64 vtime) __ksym __weak;

/*
 * The wrappers below pick the 6.13+ name when the kernel has it and the 6.12
 * name otherwise. They are static __always_inline so that bpf_ksym_exists()
 * stays a load-time constant in each caller and the verifier prunes the
 * branch whose kfunc libbpf resolved to 0. After the wrappers, a
 * function-like macro of the new name routes ordinary calls
 * (`scx_bpf_dsq_insert(p, ...)`) through them, so schedulers are written
 * against the current API and still load on 6.12. The macro does not apply
 * to the bare name, so bpf_ksym_exists(scx_bpf_dsq_insert) still works.
 */
static __always_inline void sk_compat_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
						 u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch(p, dsq_id, slice, enq_flags);
}

static __always_inline void sk_compat_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice,
						       u64 vtime, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime))
		scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags);
	else
		scx_bpf_dispatch_vtime(p, dsq_id, slice, vtime, enq_flags);
}

static __always_inline bool sk_compat_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume(dsq_id);
}

static __always_inline bool sk_compat_dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					       u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move))
		return scx_bpf_dsq_move(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_from_dsq(it, p, dsq_id, enq_flags);
}

static __always_inline bool sk_compat_dsq_move_vtime(struct bpf_iter_scx_dsq *it,
						     struct task_struct *p, u64 dsq_id,
						     u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_vtime))
		return scx_bpf_dsq_move_vtime(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_vtime_from_dsq(it, p, dsq_id, enq_flags);
}

static __always_inline void sk_compat_dsq_move_set_slice(struct bpf_iter_scx_dsq *it, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_set_slice))
		scx_bpf_dsq_move_set_slice(it, slice);
	else
		scx_bpf_dispatch_from_dsq_set_slice(it, slice);
}

static __always_inline void sk_compat_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_set_vtime))
		scx_bpf_dsq_move_set_vtime(it, vtime);
	else
		scx_bpf_dispatch_from_dsq_set_vtime(it, vtime);
}

/* Creates a DSQ when sk_can_create_dsq(); -ENOSYS (never reached after that test) if not. */
static __always_inline s32 sk_create_dsq(u64 dsq_id, s32 node)
{
	if (bpf_ksym_exists(scx_bpf_create_dsq___sk))
		return scx_bpf_create_dsq___sk(dsq_id, node);
	return -38; /* -ENOSYS */
}

/*
 * scx_bpf_now() (6.14) is the rq clock, cheaper than bpf_ktime_get_ns() and
 * consistent with the kernel's own accounting; before 6.14 the monotonic
 * clock is the closest substitute.
 */
static __always_inline u64 sk_compat_now(void)
{
	if (bpf_ksym_exists(scx_bpf_now))
		return scx_bpf_now();
	return bpf_ktime_get_ns();
}

/*
 * Setting a task's slice or virtual time. Up to 6.18 the only way is to
 * write p->scx.slice / p->scx.dsq_vtime directly; 6.19 added kfuncs and
 * from then on the kernel logs "Writing directly to p->scx.slice/dsq_vtime
 * is deprecated" when it verifies such a store. With the kfunc present the
 * store is dead code, which the verifier skips, so the warning goes away.
 */
static __always_inline void sk_task_set_dsq_vtime(struct task_struct *p, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_task_set_dsq_vtime))
		scx_bpf_task_set_dsq_vtime(p, vtime);
	else
		p->scx.dsq_vtime = vtime;
}

static __always_inline void sk_task_set_slice(struct task_struct *p, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_task_set_slice))
		scx_bpf_task_set_slice(p, slice);
	else
		p->scx.slice = slice;
}

#define scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags)                                            \
	sk_compat_dsq_insert(p, dsq_id, slice, enq_flags)
#define scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags)                               \
	sk_compat_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags)
#define scx_bpf_dsq_move_to_local(dsq_id)	   sk_compat_dsq_move_to_local(dsq_id)
#define scx_bpf_dsq_move(it, p, dsq_id, enq_flags) sk_compat_dsq_move(it, p, dsq_id, enq_flags)
#define scx_bpf_dsq_move_vtime(it, p, dsq_id, enq_flags)                                           \
	sk_compat_dsq_move_vtime(it, p, dsq_id, enq_flags)
#define scx_bpf_dsq_move_set_slice(it, slice) sk_compat_dsq_move_set_slice(it, slice)
#define scx_bpf_dsq_move_set_vtime(it, vtime) sk_compat_dsq_move_set_vtime(it, vtime)
#define scx_bpf_now()			      sk_compat_now()

/*
 * printf-style front ends for the *_bstr kfuncs, which take a format string
 * and the arguments packed into a u64 array (the same convention as
 * bpf_snprintf). The format lives in a writable static (.data), not .rodata:
 * the kfunc's `char *fmt` parameter is checked as read/write memory, and a
 * read-only map value would be rejected by the verifier. At most 12
 * arguments (the limit of libbpf's ___bpf_fill).
 */
/* clang-format cannot lay out _Pragma inside a macro body. */
/* clang-format off */
#define SK_BSTR_CALL(call, fmt, args...)                                       \
	({                                                                     \
		static char ___sk_fmt[] = fmt;                                 \
		unsigned long long ___sk_param[___bpf_narg(args)];             \
		_Pragma("GCC diagnostic push")                                 \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")         \
		___bpf_fill(___sk_param, args);                                \
		_Pragma("GCC diagnostic pop")                                  \
		call(___sk_fmt, ___sk_param, sizeof(___sk_param));             \
	})
/* clang-format on */

/* scx_bpf_exit_bstr takes the exit code first; this gives it SK_BSTR_CALL's
 * (fmt, data, size) shape, reading the code from scx_bpf_exit's local. */
#define SK_BSTR_EXIT(fmt, param, sz) scx_bpf_exit_bstr(___sk_code, fmt, param, sz)

/*
 * Ask the kernel to unload this scheduler with kind SCX_EXIT_UNREG_BPF and
 * the given exit code (e.g. SCX_ECODE_ACT_RESTART | n to ask the supervisor
 * for a reload). The message ends up in scx_exit_info.msg.
 */
#define scx_bpf_exit(code, fmt, args...)                                                           \
	({                                                                                         \
		s64 ___sk_code = (code);                                                           \
		SK_BSTR_CALL(SK_BSTR_EXIT, fmt, ##args);                                           \
	})

/*
 * Abort the scheduler with kind SCX_EXIT_ERROR_BPF: for invariants that must
 * not break. The kernel logs the message and a backtrace and falls back to
 * the fair class.
 */
#define scx_bpf_error(fmt, args...) SK_BSTR_CALL(scx_bpf_error_bstr, fmt, ##args)

/* Write a line into the debug dump (only valid from ops.dump*). */
#define scx_bpf_dump(fmt, args...) SK_BSTR_CALL(scx_bpf_dump_bstr, fmt, ##args)

#endif /* SCHEDKIT_SCX_H */
