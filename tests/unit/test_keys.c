/* Keys on disk (net/mpc_keys): what keygen writes (files, modes, the
 * certificate's contents), loading and its refusals, no silent overwrite,
 * and fingerprints as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/mpc_keys.h"
#include "net/mpc_tls.h"

static char dir[64];

static int setup(void **state) {
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mpc-test-keys-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *in(const char *sub) {
	static char path[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, sub);
	return path[k];
}

static unsigned mode_of(const char *path) {
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

static size_t slurp(const char *path, char *buf, size_t cap) {
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	size_t n = fread(buf, 1, cap, fp);
	fclose(fp);
	return n;
}

static void load_ok(const char *d, EVP_PKEY **key, X509 **cert) {
	mpc_err e = mpc_keys_load(d, key, cert);
	if (e != MPC_OK)
		print_error("%s\n", mpc_error_detail());
	assert_int_equal(e, MPC_OK);
	assert_non_null(*key);
	assert_non_null(*cert);
}

static void test_generate(void **s) {
	(void)s;
	const char *d = in("alpha");
	uint8_t fp[32], fp2[32];
	unsigned int len = 0;
	EVP_PKEY *key;
	X509 *cert;

	/* DIR does not exist yet: made, 0700 */
	assert_int_equal(mpc_keys_generate(d, "merchant-a", 30, 0, fp), MPC_OK);
	assert_int_equal(mode_of(d), 0700);
	assert_int_equal(mode_of(in("alpha/key.pem")), 0600);
	assert_int_equal(mode_of(in("alpha/cert.pem")), 0644);
	/* nothing else: the temporary files are gone */
	DIR *dh = opendir(d);
	struct dirent *de;
	int files = 0;
	assert_non_null(dh);
	while ((de = readdir(dh)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			files++;
	closedir(dh);
	assert_int_equal(files, 2);
	char pem[8192];
	size_t n = slurp(in("alpha/key.pem"), pem, sizeof(pem) - 1);
	pem[n] = '\0';
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));

	load_ok(d, &key, &cert);
	/* the fingerprint keygen returned is SHA-256 of the DER, and stable */
	assert_int_equal(X509_digest(cert, EVP_sha256(), fp2, &len), 1);
	assert_int_equal(len, 32);
	assert_memory_equal(fp, fp2, 32);
	assert_int_equal(mpc_tls_fingerprint(cert, fp2), MPC_OK);
	assert_memory_equal(fp, fp2, 32);

	/* what is in the certificate */
	assert_true(EVP_PKEY_is_a(key, "EC"));
	char group[64];
	size_t glen = 0;
	assert_int_equal(EVP_PKEY_get_group_name(key, group, sizeof(group), &glen), 1);
	assert_string_equal(group, "prime256v1");
	assert_int_equal(X509_get_version(cert), X509_VERSION_3);
	assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
	char cn[80];
	assert_int_equal(
	    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)),
	    10);
	assert_string_equal(cn, "merchant-a");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), 0);
	uint32_t flags = X509_get_extension_flags(cert);
	assert_true(flags & EXFLAG_BCONS);
	assert_false(flags & EXFLAG_CA);
	assert_true(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);
	assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
	assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	assert_non_null(bn);
	assert_false(BN_is_negative(bn));
	assert_true(BN_num_bits(bn) > 64);
	BN_free(bn);
	int days, secs;
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(cert)), 1);
	assert_true(days == 0 && secs <= -3595 && secs >= -3700); /* an hour ago */
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)), 1);
	assert_true(days == 29 || (days == 30 && secs <= 5)); /* 30 days from now */
	assert_int_equal(X509_verify(cert, key), 1);          /* self-signed */
	EVP_PKEY_free(key);
	X509_free(cert);

	/* loading again: the same certificate */
	load_ok(d, &key, &cert);
	assert_int_equal(mpc_tls_fingerprint(cert, fp2), MPC_OK);
	assert_memory_equal(fp, fp2, 32);
	EVP_PKEY_free(key);
	X509_free(cert);

	/* days = 0: the default of ten years */
	d = in("beta");
	assert_int_equal(mpc_keys_generate(d, "b", 0, 0, fp2), MPC_OK);
	assert_memory_not_equal(fp, fp2, 32);
	load_ok(d, &key, &cert);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)), 1);
	assert_true(days >= MPC_KEYS_DEFAULT_DAYS - 1 && days <= MPC_KEYS_DEFAULT_DAYS);
	EVP_PKEY_free(key);
	X509_free(cert);
	/* a hundred years: past 2049 the dates are GeneralizedTime */
	assert_int_equal(mpc_keys_generate(in("gamma"), "c", 36500, 0, fp2), MPC_OK);
	load_ok(in("gamma"), &key, &cert);
	EVP_PKEY_free(key);
	X509_free(cert);
}

