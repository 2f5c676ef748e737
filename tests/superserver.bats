#!/usr/bin/env bats
# The same pop3-session binary under each super-server docs/super-servers.md
# describes, over real TCP on 127.0.0.1 and [::1]: systemd-socket-activate
# with stderr in a journal stand-in (what pop3.socket + pop3@.service do),
# ucspi-tcp's tcpserver (log lines on its stderr) and xinetd (stderr is the
# client's socket: log lines go to syslog).  Each test runs a session with a
# failed login, LIST and RETR, and checks the exact transcript and the peer
# address in the log lines.
load helper
load lib/logcapture

bats_require_minimum_version 1.5.0

setup() {
	setup_store
	PORT=$(free_port)
}
teardown() { teardown_store; }

# bob fails once, logs in, lists and retrieves his first message.
bob_in() {
	crlf 'USER bob' 'PASS wrong' 'USER bob' 'PASS builder' 'LIST' 'RETR 1' 'QUIT'
}
bob_out() {
	crlf '+OK POP3 server ready' '+OK Send PASS' '-ERR [AUTH] Authentication failed' \
		'+OK Send PASS' '+OK Logged in, 2 messages (693 octets)' \
		'+OK 2 messages (693 octets)' '1 102' '2 591' '.' \
		'+OK 102 octets' "$(printf 'Z%.0s' {1..100})" '.' '+OK Bye, 0 deleted'
}

# ---- systemd-socket-activate, stderr in the journal ----------------------

# socket_activate: pop3.socket + pop3@.service without systemd: stderr is a
# stream socket of the journal stand-in and JOURNAL_STREAM names it
# (StandardError=journal), the native socket is at its real path.
socket_activate() {
	need_logns
	mkdir -m 755 "$T/journal"
	local listen=(-l "127.0.0.1:$PORT") n=1
	if have_ipv6; then listen+=(-l "[::1]:$PORT"); n=2; fi
	watch "${FAKELOG[@]}" --journal "$T/journal" --stream -- \
		"$LIB/logns" --journal "$T/journal" -- "${AS_USER[@]}" \
		systemd-socket-activate "${listen[@]}" --accept --inetd \
		-E POP3_STATE="$T/state.db" -E JOURNAL_STREAM -E ASAN_OPTIONS -E UBSAN_OPTIONS \
		-- "$SESSION"
	for ((; n > 0; n--)); do wait_for '"line": "Listening on '; done
}

# journal_session HOST PEER: bob's session from HOST; its entries name PEER.
journal_session() {
	socket_activate
	run chat "$1" "$PORT" < <(bob_in)
	[ "$output" = "$(bob_out)" ]
	wait_for '"MESSAGE": "session end '
	run fields native POP3_EVENT=auth_failed
	[ "$status" -eq 0 ]
	grep -qx "MESSAGE=auth failed user=bob peer=$2 reason=bad-password" <<<"$output"
	grep -qx "POP3_PEER=$2" <<<"$output"
	grep -qx 'PRIORITY=4' <<<"$output"
	grep -qx 'SYSLOG_IDENTIFIER=pop3-session' <<<"$output"
	run fields native POP3_EVENT=session_end
	grep -qx "POP3_PEER=$2" <<<"$output"
	grep -qx 'POP3_USER=bob' <<<"$output"
	grep -qx 'POP3_RETR=1' <<<"$output"
	grep -qx 'PRIORITY=6' <<<"$output"
	# every line left as a datagram: none fell back to the stream
	run ! grep -q '"line": "<' "$T/events"
}

@test "systemd-socket-activate over IPv4: the session's entries reach the journal with peer 127.0.0.1" {
	journal_session 127.0.0.1 127.0.0.1
}

@test "systemd-socket-activate over IPv6: the session's entries reach the journal with peer ::1" {
	have_ipv6 || skip "this machine has no IPv6 loopback"
	journal_session ::1 ::1
}

# ---- ucspi-tcp's tcpserver ------------------------------------------------

# tcpserver_on ADDR: serve on ADDR:$PORT as the service user; -v prints
# "tcpserver: status: 0/N" once it listens, and "end PID status N" once a
# session has exited (its log lines, on the same stderr, are then all out).
tcpserver_on() {
	watch "${AS_USER[@]}" env POP3_STATE="$T/state.db" \
		tcpserver -v -R -H -l 0 -c 20 "$1" "$PORT" "$SESSION"
	wait_for '^tcpserver: status: 0/20$'
}

# tcpserver_session ADDR HOST PEER
tcpserver_session() {
	tcpserver_on "$1"
	run chat "$2" "$PORT" < <(bob_in)
	[ "$output" = "$(bob_out)" ]
	wait_for '^tcpserver: end [0-9]+ status 0$'
	# tcpserver's stderr is a pipe here: sd-daemon "<N>" priority prefixes
	grep -qx "<4>auth failed user=bob peer=$3 reason=bad-password" "$T/events"
	grep -Eq "^<6>session end peer=$3 user=bob outcome=quit retr=1 retr_octets=[0-9]+ dele=0 " \
		"$T/events"
}

