/* Job files (net/mpc_job) and keys on disk (net/mpc_keys): good files, every
 * kind of mistake with its file:line and key, canonical text and diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mpc_job.h"
#include "net/mpc_keys.h"
#include "net/mpc_tls.h"

#define FP "sha256:" \
	   "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"

static const char good[] =
	"; a job\n"
	"[job]\n"
	"id = stats-1\n"
	"computation = aggregate_stats\n"
	"ring = 64\n"
	"frac_bits = 12\n"
	"preprocessing = dealer\n"
	"timeout = 5\n"
	"transport = tls\n"
	"\n"
	"[aggregate_stats]\n"
	"max_rows = 500\n"
	"\n"
	"[party a]\n"
	"address = tcp://127.0.0.1:7000\n"
	"fingerprint = " FP "\n"
	"[party b]\n"
	"address = ipc:///tmp/b\n"
	"fingerprint = 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n"
	"[dealer]\n"
	"address = tcp://127.0.0.1:7100\n"
	"fingerprint = " FP "\n";

static mpc_job *parse_ok(const char *text)
{
	mpc_job *j = NULL;
	mpc_err e = mpc_job_parse("job.ini", text, strlen(text), &j);
	if (e != MPC_OK)
		print_error("%s\n", mpc_error_detail());
	assert_int_equal(e, MPC_OK);
	return j;
}

static void test_good(void **s)
{
	(void)s;
	mpc_job *j = parse_ok(good);
	assert_string_equal(j->id, "stats-1");
	assert_int_equal(j->ring, MPC_Z64);
	assert_int_equal(j->frac_bits, 12);
	assert_true(j->timeout_s == 5 && j->connect_timeout_s == 60);
	assert_int_equal(j->n_parties, 2);
	assert_int_equal(mpc_job_party_index(j, "b"), 1);
	assert_int_equal(mpc_job_party_index(j, "c"), -1);
	assert_memory_equal(j->parties[0].fingerprint, j->parties[1].fingerprint, 32);
	assert_true(j->has_dealer);
	double v;
	assert_int_equal(mpc_job_param_double(j, "max_rows", 1, 1, 1e6, &v), MPC_OK);
	assert_true(v == 500);
	assert_int_equal(mpc_job_param_double(j, "max_amount", 7, 1, 1e6, &v), MPC_OK);
	assert_true(v == 7);
	assert_int_equal(mpc_job_param_double(j, "max_rows", 1, 1, 100, &v), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "job.ini:12"));
	mpc_nodes n;
	assert_int_equal(mpc_job_nodes(j, &n), MPC_OK);
	assert_int_equal(n.n, 3);
	assert_int_equal(n.dealer, 2);
	assert_string_equal(n.addrs[1], "ipc:///tmp/b");
	assert_non_null(strstr(n.names[0], "a (party 0)"));
	mpc_nodes_fini(&n);
	mpc_job_free(j);
}

/* text must fail; the detail holds every needle */
static void bad(const char *text, const char *n1, const char *n2)
{
	mpc_job *j = (mpc_job *)1;
	mpc_err e = mpc_job_parse("job.ini", text, strlen(text), &j);
	const char *d = mpc_error_detail();
	if (e != MPC_ECONFIG || !strstr(d, n1) || (n2 && !strstr(d, n2)))
		print_error("---\n%s\n--- gave %d: %s\n", text, e, d);
	assert_int_equal(e, MPC_ECONFIG);
	assert_null(j);
	assert_non_null(strstr(d, n1));
	if (n2)
		assert_non_null(strstr(d, n2));
}

/* good with line `nr` (1-based) replaced by `line` */
static char *edit(int nr, const char *line)
{
	static char buf[4096];
	const char *p = good;
	size_t k = 0;
	for (int i = 1; *p; i++) {
		const char *e = strchr(p, '\n');
		size_t len = (size_t)(e - p) + 1;
		if (i == nr)
			k += (size_t)sprintf(buf + k, "%s\n", line);
		else
			memcpy(buf + k, p, len), k += len;
		p += len;
	}
	buf[k] = '\0';
	return buf;
}

