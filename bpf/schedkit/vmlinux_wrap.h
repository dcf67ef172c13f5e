/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * schedkit/vmlinux_wrap.h: include the build's vmlinux.h the way scx.h
 * expects it. Optional; a scheduler may include "vmlinux.h" itself (see
 * scx.h for what it then has to define first).
 *
 *	#include <schedkit/vmlinux_wrap.h>
 *	#include <schedkit/scx.h>
 */
#ifndef SCHEDKIT_VMLINUX_WRAP_H
#define SCHEDKIT_VMLINUX_WRAP_H

/*
 * Keep bpftool's kfunc prototypes (all __weak) out, so that the strong and
 * weak declarations in scx.h decide the symbol binding in the object.
 */
#ifndef BPF_NO_KFUNC_PROTOTYPES
#define BPF_NO_KFUNC_PROTOTYPES 1
#endif

/*
 * Kernels >= 6.19 are built with -fms-extensions and embed tagged structs
 * as anonymous members (`struct slock_owned;` inside socket_lock_t). BTF
 * keeps them and bpftool dumps them verbatim. Without -fms-extensions clang
 * drops such members ("declaration does not declare anything"); with it,
 * clang lays them out like the kernel but warns that it is an extension.
 * Neither affects scheduler code (CO-RE relocates field offsets by name),
 * so silence both here; builds should still pass -fms-extensions so that
 * those few structs have the kernel's layout.
 */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wmissing-declarations"
#pragma clang diagnostic ignored "-Wmicrosoft-anon-tag"
#include <vmlinux.h>
#pragma clang diagnostic pop

#endif /* SCHEDKIT_VMLINUX_WRAP_H */
