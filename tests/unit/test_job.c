/* Job files (net/mpc_job): a complete file read back field by field and as
 * canonical text, defaults, every kind of mistake with its exact file:line,
 * section and key, canonical text and hash, diff, nodes, parameters; and the
 * INI reader under them (net/mpc_ini): comments, CRLF, BOM, long lines, a
 * missing '=', headers, what the callbacks see and when reading stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/mpc_ini.h"
#include "jobs/mpc_job.h"
#include "tests/support/scratch.h"

#define FPA                                                                                        \
	"00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:"  \
	"1D:1E:1F"
#define FPB "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0"
#define FPC                                                                                        \
	"03:0a:11:18:1f:26:2d:34:3b:42:49:50:57:5e:65:6c:73:7a:81:88:8f:96:9d:a4:ab:b2:b9:c0:c7:"  \
	"ce:d5:dc"
#define FPD                                                                                        \
	"A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:AA:AB:AC:AD:AE:AF:B0:B1:B2:B3:B4:B5:B6:B7:B8:B9:BA:BB:BC:"  \
	"BD:BE:BF"
/* a fifth key, for edits that change one node's fingerprint */
#define FPE  "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
#define HEXA "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEXB FPB
#define HEXC "030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dc"
#define HEXD "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

/* line numbers matter: the error tests name them */
static const char full[] = "; fraud statistics, November\n"              /* 1 */
                           "[job]\n"                                     /* 2 */
                           "id = fraud-stats-2026-11\n"                  /* 3 */
                           "computation = aggregate_stats\n"             /* 4 */
                           "ring = 64\n"                                 /* 5 */
                           "frac_bits = 12\n"                            /* 6 */
                           "preprocessing = dealer\n"                    /* 7 */
                           "timeout = 2.5\n"                             /* 8 */
                           "connect_timeout = 90\n"                      /* 9 */
                           "transport = tls\n"                           /* 10 */
                           "\n"                                          /* 11 */
                           "[aggregate_stats]\n"                         /* 12 */
                           "max_rows = 1000000\n"                        /* 13 */
                           "max_amount = 1000000 ; in euros\n"           /* 14 */
                           "\n"                                          /* 15 */
                           "[party merchant-a]\n"                        /* 16 */
                           "address = tcp://10.0.0.1:7000\n"             /* 17 */
                           "fingerprint = sha256:" FPA "\n"              /* 18 */
                           "\n"                                          /* 19 */
                           "[party merchant-b]\n"                        /* 20 */
                           "address = tcp://10.0.0.2:7000\n"             /* 21 */
                           "fingerprint = " FPB "\n"                     /* 22 */
                           "\n"                                          /* 23 */
                           "[party bank_c.eu]\n"                         /* 24 */
                           "fingerprint = SHA256:" FPC "\n"              /* 25 */
                           "address = ipc:///run/mpc/c.sock\n"           /* 26 */
                           "\n"                                          /* 27 */
                           "[dealer]\n"                                  /* 28 */
                           "address = tcp://10.0.0.9:7100\n"             /* 29 */
                           "fingerprint = sha256 Fingerprint=" FPD "\n"; /* 30 */

static const char full_canonical[] = "format=mpc-job-1\n"
                                     "job.id=fraud-stats-2026-11\n"
                                     "job.computation=aggregate_stats\n"
                                     "job.ring=64\n"
                                     "job.frac_bits=12\n"
                                     "job.preprocessing=dealer\n"
                                     "job.timeout=2.5\n"
                                     "job.connect_timeout=90\n"
                                     "job.transport=tls\n"
                                     "param.max_amount=1000000\n"
                                     "param.max_rows=1000000\n"
                                     "parties=3\n"
                                     "party.0.name=merchant-a\n"
                                     "party.0.address=tcp://10.0.0.1:7000\n"
                                     "party.0.fingerprint=" HEXA "\n"
                                     "party.1.name=merchant-b\n"
                                     "party.1.address=tcp://10.0.0.2:7000\n"
                                     "party.1.fingerprint=" HEXB "\n"
                                     "party.2.name=bank_c.eu\n"
                                     "party.2.address=ipc:///run/mpc/c.sock\n"
                                     "party.2.fingerprint=" HEXC "\n"
                                     "dealer.address=tcp://10.0.0.9:7100\n"
                                     "dealer.fingerprint=" HEXD "\n";

/* the smallest file: everything else defaults */
static const char minimal[] = "[job]\n"
                              "id = j\n"
                              "computation = aggregate_stats\n"
                              "[party a]\n"
                              "address = tcp://h:1\n"
                              "fingerprint = " FPB "\n"
                              "[party b]\n"
                              "address = tcp://h:2\n"
                              "fingerprint = " FPA "\n";

static mpc_job *parse_ok(const char *text) {
	mpc_job *j = NULL;
	mpc_err e = mpc_job_parse("job.ini", text, strlen(text), &j);
	if (e != MPC_OK)
		print_error("%s\n", mpc_error_detail());
	assert_int_equal(e, MPC_OK);
	assert_non_null(j);
	return j;
}

static char *canon(const char *text, size_t *len) {
	mpc_job *j = parse_ok(text);
	char *t;
	assert_int_equal(mpc_job_canonical(j, &t, len), MPC_OK);
	assert_int_equal(strlen(t), *len);
	mpc_job_free(j);
	return t;
}

/* `full` with line nr replaced or removed, or a line inserted (scratch_edit). */
static const char *edit(int nr, const char *line) {
	return scratch_edit(full, nr, line, 0);
}
static const char *insert(int nr, const char *line) {
	return scratch_edit(full, nr, line, 1);
}

/* text must fail with MPC_ECONFIG; the detail starts with "job.ini:LINE: "
 * (just "job.ini: " for line 0) and holds every needle. */
static void bad_n(const char *text, size_t len, int line, const char *n1, const char *n2) {
	mpc_job *j = (mpc_job *)&j;
	char prefix[32];
	mpc_err e = mpc_job_parse("job.ini", text, len, &j);
	const char *d = mpc_error_detail();
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "job.ini:%d: ", line);
	else
		snprintf(prefix, sizeof(prefix), "job.ini: ");
	int ok = e == MPC_ECONFIG && strncmp(d, prefix, strlen(prefix)) == 0 && strstr(d, n1) &&
	         (n2 == NULL || strstr(d, n2));
	if (!ok)
		print_error("---\n%s\n--- wanted '%s' '%s' '%s', got %d: %s\n", text, prefix, n1,
		            n2 ? n2 : "", e, d);
	assert_true(ok);
	assert_null(j);
}
static void bad(const char *text, int line, const char *n1, const char *n2) {
	bad_n(text, strlen(text), line, n1, n2);
}

