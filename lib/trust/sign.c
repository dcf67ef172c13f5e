/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "schedkit/trust.h"
#include "internal.h"

/* Ed25519 hashes internally ("pure"); ECDSA signs SHA-256 of the data, as cosign does. */
static const char *digest_for(const struct sk_key *k)
{
	return sk_key_type(k) == SK_KEY_ED25519 ? NULL : "SHA256";
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/*
 * Strict standard base64 with padding (what cosign writes): EVP_DecodeBlock
 * alone skips whitespace and cannot tell how much padding there was.
 */
static int b64_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(s), pad = 0;
	uint8_t *buf;
	int r;

	if (!n || n % 4 || n > (1u << 20))
		return -EILSEQ;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char(s[i]))
			return -EILSEQ;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	r = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
	if (r < 0 || (size_t)r < pad) {
		free(buf);
		return -EILSEQ;
	}
	*out = buf;
	*outlen = (size_t)r - pad;
	return 0;
}

int sk_sign(const struct sk_key *k, const void *data, size_t len, char **sig_b64,
	    struct sk_error *err)
{
	EVP_MD_CTX *ctx;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *b64 = NULL;
	int ret = 0;

	if (!sk_key_is_private(k))
		return sk_errf(err, -EINVAL, "cannot sign with a public key");
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (EVP_DigestSignInit_ex(ctx, NULL, digest_for(k), NULL, NULL, sk_trust_key_pkey(k),
				  NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1) {
		ret = sk_errf(err, -EIO, "cannot sign with the %s key (OpenSSL failed)",
			      sk_key_type_name(k));
		goto out;
	}
	sig = malloc(siglen);
	b64 = malloc(4 * ((siglen + 2) / 3) + 1);
	if (!sig || !b64) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1) {
		ret = sk_errf(err, -EIO, "cannot sign with the %s key (OpenSSL failed)",
			      sk_key_type_name(k));
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	*sig_b64 = b64;
	b64 = NULL;
out:
	ERR_clear_error();
	free(b64);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return ret;
}

static int verify_raw(const struct sk_key *k, const void *data, size_t len, const uint8_t *sig,
		      size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestVerifyInit_ex(ctx, NULL, digest_for(k), NULL, NULL, sk_trust_key_pkey(k),
				     NULL) == 1 &&
	     EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EKEYREJECTED;
}

int sk_verify_any(struct sk_key *const *keys, size_t n, const void *data, size_t len,
		  const char *sig_b64, size_t *matched, struct sk_error *err)
{
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int ret;

	ret = b64_decode(sig_b64, &sig, &siglen);
	if (ret == -ENOMEM)
		return sk_errf(err, ret, "out of memory");
	if (ret)
		return sk_errf(err, ret, "corrupted signature: not valid base64");
	ret = sk_errf(err, -EKEYREJECTED, "the signature does not verify with %s",
		      n == 1 ? "the key" : "any of the keys");
	for (size_t i = 0; i < n; i++) {
		int r = verify_raw(keys[i], data, len, sig, siglen);

		if (r == -ENOMEM) {
			ret = sk_errf(err, r, "out of memory");
			break;
		}
		if (!r) {
			if (matched)
				*matched = i;
			ret = 0;
			break;
		}
	}
	free(sig);
	return ret;
}

int sk_verify(const struct sk_key *k, const void *data, size_t len, const char *sig_b64,
	      struct sk_error *err)
{
	struct sk_key *keys[1] = {(struct sk_key *)k};

	return sk_verify_any(keys, 1, data, len, sig_b64, NULL, err);
}
