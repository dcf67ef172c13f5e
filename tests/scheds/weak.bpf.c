/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * weak: a loadable scheduler that exercises what the object analyser must
 * tell apart:
 *  - strong kfuncs (scx_bpf_create_dsq, scx_bpf_select_cpu_dfl),
 *  - weak kfuncs guarded by bpf_ksym_exists(): a real one added after 6.12
 *    (scx_bpf_dsq_nr_queued is strong; scx_bpf_dsq_peek, 6.19, is weak) and
 *    one that no kernel has (scx_bpf_schedkit_test_weak_missing),
 *  - the 6.13 rename pairs (scx_bpf_dsq_insert / scx_bpf_dispatch, ...),
 *  - a sleepable callback (init, SEC("struct_ops.s/...")),
 *  - tunables of several types in .rodata (u64, s32, bool, char[], enum),
 *  - an upstream-style enum placeholder (__SCX_*) that a loader fills from
 *    the kernel BTF and which is not a user tunable,
 *  - a CO-RE enum relocation (SCX_ENUM).
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

enum weak_order {
	WEAK_ORDER_FIFO = 0,
	WEAK_ORDER_LIFO = 1,
};

/* Tunables. */
const volatile u64 slice_ns = 3000000;
const volatile s32 dsq_node = -1;
const volatile bool use_idle = true;
const volatile char label[16] = "weak";
const volatile enum weak_order order = WEAK_ORDER_FIFO;

/*
 * Upstream scx "SCX_ENUM_INIT" placeholder: the loader writes the running
 * kernel's SCX_DSQ_FLAG_BUILTIN here before load. Not a tunable.
 */
const volatile u64 __SCX_DSQ_FLAG_BUILTIN __weak;

UEI_DEFINE(uei);

/* Counters the loader may read from .bss. */
u64 nr_wakeups;
u64 nr_builtin_seen;

extern void scx_bpf_schedkit_test_weak_missing(u64 x) __ksym __weak;

#define WEAK_DSQ 7

s32 BPF_STRUCT_OPS(weak_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (use_idle && is_idle)
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	return cpu;
}

void BPF_STRUCT_OPS(weak_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 flags = enq_flags;

	if (enq_flags & SCX_ENUM(scx_enq_flags, SCX_ENQ_WAKEUP))
		__sync_fetch_and_add(&nr_wakeups, 1);
	if (order == WEAK_ORDER_LIFO)
		flags |= SCX_ENUM(scx_enq_flags, SCX_ENQ_HEAD);
	scx_bpf_dsq_insert(p, WEAK_DSQ, slice_ns, flags);
}

void BPF_STRUCT_OPS(weak_dispatch, s32 cpu, struct task_struct *prev)
{
	if (bpf_ksym_exists(scx_bpf_schedkit_test_weak_missing))
		scx_bpf_schedkit_test_weak_missing(cpu);

	/* Peek (6.19+) only to exercise the weak path; it changes nothing. */
	if (bpf_ksym_exists(scx_bpf_dsq_peek) && scx_bpf_dsq_peek(WEAK_DSQ) &&
	    __SCX_DSQ_FLAG_BUILTIN && (SCX_DSQ_LOCAL & __SCX_DSQ_FLAG_BUILTIN))
		__sync_fetch_and_add(&nr_builtin_seen, 1);

	scx_bpf_dsq_move_to_local(WEAK_DSQ);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(weak_init)
{
	if (label[0] == '\0')
		scx_bpf_error("empty label");
	return scx_bpf_create_dsq(WEAK_DSQ, dsq_node);
}

void BPF_STRUCT_OPS(weak_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops weak_ops = {
    .select_cpu = (void *)weak_select_cpu,
    .enqueue = (void *)weak_enqueue,
    .dispatch = (void *)weak_dispatch,
    .init = (void *)weak_init,
    .exit = (void *)weak_exit,
    .name = "weak",
};
