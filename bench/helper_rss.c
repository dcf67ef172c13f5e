/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper_rss: measures the fetch helper's peak RSS for the benchmark, and
 * nothing else. bench/bench.py builds it with -DREAL_HELPER="path/skrun-fetch"
 * and names it in $SKRUN_FETCH_HELPER, so skrun starts this in the helper's
 * place (already unprivileged, with the helper's descriptors and arguments).
 * It runs the real helper as its child with everything inherited, waits for
 * it, writes "helper_rss: peak_kb=N exit=N" to stderr (skrun's, which the
 * helper shares) and exits with the helper's status. ru_maxrss of a waited
 * child is that process's own peak, without skrun's.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef REAL_HELPER
#error "build with -DREAL_HELPER=\"/path/to/skrun-fetch\""
#endif

int main(int argc, char **argv)
{
	struct rusage ru;
	int st, code;
	pid_t pid;

	(void)argc;
	pid = fork();
	if (pid < 0) {
		perror("helper_rss: fork");
		return 1;
	}
	if (pid == 0) {
		argv[0] = REAL_HELPER;
		execv(REAL_HELPER, argv);
		perror("helper_rss: exec " REAL_HELPER);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid) {
		perror("helper_rss: wait4");
		return 1;
	}
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fprintf(stderr, "helper_rss: peak_kb=%ld exit=%d\n", ru.ru_maxrss, code);
	return code;
}
