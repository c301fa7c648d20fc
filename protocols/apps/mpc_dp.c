/* Discrete Laplace noise under MPC and budget accounting (see mpc_dp.h).
 *
 * Layout. A batch of n samples is 2n geometric instances (instance i is G1
 * of sample i, instance n + i its G2), bit-sliced over W = ceil(2n/64)
 * words. For every digit j < L (L the largest digit count of the batch) and
 * every bit b < m of the uniform u, one plane of u (W words, the party's
 * XOR share drawn from its own PRG) and one public plane of the thresholds'
 * bit b. The comparison [u < c] runs as a tree over the m bits, all digits
 * in the same rounds:
 *   leaf b:   lt = c_b & ~u_b, eq = ~(u_b ^ c_b)           (local)
 *   (hi, lo): lt = lt_hi ^ (eq_hi & lt_lo), eq = eq_hi & eq_lo
 * (lt_hi and eq_hi & lt_lo exclude each other, so OR is XOR). lt planes that
 * are publicly zero (thresholds with that bit clear everywhere) cost
 * nothing, and the eq of a node holding bit 0 is never used, so it is not
 * computed. The tree is run twice: first counting the AND planes (no
 * network), then for real after one fetch of bit triples. */
#include "protocols/apps/mpc_dp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_preproc.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "runtime/mpc_wipe.h"

#define M_BITS MPC_DP_PREC_BITS

/* ---- parameters ---- */

/* Smallest L >= 1 with 2 q^(2^L) <= 2^-43, i.e. 2^L / T >= 44 ln 2. */
static unsigned digits_for(long double T) {
	long double need = 44.0L * logl(2.0L) * T;
	unsigned L = 1;
	while (L <= MPC_DP_MAX_DIGITS && ldexpl(1.0L, (int)L) < need)
		L++;
	return L;
}

mpc_err mpc_dp_laplace_info(double T, unsigned *digits, double *tv_bound) {
	if (!isfinite(T) || !(T > 0))
		return mpc_error(MPC_EINVAL, "discrete Laplace: parameter must be finite and > 0");
	unsigned L = digits_for(T);
	if (L > MPC_DP_MAX_DIGITS)
		return mpc_error(MPC_ERANGE,
		                 "discrete Laplace: parameter %g units needs more than %d digits "
		                 "(lower the scale or the fractional bits)",
		                 T, MPC_DP_MAX_DIGITS);
	if (digits)
		*digits = L;
	if (tv_bound) {
		/* truncation of both geometrics + rounding of 2L probabilities to m
		 * bits (the long double evaluation adds far less than 2^-60) */
		double trunc = 2.0 * exp(-ldexp(1.0, (int)L) / T);
		*tv_bound = trunc + 2.0 * L * (ldexp(1.0, -(M_BITS + 1)) + ldexp(1.0, -60));
	}
	return MPC_OK;
}

double mpc_dp_laplace_stddev(double T) {
	if (!(T > 0))
		return 0.0;
	double q = exp(-1.0 / T), omq = -expm1(-1.0 / T);
	return sqrt(2.0 * q) / omq;
}

/* round(p_j 2^m), p_j = q^(2^j) / (1 + q^(2^j)) = 1 / (1 + exp(2^j / T)) */
static uint64_t threshold(long double T, unsigned j) {
	long double x = ldexpl(1.0L, (int)j) / T;
	long double p = x > 11000.0L ? 0.0L : 1.0L / (1.0L + expl(x));
	long double c = floorl(ldexpl(p, M_BITS) + 0.5L);
	if (c < 0)
		c = 0;
	if (c >= ldexpl(1.0L, M_BITS)) /* p < 1/2: cannot happen */
		c = ldexpl(1.0L, M_BITS) - 1;
	return (uint64_t)c;
}

/* ---- the comparison tree ---- */

typedef struct {
	mpc_party *p;
	int king;
	int counting;
	size_t W;
	mpc_bit_triples t;
	size_t off;
	size_t n_and;
	mpc_bool_gate *g;
	size_t ng, capg;
	uint64_t **blk; /* every plane allocated, wiped and freed at the end */
	size_t nblk, capblk;
	uint64_t dummy; /* stands for a present plane while counting */
	mpc_err err;
} eng;

static uint64_t *plane(eng *e) {
	if (e->err != MPC_OK)
		return NULL;
	if (e->counting)
		return &e->dummy;
	if (e->nblk == e->capblk) {
		size_t cap = e->capblk ? 2 * e->capblk : 64;
		uint64_t **nb = realloc(e->blk, cap * sizeof(*nb));
		if (nb == NULL) {
			e->err =
			    mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
			return NULL;
		}
		e->blk = nb;
		e->capblk = cap;
	}
	uint64_t *v = calloc(e->W, 8);
	if (v == NULL) {
		e->err =
		    mpc_error(MPC_ENOMEM, "dp: out of memory for a bit plane of %zu words (%s:%d)",
		              e->W, __FILE__, __LINE__);
		return NULL;
	}
	e->blk[e->nblk++] = v;
	return v;
}

