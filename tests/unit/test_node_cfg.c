/* The node's configuration file (node/mpc_node_cfg.h): a good file read
 * whole, relative paths taken from the file's folder, and each mistake
 * refused with MPC_ECONFIG naming the file, the line and what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/mpc_node_cfg.h"

#define FP_A                                                                                       \
	"sha256:"                                                                                  \
	"AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:"  \
	"AA:AA:AA"
#define FP_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

#define NODE                                                                                       \
	"[node]\nname = alpha\nkeys = keys\npolicy = /etc/mpc/policy.ini\nstate = state\n"         \
	"api = 127.0.0.1:8701\ntoken_file = token\nlisten = 0.0.0.0:7701\n"
#define PEERS                                                                                      \
	"[peer bravo]\naddress = bravo.example.com:7701\nfingerprint = " FP_A "\n"                 \
	"[peer charlie]\naddress = [::1]:7702\nfingerprint = " FP_B "\n"

static mpc_node_cfg cfg;

static void test_good(void **state) {
	(void)state;
	const char text[] = NODE "job_timeout = 90.5\nscore_stock = 100\n" PEERS;
	assert_int_equal(mpc_node_cfg_parse("node.ini", "/srv/n", text, strlen(text), &cfg),
	                 MPC_OK);
	assert_string_equal(cfg.name, "alpha");
	assert_string_equal(cfg.keys, "/srv/n/keys");
	assert_string_equal(cfg.policy, "/etc/mpc/policy.ini");
	assert_string_equal(cfg.api, "127.0.0.1:8701");
	assert_string_equal(cfg.party_program, "");
	assert_true(cfg.job_timeout_s == 90.5 && cfg.score_stock == 100 && cfg.n_peers == 2);
	assert_int_equal(mpc_node_cfg_peer(&cfg, "charlie"), 1);
	assert_int_equal(mpc_node_cfg_peer(&cfg, "delta"), -1);
	assert_int_equal(cfg.peers[0].fingerprint[0], 0xaa);
	assert_int_equal(cfg.peers[1].fingerprint[31], 0xbb);
	const char defaults[] = NODE PEERS;
	assert_int_equal(mpc_node_cfg_parse("n", "/", defaults, strlen(defaults), &cfg), MPC_OK);
	assert_true(cfg.job_timeout_s == 3600 && cfg.score_stock == 2000 && !cfg.api_remote);
}

/* text must be refused, the message holding each of the NULL-ended
 * fragments. */
static void bad(const char *text, ...) {
	va_list ap;
	mpc_err e = mpc_node_cfg_parse("node.ini", "/srv", text, strlen(text), &cfg);
	const char *d = mpc_error_detail();
	if (e != MPC_ECONFIG)
		fail_msg("accepted (%d): %s", e, text);
	va_start(ap, text);
	for (const char *f = va_arg(ap, const char *); f; f = va_arg(ap, const char *))
		if (strstr(d, f) == NULL)
			fail_msg("'%s' lacks '%s' for:\n%s", d, f, text);
	va_end(ap);
	assert_string_equal(cfg.name, ""); /* nothing half-read */
}

static void test_bad(void **state) {
	(void)state;
	bad(PEERS, "no [node] section", NULL);
	bad(NODE, "no [peer NAME]", NULL);
	bad("[node]\nname = alpha\n" PEERS, "node.ini", "keys", "required", NULL);
	bad(NODE "colour = blue\n" PEERS, "node.ini:9", "unknown key", "score_stock", NULL);
	bad(NODE "name = beta\n" PEERS, "node.ini:9", "given twice", NULL);
	bad(NODE "[node]\n" PEERS, "node.ini:9", "appears twice", NULL);
	bad(NODE "job_timeout = 0\n" PEERS, "node.ini:9", "(0, 86400]", NULL);
	bad(NODE "job_timeout = 1e9\n" PEERS, "node.ini:9", "job_timeout", NULL);
	bad(NODE "score_stock = -1\n" PEERS, "node.ini:9", "0..1000000", NULL);
	bad(NODE "api_remote = maybe\n" PEERS, "node.ini:9", "yes or no", NULL);
	bad("[node]\nname = a/b\n", "node.ini:2", "A-Z a-z", NULL);
	bad("[node]\napi = 127.0.0.1\n", "node.ini:2", "HOST:PORT", NULL);
	bad("[node]\nlisten = 127.0.0.1:70000\n", "node.ini:2", "1..65535", NULL);
	bad("[node]\nlisten = :7701\n", "node.ini:2", "HOST:PORT", NULL);
	bad(NODE "[peer bravo]\naddress = b:1\n", "node.ini:9", "[peer bravo] needs fingerprint",
	    NULL);
	bad(NODE "[peer bravo]\nfingerprint = " FP_A "\n[peer c]\n", "[peer bravo] needs address",
	    NULL);
	bad(NODE "[peer bravo]\naddress = b:1\nfingerprint = 12:34\n", "node.ini:11", "fingerprint",
	    NULL);
	bad(NODE PEERS "[peer bravo]\n", "node.ini:15", "[peer bravo] appears twice", NULL);
	bad(NODE "[peer alpha]\naddress = a:1\nfingerprint = " FP_A "\n", "node.ini:9",
	    "this node's own name", NULL);
	bad(NODE "[peer bravo]\naddress = b:1\nfingerprint = " FP_A "\n[peer c]\naddress = c:1\n"
	         "fingerprint = " FP_A "\n",
	    "node.ini:12", "the fingerprint of [peer bravo]", NULL);
	bad("[node]\nname = alpha\nkeys = k\npolicy = p\nstate = s\napi = 10.0.0.5:8701\n"
	    "token_file = t\nlisten = 0.0.0.0:7701\n" PEERS,
	    "not a loopback address", "api_remote = yes", NULL);
	bad(NODE PEERS "[peers]\n", "node.ini:15", "unknown section [peers]", NULL);
	bad("address = x:1\n", "node.ini:1", "outside a section", NULL);
}

static void test_load(void **state) {
	(void)state;
	char dir[] = "/tmp/mpc-test-nodecfg-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/node.ini", dir);
	assert_int_equal(mpc_node_cfg_load(path, &cfg), MPC_EIO); /* absent */
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(NODE PEERS, fp);
	fclose(fp);
	assert_int_equal(mpc_node_cfg_load(path, &cfg), MPC_OK);
	char want[96];
	snprintf(want, sizeof(want), "%s/state", dir); /* from the file's folder */
	assert_string_equal(cfg.state, want);
	assert_string_equal(cfg.path, path);
	remove(path);
	remove(dir);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
