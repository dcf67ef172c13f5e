/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside lib/kernel only. */
#ifndef SK_KERNEL_INTERNAL_H
#define SK_KERNEL_INTERNAL_H

#include <stdbool.h>
#include <string.h>

#include "schedkit/kernel.h"

/*
 * struct sched_ext_ops, or the cid-form struct sched_ext_ops_cid (7.2's
 * scx_qmap uses it), possibly with a "___flavour" suffix that libbpf
 * strips when it matches the kernel type.
 */
static inline bool sk_is_scx_ops_type(const char *name)
{
	const char *flavour = strstr(name, "___");
	size_t len = flavour ? (size_t)(flavour - name) : strlen(name);

	return (len == strlen(SK_SCX_OPS_TYPE) && !strncmp(name, SK_SCX_OPS_TYPE, len)) ||
	       (len == strlen("sched_ext_ops_cid") && !strncmp(name, "sched_ext_ops_cid", len));
}

#endif
