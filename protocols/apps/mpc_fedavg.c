/* Federated averaging with secure aggregation (what it computes and reveals:
 * protocols/apps/mpc_fedavg.h). Training and evaluation are plain C on the
 * party's own rows; only mpc_fedavg_secure_sum talks to the peers. */
#include "protocols/apps/mpc_fedavg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/apps/mpc_dp.h"
#include "protocols/core/mpc_share.h"
#include "runtime/mpc_fixed.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define RING MPC_Z128

void mpc_fedavg_params_default(mpc_fedavg_params *fp) {
	memset(fp, 0, sizeof(*fp));
	fp->rounds = 10;
	fp->epochs = 2;
	fp->lr = 0.1;
	fp->l2 = 1e-3;
	fp->batch = 32;
	fp->frac = 32;
}

void mpc_fedavg_data_fini(mpc_fedavg_data *D) {
	if (D->x)
		mpc_wipe(D->x, D->n * D->d * sizeof(double));
	if (D->y)
		mpc_wipe(D->y, D->n);
	free(D->x);
	free(D->y);
	free(D->merchant);
	memset(D, 0, sizeof(*D));
}

mpc_err mpc_fedavg_data_concat(const mpc_fedavg_data *a, int k, mpc_fedavg_data *out) {
	size_t n = 0;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < k; i++) {
		if (a[i].d != a[0].d)
			return mpc_error(MPC_EINVAL, "file %d has %d features, file 0 has %d", i,
			                 a[i].F, a[0].F);
		n += a[i].n;
	}
	out->d = a[0].d;
	out->F = a[0].F;
	out->x = malloc((n * out->d + 1) * sizeof(double));
	out->y = malloc(n + 1);
	out->merchant = malloc((n + 1) * sizeof(int));
	if (!out->x || !out->y || !out->merchant) {
		mpc_fedavg_data_fini(out);
		return mpc_error(MPC_ENOMEM, "out of memory for %zu rows", n);
	}
	for (int i = 0; i < k; i++) {
		memcpy(out->x + out->n * out->d, a[i].x, a[i].n * a[i].d * sizeof(double));
		memcpy(out->y + out->n, a[i].y, a[i].n);
		for (size_t r = 0; r < a[i].n; r++)
			out->merchant[out->n + r] = i;
		out->n += a[i].n;
	}
	return MPC_OK;
}

/* The batch order's public shuffle: splitmix64 streams, the same as
 * jobs/mpc_synth's (seed, purpose 99, index 0), so that a run's models stay
 * what they were when this lived beside the generator. */
