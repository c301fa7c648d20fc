/* The wire format of net/: the message header, its codec, and the T_TLS and
 * T_SEC framings around it. Internal to net/ (not to be installed:
 * NOINST_HEADERS in the Makefile); the encoders and decoders are inline
 * because every chunk goes through them.
 *
 * Wire header, little-endian, packed:
 *   0 magic u32 "MPC1"   4 version u8   5 type u8   6 from u16   8 to u16
 *  10 session[16]       26 step u64    34 total_len u64        42 offset u64
 *  50 payload_len u32   54 payload
 * HELLO: step 0, total_len = number of nodes. DATA: step >= 1 (per directed
 * link), the chunk's offset in a message of total_len bytes. BYE: step = the
 * number of DATA messages the sender sent us. ABORT: the payload is the
 * reason. KEEPALIVE: step = the step the sender waits for from us, 0 if none.
 *
 * With TLS, only HELLO travels as above, in the clear; it asks for nothing
 * but a TLS handshake, whose records travel as T_TLS:
 *   0 magic u32   4 version u8   5 type u8 (T_TLS)   6 from u16   8 to u16
 *  10 attempt u16   12 TLS handshake records
 * Anyone can send records, so a handshake broken by records that are not
 * the peer's starts again as attempt + 1 (the client with a new
 * ClientHello, the server with an empty T_TLS that asks for one); records
 * of an earlier attempt are dropped. Only what an outsider cannot forge
 * ends the set-up: a certificate whose fingerprint is not the pinned one,
 * or a certificate alert from the peer.
 * Once the handshake with a peer is done, every message to it (DATA, BYE,
 * ABORT, KEEPALIVE) is one sealed frame, T_SEC:
 *   0 magic u32   4 version u8   5 type u8 (T_SEC)   6 from u16   8 to u16
 *  10 counter u64   18 split u32
 *  22 record 1: the message above, encrypted: its 54-byte header and 10 zero
 *     bytes, then the first `split` bytes of its payload; a 16-byte tag
 *     record 2, if the payload is longer: the rest of it, encrypted; a tag
 * AES-128-OCB under the direction's key exported from the handshake
 * (mpc_frame.h); the first 22 bytes are each record's additional data, the
 * counter the first record's nonce and counter + 1 the second's. Two
 * records let a second thread seal or open half of a large frame. Counters
 * only go up: a frame at or below one already opened is a replay. A frame
 * that does not open, claims another sender or comes before its channel is
 * dropped and counted, never fatal: only a peer holding the pinned key can
 * change a job's state. */
#ifndef MPC_WIRE_H
#define MPC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/mpc_frame.h"
#include "net/mpc_net.h"
#include "runtime/mpc_bytes.h"

#define WIRE_MAGIC   0x3143504du
#define WIRE_VERSION 1
#define HDR_BYTES    54
#define TLS_HDR      12
#define SEC_HDR      22
#define SEC_INNER    64 /* the inner header and 10 zero bytes: whole cipher blocks */
#define SEC_OVER     (SEC_HDR + SEC_INNER - HDR_BYTES + MPC_FRAME_TAG) /* one record */
enum { T_HELLO = 1, T_DATA, T_BYE, T_ABORT, T_KEEPALIVE, T_TLS, T_SEC };

#define MAX_CHUNK  ((size_t)64 << 20) /* bounds what a peer can make nanomsg allocate */
#define REASON_MAX 512                /* an abort's reason, at most */

typedef struct {
	uint32_t magic;
	uint8_t version, type;
	uint16_t from, to;
	uint8_t session[MPC_SESSION_BYTES];
	uint64_t step, total, offset;
	uint32_t plen;
} wire_hdr;

static inline void encode_hdr(uint8_t *b, const wire_hdr *h) {
	mpc_put32(b, h->magic);
	b[4] = h->version;
	b[5] = h->type;
	mpc_put16(b + 6, h->from);
	mpc_put16(b + 8, h->to);
	memcpy(b + 10, h->session, MPC_SESSION_BYTES);
	mpc_put64(b + 26, h->step);
	mpc_put64(b + 34, h->total);
	mpc_put64(b + 42, h->offset);
	mpc_put32(b + 50, h->plen);
}

static inline void decode_hdr(wire_hdr *h, const uint8_t *b) {
	h->magic = mpc_get32(b);
	h->version = b[4];
	h->type = b[5];
	h->from = mpc_get16(b + 6);
	h->to = mpc_get16(b + 8);
	memcpy(h->session, b + 10, MPC_SESSION_BYTES);
	h->step = mpc_get64(b + 26);
	h->total = mpc_get64(b + 34);
	h->offset = mpc_get64(b + 42);
	h->plen = mpc_get32(b + 50);
}

/* The first 10 bytes every framing shares: magic, version, type, from, to. */
static inline void encode_frame_start(uint8_t *b, int type, int from, int to) {
	mpc_put32(b, WIRE_MAGIC);
	b[4] = WIRE_VERSION;
	b[5] = (uint8_t)type;
	mpc_put16(b + 6, (uint16_t)from);
	mpc_put16(b + 8, (uint16_t)to);
}

/* Reasons come from another machine: keep them printable and short. */
static inline void sanitize(char *dst, size_t cap, const char *src, size_t len) {
	size_t i;
	if (len > cap - 1)
		len = cap - 1;
	for (i = 0; i < len && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '?';
	dst[i] = '\0';
}

#endif
