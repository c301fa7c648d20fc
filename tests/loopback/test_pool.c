/* The prefetch pool (protocols/preproc/mpc_pool.h) on 2 and 3 real processes:
 * a recorded plan matches what was asked for; material served from stock
 * (dealer and OT underneath) still gives correct products, fixed-point
 * products, ANDs and 0/1 bits against a plaintext reference, with no miss;
 * a stock that runs short falls back to the inner backend with a counted
 * miss and correct results; FIFO order and the fall-back are checked
 * exactly over a counting backend; malformed plans are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/preproc/mpc_pool.h"
#include "runtime/mpc_fixed.h"
#include "tests/support/cluster.h"
#include "tests/support/mpc_local.h"

#define N 2048
#define W (N / 64)

static struct {
	const char *gen; /* NULL: the dealer */
	int short_by;    /* the fill leaves this many triples out (a miss) */
	_Alignas(16) uint8_t x[N * 16], y[N * 16];
	uint64_t bx[W], by[W];
} job;

/* Values in Z_2^128 with F = 16 small enough for a fixed-point product. */
static void small_fixed(uint8_t *v, unsigned seed) {
	srand(seed);
	for (size_t i = 0; i < N; i++) {
		mpc_i128 t = (mpc_i128)(rand() % 2000001 - 1000000) * 65; /* |t| < 2^26 */
		memcpy(v + 16 * i, &t, 16);
	}
}

/* The work: N products in Z_2^64, N fixed-point products in Z_2^128 (N
 * triples and N truncation pairs f = 16), N bits in Z_2^64, W words of ANDs.
 * Emits the product shares, the fixed-point shares, the bit shares and the
 * AND shares. */
static mpc_err work(mpc_party *p, int emit) {
	int me = mpc_party_id(p);
	mpc_vec x = {0}, y = {0}, X = {0}, Y = {0}, bits = {0};
	uint64_t bx[W], by[W], bz[W];
	mpc_err err;

	if ((err = mpc_vec_init(&x, MPC_Z64, N)) || (err = mpc_vec_init(&y, MPC_Z64, N)) ||
	    (err = mpc_vec_init(&X, MPC_Z128, N)) || (err = mpc_vec_init(&Y, MPC_Z128, N)))
		goto out;
	if ((err = mpc_input(p, 0, MPC_Z64, me == 0 ? job.x : NULL, x.v, N)) ||
	    (err = mpc_input(p, 1, MPC_Z64, me == 1 ? job.y : NULL, y.v, N)) ||
	    (err = mpc_input(p, 0, MPC_Z128, me == 0 ? job.x : NULL, X.v, N)) ||
	    (err = mpc_input(p, 1, MPC_Z128, me == 1 ? job.y : NULL, Y.v, N)) ||
	    (err = mpc_bool_input(p, 0, me == 0 ? job.bx : NULL, bx, W)) ||
	    (err = mpc_bool_input(p, 1, me == 1 ? job.by : NULL, by, W)))
		goto out;
	if ((err = mpc_beaver_mul(p, MPC_Z64, x.v, y.v, x.v, N)) ||
	    (err = mpc_fixed_mul(p, MPC_Z128, 16, X.v, Y.v, X.v, N)) ||
	    (err = mpc_bits_get(p, MPC_Z64, N, &bits)) || (err = mpc_bool_and(p, bx, by, bz, W)))
		goto out;
	if (emit && ((err = mpc_local_emit(x.v, N * 8)) || (err = mpc_local_emit(X.v, N * 16)) ||
	             (err = mpc_local_emit(bits.v, N * 8)) || (err = mpc_local_emit(bz, W * 8))))
		goto out;
out:
	mpc_vec_fini(&x);
	mpc_vec_fini(&y);
	mpc_vec_fini(&X);
	mpc_vec_fini(&Y);
	mpc_vec_fini(&bits);
	return err;
}

/* Record one run of the work, fill with its plan (less job.short_by
 * triples), run it again from stock, and check the counters. */
