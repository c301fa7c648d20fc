/* Keys and certificates on disk, and fingerprints as text. */
#include "net/mpc_keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define MAX_PEM_BYTES (64 * 1024)
#define MAX_DAYS      36500

static mpc_err ossl_fail(const char *what) {
	char buf[256];
	unsigned long e = ERR_peek_last_error();
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "no OpenSSL error recorded");
	ERR_clear_error();
	return mpc_error(MPC_ECRYPTO, "%s: %s", what, buf);
}

/* Never ask for a passphrase on the terminal: our keys have none. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static char *join_path(const char *dir, const char *base) {
	size_t n = strlen(dir) + strlen(base) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, base);
	return p;
}

static mpc_err make_cert(const char *name, int days, EVP_PKEY **key, X509 **cert) {
	static const struct {
		int nid;
		const char *value;
	} exts[] = {
	    {NID_basic_constraints, "critical,CA:FALSE"},
	    {NID_key_usage, "critical,digitalSignature"},
	    {NID_ext_key_usage, "serverAuth,clientAuth"},
	    {NID_subject_key_identifier, "hash"},
	};
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	BIGNUM *bn = NULL;
	uint8_t serial[16];
	X509V3_CTX v3;
	mpc_err err = MPC_OK;

	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		err = ossl_fail("cannot make an EC P-256 key");
		goto out;
	}
	if ((c = X509_new()) == NULL || RAND_bytes(serial, sizeof(serial)) != 1) {
		err = ossl_fail("cannot make a certificate");
		goto out;
	}
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40); /* positive, 127 bits, never 0 */
	X509_NAME *subj = X509_get_subject_name(c);
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) == NULL ||
	    X509_set_version(c, X509_VERSION_3) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(c), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(c), days, 0, NULL) == NULL ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)name, -1,
	                               -1, 0) != 1 ||
	    X509_set_issuer_name(c, subj) != 1 || X509_set_pubkey(c, k) != 1) {
		err = ossl_fail("cannot fill in the certificate");
		goto out;
	}
	X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
		int ok = ext != NULL && X509_add_ext(c, ext, -1) == 1;
		X509_EXTENSION_free(ext);
		if (!ok) {
			err = ossl_fail("cannot add a certificate extension");
			goto out;
		}
	}
	if (X509_sign(c, k, EVP_sha256()) <= 0) {
		err = ossl_fail("cannot sign the certificate");
		goto out;
	}
	*key = k;
	*cert = c;
	k = NULL;
	c = NULL;
out:
	BN_free(bn);
	EVP_PKEY_free(k); /* cleanses the private key */
	X509_free(c);
	return err;
}

/* A new file beside the target (same file system, for rename and link),
 * created with mode 0600 by mkostemp and then given `mode`, holding data,
 * synced. Caller unlinks and frees *tmp. */
