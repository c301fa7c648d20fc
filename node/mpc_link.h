/* The node's control links: small request/response messages between the
 * standing nodes of a consortium (proposing and approving jobs) and
 * keep-alives that say which peers are up. The per-job data plane stays in
 * net/; this is only the control plane.
 *
 * Wire: TCP, always inside TLS 1.3 with mutual authentication and no session
 * tickets. Both sides present their (self-signed) certificate; nothing is
 * checked against a CA. A client accepts the server only if its certificate's
 * SHA-256 equals the pin of the peer it dialled; a server accepts a client
 * only if its certificate hashes to one peer's pin, and that pin names the
 * peer its handler is told about. One connection per call: the client sends
 * one frame, the server answers with one frame, both close. A frame is a
 * 4-byte big-endian length, then that many bytes: one kind or code byte and
 * the payload. Requests are kind 0 (to the handler) or 1 (a keep-alive ping,
 * answered by the link set itself); an answer's first byte is an mpc_err
 * code, then the handler's response (MPC_OK) or its detail text. Payloads
 * over max_message bytes are refused by both sides.
 *
 * Threads: an accept loop; a thread per inbound connection (at most
 * MPC_LINK_MAX_CONNS at a time; more are closed at once and counted as
 * rejected), each with the io_timeout_ms deadline for the handshake and the
 * request, so a slow handler delays nobody else; and one keep-alive thread per
 * peer, so a silent peer delays no other peer's pings.
 *
 * Keep-alives: a ping every ping_ms (with a deadline of the smaller of
 * io_timeout_ms and down_after_ms) to each peer. One success makes a peer
 * up; it is down once no ping succeeded for down_after_ms: a refusing peer
 * is seen down down_after_ms after its last success, a silent one at most a
 * ping_ms later. While down, retries wait ping_ms, then twice as long each
 * time, up to MPC_LINK_BACKOFF_MAX_MS; a success (or mpc_links_set_address)
 * resets that.
 *
 * Host names in addresses are resolved at each call with getaddrinfo, whose
 * wait the deadlines do not bound (use IP addresses where that matters).
 *
 * SIGPIPE: the links never raise it. Their TLS connections write through a
 * BIO of ours that sends with MSG_NOSIGNAL, so mpc_links_start changes no
 * signal disposition of the process.
 *
 * Ports in tests (and in a node that learns addresses late): a peer's
 * address may be NULL or "" at start (calls and pings to it then fail with
 * MPC_ENET "no address"), and mpc_links_set_address gives or changes it
 * later. So a test starts every link set on "127.0.0.1:0", asks each for
 * mpc_links_port, and then tells the others.
 *
 * No key material and no message content is ever logged; certificate
 * fingerprints (public) are. */
#ifndef MPC_LINK_H
#define MPC_LINK_H

#include "runtime/mpc_err.h"
#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_LINK_MAX_PEERS       63
#define MPC_LINK_MAX_QUIET_PEERS 4096 /* peers without keep-alives (no_keepalive) */
#define MPC_LINK_MAX_CONNS       64   /* inbound connections served at once */
#define MPC_LINK_ADDR_MAX        256  /* characters of "HOST:PORT", NUL included */
#define MPC_LINK_BACKOFF_MAX_MS  2000

typedef struct mpc_links mpc_links;

typedef struct {
	const char *name;    /* the peer's party name, [A-Za-z0-9._-]{1,32} */
	const char *address; /* "HOST:PORT" of its control listener ("[::1]:7702" too);
	                        NULL or "": not known yet (mpc_links_set_address) */
	uint8_t pin[32];     /* SHA-256 of its certificate's DER (mpc_tls_fingerprint) */
} mpc_link_peer;

/* Serve one request from an authenticated peer: set *resp (malloc'd, taken
 * by the link set; may stay NULL with *resp_len 0). req is followed by a NUL
 * byte that req_len does not count. Runs on a connection's own thread; may
 * call mpc_links_call to other peers. A code other than MPC_OK makes the call
 * fail at the caller with that code and this thread's mpc_error_detail()
 * (sent back in the answer; *resp is then freed unsent). */
typedef mpc_err (*mpc_link_handler)(void *arg, const char *peer, const char *req, size_t req_len,
                                    char **resp, size_t *resp_len);

/* A peer's link changed state (1 up, 0 down). Called from that peer's
 * keep-alive thread, holding no lock of the link set (it may call
 * mpc_links_status or mpc_links_call, never mpc_links_stop). */
typedef void (*mpc_link_state_cb)(void *arg, const char *peer, int up);

