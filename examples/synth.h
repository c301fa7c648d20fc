/* synth.h: the synthetic merchant-transaction model behind gen_data, shared
 * (header-only, every function static) by gen_data, fed_avg and the tests
 * that make their own data.
 *
 * The model. A hidden weight vector w (one weight per numeric feature f0..),
 * category risks and an intercept, all drawn from --seed, define one
 * logistic pattern for every merchant:
 *   P(fraud | row) = sigmoid(bias + w.x + risk[category]
 *                            + W_AMOUNT * (ln amount - 4) / 1.5 + W_NIGHT * [hour < 6])
 * Merchants share that pattern but not their customers (covariate shift):
 * each has its own category mix, share of night-time sales, spending level,
 * and per-feature mean and spread; on about a third of the features its
 * customers barely vary (spread 0.15), so that merchant alone cannot learn
 * those weights, and its base fraud rate follows from its mix. Card ids come
 * from one pool shared by every merchant (a few cards shop a lot), and
 * transaction ids are unique over everything one run writes, except the
 * --overlap rows, which are the same transaction (same key, same record) in
 * every merchant's file: a join key for the vertical setting.
 *
 * Randomness: splitmix64 streams derived from the seed, one per purpose and
 * merchant: the hidden pattern and a merchant's customers depend only on the
 * seed and --features, and a merchant's rows do not depend on the other
 * merchants (its first k rows are the same for any --rows, but for the card
 * and transaction ids, which depend on the pool size and on the row counts). */
#ifndef SYNTH_H
#define SYNTH_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYNTH_MAX_MERCHANTS 64
#define SYNTH_MAX_FEATURES 1024
#define SYNTH_N_CATS 6
/* mpc_csv (aggregate_stats, mpc-party) reads at most 64 columns: 6 + F in a
 * merchant's file, 7 + F in the held-out file */
#define SYNTH_CSV_FEATURES_OK 57
#define SYNTH_W_AMOUNT 0.8
#define SYNTH_W_NIGHT 1.2
#define SYNTH_SIGNAL 2.5 /* |w|: the logit's spread from features of unit spread */
/* every includer uses a different part */
#define SYNTH_FN static __attribute__((unused))

typedef struct {
	uint64_t s;
} synth_rng;

SYNTH_FN uint64_t synth_next(synth_rng *r) /* splitmix64 */
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A stream for (seed, purpose, index). */
SYNTH_FN synth_rng synth_stream(uint64_t seed, uint64_t purpose, uint64_t index)
{
	synth_rng r = {seed ^ 0x5851f42d4c957f2dull};
	r.s = synth_next(&r) ^ (purpose * 0xd1342543de82ef95ull);
	r.s = synth_next(&r) ^ (index * 0x2545f4914f6cdd1dull);
	(void)synth_next(&r);
	return r;
}

SYNTH_FN double synth_uniform(synth_rng *r) { return (double)(synth_next(r) >> 11) * 0x1p-53; }

