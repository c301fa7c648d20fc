/* The local API's JSON bodies. jansson reads them with json_loadb (the body
 * is a buffer with a length, never a C string) and JSON_REJECT_DUPLICATES (a
 * key given twice could mean two things to two readers); its parser limits
 * nesting (JSON_PARSER_MAX_DEPTH). JSON_ALLOW_NUL lets "\u0000" through the
 * parser so that a job text holding one is refused here with its own
 * message; JSON_DECODE_ANY lets a bare value through so that "not an object"
 * can say what it is instead. */
#include "node/mpc_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jobs/mpc_job.h"
#include "runtime/mpc_wipe.h"

static const char *const submit_keys[] = {"job", "dataset"};
#define N_SUBMIT_KEYS (sizeof(submit_keys) / sizeof(submit_keys[0]))

static const char *type_name(const json_t *v) {
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* A key for a message: itself when it is a short plain word (it came from
 * the client and may be anything), else NULL. */
static const char *shown_key(const char *key, size_t len) {
	if (len == 0 || len > 32 || strlen(key) != len)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = key[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return NULL;
	}
	return key;
}

/* The JSON text itself: syntax, duplicates, an object. */
static mpc_err load_object(const char *body, size_t len, json_t **out) {
	json_error_t je;
	json_t *root = json_loadb(body ? body : "", body ? len : 0,
	                          JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
	*out = NULL;
	if (root == NULL) {
		/* an empty body has no line or column worth saying */
		if (len == 0)
			return mpc_error(MPC_EINVAL, "body: empty; expected a JSON object");
		return mpc_error(MPC_EINVAL, "body is not JSON: line %d, column %d: %s", je.line,
		                 je.column, je.text);
	}
	if (!json_is_object(root)) {
		mpc_err e =
		    mpc_error(MPC_EINVAL, "body: expected a JSON object, not %s", type_name(root));
		json_decref(root);
		return e;
	}
	*out = root;
	return MPC_OK;
}

/* Every key must be one of known[]. */
static mpc_err known_keys(json_t *obj, const char *const *known, size_t n_known,
                          const char *expected) {
	const char *key;
	size_t klen;
	json_t *v;

	json_object_keylen_foreach(obj, key, klen, v) {
		size_t i = 0;
		while (i < n_known &&
		       !(strlen(known[i]) == klen && memcmp(known[i], key, klen) == 0))
			i++;
		if (i < n_known)
			continue;
		const char *shown = shown_key(key, klen);
		if (shown != NULL)
			return mpc_error(MPC_EINVAL, "body: unknown key \"%s\"; expected %s", shown,
			                 expected);
		return mpc_error(
		    MPC_EINVAL,
		    "body: an unknown key (not shown: not a short plain word); expected %s",
		    expected);
	}
	return MPC_OK;
}

/* "job": a non-empty string of at most MPC_API_MAX_JOB_TEXT bytes, no NUL. */
static mpc_err take_job(json_t *obj, mpc_api_submit *out) {
	json_t *job = json_object_get(obj, "job");
	if (job == NULL)
		return mpc_error(MPC_EINVAL, "body: \"job\" missing; expected the job file's text");
	if (!json_is_string(job))
		return mpc_error(MPC_EINVAL,
		                 "body: \"job\" must be a string (the job file's text), not %s",
		                 type_name(job));
	const char *text = json_string_value(job);
	size_t n = json_string_length(job);
	if (n == 0)
		return mpc_error(MPC_EINVAL,
		                 "body: \"job\" is empty; expected the job file's text");
	if (n > MPC_API_MAX_JOB_TEXT)
		return mpc_error(MPC_EINVAL, "body: \"job\" is %zu bytes; at most %d", n,
		                 MPC_API_MAX_JOB_TEXT);
	const char *nul = memchr(text, '\0', n);
	if (nul != NULL)
		return mpc_error(MPC_EINVAL,
		                 "body: \"job\" holds a NUL character (\\u0000) at byte %zu; a job "
		                 "file is text",
		                 (size_t)(nul - text));
	out->job_text = malloc(n + 1);
	if (out->job_text == NULL)
		return mpc_error(MPC_ENOMEM, "mpc_api_parse_submit: out of memory");
	memcpy(out->job_text, text, n + 1);
	out->job_len = n;
	return MPC_OK;
}

/* "dataset" (optional): a name [A-Za-z0-9._-]{1,32}. */
static mpc_err take_dataset(json_t *obj, mpc_api_submit *out) {
	json_t *ds = json_object_get(obj, "dataset");
	if (ds == NULL)
		return MPC_OK;
	if (!json_is_string(ds))
		return mpc_error(MPC_EINVAL,
		                 "body: \"dataset\" must be a string (a dataset name), not %s",
		                 type_name(ds));
	const char *name = json_string_value(ds);
	if (strlen(name) != json_string_length(ds) || !mpc_job_name_ok(name, MPC_API_DATASET_MAX))
		return mpc_error(
		    MPC_EINVAL,
		    "body: \"dataset\" must be a name of 1 to %d characters of A-Z a-z 0-9 "
		    ". _ - (a [dataset NAME] of this node's policy)",
		    MPC_API_DATASET_MAX);
	memcpy(out->dataset, name, strlen(name) + 1);
	return MPC_OK;
}

mpc_err mpc_api_parse_submit(const char *body, size_t len, mpc_api_submit *out) {
	json_t *root = NULL;
	mpc_err err;

	if (out == NULL)
		return mpc_error(MPC_EINVAL, "mpc_api_parse_submit: no output");
	memset(out, 0, sizeof(*out));
	if (body == NULL && len != 0)
		return mpc_error(MPC_EINVAL, "mpc_api_parse_submit: no body");
	if ((err = load_object(body, len, &root)) != MPC_OK)
		return err;
	if ((err = known_keys(root, submit_keys, N_SUBMIT_KEYS,
	                      "\"job\" and optionally \"dataset\"")) != MPC_OK ||
	    (err = take_job(root, out)) != MPC_OK || (err = take_dataset(root, out)) != MPC_OK)
		mpc_api_submit_free(out);
	json_decref(root);
	return err;
}

void mpc_api_submit_free(mpc_api_submit *s) {
	if (s == NULL)
		return;
	mpc_wipe_free(s->job_text, s->job_len + (s->job_text ? 1 : 0));
	memset(s, 0, sizeof(*s));
}

/* "transactions": n lists of d finite numbers. */
static mpc_err take_rows(json_t *obj, mpc_api_score *out) {
	json_t *rows = json_object_get(obj, "transactions"), *row, *v;
	size_t i, k;
	if (!json_is_array(rows) || json_array_size(rows) == 0 ||
	    json_array_size(rows) > MPC_API_MAX_SCORE_ROWS)
		return mpc_error(MPC_EINVAL,
		                 "body: \"transactions\" must be a list of 1 to %d transactions",
		                 MPC_API_MAX_SCORE_ROWS);
	out->n = json_array_size(rows);
	json_array_foreach(rows, i, row) {
		if (!json_is_array(row) || json_array_size(row) == 0 ||
		    json_array_size(row) > MPC_API_MAX_FEATURES ||
		    (i > 0 && json_array_size(row) != out->d))
			return mpc_error(MPC_EINVAL,
			                 "body: transaction %zu must be a list of %s numbers (the "
			                 "model's features, in the job's order)",
			                 i + 1, i > 0 ? "as many" : "1 to 64");
		if (i == 0) {
			out->d = json_array_size(row);
			if ((out->x = calloc(out->n * out->d, sizeof(double))) == NULL)
				return mpc_error(MPC_ENOMEM, "mpc_api_parse_score: out of memory");
		}
		json_array_foreach(row, k, v) {
			double x = json_number_value(v);
			if (!json_is_number(v) || !isfinite(x))
				return mpc_error(
				    MPC_EINVAL,
				    "body: transaction %zu, feature %zu: expected a finite "
				    "number",
				    i + 1, k + 1);
			out->x[i * out->d + k] = x;
		}
	}
	return MPC_OK;
}

mpc_err mpc_api_parse_score(const char *body, size_t len, mpc_api_score *out) {
	static const char *const keys[] = {"service", "transactions"};
	json_t *root = NULL, *svc;
	mpc_err err;
	if (out == NULL)
		return mpc_error(MPC_EINVAL, "mpc_api_parse_score: no output");
	memset(out, 0, sizeof(*out));
	if (body == NULL && len != 0)
		return mpc_error(MPC_EINVAL, "mpc_api_parse_score: no body");
	if ((err = load_object(body, len, &root)) != MPC_OK)
		return err;
	err = known_keys(root, keys, 2, "\"service\" and \"transactions\"");
	svc = json_object_get(root, "service");
	if (err == MPC_OK &&
	    (!json_is_string(svc) || strlen(json_string_value(svc)) != json_string_length(svc) ||
	     !mpc_job_name_ok(json_string_value(svc), 64)))
		err = mpc_error(MPC_EINVAL, "body: \"service\" must be the scoring service's job "
		                            "id (1 to 64 of A-Z a-z 0-9 . _ -)");
	if (err == MPC_OK) {
		memcpy(out->service, json_string_value(svc), json_string_length(svc) + 1);
		err = take_rows(root, out);
	}
	if (err != MPC_OK)
		mpc_api_score_free(out);
	json_decref(root);
	return err;
}

void mpc_api_score_free(mpc_api_score *s) {
	if (s == NULL)
		return;
	if (s->x)
		mpc_wipe_free(s->x, s->n * s->d * sizeof(double));
	memset(s, 0, sizeof(*s));
}
