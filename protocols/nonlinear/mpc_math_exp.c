/* Fixed-point exp and sigmoid on shares (see mpc_math.h; the engine they
 * share with the other functions is in mpc_math.c). */
#include "protocols/nonlinear/mpc_math.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_math_internal.h"
#include "runtime/mpc_wipe.h"

/* ------------------------------------------------------------------ */
/* Constants                                                           */

/* exp(x) for |x| <= 64 from a Taylor series of x/2^10, squared ten times:
 * only correctly rounded operations (relative error about 1e-13). */
static double dexp(double x) {
	double y = x / 1024.0, s = 1, term = 1;
	for (int k = 1; k < 16; k++) {
		term = term * y / k;
		s += term;
	}
	for (int k = 0; k < 10; k++)
		s *= s;
	return s;
}

static double dsigmoid(double x) {
	return 1.0 / (1.0 + dexp(-x));
}

/* The cubic through fn(a + w t) at the four Chebyshev nodes of [0, 1], as
 * monomial coefficients c[0..3] in t. */
static void cheb3(double (*fn)(double), double a, double w, double c[4]) {
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
/* Sigmoid                                                             */

/* Segments of width 2^-h on [0, 16), a cubic per segment in the local
 * variable t in [0, 1) (the T = f - h bits below the segment bits), at
 * scale S = 85 for the Horner sum. */
typedef struct {
	unsigned f, h, r, T, nseg, S, Fc;
} sigp;

static void sig_params(unsigned f, sigp *sp) {
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
static mpc_err sig_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp) {
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
	mpc_math_ort_init(b, &t, y + lo, 127 - lo);
	mpc_math_dec_init(d, (const uint64_t *const *)(y + sp->T), (int)(sp->r + sp->h), 0,
	                  sp->nseg - 1);
	for (;;) {
		int a = mpc_math_ort_queue(b, &t), c = mpc_math_dec_queue(b, d);
		if (!a && !c)
			break;
		if ((err = mpc_math_flush(b)) != MPC_OK)
			goto out;
		if (c)
			mpc_math_dec_post(b, d);
	}
	uint64_t *H = t.v[0], *nH = P(b), *ns = P(b), *neg = P(b), *satp = P(b), *pos = P(b);
	bnot(b, nH, H);
	bnot(b, ns, s);
	band(b, neg, nH, s);
	band(b, satp, H, ns);
	if ((err = mpc_math_flush(b)) != MPC_OK)
		goto out;
	bxor(b, pos, nH, neg);
	uint64_t *ep = b->mem + b->used * W;
	for (unsigned j = 0; j < sp->nseg; j++)
		band(b, P(b), dec_get(d, j), pos);
	uint64_t *en = b->mem + b->used * W;
	for (unsigned j = 0; j < sp->nseg; j++)
		band(b, P(b), dec_get(d, j), neg);
	if ((err = mpc_math_flush(b)) != MPC_OK)
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
static void sig_table(const sigp *sp, u128 (*C)[4]) {
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

static mpc_err sigmoid_core(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n) {
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
	if ((err = mpc_math_scratch_init(&A, planes, n)) != MPC_OK ||
	    (err = mpc_math_scratch_init(&V, 6, n)) != MPC_OK)
		goto out;
	if ((err = mpc_math_bits_circ_b2a(p, x, n, sig_circ, &sp, planes, A.v)) != MPC_OK)
		goto out;
	u128 *tt = sv(&V, 0), *acc = sv(&V, 5),
	     *c[4] = {sv(&V, 1), sv(&V, 2), sv(&V, 3), sv(&V, 4)};
	for (unsigned l = 0; l < sp.T; l++)
		axpy(tt, sv(&A, l), (u128)1 << l, n);
	for (size_t j = 0; j < 2 * ns; j++)
		for (int k = 0; k < 4; k++)
			axpy(c[k], sv(&A, sp.T + j), C[j][k], n);
	axpy(c[0], sv(&A, planes - 1), (u128)1 << sp.S, n);
	if ((err = mpc_triples_get(p, RING, 3 * n, &tr)) != MPC_OK)
		goto out;
	if ((err = mpc_math_horner3(p, &tr, 0, c, tt, acc, n)) != MPC_OK)
		goto out;
	err = mpc_trunc(p, RING, sp.S - f, acc, out, n);
out:
	mpc_triples_fini(&tr);
	mpc_math_scratch_fini(&A);
	mpc_math_scratch_fini(&V);
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

static void exp_params(unsigned f, expp *ep) {
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

static mpc_err exp_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp) {
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
	mpc_math_ort_init(b, &t, hi, 127 - (f + 6));
	mpc_math_dec_init(di, vb, 7, vlo, 127);
	mpc_math_dec_init(df, bits + f - ep->h, (int)ep->h, 0, (1u << ep->h) - 1);
	for (;;) {
		int a = mpc_math_ort_queue(b, &t), c1 = mpc_math_dec_queue(b, di),
		    c2 = mpc_math_dec_queue(b, df);
		if (!a && !c1 && !c2)
			break;
		if ((err = mpc_math_flush(b)) != MPC_OK)
			goto out;
		if (c1)
			mpc_math_dec_post(b, di);
		if (c2)
			mpc_math_dec_post(b, df);
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
	if ((err = mpc_math_flush(b)) != MPC_OK)
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
static u128 exp_table(const expp *ep, unsigned f, u128 (*C)[4], u128 *E) {
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

static mpc_err exp_core(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n) {
	expp ep;
	exp_params(f, &ep);
	size_t nf = (size_t)1 << ep.h, ni = (size_t)(ep.nhi - ep.nlo + 1);
	size_t planes = ep.T + nf + ni + 1;
	u128 C[64][4], E[128];
	scratch A = {0}, V = {0};
	mpc_triples tr = {0};
	mpc_err err;

	u128 csat = exp_table(&ep, f, C, E);

	if ((err = mpc_math_scratch_init(&A, planes, n)) != MPC_OK ||
	    (err = mpc_math_scratch_init(&V, 7, n)) != MPC_OK)
		goto out;
	u128 *tt = sv(&V, 0), *acc = sv(&V, 5), *ee = sv(&V, 6);
	u128 *c[4] = {sv(&V, 1), sv(&V, 2), sv(&V, 3), sv(&V, 4)};
	if ((err = mpc_math_bits_circ_b2a(p, x, n, exp_circ, &ep, planes, A.v)) != MPC_OK)
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
	if ((err = mpc_math_horner3(p, &tr, 0, c, tt, acc, n)) != MPC_OK)
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
	mpc_math_scratch_fini(&A);
	mpc_math_scratch_fini(&V);
	return err;
}

mpc_err mpc_math_exp(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n) {
	mpc_err err = mpc_math_check(p, r, f, x, out, n, "exp");
	return err != MPC_OK ? err : mpc_math_chunked(p, f, exp_core, x, out, n);
}

mpc_err mpc_math_sigmoid(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n) {
	mpc_err err = mpc_math_check(p, r, f, x, out, n, "sigmoid");
	return err != MPC_OK ? err : mpc_math_chunked(p, f, sigmoid_core, x, out, n);
}

double mpc_math_exp_max(unsigned f) {
	expp ep;
	exp_params(f, &ep);
	return ep.nhi + 1;
}
