/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "schedkit/cli.h"
#include "schedkit/oci.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

#define PASSWORD_MAX 4096

int sk_registry_cli_opt(struct sk_registry_cli *c, int opt, const char *arg)
{
	switch (opt) {
	case SK_REGISTRY_OPT_INSECURE:
		c->insecure_ref = true;
		return 1;
	case SK_REGISTRY_OPT_INSECURE_REGISTRY:
		if (sk_strv_push(&c->insecure, arg))
			c->oom = true;
		return 1;
	case SK_REGISTRY_OPT_CA_CERT:
		c->opts.ca_cert = arg;
		return 1;
	case SK_REGISTRY_OPT_AUTHFILE:
		c->opts.auth_file = arg;
		return 1;
	case SK_REGISTRY_OPT_USERNAME:
		c->opts.username = arg;
		return 1;
	case SK_REGISTRY_OPT_PASSWORD_STDIN:
		c->password_stdin = true;
		return 1;
	case SK_REGISTRY_OPT_REGISTRIES_CONF:
		c->opts.registries_conf = arg;
		return 1;
	case 'v':
		c->opts.verbose = true;
		return 1;
	default:
		return 0;
	}
}

const char *sk_registry_cli_optname(int opt)
{
	switch (opt) {
	case SK_REGISTRY_OPT_INSECURE:
		return "--insecure";
	case SK_REGISTRY_OPT_INSECURE_REGISTRY:
		return "--insecure-registry";
	case SK_REGISTRY_OPT_CA_CERT:
		return "--ca-cert";
	case SK_REGISTRY_OPT_AUTHFILE:
		return "--authfile";
	case SK_REGISTRY_OPT_USERNAME:
		return "--username";
	case SK_REGISTRY_OPT_PASSWORD_STDIN:
		return "--password-stdin";
	case SK_REGISTRY_OPT_REGISTRIES_CONF:
		return "--registries-conf";
	case 'v':
		return "--verbose";
	default:
		return NULL;
	}
}

/* The whole of standard input, without its trailing line break (as docker login reads it). */
static int read_password(char **out)
{
	char *buf = calloc(1, PASSWORD_MAX + 1);
	size_t len = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	while (len < PASSWORD_MAX && (n = read(STDIN_FILENO, buf + len, PASSWORD_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			OPENSSL_cleanse(buf, PASSWORD_MAX);
			free(buf);
			return -e;
		}
		len += (size_t)n;
	}
	/* a longer one would be cut silently: refuse it */
	if (len == PASSWORD_MAX) {
		char more;

		if (read(STDIN_FILENO, &more, 1) > 0) {
			OPENSSL_cleanse(buf, PASSWORD_MAX);
			free(buf);
			return -E2BIG;
		}
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	*out = buf;
	return 0;
}

static int settle_credentials(struct sk_registry_cli *c)
{
	const char *env_user = getenv(SK_REGISTRY_USERNAME_ENV);
	const char *env_pass = getenv(SK_REGISTRY_PASSWORD_ENV);
	int ret;

	if (c->password_stdin != (c->opts.username != NULL)) {
		fprintf(stderr, "error: --username USER and --password-stdin go together (the "
				"password is read from standard input)\n");
		c->bad = true;
		return -EINVAL;
	}
	if (c->password_stdin) {
		ret = read_password(&c->password);
		if (ret) {
			fprintf(stderr, "error: --password-stdin: %s\n",
				ret == -E2BIG ? "the password is longer than 4096 bytes"
					      : strerror(-ret));
			c->bad = true;
			return ret;
		}
		if (!c->password[0]) {
			fprintf(stderr,
				"error: --password-stdin: standard input held no password\n");
			c->bad = true;
			return -EINVAL;
		}
		c->opts.password = c->password;
		c->opts.cred_source = "--password-stdin";
		return 0;
	}
	/* a command-line file choice wins over the environment */
	if (c->opts.auth_file || !env_user || !*env_user || !env_pass)
		return 0;
	c->password = strdup(env_pass);
	if (!c->password)
		return -ENOMEM;
	c->opts.username = env_user;
	c->opts.password = c->password;
	c->opts.cred_source = "$" SK_REGISTRY_USERNAME_ENV " and $" SK_REGISTRY_PASSWORD_ENV;
	return 0;
}

int sk_registry_cli_finish(struct sk_registry_cli *c, const char *ref)
{
	struct sk_source src;
	int ret;

	if (c->bad)
		return -EINVAL;
	if (!c->opts.password) {
		ret = settle_credentials(c);
		if (ret)
			return ret;
	}
	/* layouts and archives have no host to name */
	if (c->insecure_ref && ref && !sk_source_parse(ref, &src, NULL)) {
		if (src.kind == SK_SOURCE_REGISTRY &&
		    !sk_strv_contains(&c->insecure, src.ref.host) &&
		    sk_strv_push(&c->insecure, src.ref.host))
			c->oom = true;
		sk_source_free(&src);
	}
	c->opts.insecure = &c->insecure;
	return c->oom ? -ENOMEM : 0;
}

void sk_registry_cli_free(struct sk_registry_cli *c)
{
	if (c->password) {
		OPENSSL_cleanse(c->password, strlen(c->password));
		free(c->password);
		c->password = NULL;
	}
	sk_strv_free(&c->insecure);
}

/*
 * 1 when src is a layout whose artifact has no signature at all: neither a
 * sha256-<hex>.sig manifest nor Sigstore bundles under the sha256-<hex> tag.
 */
static int unsigned_layout(const char *src, char digest[SK_DIGEST_MAX])
{
	struct sk_source s;
	struct sk_layout *l = NULL;
	struct sk_descriptor d, sig;
	char tag[SK_SIG_TAG_MAX];
	int ret = 0;

	if (sk_source_parse(src, &s, NULL))
		return 0;
	if (s.kind == SK_SOURCE_LAYOUT && !sk_layout_open(s.path, &l, NULL) &&
	    !sk_layout_resolve_artifact(l, s.tag, &d, NULL) && !sk_sig_tag(d.digest, tag, NULL)) {
		ret = sk_layout_resolve(l, tag, &sig, NULL) == -ENOENT;
		tag[strlen(tag) - 4] = '\0'; /* the referrers tag: no ".sig" */
		ret = ret && sk_layout_resolve(l, tag, &sig, NULL) == -ENOENT;
		snprintf(digest, SK_DIGEST_MAX, "%s", d.digest);
	}
	sk_layout_close(l);
	sk_source_free(&s);
	return ret;
}

int sk_unsigned_build_explain(const char *src, struct sk_error *err)
{
	char digest[SK_DIGEST_MAX] = "";

	/* only a verification that failed: other errors keep their own words */
	if (!err || !strstr(err->msg, "verification") || !unsigned_layout(src, digest))
		return 0;
	err->code = -EKEYREJECTED;
	snprintf(err->msg, sizeof(err->msg),
		 "%s is an unsigned local build: the layout holds no signature for %s, so "
		 "nothing vouches for it and the trust policy cannot accept it. Either sign it "
		 "(`skbuild sign --key KEY --identity HOST/REPO %s`, then trust KEY's public key "
		 "in the policy or pass --key PUB --identity HOST/REPO), or run it without "
		 "verification: --insecure-skip-verify",
		 src, digest, src);
	return 1;
}
