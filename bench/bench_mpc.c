/* bench_mpc: online multiplication, dot product, fixed-point multiplication,
 * comparison and sigmoid, the dealer's triple rate, and the making of
 * material by OT and Paillier, on real processes over loopback tcp. For the
 * dealer's rows, bytes are what the dealer sends (to the last party). Prints
 * one table and writes JSON lines (op, ring, parties, batch, seconds,
 * ops_per_s, bytes_sent_per_party, rounds, peak_rss_mib).
 *
 * The comparison and sigmoid rows go through the prefetch pool
 * (protocols/preproc/mpc_pool.h): a first run over the dealer records what one batch
 * consumes (the plan); the online row fills a pool with the plan from the
 * dealer before the clock starts and times the function alone (no
 * preprocessing traffic may happen: a miss is an error); the material row
 * times filling a pool with the same plan by OT.
 *
 * The merchant applications (app_bench, 3 parties, no dealer, best of runs):
 * statistics over 10^6 rows and the median of 10^5 (mpc_agg), logistic
 * regression scoring of 10^4 transactions x 32 features (mpc_score, OT
 * cross-product mode) end to end and online, and the latency of one scoring
 * request with its material in stock. End to end includes the OT set-up and
 * all preprocessing; see the comment above app_bench's rows for the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <math.h>

#include "protocols/apps/mpc_agg.h"
#include "protocols/core/mpc_beaver.h"
#include "circuits/eval/mpc_bool_eval.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_gen.h"
#include "tests/support/mpc_local.h"
#include "protocols/nonlinear/mpc_math.h"
#include "protocols/preproc/mpc_pool.h"
#include "protocols/apps/mpc_score.h"
#include "protocols/core/mpc_share.h"
#include "runtime/mpc_fixed.h"

typedef enum {
	OP_MUL,
	OP_DOT,
	OP_FIXMUL,
	OP_TRIPLES,
	OP_OT_TRIPLES,
	OP_OT_BIT_TRIPLES,
	OP_OT_TRUNC,
	OP_PAILLIER_TRIPLES,
	OP_AES,
	OP_CMP,        /* mpc_cmp_ltz, online, material from a pool */
	OP_OT_CMP,     /* the making of that material by OT */
	OP_SIGMOID,    /* mpc_math_sigmoid, online, material from a pool */
	OP_OT_SIGMOID, /* the making of that material by OT */
	/* the merchant applications (app_bench), 3 parties, end to end unless noted */
	OP_AGG_STATS,     /* mpc_agg_run: count .. stddev, 16-bucket histogram */
	OP_AGG_MEDIAN,    /* mpc_agg_run: the median */
	OP_SCORE,         /* mpc_score_logreg, cross mode, 10^4 x 32 */
	OP_SCORE_ONLINE,  /* the same, material in stock, cross engine set up */
	OP_SCORE_LATENCY, /* one request (n = 1), material in stock: median */
	OP_SCORE_BEAVER,  /* online, Beaver mode, every triple in stock (dealer) */
} op_kind;
static const char *const op_names[] = {"mul",        "dot",           "fixmul",
				       "dealer_triples", "ot_triples", "ot_bit_triples",
				       "ot_trunc_pairs", "paillier_triples", "aes128_blocks",
				       "cmp_ltz", "ot_cmp_ltz_material", "sigmoid",
				       "ot_sigmoid_material", "agg_stats_e2e", "agg_median_e2e",
				       "score_logreg_e2e", "score_logreg_online", "score_latency",
				       "score_online_beaver"};

/* Dealer-free preprocessing rows: the engine, or NULL (the dealer). */
static const char *engine_of(op_kind op)
{
	switch (op) {
	case OP_PAILLIER_TRIPLES:
		return "paillier";
	case OP_OT_TRIPLES:
	case OP_OT_BIT_TRIPLES:
	case OP_OT_TRUNC:
	case OP_AES:
	case OP_OT_CMP:
	case OP_OT_SIGMOID:
		return "ot";
	default:
		return NULL;
	}
}

/* Rows that time the making of material (the rest time the online phase). */
static int is_material(op_kind op)
{
	return op == OP_TRIPLES || (engine_of(op) != NULL && op != OP_AES);
}

/* The rows over a recorded plan, and the function each one's plan is of. */
static int uses_plan(op_kind op) { return op >= OP_CMP && op <= OP_OT_SIGMOID; }
static op_kind fn_of(op_kind op) { return op <= OP_OT_CMP ? OP_CMP : OP_SIGMOID; }

/* Sigmoid: fixed point with F fractional bits in Z_2^128, inputs in
 * [-SIG_RANGE, SIG_RANGE], checked against the double result within SIG_TOL
 * = 2 ulp (a sanity check of the run; mpc_math.h states 1.25 ulp, which
 * test_math holds). */
#define SIG_F 16
#define SIG_RANGE 8.0
#define SIG_TOL 0x1p-15

static struct {
	op_kind op;
	mpc_ring ring;
	size_t batch;
	int reps;
	int record; /* 1: record the plan of fn_of(op) over the dealer */
} cur;

/* The plan of the function of the current row (made by record_plan in the
 * parent; the forked parties inherit it). */
static struct {
	op_kind fn;
	size_t batch;
	int parties, ok;
	mpc_pool_plan plan;
} plan_cache;

/* What each party reports about the timed part. */
typedef struct {
	double seconds;
	uint64_t bytes, rounds;
	double peak_mib;
} measure;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The AES-128 circuit, when ../shared is there. */
static mpc_bristol *aes_circuit;

/* AES-128 on cur.batch blocks, one key (party 0) and the blocks (party 1),
 * bit triples from OT made inside the timed part. */
static mpc_err run_aes(mpc_party *p)
{
	size_t W = (cur.batch + 63) / 64;
	int owner[2] = {0, 1};
	uint64_t *key = calloc(128 * W, 8), *blk = calloc(128 * W, 8), *ct = calloc(128 * W, 8);
	const uint64_t *in[2] = {mpc_party_id(p) == 0 ? key : NULL, mpc_party_id(p) == 1 ? blk : NULL};
	uint64_t *out[1] = {ct};
	mpc_err err = key && blk && ct ? mpc_bool_run(p, aes_circuit, cur.batch, owner, in, out)
				       : mpc_error(MPC_ENOMEM, "out of memory");
	free(key);
	free(blk);
	free(ct);
	return err;
}

