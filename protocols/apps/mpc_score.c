/* Joint fraud scoring (see mpc_score.h).
 *
 * Every model reduces to sums of products A[i,k] * B[g,k] where A is held
 * column by column by the feature holders (or is shared) and B is the
 * model owner's (or shared): prod_sum. Values held in the clear by one party
 * are used as trivial shares (the holder's share is the value, the others'
 * zero): Beaver multiplication and truncation mask whatever they open, and
 * the bit decompositions input each party's share separately, so the
 * sharing need not be random. */
#include "protocols/apps/mpc_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "protocols/nonlinear/mpc_math.h"
#include "runtime/mpc_fixed.h"
#include "runtime/mpc_wipe.h"

typedef mpc_u128 u128;
typedef mpc_i128 i128;

#define RING MPC_Z128
#define FB   MPC_SCORE_F
/* products per pass of prod_sum: bounds memory (about 7 vectors of this) */
#define CH ((size_t)1 << 20)

static void *zalloc(size_t n, size_t sz) {
	return calloc(n ? n : 1, sz);
}

static mpc_err nomem(mpc_party *p, int line) {
	return mpc_error(MPC_ENOMEM, "scoring at party %d: out of memory (%s:%d)", mpc_party_id(p),
	                 __FILE__, line);
}

static uint64_t all_mask(int np) {
	return np >= 64 ? ~0ull : (1ull << np) - 1;
}

/* Bits of an offset-binary value v + 2^(bits-1) for |v| < max_abs * 2^f
 * (round to nearest may reach max_abs * 2^f itself). */
static unsigned bound_bits(double max_abs, unsigned f) {
	int e;
	frexp(max_abs, &e);
	return (unsigned)(e + (int)f + 2);
}

/* ------------------------------------------------------------------ */
/* Sums of products                                                    */

typedef struct {
	size_t n, d, G;
	const int *a_own; /* d holders of A's columns, or NULL: A is shared */
	const u128 *a;    /* holder: its columns, n x q; shared: n x d shares; else NULL */
	unsigned abits;   /* |A| < 2^(abits-1) (signed) or A < 2^abits (unsigned) */
	int asig;
	int b_own;     /* party holding B (G x d), or MPC_SCORE_SHARED */
	const u128 *b; /* owner: the values; shared: shares; else NULL */
	unsigned bbits;
	int bsig;
} pjob;

/* out[i*G + g] = this party's share of sum_k A[i,k] B[g,k]. One group of
 * columns per holder (all columns when A is shared), in the same order at
 * every party. Cross mode: the party R holding its factor privately (the
 * narrower one when both are private) is the OT receiver of x + offset, the
 * parties holding the other factor send; each sender removes offset * y, and
 * R adds its own x * y locally. */
