/* Little-endian integers in byte buffers: the wire and file formats. */
#ifndef MPC_BYTES_H
#define MPC_BYTES_H

#include <stdint.h>

static inline void mpc_put16(uint8_t *b, uint16_t v) {
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}
static inline void mpc_put32(uint8_t *b, uint32_t v) {
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static inline void mpc_put64(uint8_t *b, uint64_t v) {
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t mpc_get16(const uint8_t *b) {
	return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t mpc_get32(const uint8_t *b) {
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t mpc_get64(const uint8_t *b) {
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

#endif
