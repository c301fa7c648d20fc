/* AES-128-OCB frames under keys exported from a TLS 1.3 handshake. */
#include "net/mpc_frame.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

/* OpenSSL 3.0.0 to 3.0.4 left bytes unencrypted in AES-OCB on 32-bit x86
 * with AES-NI (CVE-2022-2097). */
#if OPENSSL_VERSION_NUMBER < 0x30000050L && (defined(__i386__) || defined(_M_IX86))
#error "OpenSSL 3.0.5 or later is needed for AES-OCB on 32-bit x86 (CVE-2022-2097)"
#endif

#define KEY_BYTES 16
#define LABEL     "EXPORTER-mpc-frame-keys-v1"

/* OCB decrypts with the inverse cipher: a direction's context is made for
 * sealing or for opening, never both. */
static int dir_init(mpc_frame_dir *d, const uint8_t *key, const uint8_t *iv, int seal) {
	memcpy(d->iv, iv, MPC_FRAME_IV);
	if ((d->ctx = EVP_CIPHER_CTX_new()) == NULL || (d->ctx2 = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(d->ctx, EVP_aes_128_ocb(), NULL, key, NULL, seal) != 1 ||
	    EVP_CipherInit_ex(d->ctx2, EVP_aes_128_ocb(), NULL, key, NULL, seal) != 1)
		return -1;
	return 0;
}

mpc_err mpc_frame_keys(SSL *ssl, int client, const uint8_t *context, size_t context_len,
                       mpc_frame_dir *tx, mpc_frame_dir *rx) {
	/* client-to-server key and iv, then server-to-client */
	uint8_t km[2 * (KEY_BYTES + MPC_FRAME_IV)];
	const uint8_t *c2s = km, *s2c = km + KEY_BYTES + MPC_FRAME_IV;
	mpc_err err = MPC_OK;

	memset(tx, 0, sizeof(*tx));
	memset(rx, 0, sizeof(*rx));
	if (SSL_export_keying_material(ssl, km, sizeof(km), LABEL, strlen(LABEL), context,
	                               context_len, 1) != 1 ||
	    dir_init(tx, client ? c2s : s2c, (client ? c2s : s2c) + KEY_BYTES, 1) != 0 ||
	    dir_init(rx, client ? s2c : c2s, (client ? s2c : c2s) + KEY_BYTES, 0) != 0) {
		mpc_frame_dir_free(tx);
		mpc_frame_dir_free(rx);
		ERR_clear_error();
		err = mpc_error(MPC_ECRYPTO, "cannot derive the frame keys from the TLS handshake");
	}
	OPENSSL_cleanse(km, sizeof(km));
	return err;
}

void mpc_frame_dir_free(mpc_frame_dir *d) {
	EVP_CIPHER_CTX_free(d->ctx); /* wipes the key schedule */
	EVP_CIPHER_CTX_free(d->ctx2);
	OPENSSL_cleanse(d, sizeof(*d));
}

static int begin(EVP_CIPHER_CTX *ctx, const uint8_t *iv, int seal, uint64_t counter,
                 const uint8_t *aad, size_t aad_len) {
	uint8_t nonce[MPC_FRAME_IV];
	int n;
	memcpy(nonce, iv, MPC_FRAME_IV);
	for (int i = 0; i < 8; i++)
		nonce[MPC_FRAME_IV - 1 - i] ^= (uint8_t)(counter >> (8 * i));
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, seal) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		return -1;
	return 0;
}

int mpc_frame_begin(mpc_frame_dir *d, int seal, uint64_t counter, const uint8_t *aad,
                    size_t aad_len) {
	return begin(d->ctx, d->iv, seal, counter, aad, aad_len);
}

static long update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len) {
	long total = 0;
	while (len > 0) {
		int n = len > (size_t)INT_MAX / 2 ? (INT_MAX / 2) & ~15 : (int)len, w;
		if (EVP_CipherUpdate(ctx, out, &w, in, n) != 1 || w < 0)
			return -1;
		out += w;
		in += n;
		len -= (size_t)n;
		total += w;
	}
	return total;
}

