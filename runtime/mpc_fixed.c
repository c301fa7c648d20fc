/* Fixed-point encoding: v -> round(v * 2^F) in two's complement.
 *
 * Multiplying a double by 2^F is exact (a power of two, and the range check
 * keeps the product below 2^127, far from overflow), and round() is exact, so
 * the only error is the rounding itself: at most 2^-(F+1). The rounded value
 * cannot reach 2^(k-1): a product that still has a fraction is below 2^52.
 * The conversion of an integral double to int64_t / __int128 is then exact. */
#include "runtime/mpc_fixed.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

mpc_err mpc_fixed_check_frac(mpc_ring r, unsigned f) {
	switch (r) {
	case MPC_Z64:
		if (f <= 60)
			return MPC_OK;
		break;
	case MPC_Z128:
		if (f <= 100)
			return MPC_OK;
		break;
	default:
		return mpc_error(MPC_EINVAL, "fixed point: invalid ring %d", (int)r);
	}
	return mpc_error(MPC_EINVAL, "fixed point: %u fractional bits is too many for Z_2^%u", f,
	                 mpc_ring_bits(r));
}

double mpc_fixed_limit(mpc_ring r, unsigned f) {
	if (mpc_fixed_check_frac(r, f) != MPC_OK) {
		mpc_error_clear();
		return 0.0;
	}
	return ldexp(1.0, (int)(mpc_ring_bits(r) - 1 - f));
}

mpc_err mpc_fixed_encode(mpc_ring r, unsigned f, double max_abs, const double *in, void *out,
                         size_t n) {
	mpc_err e;
	size_t i;

	if ((e = mpc_fixed_check_frac(r, f)) != MPC_OK)
		return e;
	double limit = mpc_fixed_limit(r, f);
	/* Written so that a NaN max_abs fails too. */
	if (!(max_abs > 0.0 && max_abs <= limit))
		return mpc_error(MPC_EINVAL,
		                 "fixed point: max_abs %g is not in (0, %g] for Z_2^%u, F=%u",
		                 max_abs, limit, mpc_ring_bits(r), f);
	if (n > 0 && (!in || !out))
		return mpc_error(MPC_EINVAL, "fixed point: NULL array");

	const double scale = ldexp(1.0, (int)f);
	if (r == MPC_Z64) {
		uint64_t *o = out;
		for (i = 0; i < n; i++) {
			/* One comparison rejects NaN, infinities and out-of-range values. */
			if (!(fabs(in[i]) < max_abs))
				goto range;
			o[i] = (uint64_t)(int64_t)round(in[i] * scale);
		}
	} else {
		mpc_u128 *o = out;
		for (i = 0; i < n; i++) {
			if (!(fabs(in[i]) < max_abs))
				goto range;
			double x = round(in[i] * scale);
			/* The common case fits in 64 bits, and the hardware conversion is
			 * much faster than the library's double -> __int128. */
			if (fabs(x) < 0x1p63)
				o[i] = (mpc_u128)(mpc_i128)(int64_t)x;
			else
				o[i] = (mpc_u128)(mpc_i128)x;
		}
	}
	return MPC_OK;

range:
	/* Encoded inputs are as secret as the inputs: do not leave a partial
	 * encoding behind. The message names the index and the public bound only. */
	OPENSSL_cleanse(out, i * mpc_ring_bytes(r));
	return mpc_error(MPC_ERANGE,
	                 "fixed-point value at index %zu is outside (-%g, %g) "
	                 "(or is not a finite number)",
	                 i, max_abs, max_abs);
}

void mpc_fixed_decode(mpc_ring r, unsigned f, const void *in, double *out, size_t n) {
	/* Exact: the scale is a power of two and the results stay normal. */
	const double inv = ldexp(1.0, -(int)f);

	switch (r) {
	case MPC_Z64: {
		const uint64_t *x = in;
		for (size_t i = 0; i < n; i++)
			out[i] = (double)(int64_t)x[i] * inv;
		return;
	}
	case MPC_Z128: {
		/* One correctly rounded conversion (going through long double would
		 * round twice), from int64_t when the value fits: that is a single
		 * instruction, the __int128 conversion a library call. */
		const mpc_u128 *x = in;
		for (size_t i = 0; i < n; i++) {
			mpc_i128 v = (mpc_i128)x[i];
			int64_t lo = (int64_t)v;
			out[i] = (lo == v ? (double)lo : (double)v) * inv;
		}
		return;
	}
	}
	/* As in mpc_ring.c: an invalid ring here is a bug in our own code. */
	fprintf(stderr, "mpc: %s: invalid ring %d\n", __func__, (int)r);
	abort();
}
