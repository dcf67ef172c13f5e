/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * broken: compiles cleanly, but the kernel verifier must reject it.
 *
 * DELIBERATE BUG (test fixture): enqueue indexes a 4-element global array
 * with the task's pid, which can be any value. The verifier cannot prove the
 * index is in bounds and refuses the program ("unbounded memory access" /
 * "invalid access to map value"). Used to test that a load failure reports
 * the verifier log.
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

u64 per_bucket[4];

void BPF_STRUCT_OPS(broken_enqueue, struct task_struct *p, u64 enq_flags)
{
	u32 bucket = p->pid; /* BUG: should be p->pid % 4 */

	per_bucket[bucket]++;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(broken_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops broken_ops = {
    .enqueue = (void *)broken_enqueue,
    .exit = (void *)broken_exit,
    .name = "broken",
};
