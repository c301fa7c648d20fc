/* The rings Z_2^64 and Z_2^128 and vector arithmetic on them.
 * A vector is a plain array of ring elements (uint64_t or mpc_u128) with a
 * length; each operation dispatches once on the ring and then runs a tight
 * loop. Outputs may alias inputs. */
#ifndef MPC_RING_H
#define MPC_RING_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 mpc_u128;
typedef __int128 mpc_i128;

typedef enum { MPC_Z64 = 64, MPC_Z128 = 128 } mpc_ring;

/* Bytes per element: 8 or 16. */
static inline size_t mpc_ring_bytes(mpc_ring r) {
	return r == MPC_Z128 ? 16 : 8;
}
/* Bits per element: 64 or 128. */
static inline unsigned mpc_ring_bits(mpc_ring r) {
	return (unsigned)r;
}
/* MPC_OK for 64 and 128, MPC_EINVAL otherwise. */
mpc_err mpc_ring_check(mpc_ring r) MPC_MUST_CHECK;
/* Parse "64"/"128"/"z64"/"z128"/"Z_2^64"...; MPC_EINVAL otherwise. */
mpc_err mpc_ring_parse(const char *s, mpc_ring *out) MPC_MUST_CHECK;

/* A vector of ring elements that owns its storage. Shares are secrets:
 * mpc_vec_fini wipes before freeing. */
typedef struct {
	mpc_ring ring;
	size_t n;
	void *v; /* uint64_t[n] or mpc_u128[n] */
} mpc_vec;

/* Allocate n zeroed elements (16-byte aligned). MPC_ENOMEM. Caller calls _fini. */
mpc_err mpc_vec_init(mpc_vec *vec, mpc_ring r, size_t n) MPC_MUST_CHECK;
/* Wipe and free; safe on a zeroed or already finished vec. */
void mpc_vec_fini(mpc_vec *vec);

/* Element-wise, mod 2^k: out = a + b, a - b, -a, a * b. */
void mpc_ring_add(mpc_ring r, void *out, const void *a, const void *b, size_t n);
void mpc_ring_sub(mpc_ring r, void *out, const void *a, const void *b, size_t n);
void mpc_ring_neg(mpc_ring r, void *out, const void *a, size_t n);
void mpc_ring_mul(mpc_ring r, void *out, const void *a, const void *b, size_t n);
/* out = a * c for one public element c (a uint64_t or mpc_u128, per ring). */
void mpc_ring_scale(mpc_ring r, void *out, const void *a, const void *c, size_t n);
/* out = a + c for one public element c. */
void mpc_ring_add_const(mpc_ring r, void *out, const void *a, const void *c, size_t n);
/* Logical (unsigned) right shift by `bits` (< ring bits). */
void mpc_ring_shr(mpc_ring r, void *out, const void *a, unsigned bits, size_t n);
/* Arithmetic (signed) right shift by `bits` (< ring bits). */
void mpc_ring_sar(mpc_ring r, void *out, const void *a, unsigned bits, size_t n);
/* Sum of all n elements into *out (one element). */
void mpc_ring_sum(mpc_ring r, void *out, const void *a, size_t n);
/* Sum over i of a[i] * b[i] into *out (one element). */
void mpc_ring_dot(mpc_ring r, void *out, const void *a, const void *b, size_t n);
/* Set one element: out[i] = (signed) x, sign-extended to the ring. */
void mpc_ring_set_i64(mpc_ring r, void *out, size_t i, int64_t x);
/* Read element i as a signed 64-bit value (Z_2^128: the low 64 bits, sign
 * taken from bit 63; callers that need 128 bits read the array directly). */
int64_t mpc_ring_get_i64(mpc_ring r, const void *a, size_t i);

#endif