static mpc_err body_serve(mpc_party *p, void *arg) {
	mpc_pool_plan plan, left, again;
	mpc_err err;
	(void)arg;
	if ((err = mpc_pool_install(p)) != MPC_OK || (err = work(p, 0)) != MPC_OK ||
	    (err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK)
		return err;
	if (plan.triples[0] != N || plan.triples[1] != N || plan.n_trunc != 1 ||
	    plan.trunc[0].ring_bits != 128 || plan.trunc[0].f != 16 || plan.trunc[0].n != N ||
	    plan.bits[0] != N || plan.bits[1] != 0 || plan.bit_triple_words != W)
		return mpc_error(MPC_ECHEAT,
		                 "party %d: the recorded plan is not what was asked for",
		                 mpc_party_id(p));
	const mpc_pool_stats *st = mpc_pool_get_stats(mpc_party_preproc(p));
	if (st->passed != 4 * (uint64_t)N + W || st->served != 0 || st->fetched != 0)
		return mpc_error(MPC_ECHEAT, "party %d: record mode counted %llu passed",
		                 mpc_party_id(p), (unsigned long long)st->passed);
	plan.triples[0] -= (uint64_t)job.short_by;
	if ((err = mpc_pool_record(mpc_party_preproc(p))) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan)) != MPC_OK ||
	    (err = mpc_pool_left(mpc_party_preproc(p), &left)) != MPC_OK)
		return err;
	if (memcmp(&left, &plan, sizeof(plan)) != 0)
		return mpc_error(MPC_ECHEAT, "party %d: the stock after the fill is not the plan",
		                 mpc_party_id(p));
	/* nothing may reach the inner backend now, unless the stock is short */
	uint64_t r0 = mpc_net_rounds(mpc_party_net(p));
	if ((err = work(p, 1)) != MPC_OK)
		return err;
	uint64_t rounds = mpc_net_rounds(mpc_party_net(p)) - r0;
	if ((err = mpc_pool_plan_get(mpc_party_preproc(p), &again)) != MPC_OK ||
	    (err = mpc_pool_left(mpc_party_preproc(p), &left)) != MPC_OK)
		return err;
	uint64_t total = 4 * (uint64_t)N + W;
	mpc_pool_plan empty = {0};
	empty.n_trunc = 1;
	empty.trunc[0].ring_bits = 128;
	empty.trunc[0].f = 16;
	if (memcmp(&left, &empty, sizeof(left)) != 0)
		return mpc_error(MPC_ECHEAT, "party %d: stock left after the work",
		                 mpc_party_id(p));
	if (again.triples[0] != N || st->fetched != total - (uint64_t)job.short_by ||
	    st->served != total - (uint64_t)job.short_by || st->passed != total ||
	    st->misses != (job.short_by ? 1u : 0u) || st->missed != (uint64_t)job.short_by)
		return mpc_error(MPC_ECHEAT, "party %d: served %llu, %llu misses (%llu elements)",
		                 mpc_party_id(p), (unsigned long long)st->served,
		                 (unsigned long long)st->misses, (unsigned long long)st->missed);
	/* online only: input is free, one round per mul, two for fixmul, one
	 * for the AND; the dealer's request and reply add two at the last
	 * party on a miss */
	uint64_t want =
	    4 + (job.short_by && !job.gen && mpc_party_id(p) == mpc_party_size(p) - 1 ? 2 : 0);
	if (!job.gen && rounds != want)
		return mpc_error(MPC_ECHEAT, "party %d: %llu rounds served from stock (want %llu)",
		                 mpc_party_id(p), (unsigned long long)rounds,
		                 (unsigned long long)want);
	if (job.gen && !job.short_by && rounds != 4)
		return mpc_error(MPC_ECHEAT, "party %d: %llu rounds served from stock",
		                 mpc_party_id(p), (unsigned long long)rounds);
	return MPC_OK;
}

