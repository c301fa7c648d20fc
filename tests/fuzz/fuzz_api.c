/* libFuzzer target: the local API's JSON bodies (node/mpc_api). Any bytes
 * must be read without a crash; a refusal is MPC_EINVAL with *out zeroed; an
 * accepted POST /jobs body gives a job text of 1..MPC_API_MAX_JOB_TEXT bytes
 * without a NUL, NUL-terminated, and an empty or valid dataset name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_job.h"
#include "node/mpc_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
	mpc_api_submit s;
	static const mpc_api_submit zero;

	/* a copy of exactly len bytes: ASan sees any read past the body */
	char *body = malloc(len ? len : 1);
	if (body == NULL)
		return 0;
	if (len)
		memcpy(body, data, len);
	mpc_err e = mpc_api_parse_submit(body, len, &s);
	free(body);
	if (e != MPC_OK) {
		if (e != MPC_EINVAL || memcmp(&s, &zero, sizeof(s)) != 0)
			abort();
		return 0;
	}
	if (s.job_text == NULL || s.job_len == 0 || s.job_len > MPC_API_MAX_JOB_TEXT ||
	    strlen(s.job_text) != s.job_len)
		abort();
	if (s.dataset[0] != '\0' && !mpc_job_name_ok(s.dataset, MPC_API_DATASET_MAX))
		abort();
	mpc_api_submit_free(&s);
	if (memcmp(&s, &zero, sizeof(s)) != 0)
		abort();
	return 0;
}
