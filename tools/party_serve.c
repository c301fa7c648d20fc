/* mpc-party run --serve SOCKET: a kind's standing service for a node (see
 * mpc_kind_service in jobs/mpc_kind.h). The asker's side listens on a Unix
 * socket (mode 0600, in the node's job folder) for its node's batches; the
 * model owner's side takes each batch from its quota journal.
 *
 * Frames on the socket, in this machine's byte order:
 *   request  u32 n (1..4096; 0xffffffff: end the service), u32 d, n*d doubles
 *   answer   u32 status (0 scored, 1 refused by the owner's quota), u32 n,
 *            u32 text length, the refusal's text, then if scored n doubles
 *            (scores) and n bytes (flags) */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jobs/kind_score.h"
#include "node/mpc_policy.h"
#include "node/mpc_quota.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"
#include "tools/party.h"

#define SERVE_END      0xffffffffu
#define SERVE_MAX_ROWS 4096u
#define SERVE_IO_MS    5000 /* a frame, once begun, arrives within this */

static mpc_err read_full(int fd, void *buf, size_t len) {
	size_t got = 0;
	while (got < len) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int r = poll(&pf, 1, SERVE_IO_MS);
		if (r < 0 && errno == EINTR && !mpc_net_stop_signal())
			continue;
		if (r <= 0)
			return mpc_error(r == 0 ? MPC_ETIMEDOUT : MPC_ESTOPPED,
			                 "the node's request stopped half-way");
		ssize_t k = read(fd, (char *)buf + got, len - got);
		if (k <= 0)
			return mpc_error(MPC_ECLOSED, "the node closed the service socket");
		got += (size_t)k;
	}
	return MPC_OK;
}

/* Wait up to ms (-1: forever) for fd to be readable: 1, 0 on timeout;
 * MPC_ESTOPPED on SIGTERM. */
static mpc_err wait_readable(int fd, int ms, int *ready) {
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	int r = poll(&pf, 1, ms);
	if (r < 0 && errno == EINTR && mpc_net_stop_signal())
		return mpc_error(MPC_ESTOPPED, "stopped by signal %d", mpc_net_stop_signal());
	*ready = r > 0;
	return MPC_OK;
}