static void check_serve(int parties, const char *gen, int short_by) {
	mpc_local_config cfg = {.n_parties = parties,
	                        .with_dealer = gen == NULL,
	                        .gen = gen,
	                        .timeout_ms = 20000,
	                        .watchdog_s = 60};
	mpc_local_result res[4];
	int nodes = parties + (gen == NULL);
	job.gen = gen;
	job.short_by = short_by;
	/* small fixed-point values for the Z_2^128 products; the Z_2^64 ones
	 * read the first N*8 bytes of the same buffers as N elements */
	small_fixed(job.x, 7u + (unsigned)parties);
	small_fixed(job.y, 8u + (unsigned)parties);
	cluster_fill_random(job.bx, sizeof(job.bx), 9u);
	cluster_fill_random(job.by, sizeof(job.by), 10u);
	assert_int_equal(mpc_local_run(&cfg, body_serve, NULL, res), MPC_OK);
	for (int i = 0; i < nodes; i++) {
		if (res[i].err != MPC_OK)
			print_error("node %d: %s: %s\n", i, mpc_strerror(res[i].err),
			            res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
		assert_int_equal(res[i].exit_code, 0);
	}
	size_t len = N * 8 + N * 16 + N * 8 + W * 8;
	static _Alignas(16) uint8_t z[N * 8], Z[N * 16], b[N * 8];
	uint64_t bz[W] = {0};
	memset(z, 0, sizeof(z));
	memset(Z, 0, sizeof(Z));
	memset(b, 0, sizeof(b));
	for (int i = 0; i < parties; i++) {
		assert_int_equal(res[i].out_len, len);
		mpc_ring_add(MPC_Z64, z, z, res[i].out, N);
		mpc_ring_add(MPC_Z128, Z, Z, res[i].out + N * 8, N);
		mpc_ring_add(MPC_Z64, b, b, res[i].out + N * 24, N);
		for (size_t w = 0; w < W; w++) {
			uint64_t v;
			memcpy(&v, res[i].out + N * 32 + w * 8, 8);
			bz[w] ^= v;
		}
	}
	mpc_local_results_fini(res, nodes);
	_Alignas(16) uint8_t want[N * 8];
	mpc_ring_mul(MPC_Z64, want, job.x, job.y, N);
	assert_memory_equal(z, want, sizeof(want));
	size_t ones = 0;
	for (size_t i = 0; i < N; i++) {
		mpc_i128 a, c, g;
		memcpy(&a, job.x + 16 * i, 16);
		memcpy(&c, job.y + 16 * i, 16);
		memcpy(&g, Z + 16 * i, 16);
		mpc_i128 fl = (a * c) >> 16;
		assert_true(g == fl || g == fl + 1);
		uint64_t v;
		memcpy(&v, b + 8 * i, 8);
		assert_true(v <= 1);
		ones += v;
	}
	assert_true(ones > N / 2 - 6 * 23 && ones < N / 2 + 6 * 23); /* sigma ~ 22.6 */
	for (size_t w = 0; w < W; w++)
		assert_true(bz[w] == (job.bx[w] & job.by[w]));
}

static void test_serve_dealer(void **s) {
	(void)s;
	check_serve(2, NULL, 0);
	check_serve(3, NULL, 0);
}
static void test_serve_ot(void **s) {
	(void)s;
	check_serve(3, "ot", 0);
}
static void test_miss_dealer(void **s) {
	(void)s;
	check_serve(3, NULL, N / 2);
	check_serve(2, NULL, N);
}
static void test_miss_ot(void **s) {
	(void)s;
	check_serve(2, "ot", 100);
}

/* A counting backend: element e of its k-th triple request is (counter,
 * counter, counter) with one counter over all requests, and bits/bit triples
 * likewise, so that the order in which the pool serves is visible. */
typedef struct {
	uint64_t next;
	int freed;
} counter;

static mpc_err cnt_triples(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
                           void *c) {
	counter *k = ctx;
	(void)p;
	for (size_t e = 0; e < n; e++, k->next++) {
		mpc_ring_set_i64(r, a, e, (int64_t)k->next);
		mpc_ring_set_i64(r, b, e, (int64_t)k->next);
		mpc_ring_set_i64(r, c, e, (int64_t)k->next);
	}
	return MPC_OK;
}

static mpc_err cnt_trunc(void *ctx, mpc_party *p, mpc_ring r, unsigned f, size_t n, void *rr,
                         void *hi) {
	counter *k = ctx;
	(void)p;
	for (size_t e = 0; e < n; e++, k->next++) {
		mpc_ring_set_i64(r, rr, e, (int64_t)k->next);
		mpc_ring_set_i64(r, hi, e, (int64_t)(k->next + f));
	}
	return MPC_OK;
}

static mpc_err cnt_bits(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *out) {
	counter *k = ctx;
	(void)p;
	for (size_t e = 0; e < n; e++, k->next++)
		mpc_ring_set_i64(r, out, e, (int64_t)k->next);
	return MPC_OK;
}

static void cnt_free(void *ctx) {
	free(ctx);
}

static const mpc_preproc_ops counting = {
    .name = "counting",
    .triples = cnt_triples,
    .trunc_pairs = cnt_trunc,
    .bits = cnt_bits,
    .free = cnt_free, /* no bit triples */
};

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return mpc_error(MPC_ECHEAT, "party %d: %s failed (%s:%d)",                \
			                 mpc_party_id(p), #cond, __FILE__, __LINE__);              \
	} while (0)

/* first..first+n-1 in a, b and c */
static int run_of(mpc_ring r, const mpc_triples *t, size_t n, int64_t first) {
	for (size_t e = 0; e < n; e++)
		if (mpc_ring_get_i64(r, t->a.v, e) != first + (int64_t)e ||
		    mpc_ring_get_i64(r, t->c.v, e) != first + (int64_t)e)
			return 0;
	return 1;
}

static mpc_err body_fifo(mpc_party *p, void *arg) {
	counter *k = calloc(1, sizeof(*k));
	mpc_triples t = {0};
	mpc_truncpairs tp = {0};
	mpc_vec bits = {0};
	mpc_bit_triples bt = {0};
	mpc_pool_plan plan = {0};
	(void)arg;
	if (k == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_party_set_preproc(p, (mpc_preproc){.ops = &counting, .ctx = k});
	EXPECT(mpc_pool_install(p) == MPC_OK);
	mpc_preproc *pre = mpc_party_preproc(p);
	EXPECT(mpc_pool_is(pre));
	/* record mode passes through: 0..4 */
	EXPECT(mpc_triples_get(p, MPC_Z64, 5, &t) == MPC_OK && run_of(MPC_Z64, &t, 5, 0));
	mpc_triples_fini(&t);
	/* fill: triples 5..14 (Z_2^64), pairs 15..17 (f 8), bits 18..21 (Z_2^128) */
	plan.triples[0] = 10;
	plan.n_trunc = 1;
	plan.trunc[0].ring_bits = 64;
	plan.trunc[0].f = 8;
	plan.trunc[0].n = 3;
	plan.bits[1] = 4;
	EXPECT(mpc_pool_fill(p, &plan) == MPC_OK);
	EXPECT(k->next == 22);
	/* served in order: 4 then 6, then a miss of 3: 2 from... none left, so
	 * all 3 from the inner backend (22..24) */
	EXPECT(mpc_triples_get(p, MPC_Z64, 4, &t) == MPC_OK && run_of(MPC_Z64, &t, 4, 5));
	mpc_triples_fini(&t);
	EXPECT(mpc_triples_get(p, MPC_Z64, 6, &t) == MPC_OK && run_of(MPC_Z64, &t, 6, 9));
	mpc_triples_fini(&t);
	EXPECT(mpc_pool_get_stats(pre)->misses == 0);
	EXPECT(mpc_triples_get(p, MPC_Z64, 3, &t) == MPC_OK && run_of(MPC_Z64, &t, 3, 22));
	mpc_triples_fini(&t);
	EXPECT(mpc_pool_get_stats(pre)->misses == 1 && mpc_pool_get_stats(pre)->missed == 3);
	/* another ring has no stock: from the inner backend (25..26) */
	EXPECT(mpc_triples_get(p, MPC_Z128, 2, &t) == MPC_OK && run_of(MPC_Z128, &t, 2, 25));
	mpc_triples_fini(&t);
	/* pairs: a partial miss, 15..17 then 27 */
	EXPECT(mpc_truncpairs_get(p, MPC_Z64, 8, 4, &tp) == MPC_OK);
	for (size_t e = 0; e < 4; e++) {
		int64_t want = e < 3 ? 15 + (int64_t)e : 27;
		EXPECT(mpc_ring_get_i64(MPC_Z64, tp.r.v, e) == want);
		EXPECT(mpc_ring_get_i64(MPC_Z64, tp.r_hi.v, e) == want + 8);
	}
	mpc_truncpairs_fini(&tp);
	/* pairs for another f: none in stock (28) */
	EXPECT(mpc_truncpairs_get(p, MPC_Z64, 9, 1, &tp) == MPC_OK);
	EXPECT(mpc_ring_get_i64(MPC_Z64, tp.r.v, 0) == 28);
	mpc_truncpairs_fini(&tp);
	/* bits in Z_2^128: 18..21, the high halves zero */
	EXPECT(mpc_bits_get(p, MPC_Z128, 4, &bits) == MPC_OK);
	for (size_t e = 0; e < 4; e++) {
		_Alignas(16) uint8_t one[16] = {0};
		mpc_ring_set_i64(MPC_Z128, one, 0, 18 + (int64_t)e);
		EXPECT(memcmp((uint8_t *)bits.v + 16 * e, one, 16) == 0);
	}
	mpc_vec_fini(&bits);
	/* the counting backend has no bit triples: an error names it */
	EXPECT(mpc_bit_triples_get(p, 1, &bt) == MPC_EINVAL);
	EXPECT(strstr(mpc_error_detail(), "counting") != NULL);
	plan = (mpc_pool_plan){.bit_triple_words = 1};
	EXPECT(mpc_pool_fill(p, &plan) == MPC_EINVAL);
	/* malformed plans */
	plan = (mpc_pool_plan){.n_trunc = MPC_POOL_TRUNC_KINDS + 1};
	EXPECT(mpc_pool_fill(p, &plan) == MPC_EINVAL);
	plan = (mpc_pool_plan){.n_trunc = 1};
	plan.trunc[0].ring_bits = 64;
	plan.trunc[0].f = 64;
	EXPECT(mpc_pool_fill(p, &plan) == MPC_EINVAL);
	plan.trunc[0].ring_bits = 32;
	plan.trunc[0].f = 8;
	EXPECT(mpc_pool_fill(p, &plan) == MPC_EINVAL);
	/* the recorded totals since the pool was made */
	EXPECT(mpc_pool_plan_get(pre, &plan) == MPC_OK);
	EXPECT(plan.triples[0] == 18 && plan.triples[1] == 2 && plan.bits[1] == 4 &&
	       plan.n_trunc == 2 && plan.trunc[0].n == 4 && plan.trunc[1].f == 9);
	/* record mode again: pass through, the stock stays for the next fill */
	plan = (mpc_pool_plan){.triples = {3, 0}};
	EXPECT(mpc_pool_fill(p, &plan) == MPC_OK); /* 29..31 */
	EXPECT(mpc_pool_record(pre) == MPC_OK);
	EXPECT(mpc_triples_get(p, MPC_Z64, 1, &t) == MPC_OK && run_of(MPC_Z64, &t, 1, 32));
	mpc_triples_fini(&t);
	plan = (mpc_pool_plan){.triples = {1, 0}};
	EXPECT(mpc_pool_fill(p, &plan) == MPC_OK); /* 33, after 29..31 */
	uint64_t m0 = mpc_pool_get_stats(pre)->misses;
	EXPECT(m0 == 5); /* Z_2^64 and Z_2^128 triples, two pairs, the bit triples */
	EXPECT(mpc_triples_get(p, MPC_Z64, 4, &t) == MPC_OK && run_of(MPC_Z64, &t, 3, 29));
	EXPECT(mpc_ring_get_i64(MPC_Z64, t.b.v, 3) == 33);
	mpc_triples_fini(&t);
	EXPECT(mpc_pool_get_stats(pre)->misses == m0);
	/* not a pool */
	mpc_preproc other = {.ops = &counting, .ctx = NULL};
	EXPECT(mpc_pool_is(&other) == 0 && mpc_pool_get_stats(&other) == NULL);
	EXPECT(mpc_pool_plan_get(&other, &plan) == MPC_EINVAL);
	return MPC_OK;
}

static void test_fifo(void **s) {
	(void)s;
	mpc_local_config cfg = {.n_parties = 2, .timeout_ms = 20000, .watchdog_s = 60};
	mpc_local_result res[2];
	assert_int_equal(mpc_local_run(&cfg, body_fifo, NULL, res), MPC_OK);
	for (int i = 0; i < 2; i++) {
		if (res[i].err != MPC_OK)
			print_error("party %d: %s\n", i, res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
	}
	mpc_local_results_fini(res, 2);
}

/* Plans add and scale kind by kind; overflow and too many kinds refused. */
static void test_plan_arith(void **s) {
	(void)s;
	mpc_pool_plan a = {.triples = {1, 2}, .bits = {3, 4}, .bit_triple_words = 5, .n_trunc = 1};
	a.trunc[0].ring_bits = 128;
	a.trunc[0].f = 16;
	a.trunc[0].n = 6;
	mpc_pool_plan b = a;
	b.trunc[0].f = 20;
	assert_int_equal(mpc_pool_plan_add(&a, &b), MPC_OK);
	assert_int_equal(a.triples[1], 4);
	assert_int_equal(a.n_trunc, 2);
	assert_int_equal(a.trunc[0].n, 6);
	assert_int_equal(a.trunc[1].n, 6);
	assert_int_equal(mpc_pool_plan_scale(&a, 1000), MPC_OK);
	assert_int_equal(a.bit_triple_words, 10000);
	assert_int_equal(a.trunc[1].n, 6000);
	assert_int_equal(mpc_pool_plan_scale(&a, UINT64_MAX / 1000), MPC_EINVAL);
	mpc_pool_plan many = {0}, one = {.n_trunc = 1};
	for (unsigned f = 1; f <= MPC_POOL_TRUNC_KINDS; f++) {
		one.trunc[0].ring_bits = 64;
		one.trunc[0].f = f;
		one.trunc[0].n = 1;
		assert_int_equal(mpc_pool_plan_add(&many, &one), MPC_OK);
	}
	one.trunc[0].f = 60;
	assert_int_equal(mpc_pool_plan_add(&many, &one), MPC_EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_arith),   cmocka_unit_test(test_fifo),
	    cmocka_unit_test(test_serve_dealer), cmocka_unit_test(test_miss_dealer),
	    cmocka_unit_test(test_serve_ot),     cmocka_unit_test(test_miss_ot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
