/* SPDX-License-Identifier: GPL-2.0 */
/* An ops name with a character the kernel's bpf_obj_name_cpy() rejects. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/bn_init")
s32 BPF_PROG(bn_init)
{
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops bn_ops = {
    .init = (void *)bn_init,
    .name = "my-sched",
};