/* The inputs of a comparison or sigmoid row: comparisons on uniformly random
 * shares (so uniformly random values); sigmoid on fixed-point values spread
 * over [-SIG_RANGE, SIG_RANGE], held by party 0 (the others hold zero). */
static mpc_err fn_inputs(mpc_party *p, op_kind fn, mpc_vec *x)
{
	size_t n = cur.batch;
	mpc_err err;
	if (fn == OP_CMP) {
		if ((err = mpc_vec_init(x, MPC_Z64, n)) != MPC_OK)
			return err;
		return mpc_party_prg_own(p, x->v, n * 8);
	}
	if ((err = mpc_vec_init(x, MPC_Z128, n)) != MPC_OK || mpc_party_id(p) != 0)
		return err;
	double *d = malloc(n * sizeof(double));
	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		d[i] = -SIG_RANGE + 2 * SIG_RANGE * (double)((i * 7919) % n) / (double)n;
	err = mpc_fixed_encode(MPC_Z128, SIG_F, SIG_RANGE + 1, d, x->v, n);
	free(d);
	return err;
}

static mpc_err run_fn(mpc_party *p, op_kind fn, const mpc_vec *x, mpc_vec *out)
{
	if (fn == OP_CMP)
		return mpc_cmp_ltz(p, MPC_Z64, x->v, out->v, cur.batch);
	return mpc_math_sigmoid(p, MPC_Z128, SIG_F, x->v, out->v, cur.batch);
}

/* After the clock: open the inputs and outputs and check them in the clear. */
static mpc_err check_fn(mpc_party *p, op_kind fn, mpc_vec *x, mpc_vec *out)
{
	size_t n = cur.batch, bad = n;
	mpc_ring r = x->ring;
	mpc_err err;
	if ((err = mpc_open(p, r, x->v, x->v, n)) != MPC_OK ||
	    (err = mpc_open(p, r, out->v, out->v, n)) != MPC_OK)
		return err;
	for (size_t i = 0; i < n && bad == n; i++) {
		if (fn == OP_CMP) {
			int64_t v = mpc_ring_get_i64(r, x->v, i), got = mpc_ring_get_i64(r, out->v, i);
			if (got != (v < 0))
				bad = i;
		} else {
			double v, got;
			mpc_fixed_decode(r, SIG_F, (uint8_t *)x->v + 16 * i, &v, 1);
			mpc_fixed_decode(r, SIG_F, (uint8_t *)out->v + 16 * i, &got, 1);
			if (!(fabs(got - 1 / (1 + exp(-v))) <= SIG_TOL))
				bad = i;
		}
	}
	if (bad < n)
		return mpc_error(MPC_ECHEAT, "%s: wrong result at element %zu (checked in the clear "
				 "after the run)", op_names[fn], bad);
	return MPC_OK;
}

/* The plan of the current row's function: run it once over the dealer
 * through a recording pool; every party emits what it recorded. */
static mpc_err record_body(mpc_party *p)
{
	op_kind fn = fn_of(cur.op);
	mpc_vec x = {0}, out = {0};
	mpc_pool_plan plan;
	mpc_err err;
	if ((err = mpc_pool_install(p)) != MPC_OK || (err = fn_inputs(p, fn, &x)) != MPC_OK ||
	    (err = mpc_vec_init(&out, x.ring, cur.batch)) != MPC_OK ||
	    (err = run_fn(p, fn, &x, &out)) != MPC_OK ||
	    (err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK)
		goto out;
	err = mpc_local_emit(&plan, sizeof(plan));
out:
	mpc_vec_fini(&x);
	mpc_vec_fini(&out);
	return err;
}

/* Line the parties up so that nobody's clock starts early. */
static mpc_err line_up(mpc_party *p)
{
	uint8_t b = 0, sink[16 * 64];
	return mpc_party_bcast(p, &b, sink, 1);
}

/* A pool row: the online function with its material in stock, or the
 * making of that material by OT. */
static mpc_err pool_row(mpc_party *p, measure *m)
{
	mpc_net *net = mpc_party_net(p);
	op_kind fn = fn_of(cur.op);
	mpc_vec x = {0}, out = {0};
	mpc_err err;
	double t0;
	uint64_t b0, r0;

	if ((err = mpc_pool_install(p)) != MPC_OK)
		return err;
	if (cur.op == OP_OT_CMP || cur.op == OP_OT_SIGMOID) {
		if ((err = line_up(p)) != MPC_OK)
			return err;
		t0 = now();
		b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
		err = mpc_pool_fill(p, &plan_cache.plan);
		m->seconds = now() - t0;
		m->bytes = mpc_net_bytes_sent(net) - b0;
		m->rounds = mpc_net_rounds(net) - r0;
		return err;
	}
	if ((err = fn_inputs(p, fn, &x)) != MPC_OK ||
	    (err = mpc_vec_init(&out, x.ring, cur.batch)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan_cache.plan)) != MPC_OK || (err = line_up(p)) != MPC_OK)
		goto out;
	t0 = now();
	b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
	err = run_fn(p, fn, &x, &out);
	m->seconds = now() - t0;
	m->bytes = mpc_net_bytes_sent(net) - b0;
	m->rounds = mpc_net_rounds(net) - r0;
	if (err != MPC_OK)
		goto out;
	const mpc_pool_stats *st = mpc_pool_get_stats(mpc_party_preproc(p));
	if (st->misses) {
		err = mpc_error(MPC_EINVAL, "%s: the recorded plan did not cover the run (%llu "
				"elements fetched on %llu misses)", op_names[fn],
				(unsigned long long)st->missed, (unsigned long long)st->misses);
		goto out;
	}
	err = check_fn(p, fn, &x, &out);
out:
	mpc_vec_fini(&x);
	mpc_vec_fini(&out);
	return err;
}

