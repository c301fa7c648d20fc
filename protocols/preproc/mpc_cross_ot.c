/* The OT engine behind mpc_cross.h: Gilboa's product over IKNP correlated
 * OTs (see mpc_ot.h for the OTs themselves).
 *
 * For x (receiver, xbits bits) times y (sender, ring Z_2^K): one OT per bit
 * x_k of x. The sender's two pads for OT k are v0 = H(q), v1 = H(q ^ Delta)
 * (as ring elements); it sends tau_k = v0 - v1 + y and keeps -2^k v0. The
 * receiver, whose pad is v_{x_k}, computes w_k = v_{x_k} + x_k tau_k =
 * v0 + x_k y and keeps 2^k w_k. Summed over k the shares add up to x*y.
 * Since tau_k is multiplied by 2^k, only its low K - k bits matter and only
 * those are sent (rounded up to whole bytes).
 *
 * What each side sees: the receiver sees tau_k = v0 - v1 + y, where the pad
 * it did not choose hides y (H is correlation robust and Delta unknown to
 * it); the sender sees the IKNP columns u_l, one-time padded by the PRG
 * stream of the seed it did not get in the base OTs. Neither learns the
 * other's input; the shares are uniformly random apart from their sum.
 *
 * Cost in Z_2^64 with xbits = 64: 64 OTs, i.e. 1024 bytes from the receiver
 * and 288 bytes from the sender per product. A triple at N parties needs
 * N-1 products as receiver and N-1 as sender per party: 2624 bytes per
 * party at 3 parties. */
#include "protocols/preproc/mpc_cross.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_party.h"
#include "protocols/preproc/mpc_ot.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the OT engine packs ring elements as little-endian bytes"
#endif

#define MAX_PARTIES 64
/* OTs per peer and direction in one chunk (two rounds): 2^16 keeps the
 * matrices at 1 MiB per peer, and measured faster on the 2-core benchmark
 * machine than 2^14, 2^15, 2^18 or 2^20. */
#define CHUNK_OTS ((size_t)1 << 16)
#define PIECE_OTS ((size_t)4096)

typedef struct {
	mpc_iknp_receiver rx; /* this party chooses */
	mpc_iknp_sender tx;   /* this party sends */
	mpc_ot_hash *hash;
} ot_peer;

typedef struct {
	int id, n;
	ot_peer *peer; /* n entries; peer[id] unused */
	/* per-chunk buffers, reused */
	uint8_t *buf;
	size_t cap;
} ot_ctx;

static void ot_free(void *vctx) {
	ot_ctx *c = vctx;
	if (c == NULL)
		return;
	if (c->peer)
		for (int j = 0; j < c->n; j++) {
			mpc_iknp_receiver_fini(&c->peer[j].rx);
			mpc_iknp_sender_fini(&c->peer[j].tx);
			mpc_ot_hash_free(c->peer[j].hash);
		}
	free(c->peer);
	if (c->buf) {
		mpc_wipe(c->buf, c->cap);
		free(c->buf);
	}
	mpc_wipe(c, sizeof(*c));
	free(c);
}

static mpc_err reserve(ot_ctx *c, size_t bytes) {
	if (c->cap >= bytes)
		return MPC_OK;
	if (c->buf) {
		mpc_wipe(c->buf, c->cap);
		free(c->buf);
	}
	c->cap = 0;
	if ((c->buf = aligned_alloc(64, (bytes + 63) / 64 * 64)) == NULL)
		return mpc_error(MPC_ENOMEM, "OT engine: out of memory (%zu MiB)", bytes >> 20);
	c->cap = bytes;
	return MPC_OK;
}

static inline size_t tau_bytes(unsigned K, unsigned k) {
	return (K - k + 7) / 8;
}

static size_t tau_elem_bytes(unsigned K, unsigned xbits) {
	size_t s = 0;
	for (unsigned k = 0; k < xbits; k++)
		s += tau_bytes(K, k);
	return s;
}