static mpc_err prod_sum(mpc_party *p, const mpc_cross *eng, const pjob *j, u128 *out) {
	int me = mpc_party_id(p), np = mpc_party_size(p);
	size_t n = j->n, d = j->d, G = j->G;
	size_t *K = zalloc(d, sizeof(*K));
	u128 *xv = NULL, *yv = NULL, *co = NULL;
	size_t cur = 0; /* elements in xv, yv, co */
	mpc_err err = MPC_OK;

	if (K == NULL)
		return nomem(p, __LINE__);
	memset(out, 0, n * G * sizeof(u128));
	for (int h = j->a_own ? 0 : -1; h < (j->a_own ? np : 0) && err == MPC_OK; h++) {
		size_t q = 0;
		for (size_t k = 0; k < d; k++)
			if (j->a_own == NULL || j->a_own[k] == h)
				K[q++] = k;
		if (q == 0)
			continue;
		int a_mine = j->a_own ? me == h : 1, b_mine = j->b_own >= 0 ? me == j->b_own : 1;
		int R, r_is_a;
		uint64_t send;
		if (j->a_own && j->b_own >= 0) {
			r_is_a = j->abits <= j->bbits;
			R = r_is_a ? h : j->b_own;
			send = h == j->b_own ? 0 : 1ull << (r_is_a ? j->b_own : h);
		} else if (j->a_own) {
			R = h, r_is_a = 1, send = all_mask(np) & ~(1ull << h);
		} else {
			R = j->b_own, r_is_a = 0, send = all_mask(np) & ~(1ull << R);
		}
		unsigned xb = r_is_a ? j->abits : j->bbits;
		int sg = r_is_a ? j->asig : j->bsig;
		u128 off = sg ? (u128)1 << (xb - 1) : 0;
		int im_r = me == R, im_s = (int)(send >> me & 1);
		/* the receiver also holds (a share of) the other factor */
		int r_other = r_is_a ? b_mine : a_mine;
		size_t per = CH / (G * q) ? CH / (G * q) : 1;

		for (size_t i0 = 0; i0 < n && err == MPC_OK; i0 += per) {
			size_t rows = n - i0 < per ? n - i0 : per, ne = rows * G * q;
			if (send == 0) {
				/* both factors at one party: local */
				if (im_r)
					for (size_t r = 0; r < rows; r++)
						for (size_t g = 0; g < G; g++) {
							u128 s = 0;
							for (size_t kk = 0; kk < q; kk++)
								s += j->a[(i0 + r) * q + kk] *
								     j->b[g * d + K[kk]];
							out[(i0 + r) * G + g] += s;
						}
				continue;
			}
			cur = ne;
			xv = zalloc(ne, sizeof(u128));
			yv = zalloc(ne, sizeof(u128));
			co = zalloc(ne, sizeof(u128));
			if (xv == NULL || yv == NULL || co == NULL) {
				err = nomem(p, __LINE__);
				break;
			}
			/* cross: xv = the receiver's factor + offset, yv = the senders';
			 * the receiver's own product and the senders' offset
			 * corrections go straight into out. Beaver: xv, yv = A, B. */
			for (size_t r = 0, e = 0; r < rows; r++)
				for (size_t g = 0; g < G; g++) {
					u128 adj = 0;
					for (size_t kk = 0; kk < q; kk++, e++) {
						u128 av = a_mine ? j->a[(i0 + r) * q + kk] : 0;
						u128 bv = b_mine ? j->b[g * d + K[kk]] : 0;
						if (eng == NULL) {
							xv[e] = av, yv[e] = bv;
							continue;
						}
						u128 xr = r_is_a ? av : bv, ys = r_is_a ? bv : av;
						xv[e] = im_r ? xr + off : 0;
						yv[e] = ys;
						if (im_r && r_other)
							adj += xr * ys;
						if (im_s)
							adj -= off * ys;
					}
					out[(i0 + r) * G + g] += adj;
				}
			if (eng) {
				err = eng->ops->cross(eng->ctx, p, RING, xb, ne, im_r ? xv : NULL,
				                      im_s ? yv : NULL, co, 1ull << R, send);
				if (err != MPC_OK)
					break;
				for (size_t r = 0, e = 0; r < rows; r++)
					for (size_t g = 0; g < G; g++) {
						u128 sum = 0;
						for (size_t kk = 0; kk < q; kk++, e++)
							sum += co[e];
						out[(i0 + r) * G + g] += sum;
					}
			} else {
				if ((err = mpc_beaver_dot(p, RING, xv, yv, co, rows * G, q)) !=
				    MPC_OK)
					break;
				for (size_t t = 0; t < rows * G; t++)
					out[i0 * G + t] += co[t];
			}
			mpc_wipe_free(xv, ne * sizeof(u128));
			mpc_wipe_free(yv, ne * sizeof(u128));
			mpc_wipe_free(co, ne * sizeof(u128));
			xv = yv = co = NULL;
		}
		if (err != MPC_OK) {
			mpc_wipe_free(xv, cur * sizeof(u128));
			mpc_wipe_free(yv, cur * sizeof(u128));
			mpc_wipe_free(co, cur * sizeof(u128));
			xv = yv = co = NULL;
		}
	}
	free(K);
	return err;
}

/* ------------------------------------------------------------------ */
/* Inputs                                                              */

typedef struct {
	int *hold;    /* d holders */
	size_t q;     /* this party's columns */
	double *cols; /* n x q, job order (owned, secret) */
} feats;

static void feats_fini(feats *f, size_t n) {
	free(f->hold);
	mpc_wipe_free(f->cols, n * f->q * sizeof(double));
	memset(f, 0, sizeof(*f));
}

typedef struct {
	const char *k;
	size_t i;
} keyrow;

static int keyrow_cmp(const void *a, const void *b) {
	return strcmp(((const keyrow *)a)->k, ((const keyrow *)b)->k);
}

/* Public checks (the same result at every party, so no round is needed). */
static mpc_err check_common(mpc_party *p, const mpc_score_opts *o, const mpc_score_data *x,
                            int owner, int shared_ok, double threshold, int thr_prob,
                            const char *what) {
	int me = mpc_party_id(p), np = mpc_party_size(p);
	if (o == NULL || x == NULL)
		return mpc_error(MPC_EINVAL, "%s at party %d: NULL options or data", what, me);
	if (o->asker < 0 || o->asker >= np)
		return mpc_error(MPC_EINVAL, "%s at party %d: asker %d out of range", what, me,
		                 o->asker);
	if (owner >= np || owner < (shared_ok ? MPC_SCORE_SHARED : 0))
		return mpc_error(MPC_EINVAL, "%s at party %d: model owner %d not allowed", what, me,
		                 owner);
	if (x->d == 0 || x->d > ((size_t)1 << 20))
		return mpc_error(MPC_EINVAL, "%s at party %d: %zu features", what, me, x->d);
	if (x->n > ((size_t)1 << 32))
		return mpc_error(MPC_EINVAL, "%s at party %d: %zu transactions", what, me, x->n);
	if (x->col_holder == NULL && (x->holder < 0 || x->holder >= np))
		return mpc_error(MPC_EINVAL, "%s at party %d: holder %d out of range", what, me,
		                 x->holder);
	for (size_t k = 0; x->col_holder && k < x->d; k++)
		if (x->col_holder[k] < 0 || x->col_holder[k] >= np)
			return mpc_error(MPC_EINVAL,
			                 "%s at party %d: holder of feature %zu out of range", what,
			                 me, k);
	if (!(x->x_max >= 0 && x->x_max <= 0x1p60))
		return mpc_error(MPC_EINVAL, "%s at party %d: bad feature bound", what, me);
	if (thr_prob ? !(threshold > 0 && threshold < 1) : !isfinite(threshold))
		return mpc_error(MPC_EINVAL, "%s at party %d: threshold not in %s", what, me,
		                 thr_prob ? "(0, 1)" : "the reals");
	if (x->keys && x->n > 0)
		for (size_t i = 0; i < x->n; i++)
			if (x->keys[i] == NULL)
				return mpc_error(MPC_EINVAL, "%s at party %d: job key %zu is NULL",
				                 what, me, i);
	return MPC_OK;
}