static mpc_err timed(mpc_party *p, void *arg)
{
	mpc_net *net = mpc_party_net(p);
	size_t n = cur.batch;
	mpc_vec x = {0}, y = {0}, z = {0};
	mpc_triples t = {0};
	mpc_truncpairs tp = {0};
	measure m = {0};
	mpc_err err;
	(void)arg;

	if (cur.record)
		return record_body(p);
	if (uses_plan(cur.op)) {
		err = pool_row(p, &m);
		goto report;
	}
	if ((err = mpc_vec_init(&x, cur.ring, n)) || (err = mpc_vec_init(&y, cur.ring, n)) ||
	    (err = mpc_vec_init(&z, cur.ring, cur.op == OP_DOT ? n / 1000 : n)))
		goto out;
	if ((err = mpc_party_prg_own(p, x.v, n * mpc_ring_bytes(cur.ring))) ||
	    (err = mpc_party_prg_own(p, y.v, n * mpc_ring_bytes(cur.ring))))
		goto out;
	if (is_material(cur.op) || cur.op == OP_AES) {
		double t0 = now();
		uint64_t b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
		if (cur.op == OP_AES) {
			err = run_aes(p);
		} else if (cur.op == OP_OT_BIT_TRIPLES) {
			mpc_bit_triples bt;
			if ((err = mpc_bit_triples_get(p, (n + 63) / 64, &bt)) == MPC_OK)
				mpc_bit_triples_fini(&bt);
		} else if (cur.op == OP_OT_TRUNC) {
			err = mpc_truncpairs_get(p, cur.ring, 16, n, &tp);
		} else {
			err = mpc_triples_get(p, cur.ring, n, &t);
		}
		m.seconds = now() - t0;
		m.bytes = mpc_net_bytes_sent(net) - b0;
		m.rounds = mpc_net_rounds(net) - r0;
		goto report;
	}
	/* offline: the triples (and truncation pairs) the timed part consumes */
	if (cur.op != OP_DOT && (err = mpc_triples_get(p, cur.ring, n, &t)) != MPC_OK)
		goto out;
	if (cur.op == OP_FIXMUL && (err = mpc_truncpairs_get(p, cur.ring, 16, n, &tp)) != MPC_OK)
		goto out;
	if ((err = line_up(p)) != MPC_OK)
		goto out;
	double t0 = now();
	uint64_t b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
	switch (cur.op) {
	case OP_MUL:
		err = mpc_beaver_mul_with(p, cur.ring, &t, x.v, y.v, z.v, n);
		break;
	case OP_FIXMUL:
		err = mpc_fixed_mul_with(p, cur.ring, &t, &tp, x.v, y.v, z.v, n);
		break;
	default: /* dot products of length 1000, triples included (dealer) */
		err = mpc_beaver_dot(p, cur.ring, x.v, y.v, z.v, n / 1000, 1000);
		break;
	}
	m.seconds = now() - t0;
	m.bytes = mpc_net_bytes_sent(net) - b0;
	m.rounds = mpc_net_rounds(net) - r0;
report:
	if (err == MPC_OK) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		m.peak_mib = ru.ru_maxrss / 1024.0;
		err = mpc_local_emit(&m, sizeof(m));
	}
out:
	mpc_vec_fini(&x);
	mpc_vec_fini(&y);
	mpc_vec_fini(&z);
	mpc_triples_fini(&t);
	mpc_truncpairs_fini(&tp);
	return err;
}

static FILE *json;
static const char *only; /* --only: ops whose name contains one of these (comma-separated) */

static int selected(op_kind op)
{
	char buf[256];
	if (only == NULL)
		return 1;
	snprintf(buf, sizeof(buf), "%s", only);
	for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		if (strstr(op_names[op], w) != NULL)
			return 1;
	return 0;
}

/* Record the plan of op's function at this size (over the dealer), unless
 * the cache has it. 0 on success, -1 with a message. */
static int record_plan(op_kind op, int parties, size_t batch)
{
	op_kind fn = fn_of(op);
	if (plan_cache.ok && plan_cache.fn == fn && plan_cache.batch == batch &&
	    plan_cache.parties == parties)
		return 0;
	mpc_local_config cfg = {.n_parties = parties, .with_dealer = 1, .use_tcp = 1,
				.timeout_ms = 60000, .watchdog_s = 600};
	mpc_local_result res[17];
	int ok = 1;
	plan_cache.ok = 0;
	cur.op = op;
	cur.batch = batch;
	cur.record = 1;
	mpc_err err = mpc_local_run(&cfg, timed, NULL, res);
	cur.record = 0;
	if (err != MPC_OK) {
		fprintf(stderr, "bench: %s: recording the plan: %s\n", op_names[op], mpc_error_detail());
		return -1;
	}
	for (int i = 0; i < parties; i++) {
		if (res[i].err != MPC_OK || res[i].out_len != sizeof(mpc_pool_plan)) {
			fprintf(stderr, "bench: %s: recording the plan: party %d: %s: %s\n", op_names[op],
				i, mpc_strerror(res[i].err), res[i].detail);
			ok = 0;
		} else if (i > 0 && memcmp(res[i].out, res[0].out, sizeof(mpc_pool_plan)) != 0) {
			fprintf(stderr, "bench: %s: the parties recorded different plans\n", op_names[op]);
			ok = 0;
		}
	}
	if (ok)
		memcpy(&plan_cache.plan, res[0].out, sizeof(mpc_pool_plan));
	mpc_local_results_fini(res, parties + 1);
	if (!ok)
		return -1;
	plan_cache.fn = fn;
	plan_cache.batch = batch;
	plan_cache.parties = parties;
	plan_cache.ok = 1;
	const mpc_pool_plan *pl = &plan_cache.plan;
	printf("  plan of %s, %zu elements: triples %llu (Z_2^64) %llu (Z_2^128), bits %llu "
	       "(Z_2^64) %llu (Z_2^128), bit-triple words %llu", op_names[fn], batch,
	       (unsigned long long)pl->triples[0], (unsigned long long)pl->triples[1],
	       (unsigned long long)pl->bits[0], (unsigned long long)pl->bits[1],
	       (unsigned long long)pl->bit_triple_words);
	for (uint32_t i = 0; i < pl->n_trunc; i++)
		printf(", trunc pairs (Z_2^%u, f %u) %llu", pl->trunc[i].ring_bits, pl->trunc[i].f,
		       (unsigned long long)pl->trunc[i].n);
	printf("\n");
	return 0;
}

