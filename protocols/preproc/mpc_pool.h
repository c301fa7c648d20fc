/* An in-memory prefetch pool: a preprocessing backend that wraps another one
 * (the dealer, OT, Paillier, the store) so that material can be fetched
 * ahead of the time it is used.
 *
 *  - Record mode (a new pool): requests pass through to the inner backend;
 *    the pool adds up what was asked for, per kind (triples per ring,
 *    truncation pairs per (ring, f), random bits per ring, words of bit
 *    triples). mpc_pool_plan_get returns those totals: a plan.
 *  - mpc_pool_fill(plan) fetches each total of the plan from the inner
 *    backend, one call per kind, into memory, and switches to serving.
 *  - Serving: requests are answered from memory in FIFO order. When the
 *    stock of a kind runs short, the rest comes from the inner backend and
 *    the pool counts a miss (results stay correct; only the timing changes).
 *
 * Every party must make the same pool calls in the same order (they are
 * collective, as the inner backend's calls are), so the stocks stay in step
 * and party i's k-th served element matches everybody else's. Material is
 * the inner backend's: the pool adds no trust assumption. Stock is secret:
 * served elements are wiped from memory as they are handed out, the rest on
 * free. */
#ifndef MPC_POOL_H
#define MPC_POOL_H

#include "protocols/core/mpc_preproc.h"
#include "runtime/mpc_err.h"
#include <stdint.h>

struct mpc_party;

/* Distinct (ring, f) kinds of truncation pairs a plan or a pool holds. */
#define MPC_POOL_TRUNC_KINDS 32

/* Totals of material per kind. Index [0] is Z_2^64, [1] Z_2^128. A flat
 * struct: it can be copied, sent or written as bytes. */
typedef struct {
	uint64_t triples[2];
	uint64_t bits[2];
	uint64_t bit_triple_words; /* words of 64 bit triples */
	uint32_t n_trunc;          /* entries used in trunc[] */
	uint32_t zero;             /* 0; keeps the struct free of padding */
	struct {
		uint32_t ring_bits, f;
		uint64_t n;
	} trunc[MPC_POOL_TRUNC_KINDS];
} mpc_pool_plan;

/* What a pool did (elements of any kind; words for bit triples). */
typedef struct {
	uint64_t passed;  /* passed through to the inner backend in record mode */
	uint64_t fetched; /* fetched into stock by mpc_pool_fill */
	uint64_t served;  /* served from stock */
	uint64_t misses;  /* requests the stock could not serve in full */
	uint64_t missed;  /* elements those requests fetched from the inner backend */
} mpc_pool_stats;

/* A pool over inner (taken over: freed with the pool, also on error), in
 * record mode. Install with mpc_party_set_preproc. MPC_ENOMEM. */
mpc_err mpc_pool_new(mpc_preproc *out, mpc_preproc inner) MPC_MUST_CHECK;

/* Wrap the party's installed backend in a new pool and install the pool.
 * MPC_EINVAL if no backend is installed; on MPC_ENOMEM the old backend is
 * freed and the party has none. */
mpc_err mpc_pool_install(struct mpc_party *p) MPC_MUST_CHECK;

/* 1 if pre is a pool, 0 otherwise. */
int mpc_pool_is(const mpc_preproc *pre);

/* Totals requested through the pool (in either mode) since it was made or
 * since the last mpc_pool_record. MPC_EINVAL if pre is not a pool. */
mpc_err mpc_pool_plan_get(const mpc_preproc *pre, mpc_pool_plan *out) MPC_MUST_CHECK;

/* What the stock holds now, as a plan. MPC_EINVAL if pre is not a pool. */
mpc_err mpc_pool_left(const mpc_preproc *pre, mpc_pool_plan *out) MPC_MUST_CHECK;

/* Back to record mode: requests pass through again and the recorded totals
 * restart from zero. The stock is kept for the next fill. Local (no traffic);
 * every party must do it at the same point. */
mpc_err mpc_pool_record(mpc_preproc *pre) MPC_MUST_CHECK;

/* Fetch every total of plan from the inner backend (one call per kind, in
 * a fixed order), add it to the stock, and serve from then on. Collective:
 * every party calls it with the same plan. The party's installed backend
 * must be a pool (MPC_EINVAL otherwise, or for a malformed plan). */
mpc_err mpc_pool_fill(struct mpc_party *p, const mpc_pool_plan *plan) MPC_MUST_CHECK;

/* Counters; NULL if pre is not a pool. */
const mpc_pool_stats *mpc_pool_get_stats(const mpc_preproc *pre);

/* plan = plan * times (for `times` repetitions of the recorded work).
 * MPC_EINVAL on overflow. */
mpc_err mpc_pool_plan_scale(mpc_pool_plan *plan, uint64_t times) MPC_MUST_CHECK;

/* acc += add, kind by kind. MPC_EINVAL if the truncation kinds exceed
 * MPC_POOL_TRUNC_KINDS. */
mpc_err mpc_pool_plan_add(mpc_pool_plan *acc, const mpc_pool_plan *add) MPC_MUST_CHECK;

#endif