/* This party's columns in job order (local; a failure is reported to the
 * others by status_round). */
static mpc_err feats_load(mpc_party *p, const mpc_score_data *x, feats *f, const char *what) {
	int me = mpc_party_id(p);
	size_t n = x->n, d = x->d;
	keyrow *kr = NULL;
	mpc_err err = MPC_OK;

	memset(f, 0, sizeof(*f));
	if ((f->hold = zalloc(d, sizeof(int))) == NULL)
		return nomem(p, __LINE__);
	for (size_t k = 0; k < d; k++) {
		f->hold[k] = x->col_holder ? x->col_holder[k] : x->holder;
		f->q += f->hold[k] == me;
	}
	if (f->q == 0)
		return MPC_OK;
	if ((f->cols = zalloc(n * f->q, sizeof(double))) == NULL)
		return nomem(p, __LINE__);
	if (x->x == NULL && (x->keys ? x->my_n : n) > 0)
		return mpc_error(MPC_EINVAL, "%s at party %d: holds %zu features but gave no rows",
		                 what, me, f->q);
	if (x->keys == NULL) {
		memcpy(f->cols, x->x, n * f->q * sizeof(double));
		return MPC_OK;
	}
	/* vertical matching: sort this party's keys, look each job key up */
	if (x->my_n > 0 && x->my_keys == NULL)
		return mpc_error(MPC_EINVAL, "%s at party %d: rows without keys", what, me);
	if ((kr = zalloc(x->my_n, sizeof(*kr))) == NULL)
		return nomem(p, __LINE__);
	for (size_t i = 0; i < x->my_n; i++) {
		if (x->my_keys[i] == NULL) {
			err = mpc_error(MPC_EINVAL, "%s at party %d: its record %zu has no key",
			                what, me, i);
			goto out;
		}
		kr[i] = (keyrow){x->my_keys[i], i};
	}
	qsort(kr, x->my_n, sizeof(*kr), keyrow_cmp);
	for (size_t i = 1; i < x->my_n; i++)
		if (strcmp(kr[i - 1].k, kr[i].k) == 0) {
			size_t a = kr[i - 1].i < kr[i].i ? kr[i - 1].i : kr[i].i;
			size_t b = kr[i - 1].i < kr[i].i ? kr[i].i : kr[i - 1].i;
			err = mpc_error(MPC_EINVAL,
			                "%s at party %d: its records %zu and %zu have the same key",
			                what, me, a, b);
			goto out;
		}
	size_t missing = 0, first = 0;
	for (size_t i = 0; i < n; i++) {
		keyrow want = {x->keys[i], 0};
		const keyrow *hit =
		    x->my_n ? bsearch(&want, kr, x->my_n, sizeof(*kr), keyrow_cmp) : NULL;
		if (hit == NULL) {
			if (missing++ == 0)
				first = i;
			continue;
		}
		memcpy(f->cols + i * f->q, x->x + hit->i * f->q, f->q * sizeof(double));
	}
	if (missing)
		err = mpc_error(MPC_EINVAL,
		                "%s at party %d: %zu of the %zu job keys are not among its records "
		                "(the first at job index %zu)",
		                what, me, missing, n, first);
out:
	free(kr);
	return err;
}

/* One round: every party says whether its local preparation worked, so that
 * a bad input fails the run everywhere at once instead of by a timeout. */
static mpc_err status_round(mpc_party *p, mpc_err mine, const char *what) {
	int me = mpc_party_id(p), np = mpc_party_size(p);
	uint8_t ok = mine == MPC_OK, all[64];
	char keep[512];
	mpc_err err;

	snprintf(keep, sizeof(keep), "%s", mpc_error_detail());
	err = mpc_party_bcast(p, &ok, all, 1);
	/* our own failure first, even if a peer aborted meanwhile */
	if (mine != MPC_OK)
		return mpc_error(mine, "%s", keep);
	if (err != MPC_OK)
		return err;
	for (int j = 0; j < np; j++)
		if (j != me && all[j] != 1)
			return mpc_error(MPC_EINVAL,
			                 "%s at party %d: party %d could not prepare its inputs",
			                 what, me, j);
	return MPC_OK;
}

/* Encode n values at 2^f; MPC_ERANGE names the index. */
static mpc_err enc(mpc_party *p, unsigned f, double max_abs, const double *v, u128 *out, size_t n,
                   const char *what, const char *name) {
	char keep[256];
	mpc_err err = n ? mpc_fixed_encode(RING, f, max_abs, v, out, n) : MPC_OK;
	if (err != MPC_OK) {
		snprintf(keep, sizeof(keep), "%s", mpc_error_detail());
		return mpc_error(err, "%s at party %d: %s: %s", what, mpc_party_id(p), name, keep);
	}
	return MPC_OK;
}

