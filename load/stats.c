/* stats.c - see stats.h. */
#include "stats.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const timer_names[TM_COUNT] = { "connect", "banner", "login", "command",
					    "retrieve", "logout", "idle", "total" };
const char *const err_names[EK_COUNT] = { "connect", "timeout", "closed", "truncated", "reset",
					  "login", "negative", "protocol", "size" };

bool stats_init(struct stats *s, uint64_t t0_ns, uint64_t ramp_ns)
{
	memset(s, 0, sizeof *s);
	for (int i = 0; i < TM_COUNT; i++) {
		s->t[i].hist = calloc(HIST_BUCKETS, sizeof *s->t[i].hist);
		if (s->t[i].hist == NULL) {
			stats_free(s);
			return false;
		}
		s->t[i].min_ns = UINT64_MAX;
	}
	s->t0_ns = t0_ns;
	s->ramp_end_ns = t0_ns + ramp_ns;
	s->caprows = 64;
	s->rows = calloc(s->caprows, sizeof *s->rows);
	if (s->rows == NULL) {
		stats_free(s);
		return false;
	}
	s->nrows = 1;
	return true;
}

void stats_free(struct stats *s)
{
	for (int i = 0; i < TM_COUNT; i++) {
		free(s->t[i].hist);
		s->t[i].hist = NULL;
	}
	free(s->rows);
	free(s->samples);
	s->rows = NULL;
	s->samples = NULL;
}

static unsigned bucket_of(uint64_t us)
{
	if (us < HIST_SUB)
		return (unsigned)us;
	unsigned e = 63u - (unsigned)__builtin_clzll(us); /* >= HIST_SUB_BITS */
	uint64_t m = us >> (e - HIST_SUB_BITS);            /* in [HIST_SUB, 2*HIST_SUB) */
	return (e - HIST_SUB_BITS + 1) * HIST_SUB + (unsigned)(m - HIST_SUB);
}

/* The middle of a bucket, in microseconds. */
static double bucket_mid(unsigned b)
{
	if (b < HIST_SUB)
		return (double)b + 0.5;
	unsigned e = b / HIST_SUB + HIST_SUB_BITS - 1;
	uint64_t m = HIST_SUB + b % HIST_SUB;
	double width = ldexp(1.0, (int)(e - HIST_SUB_BITS));
	return (double)m * width + width / 2;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double exact_pct_ms(const uint32_t *v, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);
	if (rank == 0)
		rank = 1;
	return (double)v[rank - 1] / 1000.0;
}

/* Close the current row: its percentiles from the kept samples. */
static void close_row(struct stats *s)
{
	struct second_row *r = &s->rows[s->cur];

	r->conns_end = s->conns;
	if (s->nsamples > 0) {
		qsort(s->samples, s->nsamples, sizeof *s->samples, cmp_u32);
		r->p50_ms = exact_pct_ms(s->samples, s->nsamples, 0.50);
		r->p90_ms = exact_pct_ms(s->samples, s->nsamples, 0.90);
		r->p99_ms = exact_pct_ms(s->samples, s->nsamples, 0.99);
	}
	s->nsamples = 0;
}

bool stats_advance(struct stats *s, uint64_t now)
{
	size_t want = now > s->t0_ns ? (size_t)((now - s->t0_ns) / NS_PER_S) : 0;

	while (s->cur < want) {
		close_row(s);
		if (s->nrows == s->caprows) {
			size_t cap = s->caprows * 2;
			struct second_row *rows = realloc(s->rows, cap * sizeof *rows);
			if (rows == NULL)
				return false;
			s->rows = rows;
			s->caprows = cap;
		}
		s->cur++;
		memset(&s->rows[s->cur], 0, sizeof s->rows[s->cur]);
		s->rows[s->cur].conns_max = s->conns;
		s->nrows = s->cur + 1;
	}
	return true;
}

void stats_try(struct stats *s, enum timer_id t)
{
	s->t[t].tries++;
}

void stats_time(struct stats *s, enum timer_id t, uint64_t ns)
{
	struct timer_stats *ts = &s->t[t];
	double x = (double)ns;

	ts->n++;
	double d = x - ts->mean;
	ts->mean += d / (double)ts->n;
	ts->m2 += d * (x - ts->mean);
	if (ns < ts->min_ns)
		ts->min_ns = ns;
	if (ns > ts->max_ns)
		ts->max_ns = ns;
	ts->hist[bucket_of(ns / NS_PER_US)]++;
}

void stats_bytes(struct stats *s, enum timer_id t, uint64_t in, uint64_t out)
{
	s->t[t].bytes_in += in;
	s->t[t].bytes_out += out;
	s->t[TM_TOTAL].bytes_in += t == TM_TOTAL ? 0 : in;
	s->t[TM_TOTAL].bytes_out += t == TM_TOTAL ? 0 : out;
	s->rows[s->cur].bytes_in += in;
	s->rows[s->cur].bytes_out += out;
}

void stats_error(struct stats *s, enum timer_id t, enum err_kind k)
{
	s->t[t].errors++;
	s->errors[k]++;
}

void stats_conn(struct stats *s, int delta)
{
	if (delta > 0) {
		s->conns++;
		s->conns_total++;
	} else if (s->conns > 0) {
		s->conns--;
	}
	if (s->conns > s->rows[s->cur].conns_max)
		s->rows[s->cur].conns_max = s->conns;
}

void stats_session_start(struct stats *s)
{
	s->started++;
	s->t[TM_TOTAL].tries++;
	s->rows[s->cur].started++;
}

bool stats_session_done(struct stats *s, uint64_t now, uint64_t duration_ns)
{
	s->done++;
	if (now >= s->ramp_end_ns)
		s->done_after_ramp++;
	s->rows[s->cur].done++;
	stats_time(s, TM_TOTAL, duration_ns);
	if (s->nsamples == s->capsamples) {
		size_t cap = s->capsamples ? s->capsamples * 2 : 1024;
		uint32_t *v = realloc(s->samples, cap * sizeof *v);
		if (v == NULL)
			return false;
		s->samples = v;
		s->capsamples = cap;
	}
	uint64_t us = duration_ns / NS_PER_US;
	s->samples[s->nsamples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return true;
}

void stats_session_failed(struct stats *s)
{
	s->failed++;
	s->t[TM_TOTAL].errors++;
	s->rows[s->cur].failed++;
}

void stats_retrieved(struct stats *s, uint64_t octets)
{
	s->retrieved++;
	s->msg_octets += octets;
	s->rows[s->cur].retrieved++;
}

bool stats_finish(struct stats *s, uint64_t now)
{
	if (!stats_advance(s, now))
		return false;
	close_row(s);
	s->end_ns = now;
	return true;
}

double stats_std_ns(const struct timer_stats *t)
{
	return t->n > 1 ? sqrt(t->m2 / (double)(t->n - 1)) : 0.0;
}

uint64_t stats_percentile_ns(const struct timer_stats *t, double q)
{
	if (t->n == 0)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)t->n), acc = 0;
	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		acc += t->hist[b];
		if (acc >= rank) {
			double us = bucket_mid(b);
			uint64_t ns = (uint64_t)(us * 1000.0);
			/* the bucket's middle may lie outside what was seen */
			if (ns < t->min_ns)
				ns = t->min_ns;
			if (ns > t->max_ns)
				ns = t->max_ns;
			return ns;
		}
	}
	return t->max_ns;
}
