/* In-memory prefetch pool over another preprocessing backend (mpc_pool.h). */
#include "protocols/preproc/mpc_pool.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

/* One kind of material in memory: `parts` arrays of elements of eb bytes;
 * elements [head, len) are in stock, FIFO. */
typedef struct {
	int parts;
	size_t eb;
	size_t head, len;
	uint8_t *v[3];
} stock;

typedef struct {
	mpc_preproc inner;
	int serving;
	mpc_pool_plan rec;
	stock triples[2], bits[2], bit_triples;
	stock trunc[MPC_POOL_TRUNC_KINDS];
	uint32_t trunc_key[MPC_POOL_TRUNC_KINDS][2]; /* ring bits, f */
	int n_trunc;
	mpc_pool_stats st;
} pool;

static const mpc_preproc_ops pool_ops;

static int ring_ix(mpc_ring r) {
	return r == MPC_Z128;
}

static void stock_wipe(stock *s) {
	for (int q = 0; q < s->parts; q++)
		if (s->v[q]) {
			mpc_wipe(s->v[q] + s->head * s->eb, (s->len - s->head) * s->eb);
			free(s->v[q]);
			s->v[q] = NULL;
		}
	s->head = s->len = 0;
}

/* Serve up to n elements into dst[] from the stock; *k gets how many.
 * What was handed out is wiped here at once. */
static void stock_take(stock *s, size_t n, uint8_t *const *dst, size_t *k) {
	size_t avail = s->len - s->head;
	*k = n < avail ? n : avail;
	for (int q = 0; q<s->parts && * k> 0; q++) {
		uint8_t *src = s->v[q] + s->head * s->eb;
		memcpy(dst[q], src, *k * s->eb);
		mpc_wipe(src, *k * s->eb);
	}
	s->head += *k;
	if (s->head == s->len)
		stock_wipe(s);
}

/* Room for n more elements after what is in stock: new arrays hold the old
 * stock at the front; *tail[q] points where the new elements go. */
/* A fetch into tail[] failed: wipe what the inner backend may have written
 * there (stock_wipe only covers [head, len)) and return err. */
static mpc_err fetch_failed(const stock *s, uint8_t *const *tail, size_t n, mpc_err err) {
	for (int q = 0; q < s->parts; q++)
		mpc_wipe(tail[q], n * s->eb);
	return err;
}

static mpc_err stock_grow(stock *s, size_t n, uint8_t **tail) {
	size_t have = s->len - s->head, total = have + n;
	uint8_t *nv[3] = {NULL, NULL, NULL};

	if (total < have || total > (SIZE_MAX - 15) / s->eb)
		return mpc_error(MPC_ENOMEM, "pool: %zu elements overflow", n);
	for (int q = 0; q < s->parts; q++) {
		size_t bytes = (total * s->eb + 15) & ~(size_t)15;
		if ((nv[q] = aligned_alloc(16, bytes)) == NULL) {
			for (int j = 0; j < q; j++)
				free(nv[j]);
			return mpc_error(MPC_ENOMEM, "pool: out of memory for %zu elements", total);
		}
		if (have)
			memcpy(nv[q], s->v[q] + s->head * s->eb, have * s->eb);
	}
	stock_wipe(s);
	for (int q = 0; q < s->parts; q++) {
		s->v[q] = nv[q];
		tail[q] = nv[q] + have * s->eb;
	}
	s->len = have; /* raised by the caller once the elements are there */
	return MPC_OK;
}

/* Recorded totals. */
static mpc_err rec_trunc(mpc_pool_plan *pl, mpc_ring r, unsigned f, uint64_t n) {
	for (uint32_t i = 0; i < pl->n_trunc; i++)
		if (pl->trunc[i].ring_bits == mpc_ring_bits(r) && pl->trunc[i].f == f) {
			pl->trunc[i].n += n;
			return MPC_OK;
		}
	if (pl->n_trunc == MPC_POOL_TRUNC_KINDS)
		return mpc_error(MPC_EINVAL, "pool: more than %d kinds of truncation pairs",
		                 MPC_POOL_TRUNC_KINDS);
	pl->trunc[pl->n_trunc].ring_bits = mpc_ring_bits(r);
	pl->trunc[pl->n_trunc].f = f;
	pl->trunc[pl->n_trunc].n = n;
	pl->n_trunc++;
	return MPC_OK;
}

static stock *trunc_stock(pool *s, mpc_ring r, unsigned f, int create) {
	for (int i = 0; i < s->n_trunc; i++)
		if (s->trunc_key[i][0] == mpc_ring_bits(r) && s->trunc_key[i][1] == f)
			return &s->trunc[i];
	if (!create || s->n_trunc == MPC_POOL_TRUNC_KINDS)
		return NULL;
	s->trunc_key[s->n_trunc][0] = mpc_ring_bits(r);
	s->trunc_key[s->n_trunc][1] = f;
	s->trunc[s->n_trunc] = (stock){.parts = 2, .eb = mpc_ring_bytes(r)};
	return &s->trunc[s->n_trunc++];
}

