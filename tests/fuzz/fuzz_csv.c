/* libFuzzer target: the transaction CSV reader (runtime/mpc_csv). */
#include <stddef.h>
#include <stdint.h>

#include "jobs/mpc_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	mpc_txns t;
	if (mpc_txns_parse("fuzz.csv", (const char *)data, len, 1e6, &t) == MPC_OK)
		mpc_txns_fini(&t);
	return 0;
}
