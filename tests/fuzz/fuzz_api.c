/* libFuzzer target: the local API's JSON bodies (node/mpc_api). Any bytes
 * must be read without a crash; a refusal is MPC_EINVAL with *out zeroed; an
 * accepted POST /jobs body gives a job text of 1..MPC_API_MAX_JOB_TEXT bytes
 * without a NUL, NUL-terminated, and an empty or valid dataset name; an
 * accepted POST /score body gives 1..MPC_API_MAX_SCORE_ROWS transactions of
 * 1..MPC_API_MAX_FEATURES finite numbers and a valid service id. The same
 * bytes go to both parsers. */
#include <math.h>
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
	mpc_api_score sc;
	static const mpc_api_score zero_sc;
	mpc_err es = mpc_api_parse_score(body, len, &sc);
	free(body);
	if (es != MPC_OK && (es != MPC_EINVAL || memcmp(&sc, &zero_sc, sizeof(sc)) != 0))
		abort();
	if (es == MPC_OK) {
		if (sc.n == 0 || sc.n > MPC_API_MAX_SCORE_ROWS || sc.d == 0 ||
		    sc.d > MPC_API_MAX_FEATURES || sc.x == NULL || !mpc_job_name_ok(sc.service, 64))
			abort();
		for (size_t i = 0; i < sc.n * sc.d; i++)
			if (!isfinite(sc.x[i]))
				abort();
		mpc_api_score_free(&sc);
	}
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
