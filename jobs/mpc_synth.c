/* The synthetic transaction generator (the model: jobs/mpc_synth.h). Every
 * draw is in a fixed order: changing the order of any call here changes the
 * files, and with them the demo's and the tests' figures. */
#include "jobs/mpc_synth.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define W_AMOUNT 0.8
#define W_NIGHT  1.2
#define SIGNAL   2.5 /* |w|: the logit's spread from features of unit spread */

typedef struct {
	uint64_t s;
} rng;

static uint64_t next(rng *r) /* splitmix64 */
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A stream for (seed, purpose, index). */
static rng stream(uint64_t seed, uint64_t purpose, uint64_t index) {
	rng r = {seed ^ 0x5851f42d4c957f2dull};
	r.s = next(&r) ^ (purpose * 0xd1342543de82ef95ull);
	r.s = next(&r) ^ (index * 0x2545f4914f6cdd1dull);
	(void)next(&r);
	return r;
}

static double uniform(rng *r) {
	return (double)(next(r) >> 11) * 0x1p-53;
}

static double normal(rng *r) {
	double u = uniform(r), v = uniform(r);
	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static double sigmoid(double z) {
	return 1 / (1 + exp(-z));
}

static const struct {
	const char *name;
	double weight, log_mean, risk;
} cats[MPC_SYNTH_N_CATS] = {
    {"grocery", 0.35, 3.2, -0.9},    {"fuel", 0.15, 3.8, -0.4},  {"restaurant", 0.20, 3.5, -0.6},
    {"electronics", 0.10, 5.5, 0.8}, {"travel", 0.08, 6.0, 0.5}, {"online", 0.12, 4.2, 1.1},
};

const char *mpc_synth_category(int c) {
	return c >= 0 && c < MPC_SYNTH_N_CATS ? cats[c].name : "";
}

void mpc_synth_params_default(mpc_synth_params *sp) {
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
	double *w; /* F */
	double mix[MPC_SYNTH_MAX_MERCHANTS][MPC_SYNTH_N_CATS];
	double night[MPC_SYNTH_MAX_MERCHANTS]; /* share of sales at 0..5 h */
	double spend[MPC_SYNTH_MAX_MERCHANTS]; /* shift of ln amount */
	double *mu, *sd;                       /* merchants x F */
} world;

static void world_fini(world *wd) {
	free(wd->w);
	free(wd->mu);
	free(wd->sd);
	memset(wd, 0, sizeof(*wd));
}

/* w: a random direction of length SIGNAL; a quarter of the features carry
 * no signal at all. Returns |w| before scaling (0: no signal). */
static double draw_pattern(world *wd, uint64_t seed) {
	rng r = stream(seed, 1, 0);
	double norm = 0;
	for (int j = 0; j < wd->F; j++) {
		double g = normal(&r);
		wd->w[j] = uniform(&r) < 0.25 ? 0 : g;
		norm += wd->w[j] * wd->w[j];
	}
	for (int j = 0; j < wd->F && norm > 0; j++)
		wd->w[j] *= SIGNAL / sqrt(norm);
	wd->bias = -4.0;
	return norm;
}

/* Merchant m's customers: category mix, night share, spending, features. */
static void draw_customers(world *wd, uint64_t seed, int m, double norm) {
	int F = wd->F;
	rng q = stream(seed, 2, (uint64_t)m);
	double tot = 0;
	for (int c = 0; c < MPC_SYNTH_N_CATS; c++) {
		/* each merchant leans to one category (m mod 6) */
		double x =
		    cats[c].weight * exp(0.7 * normal(&q)) * (c == m % MPC_SYNTH_N_CATS ? 3 : 1);
		wd->mix[m][c] = x;
		tot += x;
	}
	for (int c = 0; c < MPC_SYNTH_N_CATS; c++)
		wd->mix[m][c] /= tot;
	wd->night[m] = 0.03 + 0.2 * uniform(&q);
	wd->spend[m] = 0.1 * m;
	for (int j = 0; j < F; j++) {
		double *mu = &wd->mu[(size_t)m * (size_t)F + (size_t)j];
		double *sd = &wd->sd[(size_t)m * (size_t)F + (size_t)j];
		*mu = 0.35 * normal(&q);
		*sd = uniform(&q) < 0.35 ? 0.15 : 0.8 + 0.4 * uniform(&q);
	}
	/* the means' effect on the logit, w.mu, set to a shift in [-0.7, 0.7]:
	 * base fraud rates differ, within bounds */
	double *mu = &wd->mu[(size_t)m * (size_t)F], dot = 0;
	double shift = 1.4 * uniform(&q) - 0.7;
	for (int j = 0; j < F; j++)
		dot += wd->w[j] * mu[j];
	for (int j = 0; j < F && norm > 0; j++)
		mu[j] += (shift - dot) * wd->w[j] / (SIGNAL * SIGNAL);
}

static mpc_err world_init(world *wd, const mpc_synth_params *sp) {
	int F = sp->features, M = sp->merchants;
	memset(wd, 0, sizeof(*wd));
	wd->F = F;
	wd->w = calloc((size_t)F + 1, sizeof(double));
	wd->mu = calloc((size_t)M * (size_t)F + 1, sizeof(double));
	wd->sd = calloc((size_t)M * (size_t)F + 1, sizeof(double));
	if (!wd->w || !wd->mu || !wd->sd) {
		world_fini(wd);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	double norm = draw_pattern(wd, sp->seed);
	for (int m = 0; m < M; m++)
		draw_customers(wd, sp->seed, m, norm);
	return MPC_OK;
}

typedef struct {
	double amount;
	int fraud, category, hour;
	uint64_t card;
	double *x; /* F */
} row;

/* 48-bit transaction ids and 40-bit card ids that look random: odd
 * multipliers and xor-shifts mod 2^k are bijections, so distinct indices
 * give distinct ids. */
static uint64_t permute(uint64_t x, unsigned bits, uint64_t key) {
	uint64_t mask = (1ull << bits) - 1;
	x = (x ^ key) & mask;
	x = (x * 0x9e3779b97f4a7c15ull) & mask;
	x ^= x >> (bits / 2);
	x = (x * 0xbf58476d1ce4e5b9ull) & mask;
	x ^= x >> (bits / 3);
	return x;
}

static uint64_t txn_id(uint64_t seed, uint64_t g) {
	return permute(g, 48, seed * 0xd1342543de82ef95ull);
}

static uint64_t card_id(uint64_t seed, uint64_t k) {
	return permute(k, 40, seed * 0x2545f4914f6cdd1dull);
}

/* One transaction of merchant m's customers. */
static void draw(const world *wd, int m, long n_cards, rng *r, row *rw) {
	double u = uniform(r), acc = 0;
	int c = 0;
	for (; c + 1 < MPC_SYNTH_N_CATS; c++)
		if (u < (acc += wd->mix[m][c]))
			break;
	rw->category = c;
	double amount = exp(cats[c].log_mean + wd->spend[m] + 0.9 * normal(r));
	rw->amount = fmin(20000, fmax(0.5, amount));
	rw->amount = round(rw->amount * 100) / 100; /* what the file says */
	if (uniform(r) < wd->night[m])
		rw->hour = (int)(uniform(r) * 6);
	else {
		double h = 14 + 4 * normal(r);
		rw->hour = h < 6 ? 6 : h > 23 ? 23 : (int)h;
	}
	/* a few cards shop a lot: index = pool * u^2 */
	double v = uniform(r);
	rw->card = (uint64_t)((double)n_cards * v * v);
	if (rw->card >= (uint64_t)n_cards)
		rw->card = (uint64_t)n_cards - 1;
	double z = wd->bias + cats[c].risk + W_AMOUNT * (log(rw->amount) - 4) / 1.5 +
	           W_NIGHT * (rw->hour < 6);
	for (int j = 0; j < wd->F; j++) {
		size_t k = (size_t)m * (size_t)wd->F + (size_t)j;
		rw->x[j] = wd->mu[k] + wd->sd[k] * normal(r);
		rw->x[j] = round(rw->x[j] * 1e4) / 1e4;
		z += wd->w[j] * rw->x[j];
	}
	rw->fraud = uniform(r) < sigmoid(z);
}

static void put_header(FILE *fp, int F, int with_merchant) {
	fprintf(fp, "amount,fraud,category,txn_id,card_id,hour");
	for (int j = 0; j < F; j++)
		fprintf(fp, ",f%d", j);
	fprintf(fp, with_merchant ? ",merchant\n" : "\n");
}

static void put_row(FILE *fp, const mpc_synth_params *sp, const row *rw, uint64_t g, int merchant) {
	fprintf(fp, "%.2f,%d,%s,%llu,%llu,%d", rw->amount, rw->fraud, cats[rw->category].name,
	        (unsigned long long)txn_id(sp->seed, g),
	        (unsigned long long)card_id(sp->seed, rw->card), rw->hour);
	for (int j = 0; j < sp->features; j++)
		fprintf(fp, ",%.4f", rw->x[j]);
	if (merchant >= 0)
		fprintf(fp, ",%d", merchant);
	fputc('\n', fp);
}

/* One output file, written to PATH.tmp and renamed into place on close. */
typedef struct {
	FILE *fp;
	char path[4200], tmp[4300];
	long rows, frauds;
} out_file;

static mpc_err file_open(out_file *f, const char *dir, const char *name) {
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", f->path);
	if ((f->fp = fopen(f->tmp, "w")) == NULL)
		return mpc_error(MPC_EIO, "%s: %s", f->tmp, strerror(errno));
	return MPC_OK;
}

static mpc_err file_close(out_file *f, const mpc_synth_params *sp) {
	int bad = ferror(f->fp);
	if (fclose(f->fp) != 0 || bad || rename(f->tmp, f->path) != 0) {
		mpc_err err = mpc_error(MPC_EIO, "cannot write %s: %s", f->path, strerror(errno));
		unlink(f->tmp);
		return err;
	}
	if (sp->log)
		fprintf(sp->log, "%s: %ld rows, fraud rate %.4f\n", f->path, f->rows,
		        (double)f->frauds / (double)(f->rows > 0 ? f->rows : 1));
	return MPC_OK;
}

/* What one run writes: the world, the row counts, the shared rows. */
typedef struct {
	const mpc_synth_params *sp;
	world wd;
	long cards;
	long rows[MPC_SYNTH_MAX_MERCHANTS];
	row *common; /* the overlap rows, n_common */
	long n_common;
	uint64_t g_common; /* the first transaction index of the shared rows */
	row scratch;
} run;

static void run_fini(run *ru) {
	if (ru->common)
		for (long k = 0; k < ru->n_common; k++)
			free(ru->common[k].x);
	free(ru->common);
	free(ru->scratch.x);
	world_fini(&ru->wd);
}

/* The shared transactions, drawn from random merchants' customers. */
static mpc_err draw_common(run *ru) {
	const mpc_synth_params *sp = ru->sp;
	ru->n_common = (long)llround(sp->overlap * (double)sp->rows);
	if (ru->n_common <= 0)
		return MPC_OK;
	if ((ru->common = calloc((size_t)ru->n_common, sizeof(*ru->common))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	rng q = stream(sp->seed, 4, 0);
	for (long k = 0; k < ru->n_common; k++) {
		if ((ru->common[k].x = calloc((size_t)sp->features + 1, sizeof(double))) == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
		draw(&ru->wd, (int)(next(&q) % (uint64_t)sp->merchants), ru->cards, &q,
		     &ru->common[k]);
	}
	return MPC_OK;
}

/* DIR/merchant<m>.csv: its own rows, with the shared rows at random places
 * among them. *g is the next own transaction index. */
static mpc_err write_merchant(run *ru, const char *dir, int m, uint64_t *g) {
	const mpc_synth_params *sp = ru->sp;
	rng r = stream(sp->seed, 5, (uint64_t)m);
	rng pick = stream(sp->seed, 6, (uint64_t)m);
	long own = ru->rows[m], shared = ru->n_common;
	char name[32];
	out_file f;
	mpc_err err;

	snprintf(name, sizeof(name), "merchant%d.csv", m);
	if ((err = file_open(&f, dir, name)) != MPC_OK)
		return err;
	put_header(f.fp, sp->features, 0);
	while (own + shared > 0) {
		const row *rw;
		if (uniform(&pick) * (double)(own + shared) < (double)shared) {
			long k = ru->n_common - shared--;
			rw = &ru->common[k];
			put_row(f.fp, sp, rw, ru->g_common + (uint64_t)k, -1);
		} else {
			own--;
			draw(&ru->wd, m, ru->cards, &r, &ru->scratch);
			rw = &ru->scratch;
			put_row(f.fp, sp, rw, (*g)++, -1);
		}
		f.frauds += rw->fraud;
	}
	f.rows = ru->rows[m] + ru->n_common;
	return file_close(&f, sp);
}

/* DIR/holdout.csv: the whole network's next transactions, each row from a
 * random merchant's customers; the merchant column says whose. */
static mpc_err write_holdout(run *ru, const char *dir) {
	const mpc_synth_params *sp = ru->sp;
	rng r = stream(sp->seed, 7, 0);
	uint64_t g = ru->g_common + (uint64_t)ru->n_common;
	out_file f;
	mpc_err err;

	if ((err = file_open(&f, dir, "holdout.csv")) != MPC_OK)
		return err;
	put_header(f.fp, sp->features, 1);
	for (long i = 0; i < sp->holdout; i++) {
		int m = (int)(next(&r) % (uint64_t)sp->merchants);
		draw(&ru->wd, m, ru->cards, &r, &ru->scratch);
		put_row(f.fp, sp, &ru->scratch, g++, m);
		f.frauds += ru->scratch.fraud;
	}
	f.rows = sp->holdout;
	return file_close(&f, sp);
}

static int params_ok(const mpc_synth_params *sp, const char *dir) {
	return sp->merchants >= 1 && sp->merchants <= MPC_SYNTH_MAX_MERCHANTS && sp->rows >= 0 &&
	       sp->features >= 0 && sp->features <= MPC_SYNTH_MAX_FEATURES && sp->holdout >= 0 &&
	       sp->overlap >= 0 && sp->overlap <= 1 && strlen(dir) <= 4000;
}

mpc_err mpc_synth_write(const mpc_synth_params *sp, const char *dir) {
	run ru;
	uint64_t g = 0;
	mpc_err err;

	memset(&ru, 0, sizeof(ru));
	ru.sp = sp;
	if (!params_ok(sp, dir))
		return mpc_error(MPC_EINVAL, "bad parameters (see --help)");
	ru.cards = sp->cards > 0 ? sp->cards : sp->merchants * sp->rows / 4;
	if (ru.cards < 1)
		ru.cards = 1;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return mpc_error(MPC_EIO, "%s: %s", dir, strerror(errno));
	if ((err = world_init(&ru.wd, sp)) != MPC_OK)
		goto out;
	if ((ru.scratch.x = calloc((size_t)sp->features + 1, sizeof(double))) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (int m = 0; m < sp->merchants; m++) {
		rng q = stream(sp->seed, 3, (uint64_t)m);
		ru.rows[m] = sp->rows + (long)(next(&q) % (uint64_t)(sp->rows / 5 + 1));
		ru.g_common += (uint64_t)ru.rows[m];
	}
	if ((err = draw_common(&ru)) != MPC_OK)
		goto out;
	for (int m = 0; m < sp->merchants; m++)
		if ((err = write_merchant(&ru, dir, m, &g)) != MPC_OK)
			goto out;
	if (sp->holdout > 0)
		err = write_holdout(&ru, dir);
out:
	run_fini(&ru);
	return err;
}
