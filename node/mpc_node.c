/* The standing node: start and stop, the job table, admitting a job under
 * the policy and the budget, and running its part as an mpc-party process
 * (see mpc_node.h). The control messages are mpc_node_peer.c's, the local
 * API mpc_node_api.c's. */
#include "node/mpc_node.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jobs/kind_score.h"
#include "jobs/kind_stats.h"
#include "jobs/mpc_kind.h"
#include "net/mpc_keys.h"
#include "net/mpc_tls.h"
#include "node/mpc_node_internal.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

const char *const node_job_state_names[JOB_N_STATES] = {"proposed", "approved", "running",  "done",
                                                        "failed",   "refused",  "cancelled"};

static volatile sig_atomic_t stop_requested;

#define APPROVED_TTL_S 60 /* an approval the proposer never started expires */
#define KILL_AFTER_S   5  /* SIGKILL a job's process deaf to SIGTERM this long */

double node_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double node_mono(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void mpc_node_request_stop(void) {
	stop_requested = 1;
}

node_job *node_job_find(mpc_node *n, const char *id) {
	for (int i = 0; i < n->n_jobs; i++)
		if (strcmp(n->jobs[i]->id, id) == 0)
			return n->jobs[i];
	return NULL;
}

void node_job_free(node_job *j) {
	if (j == NULL)
		return;
	mpc_job_free(j->job);
	mpc_wipe_free(j->text, j->len);
	free(j);
}

mpc_err node_job_add(mpc_node *n, node_job *j) {
	if (n->n_jobs == NODE_MAX_JOBS) {
		/* forget the oldest job that is over (its directory stays) */
		for (int i = 0; i < n->n_jobs; i++) {
			node_job *o = n->jobs[i];
			if (o->state >= JOB_DONE && o->pid == 0) {
				node_job_free(o);
				memmove(&n->jobs[i], &n->jobs[i + 1],
				        (size_t)(n->n_jobs - i - 1) * sizeof(n->jobs[0]));
				n->n_jobs--;
				break;
			}
		}
		if (n->n_jobs == NODE_MAX_JOBS)
			return mpc_error(MPC_ENOMEM, "node %s: %d jobs under way: try again later",
			                 n->cfg.name, NODE_MAX_JOBS);
	}
	n->jobs[n->n_jobs++] = j;
	return MPC_OK;
}

void node_job_path(const mpc_node *n, const node_job *j, const char *name, char *out, size_t cap) {
	snprintf(out, cap, "%s/jobs/%s%s%s", n->cfg.state, j->id, name[0] ? "/" : "", name);
}

/* ---- admitting a job ---- */

/* The job's form, before any policy: parties, fingerprints, transport,
 * kind. Sets j->parties_mask, epsilon, delta. */
static mpc_err check_form(mpc_node *n, node_job *j, const char *proposer) {
	const mpc_job *job = j->job;
	int self = j->self = mpc_job_party_index(job, n->cfg.name);
	if (self < 0)
		return mpc_error(MPC_EINVAL, "this node (%s) is not a party of job %s", n->cfg.name,
		                 job->id);
	if (mpc_job_party_index(job, proposer) < 0)
		return mpc_error(MPC_EINVAL, "the proposer %s is not a party of job %s", proposer,
		                 job->id);
	if (!job->parties[self].has_fingerprint ||
	    memcmp(job->parties[self].fingerprint, n->fingerprint, 32) != 0)
		return mpc_error(MPC_EINVAL,
		                 "job %s, line %d: [party %s] fingerprint is not this node's "
		                 "certificate (%s/cert.pem)",
		                 job->id, job->parties[self].line, n->cfg.name, n->cfg.keys);
	j->parties_mask = 0;
	for (int i = 0; i < job->n_parties; i++) {
		if (i == self)
			continue;
		const mpc_job_node *pt = &job->parties[i];
		int p = mpc_node_cfg_peer(&n->cfg, pt->name);
		if (p < 0)
			return mpc_error(
			    MPC_EINVAL,
			    "job %s, line %d: party %s is not a peer of node %s (%s has "
			    "no [peer %s])",
			    job->id, pt->line, pt->name, n->cfg.name, n->cfg.path, pt->name);
		if (!pt->has_fingerprint ||
		    memcmp(pt->fingerprint, n->cfg.peers[p].fingerprint, 32))
			return mpc_error(
			    MPC_EINVAL,
			    "job %s, line %d: [party %s] fingerprint differs from the one "
			    "%s pins for it (line %d)",
			    job->id, pt->line, pt->name, n->cfg.path, n->cfg.peers[p].line);
		j->parties_mask |= 1 << p;
	}
	for (int i = 0; i < job->n_parties; i++)
		if (strncmp(job->parties[i].address, "tcp://", 6) != 0)
			return mpc_error(
			    MPC_EINVAL,
			    "job %s, line %d: [party %s] address: the node runs jobs over "
			    "tcp:// only",
			    job->id, job->parties[i].line, job->parties[i].name);
	if (strcmp(job->id, ".") == 0 || strcmp(job->id, "..") == 0)
		return mpc_error(MPC_EINVAL, "job id %s: not a name", job->id);
	if (job->transport != MPC_JOB_TLS || job->preprocessing == MPC_JOB_DEALER)
		return mpc_error(MPC_EINVAL,
		                 "job %s: the node runs jobs over TLS without a dealer "
		                 "(transport = tls, preprocessing = ot or paillier)",
		                 job->id);
	const mpc_kind *k = mpc_kind_find(job->computation);
	j->inputs = job->n_inputs > 0;
	if (k != &mpc_kind_stats && k != &mpc_kind_score && k != &mpc_kind_fed &&
	    !(j->inputs && k == &mpc_kind_avg))
		return mpc_error(MPC_EINVAL,
		                 "job %s: computation %s: the node runs aggregate_stats jobs, "
		                 "fraud_score services, fed_train jobs and model_average jobs with "
		                 "input parties (run the others with mpc-party run)",
		                 job->id, job->computation);
	j->training = k == &mpc_kind_fed;
	void *st = NULL;
	mpc_err err = k->parse(job, &st);
	if (err == MPC_OK && k->privacy)
		err = k->privacy(st, &j->epsilon, &j->delta);
	if (err == MPC_OK && k == &mpc_kind_stats) {
		j->max_amount = mpc_stats_job_of(st)->max_amount;
		j->max_rows = mpc_stats_job_of(st)->max_rows;
	}
	if (err == MPC_OK && k == &mpc_kind_score) {
		const mpc_score_job *sc = mpc_score_job_of(st);
		j->service = 1;
		j->asker = sc->asker;
		j->owner = sc->owner;
		j->d = sc->d;
		j->max_feature = sc->max_feature;
		if (sc->vertical || sc->owner == sc->asker)
			err =
			    mpc_error(MPC_EINVAL,
			              "job %s: a scoring service needs layout = horizontal and an "
			              "asker other than the model owner",
			              job->id);
	}
	if (st)
		k->free(st);
	return err == MPC_OK ? MPC_OK : mpc_error(MPC_EINVAL, "%s", mpc_error_detail());
}

/* A scoring service: only the asker receives scores; the owner decides who
 * may ask and supplies its model (the dataset, at the owner only). */
static mpc_err check_service(mpc_node *n, node_job *j) {
	const mpc_policy *p = n->policy;
	const mpc_job *job = j->job;
	const char *asker = job->parties[j->asker].name;
	mpc_err err = MPC_OK;
	if (j->self != j->asker && (err = mpc_policy_allow_recipient(p, asker)) != MPC_OK)
		return err;
	if (j->self != j->owner)
		return MPC_OK;
	if ((err = mpc_policy_allow_asker(p, asker)) != MPC_OK)
		return err;
	const mpc_policy_dataset_info *ds;
	if ((err = mpc_policy_dataset(p, j->dataset, &ds)) != MPC_OK)
		return err;
	if (ds->source != MPC_POLICY_CSV)
		return mpc_policy_refuse(p, ds->source_line, "[dataset] postgres",
		                         "dataset %s: a model is a file (csv = PATH)", ds->name);
	return MPC_OK;
}

/* This node's policy and budget. */
static mpc_err check_policy(mpc_node *n, node_job *j, const char *proposer) {
	const mpc_policy *p = n->policy;
	const mpc_job *job = j->job;
	mpc_err err;
	if ((err = mpc_policy_allow_computation(p, job->computation)) != MPC_OK)
		return err;
	if (strcmp(proposer, n->cfg.name) != 0 &&
	    (err = mpc_policy_allow_proposer(p, proposer)) != MPC_OK)
		return err;
	if (j->service)
		return check_service(n, j);
	for (int i = 0; i < job->n_parties; i++) /* every party sees the statistics */
		if (strcmp(job->parties[i].name, n->cfg.name) != 0 &&
		    (err = mpc_policy_allow_recipient(p, job->parties[i].name)) != MPC_OK)
			return err;
	if (j->inputs) { /* and the input parties named recipients; no dataset of ours */
		for (int i = 0; i < job->n_inputs; i++)
			if (job->inputs[i].recipient &&
			    (err = mpc_policy_allow_recipient(p, job->inputs[i].name)) != MPC_OK)
				return err;
		return MPC_OK;
	}
	const mpc_policy_dataset_info *ds;
	if ((err = mpc_policy_dataset(p, j->dataset, &ds)) != MPC_OK)
		return err;
	char rule[MPC_POLICY_NAME_MAX + 32];
	if ((err = mpc_policy_check_dp(p, j->dataset, j->epsilon, j->delta)) != MPC_OK)
		return err;
	if (j->training && ds->source != MPC_POLICY_CSV) /* fed_train reads a file */
		return mpc_policy_refuse(p, ds->source_line, "[dataset] postgres",
		                         "dataset %s: fed_train trains on a file (csv = PATH)",
		                         ds->name);
	snprintf(rule, sizeof(rule), "[dataset %s] max_amount", ds->name);
	if (j->max_amount > ds->max_amount)
		return mpc_policy_refuse(
		    p, ds->max_amount_line, rule,
		    "job %s bounds amounts by %g; the dataset allows at most %g", job->id,
		    j->max_amount, ds->max_amount);
	snprintf(rule, sizeof(rule), "[dataset %s] max_rows", ds->name);
	if (j->max_rows > (double)ds->max_rows)
		return mpc_policy_refuse(p, ds->max_rows_line, rule,
		                         "job %s allows %g rows; the dataset allows at most %llu",
		                         job->id, j->max_rows, (unsigned long long)ds->max_rows);
	mpc_ledger_total t;
	if ((err = mpc_ledger_spent(n->ledger, j->dataset, &t)) != MPC_OK)
		return err;
	for (int i = 0; i < n->n_jobs; i++) { /* approved here, not charged yet */
		const node_job *o = n->jobs[i];
		if (o->state <= JOB_APPROVED && strcmp(o->dataset, j->dataset) == 0) {
			t.epsilon += o->epsilon;
			t.delta += o->delta;
		}
	}
	const double slack = 1 + 1e-12;
	snprintf(rule, sizeof(rule), "[dataset %s] budget_epsilon", ds->name);
	if (t.epsilon + j->epsilon > ds->budget_epsilon * slack)
		return mpc_policy_refuse(p, ds->budget_epsilon_line, rule,
		                         "dataset %s has spent epsilon %g of %g; job %s asks %g",
		                         ds->name, t.epsilon, ds->budget_epsilon, job->id,
		                         j->epsilon);
	snprintf(rule, sizeof(rule), "[dataset %s] budget_delta", ds->name);
	if (t.delta + j->delta > ds->budget_delta * slack)
		return mpc_policy_refuse(p, ds->budget_delta_line, rule,
		                         "dataset %s has spent delta %g of %g; job %s asks %g",
		                         ds->name, t.delta, ds->budget_delta, job->id, j->delta);
	return MPC_OK;
}

/* STATE/jobs/ID, made once ever: an id is never run twice at a node. */
static mpc_err make_job_dir(mpc_node *n, node_job *j) {
	char path[MPC_NODE_PATH_MAX + 80];
	node_job_path(n, j, "", path, sizeof(path));
	if (mkdir(path, 0700) != 0) {
		if (errno == EEXIST)
			return mpc_error(MPC_ECONFIG,
			                 "job id %s was used before at node %s (an id runs once: "
			                 "choose a new one)",
			                 j->id, n->cfg.name);
		return mpc_error(MPC_EIO, "node %s: cannot make %s: %s", n->cfg.name, path,
		                 strerror(errno));
	}
	node_job_path(n, j, "job.ini", path, sizeof(path));
	return mpc_file_write_atomic(path, j->text, j->len, 0600);
}

mpc_err node_job_admit(mpc_node *n, const char *text, size_t len, const char *proposer,
                       const char *dataset, node_job **out) {
	*out = NULL;
	node_job *j = calloc(1, sizeof(*j));
	if (j == NULL || (j->text = malloc(len + 1)) == NULL) {
		free(j);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	memcpy(j->text, text, len);
	j->text[len] = '\0';
	j->len = len;
	snprintf(j->proposer, sizeof(j->proposer), "%s", proposer);
	snprintf(j->dataset, sizeof(j->dataset), "%s", dataset);
	j->created = node_now();
	j->t_created = node_mono();
	mpc_err err = mpc_job_parse("job", text, len, &j->job);
	if (err != MPC_OK) {
		err = mpc_error(MPC_EINVAL, "%s", mpc_error_detail());
		node_job_free(j);
		return err;
	}
	snprintf(j->id, sizeof(j->id), "%s", j->job->id);
	snprintf(j->computation, sizeof(j->computation), "%s", j->job->computation);
	if (node_job_find(n, j->id) != NULL)
		err = mpc_error(
		    MPC_ECONFIG,
		    "job id %s was used before at node %s (an id runs once: choose a new one)",
		    j->id, n->cfg.name);
	if (err == MPC_OK)
		err = check_form(n, j, proposer);
	if (err == MPC_OK && j->inputs && dataset[0] != '\0')
		err =
		    mpc_error(MPC_EINVAL,
		              "job %s has input parties: its rows come from their submissions, so "
		              "it names no dataset (drop \"dataset\")",
		              j->id);
	if (err == MPC_OK && dataset[0] == '\0' && !j->inputs &&
	    (!j->service || j->self == j->owner))
		err =
		    mpc_error(MPC_EINVAL,
		              "job %s: no dataset (name a [dataset NAME] of the nodes' policies%s)",
		              j->id, j->service ? ": the model owner's model file" : "");
	if (err == MPC_OK)
		err = check_policy(n, j, proposer);
	if (err == MPC_OK)
		err = make_job_dir(n, j);
	if (err != MPC_OK) {
		node_job_free(j);
		return err;
	}
	j->state = JOB_PROPOSED;
	*out = j;
	return MPC_OK;
}

/* ---- running a job ---- */

/* The PostgreSQL source file of a job, if any, removed once it ends (its
 * process has read it by then, or never will). */
static void forget_pg_source(mpc_node *n, node_job *j) {
	char path[MPC_NODE_PATH_MAX + 96];
	node_job_path(n, j, "input.pg", path, sizeof(path));
	unlink(path);
}

void node_job_end(mpc_node *n, node_job *j, node_job_state st, const char *fmt, ...) {
	if (j->state >= JOB_DONE)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->error, sizeof(j->error), fmt, ap);
	va_end(ap);
	for (char *c = j->error; *c; c++) /* printable ASCII: JSON, logs */
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	if (j->pid > 0) {
		kill(j->pid, SIGTERM); /* mpc-party sends its peers an abort */
		j->t_term = node_mono();
	}
	j->spawn_pending = 0;
	node_service_end(j);
	forget_pg_source(n, j);
	j->state = st;
	j->ended = node_now();
	if (st == JOB_FAILED)
		n->jobs_failed_total++;
	if (st == JOB_REFUSED)
		n->jobs_refused_total++;
	mpc_info("job %s: %s: %s", j->id, node_job_state_names[st], j->error);
}

/* A scoring service's durable stock: STATE/stock/ASKER-OWNER-BINDING, the
 * binding's first 8 bytes in hex (what the material is bound to: the
 * parties' keys, ring, engine; jobs/mpc_job.h), so that the next service
 * of the same pair among the same parties takes what this one left. */
void node_stock_dir(mpc_node *n, const node_job *j, char *buf, size_t len) {
	uint8_t b[32] = {0};
	char hex[17];
	if (mpc_job_store_binding(j->job, b) != MPC_OK)
		mpc_error_clear(); /* SHA-256 failing: the zero name still works */
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	snprintf(buf, len, "%s/stock/%s-%s-%s", n->cfg.state, j->job->parties[j->asker].name,
	         j->job->parties[j->owner].name, hex);
}

/* The argument list of the job's mpc-party run. */
typedef struct {
	char a[16]
	      [MPC_POLICY_MAX_TEXT + 176]; /* the longest: a dataset path, or STATE/jobs/ID/... */
	char *argv[32];
	int k, na;
} run_args;

static void arg(run_args *ra, const char *flag, const char *fmt, ...) MPC_PRINTF(3, 4);
static void arg(run_args *ra, const char *flag, const char *fmt, ...) {
	va_list ap;
	if (flag)
		ra->argv[ra->k++] = (char *)flag;
	va_start(ap, fmt);
	vsnprintf(ra->a[ra->na], sizeof(ra->a[0]), fmt, ap);
	va_end(ap);
	ra->argv[ra->k++] = ra->a[ra->na++];
	ra->argv[ra->k] = NULL;
}

/* mpc-party run: a statistics job on the dataset's file, or a scoring
 * service (--serve: the asker's socket, the owner's model and quota). */
static void build_args(mpc_node *n, node_job *j, const char *input, run_args *ra) {
	char path[MPC_NODE_PATH_MAX + 96];
	ra->k = ra->na = 0;
	arg(ra, NULL, "%s", n->cfg.party_program);
	arg(ra, NULL, "run");
	node_job_path(n, j, "job.ini", path, sizeof(path));
	arg(ra, "--job", "%s", path);
	arg(ra, "--party", "%s", n->cfg.name);
	arg(ra, "--keys", "%s", n->cfg.keys);
	if (j->service)
		node_stock_dir(n, j, path, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/store/%s", n->cfg.state, j->id);
	arg(ra, "--store", "%s", path);
	arg(ra, "--log-level", "info");
	if (!j->service) {
		if (j->inputs) {
			/* no input here: the input parties submit to the process itself */
		} else if (input[0] == '\0') { /* a PostgreSQL dataset: the file spawn wrote */
			node_job_path(n, j, "input.pg", path, sizeof(path));
			arg(ra, "--input-pg", "%s", path);
		} else {
			arg(ra, "--input", "%s", input);
		}
		node_job_path(n, j, "result.csv", path, sizeof(path));
		arg(ra, "--output", "%s", path);
		return;
	}
	node_job_path(n, j, "score.sock", path, sizeof(path));
	arg(ra, "--serve", "%s", path);
	arg(ra, "--stock", "%llu", (unsigned long long)n->cfg.score_stock);
	arg(ra, "--window", "%llu", (unsigned long long)n->cfg.score_window);
	if (j->self == j->owner) {
		arg(ra, "--model", "%s", input);
		arg(ra, "--policy", "%s", n->cfg.policy);
		arg(ra, "--quota", "%s/quota", n->cfg.state);
	}
}

/* A PostgreSQL dataset's source for the job's process: its name, conninfo
 * (which may hold a password: the file is 0600 in the node's 0700 state,
 * removed when the job ends) and query. */
static mpc_err write_pg_source(mpc_node *n, node_job *j, const mpc_policy_dataset_info *ds) {
	char path[MPC_NODE_PATH_MAX + 96];
	size_t cap = 3 * MPC_POLICY_MAX_TEXT + 64;
	char *text = malloc(cap);
	if (text == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	int len = snprintf(text, cap, "dataset %s\n%s\n%s\n", ds->name, ds->conninfo, ds->query);
	node_job_path(n, j, "input.pg", path, sizeof(path));
	mpc_err err = mpc_file_write_atomic(path, text, (size_t)len, 0600);
	mpc_wipe_free(text, cap);
	return err;
}

static mpc_err spawn(mpc_node *n, node_job *j, const char *input) {
	run_args ra;
	char log[MPC_NODE_PATH_MAX + 96];
	build_args(n, j, input, &ra);
	node_job_path(n, j, "log", log, sizeof(log));
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return mpc_error(MPC_EIO, "node %s: cannot open %s: %s", n->cfg.name, log,
		                 strerror(errno));
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		/* the job dies with its node: its peers then see an abort */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(ra.argv[0], ra.argv);
		_exit(127);
	}
	close(fd);
	if (pid < 0)
		return mpc_error(MPC_EIO, "node %s: cannot start %s: %s", n->cfg.name, ra.argv[0],
		                 strerror(errno));
	j->pid = pid;
	return MPC_OK;
}

mpc_err node_job_launch(mpc_node *n, node_job *j) {
	const mpc_policy_dataset_info *ds = NULL;
	mpc_err err = MPC_OK;
	int charge = (j->epsilon > 0 || j->delta > 0) && !j->inputs;
	if (charge)
		err = mpc_policy_dataset(n->policy, j->dataset, &ds);
	if (err == MPC_OK && charge) {
		mpc_ledger_budget b = {ds->budget_epsilon, ds->budget_delta};
		err = mpc_ledger_charge(n->ledger, j->dataset, j->id, j->computation, j->epsilon,
		                        j->delta, 0, &b);
		if (err == MPC_EREFUSED) {
			char rule[MPC_POLICY_NAME_MAX + 32]; /* refuse formats before it records */
			snprintf(rule, sizeof(rule), "[dataset %s] budget", ds->name);
			err =
			    mpc_policy_refuse(n->policy, ds->line, rule, "%s", mpc_error_detail());
		} else if (err == MPC_OK)
			mpc_info("job %s: charged epsilon %g, delta %g to dataset %s", j->id,
			         j->epsilon, j->delta, j->dataset);
	}
	if (err != MPC_OK) {
		node_job_end(n, j, err == MPC_EREFUSED ? JOB_REFUSED : JOB_FAILED, "%s",
		             mpc_error_detail());
		return err;
	}
	/* the serve loop's thread starts the process: the kernel sends the
	 * parent-death signal when the thread that forked ends, and this may
	 * be a link's short-lived thread */
	j->state = JOB_RUNNING;
	j->spawn_pending = 1;
	j->started = node_now();
	j->t_started = node_mono();
	return MPC_OK;
}

/* The last line of the job's log that says what went wrong. */
static void last_error_line(mpc_node *n, node_job *j, char *out, size_t cap) {
	char path[MPC_NODE_PATH_MAX + 96], line[1024], last[1024] = "";
	node_job_path(n, j, "log", path, sizeof(path));
	FILE *fp = fopen(path, "r");
	while (fp && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			snprintf(last, sizeof(last), "%s", line);
	}
	if (fp)
		fclose(fp);
	if (last[0] == '\0')
		snprintf(last, sizeof(last), "(no message)");
	size_t len = strnlen(last, cap - 1); /* cut to fit: the end of a long line is lost */
	memcpy(out, last, len);
	out[len] = '\0';
}

/* The process of a job whose budget is charged (under mu, on the serve
 * loop's thread): its dataset (a CSV file, a PostgreSQL source file, or the
 * owner's model; none at a service's other parties), then the scoring
 * dispatcher at a service's asker. */
static void start_process(mpc_node *n, node_job *j) {
	const mpc_policy_dataset_info *ds = NULL;
	int needs_data = !j->inputs && (!j->service || j->self == j->owner), pg = 0;
	j->spawn_pending = 0;
	if (needs_data && mpc_policy_dataset(n->policy, j->dataset, &ds) == MPC_OK)
		pg = ds->source == MPC_POLICY_POSTGRES;
	if ((needs_data && ds == NULL) || (pg && write_pg_source(n, j, ds) != MPC_OK) ||
	    spawn(n, j, ds && !pg ? ds->csv : "") != MPC_OK ||
	    (j->service && j->self == j->asker && node_service_start(n, j) != MPC_OK))
		node_job_end(n, j, JOB_FAILED, "%s", mpc_error_detail());
	else
		mpc_info("job %s: running (mpc-party pid %d)", j->id, (int)j->pid);
}

/* A scoring service's process whose job ended is still going (it holds
 * its stock's store and, at the model owner, the quota journal until it
 * exits; SIGKILL after KILL_AFTER_S): the next service starts after it. */
static int service_ending(mpc_node *n, const node_job *j) {
	for (int i = 0; i < n->n_jobs; i++) {
		const node_job *k = n->jobs[i];
		if (k != j && k->service && k->pid > 0 && k->state >= JOB_DONE)
			return 1;
	}
	return 0;
}

/* Reap the jobs' processes and enforce their deadlines (under mu). */
static void reap(mpc_node *n) {
	double now = node_now(), mono = node_mono();
	for (int i = 0; i < n->n_jobs; i++) {
		node_job *j = n->jobs[i];
		int status;
		if (j->state == JOB_APPROVED && mono - j->t_created > APPROVED_TTL_S)
			node_job_end(n, j, JOB_FAILED,
			             "the proposer %s never started it (%d s after approval)",
			             j->proposer, APPROVED_TTL_S);
		if (j->spawn_pending && n->stopping)
			node_job_end(n, j, JOB_FAILED, "node %s is stopping", n->cfg.name);
		if (j->spawn_pending && !(j->service && service_ending(n, j)))
			start_process(n, j);
		if (j->pid <= 0)
			continue;
		pid_t r = waitpid(j->pid, &status, WNOHANG);
		if (r == 0) {
			if (j->state == JOB_RUNNING && mono - j->t_started > n->cfg.job_timeout_s)
				node_job_end(n, j, JOB_FAILED,
				             "ran past job_timeout (%g s of %s): stopped",
				             n->cfg.job_timeout_s, n->cfg.path);
			else if (j->state >= JOB_DONE && j->t_term > 0 &&
			         mono - j->t_term > KILL_AFTER_S)
				kill(j->pid, SIGKILL); /* deaf to SIGTERM */
			continue;
		}
		j->pid = 0;
		if (j->state != JOB_RUNNING)
			continue; /* ended already: a peer went down, or cancelled */
		if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			node_service_end(j);
			forget_pg_source(n, j);
			j->state = JOB_DONE;
			j->ended = now;
			mpc_info("job %s: done", j->id);
			continue;
		}
		char msg[900];
		last_error_line(n, j, msg, sizeof(msg));
		if (r > 0 && WIFEXITED(status))
			node_job_end(n, j, JOB_FAILED, "mpc-party exit %d: %s", WEXITSTATUS(status),
			             msg);
		else
			node_job_end(n, j, JOB_FAILED, "mpc-party ended by signal %d: %s",
			             r > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0, msg);
	}
}

/* A peer's control link changed: a peer that went down fails the jobs that
 * need it at once. */
static void on_link(void *arg, const char *peer, int up) {
	mpc_node *n = arg;
	int p = mpc_node_cfg_peer(&n->cfg, peer);
	if (p < 0)
		return;
	pthread_mutex_lock(&n->mu);
	n->link_up[p] = up;
	if (up)
		mpc_info("link to %s: up", peer);
	else
		mpc_warn("link to %s: down", peer);
	for (int i = 0; !up && i < n->n_jobs; i++) {
		node_job *j = n->jobs[i];
		if (j->state < JOB_DONE && (j->parties_mask & (1 << p)))
			node_job_end(
			    n, j, JOB_FAILED,
			    "peer %s went down during the job (its control link answered no "
			    "keep-alive): ended at node %s; submit it again under a new id "
			    "when the peer is back",
			    peer, n->cfg.name);
	}
	pthread_mutex_unlock(&n->mu);
}

/* ---- start and stop ---- */

static mpc_err start_links(mpc_node *n) {
	mpc_link_peer peers[MPC_NODE_MAX_PEERS];
	for (int i = 0; i < n->cfg.n_peers; i++) {
		peers[i].name = n->cfg.peers[i].name;
		peers[i].address = n->cfg.peers[i].address;
		memcpy(peers[i].pin, n->cfg.peers[i].fingerprint, 32);
	}
	mpc_links_config lc = {.self = n->cfg.name,
	                       .listen = n->cfg.listen,
	                       .key = n->key,
	                       .cert = n->cert,
	                       .peers = peers,
	                       .n_peers = n->cfg.n_peers,
	                       .handler = node_peer_handle,
	                       .handler_arg = n,
	                       .on_state = on_link,
	                       .state_arg = n};
	return mpc_links_start(&lc, &n->links);
}

static mpc_err start_parts(mpc_node *n) {
	mpc_err err;
	char path[MPC_NODE_PATH_MAX + 32];
	if ((err = mpc_keys_load(n->cfg.keys, &n->key, &n->cert)) != MPC_OK ||
	    (err = mpc_tls_fingerprint(n->cert, n->fingerprint)) != MPC_OK)
		return err;
	if ((err = mpc_policy_load(n->cfg.policy, &n->policy)) != MPC_OK)
		return err;
	if (strcmp(mpc_policy_node(n->policy), n->cfg.name) != 0)
		return mpc_error(MPC_ECONFIG, "%s: [node] name is %s, but %s says %s",
		                 n->cfg.policy, mpc_policy_node(n->policy), n->cfg.path,
		                 n->cfg.name);
	if (mkdir(n->cfg.state, 0700) != 0 && errno != EEXIST)
		return mpc_error(MPC_EIO, "cannot make %s: %s", n->cfg.state, strerror(errno));
	for (int k = 0; k < 3; k++) {
		snprintf(path, sizeof(path), "%s/%s", n->cfg.state,
		         k == 2 ? "stock"
		         : k    ? "store"
		                : "jobs");
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return mpc_error(MPC_EIO, "cannot make %s: %s", path, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/ledger", n->cfg.state);
	if ((err = mpc_ledger_open(path, &n->ledger)) != MPC_OK)
		return err;
	if (access(n->cfg.party_program, X_OK) != 0)
		return mpc_error(MPC_ECONFIG, "%s: party_program %s cannot be run: %s", n->cfg.path,
		                 n->cfg.party_program, strerror(errno));
	if ((err = start_links(n)) != MPC_OK)
		return err;
	mpc_http_config hc = {.listen = n->cfg.api,
	                      .token_file = n->cfg.token_file,
	                      .handler = node_api_handle,
	                      .arg = n};
	return mpc_http_start(&hc, &n->http);
}

mpc_err mpc_node_start(const mpc_node_cfg *cfg, mpc_node **out) {
	*out = NULL;
	mpc_node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	n->cfg = *cfg;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->idle, NULL);
	mpc_err err = start_parts(n);
	if (err != MPC_OK) {
		mpc_node_stop(n);
		return err;
	}
	mpc_info("node %s: API on %s, links on %s, %d peers", n->cfg.name, n->cfg.api,
	         n->cfg.listen, n->cfg.n_peers);
	*out = n;
	return MPC_OK;
}

void mpc_node_serve(mpc_node *n) {
	while (!stop_requested) {
		pthread_mutex_lock(&n->mu);
		reap(n);
		pthread_mutex_unlock(&n->mu);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Stop the running jobs: SIGTERM, then SIGKILL after 5 s. */
static void stop_jobs(mpc_node *n) {
	pthread_mutex_lock(&n->mu);
	n->stopping = 1;
	while (n->proposers > 0) /* each checks stopping between its calls */
		pthread_cond_wait(&n->idle, &n->mu);
	for (int i = 0; i < n->n_jobs; i++)
		if (n->jobs[i]->state < JOB_DONE)
			node_job_end(n, n->jobs[i], JOB_FAILED, "node %s stopped (SIGTERM)",
			             n->cfg.name);
	pthread_mutex_unlock(&n->mu);
	for (int t = 0; t < 250; t++) {
		int left = 0;
		pthread_mutex_lock(&n->mu);
		reap(n);
		for (int i = 0; i < n->n_jobs; i++)
			left += n->jobs[i]->pid > 0;
		pthread_mutex_unlock(&n->mu);
		if (!left)
			return;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&n->mu);
	for (int i = 0; i < n->n_jobs; i++)
		if (n->jobs[i]->pid > 0) {
			kill(n->jobs[i]->pid, SIGKILL);
			waitpid(n->jobs[i]->pid, NULL, 0);
			n->jobs[i]->pid = 0;
		}
	pthread_mutex_unlock(&n->mu);
}

void mpc_node_stop(mpc_node *n) {
	if (n == NULL)
		return;
	mpc_http_stop(n->http); /* no new jobs */
	n->http = NULL;
	stop_jobs(n);
	mpc_links_stop(n->links);
	node_service_free_all(n);
	mpc_ledger_close(n->ledger);
	mpc_policy_free(n->policy);
	EVP_PKEY_free(n->key);
	X509_free(n->cert);
	for (int i = 0; i < n->n_jobs; i++)
		node_job_free(n->jobs[i]);
	pthread_cond_destroy(&n->idle);
	pthread_mutex_destroy(&n->mu);
	free(n);
}