/* One line of the table and of the JSON. */
static void print_row(op_kind op, int tls, mpc_ring r, int parties, size_t batch, double best,
		      uint64_t bytes, uint64_t rounds, double peak)
{
	double ops = (double)batch / best;
	double per = (double)bytes / (double)batch;
	printf("%-20s %-5s Z_2^%-4u %7d %10zu %9.4f %14.0f %12.1f %7llu %9.0f\n", op_names[op],
	       tls ? "tls" : "plain", mpc_ring_bits(r), parties, batch, best, ops, per,
	       (unsigned long long)rounds, peak);
	fflush(stdout);
	if (json)
		fprintf(json,
			"{\"op\":\"%s\",\"transport\":\"%s\",\"ring\":%u,\"parties\":%d,\"batch\":%zu,\"seconds\":%.6f,"
			"\"ops_per_s\":%.0f,\"bytes_sent_per_party\":%llu,\"bytes_per_op\":%.2f,"
			"\"rounds\":%llu,\"peak_rss_mib\":%.0f}\n",
			op_names[op], tls ? "tls" : "plaintext", mpc_ring_bits(r), parties, batch, best, ops,
			(unsigned long long)bytes, per, (unsigned long long)rounds, peak);
}

/* Run one configuration `reps` times; report the best time, and the worst
 * party's bytes and memory. */
static int bench(op_kind op, mpc_ring r, int parties, size_t batch, int reps, int tls)
{
	mpc_local_config cfg = {.n_parties = parties, .with_dealer = engine_of(op) == NULL,
				.gen = engine_of(op), .use_tcp = 1, .use_tls = tls,
				.timeout_ms = 60000, .watchdog_s = 600};
	int nodes = parties + cfg.with_dealer;
	if (!selected(op))
		return 0;
	if (uses_plan(op) && record_plan(op, parties, batch) != 0)
		return -1;
	double best = 1e30, peak = 0;
	uint64_t bytes = 0, rounds = 0;
	cur.op = op;
	cur.ring = r;
	cur.batch = batch;
	for (int rep = 0; rep < reps; rep++) {
		mpc_local_result res[17];
		if (mpc_local_run(&cfg, timed, NULL, res) != MPC_OK) {
			fprintf(stderr, "bench: %s\n", mpc_error_detail());
			return -1;
		}
		double worst = 0;
		int ok = 1;
		for (int i = 0; i < parties; i++) {
			measure m;
			if (res[i].err != MPC_OK || res[i].out_len != sizeof(m)) {
				fprintf(stderr, "bench: party %d: %s: %s\n", i, mpc_strerror(res[i].err),
					res[i].detail);
				ok = 0;
				continue;
			}
			memcpy(&m, res[i].out, sizeof(m));
			/* the dealer's rate is what the party receiving corrections sees */
			if (op == OP_TRIPLES && i != parties - 1)
				continue;
			if (m.seconds > worst)
				worst = m.seconds;
			if (m.bytes > bytes)
				bytes = m.bytes;
			rounds = m.rounds;
			if (m.peak_mib > peak)
				peak = m.peak_mib;
		}
		/* the dealer's row counts what the dealer sends */
		if (op == OP_TRIPLES)
			bytes = res[parties].bytes_sent;
		mpc_local_results_fini(res, nodes);
		if (!ok)
			return -1;
		if (worst < best)
			best = worst;
	}
	print_row(op, tls, r, parties, batch, best, bytes, rounds, peak);
	return 0;
}

/* ---- The merchant applications: statistics, median, scoring ----------
 *
 * 3 parties over loopback tcp, no dealer (but for score_online_beaver, whose
 * stock comes from one), and no preprocessing installed at start. The end-to-end rows start the clock (after a line-up) before
 * setting up the dealer-free OT backend (mpc_gen_install: base OTs between
 * every pair), so they time everything after the connections are made: the
 * OT set-up, the making of every triple, bit and truncation pair by OT, and
 * the computation itself, up to the result at every party (statistics) or
 * at the asker (scores). The data are made in the parent before the fork;
 * each party reads only its own rows (or the features, or the model). Every
 * row checks its result after the clock against a plaintext computation; a
 * wrong result fails the row (and bench_mpc's exit status). Best of the
 * runs, as the other rows. */

#define APP_NP      3
#define STATS_ROWS  1000000
#define MEDIAN_ROWS 100000
#define SCORE_N     10000
#define SCORE_D     32
#define LAT_REQS    20
#define HIST_EDGES  15 /* 16 buckets */

/* The rows of the statistics: transaction amounts, exponential with mean 50
 * and below 10^4, on multiples of 2^-8, so that their encoding (F = 16) is
 * exact: count, histogram and median are compared exactly, the sum and the
 * ratios within mpc_agg.h's bounds. Party
 * j holds rows [off[j], off[j + 1]). The reference is made in the parent. */
static struct {
	size_t n, off[APP_NP + 1];
	double *x;
	double edges[HIST_EDGES];
	double sum, mean, var, std, maxdev, med_lo, med_hi;
	uint64_t hist[HIST_EDGES + 1];
} agg;

/* The scoring job, as in tests/loopback/test_score.c: features multiples of
 * 2^-10 in [-4, 4] at party 0 (the asker), weights in [-0.5, 0.5] and the
 * bias at party 1, threshold 0.6; every 50th transaction within about 1e-6
 * of the threshold (the flag there is checked on the encoded values). */
static struct {
	size_t n;
	double *x; /* n x SCORE_D */
	double w[SCORE_D], b, thr;
} sj;

/* What each party emits from an application row. */
typedef struct {
	measure row[2];       /* OP_SCORE: [0] end to end, [1] online */
	double lat[LAT_REQS]; /* OP_SCORE_LATENCY: each request's time */
} app_out;

