/* Plans by simulation: every party of a job run in its own process on this
 * machine against a counting backend (mpc_plan.h). */
#include "protocols/preproc/mpc_plan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/mpc_net.h"
#include "protocols/core/mpc_party.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"

/* ------------------------------------------------------------ zero backend */

static mpc_err zero_triples(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
                            void *c) {
	(void)ctx, (void)p;
	size_t bytes = n * mpc_ring_bytes(r);
	memset(a, 0, bytes);
	memset(b, 0, bytes);
	memset(c, 0, bytes);
	return MPC_OK;
}

static mpc_err zero_trunc(void *ctx, mpc_party *p, mpc_ring r, unsigned f, size_t n, void *rr,
                          void *r_hi) {
	(void)ctx, (void)p, (void)f;
	memset(rr, 0, n * mpc_ring_bytes(r));
	memset(r_hi, 0, n * mpc_ring_bytes(r));
	return MPC_OK;
}

static mpc_err zero_bits(void *ctx, mpc_party *p, mpc_ring r, size_t n, void *out) {
	(void)ctx, (void)p;
	memset(out, 0, n * mpc_ring_bytes(r));
	return MPC_OK;
}

static mpc_err zero_bit_triples(void *ctx, mpc_party *p, size_t n, uint64_t *a, uint64_t *b,
                                uint64_t *c) {
	(void)ctx, (void)p;
	memset(a, 0, n * 8);
	memset(b, 0, n * 8);
	memset(c, 0, n * 8);
	return MPC_OK;
}

static void zero_free(void *ctx) {
	(void)ctx;
}

static const mpc_preproc_ops zero_ops = {
    .name = "plan (zeros)",
    .triples = zero_triples,
    .trunc_pairs = zero_trunc,
    .bits = zero_bits,
    .bit_triples = zero_bit_triples,
    .free = zero_free,
};

mpc_preproc mpc_plan_zero_backend(void) {
	return (mpc_preproc){.ops = &zero_ops, .ctx = NULL};
}

static mpc_err zero_cross_fn(void *ctx, mpc_party *p, mpc_ring r, unsigned xbits, size_t n,
                             const void *x, const void *y, void *out, uint64_t recv_mask,
                             uint64_t send_mask) {
	(void)ctx, (void)p, (void)xbits, (void)x, (void)y, (void)recv_mask, (void)send_mask;
	memset(out, 0, n * mpc_ring_bytes(r));
	return MPC_OK;
}

static mpc_err zero_cross_bits(void *ctx, mpc_party *p, size_t n_words, const uint64_t *x,
                               const uint64_t *y, uint64_t *out, uint64_t recv_mask,
                               uint64_t send_mask) {
	(void)ctx, (void)p, (void)x, (void)y, (void)recv_mask, (void)send_mask;
	memset(out, 0, n_words * 8);
	return MPC_OK;
}

static double zero_bytes(void *ctx, int n_parties, mpc_ring r, unsigned xbits) {
	(void)ctx, (void)n_parties, (void)r, (void)xbits;
	return 0;
}

static const mpc_cross_ops zero_cross_ops = {
    .name = "plan (zeros)",
    .cross = zero_cross_fn,
    .cross_bits = zero_cross_bits,
    .bytes_per_elem = zero_bytes,
    .free = zero_free,
};

mpc_cross mpc_plan_zero_cross(void) {
	return (mpc_cross){.ops = &zero_cross_ops, .ctx = NULL};
}

/* ------------------------------------------------------------- simulation */

/* What a child sends its parent: its error code, then the plan or the
 * error's detail. */
typedef struct {
	int32_t err;
	int32_t zero;
	mpc_pool_plan plan;
	char detail[512];
} child_report;

