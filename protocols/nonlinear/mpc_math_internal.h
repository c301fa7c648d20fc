/* Internals of the fixed-point functions (mpc_math.h) shared by their files:
 * mpc_math.c (the boolean-circuit engine on bit planes, the parameter check,
 * the arithmetic helpers, the passes over long vectors), mpc_math_exp.c (exp
 * and sigmoid), mpc_math_div.c (reciprocal, division, square root). Not
 * installed, not for callers. */
#ifndef MPC_MATH_INTERNAL_H
#define MPC_MATH_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_party.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"

typedef mpc_u128 u128;
typedef mpc_i128 i128;

#define RING MPC_Z128
#define KB   128
/* Elements per pass: bounds the memory of the b2a planes (up to ~80 planes
 * of 16-byte shares per element); rounds are constant up to this size. */
#define CHUNK ((size_t)1 << 17)
#define GMAX  1024
#define DMAX  512
/* An engine: run once counting (W = 1, nothing sent) to learn how many AND
 * planes the circuit has, then for real after one bit-triple fetch. */
typedef struct {
	mpc_party *p;
	int king;
	size_t W;
	uint64_t tail; /* valid bits of each plane's last word */
	int counting;
	size_t n_and; /* AND planes flushed */
	mpc_bit_triples t;
	size_t off;
	mpc_bool_gate g[GMAX];
	size_t ng;
	uint64_t *mem; /* planes, allocated in order */
	size_t cap, used;
	mpc_err err;
} bc;
/* OR of m planes, one tree level per layer. */
typedef struct {
	uint64_t *v[KB];
	size_t m;
} ortree;
/* One-hot decoder of an m-bit value (bits[0] least significant) for the
 * values vmin..vmax: consumes one bit per layer from the top; adding a bit to
 * a set of exclusive planes D costs |D| ANDs (D & b, and D ^ (D & b)). */
typedef struct {
	const uint64_t *const *bits;
	int j;
	unsigned vmin, vmax;
	size_t ne;
	unsigned v[DMAX];
	const uint64_t *pl[DMAX]; /* NULL: the constant 1 */
	uint64_t *tmp[DMAX];
} dec;
/* Suffix OR (Kogge-Stone): p[i] <- OR(p[i..M-1]), one distance per layer. */
typedef struct {
	uint64_t *p[KB];
	size_t M, d;
} ks;
/* A circuit: from the input's 128 bit planes xb, write `planes` planes to
 * outp (NULL when counting). */
typedef mpc_err (*circ_fn)(bc *b, const uint64_t *xb, const void *arg, uint64_t *outp);

#define CIRC_PLANES 4096

/* A scratch area of `cnt` vectors of n elements, wiped on release. */
typedef struct {
	u128 *v;
	size_t n, cnt;
} scratch;

/* The function of a circuit-building engine that takes a new plane. */

static inline uint64_t *P(bc *b) {
	if (b->used == b->cap)
		abort(); /* our bug: the plane budget of a circuit is fixed */
	return b->mem + b->W * b->used++;
}

static inline void bxor(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y) {
	for (size_t w = 0; w < b->W; w++)
		z[w] = x[w] ^ y[w];
}

static inline void bnot(bc *b, uint64_t *z, const uint64_t *x) {
	for (size_t w = 0; w < b->W; w++)
		z[w] = x[w] ^ (b->king ? (w + 1 == b->W ? b->tail : ~0ull) : 0);
}

static inline void gate(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y, int acc) {
	if (b->ng == GMAX)
		abort(); /* our bug: layers are smaller */
	b->g[b->ng++] = (mpc_bool_gate){x, y, z, acc};
}

/* z = x & y after the next flush */
static inline void band(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y) {
	gate(b, z, x, y, 0);
}

/* z = x | y = x ^ y ^ (x & y) after the next flush (x, y final now) */
static inline void bor(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y) {
	bxor(b, z, x, y);
	gate(b, z, x, y, 1);
}