static uint64_t app_rng = 0x9e3779b97f4a7c15ull;
static double app_urand(void)
{
	app_rng ^= app_rng << 13;
	app_rng ^= app_rng >> 7;
	app_rng ^= app_rng << 17;
	return ((double)(app_rng >> 11) + 1) * 0x1p-53; /* (0, 1] */
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* n rows split over the parties, and their plaintext statistics. 0 or -1. */
static int agg_make(size_t n)
{
	free(agg.x);
	memset(&agg, 0, sizeof(agg));
	if ((agg.x = malloc(n * sizeof(double))) == NULL)
		return -1;
	agg.n = n;
	for (int j = 0; j <= APP_NP; j++)
		agg.off[j] = n * (size_t)j / APP_NP;
	for (int k = 0; k < HIST_EDGES; k++)
		agg.edges[k] = 10.0 * (k + 1); /* hit exactly by some rows */
	int64_t S = 0;
	mpc_i128 Q = 0;
	for (size_t i = 0; i < n; i++) {
		double v = floor(-50 * log(app_urand()) * 256);
		if (v > 9999 * 256.0)
			v = 9999 * 256.0;
		S += (int64_t)v;
		Q += (mpc_i128)v * (mpc_i128)v;
		agg.x[i] = v / 256;
		int b = 0;
		while (b < HIST_EDGES && agg.x[i] >= agg.edges[b])
			b++;
		agg.hist[b]++;
	}
	/* n Q - S^2 is exact in 128 bits; in units of 2^-16 */
	mpc_i128 num = (mpc_i128)n * Q - (mpc_i128)S * S;
	agg.sum = (double)S / 256;
	agg.mean = (double)((long double)S / 256 / (long double)n);
	agg.var = (double)((long double)num / ((long double)n * (long double)n * 65536.0L));
	agg.std = sqrt(agg.var);
	for (size_t i = 0; i < n; i++)
		if (fabs(agg.x[i] - agg.mean) > agg.maxdev)
			agg.maxdev = fabs(agg.x[i] - agg.mean);
	double *s = malloc(n * sizeof(double));
	if (s == NULL)
		return -1;
	memcpy(s, agg.x, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	/* mpc_agg.h: v_ceil(n/2) and v_(floor(n/2)+1), 1-based */
	agg.med_lo = s[(n + 1) / 2 - 1];
	agg.med_hi = s[n / 2];
	free(s);
	return 0;
}

static double logit(double t) { return log(t / (1 - t)); }

/* n transactions and the model. 0 or -1. */
static int score_make(size_t n)
{
	size_t d = SCORE_D;
	free(sj.x);
	memset(&sj, 0, sizeof(sj));
	if ((sj.x = malloc(n * d * sizeof(double))) == NULL)
		return -1;
	sj.n = n;
	for (size_t e = 0; e < n * d; e++)
		sj.x[e] = ldexp(floor((app_urand() * 8 - 4) * 1024), -10);
	for (size_t k = 0; k < d; k++)
		sj.w[k] = app_urand() - 0.5;
	sj.b = 0.1;
	sj.thr = 0.6;
	for (size_t i = 0; i < n; i += 50) {
		double z = sj.b;
		for (size_t k = 0; k + 1 < d; k++)
			z += sj.w[k] * sj.x[i * d + k];
		double v = (logit(sj.thr) - z + 1e-6 * ((double)(i / 50 % 3) - 1)) / sj.w[d - 1];
		if (fabs(v) < 15)
			sj.x[i * d + d - 1] = v;
	}
	return 0;
}

/* The asker's scores and flags of transactions [off, off + n) against the
 * double model, within mpc_score.h's tolerance; flags exact on the encoded
 * values (and equal to the double flag outside the tolerance band). */
static mpc_err score_check(size_t off, size_t n, const double *score, const uint8_t *flag)
{
	size_t d = SCORE_D;
	for (size_t t = 0; t < n; t++) {
		const double *x = sj.x + (off + t) * d;
		double z = sj.b, l1 = fabs(sj.b);
		mpc_i128 L = (mpc_i128)round(ldexp(sj.b, 32));
		for (size_t k = 0; k < d; k++) {
			z += sj.w[k] * x[k];
			l1 += fabs(sj.w[k]) + fabs(x[k]);
			L += (mpc_i128)round(ldexp(sj.w[k], 16)) * (mpc_i128)round(ldexp(x[k], 16));
		}
		double eps = ldexp(l1, -17) + (double)(d + 1) * ldexp(1, -33);
		double tol = MPC_SCORE_SIGMOID_ERR + (eps + ldexp(1, -16)) / 4;
		int want = L > (mpc_i128)llround(ldexp(logit(sj.thr), 32));
		if (!(fabs(score[t] - 1 / (1 + exp(-z))) <= tol) || flag[t] != want ||
		    (fabs(z - logit(sj.thr)) > eps + ldexp(1, -32) && want != (z > logit(sj.thr))))
			return mpc_error(MPC_ECHEAT, "%s: wrong score or flag of transaction %zu "
					 "(checked in the clear after the run)", op_names[cur.op], off + t);
	}
	return MPC_OK;
}

/* The statistics at a party against the plaintext ones (the bounds of
 * mpc_agg.h, plus 1e-12 relative for the double arithmetic around them). */
static mpc_err agg_check(const mpc_agg_stats *st)
{
	const char *bad = NULL;
	double n = (double)agg.n, rel = 1e-12;
	double tsum = n * 0x1p-17 + rel * agg.sum, tmean = 0x1p-17 + rel * agg.mean;
	double tvar = 0x1p-16 * agg.maxdev + 0x1p-32 + 1e-9 * agg.var;
	double tstd = tvar / agg.std + rel * agg.std;
	if (st->suppressed)
		bad = "suppressed";
	else if (cur.op == OP_AGG_MEDIAN) {
		if (st->quant == NULL || st->quant_lo[0] != agg.med_lo ||
		    st->quant_hi[0] != agg.med_hi || st->quant[0] != (agg.med_lo + agg.med_hi) / 2)
			bad = "median";
	} else if (st->count != n)
		bad = "count";
	else if (!(fabs(st->sum - agg.sum) <= tsum))
		bad = "sum";
	else if (!(fabs(st->mean - agg.mean) <= tmean))
		bad = "mean";
	else if (!(fabs(st->variance - agg.var) <= tvar))
		bad = "variance";
	else if (!(fabs(st->stddev - agg.std) <= tstd))
		bad = "stddev";
	else if (st->hist == NULL)
		bad = "histogram";
	else
		for (int k = 0; k <= HIST_EDGES && bad == NULL; k++)
			if (st->hist[k] != (double)agg.hist[k])
				bad = "histogram";
	if (bad)
		return mpc_error(MPC_ECHEAT, "%s: wrong %s (checked in the clear after the run)",
				 op_names[cur.op], bad);
	return MPC_OK;
}

static void clock_start(mpc_party *p, double *t0, uint64_t *b0, uint64_t *r0)
{
	*b0 = mpc_net_bytes_sent(mpc_party_net(p));
	*r0 = mpc_net_rounds(mpc_party_net(p));
	*t0 = now();
}

static void clock_stop(mpc_party *p, double t0, uint64_t b0, uint64_t r0, measure *m)
{
	m->seconds = now() - t0;
	m->bytes = mpc_net_bytes_sent(mpc_party_net(p)) - b0;
	m->rounds = mpc_net_rounds(mpc_party_net(p)) - r0;
}

/* Statistics or median, end to end. */
static mpc_err agg_row(mpc_party *p, app_out *o)
{
	static const double half = 0.5;
	int me = mpc_party_id(p);
	mpc_agg_spec s;
	mpc_agg_result res;
	double t0;
	uint64_t b0, r0;
	mpc_err err;

	memset(&res, 0, sizeof(res));
	mpc_agg_spec_default(&s);
	s.max_abs = 1e5;
	s.max_rows = 1e6;
	if (cur.op == OP_AGG_STATS) {
		s.stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD |
			  MPC_AGG_HIST;
		s.edges = agg.edges;
		s.n_edges = HIST_EDGES;
	} else {
		s.stats = MPC_AGG_QUANT;
		s.quant = &half;
		s.n_quant = 1;
	}
	mpc_agg_rows rows = {.n = agg.off[me + 1] - agg.off[me], .n_cols = 1};
	rows.col[0] = agg.x + agg.off[me];
	if ((err = line_up(p)) != MPC_OK)
		return err;
	clock_start(p, &t0, &b0, &r0);
	if ((err = mpc_gen_install(p, "ot", 0)) == MPC_OK)
		err = mpc_agg_run(p, &s, &rows, &res);
	clock_stop(p, t0, b0, r0, &o->row[0]);
	if (err == MPC_OK)
		err = agg_check(&res.all);
	mpc_agg_result_fini(&res);
	return err;
}

/* Score sj's transactions [off, off + n) in cross mode: features at party
 * 0, which asks; the model at party 1. */
static mpc_err score_call(mpc_party *p, const mpc_cross *eng, size_t off, size_t n,
			  double *score, uint8_t *flag)
{
	int me = mpc_party_id(p);
	mpc_score_opts o = {.asker = 0, .cross = eng};
	mpc_score_data d = {.n = n, .d = SCORE_D, .holder = 0, .x_max = 16,
			    .x = me == 0 ? sj.x + off * SCORE_D : NULL};
	mpc_score_logreg_model m = {.owner = 1, .w = me == 1 ? sj.w : NULL,
				    .b = me == 1 ? sj.b : 0, .w_max = 4, .threshold = sj.thr};
	return mpc_score_logreg(p, &o, &d, &m, me == 0 ? score : NULL, me == 0 ? flag : NULL);
}

static mpc_err no_misses(mpc_party *p)
{
	const mpc_pool_stats *st = mpc_pool_get_stats(mpc_party_preproc(p));
	if (st->misses)
		return mpc_error(MPC_EINVAL, "%s: the recorded plan did not cover the run (%llu "
				 "elements fetched on %llu misses)", op_names[cur.op],
				 (unsigned long long)st->missed, (unsigned long long)st->misses);
	return MPC_OK;
}

/* Scoring: end to end through a recording pool (row[0]); then the pool is
 * filled with what that run consumed, and the same job runs again with the
 * cross engine already set up (row[1], online). */
static mpc_err score_rows(mpc_party *p, app_out *o)
{
	int me = mpc_party_id(p);
	size_t n = sj.n;
	mpc_cross eng = {0};
	mpc_pool_plan plan;
	double *score = calloc(n, sizeof(double)), t0;
	uint8_t *flag = calloc(n, 1);
	uint64_t b0, r0;
	mpc_err err;

	if (score == NULL || flag == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = line_up(p)) != MPC_OK)
		goto out;
	clock_start(p, &t0, &b0, &r0);
	if ((err = mpc_gen_install(p, "ot", 0)) == MPC_OK &&
	    (err = mpc_pool_install(p)) == MPC_OK && (err = mpc_cross_ot_new(&eng, p)) == MPC_OK)
		err = score_call(p, &eng, 0, n, score, flag);
	clock_stop(p, t0, b0, r0, &o->row[0]);
	if (err != MPC_OK || (me == 0 && (err = score_check(0, n, score, flag)) != MPC_OK))
		goto out;
	memset(score, 0, n * sizeof(double));
	memset(flag, 0, n);
	if ((err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan)) != MPC_OK || (err = line_up(p)) != MPC_OK)
		goto out;
	clock_start(p, &t0, &b0, &r0);
	err = score_call(p, &eng, 0, n, score, flag);
	clock_stop(p, t0, b0, r0, &o->row[1]);
	if (err == MPC_OK && (err = no_misses(p)) == MPC_OK && me == 0)
		err = score_check(0, n, score, flag);
out:
	mpc_cross_free(&eng);
	free(score);
	free(flag);
	return err;
}

