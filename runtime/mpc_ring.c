/* Vector arithmetic in Z_2^64 and Z_2^128. Each call dispatches once on the
 * ring and runs a plain loop that the compiler can unroll and vectorize;
 * unsigned arithmetic wraps, which is exactly reduction mod 2^k. Outputs may be
 * the same array as an input (element i is read before it is written), but
 * partially overlapping arrays are not supported. */
#include "runtime/mpc_ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* An invalid ring here is a bug in our own code (rings are validated where
 * they enter: parsing, configuration), so abort rather than compute garbage. */
static _Noreturn void bad_ring(mpc_ring r, const char *fn) {
	fprintf(stderr, "mpc: %s: invalid ring %d\n", fn, (int)r);
	abort();
}

mpc_err mpc_ring_check(mpc_ring r) {
	if (r == MPC_Z64 || r == MPC_Z128)
		return MPC_OK;
	return mpc_error(MPC_EINVAL, "invalid ring %d (expected 64 or 128)", (int)r);
}

mpc_err mpc_ring_parse(const char *s, mpc_ring *out) {
	const char *p = s;

	if (!s || !out)
		return mpc_error(MPC_EINVAL, "ring: missing argument");
	if (*p == 'z' || *p == 'Z') {
		p++;
		if (strncmp(p, "_2^", 3) == 0)
			p += 3;
	}
	if (strcmp(p, "64") == 0) {
		*out = MPC_Z64;
		return MPC_OK;
	}
	if (strcmp(p, "128") == 0) {
		*out = MPC_Z128;
		return MPC_OK;
	}
	return mpc_error(MPC_EINVAL, "ring: expected 64, 128, z64, z128, Z_2^64 or Z_2^128");
}

mpc_err mpc_vec_init(mpc_vec *vec, mpc_ring r, size_t n) {
	mpc_err e;

	if (!vec)
		return mpc_error(MPC_EINVAL, "mpc_vec_init: NULL vec");
	memset(vec, 0, sizeof(*vec));
	if ((e = mpc_ring_check(r)) != MPC_OK)
		return e;
	size_t bytes = mpc_ring_bytes(r);
	if (n > (SIZE_MAX - 15) / bytes)
		return mpc_error(MPC_ENOMEM, "mpc_vec_init: %zu elements overflow size_t", n);
	vec->ring = r;
	if (n == 0)
		return MPC_OK; /* v stays NULL; every operation on 0 elements is a no-op */
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	size_t size = (n * bytes + 15) & ~(size_t)15;
	void *v = aligned_alloc(16, size);
	if (!v)
		return mpc_error(MPC_ENOMEM, "mpc_vec_init: cannot allocate %zu bytes", size);
	memset(v, 0, size);
	vec->v = v;
	vec->n = n;
	return MPC_OK;
}

void mpc_vec_fini(mpc_vec *vec) {
	if (!vec)
		return;
	if (vec->v) {
		OPENSSL_cleanse(vec->v, vec->n * mpc_ring_bytes(vec->ring));
		free(vec->v);
	}
	memset(vec, 0, sizeof(*vec));
}

void mpc_ring_add(mpc_ring r, void *out, const void *a, const void *b, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a, *y = b;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] + y[i];
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a, *y = b;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] + y[i];
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_sub(mpc_ring r, void *out, const void *a, const void *b, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a, *y = b;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] - y[i];
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a, *y = b;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] - y[i];
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_neg(mpc_ring r, void *out, const void *a, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a;
		for (size_t i = 0; i < n; i++)
			o[i] = -x[i];
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a;
		for (size_t i = 0; i < n; i++)
			o[i] = -x[i];
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_mul(mpc_ring r, void *out, const void *a, const void *b, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a, *y = b;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] * y[i];
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a, *y = b;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] * y[i];
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_scale(mpc_ring r, void *out, const void *a, const void *c, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a;
		const uint64_t k = *(const uint64_t *)c; /* read once: c may alias out */
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] * k;
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a;
		const mpc_u128 k = *(const mpc_u128 *)c;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] * k;
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_add_const(mpc_ring r, void *out, const void *a, const void *c, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a;
		const uint64_t k = *(const uint64_t *)c;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] + k;
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a;
		const mpc_u128 k = *(const mpc_u128 *)c;
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] + k;
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_shr(mpc_ring r, void *out, const void *a, unsigned bits, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a;
		if (bits >= 64) { /* outside the contract; give the mathematical answer, not UB */
			for (size_t i = 0; i < n; i++)
				o[i] = 0;
			return;
		}
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] >> bits;
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a;
		if (bits >= 128) {
			for (size_t i = 0; i < n; i++)
				o[i] = 0;
			return;
		}
		for (size_t i = 0; i < n; i++)
			o[i] = x[i] >> bits;
		return;
	}
	}
	bad_ring(r, __func__);
}

/* gcc (and clang) define >> on negative signed values as an arithmetic shift;
 * the conversions unsigned <-> signed are modular on both. */
void mpc_ring_sar(mpc_ring r, void *out, const void *a, unsigned bits, size_t n) {
	switch (r) {
	case MPC_Z64: {
		uint64_t *o = out;
		const uint64_t *x = a;
		if (bits > 63)
			bits = 63; /* same result as any larger shift: the sign fill */
		for (size_t i = 0; i < n; i++)
			o[i] = (uint64_t)((int64_t)x[i] >> bits);
		return;
	}
	case MPC_Z128: {
		mpc_u128 *o = out;
		const mpc_u128 *x = a;
		if (bits > 127)
			bits = 127;
		for (size_t i = 0; i < n; i++)
			o[i] = (mpc_u128)((mpc_i128)x[i] >> bits);
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_sum(mpc_ring r, void *out, const void *a, size_t n) {
	switch (r) {
	case MPC_Z64: {
		const uint64_t *x = a;
		uint64_t s = 0;
		for (size_t i = 0; i < n; i++)
			s += x[i];
		*(uint64_t *)out = s;
		return;
	}
	case MPC_Z128: {
		const mpc_u128 *x = a;
		mpc_u128 s = 0;
		for (size_t i = 0; i < n; i++)
			s += x[i];
		*(mpc_u128 *)out = s;
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_dot(mpc_ring r, void *out, const void *a, const void *b, size_t n) {
	switch (r) {
	case MPC_Z64: {
		const uint64_t *x = a, *y = b;
		uint64_t s = 0;
		for (size_t i = 0; i < n; i++)
			s += x[i] * y[i];
		*(uint64_t *)out = s;
		return;
	}
	case MPC_Z128: {
		const mpc_u128 *x = a, *y = b;
		mpc_u128 s = 0;
		for (size_t i = 0; i < n; i++)
			s += x[i] * y[i];
		*(mpc_u128 *)out = s;
		return;
	}
	}
	bad_ring(r, __func__);
}

void mpc_ring_set_i64(mpc_ring r, void *out, size_t i, int64_t x) {
	switch (r) {
	case MPC_Z64:
		((uint64_t *)out)[i] = (uint64_t)x;
		return;
	case MPC_Z128:
		((mpc_u128 *)out)[i] = (mpc_u128)(mpc_i128)x;
		return;
	}
	bad_ring(r, __func__);
}

int64_t mpc_ring_get_i64(mpc_ring r, const void *a, size_t i) {
	switch (r) {
	case MPC_Z64:
		return (int64_t)((const uint64_t *)a)[i];
	case MPC_Z128:
		return (int64_t)(uint64_t)((const mpc_u128 *)a)[i];
	}
	bad_ring(r, __func__);
}
