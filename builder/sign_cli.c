/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild sign's and push's signing options: formats and keyless signing. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "sign_cli.h"

/* cosign takes the token or a file holding it; so do we */
static int read_token(struct skb_sign_cli *c, const char *arg, const char *cmd)
{
	struct sk_error err = {0};
	uint8_t *data = NULL;
	size_t len = 0;

	if (!sk_is_file(arg)) {
		c->kl.identity_token = arg;
		return 1;
	}
	if (sk_read_file(arg, 64u << 10, &data, &len, &err)) {
		sk_die_msg("%s: --identity-token: %s", cmd, err.msg);
		return -EINVAL;
	}
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
		data[--len] = '\0';
	c->token = (char *)data;
	c->kl.identity_token = c->token;
	return 1;
}

const char *skb_sign_cli_optname(int opt, bool *has_arg)
{
	static const struct option opts[] = {SKB_SIGN_CLI_LONGOPTS};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i].val == opt) {
			*has_arg = opts[i].has_arg != no_argument;
			return opts[i].name;
		}
	return NULL;
}

int skb_sign_cli_opt(struct skb_sign_cli *c, int opt, const char *arg, const char *cmd)
{
	switch (opt) {
	case SKB_OPT_SIG_FORMAT:
		if (sk_sig_format_parse(arg, &c->format)) {
			sk_die_msg("%s: --signature-format is legacy, bundle or both, not '%s'",
				   cmd, arg);
			return -EINVAL;
		}
		return 1;
	case SKB_OPT_KEYLESS:
		c->keyless = true;
		return 1;
	case SKB_OPT_FULCIO_URL:
		c->kl.fulcio_url = arg;
		break;
	case SKB_OPT_REKOR_URL:
		c->kl.rekor_url = arg;
		break;
	case SKB_OPT_TSA_URL:
		c->kl.tsa_url = arg;
		break;
	case SKB_OPT_ID_TOKEN:
		c->any = true;
		return read_token(c, arg, cmd);
	default:
		return 0;
	}
	c->any = true;
	return 1;
}

int skb_sign_cli_finish(struct skb_sign_cli *c, struct sk_sign_opts *o, bool have_key,
			const char *cmd)
{
	if (c->any && !c->keyless) {
		sk_die_msg("%s: --fulcio-url, --rekor-url, --timestamp-url and --identity-token go "
			   "with --keyless",
			   cmd);
		return -EINVAL;
	}
	if (c->keyless && have_key) {
		sk_die_msg("%s: sign with a key or --keyless, not both", cmd);
		return -EINVAL;
	}
	if (c->keyless && (c->format == SK_SIG_FORMAT_LEGACY || c->format == SK_SIG_FORMAT_BOTH)) {
		sk_die_msg("%s: keyless signatures are Sigstore bundles only (--signature-format "
			   "bundle)",
			   cmd);
		return -EINVAL;
	}
	o->format = c->format;
	o->keyless = c->keyless ? &c->kl : NULL;
	return 0;
}

void skb_sign_cli_free(struct skb_sign_cli *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	memset(c, 0, sizeof(*c));
}

const char *skb_sig_format_str(enum sk_sig_format f, bool keyless)
{
	if (f == SK_SIG_FORMAT_DEFAULT)
		f = keyless ? SK_SIG_FORMAT_BUNDLE : SK_SIG_FORMAT_LEGACY;
	return f == SK_SIG_FORMAT_BOTH ? "both" : f == SK_SIG_FORMAT_BUNDLE ? "bundle" : "legacy";
}
