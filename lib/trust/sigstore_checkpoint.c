/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transparency log proofs: RFC 6962/9162 Merkle inclusion proofs and signed
 * checkpoints (C2SP tlog-checkpoint in the C2SP signed-note format).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "sigstore_internal.h"

static int sha256_parts(const uint8_t prefix, const void *a, size_t alen, const void *b,
			size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, &prefix, 1) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
	     (!blen || EVP_DigestUpdate(ctx, b, blen) == 1) &&
	     EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -EIO;
}

int sk_merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[32])
{
	return sha256_parts(0x00, leaf, len, NULL, 0, out);
}

int sk_merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
	return sha256_parts(0x01, left, 32, right, 32, out);
}

int sk_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[32],
			       const uint8_t (*path)[32], size_t n, const uint8_t root[32],
			       struct sk_error *err)
{
	uint64_t fn = index, sn;
	uint8_t r[32];
	char got[65], want[65];
	int ret;

	if (index >= size)
		return sk_errf(err, -EBADMSG,
			       "inclusion proof: leaf index %llu is outside a tree of %llu leaves",
			       (unsigned long long)index, (unsigned long long)size);
	sn = size - 1;
	memcpy(r, leaf, 32);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return sk_errf(err, -EBADMSG,
				       "inclusion proof has %zu hashes, more than a tree of %llu "
				       "leaves needs at index %llu",
				       n, (unsigned long long)size, (unsigned long long)index);
		if ((fn & 1) || fn == sn) {
			ret = sk_merkle_node_hash(path[i], r, r);
			if (!(fn & 1))
				while (!(fn & 1) && fn) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			ret = sk_merkle_node_hash(r, path[i], r);
		}
		if (ret)
			return sk_errf(err, ret, "inclusion proof: hashing failed");
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return sk_errf(err, -EBADMSG,
			       "inclusion proof has %zu hashes, fewer than a tree of %llu leaves "
			       "needs at index %llu",
			       n, (unsigned long long)size, (unsigned long long)index);
	if (memcmp(r, root, 32)) {
		sk_ss_hex(r, 32, got);
		sk_ss_hex(root, 32, want);
		return sk_errf(err, -EBADMSG,
			       "inclusion proof does not hash to the checkpoint root (the path "
			       "gives %s, the root is %s)",
			       got, want);
	}
	return 0;
}

void sk_checkpoint_free(struct sk_checkpoint *c)
{
	if (!c)
		return;
	free(c->origin);
	for (size_t i = 0; i < c->n_sigs; i++) {
		free(c->sigs[i].name);
		free(c->sigs[i].sig);
	}
	free(c->sigs);
	memset(c, 0, sizeof(*c));
}

/* The next line of s[*off..len) without its '\n'; -1 when there is no complete line. */
static int next_line(const char *s, size_t len, size_t *off, const char **line, size_t *n)
{
	const char *nl;

	if (*off >= len)
		return -1;
	nl = memchr(s + *off, '\n', len - *off);
	if (!nl)
		return -1;
	*line = s + *off;
	*n = (size_t)(nl - *line);
	*off += *n + 1;
	return 0;
}

static int parse_sig_line(const char *line, size_t n, struct sk_checkpoint_sig *sig,
			  struct sk_error *err)
{
	static const char dash[] = "\xe2\x80\x94 "; /* U+2014 EM DASH, space */
	const char *name, *sp;
	struct sk_ss_bytes raw = {0};
	char *b64;
	int ret;

