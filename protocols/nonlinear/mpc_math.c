/* Fixed-point reciprocal, division, square root, exp and sigmoid on shares
 * (see mpc_math.h for the methods, domains, bounds and costs).
 *
 * Every function starts with one bit decomposition of its (128-bit) input
 * (mpc_conv_a2b), runs a small boolean circuit on the bit planes (prefix ORs,
 * one-hot decoders: bit triples, one round per AND layer, all elements at
 * once), brings the few planes it needs back to arithmetic shares with one
 * mpc_conv_b2a_planes, and finishes in Z_2^128 with public constants
 * selected by those one-hot vectors (local), Beaver products and mpc_trunc.
 *
 * Public constants are computed at run time with +, -, *, / and sqrt only
 * (correctly rounded in IEEE arithmetic), never libm's exp: every party must
 * derive bit-identical constants, whatever its C library. */
#include "protocols/nonlinear/mpc_math.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_wipe.h"
#include "protocols/core/mpc_beaver.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"

typedef mpc_u128 u128;
typedef mpc_i128 i128;

#define RING MPC_Z128
#define KB 128
/* Elements per pass: bounds the memory of the b2a planes (up to ~80 planes
 * of 16-byte shares per element); rounds are constant up to this size. */
#define CHUNK ((size_t)1 << 17)
#define GMAX 1024
#define DMAX 512

/* ------------------------------------------------------------------ */
/* Constants                                                           */

/* exp(x) for |x| <= 64 from a Taylor series of x/2^10, squared ten times:
 * only correctly rounded operations (relative error about 1e-13). */
static double dexp(double x)
{
	double y = x / 1024.0, s = 1, term = 1;
	for (int k = 1; k < 16; k++) {
		term = term * y / k;
		s += term;
	}
	for (int k = 0; k < 10; k++)
		s *= s;
	return s;
}

static double dsigmoid(double x) { return 1.0 / (1.0 + dexp(-x)); }

/* round(v * 2^e) as a ring element (two's complement), |v * 2^e| < 2^126 */
static u128 fx(double v, int e) { return (u128)(i128)round(ldexp(v, e)); }

/* The cubic through fn(a + w t) at the four Chebyshev nodes of [0, 1], as
 * monomial coefficients c[0..3] in t. */
static void cheb3(double (*fn)(double), double a, double w, double c[4])
{
	double r2 = sqrt(2.0), c1 = sqrt(2 + r2) / 2, c3 = sqrt(2 - r2) / 2;
	double t[4] = {(1 - c1) / 2, (1 - c3) / 2, (1 + c3) / 2, (1 + c1) / 2}, d[4];
	for (int k = 0; k < 4; k++)
		d[k] = fn(a + w * t[k]);
	for (int j = 1; j < 4; j++)
		for (int k = 3; k >= j; k--)
			d[k] = (d[k] - d[k - 1]) / (t[k] - t[k - j]);
	double q[4] = {d[3], 0, 0, 0};
	for (int k = 2; k >= 0; k--) {
		for (int i = 3; i >= 1; i--)
			q[i] = q[i - 1] - t[k] * q[i];
		q[0] = d[k] - t[k] * q[0];
	}
	memcpy(c, q, sizeof(q));
}

/* ------------------------------------------------------------------ */
/* Boolean circuits on bit planes                                      */

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

static uint64_t *P(bc *b)
{
	if (b->used == b->cap)
		abort(); /* our bug: the plane budget of a circuit is fixed */
	return b->mem + b->W * b->used++;
}

static void bxor(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y)
{
	for (size_t w = 0; w < b->W; w++)
		z[w] = x[w] ^ y[w];
}

static void bnot(bc *b, uint64_t *z, const uint64_t *x)
{
	for (size_t w = 0; w < b->W; w++)
		z[w] = x[w] ^ (b->king ? (w + 1 == b->W ? b->tail : ~0ull) : 0);
}

static void gate(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y, int acc)
{
	if (b->ng == GMAX)
		abort(); /* our bug: layers are smaller */
	b->g[b->ng++] = (mpc_bool_gate){x, y, z, acc};
}

/* z = x & y after the next flush */
static void band(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y) { gate(b, z, x, y, 0); }

/* z = x | y = x ^ y ^ (x & y) after the next flush (x, y final now) */
static void bor(bc *b, uint64_t *z, const uint64_t *x, const uint64_t *y)
{
	bxor(b, z, x, y);
	gate(b, z, x, y, 1);
}

static mpc_err flush(bc *b)
{
	if (b->err != MPC_OK || b->ng == 0) {
		b->ng = 0;
		return b->err;
	}
	if (!b->counting) {
		b->err = mpc_bool_and_layer(b->p, &b->t, b->off, b->g, b->ng, b->W);
		b->off += b->ng * b->W;
	}
	b->n_and += b->ng;
	b->ng = 0;
	return b->err;
}

/* OR of m planes, one tree level per layer. */
typedef struct {
	uint64_t *v[KB];
	size_t m;
} ortree;

static void ort_init(bc *b, ortree *t, uint64_t *const *pl, size_t m)
{
	t->m = m;
	for (size_t i = 0; i < m; i++)
		t->v[i] = pl[i];
	if (m == 0) {
		t->v[0] = P(b); /* zero */
		t->m = 1;
	}
}

