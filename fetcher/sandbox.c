/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Landlock: whatever a hostile registry or archive makes of this process, it
 * can read only libraries and configuration, and write only into staging.
 * (The kernel drops every capability when skrun switches us to an
 * unprivileged uid, and no_new_privs is set before exec.)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fetch.h"

#define FS_READ                                                                                    \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

static uint64_t handled_for(int abi)
{
	uint64_t h = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* the 13 rights of ABI 1 */

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return h;
}

static int allow(int ruleset, int fd, uint64_t access)
{
	struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};

	return (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
}

static void allow_path(int ruleset, const char *path, uint64_t access)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	/* a directory this system lacks (/lib64 on some) needs no rule */
	if (fd < 0)
		return;
	allow(ruleset, fd, access);
	close(fd);
}

int skf_sandbox(int stage_fd, bool ca, char *desc, size_t len)
{
	/* /proc/self: the sanitizers of a debug build read their own maps */
	static const char *const ro[] = {"/usr", "/lib", "/lib64",     "/bin", "/sbin",
					 "/etc", "/run", "/proc/self", NULL};
	struct landlock_ruleset_attr attr = {0};
	int abi, ruleset;
	uint64_t handled;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		snprintf(desc, len,
			 "no landlock (%s): confined by uid and no_new_privs only; seccomp not "
			 "used",
			 errno == ENOSYS ? "the kernel has no Landlock" : strerror(errno));
		return 0;
	}
	handled = handled_for(abi);
	attr.handled_access_fs = handled;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0) {
		snprintf(desc, len, "no landlock (ruleset: %s)", strerror(errno));
		return 0;
	}
	for (size_t i = 0; ro[i]; i++)
		allow_path(ruleset, ro[i], FS_READ & handled);
	allow_path(ruleset, "/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE);
	if (ca)
		allow(ruleset, FD_CA, LANDLOCK_ACCESS_FS_READ_FILE);
	if (allow(ruleset, stage_fd, handled & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE)) {
		snprintf(desc, len, "no landlock (staging rule: %s)", strerror(errno));
		close(ruleset);
		return 0;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_landlock_restrict_self, ruleset, 0)) {
		int e = errno;

		close(ruleset);
		snprintf(desc, len, "landlock failed: %s", strerror(e));
		return -e;
	}
	close(ruleset);
	snprintf(desc, len, "landlock ABI %d: reads system directories only, writes only staging",
		 abi);
	return 0;
}