static void child_run(int id, int n, char addrs[][96], const uint8_t session[16], mpc_plan_fn fn,
                      void *arg, int fd) {
	child_report rep;
	const char *ap[MPC_NET_MAX_NODES];
	mpc_net *net = NULL;
	mpc_party *p = NULL;
	mpc_preproc pool;
	mpc_err err;

	memset(&rep, 0, sizeof(rep));
	for (int i = 0; i < n; i++)
		ap[i] = addrs[i];
	/* the simulation's own chatter (the computation's info lines) is not
	 * the job's: only warnings and errors show */
	mpc_log_init("plan", MPC_LOG_WARN, NULL);
	mpc_net_config cfg = {
	    .id = id, .n_nodes = n, .addrs = ap, .timeout_ms = 60000, .connect_timeout_ms = 20000};
	memcpy(cfg.session, session, MPC_SESSION_BYTES);
	mpc_cross zc = mpc_plan_zero_cross();
	if ((err = mpc_net_open(&net, &cfg)) == MPC_OK &&
	    (err = mpc_party_new(&p, net, n)) == MPC_OK &&
	    (err = mpc_pool_new(&pool, mpc_plan_zero_backend())) == MPC_OK) {
		mpc_party_set_preproc(p, pool);
		if ((err = fn(p, &zc, arg)) == MPC_OK)
			err = mpc_pool_plan_get(mpc_party_preproc(p), &rep.plan);
	}
	rep.err = (int32_t)err;
	if (err != MPC_OK)
		snprintf(rep.detail, sizeof(rep.detail), "%s", mpc_error_detail());
	mpc_party_free(p);
	if (err != MPC_OK && net)
		mpc_net_abort(net, err, rep.detail);
	else
		mpc_net_close(net);
	int sent = mpc_file_write_fd_all(fd, &rep, sizeof(rep)) == MPC_OK;
	close(fd);
	_exit(err == MPC_OK && sent ? 0 : 1);
}

