/* Where the tests find ../shared/circuits/bristol, and bit packing helpers. */
#ifndef TESTS_BRISTOL_FILES_H
#define TESTS_BRISTOL_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Path of a public Bristol circuit (../shared/circuits/bristol/NAME, or
 * $MPC_BRISTOL_DIR/NAME), or NULL with a message on stderr when the folder
 * is absent (a user's clone): the caller skips. */
const char *bristol_path(const char *name);

/* A bytes-long big-endian value (AES blocks, SHA-256 words) into width
 * 8*bytes wire bits, wire i = bit i of the value (least significant first). */
void be_to_bits(const uint8_t *v, size_t bytes, uint8_t *bits);
void bits_to_be(const uint8_t *bits, size_t bytes, uint8_t *v);

#endif