/* The part of a request the stock cannot serve: *k served, the rest from the
 * inner backend. Counts. */
static void count(pool *s, size_t n, size_t k) {
	if (!s->serving) {
		s->st.passed += n;
		return;
	}
	s->st.served += k;
	if (k < n) {
		s->st.misses++;
		s->st.missed += n - k;
	}
}

static mpc_err pool_triples(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
                            void *c) {
	pool *s = ctx;
	size_t eb = mpc_ring_bytes(r), k = 0;
	uint8_t *dst[3] = {a, b, c};

	s->rec.triples[ring_ix(r)] += n;
	if (s->serving)
		stock_take(&s->triples[ring_ix(r)], n, dst, &k);
	count(s, n, k);
	if (k == n)
		return MPC_OK;
	return s->inner.ops->triples(s->inner.ctx, p, r, n - k, dst[0] + k * eb, dst[1] + k * eb,
	                             dst[2] + k * eb);
}

static mpc_err pool_trunc(void *ctx, mpc_party *p, mpc_ring r, unsigned f, size_t n, void *rr,
                          void *r_hi) {
	pool *s = ctx;
	size_t eb = mpc_ring_bytes(r), k = 0;
	uint8_t *dst[2] = {rr, r_hi};

	/* a kind beyond what a plan holds is not recorded (so never stocked): the
	 * inner backend serves it, as it would without a pool */
	if (rec_trunc(&s->rec, r, f, n) != MPC_OK)
		mpc_error_clear();
	stock *st = s->serving ? trunc_stock(s, r, f, 0) : NULL;
	if (st)
		stock_take(st, n, dst, &k);
	count(s, n, k);
	if (k == n)
		return MPC_OK;
	return s->inner.ops->trunc_pairs(s->inner.ctx, p, r, f, n - k, dst[0] + k * eb,
	                                 dst[1] + k * eb);
}

static mpc_err pool_bits(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *out) {
	pool *s = ctx;
	size_t eb = mpc_ring_bytes(r), k = 0;
	uint8_t *dst[1] = {out};

	s->rec.bits[ring_ix(r)] += n;
	if (s->serving)
		stock_take(&s->bits[ring_ix(r)], n, dst, &k);
	count(s, n, k);
	if (k == n)
		return MPC_OK;
	if (s->inner.ops->bits == NULL)
		return mpc_error(MPC_EINVAL,
		                 "pool: the %s backend under it gives no random shared bits",
		                 s->inner.ops->name);
	return s->inner.ops->bits(s->inner.ctx, p, r, n - k, dst[0] + k * eb);
}

static mpc_err pool_bit_triples(void *ctx, mpc_party *p, size_t n, uint64_t *a, uint64_t *b,
                                uint64_t *c) {
	pool *s = ctx;
	size_t k = 0;
	uint8_t *dst[3] = {(uint8_t *)a, (uint8_t *)b, (uint8_t *)c};

	s->rec.bit_triple_words += n;
	if (s->serving)
		stock_take(&s->bit_triples, n, dst, &k);
	count(s, n, k);
	if (k == n)
		return MPC_OK;
	if (s->inner.ops->bit_triples == NULL)
		return mpc_error(MPC_EINVAL, "pool: the %s backend under it gives no bit triples",
		                 s->inner.ops->name);
	return s->inner.ops->bit_triples(s->inner.ctx, p, n - k, a + k, b + k, c + k);
}

static void pool_free(void *ctx) {
	pool *s = ctx;
	if (s == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		stock_wipe(&s->triples[i]);
		stock_wipe(&s->bits[i]);
	}
	stock_wipe(&s->bit_triples);
	for (int i = 0; i < s->n_trunc; i++)
		stock_wipe(&s->trunc[i]);
	if (s->inner.ops && s->inner.ops->free)
		s->inner.ops->free(s->inner.ctx);
	mpc_wipe(s, sizeof(*s));
	free(s);
}

static const mpc_preproc_ops pool_ops = {
    .name = "pool",
    .triples = pool_triples,
    .trunc_pairs = pool_trunc,
    .bits = pool_bits,
    .bit_triples = pool_bit_triples,
    .free = pool_free,
};

