/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * stall: loads and attaches, then gets ejected by the sched_ext watchdog.
 *
 * enqueue parks every task in a custom DSQ and dispatch never moves anything
 * out of it, so runnable tasks never run. select_cpu is implemented (and
 * does not insert) so the kernel's default idle-CPU fast path cannot run
 * tasks behind our back. With a 1 s watchdog the kernel disables the
 * scheduler with SCX_EXIT_ERROR_STALL ("runnable task stall") and all tasks
 * return to the fair class. Used to test exit-record reporting.
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

#define PARKING_DSQ 0x5ac

s32 BPF_STRUCT_OPS(stall_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	return prev_cpu;
}

void BPF_STRUCT_OPS(stall_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, PARKING_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(stall_dispatch, s32 cpu, struct task_struct *prev)
{
	/* Deliberately empty: nothing ever leaves PARKING_DSQ. */
}

s32 BPF_STRUCT_OPS_SLEEPABLE(stall_init)
{
	return scx_bpf_create_dsq(PARKING_DSQ, -1);
}

void BPF_STRUCT_OPS(stall_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops stall_ops = {
    .select_cpu = (void *)stall_select_cpu,
    .enqueue = (void *)stall_enqueue,
    .dispatch = (void *)stall_dispatch,
    .init = (void *)stall_init,
    .exit = (void *)stall_exit,
    .timeout_ms = 1000,
    .name = "stall",
};