static uint64_t shuffle_next(uint64_t *s) {
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t shuffle_stream(uint64_t seed) {
	uint64_t s = seed ^ 0x5851f42d4c957f2dull;
	s = shuffle_next(&s) ^ (99 * 0xd1342543de82ef95ull);
	s = shuffle_next(&s); /* index 0 */
	(void)shuffle_next(&s);
	return s;
}

static double sigmoid(double z) {
	return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

static double score(const double *w, const double *x, size_t d) {
	double z = 0;
	for (size_t k = 0; k < d; k++)
		z += w[k] * x[k];
	return z;
}

size_t mpc_fedavg_nparams(int hidden, size_t d) {
	return hidden > 0 ? (size_t)hidden * (d + 1) + 1 : d;
}

void mpc_fedavg_init(int hidden, size_t d, double *w) {
	size_t P = mpc_fedavg_nparams(hidden, d), H = (size_t)(hidden > 0 ? hidden : 0);
	uint64_t r = shuffle_stream(4242); /* public: the same start everywhere */
	memset(w, 0, P * sizeof(double));
	for (size_t i = 0; i < H * (d + 1); i++) { /* W uniform +-1/sqrt(d), v +-1/sqrt(H) */
		double a = i < H * d ? 1 / sqrt((double)d) : 1 / sqrt((double)H);
		w[i] = a * (2 * ((double)(shuffle_next(&r) >> 11) * 0x1p-53) - 1);
	}
}

/* The MLP's logit for row x, its hidden activations in h (H doubles). */
static double mlp_logit(const double *w, const double *x, size_t d, size_t H, double *h) {
	const double *v = w + H * d;
	double z = v[H];
	for (size_t j = 0; j < H; j++) {
		h[j] = tanh(score(w + j * d, x, d));
		z += v[j] * h[j];
	}
	return z;
}

/* The logit of row x under model w (h: H doubles of scratch). */
static double logit(int hidden, const double *w, const double *x, size_t d, double *h) {
	return hidden > 0 ? mlp_logit(w, x, d, (size_t)hidden, h) : score(w, x, d);
}

/* The gradient of row x's log-loss (error e = sigmoid - y) added into g. */
static void add_grad(int hidden, const double *w, const double *x, size_t d, const double *h,
                     double e, double *g) {
	size_t H = (size_t)(hidden > 0 ? hidden : 0);
	if (H == 0) {
		for (size_t k = 0; k < d; k++)
			g[k] += e * x[k];
		return;
	}
	const double *v = w + H * d;
	for (size_t j = 0; j < H; j++) {
		double back = e * v[j] * (1 - h[j] * h[j]);
		for (size_t k = 0; k < d; k++)
			g[j * d + k] += back * x[k];
		g[H * d + j] += e * h[j];
	}
	g[H * d + H] += e;
}

/* One gradient step on the rows idx[b..end). g: P doubles of scratch, h:
 * the hidden layer's. L2 on every weight but the biases (the intercept;
 * with a hidden layer each unit's weight on the constant input and the
 * output's bias). */
static void train_batch(const mpc_fedavg_data *D, double *w, const mpc_fedavg_params *fp,
                        const size_t *idx, size_t b, size_t end, double *g, double *h) {
	size_t d = D->d, P = mpc_fedavg_nparams(fp->hidden, d), H = (size_t)fp->hidden;
	memset(g, 0, P * sizeof(double));
	for (size_t t = b; t < end; t++) {
		const double *x = D->x + idx[t] * d;
		double e = sigmoid(logit(fp->hidden, w, x, d, h)) - D->y[idx[t]];
		add_grad(fp->hidden, w, x, d, h, e, g);
	}
	for (size_t k = 0; k < P; k++) {
		int bias = fp->hidden > 0 ? (k < H * d && k % d == 0) || k == P - 1 : k == 0;
		w[k] -= fp->lr * (g[k] / (double)(end - b) + (bias ? 0 : fp->l2 * w[k]));
	}
}

mpc_err mpc_fedavg_train(const mpc_fedavg_data *D, double *w, const mpc_fedavg_params *fp,
                         int epochs, uint64_t seed) {
	size_t P = mpc_fedavg_nparams(fp->hidden, D->d), gl = P + (size_t)fp->hidden + 1;
	size_t *idx = malloc((D->n + 1) * sizeof(size_t));
	double *g = malloc(gl * sizeof(double));
	uint64_t r = shuffle_stream(seed);
	if (!idx || !g) {
		free(idx);
		free(g);
		return mpc_error(MPC_ENOMEM, "out of memory training on %zu rows", D->n);
	}
	for (size_t i = 0; i < D->n; i++)
		idx[i] = i;
	for (int e = 0; e < epochs; e++) {
		for (size_t i = D->n; i > 1; i--) {
			size_t j = (size_t)(shuffle_next(&r) % i), t = idx[i - 1];
			idx[i - 1] = idx[j];
			idx[j] = t;
		}
		for (size_t b = 0; b < D->n; b += fp->batch)
			train_batch(D, w, fp, idx, b, b + fp->batch < D->n ? b + fp->batch : D->n,
			            g, g + P);
	}
	mpc_wipe(g, gl * sizeof(double));
	free(idx);
	free(g);
	return MPC_OK;
}

typedef struct {
	double s;
	uint8_t y;
} scored;

static int cmp_scored(const void *a, const void *b) {
	double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
	return (x > y) - (x < y);
}

/* The sum of the positives' ranks among s[0..n) sorted, ties averaged. */
static double positive_ranks(scored *s, size_t n) {
	double ranks = 0;
	qsort(s, n, sizeof(*s), cmp_scored);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j].s == s[i].s)
			j++;
		double rank = (double)(i + j + 1) / 2; /* ranks i+1..j, averaged */
		for (size_t k = i; k < j; k++)
			ranks += s[k].y ? rank : 0;
		i = j;
	}
	return ranks;
}

