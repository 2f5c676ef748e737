/*
 * admproto.h - one admin protocol request in, one reply out
 * (docs/admin-protocol.md).  No sockets here: admind.c owns those.
 */
#ifndef POP3_ADMPROTO_H
#define POP3_ADMPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "state.h"

#define ADM_VERSION "PA1"
#define ADM_REQ_MIN 90     /* shorter cannot authenticate: dropped silently */
#define ADM_REQ_MAX 1024
#define ADM_REPLY_MAX 1200 /* fits the IPv6 minimum MTU with headers */
#define ADM_TAG_MIN 8      /* so that every valid request is over ADM_REQ_MIN */
#define ADM_TAG_MAX 16
#define ADM_SKEW_S 120     /* allowed clock difference */
#define ADM_KEEP_S 300     /* replies kept for retries: longer than the skew */

/*
 * Replies to changes are kept by tag in the state file (table
 * admin_requests) for ADM_KEEP_S, so that a retry or a replay, even after a
 * restart, is answered from there and never applied twice.  Requests that
 * change nothing are not kept: running them again is harmless.
 */
/*
 * Rows per page, for the worst case within the 1,100-octet body:
 * "+OK" + rows + a "more=<cursor>" line of up to 134 octets.
 *   USER LIST: "\n" + 128-octet name                        = 129 -> 7
 *   LOGINS:    "\nuser= time= peer=" with 128 + 20 + 63      = 236 -> 4
 *   WHO:       "\npid= user= peer= since= octets=" ...       = 292 -> 3
 */
#define ADM_PAGE_USERS 7
#define ADM_PAGE_LOGINS 4
#define ADM_PAGE_WHO 3

struct adm {
	struct state *st;
	const char *secret;
	size_t secret_len;
	time_t started;
};

/* The reply to the datagram req[0..len) at time now; 0 when nothing is to be sent. */
size_t adm_handle(struct adm *a, const char *req, size_t len, time_t now, char *reply);

#endif
