/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * @NAME@: weighted fair scheduling on virtual time.
 *
 * Each task carries a virtual time (p->scx.dsq_vtime) that advances while it
 * runs, inversely to its weight: a nice-0 task (weight 100) advances at wall
 * clock speed, a heavier task slower, a lighter one faster. Runnable tasks
 * wait in one shared DSQ ordered by virtual time, so the task that has
 * received the least weighted CPU time runs next.
 *
 * A task that sleeps does not accumulate credit without bound: when it wakes
 * its virtual time is raised to at most one slice behind the global clock
 * (vtime_now), which lets interactive tasks preempt the queue slightly
 * without letting a long sleeper monopolise a CPU.
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

/* Time slice each task gets when it is picked. */
const volatile u64 slice_ns = 5000000;

UEI_DEFINE(uei);

#define SHARED_DSQ 0

/* Nice-0 weight: p->scx.weight ranges over 1..10000 with 100 for nice 0. */
#define WEIGHT_NICE0 100

/*
 * Largest virtual time any task has started running at. Updated from every
 * CPU without a lock: a lost update only makes the clamp in enqueue
 * slightly less strict for a moment.
 */
static u64 vtime_now;

static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

s32 BPF_STRUCT_OPS(@NAME@_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	/* Nobody is waiting on an idle CPU, so ordering cannot be unfair. */
	if (is_idle)
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	return cpu;
}

void BPF_STRUCT_OPS(@NAME@_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 vtime = p->scx.dsq_vtime;

	/* Budget for sleepers: at most one slice of credit. */
	if (vtime_before(vtime, vtime_now - slice_ns))
		vtime = vtime_now - slice_ns;

	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, slice_ns, vtime, enq_flags);
}

void BPF_STRUCT_OPS(@NAME@_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_dsq_move_to_local(SHARED_DSQ);
}

void BPF_STRUCT_OPS(@NAME@_running, struct task_struct *p)
{
	if (vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(@NAME@_stopping, struct task_struct *p, bool runnable)
{
	u64 used = 0;

	/*
	 * p->scx.slice is what is left of the slice given at insert time. A
	 * task can carry a longer slice than ours (the kernel refills with
	 * SCX_SLICE_DFL in some paths), so do not let the subtraction wrap.
	 */
	if (slice_ns > p->scx.slice)
		used = slice_ns - p->scx.slice;
	sk_task_set_dsq_vtime(p, p->scx.dsq_vtime + used * WEIGHT_NICE0 / p->scx.weight);
}

/* A task entering sched_ext starts level with the current clock. */
void BPF_STRUCT_OPS(@NAME@_enable, struct task_struct *p)
{
	sk_task_set_dsq_vtime(p, vtime_now);
}

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
    .running = (void *)@NAME@_running,
    .stopping = (void *)@NAME@_stopping,
    .enable = (void *)@NAME@_enable,
    .init = (void *)@NAME@_init,
    .exit = (void *)@NAME@_exit,
    .name = "@NAME@",
};
