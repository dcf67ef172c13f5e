/* SPDX-License-Identifier: GPL-2.0 */
/* Later ops members: a 6.17 and a 7.1 callback, the 7.1 data member sub_cgroup_id. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/newops_bw")
void BPF_PROG(newops_bw, struct cgroup *cgrp, u64 period, u64 quota, u64 burst)
{
}

SEC("struct_ops.s/newops_sub_attach")
s32 BPF_PROG(newops_sub_attach, struct scx_sub_attach_args *args)
{
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops newops_ops = {
    .cgroup_set_bandwidth = (void *)newops_bw,
    .sub_attach = (void *)newops_sub_attach,
    .sub_cgroup_id = 5,
    .name = "newops.v1",
};
