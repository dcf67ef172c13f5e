/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * needs_kfunc: a valid global-DSQ scheduler that also calls a kfunc no
 * kernel provides, declared strong (not __weak). A compatibility check must
 * report it as a missing hard requirement, and libbpf must refuse to load
 * the object ("extern (func ksym) ... not found in kernel").
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

/* Does not exist anywhere; the name says so. */
extern void scx_bpf_schedkit_test_missing(void) __ksym;

void BPF_STRUCT_OPS(needs_kfunc_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(needs_kfunc_init)
{
	scx_bpf_schedkit_test_missing();
	return 0;
}

void BPF_STRUCT_OPS(needs_kfunc_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops needs_kfunc_ops = {
    .enqueue = (void *)needs_kfunc_enqueue,
    .init = (void *)needs_kfunc_init,
    .exit = (void *)needs_kfunc_exit,
    .name = "needs_kfunc",
};
