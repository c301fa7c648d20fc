/* libFuzzer target: the job-file reader (net/mpc_job). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "net/mpc_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	mpc_job *job = NULL;
	if (mpc_job_parse("fuzz.ini", (const char *)data, len, &job) == MPC_OK) {
		char *text = NULL, field[64];
		size_t n = 0;
		mpc_nodes nodes;
		if (mpc_job_canonical(job, &text, &n) == MPC_OK) {
			(void)mpc_job_diff(text, n, (const char *)data, len, field, sizeof(field));
			free(text);
		}
		if (mpc_job_nodes(job, &nodes) == MPC_OK)
			mpc_nodes_fini(&nodes);
		mpc_job_free(job);
	}
	return 0;
}
