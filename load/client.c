/*
 * client.c - one simulated client's blocks, see client.h.  The workload
 * scripts (which command follows which reply) are in advance(); every
 * check of what the server sent is in handle_reply() and reply.c.
 */
#include "client.h"
#include "run.h"
#include "util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* One read buffer for every client: the loop is single-threaded and a
 * reply's octets are consumed (counted, checked) before the next read. */
static char rbuf[256 * 1024];

/* LIST may not make us allocate without bound: a hostile or broken
 * server could claim message 4000000000. */
#define MAX_LISTED 50000000u

/* Workload phases after the login (phases 0-2 are the login itself). */
enum {
	PH_GREETED = 0, PH_USER_SENT = 1, PH_LOGGED_IN = 2,
	PH_FLOW_LIST = 10, PH_FLOW_RETR, PH_FLOW_QUIT,
	PH_POP_STAT = 20, PH_POP_LIST, PH_POP_IDLE, PH_POP_LOOP, PH_POP_DELE, PH_POP_NEXT,
	PH_PIPE_LIST = 30, PH_PIPE_BURST,
	PH_IDLE_ENTER = 40, PH_IDLE_HOLD,
	PH_QUIT_SENT = 99
};

static void fail(struct run *r, struct client *c, enum err_kind k, uint64_t now, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void advance(struct run *r, struct client *c, uint64_t now);
static void next_block(struct run *r, struct client *c, uint64_t now);

bool client_init(struct run *r, struct client *c, unsigned id, uint64_t start)
{
	const struct workload *w = r->w;
	uint64_t n = w->num_logins ? w->num_logins : w->clients;

	memset(c, 0, sizeof *c);
	c->id = id;
	c->fd = -1;
	c->st = CS_WAIT;
	/* logins are shared out in slices, so two clients never use the same
	 * login at once while there are enough (a maildrop admits one
	 * session); sizes differ by at most one */
	if (n >= w->clients) {
		uint64_t base = n / w->clients, extra = n % w->clients;
		c->slice_lo = w->first_login + base * id + (id < extra ? id : extra);
		c->slice_n = base + (id < extra ? 1 : 0);
	} else {
		c->slice_lo = w->first_login + id % n;
		c->slice_n = 1;
	}
	c->rng = w->seed ^ (0x9E3779B97F4A7C15ULL * (id + 1));
	for (int i = 0; i < 4; i++)
		(void)rng_next(&c->rng);
	c->first_wake = start;
	run_schedule(r, c, start, false);
	return true;
}

void client_free(struct client *c)
{
	if (c->fd >= 0)
		(void)close(c->fd); /* the run is over; nothing depends on it */
	c->fd = -1;
	free(c->q);
	free(c->out);
	free(c->sizes);
}

bool client_busy(const struct client *c)
{
	return c->st == CS_CONNECTING || c->st == CS_ACTIVE || c->st == CS_PAUSE || c->st == CS_CLOSING;
}

/* ---- output and the queue of awaited replies ---- */

static bool out_add(struct client *c, const char *s, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 512;
		while (cap < c->out_len + n)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (p == NULL)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return true;
}

static struct pending *q_front(struct client *c)
{
	return c->qlen ? &c->q[c->qhead] : NULL;
}

static bool q_push(struct client *c, const struct pending *p)
{
	if (c->qhead + c->qlen == c->qcap) {
		if (c->qhead > 0) {
			memmove(c->q, c->q + c->qhead, c->qlen * sizeof *c->q);
			c->qhead = 0;
		} else {
			size_t cap = c->qcap ? c->qcap * 2 : 8;
			struct pending *q = realloc(c->q, cap * sizeof *q);
			if (q == NULL)
				return false;
			c->q = q;
			c->qcap = cap;
		}
	}
	c->q[c->qhead + c->qlen++] = *p;
	return true;
}

static void q_pop(struct client *c)
{
	c->qhead++;
	if (--c->qlen == 0)
		c->qhead = 0;
}

/* Write what is queued; EPOLLOUT only while something is left. */
static bool flush(struct run *r, struct client *c, uint64_t now)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (run_watch(r, c, EPOLLIN | EPOLLOUT))
					return true;
				fail(r, c, EK_RESET, now, "epoll: %s", strerror(errno));
				return false;
			}
			fail(r, c, EK_RESET, now, "write: %s", strerror(errno));
			return false;
		}
		c->out_off += (size_t)n;
		c->last_io = now;
	}
	c->out_off = c->out_len = 0;
	if (!run_watch(r, c, EPOLLIN)) {
		fail(r, c, EK_RESET, now, "epoll: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Queue one command (text without CRLF) and the reply it awaits.
 * counts_try: this command starts a try of its timer (PASS does not: the
 * login try started with USER). */
static bool queue_cmd(struct run *r, struct client *c, enum cmd cmd, enum timer_id t, bool counts_try,
		      uint32_t msg, const char *text, uint64_t now)
{
	size_t len = strlen(text);
	struct pending p = { cmd, t, true, msg, now };

	if (cmd == C_USER)
		p.timed = false;
	if (cmd == C_PASS)
		p.t_start = c->t_login;
	if (!out_add(c, text, len) || !out_add(c, "\r\n", 2) || !q_push(c, &p)) {
		r->oom = true;
		fail(r, c, EK_RESET, now, "out of memory");
		return false;
	}
	if (counts_try)
		stats_try(&r->st, t);
	/* after a pause the one deadline was a wake-up: replies are awaited
	 * again, so it becomes the no-progress timeout */
	if (!c->dl_timeout) {
		c->last_io = now;
		run_schedule(r, c, now + r->w->timeout_ns, true);
	}
	stats_bytes(&r->st, t, 0, len + 2);
	return true;
}

static bool send_cmd(struct run *r, struct client *c, enum cmd cmd, enum timer_id t, bool counts_try,
		     uint32_t msg, const char *text, uint64_t now)
{
	if (!queue_cmd(r, c, cmd, t, counts_try, msg, text, now))
		return false;
	c->cur_timer = t;
	return flush(r, c, now);
}

/* ---- the end of a block ---- */

static void drop_connection(struct run *r, struct client *c)
{
	if (c->fd < 0)
		return;
	run_unwatch(r, c);
	if (close(c->fd) != 0)
		run_log_error(r, c, "close: %s", strerror(errno));
	c->fd = -1;
	if (c->st != CS_CONNECTING)
		stats_conn(&r->st, -1);
}

static void leave_hold(struct run *r, struct client *c)
{
	if (c->holding) {
		c->holding = false;
		r->holding--;
	}
}

static void fail(struct run *r, struct client *c, enum err_kind k, uint64_t now, const char *fmt, ...)
{
	char why[600];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	run_log_error(r, c, "%s error in %s: %s", err_names[k], timer_names[c->cur_timer], why);
	stats_error(&r->st, c->cur_timer, k);
	stats_session_failed(&r->st);
	leave_hold(r, c);
	drop_connection(r, c);
	next_block(r, c, now);
}

static void session_done(struct run *r, struct client *c, uint64_t now)
{
	stats_time(&r->st, TM_LOGOUT, now - c->t_quit);
	if (!stats_session_done(&r->st, now, now - c->t_block))
		r->oom = true;
	r->st.deleted += c->dele_pending;
	drop_connection(r, c);
	next_block(r, c, now);
}

/* ---- starting a block ---- */

static void connected(struct run *r, struct client *c, uint64_t now)
{
	struct pending p = { C_BANNER, TM_BANNER, true, 0, now };

	stats_time(&r->st, TM_CONNECT, now - c->t_connect);
	stats_conn(&r->st, +1);
	c->st = CS_ACTIVE;
	c->cur_timer = TM_BANNER;
	stats_try(&r->st, TM_BANNER);
	if (!q_push(c, &p)) {
		r->oom = true;
		fail(r, c, EK_RESET, now, "out of memory");
		return;
	}
	c->last_io = now;
	/* the connect timeout's heap entry stays: when it fires it finds
	 * the last progress and re-arms (one heap push per session saved) */
	if (!run_watch(r, c, EPOLLIN))
		fail(r, c, EK_RESET, now, "epoll: %s", strerror(errno));
}

/* Mailstone: sequential logins go in order through the client's share,
 * otherwise each block picks one of the share at random. */
static uint64_t pick_login(const struct workload *w, struct client *c)
{
	if (c->slice_n <= 1)
		return c->slice_lo;
	if (w->sequential)
		return c->slice_lo + (c->seq_next++ % c->slice_n);
	return c->slice_lo + rng_below(&c->rng, c->slice_n);
}

static void block_begin(struct run *r, struct client *c, uint64_t now)
{
	const struct workload *w = r->w;
	int one = 1;

	if (c->stopping || !run_may_start(r)) {
		c->st = CS_OFF;
		return;
	}
	r->blocks++;
	c->sec = run_pick(r, &c->rng);
	c->login = pick_login(w, c);
	c->phase = PH_GREETED;
	c->rp_started = false;
	c->qhead = c->qlen = 0;
	c->out_len = c->out_off = 0;
	c->stat_count = c->stat_octets = 0;
	c->nsizes = 0;
	c->listed = false;
	c->loop = c->got = c->got_octets = c->dele_pending = 0;
	c->t_block = c->t_connect = now;
	c->last_io = now;
	c->cur_timer = TM_CONNECT;
	stats_session_start(&r->st);
	stats_try(&r->st, TM_CONNECT);
	c->st = CS_CONNECTING;
	if (!format_login(c->user, sizeof c->user, w->login_fmt, c->login) ||
	    !format_login(c->pass, sizeof c->pass, w->passwd_fmt, c->login)) {
		fail(r, c, EK_LOGIN, now, "login %llu does not fit loginFormat/passwdFormat",
		     (unsigned long long)c->login);
		return;
	}
	c->fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(r, c, EK_CONNECT, now, "socket: %s", strerror(errno));
		return;
	}
	/* each command waits for its reply: Nagle would only add delay to a
	 * pipelined burst written in pieces */
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
		fail(r, c, EK_CONNECT, now, "TCP_NODELAY: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&r->addr, r->addrlen) == 0) {
		connected(r, c, now);
		return;
	}
	if (errno != EINPROGRESS) {
		fail(r, c, EK_CONNECT, now, "connect: %s", strerror(errno));
		return;
	}
	if (!run_watch(r, c, EPOLLOUT)) {
		fail(r, c, EK_CONNECT, now, "epoll: %s", strerror(errno));
		return;
	}
	run_schedule(r, c, now + w->timeout_ns, true);
}

static void next_block(struct run *r, struct client *c, uint64_t now)
{
	/* whatever reply was half read belongs to the connection just gone */
	c->rp_started = false;
	c->qhead = c->qlen = 0;
	c->out_len = c->out_off = 0;
	if (c->stopping || !run_may_start(r)) {
		c->st = CS_OFF;
		run_schedule(r, c, UINT64_MAX, false); /* cancels any pending wake-up */
		return;
	}
	uint64_t wake = now + c->sec->block_ns;
	/* the flow repeats once per interval; a flow that took longer is
	 * followed at once (it must complete before the next begins) */
	if (c->sec->interval_ns && c->t_block + c->sec->interval_ns > wake)
		wake = c->t_block + c->sec->interval_ns;
	c->st = CS_WAIT;
	run_schedule(r, c, wake, false);
}

/* ---- pauses (idleTime, loopDelay, IDLE's hold) ---- */

static void pause_for(struct run *r, struct client *c, uint64_t now, uint64_t len)
{
	c->st = CS_PAUSE;
	c->t_pause = now;
	c->cur_timer = TM_IDLE;
	stats_try(&r->st, TM_IDLE);
	run_schedule(r, c, len == UINT64_MAX || now > UINT64_MAX - len ? UINT64_MAX : now + len, false);
}

static void pause_end(struct run *r, struct client *c, uint64_t now)
{
	stats_time(&r->st, TM_IDLE, now - c->t_pause);
	c->st = CS_ACTIVE;
	advance(r, c, now);
}

/* ---- LIST lines ---- */

static bool parse_num(const char **p, uint64_t *v)
{
	uint64_t x = 0;
	int digits = 0;

	while (**p >= '0' && **p <= '9') {
		if (++digits > 18)
			return false;
		x = x * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	*v = x;
	return digits > 0;
}

static bool on_list_line(void *ctx, const char *line, size_t len)
{
	struct client *c = ctx;
	const char *p = line;
	uint64_t n, size;

	(void)len;
	if (!parse_num(&p, &n) || *p != ' ' || n == 0 || n > MAX_LISTED)
		return false;
	p++;
	if (!parse_num(&p, &size) || (*p != '\0' && *p != ' '))
		return false;
	if (n > c->capsizes) {
		size_t cap = c->capsizes ? c->capsizes : 16;
		while (cap < n)
			cap *= 2;
		uint64_t *s = realloc(c->sizes, cap * sizeof *s);
		if (s == NULL)
			return false;
		c->sizes = s;
		c->capsizes = cap;
	}
	for (size_t i = c->nsizes; i < n; i++)
		c->sizes[i] = UINT64_MAX;
	if (n > c->nsizes)
		c->nsizes = n;
	c->sizes[n - 1] = size;
	return true;
}

static uint64_t listed_size(const struct client *c, uint64_t msg)
{
	return msg >= 1 && msg <= c->nsizes ? c->sizes[msg - 1] : UINT64_MAX;
}

/* ---- what each reply must be ---- */

/* False if the reply ended the block (an error, already counted). */
static bool handle_reply(struct run *r, struct client *c, const struct pending *p, uint64_t now)
{
	const struct reply *rp = &c->rp;
	uint64_t dur = now - p->t_start, octets;

	if (!rp->ok) {
		bool login = p->cmd == C_USER || p->cmd == C_PASS || p->cmd == C_AUTH;
		fail(r, c, login ? EK_LOGIN : EK_NEGATIVE, now, "%s (user %s)", rp->status, c->user);
		return false;
	}
	switch (p->cmd) {
	case C_BANNER:
		stats_time(&r->st, TM_BANNER, dur);
		break;
	case C_USER:
		break;
	case C_PASS:
	case C_AUTH:
		stats_time(&r->st, TM_LOGIN, dur);
		r->st.logins_ok++;
		break;
	case C_STAT: {
		const char *s = rp->status + 3;
		if (*s++ != ' ' || !parse_num(&s, &c->stat_count) || *s++ != ' ' ||
		    !parse_num(&s, &c->stat_octets) || (*s != '\0' && *s != ' ')) {
			fail(r, c, EK_PROTOCOL, now, "STAT: '%s' is not '+OK count octets'", rp->status);
			return false;
		}
		stats_time(&r->st, TM_COMMAND, dur);
		break;
	}
	case C_LIST:
		c->listed = true;
		stats_time(&r->st, TM_COMMAND, dur);
		break;
	case C_RETR: {
		uint64_t listed = listed_size(c, p->msg);
		if (reply_status_octets(rp, &octets) && octets != rp->body_octets) {
			fail(r, c, EK_SIZE, now, "RETR %u: '+OK %llu octets' but %llu octets sent", p->msg,
			     (unsigned long long)octets, (unsigned long long)rp->body_octets);
			return false;
		}
		if (c->listed && listed != UINT64_MAX && listed != rp->body_octets) {
			fail(r, c, EK_SIZE, now, "RETR %u: LIST said %llu octets, %llu sent", p->msg,
			     (unsigned long long)listed, (unsigned long long)rp->body_octets);
			return false;
		}
		stats_time(&r->st, TM_RETRIEVE, dur);
		stats_retrieved(&r->st, rp->body_octets);
		c->got++;
		c->got_octets += rp->body_octets;
		break;
	}
	case C_DELE:
		c->dele_pending++;
		stats_time(&r->st, TM_COMMAND, dur);
		break;
	case C_NOOP:
		stats_time(&r->st, TM_COMMAND, dur);
		break;
	case C_QUIT:
		/* the logout timer runs on until the server closes */
		c->st = CS_CLOSING;
		c->cur_timer = TM_LOGOUT;
		break;
	}
	return true;
}

/* ---- the workload scripts ---- */

static void send_quit(struct run *r, struct client *c, uint64_t now)
{
	/* every message of the maildrop fetched: their sum must be STAT's */
	if (c->stat_count > 0 && c->got == c->stat_count && c->got_octets != c->stat_octets) {
		fail(r, c, EK_SIZE, now, "STAT said %llu octets, the %llu messages were %llu",
		     (unsigned long long)c->stat_octets, (unsigned long long)c->got,
		     (unsigned long long)c->got_octets);
		return;
	}
	c->phase = PH_QUIT_SENT;
	c->t_quit = now;
	(void)send_cmd(r, c, C_QUIT, TM_LOGOUT, true, 0, "QUIT", now);
}

static void send_num(struct run *r, struct client *c, enum cmd cmd, enum timer_id t, uint64_t msg, bool flush_now,
		     uint64_t now)
{
	char text[40];

	(void)snprintf(text, sizeof text, "%s %llu", cmd == C_RETR ? "RETR" : "DELE", (unsigned long long)msg);
	if (flush_now)
		(void)send_cmd(r, c, cmd, t, true, (uint32_t)msg, text, now);
	else
		(void)queue_cmd(r, c, cmd, t, true, (uint32_t)msg, text, now);
}

static void login(struct run *r, struct client *c, uint64_t now)
{
	char text[300];

	c->t_login = now;
	if (c->sec->auth_plain) {
		/* RFC 5034 initial response: authzid empty, authcid, password */
		unsigned char raw[520];
		char b64[700];
		size_t ul = strlen(c->user), pl = strlen(c->pass);
		if (ul + pl + 2 > sizeof raw) {
			fail(r, c, EK_LOGIN, now, "user and password too long for AUTH PLAIN");
			return;
		}
		raw[0] = '\0';
		memcpy(raw + 1, c->user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, c->pass, pl);
		if (!base64_encode(b64, sizeof b64, raw, ul + pl + 2)) {
			fail(r, c, EK_LOGIN, now, "AUTH PLAIN response too long");
			return;
		}
		explicit_bzero(raw, sizeof raw);
		char *cmd = malloc(strlen(b64) + 16);
		if (cmd == NULL) {
			r->oom = true;
			fail(r, c, EK_RESET, now, "out of memory");
			return;
		}
		(void)snprintf(cmd, strlen(b64) + 16, "AUTH PLAIN %s", b64);
		c->phase = PH_LOGGED_IN;
		(void)send_cmd(r, c, C_AUTH, TM_LOGIN, true, 0, cmd, now);
		free(cmd);
		return;
	}
	(void)snprintf(text, sizeof text, "USER %s", c->user);
	c->phase = PH_USER_SENT;
	(void)send_cmd(r, c, C_USER, TM_LOGIN, true, 0, text, now);
}

static uint64_t loops_wanted(const struct client *c, uint64_t available)
{
	return c->sec->num_loops < available ? c->sec->num_loops : available;
}

static void advance(struct run *r, struct client *c, uint64_t now)
{
	const struct wl_section *s = c->sec;
	char text[300];

	switch (c->phase) {
	case PH_GREETED:
		login(r, c, now);
		return;
	case PH_USER_SENT:
		(void)snprintf(text, sizeof text, "PASS %s", c->pass);
		c->phase = PH_LOGGED_IN;
		(void)send_cmd(r, c, C_PASS, TM_LOGIN, false, 0, text, now);
		return;
	case PH_LOGGED_IN:
		switch (s->kind) {
		case WL_FLOW:
			c->phase = PH_FLOW_LIST;
			(void)send_cmd(r, c, C_LIST, TM_COMMAND, true, 0, "LIST", now);
			return;
		case WL_POP3:
			c->phase = PH_POP_STAT;
			(void)send_cmd(r, c, C_STAT, TM_COMMAND, true, 0, "STAT", now);
			return;
		case WL_PIPELINE:
			c->phase = PH_PIPE_LIST;
			(void)send_cmd(r, c, C_LIST, TM_COMMAND, true, 0, "LIST", now);
			return;
		case WL_IDLE:
			c->phase = PH_IDLE_ENTER;
			advance(r, c, now);
			return;
		case WL_KINDS:
			break;
		}
		return;

	case PH_FLOW_LIST:
		if (listed_size(c, s->retr_msg) == UINT64_MAX) {
			c->cur_timer = TM_RETRIEVE;
			fail(r, c, EK_SIZE, now, "LIST does not show message %llu", (unsigned long long)s->retr_msg);
			return;
		}
		c->phase = PH_FLOW_RETR;
		send_num(r, c, C_RETR, TM_RETRIEVE, s->retr_msg, true, now);
		return;
	case PH_FLOW_RETR:
		send_quit(r, c, now);
		return;

	case PH_POP_STAT:
		c->phase = PH_POP_LIST;
		if (s->list_first) {
			(void)send_cmd(r, c, C_LIST, TM_COMMAND, true, 0, "LIST", now);
			return;
		}
		/* fall through */
	case PH_POP_LIST:
		c->phase = PH_POP_IDLE;
		if (s->idle_ns && !c->stopping) {
			pause_for(r, c, now, s->idle_ns);
			return;
		}
		/* fall through */
	case PH_POP_IDLE:
	case PH_POP_LOOP:
		if (!c->stopping && c->loop < loops_wanted(c, c->stat_count)) {
			c->phase = PH_POP_DELE;
			send_num(r, c, C_RETR, TM_RETRIEVE, c->loop + 1, true, now);
			return;
		}
		send_quit(r, c, now);
		return;
	case PH_POP_DELE:
		c->phase = PH_POP_NEXT;
		if (!s->leave_mail) {
			send_num(r, c, C_DELE, TM_COMMAND, c->loop + 1, true, now);
			return;
		}
		/* fall through */
	case PH_POP_NEXT:
		c->loop++;
		c->phase = PH_POP_LOOP;
		if (s->loop_delay_ns && !c->stopping && c->loop < loops_wanted(c, c->stat_count)) {
			pause_for(r, c, now, s->loop_delay_ns);
			return;
		}
		advance(r, c, now);
		return;

	case PH_PIPE_LIST: {
		/* every command at once, without waiting (the flow's "Wait for
		 * Response" cleared); replies are matched in order */
		uint64_t k = loops_wanted(c, c->nsizes);
		c->phase = PH_QUIT_SENT;
		for (uint64_t m = 1; m <= k; m++) {
			if (listed_size(c, m) == UINT64_MAX)
				continue; /* a number LIST skipped (deleted by another session) */
			send_num(r, c, C_RETR, TM_RETRIEVE, m, false, now);
			if (c->st != CS_ACTIVE)
				return;
			if (!s->leave_mail) {
				send_num(r, c, C_DELE, TM_COMMAND, m, false, now);
				if (c->st != CS_ACTIVE)
					return;
			}
		}
		c->t_quit = now;
		if (!queue_cmd(r, c, C_QUIT, TM_LOGOUT, true, 0, "QUIT", now))
			return;
		c->cur_timer = q_front(c)->timer;
		(void)flush(r, c, now);
		return;
	}

	case PH_IDLE_ENTER:
		c->holding = true;
		r->holding++;
		c->t_hold = now;
		c->next_noop = s->noop_ns ? now + s->noop_ns : UINT64_MAX;
		c->phase = PH_IDLE_HOLD;
		/* fall through */
	case PH_IDLE_HOLD: {
		uint64_t hold_end = s->hold_ns && c->t_hold <= UINT64_MAX - s->hold_ns ? c->t_hold + s->hold_ns
										   : UINT64_MAX;
		if (c->stopping || now >= hold_end) {
			leave_hold(r, c);
			send_quit(r, c, now);
			return;
		}
		if (now >= c->next_noop) {
			c->next_noop = now + s->noop_ns;
			(void)send_cmd(r, c, C_NOOP, TM_COMMAND, true, 0, "NOOP", now);
			return;
		}
		uint64_t until = hold_end < c->next_noop ? hold_end : c->next_noop;
		pause_for(r, c, now, until == UINT64_MAX ? UINT64_MAX : until - now);
		return;
	}
	case PH_QUIT_SENT:
		return;
	}
}

/* ---- events ---- */

/* Feed octets to the awaited replies; false once the block has ended. */
static bool consume(struct run *r, struct client *c, const char *buf, size_t len, uint64_t now)
{
	while (len > 0) {
		if (c->st == CS_CLOSING) {
			fail(r, c, EK_PROTOCOL, now, "%zu octets after the reply to QUIT", len);
			return false;
		}
		struct pending *p = q_front(c);
		if (p == NULL || c->st != CS_ACTIVE) {
			fail(r, c, EK_PROTOCOL, now, "%zu octets nobody asked for", len);
			return false;
		}
		if (!c->rp_started) {
			bool multi = p->cmd == C_LIST || p->cmd == C_RETR;
			reply_start(&c->rp, multi, p->cmd == C_LIST ? on_list_line : NULL, c);
			c->rp_started = true;
		}
		size_t used;
		enum reply_state rs = reply_feed(&c->rp, buf, len, &used);
		stats_bytes(&r->st, p->timer, used, 0);
		buf += used;
		len -= used;
		c->cur_timer = p->timer;
		if (rs == RS_MORE)
			continue;
		if (rs == RS_BAD) {
			fail(r, c, EK_PROTOCOL, now, "%s (after '%.80s')", c->rp.why, c->rp.status);
			return false;
		}
		c->rp_started = false;
		struct pending done = *p;
		q_pop(c);
		if (!handle_reply(r, c, &done, now))
			return false;
		if (c->qlen > 0) {
			/* pipelined: the next reply's time starts now at the latest */
			struct pending *next = q_front(c);
			if (next->t_start < now)
				next->t_start = now;
			c->cur_timer = next->timer;
			continue;
		}
		if (c->st == CS_CLOSING)
			continue;
		advance(r, c, now);
		if (c->st != CS_ACTIVE && c->st != CS_PAUSE && c->st != CS_CLOSING)
			return false;
	}
	return true;
}

static void readable(struct run *r, struct client *c, uint64_t now)
{
	int fd = c->fd;

	/* drain what is there: with level-triggered epoll a partial read
	 * would only cost another wake-up.  The clock is read again after
	 * every read but the first: a command sent while handling one chunk
	 * may be answered by the next, and its time must not be zero */
	for (bool first = true;; first = false) {
		ssize_t n = read(fd, rbuf, sizeof rbuf);
		if (!first)
			now = now_ns();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fail(r, c, EK_RESET, now, "read: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			if (c->st == CS_CLOSING && c->qlen == 0) {
				session_done(r, c, now);
			} else if (c->rp_started && reply_in_body(&c->rp)) {
				fail(r, c, EK_TRUNCATED, now, "connection closed after %llu octets of the reply, no terminator",
				     (unsigned long long)c->rp.body_octets);
			} else {
				fail(r, c, EK_CLOSED, now, "connection closed%s", c->st == CS_PAUSE ? " while idle" : "");
			}
			return;
		}
		c->last_io = now;
		if (!consume(r, c, rbuf, (size_t)n, now) || c->fd != fd)
			return;
	}
}

void client_io(struct run *r, struct client *c, uint32_t events, uint64_t now)
{
	if (c->fd < 0)
		return;
	if (c->st == CS_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			fail(r, c, EK_CONNECT, now, "connect: %s", strerror(err));
			return;
		}
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		connected(r, c, now);
		return;
	}
	int fd = c->fd;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		readable(r, c, now);
		if (c->fd != fd)
			return;
	}
	if ((events & EPOLLOUT) && c->out_off < c->out_len)
		(void)flush(r, c, now);
}

