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
#define ADM_TAG_MAX 16
#define ADM_SKEW_S 120     /* allowed clock difference */
#define ADM_KEEP_S 300     /* replies kept for retries: longer than the skew */
#define ADM_CACHE 1024
#define ADM_PAGE 8         /* names per USER LIST page: 8 * 129 octets fit */

struct adm_kept {
	time_t when;
	char tag[ADM_TAG_MAX + 1];
	char mac[65];
	size_t len;
	char reply[ADM_REPLY_MAX];
};

struct adm {
	struct state *st;
	const char *secret;
	size_t secret_len;
	time_t started;
	struct adm_kept *kept; /* ADM_CACHE entries, a ring */
	size_t next;
};

/* The reply to the datagram req[0..len) at time now; 0 when nothing is to be sent. */
size_t adm_handle(struct adm *a, const char *req, size_t len, time_t now, char *reply);

#endif
