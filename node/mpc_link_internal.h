/* Internals of the control links shared by their two files; not for callers.
 *
 *   mpc_link.c     the link set: start and stop, the accept loop and the
 *                  connections it serves, calls, the keep-alive threads
 *   mpc_link_io.c  one connection: addresses, listening and dialling with
 *                  deadlines, the TLS context and its pin check, our
 *                  MSG_NOSIGNAL BIO, frames in and out, failures named
 *
 * Every wait polls the socket together with the stop pipe, whose read end
 * becomes readable (for good) when mpc_links_stop begins. */
#ifndef MPC_LINK_INTERNAL_H
#define MPC_LINK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "node/mpc_link.h"
#include "runtime/mpc_err.h"

#define LINK_KIND_REQUEST 0
#define LINK_KIND_PING    1

/* One peer: what the configuration says and what its keep-alives saw. */
typedef struct {
	struct mpc_links *l;
	int idx;
	char name[33];
	uint8_t pin[32];
	/* under l->mu */
	char address[MPC_LINK_ADDR_MAX]; /* "" none */
	int up, kick;
	double since;   /* unix seconds */
	double last_ok; /* monotonic seconds */
	double rtt_ms;
	uint64_t ok, failed;
	int backoff_ms; /* the retry period while down; 0: ping_ms next */
	char why[200];  /* the last failure */
	pthread_t thread;
	int started;
} link_peer;

struct mpc_links {
	char self[33];
	int ping_ms, down_after_ms, io_timeout_ms;
	size_t max_message;
	mpc_link_handler handler;
	void *handler_arg;
	mpc_link_state_cb on_state;
	void *state_arg;
	SSL_CTX *ctx;
	int lfd;
	uint16_t port;
	int stop_pipe[2];
	atomic_int stopping;
	atomic_uint_fast64_t rejected;
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* CLOCK_MONOTONIC; broadcast on every change below */
	int serving, calling; /* under mu */
	pthread_t acceptor;
	int accepting;
	int n;
	link_peer *peers;
};

/* One TLS connection, either way. */
typedef struct {
	struct mpc_links *l;
	int fd;
	SSL *ssl;
	int client;
	int peer;         /* dialled (client) or identified by its pin (server); -1 */
	double deadline;  /* monotonic seconds */
	int timeout_ms;   /* for messages */
	int verified;     /* the peer's certificate was seen ... */
	uint8_t seen[32]; /* ... and hashed to this */
	char from[64];    /* server: the client's address, for the log */
} link_conn;

/* Monotonic and wall-clock seconds. */
double mpc_links_mono(void);
double mpc_links_wall(void);

/* Split "HOST:PORT" ("[V6]:PORT" too) into host and port text; MPC_ECONFIG
 * saying what is wrong (no file name: callers add where). */
mpc_err mpc_links_addr_split(const char *addr, char host[MPC_LINK_ADDR_MAX],
                             char port[8]) MPC_MUST_CHECK;

/* Bind and listen on addr; *port is the port bound. MPC_ENET naming addr
 * and strerror, MPC_ECONFIG for a bad address. */
mpc_err mpc_links_listen(const char *addr, int *fd, uint16_t *port) MPC_MUST_CHECK;

/* l->ctx: TLS 1.3 with our key and certificate, mutual authentication, no
 * tickets, and the pin check of link_conn (app data of every SSL). */
mpc_err mpc_links_ctx(struct mpc_links *l, EVP_PKEY *key, X509 *cert) MPC_MUST_CHECK;

/* Client: connect to address and complete the handshake by c->deadline.
 * Server: the handshake on the accepted c->fd. Errors are recorded as what
 * failed, without the peer's name (the caller adds it). */
mpc_err mpc_links_dial(link_conn *c, const char *address) MPC_MUST_CHECK;
mpc_err mpc_links_accept(link_conn *c) MPC_MUST_CHECK;

/* One frame: the kind or code byte, then payload. Receiving allocates
 * *payload (a NUL after its *len bytes) and refuses a payload over max. */
mpc_err mpc_links_send(link_conn *c, int kind, const void *payload, size_t len) MPC_MUST_CHECK;
mpc_err mpc_links_recv(link_conn *c, size_t max, int *kind, char **payload,
                       size_t *len) MPC_MUST_CHECK;

/* Free the SSL and close the socket. linger: first half-close and read what
 * the peer still sends for a moment, so that a TLS alert we sent is not
 * destroyed by a reset. */
void mpc_links_close(link_conn *c, int linger);

#endif
