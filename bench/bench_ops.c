/* bench_mpc's rows of the primitives: online multiplication, dot product,
 * fixed-point multiplication, comparison and sigmoid (material from a pool),
 * AES-128, and the making of material by the dealer, OT and Paillier. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench.h"
#include "circuits/eval/mpc_bool_eval.h"
#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/nonlinear/mpc_math.h"
#include "protocols/preproc/mpc_pool.h"
#include "runtime/mpc_fixed.h"
#include "tests/support/mpc_local.h"

/* Dealer-free preprocessing rows: the engine, or NULL (the dealer). */
static const char *engine_of(op_kind op) {
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
static int is_material(op_kind op) {
	return op == OP_TRIPLES || (engine_of(op) != NULL && op != OP_AES);
}

/* The rows over a recorded plan, and the function each one's plan is of. */
static int uses_plan(op_kind op) {
	return op >= OP_CMP && op <= OP_OT_SIGMOID;
}
static op_kind fn_of(op_kind op) {
	return op <= OP_OT_CMP ? OP_CMP : OP_SIGMOID;
}

/* Sigmoid: fixed point with F fractional bits in Z_2^128, inputs in
 * [-SIG_RANGE, SIG_RANGE], checked against the double result within SIG_TOL
 * = 2 ulp (a sanity check of the run; mpc_math.h states 1.25 ulp, which
 * test_math holds). */
#define SIG_F     16
#define SIG_RANGE 8.0
#define SIG_TOL   0x1p-15

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

mpc_bristol *bench_aes_circuit;

double bench_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* AES-128 on cur.batch blocks, one key (party 0) and the blocks (party 1),
 * bit triples from OT made inside the timed part. */
static mpc_err run_aes(mpc_party *p) {
	size_t W = (cur.batch + 63) / 64;
	int owner[2] = {0, 1};
	uint64_t *key = calloc(128 * W, 8), *blk = calloc(128 * W, 8), *ct = calloc(128 * W, 8);
	const uint64_t *in[2] = {mpc_party_id(p) == 0 ? key : NULL,
	                         mpc_party_id(p) == 1 ? blk : NULL};
	uint64_t *out[1] = {ct};
	mpc_err err = key && blk && ct
	                  ? mpc_bool_run(p, bench_aes_circuit, cur.batch, owner, in, out)
	                  : mpc_error(MPC_ENOMEM, "out of memory");
	free(key);
	free(blk);
	free(ct);
	return err;
}

/* The inputs of a comparison or sigmoid row: comparisons on uniformly random
 * shares (so uniformly random values); sigmoid on fixed-point values spread
 * over [-SIG_RANGE, SIG_RANGE], held by party 0 (the others hold zero). */
static mpc_err fn_inputs(mpc_party *p, op_kind fn, mpc_vec *x) {
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

static mpc_err run_fn(mpc_party *p, op_kind fn, const mpc_vec *x, mpc_vec *out) {
	if (fn == OP_CMP)
		return mpc_cmp_ltz(p, MPC_Z64, x->v, out->v, cur.batch);
	return mpc_math_sigmoid(p, MPC_Z128, SIG_F, x->v, out->v, cur.batch);
}

/* After the clock: open the inputs and outputs and check them in the clear. */
static mpc_err check_fn(mpc_party *p, op_kind fn, mpc_vec *x, mpc_vec *out) {
	size_t n = cur.batch, bad = n;
	mpc_ring r = x->ring;
	mpc_err err;
	if ((err = mpc_open(p, r, x->v, x->v, n)) != MPC_OK ||
	    (err = mpc_open(p, r, out->v, out->v, n)) != MPC_OK)
		return err;
	for (size_t i = 0; i < n && bad == n; i++) {
		if (fn == OP_CMP) {
			int64_t v = mpc_ring_get_i64(r, x->v, i),
			        got = mpc_ring_get_i64(r, out->v, i);
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
		return mpc_error(MPC_ECHEAT,
		                 "%s: wrong result at element %zu (checked in the clear "
		                 "after the run)",
		                 bench_op_names[fn], bad);
	return MPC_OK;
}

/* The plan of the current row's function: run it once over the dealer
 * through a recording pool; every party emits what it recorded. */
static mpc_err record_body(mpc_party *p) {
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

mpc_err bench_line_up(mpc_party *p) {
	uint8_t b = 0, sink[16 * 64];
	return mpc_party_bcast(p, &b, sink, 1);
}

/* A pool row: the online function with its material in stock, or the
 * making of that material by OT. */
static mpc_err pool_row(mpc_party *p, bench_measure *m) {
	mpc_net *net = mpc_party_net(p);
	op_kind fn = fn_of(cur.op);
	mpc_vec x = {0}, out = {0};
	mpc_err err;
	double t0;
	uint64_t b0, r0;

	if ((err = mpc_pool_install(p)) != MPC_OK)
		return err;
	if (cur.op == OP_OT_CMP || cur.op == OP_OT_SIGMOID) {
		if ((err = bench_line_up(p)) != MPC_OK)
			return err;
		t0 = bench_now();
		b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
		err = mpc_pool_fill(p, &plan_cache.plan);
		m->seconds = bench_now() - t0;
		m->bytes = mpc_net_bytes_sent(net) - b0;
		m->rounds = mpc_net_rounds(net) - r0;
		return err;
	}
	if ((err = fn_inputs(p, fn, &x)) != MPC_OK ||
	    (err = mpc_vec_init(&out, x.ring, cur.batch)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan_cache.plan)) != MPC_OK ||
	    (err = bench_line_up(p)) != MPC_OK)
		goto out;
	t0 = bench_now();
	b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
	err = run_fn(p, fn, &x, &out);
	m->seconds = bench_now() - t0;
	m->bytes = mpc_net_bytes_sent(net) - b0;
	m->rounds = mpc_net_rounds(net) - r0;
	if (err != MPC_OK)
		goto out;
	const mpc_pool_stats *st = mpc_pool_get_stats(mpc_party_preproc(p));
	if (st->misses) {
		err = mpc_error(MPC_EINVAL,
		                "%s: the recorded plan did not cover the run (%llu "
		                "elements fetched on %llu misses)",
		                bench_op_names[fn], (unsigned long long)st->missed,
		                (unsigned long long)st->misses);
		goto out;
	}
	err = check_fn(p, fn, &x, &out);
out:
	mpc_vec_fini(&x);
	mpc_vec_fini(&out);
	return err;
}

static mpc_err timed(mpc_party *p, void *arg) {
	mpc_net *net = mpc_party_net(p);
	size_t n = cur.batch;
	mpc_vec x = {0}, y = {0}, z = {0};
	mpc_triples t = {0};
	mpc_truncpairs tp = {0};
	bench_measure m = {0};
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
		double t0 = bench_now();
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
		m.seconds = bench_now() - t0;
		m.bytes = mpc_net_bytes_sent(net) - b0;
		m.rounds = mpc_net_rounds(net) - r0;
		goto report;
	}
	/* offline: the triples (and truncation pairs) the timed part consumes */
	if (cur.op != OP_DOT && (err = mpc_triples_get(p, cur.ring, n, &t)) != MPC_OK)
		goto out;
	if (cur.op == OP_FIXMUL && (err = mpc_truncpairs_get(p, cur.ring, 16, n, &tp)) != MPC_OK)
		goto out;
	if (cur.op == OP_MUL_A2A || cur.op == OP_MUL_KING) {
		mpc_open_mode mode = cur.op == OP_MUL_KING ? MPC_OPEN_KING : MPC_OPEN_ALL_TO_ALL;
		if ((err = mpc_party_set_open_rule(p, mode, MPC_OPEN_KING_THRESHOLD_DEFAULT)) !=
		    MPC_OK)
			goto out;
	}
	if ((err = bench_line_up(p)) != MPC_OK)
		goto out;
	double t0 = bench_now();
	uint64_t b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
	switch (cur.op) {
	case OP_MUL:
	case OP_MUL_A2A:
	case OP_MUL_KING:
		err = mpc_beaver_mul_with(p, cur.ring, &t, x.v, y.v, z.v, n);
		break;
	case OP_FIXMUL:
		err = mpc_fixed_mul_with(p, cur.ring, &t, &tp, x.v, y.v, z.v, n);
		break;
	default: /* dot products of length 1000, triples included (dealer) */
		err = mpc_beaver_dot(p, cur.ring, x.v, y.v, z.v, n / 1000, 1000);
		break;
	}
	m.seconds = bench_now() - t0;
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

/* Record the plan of op's function at this size (over the dealer), unless
 * the cache has it. 0 on success, -1 with a message. */
static int record_plan(op_kind op, int parties, size_t batch) {
	op_kind fn = fn_of(op);
	if (plan_cache.ok && plan_cache.fn == fn && plan_cache.batch == batch &&
	    plan_cache.parties == parties)
		return 0;
	mpc_local_config cfg = {.n_parties = parties,
	                        .with_dealer = 1,
	                        .use_tcp = 1,
	                        .timeout_ms = 60000,
	                        .watchdog_s = 600};
	mpc_local_result res[17];
	int ok = 1;
	plan_cache.ok = 0;
	cur.op = op;
	cur.batch = batch;
	cur.record = 1;
	mpc_err err = mpc_local_run(&cfg, timed, NULL, res);
	cur.record = 0;
	if (err != MPC_OK) {
		fprintf(stderr, "bench: %s: recording the plan: %s\n", bench_op_names[op],
		        mpc_error_detail());
		return -1;
	}
	for (int i = 0; i < parties; i++) {
		if (res[i].err != MPC_OK || res[i].out_len != sizeof(mpc_pool_plan)) {
			fprintf(stderr, "bench: %s: recording the plan: party %d: %s: %s\n",
			        bench_op_names[op], i, mpc_strerror(res[i].err), res[i].detail);
			ok = 0;
		} else if (i > 0 && memcmp(res[i].out, res[0].out, sizeof(mpc_pool_plan)) != 0) {
			fprintf(stderr, "bench: %s: the parties recorded different plans\n",
			        bench_op_names[op]);
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
	       "(Z_2^64) %llu (Z_2^128), bit-triple words %llu",
	       bench_op_names[fn], batch, (unsigned long long)pl->triples[0],
	       (unsigned long long)pl->triples[1], (unsigned long long)pl->bits[0],
	       (unsigned long long)pl->bits[1], (unsigned long long)pl->bit_triple_words);
	for (uint32_t i = 0; i < pl->n_trunc; i++)
		printf(", trunc pairs (Z_2^%u, f %u) %llu", pl->trunc[i].ring_bits, pl->trunc[i].f,
		       (unsigned long long)pl->trunc[i].n);
	printf("\n");
	return 0;
}

/* Run one configuration `reps` times; report the best time, and the worst
 * party's bytes and memory. */
int bench_op(op_kind op, mpc_ring r, int parties, size_t batch, int reps, int tls) {
	mpc_local_config cfg = {.n_parties = parties,
	                        .with_dealer = engine_of(op) == NULL,
	                        .gen = engine_of(op),
	                        .use_tcp = 1,
	                        .use_tls = tls,
	                        .timeout_ms = 60000,
	                        .watchdog_s = 600};
	int nodes = parties + cfg.with_dealer;
	if (!bench_selected(op))
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
			bench_measure m;
			if (res[i].err != MPC_OK || res[i].out_len != sizeof(m)) {
				fprintf(stderr, "bench: party %d: %s: %s\n", i,
				        mpc_strerror(res[i].err), res[i].detail);
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
	bench_print_row(op, tls, r, parties, batch, best, bytes, rounds, peak);
	return 0;
}
