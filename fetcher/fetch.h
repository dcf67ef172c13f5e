/* SPDX-License-Identifier: Apache-2.0 */
/* skrun-fetch internals (not part of lib/'s public API). */
#ifndef SKRUN_FETCH_H
#define SKRUN_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "schedkit/common.h"

/* The fds skrun hands over (lib/transfer/fetch.c). */
#define FD_SOCK	   3
#define FD_STAGE   4
#define FD_ARCHIVE 5
#define FD_CA	   6
/* how the helper names the CA file skrun opened for it */
#define CA_PATH "/proc/self/fd/6"

/*
 * Confines this process to reading the system's libraries and configuration
 * (and the CA file on FD_CA, when ca is true) and writing only beneath the
 * staging directory. Describes what it did, or why it could not, in desc.
 */
int skf_sandbox(int stage_fd, bool ca, char *desc, size_t len);

/* Serves requests on FD_SOCK until the channel closes. Returns the exit status. */
int skf_serve(const char *sandbox_desc, const char *ca_cert, bool archive);

#endif
