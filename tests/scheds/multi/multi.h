/* SPDX-License-Identifier: GPL-2.0-only */
/* What the units of the multi test scheduler share. */
#ifndef MULTI_H
#define MULTI_H

#define MULTI_DSQ 0

/* queue.bpf.c: the queue for a task being enqueued (counts it) */
__u64 multi_pick_dsq(__u64 enq_flags);
/* slice.bpf.c: the slice for a queue of nr_queued tasks */
__u64 multi_slice(__u64 base, __u64 nr_queued);

#endif
