/* The tests' throwaway PostgreSQL server (see pg.h). */
#include "tests/support/pg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define INSTALL_HINT "install it with: sudo apt-get install -y postgresql"

struct pgtest {
	char dir[256]; /* data/, the socket, the logs */
	char bin[512]; /* initdb, pg_ctl, postgres */
	int as_user;   /* 1: run them as uid/gid (we are root) */
	uid_t uid;
	gid_t gid;
	int port;
	pid_t watcher; /* stops the server if we die (see watch) */
	int watch_fd;  /* its pipe: a byte means "done already" */
	char conninfo[128];
};

/* The newest /usr/lib/postgresql/N/bin with an initdb, or $MPC_TEST_PG_BINDIR. */
static int find_bindir(char *out, size_t size) {
	const char *env = getenv("MPC_TEST_PG_BINDIR");
	char path[600];
	glob_t g;
	int best = -1;

	if (env != NULL && env[0] != '\0') {
		snprintf(path, sizeof(path), "%s/initdb", env);
		snprintf(out, size, "%s", env);
		return access(path, X_OK) == 0 ? 0 : -1;
	}
	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
		return -1;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *p = g.gl_pathv[i] + strlen("/usr/lib/postgresql/");
		int v = atoi(p);
		if (v > best && access(g.gl_pathv[i], X_OK) == 0) {
			best = v;
			snprintf(out, size, "%.*s", (int)(strchr(p, '/') - g.gl_pathv[i]),
			         g.gl_pathv[i]);
			strncat(out, "/bin", size - strlen(out) - 1);
		}
	}
	globfree(&g);
	return best >= 0 ? 0 : -1;
}

/* Run bin/argv[0] (argv NULL-terminated) as the server's user, its output
 * appended to dir/log; its exit status (-1 if it did not exit). */
static int run_tool(const pgtest *pg, const char *log, char **argv) {
	char exe[600], logpath[320];
	static char *const env[] = {"LC_ALL=C", "PATH=/usr/bin:/bin", "TZ=UTC", NULL};

	snprintf(exe, sizeof(exe), "%s/%s", pg->bin, argv[0]);
	snprintf(logpath, sizeof(logpath), "%s/%s", pg->dir, log);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (pg->as_user &&
		    (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0))
			_exit(126);
		int in = open("/dev/null", O_RDONLY);
		int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
		    chdir(pg->dir) != 0)
			_exit(126);
		argv[0] = exe; /* initdb and pg_ctl find postgres beside their own path */
		execve(exe, argv, env);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The end of dir/log on one line, into buf. */
