/* SPDX-License-Identifier: GPL-2.0 */
/* Two schedulers in one object; the second is a legacy (non-link) struct_ops map. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/a_init")
s32 BPF_PROG(a_init)
{
	return 0;
}

SEC("struct_ops/b_tick")
void BPF_PROG(b_tick, struct task_struct *p)
{
}

SEC(".struct_ops.link")
struct sched_ext_ops a_ops = {
    .init = (void *)a_init,
    .timeout_ms = 1000,
    .name = "alpha",
};

SEC(".struct_ops")
struct sched_ext_ops b_ops = {
    .tick = (void *)b_tick,
    .timeout_ms = 2000,
    .name = "beta",
};