mpc_fedavg_metrics mpc_fedavg_eval(const mpc_fedavg_data *D, const double *w, int merchant) {
	return mpc_fedavg_eval_model(D, 0, w, merchant);
}

mpc_fedavg_metrics mpc_fedavg_eval_model(const mpc_fedavg_data *D, int hidden, const double *w,
                                         int merchant) {
	mpc_fedavg_metrics m = {NAN, NAN, NAN, 0};
	size_t hl = (size_t)(hidden > 0 ? hidden : 0) + 1; /* the hidden layer's scratch */
	scored *s = malloc((D->n + 1) * sizeof(*s));
	double *h = malloc(hl * sizeof(double));
	double ll = 0, pos = 0;
	size_t n = 0, right = 0;
	if (s == NULL || h == NULL) {
		free(s);
		free(h);
		return m;
	}
	for (size_t i = 0; i < D->n; i++) {
		if (merchant >= 0 && D->merchant[i] != merchant)
			continue;
		double z = logit(hidden, w, D->x + i * D->d, D->d, h);
		/* log(1 + e^z) - y z, stably */
		ll += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - D->y[i] * z;
		right += (z > 0) == (D->y[i] == 1);
		s[n].s = z;
		s[n++].y = D->y[i];
		pos += D->y[i];
	}
	double ranks = positive_ranks(s, n);
	free(s);
	mpc_wipe(h, hl * sizeof(double));
	free(h);
	m.n = (int64_t)n;
	if (n == 0)
		return m;
	m.logloss = ll / (double)n;
	m.accuracy = (double)right / (double)n;
	double neg = (double)n - pos;
	if (pos > 0 && neg > 0)
		m.auc = (ranks - pos * (pos + 1) / 2) / (pos * neg);
	return m;
}

/* One Gaussian N(0, 1) from the party's own (cryptographic) stream. */
static mpc_err gauss(mpc_party *p, double *out) {
	uint64_t u[2];
	mpc_err err = mpc_party_prg_own(p, u, sizeof(u));
	if (err != MPC_OK)
		return err;
	double a = ((double)(u[0] >> 11) + 0.5) * 0x1p-53, b = (double)(u[1] >> 11) * 0x1p-53;
	*out = sqrt(-2 * log(a)) * cos(2 * M_PI * b);
	mpc_wipe(u, sizeof(u));
	return MPC_OK;
}

mpc_err mpc_fedavg_secure_sum(mpc_party *p, unsigned frac, const double *v, double *out, size_t n) {
	return mpc_fedavg_noisy_sum(p, frac, v, 0, out, n, NULL);
}

mpc_err mpc_fedavg_noisy_sum(mpc_party *p, unsigned frac, const double *v, double sigma,
                             double *out, size_t n, int *opening) {
	int N = mpc_party_size(p), me = mpc_party_id(p);
	size_t bytes = n * sizeof(mpc_u128);
	mpc_u128 *enc = calloc(n + 1, sizeof(mpc_u128));
	mpc_u128 *sum = calloc(n + 1, sizeof(mpc_u128));
	mpc_u128 *sh = calloc(n + 1, sizeof(mpc_u128));
	double *sg = sigma > 0 ? malloc((n + 1) * sizeof(double)) : NULL;
	mpc_err err;
	if (!enc || !sum || !sh || (sigma > 0 && !sg)) {
		err = mpc_error(MPC_ENOMEM, "party %d: out of memory", me);
		goto out;
	}
	/* N values below limit / (2N) add up inside the ring */
	if ((err = mpc_fixed_encode(RING, frac, mpc_fixed_limit(RING, frac) / (2.0 * N), v, enc,
	                            n)) != MPC_OK)
		goto out;
	for (int j = 0; j < N; j++) {
		if ((err = mpc_input(p, j, RING, j == me ? enc : NULL, sh, n)) != MPC_OK)
			goto out;
		mpc_share_add(RING, sum, sum, sh, n);
	}
	if (sigma > 0) { /* sh: the noise's shares (the parties' inputs are added) */
		for (size_t i = 0; i < n; i++)
			sg[i] = sigma;
		if ((err = mpc_dp_gauss_units(p, RING, sg, sh, n)) != MPC_OK)
			goto out;
		mpc_share_add(RING, sum, sum, sh, n);
	}
	/* fresh shares of the sum before it is opened (the library's rule for
	 * every output); from here a peer may see it, even if we fail */
	if (opening)
		*opening = 1;
	if ((err = mpc_open_output(p, RING, sum, sum, n)) != MPC_OK)
		goto out;
	mpc_fixed_decode(RING, frac, sum, out, n);
out:
	if (enc)
		mpc_wipe(enc, bytes);
	if (sh)
		mpc_wipe(sh, bytes);
	if (sum)
		mpc_wipe(sum, bytes);
	free(enc);
	free(sum);
	free(sh);
	free(sg);
	return err;
}

