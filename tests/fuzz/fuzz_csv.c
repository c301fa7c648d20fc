/* libFuzzer target: the job layer's CSV reader (jobs/mpc_csv.h), through
 * the transaction reader and directly, with and without a header and with
 * small limits, every field read as a number. */
#include <stddef.h>
#include <stdint.h>

#include "jobs/mpc_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void walk(const uint8_t *data, size_t len, const mpc_csv_opts *o) {
	mpc_csv *c;
	char **f;
	int n;
	double v;
	if (mpc_csv_open_mem("fuzz.csv", (const char *)data, len, o, &c) != MPC_OK)
		return;
	(void)mpc_csv_col(c, "amount");
	while (mpc_csv_next(c, &f, &n) == MPC_OK && n > 0)
		for (int i = 0; i < n; i++)
			(void)mpc_csv_number(c, i, &v);
	mpc_csv_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
	mpc_txns t;
	if (mpc_txns_parse("fuzz.csv", (const char *)data, len, 1e6, &t) == MPC_OK)
		mpc_txns_fini(&t);
	const mpc_csv_opts hdr = {.header = 1, .expect = "a,b"};
	const mpc_csv_opts small = {.max_fields = 3, .max_line = 16};
	walk(data, len, &hdr);
	walk(data, len, &small);
	walk(data, len, NULL);
	return 0;
}
