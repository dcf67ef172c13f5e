/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "schedkit/common.h"

void skb_cache_dir(char *buf, size_t sz, const char *sub)
{
	const char *env = getenv("SCHEDKIT_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		snprintf(buf, sz, "%s/%s", env, sub);
	else if (xdg && *xdg)
		snprintf(buf, sz, "%s/schedkit/%s", xdg, sub);
	else if (home && *home)
		snprintf(buf, sz, "%s/.cache/schedkit/%s", home, sub);
	else
		snprintf(buf, sz, "/var/cache/schedkit/%s", sub);
}

char *skb_data_path(const char *installed, const char *in_source)
{
	const char *env = getenv("SCHEDKIT_DATADIR");
	char exe[4096], cand[4400];
	ssize_t n;

	if (env && *env)
		return sk_path_join(env, installed);
	/* an installed skbuild: PREFIX/bin/skbuild next to PREFIX/share/schedkit */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(cand, sizeof(cand), "%s/../share/schedkit/%s", exe, installed);
		if (!access(cand, F_OK))
			return realpath(cand, NULL);
	}
	return sk_path_join(SK_SRC_DATADIR, in_source);
}

char *skb_sibling_tool(const char *name)
{
	char exe[4096], cand[4400];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(cand, sizeof(cand), "%s/%s", exe, name);
		if (!access(cand, X_OK))
			return strdup(cand);
	}
	return NULL;
}