static void gate(eng *e, const uint64_t *x, const uint64_t *y, uint64_t *z, int acc) {
	if (e->err != MPC_OK)
		return;
	if (mpc_bool_gates_push(&e->g, &e->ng, &e->capg, (mpc_bool_gate){x, y, z, acc}) != MPC_OK)
		e->err = mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
}

static mpc_err flush(eng *e) {
	if (e->err != MPC_OK || e->ng == 0)
		return e->err;
	e->err =
	    mpc_bool_gates_flush(e->p, &e->t, &e->off, e->g, &e->ng, e->W, e->counting, &e->n_and);
	return e->err;
}

static void eng_release(eng *e) {
	for (size_t i = 0; i < e->nblk; i++) {
		mpc_wipe(e->blk[i], e->W * 8);
		free(e->blk[i]);
	}
	free(e->blk);
	free(e->g);
	e->blk = NULL;
	e->g = NULL;
	e->nblk = e->capblk = e->ng = e->capg = 0;
}

typedef struct {
	const uint64_t *lt; /* NULL: publicly zero */
	const uint64_t *eq; /* NULL: not needed */
} node;

/* The tree for L digits of m bits. u: L*m planes (digit-major), cpl: the public
 * threshold planes in the same layout, nz[j*m + b]: plane not all zero.
 * out (not counting): L planes of [u < c]. */
static mpc_err tree(eng *e, unsigned L, size_t m, const uint64_t *u, const uint64_t *cpl,
                    const unsigned char *nz, uint64_t *out) {
	size_t W = e->W;
	node *nd = calloc((size_t)L * m, sizeof(*nd));
	if (nd == NULL)
		return e->err =
		           mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
	/* leaves */
	for (unsigned j = 0; j < L && e->err == MPC_OK; j++)
		for (size_t b = 0; b < m && e->err == MPC_OK; b++) {
			size_t k = (size_t)j * m + b;
			const uint64_t *ub = e->counting ? NULL : u + k * W;
			const uint64_t *cb = e->counting ? NULL : cpl + k * W;
			if (nz[k]) {
				uint64_t *lt = plane(e);
				if (lt && !e->counting)
					for (size_t w = 0; w < W; w++)
						lt[w] = cb[w] & (e->king ? ~ub[w] : ub[w]);
				nd[k].lt = lt;
			}
			if (b > 0) {
				uint64_t *eq = plane(e);
				if (eq && !e->counting)
					for (size_t w = 0; w < W; w++)
						eq[w] = e->king ? ~(ub[w] ^ cb[w]) : ub[w];
				nd[k].eq = eq;
			}
		}
	/* levels: cnt nodes per digit at nd[j*m + 0 .. cnt) */
	for (size_t cnt = m; cnt > 1 && e->err == MPC_OK;) {
		size_t half = cnt / 2, next = (cnt + 1) / 2;
		/* post-round XORs: z ^= lt_hi for the gates that have both */
		for (unsigned j = 0; j < L && e->err == MPC_OK; j++) {
			node *v = nd + (size_t)j * m;
			for (size_t k = 0; k < half && e->err == MPC_OK; k++) {
				node lo = v[2 * k], hi = v[2 * k + 1], nw = {NULL, NULL};
				if (lo.lt == NULL) {
					nw.lt = hi.lt;
				} else {
					uint64_t *z = plane(e);
					if (z && !e->counting && hi.lt)
						memcpy(z, hi.lt, W * 8);
					gate(e, hi.eq, lo.lt, z, 1);
					nw.lt = z;
				}
				if (k > 0) {
					uint64_t *z = plane(e);
					gate(e, hi.eq, lo.eq, z, 0);
					nw.eq = z;
				}
				v[k] = nw;
			}
			if (cnt % 2)
				v[half] = v[cnt - 1];
		}
		if (flush(e) != MPC_OK)
			break;
		cnt = next;
	}
	if (e->err == MPC_OK && !e->counting)
		for (unsigned j = 0; j < L; j++) {
			const uint64_t *lt = nd[(size_t)j * m].lt;
			if (lt)
				memcpy(out + (size_t)j * W, lt, W * 8);
			else
				memset(out + (size_t)j * W, 0, W * 8);
		}
	free(nd);
	return e->err;
}

/* ---- the sampler ---- */

static void put_elem(mpc_ring r, void *a, size_t i, mpc_u128 v) {
	if (r == MPC_Z64)
		((uint64_t *)a)[i] = (uint64_t)v;
	else
		((mpc_u128 *)a)[i] = v;
}

static mpc_u128 get_elem(mpc_ring r, const void *a, size_t i) {
	return r == MPC_Z64 ? ((const uint64_t *)a)[i] : ((const mpc_u128 *)a)[i];
}

