/* A full mesh of nodes over nanomsg, and rounds of messages between them.
 *
 * Each node binds one NN_PULL socket on its own address (tcp:// or ipc://)
 * and connects one NN_PUSH socket to every other node's address, so an
 * operator opens one port per node. Every message travels in chunks with a
 * header: magic, version, type, sender, receiver, session id (16 bytes),
 * the per-link step number, the chunk's offset and the logical message's
 * total length. The receiver rejects a wrong session, a wrong receiver, an
 * unknown sender, a step already seen (replay) or a length other than
 * expected, with MPC_EPROTO naming the peer and the step.
 *
 * Steps are counted per directed link: the k-th logical message from A to B
 * carries step k. A peer that runs ahead may send later steps early; those are
 * kept until asked for.
 *
 * Sends are non-blocking and interleaved with receives in one poll loop, so
 * vectors of any size go through when every node sends at once. A peer that
 * makes no progress for `timeout_ms` (nothing received from it that we wait
 * for, or nothing accepted by its socket) ends the round with MPC_ETIMEDOUT
 * naming the peer and step. A peer that aborts sends an ABORT message; the
 * others return MPC_EPEER with its reason. While blocked in a round, a node
 * sends keep-alives every timeout/4 so that peers waiting on someone else
 * are not blamed. After an error (other than MPC_EINVAL) the network stays
 * failed: later calls return the same code. Only this module includes
 * nanomsg. */
#ifndef MPC_NET_H
#define MPC_NET_H

#include "runtime/mpc_err.h"
#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_SESSION_BYTES                  16
#define MPC_NET_MAX_NODES                  64
#define MPC_NET_DEFAULT_TIMEOUT_MS         30000
#define MPC_NET_DEFAULT_CONNECT_TIMEOUT_MS 60000

typedef struct mpc_net mpc_net; /* opaque */

/* TLS 1.3 for every link, mutually authenticated, each peer's certificate
 * pinned by the SHA-256 of its DER encoding. All borrowed for the duration of
 * mpc_net_open (OpenSSL takes its own references). */
typedef struct {
	EVP_PKEY *key; /* this node's private key */
	X509 *cert;    /* this node's (self-signed) certificate */
	/* pins[i]: SHA-256 of node i's certificate (DER); pins[self] ignored */
	const uint8_t (*pins)[32];
} mpc_net_tls;

typedef struct {
	int id;                   /* this node, 0 <= id < n_nodes */
	int n_nodes;              /* 2 .. MPC_NET_MAX_NODES */
	const char *const *addrs; /* addrs[i]: the URL node i binds, e.g. tcp://127.0.0.1:7001 */
	const char *const *names; /* names[i] for messages ("party 1", "dealer"); NULL: "node i" */
	uint8_t session[MPC_SESSION_BYTES]; /* all nodes of a job share it */
	int timeout_ms;                     /* per-round inactivity deadline; 0: default 30 s */
	int connect_timeout_ms;             /* how long to wait for late peers; 0: default 60 s */
	size_t chunk_bytes;                 /* payload bytes per chunk; 0: default 1 MiB */
	/* NULL: plaintext (only behind an explicit --insecure-plaintext flag) */
	const mpc_net_tls *tls;
	/* With TLS: 1 seals and opens every frame in the calling thread; 2 hands
	 * half of each frame of 64 KiB or more to a second thread; 0: 2 where
	 * the machine has 4 or more cores, else 1. */
	int crypto_threads;
	/* If not NULL: when set-up times out (MPC_ETIMEDOUT), the nodes that
	 * never got through it (bit i: node i), for a caller that goes on
	 * without them (fed_train's min_parties); else 0. */
	uint64_t *missing;
} mpc_net_config;

/* Bind, connect to every other node, and exchange HELLO with each so that
 * every peer is known to be up and in the same session. Waits up to
 * connect_timeout_ms for late peers; MPC_ETIMEDOUT names the peers that never
 * came, MPC_EPROTO a peer in another session, MPC_ECONFIG our own address
 * that cannot be bound (the detail says why), MPC_EINVAL a bad config (negative timeout,
 * chunk_bytes above 64 MiB). Copies what it needs from cfg. Caller closes with mpc_net_close.
 *
 * With cfg->tls, after HELLO every pair runs a TLS 1.3 handshake (the lower
 * id is the client) within connect_timeout_ms, and from then on every
 * message to a peer travels inside its TLS channel. MPC_ECRYPTO: a peer
 * presented a certificate other than the pinned one (the detail names it and
 * both fingerprints), refused ours, or sent something outside TLS;
 * MPC_ETIMEDOUT names a peer that never finished its handshake; MPC_ECONFIG
 * a key that does not match its certificate. Later, a record that fails
 * authentication (tampering, replay, truncation) ends the round with
 * MPC_ECRYPTO naming the peer and the step. */
