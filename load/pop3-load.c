/*
 * pop3-load - a Mailstone-style load generator for POP3 servers, and the
 * store preparation that gives a test a known starting point.
 *
 *   pop3-load [OPTIONS] [WORKLOAD] [NAME=VALUE...]     run a load test
 *   pop3-load prepare --maildir-root DIR [OPTIONS]     deliver mail, create users
 *
 * One process, one epoll loop, every simulated client a small state
 * machine (client.c).  See pop3-load(1).
 *
 * Exit status: 0 every session done and checked; 1 a session failed, none
 * was done, the run was aborted or --on-ready's command failed; 100 usage;
 * 111 the tool itself failed (address, descriptors, memory, report files).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prepare.h"
#include "report.h"
#include "run.h"
#include "util.h"
#include "workload.h"

#define VERSION "1.0"
#define EXIT_FAILED 1
#define EXIT_USAGE 100
#define EXIT_SYSTEM 111
#define DEFAULT_SHOWN_ERRORS 10

static const char usage_text[] =
	"Usage: pop3-load [OPTIONS] [WORKLOAD] [NAME=VALUE...]\n"
	"       pop3-load prepare --maildir-root DIR [PREPARE OPTIONS]\n"
	"\n"
	"Load-test a POP3 server the way Mailstone does: CLIENTS simulated clients run\n"
	"blocks of the workload for TIME, every reply is checked, and each step is timed.\n"
	"WORKLOAD is a workload file (see load/flow.workload) or a built-in one: flow\n"
	"(USER, PASS, LIST, RETR, QUIT: the \"POP3 LIST and RETR\" flow; the default),\n"
	"pop3 (Mailstone's POP3 steps: STAT, then RETR and DELE), pipeline (LIST, then\n"
	"every RETR at once) or idle (logged-in sessions held open).  NAME=VALUE sets any\n"
	"workload attribute (e.g. interval=0 leaveMailOnServer=1 numLoops=all\n"
	"loginFormat=u%d passwdFormat=secret%d authPlain=1) and overrides the file.\n"
	"\n"
	"  -s, --server HOST[:PORT]  server address (default 127.0.0.1; [::1]:110 for IPv6)\n"
	"  -p, --port PORT           port (default 110)\n"
	"  -l, --clients N           simulated clients (clientCount; default 1)\n"
	"  -t, --time DURATION       how long new blocks start (time; default 10s)\n"
	"  -r, --ramp DURATION       spread the clients' first connections over it (rampTime)\n"
	"  -b, --title TEXT          title of the report\n"
	"  -o, --output DIR          write results.txt, results.html, totals.csv, summary.csv\n"
	"                            and time.csv into DIR (created if missing)\n"
	"  -q, --quiet               no report on stdout, no progress line\n"
	"  -v, --verbose             print every error (default: the first 10)\n"
	"      --timeout DURATION    a reply that makes no progress for this long fails (30s)\n"
	"      --max-errors N        stop after N failed sessions (maxErrors)\n"
	"      --max-blocks N        start N blocks (sessions) in all, then stop (maxBlocks)\n"
	"      --on-ready COMMAND    once every client is logged in and idle, run COMMAND with\n"
	"                            /bin/sh; the run ends when it exits\n"
	"  -h, --help                this text\n"
	"  -V, --version             the version\n"
	"\n"
	"Prepare options (deliver N messages into M maildirs, create the users):\n"
	"      --maildir-root DIR    where <DIR>/<user>/{tmp,new,cur} are (required)\n"
	"      --users N             how many users (default 1)\n"
	"      --first-login N       the first login number (default 1)\n"
	"      --login-format FMT    user names; %d is the login number (default test%d)\n"
	"      --passwd-format FMT   passwords; %d is the login number (default test%d)\n"
	"      --messages N          messages per user (default 1)\n"
	"      --size LIST           comma-separated sizes, used in turn: flow (100 'Z'),\n"
	"                            mailstone (1k,5k,17k,20k,32k) or sizes like 1k, 25M\n"
	"                            (default flow)\n"
	"      --file PATH           deliver this file instead of generated text\n"
	"      --state FILE          create the users in this state file with pop3-admind\n"
	"      --scheme NAME         their hash scheme (default sha512crypt)\n"
	"      --admind PATH         the pop3-admind to run (default: beside pop3-load)\n"
	"      --users-file FILE     also write \"name:password\" lines to FILE\n"
	"      --fsync               fsync every message before linking it into new/\n"
	"\n"
	"Exit status: 0 every session done and checked, 1 errors (or nothing done),\n"
	"100 usage, 111 the tool failed.\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "pop3-load: ");
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fprintf(stderr, "\nTry 'pop3-load --help'.\n");
	exit(EXIT_USAGE);
}

/* ---- prepare ---- */

