/* SPDX-License-Identifier: Apache-2.0 */
/* lib/transfer internals: signatures as found in a source or the store. */
#ifndef SK_TRANSFER_INTERNAL_H
#define SK_TRANSFER_INTERNAL_H

#include "schedkit/store.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

/* Signature layers read per digest; more are skipped and counted. */
#define SK_SIGS_READ_MAX 64
/* Verified signatures the store keeps per digest. */
#define SK_SIGS_KEEP_MAX 32

/* Signatures of one digest, each payload verified against its layer digest. */
struct sk_sigset {
	struct sk_sig_list list;
	struct sk_buf *payloads; /* one per list entry as read */
	size_t npayloads;	 /* the list may grow past them when added to */
	size_t skipped;		 /* layers not read: malformed, unreadable or surplus */
	bool found;		 /* a signature manifest existed */
};

void sk_sigset_free(struct sk_sigset *s);
/* Reads the sha256-<hex>.sig manifest of digest and its payloads from f. */
int sk_sigset_fetch(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
		    struct sk_error *err);
/* The same from the store (signatures kept by earlier pulls: all verified then). */
int sk_sigset_stored(struct sk_store *st, const char *digest, struct sk_sigset *out,
		     struct sk_error *err);
/* Judges a set; accepted (may be NULL) gets one flag per entry. */
int sk_sigset_judge(const struct sk_sigset *set, const struct sk_verify_opts *o,
		    const char *identity, const char *digest, struct sk_verify_result *res,
		    bool *accepted, struct sk_error *err);
/*
 * Adds the accepted signatures of fresh to those the store keeps for digest
 * (deduplicated, at most SK_SIGS_KEEP_MAX) and records the result.
 */
int sk_sigset_keep(struct sk_store *st, const char *digest, const struct sk_sigset *fresh,
		   const bool *accepted, struct sk_error *err);

#endif
