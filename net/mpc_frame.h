/* Record protection for data frames after the TLS 1.3 handshake: keys
 * exported from the handshake (RFC 8446 section 7.5), one AES-128-OCB record
 * (RFC 7253) per frame, a 64-bit counter per direction as the nonce, sealed
 * and opened straight between our buffers. OCB rather than GCM: on AES-NI
 * machines it runs at about the speed of AES-CTR, two to three times GCM's
 * in OpenSSL 3.0, and that is most of what TLS costs a round. For the
 * send and receive paths of net/ (mpc_send.c, mpc_recv.c) and the handshake
 * that exports the keys (mpc_handshake.c); OpenSSL stays inside net/.
 *
 * The handshake proves each side's pinned certificate; the exporter binds
 * these keys to that handshake and to the job's session id, so a frame that
 * opens was sent by the pinned peer for this job, in this direction. */
#ifndef MPC_FRAME_H
#define MPC_FRAME_H

#include "runtime/mpc_err.h"
#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_FRAME_TAG 16 /* bytes of the tag after each record */
#define MPC_FRAME_IV  12

/* One direction of one link: its key schedule and nonce base, twice: ctx
 * for the calling thread, ctx2 for the worker (the same key). */
typedef struct {
	EVP_CIPHER_CTX *ctx, *ctx2;
	uint8_t iv[MPC_FRAME_IV];
} mpc_frame_dir;

/* Both directions of the link with a peer, from the finished handshake ssl.
 * client: this side was the TLS client. context: bound into the keys (the
 * job's session id). MPC_ECRYPTO if OpenSSL fails. Free with
 * mpc_frame_keys_free (it wipes). */
mpc_err mpc_frame_keys(SSL *ssl, int client, const uint8_t *context, size_t context_len,
                       mpc_frame_dir *tx, mpc_frame_dir *rx) MPC_MUST_CHECK;
void mpc_frame_dir_free(mpc_frame_dir *d);

/* Seal: begin with the record's counter and its additional data (the frame
 * header, sent in clear), then any number of updates (out may equal in),
 * then end writes the tag. Open: the same, and end returns -1 when the tag
 * fails (the caller drops the frame and wipes whatever was written). An
 * update writes whole 16-byte blocks and returns how many bytes it wrote
 * (-1 if OpenSSL fails); what it held back, end writes at out_tail. An
 * update of a multiple of 16 bytes, after the additional data or another
 * such update, writes all of it. begin and end return 0 or -1. */
int mpc_frame_begin(mpc_frame_dir *d, int seal, uint64_t counter, const uint8_t *aad,
                    size_t aad_len);
long mpc_frame_update(mpc_frame_dir *d, uint8_t *out, const uint8_t *in, size_t len);
int mpc_frame_seal_end(mpc_frame_dir *d, uint8_t *out_tail, uint8_t tag[MPC_FRAME_TAG]);
int mpc_frame_open_end(mpc_frame_dir *d, uint8_t *out_tail, const uint8_t tag[MPC_FRAME_TAG]);

/* One whole record opened in one call, from in into out (out may equal
 * in), against tag: 0, or -1 if it does not open. second: use ctx2 (the
 * worker's). */
int mpc_frame_open_all(mpc_frame_dir *d, int second, uint64_t counter, const uint8_t *aad,
                       size_t aad_len, uint8_t *out, const uint8_t *in, size_t len,
                       const uint8_t tag[MPC_FRAME_TAG]);

/* A second thread that seals or opens one record while the caller does
 * another: large frames travel as two records, each half the work. */
typedef struct mpc_frame_worker mpc_frame_worker;

/* Start it. MPC_ENOMEM, or MPC_ECONFIG if no thread can be made. */
mpc_err mpc_frame_worker_new(mpc_frame_worker **out) MPC_MUST_CHECK;
/* Stop and free it (NULL does nothing). */
void mpc_frame_worker_free(mpc_frame_worker *w);
/* Hand the worker one whole record to seal (writing its tag) or to open
 * (as mpc_frame_open_all) on d's ctx2; the buffers stay the caller's and
 * are not to be touched until wait. */
void mpc_frame_worker_post(mpc_frame_worker *w, int seal, mpc_frame_dir *d, uint64_t counter,
                           const uint8_t *aad, size_t aad_len, uint8_t *out, const uint8_t *in,
                           size_t len, uint8_t *tag);
/* Wait for what was posted: its result (0, or -1). */
int mpc_frame_worker_wait(mpc_frame_worker *w);

#endif