static void prep_progress(uint64_t done, uint64_t total)
{
	if (done == total || done % 100 == 0)
		(void)fprintf(stderr, "\rpop3-load: prepared %llu of %llu maildirs", (unsigned long long)done,
			      (unsigned long long)total);
	if (done == total)
		(void)fprintf(stderr, "\n");
}

static int cmd_prepare(int argc, char **argv)
{
	enum { O_ROOT = 256, O_USERS, O_FIRST, O_LFMT, O_PFMT, O_MSGS, O_SIZE, O_FILE, O_STATE, O_SCHEME,
	       O_ADMIND, O_UFILE, O_FSYNC, O_SEED };
	static const struct option opts[] = {
		{ "maildir-root", required_argument, NULL, O_ROOT }, { "users", required_argument, NULL, O_USERS },
		{ "first-login", required_argument, NULL, O_FIRST }, { "login-format", required_argument, NULL, O_LFMT },
		{ "passwd-format", required_argument, NULL, O_PFMT }, { "messages", required_argument, NULL, O_MSGS },
		{ "size", required_argument, NULL, O_SIZE },         { "file", required_argument, NULL, O_FILE },
		{ "state", required_argument, NULL, O_STATE },       { "scheme", required_argument, NULL, O_SCHEME },
		{ "admind", required_argument, NULL, O_ADMIND },     { "users-file", required_argument, NULL, O_UFILE },
		{ "fsync", no_argument, NULL, O_FSYNC },             { "seed", required_argument, NULL, O_SEED },
		{ "help", no_argument, NULL, 'h' },                  { NULL, 0, NULL, 0 },
	};
	struct prep p = { .login_fmt = "test%d", .passwd_fmt = "test%d", .first = 1, .users = 1, .messages = 1,
			  .scheme = "sha512crypt", .nsizes = 1, .seed = 1 };
	char err[512];
	int c;

	p.sizes[0] = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_ROOT: p.root = optarg; break;
		case O_USERS:
			if (!parse_u64(optarg, &p.users) || p.users == 0)
				usage_error("--users: '%s' is not a positive number", optarg);
			break;
		case O_FIRST:
			if (!parse_u64(optarg, &p.first))
				usage_error("--first-login: '%s' is not a number", optarg);
			break;
		case O_LFMT: p.login_fmt = optarg; break;
		case O_PFMT: p.passwd_fmt = optarg; break;
		case O_MSGS:
			if (!parse_u64(optarg, &p.messages))
				usage_error("--messages: '%s' is not a number", optarg);
			break;
		case O_SIZE:
			if (!prep_parse_sizes(&p, optarg, err, sizeof err))
				usage_error("%s", err);
			break;
		case O_FILE: p.file = optarg; break;
		case O_STATE: p.state = optarg; break;
		case O_SCHEME: p.scheme = optarg; break;
		case O_ADMIND: p.admind = optarg; break;
		case O_UFILE: p.users_file = optarg; break;
		case O_FSYNC: p.fsync = true; break;
		case O_SEED:
			if (!parse_u64(optarg, &p.seed))
				usage_error("--seed: '%s' is not a number", optarg);
			break;
		case 'h':
			(void)fputs(usage_text, stdout);
			return 0;
		default:
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		usage_error("prepare: unexpected argument '%s'", argv[optind]);
	if (p.root == NULL)
		usage_error("%s", "prepare needs --maildir-root DIR");
	if (!format_valid(p.login_fmt) || !format_valid(p.passwd_fmt))
		usage_error("%s", "--login-format and --passwd-format may hold one %d and %% only");
	if (p.first > UINT64_MAX - p.users)
		usage_error("%s", "--first-login + --users is too large");
	if (!prep_run(&p, isatty(2) ? prep_progress : NULL, err, sizeof err)) {
		(void)fprintf(stderr, "pop3-load: prepare: %s\n", err);
		return EXIT_SYSTEM;
	}
	return 0;
}

