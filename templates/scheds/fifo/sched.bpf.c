/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * @NAME@: one global first-in-first-out queue for every task.
 *
 * A waking task whose previous (or a nearby) CPU is idle goes straight to
 * that CPU's local queue, skipping the shared queue and its lock; all other
 * tasks are appended to a shared DSQ that every CPU drains in order when it
 * runs out of work. Simple and starvation-free, but with no notion of
 * priority: nice values are ignored.
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

/* Time slice each task gets when it is picked. */
const volatile u64 slice_ns = 5000000;
/* Insert wakeups on an idle CPU directly into its local DSQ. */
const volatile bool fast_path = true;

UEI_DEFINE(uei);

/* Custom DSQ ids must not have bit 63 set (that marks built-in DSQs). */
#define SHARED_DSQ 0

s32 BPF_STRUCT_OPS(@NAME@_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	/*
	 * Inserting from select_cpu dispatches the task to the chosen CPU
	 * without calling ops.enqueue; the idle CPU is already being woken.
	 */
	if (fast_path && is_idle)
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	return cpu;
}

void BPF_STRUCT_OPS(@NAME@_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SHARED_DSQ, slice_ns, enq_flags);
}

void BPF_STRUCT_OPS(@NAME@_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_dsq_move_to_local(SHARED_DSQ);
}

/* Sleepable: scx_bpf_create_dsq() may allocate and is sleepable on 6.12. */
s32 BPF_STRUCT_OPS_SLEEPABLE(@NAME@_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(@NAME@_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops @NAME@_ops = {
    .select_cpu = (void *)@NAME@_select_cpu,
    .enqueue = (void *)@NAME@_enqueue,
    .dispatch = (void *)@NAME@_dispatch,
    .init = (void *)@NAME@_init,
    .exit = (void *)@NAME@_exit,
    .name = "@NAME@",
};
