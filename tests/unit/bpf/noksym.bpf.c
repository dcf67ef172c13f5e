/* SPDX-License-Identifier: GPL-2.0 */
/* A kfunc declared without __ksym: libbpf cannot resolve it against the kernel. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

extern void scx_bpf_kick_cpu(s32 cpu, u64 flags);

SEC("struct_ops/nk_enqueue")
void BPF_PROG(nk_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_kick_cpu(0, 0);
}

SEC(".struct_ops.link")
struct sched_ext_ops nk_ops = {
    .enqueue = (void *)nk_enqueue,
    .name = "noksym",
};
