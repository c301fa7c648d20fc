/* Reading a merchant's transactions from CSV.
 *
 * Format: a header line naming the columns, then one transaction a line.
 * Required columns (any order, others ignored): amount (a decimal number),
 * fraud (0 or 1), category (1 to 32 characters of [A-Za-z0-9_.-]). Fields
 * are separated by commas, without quotes; lines end with \n or \r\n; blank
 * lines are skipped. Any other content is an error naming the file, the line
 * and the column, never the offending value (the data is secret). */
#ifndef MPC_CSV_H
#define MPC_CSV_H

#include <stddef.h>
#include <stdint.h>
#include "runtime/mpc_err.h"

#define MPC_CSV_MAX_CATEGORY 32

typedef struct {
	size_t n;          /* rows */
	double *amount;    /* n */
	uint8_t *fraud;    /* n, 0 or 1 */
	uint32_t *category; /* n, index into cats */
	size_t n_cats;
	char **cats;       /* category names, in order of first appearance */
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

/* Split one CSV line (no quotes) in place at its commas: f[0..n) point into
 * line. -1 if it has more than max fields. */
int mpc_csv_fields(char *line, char **f, int max);

#endif
