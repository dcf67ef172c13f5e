/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An ops map of the cid form, struct sched_ext_ops_cid (7.2; scx_qmap's),
 * with the callbacks only that struct has: select_cid, set_cmask, dump_cid.
 */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/cid_select")
s32 BPF_PROG(cid_select, struct task_struct *p, s32 prev_cid, u64 wake_flags)
{
	return prev_cid;
}

SEC("struct_ops/cid_set_cmask")
void BPF_PROG(cid_set_cmask, struct task_struct *p, const struct scx_cmask *cmask)
{
}

SEC("struct_ops/cid_dump")
void BPF_PROG(cid_dump, struct scx_dump_ctx *dctx, s32 cid, bool idle)
{
}

SEC("struct_ops/cid_enqueue")
void BPF_PROG(cid_enqueue, struct task_struct *p, u64 enq_flags)
{
}

SEC(".struct_ops.link")
struct sched_ext_ops_cid cid_ops = {
    .select_cid = (void *)cid_select,
    .set_cmask = (void *)cid_set_cmask,
    .dump_cid = (void *)cid_dump,
    .enqueue = (void *)cid_enqueue,
    .name = "cid.v1",
};