static int ort_queue(bc *b, ortree *t)
{
	size_t k = 0;
	if (t->m <= 1)
		return 0;
	for (size_t i = 0; i + 1 < t->m; i += 2) {
		uint64_t *z = P(b);
		bor(b, z, t->v[i], t->v[i + 1]);
		t->v[k++] = z;
	}
	if (t->m % 2)
		t->v[k++] = t->v[t->m - 1];
	t->m = k;
	return 1;
}

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

static void dec_init(dec *d, const uint64_t *const *bits, int m, unsigned vmin, unsigned vmax)
{
	d->bits = bits;
	d->j = m - 1;
	d->vmin = vmin;
	d->vmax = vmax;
	d->ne = 1;
	d->v[0] = 0;
	d->pl[0] = NULL;
}

static int dec_queue(bc *b, dec *d)
{
	if (d->j < 0)
		return 0;
	for (size_t i = 0; i < d->ne; i++)
		if (d->pl[i]) {
			d->tmp[i] = P(b);
			band(b, d->tmp[i], d->pl[i], d->bits[d->j]);
		}
	return 1;
}

static int dec_wanted(const dec *d, unsigned v, int j)
{
	unsigned lo = v << j, hi = ((v + 1) << j) - 1;
	return lo <= d->vmax && hi >= d->vmin;
}

static void dec_post(bc *b, dec *d)
{
	unsigned nv[DMAX];
	const uint64_t *npl[DMAX];
	size_t k = 0;
	int j = d->j;
	for (size_t i = 0; i < d->ne; i++) {
		const uint64_t *one;
		uint64_t *zero = P(b);
		if (d->pl[i] == NULL) {
			one = d->bits[j];
			bnot(b, zero, one);
		} else {
			one = d->tmp[i];
			bxor(b, zero, d->pl[i], one);
		}
		if (dec_wanted(d, 2 * d->v[i], j)) {
			nv[k] = 2 * d->v[i];
			npl[k++] = zero;
		}
		if (dec_wanted(d, 2 * d->v[i] + 1, j)) {
			nv[k] = 2 * d->v[i] + 1;
			npl[k++] = one;
		}
		if (k > DMAX - 2)
			abort(); /* our bug */
	}
	memcpy(d->v, nv, k * sizeof(nv[0]));
	memcpy(d->pl, npl, k * sizeof(npl[0]));
	d->ne = k;
	d->j--;
}

/* The plane of value v (after the decoder finished). */
static const uint64_t *dec_get(const dec *d, unsigned v) { return d->pl[v - d->vmin]; }

/* Suffix OR (Kogge-Stone): p[i] <- OR(p[i..M-1]), one distance per layer. */
typedef struct {
	uint64_t *p[KB];
	size_t M, d;
} ks;

static int ks_queue(bc *b, ks *s)
{
	uint64_t *q[KB];
	if (s->d >= s->M)
		return 0;
	for (size_t i = 0; i < s->M; i++) {
		if (i + s->d < s->M) {
			q[i] = P(b);
			bor(b, q[i], s->p[i], s->p[i + s->d]);
		} else {
			q[i] = s->p[i];
		}
	}
	memcpy(s->p, q, s->M * sizeof(q[0]));
	s->d *= 2;
	return 1;
}

/* A circuit: from the input's 128 bit planes xb, write `planes` planes to
 * outp (NULL when counting). */
typedef mpc_err (*circ_fn)(bc *b, const uint64_t *xb, const void *arg, uint64_t *outp);

#define CIRC_PLANES 4096

static void bc_release(bc *b)
{
	if (b->mem) {
		mpc_wipe(b->mem, b->used * b->W * 8);
		free(b->mem);
	}
	b->mem = NULL;
}

