/* SPDX-License-Identifier: Apache-2.0 */
/* skrun-fetch internals (not part of lib/'s public API). */
#ifndef SKRUN_FETCH_H
#define SKRUN_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "schedkit/common.h"

/* The fds skrun hands over (lib/transfer/fetch.c). */
#define FD_SOCK 3
#define FD_STAGE 4
#define FD_ARCHIVE 5

/*
 * Confines this process to reading the system's libraries and configuration
 * (and the CA file named, if any) and writing only beneath the staging
 * directory. Describes what it did, or why it could not, in desc.
 */
int skf_sandbox(int stage_fd, const char *ca_cert, char *desc, size_t len);

/* Serves requests on FD_SOCK until the channel closes. Returns the exit status. */
int skf_serve(const char *sandbox_desc, const char *ca_cert, bool archive);

#endif
