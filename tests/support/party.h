/* The harness of the tests that run the real mpc-party binary
 * (test_party_cli, test_party_jobs): start a process with its output in a
 * log file, wait for it with a deadline, read a file back, run a shell
 * command, make the keys and the sample data, and build argument lists. */
#ifndef MPC_TEST_PARTY_H
#define MPC_TEST_PARTY_H

#include <stddef.h>
#include <sys/types.h>

/* Seconds on the monotonic clock. */
double party_now(void);

/* Fork and exec argv (argv[0] a path) with stdout and stderr to the file
 * log, with env ("NAME=value", or NULL) added to the environment. The
 * child's pid (-1 if fork failed). */
pid_t party_spawn(char *const argv[], const char *log, const char *env);

/* Start `/bin/sh -c cmd` (cmd makes its own redirections; anything else the
 * shell says goes to log): the pid (-1 if fork failed), for party_wait or
 * party_wait_all, which then give cmd's exit code. */
pid_t party_spawn_sh(const char *cmd, const char *log);

/* Wait for pid up to secs, SIGKILL it after that: its exit code, -signal
 * if a signal ended it, or -1000 if it was killed for the deadline. */
int party_wait(pid_t pid, double secs);

/* The file's first 128 KiB as a string ("" if it cannot be read), in a
 * static buffer that the next call overwrites. */
char *party_slurp(const char *path);

/* Wait for the n processes pid[] (-1: none) together, up to secs, then
 * SIGKILL the rest: codes[i] as party_wait gives it (0 for none), t_end[i]
 * when it ended on the monotonic clock. */
void party_wait_all(const pid_t pid[], int n, int codes[], double t_end[], double secs);

/* system(cmd): its exit code, or -1 if it did not exit. */
int party_run_cmd(const char *cmd);

/* The set-up of a run: bin = $BUILD/bin (default build/bin), dir =
 * /tmp/TAG-PID made empty with `gen_data GEN_ARGS --out dir` in it, and
 * `mpc-party keygen` for names[0..n-1] into dir/keys-NAME, their
 * fingerprints into fps. 0, or -1 if a step failed. */
int party_setup(char bin[128], char dir[128], const char *tag, const char *gen_args,
                const char *const names[], int n, char fps[][128]);

/* `BIN/clear_stats --job JOB --compare RESULT DIR/merchant0.csv
 * DIR/merchant1.csv DIR/merchant2.csv` (its output in DIR/clear.txt): 1 if
 * it exits 0 saying AGREE; otherwise 0, with its output on stderr. */
int party_clear_stats_agrees(const char *bin, const char *dir, const char *job, const char *result);

/* rm -rf dir: 0, or -1. */
int party_remove_dir(const char *dir);

/* 1 if dir/out-NAME.csv exists. */
int party_output_exists(const char *dir, const char *name);

/* The log of name's last run, dir/log-NAME (see party_slurp). */
const char *party_log(const char *dir, const char *name);

/* An argument list under construction (at most PARTY_MAX_ARGS arguments of
 * up to 511 characters each). */
#define PARTY_MAX_ARGS 24
typedef struct {
	char a[PARTY_MAX_ARGS][512];
	char *argv[PARTY_MAX_ARGS + 1];
	int k;
} party_args;

/* Append one argument, printf-style. */
void party_args_add(party_args *pa, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `BIN/mpc-party run --job JOB --party NAME --keys DIR/keys-NAME` into a
 * fresh pa. */
void party_args_run(party_args *pa, const char *bin, const char *dir, const char *job,
                    const char *name);

/* The NULL-terminated argv of pa (valid while pa is). */
char **party_args_argv(party_args *pa);

#endif
