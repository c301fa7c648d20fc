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
#include "protocols/preproc/mpc_dealer.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"

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

/* One run's cluster, as the parent sees it. */
typedef struct {
	int nn;       /* nodes: parties, then the dealer */
	int forked;   /* children started (their pipes' read ends are open) */
	int open_fds; /* pipe read ends not yet at end of file */
	int out_pipe[MAX_NODES][2], st_pipe[MAX_NODES][2];
	int open_pipe[MAX_NODES][2]; /* [i][0]: output pipe open, [i][1]: status pipe */
	pid_t pid[MAX_NODES];
	size_t cap[MAX_NODES]; /* room in res[i].out */
	status_rec st[MAX_NODES];
	size_t st_got[MAX_NODES];
	uint8_t session[MPC_SESSION_BYTES];
	char **addrs, **names;
	local_tls *tls;
} cluster;

/* Every node's address (free tcp ports or ipc paths) and name. */
static mpc_err cluster_names(cluster *c, const mpc_local_config *cfg, unsigned counter) {
	int ports[MAX_NODES];
	mpc_err err;
	c->addrs = calloc((size_t)c->nn, sizeof(char *));
	c->names = calloc((size_t)c->nn, sizeof(char *));
	if (!c->addrs || !c->names)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if (cfg->use_tcp && (err = mpc_local_free_ports(ports, c->nn)) != MPC_OK)
		return err;
	for (int i = 0; i < c->nn; i++) {
		char buf[128];
		if (cfg->use_tcp)
			snprintf(buf, sizeof(buf), "tcp://127.0.0.1:%d", ports[i]);
		else
			snprintf(buf, sizeof(buf), "ipc:///tmp/mpc-local-%d-%u-%d", (int)getpid(),
			         counter, i);
		c->addrs[i] = strdup(buf);
		if (cfg->with_dealer && i == cfg->n_parties)
			snprintf(buf, sizeof(buf), "dealer");
		else
			snprintf(buf, sizeof(buf), "party %d", i);
		c->names[i] = strdup(buf);
		if (!c->addrs[i] || !c->names[i])
			return mpc_error(MPC_ENOMEM, "out of memory");
	}
	return MPC_OK;
}

/* An ephemeral key and certificate per node, and everyone's pins. */
static mpc_err cluster_tls(cluster *c) {
	mpc_err err;
	if ((c->tls = calloc(1, sizeof(*c->tls))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int i = 0; i < c->nn; i++)
		if ((err = mpc_tls_ephemeral(c->names[i], &c->tls->key[i], &c->tls->cert[i])) !=
		        MPC_OK ||
		    (err = mpc_tls_fingerprint(c->tls->cert[i], c->tls->pins[i])) != MPC_OK)
			return err;
	return MPC_OK;
}

/* A child per node, each with an output and a status pipe. On failure,
 * c->forked says how many run. */
static mpc_err cluster_fork(cluster *c, const mpc_local_config *cfg, mpc_local_fn fn, void *arg) {
	fflush(NULL);
	for (int i = 0; i < c->nn; i++) {
		if (pipe(c->out_pipe[i]) != 0 || pipe(c->st_pipe[i]) != 0)
			return mpc_error(MPC_EIO, "pipe: %s", strerror(errno));
		c->pid[i] = fork();
		if (c->pid[i] == 0) {
			/* the parent holds only read ends open (it closed the write
			 * ends of earlier children, and their numbers may be reused) */
			for (int j = 0; j <= i; j++) {
				close(c->out_pipe[j][0]);
				close(c->st_pipe[j][0]);
			}
			child(cfg, i, c->addrs, c->names, c->session, c->tls, fn, arg,
			      c->out_pipe[i][1], c->st_pipe[i][1]);
		}
		close(c->out_pipe[i][1]);
		close(c->st_pipe[i][1]);
		if (c->pid[i] < 0) {
			close(c->out_pipe[i][0]);
			close(c->st_pipe[i][0]);
			return mpc_error(MPC_EIO, "fork: %s", strerror(errno));
		}
		c->forked = i + 1;
	}
	return MPC_OK;
}

/* Read what is there on node i's output (w = 0) or status pipe (w = 1);
 * mark the pipe closed at end of file. MPC_ENOMEM. */
static mpc_err cluster_read(cluster *c, mpc_local_result *res, int fd, int i, int w) {
	ssize_t r;
	if (w == 0) {
		if (c->cap[i] - res[i].out_len < 65536) {
			size_t nc = c->cap[i] ? c->cap[i] * 2 : 1 << 16;
			uint8_t *nb = realloc(res[i].out, nc);
			if (nb == NULL)
				return mpc_error(MPC_ENOMEM, "out of memory");
			res[i].out = nb;
			c->cap[i] = nc;
		}
		r = read(fd, res[i].out + res[i].out_len, c->cap[i] - res[i].out_len);
		if (r > 0)
			res[i].out_len += (size_t)r;
	} else {
		uint8_t *dst = (uint8_t *)&c->st[i] + c->st_got[i];
		size_t room = sizeof(c->st[i]) - c->st_got[i];
		uint8_t sink[256];
		r = read(fd, room ? (void *)dst : sink, room ? room : sizeof(sink));
		if (r > 0 && room)
			c->st_got[i] += (size_t)r;
	}
	if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
		c->open_pipe[i][w] = 0;
		c->open_fds--;
	}
	return MPC_OK;
}

