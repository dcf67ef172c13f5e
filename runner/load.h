/* SPDX-License-Identifier: Apache-2.0 */
/* skrun check --load: the verifier's verdict on an artifact's object (load.c). */
#ifndef SKRUN_LOAD_H
#define SKRUN_LOAD_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "schedkit/oci.h"

/*
 * Loads a's object into the kernel and unloads it (no attach). Prints the
 * verifier statistics, or the whole log and a hint for a rejection, to out
 * (NULL: nothing printed), writes the log (or the statistics) to log_path
 * when not NULL, and adds docs/json.md's "load" object to json when not NULL.
 * Returns the exit status: 0 accepted, SK_EXIT_KERNEL rejected, else the
 * error's (printed).
 */
int skr_load_check(const struct sk_artifact *a, const char *ops, const char *log_path, FILE *out,
		   struct json_object *json);

#endif
