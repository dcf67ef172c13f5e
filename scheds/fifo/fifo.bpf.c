/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fifo: one global first-in-first-out queue for every task.
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

/*
 * Custom DSQ ids must not have bit 63 set (that marks built-in DSQs). Where
 * the kernel cannot create one (Debian's 7.1.13, see schedkit/scx.h), the
 * built-in global DSQ is the same first-come-first-served queue: the kernel
 * drains it into an idle CPU's local DSQ before calling ops.dispatch.
 */
#define SHARED_DSQ (sk_can_create_dsq() ? 0 : SCX_DSQ_GLOBAL)

s32 BPF_STRUCT_OPS(fifo_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
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

void BPF_STRUCT_OPS(fifo_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SHARED_DSQ, slice_ns, enq_flags);
}

void BPF_STRUCT_OPS(fifo_dispatch, s32 cpu, struct task_struct *prev)
{
	if (sk_can_create_dsq())
		scx_bpf_dsq_move_to_local(SHARED_DSQ);
}

/* Sleepable: scx_bpf_create_dsq() may allocate and is sleepable on 6.12. */
s32 BPF_STRUCT_OPS_SLEEPABLE(fifo_init)
{
	return sk_can_create_dsq() ? sk_create_dsq(SHARED_DSQ, -1) : 0;
}

void BPF_STRUCT_OPS(fifo_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops fifo_ops = {
    .select_cpu = (void *)fifo_select_cpu,
    .enqueue = (void *)fifo_enqueue,
    .dispatch = (void *)fifo_dispatch,
    .init = (void *)fifo_init,
    .exit = (void *)fifo_exit,
    .name = "fifo",
};