static u128 fx(double v, int e) {
	return (u128)(i128)llround(ldexp(v, e));
}

/* ------------------------------------------------------------------ */
/* Outputs                                                             */

/* flag = [v > T] (T public), then open s and flag to the asker, who
 * decodes s at 2^fs. cmp_bits: T - v is known to fit that many bits as a
 * signed number (the ring's width when nothing tighter is known): the
 * comparison takes only those bits. */
static mpc_err finish(mpc_party *p, const mpc_score_opts *o, const u128 *cmp_val, u128 T,
                      unsigned cmp_bits, const u128 *s, unsigned fs, size_t n, double *score,
                      uint8_t *flag) {
	int me = mpc_party_id(p);
	u128 *buf = zalloc(2 * n, sizeof(u128));
	mpc_err err;

	if (buf == NULL)
		return nomem(p, __LINE__);
	/* T - v < 0  <=>  v > T */
	for (size_t i = 0; i < n; i++)
		buf[n + i] = (me == 0 ? T : 0) - cmp_val[i];
	if ((err = mpc_cmp_ltz_bits(p, RING, buf + n, cmp_bits, buf + n, n)) != MPC_OK)
		goto out;
	memcpy(buf, s, n * sizeof(u128));
	/* In cross mode a holder's share of s is its partial score plus the
	 * model owner's Gilboa pads: mpc_open_to re-randomises it before the
	 * asker (who may be that owner) sees it. */
	if ((err = mpc_open_to(p, o->asker, RING, buf, me == o->asker ? buf : NULL, 2 * n)) !=
	    MPC_OK)
		goto out;
	if (me == o->asker) {
		if (score == NULL || flag == NULL) {
			err =
			    mpc_error(MPC_EINVAL,
			              "scoring at party %d: the asker gave no output buffers", me);
			goto out;
		}
		mpc_fixed_decode(RING, fs, buf, score, n);
		for (size_t i = 0; i < n; i++)
			flag[i] = buf[n + i] == 1;
	}
out:
	mpc_wipe_free(buf, 2 * n * sizeof(u128));
	return err;
}

/* The asker's output buffers checked, then status_round: every model's last
 * step before its first product. */
static mpc_err inputs_ready(mpc_party *p, const mpc_score_opts *o, mpc_err loc, const double *score,
                            const uint8_t *flag, const char *what) {
	int me = mpc_party_id(p);
	if (loc == MPC_OK && me == o->asker && (score == NULL || flag == NULL))
		loc = mpc_error(MPC_EINVAL, "%s at party %d: the asker gave no output buffers",
		                what, me);
	return status_round(p, loc, what);
}

/* feats_load, then this party's columns encoded at 2^FB into A (n x q). */
static mpc_err feats_enc(mpc_party *p, const mpc_score_data *x, feats *f, double xmax, u128 *A,
                         const char *what) {
	mpc_err loc = feats_load(p, x, f, what);
	if (loc == MPC_OK && f->q > 0)
		loc = enc(p, FB, xmax, f->cols, A, x->n * f->q, what, "feature");
	return loc;
}

/* An additive score over the model owner's values (scorecard points, tree
 * leaves): S = A B + base with B (d values, G = 1) and base the owner's, then
 * finish against the threshold at 2^FB. j gives n, d, A and B with their
 * bounds; this fills in the rest. S is scratch of n elements. */
static mpc_err owner_score(mpc_party *p, const mpc_score_opts *o, pjob *j, int owner,
                           const u128 *base, double threshold, u128 *S, double *score,
                           uint8_t *flag) {
	mpc_err err;
	j->G = 1, j->b_own = owner, j->bsig = 1;
	if ((err = prod_sum(p, o->cross, j, S)) != MPC_OK)
		return err;
	if (owner == mpc_party_id(p))
		for (size_t i = 0; i < j->n; i++)
			S[i] += *base;
	return finish(p, o, S, fx(threshold, FB), mpc_ring_bits(RING), S, FB, j->n, score, flag);
}

/* ------------------------------------------------------------------ */
/* Logistic regression                                                 */