mpc_err mpc_net_open(mpc_net **out, const mpc_net_config *cfg) MPC_MUST_CHECK;

/* Orderly close: send BYE to every peer and wait briefly (at most
 * timeout_ms, capped at 5 s) for theirs, so that our last messages are not
 * lost with the socket; then free. NULL does nothing. */
void mpc_net_close(mpc_net *net);

/* After a failure: send ABORT with a short reason (no secrets) to every peer,
 * best effort, then free. NULL does nothing. */
void mpc_net_abort(mpc_net *net, mpc_err code, const char *reason);

int mpc_net_id(const mpc_net *net);
int mpc_net_size(const mpc_net *net);
/* Human name of node i (as configured or "node i"). Borrowed. */
const char *mpc_net_name(const mpc_net *net, int i);

/* One round. For every node p != self: if send_len[p] > 0, send that many
 * bytes from send[p] to p as one logical message; if recv_len[p] > 0, receive
 * exactly one logical message of that length from p into recv[p]. NULL arrays
 * mean "nothing". Entries for self are ignored. The lengths are agreed in
 * advance by the protocol; a different length is MPC_EPROTO. Errors:
 * MPC_ETIMEDOUT, MPC_EPROTO, MPC_EPEER, MPC_ECLOSED, MPC_ENET, MPC_ENOMEM,
 * each with a detail naming the peer and the step. */
mpc_err mpc_net_exchange(mpc_net *net, const void *const *send, const size_t *send_len,
                         void *const *recv, const size_t *recv_len) MPC_MUST_CHECK;

/* Send the same len bytes to every node in `to` (a bitmask of node ids) and
 * receive len bytes from every node in `from` into recv + p*len (recv has
 * room for n_nodes slots; our own slot is untouched). One round. */
mpc_err mpc_net_bcast(mpc_net *net, uint64_t to, const void *buf, uint64_t from, void *recv,
                      size_t len) MPC_MUST_CHECK;

/* One message to one peer / from one peer. */
mpc_err mpc_net_send(mpc_net *net, int peer, const void *buf, size_t len) MPC_MUST_CHECK;
mpc_err mpc_net_recv(mpc_net *net, int peer, void *buf, size_t len) MPC_MUST_CHECK;

/* Like mpc_net_recv, but waits up to timeout_ms (-1: forever) for data
 * instead of the round deadline (keep-alives do not extend it), and a BYE
 * from that peer returns MPC_ECLOSED with the network left usable (the
 * dealer idles like this between requests and ends on the last party's BYE). */
mpc_err mpc_net_recv_wait(mpc_net *net, int peer, void *buf, size_t len,
                          int timeout_ms) MPC_MUST_CHECK;

/* Counters since open: every byte handed to nanomsg (headers, HELLO, BYE
 * and keep-alives included, so it varies slightly between runs), and logical
 * rounds (calls of exchange/bcast/send/recv). */
uint64_t mpc_net_bytes_sent(const mpc_net *net);
uint64_t mpc_net_rounds(const mpc_net *net);

/* The last step used on the link with `peer`: the larger of the messages
 * sent to it and received from it. */
uint64_t mpc_net_step_with(const mpc_net *net, int peer);

/* Async-signal-safe: ask every network of this process to stop (call it
 * from a SIGTERM or SIGINT handler with the signal's number). The round or
 * set-up under way, or the next one, returns MPC_ESTOPPED ("stopped by
 * SIGTERM"); the caller then sends its reason to the peers with
 * mpc_net_abort. mpc_net_stop_signal() returns the signal asked for, 0 if
 * none. */
void mpc_net_stop(int signo);
int mpc_net_stop_signal(void);

/* With TLS: frames dropped since open because they did not come from an
 * authenticated peer (forged, replayed, tampered with, or in the clear
 * where TLS is required). Each is dropped, never fatal; a warning (at most
 * one a second) says so in the log. */
uint64_t mpc_net_dropped(const mpc_net *net);

/* 1 if the links run inside TLS, 0 for plaintext (or NULL). */
int mpc_net_uses_tls(const mpc_net *net);

#endif