/* `openssl x509 -noout -fingerprint -sha256` prints the same fingerprint,
 * and its output is accepted as it is. */
static void test_openssl_cli(void **s) {
	(void)s;
	uint8_t fp[32], fp2[32];
	char cmd[256], line[256], text[MPC_TLS_FP_TEXT];
	assert_int_equal(mpc_keys_generate(in("cli"), "cli", 1, 0, fp), MPC_OK);
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in %s 2>/dev/null",
	         in("cli/cert.pem"));
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *got = fgets(line, sizeof(line), p);
	int rc = pclose(p);
	if (got == NULL || rc != 0) {
		print_message("openssl command line tool not found: skipped\n");
		return;
	}
	line[strcspn(line, "\r\n")] = '\0';
	assert_int_equal(mpc_fingerprint_parse(line, fp2), MPC_OK);
	assert_memory_equal(fp, fp2, 32);
	mpc_tls_fingerprint_format(fp, text);
	assert_string_equal(text + 7, strchr(line, '=') + 1);
}

static void test_no_overwrite(void **s) {
	(void)s;
	const char *d = in("keep");
	uint8_t fp[32], fp2[32];
	char before[8192], after[8192];
	EVP_PKEY *key;
	X509 *cert;

	assert_int_equal(mpc_keys_generate(d, "keep", 5, 0, fp), MPC_OK);
	size_t n1 = slurp(in("keep/key.pem"), before, sizeof(before));
	assert_int_equal(mpc_keys_generate(d, "keep", 5, 0, fp2), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "key.pem exists"));
	assert_non_null(strstr(mpc_error_detail(), "--force"));
	size_t n2 = slurp(in("keep/key.pem"), after, sizeof(after));
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	load_ok(d, &key, &cert);
	assert_int_equal(mpc_tls_fingerprint(cert, fp2), MPC_OK);
	assert_memory_equal(fp, fp2, 32);
	EVP_PKEY_free(key);
	X509_free(cert);

	/* force: a new key and certificate that belong together */
	assert_int_equal(mpc_keys_generate(d, "keep", 5, 1, fp2), MPC_OK);
	assert_memory_not_equal(fp, fp2, 32);
	assert_int_equal(mode_of(in("keep/key.pem")), 0600);
	load_ok(d, &key, &cert);
	assert_int_equal(mpc_tls_fingerprint(cert, fp), MPC_OK);
	assert_memory_equal(fp, fp2, 32);
	EVP_PKEY_free(key);
	X509_free(cert);

	/* any key.pem counts, even without a certificate */
	d = in("lonely");
	assert_int_equal(mkdir(d, 0700), 0);
	FILE *f = fopen(in("lonely/key.pem"), "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(mpc_keys_generate(d, "x", 5, 0, fp), MPC_ECONFIG);
	assert_int_equal(access(in("lonely/cert.pem"), F_OK), -1);
}

