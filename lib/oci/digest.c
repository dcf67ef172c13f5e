/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "schedkit/oci.h"

#define SHA256_PREFIX  "sha256:"
#define SHA256_HEX_LEN 64

struct sk_hasher {
	EVP_MD_CTX *ctx;
};

static void format_digest(const unsigned char md[32], char out[SK_DIGEST_MAX])
{
	static const char hex[] = "0123456789abcdef";
	size_t off = strlen(SHA256_PREFIX);

	memcpy(out, SHA256_PREFIX, off);
	for (size_t i = 0; i < 32; i++) {
		out[off++] = hex[md[i] >> 4];
		out[off++] = hex[md[i] & 0xf];
	}
	out[off] = '\0';
}

void sk_digest_buf(const void *data, size_t len, char out[SK_DIGEST_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* SHA-256 over a memory buffer cannot fail short of OpenSSL itself being broken. */
	if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		abort();
	format_digest(md, out);
}

bool sk_digest_valid(const char *digest)
{
	size_t plen = strlen(SHA256_PREFIX);

	if (!digest || strncmp(digest, SHA256_PREFIX, plen))
		return false;
	for (size_t i = 0; i < SHA256_HEX_LEN; i++) {
		char c = digest[plen + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return digest[plen + SHA256_HEX_LEN] == '\0';
}

int sk_digest_check(const void *data, size_t len, const char *expected, const char *what,
		    struct sk_error *err)
{
	char got[SK_DIGEST_MAX];

	if (!sk_digest_valid(expected))
		return sk_errf(err, -EINVAL,
			       "%s: '%s' is not a valid digest (expected sha256: and 64 lowercase "
			       "hex digits)",
			       what, expected ? expected : "(null)");
	sk_digest_buf(data, len, got);
	if (strcmp(got, expected))
		return sk_errf(
		    err, -EBADMSG,
		    "%s: digest mismatch: expected %s, content hashes to %s; the content "
		    "is corrupt or was tampered with, fetch or build it again",
		    what, expected, got);
	return 0;
}

struct sk_hasher *sk_hasher_new(void)
{
	struct sk_hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
		sk_hasher_free(h);
		return NULL;
	}
	return h;
}

void sk_hasher_update(struct sk_hasher *h, const void *data, size_t len)
{
	if (!h || !len)
		return;
	if (!EVP_DigestUpdate(h->ctx, data, len))
		abort();
}

void sk_hasher_final(struct sk_hasher *h, char out[SK_DIGEST_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_DigestFinal_ex(h->ctx, md, &mdlen) || mdlen != 32)
		abort();
	format_digest(md, out);
	sk_hasher_free(h);
}

void sk_hasher_free(struct sk_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}
