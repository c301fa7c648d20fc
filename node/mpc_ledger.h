/* The privacy budget ledger of a node: what every differentially private
 * release has cost each dataset, on disk, so that a dataset's budget is
 * never spent twice, across restarts and crashes.
 *
 * Composition. The binding rule is basic sequential composition: the
 * epsilons of a dataset's releases add up, and so do their deltas. A charge
 * is refused when the dataset's summed epsilon or summed delta, with the
 * charge added, would exceed the limit the caller gives. Each charge may also
 * carry rho (zero-concentrated DP, zCDP; 0 when not given): the ledger keeps
 * the sum of rho per dataset for a zCDP accountant (federated training
 * charges per round), but does not compare it with anything; a caller that
 * accounts in zCDP converts to (epsilon, delta) itself and charges that too.
 * Sums are IEEE doubles added in the order of the journal, the same order on
 * every open; a charge that brings a sum to the limit is allowed, and so is
 * one that passes it by at most 1e-12 of the limit (the rounding of decimal
 * values in binary: three charges of 0.1 sum to 0.30000000000000004, and a
 * limit of 0.3 must allow them); a limit of 0 allows exactly 0.
 *
 * The file. One ledger is one file, an append-only journal of 256-byte
 * records, each numbered and checked with SHA-256 (bound to a random ledger
 * id, so a record copied from another ledger is damage): record 0 says
 * the format and the ledger id, every other one is a charge (dataset, job
 * id, release label, epsilon, delta, rho, unix time). The file is created
 * whole (mode 0600: a temporary file, fsynced, linked into place with
 * O_EXCL semantics, the directory fsynced), and a charge is appended and
 * fsynced before mpc_ledger_charge returns MPC_OK: the caller opens the
 * noisy figures only after that. Open replays every record: a torn last
 * record (a crash or a full disk inside an append; its charge never
 * returned, so nothing was released under it) is cut off and the cut
 * fsynced; a damaged or out-of-order record followed by anything is
 * corruption, and the ledger refuses to open (MPC_EIO naming the file and
 * the record) rather than skip charges. Never restore, copy or edit a
 * ledger: an old copy has forgotten spending that happened.
 *
 * One process at a time: open takes an exclusive flock on PATH.lock (which
 * holds the holder's pid) for the handle's lifetime. The directory of PATH
 * must not be writable by group or others, and the file must belong to
 * this user and not be writable by group or others. */
#ifndef MPC_LEDGER_H
#define MPC_LEDGER_H

#include "runtime/mpc_err.h"
#include <stdint.h>

typedef struct mpc_ledger mpc_ledger;

/* What a dataset has spent: the sums over its charges (see above). */
typedef struct {
	double epsilon, delta, rho;
	uint64_t count; /* charges recorded */
} mpc_ledger_total;

/* A dataset's limit: the most its summed epsilon and summed delta may reach
 * (finite, >= 0). */
typedef struct {
	double epsilon, delta;
} mpc_ledger_budget;

/* Longest dataset name and job id (characters [A-Za-z0-9._-]), and longest
 * release label (printable ASCII, at least one character). */
#define MPC_LEDGER_NAME_MAX  64
#define MPC_LEDGER_LABEL_MAX 40

/* Open the ledger at path, creating it (mode 0600) when absent, replay it,
 * and hold it until mpc_ledger_close. Errors: MPC_ECONFIG for a directory
 * writable by group or others, a file of another user or writable by group
 * or others, a ledger another handle holds (naming its pid), a ledger of
 * another format version; MPC_EIO for a file that is not a ledger or a
 * corrupt one (naming the file and the record); MPC_EINVAL for an empty or
 * overlong path. *out is the caller's to close, NULL on error. */
mpc_err mpc_ledger_open(const char *path, mpc_ledger **out) MPC_MUST_CHECK;

/* Close the handle and release the lock. NULL is fine. */
void mpc_ledger_close(mpc_ledger *l);

/* The path the ledger was opened with. Borrowed; valid until close. */
const char *mpc_ledger_path(const mpc_ledger *l);

/* The totals of dataset (all zeros for a dataset never charged). MPC_EINVAL
 * for a bad dataset name. */
mpc_err mpc_ledger_spent(const mpc_ledger *l, const char *dataset,
                         mpc_ledger_total *out) MPC_MUST_CHECK;

/* Charge one release of job_id, labelled label ("stats", "round 3"), to
 * dataset: epsilon, delta and rho finite and >= 0 (rho 0 when not
 * accounted in zCDP), within limit (borrowed). MPC_OK only once the record
 * is on disk (written and fsynced): open the noisy figures after, never
 * before. MPC_EREFUSED, and nothing recorded, when the dataset's summed
 * epsilon or delta would pass the limit (the message names the dataset,
 * what it has spent, what was asked and the limit); MPC_EREFUSED is returned
 * for nothing else here. MPC_EINVAL for a bad name, label, value or limit;
 * MPC_EIO when the write or fsync fails (nothing is recorded, nothing may
 * be released, and this handle charges nothing more: close and reopen). */
mpc_err mpc_ledger_charge(mpc_ledger *l, const char *dataset, const char *job_id, const char *label,
                          double epsilon, double delta, double rho,
                          const mpc_ledger_budget *limit) MPC_MUST_CHECK;

#endif