static void test_generate_bad(void **s) {
	(void)s;
	uint8_t fp[32];
	char name65[66];
	memset(name65, 'n', 65);
	name65[65] = '\0';
	assert_int_equal(mpc_keys_generate(in("bad"), "x", -1, 0, fp), MPC_ECONFIG);
	assert_int_equal(mpc_keys_generate(in("bad"), "x", 36501, 0, fp), MPC_ECONFIG);
	assert_int_equal(mpc_keys_generate(in("bad"), "", 1, 0, fp), MPC_ECONFIG);
	assert_int_equal(mpc_keys_generate(in("bad"), "a\nb", 1, 0, fp), MPC_ECONFIG);
	assert_int_equal(mpc_keys_generate(in("bad"), name65, 1, 0, fp), MPC_ECONFIG);
	assert_int_equal(mpc_keys_generate(in("bad"), NULL, 1, 0, fp), MPC_ECONFIG);
	assert_int_equal(access(in("bad"), F_OK), -1); /* nothing made */
	assert_int_equal(mpc_keys_generate(NULL, "x", 1, 0, fp), MPC_EINVAL);
	assert_int_equal(mpc_keys_generate(in("no/such/parent"), "x", 1, 0, fp), MPC_EIO);
	assert_non_null(strstr(mpc_error_detail(), "no/such"));
}

/* dst/key.pem from a, dst/cert.pem from b */
static void mix(const char *dst, const char *a, const char *b) {
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp -p %s/key.pem %s/ && cp -p %s/cert.pem %s/",
	         dst, a, dst, b, dst);
	assert_int_equal(system(cmd), 0);
}

static void load_bad(const char *d, mpc_err code, const char *needle) {
	EVP_PKEY *key = (EVP_PKEY *)&key;
	X509 *cert = (X509 *)&cert;
	mpc_err e = mpc_keys_load(d, &key, &cert);
	if (e != code || strstr(mpc_error_detail(), needle) == NULL)
		print_error("%s: got %d: %s\n", d, e, mpc_error_detail());
	assert_int_equal(e, code);
	assert_non_null(strstr(mpc_error_detail(), needle));
	assert_null(key);
	assert_null(cert);
}

