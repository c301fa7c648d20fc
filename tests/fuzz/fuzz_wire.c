/* libFuzzer target: the wire message decoder (net/mpc_recv.c, entered through
 * net/mpc_net_hooks.c), fed sequences of messages as they would arrive from
 * peers. */
#include <stddef.h>
#include <stdint.h>

#include "net/mpc_net_fault.h"
#include "runtime/mpc_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
	static int quiet;
	if (!quiet) {
		mpc_log_init("fuzz", MPC_LOG_OFF, NULL);
		quiet = 1;
	}
	(void)mpc_net_fuzz_messages(data, len);
	return 0;
}
