/* Transactions from a PostgreSQL query (jobs/mpc_pg.h). The rows are secret:
 * messages name the dataset, the row and the column, never a value, and the
 * connection string (it may hold a password) is never printed. libpq keeps
 * the result's text in its own memory: every value is wiped there before the
 * result is freed. */
#include "jobs/mpc_pg.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/mpc_wipe.h"

#define MAX_TIMEOUT_S 2000000 /* statement_timeout is an int of milliseconds */
#define GRACE_MS      2000    /* our wait for a query beyond the server's statement_timeout */

enum { COL_AMOUNT, COL_FRAUD, COL_CATEGORY, N_COLS };
static const char *const col_names[N_COLS] = {"amount", "fraud", "category"};

/* SQLSTATE classes whose messages speak of the query, the schema or the
 * server, not of a value: connection, feature, transaction state (read-only),
 * authorization, catalog and schema names, syntax and access, resources,
 * operator intervention (timeouts, shutdown). */
static const char *const shown_classes[] = {"08", "0A", "25", "28", "3D", "3F", "42", "53", "57"};

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's notices may quote data (RAISE NOTICE in a function): drop them. */
static void drop_notice(void *arg, const char *msg) {
	(void)arg;
	(void)msg;
}

/* libpq's multi-line text as one line, in buf. */
static const char *one_line(const char *s, char *buf, size_t size) {
	size_t n = 0;
	for (; s != NULL && *s != '\0' && n + 1 < size; s++)
		buf[n++] = (*s == '\n' || *s == '\t' || *s == '\r') ? ' ' : *s;
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

/* Wipe every value of r in libpq's memory, then free r; NULL does nothing. */
static void clear_result(PGresult *r) {
	if (r == NULL)
		return;
	int rows = PQntuples(r), cols = PQnfields(r);
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++)
			if (!PQgetisnull(r, i, j))
				mpc_wipe(PQgetvalue(r, i, j), (size_t)PQgetlength(r, i, j));
	PQclear(r);
}

/* libpq's parser echoes pieces of a string it cannot parse (a password
 * among them): parse it first and say only that it failed. */
static mpc_err check_conninfo(const char *name, const char *conninfo) {
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	if (msg != NULL) {
		mpc_wipe(msg, strlen(msg));
		PQfreemem(msg);
	}
	if (opts == NULL)
		return mpc_error(MPC_ECONFIG,
		                 "%s: the database connection string cannot be parsed (it is "
		                 "not shown: it may hold a password)",
		                 name);
	for (PQconninfoOption *p = opts; p->keyword != NULL; p++)
		if (p->val != NULL)
			mpc_wipe(p->val, strlen(p->val));
	PQconninfoFree(opts);
	return MPC_OK;
}

static mpc_err connect_db(const char *name, const char *conninfo, int timeout_s, PGconn **out) {
	char ct[16], line[512];
	/* connect_timeout after the expanded string: ours binds */
	const char *const keys[] = {"dbname", "connect_timeout", NULL};
	const char *const vals[] = {conninfo, ct, NULL};

	*out = NULL;
	mpc_err err = check_conninfo(name, conninfo);
	if (err != MPC_OK)
		return err;
	snprintf(ct, sizeof(ct), "%d", timeout_s);
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL)
		return mpc_error(MPC_ENOMEM, "%s: out of memory for a database connection", name);
	if (PQstatus(conn) != CONNECTION_OK) {
		err = mpc_error(MPC_ENET, "%s: cannot connect to the database: %s", name,
		                one_line(PQerrorMessage(conn), line, sizeof(line)));
		PQfinish(conn);
		return err;
	}
	PQsetNoticeProcessor(conn, drop_notice, NULL);
	*out = conn;
	return MPC_OK;
}

/* The failure of a command: r (may be NULL: then the connection's message). */
static mpc_err query_error(const char *name, PGconn *conn, const PGresult *r) {
	char line[512];
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (state == NULL || msg == NULL)
		return mpc_error(MPC_EIO, "%s: the query failed: %s", name,
		                 one_line(r ? PQresultErrorMessage(r) : PQerrorMessage(conn), line,
		                          sizeof(line)));
	one_line(msg, line, sizeof(line));
	if (strcmp(state, "57014") == 0) /* canceling statement due to statement timeout */
		return mpc_error(MPC_ETIMEDOUT,
		                 "%s: the query did not finish in time: %s (SQLSTATE %s)", name,
		                 line, state);
	for (size_t i = 0; i < sizeof(shown_classes) / sizeof(*shown_classes); i++)
		if (strncmp(state, shown_classes[i], 2) == 0)
			return mpc_error(MPC_EIO, "%s: the query failed: %s (SQLSTATE %s)", name,
			                 line, state);
	return mpc_error(MPC_EIO,
	                 "%s: the query failed with SQLSTATE %s (the server's message is not "
	                 "shown: it may quote a value)",
	                 name, state);
}

/* The results of the command sent on conn, waiting until deadline (ms of
 * now_ms; wait_s seconds from the start, for the message) at most: the first
 * that failed, else the last. */