SYNTH_FN double synth_normal(synth_rng *r)
{
	double u = synth_uniform(r), v = synth_uniform(r);
	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

SYNTH_FN double synth_sigmoid(double z) { return 1 / (1 + exp(-z)); }

static const struct {
	const char *name;
	double weight, log_mean, risk;
} synth_cats[SYNTH_N_CATS] = {
	{"grocery", 0.35, 3.2, -0.9},    {"fuel", 0.15, 3.8, -0.4},
	{"restaurant", 0.20, 3.5, -0.6}, {"electronics", 0.10, 5.5, 0.8},
	{"travel", 0.08, 6.0, 0.5},      {"online", 0.12, 4.2, 1.1},
};

/* What gen_data writes. */
typedef struct {
	int merchants;      /* 1..SYNTH_MAX_MERCHANTS */
	long rows;          /* per merchant, plus 0..20% more (each merchant its own) */
	int features;       /* numeric columns f0..f(F-1), 0..SYNTH_MAX_FEATURES */
	long holdout;       /* rows of DIR/holdout.csv (0: none) */
	double overlap;     /* fraction of rows that are the same transactions in every file */
	long cards;         /* card pool (0: merchants*rows/4, at least 1) */
	unsigned long long seed;
	int verbose;        /* a line per file on stdout */
} synth_params;

SYNTH_FN void synth_params_default(synth_params *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->merchants = 3;
	sp->rows = 1000;
	sp->features = 8;
	sp->seed = 1;
}

/* The hidden pattern and every merchant's customers. */
typedef struct {
	int F;
	double bias;
	double *w;                         /* F */
	double mix[SYNTH_MAX_MERCHANTS][SYNTH_N_CATS];
	double night[SYNTH_MAX_MERCHANTS]; /* share of sales at 0..5 h */
	double spend[SYNTH_MAX_MERCHANTS]; /* shift of ln amount */
	double *mu, *sd;                   /* merchants x F */
} synth_world;

SYNTH_FN void synth_world_fini(synth_world *wd)
{
	free(wd->w);
	free(wd->mu);
	free(wd->sd);
	memset(wd, 0, sizeof(*wd));
}

/* -1 if out of memory. */
SYNTH_FN int synth_world_init(synth_world *wd, const synth_params *sp)
{
	int F = sp->features, M = sp->merchants;
	memset(wd, 0, sizeof(*wd));
	wd->F = F;
	wd->w = calloc((size_t)F + 1, sizeof(double));
	wd->mu = calloc((size_t)M * (size_t)F + 1, sizeof(double));
	wd->sd = calloc((size_t)M * (size_t)F + 1, sizeof(double));
	if (!wd->w || !wd->mu || !wd->sd) {
		synth_world_fini(wd);
		return -1;
	}
	/* w: a random direction of length SYNTH_SIGNAL; a quarter of the
	 * features carry no signal at all */
	synth_rng r = synth_stream(sp->seed, 1, 0);
	double norm = 0;
	for (int j = 0; j < F; j++) {
		double g = synth_normal(&r);
		wd->w[j] = synth_uniform(&r) < 0.25 ? 0 : g;
		norm += wd->w[j] * wd->w[j];
	}
	for (int j = 0; j < F && norm > 0; j++)
		wd->w[j] *= SYNTH_SIGNAL / sqrt(norm);
	wd->bias = -4.0;
	for (int m = 0; m < M; m++) {
		synth_rng q = synth_stream(sp->seed, 2, (uint64_t)m);
		double tot = 0;
		for (int c = 0; c < SYNTH_N_CATS; c++) {
			/* each merchant leans to one category (m mod 6) */
			double x = synth_cats[c].weight * exp(0.7 * synth_normal(&q)) *
				   (c == m % SYNTH_N_CATS ? 3 : 1);
			wd->mix[m][c] = x;
			tot += x;
		}
		for (int c = 0; c < SYNTH_N_CATS; c++)
			wd->mix[m][c] /= tot;
		wd->night[m] = 0.03 + 0.2 * synth_uniform(&q);
		wd->spend[m] = 0.1 * m;
		for (int j = 0; j < F; j++) {
			double *mu = &wd->mu[(size_t)m * (size_t)F + (size_t)j];
			double *sd = &wd->sd[(size_t)m * (size_t)F + (size_t)j];
			*mu = 0.35 * synth_normal(&q);
			*sd = synth_uniform(&q) < 0.35 ? 0.15 : 0.8 + 0.4 * synth_uniform(&q);
		}
		/* the means' effect on the logit, w.mu, set to a shift in
		 * [-0.7, 0.7]: base fraud rates differ, within bounds */
		double *mu = &wd->mu[(size_t)m * (size_t)F], dot = 0;
		double shift = 1.4 * synth_uniform(&q) - 0.7;
		for (int j = 0; j < F; j++)
			dot += wd->w[j] * mu[j];
		for (int j = 0; j < F && norm > 0; j++)
			mu[j] += (shift - dot) * wd->w[j] / (SYNTH_SIGNAL * SYNTH_SIGNAL);
	}
	return 0;
}

typedef struct {
	double amount;
	int fraud, category, hour;
	uint64_t card;
	double *x; /* F */
} synth_row;

/* 48-bit transaction ids and 40-bit card ids that look random: odd
 * multipliers and xor-shifts mod 2^k are bijections, so distinct indices
 * give distinct ids. */
SYNTH_FN uint64_t synth_permute(uint64_t x, unsigned bits, uint64_t key)
{
	uint64_t mask = (1ull << bits) - 1;
	x = (x ^ key) & mask;
	x = (x * 0x9e3779b97f4a7c15ull) & mask;
	x ^= x >> (bits / 2);
	x = (x * 0xbf58476d1ce4e5b9ull) & mask;
	x ^= x >> (bits / 3);
	return x;
}

SYNTH_FN uint64_t synth_txn_id(uint64_t seed, uint64_t g)
{
	return synth_permute(g, 48, seed * 0xd1342543de82ef95ull);
}

SYNTH_FN uint64_t synth_card_id(uint64_t seed, uint64_t k)
{
	return synth_permute(k, 40, seed * 0x2545f4914f6cdd1dull);
}

/* One transaction of merchant m's customers. */
SYNTH_FN void synth_draw(const synth_world *wd, int m, long cards, synth_rng *r, synth_row *row)
{
	double u = synth_uniform(r), acc = 0;
	int c = 0;
	for (; c + 1 < SYNTH_N_CATS; c++)
		if (u < (acc += wd->mix[m][c]))
			break;
	row->category = c;
	double amount = exp(synth_cats[c].log_mean + wd->spend[m] + 0.9 * synth_normal(r));
	row->amount = fmin(20000, fmax(0.5, amount));
	row->amount = round(row->amount * 100) / 100; /* what the file says */
	if (synth_uniform(r) < wd->night[m])
		row->hour = (int)(synth_uniform(r) * 6);
	else {
		double h = 14 + 4 * synth_normal(r);
		row->hour = h < 6 ? 6 : h > 23 ? 23 : (int)h;
	}
	/* a few cards shop a lot: index = pool * u^2 */
	double v = synth_uniform(r);
	row->card = (uint64_t)((double)cards * v * v);
	if (row->card >= (uint64_t)cards)
		row->card = (uint64_t)cards - 1;
	double z = wd->bias + synth_cats[c].risk +
		   SYNTH_W_AMOUNT * (log(row->amount) - 4) / 1.5 + SYNTH_W_NIGHT * (row->hour < 6);
	for (int j = 0; j < wd->F; j++) {
		size_t k = (size_t)m * (size_t)wd->F + (size_t)j;
		row->x[j] = wd->mu[k] + wd->sd[k] * synth_normal(r);
		row->x[j] = round(row->x[j] * 1e4) / 1e4;
		z += wd->w[j] * row->x[j];
	}
	row->fraud = synth_uniform(r) < synth_sigmoid(z);
}

SYNTH_FN void synth_header(FILE *fp, int F, int with_merchant)
{
	fprintf(fp, "amount,fraud,category,txn_id,card_id,hour");
	for (int j = 0; j < F; j++)
		fprintf(fp, ",f%d", j);
	fprintf(fp, with_merchant ? ",merchant\n" : "\n");
}

SYNTH_FN void synth_put(FILE *fp, const synth_params *sp, const synth_row *row, uint64_t g,
		      int merchant)
{
	fprintf(fp, "%.2f,%d,%s,%llu,%llu,%d", row->amount, row->fraud,
		synth_cats[row->category].name,
		(unsigned long long)synth_txn_id(sp->seed, g),
		(unsigned long long)synth_card_id(sp->seed, row->card), row->hour);
	for (int j = 0; j < sp->features; j++)
		fprintf(fp, ",%.4f", row->x[j]);
	if (merchant >= 0)
		fprintf(fp, ",%d", merchant);
	fputc('\n', fp);
}

SYNTH_FN FILE *synth_open(const char *path, char *tmp, size_t tmp_len)
{
	snprintf(tmp, tmp_len, "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	if (fp == NULL)
		fprintf(stderr, "gen_data: %s: %s\n", tmp, strerror(errno));
	return fp;
}

SYNTH_FN int synth_close(FILE *fp, const char *tmp, const char *path)
{
	int bad = ferror(fp);
	if (fclose(fp) != 0 || bad || rename(tmp, path) != 0) {
		fprintf(stderr, "gen_data: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Write DIR/merchant0.csv ... (and DIR/holdout.csv if sp->holdout > 0),
 * each atomically; DIR is made if missing. 0, or -1 with a message on stderr. */
SYNTH_FN int synth_write(const synth_params *sp, const char *dir)
{
	synth_world wd;
	synth_row row = {0}, *common = NULL;
	long rows[SYNTH_MAX_MERCHANTS], n_common = 0;
	long cards = sp->cards > 0 ? sp->cards : sp->merchants * sp->rows / 4;
	char path[4200], tmp[4300];
	uint64_t g = 0;
	int rc = -1;

	if (sp->merchants < 1 || sp->merchants > SYNTH_MAX_MERCHANTS || sp->rows < 0 ||
	    sp->features < 0 || sp->features > SYNTH_MAX_FEATURES || sp->holdout < 0 ||
	    !(sp->overlap >= 0 && sp->overlap <= 1) || strlen(dir) > 4000) {
		fprintf(stderr, "gen_data: bad parameters (see --help)\n");
		return -1;
	}
	if (cards < 1)
		cards = 1;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "gen_data: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (synth_world_init(&wd, sp) != 0 ||
	    (row.x = calloc((size_t)sp->features + 1, sizeof(double))) == NULL) {
		fprintf(stderr, "gen_data: out of memory\n");
		goto out;
	}
	for (int m = 0; m < sp->merchants; m++) {
		synth_rng q = synth_stream(sp->seed, 3, (uint64_t)m);
		rows[m] = sp->rows + (long)(synth_next(&q) % (uint64_t)(sp->rows / 5 + 1));
	}
	/* the shared transactions, drawn from random merchants' customers */
	n_common = (long)llround(sp->overlap * (double)sp->rows);
	if (n_common > 0) {
		common = calloc((size_t)n_common, sizeof(*common));
		if (common == NULL) {
			fprintf(stderr, "gen_data: out of memory\n");
			goto out;
		}
		synth_rng q = synth_stream(sp->seed, 4, 0);
		for (long k = 0; k < n_common; k++) {
			if ((common[k].x = calloc((size_t)sp->features + 1, sizeof(double))) ==
			    NULL) {
				fprintf(stderr, "gen_data: out of memory\n");
				goto out;
			}
			synth_draw(&wd, (int)(synth_next(&q) % (uint64_t)sp->merchants), cards, &q,
				   &common[k]);
		}
	}
	uint64_t g_common = 0;
	for (int m = 0; m < sp->merchants; m++)
		g_common += (uint64_t)rows[m];
	for (int m = 0; m < sp->merchants; m++) {
		synth_rng r = synth_stream(sp->seed, 5, (uint64_t)m);
		synth_rng pick = synth_stream(sp->seed, 6, (uint64_t)m);
		long own = rows[m], shared = n_common, frauds = 0;
		snprintf(path, sizeof(path), "%s/merchant%d.csv", dir, m);
		FILE *fp = synth_open(path, tmp, sizeof(tmp));
		if (fp == NULL)
			goto out;
		synth_header(fp, sp->features, 0);
		while (own + shared > 0) {
			/* the shared rows at random places among the merchant's own */
			if (synth_uniform(&pick) * (double)(own + shared) < (double)shared) {
				long k = n_common - shared--;
				synth_put(fp, sp, &common[k], g_common + (uint64_t)k, -1);
				frauds += common[k].fraud;
			} else {
				own--;
				synth_draw(&wd, m, cards, &r, &row);
				synth_put(fp, sp, &row, g++, -1);
				frauds += row.fraud;
			}
		}
		if (synth_close(fp, tmp, path) != 0)
			goto out;
		if (sp->verbose)
			printf("%s: %ld rows, fraud rate %.4f\n", path, rows[m] + n_common,
			       (double)frauds / (double)(rows[m] + n_common > 0 ? rows[m] + n_common : 1));
	}
	if (sp->holdout > 0) {
		/* the whole network's next transactions: each row from a random
		 * merchant's customers; the merchant column says whose */
		synth_rng r = synth_stream(sp->seed, 7, 0);
		long frauds = 0;
		g = g_common + (uint64_t)n_common;
		snprintf(path, sizeof(path), "%s/holdout.csv", dir);
		FILE *fp = synth_open(path, tmp, sizeof(tmp));
		if (fp == NULL)
			goto out;
		synth_header(fp, sp->features, 1);
		for (long i = 0; i < sp->holdout; i++) {
			int m = (int)(synth_next(&r) % (uint64_t)sp->merchants);
			synth_draw(&wd, m, cards, &r, &row);
			synth_put(fp, sp, &row, g++, m);
			frauds += row.fraud;
		}
		if (synth_close(fp, tmp, path) != 0)
			goto out;
		if (sp->verbose)
			printf("%s: %ld rows, fraud rate %.4f\n", path, sp->holdout,
			       (double)frauds / (double)sp->holdout);
	}
	rc = 0;
out:
	if (common)
		for (long k = 0; k < n_common; k++)
			free(common[k].x);
	free(common);
	free(row.x);
	synth_world_fini(&wd);
	return rc;
}

#endif
