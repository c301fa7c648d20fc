/* TLS 1.3 helpers for net/: ephemeral credentials, fingerprints, a context
 * that pins peers by certificate hash, and a BIO over lent buffers. */
#include "net/mpc_tls.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static mpc_err ossl_fail(const char *what) {
	char buf[256];
	mpc_err err = mpc_error(MPC_ECRYPTO, "%s: %s", what, mpc_tls_last_error(buf, sizeof(buf)));
	ERR_clear_error();
	return err;
}

const char *mpc_tls_last_error(char *buf, size_t cap) {
	unsigned long e = ERR_peek_last_error();
	if (e == 0)
		snprintf(buf, cap, "no OpenSSL error recorded");
	else
		ERR_error_string_n(e, buf, cap);
	return buf;
}

const char *mpc_tls_peer_alert(void) {
	unsigned long e = ERR_peek_last_error();
	int reason = ERR_GET_REASON(e);
	if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL || reason < SSL_AD_REASON_OFFSET)
		return NULL;
	return SSL_alert_desc_string_long(reason - SSL_AD_REASON_OFFSET);
}

mpc_err mpc_tls_ephemeral(const char *name, EVP_PKEY **key, X509 **cert) {
	return mpc_tls_selfsigned(name, 3650, key, cert);
}

mpc_err mpc_tls_selfsigned(const char *name, int days, EVP_PKEY **key, X509 **cert) {
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	X509_NAME *subj;
	uint8_t serial[8];
	mpc_err err = MPC_ECRYPTO;

	if (key == NULL || cert == NULL || days < 1 || days > 36500)
		return mpc_error(MPC_EINVAL, "mpc_tls_selfsigned: no place for the result, or "
		                             "days outside 1..36500");
	*key = NULL;
	*cert = NULL;
	if ((k = EVP_EC_gen("P-256")) == NULL) {
		err = ossl_fail("cannot make an EC P-256 key");
		goto out;
	}
	if ((c = X509_new()) == NULL || RAND_bytes(serial, sizeof(serial)) != 1) {
		err = ossl_fail("cannot make a certificate");
		goto out;
	}
	serial[0] &= 0x7f; /* a positive serial */
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	subj = X509_get_subject_name(c);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) == NULL ||
	    X509_set_version(c, X509_VERSION_3) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(c), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 24 * 3600) == NULL ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	                               (const unsigned char *)(name && name[0] ? name : "mpc node"),
	                               -1, -1, 0) != 1 ||
	    X509_set_issuer_name(c, subj) != 1 || X509_set_pubkey(c, k) != 1 ||
	    X509_sign(c, k, EVP_sha256()) <= 0) {
		BN_free(bn);
		err = ossl_fail("cannot make a self-signed certificate");
		goto out;
	}
	BN_free(bn);
	*key = k;
	*cert = c;
	k = NULL;
	c = NULL;
	err = MPC_OK;
out:
	EVP_PKEY_free(k); /* frees (and cleanses) the private key */
	X509_free(c);
	return err;
}

mpc_err mpc_tls_fingerprint(X509 *cert, uint8_t fp[MPC_TLS_FP_BYTES]) {
	unsigned int len = 0;
	if (cert == NULL || X509_digest(cert, EVP_sha256(), fp, &len) != 1 ||
	    len != MPC_TLS_FP_BYTES)
		return ossl_fail("cannot hash a certificate");
	return MPC_OK;
}

void mpc_tls_fingerprint_format(const uint8_t fp[MPC_TLS_FP_BYTES], char out[MPC_TLS_FP_TEXT]) {
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	memcpy(out, "sha256:", 7);
	k = 7;
	for (int i = 0; i < MPC_TLS_FP_BYTES; i++) {
		if (i)
			out[k++] = ':';
		out[k++] = hex[fp[i] >> 4];
		out[k++] = hex[fp[i] & 15];
	}
	out[k] = '\0';
}

/* ---- a BIO over lent buffers ---- */

static BIO_METHOD *link_method;
static pthread_once_t link_once = PTHREAD_ONCE_INIT;

