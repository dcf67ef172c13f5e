/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * two_ops: two struct sched_ext_ops maps in one object. Only one scheduler
 * can be attached, so a loader must refuse to guess and require the user to
 * name the map (--ops two_a / --ops two_b). Each map is a complete global
 * FIFO with its own programs (libbpf binds a struct_ops program to a single
 * map).
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

void BPF_STRUCT_OPS(two_a_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(two_a_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

void BPF_STRUCT_OPS(two_b_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL / 2, enq_flags);
}

void BPF_STRUCT_OPS(two_b_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops two_a = {
    .enqueue = (void *)two_a_enqueue,
    .exit = (void *)two_a_exit,
    .name = "two_a",
};

SEC(".struct_ops.link")
struct sched_ext_ops two_b = {
    .enqueue = (void *)two_b_enqueue,
    .exit = (void *)two_b_exit,
    .name = "two_b",
};
