/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci-archive files (tar, maybe gzip or zstd compressed) from anywhere:
 * sk_archive_extract into an empty directory. Whatever the archive holds,
 * nothing may appear outside the destination, and inside it only regular
 * files and directories with an OCI layout's names.
 */
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "schedkit/store.h"

static char tar_path[512], dest[512], sentinel[512];
static char top_names[3][16] = {"in.tar", "dest", "sentinel"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(tar_path, sizeof(tar_path), "%s/in.tar", fz_scratch_dir());
	snprintf(dest, sizeof(dest), "%s/dest", fz_scratch_dir());
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", fz_scratch_dir());
	fz_write(sentinel, "keep", 4);
	atexit(fz_remove_scratch);
	return 0;
}

static bool allowed(const char *rel, const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return !strcmp(rel, "") || !strcmp(rel, "blobs") || !strcmp(rel, "blobs/sha256");
	if (!S_ISREG(st->st_mode))
		return false;
	if (!strcmp(rel, "oci-layout") || !strcmp(rel, "index.json"))
		return true;
	return !strncmp(rel, "blobs/sha256/", 13) && strlen(rel + 13) == 64 &&
	       strspn(rel + 13, "0123456789abcdef") == 64;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + strlen(dest);

	(void)ftw;
	if (*rel == '/')
		rel++;
	FZ_ASSERT(flag != FTW_SL && flag != FTW_SLN, "symlink %s extracted", path);
	FZ_ASSERT(allowed(rel, st), "unexpected %s (mode %o) extracted", path, st->st_mode);
	return 0;
}

static void check_outside(void)
{
	DIR *d = opendir(fz_scratch_dir());
	struct dirent *e;
	struct stat st;

	FZ_ASSERT(d, "scratch directory vanished");
	while ((e = readdir(d))) {
		bool known = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");

		for (size_t i = 0; i < 3; i++)
			known = known || !strcmp(e->d_name, top_names[i]);
		FZ_ASSERT(known, "%s/%s created outside the destination", fz_scratch_dir(),
			  e->d_name);
	}
	closedir(d);
	FZ_ASSERT(!lstat(sentinel, &st) && S_ISREG(st.st_mode) && st.st_size == 4,
		  "a file next to the destination was changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	int ret;

	sk_rm_rf(dest);
	FZ_ASSERT(!mkdir(dest, 0755), "mkdir %s: %s", dest, strerror(errno));
	fz_write(tar_path, data, size);
	/* 8 MiB in all: enough for a real scheduler artifact, small enough to stay fast. */
	ret = sk_archive_extract(tar_path, dest, 8u << 20, &err);
	FZ_CHECK_ERROR(ret, &err);
	FZ_ASSERT(!nftw(dest, visit, 16, FTW_PHYS), "walking %s failed", dest);
	check_outside();
	return 0;
}
