/* The mpc-party process harness of the loopback tests (see party.h). */
#include "tests/support/party.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double party_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

pid_t party_spawn(char *const argv[], const char *log, const char *env) {
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		/* no process outlives a test that dies (a timeout, an abort) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (env)
			putenv((char *)env);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

pid_t party_spawn_sh(const char *cmd, const char *log) {
	char *const argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	return party_spawn(argv, log, NULL);
}

int party_wait(pid_t pid, double secs) {
	double end = party_now() + secs;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
		if (party_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1000;
		}
		usleep(10000);
	}
}

char *party_slurp(const char *path) {
	static char buf[1 << 17];
	FILE *fp = fopen(path, "r");
	size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
	buf[n] = '\0';
	if (fp)
		fclose(fp);
	return buf;
}

int party_run_cmd(const char *cmd) {
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int party_setup(char bin[128], char dir[128], const char *tag, const char *gen_args,
                const char *const names[], int n, char fps[][128]) {
	const char *b = getenv("BUILD");
	char cmd[2048];
	snprintf(bin, 128, "%s/bin", b ? b : "build");
	snprintf(dir, 128, "/tmp/%s-%d", tag, (int)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s && %s/gen_data %s --out %s", dir, dir,
	         bin, gen_args, dir);
	if (party_run_cmd(cmd) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char out[256];
		snprintf(cmd, sizeof(cmd),
		         "%s/mpc-party keygen --out %s/keys-%s --name %s > %s/kg-%s", bin, dir,
		         names[i], names[i], dir, names[i]);
		if (party_run_cmd(cmd) != 0)
			return -1;
		snprintf(out, sizeof(out), "%s/kg-%s", dir, names[i]);
		char *t = strstr(party_slurp(out), "fingerprint: ");
		if (t == NULL || sscanf(t + 13, "%127s", fps[i]) != 1)
			return -1;
	}
	return 0;
}

int party_remove_dir(const char *dir) {
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return party_run_cmd(cmd) == 0 ? 0 : -1;
}

int party_output_exists(const char *dir, const char *name) {
	char path[600];
	struct stat st;
	snprintf(path, sizeof(path), "%s/out-%s.csv", dir, name);
	return stat(path, &st) == 0;
}

const char *party_log(const char *dir, const char *name) {
	char path[600];
	snprintf(path, sizeof(path), "%s/log-%s", dir, name);
	return party_slurp(path);
}

void party_args_add(party_args *pa, const char *fmt, ...) {
	va_list ap;
	if (pa->k >= PARTY_MAX_ARGS)
		abort(); /* a test's own mistake */
	va_start(ap, fmt);
	vsnprintf(pa->a[pa->k++], sizeof(pa->a[0]), fmt, ap);
	va_end(ap);
}

void party_args_run(party_args *pa, const char *bin, const char *dir, const char *job,
                    const char *name) {
	pa->k = 0;
	party_args_add(pa, "%s/mpc-party", bin);
	party_args_add(pa, "run");
	party_args_add(pa, "--job");
	party_args_add(pa, "%s", job);
	party_args_add(pa, "--party");
	party_args_add(pa, "%s", name);
	party_args_add(pa, "--keys");
	party_args_add(pa, "%s/keys-%s", dir, name);
}

char **party_args_argv(party_args *pa) {
	for (int j = 0; j < pa->k; j++)
		pa->argv[j] = pa->a[j];
	pa->argv[pa->k] = NULL;
	return pa->argv;
}

void party_wait_all(const pid_t pid[], int n, int codes[], double t_end[], double secs) {
	int left = 0;
	double t0 = party_now();
	for (int i = 0; i < n; i++) {
		codes[i] = pid[i] < 0 ? 0 : -1000;
		t_end[i] = t0;
		left += pid[i] >= 0;
	}
	while (left > 0 && party_now() - t0 < secs) {
		for (int i = 0; i < n; i++) {
			int st;
			if (codes[i] != -1000 || waitpid(pid[i], &st, WNOHANG) != pid[i])
				continue;
			codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
			t_end[i] = party_now();
			left--;
		}
		usleep(5000);
	}
	for (int i = 0; i < n; i++)
		if (codes[i] == -1000)
			codes[i] = party_wait(pid[i], 0);
}

int party_clear_stats_agrees(const char *bin, const char *dir, const char *job,
                             const char *result) {
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "%s/clear_stats --job %s --compare %s %s/merchant0.csv %s/merchant1.csv "
	         "%s/merchant2.csv > %s/clear.txt 2>&1",
	         bin, job, result, dir, dir, dir, dir);
	int rc = party_run_cmd(cmd);
	snprintf(cmd, sizeof(cmd), "%s/clear.txt", dir);
	int agree = rc == 0 && strstr(party_slurp(cmd), "AGREE") != NULL;
	if (!agree)
		fprintf(stderr, "clear_stats (exit %d):\n%s\n", rc, party_slurp(cmd));
	return agree;
}
