/* SPDX-License-Identifier: GPL-2.0 */
/* A BPF object that is not a scheduler. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return 0;
}