/* The plane of value v (after the decoder finished). */
static inline const uint64_t *dec_get(const dec *d, unsigned v) {
	return d->pl[v - d->vmin];
}

static inline void emit(bc *b, uint64_t *outp, size_t *k, const uint64_t *pl) {
	if (outp)
		memcpy(outp + *k * b->W, pl, b->W * 8);
	(*k)++;
}

/* round(v * 2^e) as a ring element (two's complement), |v * 2^e| < 2^126 */
static inline u128 fx(double v, int e) {
	return (u128)(i128)round(ldexp(v, e));
}

/* out[i] = c * x[i] + (king ? k : 0) */
static inline void affine(int king, u128 *out, const u128 *x, u128 c, u128 k, size_t n) {
	for (size_t i = 0; i < n; i++)
		out[i] = c * x[i] + (king ? k : 0);
}

/* out[i] += c * x[i] */
static inline void axpy(u128 *out, const u128 *x, u128 c, size_t n) {
	for (size_t i = 0; i < n; i++)
		out[i] += c * x[i];
}

/* A slice [k*n, (k+1)*n) of a triple batch, as a batch of its own (borrowed). */
static inline mpc_triples slice(const mpc_triples *t, size_t k, size_t n) {
	mpc_triples s = {.a = {RING, n, (u128 *)t->a.v + k * n},
	                 .b = {RING, n, (u128 *)t->b.v + k * n},
	                 .c = {RING, n, (u128 *)t->c.v + k * n}};
	return s;
}

static inline u128 *sv(const scratch *s, size_t i) {
	return s->v + i * s->n;
}

/* Engine steps (see mpc_math.c): flush queues the pending AND layer; each
 * *_queue adds one layer of its structure and returns 0 once it is done. */
mpc_err mpc_math_flush(bc *b);
void mpc_math_ort_init(bc *b, ortree *t, uint64_t *const *pl, size_t m);
int mpc_math_ort_queue(bc *b, ortree *t);
void mpc_math_dec_init(dec *d, const uint64_t *const *bits, int m, unsigned vmin, unsigned vmax);
int mpc_math_dec_queue(bc *b, dec *d);
void mpc_math_dec_post(bc *b, dec *d);
int mpc_math_ks_queue(bc *b, ks *s);

/* Ring Z_2^128, F_MIN <= f <= F_MAX, vectors present: else MPC_EINVAL
 * naming mpc_math_<what>. */
mpc_err mpc_math_check(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *out,
                       size_t n, const char *what) MPC_MUST_CHECK;
/* z = trunc(x * y, sh) (sh = 0: exact product). */
mpc_err mpc_math_bmul(mpc_party *p, const u128 *x, const u128 *y, u128 *z, size_t n,
                      unsigned sh) MPC_MUST_CHECK;
/* acc <- ((c3 t + c2) t + c1) t + c0 with exact products (three triples of
 * t, from slot k0 on). c[] holds n elements each; acc gets the result. */
mpc_err mpc_math_horner3(mpc_party *p, const mpc_triples *t, size_t k0, u128 *const c[4],
                         const u128 *tt, u128 *acc, size_t n) MPC_MUST_CHECK;
mpc_err mpc_math_scratch_init(scratch *s, size_t cnt, size_t n) MPC_MUST_CHECK;
void mpc_math_scratch_fini(scratch *s);
/* Bit-decompose x (all 128 bits), run circuit fn, and bring its `planes`
 * output planes back to arithmetic shares in A (planes * n elements). */
mpc_err mpc_math_bits_circ_b2a(mpc_party *p, const u128 *x, size_t n, circ_fn fn, const void *arg,
                               size_t planes, u128 *A) MPC_MUST_CHECK;

/* A function on one pass of at most CHUNK elements. */
typedef mpc_err (*core_fn)(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n);
/* fn over x in passes of CHUNK elements. */
mpc_err mpc_math_chunked(mpc_party *p, unsigned f, core_fn fn, const void *x, void *out,
                         size_t n) MPC_MUST_CHECK;

#endif