static mpc_err wait_result(const char *name, PGconn *conn, long long deadline, int wait_s,
                           PGresult **out) {
	*out = NULL;
	for (;;) {
		while (PQisBusy(conn)) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return mpc_error(MPC_ETIMEDOUT,
				                 "%s: the database did not answer within %d s",
				                 name, wait_s);
			struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
			int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
			if (n < 0 && errno != EINTR)
				return mpc_error(MPC_EIO, "%s: waiting for the database: %s", name,
				                 strerror(errno));
			if (n > 0 && !PQconsumeInput(conn))
				return query_error(name, conn, NULL);
		}
		PGresult *r = PQgetResult(conn);
		if (r == NULL)
			return MPC_OK;
		ExecStatusType st = PQresultStatus(*out);
		if (*out != NULL && (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE)) {
			clear_result(r);
		} else {
			clear_result(*out);
			*out = r;
		}
	}
}

/* Send sql (params: by the extended protocol, which takes one statement) and
 * wait for its result, which must be PGRES_TUPLES_OK or PGRES_COMMAND_OK. */
static mpc_err run(const char *name, PGconn *conn, const char *sql, int params, int timeout_s,
                   PGresult **out) {
	/* the server's statement_timeout cancels first and says so; our own
	 * wait, a little longer, is for a server that does not answer at all */
	long long deadline = now_ms() + (long long)timeout_s * 1000 + GRACE_MS;
	int sent = params ? PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0)
	                  : PQsendQuery(conn, sql);
	if (!sent)
		return query_error(name, conn, NULL);
	mpc_err err = wait_result(name, conn, deadline, timeout_s + GRACE_MS / 1000, out);
	if (err != MPC_OK)
		return err;
	ExecStatusType st = PQresultStatus(*out);
	if (*out == NULL || (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK))
		return query_error(name, conn, *out);
	return MPC_OK;
}

/* The result's columns amount, fraud, category: each exactly once. */
static mpc_err find_cols(const char *name, const PGresult *r, int *col) {
	for (int k = 0; k < N_COLS; k++) {
		col[k] = -1;
		for (int i = 0; i < PQnfields(r); i++) {
			if (strcmp(PQfname(r, i), col_names[k]) != 0)
				continue;
			if (col[k] >= 0)
				return mpc_error(MPC_EINVAL,
				                 "%s: the query's result has column '%s' twice",
				                 name, col_names[k]);
			col[k] = i;
		}
		if (col[k] < 0)
			return mpc_error(MPC_EINVAL,
			                 "%s: the query's result has no '%s' column (expected "
			                 "amount,fraud,category)",
			                 name, col_names[k]);
	}
	return MPC_OK;
}

static mpc_err txns_from(const char *name, const PGresult *r, double max_abs, mpc_txns *t) {
	int col[N_COLS];
	char where[1024];
	mpc_err err;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return mpc_error(MPC_EINVAL, "%s: the query returned no rows (it must be a SELECT)",
		                 name);
	if ((err = find_cols(name, r, col)) != MPC_OK)
		return err;
	int rows = PQntuples(r);
	if ((err = mpc_txns_alloc(t, rows > 0 ? (size_t)rows : 1)) != MPC_OK)
		return err;
	for (int i = 0; i < rows; i++) {
		for (int k = 0; k < N_COLS; k++)
			if (PQgetisnull(r, i, col[k]))
				return mpc_error(MPC_EINVAL,
				                 "%s row %d: column %s: no value (NULL)", name,
				                 i + 1, col_names[k]);
		snprintf(where, sizeof(where), "%s row %d", name, i + 1);
		if ((err = mpc_txns_add(where, PQgetvalue(r, i, col[COL_AMOUNT]),
		                        PQgetvalue(r, i, col[COL_FRAUD]),
		                        PQgetvalue(r, i, col[COL_CATEGORY]), max_abs, t)) != MPC_OK)
			return err;
	}
	return MPC_OK;
}

mpc_err mpc_txns_read_pg(const char *name, const char *conninfo, const char *query,
                         const mpc_pg_opts *o, double max_abs, mpc_txns *t) {
	int cto = o && o->connect_timeout_s > 0 ? o->connect_timeout_s : MPC_PG_CONNECT_TIMEOUT;
	int qto = o && o->query_timeout_s > 0 ? o->query_timeout_s : MPC_PG_QUERY_TIMEOUT;
	char setup[128];
	PGconn *conn = NULL;
	PGresult *r = NULL;

	memset(t, 0, sizeof(*t));
	if (qto > MAX_TIMEOUT_S)
		qto = MAX_TIMEOUT_S;
	if (cto > MAX_TIMEOUT_S)
		cto = MAX_TIMEOUT_S;
	/* the server's own limit as well as ours; a dataset is only read */
	snprintf(setup, sizeof(setup),
	         "SET statement_timeout = %lld; SET default_transaction_read_only = on",
	         (long long)qto * 1000);
	mpc_err err = connect_db(name, conninfo, cto, &conn);
	if (err == MPC_OK)
		err = run(name, conn, setup, 0, qto, &r);
	if (err == MPC_OK) {
		clear_result(r);
		r = NULL;
		err = run(name, conn, query, 1, qto, &r);
	}
	if (err == MPC_OK)
		err = txns_from(name, r, max_abs, t);
	clear_result(r);
	PQfinish(conn);
	if (err != MPC_OK)
		mpc_txns_fini(t);
	return err;
}