static void write_file(const char *path, const char *text, unsigned mode) {
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load_bad(void **s) {
	(void)s;
	uint8_t fp[32];
	assert_int_equal(mpc_keys_generate(in("one"), "one", 5, 0, fp), MPC_OK);
	assert_int_equal(mpc_keys_generate(in("two"), "two", 5, 0, fp), MPC_OK);

	load_bad(in("none"), MPC_EIO, "keygen");
	/* open to others: refused, with the fix */
	assert_int_equal(chmod(in("one/key.pem"), 0640), 0);
	load_bad(in("one"), MPC_ECONFIG, "(mode 640): chmod 600");
	assert_int_equal(chmod(in("one/key.pem"), 0602), 0);
	load_bad(in("one"), MPC_ECONFIG, "chmod 600");
	assert_int_equal(chmod(in("one/key.pem"), 0400), 0); /* read-only for us: fine */
	EVP_PKEY *key;
	X509 *cert;
	load_ok(in("one"), &key, &cert);
	EVP_PKEY_free(key);
	X509_free(cert);
	assert_int_equal(chmod(in("one/key.pem"), 0600), 0);
	/* a pair that was not made together */
	mix(in("mixed"), in("one"), in("two"));
	load_bad(in("mixed"), MPC_ECONFIG, "does not match");
	/* not PEM */
	mix(in("garbage-key"), in("one"), in("one"));
	write_file(in("garbage-key/key.pem"), "hello\n", 0600);
	load_bad(in("garbage-key"), MPC_ECONFIG, "not a PEM private key");
	mix(in("garbage-cert"), in("one"), in("one"));
	write_file(in("garbage-cert/cert.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n", 0644);
	load_bad(in("garbage-cert"), MPC_ECONFIG, "not a PEM certificate");
	/* a certificate in place of the key */
	mix(in("swapped"), in("one"), in("one"));
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cp %s/cert.pem %s/key.pem", in("one"), in("swapped"));
	assert_int_equal(system(cmd), 0);
	load_bad(in("swapped"), MPC_ECONFIG, "not a PEM private key");
	/* no certificate */
	mix(in("no-cert"), in("one"), in("one"));
	assert_int_equal(unlink(in("no-cert/cert.pem")), 0);
	load_bad(in("no-cert"), MPC_EIO, "cert.pem: No such file");
	/* key.pem is a directory */
	assert_int_equal(mkdir(in("dir-key"), 0700), 0);
	assert_int_equal(mkdir(in("dir-key/key.pem"), 0700), 0);
	load_bad(in("dir-key"), MPC_ECONFIG, "not a regular file");
	assert_int_equal(mpc_keys_load(NULL, &key, &cert), MPC_EINVAL);
}

static void test_fingerprint_text(void **s) {
	(void)s;
	uint8_t fp[32], fp2[32];
	char text[MPC_TLS_FP_TEXT], alt[MPC_TLS_FP_TEXT + 32];
	for (int round = 0; round < 100; round++) {
		assert_int_equal(RAND_bytes(fp, sizeof(fp)), 1);
		mpc_tls_fingerprint_format(fp, text);
		assert_int_equal(strlen(text), 7 + 95);
		assert_int_equal(strncmp(text, "sha256:", 7), 0);
		memset(fp2, 0, sizeof(fp2));
		assert_int_equal(mpc_fingerprint_parse(text, fp2), MPC_OK);
		assert_memory_equal(fp, fp2, 32);
		/* without the prefix, without colons, lower case, other prefixes */
		assert_int_equal(mpc_fingerprint_parse(text + 7, fp2), MPC_OK);
		assert_memory_equal(fp, fp2, 32);
		size_t k = 0;
		for (const char *p = text + 7; *p; p++)
			if (*p != ':')
				alt[k++] = (char)(round % 2 ? *p | 0x20 : *p);
		alt[k] = '\0';
		memset(fp2, 0, sizeof(fp2));
		assert_int_equal(mpc_fingerprint_parse(alt, fp2), MPC_OK);
		assert_memory_equal(fp, fp2, 32);
		snprintf(alt, sizeof(alt), "SHA256:%s", text + 7);
		assert_int_equal(mpc_fingerprint_parse(alt, fp2), MPC_OK);
		assert_memory_equal(fp, fp2, 32);
		snprintf(alt, sizeof(alt), "sha256 Fingerprint=%s", text + 7);
		assert_int_equal(mpc_fingerprint_parse(alt, fp2), MPC_OK);
		assert_memory_equal(fp, fp2, 32);
	}

	/* refusals leave fp as it was */
	mpc_tls_fingerprint_format(fp, text);
	const char *hex = text + 7;
	char buf[256];
	const char *bad[] = {"", "sha256:", "00", "0g", "sha1:00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(fp2, fp, 32);
		assert_int_equal(mpc_fingerprint_parse(bad[i], fp2), MPC_ECONFIG);
		assert_memory_equal(fp, fp2, 32);
	}
	assert_non_null(strstr(mpc_error_detail(), "expected 64 hex digits (SHA-256)"));
	/* one character off, in every position: changed, dropped, doubled */
	size_t len = strlen(hex);
	for (size_t i = 0; i < len; i++) {
		snprintf(buf, sizeof(buf), "%s", hex);
		buf[i] = buf[i] == ':' ? '0' : 'x';
		assert_int_equal(mpc_fingerprint_parse(buf, fp2), MPC_ECONFIG);
		snprintf(buf, sizeof(buf), "%.*s%s", (int)i, hex, hex + i + 1);
		assert_int_equal(mpc_fingerprint_parse(buf, fp2), MPC_ECONFIG);
		snprintf(buf, sizeof(buf), "%.*s%s", (int)i + 1, hex, hex + i);
		assert_int_equal(mpc_fingerprint_parse(buf, fp2), MPC_ECONFIG);
	}
	snprintf(buf, sizeof(buf), " %s", hex);
	assert_int_equal(mpc_fingerprint_parse(buf, fp2), MPC_ECONFIG);
	snprintf(buf, sizeof(buf), "%s:", hex);
	assert_int_equal(mpc_fingerprint_parse(buf, fp2), MPC_ECONFIG);
	snprintf(buf, sizeof(buf), "sha256:sha256:%s", hex);
	assert_int_equal(mpc_fingerprint_parse(buf, fp2), MPC_ECONFIG);
	assert_int_equal(mpc_fingerprint_parse(NULL, fp2), MPC_EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate),     cmocka_unit_test(test_openssl_cli),
	    cmocka_unit_test(test_no_overwrite), cmocka_unit_test(test_generate_bad),
	    cmocka_unit_test(test_load_bad),     cmocka_unit_test(test_fingerprint_text),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
