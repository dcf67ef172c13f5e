/* SPDX-License-Identifier: GPL-2.0 */
/* Strong and weak kfuncs: a 6.14 one, an unknown one, flavoured names, a removed one. */
#include "test_common.h"

char _license[] SEC("license") = "GPL v2";

extern u64 scx_bpf_now(void) __ksym;
extern void scx_bpf_frobnicate(u64 x) __ksym;
extern void scx_bpf_wibble(u64 x) __ksym __weak;
/* Flavours: libbpf strips one ___suffix, so these name scx_bpf_dsq_insert and ..___v2. */
extern void scx_bpf_dsq_insert___v1(struct task_struct *p, u64 dsq_id, u64 slice,
				    u64 enq_flags) __ksym;
extern bool scx_bpf_dsq_insert___v2___compat(struct task_struct *p, u64 dsq_id, u64 slice,
					     u64 enq_flags) __ksym __weak;
extern void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;

SEC("struct_ops/kf_enqueue")
void BPF_PROG(kf_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 now = scx_bpf_now();

	scx_bpf_frobnicate(now);
	if (bpf_ksym_exists(scx_bpf_wibble))
		scx_bpf_wibble(now);
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___compat))
		scx_bpf_dsq_insert___v2___compat(p, SCX_DSQ_GLOBAL, now, enq_flags);
	else
		scx_bpf_dsq_insert___v1(p, SCX_DSQ_GLOBAL, now, enq_flags);
	scx_bpf_dispatch(p, SCX_DSQ_GLOBAL, now, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops kf_ops = {
    .enqueue = (void *)kf_enqueue,
    .name = "kfuncs",
};