/* Choice bits of OT e*xbits + k = bit k of x[e]. */
static void pack_choices(unsigned K, unsigned xbits, size_t n, const void *x, uint8_t *ch,
                         size_t m) {
	memset(ch, 0, m / 8);
	if (xbits == K) {
		memcpy(ch, x, n * K / 8);
		return;
	}
	for (size_t e = 0; e < n; e++)
		for (unsigned k = 0; k < xbits; k++) {
			size_t o = e * xbits + k;
			unsigned bit = K == 64 ? (unsigned)(((const uint64_t *)x)[e] >> k) & 1
			                       : (unsigned)(((const mpc_u128 *)x)[e] >> k) & 1;
			ch[o / 8] |= (uint8_t)(bit << (o % 8));
		}
}

/* The sender's side for one peer: pads h0/h1 (16 bytes per OT) -> tau
 * message and this party's share added into out. */
#define SENDER(T, K)                                                                               \
	static void sender_##K(unsigned xbits, size_t n, const T *y, const uint8_t *h0,            \
	                       const uint8_t *h1, uint8_t *msg, T *out) {                          \
		for (size_t e = 0; e < n; e++) {                                                   \
			T acc = 0;                                                                 \
			for (unsigned k = 0; k < xbits; k++) {                                     \
				size_t o = e * xbits + k;                                          \
				T v0, v1, tau;                                                     \
				memcpy(&v0, h0 + 16 * o, sizeof(T));                               \
				memcpy(&v1, h1 + 16 * o, sizeof(T));                               \
				tau = v0 - v1 + y[e];                                              \
				acc -= v0 << k;                                                    \
				/* a whole T is stored; the next tau overwrites                    \
				 * what is beyond this one's bytes */                              \
				memcpy(msg, &tau, sizeof(T));                                      \
				msg += tau_bytes(K, k);                                            \
			}                                                                          \
			out[e] += acc;                                                             \
		}                                                                                  \
	}
#define RECEIVER(T, K)                                                                             \
	static void receiver_##K(unsigned xbits, size_t n, const T *x, const uint8_t *h,           \
	                         const uint8_t *msg, T *out) {                                     \
		for (size_t e = 0; e < n; e++) {                                                   \
			T acc = 0, xe = x[e];                                                      \
			for (unsigned k = 0; k < xbits; k++) {                                     \
				size_t o = e * xbits + k;                                          \
				T v, tau;                                                          \
				memcpy(&v, h + 16 * o, sizeof(T));                                 \
				/* bytes beyond this tau's belong to the next;                     \
				 * they end above bit K - k and vanish in << k */                  \
				memcpy(&tau, msg, sizeof(T));                                      \
				msg += tau_bytes(K, k);                                            \
				v += (T)(0 - (T)((xe >> k) & 1)) & tau;                            \
				acc += v << k;                                                     \
			}                                                                          \
			out[e] += acc;                                                             \
		}                                                                                  \
	}
SENDER(uint64_t, 64)
SENDER(mpc_u128, 128)
RECEIVER(uint64_t, 64)
RECEIVER(mpc_u128, 128)

static int in_mask(uint64_t mask, int i) {
	return (int)((mask >> i) & 1);
}

/* One chunk's buffers for one peer. */
typedef struct {
	uint8_t *u_out, *t_rows, *u_in;
} peer_bufs;

/* Round 1 of a chunk of m OTs: this party's IKNP columns to every peer it
 * takes products from (it is their OT receiver), and the columns of every
 * peer it gives products to. */
static mpc_err round1(ot_ctx *c, mpc_party *p, size_t m, const uint8_t *choice, uint8_t *cols,
                      const peer_bufs *pb, uint64_t recv_mask, uint64_t send_mask) {
	const void *sp[MAX_PARTIES] = {0};
	void *rp[MAX_PARTIES] = {0};
	size_t sl[MAX_PARTIES] = {0}, rl[MAX_PARTIES] = {0};
	int me = c->id;
	mpc_err err;

	for (int j = 0; j < c->n; j++) {
		if (j == me)
			continue;
		if (in_mask(recv_mask, me) && in_mask(send_mask, j)) {
			if ((err = mpc_iknp_receiver_extend(&c->peer[j].rx, m, choice, pb[j].u_out,
			                                    cols, pb[j].t_rows)) != MPC_OK)
				return err;
			sp[j] = pb[j].u_out;
			sl[j] = 16 * m;
		}
		if (in_mask(send_mask, me) && in_mask(recv_mask, j)) {
			rp[j] = pb[j].u_in;
			rl[j] = 16 * m;
		}
	}
	return mpc_net_exchange(mpc_party_net(p), sp, sl, rp, rl);
}

