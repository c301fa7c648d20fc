/* Oblivious transfer: base OTs and IKNP extension, between two parties.
 *
 * Base OT: Chou-Orlandi "simplest OT" on P-256 (OpenSSL's EC_POINT, whose
 * scalar multiplications are constant-time). The base sender sends A = aG;
 * for each of 128 OTs the base receiver, with choice s, sends
 * B = bG + s*A; the keys are H(aB) and H(a(B - A)) at the sender and H(bA)
 * at the receiver, so the receiver gets exactly key s and the sender cannot
 * tell s (B is uniform whatever s is).
 *
 * Extension (Ishai-Kilian-Nissim-Petrank, semi-honest): the extension
 * receiver is the base sender with 128 seed pairs (k0_l, k1_l); the
 * extension sender is the base receiver with a random 128-bit Delta and the
 * seeds k_{Delta_l}. For m OTs with choice bits r the receiver sends
 * u_l = G(k0_l) ^ G(k1_l) ^ r for each of the 128 columns (16 bytes per OT);
 * after transposing, the sender holds q_j = t_j ^ r_j * Delta and the
 * receiver t_j. Hashing them (fixed-key AES, H(x) = AES(s(x)) ^ s(x) with
 * s(a,b) = (a^b, a), circular correlation robust [GKWY20]) gives the
 * sender two random pads H(q_j), H(q_j ^ Delta) and the receiver the one it
 * chose: correlated OTs. The receiver cannot learn Delta (it sees only
 * hashes), and the sender sees u_l, one-time padded by G(k_{1-Delta_l}).
 *
 * These structures are used by the OT cross-product engine
 * (mpc_cross_ot.c); tests use them directly to check OTs against their
 * definition. */
#ifndef MPC_OT_H
#define MPC_OT_H

#include "runtime/mpc_err.h"
#include "runtime/mpc_prg.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_OT_KAPPA       128
#define MPC_OT_POINT_BYTES 33 /* compressed P-256 point */

/* ---- base OT (128 at once) ---- */
typedef struct mpc_baseot_sender mpc_baseot_sender;

/* Base sender, step 1: draws a and writes A (MPC_OT_POINT_BYTES). */
mpc_err mpc_baseot_sender_new(mpc_baseot_sender **out,
                              uint8_t A[MPC_OT_POINT_BYTES]) MPC_MUST_CHECK;
/* Base sender, step 2: from the receiver's 128 points B (128 *
 * MPC_OT_POINT_BYTES) derive k0[l], k1[l]. `tag` (16 bytes) binds the keys to
 * the session and direction. MPC_EPROTO if a point is not on the curve. */
mpc_err mpc_baseot_sender_keys(mpc_baseot_sender *s, const uint8_t *B, const uint8_t tag[16],
                               uint8_t k0[MPC_OT_KAPPA][16],
                               uint8_t k1[MPC_OT_KAPPA][16]) MPC_MUST_CHECK;
void mpc_baseot_sender_free(mpc_baseot_sender *s);

/* Base receiver: from A and 128 choice bits (choice[l/8] bit l%8), write B
 * (128 * MPC_OT_POINT_BYTES) and the chosen keys k[l]. */
mpc_err mpc_baseot_receive(const uint8_t A[MPC_OT_POINT_BYTES], const uint8_t choice[16],
                           const uint8_t tag[16], uint8_t *B,
                           uint8_t k[MPC_OT_KAPPA][16]) MPC_MUST_CHECK;

/* ---- IKNP extension ---- */
typedef struct {
	mpc_prg *g0[MPC_OT_KAPPA], *g1[MPC_OT_KAPPA];
} mpc_iknp_receiver;

typedef struct {
	uint8_t delta[16];
	mpc_prg *g[MPC_OT_KAPPA];
} mpc_iknp_sender;

mpc_err mpc_iknp_receiver_init(mpc_iknp_receiver *r, uint8_t k0[MPC_OT_KAPPA][16],
                               uint8_t k1[MPC_OT_KAPPA][16]) MPC_MUST_CHECK;
mpc_err mpc_iknp_sender_init(mpc_iknp_sender *s, const uint8_t delta[16],
                             uint8_t k[MPC_OT_KAPPA][16]) MPC_MUST_CHECK;
void mpc_iknp_receiver_fini(mpc_iknp_receiver *r);
void mpc_iknp_sender_fini(mpc_iknp_sender *s);

/* Column stride of the scratch matrix for m OTs: m/8 plus one cache line,
 * so that the 128 columns do not all fall into the same cache set when m/8
 * is a multiple of 4 KiB. The scratch takes MPC_OT_SCRATCH(m) bytes. */
#define MPC_OT_SLICE     ((size_t)4096)
#define MPC_OT_STRIDE(m) ((m) / 8 + 64)
#define MPC_OT_SCRATCH(m)                                                                          \
	((size_t)MPC_OT_KAPPA * MPC_OT_STRIDE((m) < MPC_OT_SLICE ? (m) : MPC_OT_SLICE))

/* m OTs, m a multiple of 128. Receiver: choice bits r (m/8 bytes, bit j of
 * byte j/8 is OT j); writes u (16*m bytes: 128 columns of m/8 bytes, to be
 * sent, in slices of MPC_OT_SLICE OTs) and rows t (m rows of 16 bytes). Sender: from u writes rows
 * q (m * 16 bytes) with q_j = t_j ^ r_j * Delta. cols is scratch of MPC_OT_SCRATCH(m) bytes. */
mpc_err mpc_iknp_receiver_extend(mpc_iknp_receiver *r, size_t m, const uint8_t *choice, uint8_t *u,
                                 uint8_t *cols, uint8_t *t) MPC_MUST_CHECK;
mpc_err mpc_iknp_sender_extend(mpc_iknp_sender *s, size_t m, const uint8_t *u, uint8_t *cols,
                               uint8_t *q) MPC_MUST_CHECK;

/* Transpose a 128 x m bit matrix (128 columns of m/8 bytes each, column l at
 * cols + l * stride) into m rows of 16 bytes: bit l of row j = bit j of
 * column l. m a multiple of 128. */
void mpc_ot_transpose(const uint8_t *cols, size_t stride, size_t m, uint8_t *rows);

/* The correlation-robust hash, fixed-key AES. */
typedef struct mpc_ot_hash mpc_ot_hash;
mpc_err mpc_ot_hash_new(mpc_ot_hash **out, const uint8_t key[16]) MPC_MUST_CHECK;
void mpc_ot_hash_free(mpc_ot_hash *h);
/* out[j] = H(in[j]) for n blocks of 16 bytes (in and out may be the same). */
mpc_err mpc_ot_hash_blocks(mpc_ot_hash *h, const uint8_t *in, uint8_t *out,
                           size_t n) MPC_MUST_CHECK;
/* out0[j] = H(q[j]), out1[j] = H(q[j] ^ delta): the sender's two pads. */
mpc_err mpc_ot_hash_pairs(mpc_ot_hash *h, const uint8_t *q, const uint8_t delta[16], uint8_t *out0,
                          uint8_t *out1, size_t n) MPC_MUST_CHECK;

#endif