/* One request at a time (n = 1), material in stock: an untimed request on
 * transaction LAT_REQS records the plan, the pool is filled with LAT_REQS
 * times it, then requests 0 .. LAT_REQS - 1 each after a line-up. row[0]
 * adds up the requests' bytes and rounds. */
static mpc_err latency_rows(mpc_party *p, app_out *o)
{
	int me = mpc_party_id(p);
	mpc_cross eng = {0};
	mpc_pool_plan plan;
	double score[LAT_REQS + 1], t0;
	uint8_t flag[LAT_REQS + 1];
	uint64_t b0, r0;
	mpc_err err;

	if ((err = mpc_gen_install(p, "ot", 0)) != MPC_OK || (err = mpc_pool_install(p)) != MPC_OK ||
	    (err = mpc_cross_ot_new(&eng, p)) != MPC_OK ||
	    (err = score_call(p, &eng, LAT_REQS, 1, score + LAT_REQS, flag + LAT_REQS)) != MPC_OK ||
	    (err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK ||
	    (err = mpc_pool_plan_scale(&plan, LAT_REQS)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan)) != MPC_OK)
		goto out;
	for (int k = 0; k < LAT_REQS && err == MPC_OK; k++) {
		measure m;
		if ((err = line_up(p)) != MPC_OK)
			break;
		clock_start(p, &t0, &b0, &r0);
		err = score_call(p, &eng, (size_t)k, 1, score + k, flag + k);
		clock_stop(p, t0, b0, r0, &m);
		o->lat[k] = m.seconds;
		o->row[0].seconds += m.seconds;
		o->row[0].bytes += m.bytes;
		o->row[0].rounds += m.rounds;
	}
	if (err == MPC_OK && (err = no_misses(p)) == MPC_OK && me == 0)
		err = score_check(0, LAT_REQS + 1, score, flag);
out:
	mpc_cross_free(&eng);
	return err;
}

