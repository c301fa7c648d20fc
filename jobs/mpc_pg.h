/* Transactions from a PostgreSQL query (libpq): the database twin of
 * mpc_txns_read (jobs/mpc_csv.h), with the same checks of every value.
 *
 * The query is one SQL statement (no parameters). Its result must have
 * columns named exactly amount, fraud and category (any order, each once;
 * others ignored). Every value is read as text and checked by the code that
 * checks a CSV field (mpc_txns_add), so a value passes from the database when
 * it passes from a file: amount a decimal number without exponent (a
 * numeric, integer or text column; a double precision column prints some
 * values with an exponent: cast it, amount::numeric), fraud 0 or 1 (an
 * integer column; cast a boolean, fraud::int), category 1 to 32 characters of
 * [A-Za-z0-9_.-]. A NULL is an error.
 *
 * Messages name the dataset and the row ("NAME row N: column amount: expected
 * a decimal number such as 12.50", rows from 1), never a value, and never the
 * connection string (it may hold a password). The session is read-only, the
 * connection and the query are bounded in time, and libpq's notices are
 * dropped (they may quote data). */
#ifndef MPC_PG_H
#define MPC_PG_H

#include "jobs/mpc_csv.h"
#include "runtime/mpc_err.h"

#define MPC_PG_CONNECT_TIMEOUT 10 /* seconds, default of mpc_pg_opts.connect_timeout_s */
#define MPC_PG_QUERY_TIMEOUT   60 /* seconds, default of mpc_pg_opts.query_timeout_s */

typedef struct {
	int connect_timeout_s; /* most seconds to connect (0: MPC_PG_CONNECT_TIMEOUT); binds
	                        * over a connect_timeout in the connection string */
	int query_timeout_s;   /* most seconds for the query (0: MPC_PG_QUERY_TIMEOUT): the
	                        * server's statement_timeout; our own wait, for a server
	                        * that does not answer, is 2 s longer */
} mpc_pg_opts;

/* Run `query` on the database of `conninfo` (a libpq connection string or
 * URI, borrowed, never printed) and read its rows as transactions; every
 * |amount| must be <= max_abs_amount. `name` (e.g. "dataset txns") starts
 * every message; o may be NULL (defaults). Errors: MPC_ECONFIG for a
 * connection string libpq cannot parse; MPC_ENET when the connection fails
 * (libpq's reason); MPC_ETIMEDOUT when the query runs past its time; MPC_EIO
 * when the query fails (the server's message and SQLSTATE for errors about
 * the query, the schema or the server; the SQLSTATE alone for the others,
 * such as data exceptions, whose messages may quote a value); MPC_EINVAL for
 * a result without the columns, a NULL or a bad value (NAME row N: column C);
 * MPC_ERANGE for an amount out of range (NAME row N); MPC_ENOMEM. Caller
 * calls mpc_txns_fini (also after an error: *out is then empty). */
mpc_err mpc_txns_read_pg(const char *name, const char *conninfo, const char *query,
                         const mpc_pg_opts *o, double max_abs_amount, mpc_txns *out) MPC_MUST_CHECK;

#endif