static void test_full(void **s) {
	(void)s;
	mpc_job *j = parse_ok(full);
	assert_string_equal(j->path, "job.ini");
	assert_string_equal(j->id, "fraud-stats-2026-11");
	assert_string_equal(j->computation, "aggregate_stats");
	assert_int_equal(j->ring, MPC_Z64);
	assert_int_equal(j->frac_bits, 12);
	assert_int_equal(j->preprocessing, MPC_JOB_DEALER);
	assert_int_equal(j->timeout_ms, 2500);
	assert_true(j->timeout_s == 2.5);
	assert_int_equal(j->connect_timeout_ms, 90000);
	assert_true(j->connect_timeout_s == 90);
	assert_int_equal(j->transport, MPC_JOB_TLS);
	assert_int_equal(j->n_parties, 3);
	const char *names[] = {"merchant-a", "merchant-b", "bank_c.eu"};
	const char *addrs[] = {"tcp://10.0.0.1:7000", "tcp://10.0.0.2:7000",
	                       "ipc:///run/mpc/c.sock"};
	const int lines[] = {16, 20, 24};
	for (int i = 0; i < 3; i++) {
		assert_string_equal(j->parties[i].name, names[i]);
		assert_string_equal(j->parties[i].address, addrs[i]);
		assert_true(j->parties[i].has_fingerprint);
		assert_int_equal(j->parties[i].line, lines[i]);
		assert_int_equal(mpc_job_party_index(j, names[i]), i);
	}
	assert_int_equal(mpc_job_party_index(j, "dealer"), -1);
	assert_int_equal(mpc_job_party_index(j, "merchant"), -1);
	assert_int_equal(j->parties[0].fingerprint[31], 0x1f);
	assert_int_equal(j->parties[1].fingerprint[0], 0xff);
	assert_true(j->has_dealer);
	assert_string_equal(j->dealer.name, "dealer");
	assert_string_equal(j->dealer.address, "tcp://10.0.0.9:7100");
	assert_int_equal(j->dealer.fingerprint[0], 0xa0);
	assert_int_equal(j->dealer.line, 28);
	assert_int_equal(j->n_params, 2);
	assert_string_equal(j->params[0].key, "max_rows"); /* file order */
	assert_int_equal(j->params[0].line, 13);
	assert_string_equal(j->params[1].key, "max_amount");
	assert_string_equal(mpc_job_param_get(j, "max_amount"), "1000000"); /* comment gone */
	assert_null(mpc_job_param_get(j, "max_amoun"));
	assert_string_equal(mpc_job_preproc_name(j->preprocessing), "dealer");
	assert_string_equal(mpc_job_transport_name(MPC_JOB_PLAINTEXT), "plaintext");

	char *t;
	size_t n;
	assert_int_equal(mpc_job_canonical(j, &t, &n), MPC_OK);
	assert_string_equal(t, full_canonical);
	assert_int_equal(n, strlen(full_canonical));
	free(t);
	mpc_job_free(j);
	mpc_job_free(NULL);
}

static void test_defaults(void **s) {
	(void)s;
	mpc_job *j = parse_ok(minimal);
	assert_int_equal(j->ring, MPC_Z128);
	assert_int_equal(j->frac_bits, 16);
	assert_int_equal(j->preprocessing, MPC_JOB_OT); /* dealer-free by default */
	assert_int_equal(j->timeout_ms, 30000);
	assert_int_equal(j->connect_timeout_ms, 60000);
	assert_true(j->timeout_s == 30 && j->connect_timeout_s == 60);
	assert_int_equal(j->transport, MPC_JOB_TLS);
	assert_int_equal(j->n_params, 0);
	mpc_job_free(j);

	/* plaintext: fingerprints optional; ot: no dealer */
	j = parse_ok("[job]\nid = p\ncomputation = aggregate_stats\ntransport = plaintext\n"
	             "preprocessing = ot\ntimeout = 0.001\n"
	             "[party a]\naddress = ipc:///tmp/a\n"
	             "[party b]\naddress = ipc:///tmp/b\nfingerprint = " FPA "\n");
	assert_int_equal(j->transport, MPC_JOB_PLAINTEXT);
	assert_int_equal(j->preprocessing, MPC_JOB_OT);
	assert_int_equal(j->timeout_ms, 1);
	assert_false(j->parties[0].has_fingerprint);
	assert_true(j->parties[1].has_fingerprint);
	assert_false(j->has_dealer);
	char *t;
	size_t n;
	assert_int_equal(mpc_job_canonical(j, &t, &n), MPC_OK);
	assert_non_null(strstr(t, "job.timeout=0.001\n"));
	assert_non_null(strstr(t, "party.0.fingerprint=none\n"));
	assert_non_null(strstr(t, "party.1.fingerprint=" HEXA "\n"));
	assert_null(strstr(t, "dealer."));
	free(t);
	mpc_job_free(j);
	j = parse_ok("[job]\nid=x\ncomputation=aggregate_stats\npreprocessing=paillier\n"
	             "transport=plaintext\n[party a]\naddress=tcp://a:1\n[party b]\n"
	             "address=tcp://b:1\n");
	assert_int_equal(j->preprocessing, MPC_JOB_PAILLIER);
	mpc_job_free(j);
}

/* What the format allows beyond the plain form: BOM, CRLF, indentation,
 * comments of both kinds, "key: value", ring spellings, a missing final
 * newline. All read as `full`. */
static void test_variants(void **s) {
	(void)s;
	static const char text[] = "\xEF\xBB\xBF# fraud statistics\r\n"
	                           "  [ job ]   ; the job\r\n"
	                           "\tid=fraud-stats-2026-11\r\n"
	                           "   computation   :   aggregate_stats\r\n"
	                           "ring = Z_2^64\r\n"
	                           "frac_bits = 12\r\n"
	                           "preprocessing = dealer\r\n"
	                           "timeout = 2.500\r\n"
	                           "connect_timeout = 90.0\r\n"
	                           "\r\n"
	                           "[aggregate_stats]\r\n"
	                           "    max_amount = 1000000\r\n"
	                           "    max_rows = 1000000\r\n"
	                           "[party   merchant-a]\r\n"
	                           "fingerprint = " FPA "\r\n"
	                           "address = tcp://10.0.0.1:7000\r\n"
	                           "[party merchant-b]\r\n"
	                           "address = tcp://10.0.0.2:7000 ; behind the NAT\r\n"
	                           "fingerprint = sha256:" FPB "\r\n"
	                           "[party bank_c.eu]\r\n"
	                           "address = ipc:///run/mpc/c.sock\r\n"
	                           "fingerprint = " HEXC "\r\n"
	                           "[dealer]\r\n"
	                           "fingerprint = " HEXD "\r\n"
	                           "address = tcp://10.0.0.9:7100";
	size_t n;
	char *t = canon(text, &n);
	assert_string_equal(t, full_canonical);
	free(t);
}

