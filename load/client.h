/*
 * client.h - one simulated POP3 client: a small state machine that runs
 * blocks (sessions) of the workload one after another on a non-blocking
 * socket.  The event loop (run.c) hands it readiness, deadlines and the
 * end of the run; everything it measures goes to struct stats.
 *
 * A session counts as done only when every reply was checked, QUIT was
 * answered "+OK" and the server then closed the connection.
 */
#ifndef LOAD_CLIENT_H
#define LOAD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reply.h"
#include "stats.h"
#include "workload.h"

struct run;

enum cmd { C_BANNER, C_USER, C_PASS, C_AUTH, C_STAT, C_LIST, C_RETR, C_DELE, C_NOOP, C_QUIT };

/* A command sent (or the greeting awaited) whose reply has not come yet. */
struct pending {
	enum cmd cmd;
	enum timer_id timer;
	bool timed;     /* USER is part of the login try; PASS closes it */
	uint32_t msg;   /* RETR/DELE: the message number */
	uint64_t t_start;
};

enum cstate {
	CS_WAIT,       /* between blocks: the next starts at its deadline */
	CS_CONNECTING, /* connect(2) in progress */
	CS_ACTIVE,     /* replies awaited */
	CS_PAUSE,      /* idleTime, loopDelay or an IDLE hold */
	CS_CLOSING,    /* QUIT answered: waiting for the server to close */
	CS_OFF         /* the run is over for this client */
};

struct client {
	unsigned id;
	int fd;
	enum cstate st;
	const struct wl_section *sec;
	int phase;              /* where the block is (the workload's script) */
	bool stopping;          /* the run ends: skip pauses and loops, QUIT */
	bool holding;           /* counted in run->holding (IDLE's hold) */
	uint32_t events;        /* epoll events registered */

	uint64_t login;         /* this block's login number */
	uint64_t slice_lo, slice_n, seq_next; /* this client's share of the logins */
	uint64_t rng;
	char user[256], pass[256];

	uint64_t t_block;       /* block (session) start */
	uint64_t t_connect, t_login, t_pause, t_quit, t_hold, next_noop;
	enum timer_id cur_timer; /* where an error is charged */
	uint64_t last_io;       /* for the no-progress timeout */
	uint64_t deadline;      /* the one wake-up this client wants */
	uint32_t dl_seq;        /* heap entries with another seq are stale */
	bool dl_timeout;        /* the deadline is a timeout check, not a wake-up */

	struct pending *q;      /* replies awaited, in order */
	size_t qhead, qlen, qcap;
	struct reply rp;
	bool rp_started;

	char *out;              /* commands not yet written */
	size_t out_len, out_off, out_cap;

	uint64_t stat_count, stat_octets;
	uint64_t *sizes;        /* LIST: octets by message number - 1; UINT64_MAX unknown */
	size_t nsizes, capsizes;
	bool listed;
	uint64_t loop;          /* loops done in this block */
	uint64_t got, got_octets; /* messages retrieved in this block */
	uint64_t dele_pending;  /* DELE answered +OK, applied at QUIT */
	uint64_t first_wake;    /* when the first block may start (ramp) */
};

/* Set up client id (from 0) of n; its first block starts at `start`. */
bool client_init(struct run *r, struct client *c, unsigned id, uint64_t start);
void client_free(struct client *c);

/* Readiness from epoll. */
void client_io(struct run *r, struct client *c, uint32_t events, uint64_t now);
/* Its deadline passed. */
void client_deadline(struct run *r, struct client *c, uint64_t now);
/* The run is ending: no new blocks; pauses end now; IDLE holds QUIT. */
void client_stop(struct run *r, struct client *c, uint64_t now);
/* Give up at once (second interrupt, or the drain took too long). */
void client_abort(struct run *r, struct client *c);

/* True while a block is under way (the run waits for these to finish). */
bool client_busy(const struct client *c);

#endif