/* One chunk of ot_cross: cn elements of xbits bits in Z_2^K, m OTs, hashed
 * `piece` elements at a time into h0/h1. */
typedef struct {
	unsigned K, xbits;
	size_t cn, m, piece, tau_e;
	uint8_t *h0, *h1;
} ot_chunk;

/* Round 2, sender to receiver j: extend j's columns u_in into our pads,
 * hash them piece by piece while they are in cache, write the corrections
 * to tau_out and our shares of x y into oc. */
static mpc_err sender_corrections(ot_ctx *c, int j, const ot_chunk *k, uint8_t *u_in, uint8_t *cols,
                                  const uint8_t *yc, uint8_t *tau_out, uint8_t *oc) {
	ot_peer *pj = &c->peer[j];
	unsigned xbits = k->xbits;
	mpc_err err;
	if ((err = mpc_iknp_sender_extend(&pj->tx, k->m, u_in, cols, u_in)) != MPC_OK)
		return err;
	for (size_t e0 = 0; e0 < k->cn; e0 += k->piece) {
		size_t pe = k->cn - e0 < k->piece ? k->cn - e0 : k->piece;
		if ((err = mpc_ot_hash_pairs(pj->hash, u_in + 16 * e0 * xbits, pj->tx.delta, k->h0,
		                             k->h1, pe * xbits)) != MPC_OK)
			return err;
		if (k->K == 64)
			sender_64(xbits, pe, (const uint64_t *)yc + e0, k->h0, k->h1,
			          tau_out + e0 * k->tau_e, (uint64_t *)oc + e0);
		else
			sender_128(xbits, pe, (const mpc_u128 *)yc + e0, k->h0, k->h1,
			           tau_out + e0 * k->tau_e, (mpc_u128 *)oc + e0);
	}
	return MPC_OK;
}

/* After round 2, receiver of sender j: hash our rows t_rows piece by piece
 * and add our shares of x y (from j's corrections tau_in) into oc. */
static mpc_err receiver_shares(ot_ctx *c, int j, const ot_chunk *k, const uint8_t *t_rows,
                               const uint8_t *xc, const uint8_t *tau_in, uint8_t *oc) {
	unsigned xbits = k->xbits;
	mpc_err err;
	for (size_t e0 = 0; e0 < k->cn; e0 += k->piece) {
		size_t pe = k->cn - e0 < k->piece ? k->cn - e0 : k->piece;
		if ((err = mpc_ot_hash_blocks(c->peer[j].hash, t_rows + 16 * e0 * xbits, k->h0,
		                              pe * xbits)) != MPC_OK)
			return err;
		if (k->K == 64)
			receiver_64(xbits, pe, (const uint64_t *)xc + e0, k->h0,
			            tau_in + e0 * k->tau_e, (uint64_t *)oc + e0);
		else
			receiver_128(xbits, pe, (const mpc_u128 *)xc + e0, k->h0,
			             tau_in + e0 * k->tau_e, (mpc_u128 *)oc + e0);
	}
	return MPC_OK;
}