static void log_tail(const pgtest *pg, const char *log, char *buf, size_t size) {
	char path[320], text[400];
	size_t n = 0;
	snprintf(path, sizeof(path), "%s/%s", pg->dir, log);
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		if (fseek(f, -(long)(sizeof(text) - 1), SEEK_END) != 0)
			rewind(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (text[i] == '\n' || text[i] == '\t')
			text[i] = ' ';
	snprintf(buf, size, "%s", n ? text : "(no log)");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void stop_and_remove(pgtest *pg) {
	char data[300];
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	char *argv[] = {"pg_ctl", "stop", "-D", data, "-m", "immediate", "-w", "-t", "30", NULL};
	if (pg->port > 0)
		(void)run_tool(pg, "ctl.log", argv);
	nftw(pg->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The watcher: waits on a pipe whose other end only we hold (close-on-exec,
 * so no server process keeps it). At end of file without a byte we died:
 * stop the server and remove its directory. Signals to the process group
 * (^C) do not stop it. */
static void watch(pgtest *pg) {
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		ssize_t n;
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		close(fds[1]);
		while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (n != 1)
			stop_and_remove(pg);
		_exit(0);
	}
	close(fds[0]);
	if (pid < 0) {
		close(fds[1]);
		return;
	}
	pg->watcher = pid;
	pg->watch_fd = fds[1];
}

/* A port the kernel reports free now (0 if none). */
static int free_port(void) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

/* initdb, then pg_ctl start on a free port (three tries: a port may be taken
 * between free_port and the server's bind). */
static int init_and_start(pgtest *pg, char *why, size_t size) {
	char data[300], opts[512], tail[400];
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	char *init[] = {"initdb", "-D", data,   "-U",          "mpc",       "-A",
	                "trust",  "-E", "UTF8", "--no-locale", "--no-sync", NULL};
	if (run_tool(pg, "initdb.log", init) != 0) {
		log_tail(pg, "initdb.log", tail, sizeof(tail));
		snprintf(why, size, "initdb failed: %s", tail);
		return -1;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		if ((pg->port = free_port()) == 0)
			continue;
		snprintf(opts, sizeof(opts),
		         "-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s "
		         "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
		         "-c max_connections=20 -c shared_buffers=16MB",
		         pg->port, pg->dir);
		char *start[] = {"pg_ctl", "start", "-D", data, "-l", "server.log",
		                 "-w",     "-t",    "30", "-o", opts, NULL};
		if (run_tool(pg, "ctl.log", start) == 0)
			return 0;
		char *stop[] = {"pg_ctl", "stop", "-D", data, "-m", "immediate", NULL};
		(void)run_tool(pg, "ctl.log", stop);
	}
	log_tail(pg, "server.log", tail, sizeof(tail));
	snprintf(why, size, "the server did not start: %s", tail);
	pg->port = 0;
	return -1;
}

pgtest *pgtest_start(char *why, size_t size) {
	pgtest *pg = calloc(1, sizeof(*pg));
	const char *tmp = getenv("TMPDIR");
	if (pg == NULL) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	pg->watch_fd = -1;
	if (find_bindir(pg->bin, sizeof(pg->bin)) != 0) {
		snprintf(why, size, "PostgreSQL's server is not installed (no initdb in %s): %s",
		         getenv("MPC_TEST_PG_BINDIR") ? "$MPC_TEST_PG_BINDIR"
		                                      : "/usr/lib/postgresql/*/bin",
		         INSTALL_HINT);
		free(pg);
		return NULL;
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		if (pw == NULL)
			pw = getpwnam("nobody");
		if (pw == NULL) {
			snprintf(why, size,
			         "running as root, and no user postgres or nobody to run "
			         "the server as (initdb refuses root)");
			free(pg);
			return NULL;
		}
		pg->as_user = 1, pg->uid = pw->pw_uid, pg->gid = pw->pw_gid;
	}
	/* as root, /tmp: the server's user may not reach into $TMPDIR */
	if (pg->as_user || tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(pg->dir, sizeof(pg->dir), "%s/mpc-pg-XXXXXX", tmp);
	if (mkdtemp(pg->dir) == NULL || (pg->as_user && chown(pg->dir, pg->uid, pg->gid) != 0)) {
		snprintf(why, size, "cannot make the directory %s: %s", pg->dir, strerror(errno));
		free(pg);
		return NULL;
	}
	if (init_and_start(pg, why, size) != 0) {
		stop_and_remove(pg);
		free(pg);
		return NULL;
	}
	snprintf(pg->conninfo, sizeof(pg->conninfo),
	         "host=127.0.0.1 port=%d user=mpc dbname=postgres", pg->port);
	watch(pg);
	return pg;
}

const char *pgtest_conninfo(const pgtest *pg) {
	return pg->conninfo;
}

int pgtest_port(const pgtest *pg) {
	return pg->port;
}

void pgtest_stop(pgtest *pg) {
	if (pg == NULL)
		return;
	stop_and_remove(pg);
	if (pg->watch_fd >= 0) {
		char done = 1;
		(void)!write(pg->watch_fd, &done, 1);
		close(pg->watch_fd);
		waitpid(pg->watcher, NULL, 0);
	}
	free(pg);
}
