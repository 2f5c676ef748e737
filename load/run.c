/* run.c - see run.h. */
#include "run.h"
#include "client.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Descriptors besides the clients' sockets: epoll, signalfd, stdio,
 * report files, the --on-ready child's pipes. */
#define SPARE_FDS 32

/* ---- the deadline heap (min-heap on `when`; stale entries skipped) ---- */

static bool heap_push(struct run *r, uint64_t when, uint32_t idx, uint32_t seq)
{
	if (r->hlen == r->hcap) {
		size_t cap = r->hcap ? r->hcap * 2 : 256;
		struct heap_entry *h = realloc(r->heap, cap * sizeof *h);
		if (h == NULL)
			return false;
		r->heap = h;
		r->hcap = cap;
	}
	size_t i = r->hlen++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (r->heap[parent].when <= when)
			break;
		r->heap[i] = r->heap[parent];
		i = parent;
	}
	r->heap[i] = (struct heap_entry){ when, idx, seq };
	return true;
}

static struct heap_entry heap_pop(struct run *r)
{
	struct heap_entry top = r->heap[0], last = r->heap[--r->hlen];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, m = l + 1, min = i;
		uint64_t mw = last.when;
		if (l < r->hlen && r->heap[l].when < mw) {
			min = l;
			mw = r->heap[l].when;
		}
		if (m < r->hlen && r->heap[m].when < mw)
			min = m;
		if (min == i)
			break;
		r->heap[i] = r->heap[min];
		i = min;
	}
	if (r->hlen > 0)
		r->heap[i] = last;
	return top;
}

void run_schedule(struct run *r, struct client *c, uint64_t when, bool timeout)
{
	c->dl_seq++;
	c->deadline = when;
	c->dl_timeout = timeout;
	if (when != UINT64_MAX && !heap_push(r, when, c->id, c->dl_seq))
		r->oom = true;
}

bool run_watch(struct run *r, struct client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return true;
	int op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(r->epfd, op, c->fd, &ev) != 0)
		return false;
	c->events = events;
	return true;
}

void run_unwatch(struct run *r, struct client *c)
{
	/* close(2) removes the socket from the set anyway; DEL keeps the
	 * bookkeeping exact and is cheap */
	if (c->events != 0 && epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL) != 0)
		run_log_error(r, c, "epoll DEL: %s", strerror(errno));
	c->events = 0;
}

void run_log_error(struct run *r, const struct client *c, const char *fmt, ...)
{
	char msg[800];
	va_list ap;

	if (r->printed >= r->verbose)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->printed++;
	/* one write per line, after clearing the progress line */
	(void)fprintf(stderr, "%spop3-load: client %u (%s): %s\n", r->progress ? "\r\033[K" : "", c->id + 1,
		      c->user[0] ? c->user : "-", msg);
	if (r->printed == r->verbose)
		(void)fprintf(stderr, "pop3-load: further errors are counted, not shown (-v shows them all)\n");
}

const struct wl_section *run_pick(struct run *r, uint64_t *rng)
{
	const struct workload *w = r->w;

	if (w->nsec == 1)
		return &w->sec[0];
	uint64_t x = rng_below(rng, r->total_weight);
	for (size_t i = 0; i < w->nsec; i++) {
		if (x < w->sec[i].weight)
			return &w->sec[i];
		x -= w->sec[i].weight;
	}
	return &w->sec[w->nsec - 1];
}

bool run_may_start(struct run *r)
{
	if (r->stopping)
		return false;
	return r->w->max_blocks == 0 || r->blocks < r->w->max_blocks;
}

/* ---- set-up ---- */

static bool resolve(struct run *r, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *ai;
	int rc = getaddrinfo(r->w->server, r->w->port, &hints, &ai);

	if (rc != 0) {
		errf(err, errlen, "%s port %s: %s", r->w->server, r->w->port, gai_strerror(rc));
		return false;
	}
	if (ai->ai_addrlen > sizeof r->addr) {
		freeaddrinfo(ai);
		errf(err, errlen, "%s: address too long", r->w->server);
		return false;
	}
	memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
	r->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

/* Each client holds one socket at most: raise the soft limit to the hard
 * one when the default (often 1024) is too small for the client count. */
static bool enough_fds(uint64_t clients, char *err, size_t errlen)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		errf(err, errlen, "getrlimit: %s", strerror(errno));
		return false;
	}
	rlim_t need = (rlim_t)clients + SPARE_FDS;
	if (rl.rlim_cur >= need)
		return true;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		errf(err, errlen, "%llu clients need %llu descriptors; the hard limit is %llu (ulimit -Hn)",
		     (unsigned long long)clients, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return false;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		errf(err, errlen, "setrlimit: %s", strerror(errno));
		return false;
	}
	return true;
}