static mpc_err bc_setup(bc *b, mpc_party *p, size_t n, size_t W, int counting)
{
	memset(b, 0, offsetof(bc, g));
	b->ng = 0;
	b->p = p;
	b->king = mpc_party_id(p) == 0;
	b->W = W;
	b->tail = counting || n % 64 == 0 ? ~0ull : (1ull << (n % 64)) - 1;
	b->counting = counting;
	b->cap = CIRC_PLANES;
	b->used = 0;
	b->err = MPC_OK;
	if ((b->mem = calloc(CIRC_PLANES * W, 8)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for %zu words of bit planes (%s:%d)",
				 (size_t)CIRC_PLANES * W, __FILE__, __LINE__);
	return MPC_OK;
}

static mpc_err run_circ(mpc_party *p, size_t n, circ_fn fn, const void *arg, const uint64_t *xb,
			uint64_t *outp)
{
	static const uint64_t zeros[KB];
	bc *b = malloc(sizeof(*b));
	size_t n_and;
	mpc_err err;

	if (b == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
	if ((err = bc_setup(b, p, n, 1, 1)) == MPC_OK)
		err = fn(b, zeros, arg, NULL);
	if (err == MPC_OK)
		err = b->err;
	n_and = b->n_and;
	bc_release(b);
	if (err != MPC_OK)
		goto out;
	if ((err = bc_setup(b, p, n, mpc_conv_words(n), 0)) != MPC_OK)
		goto out;
	if (n_and > 0 && (err = mpc_bit_triples_get(p, n_and * b->W, &b->t)) != MPC_OK) {
		bc_release(b);
		goto out;
	}
	err = fn(b, xb, arg, outp);
	if (err == MPC_OK && (err = b->err) == MPC_OK && b->n_and != n_and)
		err = mpc_error(MPC_EINVAL, "internal: circuit used %zu AND planes, counted %zu (%s:%d)",
				b->n_and, n_and, __FILE__, __LINE__);
	bc_release(b);
	if (n_and > 0)
		mpc_bit_triples_fini(&b->t);
out:
	mpc_wipe(b, sizeof(*b));
	free(b);
	return err;
}

static void emit(bc *b, uint64_t *outp, size_t *k, const uint64_t *pl)
{
	if (outp)
		memcpy(outp + *k * b->W, pl, b->W * 8);
	(*k)++;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */

#define F_MIN 8
#define F_MAX 20

static mpc_err check(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *out, size_t n,
		     const char *what)
{
	if (r != MPC_Z128)
		return mpc_error(MPC_EINVAL,
				 "mpc_math_%s at party %d: fixed-point functions need Z_2^128 (in Z_2^%u "
				 "the products of two fixed-point values overflow mpc_trunc's range)",
				 what, mpc_party_id(p), mpc_ring_bits(r));
	if (f < F_MIN || f > F_MAX)
		return mpc_error(MPC_EINVAL, "mpc_math_%s at party %d: %u fractional bits (supported: %d..%d)",
				 what, mpc_party_id(p), f, F_MIN, F_MAX);
	if (n > 0 && (x == NULL || out == NULL))
		return mpc_error(MPC_EINVAL, "mpc_math_%s at party %d: NULL vector", what,
				 mpc_party_id(p));
	return MPC_OK;
}

/* ------------------------------------------------------------------ */
/* Arithmetic helpers                                                  */

/* z = trunc(x * y, sh) (sh = 0: exact product). */
static mpc_err bmul(mpc_party *p, const u128 *x, const u128 *y, u128 *z, size_t n, unsigned sh)
{
	mpc_err err = mpc_beaver_mul(p, RING, x, y, z, n);
	if (err == MPC_OK && sh > 0)
		err = mpc_trunc(p, RING, sh, z, z, n);
	return err;
}

/* out[i] = c * x[i] + (king ? k : 0) */
static void affine(int king, u128 *out, const u128 *x, u128 c, u128 k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = c * x[i] + (king ? k : 0);
}

/* out[i] += c * x[i] */
static void axpy(u128 *out, const u128 *x, u128 c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] += c * x[i];
}

/* A slice [k*n, (k+1)*n) of a triple batch, as a batch of its own (borrowed). */
static mpc_triples slice(const mpc_triples *t, size_t k, size_t n)
{
	mpc_triples s = {.a = {RING, n, (u128 *)t->a.v + k * n},
			 .b = {RING, n, (u128 *)t->b.v + k * n},
			 .c = {RING, n, (u128 *)t->c.v + k * n}};
	return s;
}

/* acc <- ((c3 t + c2) t + c1) t + c0 with exact products (three triples of
 * t, from slot k0 on). c[] holds n elements each; acc gets the result. */
static mpc_err horner3(mpc_party *p, const mpc_triples *t, size_t k0, u128 *const c[4], const u128 *tt,
		       u128 *acc, size_t n)
{
	mpc_err err = MPC_OK;
	memcpy(acc, c[3], n * 16);
	for (int k = 2; k >= 0 && err == MPC_OK; k--) {
		mpc_triples s = slice(t, k0 + (size_t)(2 - k), n);
		if ((err = mpc_beaver_mul_with(p, RING, &s, acc, tt, acc, n)) == MPC_OK)
			for (size_t i = 0; i < n; i++)
				acc[i] += c[k][i];
	}
	return err;
}

/* A scratch area of `cnt` vectors of n elements, wiped on release. */
typedef struct {
	u128 *v;
	size_t n, cnt;
} scratch;

static mpc_err scratch_init(scratch *s, size_t cnt, size_t n)
{
	s->n = n;
	s->cnt = cnt;
	if ((s->v = calloc(cnt * n > 0 ? cnt * n : 1, 16)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for %zu shares (%s:%d)", cnt * n, __FILE__,
				 __LINE__);
	return MPC_OK;
}

static u128 *sv(const scratch *s, size_t i) { return s->v + i * s->n; }

static void scratch_fini(scratch *s)
{
	if (s->v) {
		mpc_wipe(s->v, s->cnt * s->n * 16);
		free(s->v);
	}
	s->v = NULL;
}

/* Bit-decompose x (all 128 bits), run circuit fn, and bring its `planes`
 * output planes back to arithmetic shares in A (planes * n elements). */
static mpc_err bits_circ_b2a(mpc_party *p, const u128 *x, size_t n, circ_fn fn, const void *arg,
			     size_t planes, u128 *A)
{
	size_t W = mpc_conv_words(n);
	uint64_t *xb = calloc(KB * W, 8), *bo = calloc(planes * W > 0 ? planes * W : 1, 8);
	mpc_err err;
	if (xb == NULL || bo == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory for bit planes (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	if ((err = mpc_conv_a2b(p, RING, x, n, KB, xb)) != MPC_OK ||
	    (err = run_circ(p, n, fn, arg, xb, bo)) != MPC_OK)
		goto out;
	err = mpc_conv_b2a_planes(p, RING, bo, planes, n, A);
out:
	mpc_wipe_free(xb, KB * W * 8);
	mpc_wipe_free(bo, planes * W * 8);
	return err;
}

/* ------------------------------------------------------------------ */
/* Sigmoid                                                             */

/* Segments of width 2^-h on [0, 16), a cubic per segment in the local
 * variable t in [0, 1) (the T = f - h bits below the segment bits), at
 * scale S = 85 for the Horner sum. */
typedef struct {
	unsigned f, h, r, T, nseg, S, Fc;
} sigp;

static void sig_params(unsigned f, sigp *sp)
{
	sp->f = f;
	sp->h = f <= 16 ? 1 : 2;
	sp->r = 4;
	sp->T = f - sp->h;
	sp->nseg = 1u << (sp->r + sp->h);
	sp->S = 85;
	sp->Fc = sp->S - 3 * sp->T;
}

/* y = |x| (bits of x XOR its sign: |x| - 1 ulp when x < 0), H = [y >= 16],
 * the segment one-hot D over y's bits f-h .. f+3, and
 *   ep_j = D_j & ~H & ~s, en_j = D_j & ~H & s, satp = H & ~s.
 * Out: y_0..y_{T-1}, ep_0.., en_0.., satp. */
static mpc_err sig_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp)
{
	const sigp *sp = varg;
	size_t W = b->W, k = 0;
	const uint64_t *s = xb + 127 * W;
	uint64_t *y[127];
	ortree t;
	dec *d = malloc(sizeof(*d));
	mpc_err err = MPC_OK;

	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
	for (int l = 0; l < 127; l++) {
		y[l] = P(b);
		bxor(b, y[l], xb + (size_t)l * W, s);
	}
	unsigned lo = sp->f + sp->r;
	ort_init(b, &t, y + lo, 127 - lo);
	dec_init(d, (const uint64_t *const *)(y + sp->T), (int)(sp->r + sp->h), 0, sp->nseg - 1);
	for (;;) {
		int a = ort_queue(b, &t), c = dec_queue(b, d);
		if (!a && !c)
			break;
		if ((err = flush(b)) != MPC_OK)
			goto out;
		if (c)
			dec_post(b, d);
	}
	uint64_t *H = t.v[0], *nH = P(b), *ns = P(b), *neg = P(b), *satp = P(b), *pos = P(b);
	bnot(b, nH, H);
	bnot(b, ns, s);
	band(b, neg, nH, s);
	band(b, satp, H, ns);
	if ((err = flush(b)) != MPC_OK)
		goto out;
	bxor(b, pos, nH, neg);
	uint64_t *ep = b->mem + b->used * W;
	for (unsigned j = 0; j < sp->nseg; j++)
		band(b, P(b), dec_get(d, j), pos);
	uint64_t *en = b->mem + b->used * W;
	for (unsigned j = 0; j < sp->nseg; j++)
		band(b, P(b), dec_get(d, j), neg);
	if ((err = flush(b)) != MPC_OK)
		goto out;
	for (unsigned l = 0; l < sp->T; l++)
		emit(b, outp, &k, y[l]);
	for (unsigned j = 0; j < sp->nseg; j++)
		emit(b, outp, &k, ep + j * W);
	for (unsigned j = 0; j < sp->nseg; j++)
		emit(b, outp, &k, en + j * W);
	emit(b, outp, &k, satp);
out:
	free(d);
	return err;
}

/* The segment polynomials: C[j] for x >= 0, C[nseg + j] for x < 0 (2 * nseg
 * rows). Public constants, the same at every party (and in the tests). */
static void sig_table(const sigp *sp, u128 (*C)[4])
{
	size_t ns = sp->nseg;
	double w = ldexp(1.0, -(int)sp->h), u = ldexp(1.0, -(int)sp->T);
	for (size_t j = 0; j < ns; j++) {
		double a[4], bq[4];
		cheb3(dsigmoid, (double)j * w, w, a);
		/* x < 0: |x| = y + 2^-f, so sigmoid(x) = 1 - P(t + u) */
		bq[0] = 1 - (((a[3] * u + a[2]) * u + a[1]) * u + a[0]);
		bq[1] = -(a[1] + 2 * a[2] * u + 3 * a[3] * u * u);
		bq[2] = -(a[2] + 3 * a[3] * u);
		bq[3] = -a[3];
		for (int k = 0; k < 4; k++) {
			C[j][k] = fx(a[k], (int)(sp->Fc + (3 - k) * sp->T));
			C[ns + j][k] = fx(bq[k], (int)(sp->Fc + (3 - k) * sp->T));
		}
	}
}

static mpc_err sigmoid_core(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n)
{
	sigp sp;
	sig_params(f, &sp);
	size_t ns = sp.nseg, planes = sp.T + 2 * ns + 1;
	u128(*C)[4] = malloc(2 * ns * sizeof(*C)); /* [j]: x >= 0, [ns + j]: x < 0 */
	scratch A = {0}, V = {0};
	mpc_triples tr = {0};
	mpc_err err;

	if (C == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
	sig_table(&sp, C);
	if ((err = scratch_init(&A, planes, n)) != MPC_OK || (err = scratch_init(&V, 6, n)) != MPC_OK)
		goto out;
	if ((err = bits_circ_b2a(p, x, n, sig_circ, &sp, planes, A.v)) != MPC_OK)
		goto out;
	u128 *tt = sv(&V, 0), *acc = sv(&V, 5), *c[4] = {sv(&V, 1), sv(&V, 2), sv(&V, 3), sv(&V, 4)};
	for (unsigned l = 0; l < sp.T; l++)
		axpy(tt, sv(&A, l), (u128)1 << l, n);
	for (size_t j = 0; j < 2 * ns; j++)
		for (int k = 0; k < 4; k++)
			axpy(c[k], sv(&A, sp.T + j), C[j][k], n);
	axpy(c[0], sv(&A, planes - 1), (u128)1 << sp.S, n);
	if ((err = mpc_triples_get(p, RING, 3 * n, &tr)) != MPC_OK)
		goto out;
	if ((err = horner3(p, &tr, 0, c, tt, acc, n)) != MPC_OK)
		goto out;
	err = mpc_trunc(p, RING, sp.S - f, acc, out, n);
out:
	mpc_triples_fini(&tr);
	scratch_fini(&A);
	scratch_fini(&V);
	mpc_wipe_free(C, 2 * ns * sizeof(*C));
	return err;
}

/* ------------------------------------------------------------------ */
/* Exp                                                                 */

/* n = floor(x): its one-hot for n in [nlo, nhi] (from the bits of x in
 * [-64, 64)), the 2^h fraction segments below, a cubic in the local
 * variable t on each, and e^n as a selected constant. */
typedef struct {
	unsigned f, h, T, S, Fc, Fp, sE;
	int nlo, nhi; /* x_max = nhi + 1 */
} expp;

static const double LN2 = 0x1.62e42fefa39efp-1;

static void exp_params(unsigned f, expp *ep)
{
	ep->f = f;
	ep->h = 4;
	ep->T = f - ep->h;
	ep->S = 84;
	ep->Fc = ep->S - 3 * ep->T;
	ep->Fp = 24;
	ep->sE = 6;
	/* e^x * 2^(f + sE + Fp) < 2^86 for x < x_max */
	int B = 86 - (int)(f + ep->sE + ep->Fp);
	ep->nhi = (int)floor(B * LN2 - 1e-9) - 1;
	/* e^(n+1) <= 2^-(f+2): below a quarter ulp, dropped */
	ep->nlo = (int)ceil(-((double)f + 2) * LN2 - 1);
}

static mpc_err exp_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp)
{
	const expp *ep = varg;
	size_t W = b->W, k = 0;
	unsigned f = ep->f, vlo = (unsigned)(ep->nlo + 64), vhi = (unsigned)(ep->nhi + 64);
	const uint64_t *bits[KB], *s = xb + 127 * W;
	uint64_t *hi[KB];
	ortree t;
	dec *di = malloc(sizeof(*di)), *df = malloc(sizeof(*df));
	mpc_err err = MPC_OK;

	if (di == NULL || df == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	for (unsigned l = 0; l < KB; l++)
		bits[l] = xb + (size_t)l * W;
	/* x in [-64, 64) iff bits f+6..127 all equal the sign; then
	 * floor(x) + 64 has bits f..f+5 and NOT bit f+6 */
	for (unsigned l = f + 6; l < 127; l++) {
		hi[l - f - 6] = P(b);
		bxor(b, hi[l - f - 6], bits[l], s);
	}
	const uint64_t *vb[7];
	uint64_t *n6 = P(b);
	bnot(b, n6, bits[f + 6]);
	for (unsigned l = 0; l < 6; l++)
		vb[l] = bits[f + l];
	vb[6] = n6;
	ort_init(b, &t, hi, 127 - (f + 6));
	dec_init(di, vb, 7, vlo, 127);
	dec_init(df, bits + f - ep->h, (int)ep->h, 0, (1u << ep->h) - 1);
	for (;;) {
		int a = ort_queue(b, &t), c1 = dec_queue(b, di), c2 = dec_queue(b, df);
		if (!a && !c1 && !c2)
			break;
		if ((err = flush(b)) != MPC_OK)
			goto out;
		if (c1)
			dec_post(b, di);
		if (c2)
			dec_post(b, df);
	}
	/* in range: ~H; saturated: x >= x_max (out of range and positive, or
	 * in range with floor(x) > nhi) */
	uint64_t *H = t.v[0], *ns = P(b), *satA = P(b), *Xhi = P(b), *inr = P(b), *satB = P(b);
	bnot(b, ns, s);
	bnot(b, inr, H);
	for (unsigned v = vhi + 1; v < 128; v++)
		bxor(b, Xhi, Xhi, dec_get(di, v));
	band(b, satA, H, ns);
	band(b, satB, Xhi, inr);
	uint64_t *e0 = b->mem + b->used * W;
	for (unsigned v = vlo; v <= vhi; v++)
		band(b, P(b), dec_get(di, v), inr);
	if ((err = flush(b)) != MPC_OK)
		goto out;
	bxor(b, satA, satA, satB);
	for (unsigned l = 0; l < ep->T; l++)
		emit(b, outp, &k, bits[l]);
	for (unsigned j = 0; j < (1u << ep->h); j++)
		emit(b, outp, &k, dec_get(df, j));
	for (unsigned v = vlo; v <= vhi; v++)
		emit(b, outp, &k, e0 + (v - vlo) * W);
	emit(b, outp, &k, satA);
out:
	free(di);
	free(df);
	return err;
}

/* The fraction polynomials C[0 .. 2^h) and the powers E[v - nlo] = e^v for
 * v in [nlo, nhi]; returns the saturation value e^(nhi+1). Public constants,
 * the same at every party (and in the tests). */
static u128 exp_table(const expp *ep, unsigned f, u128 (*C)[4], u128 *E)
{
	size_t nf = (size_t)1 << ep->h;
	double w = ldexp(1.0, -(int)ep->h);
	for (size_t j = 0; j < nf; j++) {
		double a[4];
		cheb3(dexp, (double)j * w, w, a);
		for (int k = 0; k < 4; k++)
			C[j][k] = fx(a[k], (int)(ep->Fc + (3 - k) * ep->T));
	}
	for (int v = ep->nlo; v <= ep->nhi; v++)
		E[v - ep->nlo] = fx(dexp(v), (int)(f + ep->sE));
	return fx(dexp(ep->nhi + 1), (int)f);
}

static mpc_err exp_core(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n)
{
	expp ep;
	exp_params(f, &ep);
	size_t nf = (size_t)1 << ep.h, ni = (size_t)(ep.nhi - ep.nlo + 1);
	size_t planes = ep.T + nf + ni + 1;
	u128 C[64][4], E[128];
	scratch A = {0}, V = {0};
	mpc_triples tr = {0};
	mpc_err err;

	u128 csat = exp_table(&ep, f, C, E);

	if ((err = scratch_init(&A, planes, n)) != MPC_OK || (err = scratch_init(&V, 7, n)) != MPC_OK)
		goto out;
	u128 *tt = sv(&V, 0), *acc = sv(&V, 5), *ee = sv(&V, 6);
	u128 *c[4] = {sv(&V, 1), sv(&V, 2), sv(&V, 3), sv(&V, 4)};
	if ((err = bits_circ_b2a(p, x, n, exp_circ, &ep, planes, A.v)) != MPC_OK)
		goto out;
	for (unsigned l = 0; l < ep.T; l++)
		axpy(tt, sv(&A, l), (u128)1 << l, n);
	for (size_t j = 0; j < nf; j++)
		for (int k = 0; k < 4; k++)
			axpy(c[k], sv(&A, ep.T + j), C[j][k], n);
	for (size_t v = 0; v < ni; v++)
		axpy(ee, sv(&A, ep.T + nf + v), E[v], n);
	if ((err = mpc_triples_get(p, RING, 4 * n, &tr)) != MPC_OK)
		goto out;
	if ((err = horner3(p, &tr, 0, c, tt, acc, n)) != MPC_OK)
		goto out;
	if ((err = mpc_trunc(p, RING, ep.S - ep.Fp, acc, acc, n)) != MPC_OK)
		goto out;
	mpc_triples s3 = slice(&tr, 3, n);
	if ((err = mpc_beaver_mul_with(p, RING, &s3, ee, acc, acc, n)) != MPC_OK)
		goto out;
	if ((err = mpc_trunc(p, RING, ep.sE + ep.Fp, acc, acc, n)) != MPC_OK)
		goto out;
	memcpy(out, acc, n * 16);
	axpy(out, sv(&A, planes - 1), csat, n);
out:
	mpc_triples_fini(&tr);
	scratch_fini(&A);
	scratch_fini(&V);
	return err;
}

/* ------------------------------------------------------------------ */
/* Reciprocal and division                                             */

/* Leading-one position L of y = |x| (the bits of x XOR its sign), one-hot
 * over L in 0..M-1 (none if y >= 2^M), split by sign: ep_i = [L = i, x > 0],
 * en_i = [L = i, x < 0]; x = -1 ulp (y = 0) counts as L = 0, x < 0. */
static mpc_err recip_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp)
{
	size_t M = *(const size_t *)varg, W = b->W, k = 0;
	const uint64_t *s = xb + 127 * W;
	uint64_t *y[127], *q[KB], *o[KB], *en[KB];
	ortree t;
	ks sc;
	mpc_err err;

	for (int l = 0; l < 127; l++) {
		y[l] = P(b);
		bxor(b, y[l], xb + (size_t)l * W, s);
	}
	ort_init(b, &t, y + M, 127 - M);
	sc.M = M;
	sc.d = 1;
	memcpy(sc.p, y, M * sizeof(y[0]));
	for (;;) {
		int a = ort_queue(b, &t), c = ks_queue(b, &sc);
		if (!a && !c)
			break;
		if ((err = flush(b)) != MPC_OK)
			return err;
	}
	uint64_t *H = t.v[0];
	for (size_t i = 0; i < M; i++) {
		q[i] = P(b);
		bor(b, q[i], sc.p[i], H);
	}
	if ((err = flush(b)) != MPC_OK)
		return err;
	for (size_t i = 0; i < M; i++) {
		o[i] = P(b);
		bxor(b, o[i], q[i], i + 1 < M ? q[i + 1] : H);
	}
	uint64_t *none = P(b), *m1 = P(b);
	bnot(b, none, q[0]);
	for (size_t i = 0; i < M; i++) {
		en[i] = P(b);
		band(b, en[i], o[i], s);
	}
	band(b, m1, none, s);
	if ((err = flush(b)) != MPC_OK)
		return err;
	for (size_t i = 0; i < M; i++) {
		uint64_t *ep = o[i]; /* o_i ^ en_i, in place */
		bxor(b, ep, o[i], en[i]);
	}
	bxor(b, en[0], en[0], m1);
	for (size_t i = 0; i < M; i++)
		emit(b, outp, &k, o[i]);
	for (size_t i = 0; i < M; i++)
		emit(b, outp, &k, en[i]);
	return MPC_OK;
}

/* out ~ 2^g / x (g fractional bits) for x with f fractional bits. */
static mpc_err recip_core(mpc_party *p, unsigned f, unsigned g, const u128 *x, u128 *out, size_t n)
{
	size_t M = g + f + 1;
	unsigned F2 = 85 - g - f < 40 ? 85 - g - f : 40, K = F2 > M ? F2 : (unsigned)M;
	scratch A = {0}, V = {0};
	int king = mpc_party_id(p) == 0;
	mpc_err err;

	if ((err = scratch_init(&A, 2 * M, n)) != MPC_OK || (err = scratch_init(&V, 5, n)) != MPC_OK)
		goto out;
	if ((err = bits_circ_b2a(p, x, n, recip_circ, &M, 2 * M, A.v)) != MPC_OK)
		goto out;
	u128 *c = sv(&V, 0), *c2 = sv(&V, 1), *Z = sv(&V, 2), *Y = sv(&V, 3), *m = sv(&V, 4);
	for (size_t i = 0; i < M; i++) {
		u128 a = (u128)1 << (K - i - 1), a2 = (u128)1 << (g + f - i);
		axpy(c, sv(&A, i), a, n);
		axpy(c, sv(&A, M + i), -a, n);
		axpy(c2, sv(&A, i), a2, n);
		axpy(c2, sv(&A, M + i), -a2, n);
	}
	/* z = |x| / 2^(L+1) in [1/2, 1], F2 bits */
	if ((err = bmul(p, x, c, Z, n, K - F2)) != MPC_OK)
		goto out;
	/* y0 = 2.8187 - 15/8 z (F2 + 3 bits); Newton y <- y (2 - z y) */
	affine(king, Y, Z, (u128)0 - 15, fx(2.8187, (int)F2 + 3), n);
	for (int it = 0; it < 3; it++) {
		unsigned sh = it == 0 ? F2 + 3 : F2;
		if ((err = bmul(p, Z, Y, m, n, sh)) != MPC_OK)
			goto out;
		affine(king, m, m, (u128)0 - 1, (u128)2 << F2, n);
		if ((err = bmul(p, Y, m, Y, n, sh)) != MPC_OK)
			goto out;
	}
	/* 2^g / x = y * 2^(g + f - L - 1) * sign */
	err = bmul(p, Y, c2, out, n, F2 + 1);
out:
	scratch_fini(&A);
	scratch_fini(&V);
	return err;
}

/* ------------------------------------------------------------------ */
/* Square root                                                         */

/* Leading-one one-hot of x over 0..M-1 (none if x >= 2^M or x < 0), and
 * sat = [x >= 2^M, x >= 0]. Out: o_0..o_{M-1}, sat. */
static mpc_err sqrt_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp)
{
	size_t M = *(const size_t *)varg, W = b->W, k = 0;
	uint64_t *hi[KB], *q[KB];
	ortree t;
	ks sc;
	mpc_err err;

	for (size_t l = M; l < KB; l++)
		hi[l - M] = (uint64_t *)(xb + l * W);
	ort_init(b, &t, hi, KB - M);
	sc.M = M;
	sc.d = 1;
	for (size_t l = 0; l < M; l++)
		sc.p[l] = (uint64_t *)(xb + l * W);
	for (;;) {
		int a = ort_queue(b, &t), c = ks_queue(b, &sc);
		if (!a && !c)
			break;
		if ((err = flush(b)) != MPC_OK)
			return err;
	}
	uint64_t *H = t.v[0], *nb = P(b), *sat = P(b);
	bnot(b, nb, xb + 127 * W);
	for (size_t i = 0; i < M; i++) {
		q[i] = P(b);
		bor(b, q[i], sc.p[i], H);
	}
	band(b, sat, H, nb);
	if ((err = flush(b)) != MPC_OK)
		return err;
	for (size_t i = 0; i < M; i++) {
		uint64_t *o = P(b);
		bxor(b, o, q[i], i + 1 < M ? q[i + 1] : H);
		emit(b, outp, &k, o);
	}
	emit(b, outp, &k, sat);
	return MPC_OK;
}

#define SQRT_F2 39u

static size_t sqrt_M(unsigned f) { return 2 * (83 - SQRT_F2) - f < 86 ? 2 * (83 - SQRT_F2) - f : 86; }

static mpc_err sqrt_core(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n)
{
	size_t M = sqrt_M(f);
	unsigned F2 = SQRT_F2, K = (unsigned)M > F2 ? (unsigned)M : F2;
	scratch A = {0}, V = {0};
	int king = mpc_party_id(p) == 0;
	mpc_err err;

	if ((err = scratch_init(&A, M + 1, n)) != MPC_OK || (err = scratch_init(&V, 6, n)) != MPC_OK)
		goto out;
	if ((err = bits_circ_b2a(p, x, n, sqrt_circ, &M, M + 1, A.v)) != MPC_OK)
		goto out;
	u128 *c = sv(&V, 0), *c2 = sv(&V, 1), *Z = sv(&V, 2), *Y = sv(&V, 3), *m = sv(&V, 4);
	u128 *m2 = sv(&V, 5);
	for (size_t i = 0; i < M; i++) {
		axpy(c, sv(&A, i), (u128)1 << (K - i - 1), n);
		/* sqrt(x) 2^f = sqrt(z) 2^((L + 1 + f) / 2), with 3 more bits */
		axpy(c2, sv(&A, i), fx(sqrt(ldexp(1.0, (int)(i + 1 + f) % 2)), (int)(i + 1 + f) / 2 + 3), n);
	}
	if ((err = bmul(p, x, c, Z, n, K - F2)) != MPC_OK)
		goto out;
	/* y0 = 1.78993 - 13/16 z (F2 + 4 bits); Newton y <- y (3 - z y^2) / 2 */
	affine(king, Y, Z, (u128)0 - 13, fx(1.7899333, (int)F2 + 4), n);
	for (int it = 0; it < 3; it++) {
		unsigned sh = it == 0 ? F2 + 4 : F2;
		if ((err = bmul(p, Z, Y, m, n, sh)) != MPC_OK || (err = bmul(p, m, Y, m2, n, sh)) != MPC_OK)
			goto out;
		affine(king, m2, m2, (u128)0 - 1, (u128)3 << F2, n);
		if ((err = bmul(p, Y, m2, Y, n, sh + 1)) != MPC_OK)
			goto out;
	}
	if ((err = bmul(p, Z, Y, Y, n, F2)) != MPC_OK || (err = bmul(p, Y, c2, out, n, F2 + 3)) != MPC_OK)
		goto out;
	/* x >= 2^(M - f): sqrt(2^(M - f)) */
	axpy(out, sv(&A, M), fx(sqrt(ldexp(1.0, (int)(M - f) % 2)), (int)(M - f) / 2 + (int)f), n);
out:
	scratch_fini(&A);
	scratch_fini(&V);
	return err;
}

/* ------------------------------------------------------------------ */
/* Public functions                                                    */

typedef mpc_err (*core_fn)(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n);

static mpc_err chunked(mpc_party *p, unsigned f, core_fn fn, const void *x, void *out, size_t n)
{
	mpc_err err = MPC_OK;
	for (size_t off = 0; off < n && err == MPC_OK; off += CHUNK) {
		size_t m = n - off < CHUNK ? n - off : CHUNK;
		err = fn(p, f, (const u128 *)x + off, (u128 *)out + off, m);
	}
	return err;
}

static mpc_err recip_f(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n)
{
	return recip_core(p, f, f, x, out, n);
}

mpc_err mpc_math_recip(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n)
{
	mpc_err err = check(p, r, f, x, out, n, "recip");
	return err != MPC_OK ? err : chunked(p, f, recip_f, x, out, n);
}

mpc_err mpc_math_div(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *y, void *out,
		     size_t n)
{
	mpc_err err = check(p, r, f, x, out, n, "div");
	unsigned g = MPC_MATH_DIV_G(f);
	if (err == MPC_OK && n > 0 && y == NULL)
		err = mpc_error(MPC_EINVAL, "mpc_math_div at party %d: NULL vector", mpc_party_id(p));
	for (size_t off = 0; off < n && err == MPC_OK; off += CHUNK) {
		size_t m = n - off < CHUNK ? n - off : CHUNK;
		u128 *t = calloc(m, 16);
		if (t == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
		if ((err = recip_core(p, f, g, (const u128 *)y + off, t, m)) == MPC_OK)
			err = bmul(p, (const u128 *)x + off, t, (u128 *)out + off, m, g);
		mpc_wipe_free(t, m * 16);
	}
	return err;
}

mpc_err mpc_math_sqrt(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n)
{
	mpc_err err = check(p, r, f, x, out, n, "sqrt");
	return err != MPC_OK ? err : chunked(p, f, sqrt_core, x, out, n);
}

mpc_err mpc_math_exp(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n)
{
	mpc_err err = check(p, r, f, x, out, n, "exp");
	return err != MPC_OK ? err : chunked(p, f, exp_core, x, out, n);
}

mpc_err mpc_math_sigmoid(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n)
{
	mpc_err err = check(p, r, f, x, out, n, "sigmoid");
	return err != MPC_OK ? err : chunked(p, f, sigmoid_core, x, out, n);
}

double mpc_math_exp_max(unsigned f)
{
	expp ep;
	exp_params(f, &ep);
	return ep.nhi + 1;
}

double mpc_math_sqrt_max(unsigned f) { return ldexp(1.0, (int)(sqrt_M(f) - f)); }
