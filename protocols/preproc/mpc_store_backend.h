/* Preprocessing from the on-disk store first (material made ahead of time
 * by `mpc-party preprocess`), the rest made on demand by a generating
 * backend (OT or Paillier).
 *
 * Before each take the parties compare their store positions (one round):
 * - all at the same position of the same batch: each takes
 *   min(n, the smallest count any party has) and makes the rest;
 * - positions differ (a party crashed after recording a consumption the
 *   others did not make): every party skips to the furthest position, so
 *   what some party may have used is used by none, and says so in the log;
 * - same position but different batch ids (stores from different
 *   preprocessing runs): that kind of material is not taken from the store
 *   for the rest of the run, with a warning.
 * The store records a consumption durably before handing material out
 * (mpc_store.h), so a crash never leads to reuse. */
#ifndef MPC_STORE_BACKEND_H
#define MPC_STORE_BACKEND_H

#include "protocols/core/mpc_preproc.h"
#include "protocols/preproc/mpc_store.h"
#include "runtime/mpc_err.h"

/* The combined backend; takes ownership of store and inner. */
mpc_err mpc_store_backend(mpc_preproc *out, mpc_store *store, mpc_preproc inner) MPC_MUST_CHECK;

/* What this run took from the store and made on demand (elements of any kind). */
typedef struct {
	uint64_t from_store, made;
} mpc_store_backend_stats;
const mpc_store_backend_stats *mpc_store_backend_get_stats(const mpc_preproc *pre);

/* Agree a fresh batch id with the other parties (party 0 draws it; one
 * round). Used by `mpc-party preprocess`. */
mpc_err mpc_store_backend_batch_id(struct mpc_party *p, uint8_t id[16]) MPC_MUST_CHECK;

#endif
