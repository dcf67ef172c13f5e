/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * longname: ops.name filled with exactly SCX_OPS_NAME_LEN (128) non-NUL
 * characters, so it has no terminating NUL.
 *
 * A longer string is not possible here: name is char[128], and clang warns
 * (-Wexcess-initializers) and truncates to 128 anyway. 128 characters fit
 * exactly, which C allows without a warning and without the NUL. The kernel
 * copies the name with bpf_obj_name_cpy(), which fails with -EINVAL when no
 * NUL is found, so registration is refused. A loader should catch it earlier:
 * the name in the map's initial value is not NUL-terminated within
 * SCX_OPS_NAME_LEN bytes.
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

void BPF_STRUCT_OPS(longname_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(longname_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

#define NAME16 "longname_0123456"

SEC(".struct_ops.link")
struct sched_ext_ops longname_ops = {
    .enqueue = (void *)longname_enqueue,
    .exit = (void *)longname_exit,
    /* 8 x 16 = 128 characters, no room for the NUL. */
    .name = NAME16 NAME16 NAME16 NAME16 NAME16 NAME16 NAME16 NAME16,
};
