/* Dealer backend: seeds shared with the dealer, one correction per element
 * sent to the last party (triples, truncation pairs, random bits, words of
 * bit triples). */
#include "protocols/preproc/mpc_dealer.h"
#include "runtime/mpc_bytes.h"

#include "runtime/mpc_wipe.h"
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_log.h"
#include "runtime/mpc_prg.h"

enum { REQ_TRIPLES = 1, REQ_TRUNC = 2, REQ_BITS = 3, REQ_BIT_TRIPLES = 4 };
#define REQ_BYTES 24

typedef struct {
	mpc_prg *prg;
	int dealer;
	int last; /* this party is the one that receives corrections */
} client;

/* Party N-1 asks for the corrections of one chunk and receives them. */
static mpc_err ask(client *c, mpc_party *p, uint32_t kind, mpc_ring r, unsigned f, size_t m,
                   void *out) {
	uint8_t req[REQ_BYTES] = {0};
	mpc_err err;

	mpc_put32(req, kind);
	mpc_put32(req + 4, mpc_ring_bits(r));
	mpc_put32(req + 8, f);
	mpc_put64(req + 16, m);
	if ((err = mpc_net_send(mpc_party_net(p), c->dealer, req, sizeof(req))) != MPC_OK)
		return err;
	return mpc_net_recv(mpc_party_net(p), c->dealer, out, m * mpc_ring_bytes(r));
}

