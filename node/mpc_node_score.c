/* Real-time scoring at the asker's node. A fraud_score job run through the
 * node is a standing service: each party's mpc-party process (run --serve)
 * keeps its session, its OT engine and a stock of material for the whole
 * job. Here, the asker's node takes POST /score requests, and a dispatcher
 * thread per service sends whatever requests are waiting as one batch to
 * the asker's process over its Unix socket (tools/party_serve.c gives the
 * frames), so concurrent requests share one evaluation: its rounds are paid
 * once per batch, not per request. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "node/mpc_api.h"
#include "node/mpc_node_internal.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define BATCH_MAX     4096 /* rows of one evaluation (the service's limit) */
#define WAIT_S        30   /* a request unanswered this long fails */
#define CONNECT_TRIES 200  /* x 50 ms: the process makes its socket at start */

typedef struct score_req {
	const double *x;
	size_t n;
	double *score;
	uint8_t *flag;
	int done, status; /* status: 0 scored, 1 refused, -1 failed */
	int queued;       /* in the service's queue, not yet taken */
	char msg[512];
	struct score_req *next;
} score_req;

typedef struct node_service {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	score_req *head, *tail;
	int fd, ended, thread_started;
	char sock[MPC_NODE_PATH_MAX + 96], id[65];
	size_t d;
	pthread_t thread;
	struct node_service *next_all; /* the node's list */
} node_service;

static void finish(node_service *s, score_req *q, int status, const char *msg) {
	for (; q; q = q->next) {
		q->status = status;
		snprintf(q->msg, sizeof(q->msg), "%.500s", msg);
		q->done = 1;
	}
	pthread_cond_broadcast(&s->cv);
}

