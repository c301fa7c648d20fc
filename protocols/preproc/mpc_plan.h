/* Plans: what a computation consumes, exactly, found by running it.
 *
 * A plan (mpc_pool_plan) counts material per kind: triples per ring,
 * truncation pairs per (ring, f), random bits per ring, words of bit triples.
 * It is found by running the very code a job runs, with every party of the
 * job simulated in this machine (one process each, joined over ipc:// in a
 * private temporary directory), on dummy data of the job's public shapes,
 * against a counting backend that hands out zeros (valid shares of valid
 * material: a = b = c = 0, r = r_hi = 0, bits 0) and records every request
 * (the prefetch pool's record mode). Cross products, where the job uses
 * them directly (scoring), come from an engine that outputs zeros: they are
 * made during the run and never stored.
 *
 * The plan is exact for the shapes given, as long as the computation's
 * control flow follows only public values and what it opens; where it
 * follows opened values (cohort suppression), the dummy data is chosen so
 * that the largest plan results, and the caller says so. */
#ifndef MPC_PLAN_H
#define MPC_PLAN_H

#include "protocols/core/mpc_preproc.h"
#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_pool.h"
#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

struct mpc_party;

/* The computation to count, run at each simulated party (a child process):
 * party p (mpc_party_id(p) of mpc_party_size(p)) with the counting backend
 * installed; `zero_cross` is an engine that outputs zeros, for computations
 * that take cross products directly. Its return value is the run's. */
typedef mpc_err (*mpc_plan_fn)(struct mpc_party *p, const mpc_cross *zero_cross, void *arg);

/* Run fn at n_parties simulated parties (2..MPC_NET_MAX_NODES) and return
 * in *out what party 0 asked for (every call is collective: all parties ask
 * the same; a difference is MPC_EINVAL). arg is copied into each child by
 * fork. MPC_EIO: a child could not be started or its result read; the error
 * of a failing child (its detail) otherwise. Takes as long as the online
 * phase of the computation on this machine. */
mpc_err mpc_plan_simulate(int n_parties, mpc_plan_fn fn, void *arg,
                          mpc_pool_plan *out) MPC_MUST_CHECK;

/* A simulation started ahead, for a process that will open a network before
 * it knows its shapes: nanomsg's threads do not survive fork(), so the
 * simulating processes must come from a process that never opened one.
 * mpc_plan_ahead_start forks a planner that waits; mpc_plan_ahead_get sends
 * it `value` (stored into *slot in the planner's copy of arg before fn runs
 * anywhere: the shape learnt late, e.g. a row count) and returns the plan;
 * mpc_plan_ahead_cancel ends a planner never asked. */
typedef struct {
	int pid, to, from;
} mpc_plan_ahead;

mpc_err mpc_plan_ahead_start(mpc_plan_ahead *h, int n_parties, mpc_plan_fn fn, void *arg,
                             uint64_t *slot) MPC_MUST_CHECK;
mpc_err mpc_plan_ahead_get(mpc_plan_ahead *h, uint64_t value, mpc_pool_plan *out) MPC_MUST_CHECK;
void mpc_plan_ahead_cancel(mpc_plan_ahead *h);

/* A backend that hands out zeros (free does nothing). For plans and tests. */
mpc_preproc mpc_plan_zero_backend(void);

/* A cross-product engine whose every output is zero. */
mpc_cross mpc_plan_zero_cross(void);

/* One line: "3,000 triples Z_2^64, 1,000 truncation pairs Z_2^64 f=16,
 * 81,000 bits Z_2^64, 27,376 bit-triple words"; kinds with zero elements are
 * left out; "nothing" for an empty plan. Returns buf (always terminated). */
const char *mpc_plan_format(const mpc_pool_plan *pl, char *buf, size_t len);

/* 1 if the two plans ask for the same amount of every kind. */
int mpc_plan_equal(const mpc_pool_plan *a, const mpc_pool_plan *b);

/* How many times `one` fits in `have`, kind by kind (the least over the
 * kinds one asks for; 0 if one asks for nothing). */
uint64_t mpc_plan_times(const mpc_pool_plan *have, const mpc_pool_plan *one);

#endif