static mpc_err ot_cross(void *vctx, mpc_party *p, mpc_ring r, unsigned xbits, size_t n,
                        const void *x, const void *y, void *out, uint64_t recv_mask,
                        uint64_t send_mask) {
	ot_ctx *c = vctx;
	unsigned K = mpc_ring_bits(r);
	size_t eb = mpc_ring_bytes(r);
	int me = c->id, np = c->n;
	int recv_any = 0;
	const void *sp[MAX_PARTIES];
	void *rp[MAX_PARTIES];
	size_t sl[MAX_PARTIES], rl[MAX_PARTIES];
	mpc_err err = MPC_OK;

	if (mpc_ring_check(r) != MPC_OK || xbits < 1 || xbits > K)
		return mpc_error(MPC_EINVAL, "OT cross products: %u-bit inputs in Z_2^%u", xbits,
		                 K);
	if (n > 0 &&
	    ((in_mask(recv_mask, me) && x == NULL) || (in_mask(send_mask, me) && y == NULL)))
		return mpc_error(MPC_EINVAL, "OT cross products: missing input at party %d", me);
	if (n > 0)
		memset(out, 0, n * eb);
	for (int j = 0; j < np; j++) {
		if (j == me)
			continue;
		recv_any |= in_mask(recv_mask, me) && in_mask(send_mask, j);
	}
	size_t per_chunk = CHUNK_OTS / xbits;
	if (per_chunk == 0)
		per_chunk = 1;
	ot_chunk k = {.K = K, .xbits = xbits, .tau_e = tau_elem_bytes(K, xbits)};
	/* elements hashed at once: PIECE_OTS pads of 16 bytes stay in cache */
	k.piece = PIECE_OTS / xbits ? PIECE_OTS / xbits : 1;
	for (size_t off = 0; off < n; off += per_chunk) {
		size_t cn = k.cn = n - off < per_chunk ? n - off : per_chunk;
		size_t m = k.m = (cn * xbits + 127) / 128 * 128;
		size_t mat = 16 * m, tau_len = cn * k.tau_e;
		/* layout: choice | cols scratch | per peer: u_out, t, u_in, tau_out, tau_in | h0 |
		 * h1; the tau buffers have 16 bytes of slack for whole-element loads and stores */
		size_t per_peer = 3 * mat + 2 * (tau_len + 16);
		size_t need = m / 8 + MPC_OT_SCRATCH(m) + (size_t)np * per_peer +
		              32 * (k.piece * xbits + 128);
		if ((err = reserve(c, need)) != MPC_OK)
			return err;
		uint8_t *choice = c->buf, *cols = choice + m / 8;
		uint8_t *peers = cols + MPC_OT_SCRATCH(m);
		k.h0 = peers + (size_t)np * per_peer;
		k.h1 = k.h0 + 16 * (k.piece * xbits + 128);
		peer_bufs pb[MAX_PARTIES];
		uint8_t *tau_out[MAX_PARTIES], *tau_in[MAX_PARTIES];
		for (int j = 0; j < np; j++) {
			uint8_t *u_out = peers + (size_t)j * per_peer;
			pb[j] = (peer_bufs){u_out, u_out + mat, u_out + 2 * mat};
			tau_out[j] = u_out + 3 * mat;
			tau_in[j] = tau_out[j] + tau_len + 16;
		}
		const uint8_t *xc = x ? (const uint8_t *)x + off * eb : NULL;
		const uint8_t *yc = y ? (const uint8_t *)y + off * eb : NULL;
		uint8_t *oc = (uint8_t *)out + off * eb;

		/* round 1: the receiver's IKNP columns */
		if (recv_any)
			pack_choices(K, xbits, cn, xc, choice, m);
		if ((err = round1(c, p, m, choice, cols, pb, recv_mask, send_mask)) != MPC_OK)
			return err;

		/* round 2: the sender's corrections */
		for (int j = 0; j < np; j++) {
			sp[j] = rp[j] = NULL;
			sl[j] = rl[j] = 0;
			if (j == me)
				continue;
			if (in_mask(send_mask, me) && in_mask(recv_mask, j)) {
				if ((err = sender_corrections(c, j, &k, pb[j].u_in, cols, yc,
				                              tau_out[j], oc)) != MPC_OK)
					return err;
				sp[j] = tau_out[j];
				sl[j] = tau_len;
			}
			if (in_mask(recv_mask, me) && in_mask(send_mask, j)) {
				rp[j] = tau_in[j];
				rl[j] = tau_len;
			}
		}
		if ((err = mpc_net_exchange(mpc_party_net(p), sp, sl, rp, rl)) != MPC_OK)
			return err;
		for (int j = 0; j < np; j++) {
			if (j == me || !(in_mask(recv_mask, me) && in_mask(send_mask, j)))
				continue;
			if ((err = receiver_shares(c, j, &k, pb[j].t_rows, xc, tau_in[j], oc)) !=
			    MPC_OK)
				return err;
		}
	}
	mpc_wipe(c->buf, c->cap);
	return MPC_OK;
}