/* Beaver mode online: every product's triple in stock as well. The
 * material comes from the dealer (what the online phase does is the same
 * whoever made it): an untimed run records the plan, the pool is filled,
 * the timed run follows. */
static mpc_err beaver_row(mpc_party *p, app_out *o)
{
	int me = mpc_party_id(p);
	size_t n = sj.n;
	mpc_pool_plan plan;
	double *score = calloc(n, sizeof(double)), t0;
	uint8_t *flag = calloc(n, 1);
	uint64_t b0, r0;
	mpc_err err;

	if (score == NULL || flag == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = mpc_pool_install(p)) != MPC_OK ||
	    (err = score_call(p, NULL, 0, n, score, flag)) != MPC_OK ||
	    (err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan)) != MPC_OK || (err = line_up(p)) != MPC_OK)
		goto out;
	memset(score, 0, n * sizeof(double));
	memset(flag, 0, n);
	clock_start(p, &t0, &b0, &r0);
	err = score_call(p, NULL, 0, n, score, flag);
	clock_stop(p, t0, b0, r0, &o->row[0]);
	if (err == MPC_OK && (err = no_misses(p)) == MPC_OK && me == 0)
		err = score_check(0, n, score, flag);
out:
	free(score);
	free(flag);
	return err;
}

static mpc_err app_timed(mpc_party *p, void *arg)
{
	app_out o;
	mpc_err err;
	(void)arg;
	memset(&o, 0, sizeof(o));
	if (cur.op == OP_AGG_STATS || cur.op == OP_AGG_MEDIAN)
		err = agg_row(p, &o);
	else if (cur.op == OP_SCORE)
		err = score_rows(p, &o);
	else if (cur.op == OP_SCORE_BEAVER)
		err = beaver_row(p, &o);
	else
		err = latency_rows(p, &o);
	if (err != MPC_OK)
		return err;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	o.row[0].peak_mib = o.row[1].peak_mib = ru.ru_maxrss / 1024.0;
	return mpc_local_emit(&o, sizeof(o));
}

/* Run an application row (OP_SCORE: the end-to-end and the online row)
 * `reps` times: per run, the worst party's time, bytes, rounds and memory
 * (latency: per request the slowest party, then the median of the
 * requests); the best run is reported. 0 or -1. */
static int app_bench(op_kind op, int reps)
{
	mpc_local_config cfg = {.n_parties = APP_NP, .use_tcp = 1, .timeout_ms = 60000,
				.watchdog_s = 600, .with_dealer = op == OP_SCORE_BEAVER};
	mpc_local_result res[APP_NP + 1];
	app_out best;
	double lat[LAT_REQS], best_lat[LAT_REQS] = {0};
	int mk = 0;

	if (!selected(op) && !(op == OP_SCORE && selected(OP_SCORE_ONLINE)))
		return 0;
	if (op == OP_AGG_STATS || op == OP_AGG_MEDIAN)
		mk = agg_make(op == OP_AGG_STATS ? STATS_ROWS : MEDIAN_ROWS);
	else
		mk = score_make(op == OP_SCORE_LATENCY ? LAT_REQS + 1 : SCORE_N);
	if (mk != 0) {
		fprintf(stderr, "bench: %s: out of memory\n", op_names[op]);
		return -1;
	}
	cur.op = op;
	memset(&best, 0, sizeof(best));
	for (int rep = 0; rep < reps; rep++) {
		app_out w;
		int ok = 1;
		if (mpc_local_run(&cfg, app_timed, NULL, res) != MPC_OK) {
			fprintf(stderr, "bench: %s\n", mpc_error_detail());
			return -1;
		}
		memset(&w, 0, sizeof(w));
		for (int k = 0; k < LAT_REQS; k++)
			lat[k] = 0;
		for (int i = 0; i < APP_NP; i++) {
			app_out o;
			if (res[i].err != MPC_OK || res[i].out_len != sizeof(o)) {
				fprintf(stderr, "bench: %s: party %d: %s: %s\n", op_names[op], i,
					mpc_strerror(res[i].err), res[i].detail);
				ok = 0;
				continue;
			}
			memcpy(&o, res[i].out, sizeof(o));
			for (int r = 0; r < 2; r++) {
				measure *a = &w.row[r], *b = &o.row[r];
				a->seconds = b->seconds > a->seconds ? b->seconds : a->seconds;
				a->bytes = b->bytes > a->bytes ? b->bytes : a->bytes;
				a->rounds = b->rounds > a->rounds ? b->rounds : a->rounds;
				a->peak_mib = b->peak_mib > a->peak_mib ? b->peak_mib : a->peak_mib;
			}
			/* a request takes as long as its slowest party */
			for (int k = 0; k < LAT_REQS; k++)
				lat[k] = o.lat[k] > lat[k] ? o.lat[k] : lat[k];
		}
		mpc_local_results_fini(res, APP_NP + cfg.with_dealer);
		if (!ok)
			return -1;
		if (op == OP_SCORE_LATENCY) {
			qsort(lat, LAT_REQS, sizeof(double), cmp_double);
			/* row[0].seconds: the median request of this run */
			w.row[0].seconds = (lat[LAT_REQS / 2 - 1] + lat[LAT_REQS / 2]) / 2;
		}
		for (int r = 0; r < 2; r++)
			if (rep == 0 || w.row[r].seconds < best.row[r].seconds) {
				best.row[r] = w.row[r];
				if (r == 0)
					memcpy(best_lat, lat, sizeof(lat));
			}
	}
	const measure *m0 = &best.row[0], *m1 = &best.row[1];
	if (op == OP_AGG_STATS || op == OP_AGG_MEDIAN) {
		print_row(op, 0, MPC_Z128, APP_NP, agg.n, m0->seconds, m0->bytes, m0->rounds,
			  m0->peak_mib);
	} else if (op == OP_SCORE_BEAVER) {
		print_row(op, 0, MPC_Z128, APP_NP, sj.n, m0->seconds, m0->bytes, m0->rounds,
			  m0->peak_mib);
	} else if (op == OP_SCORE) {
		if (selected(OP_SCORE))
			print_row(OP_SCORE, 0, MPC_Z128, APP_NP, sj.n, m0->seconds, m0->bytes,
				  m0->rounds, m0->peak_mib);
		if (selected(OP_SCORE_ONLINE))
			print_row(OP_SCORE_ONLINE, 0, MPC_Z128, APP_NP, sj.n, m1->seconds,
				  m1->bytes, m1->rounds, m1->peak_mib);
	} else {
		/* batch 1: one request; bytes and rounds per request */
		print_row(op, 0, MPC_Z128, APP_NP, 1, m0->seconds, m0->bytes / LAT_REQS,
			  m0->rounds / LAT_REQS, m0->peak_mib);
		printf("  %d requests (slowest party each): median %.2f ms, min %.2f ms, "
		       "max %.2f ms\n", LAT_REQS, 1e3 * m0->seconds, 1e3 * best_lat[0],
		       1e3 * best_lat[LAT_REQS - 1]);
	}
	return 0;
}

