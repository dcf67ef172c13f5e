/* SPDX-License-Identifier: GPL-2.0 */
/* A strong use of the 6.19 kernel kfunc scx_bpf_dsq_insert___v2, reached through a flavour. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

extern bool scx_bpf_dsq_insert___v2___new(struct task_struct *p, u64 dsq_id, u64 slice,
					  u64 enq_flags) __ksym;

SEC("struct_ops/v2_enqueue")
void BPF_PROG(v2_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert___v2___new(p, SCX_DSQ_GLOBAL, 1000000, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops v2_ops = {
    .enqueue = (void *)v2_enqueue,
    .name = "v2",
};
