/* Store first, then on demand (see mpc_store_backend.h). */
#include "protocols/preproc/mpc_store_backend.h"
#include "runtime/mpc_bytes.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define N_TYPES 16

typedef struct {
	mpc_store *store;
	mpc_preproc inner;
	mpc_store_backend_stats st;
	/* types whose store is not used any more in this run */
	mpc_mat_type off[N_TYPES];
	int n_off;
} stored_ctx;

static int same_type(mpc_mat_type a, mpc_mat_type b) {
	return a.kind == b.kind && a.ring_bits == b.ring_bits && a.f == b.f;
}

#define REC 32 /* seq, available, batch id */

/* How many elements of type t every party takes from its store now. */
static mpc_err agree(stored_ctx *s, mpc_party *p, mpc_mat_type t, size_t n, size_t *k) {
	int np = mpc_party_size(p), me = mpc_party_id(p);
	uint8_t *all = NULL;
	char name[64];
	mpc_err err = MPC_OK;

	*k = 0;
	for (int i = 0; i < s->n_off; i++)
		if (same_type(s->off[i], t))
			return MPC_OK;
	if ((all = calloc((size_t)np, REC)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_mat_name(t, name, sizeof(name));
	for (int attempt = 0; attempt < 2; attempt++) {
		mpc_store_pos pos;
		uint8_t *mine = all + (size_t)me * REC;
		if ((err = mpc_store_position(s->store, t, &pos)) != MPC_OK)
			goto out;
		mpc_put64(mine, pos.seq);
		mpc_put64(mine + 8, mpc_store_available(s->store, t));
		memcpy(mine + 16, pos.batch_id, 16);
		if ((err = mpc_party_bcast(p, mine, all, REC)) != MPC_OK)
			goto out;
		uint64_t max_seq = 0, min_avail = UINT64_MAX;
		int lo = 0, hi = 0, ids_differ = 0;
		for (int i = 0; i < np; i++) {
			const uint8_t *r = all + (size_t)i * REC;
			uint64_t seq = mpc_get64(r), av = mpc_get64(r + 8);
			if (seq > max_seq)
				max_seq = seq, hi = i;
			if (seq < mpc_get64(all + (size_t)lo * REC))
				lo = i;
			if (av < min_avail)
				min_avail = av;
			if (memcmp(r + 16, mine + 16, 16) != 0)
				ids_differ = 1;
		}
		if (mpc_get64(all + (size_t)lo * REC) != max_seq) {
			if (attempt > 0) {
				err = mpc_error(MPC_EPROTO,
				                "%s: the stores are still out of step after "
				                "skipping ahead",
				                name);
				goto out;
			}
			mpc_warn("%s: stores out of step (party %d has used %" PRIu64
			         ", party %d %" PRIu64 "): every party skips to %" PRIu64
			         "; what lies between is discarded, "
			         "never used",
			         name, lo, mpc_get64(all + (size_t)lo * REC), hi, max_seq, max_seq);
			if ((err = mpc_store_skip_to(s->store, t, max_seq)) != MPC_OK)
				goto out;
			continue;
		}
		if (ids_differ) {
			mpc_warn(
			    "%s: the stores hold batches from different preprocessing runs "
			    "(batch ids differ at position %" PRIu64
			    "); not using them in this run: "
			    "delete the stores and run `mpc-party preprocess` again at every party",
			    name, max_seq);
			if (s->n_off < N_TYPES)
				s->off[s->n_off++] = t;
			goto out;
		}
		*k = min_avail < n ? (size_t)min_avail : n;
		break;
	}
out:
	free(all);
	return err;
}

/* Test hook (tests/loopback/test_party_cli.c): MPC_TEST_CRASH_AT_TAKE=before
 * or after kills this process just before or just after it takes material
 * from its store, as a crash would. */
static void crash_hook(const char *when) {
	const char *v = getenv("MPC_TEST_CRASH_AT_TAKE");
	if (v && strcmp(v, when) == 0) {
		mpc_warn("MPC_TEST_CRASH_AT_TAKE=%s: killing this process (test hook)", when);
		raise(SIGKILL);
	}
}

/* Take k elements of t into buf (k * elem bytes). */
static mpc_err take(stored_ctx *s, mpc_mat_type t, size_t k, uint8_t *buf) {
	size_t got = 0;
	crash_hook("before");
	mpc_err err = mpc_store_take(s->store, t, k, buf, &got);
	crash_hook("after");
	if (err == MPC_OK && got != k)
		err = mpc_error(MPC_EIO, "the store gave %zu elements where it had %zu", got, k);
	if (err == MPC_OK)
		s->st.from_store += k;
	return err;
}

/* Split k interleaved elements of `parts` fields of fb bytes into arrays. */
static void split(const uint8_t *buf, size_t k, size_t fb, int parts, uint8_t **dst) {
	for (size_t e = 0; e < k; e++)
		for (int q = 0; q < parts; q++)
			memcpy(dst[q] + e * fb, buf + (e * (size_t)parts + (size_t)q) * fb, fb);
}

/* The common path: k from the store into dst[0..parts), the rest by `make`. */
static mpc_err from_store(stored_ctx *s, mpc_party *p, mpc_mat_type t, size_t n, size_t fb,
                          int parts, uint8_t **dst, size_t *k) {
	uint8_t *buf;
	mpc_err err;

	if ((err = agree(s, p, t, n, k)) != MPC_OK || *k == 0)
		return err;
	size_t bytes = *k * fb * (size_t)parts;
	if ((buf = malloc(bytes)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for %zu stored elements", *k);
	if ((err = take(s, t, *k, buf)) == MPC_OK)
		split(buf, *k, fb, parts, dst);
	mpc_wipe(buf, bytes);
	free(buf);
	return err;
}

static mpc_err st_triples(void *vctx, mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
                          void *c) {
	stored_ctx *s = vctx;
	size_t eb = mpc_ring_bytes(r), k;
	uint8_t *dst[3] = {a, b, c};
	mpc_mat_type t = {MPC_MAT_TRIPLES, mpc_ring_bits(r), 0};
	mpc_err err = from_store(s, p, t, n, eb, 3, dst, &k);
	if (err != MPC_OK || k == n)
		return err;
	s->st.made += n - k;
	return s->inner.ops->triples(s->inner.ctx, p, r, n - k, dst[0] + k * eb, dst[1] + k * eb,
	                             dst[2] + k * eb);
}

static mpc_err st_trunc(void *vctx, mpc_party *p, mpc_ring r, unsigned f, size_t n, void *rr,
                        void *r_hi) {
	stored_ctx *s = vctx;
	size_t eb = mpc_ring_bytes(r), k;
	uint8_t *dst[2] = {rr, r_hi};
	mpc_mat_type t = {MPC_MAT_TRUNC, mpc_ring_bits(r), f};
	mpc_err err = from_store(s, p, t, n, eb, 2, dst, &k);
	if (err != MPC_OK || k == n)
		return err;
	s->st.made += n - k;
	return s->inner.ops->trunc_pairs(s->inner.ctx, p, r, f, n - k, dst[0] + k * eb,
	                                 dst[1] + k * eb);
}

static mpc_err st_bits(void *vctx, mpc_party *p, mpc_ring r, size_t n, void *out) {
	stored_ctx *s = vctx;
	size_t eb = mpc_ring_bytes(r), k;
	uint8_t *dst[1] = {out};
	mpc_mat_type t = {MPC_MAT_BITS, mpc_ring_bits(r), 0};
	if (s->inner.ops->bits == NULL)
		return mpc_error(MPC_EINVAL, "the %s backend gives no random bits",
		                 s->inner.ops->name);
	mpc_err err = from_store(s, p, t, n, eb, 1, dst, &k);
	if (err != MPC_OK || k == n)
		return err;
	s->st.made += n - k;
	return s->inner.ops->bits(s->inner.ctx, p, r, n - k, dst[0] + k * eb);
}

static mpc_err st_bit_triples(void *vctx, mpc_party *p, size_t n, uint64_t *a, uint64_t *b,
                              uint64_t *c) {
	stored_ctx *s = vctx;
	size_t k;
	uint8_t *dst[3] = {(uint8_t *)a, (uint8_t *)b, (uint8_t *)c};
	mpc_mat_type t = {MPC_MAT_BIT_TRIPLES, 1, 0};
	if (s->inner.ops->bit_triples == NULL)
		return mpc_error(MPC_EINVAL, "the %s backend gives no bit triples",
		                 s->inner.ops->name);
	mpc_err err = from_store(s, p, t, n, 8, 3, dst, &k);
	if (err != MPC_OK || k == n)
		return err;
	s->st.made += n - k;
	return s->inner.ops->bit_triples(s->inner.ctx, p, n - k, a + k, b + k, c + k);
}

static void st_free(void *vctx) {
	stored_ctx *s = vctx;
	if (s == NULL)
		return;
	if (s->inner.ops && s->inner.ops->free)
		s->inner.ops->free(s->inner.ctx);
	mpc_store_close(s->store);
	free(s);
}

static const mpc_preproc_ops stored_ops = {
    .name = "store",
    .triples = st_triples,
    .trunc_pairs = st_trunc,
    .bits = st_bits,
    .bit_triples = st_bit_triples,
    .free = st_free,
};

mpc_err mpc_store_backend(mpc_preproc *out, mpc_store *store, mpc_preproc inner) {
	stored_ctx *s = calloc(1, sizeof(*s));
	*out = (mpc_preproc){0};
	if (s == NULL) {
		if (inner.ops && inner.ops->free)
			inner.ops->free(inner.ctx);
		mpc_store_close(store);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	s->store = store;
	s->inner = inner;
	*out = (mpc_preproc){.ops = &stored_ops, .ctx = s};
	return MPC_OK;
}

const mpc_store_backend_stats *mpc_store_backend_get_stats(const mpc_preproc *pre) {
	if (pre == NULL || pre->ops != &stored_ops)
		return NULL;
	return &((const stored_ctx *)pre->ctx)->st;
}

mpc_err mpc_store_backend_batch_id(mpc_party *p, uint8_t id[16]) {
	int np = mpc_party_size(p);
	uint8_t *all = calloc((size_t)np, 16);
	mpc_err err = MPC_OK;

	if (all == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if (mpc_party_id(p) == 0)
		err = mpc_party_prg_own(p, all, 16);
	/* everyone sends its slot; only party 0's counts */
	if (err == MPC_OK)
		err = mpc_party_bcast(p, all + (size_t)mpc_party_id(p) * 16, all, 16);
	if (err == MPC_OK)
		memcpy(id, all, 16);
	free(all);
	return err;
}