mpc_err mpc_plan_simulate(int n, mpc_plan_fn fn, void *arg, mpc_pool_plan *out) {
	char dir[] = "/tmp/mpc-plan-XXXXXX";
	char(*addrs)[96] = NULL;
	pid_t pids[MPC_NET_MAX_NODES];
	int fds[MPC_NET_MAX_NODES], started = 0;
	uint8_t session[MPC_SESSION_BYTES];
	child_report *rep = NULL;
	mpc_err err = MPC_OK;

	*out = (mpc_pool_plan){0};
	if (n < 2 || n > MPC_NET_MAX_NODES)
		return mpc_error(MPC_EINVAL, "plan: %d parties", n);
	if (mkdtemp(dir) == NULL)
		return mpc_error(MPC_EIO, "plan: cannot make a temporary directory in /tmp: %s",
		                 strerror(errno));
	if ((addrs = calloc((size_t)n, sizeof(*addrs))) == NULL ||
	    (rep = calloc((size_t)n, sizeof(*rep))) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	/* the session only has to differ from other simulations' */
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		session[i] = (uint8_t)(getpid() >> (8 * (i % 4))) ^ (uint8_t)i;
	for (int i = 0; i < n; i++)
		snprintf(addrs[i], sizeof(addrs[i]), "ipc://%s/%d", dir, i);
	fflush(stdout);
	fflush(stderr);
	for (; started < n; started++) {
		int pfd[2];
		if (pipe(pfd) != 0) {
			err = mpc_error(MPC_EIO, "plan: cannot make a pipe: %s", strerror(errno));
			break;
		}
		pid_t pid = fork();
		if (pid < 0) {
			close(pfd[0]);
			close(pfd[1]);
			err =
			    mpc_error(MPC_EIO, "plan: cannot start a process: %s", strerror(errno));
			break;
		}
		if (pid == 0) {
			close(pfd[0]);
			for (int k = 0; k < started; k++)
				close(fds[k]);
			child_run(started, n, addrs, session, fn, arg, pfd[1]);
		}
		close(pfd[1]);
		pids[started] = pid;
		fds[started] = pfd[0];
	}
	if (err != MPC_OK)
		for (int i = 0; i < started; i++)
			kill(pids[i], SIGTERM);
	int bad = -1;
	for (int i = 0; i < started; i++) {
		if (mpc_file_read_fd_all(fds[i], &rep[i], sizeof(rep[i])) != MPC_OK &&
		    err == MPC_OK)
			err = mpc_error(MPC_EIO,
			                "plan: simulated party %d stopped without a result", i);
		close(fds[i]);
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
		if (err == MPC_OK && rep[i].err != MPC_OK && bad < 0)
			bad = i;
	}
	if (err == MPC_OK && bad >= 0) {
		/* the party that failed first names the cause; the others say who
		 * aborted: prefer a report that is not a peer's abort */
		for (int i = 0; i < n; i++)
			if (rep[i].err != MPC_OK && rep[i].err != MPC_EPEER) {
				bad = i;
				break;
			}
		rep[bad].detail[sizeof(rep[bad].detail) - 1] = '\0';
		err = mpc_error((mpc_err)rep[bad].err,
		                "counting the material (simulated party %d): %s", bad,
		                rep[bad].detail);
	}
	if (err == MPC_OK) {
		for (int i = 1; i < n && err == MPC_OK; i++)
			if (!mpc_plan_equal(&rep[0].plan, &rep[i].plan))
				err = mpc_error(MPC_EINVAL,
				                "plan: party %d asked for other material "
				                "than party 0 (%s:%d)",
				                i, __FILE__, __LINE__);
		if (err == MPC_OK)
			*out = rep[0].plan;
	}
out:
	for (int i = 0; addrs && i < n; i++)
		unlink(addrs[i] + 6);
	rmdir(dir);
	free(addrs);
	free(rep);
	return err;
}

/* ------------------------------------------------------ planner started ahead */

mpc_err mpc_plan_ahead_start(mpc_plan_ahead *h, int n_parties, mpc_plan_fn fn, void *arg,
                             uint64_t *slot) {
	int to[2], from[2];
	*h = (mpc_plan_ahead){.pid = -1, .to = -1, .from = -1};
	if (pipe(to) != 0)
		return mpc_error(MPC_EIO, "plan: cannot make a pipe: %s", strerror(errno));
	if (pipe(from) != 0) {
		close(to[0]);
		close(to[1]);
		return mpc_error(MPC_EIO, "plan: cannot make a pipe: %s", strerror(errno));
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(to[0]), close(to[1]), close(from[0]), close(from[1]);
		return mpc_error(MPC_EIO, "plan: cannot start a process: %s", strerror(errno));
	}
	if (pid == 0) {
		child_report rep;
		uint64_t v;
		close(to[1]);
		close(from[0]);
		memset(&rep, 0, sizeof(rep));
		if (mpc_file_read_fd_all(to[0], &v, sizeof(v)) != MPC_OK) /* cancelled */
			_exit(0);
		if (slot)
			*slot = v;
		mpc_err err = mpc_plan_simulate(n_parties, fn, arg, &rep.plan);
		rep.err = (int32_t)err;
		if (err != MPC_OK)
			snprintf(rep.detail, sizeof(rep.detail), "%s", mpc_error_detail());
		_exit(mpc_file_write_fd_all(from[1], &rep, sizeof(rep)) == MPC_OK ? 0 : 1);
	}
	close(to[0]);
	close(from[1]);
	*h = (mpc_plan_ahead){.pid = pid, .to = to[1], .from = from[0]};
	return MPC_OK;
}

static void ahead_end(mpc_plan_ahead *h) {
	if (h->to >= 0)
		close(h->to);
	if (h->from >= 0)
		close(h->from);
	if (h->pid > 0)
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	*h = (mpc_plan_ahead){.pid = -1, .to = -1, .from = -1};
}

mpc_err mpc_plan_ahead_get(mpc_plan_ahead *h, uint64_t value, mpc_pool_plan *out) {
	child_report rep;
	mpc_err err = MPC_OK;

	*out = (mpc_pool_plan){0};
	if (h->pid <= 0)
		return mpc_error(MPC_EINVAL, "plan: no planner started (%s:%d)", __FILE__,
		                 __LINE__);
	if (mpc_file_write_fd_all(h->to, &value, sizeof(value)) != MPC_OK ||
	    mpc_file_read_fd_all(h->from, &rep, sizeof(rep)) != MPC_OK)
		err = mpc_error(MPC_EIO, "plan: the planner process stopped without a result");
	else if (rep.err != MPC_OK) {
		rep.detail[sizeof(rep.detail) - 1] = '\0';
		err = mpc_error((mpc_err)rep.err, "%s", rep.detail);
	} else
		*out = rep.plan;
	ahead_end(h);
	return err;
}

void mpc_plan_ahead_cancel(mpc_plan_ahead *h) {
	if (h && h->pid > 0)
		ahead_end(h);
}

/* ---------------------------------------------------------------- printing */

static size_t put_count(char *buf, size_t len, uint64_t v) {
	char digits[32], out[48];
	int nd = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v), k = 0;
	for (int i = 0; i < nd; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			out[k++] = ',';
		out[k++] = digits[i];
	}
	out[k] = '\0';
	int w = snprintf(buf, len, "%s", out);
	return w < 0 ? 0 : (size_t)w;
}