static void machine(void)
{
	struct utsname u;
	char line[256], model[256] = "unknown";
	FILE *fp = fopen("/proc/cpuinfo", "r");
	while (fp && fgets(line, sizeof(line), fp))
		if (strncmp(line, "model name", 10) == 0) {
			char *c = strchr(line, ':');
			snprintf(model, sizeof(model), "%s", c ? c + 2 : line);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (fp)
		fclose(fp);
	uname(&u);
	printf("machine: %s, %ld cores, %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
	       u.release);
	if (json)
		fprintf(json, "{\"machine\":\"%s\",\"cores\":%ld,\"kernel\":\"%s %s\"}\n", model,
			sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release);
}

int main(int argc, char **argv)
{
	int quick = 0, fail = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			if ((json = fopen(argv[++i], "w")) == NULL) {
				perror(argv[i]);
				return 1;
			}
		} else if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_mpc [--json FILE] [--quick] [--only OP[,OP...]]\n"
					"  --only: the rows whose op name contains one of the words, e.g.\n"
					"          --only cmp,sigmoid,aes (op names: see the table)\n");
			return 1;
		}
	}
	size_t big = quick ? 100000 : 1000000;
	int reps = quick ? 1 : 3;
	machine();
	printf("online phase unless noted; loopback tcp; dealer preprocessing; best of %d\n", reps);
	printf("%-20s %-5s %-9s %7s %10s %9s %14s %12s %7s %9s\n", "op", "link", "ring", "parties",
	       "batch",
	       "seconds", "ops/s", "bytes/op/pty", "rounds", "peak MiB");
	static const mpc_ring rings[2] = {MPC_Z64, MPC_Z128};
	/* the rows compared with TLS take the best of 5: the comparison is what
	 * they are for */
	int reps5 = quick ? 1 : 5;
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench(OP_MUL, rings[k], pr, big, pr == 3 ? reps5 : reps, 0);
	/* the cost of TLS 1.3 on every link */
	fail |= bench(OP_MUL, MPC_Z64, 3, big, reps5, 1);
	fail |= bench(OP_MUL, MPC_Z128, 3, big, reps5, 1);
	fail |= bench(OP_DOT, MPC_Z64, 3, big, reps, 0);
	fail |= bench(OP_FIXMUL, MPC_Z128, 3, big, reps, 0);
	fail |= bench(OP_TRIPLES, MPC_Z64, 3, big, reps, 0);
	fail |= bench(OP_TRIPLES, MPC_Z128, 3, big, reps, 0);
	/* dealer-free preprocessing: triples per second and bytes per triple */
	size_t pre = quick ? 20000 : 200000;
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench(OP_OT_TRIPLES, rings[k], pr, pre, reps, 0);
	fail |= bench(OP_OT_TRIPLES, MPC_Z64, 3, pre, reps, 1); /* the cost of TLS */
	fail |= bench(OP_OT_BIT_TRIPLES, MPC_Z64, 3, 64 * pre, reps, 0);
	fail |= bench(OP_OT_TRUNC, MPC_Z64, 3, pre / 4, reps, 0);
	fail |= bench(OP_OT_TRUNC, MPC_Z128, 3, pre / 8, reps, 0);
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench(OP_PAILLIER_TRIPLES, rings[k], pr, quick ? 500 : 2000, 1, 0);
	/* AES-128 under MPC (Bristol circuit from ../shared), bit triples included */
	if (mpc_bristol_load("../shared/circuits/bristol/aes_128.txt", &aes_circuit) == MPC_OK) {
		fail |= bench(OP_AES, MPC_Z64, 3, 1000, reps, 0);
		mpc_bristol_free(aes_circuit);
	} else {
		printf("aes128_blocks: skipped (%s)\n", mpc_error_detail());
	}
	/* comparisons (batch 10^5) and sigmoid (10^4, F = 16) with their
	 * material in stock, and the making of that material by OT */
	fail |= bench(OP_CMP, MPC_Z64, 3, 100000, reps, 0);
	fail |= bench(OP_OT_CMP, MPC_Z64, 3, 100000, reps, 0);
	fail |= bench(OP_SIGMOID, MPC_Z128, 3, 10000, reps, 0);
	fail |= bench(OP_OT_SIGMOID, MPC_Z128, 3, 10000, reps, 0);
	/* the merchant applications: end to end with the OT set-up and every
	 * piece of OT preprocessing inside the time, unless "online" */
	int apps = 0;
	for (op_kind op = OP_AGG_STATS; op <= OP_SCORE_BEAVER; op++)
		apps |= selected(op);
	if (apps)
		printf("merchant applications: *_e2e include the OT set-up and "
		       "all OT preprocessing; online rows have their material in stock\n");
	fail |= app_bench(OP_AGG_STATS, reps);
	fail |= app_bench(OP_AGG_MEDIAN, reps);
	/* score_logreg_e2e and score_logreg_online; each run also fills the pool
	 * by OT between the two (about 6 s), so at most 2 runs */
	fail |= app_bench(OP_SCORE, reps < 2 ? reps : 2);
	fail |= app_bench(OP_SCORE_LATENCY, reps);
	fail |= app_bench(OP_SCORE_BEAVER, reps); /* online with every triple in stock */
	if (!quick)
		fail |= bench(OP_MUL, MPC_Z64, 3, 10 * big, 1, 0);
	if (json)
		fclose(json);
	return fail ? 1 : 0;
}