@test "tcpserver on 127.0.0.1: exact transcript, peer 127.0.0.1 logged" {
	tcpserver_session 127.0.0.1 127.0.0.1 127.0.0.1
}

@test "tcpserver on ::1: exact transcript, peer ::1 logged" {
	have_ipv6 || skip "this machine has no IPv6 loopback"
	tcpserver_session ::1 ::1 '::1'
}

# from HOST PORT SOURCE: like chat, from the source address SOURCE.
from() {
	python3 -c 'import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20, source_address=(sys.argv[3], 0))
s.sendall(sys.stdin.buffer.read())
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    sys.stdout.buffer.write(chunk)' "$@"
}

@test "tcpserver -x with a tcprules cdb refuses a denied address before any session starts" {
	printf '127.0.0.2:deny\n:allow\n' >"$T/rules"
	tcprules "$T/rules.cdb" "$T/rules.tmp" <"$T/rules"
	watch "${AS_USER[@]}" env POP3_STATE="$T/state.db" \
		tcpserver -v -R -H -l 0 -c 20 -x "$T/rules.cdb" 127.0.0.1 "$PORT" "$SESSION"
	wait_for '^tcpserver: status: 0/20$'
	run from 127.0.0.1 "$PORT" 127.0.0.2 < <(crlf QUIT)
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	wait_for '^tcpserver: deny [0-9]+ .*127\.0\.0\.2'
	run from 127.0.0.1 "$PORT" 127.0.0.3 < <(crlf QUIT)
	[ "$output" = "$(crlf '+OK POP3 server ready' '+OK Bye')" ]
	wait_for '^tcpserver: end [0-9]+ status 0$'
	grep -Eq '^<6>session end peer=127\.0\.0\.3 user=- outcome=quit ' "$T/events"
	sessions=$("$ADMIND" --state "$T/state.db" --metrics | sed -n 's/^sessions_total=//p')
	[ "$sessions" -eq 1 ]
}

# ---- xinetd: stderr is the client's socket --------------------------------

# xinetd_on ADDR...: one UNLISTED service per address on $PORT, run as the
# service user; xinetd and the sessions log to /dev/log, which is the syslog
# stand-in.  xinetd's own stderr is a journal stream with JOURNAL_STREAM set,
# as under xinetd.service: the sessions inherit the variable, not the stream.
xinetd_on() {
	need_logns
	local a i=0
	: >"$T/xinetd.conf"
	for a in "$@"; do
		cat >>"$T/xinetd.conf" <<-EOF
		service pop3-test-$i
		{
		    type        = UNLISTED
		    socket_type = stream
		    protocol    = tcp
		    wait        = no
		    user        = $TEST_USER
		    bind        = $a
		    port        = $PORT
		    server      = $SESSION
		    server_args = --state $T/state.db
		    log_type    = SYSLOG daemon info
		    log_on_success = PID HOST EXIT
		}
		EOF
		i=$((i + 1))
	done
	watch "${FAKELOG[@]}" --syslog "$T/devlog" --stream -- \
		"$LIB/logns" --devlog "$T/devlog" -- xinetd -dontfork -f "$T/xinetd.conf"
	wait_for "Started working: $# available service"
}

# xinetd_session HOST PEER: bob's session from HOST, the transcript holds
# nothing but POP3, the lines reach syslog as mail.warning and mail.info.
xinetd_session() {
	run chat "$1" "$PORT" < <(bob_in)
	[ "$output" = "$(bob_out)" ]
	wait_for '"msg": "session end '
	run fields syslog ident=pop3-session pri=20 # mail (2) * 8 + warning (4)
	[ "$status" -eq 0 ]
	grep -qx "msg=auth failed user=bob peer=$2 reason=bad-password" <<<"$output"
	run fields syslog ident=pop3-session pri=22 # mail.info
	grep -Eqx "msg=session end peer=$2 user=bob outcome=quit retr=1 retr_octets=[0-9]+ dele=0 .*" \
		<<<"$output"
	# nothing went to xinetd's stderr either
	run ! grep -q '"src": "stream"' "$T/events"
}

@test "xinetd on 127.0.0.1: only POP3 reaches the client, the log lines reach syslog with peer 127.0.0.1" {
	xinetd_on 127.0.0.1
	xinetd_session 127.0.0.1 127.0.0.1
}

@test "xinetd on ::1: only POP3 reaches the client, the log lines reach syslog with peer ::1" {
	have_ipv6 || skip "this machine has no IPv6 loopback"
	xinetd_on 127.0.0.1 ::1
	xinetd_session ::1 ::1
}

@test "xinetd logs the exit status 0 of a session that ended with QUIT" {
	xinetd_on 127.0.0.1
	run chat 127.0.0.1 "$PORT" < <(crlf 'USER alice' 'PASS wonderland' 'STAT' 'QUIT')
	[ "$output" = "$(crlf '+OK POP3 server ready' '+OK Send PASS' \
		'+OK Logged in, 6 messages (5127 octets)' '+OK 6 5127' '+OK Bye, 0 deleted')" ]
	wait_for 'EXIT: pop3-test-0 status=0'
	fields syslog ident=pop3-session pri=22 >/dev/null
}
