/* The JSON bodies of the node's local API (node/mpc_http carries them), read
 * with jansson. Each parser takes the raw body (length given; no NUL needed),
 * checks everything the route relies on, and refuses with MPC_EINVAL and a
 * message meant for the client (the route answers it as a 400 with
 * mpc_http_error_json): what is wrong, where ("line 1, column 9" for JSON
 * syntax) and what is expected. A message repeats nothing of the body but a
 * key name that is a short plain word and the few bytes jansson quotes
 * near a syntax error ("invalid token near 'x'"). */
#ifndef MPC_API_H
#define MPC_API_H

#include "runtime/mpc_err.h"
#include <stddef.h>

#define MPC_API_MAX_JOB_TEXT                                                                       \
	(512 * 1024)           /* bytes of a submitted job file (1,000 input parties fit) */
#define MPC_API_DATASET_MAX 32 /* characters of a dataset name */

/* POST /jobs. */
typedef struct {
	char *job_text; /* the job file's text (INI), malloc'd, NUL-terminated, no NUL inside */
	size_t job_len; /* 1..MPC_API_MAX_JOB_TEXT */
	char dataset[MPC_API_DATASET_MAX + 1]; /* [A-Za-z0-9._-]{1,32}; "" when not given */
} mpc_api_submit;

/* Body of POST /jobs: {"job": "<job file text>", "dataset": "NAME"}
 * ("dataset" optional). MPC_EINVAL, with the reason in the error detail, for:
 * not JSON (jansson's line:column and text; a key given twice included), not
 * an object, a missing or non-string "job", an empty or oversized job text,
 * a NUL byte inside it, a non-string or bad dataset name, any unknown key
 * (named when it is a plain word). MPC_ENOMEM. On error *out is zeroed.
 * Caller frees with mpc_api_submit_free. */
mpc_err mpc_api_parse_submit(const char *body, size_t len, mpc_api_submit *out) MPC_MUST_CHECK;

/* Wipes and frees job_text, zeroes s. NULL does nothing. */
void mpc_api_submit_free(mpc_api_submit *s);

#define MPC_API_MAX_SCORE_ROWS 256 /* transactions of one POST /score */
#define MPC_API_MAX_FEATURES   64  /* numbers of one transaction */

/* POST /score. */
typedef struct {
	char service[65]; /* the scoring service's job id */
	size_t n, d;      /* transactions, features each */
	double *x; /* n x d, row-major, malloc'd (a merchant's transactions: wiped on free) */
} mpc_api_score;

/* Body of POST /score: {"service": "JOB-ID", "transactions": [[x0, ...,
 * x_{d-1}], ...]}: 1 to MPC_API_MAX_SCORE_ROWS transactions, each a list of
 * the same number (1 to MPC_API_MAX_FEATURES) of finite numbers. MPC_EINVAL
 * naming what is wrong and where ("transaction 3, feature 2: ..."), never a
 * value; MPC_ENOMEM. On error *out is zeroed. Caller frees with
 * mpc_api_score_free. */
mpc_err mpc_api_parse_score(const char *body, size_t len, mpc_api_score *out) MPC_MUST_CHECK;
void mpc_api_score_free(mpc_api_score *s);

#endif