typedef struct {
	const char *self;           /* our party name (for messages) */
	const char *listen;         /* "HOST:PORT" to bind; port 0: any free port; NULL: no
	                               listener (a client only: calls out, serves nothing) */
	EVP_PKEY *key;              /* ours (borrowed; the SSL_CTX takes references) */
	X509 *cert;                 /* ours (borrowed) */
	const mpc_link_peer *peers; /* 1..MPC_LINK_MAX_PEERS (..MPC_LINK_MAX_QUIET_PEERS with
	                               no_keepalive), copied */
	int n_peers;
	int ping_ms;              /* keep-alive period; 0: 250 */
	int no_keepalive;         /* 1: no keep-alive threads (peers that only call us, such
	                             as input parties behind NAT, or a client that only
	                             calls): mpc_links_status shows them down */
	int down_after_ms;        /* down when no keep-alive succeeded for this long; 0: 1000 */
	int io_timeout_ms;        /* connect + handshake + answer deadline of one call; 0: 5000 */
	size_t max_message;       /* payload bytes of one frame; 0: 1 MiB */
	mpc_link_handler handler; /* NULL: requests are refused with MPC_EINVAL */
	void *handler_arg;
	mpc_link_state_cb on_state; /* may be NULL */
	void *state_arg;
} mpc_links_config;

/* Bind the listener, start the accept loop and the keep-alive threads.
 * MPC_ENET naming the address and strerror if it cannot bind; MPC_ECONFIG
 * for a bad name or address, a key that does not match the certificate,
 * duplicate peer names or pins, a peer named like us, or n_peers outside
 * 1..63; MPC_EINVAL for NULL arguments. Peers start down. */
mpc_err mpc_links_start(const mpc_links_config *cfg, mpc_links **out) MPC_MUST_CHECK;

/* The port the listener is bound to (the one picked when cfg->listen said 0). */
uint16_t mpc_links_port(const mpc_links *l);

/* Give or change a peer's address ("HOST:PORT"; NULL or "": none). Wakes its
 * keep-alive thread for a ping now, its back-off reset. MPC_EINVAL for an
 * unknown peer, MPC_ECONFIG for a bad address. Thread-safe. */
mpc_err mpc_links_set_address(mpc_links *l, const char *peer, const char *address) MPC_MUST_CHECK;

/* One request/response to a peer, waiting at most timeout_ms for all of it
 * (0: io_timeout_ms); req_len at most max_message. On MPC_OK, *resp is
 * malloc'd with a NUL after its *resp_len bytes (caller frees; resp and
 * resp_len may be NULL to drop the answer); on error it is NULL and 0. Errors
 * name the peer, its address and what failed: MPC_ENET (refused, unreachable,
 * closed, no address), MPC_ETIMEDOUT (silent), MPC_ECRYPTO (it presented a
 * certificate other than the pinned one: both fingerprints, sha256:AB:..; or
 * it refused ours; or another TLS failure), MPC_EPROTO (malformed or
 * oversized frame, either way), MPC_ESTOPPED (the link set is stopping), or
 * the handler's code with its detail after "PEER: ". MPC_EINVAL for an unknown
 * peer name. Thread-safe; concurrent calls use connections of their own. */
mpc_err mpc_links_call(mpc_links *l, const char *peer, const void *req, size_t req_len, char **resp,
                       size_t *resp_len, int timeout_ms) MPC_MUST_CHECK;

typedef struct {
	char name[33];
	int up;        /* a keep-alive succeeded within down_after_ms */
	double since;  /* unix seconds of the last state change (start time if none) */
	double rtt_ms; /* the last successful keep-alive's round trip (0: none yet) */
	uint64_t pings_ok, pings_failed;
	int backoff_ms;       /* the retry period while down (doubling from ping_ms up to
	                         MPC_LINK_BACKOFF_MAX_MS); ping_ms while up */
	char last_error[200]; /* why it is down ("" when up): "connect: Connection refused",
	                         "certificate mismatch: pinned sha256:.., presented sha256:.." */
} mpc_link_status;

/* Fill up to max entries, in the order of cfg->peers; returns n_peers. */
int mpc_links_status(mpc_links *l, mpc_link_status *out, int max);

/* Inbound connections dropped: unknown or wrong certificate, failed
 * handshake, bad or oversized frame, timeout, over MPC_LINK_MAX_CONNS. */
uint64_t mpc_links_rejected(const mpc_links *l);

/* Stop the threads, close the sockets, free; NULL is fine. Prompt (well
 * under a second): every wait also watches a stop signal, so calls in
 * progress on other threads return MPC_ESTOPPED first. It waits for running
 * handlers to return, so it may not be called from a handler or a state
 * callback. No call may start once mpc_links_stop has begun, other than from
 * a handler (it fails with MPC_ESTOPPED). */
void mpc_links_stop(mpc_links *l);

#endif
