/* Fixed-point numbers: a real v is stored as round(v * 2^F) in two's
 * complement in the ring, F fractional bits (default 16).
 *
 * Representable range: |v| < 2^(k-1-F) for the ring's k bits. Encoding
 * refuses NaN, infinities and anything with |v| >= max_abs (MPC_ERANGE), so a
 * value never wraps silently. Encoding error: at most 2^-(F+1) (round to
 * nearest). Decoding reads the signed value and divides by 2^F; in Z_2^128 a
 * double keeps 53 significant bits, so decoded values above 2^53 * 2^-F lose
 * precision (documented, not an error). */
#ifndef MPC_FIXED_H
#define MPC_FIXED_H

#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>

#define MPC_FIXED_DEFAULT_FRAC 16

/* MPC_OK if 0 <= f <= bits-2 for the ring (and f <= 60 in Z_2^64,
 * f <= 100 in Z_2^128), MPC_EINVAL otherwise. */
mpc_err mpc_fixed_check_frac(mpc_ring r, unsigned f) MPC_MUST_CHECK;

/* Largest magnitude that is representable at all: 2^(k-1-F), as a double. */
double mpc_fixed_limit(mpc_ring r, unsigned f);

/* Encode n doubles into ring elements (out: uint64_t[n] or mpc_u128[n]).
 * Each |in[i]| must be < max_abs, and max_abs must be <= mpc_fixed_limit().
 * MPC_ERANGE names the index of the first offending value (never the value:
 * inputs are secret). On error nothing in out is guaranteed. */
mpc_err mpc_fixed_encode(mpc_ring r, unsigned f, double max_abs, const double *in, void *out,
                         size_t n) MPC_MUST_CHECK;

/* Decode n ring elements (signed) into doubles. */
void mpc_fixed_decode(mpc_ring r, unsigned f, const void *in, double *out, size_t n);

#endif