/* AND planes of the tree for L digits of m bits with the nonzero-plane flags nz. */
static mpc_err count_ands(unsigned L, size_t m, const unsigned char *nz, size_t *n_and) {
	eng e = {.counting = 1, .W = 1};
	mpc_err err = tree(&e, L, m, NULL, NULL, nz, NULL);
	*n_and = e.n_and;
	eng_release(&e);
	return err;
}

/* The tree for real on L digits of m bits: its AND planes counted, that
 * many bit-triple planes fetched, evaluated into bits (L planes of W words)
 * and the bits past inst instances cleared. */
static mpc_err run_tree(mpc_party *p, size_t W, size_t inst, unsigned L, size_t m,
                        const uint64_t *u, const uint64_t *cpl, const unsigned char *nz,
                        uint64_t *bits) {
	size_t n_and;
	mpc_err err;
	if ((err = count_ands(L, m, nz, &n_and)) != MPC_OK)
		return err;
	eng e = {.p = p, .king = mpc_party_id(p) == 0, .counting = 0, .W = W};
	if (n_and > 0 && (err = mpc_bit_triples_get(p, n_and * W, &e.t)) != MPC_OK)
		return err;
	err = tree(&e, L, m, u, cpl, nz, bits);
	if (err == MPC_OK && e.n_and != n_and)
		err = mpc_error(MPC_EINVAL,
		                "dp: internal: tree used %zu AND planes, counted %zu (%s:%d)",
		                e.n_and, n_and, __FILE__, __LINE__);
	eng_release(&e);
	mpc_bit_triples_fini(&e.t);
	if (err != MPC_OK)
		return err;
	for (unsigned j = 0; j < L; j++)
		if (inst % 64)
			bits[(size_t)j * W + W - 1] &= (1ull << (inst % 64)) - 1;
	return MPC_OK;
}