static int connect_sock(node_service *s) {
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, s->sock, strlen(s->sock) + 1); /* fits: node_service_start */
	for (int t = 0; t < CONNECT_TRIES && !s->ended; t++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int read_all(int fd, void *buf, size_t len) {
	return mpc_file_read_fd_all(fd, buf, len) == MPC_OK ? 0 : -1;
}

/* One batch: send the rows, read the answer, hand it out. 0, or -1 when
 * the process is gone. */
static int run_batch(node_service *s, score_req *batch, size_t rows) {
	uint32_t hd[2] = {(uint32_t)rows, (uint32_t)s->d}, ans[3];
	if (mpc_file_write_fd_all(s->fd, hd, sizeof(hd)) != MPC_OK)
		return -1;
	for (score_req *q = batch; q; q = q->next)
		if (mpc_file_write_fd_all(s->fd, q->x, q->n * s->d * sizeof(double)) != MPC_OK)
			return -1;
	if (read_all(s->fd, ans, sizeof(ans)) != 0 || ans[1] != rows || ans[0] > 1 || ans[2] > 4096)
		return -1;
	if (ans[0] == 1) { /* the owner's quota refused the batch */
		char msg[4097];
		if (read_all(s->fd, msg, ans[2]) != 0)
			return -1;
		msg[ans[2]] = '\0';
		pthread_mutex_lock(&s->mu);
		finish(s, batch, 1, msg);
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	for (score_req *q = batch; q; q = q->next)
		if (read_all(s->fd, q->score, q->n * sizeof(double)) != 0)
			return -1;
	for (score_req *q = batch; q; q = q->next)
		if (read_all(s->fd, q->flag, q->n) != 0)
			return -1;
	pthread_mutex_lock(&s->mu);
	finish(s, batch, 0, "");
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Take the waiting requests, up to BATCH_MAX rows (under mu). */
static score_req *take(node_service *s, size_t *rows) {
	score_req *batch = s->head, *last = NULL;
	*rows = 0;
	while (s->head && *rows + s->head->n <= BATCH_MAX) {
		*rows += s->head->n;
		s->head->queued = 0;
		last = s->head;
		s->head = s->head->next;
	}
	if (last)
		last->next = NULL;
	if (s->head == NULL)
		s->tail = NULL;
	return last ? batch : NULL;
}

static void *dispatch(void *arg) {
	node_service *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->ended) {
		size_t rows;
		score_req *batch;
		while (!s->ended && s->head == NULL)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->ended || (batch = take(s, &rows)) == NULL)
			continue;
		pthread_mutex_unlock(&s->mu);
		if (s->fd < 0)
			s->fd = connect_sock(s);
		int bad = s->fd < 0 || run_batch(s, batch, rows) != 0;
		pthread_mutex_lock(&s->mu);
		if (bad) {
			if (s->fd >= 0)
				close(s->fd);
			s->fd = -1;
			finish(s, batch, -1,
			       "the scoring service's process did not answer (see the "
			       "job's state: GET /jobs/ID)");
		}
	}
	for (score_req *q = s->head; q; q = q->next)
		q->queued = 0;
	finish(s, s->head, -1, "the scoring service ended");
	s->head = s->tail = NULL;
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

mpc_err node_service_start(mpc_node *n, node_job *j) {
	node_service *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->fd = -1;
	s->d = j->d;
	snprintf(s->id, sizeof(s->id), "%s", j->id);
	node_job_path(n, j, "score.sock", s->sock, sizeof(s->sock));
	if (strlen(s->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		mpc_err err = mpc_error(MPC_ECONFIG,
		                        "job %s: the service's socket %s is longer than a Unix "
		                        "socket path may be (107): choose a shorter state folder",
		                        j->id, s->sock);
		free(s);
		return err;
	}
	s->next_all = n->services;
	n->services = s;
	if (pthread_create(&s->thread, NULL, dispatch, s) != 0)
		return mpc_error(MPC_ENOMEM, "job %s: cannot start the scoring dispatcher", j->id);
	s->thread_started = 1;
	j->svc = s;
	return MPC_OK;
}

void node_service_end(node_job *j) {
	node_service *s = j->svc;
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->ended = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	j->svc = NULL;
}

void node_service_free_all(mpc_node *n) {
	while (n->services) {
		node_service *s = n->services;
		n->services = s->next_all;
		pthread_mutex_lock(&s->mu);
		s->ended = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (s->thread_started)
			pthread_join(s->thread, NULL);
		if (s->fd >= 0)
			close(s->fd);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
	}
}

/* Queue q on the service of job id and wait for its answer. The HTTP
 * status, with the refusal or failure in msg. */
static int ask(mpc_node *n, const mpc_api_score *b, score_req *q, char *msg, size_t cap) {
	pthread_mutex_lock(&n->mu);
	node_job *j = node_job_find(n, b->service);
	/* a service whose process is about to start (after the previous
	 * service's process ends): its requests wait as they would for its
	 * stock */
	for (int t = 0; j && j->spawn_pending && j->self == j->asker && t < WAIT_S * 50; t++) {
		pthread_mutex_unlock(&n->mu);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&n->mu);
		j = node_job_find(n, b->service);
	}
	node_service *s = j ? j->svc : NULL;
	int st = 0;
	if (j == NULL || !j->service)
		st = 404, snprintf(msg, cap, "no scoring service %s at this node", b->service);
	else if (s == NULL)
		st = 409,
		snprintf(msg, cap, "scoring service %s is %s%s", b->service,
		         node_job_state_names[j->state],
		         j->state == JOB_RUNNING ? " at another node: ask the asker's node" : "");
	else if (b->d != j->d)
		st = 400,
		snprintf(msg, cap, "service %s scores transactions of %zu features, not %zu",
		         b->service, j->d, b->d);
	for (size_t i = 0; st == 0 && i < b->n * b->d; i++)
		if (!(b->x[i] <= j->max_feature && b->x[i] >= -j->max_feature))
			st = 400,
			snprintf(msg, cap,
			         "transaction %zu, feature %zu: outside the job's max_feature "
			         "(%g)",
			         i / b->d + 1, i % b->d + 1, j->max_feature);
	if (st == 0) { /* s outlives the job: freed only at the node's stop */
		pthread_mutex_lock(&s->mu);
		pthread_mutex_unlock(&n->mu);
		if (s->tail)
			s->tail->next = q;
		else
			s->head = q;
		s->tail = q;
		q->queued = 1;
		pthread_cond_broadcast(&s->cv);
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += WAIT_S;
		while (!q->done && pthread_cond_timedwait(&s->cv, &s->mu, &dl) != ETIMEDOUT)
			;
		if (!q->done && q->queued) { /* never taken: drop it from the queue */
			score_req **pp = &s->head;
			while (*pp != q)
				pp = &(*pp)->next;
			*pp = q->next;
			s->tail = NULL;
			for (score_req *t = s->head; t; t = t->next)
				s->tail = t;
		}
		while (!q->done && !q->queued) /* under way: the dispatcher writes into q */
			pthread_cond_wait(&s->cv, &s->mu);
		int done = q->done, status = q->status;
		snprintf(msg, cap, "%s", q->msg);
		pthread_mutex_unlock(&s->mu);
		return !done ? 504 : status == 0 ? 200 : status == 1 ? 429 : 503;
	}
	pthread_mutex_unlock(&n->mu);
	return st;
}

static json_t *answer(const score_req *q) {
	json_t *sc = json_array(), *fl = json_array();
	for (size_t i = 0; sc && fl && i < q->n; i++) {
		json_array_append_new(sc, json_real(q->score[i]));
		json_array_append_new(fl, json_integer(q->flag[i]));
	}
	return json_pack("{s:o,s:o}", "scores", sc, "flags", fl);
}

void node_score_route(mpc_node *n, const mpc_http_request *req, mpc_http_response *r) {
	mpc_api_score b;
	char msg[600];
	if (mpc_api_parse_score(req->body, req->body_len, &b) != MPC_OK) {
		r->status = 400;
		r->body = mpc_http_error_json(mpc_error_detail());
		return;
	}
	double score[MPC_API_MAX_SCORE_ROWS];
	uint8_t flag[MPC_API_MAX_SCORE_ROWS];
	score_req q = {.x = b.x, .n = b.n, .score = score, .flag = flag};
	r->status = ask(n, &b, &q, msg, sizeof(msg));
	pthread_mutex_lock(&n->mu);
	if (r->status == 200)
		n->score_ok++;
	else if (r->status == 429)
		n->score_refused++;
	else if (r->status >= 500)
		n->score_failed++;
	pthread_mutex_unlock(&n->mu);
	if (r->status == 200) {
		json_t *o = answer(&q);
		r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (r->body == NULL)
			r->status = 500;
	} else {
		r->body = mpc_http_error_json(msg);
	}
	mpc_wipe(score, sizeof(score));
	mpc_api_score_free(&b);
}