static void test_bad(void **s)
{
	(void)s;
	bad(edit(5, "ring = 96"), "job.ini:5", "ring");
	bad(edit(6, "frac_bits = 41"), "job.ini:6", "frac_bits");
	bad(edit(7, "preprocessing = magic"), "job.ini:7", "preprocessing");
	bad(edit(8, "timeout = -1"), "job.ini:8", "timeout");
	bad(edit(9, "transport = carrier-pigeon"), "job.ini:9", "transport");
	bad(edit(9, "tranport = tls"), "job.ini:9", "unknown key");
	bad(edit(4, "computation = fraud_magic"), "job.ini:4", "computation");
	bad(edit(3, "id = has space"), "job.ini:3", "id");
	bad(edit(5, "id = again"), "job.ini:5", "twice");
	bad(edit(15, "address = http://x:1"), "job.ini:15", "address");
	bad(edit(16, "fingerprint = 00:11"), "job.ini:16", "64 hex digits");
	bad(edit(18, "address = tcp://127.0.0.1:7000"), "job.ini:18", "same as party a");
	bad(edit(14, "[party a b]"), "job.ini:15", "party names"); /* its first key */
	bad(edit(11, "[other_stats]"), "job.ini:12", "unknown section");
	bad(edit(2, "[job"), "job.ini:2", "syntax");
	bad(edit(16, "; no fingerprint"), "job.ini:15", "fingerprint");
	bad(edit(20, "[party c]"), "job.ini:7", "[dealer]");
	bad("[job]\nid = x\ncomputation = aggregate_stats\n[party a]\naddress = ipc:///a\n", "job.ini", "2 to 16");
	bad("[job]\nid = x\n", "job.ini:2", "computation");
	bad("", "no [job]", NULL);
	mpc_job *j;
	assert_int_equal(mpc_job_load("/nonexistent/job.ini", &j), MPC_EIO);
	assert_non_null(strstr(mpc_error_detail(), "/nonexistent/job.ini"));
}

static void test_canonical(void **s)
{
	(void)s;
	mpc_job *a = parse_ok(good);
	/* comments, blank lines and spacing do not matter */
	char *text2 = strdup(good);
	char *at = strstr(text2, "ring = 64");
	memcpy(at, "ring=64  ", 9);
	mpc_job *b = parse_ok(text2);
	char *ca, *cb;
	size_t la, lb;
	assert_int_equal(mpc_job_canonical(a, &ca, &la), MPC_OK);
	assert_int_equal(mpc_job_canonical(b, &cb, &lb), MPC_OK);
	assert_int_equal(la, lb);
	assert_memory_equal(ca, cb, la);
	free(cb);
	mpc_job_free(b);
	/* any real change shows, and diff names the field */
	mpc_job *c = parse_ok(edit(12, "max_rows = 501"));
	char field[64];
	assert_int_equal(mpc_job_canonical(c, &cb, &lb), MPC_OK);
	assert_int_equal(mpc_job_diff(ca, la, cb, lb, field, sizeof(field)), MPC_OK);
	assert_string_equal(field, "param.max_rows");
	free(cb);
	mpc_job_free(c);
	c = parse_ok(edit(18, "address = ipc:///tmp/c"));
	assert_int_equal(mpc_job_canonical(c, &cb, &lb), MPC_OK);
	assert_int_equal(mpc_job_diff(ca, la, cb, lb, field, sizeof(field)), MPC_OK);
	assert_string_equal(field, "party.1.address");
	free(cb);
	mpc_job_free(c);
	free(ca);
	free(text2);
	mpc_job_free(a);
}

static void test_fingerprint_parse(void **s)
{
	(void)s;
	uint8_t fp[32], fp2[32];
	char text[MPC_TLS_FP_TEXT];
	assert_int_equal(mpc_fingerprint_parse(FP, fp), MPC_OK);
	mpc_tls_fingerprint_format(fp, text);
	assert_string_equal(text, FP);
	assert_int_equal(mpc_fingerprint_parse(text + 7, fp2), MPC_OK);
	assert_memory_equal(fp, fp2, 32);
	assert_int_equal(mpc_fingerprint_parse("sha256:00", fp2), MPC_ECONFIG);
	assert_int_equal(mpc_fingerprint_parse(FP "00", fp2), MPC_ECONFIG);
	assert_int_equal(mpc_fingerprint_parse("zz", fp2), MPC_ECONFIG);
}

static void test_keys(void **s)
{
	(void)s;
	char dir[] = "/tmp/mpc-test-keys-XXXXXX", path[256], cmd[300];
	uint8_t fp[32], fp2[32];
	EVP_PKEY *key;
	X509 *cert;
	struct stat st;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mpc_keys_generate(dir, "alpha", 30, 0, fp), MPC_OK);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mpc_keys_load(dir, &key, &cert), MPC_OK);
	assert_int_equal(mpc_tls_fingerprint(cert, fp2), MPC_OK);
	assert_memory_equal(fp, fp2, 32);
	EVP_PKEY_free(key);
	X509_free(cert);
	/* no silent overwrite; --force renews with a new key */
	assert_int_equal(mpc_keys_generate(dir, "alpha", 30, 0, fp2), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "--force"));
	assert_int_equal(mpc_keys_generate(dir, "alpha", 30, 1, fp2), MPC_OK);
	assert_memory_not_equal(fp, fp2, 32);
	/* a key others can read is refused, with the fix */
	chmod(path, 0644);
	assert_int_equal(mpc_keys_load(dir, &key, &cert), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "chmod 600"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mpc_keys_load(dir, &key, &cert), MPC_EIO);
	assert_non_null(strstr(mpc_error_detail(), "keygen"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),      cmocka_unit_test(test_bad),
		cmocka_unit_test(test_canonical), cmocka_unit_test(test_fingerprint_parse),
		cmocka_unit_test(test_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
