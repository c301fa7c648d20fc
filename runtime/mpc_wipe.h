/* Wiping secrets before memory is released or reused. */
#ifndef MPC_WIPE_H
#define MPC_WIPE_H

#include <stddef.h>

/* Overwrite n bytes at p with zeros in a way the compiler cannot drop
 * (OPENSSL_cleanse). p may be NULL when n is 0. */
void mpc_wipe(void *p, size_t n);

/* Wipe n bytes at p, then free(p); NULL does nothing. */
void mpc_wipe_free(void *p, size_t n);

#endif