mpc_err mpc_pool_new(mpc_preproc *out, mpc_preproc inner) {
	pool *s;

	*out = (mpc_preproc){0};
	if (inner.ops == NULL || inner.ops->triples == NULL || inner.ops->trunc_pairs == NULL) {
		if (inner.ops && inner.ops->free)
			inner.ops->free(inner.ctx);
		return mpc_error(MPC_EINVAL, "pool: no backend to wrap");
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		if (inner.ops->free)
			inner.ops->free(inner.ctx);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	s->inner = inner;
	for (int i = 0; i < 2; i++) {
		mpc_ring r = i ? MPC_Z128 : MPC_Z64;
		s->triples[i] = (stock){.parts = 3, .eb = mpc_ring_bytes(r)};
		s->bits[i] = (stock){.parts = 1, .eb = mpc_ring_bytes(r)};
	}
	s->bit_triples = (stock){.parts = 3, .eb = 8};
	*out = (mpc_preproc){.ops = &pool_ops, .ctx = s};
	return MPC_OK;
}

mpc_err mpc_pool_install(mpc_party *p) {
	mpc_preproc *cur = mpc_party_preproc(p), inner = *cur, pre;
	mpc_err err;

	if (inner.ops == NULL)
		return mpc_error(MPC_EINVAL, "pool: party %d has no preprocessing backend to wrap",
		                 mpc_party_id(p));
	*cur = (mpc_preproc){0}; /* detached: the pool owns it now */
	if ((err = mpc_pool_new(&pre, inner)) != MPC_OK)
		return err;
	mpc_party_set_preproc(p, pre);
	return MPC_OK;
}

int mpc_pool_is(const mpc_preproc *pre) {
	return pre && pre->ops == &pool_ops && pre->ctx;
}

static pool *get(const mpc_preproc *pre) {
	return mpc_pool_is(pre) ? pre->ctx : NULL;
}

mpc_err mpc_pool_plan_get(const mpc_preproc *pre, mpc_pool_plan *out) {
	pool *s = get(pre);
	*out = (mpc_pool_plan){0};
	if (s == NULL)
		return mpc_error(MPC_EINVAL, "pool: the installed backend is not a pool");
	*out = s->rec;
	return MPC_OK;
}

mpc_err mpc_pool_left(const mpc_preproc *pre, mpc_pool_plan *out) {
	pool *s = get(pre);
	*out = (mpc_pool_plan){0};
	if (s == NULL)
		return mpc_error(MPC_EINVAL, "pool: the installed backend is not a pool");
	for (int i = 0; i < 2; i++) {
		out->triples[i] = s->triples[i].len - s->triples[i].head;
		out->bits[i] = s->bits[i].len - s->bits[i].head;
	}
	out->bit_triple_words = s->bit_triples.len - s->bit_triples.head;
	for (int i = 0; i < s->n_trunc; i++) {
		out->trunc[i].ring_bits = s->trunc_key[i][0];
		out->trunc[i].f = s->trunc_key[i][1];
		out->trunc[i].n = s->trunc[i].len - s->trunc[i].head;
	}
	out->n_trunc = (uint32_t)s->n_trunc;
	return MPC_OK;
}

mpc_err mpc_pool_record(mpc_preproc *pre) {
	pool *s = get(pre);
	if (s == NULL)
		return mpc_error(MPC_EINVAL, "pool: the installed backend is not a pool");
	s->serving = 0;
	s->rec = (mpc_pool_plan){0};
	return MPC_OK;
}

static mpc_err plan_check(const mpc_pool_plan *pl) {
	if (pl->n_trunc > MPC_POOL_TRUNC_KINDS)
		return mpc_error(MPC_EINVAL,
		                 "pool: a plan with %u kinds of truncation pairs (at most %d)",
		                 pl->n_trunc, MPC_POOL_TRUNC_KINDS);
	for (uint32_t i = 0; i < pl->n_trunc; i++) {
		uint32_t b = pl->trunc[i].ring_bits, f = pl->trunc[i].f;
		if ((b != 64 && b != 128) || f == 0 || f >= b || pl->trunc[i].n > SIZE_MAX / 16)
			return mpc_error(MPC_EINVAL,
			                 "pool: a plan with %llu truncation pairs for f = %u "
			                 "in Z_2^%u",
			                 (unsigned long long)pl->trunc[i].n, f, b);
	}
	uint64_t all[5] = {pl->triples[0], pl->triples[1], pl->bits[0], pl->bits[1],
	                   pl->bit_triple_words};
	for (int i = 0; i < 5; i++)
		if (all[i] > SIZE_MAX / 16)
			return mpc_error(MPC_EINVAL, "pool: a plan with %llu elements of one kind",
			                 (unsigned long long)all[i]);
	return MPC_OK;
}

/* The fixed order of a fill: triples (Z_2^64, Z_2^128), truncation pairs in
 * plan order, bits (Z_2^64, Z_2^128), bit triples. */
mpc_err mpc_pool_fill(mpc_party *p, const mpc_pool_plan *plan) {
	mpc_preproc *pre = mpc_party_preproc(p);
	pool *s = get(pre);
	uint8_t *tail[3];
	mpc_err err;

	if (s == NULL)
		return mpc_error(MPC_EINVAL, "pool: party %d's backend is not a pool",
		                 mpc_party_id(p));
	if ((err = plan_check(plan)) != MPC_OK)
		return err;
	const mpc_preproc_ops *in = s->inner.ops;
	for (int i = 0; i < 2; i++) {
		size_t n = (size_t)plan->triples[i];
		stock *st = &s->triples[i];
		if (n == 0)
			continue;
		if ((err = stock_grow(st, n, tail)) != MPC_OK)
			return err;
		if ((err = in->triples(s->inner.ctx, p, i ? MPC_Z128 : MPC_Z64, n, tail[0], tail[1],
		                       tail[2])) != MPC_OK)
			return fetch_failed(st, tail, n, err);
		st->len += n;
		s->st.fetched += n;
	}
	for (uint32_t i = 0; i < plan->n_trunc; i++) {
		size_t n = (size_t)plan->trunc[i].n;
		mpc_ring r = plan->trunc[i].ring_bits == 128 ? MPC_Z128 : MPC_Z64;
		if (n == 0)
			continue;
		stock *st = trunc_stock(s, r, plan->trunc[i].f, 1);
		if (st == NULL)
			return mpc_error(MPC_EINVAL, "pool: more than %d kinds of truncation pairs",
			                 MPC_POOL_TRUNC_KINDS);
		if ((err = stock_grow(st, n, tail)) != MPC_OK)
			return err;
		if ((err = in->trunc_pairs(s->inner.ctx, p, r, plan->trunc[i].f, n, tail[0],
		                           tail[1])) != MPC_OK)
			return fetch_failed(st, tail, n, err);
		st->len += n;
		s->st.fetched += n;
	}
	for (int i = 0; i < 2; i++) {
		size_t n = (size_t)plan->bits[i];
		stock *st = &s->bits[i];
		if (n == 0)
			continue;
		if (in->bits == NULL)
			return mpc_error(MPC_EINVAL,
			                 "pool: the %s backend under it gives no random "
			                 "shared bits",
			                 in->name);
		if ((err = stock_grow(st, n, tail)) != MPC_OK)
			return err;
		if ((err = in->bits(s->inner.ctx, p, i ? MPC_Z128 : MPC_Z64, n, tail[0])) != MPC_OK)
			return fetch_failed(st, tail, n, err);
		st->len += n;
		s->st.fetched += n;
	}
	if (plan->bit_triple_words) {
		size_t n = (size_t)plan->bit_triple_words;
		stock *st = &s->bit_triples;
		if (in->bit_triples == NULL)
			return mpc_error(MPC_EINVAL,
			                 "pool: the %s backend under it gives no bit "
			                 "triples",
			                 in->name);
		if ((err = stock_grow(st, n, tail)) != MPC_OK)
			return err;
		if ((err = in->bit_triples(s->inner.ctx, p, n, (uint64_t *)tail[0],
		                           (uint64_t *)tail[1], (uint64_t *)tail[2])) != MPC_OK)
			return fetch_failed(st, tail, n, err);
		st->len += n;
		s->st.fetched += n;
	}
	s->serving = 1;
	return MPC_OK;
}

const mpc_pool_stats *mpc_pool_get_stats(const mpc_preproc *pre) {
	pool *s = get(pre);
	return s ? &s->st : NULL;
}

static int mul_ok(uint64_t *v, uint64_t k) {
	if (k != 0 && *v > UINT64_MAX / k)
		return 0;
	*v *= k;
	return 1;
}

mpc_err mpc_pool_plan_scale(mpc_pool_plan *plan, uint64_t times) {
	int ok = 1;
	for (int i = 0; i < 2; i++)
		ok &= mul_ok(&plan->triples[i], times) & mul_ok(&plan->bits[i], times);
	ok &= mul_ok(&plan->bit_triple_words, times);
	for (uint32_t i = 0; i < plan->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		ok &= mul_ok(&plan->trunc[i].n, times);
	return ok ? MPC_OK
	          : mpc_error(MPC_EINVAL, "pool: plan times %llu overflows",
	                      (unsigned long long)times);
}

mpc_err mpc_pool_plan_add(mpc_pool_plan *acc, const mpc_pool_plan *add) {
	mpc_err err;
	for (int i = 0; i < 2; i++) {
		acc->triples[i] += add->triples[i];
		acc->bits[i] += add->bits[i];
	}
	acc->bit_triple_words += add->bit_triple_words;
	for (uint32_t i = 0; i < add->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		if ((err = rec_trunc(acc, add->trunc[i].ring_bits == 128 ? MPC_Z128 : MPC_Z64,
		                     add->trunc[i].f, add->trunc[i].n)) != MPC_OK)
			return err;
	return MPC_OK;
}
