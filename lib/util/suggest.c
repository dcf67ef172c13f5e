/* SPDX-License-Identifier: Apache-2.0 */
/* "did you mean": the known name closest to a mistyped one. */
#include <ctype.h>
#include <string.h>

#include "schedkit/common.h"

#define WORD_MAX 64

/* Levenshtein distance, case-insensitive, of two short words. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[WORD_MAX + 1];

	if (la > WORD_MAX || lb > WORD_MAX)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], cost = tolower((unsigned char)a[i - 1]) !=
						   tolower((unsigned char)b[j - 1]);
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *sk_suggest(const char *word, const char *const *candidates, size_t n)
{
	size_t len = strlen(word), limit = len / 3 > 2 ? len / 3 : 2, best = (size_t)-1;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = candidates[i] ? distance(word, candidates[i]) : (size_t)-1;

		/* a distance as long as the word is no resemblance */
		if (d < best && d <= limit && d < len) {
			best = d;
			pick = candidates[i];
		}
	}
	return pick;
}