mpc_err mpc_score_logreg(mpc_party *p, const mpc_score_opts *o, const mpc_score_data *x,
                         const mpc_score_logreg_model *m, double *score, uint8_t *flag) {
	static const char what[] = "logistic regression scoring";
	int me = mpc_party_id(p);
	feats f = {0};
	u128 *A = NULL, *B = NULL, *L = NULL, *z = NULL, bias = 0;
	size_t n, d;
	mpc_err err, loc = MPC_OK;

	if (m == NULL)
		return mpc_error(MPC_EINVAL, "%s at party %d: no model", what, me);
	if ((err = check_common(p, o, x, m->owner, 1, m->threshold, 1, what)) != MPC_OK)
		return err;
	n = x->n, d = x->d;
	double xmax = x->x_max > 0 ? x->x_max : MPC_SCORE_X_MAX_DEFAULT;
	double wmax = m->w_max > 0 ? m->w_max : MPC_SCORE_V_MAX_DEFAULT;
	if (!(wmax <= 0x1p40))
		return mpc_error(MPC_EINVAL, "%s at party %d: bad weight bound", what, me);
	/* the linear part is held with 32 fractional bits and truncated by
	 * mpc_trunc, which needs |w.x + b| < 2^55 */
	if (!((double)d * xmax * wmax + wmax < 0x1p55))
		return mpc_error(MPC_EINVAL,
		                 "%s at party %d: %zu features x max |x| %g x max |w| %g "
		                 "may reach 2^55; lower the bounds",
		                 what, me, d, xmax, wmax);
	if (n == 0)
		return MPC_OK;
	if ((A = zalloc(n * d, sizeof(u128))) == NULL || (B = zalloc(d, sizeof(u128))) == NULL ||
	    (L = zalloc(n, sizeof(u128))) == NULL || (z = zalloc(n, sizeof(u128))) == NULL) {
		err = nomem(p, __LINE__);
		goto out;
	}
	loc = feats_enc(p, x, &f, xmax, A, what);
	if (loc == MPC_OK && m->owner == me) {
		if (m->w == NULL)
			loc = mpc_error(MPC_EINVAL, "%s at party %d: the owner gave no weights",
			                what, me);
		else if ((loc = enc(p, FB, wmax, m->w, B, d, what, "weight")) == MPC_OK) {
			/* the bias at 2^32, the scale of the products */
			double bb = m->b;
			loc = enc(p, 2 * FB, wmax, &bb, &bias, 1, what, "bias");
		}
	} else if (loc == MPC_OK && m->owner == MPC_SCORE_SHARED) {
		if (m->shares == NULL)
			loc = mpc_error(MPC_EINVAL, "%s at party %d: no model shares", what, me);
		else {
			memcpy(B, m->shares, d * sizeof(u128));
			memcpy(&bias, (const u128 *)m->shares + d, sizeof(u128));
			bias <<= FB;
		}
	}
	if ((err = inputs_ready(p, o, loc, score, flag, what)) != MPC_OK)
		goto out;

	pjob j = {.n = n,
	          .d = d,
	          .G = 1,
	          .a_own = f.hold,
	          .a = A,
	          .abits = bound_bits(xmax, FB),
	          .asig = 1,
	          .b_own = m->owner,
	          .b = B,
	          .bbits = bound_bits(wmax, FB),
	          .bsig = 1};
	if ((err = prod_sum(p, o->cross, &j, L)) != MPC_OK)
		goto out;
	if (m->owner == me || m->owner == MPC_SCORE_SHARED)
		for (size_t i = 0; i < n; i++)
			L[i] += bias;
	/* z at 2^16 for the sigmoid; the flag on the exact sum at 2^32 */
	if ((err = mpc_trunc(p, RING, FB, L, z, n)) != MPC_OK ||
	    (err = mpc_math_sigmoid(p, RING, FB, z, z, n)) != MPC_OK)
		goto out;
	/* the flag compares the exact logit with the threshold's, both at
	 * 2^32: |logit(t) - w.x - b| < d max|x| max|w| + max|w| + |logit(t)|,
	 * all public and enforced when the inputs were encoded; the
	 * comparison takes those bits (about 44 instead of 128 for 8 features:
	 * a third of its bit triples and one round less), exact for every
	 * input in range */
	double t = m->threshold, tl = log(t / (1 - t));
	unsigned cb = bound_bits((double)d * xmax * wmax + wmax + fabs(tl) + 1, 2 * FB);
	if (cb > mpc_ring_bits(RING))
		cb = mpc_ring_bits(RING);
	err = finish(p, o, L, fx(tl, 2 * FB), cb, z, FB, n, score, flag);
out:
	feats_fini(&f, n);
	mpc_wipe_free(A, n * d * sizeof(u128));
	mpc_wipe_free(B, d * sizeof(u128));
	mpc_wipe_free(L, n * sizeof(u128));
	mpc_wipe_free(z, n * sizeof(u128));
	mpc_wipe(&bias, sizeof(bias));
	return err;
}

/* ------------------------------------------------------------------ */
/* Scorecard                                                           */