/* Everyone must have the same model layout (public: the column count). */
static mpc_err check_layout(mpc_party *p, const mpc_fedavg_data *D) {
	int me = mpc_party_id(p), N = mpc_party_size(p);
	int64_t mine = (int64_t)D->d, theirs[MPC_FEDAVG_MAX_PARTIES];
	mpc_err err;
	if (N > MPC_FEDAVG_MAX_PARTIES)
		return mpc_error(MPC_EINVAL, "fed_avg: at most %d parties", MPC_FEDAVG_MAX_PARTIES);
	if ((err = mpc_party_bcast(p, &mine, theirs, sizeof(mine))) != MPC_OK)
		return err;
	for (int j = 0; j < N; j++)
		if (j != me && theirs[j] != mine)
			return mpc_error(MPC_ECONFIG,
			                 "party %d: %zu model inputs, party %d has "
			                 "%lld: the files' feature columns differ",
			                 me, D->d, j, (long long)theirs[j]);
	return MPC_OK;
}

/* Weighted: open the total of rows (only the total). */
static mpc_err open_total_rows(mpc_party *p, const mpc_fedavg_data *D, int64_t *total) {
	double n = (double)D->n, tot;
	mpc_err err = mpc_fedavg_secure_sum(p, 0, &n, &tot, 1);
	if (err != MPC_OK)
		return err;
	*total = (int64_t)llround(tot);
	if (*total <= 0)
		return mpc_error(MPC_EINVAL, "party %d: no rows at any party", mpc_party_id(p));
	return MPC_OK;
}

/* DP: the update v - w clipped and rounded on the grid (into v), summed
 * with noise made under MPC (into avg), and w moved by the noisy sum / N. */
static mpc_err dp_round(mpc_party *p, const mpc_fedavg_dp *a, mpc_fedavg_trace_fn trace,
                        void *trace_arg, double *w, double *v, double *avg,
                        mpc_fedavg_report *rep) {
	size_t d = a->d;
	int clipped, N = mpc_party_size(p), opening = 0;
	mpc_err err;
	for (size_t k = 0; k < d; k++)
		v[k] -= w[k];
	if ((err = mpc_fedavg_dp_quantize(p, a, v, avg, &clipped)) != MPC_OK)
		return err;
	memcpy(v, avg, d * sizeof(double));
	rep->clipped += clipped;
	if (trace && (err = trace(trace_arg, v, d)) != MPC_OK)
		return err;
	err = mpc_fedavg_noisy_sum(p, 0, v, a->sigma, avg, d, &opening);
	rep->releases += opening; /* counted once it may have reached anyone */
	if (err != MPC_OK)
		return err;
	if (trace && (err = trace(trace_arg, avg, d)) != MPC_OK)
		return err;
	for (size_t k = 0; k < d; k++)
		w[k] += avg[k] * a->gamma / N;
	return MPC_OK;
}

/* One round: train from w on the own rows into v, add noise, share, and
 * replace w by the opened average (DP: dp_round). avg: d doubles of
 * scratch. */