static int link_write(BIO *b, const char *buf, int len) {
	mpc_tls_link *l = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	return l->out(l->out_arg, buf, (size_t)len) == 0 ? len : -1;
}

static int link_read(BIO *b, char *buf, int len) {
	mpc_tls_link *l = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (l->in_len == 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	size_t n = l->in_len < (size_t)len ? l->in_len : (size_t)len;
	memcpy(buf, l->in, n);
	l->in += n;
	l->in_len -= n;
	return (int)n;
}

static long link_ctrl(BIO *b, int cmd, long num, void *ptr) {
	mpc_tls_link *l = BIO_get_data(b);
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DUP:
		return 1;
	case BIO_CTRL_PENDING:
		return l ? (long)l->in_len : 0;
	default:
		return 0;
	}
}

static int link_create(BIO *b) {
	BIO_set_init(b, 1);
	return 1;
}

static void make_method(void) {
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mpc link");
	if (m == NULL || BIO_meth_set_write(m, link_write) != 1 ||
	    BIO_meth_set_read(m, link_read) != 1 || BIO_meth_set_ctrl(m, link_ctrl) != 1 ||
	    BIO_meth_set_create(m, link_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	link_method = m;
}

/* The whole chain check: the leaf must hash to the pin. The chain is
 * self-signed, so there is nothing else to check; the handshake proves that
 * the peer holds the certificate's key. */
static int verify_pin(X509_STORE_CTX *xs, void *arg) {
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	mpc_tls_link *l = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned int len = 0;
	(void)arg;
	if (l == NULL || leaf == NULL) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	l->verified = 1;
	if (X509_digest(leaf, EVP_sha256(), l->seen, &len) != 1 || len != MPC_TLS_FP_BYTES) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	l->pin_ok = CRYPTO_memcmp(l->seen, l->pin, MPC_TLS_FP_BYTES) == 0;
	X509_STORE_CTX_set_error(xs, l->pin_ok ? X509_V_OK : X509_V_ERR_CERT_REJECTED);
	return l->pin_ok;
}

mpc_err mpc_tls_ctx_new(EVP_PKEY *key, X509 *cert, SSL_CTX **out) {
	SSL_CTX *ctx;

	*out = NULL;
	if (key == NULL || cert == NULL)
		return mpc_error(MPC_EINVAL, "TLS: no key or certificate for this node");
	if ((ctx = SSL_CTX_new(TLS_method())) == NULL)
		return ossl_fail("TLS: cannot make a context");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	                                  "TLS_CHACHA20_POLY1305_SHA256") != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 0) != 1) {
		SSL_CTX_free(ctx);
		return ossl_fail("TLS: cannot configure TLS 1.3");
	}
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		char buf[256];
		mpc_err err = mpc_error(
		    MPC_ECONFIG, "TLS: this node's key and certificate do not go together: %s",
		    mpc_tls_last_error(buf, sizeof(buf)));
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return err;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_pin, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(ctx, 1);
	*out = ctx;
	return MPC_OK;
}

mpc_err mpc_tls_ssl_new(SSL_CTX *ctx, int client, mpc_tls_link *link, SSL **out) {
	SSL *ssl;
	BIO *bio;

	*out = NULL;
	pthread_once(&link_once, make_method);
	if (link_method == NULL)
		return ossl_fail("TLS: cannot make a BIO method");
	if ((ssl = SSL_new(ctx)) == NULL)
		return ossl_fail("TLS: cannot make a connection");
	if ((bio = BIO_new(link_method)) == NULL) {
		SSL_free(ssl);
		return ossl_fail("TLS: cannot make a BIO");
	}
	BIO_set_data(bio, link);
	SSL_set_bio(ssl, bio, bio); /* one reference, owned by ssl */
	SSL_set_app_data(ssl, link);
	if (client)
		SSL_set_connect_state(ssl);
	else
		SSL_set_accept_state(ssl);
	*out = ssl;
	return MPC_OK;
}
