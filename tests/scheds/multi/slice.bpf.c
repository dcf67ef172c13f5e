/* SPDX-License-Identifier: GPL-2.0-only */
/* multi: the slice a queued task gets, shorter as the queue grows (see main.bpf.c). */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>

#include "multi.h"

__noinline __u64 multi_slice(__u64 base, __u64 nr_queued)
{
	__u64 s = base / (nr_queued + 1);

	return s < 500000 ? 500000 : s;
}
