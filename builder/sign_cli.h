/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signing options skbuild sign and skbuild push share: which signature
 * formats to write, and keyless signing (Fulcio, Rekor, a timestamp
 * authority, the OIDC token). docs/policy.md and docs/ci.md describe them.
 */
#ifndef SKB_SIGN_CLI_H
#define SKB_SIGN_CLI_H

#include <stdbool.h>

#include "schedkit/registry.h"

enum {
	/* above the registry options (0x1000...) and any character */
	SKB_OPT_SIG_FORMAT = 0x1100,
	SKB_OPT_KEYLESS,
	SKB_OPT_FULCIO_URL,
	SKB_OPT_REKOR_URL,
	SKB_OPT_TSA_URL,
	SKB_OPT_ID_TOKEN,
};

/* struct option entries (getopt.h) */
/* clang-format off */
#define SKB_SIGN_CLI_LONGOPTS                                                                      \
	{"signature-format", required_argument, NULL, SKB_OPT_SIG_FORMAT},                         \
	{"keyless", no_argument, NULL, SKB_OPT_KEYLESS},                                           \
	{"fulcio-url", required_argument, NULL, SKB_OPT_FULCIO_URL},                               \
	{"rekor-url", required_argument, NULL, SKB_OPT_REKOR_URL},                                 \
	{"timestamp-url", required_argument, NULL, SKB_OPT_TSA_URL},                               \
	{"identity-token", required_argument, NULL, SKB_OPT_ID_TOKEN}
/* clang-format on */

#define SKB_SIGN_CLI_HELP                                                                          \
	"  --signature-format F  legacy (cosign's .sig manifest, the default with a\n"             \
	"                      key), bundle (a Sigstore bundle attached as an OCI\n"               \
	"                      referrer, what cosign v3 writes; the default keyless) or\n"         \
	"                      both\n"                                                             \
	"  --keyless           sign without a key: a Fulcio certificate for the CI's\n"            \
	"                      OIDC identity ($" SK_OIDC_TOKEN_ENV ", or GitHub Actions'\n"        \
	"                      id-token), logged in Rekor (docs/ci.md)\n"                          \
	"  --fulcio-url URL    with --keyless: the Fulcio to ask (default\n"                       \
	"                      " SK_FULCIO_URL_DEFAULT ")\n"                                       \
	"  --rekor-url URL     with --keyless: the Rekor to log in (default\n"                     \
	"                      " SK_REKOR_URL_DEFAULT ")\n"                                        \
	"  --timestamp-url URL with --keyless: also an RFC 3161 timestamp from this TSA\n"         \
	"  --identity-token T  with --keyless: the OIDC token, or a file holding it\n"             \
	"                      (default: the environment, which keeps it out of ps)\n"

struct skb_sign_cli {
	enum sk_sig_format format;
	bool keyless;
	struct sk_keyless_opts kl;
	char *token; /* read from --identity-token's file, wiped when freed */
	bool any;    /* a keyless option was given */
};

/* 1 when opt was one of these and is recorded, 0 when not, < 0 (message printed) when bad. */
int skb_sign_cli_opt(struct skb_sign_cli *c, int opt, const char *arg, const char *cmd);
/*
 * Checks what goes together (have_key: a --key/--sign KEY was given) and
 * fills o->format and o->keyless. -EINVAL with a message printed otherwise.
 */
int skb_sign_cli_finish(struct skb_sign_cli *c, struct sk_sign_opts *o, bool have_key,
			const char *cmd);
void skb_sign_cli_free(struct skb_sign_cli *c);
/*
 * The long name (without "--") of one of these options, NULL for any other; *has_arg says whether
 * it takes a value (skbuild build --push hands them on to push as they are).
 */
const char *skb_sign_cli_optname(int opt, bool *has_arg);
const char *skb_sig_format_str(enum sk_sig_format f, bool keyless);

#endif