mpc_err mpc_score_scorecard(mpc_party *p, const mpc_score_opts *o, const mpc_score_data *x,
                            const mpc_score_card_model *m, double *score, uint8_t *flag) {
	static const char what[] = "scorecard scoring";
	int me = mpc_party_id(p);
	feats f = {0};
	int *bhold = NULL;
	size_t *cut0 = NULL, C = 0, qb = 0, n, d;
	u128 *A = NULL, *B = NULL, *S = NULL, base = 0;
	mpc_err err, loc = MPC_OK;

	if (m == NULL || m->n_bins == NULL)
		return mpc_error(MPC_EINVAL, "%s at party %d: no model", what, me);
	if ((err = check_common(p, o, x, m->owner, 0, m->threshold, 0, what)) != MPC_OK)
		return err;
	n = x->n, d = x->d;
	double pmax = m->p_max > 0 ? m->p_max : MPC_SCORE_V_MAX_DEFAULT;
	if (!(pmax <= 0x1p60))
		return mpc_error(MPC_EINVAL, "%s at party %d: bad points bound", what, me);
	if ((cut0 = zalloc(d + 1, sizeof(size_t))) == NULL)
		return nomem(p, __LINE__);
	for (size_t k = 0; k < d; k++) {
		if (m->n_bins[k] < 1 || m->n_bins[k] > 4096) {
			free(cut0);
			return mpc_error(MPC_EINVAL, "%s at party %d: feature %zu has %zu bins",
			                 what, me, k, m->n_bins[k]);
		}
		cut0[k + 1] = cut0[k] + m->n_bins[k] - 1;
		C += m->n_bins[k];
	}
	for (size_t k = 0; k < d; k++)
		for (size_t c = cut0[k]; c + 1 < cut0[k + 1]; c++)
			if (m->cuts == NULL || !(m->cuts[c] < m->cuts[c + 1])) {
				free(cut0);
				return mpc_error(
				    MPC_EINVAL,
				    "%s at party %d: the cuts of feature %zu do not increase", what,
				    me, k);
			}
	if (n == 0) {
		free(cut0);
		return MPC_OK;
	}
	if ((bhold = zalloc(C, sizeof(int))) == NULL || (B = zalloc(C, sizeof(u128))) == NULL ||
	    (S = zalloc(n, sizeof(u128))) == NULL) {
		err = nomem(p, __LINE__);
		goto out;
	}
	loc = feats_load(p, x, &f, what);
	for (size_t k = 0, c = 0; f.hold && k < d; k++)
		for (size_t b = 0; b < m->n_bins[k]; b++, c++) {
			bhold[c] = f.hold[k];
			qb += f.hold[k] == me;
		}
	if (loc == MPC_OK && (A = zalloc(n * qb, sizeof(u128))) == NULL)
		loc = nomem(p, __LINE__);
	/* bins of this party's own features: local, in the clear, one-hot */
	double xmax = x->x_max > 0 ? x->x_max : MPC_SCORE_X_MAX_DEFAULT;
	for (size_t i = 0; loc == MPC_OK && i < n; i++) {
		size_t col = 0, ob = 0;
		for (size_t k = 0; k < d; k++) {
			if (f.hold[k] != me)
				continue;
			double v = f.cols[i * f.q + col++];
			if (!(fabs(v) < xmax)) {
				loc = mpc_error(
				    MPC_ERANGE,
				    "%s at party %d: feature %zu of transaction %zu out of range",
				    what, me, k, i);
				break;
			}
			size_t b = 0;
			while (b + 1 < m->n_bins[k] && m->cuts[cut0[k] + b] <= v)
				b++;
			A[i * qb + ob + b] = 1;
			ob += m->n_bins[k];
		}
	}
	if (loc == MPC_OK && m->owner == me) {
		if (m->points == NULL)
			loc = mpc_error(MPC_EINVAL, "%s at party %d: the owner gave no points",
			                what, me);
		else if ((loc = enc(p, FB, pmax, m->points, B, C, what, "points")) == MPC_OK) {
			double bb = m->base;
			loc = enc(p, FB, pmax, &bb, &base, 1, what, "base");
		}
	}
	if ((err = inputs_ready(p, o, loc, score, flag, what)) != MPC_OK)
		goto out;
	pjob j = {.n = n,
	          .d = C,
	          .a_own = bhold,
	          .a = A,
	          .abits = 1,
	          .asig = 0,
	          .b = B,
	          .bbits = bound_bits(pmax, FB)};
	err = owner_score(p, o, &j, m->owner, &base, m->threshold, S, score, flag);
out:
	feats_fini(&f, n);
	free(bhold);
	free(cut0);
	mpc_wipe_free(A, n * qb * sizeof(u128));
	mpc_wipe_free(B, C * sizeof(u128));
	mpc_wipe_free(S, n * sizeof(u128));
	mpc_wipe(&base, sizeof(base));
	return err;
}

/* ------------------------------------------------------------------ */
/* Trees                                                               */

/* The shape of a tree ensemble over n transactions. */
typedef struct {
	size_t n, d;  /* transactions, features */
	size_t T, D;  /* trees, depth */
	size_t J, NL; /* inner nodes and leaves per tree */
	size_t G, P;  /* inner nodes and leaves of all trees */
	size_t W;     /* words of a bit plane over the n transactions */
} tree_dims;

/* The model owner's trees checked and encoded: the one-hot feature rows E
 * (G x d), thresholds th (G), leaf values lv (P) and the base. */
static mpc_err tree_owner_model(mpc_party *p, const mpc_score_tree_model *m, const tree_dims *t,
                                double xmax, double vmax, u128 *E, u128 *th, u128 *lv, u128 *base,
                                const char *what) {
	int me = mpc_party_id(p);
	mpc_err loc = MPC_OK;
	if (m->feature == NULL || m->thr == NULL || m->leaf == NULL)
		loc = mpc_error(MPC_EINVAL, "%s at party %d: the owner gave no trees", what, me);
	for (size_t g = 0; loc == MPC_OK && g < t->G; g++) {
		if (m->feature[g] >= t->d)
			loc = mpc_error(
			    MPC_EINVAL,
			    "%s at party %d: node %zu of tree %zu names feature %u of %zu", what,
			    me, g % t->J, g / t->J, (unsigned)m->feature[g], t->d);
		else
			E[g * t->d + m->feature[g]] = 1;
	}
	if (loc == MPC_OK)
		loc = enc(p, FB, xmax, m->thr, th, t->G, what, "tree threshold");
	if (loc == MPC_OK)
		loc = enc(p, FB, vmax, m->leaf, lv, t->P, what, "leaf value");
	if (loc == MPC_OK) {
		double bb = m->base;
		loc = enc(p, FB, vmax, &bb, base, 1, what, "base");
	}
	return loc;
}

