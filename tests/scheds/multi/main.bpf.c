/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * multi: fifo split over three compile units, a test of skbuild's link step
 * (schedkit.json "objects"). This unit holds the callbacks, the ops map, the
 * exit record and the tunable; queue.bpf.c picks the queue and counts what
 * went through it, slice.bpf.c computes the slice. Each is compiled alone;
 * libbpf's linker joins them into one object. (The ops map points only at
 * programs of its own unit: clang emits no BTF for a function that another
 * unit defines and this one only takes the address of.)
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

#include "multi.h"

char _license[] SEC("license") = "GPL";

/* Time slice of a task that finds the queue empty; shorter as it grows. */
const volatile u64 slice_ns = 5000000;

UEI_DEFINE(uei);

s32 BPF_STRUCT_OPS(multi_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle)
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	return cpu;
}

void BPF_STRUCT_OPS(multi_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 dsq = multi_pick_dsq(enq_flags);

	scx_bpf_dsq_insert(p, dsq, multi_slice(slice_ns, scx_bpf_dsq_nr_queued(dsq)), enq_flags);
}

void BPF_STRUCT_OPS(multi_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_dsq_move_to_local(MULTI_DSQ);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(multi_init)
{
	return scx_bpf_create_dsq(MULTI_DSQ, -1);
}

void BPF_STRUCT_OPS(multi_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops multi_ops = {
    .select_cpu = (void *)multi_select_cpu,
    .enqueue = (void *)multi_enqueue,
    .dispatch = (void *)multi_dispatch,
    .init = (void *)multi_init,
    .exit = (void *)multi_exit,
    .name = "multi",
};