bool run_setup(struct run *r, const struct workload *w, char *err, size_t errlen)
{
	sigset_t mask;

	r->w = w;
	r->epfd = r->sigfd = -1;
	r->nclients = (size_t)w->clients;
	if (!resolve(r, err, errlen) || !enough_fds(w->clients, err, errlen))
		return false;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		errf(err, errlen, "epoll_create1: %s", strerror(errno));
		return false;
	}
	/* signals arrive through the loop, never in the middle of a state
	 * change: SIGINT/SIGTERM end the run, SIGCHLD is --on-ready's */
	if (sigemptyset(&mask) != 0 || sigaddset(&mask, SIGINT) != 0 || sigaddset(&mask, SIGTERM) != 0 ||
	    sigaddset(&mask, SIGCHLD) != 0 || sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
		errf(err, errlen, "sigprocmask: %s", strerror(errno));
		return false;
	}
	r->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (r->sigfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->sigfd, &ev) != 0) {
		errf(err, errlen, "signalfd: %s", strerror(errno));
		return false;
	}
	for (size_t i = 0; i < w->nsec; i++)
		r->total_weight += w->sec[i].weight;
	r->clients = calloc(r->nclients, sizeof *r->clients);
	if (r->clients == NULL) {
		errf(err, errlen, "out of memory for %zu clients", r->nclients);
		return false;
	}
	for (size_t i = 0; i < r->nclients; i++)
		r->clients[i].fd = -1;
	r->t0 = now_ns();
	r->end = w->time_ns ? r->t0 + w->time_ns : UINT64_MAX;
	if (!stats_init(&r->st, r->t0, w->ramp_ns)) {
		errf(err, errlen, "out of memory");
		return false;
	}
	/* the ramp: client i starts at i/n of rampTime */
	for (size_t i = 0; i < r->nclients; i++) {
		uint64_t n = r->nclients;
		uint64_t at = r->t0 + (w->ramp_ns / n) * i + (w->ramp_ns % n) * i / n;
		if (!client_init(r, &r->clients[i], (unsigned)i, at)) {
			errf(err, errlen, "out of memory");
			return false;
		}
	}
	if (r->oom) {
		errf(err, errlen, "out of memory");
		return false;
	}
	return true;
}

void run_free(struct run *r)
{
	if (r->clients != NULL)
		for (size_t i = 0; i < r->nclients; i++)
			client_free(&r->clients[i]);
	free(r->clients);
	free(r->heap);
	stats_free(&r->st);
	if (r->sigfd >= 0)
		(void)close(r->sigfd); /* at exit: nothing left to report */
	if (r->epfd >= 0)
		(void)close(r->epfd);
}

/* ---- the end of the run ---- */

static void begin_stop(struct run *r, uint64_t now)
{
	if (r->stopping)
		return;
	r->stopping = true;
	r->stop_at = now;
	for (size_t i = 0; i < r->nclients; i++)
		client_stop(r, &r->clients[i], now);
}

static void abort_all(struct run *r)
{
	r->aborted = true;
	for (size_t i = 0; i < r->nclients; i++)
		client_abort(r, &r->clients[i]);
}

static bool all_off(const struct run *r)
{
	for (size_t i = 0; i < r->nclients; i++)
		if (r->clients[i].st != CS_OFF)
			return false;
	return true;
}

/* ---- --on-ready ---- */

static bool spawn_ready(struct run *r, uint64_t now, char *err, size_t errlen)
{
	char n[32], pid[32];
	posix_spawnattr_t attr;
	sigset_t none, def;
	pid_t child;

	(void)snprintf(n, sizeof n, "%zu", r->nclients);
	(void)snprintf(pid, sizeof pid, "%ld", (long)getpid());
	if (setenv("POP3_LOAD_CLIENTS", n, 1) != 0 || setenv("POP3_LOAD_PID", pid, 1) != 0) {
		errf(err, errlen, "setenv: %s", strerror(errno));
		return false;
	}
	/* the child gets the signal state a shell expects, not ours */
	if (sigemptyset(&none) != 0 || sigemptyset(&def) != 0 || sigaddset(&def, SIGPIPE) != 0) {
		errf(err, errlen, "sigemptyset: %s", strerror(errno));
		return false;
	}
	int rc = posix_spawnattr_init(&attr);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&attr, &def);
	if (rc == 0) {
		char *argv[] = { "/bin/sh", "-c", (char *)r->on_ready, NULL };
		rc = posix_spawn(&child, "/bin/sh", NULL, &attr, argv, environ);
	}
	(void)posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errf(err, errlen, "--on-ready: %s", strerror(rc));
		return false;
	}
	r->ready_pid = (int)child;
	r->ready_fired = true;
	r->ready_at = now;
	return true;
}