/* Read every child's pipes until all are closed, or the watchdog fires
 * (then every child is killed). */
static mpc_err cluster_collect(cluster *c, const mpc_local_config *cfg, mpc_local_result *res) {
	for (int i = 0; i < c->forked; i++)
		c->open_pipe[i][0] = c->open_pipe[i][1] = 1;
	c->open_fds = 2 * c->forked;
	double deadline = now() + (cfg->watchdog_s ? cfg->watchdog_s : 120);
	while (c->open_fds > 0) {
		struct pollfd pf[2 * MAX_NODES];
		int who[2 * MAX_NODES], k = 0;
		for (int i = 0; i < c->forked; i++)
			for (int w = 0; w < 2; w++)
				if (c->open_pipe[i][w]) {
					pf[k].fd = w ? c->st_pipe[i][0] : c->out_pipe[i][0];
					pf[k].events = POLLIN;
					who[k++] = i * 2 + w;
				}
		double left = deadline - now();
		if (left <= 0) {
			for (int i = 0; i < c->forked; i++)
				kill(c->pid[i], SIGKILL);
			return mpc_error(MPC_ETIMEDOUT,
			                 "mpc_local_run: watchdog fired; killing the "
			                 "cluster");
		}
		if (poll(pf, (nfds_t)k, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			return MPC_OK;
		for (int j = 0; j < k; j++) {
			mpc_err err;
			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if ((err = cluster_read(c, res, pf[j].fd, who[j] / 2, who[j] % 2)) !=
			    MPC_OK)
				return err;
		}
	}
	return MPC_OK;
}

/* Wait for every child and fill in its result from its status record. */
static void cluster_reap(cluster *c, const mpc_local_config *cfg, mpc_local_result *res) {
	for (int i = 0; i < c->forked; i++) {
		int status = 0;
		close(c->out_pipe[i][0]);
		close(c->st_pipe[i][0]);
		waitpid(c->pid[i], &status, 0);
		res[i].exited = WIFEXITED(status);
		res[i].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
		if (c->st_got[i] == sizeof(c->st[i])) {
			res[i].err = (mpc_err)c->st[i].err;
			memcpy(res[i].detail, c->st[i].detail, sizeof(res[i].detail));
			res[i].detail[sizeof(res[i].detail) - 1] = '\0';
			res[i].seconds = c->st[i].seconds;
			res[i].bytes_sent = c->st[i].bytes_sent;
			res[i].rounds = c->st[i].rounds;
		} else {
			res[i].err = MPC_ENET;
			snprintf(res[i].detail, sizeof(res[i].detail), "%s died without reporting",
			         c->names[i]);
		}
		if (!cfg->use_tcp && c->addrs && c->addrs[i])
			unlink(c->addrs[i] + strlen("ipc://"));
	}
}

static void cluster_free(cluster *c) {
	free_strings(c->addrs, c->nn);
	free_strings(c->names, c->nn);
	if (c->tls) {
		for (int i = 0; i < MAX_NODES; i++) {
			EVP_PKEY_free(c->tls->key[i]);
			X509_free(c->tls->cert[i]);
		}
		free(c->tls);
	}
	free(c);
}

mpc_err mpc_local_run(const mpc_local_config *cfg, mpc_local_fn fn, void *arg,
                      mpc_local_result *res) {
	static unsigned counter;
	int nn = cfg->n_parties + (cfg->with_dealer != 0);
	cluster *c;
	mpc_err err;

	if (cfg->n_parties < 2 || nn > MAX_NODES)
		return mpc_error(MPC_EINVAL, "mpc_local_run: %d parties", cfg->n_parties);
	memset(res, 0, (size_t)nn * sizeof(*res));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	c->nn = nn;
	if ((err = cluster_names(c, cfg, counter)) != MPC_OK)
		goto out;
	counter++;
	if (cfg->use_tls && (err = cluster_tls(c)) != MPC_OK)
		goto out;
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		c->session[i] = (uint8_t)(rand() ^ (int)getpid() ^ (int)counter * 131 ^ i * 7);
	if ((err = cluster_fork(c, cfg, fn, arg)) == MPC_OK)
		err = cluster_collect(c, cfg, res);
out:
	cluster_reap(c, cfg, res);
	cluster_free(c);
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