/* ---- run ---- */

/* HOST, HOST:PORT, [V6], [V6]:PORT, or a bare IPv6 address. */
static void set_server(struct workload *w, const char *arg)
{
	char host[WL_TEXT_MAX], err[256];
	const char *port = NULL;
	size_t hl;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			usage_error("--server: bad address '%s'", arg);
		hl = (size_t)(close - arg - 1);
		if (hl >= sizeof host)
			usage_error("--server: '%s' too long", arg);
		memcpy(host, arg + 1, hl);
		host[hl] = '\0';
		if (close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = strchr(arg, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hl = (size_t)(colon - arg);
			port = colon + 1;
		} else {
			hl = strlen(arg); /* no port, or a bare IPv6 address */
		}
		if (hl >= sizeof host)
			usage_error("--server: '%s' too long", arg);
		memcpy(host, arg, hl);
		host[hl] = '\0';
	}
	if (!wl_set_global(w, "server", host, err, sizeof err) ||
	    (port != NULL && !wl_set_global(w, "portNum", port, err, sizeof err)))
		usage_error("--server: %s", err);
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *s = malloc(len), *p = s;
	if (s == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		memcpy(p, argv[i], l);
		p += l;
		*p++ = i + 1 < argc ? ' ' : '\0';
	}
	if (argc == 0)
		*p = '\0';
	return s;
}

struct flag {
	const char *name, *value;
};