static void test_errors(void **s) {
	(void)s;
	/* sections */
	bad(edit(12, "[aggregate_stat]"), 12, "[aggregate_stat]: unknown section",
	    "did you mean [aggregate_stats]?");
	bad(edit(12, "[other_stats]"), 12, "[other_stats]: unknown section", "[party NAME]");
	bad(edit(2, "[Job]"), 2, "did you mean [job]?", NULL);
	bad(edit(20, "[parti merchant-b]"), 20, "did you mean [party merchant-b]?", NULL);
	bad(insert(11, "[job]"), 11, "[job]: section given twice (first on line 2)", NULL);
	bad(edit(15, "[aggregate_stats]"), 15,
	    "[aggregate_stats]: section given twice "
	    "(first [aggregate_stats] on line 12)",
	    NULL);
	bad(edit(27, "[dealer]"), 28, "[dealer]: section given twice (first on line 27)", NULL);
	bad(edit(20, "[party merchant-a]"), 20,
	    "[party merchant-a]: party name given twice "
	    "(first on line 16)",
	    NULL);
	bad(edit(20, "[party merchant b]"), 20, "[party merchant b]: party names are 1 to 32",
	    NULL);
	bad(edit(20, "[party]"), 20, "[party]: party names", NULL);
	bad(edit(20, "[party Dealer]"), 20, "not 'dealer'", NULL);
	bad(edit(20, "[party abcdefghijklmnopqrstuvwxyz0123456]"), 20, "party names", NULL);
	bad(edit(2, "[job] extra"), 2, "text after [section]", NULL);
	bad(edit(2, "[job"), 2, "syntax error: expected ] to close the section name", NULL);
	bad(edit(2, "[job ;]"), 2, "syntax error", NULL);
	/* keys */
	bad(edit(10, "tranport = tls"), 10, "[job] tranport: unknown key (did you mean transport?)",
	    "connect_timeout");
	bad(edit(17, "adress = tcp://10.0.0.1:7000"), 17,
	    "[party merchant-a] adress: unknown key "
	    "(did you mean address?)",
	    NULL);
	bad(edit(29, "addr = tcp://10.0.0.9:7100"), 29, "[dealer] addr: unknown key", NULL);
	bad(edit(5, "id = again"), 5, "[job] id: given twice (first on line 3)", NULL);
	bad(edit(19, "address = tcp://10.0.0.1:7001"), 19,
	    "[party merchant-a] address: given "
	    "twice (first on line 17)",
	    NULL);
	bad(edit(14, "max_rows = 5"), 14,
	    "[aggregate_stats] max_rows: given twice (first on "
	    "line 13)",
	    NULL);
	bad(edit(14, "Max_Amount = 5"), 14,
	    "[aggregate_stats] Max_Amount: expected a parameter "
	    "name of a-z, 0-9 and _",
	    NULL);
	bad(edit(14, "max amount = 5"), 14, "[aggregate_stats] max amount: expected a parameter",
	    NULL);
	bad(edit(14, "max_amount ="), 14, "[aggregate_stats] max_amount: no value", NULL);
	bad(edit(3, "id = "), 3, "[job] id: no value", NULL);
	bad(edit(14, "= 5"), 14, "no key before the =", NULL);
	bad(edit(14, "max_amount"), 14, "syntax error: expected key = value", NULL);
	bad(insert(1, "id = x"), 1, "key 'id' before any section", NULL);
	/* values */
	bad(edit(3, "id = has space"), 3, "[job] id: expected 1 to 64 characters", NULL);
	bad(edit(3, "id = a/b"), 3, "[job] id:", NULL);
	bad(edit(3, "id = 12345678901234567890123456789012345678901234567890123456789012345"), 3,
	    "[job] id:", NULL);
	bad(edit(4, "computation = aggregate_stat"), 4,
	    "[job] computation: unknown computation "
	    "(did you mean aggregate_stats?); this version knows aggregate_stats",
	    NULL);
	bad(edit(4, "computation = fraud_magic"), 4, "unknown computation;", NULL);
	bad(edit(5, "ring = 96"), 5, "[job] ring: expected 64 or 128", NULL);
	bad(edit(6, "frac_bits = 41"), 6, "[job] frac_bits: expected a whole number from 0 to 40",
	    NULL);
	bad(edit(6, "frac_bits = -1"), 6, "[job] frac_bits", NULL);
	bad(edit(6, "frac_bits = 99999999999999999999"), 6, "[job] frac_bits", NULL);
	bad(edit(7, "preprocessing = magic"), 7,
	    "[job] preprocessing: expected dealer, ot or "
	    "paillier",
	    NULL);
	const char *timeouts[] = {"0",   "0.0", "-1", "86400.001", "86401", "1.2345",
	                          "30s", "1e3", ".5", "5.",        "",      "99999999999999999999"};
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "timeout = %s", timeouts[i]);
		bad(edit(8, line), 8, "[job] timeout:", NULL);
	}
	bad(edit(9, "connect_timeout = 0"), 9,
	    "[job] connect_timeout: expected seconds, more "
	    "than 0 and at most 86400",
	    NULL);
	bad(edit(10, "transport = carrier-pigeon"), 10,
	    "[job] transport: expected tls or "
	    "plaintext",
	    NULL);
	const char *addrs[] = {"http://x:1",    "tcp://x",     "tcp://:1",      "tcp://x:0",
	                       "tcp://x:65536", "tcp://x:12a", "tcp://x:+1",    "ipc://",
	                       "tcp://a b:1",   "tcp://a,b:1", "tcp://x:123456"};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "address = %s", addrs[i]);
		bad(edit(21, line), 21,
		    "[party merchant-b] address: expected tcp://HOST:PORT or "
		    "ipc:///PATH",
		    NULL);
	}
	bad(edit(21, "address = tcp://10.0.0.1:7000"), 21,
	    "[party merchant-b] address: the same "
	    "as party merchant-a's (line 17)",
	    NULL);
	bad(edit(29, "address = ipc:///run/mpc/c.sock"), 29,
	    "[dealer] address: the same as party "
	    "bank_c.eu's (line 26)",
	    NULL);
	bad(edit(26, "address = tcp://10.0.0.9:7100"), 29,
	    "[dealer] address: the same as party "
	    "bank_c.eu's (line 26)",
	    NULL);
	/* one key behind two entries (item 6 of issue 11): two parties, a party
	 * and the dealer (either order), however the fingerprint is written;
	 * both entries and both lines named */
	bad(edit(22, "fingerprint = " HEXA), 22,
	    "[party merchant-b] fingerprint: the same as party merchant-a's (line 18)",
	    "its own key");
	bad(edit(30, "fingerprint = sha256:" FPB), 30,
	    "[dealer] fingerprint: the same as party merchant-b's (line 22)", NULL);
	bad(edit(25, "fingerprint = " FPD), 30,
	    "[dealer] fingerprint: the same as party bank_c.eu's (line 25)", NULL);
	bad(insert(16, "[dealer]\naddress = tcp://10.0.0.9:7100\nfingerprint = " FPA), 21,
	    "[party merchant-a] fingerprint: the same as the dealer's (line 18)", NULL);
	const char *fps[] = {
	    "00:11",
	    FPB "00",
	    "sha256:" FPB "0",
	    "sha1:" FPB,
	    FPA ":",
	    "sha256: " FPB,
	    "zzfefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0",
	    "0001:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:"
	    "1D:1E:1F",
	    "0:001:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:"
	    "1C:1D:1E:1F",
	};
	for (size_t i = 0; i < sizeof(fps) / sizeof(fps[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line), "fingerprint = %s", fps[i]);
		bad(edit(22, line), 22,
		    "[party merchant-b] fingerprint: expected 64 hex digits "
		    "(SHA-256), optionally with colons",
		    NULL);
	}
	/* required keys: at the section's header */
	bad(edit(3, "; no id"), 2, "[job] id: missing (required)", NULL);
	bad(edit(4, NULL), 2, "[job] computation: missing (required)", NULL);
	bad(edit(17, NULL), 16, "[party merchant-a] address: missing (required)", NULL);
	bad(edit(22, ""), 20,
	    "[party merchant-b] fingerprint: missing (required with transport "
	    "= tls)",
	    NULL);
	bad(edit(30, NULL), 28, "[dealer] fingerprint: missing", NULL);
	bad(edit(29, NULL), 28, "[dealer] address: missing", NULL);
	bad("[job]\nid = x\ncomputation = aggregate_stats\n[party a]\n[party b]\n", 4,
	    "[party a] address: missing", NULL); /* sections without keys exist */
	bad("", 0, "no [job] section", NULL);
	bad("; only a comment\n", 0, "no [job] section", NULL);
	bad("[job]\n", 1, "[job] id: missing", NULL);
	/* dealer iff preprocessing = dealer */
	char buf[8192];
	snprintf(buf, sizeof(buf), "%.*s", (int)(strstr(full, "[dealer]") - full), full);
	bad(buf, 7, "[job] preprocessing: dealer needs a [dealer] section", NULL);
	/* without a preprocessing line the job is dealer-free: a [dealer]
	 * section is then refused, saying how to ask for the dealer */
	bad(edit(7, NULL), 27, "[dealer]: only for preprocessing = dealer",
	    "add 'preprocessing = dealer'");
	/* and a job with neither is fine */
	mpc_job_free(parse_ok(scratch_edit(buf, 7, NULL, 0)));
	bad(edit(7, "preprocessing = ot"), 28,
	    "[dealer]: only for preprocessing = dealer, but "
	    "[job] preprocessing = ot (line 7)",
	    NULL);
	/* party count */
	bad("[job]\nid = x\ncomputation = aggregate_stats\npreprocessing = ot\n"
	    "[party a]\naddress = ipc:///a\nfingerprint = " FPA "\n",
	    0, "1 [party NAME] section: a job needs 2 to 16 parties", NULL);
	bad("[job]\nid = x\ncomputation = aggregate_stats\npreprocessing = ot\n", 0,
	    "0 [party NAME] sections", NULL);
	size_t k = (size_t)snprintf(buf, sizeof(buf),
	                            "[job]\nid = x\ncomputation = "
	                            "aggregate_stats\ntransport = plaintext\npreprocessing = ot\n");
	for (int i = 0; i < 17; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k,
		                      "[party p%d]\naddress = ipc:///p%d\n", i, i);
	bad(buf, 6 + 2 * 16, "[party p16]: too many parties: at most 16", NULL);
	buf[strlen(buf) - strlen("[party p16]\naddress = ipc:///p16\n")] = '\0';
	mpc_job *j = parse_ok(buf);
	assert_int_equal(j->n_parties, 16);
	mpc_job_free(j);
	/* text, not binary; bounded lines */
	const char nul[] = "[job]\nid = x\0y\ncomputation = aggregate_stats\n";
	bad_n(nul, sizeof(nul) - 1, 2, "a NUL byte", NULL);
	bad(edit(3, "id = x\x01y"), 3, "control character 0x01", NULL);
	bad(edit(3, "id = x\ry"), 3, "control character 0x0d", NULL);
	char longline[256];
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "; ", 2);
	longline[MPC_JOB_MAX_LINE] = '\0';
	j = parse_ok(edit(1, longline)); /* exactly the limit */
	mpc_job_free(j);
	longline[MPC_JOB_MAX_LINE] = 'x';
	longline[MPC_JOB_MAX_LINE + 1] = '\0';
	bad(edit(1, longline), 1, "line too long (at most 198 characters)", NULL);
	/* the first error wins, a syntax error included */
	bad(scratch_edit(edit(3, "what is this"), 5, "ring = 96", 0), 3, "syntax error", NULL);
	bad(scratch_edit(edit(5, "what is this"), 3, "id = a b", 0), 3, "[job] id:", NULL);
}