static mpc_err write_temp(const char *dir, const char *base, const void *data, size_t len,
                          mode_t mode, char **tmp) {
	size_t n = strlen(dir) + strlen(base) + 16;
	const char *p = data;
	mpc_err err = MPC_OK;
	int fd;

	if ((*tmp = malloc(n)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	snprintf(*tmp, n, "%s/.%s.XXXXXX", dir, base);
	if ((fd = mkostemp(*tmp, O_CLOEXEC)) < 0) {
		err = mpc_error(MPC_EIO, "%s: cannot create: %s", *tmp, strerror(errno));
		free(*tmp);
		*tmp = NULL;
		return err;
	}
	if (fchmod(fd, mode) != 0)
		err = mpc_error(MPC_EIO, "%s: cannot set its mode: %s", *tmp, strerror(errno));
	while (err == MPC_OK && len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = mpc_error(MPC_EIO, "%s: cannot write: %s", *tmp,
			                w < 0 ? strerror(errno) : "no progress");
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (err == MPC_OK && fsync(fd) != 0)
		err = mpc_error(MPC_EIO, "%s: cannot sync: %s", *tmp, strerror(errno));
	if (close(fd) != 0 && err == MPC_OK)
		err = mpc_error(MPC_EIO, "%s: cannot close: %s", *tmp, strerror(errno));
	return err;
}

/* Make the renames durable. Some file systems cannot sync a directory
 * (EINVAL): nothing more to do there. */
static mpc_err sync_dir(const char *dir) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mpc_error(MPC_EIO, "%s: cannot open: %s", dir, strerror(errno));
	int rc = fsync(fd), e = errno;
	close(fd);
	if (rc != 0 && e != EINVAL)
		return mpc_error(MPC_EIO, "%s: cannot sync: %s", dir, strerror(e));
	return MPC_OK;
}

static mpc_err exists_error(const char *kpath) {
	return mpc_error(MPC_ECONFIG,
	                 "%s exists: keep it, or make a new one with --force (then give the "
	                 "partners the new fingerprint)",
	                 kpath);
}

/* Put the key in place: without force, link(2) fails if a key appeared since
 * we looked, so an existing key is never replaced. */
static mpc_err place_key(const char *tmp, const char *kpath, int force) {
	if (force) {
		if (rename(tmp, kpath) != 0)
			return mpc_error(MPC_EIO, "%s: cannot rename into place: %s", kpath,
			                 strerror(errno));
		return MPC_OK;
	}
	if (link(tmp, kpath) == 0) {
		unlink(tmp);
		return MPC_OK;
	}
	if (errno == EEXIST)
		return exists_error(kpath);
	if (errno != EPERM && errno != EOPNOTSUPP && errno != EXDEV)
		return mpc_error(MPC_EIO, "%s: cannot link into place: %s", kpath, strerror(errno));
	/* no hard links here (some FUSE and FAT file systems): look, then rename */
	struct stat st;
	if (lstat(kpath, &st) == 0)
		return exists_error(kpath);
	if (rename(tmp, kpath) != 0)
		return mpc_error(MPC_EIO, "%s: cannot rename into place: %s", kpath,
		                 strerror(errno));
	return MPC_OK;
}

static int printable(const char *s, size_t max) {
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

mpc_err mpc_keys_generate(const char *dir, const char *name, int days, int force, uint8_t fp[32]) {
	char *kpath = NULL, *cpath = NULL, *ktmp = NULL, *ctmp = NULL, *kdata, *cdata;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *kb = NULL, *cb = NULL;
	unsigned int fplen = 0;
	struct stat st;
	long klen, clen;
	mpc_err err;

	if (dir == NULL || *dir == '\0' || fp == NULL)
		return mpc_error(MPC_EINVAL,
		                 "mpc_keys_generate: no directory or no place for the fingerprint");
	if (name == NULL || !printable(name, 64))
		return mpc_error(MPC_ECONFIG,
		                 "certificate name: expected 1 to 64 printable ASCII characters");
	if (days < 0 || days > MAX_DAYS)
		return mpc_error(MPC_ECONFIG, "certificate validity: expected 1 to %d days",
		                 MAX_DAYS);
	if (days == 0)
		days = MPC_KEYS_DEFAULT_DAYS;
	if ((kpath = join_path(dir, "key.pem")) == NULL ||
	    (cpath = join_path(dir, "cert.pem")) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	/* fail early and clearly; place_key makes the check race-free */
	if (!force && lstat(kpath, &st) == 0) {
		err = exists_error(kpath);
		goto out;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		err = mpc_error(MPC_EIO, "%s: cannot create: %s", dir, strerror(errno));
		goto out;
	}
	if ((err = make_cert(name, days, &key, &cert)) != MPC_OK)
		goto out;
	if (X509_digest(cert, EVP_sha256(), fp, &fplen) != 1 || fplen != 32) {
		err = ossl_fail("cannot hash the certificate");
		goto out;
	}
	/* secure-heap memory BIO: cleansed when freed */
	if ((kb = BIO_new(BIO_s_secmem())) == NULL || (cb = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, cert) != 1 || (klen = BIO_get_mem_data(kb, &kdata)) <= 0 ||
	    (clen = BIO_get_mem_data(cb, &cdata)) <= 0) {
		err = ossl_fail("cannot encode the key and certificate");
		goto out;
	}
	if ((err = write_temp(dir, "key.pem", kdata, (size_t)klen, 0600, &ktmp)) != MPC_OK ||
	    (err = write_temp(dir, "cert.pem", cdata, (size_t)clen, 0644, &ctmp)) != MPC_OK)
		goto out;
	if ((err = place_key(ktmp, kpath, force)) != MPC_OK)
		goto out;
	free(ktmp);
	ktmp = NULL;
	if (rename(ctmp, cpath) != 0) {
		int e = errno;
		if (!force) /* our new key, useless without its certificate */
			unlink(kpath);
		err = mpc_error(MPC_EIO, "%s: cannot rename into place: %s%s", cpath, strerror(e),
		                force ? " (key.pem is new and does not match the old certificate: "
		                        "run keygen again)"
		                      : "");
		goto out;
	}
	free(ctmp);
	ctmp = NULL;
	err = sync_dir(dir);
out:
	if (ktmp) {
		unlink(ktmp);
		free(ktmp);
	}
	if (ctmp) {
		unlink(ctmp);
		free(ctmp);
	}
	BIO_free(kb);
	BIO_free(cb);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(kpath);
	free(cpath);
	return err;
}

/* The whole of a small file; *buf is wiped and freed by the caller. */
static mpc_err read_small(int fd, const char *path, char **buf, size_t *len) {
	struct stat st;
	size_t got = 0;
	if (fstat(fd, &st) != 0)
		return mpc_error(MPC_EIO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_PEM_BYTES)
		return mpc_error(MPC_ECONFIG, "%s: not a regular file of at most %d bytes", path,
		                 MAX_PEM_BYTES);
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mpc_error(MPC_EIO, "%s: cannot read: %s", path, strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
	return MPC_OK;
}

static void warn_dates(X509 *c, const char *cpath) {
	if (X509_cmp_current_time(X509_get0_notBefore(c)) > 0)
		mpc_warn("%s is not valid yet (is the clock right?)", cpath);
	else if (X509_cmp_current_time(X509_get0_notAfter(c)) < 0)
		mpc_warn("%s has expired: make a new key with keygen --force and give the partners "
		         "its fingerprint",
		         cpath);
}

mpc_err mpc_keys_load(const char *dir, EVP_PKEY **key, X509 **cert) {
	char *kpath = NULL, *cpath = NULL, *kbuf = NULL, *cbuf = NULL;
	size_t klen = 0, clen = 0;
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	BIO *b = NULL;
	struct stat st;
	mpc_err err = MPC_OK;
	int fd = -1;

	if (key == NULL || cert == NULL || dir == NULL)
		return mpc_error(MPC_EINVAL, "mpc_keys_load: missing argument");
	*key = NULL;
	*cert = NULL;
	if ((kpath = join_path(dir, "key.pem")) == NULL ||
	    (cpath = join_path(dir, "cert.pem")) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	if ((fd = open(kpath, O_RDONLY | O_CLOEXEC)) < 0) {
		err = mpc_error(MPC_EIO, "%s: %s (make one with mpc-party keygen --out %s)", kpath,
		                strerror(errno), dir);
		goto out;
	}
	/* checked on the open file: no race with a chmod or a swap */
	if (fstat(fd, &st) != 0) {
		err = mpc_error(MPC_EIO, "%s: %s", kpath, strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
		err = mpc_error(MPC_ECONFIG, "%s is open to others (mode %03o): chmod 600 %s",
		                kpath, (unsigned)(st.st_mode & 0777), kpath);
		goto out;
	}
	if ((err = read_small(fd, kpath, &kbuf, &klen)) != MPC_OK)
		goto out;
	if ((b = BIO_new_mem_buf(kbuf, (int)klen)) == NULL) {
		err = ossl_fail("out of memory");
		goto out;
	}
	if ((k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)) == NULL) {
		ERR_clear_error();
		err = mpc_error(MPC_ECONFIG, "%s is not a PEM private key without a passphrase",
		                kpath);
		goto out;
	}
	BIO_free(b);
	b = NULL;
	close(fd);
	if ((fd = open(cpath, O_RDONLY | O_CLOEXEC)) < 0) {
		err = mpc_error(
		    MPC_EIO, "%s: %s (key.pem and cert.pem are made together by mpc-party keygen)",
		    cpath, strerror(errno));
		goto out;
	}
	if ((err = read_small(fd, cpath, &cbuf, &clen)) != MPC_OK)
		goto out;
	if ((b = BIO_new_mem_buf(cbuf, (int)clen)) == NULL) {
		err = ossl_fail("out of memory");
		goto out;
	}
	if ((c = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) == NULL) {
		ERR_clear_error();
		err = mpc_error(MPC_ECONFIG, "%s is not a PEM certificate", cpath);
		goto out;
	}
	if (X509_check_private_key(c, k) != 1) {
		ERR_clear_error();
		err = mpc_error(MPC_ECONFIG,
		                "%s does not match %s: the pair was not made together (mpc-party "
		                "keygen makes both)",
		                kpath, cpath);
		goto out;
	}
	warn_dates(c, cpath);
	*key = k;
	*cert = c;
	k = NULL;
	c = NULL;
out:
	if (fd >= 0)
		close(fd);
	BIO_free(b);
	if (kbuf) {
		mpc_wipe(kbuf, klen);
		free(kbuf);
	}
	free(cbuf);
	EVP_PKEY_free(k);
	X509_free(c);
	free(kpath);
	free(cpath);
	return err;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

mpc_err mpc_fingerprint_parse(const char *s, uint8_t fp[32]) {
	static const char *const prefixes[] = {"sha256 fingerprint=", "sha256:"};
	uint8_t out[32];
	size_t digits = 0;

	if (s == NULL || fp == NULL)
		return mpc_error(MPC_EINVAL, "mpc_fingerprint_parse: missing argument");
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncasecmp(s, prefixes[i], n) == 0) {
			s += n;
			break;
		}
	}
	for (const char *p = s; *p; p++)
		digits += hexval(*p) >= 0;
	int colons = strchr(s, ':') != NULL;
	if (strlen(s) != (colons ? 95u : 64u))
		goto bad;
	for (int i = 0; i < 32; i++) {
		const char *p = s + (colons ? 3 * i : 2 * i);
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0 || (colons && i < 31 && p[2] != ':'))
			goto bad;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(fp, out, sizeof(out));
	return MPC_OK;
bad:
	return mpc_error(MPC_ECONFIG,
	                 "expected 64 hex digits (SHA-256), optionally with colons between pairs "
	                 "and a sha256: prefix (found %zu hex digits%s)",
	                 digits, colons ? " and colons" : "");
}