void client_deadline(struct run *r, struct client *c, uint64_t now)
{
	switch (c->st) {
	case CS_WAIT:
		block_begin(r, c, now);
		return;
	case CS_PAUSE:
		pause_end(r, c, now);
		return;
	case CS_CONNECTING:
	case CS_ACTIVE:
	case CS_CLOSING:
		/* the timeout counts from the last progress, so a long RETR
		 * that keeps moving never times out */
		if (now - c->last_io >= r->w->timeout_ns) {
			fail(r, c, c->st == CS_CONNECTING ? EK_CONNECT : EK_TIMEOUT, now,
			     "no progress for %.1f s", (double)(now - c->last_io) / 1e9);
			return;
		}
		run_schedule(r, c, c->last_io + r->w->timeout_ns, true);
		return;
	case CS_OFF:
		return;
	}
}

void client_stop(struct run *r, struct client *c, uint64_t now)
{
	c->stopping = true;
	if (c->st == CS_WAIT) {
		c->st = CS_OFF;
		run_schedule(r, c, UINT64_MAX, false);
	} else if (c->st == CS_PAUSE) {
		pause_end(r, c, now);
	}
}

void client_abort(struct run *r, struct client *c)
{
	if (client_busy(c))
		r->st.aborted++;
	leave_hold(r, c);
	drop_connection(r, c);
	c->st = CS_OFF;
	run_schedule(r, c, UINT64_MAX, false);
}
