/* A throwaway PostgreSQL server for the tests: a fresh cluster in a temporary
 * directory (initdb from Debian's /usr/lib/postgresql/N/bin, the newest N,
 * or $MPC_TEST_PG_BINDIR), trust authentication, listening on 127.0.0.1 on a
 * free port with its socket in that directory, fsync off. As root it runs as
 * the `postgres` user (or `nobody`): initdb and postgres refuse root. A
 * watcher process stops it and removes the directory if the test process
 * dies without pgtest_stop. */
#ifndef MPC_TEST_PG_H
#define MPC_TEST_PG_H

#include <stddef.h>

typedef struct pgtest pgtest;

/* Start a server (a few seconds). NULL when it cannot: why[0..size) then
 * says why, and what to install where that is the reason (the test skips). */
pgtest *pgtest_start(char *why, size_t size);

/* "host=127.0.0.1 port=P user=mpc dbname=postgres": the superuser mpc,
 * trusted (borrowed, valid until pgtest_stop). */
const char *pgtest_conninfo(const pgtest *pg);
int pgtest_port(const pgtest *pg);

/* Stop the server (immediate) and remove its directory; NULL does nothing. */
void pgtest_stop(pgtest *pg);

#endif