const char *mpc_plan_format(const mpc_pool_plan *pl, char *buf, size_t len) {
	size_t at = 0;
	int items = 0;
	char what[64];

#define ADD(v, ...)                                                                                \
	do {                                                                                       \
		if ((v) == 0 || at >= len)                                                         \
			break;                                                                     \
		if (items++)                                                                       \
			at += (size_t)snprintf(buf + at, len - at, ", ");                          \
		if (at < len)                                                                      \
			at += put_count(buf + at, len - at, (v));                                  \
		snprintf(what, sizeof(what), __VA_ARGS__);                                         \
		if (at < len)                                                                      \
			at += (size_t)snprintf(buf + at, len - at, " %s", what);                   \
	} while (0)

	if (len == 0)
		return buf;
	buf[0] = '\0';
	ADD(pl->triples[0], "triples Z_2^64");
	ADD(pl->triples[1], "triples Z_2^128");
	for (uint32_t i = 0; i < pl->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		ADD(pl->trunc[i].n, "truncation pairs Z_2^%u f=%u", pl->trunc[i].ring_bits,
		    pl->trunc[i].f);
	ADD(pl->bits[0], "bits Z_2^64");
	ADD(pl->bits[1], "bits Z_2^128");
	ADD(pl->bit_triple_words, "bit-triple words");
#undef ADD
	if (items == 0)
		snprintf(buf, len, "nothing");
	return buf;
}

static uint64_t trunc_of(const mpc_pool_plan *p, uint32_t ring_bits, uint32_t f) {
	for (uint32_t i = 0; i < p->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		if (p->trunc[i].ring_bits == ring_bits && p->trunc[i].f == f)
			return p->trunc[i].n;
	return 0;
}

int mpc_plan_equal(const mpc_pool_plan *a, const mpc_pool_plan *b) {
	for (int i = 0; i < 2; i++)
		if (a->triples[i] != b->triples[i] || a->bits[i] != b->bits[i])
			return 0;
	if (a->bit_triple_words != b->bit_triple_words)
		return 0;
	/* kinds may be listed in another order, or with zero counts */
	for (uint32_t i = 0; i < a->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		if (trunc_of(b, a->trunc[i].ring_bits, a->trunc[i].f) != a->trunc[i].n)
			return 0;
	for (uint32_t i = 0; i < b->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		if (trunc_of(a, b->trunc[i].ring_bits, b->trunc[i].f) != b->trunc[i].n)
			return 0;
	return 1;
}

static void fit(uint64_t have, uint64_t one, uint64_t *times) {
	if (one > 0 && have / one < *times)
		*times = have / one;
}

uint64_t mpc_plan_times(const mpc_pool_plan *have, const mpc_pool_plan *one) {
	uint64_t t = UINT64_MAX;
	for (int i = 0; i < 2; i++) {
		fit(have->triples[i], one->triples[i], &t);
		fit(have->bits[i], one->bits[i], &t);
	}
	fit(have->bit_triple_words, one->bit_triple_words, &t);
	for (uint32_t i = 0; i < one->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		fit(trunc_of(have, one->trunc[i].ring_bits, one->trunc[i].f), one->trunc[i].n, &t);
	return t == UINT64_MAX ? 0 : t;
}