	if (n < sizeof(dash) - 1 || memcmp(line, dash, sizeof(dash) - 1))
		return sk_errf(err, -EBADMSG,
			       "checkpoint signature line does not start with \"\xe2\x80\x94 \": "
			       "\"%.*s\"",
			       (int)(n > 60 ? 60 : n), line);
	name = line + sizeof(dash) - 1;
	sp = memchr(name, ' ', n - (size_t)(name - line));
	if (!sp || sp == name)
		return sk_errf(err, -EBADMSG, "checkpoint signature line has no key name");
	b64 = strndup(sp + 1, n - (size_t)(sp + 1 - line));
	sig->name = strndup(name, (size_t)(sp - name));
	if (!b64 || !sig->name) {
		free(b64);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	ret = sk_ss_b64_decode(b64, "checkpoint signature", &raw, err);
	free(b64);
	if (ret)
		return ret;
	if (raw.len < 5) {
		sk_ss_bytes_free(&raw);
		return sk_errf(err, -EBADMSG, "checkpoint signature by %s is too short", sig->name);
	}
	memcpy(sig->hint, raw.data, 4);
	sig->sig_len = raw.len - 4;
	sig->sig = malloc(sig->sig_len);
	if (!sig->sig) {
		sk_ss_bytes_free(&raw);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	memcpy(sig->sig, raw.data + 4, sig->sig_len);
	sk_ss_bytes_free(&raw);
	return 0;
}

int sk_checkpoint_parse(const char *env, size_t len, struct sk_checkpoint *c, struct sk_error *err)
{
	const char *line, *sep = NULL;
	struct sk_ss_bytes root = {0};
	size_t n, off = 0;
	char buf[32], *end;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	/* The signed text ends at the last blank line; signature lines follow it. */
	for (size_t i = 0; i + 1 < len; i++)
		if (env[i] == '\n' && env[i + 1] == '\n')
			sep = env + i;
	if (!sep)
		return sk_errf(err, -EBADMSG, "checkpoint has no blank line before its signatures");
	c->text_len = (size_t)(sep - env) + 1;
	if (memchr(env, '\0', len))
		return sk_errf(err, -EBADMSG, "checkpoint contains a NUL byte");

	if (next_line(env, c->text_len, &off, &line, &n) || !n) {
		ret = sk_errf(err, -EBADMSG, "checkpoint has no origin line");
		goto cleanup;
	}
	c->origin = strndup(line, n);
	if (!c->origin) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto cleanup;
	}
	if (next_line(env, c->text_len, &off, &line, &n) || !n || n >= sizeof(buf) ||
	    !isdigit((unsigned char)line[0]) || (line[0] == '0' && n > 1)) {
		ret = sk_errf(err, -EBADMSG, "checkpoint line 2 is not a tree size");
		goto cleanup;
	}
	memcpy(buf, line, n);
	buf[n] = '\0';
	errno = 0;
	c->size = strtoull(buf, &end, 10);
	if (*end || errno) {
		ret = sk_errf(err, -EBADMSG, "checkpoint line 2 is not a tree size: \"%s\"", buf);
		goto cleanup;
	}
	if (next_line(env, c->text_len, &off, &line, &n) || !n || n >= 128) {
		ret = sk_errf(err, -EBADMSG, "checkpoint has no root hash line (line 3)");
		goto cleanup;
	}
	{
		char hash[128];

		memcpy(hash, line, n);
		hash[n] = '\0';
		ret = sk_ss_b64_decode(hash, "checkpoint root hash", &root, err);
	}
	if (ret)
		goto cleanup;
	if (root.len != 32) {
		ret =
		    sk_errf(err, -EBADMSG, "checkpoint root hash has %zu bytes, not 32", root.len);
		goto cleanup;
	}
	memcpy(c->root, root.data, 32);

	off = c->text_len + 1;
	while (!next_line(env, len, &off, &line, &n)) {
		struct sk_checkpoint_sig *sigs;

		if (c->n_sigs >= 64) {
			ret = sk_errf(err, -EBADMSG, "checkpoint has more than 64 signatures");
			goto cleanup;
		}
		sigs = realloc(c->sigs, (c->n_sigs + 1) * sizeof(*sigs));
		if (!sigs) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto cleanup;
		}
		c->sigs = sigs;
		memset(&c->sigs[c->n_sigs], 0, sizeof(*sigs));
		c->n_sigs++;
		ret = parse_sig_line(line, n, &c->sigs[c->n_sigs - 1], err);
		if (ret)
			goto cleanup;
	}
	if (off < len) {
		ret = sk_errf(err, -EBADMSG, "checkpoint does not end with a newline");
		goto cleanup;
	}
	if (!c->n_sigs)
		ret = sk_errf(err, -EBADMSG, "checkpoint carries no signature lines");
cleanup:
	sk_ss_bytes_free(&root);
	if (ret)
		sk_checkpoint_free(c);
	return ret;
}

int sk_ss_verify_checkpoint(const char *envelope, const struct sk_ss_log *log, uint64_t size,
			    const uint8_t root[32], struct sk_error *err)
{
	struct sk_checkpoint c;
	bool hinted = false;
	char names[256] = "";
	size_t off = 0;
	int ret;

	ret = sk_checkpoint_parse(envelope, strlen(envelope), &c, err);
	if (ret)
		return ret;
	/*
	 * A checkpoint may carry cosignatures of witnesses whose keys we do not
	 * know, in any order: only lines with this log's key hint count, and
	 * one of them must verify. The hint is the log ID's first four bytes
	 * for both Rekor v1 (ECDSA) and v2 (Ed25519 signed-note key IDs).
	 */
	ret = -EKEYREJECTED;
	for (size_t i = 0; i < c.n_sigs && ret; i++) {
		if (off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						off ? ", " : "", c.sigs[i].name);
		if (log->log_id_len < 4 || memcmp(c.sigs[i].hint, log->log_id, 4))
			continue;
		hinted = true;
		if (!sk_ss_verify_sig(log->key, envelope, c.text_len, c.sigs[i].sig,
				      c.sigs[i].sig_len))
			ret = 0;
	}
	if (ret && !hinted) {
		char hint[9];

		sk_ss_hex(log->log_id, 4, hint);
		ret = sk_errf(err, -EKEYREJECTED,
			      "checkpoint signed by an unknown key: none of its %zu signature "
			      "lines (%s) carries the key hint %s of log %s",
			      c.n_sigs, names, hint, log->base_url);
		goto cleanup;
	}
	if (ret) {
		ret = sk_errf(err, -EKEYREJECTED,
			      "checkpoint signature by log %s does not verify with its key",
			      log->base_url);
		goto cleanup;
	}
	if (c.size != size || memcmp(c.root, root, 32)) {
		ret =
		    sk_errf(err, -EBADMSG,
			    "checkpoint (tree size %llu) does not commit to the inclusion proof's "
			    "tree (size %llu%s)",
			    (unsigned long long)c.size, (unsigned long long)size,
			    c.size == size ? ", different root hash" : "");
		goto cleanup;
	}
cleanup:
	sk_checkpoint_free(&c);
	return ret;
}
