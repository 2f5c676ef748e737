/*
 * report.h - the results of a run, as Mailstone gives them: a text report
 * (per timer: tries, errors, octets, times; then the rates), CSV files
 * (totals per timer, a summary, and a per-second time series) and a
 * self-contained HTML page with SVG graphs (html.c).
 */
#ifndef LOAD_REPORT_H
#define LOAD_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "stats.h"
#include "workload.h"

struct report {
	const struct workload *w;
	const struct stats *s;
	time_t started;      /* wall clock at the start, for the reader */
	double elapsed_s;    /* from the first client's start to the end */
	bool aborted;        /* interrupted twice, or the drain took too long */
	bool ready_used;     /* --on-ready was given */
	bool ready_ran;      /* ... and every client got ready, so it ran */
	int ready_status;    /* its wait status */
	const char *argv_line; /* the command line, for the record */
};

/* Derived figures used by every writer. */
double report_rate(const struct report *rp, double count);
double report_rate_after_ramp(const struct report *rp);
uint64_t report_errors(const struct report *rp);

bool report_text(const struct report *rp, FILE *f);
bool report_csv_totals(const struct report *rp, FILE *f);
bool report_csv_summary(const struct report *rp, FILE *f);
bool report_csv_time(const struct report *rp, FILE *f);
bool report_html(const struct report *rp, FILE *f);

/* Write results.txt, totals.csv, summary.csv, time.csv and results.html
 * into dir (created if missing).  False with err set. */
bool report_write_dir(const struct report *rp, const char *dir, char *err, size_t errlen);

#endif
