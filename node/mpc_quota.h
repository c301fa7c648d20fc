/* Per-asker scoring quotas of a node (issue 13): how many transactions each
 * asker has had scored by each computation, per minute, per UTC day and in
 * total, held against the limits of the node's policy ([quota ...] sections,
 * node/mpc_policy.h). The total is the bound on model extraction: d + 1
 * well-chosen queries reveal a logistic model of d weights, so the total
 * must hold across restarts and crashes, and a quota is never exceeded.
 *
 * Counting. The unit is the transaction scored: a request of 5 transactions
 * uses 5. A request is allowed whole or refused whole (nothing counted).
 * Counts are kept for every (computation, asker) pair that ever took,
 * limited or not, so a limit added to the policy later counts what was used
 * before it.
 *  - per minute: a sliding 60 s window, in memory only: a restart forgets it
 *    (a restart itself takes seconds). Takes within 100 ms of one another
 *    share a slot that leaves the window 60 s after its latest take, so a
 *    take is counted for 60 to 60.1 s, never less.
 *  - per day: the UTC calendar day of now_unix_ms; the count starts at 0 on
 *    an asker's first take of a new day. A clock that steps back never
 *    resets a count (the later day goes on counting).
 *  - in total: forever.
 *
 * Durability without an fsync per request. The journal holds reservations,
 * not takes: a record says "(computation, asker) may use up to R in total
 * and up to D on day X", and is written and fsynced before the counts pass
 * the last reservation. A reservation reaches ahead by one block:
 *   block = min(limit - used, max(MPC_QUOTA_BLOCK_MIN, limit /
 *           MPC_QUOTA_BLOCK_DIV)), or MPC_QUOTA_BLOCK_UNLIMITED with no limit
 * (about 64 records, each one fsync, use up a limit; a limit of 100000
 * reserves 1562 at a time, a total of 1000000 reserves 15625). A record is
 * written when either period passes its reservation, and carries both. On open the whole of every
 * reservation counts as used: after a crash, an asker may lose up to one block per period to it,
 * never gain (conservative). A clean mpc_quota_close first writes the exact
 * counts, so a restart loses nothing. The journal never allows more than the
 * limit: a reservation stops at the limit, and takes are checked against
 * the limit, not the reservation.
 *
 * The file follows the privacy budget ledger's (node/mpc_ledger.h): 256-byte
 * records, numbered, SHA-256-checked and bound to a random journal id; mode
 * 0600 in a directory not writable by group or others; a torn last record
 * (a crash inside an append) is cut off on open; any other damage refuses
 * the open (MPC_EIO naming the file and the record). The journal is
 * rewritten whole, one record per pair, on close and whenever it has grown
 * by MPC_QUOTA_COMPACT_AT records (a temporary file, fsynced, renamed into
 * place, the directory fsynced), so it stays small. Never restore or copy a
 * journal: an old copy has forgotten takes. One process at a time: open
 * takes an exclusive flock on PATH.lock (which holds the holder's pid).
 *
 * Thread safety: none. The node serialises its calls (one handle, one
 * thread at a time). */
#ifndef MPC_QUOTA_H
#define MPC_QUOTA_H

#include "node/mpc_policy.h"
#include "runtime/mpc_err.h"
#include <stdint.h>

#define MPC_QUOTA_NAME_MAX        64   /* characters of a name, [A-Za-z0-9._-] */
#define MPC_QUOTA_MAX_PAIRS       4096 /* (computation, asker) pairs one journal counts */
#define MPC_QUOTA_MAX_N           1000000000000000ull /* transactions in one take (1e15) */
#define MPC_QUOTA_BLOCK_MIN       64    /* smallest block reserved ahead (see above) */
#define MPC_QUOTA_BLOCK_DIV       64    /* a block is at least limit / this */
#define MPC_QUOTA_BLOCK_UNLIMITED 4096  /* block reserved for a period without a limit */
#define MPC_QUOTA_COMPACT_AT      65536 /* appended records that trigger a rewrite */

typedef struct mpc_quota mpc_quota;

/* Open the quota journal at path, creating it (mode 0600) when absent,
 * replay it and hold it until mpc_quota_close. Errors: MPC_ECONFIG for a
 * directory writable by group or others, a file of another user or writable
 * by group or others, a journal another handle holds (naming its pid), one
 * of another format version; MPC_EIO for a file that is no quota journal or
 * a damaged one (naming the file and the record); MPC_EINVAL for an empty or
 * overlong path. *out is the caller's to close, NULL on error. */
mpc_err mpc_quota_open(const char *path, mpc_quota **out) MPC_MUST_CHECK;

/* Write the exact counts (the journal rewritten whole, so that a restart
 * loses no reservation; a failure is logged and loses at most the unused
 * reservations), close the handle and release the lock. NULL is fine. */
void mpc_quota_close(mpc_quota *q);

/* Count n transactions (n >= 0; 0 counts nothing) scored by computation
 * for asker at now_unix_ms (ms since 1970, UTC, >= 0), against the limits p
 * gives them (mpc_policy_quota_get; borrowed). MPC_OK once all three allow n
 * more and, when the counts passed the last reservation, its successor is
 * on disk. MPC_EREFUSED, nothing counted, when a period would pass its
 * limit: the policy's refusal (mpc_policy_quota_refuse) naming the first of
 * total, per_day, per_minute that would. MPC_EINVAL for NULL, a bad name,
 * n > MPC_QUOTA_MAX_N or a negative time; MPC_ERANGE, nothing counted, for
 * a new pair past MPC_QUOTA_MAX_PAIRS or a count that would pass 1e18;
 * MPC_EIO when the journal cannot be written (nothing counted, and this
 * handle takes nothing more: close and reopen). */
mpc_err mpc_quota_take(mpc_quota *q, const mpc_policy *p, const char *computation,
                       const char *asker, uint64_t n, int64_t now_unix_ms) MPC_MUST_CHECK;

/* What asker has used of computation at now_unix_ms, for metrics: in the
 * last minute, on now's UTC day, in total (each pointer may be NULL). After
 * an open these include the reservations counted as used. Zeros for a pair
 * never seen. MPC_EINVAL for NULL q, a bad name or a negative time. */
mpc_err mpc_quota_used(const mpc_quota *q, const char *computation, const char *asker,
                       int64_t now_unix_ms, uint64_t *minute, uint64_t *day,
                       uint64_t *total) MPC_MUST_CHECK;

#endif
