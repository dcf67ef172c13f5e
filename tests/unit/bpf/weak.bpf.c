/* SPDX-License-Identifier: GPL-2.0 */
/* Runs on 6.12 and later: both dispatch names are weak and tested before use. */
#include "test_common.h"

char _license[] SEC("license") = "Dual BSD/GPL";

extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
			       u64 enq_flags) __ksym __weak;
extern void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice,
			     u64 enq_flags) __ksym __weak;

SEC("struct_ops/weak_enqueue")
void BPF_PROG(weak_enqueue, struct task_struct *p, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, 1000000, enq_flags);
	else
		scx_bpf_dispatch(p, SCX_DSQ_GLOBAL, 1000000, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops weak_ops = {
    .enqueue = (void *)weak_enqueue,
    .name = "weak",
};
