/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attach_timer: measures, inside the sched_ext guest, how long a loader takes
 * from its start to /sys/kernel/sched_ext/state reading "enabled". busybox
 * date has no sub-second clock, hence this helper.
 *
 *   attach_timer SETTLE_MS LOG -- LOADER ARGS...
 *
 * Starts LOADER (output to LOG), polls the state file every 0.5 ms on
 * CLOCK_MONOTONIC, reads the loader's VmHWM/VmRSS right after the attach and
 * again SETTLE_MS later, then sends SIGTERM and waits for the loader to exit
 * and the state to return to "disabled", so the next run starts clean.
 * Prints one line:
 *   attach_us=N hwm_kb=N rss_kb=N settled_hwm_kb=N settled_rss_kb=N exit=N
 * Exits non-zero (with the reason on stderr) when the loader dies or never
 * attaches within 60 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATE_PATH "/sys/kernel/sched_ext/state"

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Returns 1 when the state file starts with WANT, 0 otherwise, -1 on error. */
static int state_is(const char *want)
{
	char buf[32] = {0};
	int fd = open(STATE_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	return strncmp(buf, want, strlen(want)) == 0 && buf[strlen(want)] == '\n';
}

/* Reads VmHWM and VmRSS (kB) of PID; 0 when a field is missing. */
static void mem_kb(pid_t pid, long *hwm, long *rss)
{
	char path[64], line[256];
	FILE *f;

	*hwm = 0;
	*rss = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmHWM:", 6))
			*hwm = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "VmRSS:", 6))
			*rss = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

static int wait_exit(pid_t pid, int *code)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int main(int argc, char **argv)
{
	long hwm, rss, shwm, srss, settle_ms;
	long long t0, t1 = 0, deadline;
	int code = -1, st;
	pid_t pid;

	if (argc < 5 || strcmp(argv[3], "--")) {
		fprintf(stderr, "usage: attach_timer SETTLE_MS LOG -- LOADER ARGS...\n");
		return 2;
	}
	settle_ms = strtol(argv[1], NULL, 10);
	if (state_is("disabled") != 1) {
		fprintf(stderr, "attach_timer: %s is not 'disabled' before the run\n", STATE_PATH);
		return 1;
	}
	t0 = now_us();
	pid = fork();
	if (pid < 0) {
		perror("attach_timer: fork");
		return 1;
	}
	if (pid == 0) {
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[4], argv + 4);
		perror("attach_timer: exec");
		_exit(127);
	}
	deadline = t0 + 60LL * 1000000;
	for (;;) {
		if (state_is("enabled") == 1) {
			t1 = now_us();
			break;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr,
				"attach_timer: %s exited (status %d) before attaching; see %s\n",
				argv[4], st, argv[2]);
			return 1;
		}
		if (now_us() > deadline) {
			fprintf(stderr, "attach_timer: %s did not attach within 60 s\n", argv[4]);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 1;
		}
		sleep_us(500);
	}
	mem_kb(pid, &hwm, &rss);
	sleep_us(settle_ms * 1000);
	mem_kb(pid, &shwm, &srss);
	kill(pid, SIGTERM);
	if (wait_exit(pid, &code)) {
		perror("attach_timer: waitpid");
		return 1;
	}
	deadline = now_us() + 10LL * 1000000;
	while (state_is("disabled") != 1) {
		if (now_us() > deadline) {
			fprintf(stderr, "attach_timer: state not 'disabled' 10 s after exit\n");
			return 1;
		}
		sleep_us(1000);
	}
	printf("attach_us=%lld hwm_kb=%ld rss_kb=%ld settled_hwm_kb=%ld settled_rss_kb=%ld "
	       "exit=%d\n",
	       t1 - t0, hwm, rss, shwm, srss, code);
	return code == 0 ? 0 : 1;
}
