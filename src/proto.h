/*
 * proto.h - the POP3 state machine (RFC 1939, 2449, 3206, 5034).
 */
#ifndef POP3_PROTO_H
#define POP3_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "iobuf.h"
#include "livefile.h"
#include "maildrop.h"
#include "params.h"
#include "state.h"
#include "tls.h"

enum phase { PHASE_AUTHORIZATION, PHASE_TRANSACTION, PHASE_UPDATE };

/* Why a session ended, for the log line and the exit status. */
enum outcome {
	OUT_NONE,         /* still running */
	OUT_QUIT,         /* QUIT; in TRANSACTION, the UPDATE state succeeded */
	OUT_QUIT_PARTIAL, /* QUIT, but some marked messages could not be removed */
	OUT_DISCONNECT,   /* the client went away without QUIT */
	OUT_TIMEOUT,      /* autologout */
	OUT_AUTH_LIMIT,   /* too many failed logins */
	OUT_WRITE_ERROR,  /* the client stopped reading or the connection broke */
	OUT_SERVER_ERROR, /* a message became unreadable mid-RETR */
	OUT_TLS_ERROR,    /* the TLS handshake failed */
};

struct session {
	struct iobuf io;
	struct config cfg;
	struct state state;
	bool state_ok;          /* the state file could be opened */
	const char *state_file; /* its path, to reopen it at the end */
	struct maildrop md;
	struct livefile live;   /* for WHO, once logged in */
	enum phase phase;
	enum outcome outcome;
	/* from USER (one octet more than a valid name, so an over-long one stays invalid), or the logged-in name */
	char user[POP3_USER_MAX + 2];
	bool have_user;
	bool logged_in;
	unsigned auth_failures;
	unsigned auth_attempts;  /* PASS and AUTH PLAIN responses, whatever their outcome */
	struct state_delta delta;
	uint64_t retr_octets;   /* message octets sent by RETR/TOP */
	/* the filter RETR and TOP run through, chosen at login; empty: none */
	char filter[CONFIG_PATH_MAX];
	char peer[64];
	bool peer_local;        /* the client is on this host: loopback, or a pipe */
	/* TLS: files found (STLS offered), and the layer itself once started */
	bool tls_configured;
	struct tls_files tls_files;
	struct tls tls;
	/* for a hand-off to pop3-session-tls (handoff.h) */
	int argc;
	char **argv;
	struct timespec t0;
};

/*
 * Implicit TLS (port 995): load the certificate and run the handshake
 * before the greeting.  False, with s->outcome set and a log line, when the
 * session cannot go on.
 */
bool proto_tls_first(struct session *s);

/*
 * In pop3-session-tls after an STLS hand-off: answer the STLS that
 * pop3-session received.  False when the session must end.
 */
bool proto_stls_resumed(struct session *s);

/* Commands until the session ends (the greeting is main's); sets s->outcome. */
void proto_run(struct session *s);

const char *proto_outcome_name(enum outcome o);

#endif
