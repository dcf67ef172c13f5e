/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Weak flavors of kfuncs, as a scheduler built once for several kernels
 * declares them:
 *  - scx_bpf_create_dsq in two shapes (two parameters, and 7.1's with a
 *    trailing struct bpf_prog_aux *): one of them must link;
 *  - scx_bpf_kick_cpu under two flavor names with the same prototype, and
 *    scx_bpf_now alone: optional, each call is guarded and has a fallback.
 */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

extern s32 scx_bpf_create_dsq___two(u64 dsq_id, s32 node) __ksym __weak;
extern s32 scx_bpf_create_dsq___aux(u64 dsq_id, s32 node,
				    const struct bpf_prog_aux *aux) __ksym __weak;
extern void scx_bpf_kick_cpu___a(s32 cpu, u64 flags) __ksym __weak;
extern void scx_bpf_kick_cpu___b(s32 cpu, u64 flags) __ksym __weak;
extern u64 scx_bpf_now(void) __ksym __weak;

SEC("struct_ops/flavors_enqueue")
void BPF_PROG(flavors_enqueue, struct task_struct *p, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_kick_cpu___a))
		scx_bpf_kick_cpu___a(0, 0);
	else if (bpf_ksym_exists(scx_bpf_kick_cpu___b))
		scx_bpf_kick_cpu___b(0, 0);
	if (bpf_ksym_exists(scx_bpf_now))
		scx_bpf_now();
}

SEC("struct_ops.s/flavors_init")
s32 BPF_PROG(flavors_init)
{
	if (bpf_ksym_exists(scx_bpf_create_dsq___two))
		return scx_bpf_create_dsq___two(0, -1);
	if (bpf_ksym_exists(scx_bpf_create_dsq___aux))
		return scx_bpf_create_dsq___aux(0, -1, NULL);
	return -38;
}

SEC(".struct_ops.link")
struct sched_ext_ops flavors_ops = {
    .enqueue = (void *)flavors_enqueue,
    .init = (void *)flavors_init,
    .name = "flavors",
};