static mpc_err svc_next(void *arg, const double **x, size_t *n, int idle_ms) {
	party_service *ps = arg;
	int ready = 0;
	mpc_err err;
	*n = 0;
	*x = NULL;
	while (ps->cfd < 0) { /* the node (re)connects */
		if ((err = wait_readable(ps->lfd, idle_ms, &ready)) != MPC_OK || !ready)
			return err;
		ps->cfd = accept4(ps->lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	if ((err = wait_readable(ps->cfd, idle_ms, &ready)) != MPC_OK || !ready)
		return err;
	uint32_t hd[2];
	if ((err = read_full(ps->cfd, hd, sizeof(hd))) != MPC_OK) {
		close(ps->cfd); /* a node that went away: wait for the next */
		ps->cfd = -1;
		return err == MPC_ESTOPPED ? err : MPC_OK;
	}
	if (hd[0] == SERVE_END)
		return MPC_ECLOSED;
	if (hd[0] == 0 || hd[0] > SERVE_MAX_ROWS || hd[1] != ps->d)
		return mpc_error(MPC_EINVAL,
		                 "the node sent a batch of %u rows of %u features (job: %zu)",
		                 hd[0], hd[1], ps->d);
	size_t bytes = (size_t)hd[0] * ps->d * sizeof(double);
	if ((err = read_full(ps->cfd, ps->x, bytes)) != MPC_OK)
		return err;
	*x = ps->x;
	*n = hd[0];
	ps->last_n = hd[0];
	return MPC_OK;
}

static mpc_err svc_reply(void *arg, const double *score, const uint8_t *flag, size_t n,
                         const char *refusal) {
	party_service *ps = arg;
	uint32_t hd[3] = {refusal ? 1u : 0u, (uint32_t)n, refusal ? (uint32_t)strlen(refusal) : 0};
	mpc_err err = mpc_file_write_fd_all(ps->cfd, hd, sizeof(hd));
	if (err == MPC_OK && refusal)
		err = mpc_file_write_fd_all(ps->cfd, refusal, hd[2]);
	if (err == MPC_OK && !refusal &&
	    (err = mpc_file_write_fd_all(ps->cfd, score, n * sizeof(double))) == MPC_OK)
		err = mpc_file_write_fd_all(ps->cfd, flag, n);
	mpc_wipe(ps->x, (size_t)ps->last_n * ps->d * sizeof(double));
	if (err != MPC_OK) { /* the node went away: the next one gets a fresh socket */
		close(ps->cfd);
		ps->cfd = -1;
	}
	return MPC_OK;
}

static mpc_err svc_admit(void *arg, const char *asker, uint64_t n) {
	party_service *ps = arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mpc_quota_take(ps->quota, ps->policy, ps->computation, asker, n,
	                      (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static mpc_err listen_on(party_service *ps, const char *path) {
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path))
		return mpc_error(MPC_ECONFIG, "--serve %s: longer than %zu characters", path,
		                 sizeof(a.sun_path) - 1);
	strcpy(a.sun_path, path);
	unlink(path);
	ps->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(077);
	int ok = ps->lfd >= 0 && bind(ps->lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	         listen(ps->lfd, 4) == 0;
	umask(old);
	if (!ok)
		return mpc_error(MPC_ECONFIG, "--serve %s: cannot listen: %s", path,
		                 strerror(errno));
	return MPC_OK;
}

static uint64_t stock_rows(void *arg, const mpc_pool_plan *one) {
	(void)arg;
	return party_stock_rows(one);
}

static mpc_err stock_make(void *arg, mpc_party *p, const mpc_pool_plan *plan) {
	(void)arg;
	return party_stock_make(p, plan);
}

static void stock_report(void *arg, mpc_party *p, const mpc_pool_plan *one) {
	(void)arg;
	party_stock_report(p, one);
}

mpc_err party_service_open(const opts *o, const conn *c, void *kind_state, party_service *ps,
                           mpc_kind_service *svc) {
	const mpc_score_job *sc = mpc_score_job_of(kind_state);
	mpc_err err;
	*ps = (party_service){.lfd = -1, .cfd = -1, .d = sc->d};
	*svc = (mpc_kind_service){.arg = ps, .stock = o->stock, .window = o->window};
	if (o->store) { /* the stock in the store (tools/party_preprocess.c) */
		svc->stock_rows = stock_rows;
		svc->stock_make = stock_make;
		svc->stock_report = stock_report;
	}
	snprintf(ps->computation, sizeof(ps->computation), "%s", c->job->computation);
	if (c->self == sc->asker) {
		if ((ps->x = calloc((size_t)SERVE_MAX_ROWS * sc->d, sizeof(double))) == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
		svc->next = svc_next;
		svc->reply = svc_reply;
		return listen_on(ps, o->serve);
	}
	if (c->self != sc->owner || o->policy == NULL)
		return MPC_OK;
	if (o->quota == NULL)
		return mpc_error(MPC_ECONFIG, "--policy needs --quota FILE (the quota journal)");
	if ((err = mpc_policy_load(o->policy, &ps->policy)) != MPC_OK ||
	    (err = mpc_quota_open(o->quota, &ps->quota)) != MPC_OK)
		return err;
	svc->admit = svc_admit;
	return MPC_OK;
}

void party_service_close(party_service *ps, const opts *o) {
	if (ps->x)
		mpc_wipe_free(ps->x, (size_t)SERVE_MAX_ROWS * ps->d * sizeof(double));
	if (ps->cfd >= 0)
		close(ps->cfd);
	if (ps->lfd >= 0) {
		close(ps->lfd);
		unlink(o->serve);
	}
	mpc_quota_close(ps->quota);
	mpc_policy_free(ps->policy);
	memset(ps, 0, sizeof(*ps));
	ps->lfd = ps->cfd = -1;
}
