#include "runtime/mpc_wipe.h"

#include <stdlib.h>

#include <openssl/crypto.h>

void mpc_wipe(void *p, size_t n) {
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

void mpc_wipe_free(void *p, size_t n) {
	if (p != NULL) {
		mpc_wipe(p, n);
		free(p);
	}
}
