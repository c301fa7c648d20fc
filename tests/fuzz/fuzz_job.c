/* libFuzzer target: the job-file reader (jobs/mpc_job). A file that parses
 * must give a canonical text that is stable, hashes, equals itself under
 * diff and yields nodes; the input itself is fed to diff as a peer's text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
	const char *in = (const char *)data;
	mpc_job *job = NULL;
	char field[64];

	if (mpc_job_parse("fuzz.ini", in, len, &job) != MPC_OK) {
		if (job != NULL)
			abort(); /* nothing half-made on error */
		return 0;
	}
	char *text = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	uint8_t h[32];
	mpc_nodes nodes;
	if (mpc_job_canonical(job, &text, &n) != MPC_OK ||
	    mpc_job_canonical(job, &again, &n2) != MPC_OK || n != n2 || memcmp(text, again, n) != 0)
		abort();
	if (mpc_job_diff(text, n, text, n, field, sizeof(field)) != MPC_OK || field[0] != '\0')
		abort();
	(void)mpc_job_diff(text, n, in, len, field, sizeof(field));
	(void)mpc_job_diff(in, len, text, n, field, sizeof(field));
	if (mpc_job_hash(job, h) != MPC_OK)
		abort();
	if (job->n_parties < 2 || job->n_parties > MPC_JOB_MAX_PARTIES)
		abort();
	if (mpc_job_nodes(job, &nodes) != MPC_OK)
		abort();
	mpc_nodes_fini(&nodes);
	free(text);
	free(again);
	mpc_job_free(job);
	return 0;
}
