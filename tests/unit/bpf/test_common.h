/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the analysis test objects. Each object declares the kfuncs it
 * uses itself, so weak vs strong is exactly what the test says: vmlinux.h's
 * own kfunc prototypes are all __weak and would leak into every declaration.
 */
#ifndef SK_TEST_COMMON_H
#define SK_TEST_COMMON_H

#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#endif
