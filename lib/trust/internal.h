/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the files of lib/trust only; not part of the public API. */
#ifndef SCHEDKIT_TRUST_INTERNAL_H
#define SCHEDKIT_TRUST_INTERNAL_H

#include <json-c/json.h>

#include <openssl/types.h>

#include "schedkit/common.h"
#include "schedkit/trust.h"

/* sign.c reaches the key's EVP_PKEY through this (struct sk_key is key.c's). */
EVP_PKEY *sk_trust_key_pkey(const struct sk_key *k);

/* sk_json_parse() with a size limit of the caller's (payloads and policies are small). */
int sk_trust_json_parse(const void *data, size_t len, size_t max, const char *what,
			struct json_object **out, struct sk_error *err);
/* Compact serialization with no escaped slashes (what cosign's Go code writes). */
const char *sk_trust_json_str(struct json_object *obj, size_t *len);
/* Fails with "<what>: unknown field "x"" when obj has a key outside allowed (NULL-terminated). */
int sk_trust_json_only(struct json_object *obj, const char *const *allowed, const char *what,
		       struct sk_error *err);
/* "HOST[:PORT]/PATH" or "HOST[:PORT]": no scheme, tag, digest, or empty components. */
bool sk_trust_repo_valid(const char *repo, bool allow_host_only);
/* A key or identity name in a policy: letters, digits, "-", "_", "."; 1 to 127 bytes. */
bool sk_trust_name_valid(const char *name);
/* Splits "key=value" into a malloc'd key and a pointer into s for the value. */
int sk_trust_split_kv(const char *s, char **key, const char **value, const char *what,
		      struct sk_error *err);
/*
 * "HOST/REPO" of a reference or repository name (verify.c). need_registry: s
 * must name its registry explicitly (a layout tag like "v1" is no identity).
 */
int sk_trust_repo_identity(const char *s, bool need_registry, char out[512], struct sk_error *err);
/* The policy o names: --key files, a policy file, or the default policy (judge.c). */
int sk_trust_load_policy(const struct sk_verify_opts *o, struct sk_policy **p,
			 struct sk_error *err);

#endif