static mpc_err run_round(mpc_party *p, const mpc_fedavg_params *fp, const mpc_fedavg_data *D, int r,
                         mpc_fedavg_trace_fn trace, void *trace_arg, double *w, double *v,
                         double *avg, mpc_fedavg_report *rep) {
	int me = mpc_party_id(p), N = mpc_party_size(p);
	size_t d = mpc_fedavg_nparams(fp->hidden, D->d);
	mpc_err err;
	memcpy(v, w, d * sizeof(double));
	if ((err = mpc_fedavg_train(D, v, fp, fp->epochs, (uint64_t)r * 64 + (uint64_t)me)) !=
	    MPC_OK)
		return err;
	if (fp->dp)
		return dp_round(p, fp->dp, trace, trace_arg, w, v, avg, rep);
	for (size_t k = 0; k < d && fp->noise > 0; k++) {
		double z;
		if ((err = gauss(p, &z)) != MPC_OK)
			return err;
		v[k] += fp->noise * z;
	}
	if (trace && (err = trace(trace_arg, v, d)) != MPC_OK)
		return err;
	for (size_t k = 0; k < d && fp->weighted; k++)
		v[k] *= (double)D->n;
	if ((err = mpc_fedavg_secure_sum(p, fp->frac, v, avg, d)) != MPC_OK)
		return err;
	rep->releases++;
	for (size_t k = 0; k < d; k++)
		w[k] = avg[k] / (fp->weighted ? (double)rep->total_rows : (double)N);
	if (trace && (err = trace(trace_arg, w, d)) != MPC_OK)
		return err;
	return MPC_OK;
}

/* A failure a regroup may mend: a peer timed out, aborted or went away. */
static int peer_failure(mpc_err err) {
	return err == MPC_ETIMEDOUT || err == MPC_EPEER || err == MPC_ECLOSED || err == MPC_ENET;
}

/* After a regroup: every party tells the rounds it completed (*r) and the
 * sums it saw opened; one a round ahead (its last round's opening reached
 * it, not the others) goes back to the model before that round (wprev),
 * and everyone counts the most releases any saw. Then the models must be
 * the same everywhere. scratch: MPC_FEDAVG_MAX_PARTIES * d doubles. */
static mpc_err resync(mpc_party *p, int *r, double *w, const double *wprev, size_t d,
                      mpc_fedavg_report *rep, double *scratch) {
	int N = mpc_party_size(p), me = mpc_party_id(p), lo = *r, hi = *r;
	int64_t mine[2] = {*r, rep->releases}, all[MPC_FEDAVG_MAX_PARTIES][2];
	mpc_err err;
	if ((err = mpc_party_bcast(p, mine, all, sizeof(mine))) != MPC_OK)
		return err;
	for (int j = 0; j < N; j++) {
		if (j == me)
			continue;
		lo = all[j][0] < lo ? (int)all[j][0] : lo;
		hi = all[j][0] > hi ? (int)all[j][0] : hi;
		rep->releases = all[j][1] > rep->releases ? (int)all[j][1] : rep->releases;
	}
	if (hi - lo > 1)
		return mpc_error(MPC_EPROTO, "party %d: the parties left are %d rounds apart", me,
		                 hi - lo);
	if (*r > lo)
		memcpy(w, wprev, d * sizeof(double));
	*r = lo;
	if ((err = mpc_party_bcast(p, w, scratch, d * sizeof(double))) != MPC_OK)
		return err;
	for (int j = 0; j < N; j++)
		if (j != me && memcmp(scratch + (size_t)j * d, w, d * sizeof(double)) != 0)
			return mpc_error(MPC_EPROTO,
			                 "party %d: party %d holds another model after round %d",
			                 me, j, lo);
	mpc_warn("round %d is redone by %d parties from the model every one of them holds", lo + 1,
	         N);
	return MPC_OK;
}

