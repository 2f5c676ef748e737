/*
 * params.h - every limit of pop3-session in one place, each with its reason.
 */
#ifndef POP3_PARAMS_H
#define POP3_PARAMS_H

/*
 * RFC 2449 section 4: "the maximum length of a command line is 255 octets,
 * including the terminating CRLF".  A longer line gets one -ERR and the rest
 * of it is thrown away unread, so a client can never smuggle a second command
 * into the tail of an over-long first one.
 */
#define POP3_CMD_MAX 255

/*
 * A SASL client response (RFC 5034) carries base64 of
 * "authzid NUL authcid NUL password"; RFC 5034 lets it exceed the command
 * limit.  1024 octets hold a 255-octet name and a 400-octet password.
 */
#define POP3_SASL_MAX 1024

/*
 * Input buffer: holds at least one maximal SASL line; pipelined commands
 * beyond it simply wait in the kernel's socket buffer.
 */
#define POP3_INBUF 2048

/*
 * Output buffer for status lines and listings.  Pipelined replies gather
 * here and leave in one write when the client has nothing more queued, so
 * a PIPELINING client gets one segment for many replies.
 */
#define POP3_OUTBUF 16384

/*
 * RETR/TOP stream buffers, mapped only while a message is being sent so an
 * idle session stays small: the raw file is read RAW octets at a time and
 * converted (LF to CRLF, dot-stuffing) into a buffer that leaves in writes
 * of at least FLUSH octets.  Conversion at most doubles a chunk (every octet
 * a '\n' or a line-leading '.'), hence the size of the converted buffer.
 */
#define POP3_STREAM_RAW   (128u * 1024u)
#define POP3_STREAM_FLUSH (128u * 1024u)
#define POP3_STREAM_OUT   (POP3_STREAM_FLUSH + 2u * POP3_STREAM_RAW + 16u)

/*
 * The message filter (filter.c).  A filter gets this long per message,
 * not counting time spent waiting for a slow client, and may write at most
 * this many octets; either limit makes RETR fail rather than hang the
 * session or fill the client's disk.  64 MiB is above what the big mail
 * providers accept as a message.
 */
#define POP3_FILTER_TIMEOUT_DEFAULT 60
#define POP3_FILTER_MAX_OCTETS_DEFAULT (64u * 1024u * 1024u)
/* At most this many lines of a filter's stderr are logged per message. */
#define POP3_FILTER_STDERR_LINES 5

/*
 * A TLS handshake must complete within this many seconds (or the idle
 * timeout, if shorter): a client that stalls in it holds a process.
 */
#define POP3_TLS_HANDSHAKE_S 60

/*
 * RFC 1939 section 3: the autologout timer "MUST be of at least 10
 * minutes".  Shorter values are accepted (tests, hostile networks) but the
 * default follows the RFC.
 */
#define POP3_IDLE_TIMEOUT_DEFAULT 600

/*
 * A failed login answers only after this delay (milliseconds): it makes
 * on-line password guessing slow without costing the server CPU.
 */
#define POP3_AUTH_DELAY_DEFAULT_MS 2000

/* After this many failed logins the connection is closed. */
#define POP3_AUTH_MAX_FAILURES 3

/*
 * Every PASS or AUTH costs a password hash and a state file lookup, also
 * when the answer is [IN-USE] or [SYS/TEMP] rather than a failure: a
 * connection gets this many attempts in all, then it is closed.
 */
#define POP3_AUTH_MAX_ATTEMPTS 10

/*
 * User names: long enough for "first.last@example.org", short enough to
 * keep paths and log lines bounded.  The character set is checked in auth.c.
 */
#define POP3_USER_MAX 128

/* Passwords longer than this are refused without hashing (crypt DoS). */
#define POP3_PASS_MAX 512

/*
 * RFC 1939 section 7: a unique-id is 1 to 70 characters in 0x21..0x7E.
 * Maildir unique names that do not fit are replaced by a stable digest.
 */
#define POP3_UIDL_MAX 70

/*
 * Milliseconds a session waits for the state file's write lock before it
 * gives up on a metrics update (and logs a warning).  Mail is served
 * regardless: metrics never hold up a client for long.
 */
#define POP3_STATE_BUSY_MS 1000

/*
 * Writers queue for the state file (see state.c).  At the start the client
 * is waiting for its first reply, so a session gives up after a quarter of
 * a second (the end transaction then counts the start; only sessions_now
 * misses it meanwhile).  At the end the connection is already released and
 * nobody waits: a session waits long enough that metrics survive any
 * realistic burst.
 */
#define POP3_STATE_START_WAIT_MS 250
#define POP3_STATE_END_WAIT_MS 30000

#endif
