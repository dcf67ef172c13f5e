/* SPDX-License-Identifier: GPL-2.0-only */
/* multi: which queue a task goes to (see main.bpf.c). A global function, verified alone. */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>

#include "multi.h"

/* Tasks enqueued so far: this unit's own .bss, merged by the linker. */
u64 nr_enqueued;

__noinline __u64 multi_pick_dsq(__u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued, 1);
	return MULTI_DSQ;
}
