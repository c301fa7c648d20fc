/* The one CSV reader of the job layer, and the transactions read with it.
 *
 * Format, for every CSV file a job reads (transactions, features, models,
 * federated averaging's data): fields separated by commas, without quotes;
 * lines end with \n or \r\n; blank lines are skipped. Quotes, NUL bytes,
 * over-long lines and too many fields are errors. Every error names the file
 * and the line (and the column where there is one), never a field's content:
 * the rows are secret.
 *
 * Transactions: a header line naming the columns, then one transaction a
 * line. Required columns (any order, others ignored): amount (a decimal
 * number), fraud (0 or 1), category (1 to 32 characters of
 * [A-Za-z0-9_.-]). */
#ifndef MPC_CSV_H
#define MPC_CSV_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_CSV_MAX_CATEGORY 32
#define MPC_CSV_MAX_FIELDS   64    /* default of mpc_csv_opts.max_fields */
#define MPC_CSV_MAX_LINE     65536 /* default of mpc_csv_opts.max_line */

/* A reader: opaque. */
typedef struct mpc_csv mpc_csv;

typedef struct {
	int max_fields;  /* most fields a record may have (0: MPC_CSV_MAX_FIELDS) */
	size_t max_line; /* most bytes a line may have, its end not counted (0: MPC_CSV_MAX_LINE) */
	int header;      /* 1: the first record names the columns (see mpc_csv_open) */
	const char *expect; /* the header expected, named when the file is empty (may be NULL) */
} mpc_csv_opts;

/* Open path (read whole, wiped at close). With o->header the first record is
 * read now: the file must have one, its names must be distinct, and every
 * later record must have as many fields. o may be NULL (defaults, no
 * header). MPC_EIO if unreadable, MPC_EINVAL (file:line) for a bad or
 * missing header, MPC_ENOMEM. Caller calls mpc_csv_close; *out is NULL on
 * error. */
mpc_err mpc_csv_open(const char *path, const mpc_csv_opts *o, mpc_csv **out) MPC_MUST_CHECK;
/* The same over text[0..len) (borrowed until mpc_csv_close; not wiped);
 * `name` (borrowed) stands for the file in messages. */
mpc_err mpc_csv_open_mem(const char *name, const char *text, size_t len, const mpc_csv_opts *o,
                         mpc_csv **out) MPC_MUST_CHECK;

/* The next record that is not blank: *n fields at (*f)[0..n), NUL-terminated,
 * in the reader's buffer until the next call; *n == 0 at the end.
 * MPC_EINVAL naming file:line for quotes or NUL bytes, a line longer than
 * max_line, more than max_fields fields, or (with a header) a field count
 * other than the header's. */
mpc_err mpc_csv_next(mpc_csv *c, char ***f, int *n) MPC_MUST_CHECK;

/* The header's column named `name`, or -1 (also without a header). */
int mpc_csv_col(const mpc_csv *c, const char *name);
/* The header's names (borrowed; *names NULL and 0 without a header). */
int mpc_csv_header(const mpc_csv *c, char *const **names);

/* Field `col` of the current record as a number: digits, an optional sign,
 * point and exponent, finite. MPC_EINVAL "file:line: column NAME: expected a
 * number" otherwise (the header's name, or the column's number from 1). */
mpc_err mpc_csv_number(const mpc_csv *c, int col, double *out) MPC_MUST_CHECK;
/* Record "file:line: " and the message (never a field's content) and return
 * code: for the readers' own checks of the current record. */
mpc_err mpc_csv_error(const mpc_csv *c, mpc_err code, const char *fmt, ...) MPC_PRINTF(3, 4);

/* The name given at open, the current record's line (from 1), and at most
 * how many records the file holds (its lines: for allocating once). */
const char *mpc_csv_name(const mpc_csv *c);
size_t mpc_csv_line(const mpc_csv *c);
size_t mpc_csv_lines(const mpc_csv *c);

/* Wipe the reader's buffers (OPENSSL_cleanse) and free it; NULL does
 * nothing. */
void mpc_csv_close(mpc_csv *c);

typedef struct {
	size_t n;           /* rows */
	double *amount;     /* n */
	uint8_t *fraud;     /* n, 0 or 1 */
	uint32_t *category; /* n, index into cats */
	size_t n_cats;
	char **cats; /* category names, in order of first appearance */
} mpc_txns;

/* Read path; every |amount| must be <= max_abs_amount (else MPC_ERANGE with
 * file:line). MPC_EIO if the file cannot be read, MPC_EINVAL for bad
 * content (file:line: column: what was expected). Caller calls _fini. */
mpc_err mpc_txns_read(const char *path, double max_abs_amount, mpc_txns *out) MPC_MUST_CHECK;
/* Parse from memory; `name` is used in messages. */
mpc_err mpc_txns_parse(const char *name, const char *text, size_t len, double max_abs_amount,
                       mpc_txns *out) MPC_MUST_CHECK;
/* Wipe and free. */
void mpc_txns_fini(mpc_txns *t);

/* For the other readers of transactions (jobs/mpc_pg.h), so that a value
 * passes or fails the same way from every source. mpc_txns_alloc: room for
 * `rows` rows in a zeroed t, allocated once (MPC_ENOMEM). mpc_txns_add:
 * check one row's fields (NUL-terminated, borrowed) as mpc_txns_read does and
 * append it as row t->n (room made by mpc_txns_alloc); on error nothing is
 * appended and the message is "WHERE: column NAME: what was expected" (never
 * the value). */
mpc_err mpc_txns_alloc(mpc_txns *t, size_t rows) MPC_MUST_CHECK;
mpc_err mpc_txns_add(const char *where, const char *amount, const char *fraud, const char *category,
                     double max_abs_amount, mpc_txns *t) MPC_MUST_CHECK;

#endif
