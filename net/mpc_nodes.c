/* Node lists and session ids. */
#include "net/mpc_nodes.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mpc_err alloc_nodes(mpc_nodes *out, int n) {
	out->n = n;
	out->addrs = calloc((size_t)n, sizeof(char *));
	out->names = calloc((size_t)n, sizeof(char *));
	if (out->addrs == NULL || out->names == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	return MPC_OK;
}

static mpc_err name_nodes(mpc_nodes *out) {
	char buf[32];
	for (int i = 0; i < out->n; i++) {
		if (i == out->dealer)
			snprintf(buf, sizeof(buf), "dealer");
		else
			snprintf(buf, sizeof(buf), "party %d", i);
		if ((out->names[i] = strdup(buf)) == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
	}
	return MPC_OK;
}

static int valid_url(const char *s) {
	if (strncmp(s, "ipc://", 6) == 0)
		return s[6] != '\0';
	if (strncmp(s, "tcp://", 6) != 0)
		return 0;
	const char *colon = strrchr(s + 6, ':');
	if (colon == NULL || colon == s + 6 || colon[1] == '\0')
		return 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

mpc_err mpc_nodes_parse(mpc_nodes *out, const char *list, int with_dealer) {
	mpc_err err;
	int n = 1;

	memset(out, 0, sizeof(*out));
	out->dealer = -1;
	if (list == NULL || *list == '\0')
		return mpc_error(MPC_ECONFIG, "no node addresses given");
	for (const char *c = list; *c; c++)
		n += *c == ',';
	if (n - (with_dealer != 0) < 2 || n > MPC_NET_MAX_NODES)
		return mpc_error(MPC_ECONFIG, "%d addresses given: need 2 to %d parties%s", n,
		                 MPC_NET_MAX_NODES - 1, with_dealer ? " plus the dealer's" : "");
	if ((err = alloc_nodes(out, n)) != MPC_OK)
		goto fail;
	const char *s = list;
	for (int i = 0; i < n; i++) {
		size_t len = strcspn(s, ",");
		if ((out->addrs[i] = strndup(s, len)) == NULL) {
			err = mpc_error(MPC_ENOMEM, "out of memory");
			goto fail;
		}
		if (!valid_url(out->addrs[i])) {
			err = mpc_error(MPC_ECONFIG,
			                "address %d ('%s') is not tcp://HOST:PORT or "
			                "ipc:///PATH",
			                i + 1, out->addrs[i]);
			goto fail;
		}
		s += len + (s[len] == ',');
	}
	out->n_parties = with_dealer ? n - 1 : n;
	out->dealer = with_dealer ? n - 1 : -1;
	if ((err = name_nodes(out)) != MPC_OK)
		goto fail;
	return MPC_OK;
fail:
	mpc_nodes_fini(out);
	return err;
}

mpc_err mpc_nodes_loopback(mpc_nodes *out, int n_parties, int with_dealer, int base_port) {
	int n = n_parties + (with_dealer != 0);
	mpc_err err;

	memset(out, 0, sizeof(*out));
	out->dealer = -1;
	if (n_parties < 2 || n > MPC_NET_MAX_NODES || base_port <= 0 || base_port + n > 65535)
		return mpc_error(MPC_ECONFIG, "%d parties from port %d: out of range", n_parties,
		                 base_port);
	if ((err = alloc_nodes(out, n)) != MPC_OK)
		goto fail;
	for (int i = 0; i < n; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "tcp://127.0.0.1:%d", base_port + i);
		if ((out->addrs[i] = strdup(buf)) == NULL) {
			err = mpc_error(MPC_ENOMEM, "out of memory");
			goto fail;
		}
	}
	out->n_parties = n_parties;
	out->dealer = with_dealer ? n - 1 : -1;
	if ((err = name_nodes(out)) != MPC_OK)
		goto fail;
	return MPC_OK;
fail:
	mpc_nodes_fini(out);
	return err;
}

void mpc_nodes_fini(mpc_nodes *nodes) {
	for (int i = 0; i < nodes->n; i++) {
		if (nodes->addrs)
			free(nodes->addrs[i]);
		if (nodes->names)
			free(nodes->names[i]);
	}
	free(nodes->addrs);
	free(nodes->names);
	memset(nodes, 0, sizeof(*nodes));
	nodes->dealer = -1;
}

mpc_err mpc_session_derive(uint8_t out[MPC_SESSION_BYTES], const char *job) {
	static const char tag[] = "mpc session v1";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	         EVP_DigestUpdate(ctx, tag, sizeof(tag)) &&
	         EVP_DigestUpdate(ctx, job, strlen(job)) && EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	if (!ok || len < MPC_SESSION_BYTES)
		return mpc_error(MPC_ECRYPTO, "SHA-256 failed");
	memcpy(out, md, MPC_SESSION_BYTES);
	return MPC_OK;
}
