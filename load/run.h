/*
 * run.h - the event loop of pop3-load: one process, one epoll set, a heap
 * of deadlines, the ramp, the end of the run (time, maxBlocks, maxErrors,
 * an interrupt, or the --on-ready command finishing), the progress line.
 */
#ifndef LOAD_RUN_H
#define LOAD_RUN_H

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stats.h"
#include "workload.h"

struct client;

struct heap_entry {
	uint64_t when;
	uint32_t idx, seq;
};

struct run {
	const struct workload *w;
	struct stats st;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int epfd, sigfd;
	struct client *clients;
	size_t nclients;
	struct heap_entry *heap;
	size_t hlen, hcap;
	uint64_t t0, end;        /* start, and when no new blocks start */
	uint64_t total_weight;
	uint64_t blocks;         /* blocks started */
	uint64_t holding;        /* clients in an IDLE hold */
	bool stopping, aborted;
	uint64_t stop_at;
	unsigned verbose;        /* error lines to print: 0 none; UINT_MAX all */
	unsigned printed;        /* error lines printed so far */
	bool progress;           /* a live line on stderr */
	const char *on_ready;    /* shell command once every client holds */
	int ready_pid;           /* 0: not started; -1: finished */
	int ready_status;        /* its wait status */
	bool ready_fired;
	uint64_t ready_at;
	bool oom;                /* an allocation failed: the run is unreliable */
};

/* Connect-time address, descriptors, clients; false with err set. */
bool run_setup(struct run *r, const struct workload *w, char *err, size_t errlen);
/* Run until done; false only if the loop itself failed (err set). */
bool run_loop(struct run *r, char *err, size_t errlen);
void run_free(struct run *r);

/* For client.c. */
void run_schedule(struct run *r, struct client *c, uint64_t when, bool timeout);
bool run_watch(struct run *r, struct client *c, uint32_t events);
void run_unwatch(struct run *r, struct client *c);
void run_log_error(struct run *r, const struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Pick this block's section by weight (uses the client's own rng). */
const struct wl_section *run_pick(struct run *r, uint64_t *rng);
/* May another block start now? */
bool run_may_start(struct run *r);

#endif
