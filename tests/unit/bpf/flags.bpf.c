/* SPDX-License-Identifier: GPL-2.0 */
/* 6.15 flag bits and one bit no release defines. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/flags_init")
s32 BPF_PROG(flags_init)
{
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops flags_ops = {
    .init = (void *)flags_init,
    .flags = SCX_OPS_KEEP_BUILTIN_IDLE | SCX_OPS_ENQ_MIGRATION_DISABLED |
	     SCX_OPS_ALLOW_QUEUED_WAKEUP | (1ULL << 20),
    .name = "flags",
};