/* All comparisons x < thr of all nodes and transactions at once: S (n x G)
 * holds the feature each node reads; bits gets node g's plane of [x < thr]
 * at bits[g * W], in planes of W words (padding elements are 0 everywhere). */
static mpc_err tree_node_bits(mpc_party *p, int owner, const tree_dims *t, const u128 *S,
                              const u128 *th, uint64_t *bits) {
	size_t n64 = 64 * t->W;
	int me = mpc_party_id(p);
	u128 *V = zalloc(t->G * n64, sizeof(u128));
	mpc_err err;
	if (V == NULL)
		return nomem(p, __LINE__);
	for (size_t i = 0; i < t->n; i++)
		for (size_t g = 0; g < t->G; g++)
			V[g * n64 + i] = S[i * t->G + g] - (owner == me ? th[g] : 0);
	err = mpc_conv_msb(p, RING, V, t->G * n64, bits);
	mpc_wipe_free(V, t->G * n64 * sizeof(u128));
	return err;
}

/* The D factors of each leaf: the bit of each node on its path, negated
 * where the path goes right; leaf lf's factor s at fac[(lf * D + s) * W]. */
static void tree_path_factors(int me, const tree_dims *t, const uint64_t *bits, uint64_t *fac) {
	size_t W = t->W, D = t->D;
	uint64_t tail = t->n % 64 ? (1ull << (t->n % 64)) - 1 : ~0ull;
	for (size_t tr = 0; tr < t->T; tr++)
		for (size_t l = 0; l < t->NL; l++) {
			size_t node = 0;
			for (size_t lv2 = 0; lv2 < D; lv2++) {
				int right = (int)(l >> (D - 1 - lv2) & 1);
				const uint64_t *b = bits + (tr * t->J + node) * W;
				uint64_t *z = fac + ((tr * t->NL + l) * D + lv2) * W;
				for (size_t w = 0; w < W; w++)
					z[w] = b[w] ^
					       (right && me == 0 ? (w + 1 == W ? tail : ~0ull) : 0);
				node = 2 * node + 1 + (size_t)right;
			}
		}
}

/* Leaf indicators: the AND of each leaf's D factors, in ceil(log2 D)
 * layers, every leaf of every tree at once; then leaf lf's plane is at
 * fac[lf * W]. */
static mpc_err tree_leaf_and(mpc_party *p, const tree_dims *t, uint64_t *fac) {
	size_t W = t->W, D = t->D, P = t->P, ands = 0, off = 0;
	mpc_bit_triples bt = {0};
	mpc_bool_gate *gt = NULL;
	mpc_err err = MPC_OK;
	for (size_t c = D; c > 1; c = (c + 1) / 2)
		ands += c / 2;
	if (ands > 0) {
		if ((gt = zalloc(P * (D / 2 + 1), sizeof(*gt))) == NULL) {
			err = nomem(p, __LINE__);
			goto out;
		}
		if ((err = mpc_bit_triples_get(p, ands * P * W, &bt)) != MPC_OK)
			goto out;
		/* factors of leaf (t, l) at fac[(leaf * D + s) * W], compacted in place */
		for (size_t c = D; c > 1 && err == MPC_OK; c = (c + 1) / 2) {
			size_t ng = 0;
			for (size_t lf = 0; lf < P; lf++)
				for (size_t s = 0; s + 1 < c; s += 2) {
					uint64_t *base_ = fac + lf * D * W;
					gt[ng++] =
					    (mpc_bool_gate){base_ + s * W, base_ + (s + 1) * W,
					                    base_ + (s / 2) * W, 0};
				}
			/* gates write slot s/2 <= s: every input is read first */
			err = mpc_bool_and_layer(p, &bt, off, gt, ng, W);
			off += ng * W;
			if (err == MPC_OK && c % 2)
				for (size_t lf = 0; lf < P; lf++)
					memmove(fac + (lf * D + c / 2) * W,
					        fac + (lf * D + c - 1) * W, W * 8);
		}
		if (err != MPC_OK)
			goto out;
	}
	/* compact leaf planes: plane lf at fac[lf * W] */
	for (size_t lf = 1; lf < P; lf++)
		memmove(fac + lf * W, fac + lf * D * W, W * 8);
out:
	if (bt.a)
		mpc_bit_triples_fini(&bt);
	free(gt);
	return err;
}