static void reap_ready(struct run *r, uint64_t now)
{
	int status;

	if (r->ready_pid <= 0)
		return;
	pid_t p = waitpid(r->ready_pid, &status, WNOHANG);
	if (p == r->ready_pid) {
		r->ready_status = status;
		r->ready_pid = -1;
		begin_stop(r, now);
	}
}

static void on_signal(struct run *r, uint64_t now)
{
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(r->sigfd, &si, sizeof si);
		if (n != (ssize_t)sizeof si)
			return; /* EAGAIN: all read */
		if (si.ssi_signo == SIGCHLD) {
			reap_ready(r, now);
		} else if (r->stopping) {
			abort_all(r); /* a second interrupt: give up on the stragglers */
		} else {
			begin_stop(r, now);
		}
	}
}

/* ---- the progress line ---- */

static void progress(struct run *r, uint64_t now)
{
	const struct stats *s = &r->st;
	double el = (double)(now - r->t0) / 1e9;
	uint64_t last = s->cur > 0 ? s->rows[s->cur - 1].done : 0;

	(void)fprintf(stderr, "\r\033[K%7.1fs  conns %llu  done %llu (%llu/s)  failed %llu", el,
		      (unsigned long long)s->conns, (unsigned long long)s->done, (unsigned long long)last,
		      (unsigned long long)s->failed);
	if (r->holding)
		(void)fprintf(stderr, "  holding %llu", (unsigned long long)r->holding);
	if (r->stopping)
		(void)fprintf(stderr, "  (finishing)");
	(void)fflush(stderr);
}

bool run_loop(struct run *r, char *err, size_t errlen)
{
	struct epoll_event evs[256];
	size_t last_second = 0;
	/* after the end, sessions under way get the reply timeout plus a
	 * margin to finish, then they are aborted (never counted as done) */
	uint64_t grace = r->w->timeout_ns + 2 * NS_PER_S;

	for (;;) {
		uint64_t now = now_ns();
		if (!r->stopping) {
			bool ready_running = r->ready_pid > 0;
			if ((now >= r->end && !ready_running) ||
			    (r->w->max_errors && r->st.failed >= r->w->max_errors))
				begin_stop(r, now);
		}
		while (r->hlen > 0 && r->heap[0].when <= now) {
			struct heap_entry e = heap_pop(r);
			struct client *c = &r->clients[e.idx];
			if (e.seq == c->dl_seq)
				client_deadline(r, c, now);
		}
		if (r->oom) {
			errf(err, errlen, "out of memory");
			abort_all(r);
			return false;
		}
		if (r->on_ready && !r->ready_fired && !r->stopping && r->holding == r->nclients &&
		    !spawn_ready(r, now, err, errlen)) {
			abort_all(r);
			return false;
		}
		if ((r->stopping || (r->w->max_blocks && r->blocks >= r->w->max_blocks)) && all_off(r))
			break;
		if (r->stopping && now - r->stop_at > grace) {
			abort_all(r);
			break;
		}

		uint64_t next = r->hlen > 0 ? r->heap[0].when : UINT64_MAX;
		uint64_t second = r->t0 + (uint64_t)(r->st.cur + 1) * NS_PER_S;
		if (second < next)
			next = second;
		if (!r->stopping && r->end < next)
			next = r->end;
		int timeout = next <= now ? 0 : (int)((next - now + NS_PER_MS - 1) / NS_PER_MS);
		if (timeout > 1000)
			timeout = 1000;
		int n = epoll_wait(r->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			errf(err, errlen, "epoll_wait: %s", strerror(errno));
			abort_all(r);
			return false;
		}
		now = now_ns();
		if (!stats_advance(&r->st, now)) {
			errf(err, errlen, "out of memory");
			abort_all(r);
			return false;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_signal(r, now);
			else
				client_io(r, evs[i].data.ptr, evs[i].events, now);
		}
		if (r->progress && r->st.cur != last_second) {
			last_second = r->st.cur;
			progress(r, now);
		}
	}
	if (r->progress)
		(void)fprintf(stderr, "\r\033[K");
	/* a command still measuring when the run was cut short is waited
	 * for: its figures belong to this run */
	if (r->ready_pid > 0) {
		int status;
		while (waitpid(r->ready_pid, &status, 0) < 0) {
			if (errno != EINTR) {
				errf(err, errlen, "waitpid: %s", strerror(errno));
				return false;
			}
		}
		r->ready_status = status;
		r->ready_pid = -1;
	}
	if (!stats_finish(&r->st, now_ns())) {
		errf(err, errlen, "out of memory");
		return false;
	}
	return true;
}