/* One chunk: every sample's digit count is known to be valid. */
static mpc_err laplace_chunk(mpc_party *p, mpc_ring r, const double *T, void *noise, size_t n) {
	size_t m = M_BITS, inst = 2 * n, W = mpc_conv_words(inst), eb;
	unsigned L = 0, *Li = NULL;
	uint64_t *u = NULL, *cpl = NULL, *bits = NULL;
	unsigned char *nz = NULL;
	void *ar = NULL;
	size_t ar_bytes = 0;
	mpc_err err;

	eb = mpc_ring_bytes(r);
	if ((Li = calloc(n, sizeof(*Li))) == NULL) {
		err = mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((err = mpc_dp_laplace_info(T[i], &Li[i], NULL)) != MPC_OK)
			goto out;
		if (Li[i] > L)
			L = Li[i];
	}
	size_t planes = (size_t)L * m;
	u = calloc(planes * W, 8);
	cpl = calloc(planes * W, 8);
	nz = calloc(planes, 1);
	bits = calloc((size_t)L * W, 8);
	if (u == NULL || cpl == NULL || nz == NULL || bits == NULL) {
		err = mpc_error(MPC_ENOMEM, "dp: out of memory for %zu samples (%s:%d)", n,
		                __FILE__, __LINE__);
		goto out;
	}
	/* public thresholds, bit-sliced; both instances of a sample share them */
	for (size_t i = 0; i < n; i++)
		for (unsigned j = 0; j < Li[i]; j++) {
			uint64_t c = threshold(T[i], j);
			for (size_t b = 0; b < m; b++)
				if (c >> b & 1) {
					uint64_t *pl = cpl + ((size_t)j * m + b) * W;
					pl[i / 64] |= 1ull << (i % 64);
					pl[(n + i) / 64] |= 1ull << ((n + i) % 64);
					nz[(size_t)j * m + b] = 1;
				}
		}
	/* this party's XOR share of every u: its own stream, so u is uniform
	 * and hidden from any N-1 parties */
	if ((err = mpc_party_prg_own(p, u, planes * W * 8)) != MPC_OK)
		goto out;

	if ((err = run_tree(p, W, inst, L, m, u, cpl, nz, bits)) != MPC_OK)
		goto out;
	/* digits to arithmetic shares (one round), then Z = G1 - G2 locally */
	ar_bytes = (size_t)L * inst * eb;
	if ((ar = malloc(ar_bytes)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	if ((err = mpc_conv_b2a_planes(p, r, bits, L, inst, ar)) != MPC_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		mpc_u128 z = 0;
		for (unsigned j = 0; j < L; j++)
			z += (get_elem(r, ar, (size_t)j * inst + i) -
			      get_elem(r, ar, (size_t)j * inst + n + i))
			     << j;
		put_elem(r, noise, i, z);
	}
out:
	if (u) {
		mpc_wipe(u, (size_t)L * m * W * 8);
		free(u);
	}
	if (bits) {
		mpc_wipe(bits, (size_t)L * W * 8);
		free(bits);
	}
	if (ar) {
		mpc_wipe(ar, ar_bytes);
		free(ar);
	}
	free(cpl);
	free(nz);
	free(Li);
	return err;
}

/* Words of u planes per chunk: bounds memory (u, thresholds and the tree's
 * planes are a few times this) at the price of more rounds for batches
 * beyond it (over 60000 samples even at 44 digits). */
#define CHUNK_WORDS ((size_t)1 << 22)

/* Samples per chunk for L digits: W = 2 * chunk / 64 words per plane, L * m
 * planes. */
static size_t chunk_len(unsigned L) {
	size_t chunk = CHUNK_WORDS / ((size_t)(L ? L : 1) * M_BITS) * 32;
	return chunk < 64 ? 64 : chunk;
}

int mpc_dp_laplace_cost(const double *T, size_t n, uint64_t *bit_triple_words, uint64_t *bits) {
	unsigned L = 0, Li;
	*bit_triple_words = *bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (mpc_dp_laplace_info(T[i], &Li, NULL) != MPC_OK)
			return -1;
		if (Li > L)
			L = Li;
	}
	size_t chunk = chunk_len(L);
	for (size_t i = 0; i < n; i += chunk) {
		size_t len = n - i < chunk ? n - i : chunk, n_and;
		unsigned Lc = 0;
		unsigned char nz[MPC_DP_MAX_DIGITS * M_BITS] = {0};
		for (size_t k = i; k < i + len; k++) {
			if (mpc_dp_laplace_info(T[k], &Li, NULL) != MPC_OK)
				return -1;
			if (Li > Lc)
				Lc = Li;
			for (unsigned j = 0; j < Li; j++) {
				uint64_t c = threshold(T[k], j);
				for (size_t b = 0; b < M_BITS; b++)
					nz[(size_t)j * M_BITS + b] |= (unsigned char)(c >> b & 1);
			}
		}
		if (count_ands(Lc, M_BITS, nz, &n_and) != MPC_OK)
			return -1;
		*bit_triple_words += (uint64_t)n_and * mpc_conv_words(2 * len);
		*bits += (uint64_t)Lc * 2 * len;
	}
	return 0;
}

mpc_err mpc_dp_laplace_units(mpc_party *p, mpc_ring r, const double *T, void *noise, size_t n) {
	unsigned L = 0, Li;
	mpc_err err;
	if (p == NULL || (n > 0 && (T == NULL || noise == NULL)))
		return mpc_error(MPC_EINVAL, "dp: NULL argument (%s:%d)", __FILE__, __LINE__);
	if ((err = mpc_ring_check(r)) != MPC_OK)
		return mpc_error(err, "dp at party %d: bad ring %d", mpc_party_id(p), (int)r);
	if (n == 0)
		return MPC_OK;
	for (size_t i = 0; i < n; i++) {
		if ((err = mpc_dp_laplace_info(T[i], &Li, NULL)) != MPC_OK) {
			char why[256]; /* the detail buffer is overwritten below */
			snprintf(why, sizeof(why), "%s", mpc_error_detail());
			return mpc_error(err, "dp at party %d: sample %zu: %s", mpc_party_id(p), i,
			                 why);
		}
		if (Li > L)
			L = Li;
	}
	size_t chunk = chunk_len(L);
	size_t eb = mpc_ring_bytes(r);
	for (size_t i = 0; i < n; i += chunk) {
		size_t len = n - i < chunk ? n - i : chunk;
		if ((err = laplace_chunk(p, r, T + i, (uint8_t *)noise + i * eb, len)) != MPC_OK)
			return err;
	}
	return MPC_OK;
}

mpc_err mpc_dp_laplace(mpc_party *p, mpc_ring r, double t, unsigned f, void *noise, size_t n) {
	double *T;
	mpc_err err;
	if (p == NULL)
		return mpc_error(MPC_EINVAL, "dp: NULL party (%s:%d)", __FILE__, __LINE__);
	if (f > 100)
		return mpc_error(MPC_EINVAL, "dp at party %d: %u fractional bits", mpc_party_id(p),
		                 f);
	if (n == 0)
		return MPC_OK;
	if ((T = calloc(n, sizeof(*T))) == NULL)
		return mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
	for (size_t i = 0; i < n; i++)
		T[i] = ldexp(t, (int)f);
	err = mpc_dp_laplace_units(p, r, T, noise, n);
	free(T);
	return err;
}

/* ---- the discrete Gaussian ----
 *
 * Inverse CDF: with F(z) = P(Z <= z) and thresholds C_k = round(2^m F(k - K))
 * for k < 2K, Z = K - #{k : u < C_k} for one uniform m-bit u per sample
 * (its XOR shares replicated into the sample's 2K instances: sharing is
 * linear). P(Z = z) = (C_{z+K} - C_{z+K-1}) / 2^m, the tails beyond +-K
 * folded onto the ends. The same comparison tree as above, one group of
 * planes over all instances of all samples. */

#define G_BITS MPC_DP_GAUSS_PREC_BITS

/* exp(-z^2 / (2 s^2)) */
static long double gw(long double s, long z) {
	long double x = (long double)z / s;
	return expl(-0.5L * x * x);
}

/* Normalising constant (Kahan sums, exact to ~2^-63 relative). */
static long double gnorm(long double s) {
	long zmax = (long)(40 * s) + 10;
	long double sum = 1.0L, c = 0.0L; /* z = 0 */
	for (long z = zmax; z >= 1; z--) {
		long double y = 2 * gw(s, z) - c, t = sum + y;
		c = (t - sum) - y;
		sum = t;
	}
	return sum;
}

/* The smallest K >= 1 with P(|Z| > K) <= 2^-44 for sigma s, and that tail
 * (for K = 1 forced, an upper bound); 0 if K would exceed the maximum. */
static long gauss_k(long double s, long double norm, long double *tail) {
	long zmax = (long)(40 * s) + 10, K = 0;
	long double S = 0.0L, bound = ldexpl(1.0L, -44); /* S = sum of w(z') for z' > z */
	*tail = 0;
	for (long z = zmax; z >= 0; z--) {
		long double t = 2 * S / norm; /* P(|Z| > z) */
		if (t > bound) {
			K = z + 1;
			break;
		}
		*tail = t;
		S += gw(s, z);
	}
	if (K < 1)
		K = 1;
	return K > MPC_DP_GAUSS_MAX_K ? 0 : K;
}

mpc_err mpc_dp_gauss_info(double sigma, unsigned *K, double *tv_bound) {
	if (!isfinite(sigma) || !(sigma > 0))
		return mpc_error(MPC_EINVAL, "discrete Gaussian: sigma must be finite and > 0");
	if (sigma > MPC_DP_GAUSS_MAX_K / 7.0)
		return mpc_error(
		    MPC_ERANGE,
		    "discrete Gaussian: sigma %g units needs more than %d thresholds per "
		    "side (lower the scale or the fractional bits, or use Laplace)",
		    sigma, MPC_DP_GAUSS_MAX_K);
	long double tail = 0, norm = gnorm(sigma);
	long k = gauss_k(sigma, norm, &tail);
	if (k == 0)
		return mpc_error(
		    MPC_ERANGE,
		    "discrete Gaussian: sigma %g units needs more than %d thresholds per "
		    "side (lower the scale or the fractional bits, or use Laplace)",
		    sigma, MPC_DP_GAUSS_MAX_K);
	if (K)
		*K = (unsigned)k;
	if (tv_bound)
		*tv_bound = (double)tail + (2.0 * (double)k + 1) * ldexp(1.0, -G_BITS);
	return MPC_OK;
}

double mpc_dp_gauss_stddev(double sigma) {
	if (!(sigma > 0) || !isfinite(sigma))
		return 0.0;
	long double norm = gnorm(sigma), s2 = 0;
	long zmax = (long)(40 * sigma) + 10;
	for (long z = zmax; z >= 1; z--)
		s2 += 2 * (long double)z * (long double)z * gw(sigma, z);
	return (double)sqrtl(s2 / norm);
}

/* thr[k] = round(2^m F(k - K)) for k < 2K */
static void gauss_thresholds(long double s, long K, uint64_t *thr) {
	long double norm = gnorm(s);
	long zmax = (long)(40 * s) + 10;
	/* F(-K) = the lower tail plus w(-K): sum from the far end up (Kahan) */
	long double sum = 0, c = 0;
	for (long z = -zmax; z <= K - 1; z++) {
		long double y = gw(s, z) - c, t = sum + y;
		c = (t - sum) - y;
		sum = t;
		if (z >= -K) {
			long double v = floorl(ldexpl(sum / norm, G_BITS) + 0.5L);
			if (v >= ldexpl(1.0L, G_BITS))
				v = ldexpl(1.0L, G_BITS) - 1;
			thr[z + K] = (uint64_t)v;
		}
	}
}

/* Instances per chunk: W <= 2^14 words a plane. */
#define G_CHUNK_INST ((size_t)1 << 20)

static mpc_err gauss_chunk(mpc_party *p, mpc_ring r, const double *sg, const unsigned *Ks,
                           void *noise, size_t n) {
	size_t m = G_BITS, inst = 0, W, eb = mpc_ring_bytes(r);
	int me = mpc_party_id(p);
	uint64_t *u = NULL, *cpl = NULL, *bits = NULL, *us = NULL, *thr = NULL;
	unsigned char nz[G_BITS] = {0};
	void *ar = NULL;
	mpc_err err;

	for (size_t i = 0; i < n; i++)
		inst += 2 * (size_t)Ks[i];
	W = mpc_conv_words(inst);
	u = calloc(m * W, 8);
	cpl = calloc(m * W, 8);
	bits = calloc(W, 8);
	us = calloc(n, 8);
	thr = calloc(2 * MPC_DP_GAUSS_MAX_K, 8);
	ar = calloc(inst, eb);
	if (u == NULL || cpl == NULL || bits == NULL || us == NULL || thr == NULL || ar == NULL) {
		err = mpc_error(MPC_ENOMEM, "dp: out of memory for %zu Gaussian samples (%s:%d)", n,
		                __FILE__, __LINE__);
		goto out;
	}
	/* this party's share of every sample's u, from its own stream */
	if ((err = mpc_party_prg_own(p, us, n * 8)) != MPC_OK)
		goto out;
	for (size_t i = 0, o = 0; i < n; i++) {
		gauss_thresholds(sg[i], Ks[i], thr);
		for (size_t k = 0; k < 2 * (size_t)Ks[i]; k++, o++)
			for (size_t b = 0; b < m; b++) {
				uint64_t bit = 1ull << (o % 64);
				if (us[i] >> b & 1)
					u[b * W + o / 64] |= bit;
				if (thr[k] >> b & 1) {
					cpl[b * W + o / 64] |= bit;
					nz[b] = 1;
				}
			}
	}
	if ((err = run_tree(p, W, inst, 1, m, u, cpl, nz, bits)) != MPC_OK)
		goto out;
	if ((err = mpc_conv_b2a_planes(p, r, bits, 1, inst, ar)) != MPC_OK)
		goto out;
	/* Z = K - sum_k [u < C_k] (the public K added by party 0) */
	for (size_t i = 0, o = 0; i < n; i++) {
		mpc_u128 z = me == 0 ? (mpc_u128)Ks[i] : 0;
		for (size_t k = 0; k < 2 * (size_t)Ks[i]; k++, o++)
			z -= get_elem(r, ar, o);
		put_elem(r, noise, i, z);
	}
out:
	if (u) {
		mpc_wipe(u, m * W * 8);
		free(u);
	}
	if (us) {
		mpc_wipe(us, n * 8);
		free(us);
	}
	if (bits) {
		mpc_wipe(bits, W * 8);
		free(bits);
	}
	if (ar) {
		mpc_wipe(ar, inst * eb);
		free(ar);
	}
	free(cpl);
	free(thr);
	return err;
}

/* Chunks of at most G_CHUNK_INST instances (a sample is never split). */
mpc_err mpc_dp_gauss_units(mpc_party *p, mpc_ring r, const double *sigma, void *noise, size_t n) {
	unsigned *Ks = NULL;
	mpc_err err = MPC_OK;
	if (p == NULL || (n > 0 && (sigma == NULL || noise == NULL)))
		return mpc_error(MPC_EINVAL, "dp: NULL argument (%s:%d)", __FILE__, __LINE__);
	if ((err = mpc_ring_check(r)) != MPC_OK)
		return mpc_error(err, "dp at party %d: bad ring %d", mpc_party_id(p), (int)r);
	if (n == 0)
		return MPC_OK;
	if ((Ks = calloc(n, sizeof(*Ks))) == NULL)
		return mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
	for (size_t i = 0; i < n; i++)
		if ((err = mpc_dp_gauss_info(sigma[i], &Ks[i], NULL)) != MPC_OK) {
			char why[256];
			snprintf(why, sizeof(why), "%s", mpc_error_detail());
			err = mpc_error(err, "dp at party %d: sample %zu: %s", mpc_party_id(p), i,
			                why);
			goto out;
		}
	for (size_t i = 0; i < n && err == MPC_OK;) {
		size_t j = i, inst = 0;
		while (j < n && (j == i || inst + 2 * (size_t)Ks[j] <= G_CHUNK_INST))
			inst += 2 * (size_t)Ks[j++];
		err = gauss_chunk(p, r, sigma + i, Ks + i, (uint8_t *)noise + i * mpc_ring_bytes(r),
		                  j - i);
		i = j;
	}
out:
	free(Ks);
	return err;
}

int mpc_dp_gauss_cost(const double *sigma, size_t n, uint64_t *bit_triple_words, uint64_t *bits) {
	unsigned K;
	uint64_t *thr = malloc(2 * MPC_DP_GAUSS_MAX_K * 8);
	int rc = 0;
	*bit_triple_words = *bits = 0;
	if (thr == NULL)
		return -1;
	for (size_t i = 0; i < n && rc == 0;) {
		size_t j = i, inst = 0, n_and;
		unsigned char nz[G_BITS] = {0};
		for (; j < n; j++) {
			if (mpc_dp_gauss_info(sigma[j], &K, NULL) != MPC_OK) {
				rc = -1;
				break;
			}
			if (j > i && inst + 2 * (size_t)K > G_CHUNK_INST)
				break;
			inst += 2 * (size_t)K;
			gauss_thresholds(sigma[j], K, thr);
			for (size_t k = 0; k < 2 * (size_t)K; k++)
				for (size_t b = 0; b < G_BITS; b++)
					nz[b] |= (unsigned char)(thr[k] >> b & 1);
		}
		if (rc == 0 && count_ands(1, G_BITS, nz, &n_and) != MPC_OK)
			rc = -1;
		if (rc == 0) {
			*bit_triple_words += (uint64_t)n_and * mpc_conv_words(inst);
			*bits += inst;
		}
		i = j;
	}
	free(thr);
	return rc;
}

mpc_err mpc_dp_add_noise(mpc_party *p, mpc_ring r, const mpc_dp_alloc *a, void *x, size_t n) {
	double *T = NULL;
	size_t *idx = NULL;
	uint8_t *z = NULL;
	size_t eb;
	mpc_err err = MPC_OK;
	if (p == NULL || (n > 0 && (a == NULL || x == NULL)))
		return mpc_error(MPC_EINVAL, "dp: NULL argument (%s:%d)", __FILE__, __LINE__);
	if ((err = mpc_ring_check(r)) != MPC_OK)
		return mpc_error(err, "dp at party %d: bad ring %d", mpc_party_id(p), (int)r);
	if (n == 0)
		return MPC_OK;
	for (size_t i = 0; i < n; i++)
		if (a[i].mech != MPC_DP_LAPLACE && a[i].mech != MPC_DP_GAUSSIAN)
			return mpc_error(MPC_EINVAL,
			                 "dp at party %d: statistic %zu: bad mechanism %d",
			                 mpc_party_id(p), i, (int)a[i].mech);
	eb = mpc_ring_bytes(r);
	if ((T = malloc(n * sizeof(*T))) == NULL || (idx = malloc(n * sizeof(*idx))) == NULL ||
	    (z = calloc(n, eb)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "dp: out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	/* one batch per mechanism, gathered and scattered back */
	for (int mech = MPC_DP_LAPLACE; mech <= MPC_DP_GAUSSIAN && err == MPC_OK; mech++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if ((int)a[i].mech == mech) {
				idx[k] = i;
				T[k++] = a[i].units;
			}
		if (k == 0)
			continue;
		err = mech == MPC_DP_LAPLACE ? mpc_dp_laplace_units(p, r, T, z, k)
		                             : mpc_dp_gauss_units(p, r, T, z, k);
		for (size_t j = 0; j < k && err == MPC_OK; j++)
			mpc_ring_add(r, (uint8_t *)x + idx[j] * eb, (uint8_t *)x + idx[j] * eb,
			             z + j * eb, 1);
	}
out:
	if (z) {
		mpc_wipe(z, n * eb);
		free(z);
	}
	free(idx);
	free(T);
	return err;
}

/* ---- accounting ---- */

mpc_err mpc_dp_mech_parse(const char *s, mpc_dp_mech *out) {
	if (s && (strcmp(s, "laplace") == 0 || strcmp(s, "discrete_laplace") == 0 ||
	          strcmp(s, "discrete-laplace") == 0)) {
		*out = MPC_DP_LAPLACE;
		return MPC_OK;
	}
	if (s && (strcmp(s, "gaussian") == 0 || strcmp(s, "discrete_gaussian") == 0 ||
	          strcmp(s, "discrete-gaussian") == 0)) {
		*out = MPC_DP_GAUSSIAN;
		return MPC_OK;
	}
	return mpc_error(MPC_ECONFIG,
	                 "dp mechanism \"%s\": unknown (expected \"laplace\" or \"gaussian\")",
	                 s ? s : "(none)");
}

const char *mpc_dp_mech_name(mpc_dp_mech m) {
	return m == MPC_DP_LAPLACE    ? "discrete Laplace"
	       : m == MPC_DP_GAUSSIAN ? "discrete Gaussian"
	                              : "?";
}

double mpc_dp_zcdp_rho(double epsilon, double delta) {
	double lnd = -log(delta), r = sqrt(lnd + epsilon) - sqrt(lnd);
	return r * r;
}

double mpc_dp_zcdp_epsilon(double rho, double delta) {
	return rho + 2 * sqrt(rho * -log(delta));
}

static const char *sname(const mpc_dp_stat *s) {
	return s->name ? s->name : "(unnamed)";
}

mpc_err mpc_dp_budget_split(mpc_dp_mech mech, double epsilon, double delta, const mpc_dp_stat *s,
                            size_t n, mpc_dp_alloc *out) {
	double wsum = 0, rho = 0;
	if (mech != MPC_DP_LAPLACE && mech != MPC_DP_GAUSSIAN)
		return mpc_error(MPC_ECONFIG, "dp: unknown mechanism %d", (int)mech);
	if (isnan(epsilon) || !(epsilon > 0) || isinf(epsilon))
		return mpc_error(MPC_ECONFIG, "dp: epsilon must be a finite number > 0 (got %g)",
		                 epsilon);
	if (mech == MPC_DP_LAPLACE && delta != 0)
		return mpc_error(MPC_ECONFIG,
		                 "dp: the discrete Laplace is pure epsilon-DP: delta "
		                 "must be 0 (got %g); delta is for the Gaussian",
		                 delta);
	if (mech == MPC_DP_GAUSSIAN && !(delta > 0 && delta < 1))
		return mpc_error(MPC_ECONFIG,
		                 "dp: the discrete Gaussian needs 0 < delta < 1 (got %g)", delta);
	if (n == 0 || s == NULL || out == NULL)
		return mpc_error(MPC_ECONFIG, "dp: no statistics to release");
	for (size_t i = 0; i < n; i++) {
		if (isnan(s[i].sensitivity) || !(s[i].sensitivity > 0) || isinf(s[i].sensitivity))
			return mpc_error(
			    MPC_ECONFIG,
			    "dp: statistic %zu (%s): sensitivity must be a finite number "
			    "> 0 (got %g)",
			    i, sname(&s[i]), s[i].sensitivity);
		if (isnan(s[i].weight) || s[i].weight < 0 || isinf(s[i].weight))
			return mpc_error(
			    MPC_ECONFIG,
			    "dp: statistic %zu (%s): weight must be finite and >= 0 (got %g)", i,
			    sname(&s[i]), s[i].weight);
		if (s[i].frac > 100)
			return mpc_error(MPC_ECONFIG, "dp: statistic %zu (%s): %u fractional bits",
			                 i, sname(&s[i]), s[i].frac);
		wsum += s[i].weight > 0 ? s[i].weight : 1.0;
	}
	if (mech == MPC_DP_GAUSSIAN)
		rho = mpc_dp_zcdp_rho(epsilon, delta);
	for (size_t i = 0; i < n; i++) {
		mpc_dp_alloc a = {.mech = mech};
		double w = (s[i].weight > 0 ? s[i].weight : 1.0) / wsum;
		mpc_err err;
		if (mech == MPC_DP_LAPLACE) {
			a.epsilon = epsilon * w;
			a.scale = s[i].sensitivity / a.epsilon;
		} else {
			a.delta = delta;
			a.rho = rho * w;
			a.epsilon = mpc_dp_zcdp_epsilon(a.rho, delta);
			a.scale = s[i].sensitivity / sqrt(2 * a.rho);
		}
		a.units = ldexp(a.scale, (int)s[i].frac);
		if (!(a.epsilon > 0) || !isfinite(a.scale) || !isfinite(a.units))
			return mpc_error(
			    MPC_ECONFIG,
			    "dp: statistic %zu (%s): budget share %g gives no usable scale", i,
			    sname(&s[i]), mech == MPC_DP_LAPLACE ? a.epsilon : a.rho);
		err = mech == MPC_DP_LAPLACE ? mpc_dp_laplace_info(a.units, &a.digits, &a.tv_bound)
		                             : mpc_dp_gauss_info(a.units, &a.digits, &a.tv_bound);
		if (err != MPC_OK)
			return mpc_error(
			    MPC_ECONFIG,
			    "dp: statistic %zu (%s): %s noise scale %g (%g units of 2^-%u) "
			    "is out of the sampler's range: raise epsilon, lower the "
			    "sensitivity or the fractional bits",
			    i, sname(&s[i]), mpc_dp_mech_name(mech), a.scale, a.units, s[i].frac);
		a.stddev = ldexp(mech == MPC_DP_LAPLACE ? mpc_dp_laplace_stddev(a.units)
		                                        : mpc_dp_gauss_stddev(a.units),
		                 -(int)s[i].frac);
		out[i] = a;
	}
	return MPC_OK;
}

int mpc_dp_format(const mpc_dp_stat *s, const mpc_dp_alloc *a, char *buf, size_t len) {
	if (a->mech == MPC_DP_GAUSSIAN)
		return snprintf(
		    buf, len,
		    "dp %-14s rho %-10.6g (epsilon %.6g at delta %.3g) sensitivity %-10.6g "
		    "sigma %-10.6g stddev %-10.6g (discrete Gaussian, granularity 2^-%u, "
		    "|noise| <= %u units)",
		    sname(s), a->rho, a->epsilon, a->delta, s->sensitivity, a->scale, a->stddev,
		    s->frac, a->digits);
	return snprintf(buf, len,
	                "dp %-14s epsilon %-10.6g sensitivity %-10.6g scale t %-10.6g stddev "
	                "%-10.6g (discrete Laplace, granularity 2^-%u, %u digits)",
	                sname(s), a->epsilon, s->sensitivity, a->scale, a->stddev, s->frac,
	                a->digits);
}