/* GF(2): tau = lsb(h0) ^ lsb(h1) ^ y, sender share lsb(h0); receiver
 * lsb(h) ^ (x & tau). */
static mpc_err ot_cross_bits(void *vctx, mpc_party *p, size_t n_words, const uint64_t *x,
                             const uint64_t *y, uint64_t *out, uint64_t recv_mask,
                             uint64_t send_mask) {
	ot_ctx *c = vctx;
	int me = c->id, np = c->n;
	const void *sp[MAX_PARTIES];
	void *rp[MAX_PARTIES];
	size_t sl[MAX_PARTIES], rl[MAX_PARTIES];
	mpc_err err = MPC_OK;

	if (n_words > 0 &&
	    ((in_mask(recv_mask, me) && x == NULL) || (in_mask(send_mask, me) && y == NULL)))
		return mpc_error(MPC_EINVAL, "OT bit products: missing input at party %d", me);
	if (n_words > 0)
		memset(out, 0, n_words * 8);
	size_t per_chunk = CHUNK_OTS / 64;
	for (size_t off = 0; off < n_words; off += per_chunk) {
		size_t cw = n_words - off < per_chunk ? n_words - off : per_chunk;
		size_t m = (cw * 64 + 127) / 128 * 128, mat = 16 * m, tau_len = cw * 8;
		size_t per_peer = 3 * mat + 2 * tau_len;
		size_t need = m / 8 + MPC_OT_SCRATCH(m) + (size_t)np * per_peer + 2 * mat;
		if ((err = reserve(c, need)) != MPC_OK)
			return err;
		uint8_t *choice = c->buf, *cols = choice + m / 8;
		uint8_t *peers = cols + MPC_OT_SCRATCH(m), *h0 = peers + (size_t)np * per_peer,
		        *h1 = h0 + mat;
		uint8_t *u_out[MAX_PARTIES], *t_rows[MAX_PARTIES], *u_in[MAX_PARTIES];
		uint64_t *tau_out[MAX_PARTIES], *tau_in[MAX_PARTIES];
		for (int j = 0; j < np; j++) {
			u_out[j] = peers + (size_t)j * per_peer;
			t_rows[j] = u_out[j] + mat;
			u_in[j] = u_out[j] + 2 * mat;
			tau_out[j] = (uint64_t *)(u_out[j] + 3 * mat);
			tau_in[j] = (uint64_t *)(u_out[j] + 3 * mat + tau_len);
		}
		memset(choice, 0, m / 8);
		if (x)
			memcpy(choice, x + off, cw * 8);
		peer_bufs pb[MAX_PARTIES];
		for (int j = 0; j < np; j++)
			pb[j] = (peer_bufs){u_out[j], t_rows[j], u_in[j]};
		if ((err = round1(c, p, m, choice, cols, pb, recv_mask, send_mask)) != MPC_OK)
			return err;
		for (int j = 0; j < np; j++) {
			sp[j] = rp[j] = NULL;
			sl[j] = rl[j] = 0;
			if (j == me)
				continue;
			if (in_mask(send_mask, me) && in_mask(recv_mask, j)) {
				ot_peer *pj = &c->peer[j];
				if ((err = mpc_iknp_sender_extend(&pj->tx, m, u_in[j], cols,
				                                  u_in[j])) != MPC_OK ||
				    (err = mpc_ot_hash_pairs(pj->hash, u_in[j], pj->tx.delta, h0,
				                             h1, cw * 64)) != MPC_OK)
					return err;
				for (size_t w = 0; w < cw; w++) {
					uint64_t s = 0, t = 0;
					for (unsigned b = 0; b < 64; b++) {
						size_t o = (w * 64 + b) * 16;
						s |= (uint64_t)(h0[o] & 1) << b;
						t |= (uint64_t)((h0[o] ^ h1[o]) & 1) << b;
					}
					tau_out[j][w] = t ^ y[off + w];
					out[off + w] ^= s;
				}
				sp[j] = tau_out[j];
				sl[j] = tau_len;
			}
			if (in_mask(recv_mask, me) && in_mask(send_mask, j)) {
				rp[j] = tau_in[j];
				rl[j] = tau_len;
			}
		}
		if ((err = mpc_net_exchange(mpc_party_net(p), sp, sl, rp, rl)) != MPC_OK)
			return err;
		for (int j = 0; j < np; j++) {
			if (j == me || !(in_mask(recv_mask, me) && in_mask(send_mask, j)))
				continue;
			if ((err = mpc_ot_hash_blocks(c->peer[j].hash, t_rows[j], h0, cw * 64)) !=
			    MPC_OK)
				return err;
			for (size_t w = 0; w < cw; w++) {
				uint64_t s = 0;
				for (unsigned b = 0; b < 64; b++)
					s |= (uint64_t)(h0[(w * 64 + b) * 16] & 1) << b;
				out[off + w] ^= s ^ (x[off + w] & tau_in[j][w]);
			}
		}
	}
	mpc_wipe(c->buf, c->cap);
	return MPC_OK;
}

