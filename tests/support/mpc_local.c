/* Forked loopback clusters for tests and benchmarks. */
#include "tests/support/mpc_local.h"
#include "protocols/preproc/mpc_gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "net/mpc_tls.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"
#include "protocols/preproc/mpc_dealer.h"

#define MAX_NODES 17

static int emit_fd = -1;

/* Ephemeral TLS credentials of every node, made by the parent before forking
 * (each child uses its own key and everyone's pins). */
typedef struct {
	EVP_PKEY *key[MAX_NODES];
	X509 *cert[MAX_NODES];
	uint8_t pins[MAX_NODES][32];
} local_tls;

/* Status record a child writes on its status pipe before leaving. */
typedef struct {
	int32_t err;
	char detail[1024];
	double seconds;
	uint64_t bytes_sent, rounds;
} status_rec;

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

mpc_err mpc_local_emit(const void *buf, size_t len) {
	if (emit_fd < 0)
		return mpc_error(MPC_EINVAL, "mpc_local_emit outside a local cluster");
	if (mpc_file_write_fd_all(emit_fd, buf, len) != MPC_OK)
		return mpc_error(MPC_EIO, "mpc_local_emit: %s", strerror(errno));
	return MPC_OK;
}

mpc_err mpc_local_free_ports(int *ports, int n) {
	int fds[MAX_NODES];
	mpc_err err = MPC_OK;
	if (ports == NULL || n < 1 || n > MAX_NODES)
		return mpc_error(MPC_EINVAL, "mpc_local_free_ports: %d ports", n);
	for (int i = 0; i < n; i++)
		fds[i] = -1;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t l = sizeof(a);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(fds[i], (struct sockaddr *)&a, &l) != 0) {
			err = mpc_error(MPC_ENET, "no free loopback ports: %s", strerror(errno));
			goto out;
		}
		ports[i] = ntohs(a.sin_port);
	}
out:
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

static void child(const mpc_local_config *cfg, int id, char **addrs, char **names,
                  const uint8_t *session, const local_tls *tls, mpc_local_fn fn, void *arg,
                  int out_fd, int st_fd) {
	int nn = cfg->n_parties + (cfg->with_dealer != 0);
	int dealer = cfg->with_dealer ? cfg->n_parties : -1;
	status_rec st;
	mpc_net *net = NULL;
	mpc_party *p = NULL;
	mpc_err err;
	double t0;

	memset(&st, 0, sizeof(st));
	emit_fd = out_fd;
	mpc_log_init(names[id], getenv("MPC_LOCAL_LOG") ? MPC_LOG_DEBUG : MPC_LOG_ERROR, NULL);
	mpc_net_config nc = {
	    .id = id,
	    .n_nodes = nn,
	    .addrs = (const char *const *)addrs,
	    .names = (const char *const *)names,
	    .timeout_ms = cfg->timeout_ms,
	    .connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 10000,
	};
	memcpy(nc.session, session, MPC_SESSION_BYTES);
	mpc_net_tls nt;
	if (tls) {
		nt.key = tls->key[id];
		nt.cert = tls->cert[id];
		nt.pins = (const uint8_t(*)[32])tls->pins;
		nc.tls = &nt;
	}
	if ((err = mpc_net_open(&net, &nc)) != MPC_OK)
		goto out;
	t0 = now();
	if (id == dealer) {
		/* the dealer outlives a dead party only a little */
		int idle = cfg->timeout_ms > 0 ? 3 * cfg->timeout_ms : 90000;
		err = mpc_dealer_serve(net, cfg->n_parties, idle < 10000 ? 10000 : idle, NULL);
	} else {
		err = mpc_party_new(&p, net, cfg->n_parties);
		if (err == MPC_OK && dealer >= 0)
			err = mpc_dealer_connect(p, dealer);
		else if (err == MPC_OK && cfg->gen)
			err = mpc_gen_install(p, cfg->gen, 0);
		t0 = now();
		if (err == MPC_OK)
			err = fn(p, arg);
	}
	st.seconds = now() - t0;
	st.bytes_sent = mpc_net_bytes_sent(net);
	st.rounds = mpc_net_rounds(net);
out:
	st.err = err;
	if (err != MPC_OK)
		snprintf(st.detail, sizeof(st.detail), "%s", mpc_error_detail());
	mpc_party_free(p);
	if (net) {
		if (err == MPC_OK)
			mpc_net_close(net);
		else
			mpc_net_abort(net, err, st.detail);
	}
	/* nobody is left to tell if the parent's end is gone */
	(void)!mpc_file_write_fd_all(st_fd, &st, sizeof(st));
	_exit(err == MPC_OK ? 0 : 10 + (int)err);
}