mpc_err mpc_score_tree(mpc_party *p, const mpc_score_opts *o, const mpc_score_data *x,
                       const mpc_score_tree_model *m, double *score, uint8_t *flag) {
	static const char what[] = "tree scoring";
	int me = mpc_party_id(p);
	feats f = {0};
	tree_dims t = {0};
	size_t n, d, G, P, W = 0, nfac = 0;
	u128 *A = NULL, *E = NULL, *th = NULL, *S = NULL, *ind = NULL, *lv = NULL;
	u128 *sc = NULL, *AI = NULL, base = 0;
	uint64_t *bits = NULL, *fac = NULL;
	mpc_err err, loc = MPC_OK;

	if (m == NULL)
		return mpc_error(MPC_EINVAL, "%s at party %d: no model", what, me);
	if ((err = check_common(p, o, x, m->owner, 0, m->threshold, 0, what)) != MPC_OK)
		return err;
	if (m->n_trees < 1 || m->n_trees > 1024 || m->depth < 1 || m->depth > 10)
		return mpc_error(MPC_EINVAL, "%s at party %d: %zu trees of depth %zu", what, me,
		                 m->n_trees, m->depth);
	t.n = n = x->n, t.d = d = x->d, t.T = m->n_trees, t.D = m->depth;
	t.J = ((size_t)1 << t.D) - 1, t.NL = (size_t)1 << t.D;
	t.G = G = t.T * t.J, t.P = P = t.T * t.NL;
	double xmax = x->x_max > 0 ? x->x_max : MPC_SCORE_X_MAX_DEFAULT;
	double vmax = m->v_max > 0 ? m->v_max : MPC_SCORE_V_MAX_DEFAULT;
	if (!(vmax <= 0x1p60))
		return mpc_error(MPC_EINVAL, "%s at party %d: bad leaf bound", what, me);
	if (n == 0)
		return MPC_OK;
	t.W = W = mpc_conv_words(n);
	if ((A = zalloc(n * d, sizeof(u128))) == NULL ||
	    (E = zalloc(G * d, sizeof(u128))) == NULL || (th = zalloc(G, sizeof(u128))) == NULL ||
	    (S = zalloc(n * G, sizeof(u128))) == NULL || (lv = zalloc(P, sizeof(u128))) == NULL ||
	    (sc = zalloc(n, sizeof(u128))) == NULL) {
		err = nomem(p, __LINE__);
		goto out;
	}
	loc = feats_enc(p, x, &f, xmax, A, what);
	if (loc == MPC_OK && m->owner == me)
		loc = tree_owner_model(p, m, &t, xmax, vmax, E, th, lv, &base, what);
	if ((err = inputs_ready(p, o, loc, score, flag, what)) != MPC_OK)
		goto out;

	/* 1. the feature each node reads: a dot product with its secret one-hot
	 * row (the owner's 1-bit factor is the OT receiver's) */
	pjob j1 = {.n = n,
	           .d = d,
	           .G = G,
	           .a_own = f.hold,
	           .a = A,
	           .abits = bound_bits(xmax, FB),
	           .asig = 1,
	           .b_own = m->owner,
	           .b = E,
	           .bbits = 1,
	           .bsig = 0};
	if ((err = prod_sum(p, o->cross, &j1, S)) != MPC_OK)
		goto out;
	/* 2. all comparisons x < thr of all nodes and transactions at once */
	if ((bits = zalloc(G * W, 8)) == NULL) {
		err = nomem(p, __LINE__);
		goto out;
	}
	if ((err = tree_node_bits(p, m->owner, &t, S, th, bits)) != MPC_OK)
		goto out;
	/* 3. leaf indicators: the AND of the D path bits (bit or its negation) */
	nfac = P * t.D;
	if ((fac = zalloc(nfac * W, 8)) == NULL) {
		err = nomem(p, __LINE__);
		goto out;
	}
	tree_path_factors(me, &t, bits, fac);
	if ((err = tree_leaf_and(p, &t, fac)) != MPC_OK)
		goto out;
	if ((ind = zalloc(P * n, sizeof(u128))) == NULL ||
	    (AI = zalloc(P * n, sizeof(u128))) == NULL) {
		err = nomem(p, __LINE__);
		goto out;
	}
	if ((err = mpc_conv_b2a_planes(p, RING, fac, P, n, ind)) != MPC_OK)
		goto out;
	/* 4. the leaf value: indicators (shared) times the owner's leaves */
	for (size_t i = 0; i < n; i++)
		for (size_t lf = 0; lf < P; lf++)
			AI[i * P + lf] = ind[lf * n + i];
	pjob j2 = {.n = n,
	           .d = P,
	           .a_own = NULL,
	           .a = AI,
	           .abits = 128,
	           .asig = 0,
	           .b = lv,
	           .bbits = bound_bits(vmax, FB)};
	err = owner_score(p, o, &j2, m->owner, &base, m->threshold, sc, score, flag);
out:
	feats_fini(&f, n);
	mpc_wipe_free(A, n * d * sizeof(u128));
	mpc_wipe_free(E, G * d * sizeof(u128));
	mpc_wipe_free(th, G * sizeof(u128));
	mpc_wipe_free(S, n * G * sizeof(u128));
	mpc_wipe_free(ind, P * n * sizeof(u128));
	mpc_wipe_free(AI, P * n * sizeof(u128));
	mpc_wipe_free(lv, P * sizeof(u128));
	mpc_wipe_free(sc, n * sizeof(u128));
	mpc_wipe_free(bits, G * W * 8);
	mpc_wipe_free(fac, nfac * W * 8);
	mpc_wipe(&base, sizeof(base));
	return err;
}
