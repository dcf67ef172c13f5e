/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"

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