static void free_strings(char **s, int n) {
	if (s)
		for (int i = 0; i < n; i++)
			free(s[i]);
	free(s);
}

mpc_err mpc_local_run(const mpc_local_config *cfg, mpc_local_fn fn, void *arg,
                      mpc_local_result *res) {
	int nn = cfg->n_parties + (cfg->with_dealer != 0);
	int out_pipe[MAX_NODES][2], st_pipe[MAX_NODES][2];
	pid_t pid[MAX_NODES];
	size_t cap[MAX_NODES] = {0};
	status_rec st[MAX_NODES];
	size_t st_got[MAX_NODES] = {0};
	int ports[MAX_NODES], open_fds = 0;
	uint8_t session[MPC_SESSION_BYTES];
	char **addrs = NULL, **names = NULL;
	local_tls *tls = NULL;
	mpc_err err = MPC_OK;
	static unsigned counter;

	if (cfg->n_parties < 2 || nn > MAX_NODES)
		return mpc_error(MPC_EINVAL, "mpc_local_run: %d parties", cfg->n_parties);
	memset(res, 0, (size_t)nn * sizeof(*res));
	memset(st, 0, sizeof(st));
	addrs = calloc((size_t)nn, sizeof(char *));
	names = calloc((size_t)nn, sizeof(char *));
	if (!addrs || !names) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		nn = 0;
		goto out;
	}
	if (cfg->use_tcp && (err = mpc_local_free_ports(ports, nn)) != MPC_OK) {
		nn = 0;
		goto out;
	}
	for (int i = 0; i < nn; i++) {
		char buf[128];
		if (cfg->use_tcp)
			snprintf(buf, sizeof(buf), "tcp://127.0.0.1:%d", ports[i]);
		else
			snprintf(buf, sizeof(buf), "ipc:///tmp/mpc-local-%d-%u-%d", (int)getpid(),
			         counter, i);
		addrs[i] = strdup(buf);
		if (cfg->with_dealer && i == cfg->n_parties)
			snprintf(buf, sizeof(buf), "dealer");
		else
			snprintf(buf, sizeof(buf), "party %d", i);
		names[i] = strdup(buf);
		if (!addrs[i] || !names[i]) {
			err = mpc_error(MPC_ENOMEM, "out of memory");
			nn = 0;
			goto out;
		}
	}
	counter++;
	if (cfg->use_tls) {
		if ((tls = calloc(1, sizeof(*tls))) == NULL) {
			err = mpc_error(MPC_ENOMEM, "out of memory");
			nn = 0;
			goto out;
		}
		for (int i = 0; i < nn; i++)
			if ((err = mpc_tls_ephemeral(names[i], &tls->key[i], &tls->cert[i])) !=
			        MPC_OK ||
			    (err = mpc_tls_fingerprint(tls->cert[i], tls->pins[i])) != MPC_OK) {
				nn = 0; /* no children yet */
				goto out;
			}
	}
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		session[i] = (uint8_t)(rand() ^ (int)getpid() ^ (int)counter * 131 ^ i * 7);
	fflush(NULL);
	for (int i = 0; i < nn; i++) {
		if (pipe(out_pipe[i]) != 0 || pipe(st_pipe[i]) != 0) {
			err = mpc_error(MPC_EIO, "pipe: %s", strerror(errno));
			nn = i; /* only the ones before have children */
			goto out;
		}
		pid[i] = fork();
		if (pid[i] == 0) {
			/* the parent holds only read ends open (it closed the write
			 * ends of earlier children, and their numbers may be reused) */
			for (int j = 0; j <= i; j++) {
				close(out_pipe[j][0]);
				close(st_pipe[j][0]);
			}
			child(cfg, i, addrs, names, session, tls, fn, arg, out_pipe[i][1],
			      st_pipe[i][1]);
		}
		close(out_pipe[i][1]);
		close(st_pipe[i][1]);
		if (pid[i] < 0) {
			err = mpc_error(MPC_EIO, "fork: %s", strerror(errno));
			close(out_pipe[i][0]);
			close(st_pipe[i][0]);
			nn = i;
			goto out;
		}
	}
	/* Read every child's pipes until all are closed, or the watchdog fires. */
	int open_pipe[MAX_NODES][2];
	for (int i = 0; i < nn; i++)
		open_pipe[i][0] = open_pipe[i][1] = 1;
	open_fds = 2 * nn;
	double deadline = now() + (cfg->watchdog_s ? cfg->watchdog_s : 120);
	while (open_fds > 0) {
		struct pollfd pf[2 * MAX_NODES];
		int who[2 * MAX_NODES], k = 0;
		for (int i = 0; i < nn; i++)
			for (int w = 0; w < 2; w++)
				if (open_pipe[i][w]) {
					pf[k].fd = w ? st_pipe[i][0] : out_pipe[i][0];
					pf[k].events = POLLIN;
					who[k++] = i * 2 + w;
				}
		double left = deadline - now();
		if (left <= 0) {
			err = mpc_error(MPC_ETIMEDOUT, "mpc_local_run: watchdog fired; killing the "
			                               "cluster");
			for (int i = 0; i < nn; i++)
				kill(pid[i], SIGKILL);
			break;
		}
		if (poll(pf, (nfds_t)k, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		for (int j = 0; j < k; j++) {
			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int i = who[j] / 2, w = who[j] % 2;
			ssize_t r;
			if (w == 0) {
				if (cap[i] - res[i].out_len < 65536) {
					size_t nc = cap[i] ? cap[i] * 2 : 1 << 16;
					uint8_t *nb = realloc(res[i].out, nc);
					if (nb == NULL) {
						err = mpc_error(MPC_ENOMEM, "out of memory");
						break;
					}
					res[i].out = nb;
					cap[i] = nc;
				}
				r = read(pf[j].fd, res[i].out + res[i].out_len,
				         cap[i] - res[i].out_len);
				if (r > 0)
					res[i].out_len += (size_t)r;
			} else {
				uint8_t *dst = (uint8_t *)&st[i] + st_got[i];
				size_t room = sizeof(st[i]) - st_got[i];
				uint8_t sink[256];
				r = read(pf[j].fd, room ? (void *)dst : sink,
				         room ? room : sizeof(sink));
				if (r > 0 && room)
					st_got[i] += (size_t)r;
			}
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				open_pipe[i][w] = 0;
				open_fds--;
			}
		}
		if (err == MPC_ENOMEM)
			break;
	}
out:
	for (int i = 0; i < nn; i++) {
		int status = 0;
		if (open_fds > 0) {
			close(out_pipe[i][0]);
			close(st_pipe[i][0]);
		} else {
			close(out_pipe[i][0]);
			close(st_pipe[i][0]);
		}
		waitpid(pid[i], &status, 0);
		res[i].exited = WIFEXITED(status);
		res[i].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
		if (st_got[i] == sizeof(st[i])) {
			res[i].err = (mpc_err)st[i].err;
			memcpy(res[i].detail, st[i].detail, sizeof(res[i].detail));
			res[i].detail[sizeof(res[i].detail) - 1] = '\0';
			res[i].seconds = st[i].seconds;
			res[i].bytes_sent = st[i].bytes_sent;
			res[i].rounds = st[i].rounds;
		} else {
			res[i].err = MPC_ENET;
			snprintf(res[i].detail, sizeof(res[i].detail), "%s died without reporting",
			         names[i]);
		}
		if (!cfg->use_tcp && addrs && addrs[i])
			unlink(addrs[i] + strlen("ipc://"));
	}
	free_strings(addrs, cfg->n_parties + (cfg->with_dealer != 0));
	free_strings(names, cfg->n_parties + (cfg->with_dealer != 0));
	if (tls) {
		for (int i = 0; i < MAX_NODES; i++) {
			EVP_PKEY_free(tls->key[i]);
			X509_free(tls->cert[i]);
		}
		free(tls);
	}
	return err;
}

void mpc_local_results_fini(mpc_local_result *res, int n) {
	for (int i = 0; i < n; i++) {
		free(res[i].out);
		res[i].out = NULL;
	}
}

mpc_err mpc_local_reconstruct(const mpc_local_result *res, int n_parties, mpc_ring r, void *out,
                              size_t n) {
	size_t bytes = n * mpc_ring_bytes(r);
	if (bytes)
		memset(out, 0, bytes);
	for (int i = 0; i < n_parties; i++) {
		if (res[i].out_len != bytes)
			return mpc_error(MPC_EPROTO, "party %d emitted %zu bytes, expected %zu", i,
			                 res[i].out_len, bytes);
		if (bytes == 0)
			continue;
		/* emitted bytes need not be aligned for the ring's element type */
		void *tmp = malloc(bytes ? bytes : 1);
		if (tmp == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
		memcpy(tmp, res[i].out, bytes);
		mpc_ring_add(r, out, out, tmp, n);
		free(tmp);
	}
	return MPC_OK;
}
