/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "schedkit/common.h"

/* Parenthesized: common.h may define sk_errf as a macro for the static analyzer. */
int(sk_errf)(struct sk_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int sk_err_prefix(struct sk_error *err, const char *fmt, ...)
{
	char old[SK_ERROR_MSG_MAX];
	char pre[512];
	va_list ap;

	/* Callers write `return sk_err_prefix(...)` after a failure: never turn it into 0. */
	if (!err)
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s%s", pre, old);
	return err->code;
}