static double ot_bytes_per_elem(void *vctx, int n_parties, mpc_ring r, unsigned xbits) {
	(void)vctx;
	unsigned K = mpc_ring_bits(r);
	return (double)(n_parties - 1) * (16.0 * xbits + (double)tau_elem_bytes(K, xbits));
}

static const mpc_cross_ops ot_ops = {
    .name = "ot",
    .cross = ot_cross,
    .cross_bits = ot_cross_bits,
    .bytes_per_elem = ot_bytes_per_elem,
    .free = ot_free,
};

/* The tag of the base OTs in which `sender` is the base sender. */
static void direction_tag(const uint8_t pair_tag[16], int sender, int receiver, uint8_t tag[16]) {
	memcpy(tag, pair_tag, 16);
	tag[0] ^= (uint8_t)sender;
	tag[1] ^= (uint8_t)receiver;
}

mpc_err mpc_cross_ot_new(mpc_cross *out, mpc_party *p) {
	int me = mpc_party_id(p), np = mpc_party_size(p);
	ot_ctx *c = NULL;
	mpc_baseot_sender **bs = NULL;
	uint8_t *Aout = NULL, *Ain = NULL, *Bout = NULL, *Bin = NULL, *pair_tags = NULL;
	uint8_t(*k0)[16] = NULL, (*k1)[16] = NULL;
	const void *sp[MAX_PARTIES] = {0};
	void *rp[MAX_PARTIES] = {0};
	size_t sl[MAX_PARTIES] = {0}, rl[MAX_PARTIES] = {0};
	const size_t BB = (size_t)MPC_OT_KAPPA * MPC_OT_POINT_BYTES;
	mpc_err err = MPC_OK;

	*out = (mpc_cross){0};
	if (np > MAX_PARTIES)
		return mpc_error(MPC_EINVAL, "OT engine: at most %d parties", MAX_PARTIES);
	c = calloc(1, sizeof(*c));
	bs = calloc((size_t)np, sizeof(*bs));
	Aout = calloc((size_t)np, MPC_OT_POINT_BYTES);
	Ain = calloc((size_t)np, MPC_OT_POINT_BYTES);
	Bout = calloc((size_t)np, BB);
	Bin = calloc((size_t)np, BB);
	pair_tags = calloc((size_t)np, 32);
	k0 = calloc(MPC_OT_KAPPA, 16);
	k1 = calloc(MPC_OT_KAPPA, 16);
	if (!c || !bs || !Aout || !Ain || !Bout || !Bin || !pair_tags || !k0 || !k1 ||
	    !(c->peer = calloc((size_t)np, sizeof(*c->peer)))) {
		err = mpc_error(MPC_ENOMEM, "OT engine: out of memory");
		goto out;
	}
	c->id = me;
	c->n = np;
	/* the hash key and a tag per pair, from the pairwise streams (both
	 * parties of a pair draw them in this order) */
	for (int j = 0; j < np && err == MPC_OK; j++) {
		if (j == me)
			continue;
		uint8_t *pt = pair_tags + 32 * (size_t)j;
		if ((err = mpc_party_prg_pair(p, j, pt, 32)) == MPC_OK)
			err = mpc_ot_hash_new(&c->peer[j].hash, pt + 16);
	}
	if (err != MPC_OK)
		goto out;
	/* round 1: A toward every peer (this party as base sender = IKNP receiver) */
	for (int j = 0; j < np && err == MPC_OK; j++) {
		if (j == me)
			continue;
		err = mpc_baseot_sender_new(&bs[j], Aout + (size_t)j * MPC_OT_POINT_BYTES);
		sp[j] = Aout + (size_t)j * MPC_OT_POINT_BYTES;
		sl[j] = rl[j] = MPC_OT_POINT_BYTES;
		rp[j] = Ain + (size_t)j * MPC_OT_POINT_BYTES;
	}
	if (err != MPC_OK || (err = mpc_net_exchange(mpc_party_net(p), sp, sl, rp, rl)) != MPC_OK)
		goto out;
	/* round 2: B toward every peer, choosing with a fresh Delta */
	for (int j = 0; j < np && err == MPC_OK; j++) {
		uint8_t delta[16], tag[16];
		if (j == me)
			continue;
		direction_tag(pair_tags + 32 * (size_t)j, j, me, tag);
		if ((err = mpc_party_prg_own(p, delta, sizeof(delta))) == MPC_OK &&
		    (err = mpc_baseot_receive(Ain + (size_t)j * MPC_OT_POINT_BYTES, delta, tag,
		                              Bout + (size_t)j * BB, k0)) == MPC_OK)
			err = mpc_iknp_sender_init(&c->peer[j].tx, delta, k0);
		mpc_wipe(delta, sizeof(delta));
		sp[j] = Bout + (size_t)j * BB;
		rp[j] = Bin + (size_t)j * BB;
		sl[j] = rl[j] = BB;
	}
	if (err != MPC_OK || (err = mpc_net_exchange(mpc_party_net(p), sp, sl, rp, rl)) != MPC_OK)
		goto out;
	for (int j = 0; j < np && err == MPC_OK; j++) {
		uint8_t tag[16];
		if (j == me)
			continue;
		direction_tag(pair_tags + 32 * (size_t)j, me, j, tag);
		if ((err = mpc_baseot_sender_keys(bs[j], Bin + (size_t)j * BB, tag, k0, k1)) !=
		    MPC_OK) {
			if (err == MPC_EPROTO) {
				char why[256];
				snprintf(why, sizeof(why), "%s", mpc_error_detail());
				err = mpc_error(MPC_EPROTO, "OT set-up with %s: %s",
				                mpc_net_name(mpc_party_net(p), j), why);
			}
			break;
		}
		err = mpc_iknp_receiver_init(&c->peer[j].rx, k0, k1);
	}
	if (err != MPC_OK)
		goto out;
	mpc_debug("OT engine: base OTs done with %d peers", np - 1);
	*out = (mpc_cross){.ops = &ot_ops, .ctx = c};
	c = NULL;
out:
	if (bs)
		for (int j = 0; j < np; j++)
			mpc_baseot_sender_free(bs[j]);
	free(bs);
	free(Aout);
	free(Ain);
	free(Bout);
	free(Bin);
	if (pair_tags)
		mpc_wipe(pair_tags, (size_t)np * 32);
	free(pair_tags);
	if (k0)
		mpc_wipe(k0, MPC_OT_KAPPA * 16);
	if (k1)
		mpc_wipe(k1, MPC_OT_KAPPA * 16);
	free(k0);
	free(k1);
	ot_free(c);
	return err;
}

void mpc_cross_free(mpc_cross *c) {
	if (c && c->ops && c->ops->free)
		c->ops->free(c->ctx);
	if (c)
		*c = (mpc_cross){0};
}