static void test_params(void **s) {
	(void)s;
	char buf[8192];
	size_t k =
	    (size_t)snprintf(buf, sizeof(buf), "%.*s", (int)(strstr(full, "[party") - full), full);
	for (int i = 0; i < 30; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "p%d = %d\n", i, i);
	snprintf(buf + k, sizeof(buf) - k, "%s", strstr(full, "[party"));
	mpc_job *j = parse_ok(buf); /* 32 parameters */
	assert_int_equal(j->n_params, 32);
	assert_string_equal(mpc_job_param_get(j, "p29"), "29");
	mpc_job_free(j);
	k = (size_t)snprintf(buf, sizeof(buf), "%.*s", (int)(strstr(full, "[party") - full), full);
	for (int i = 0; i < 31; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "p%d = %d\n", i, i);
	snprintf(buf + k, sizeof(buf) - k, "%s", strstr(full, "[party"));
	bad(buf, 16 + 30, "[aggregate_stats] p30: too many parameters (at most 32)", NULL);

	j = parse_ok(edit(14, "max_amount = 12.5e3"));
	double v = -1;
	assert_int_equal(mpc_job_param_double(j, "max_amount", 7, 0, 1e6, &v), MPC_OK);
	assert_true(v == 12500);
	assert_int_equal(mpc_job_param_double(j, "absent", 7, 0, 1e6, &v), MPC_OK);
	assert_true(v == 7);
	assert_int_equal(mpc_job_param_double(j, "max_amount", 7, 0, 100, &v), MPC_ECONFIG);
	assert_string_equal(mpc_error_detail(), "job.ini:14: [aggregate_stats] max_amount: "
	                                        "expected a number from 0 to 100");
	mpc_job_free(j);
	const char *bads[] = {"1e6x", "inf", "nan", "0x10", "1,5", "--1"};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "max_rows = %s", bads[i]);
		j = parse_ok(edit(13, line));
		assert_int_equal(mpc_job_param_double(j, "max_rows", 1, -1e300, 1e300, &v),
		                 MPC_ECONFIG);
		assert_non_null(
		    strstr(mpc_error_detail(), "job.ini:13: [aggregate_stats] max_rows"));
		mpc_job_free(j);
	}
}

