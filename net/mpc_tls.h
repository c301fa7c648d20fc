/* TLS 1.3 pieces for net/: ephemeral keys and certificates, fingerprints,
 * and the per-link machinery (an SSL_CTX with pinned, mutual authentication
 * and a BIO that reads ciphertext from a buffer we lend it and hands what it
 * writes to a callback). The message plumbing lives in mpc_handshake.c,
 * mpc_send.c and mpc_recv.c. */
#ifndef MPC_TLS_H
#define MPC_TLS_H

#include "runtime/mpc_err.h"
#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_TLS_FP_BYTES 32
/* "sha256:" and 32 colon-separated hex pairs, NUL included. */
#define MPC_TLS_FP_TEXT 104

/* A fresh EC P-256 key and a self-signed certificate for it (CN = name,
 * valid from an hour ago for 10 years), in memory. For tests and the loopback
 * cluster. MPC_ECRYPTO if OpenSSL fails. Caller frees with EVP_PKEY_free and
 * X509_free. */
mpc_err mpc_tls_ephemeral(const char *name, EVP_PKEY **key, X509 **cert) MPC_MUST_CHECK;
/* The same, valid for `days` (1..36500) from an hour ago (mpc-party keygen). */
mpc_err mpc_tls_selfsigned(const char *name, int days, EVP_PKEY **key, X509 **cert) MPC_MUST_CHECK;

/* SHA-256 of the certificate's DER encoding. MPC_ECRYPTO if it cannot be
 * encoded. */
mpc_err mpc_tls_fingerprint(X509 *cert, uint8_t fp[MPC_TLS_FP_BYTES]) MPC_MUST_CHECK;

/* "sha256:AB:CD:...", always NUL-terminated. */
void mpc_tls_fingerprint_format(const uint8_t fp[MPC_TLS_FP_BYTES], char out[MPC_TLS_FP_TEXT]);

/* ---- for the links of net/ (mpc_handshake.c, mpc_send.c) ---- */

/* One link's I/O and verification state, owned by the caller; the SSL
 * object borrows it. */
typedef struct {
	const uint8_t *in; /* ciphertext lent to OpenSSL until it has read it */
	size_t in_len;
	/* Takes ciphertext OpenSSL wrote (whole records); returns 0, or -1 to
	 * make the write fail. */
	int (*out)(void *arg, const void *buf, size_t len);
	void *out_arg;
	uint8_t pin[MPC_TLS_FP_BYTES];  /* what the peer's certificate must hash to */
	int verified;                   /* the peer's certificate was checked ... */
	int pin_ok;                     /* ... and matched the pin */
	uint8_t seen[MPC_TLS_FP_BYTES]; /* the fingerprint it presented */
} mpc_tls_link;

/* A context for TLS 1.3 only, with our key and certificate (borrowed; the
 * context takes its own references), mutual authentication, no tickets.
 * MPC_ECONFIG if the key does not match the certificate. */
mpc_err mpc_tls_ctx_new(EVP_PKEY *key, X509 *cert, SSL_CTX **out) MPC_MUST_CHECK;

/* A connection on ctx for one link, client or server, doing its I/O through
 * link (borrowed: it must outlive the SSL). Free with SSL_free. */
mpc_err mpc_tls_ssl_new(SSL_CTX *ctx, int client, mpc_tls_link *link, SSL **out) MPC_MUST_CHECK;

/* After an SSL call failed with SSL_ERROR_SSL: the TLS alert the peer sent
 * us (its description), or NULL if the failure was ours; and a short text of
 * OpenSSL's error (never secret). Both clear nothing; call before
 * ERR_clear_error. */
const char *mpc_tls_peer_alert(void);
const char *mpc_tls_last_error(char *buf, size_t cap);

#endif
