/* SPDX-License-Identifier: MIT */
/* A scheduler whose license the kernel does not accept for sched_ext. */
#include "test_common.h"

char _license[] SEC("license") = "MIT";

SEC("struct_ops/ng_init")
s32 BPF_PROG(ng_init)
{
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops ng_ops = {
    .init = (void *)ng_init,
    .name = "nongpl",
};