/* Comments, spacing, key order within a section and parameter order do not
 * change the canonical text; every real change does, and diff names it. */
static void test_canonical(void **s) {
	(void)s;
	static const char reordered[] = "[job]\n"
	                                "transport=tls ; the default\n"
	                                "connect_timeout=90\n"
	                                "timeout=2.5\n"
	                                "preprocessing=dealer\n"
	                                "frac_bits=12\n"
	                                "ring=64\n"
	                                "computation=aggregate_stats\n"
	                                "id=fraud-stats-2026-11\n"
	                                "[party merchant-a]\n"
	                                "fingerprint=" HEXA "\n"
	                                "address=tcp://10.0.0.1:7000\n"
	                                "[dealer]\n"
	                                "fingerprint=" HEXD "\n"
	                                "address=tcp://10.0.0.9:7100\n"
	                                "[party merchant-b]\n"
	                                "address=tcp://10.0.0.2:7000\n"
	                                "fingerprint=" HEXB "\n"
	                                "[aggregate_stats]\n"
	                                "max_amount=1000000\n"
	                                "max_rows=1000000\n"
	                                "[party bank_c.eu]\n"
	                                "address=ipc:///run/mpc/c.sock\n"
	                                "fingerprint=" HEXC "\n";
	size_t la, lb;
	char *a = canon(full, &la), *b = canon(reordered, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(b);
	uint8_t ha[32], hb[32];
	mpc_job *ja = parse_ok(full), *jb = parse_ok(reordered);
	assert_int_equal(mpc_job_hash(ja, ha), MPC_OK);
	assert_int_equal(mpc_job_hash(jb, hb), MPC_OK);
	assert_memory_equal(ha, hb, 32);
	mpc_job_free(jb);

	static const struct {
		int line;
		const char *text, *field;
	} changes[] = {
	    {3, "id = fraud-stats-2026-12", "job.id"},
	    {5, "ring = 128", "job.ring"},
	    {6, "frac_bits = 13", "job.frac_bits"},
	    {8, "timeout = 2.501", "job.timeout"},
	    {9, "connect_timeout = 91", "job.connect_timeout"},
	    {13, "max_rows = 1000001", "param.max_rows"},
	    {14, "max_amount = 1000000.0", "param.max_amount"},
	    {14, "max_amounts = 1000000", "param.max_amount"},
	    {14, "; no max_amount", "param.max_amount"},
	    {16, "[party merchant-x]", "party.0.name"},
	    {21, "address = tcp://10.0.0.2:7001", "party.1.address"},
	    {25, "fingerprint = " FPE, "party.2.fingerprint"},
	    {29, "address = tcp://10.0.0.9:7101", "dealer.address"},
	    {30, "fingerprint = " FPE, "dealer.fingerprint"},
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		mpc_job *jc = parse_ok(edit(changes[i].line, changes[i].text));
		char *c, field[64];
		size_t lc;
		assert_int_equal(mpc_job_hash(jc, hb), MPC_OK);
		assert_memory_not_equal(ha, hb, 32);
		assert_int_equal(mpc_job_canonical(jc, &c, &lc), MPC_OK);
		assert_int_equal(mpc_job_diff(a, la, c, lc, field, sizeof(field)), MPC_OK);
		if (strcmp(field, changes[i].field) != 0)
			print_error("change %zu: field %s\n", i, field);
		assert_string_equal(field, changes[i].field);
		free(c);
		mpc_job_free(jc);
	}
	/* transport and preprocessing need other sections to stay valid */
	static const char plain[] = "[job]\nid=x\ncomputation=aggregate_stats\n"
	                            "transport=plaintext\npreprocessing=ot\n"
	                            "[party a]\naddress=ipc:///a\nfingerprint=" FPA "\n"
	                            "[party b]\naddress=ipc:///b\nfingerprint=" FPB "\n";
	char *p1, *p2, field[64];
	size_t l1, l2;
	p1 = canon(plain, &l1);
	p2 = canon(scratch_edit(plain, 4, "transport=tls", 0), &l2);
	assert_int_equal(mpc_job_diff(p1, l1, p2, l2, field, sizeof(field)), MPC_OK);
	assert_string_equal(field, "job.transport");
	free(p2);
	p2 = canon(scratch_edit(plain, 5, "preprocessing=paillier", 0), &l2);
	assert_int_equal(mpc_job_diff(p1, l1, p2, l2, field, sizeof(field)), MPC_OK);
	assert_string_equal(field, "job.preprocessing");
	free(p2);
	/* a party more: its count first */
	p2 = canon(scratch_edit(plain, 11,
	                        "fingerprint=" FPB "\n[party c]\naddress=ipc:///c\n"
	                        "fingerprint=" FPC,
	                        0),
	           &l2);
	assert_int_equal(mpc_job_diff(p1, l1, p2, l2, field, sizeof(field)), MPC_OK);
	assert_string_equal(field, "parties");
	free(p2);
	free(p1);
	mpc_job_free(ja);
	free(a);
}

static void test_diff(void **s) {
	(void)s;
	char f[32];
	const char a[] = "x=1\ny=2\nz=3\n";
#define DIFF(t1, t2) mpc_job_diff(t1, strlen(t1), t2, strlen(t2), f, sizeof(f))
	assert_int_equal(DIFF(a, a), MPC_OK);
	assert_string_equal(f, "");
	assert_int_equal(DIFF("", ""), MPC_OK);
	assert_string_equal(f, "");
	assert_int_equal(DIFF(a, "x=1\ny=3\nz=3\n"), MPC_OK);
	assert_string_equal(f, "y");
	assert_int_equal(DIFF(a, "x=1\nz=3\n"), MPC_OK); /* theirs lacks y */
	assert_string_equal(f, "y");
	assert_int_equal(DIFF(a, "x=1\ny=2\nz=3\nmode=run\n"), MPC_OK); /* theirs has more */
	assert_string_equal(f, "mode");
	assert_int_equal(DIFF(a, "x=1\nz=3\ny=2\n"), MPC_OK);
	assert_string_equal(f, "(fields differ in order)");
	assert_int_equal(DIFF(a, "x=1\ny=2\nz=3\nz=3\n"), MPC_OK);
	assert_string_equal(f, "(fields differ in number)");
	assert_int_equal(DIFF(a, "x=1\ny=2\nz=3"), MPC_EPROTO); /* no final newline */
	assert_string_equal(f, "(malformed job text)");
	assert_int_equal(DIFF(a, "x=1\nno equals\n"), MPC_EPROTO);
	assert_int_equal(DIFF(a, "=1\n"), MPC_EPROTO);
	assert_int_equal(DIFF(a, "a b=1\n"), MPC_EPROTO);
	assert_int_equal(DIFF("bad", a), MPC_EPROTO);
	assert_int_equal(mpc_job_diff(a, strlen(a), "x\0y=1\n", 6, f, sizeof(f)), MPC_EPROTO);
	/* a long field name is cut to fit */
	char tiny[5];
	const char *lng = "x=1\nverylongname=2\n";
	assert_int_equal(mpc_job_diff(a, strlen(a), lng, strlen(lng), tiny, sizeof(tiny)), MPC_OK);
	assert_string_equal(tiny, "y");
	assert_int_equal(mpc_job_diff("verylongname=1\n", 15, "", 0, tiny, sizeof(tiny)), MPC_OK);
	assert_string_equal(tiny, "very");
	assert_int_equal(mpc_job_diff(a, 1, a, 1, f, 0), MPC_EINVAL);
	assert_int_equal(mpc_job_diff(a, strlen(a), NULL, 3, f, sizeof(f)), MPC_EINVAL);
#undef DIFF
}

static void test_nodes(void **s) {
	(void)s;
	mpc_job *j = parse_ok(full);
	mpc_nodes n;
	assert_int_equal(mpc_job_nodes(j, &n), MPC_OK);
	assert_int_equal(n.n, 4);
	assert_int_equal(n.n_parties, 3);
	assert_int_equal(n.dealer, 3);
	assert_string_equal(n.addrs[0], "tcp://10.0.0.1:7000");
	assert_string_equal(n.addrs[2], "ipc:///run/mpc/c.sock");
	assert_string_equal(n.addrs[3], "tcp://10.0.0.9:7100");
	assert_string_equal(n.names[0], "merchant-a (party 0)");
	assert_string_equal(n.names[2], "bank_c.eu (party 2)");
	assert_string_equal(n.names[3], "dealer");
	mpc_nodes_fini(&n);
	mpc_job_free(j);
	j = parse_ok("[job]\nid=x\ncomputation=aggregate_stats\npreprocessing=ot\n"
	             "[party a]\naddress=ipc:///a\nfingerprint=" FPA "\n"
	             "[party b]\naddress=ipc:///b\nfingerprint=" FPB "\n");
	assert_int_equal(mpc_job_nodes(j, &n), MPC_OK);
	assert_int_equal(n.n, 2);
	assert_int_equal(n.dealer, -1);
	mpc_nodes_fini(&n);
	mpc_job_free(j);
}

static void test_load(void **s) {
	(void)s;
	char dir[] = "/tmp/mpc-test-job-XXXXXX", path[128];
	mpc_job *j = (mpc_job *)&j;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/job.ini", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(full, fp);
	fclose(fp);
	assert_int_equal(mpc_job_load(path, &j), MPC_OK);
	assert_string_equal(j->path, path);
	assert_int_equal(j->n_parties, 3);
	assert_int_equal(mpc_job_param_double(j, "max_rows", 0, 0, 10, &(double){0}), MPC_ECONFIG);
	char want[200];
	snprintf(want, sizeof(want), "%s:13: [aggregate_stats] max_rows", path);
	assert_non_null(strstr(mpc_error_detail(), want));
	mpc_job_free(j);
	/* errors name the path */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(edit(21, "address = nowhere"), fp);
	fclose(fp);
	assert_int_equal(mpc_job_load(path, &j), MPC_ECONFIG);
	assert_null(j);
	snprintf(want, sizeof(want), "%s:21: [party merchant-b] address:", path);
	assert_non_null(strstr(mpc_error_detail(), want));
	/* a directory, a missing file */
	assert_int_equal(mpc_job_load(dir, &j), MPC_EIO);
	assert_null(j);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mpc_job_load(path, &j), MPC_EIO);
	assert_null(j);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(mpc_error_detail(), want);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- the INI reader itself ---- */

/* What the callbacks saw: "S<line>:<name>|" and "P<line>:<key>=<value>|". */
typedef struct {
	char log[4096];
	size_t k;
	int stop_line; /* a callback on this line fails with MPC_EPROTO */
} seen;

static mpc_err seen_section(void *user, int line, const char *name) {
	seen *sn = user;
	sn->k += (size_t)snprintf(sn->log + sn->k, sizeof(sn->log) - sn->k, "S%d:%s|", line, name);
	return line == sn->stop_line ? mpc_error(MPC_EPROTO, "stop at %d", line) : MPC_OK;
}

static mpc_err seen_pair(void *user, int line, const char *key, const char *value) {
	seen *sn = user;
	sn->k += (size_t)snprintf(sn->log + sn->k, sizeof(sn->log) - sn->k, "P%d:%s=%s|", line, key,
	                          value);
	return line == sn->stop_line ? mpc_error(MPC_EPROTO, "stop at %d", line) : MPC_OK;
}

/* Read text[0..len) with the given line limit; the log, or the error's detail
 * prefixed with "E<code> ". Static buffer. */
static const char *ini_n(const char *text, size_t len, size_t max_line, int stop_line) {
	static char out[4200];
	seen sn = {.stop_line = stop_line};
	mpc_ini_reader r = {.section = seen_section,
	                    .pair = seen_pair,
	                    .user = &sn,
	                    .max_line = max_line,
	                    .what = "test file"};
	mpc_err e = mpc_ini_parse("t.ini", text, len, &r);
	if (e != MPC_OK)
		snprintf(out, sizeof(out), "E%d %s", e, mpc_error_detail());
	else
		snprintf(out, sizeof(out), "%s", sn.log);
	return out;
}
static const char *ini(const char *text) {
	return ini_n(text, strlen(text), 0, 0);
}
#define ECONFIG "E9 " /* MPC_ECONFIG */

static void test_ini_comments(void **s) {
	(void)s;
	assert_int_equal(MPC_ECONFIG, 9);
	assert_string_equal(ini(""), "");
	assert_string_equal(ini("; a\n# b\n\n   \n\t; c = d\n  # [x]\n"), "");
	/* ';' after a blank ends a value; one without a blank before it, and '#'
	 * anywhere but first, are text */
	assert_string_equal(ini("[s]\na = b ; c\nd = e;f\ng = h # i\nj = k\t;l\nm = ; n\n"),
	                    "S1:s|P2:a=b|P3:d=e;f|P4:g=h # i|P5:j=k|P6:m=|");
	/* ... and in a key or a header it comes first */
	assert_string_equal(ini("a ;= b\n"), ECONFIG "t.ini:1: syntax error: expected key = value");
	assert_string_equal(ini("a;= b\n"), "P1:a;=b|");
	assert_string_equal(ini("[s] ; c\n[t];c\n[u] # c\n[v]#c\n"), "S1:s|S2:t|S3:u|S4:v|");
	assert_string_equal(ini("\n[s ;]\n"),
	                    ECONFIG "t.ini:2: syntax error: expected ] to close the section name");
	assert_string_equal(ini("[s;]\n"), "S1:s;|");
}

static void test_ini_lines(void **s) {
	(void)s;
	/* CRLF, LF, a missing final newline: the same lines and numbers */
	const char *want = "S1:s|P2:a=b|P4:c=d|";
	assert_string_equal(ini("[s]\r\na = b\r\n\r\nc = d\r\n"), want);
	assert_string_equal(ini("[s]\na = b\n\nc = d"), want);
	assert_string_equal(ini("[s]\r\na = b\n; x\r\nc = d\r"), want);
	/* a CR elsewhere, other control characters, NUL: errors naming the line */
	assert_string_equal(ini("[s]\na = b\r\r\n"),
	                    ECONFIG "t.ini:2: control character 0x0d: a test file is text");
	assert_string_equal(ini("[s]\n\na = \x1b[1m\n"),
	                    ECONFIG "t.ini:3: control character 0x1b: a test file is text");
	assert_string_equal(ini("a = \x7f\n"),
	                    ECONFIG "t.ini:1: control character 0x7f: a test file is text");
	assert_string_equal(ini_n("[s]\na\0 = b\n", 10, 0, 0),
	                    ECONFIG "t.ini:2: a NUL byte: a test file is text");
	assert_string_equal(ini("a\t=\tb\tc\t\n"), "P1:a=b\tc|"); /* tabs are blanks */
	/* indentation means nothing: no continuation lines */
	assert_string_equal(ini("[s]\na = b\n   c = d\n\t[t]\n"), "S1:s|P2:a=b|P3:c=d|S4:t|");
	assert_string_equal(ini("[s]\na = b\n   more\n"),
	                    ECONFIG "t.ini:3: syntax error: expected key = value");
	/* a byte order mark only at the very start */
	assert_string_equal(ini("\xEF\xBB\xBF[s]\r\n"), "S1:s|");
	assert_string_equal(ini("\xEF\xBB\xBF"), "");
	assert_string_equal(ini("\xEF\xBB\xBF; c\n\xEF\xBB\xBF[s]\n"),
	                    ECONFIG "t.ini:2: syntax error: expected key = value");
	assert_string_equal(ini("  \xEF\xBB\xBF[s]\n"),
	                    ECONFIG "t.ini:1: syntax error: expected key = value");
	assert_string_equal(ini("\xEF\xBB\xBF\xEF\xBB\xBF[s]\n"),
	                    ECONFIG "t.ini:1: syntax error: expected key = value");
	assert_string_equal(ini("k = caf\xC3\xA9\n"), "P1:k=caf\xC3\xA9|"); /* UTF-8 is text */
}

static void test_ini_long(void **s) {
	(void)s;
	char buf[2200];
	/* limit 10: 10 characters are fine, blanks around them do not count */
	assert_string_equal(ini_n("a = 567890", 10, 10, 0), "P1:a=567890|");
	assert_string_equal(ini_n("\t  a = 567890   \r\n", 18, 10, 0), "P1:a=567890|");
	assert_string_equal(ini_n("[s]\n\na = 5678901\nb = c\n", 24, 10, 0),
	                    ECONFIG "t.ini:3: line too long (at most 10 characters)");
	/* even a comment: never a silent cut */
	assert_string_equal(ini_n("; 345678901", 11, 10, 0),
	                    ECONFIG "t.ini:1: line too long (at most 10 characters)");
	/* 0, or more than the cap: the cap */
	for (int round = 0; round < 2; round++) {
		size_t max = round ? MPC_INI_MAX_LINE + 5 : 0;
		memset(buf, 'v', sizeof(buf));
		memcpy(buf, "[s]\nk = ", 8);
		buf[4 + MPC_INI_MAX_LINE] = '\n';
		assert_memory_equal(ini_n(buf, 5 + MPC_INI_MAX_LINE, max, 0), "S1:s|P2:k=vvv", 13);
		buf[4 + MPC_INI_MAX_LINE] = 'v';
		buf[5 + MPC_INI_MAX_LINE] = '\n';
		snprintf(buf + 1100, 100, "%s", ini_n(buf, 6 + MPC_INI_MAX_LINE, max, 0));
		assert_string_equal(buf + 1100,
		                    ECONFIG "t.ini:2: line too long (at most 1024 characters)");
	}
}

static void test_ini_syntax(void **s) {
	(void)s;
	/* headers: the name between the brackets, trimmed, inner blanks kept */
	assert_string_equal(ini("[party  a b]\n[ x ]\n[]\n[\t]\n"), "S1:party  a b|S2:x|S3:|S4:|");
	assert_string_equal(ini("[s] extra\n"),
	                    ECONFIG "t.ini:1: syntax error: text after [section] (only a ; "
	                            "comment may follow)");
	assert_string_equal(ini("[s]]\n"), ECONFIG "t.ini:1: syntax error: text after [section] "
	                                           "(only a ; comment may follow)");
	assert_string_equal(ini("[s\n"),
	                    ECONFIG "t.ini:1: syntax error: expected ] to close the section name");
	/* key = value: the first '=' or ':' separates; key and value trimmed and
	 * possibly empty (the caller decides) */
	assert_string_equal(ini("a=b\n a : b \nu = tcp://h:1\nv: tcp://h:1\nw:x=y\n= z\nk =\n"),
	                    "P1:a=b|P2:a=b|P3:u=tcp://h:1|P4:v=tcp://h:1|P5:w=x=y|P6:=z|P7:k=|");
	assert_string_equal(ini("my key = my value\n"), "P1:my key=my value|");
	/* a key without '=' */
	assert_string_equal(ini("[s]\na = b\nc\n"),
	                    ECONFIG "t.ini:3: syntax error: expected key = value");
	/* reading stops at the first error, and a callback's code comes back */
	assert_string_equal(ini("[s]\nx\n[t\n"),
	                    ECONFIG "t.ini:2: syntax error: expected key = value");
	assert_string_equal(ini_n("[s]\na = b\n[t]\nc\n", 16, 0, 3), "E6 stop at 3");
	assert_string_equal(ini_n("[s]\na = b\n[t]\nc\n", 16, 0, 2), "E6 stop at 2");
	/* callbacks may be left out; NULL arguments */
	mpc_ini_reader none = {0};
	assert_int_equal(mpc_ini_parse("t", "[s]\na = b\n", 10, &none), MPC_OK);
	assert_int_equal(mpc_ini_parse("t", "[s]\na\n", 6, &none), MPC_ECONFIG);
	assert_string_equal(mpc_error_detail(), "t:2: syntax error: expected key = value");
	assert_int_equal(mpc_ini_parse(NULL, "a\n", 2, &none), MPC_ECONFIG);
	assert_int_equal(mpc_ini_parse("t", NULL, 0, &none), MPC_OK);
	assert_int_equal(mpc_ini_parse("t", NULL, 1, &none), MPC_EINVAL);
	assert_int_equal(mpc_ini_parse("t", "", 0, NULL), MPC_EINVAL);
	/* through the job reader: its messages name the job file */
	const char nul[] = "[job]\nid = x\0y\n";
	mpc_job *j = NULL;
	assert_int_equal(mpc_job_parse("job.ini", nul, sizeof(nul) - 1, &j), MPC_ECONFIG);
	assert_string_equal(mpc_error_detail(), "job.ini:2: a NUL byte: a job file is text");
	assert_null(j);
	bad(edit(3, "id = a;b"), 3, "[job] id: expected 1 to 64", NULL); /* ';' kept */
	bad(edit(3, "id = ab # c"), 3, "[job] id: expected 1 to 64", NULL);
	bad(edit(2, "\xEF\xBB\xBF[job]"), 2, "syntax error: expected key = value", NULL);
	/* a key line whose comment takes it past the limit: refused, not cut */
	char line[300];
	int n = snprintf(line, sizeof(line), "  max_rows = 1000000 ; ");
	memset(line + n, 'c', (size_t)(MPC_JOB_MAX_LINE + 1 - (n - 2)));
	line[MPC_JOB_MAX_LINE + 3] = '\0'; /* 199 characters after the indentation */
	bad(edit(13, line), 13, "line too long (at most 198 characters)", NULL);
	line[MPC_JOB_MAX_LINE + 2] = '\0';
	mpc_job_free(parse_ok(edit(13, line))); /* 198 */
}

/* input parties: [input NAME] sections, submit addresses, min_inputs,
 * recipients, and the canonical text they add (only when given) */
static const char roles[] = "[job]\n"                         /* 1 */
                            "id = r\n"                        /* 2 */
                            "computation = aggregate_stats\n" /* 3 */
                            "min_inputs = 1\n"                /* 4 */
                            "recipients = m2, a\n"            /* 5 */
                            "[party a]\n"                     /* 6 */
                            "address = tcp://h:1\n"           /* 7 */
                            "submit = 10.0.0.1:7101\n"        /* 8 */
                            "fingerprint = " FPA "\n"         /* 9 */
                            "[party b]\n"                     /* 10 */
                            "address = tcp://h:2\n"           /* 11 */
                            "submit = [::1]:7102\n"           /* 12 */
                            "fingerprint = " FPB "\n"         /* 13 */
                            "[input m1]\n"                    /* 14 */
                            "fingerprint = " FPC "\n"         /* 15 */
                            "[input m2]\n"                    /* 16 */
                            "fingerprint = " FPD "\n";        /* 17 */

static void test_roles(void **s) {
	(void)s;
	mpc_job *j = parse_ok(roles);
	assert_int_equal(j->n_parties, 2);
	assert_int_equal(j->n_inputs, 2);
	assert_string_equal(j->inputs[1].name, "m2");
	assert_string_equal(j->parties[1].submit, "[::1]:7102");
	assert_int_equal(j->min_inputs, 1);
	assert_int_equal(j->input_deadline_ms, 600000);
	assert_int_equal(j->hold_ms, 3600000);
	assert_true(j->parties[0].recipient && !j->parties[1].recipient);
	assert_true(!j->inputs[0].recipient && j->inputs[1].recipient);
	assert_int_equal(mpc_job_input_index(j, "m2"), 1);
	assert_int_equal(mpc_job_input_index(j, "a"), -1);
	mpc_job_free(j);
	size_t len;
	char *t = canon(roles, &len);
	assert_non_null(strstr(t, "job.min_inputs=1\njob.input_deadline=600\njob.hold=3600\n"
	                          "party.0.submit=10.0.0.1:7101\nparty.1.submit=[::1]:7102\n"
	                          "inputs=2\ninput.0.name=m1\n"));
	assert_non_null(strstr(t, "recipients=a,m2\n"));
	free(t);
	/* a job without them keeps its text: no new line appears */
	t = canon(minimal, &len);
	assert_null(strstr(t, "input"));
	assert_null(strstr(t, "recipients"));
	free(t);
	j = parse_ok(scratch_edit(roles, 4, NULL, 0)); /* min_inputs: all by default */
	assert_int_equal(j->min_inputs, 2);
	mpc_job_free(j);
	j = parse_ok(scratch_edit(roles, 5, NULL, 0)); /* recipients: the compute parties */
	assert_true(j->parties[0].recipient && j->parties[1].recipient && !j->inputs[1].recipient);
	mpc_job_free(j);

	bad(scratch_edit(roles, 4, "min_inputs = 3", 0), 4, "[job] min_inputs", "2 input parties");
	bad(scratch_edit(roles, 5, "recipients = a, zz", 0), 5, "recipients", "'zz' is neither");
	bad(scratch_edit(roles, 5, "recipients = a, a", 0), 5, "recipients", "named twice");
	bad(scratch_edit(roles, 8, NULL, 0), 6, "submit", "[party a]: missing");
	bad(scratch_edit(roles, 12, "submit = 10.0.0.1:7101", 0), 12, "submit", "same as party a");
	bad(scratch_edit(roles, 12, "submit = tcp://h:3", 0), 12, "[party b] submit", "HOST:PORT");
	bad(scratch_edit(roles, 17, NULL, 0), 16, "fingerprint", "[input m2]: missing");
	bad(scratch_edit(roles, 17, "fingerprint = " FPA, 0), 17, "fingerprint",
	    "party a's (line 9)");
	bad(scratch_edit(roles, 17, "address = tcp://h:9", 0), 17, "[input m2] address",
	    "only fingerprint");
	bad(scratch_edit(roles, 16, "[input a]", 0), 16, "[input a]",
	    "given twice (first on line 6)");
	bad(scratch_edit(minimal, 3, "min_inputs = 1", 1), 3, "[job] min_inputs",
	    "only for a job with input parties");
	bad(scratch_edit(minimal, 6, "submit = h:5", 1), 6, "submit", "only for a job with input");
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),         cmocka_unit_test(test_roles),
	    cmocka_unit_test(test_defaults),     cmocka_unit_test(test_variants),
	    cmocka_unit_test(test_errors),       cmocka_unit_test(test_params),
	    cmocka_unit_test(test_canonical),    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_nodes),        cmocka_unit_test(test_load),
	    cmocka_unit_test(test_ini_comments), cmocka_unit_test(test_ini_lines),
	    cmocka_unit_test(test_ini_long),     cmocka_unit_test(test_ini_syntax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