static mpc_err client_triples(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
                              void *cc) {
	client *c = ctx;
	size_t eb = mpc_ring_bytes(r);
	mpc_err err;

	for (size_t off = 0; off < n; off += MPC_DEALER_CHUNK) {
		size_t m = n - off < MPC_DEALER_CHUNK ? n - off : MPC_DEALER_CHUNK;
		uint8_t *pa = (uint8_t *)a + off * eb, *pb = (uint8_t *)b + off * eb;
		uint8_t *pc = (uint8_t *)cc + off * eb;
		if ((err = mpc_prg_fill(c->prg, pa, m * eb)) != MPC_OK ||
		    (err = mpc_prg_fill(c->prg, pb, m * eb)) != MPC_OK)
			return err;
		err = c->last ? ask(c, p, REQ_TRIPLES, r, 0, m, pc)
		              : mpc_prg_fill(c->prg, pc, m * eb);
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}

static mpc_err client_trunc(void *ctx, mpc_party *p, mpc_ring r, unsigned f, size_t n, void *rr,
                            void *r_hi) {
	client *c = ctx;
	size_t eb = mpc_ring_bytes(r);
	mpc_err err;

	for (size_t off = 0; off < n; off += MPC_DEALER_CHUNK) {
		size_t m = n - off < MPC_DEALER_CHUNK ? n - off : MPC_DEALER_CHUNK;
		uint8_t *pr = (uint8_t *)rr + off * eb, *ph = (uint8_t *)r_hi + off * eb;
		if ((err = mpc_prg_fill(c->prg, pr, m * eb)) != MPC_OK)
			return err;
		err =
		    c->last ? ask(c, p, REQ_TRUNC, r, f, m, ph) : mpc_prg_fill(c->prg, ph, m * eb);
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}

static mpc_err client_bits(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *out) {
	client *c = ctx;
	size_t eb = mpc_ring_bytes(r);
	mpc_err err;

	/* parties 0..N-2 draw their shares; the last party's share is b minus
	 * theirs, for a bit b only the dealer knows */
	for (size_t off = 0; off < n; off += MPC_DEALER_CHUNK) {
		size_t m = n - off < MPC_DEALER_CHUNK ? n - off : MPC_DEALER_CHUNK;
		uint8_t *po = (uint8_t *)out + off * eb;
		err = c->last ? ask(c, p, REQ_BITS, r, 0, m, po) : mpc_prg_fill(c->prg, po, m * eb);
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}

/* Bit triples travel as Z_2^64 elements: one 64-bit word each. */
static mpc_err client_bit_triples(void *ctx, mpc_party *p, size_t n_words, uint64_t *a, uint64_t *b,
                                  uint64_t *cc) {
	client *c = ctx;
	mpc_err err;

	for (size_t off = 0; off < n_words; off += MPC_DEALER_CHUNK) {
		size_t m = n_words - off < MPC_DEALER_CHUNK ? n_words - off : MPC_DEALER_CHUNK;
		if ((err = mpc_prg_fill(c->prg, a + off, m * 8)) != MPC_OK ||
		    (err = mpc_prg_fill(c->prg, b + off, m * 8)) != MPC_OK)
			return err;
		err = c->last ? ask(c, p, REQ_BIT_TRIPLES, MPC_Z64, 0, m, cc + off)
		              : mpc_prg_fill(c->prg, cc + off, m * 8);
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}

static void client_free(void *ctx) {
	client *c = ctx;
	if (c == NULL)
		return;
	mpc_prg_free(c->prg);
	free(c);
}

static const mpc_preproc_ops dealer_ops = {
    .name = "dealer",
    .triples = client_triples,
    .trunc_pairs = client_trunc,
    .bits = client_bits,
    .bit_triples = client_bit_triples,
    .free = client_free,
};

mpc_err mpc_dealer_connect(mpc_party *p, int dealer_node) {
	uint8_t seed[MPC_SEED_BYTES];
	client *c;
	mpc_err err;

	if (dealer_node < mpc_party_size(p) || dealer_node >= mpc_net_size(mpc_party_net(p)))
		return mpc_error(MPC_EINVAL, "dealer node %d is not a node beside the %d parties",
		                 dealer_node, mpc_party_size(p));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	c->dealer = dealer_node;
	c->last = mpc_party_id(p) == mpc_party_size(p) - 1;
	err = mpc_net_recv(mpc_party_net(p), dealer_node, seed, sizeof(seed));
	if (err == MPC_OK)
		err = mpc_prg_new(&c->prg, seed);
	mpc_wipe(seed, sizeof(seed));
	if (err != MPC_OK) {
		client_free(c);
		return err;
	}
	mpc_party_set_preproc(p, (mpc_preproc){.ops = &dealer_ops, .ctx = c});
	mpc_info("preprocessing from the dealer (%s): the dealer is trusted with every secret",
	         mpc_net_name(mpc_party_net(p), dealer_node));
	return MPC_OK;
}

/* acc += next m elements of prg. */
static mpc_err draw_add(mpc_prg *prg, mpc_ring r, void *acc, void *tmp, size_t m) {
	mpc_err err = mpc_prg_fill(prg, tmp, m * mpc_ring_bytes(r));
	if (err == MPC_OK)
		mpc_ring_add(r, acc, acc, tmp, m);
	return err;
}

/* acc ^= next m words of prg. */
static mpc_err draw_xor(mpc_prg *prg, uint64_t *acc, uint64_t *tmp, size_t m) {
	mpc_err err = mpc_prg_fill(prg, tmp, m * 8);
	if (err == MPC_OK)
		for (size_t e = 0; e < m; e++)
			acc[e] ^= tmp[e];
	return err;
}

/* x = m fresh bits (0 or 1 as ring elements) from the dealer's own stream,
 * which no party shares. */
static mpc_err fresh_bits(mpc_prg *own, mpc_ring r, void *x, uint8_t *tmp, size_t m) {
	mpc_err err = mpc_prg_fill(own, tmp, (m + 7) / 8);
	if (err != MPC_OK)
		return err;
	for (size_t e = 0; e < m; e++)
		mpc_ring_set_i64(r, x, e, (tmp[e / 8] >> (e % 8)) & 1);
	return MPC_OK;
}

/* Correction for the last party for one request, left in x (m elements).
 * The draws from each party's stream follow the order in which that party
 * draws: a, b, then c (triples and bit triples); r, then r_hi (pairs);
 * its share (bits); parties other than the last only for the last field. */
static mpc_err serve_one(mpc_prg **prg, mpc_prg *own, int np, uint32_t kind, mpc_ring r, unsigned f,
                         size_t m, void *x, void *y, void *s, void *tmp) {
	size_t bytes = m * mpc_ring_bytes(r);
	mpc_err err = MPC_OK;

	memset(x, 0, bytes);
	memset(y, 0, bytes);
	memset(s, 0, bytes);
	if (kind == REQ_BITS && (err = fresh_bits(own, r, x, tmp, m)) != MPC_OK)
		return err;
	for (int i = 0; i < np && err == MPC_OK; i++) {
		int not_last = i < np - 1;
		switch (kind) {
		case REQ_TRIPLES:
			err = draw_add(prg[i], r, x, tmp, m);
			if (err == MPC_OK)
				err = draw_add(prg[i], r, y, tmp, m);
			if (err == MPC_OK && not_last)
				err = draw_add(prg[i], r, s, tmp, m);
			break;
		case REQ_TRUNC:
			err = draw_add(prg[i], r, x, tmp, m);
			if (err == MPC_OK && not_last)
				err = draw_add(prg[i], r, s, tmp, m);
			break;
		case REQ_BITS:
			if (not_last)
				err = draw_add(prg[i], r, s, tmp, m);
			break;
		default: /* REQ_BIT_TRIPLES, words */
			err = draw_xor(prg[i], x, tmp, m);
			if (err == MPC_OK)
				err = draw_xor(prg[i], y, tmp, m);
			if (err == MPC_OK && not_last)
				err = draw_xor(prg[i], s, tmp, m);
			break;
		}
	}
	if (err != MPC_OK)
		return err;
	if (kind == REQ_BIT_TRIPLES) {
		uint64_t *wx = x, *wy = y, *ws = s;
		for (size_t e = 0; e < m; e++)
			wx[e] = (wx[e] & wy[e]) ^ ws[e]; /* c = a AND b, less the others' c */
		return MPC_OK;
	}
	if (kind == REQ_TRIPLES)
		mpc_ring_mul(r, x, x, y, m); /* c = a*b */
	else if (kind == REQ_TRUNC)
		mpc_ring_shr(r, x, x, f, m); /* r_hi = r >> f */
	mpc_ring_sub(r, x, x, s, m);
	return MPC_OK;
}

mpc_err mpc_dealer_serve(mpc_net *net, int np, int idle_timeout_ms, uint64_t *served) {
	mpc_prg **prg = NULL, *own = NULL;
	uint8_t seed[MPC_SEED_BYTES];
	uint8_t *buf = NULL;
	size_t cap = (size_t)MPC_DEALER_CHUNK * 16;
	uint64_t count = 0;
	mpc_err err = MPC_OK;
	int last = np - 1;

	if (served)
		*served = 0;
	if (np < 2 || np >= mpc_net_size(net))
		return mpc_error(MPC_EINVAL, "dealer: %d parties on a network of %d nodes", np,
		                 mpc_net_size(net));
	prg = calloc((size_t)np, sizeof(*prg));
	buf = malloc(4 * cap);
	if (prg == NULL || buf == NULL) {
		err = mpc_error(MPC_ENOMEM, "dealer: out of memory");
		goto out;
	}
	mpc_warn("this dealer is TRUSTED WITH EVERYTHING: it can reconstruct every triple, and "
	         "with any party's view every secret input; run it at an independent provider");
	if ((err = mpc_seed_random(seed)) == MPC_OK)
		err = mpc_prg_new(&own, seed);
	mpc_wipe(seed, sizeof(seed));
	for (int i = 0; i < np && err == MPC_OK; i++) {
		if ((err = mpc_seed_random(seed)) == MPC_OK &&
		    (err = mpc_prg_new(&prg[i], seed)) == MPC_OK)
			err = mpc_net_send(net, i, seed, sizeof(seed));
		mpc_wipe(seed, sizeof(seed));
	}
	if (err != MPC_OK)
		goto out;
	for (;;) {
		uint8_t req[REQ_BYTES];
		err = mpc_net_recv_wait(net, last, req, sizeof(req), idle_timeout_ms);
		if (err == MPC_ECLOSED) {
			err = MPC_OK;
			break;
		}
		if (err != MPC_OK)
			goto out;
		uint32_t kind = mpc_get32(req), bits = mpc_get32(req + 4), f = mpc_get32(req + 8);
		uint64_t m = mpc_get64(req + 16);
		mpc_ring r = (mpc_ring)bits;
		if (kind < REQ_TRIPLES || kind > REQ_BIT_TRIPLES || mpc_ring_check(r) != MPC_OK ||
		    m == 0 || m > MPC_DEALER_CHUNK ||
		    (kind == REQ_TRUNC && (f == 0 || f >= bits)) ||
		    (kind == REQ_BIT_TRIPLES && r != MPC_Z64)) {
			err = mpc_error(MPC_EPROTO,
			                "dealer: malformed request from %s (kind %u, ring "
			                "%u, f %u, n %llu)",
			                mpc_net_name(net, last), kind, bits, f,
			                (unsigned long long)m);
			goto out;
		}
		err = serve_one(prg, own, np, kind, r, f, m, buf, buf + cap, buf + 2 * cap,
		                buf + 3 * cap);
		if (err == MPC_OK)
			err = mpc_net_send(net, last, buf, m * mpc_ring_bytes(r));
		if (err != MPC_OK)
			goto out;
		count += m;
	}
	mpc_info("dealer: served %llu elements (triples, truncation pairs, bits, words of bit "
	         "triples)",
	         (unsigned long long)count);
out:
	if (served)
		*served = count;
	if (buf) {
		mpc_wipe(buf, 4 * cap);
		free(buf);
	}
	mpc_prg_free(own);
	if (prg)
		for (int i = 0; i < np; i++)
			mpc_prg_free(prg[i]);
	free(prg);
	return err;
}