int main(int argc, char **argv)
{
	enum { O_TIMEOUT = 256, O_MAXERR, O_MAXBLK, O_READY };
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },   { "port", required_argument, NULL, 'p' },
		{ "clients", required_argument, NULL, 'l' },  { "time", required_argument, NULL, 't' },
		{ "ramp", required_argument, NULL, 'r' },     { "title", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },   { "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },        { "timeout", required_argument, NULL, O_TIMEOUT },
		{ "max-errors", required_argument, NULL, O_MAXERR }, { "max-blocks", required_argument, NULL, O_MAXBLK },
		{ "on-ready", required_argument, NULL, O_READY }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },         { NULL, 0, NULL, 0 },
	};
	static struct workload w;
	static struct run r;
	struct flag flags[32];
	size_t nflags = 0;
	const char *outdir = NULL, *server = NULL, *on_ready = NULL;
	bool quiet = false, verbose = false;
	char err[600];
	int c;

	if (argc > 1 && strcmp(argv[1], "prepare") == 0)
		return cmd_prepare(argc - 1, argv + 1);

	/* report files and stdout may be pipes that close early: a write
	 * error is reported, never a silent death */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		(void)fprintf(stderr, "pop3-load: signal: %s\n", strerror(errno));
		return EXIT_SYSTEM;
	}
	while ((c = getopt_long(argc, argv, "s:p:l:t:r:b:o:qvhV", opts, NULL)) != -1) {
		const char *name = NULL;
		switch (c) {
		case 's': server = optarg; break;
		case 'p': name = "portNum"; break;
		case 'l': name = "clientCount"; break;
		case 't': name = "time"; break;
		case 'r': name = "rampTime"; break;
		case 'b': name = "title"; break;
		case O_TIMEOUT: name = "timeout"; break;
		case O_MAXERR: name = "maxErrors"; break;
		case O_MAXBLK: name = "maxBlocks"; break;
		case 'o': outdir = optarg; break;
		case 'q': quiet = true; break;
		case 'v': verbose = true; break;
		case O_READY: on_ready = optarg; break;
		case 'h':
			(void)fputs(usage_text, stdout);
			return 0;
		case 'V':
			(void)printf("pop3-load %s\n", VERSION);
			return 0;
		default:
			return EXIT_USAGE;
		}
		if (name != NULL) {
			if (nflags == sizeof flags / sizeof flags[0])
				usage_error("%s", "too many options");
			flags[nflags++] = (struct flag){ name, optarg };
		}
	}

	/* the workload first, then the options, then NAME=VALUE: later wins */
	wl_init(&w);
	int first = optind;
	if (first < argc && strchr(argv[first], '=') == NULL) {
		/* a built-in name wins over a file of that name in the current
		 * directory (a stray ./flow must not change the test): a file is
		 * named with a '/' in it or by a name no built-in has */
		const char *wl = argv[first++];
		if (strchr(wl, '/') == NULL && wl_builtin(&w, wl)) {
			(void)snprintf(w.source, sizeof w.source, "%s (built-in)", wl);
		} else if (!wl_load_file(&w, wl, err, sizeof err)) {
			(void)fprintf(stderr, "pop3-load: %s\n", err);
			return EXIT_USAGE;
		}
	} else {
		(void)wl_builtin(&w, "flow");
		(void)snprintf(w.source, sizeof w.source, "flow (built-in)");
	}
	if (server != NULL)
		set_server(&w, server);
	for (size_t i = 0; i < nflags; i++)
		if (!wl_set_global(&w, flags[i].name, flags[i].value, err, sizeof err))
			usage_error("%s", err);
	for (int i = first; i < argc; i++)
		if (!wl_override(&w, argv[i], err, sizeof err))
			usage_error("%s", err);
	if (!wl_check(&w, err, sizeof err))
		usage_error("%s", err);

	r.verbose = verbose ? UINT32_MAX : DEFAULT_SHOWN_ERRORS;
	r.progress = !quiet && isatty(2);
	r.on_ready = on_ready;
	time_t started = time(NULL);
	if (!run_setup(&r, &w, err, sizeof err)) {
		(void)fprintf(stderr, "pop3-load: %s\n", err);
		run_free(&r);
		return EXIT_SYSTEM;
	}
	bool loop_ok = run_loop(&r, err, sizeof err);
	if (!loop_ok)
		(void)fprintf(stderr, "pop3-load: %s\n", err);

	char *line = join_args(argc, argv);
	struct report rp = {
		.w = &w, .s = &r.st, .started = started,
		.elapsed_s = (double)(r.st.end_ns - r.st.t0_ns) / 1e9,
		.aborted = r.aborted, .ready_used = on_ready != NULL, .ready_ran = r.ready_fired,
		.ready_status = r.ready_status, .argv_line = line,
	};
	int status = 0;
	if (!quiet && (!report_text(&rp, stdout) || fflush(stdout) != 0)) {
		(void)fprintf(stderr, "pop3-load: stdout: %s\n", strerror(errno));
		status = EXIT_SYSTEM;
	}
	if (outdir != NULL && !report_write_dir(&rp, outdir, err, sizeof err)) {
		(void)fprintf(stderr, "pop3-load: %s\n", err);
		status = EXIT_SYSTEM;
	}
	bool ready_failed = on_ready != NULL &&
			    (!r.ready_fired || !WIFEXITED(r.ready_status) || WEXITSTATUS(r.ready_status) != 0);
	if (status == 0 && !loop_ok)
		status = EXIT_SYSTEM;
	if (status == 0 && (report_errors(&rp) > 0 || r.st.done == 0 || r.aborted || r.st.aborted > 0 || ready_failed))
		status = EXIT_FAILED;
	free(line);
	run_free(&r);
	return status;
}
