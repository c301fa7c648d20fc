/* Keys and certificates on disk. */
#include "mpc_keys.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runtime/mpc_file.h"
#include "../runtime/mpc_wipe.h"
#include "mpc_tls.h"

static mpc_err pem_of(int is_key, void *obj, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ok = b && (is_key ? PEM_write_bio_PrivateKey(b, obj, NULL, NULL, 0, NULL, NULL)
			      : PEM_write_bio_X509(b, obj));
	if (!ok || (n = BIO_get_mem_data(b, &p)) <= 0 || (*out = malloc((size_t)n)) == NULL) {
		BIO_free(b);
		return mpc_error(MPC_ECRYPTO, "cannot encode the %s", is_key ? "key" : "certificate");
	}
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	if (is_key)
		mpc_wipe(p, (size_t)n);
	BIO_free(b);
	return MPC_OK;
}

mpc_err mpc_keys_generate(const char *dir, const char *name, int days, int force, uint8_t fp[32])
{
	char kpath[4096], cpath[4096];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	struct stat st;
	mpc_err err;

	if (snprintf(kpath, sizeof(kpath), "%s/key.pem", dir) >= (int)sizeof(kpath) ||
	    snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir) >= (int)sizeof(cpath))
		return mpc_error(MPC_EINVAL, "%s: path too long", dir);
	if (!force && stat(kpath, &st) == 0)
		return mpc_error(MPC_ECONFIG, "%s exists: keep it, or make a new one with --force "
				 "(then give the partners the new fingerprint)", kpath);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return mpc_error(MPC_EIO, "%s: cannot create: %s", dir, strerror(errno));
	if ((err = mpc_tls_selfsigned(name, days, &key, &cert)) != MPC_OK ||
	    (err = mpc_tls_fingerprint(cert, fp)) != MPC_OK ||
	    (err = pem_of(1, key, &kpem, &klen)) != MPC_OK ||
	    (err = pem_of(0, cert, &cpem, &clen)) != MPC_OK)
		goto out;
	/* the certificate first: a key without its certificate is useless */
	if ((err = mpc_file_write_atomic(cpath, cpem, clen, 0644)) == MPC_OK)
		err = mpc_file_write_atomic(kpath, kpem, klen, 0600);
out:
	if (kpem) {
		mpc_wipe(kpem, klen);
		free(kpem);
	}
	free(cpem);
	EVP_PKEY_free(key);
	X509_free(cert);
	return err;
}

mpc_err mpc_keys_load(const char *dir, EVP_PKEY **key, X509 **cert)
{
	char kpath[4096], cpath[4096];
	struct stat st;
	FILE *fp;

	*key = NULL;
	*cert = NULL;
	snprintf(kpath, sizeof(kpath), "%s/key.pem", dir);
	snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
	if (stat(kpath, &st) != 0)
		return mpc_error(MPC_EIO, "%s: %s (make one with mpc-party keygen --out %s)", kpath,
				 strerror(errno), dir);
	if (st.st_mode & 077)
		return mpc_error(MPC_ECONFIG, "%s is readable by others (mode %03o): chmod 600 %s",
				 kpath, (unsigned)(st.st_mode & 0777), kpath);
	if ((fp = fopen(kpath, "r")) == NULL)
		return mpc_error(MPC_EIO, "%s: %s", kpath, strerror(errno));
	*key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if ((fp = fopen(cpath, "r")) != NULL) {
		*cert = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	if (*key == NULL || *cert == NULL || X509_check_private_key(*cert, *key) != 1) {
		const char *why = *key == NULL ? "is not a PEM private key"
				  : *cert == NULL ? "has no readable certificate beside it (cert.pem)"
						  : "does not match cert.pem";
		EVP_PKEY_free(*key);
		X509_free(*cert);
		*key = NULL;
		*cert = NULL;
		return mpc_error(MPC_ECONFIG, "%s %s", kpath, why);
	}
	return MPC_OK;
}
