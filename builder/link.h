/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild's link step for schedulers split over several compile units (link.c). */
#ifndef SKBUILD_LINK_H
#define SKBUILD_LINK_H

#include <stddef.h>

#include "schedkit/common.h"

/*
 * Links the BPF objects in (n of them, in that order) into one object at
 * out with libbpf's static linker (bpf_linker__*, what `bpftool gen object`
 * does): sections concatenated, BTF and .BTF.ext merged and deduplicated,
 * extern functions, maps and variables resolved across the objects. The
 * result depends only on the inputs and their order, so builds stay
 * reproducible. Errors name the object that libbpf refused.
 */
int skb_link_objects(const char *const *in, const char *const *names, size_t n, const char *out,
		     struct sk_error *err);

#endif