/* The rounds, with regroups after dropouts (mpc_fedavg_params.regroup). */
static mpc_err run_rounds(mpc_party *p, const mpc_fedavg_params *fp, const mpc_fedavg_data *D,
                          mpc_fedavg_trace_fn trace, void *trace_arg, double *w, double *v,
                          double *avg, mpc_fedavg_report *rep) {
	size_t d = mpc_fedavg_nparams(fp->hidden, D->d);
	double *wprev = malloc((d + 1) * sizeof(double)),
	       *before = malloc((d + 1) * sizeof(double));
	double *scratch =
	    fp->regroup ? malloc(MPC_FEDAVG_MAX_PARTIES * d * sizeof(double) + 1) : NULL;
	int regroups = 0;
	mpc_err err = MPC_OK;
	if (wprev == NULL || before == NULL || (fp->regroup && scratch == NULL)) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(wprev, w, d * sizeof(double));
	for (int r = 0; r < fp->rounds;) {
		if (fp->dp && rep->releases >= fp->dp->releases) {
			err =
			    mpc_error(MPC_EREFUSED,
			              "party %d: the budget's %d releases are spent with %d rounds "
			              "left: no more sums are opened",
			              mpc_party_id(p), fp->dp->releases, fp->rounds - r);
			break;
		}
		memcpy(before, w, d * sizeof(double));
		err = run_round(p, fp, D, r, trace, trace_arg, w, v, avg, rep);
		if (err == MPC_OK) { /* wprev: the model before the last round done */
			memcpy(wprev, before, d * sizeof(double));
			r++;
			continue;
		}
		/* meet again, also when a peer fails while the parties agree */
		for (int again = fp->regroup != NULL; again;) {
			if (!peer_failure(err) || ++regroups > fp->rounds + MPC_FEDAVG_MAX_PARTIES)
				break;
			mpc_warn("round %d failed: %s", r + 1, mpc_error_detail());
			if ((err = fp->regroup(fp->regroup_arg, &p)) != MPC_OK)
				break;
			err = resync(p, &r, w, wprev, d, rep, scratch);
			if (err == MPC_OK && fp->weighted)
				err = open_total_rows(p, D, &rep->total_rows);
			again = err != MPC_OK;
		}
		if (err != MPC_OK)
			break;
		rep->redone++;
	}
	rep->parties = p ? mpc_party_size(p) : 0;
out:
	free(wprev);
	free(before);
	free(scratch);
	return err;
}

mpc_err mpc_fedavg_run(mpc_party *p, const mpc_fedavg_params *fp, const mpc_fedavg_data *D,
                       const mpc_fedavg_data *H, mpc_fedavg_trace_fn trace, void *trace_arg,
                       double *w, mpc_fedavg_report *rep) {
	int me = mpc_party_id(p);
	size_t d = mpc_fedavg_nparams(fp->hidden, D->d);
	double *wl = NULL, *v = NULL, *avg = NULL;
	mpc_err err;

	memset(rep, 0, sizeof(*rep));
	if (H && H->d != D->d)
		return mpc_error(MPC_ECONFIG, "party %d: %d features, the held-out rows %d", me,
		                 D->F, H->F);
	if (fp->dp && (fp->weighted || fp->noise > 0 || fp->dp->d != d))
		return mpc_error(MPC_EINVAL,
		                 "party %d: DP-FedAvg takes unweighted averaging without local "
		                 "noise, for %zu coordinates (accounted for %zu)",
		                 me, d, fp->dp->d);
	if ((err = check_layout(p, D)) != MPC_OK)
		return err;
	rep->d = (int64_t)d;
	rep->rows = (int64_t)D->n;
	for (size_t i = 0; i < D->n; i++)
		rep->frauds += D->y[i];
	mpc_fedavg_init(fp->hidden, D->d, w);
	wl = calloc(d + 1, sizeof(double));
	v = calloc(d + 1, sizeof(double));
	avg = calloc(d + 1, sizeof(double));
	if (!wl || !v || !avg) {
		err = mpc_error(MPC_ENOMEM, "party %d: out of memory", me);
		goto out;
	}
	if (fp->weighted && (err = open_total_rows(p, D, &rep->total_rows)) != MPC_OK)
		goto out;
	/* the local-only model: the same training budget, own rows only */
	mpc_fedavg_init(fp->hidden, D->d, wl);
	if ((err = mpc_fedavg_train(D, wl, fp, fp->rounds * fp->epochs, 1000 + (uint64_t)me)) !=
	    MPC_OK)
		goto out;
	if ((err = run_rounds(p, fp, D, trace, trace_arg, w, v, avg, rep)) != MPC_OK)
		goto out;
	if (H) {
		rep->local_all = mpc_fedavg_eval_model(H, fp->hidden, wl, -1);
		rep->shared_all = mpc_fedavg_eval_model(H, fp->hidden, w, -1);
		rep->local_own = mpc_fedavg_eval_model(H, fp->hidden, wl, me);
		rep->shared_own = mpc_fedavg_eval_model(H, fp->hidden, w, me);
	}
out:
	if (v)
		mpc_wipe(v, d * sizeof(double));
	if (avg) /* DP: it held the clipped update until the noisy sum */
		mpc_wipe(avg, d * sizeof(double));
	if (wl)
		mpc_wipe(wl, d * sizeof(double));
	free(wl);
	free(v);
	free(avg);
	return err;
}