long mpc_frame_update(mpc_frame_dir *d, uint8_t *out, const uint8_t *in, size_t len) {
	return update(d->ctx, out, in, len);
}

static int seal_end(EVP_CIPHER_CTX *ctx, uint8_t *out_tail, uint8_t tag[MPC_FRAME_TAG]) {
	int n;
	if (EVP_CipherFinal_ex(ctx, out_tail, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, MPC_FRAME_TAG, tag) != 1)
		return -1;
	return 0;
}

static int open_end(EVP_CIPHER_CTX *ctx, uint8_t *out_tail, const uint8_t tag[MPC_FRAME_TAG]) {
	uint8_t t[MPC_FRAME_TAG];
	int n;
	memcpy(t, tag, MPC_FRAME_TAG);
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, MPC_FRAME_TAG, t) != 1 ||
	    EVP_CipherFinal_ex(ctx, out_tail, &n) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int mpc_frame_seal_end(mpc_frame_dir *d, uint8_t *out_tail, uint8_t tag[MPC_FRAME_TAG]) {
	return seal_end(d->ctx, out_tail, tag);
}

int mpc_frame_open_end(mpc_frame_dir *d, uint8_t *out_tail, const uint8_t tag[MPC_FRAME_TAG]) {
	return open_end(d->ctx, out_tail, tag);
}

static int whole(mpc_frame_dir *d, int second, int seal, uint64_t counter, const uint8_t *aad,
                 size_t aad_len, uint8_t *out, const uint8_t *in, size_t len, uint8_t *tag) {
	EVP_CIPHER_CTX *ctx = second ? d->ctx2 : d->ctx;
	long w;
	if (begin(ctx, d->iv, seal, counter, aad, aad_len) != 0 ||
	    (w = update(ctx, out, in, len)) < 0) {
		ERR_clear_error();
		return -1;
	}
	int r = seal ? seal_end(ctx, out + w, tag) : open_end(ctx, out + w, tag);
	if (r != 0)
		ERR_clear_error();
	return r;
}

int mpc_frame_open_all(mpc_frame_dir *d, int second, uint64_t counter, const uint8_t *aad,
                       size_t aad_len, uint8_t *out, const uint8_t *in, size_t len,
                       const uint8_t tag[MPC_FRAME_TAG]) {
	return whole(d, second, 0, counter, aad, aad_len, out, in, len, (uint8_t *)tag);
}

/* ---- the worker: one job at a time, handed over under a mutex ---- */

struct mpc_frame_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending, done, quit, result;
	int seal;
	mpc_frame_dir *d;
	uint64_t counter;
	const uint8_t *aad, *in;
	size_t aad_len, len;
	uint8_t *out, *tag;
};

static void *work(void *arg) {
	mpc_frame_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->pending && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		w->pending = 0;
		pthread_mutex_unlock(&w->mu);
		int r = whole(w->d, 1, w->seal, w->counter, w->aad, w->aad_len, w->out, w->in,
		              w->len, w->tag);
		pthread_mutex_lock(&w->mu);
		w->result = r;
		w->done = 1;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

mpc_err mpc_frame_worker_new(mpc_frame_worker **out) {
	mpc_frame_worker *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (w == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for the frame worker");
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->done = 1;
	if (pthread_create(&w->thread, NULL, work, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return mpc_error(MPC_ECONFIG, "cannot start the frame worker thread");
	}
	*out = w;
	return MPC_OK;
}

void mpc_frame_worker_free(mpc_frame_worker *w) {
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

void mpc_frame_worker_post(mpc_frame_worker *w, int seal, mpc_frame_dir *d, uint64_t counter,
                           const uint8_t *aad, size_t aad_len, uint8_t *out, const uint8_t *in,
                           size_t len, uint8_t *tag) {
	pthread_mutex_lock(&w->mu);
	w->seal = seal;
	w->d = d;
	w->counter = counter;
	w->aad = aad;
	w->aad_len = aad_len;
	w->out = out;
	w->in = in;
	w->len = len;
	w->tag = tag;
	w->done = 0;
	w->pending = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int mpc_frame_worker_wait(mpc_frame_worker *w) {
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	int r = w->result;
	pthread_mutex_unlock(&w->mu);
	return r;
}
