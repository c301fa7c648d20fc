#include "tests/support/bristol_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *bristol_path(const char *name) {
	static char path[512];
	const char *dir = getenv("MPC_BRISTOL_DIR");
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "../shared/circuits/bristol", name);
	if (stat(path, &st) != 0) {
		fprintf(
		    stderr,
		    "skipping: %s not found (the public Bristol circuits live in "
		    "../shared/circuits/bristol beside the repository, or set MPC_BRISTOL_DIR)\n",
		    path);
		return NULL;
	}
	return path;
}

void be_to_bits(const uint8_t *v, size_t bytes, uint8_t *bits) {
	for (size_t k = 0; k < 8 * bytes; k++)
		bits[k] = (uint8_t)((v[bytes - 1 - k / 8] >> (k % 8)) & 1);
}

void bits_to_be(const uint8_t *bits, size_t bytes, uint8_t *v) {
	for (size_t i = 0; i < bytes; i++)
		v[i] = 0;
	for (size_t k = 0; k < 8 * bytes; k++)
		v[bytes - 1 - k / 8] |= (uint8_t)((bits[k] & 1) << (k % 8));
}
