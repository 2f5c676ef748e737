#!/usr/bin/env bats
# Logging under systemd's StandardError=journal: pop3-session sends each line
# to journald's native socket (/run/systemd/journal/socket) with structured
# fields, and falls back to "<N>" lines on its stderr stream when it cannot.
# journald is played by fakelog.py, reached at the real path through a
# private mount namespace (tests/lib/logns); stderr is a stream socket whose
# device and inode JOURNAL_STREAM names, as systemd sets them.  The shipped
# fail2ban filter is checked against the real lines.
load helper
load lib/logcapture

bats_require_minimum_version 1.5.0

setup() {
	setup_store
	mkdir -m 755 "$T/journal"
	# the sessions come over a pipe "from" documentation addresses
	# (TCPREMOTEIP): allow them plaintext logins, where the build has that
	# setting (it came with STLS)
	local out
	out=$(as_user "$ADMIND" --state "$T/state.db" --set plaintext_auth=yes 2>&1) ||
		[[ "$out" == *"plaintext_auth: unknown setting"* ]]
}
teardown() { teardown_store; }

# journal_session [FAKELOG_OPTION...] -- [ENV=VALUE...]: one pipe session,
# stdin from the caller, as the service user, logging under
# StandardError=journal; waits for its end.  The client's transcript is in
# $T/client, fakelog's report in $T/events.
journal_session() {
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	need_logns
	watch "${FAKELOG[@]}" "${opts[@]}" --stdout "$T/client" -- \
		"$LIB/logns" --journal "$T/journal" -- \
		"${AS_USER[@]}" env "$@" "$SESSION" --state "$T/state.db"
	wait_for '"src": "exit", "status": [0-9]+'
}

@test "an auth failure is one native entry: PRIORITY=4, mail facility, the line as MESSAGE, one field per key" {
	journal_session --journal "$T/journal" --stream -- TCPREMOTEIP=192.0.2.7 \
		< <(crlf 'USER alice' 'PASS wrong' 'QUIT')
	run fields native POP3_EVENT=auth_failed
	[ "$status" -eq 0 ]
	pid=$(sed -n 's/^SYSLOG_PID=//p' <<<"$output")
	[ "$output" = "MESSAGE=auth failed user=alice peer=192.0.2.7 reason=bad-password
POP3_EVENT=auth_failed
POP3_PEER=192.0.2.7
POP3_REASON=bad-password
POP3_USER=alice
PRIORITY=4
SYSLOG_FACILITY=2
SYSLOG_IDENTIFIER=pop3-session
SYSLOG_PID=$pid" ]
	[ "$pid" -gt 1 ]
	run fields native POP3_EVENT=session_end
	grep -qx 'PRIORITY=6' <<<"$output"
	grep -qx "SYSLOG_PID=$pid" <<<"$output"
	grep -qx 'POP3_OUTCOME=quit' <<<"$output"
	grep -qx 'POP3_PEER=192.0.2.7' <<<"$output"
	# the client saw POP3 only, and nothing fell back to the stream
	[ "$(cat "$T/client")" = "$(crlf '+OK POP3 server ready' '+OK Send PASS' \
		'-ERR [AUTH] Authentication failed' '+OK Bye')" ]
	run ! grep -q '"src": "stream"' "$T/events"
}

@test "an IPv6 peer is a field of its own: POP3_PEER=2001:db8::7" {
	journal_session --journal "$T/journal" --stream -- TCPREMOTEIP=2001:db8::7 \
		< <(crlf 'USER bob' 'PASS builder' 'RETR 1' 'QUIT')
	run fields native POP3_EVENT=session_end
	[ "$status" -eq 0 ]
	grep -qx 'POP3_PEER=2001:db8::7' <<<"$output"
	grep -qx 'POP3_USER=bob' <<<"$output"
	grep -qx 'POP3_RETR=1' <<<"$output"
}

@test "a client-chosen user name cannot add or change a field" {
	# USER refuses a name with spaces; SASL PLAIN's authcid may hold anything
	journal_session --journal "$T/journal" --stream -- TCPREMOTEIP=192.0.2.7 \
		< <(crlf "AUTH PLAIN $(printf '\0x peer=203.0.113.9 reason=ok POP3_PEER=1\0pw' | base64 -w0)" 'QUIT')
	run fields native POP3_EVENT=auth_failed
	[ "$status" -eq 0 ]
	grep -qx 'POP3_USER=x\\x20peer\\x3d203.0.113.9\\x20reason\\x3dok\\x20POP3_PEER\\x3d1' <<<"$output"
	# exactly one of each: a repeated field would be reported as a list
	grep -qx 'POP3_PEER=192.0.2.7' <<<"$output"
	grep -qx 'POP3_REASON=bad-name' <<<"$output"
	[ "$(grep -c '^POP3_' <<<"$output")" -eq 4 ]
}

@test "an error line: PRIORITY=3, the event is its leading words, a value before ': reason' loses the colon" {
	chmod 000 "$T/mail/bob"
	journal_session --journal "$T/journal" --stream -- TCPREMOTEIP=192.0.2.7 \
		< <(crlf 'USER bob' 'PASS builder' 'QUIT')
	run fields native PRIORITY=3
	[ "$status" -eq 0 ]
	grep -qx "MESSAGE=cannot open maildrop user=bob path=$T/mail/bob: Permission denied" <<<"$output"
	grep -qx 'POP3_EVENT=cannot_open_maildrop' <<<"$output"
	grep -qx 'POP3_USER=bob' <<<"$output"
	grep -qx "POP3_PATH=$T/mail/bob" <<<"$output"
}

@test "a real systemd-journald stores the entries with their fields: journalctl finds them by POP3_EVENT" {
	need_logns
	run --separate-stderr unshare --mount --propagation private -- python3 "$LIB/realjournal.py" \
		--query 'POP3_EVENT=auth_failed -o verbose' \
		--query 'POP3_EVENT=auth_failed -o cat --output-fields=POP3_PEER' \
		--query 'SYSLOG_IDENTIFIER=pop3-session -p warning -o cat' \
		-- "${AS_USER[@]}" env TCPREMOTEIP=192.0.2.7 "$SESSION" --state "$T/state.db" \
		< <(crlf 'USER alice' 'PASS wrong' 'QUIT')
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = '== exit 0' ]
	# -o verbose: one entry, sent natively (a stream line would say stdout)
	sed -n '/^== POP3_EVENT=auth_failed -o verbose$/,/^== /p' <<<"$output" >"$T/verbose"
	for want in _TRANSPORT=journal PRIORITY=4 SYSLOG_FACILITY=2 SYSLOG_IDENTIFIER=pop3-session \
		'MESSAGE=auth failed user=alice peer=192.0.2.7 reason=bad-password' \
		POP3_EVENT=auth_failed POP3_USER=alice POP3_PEER=192.0.2.7 POP3_REASON=bad-password; do
		grep -qx "    $want" "$T/verbose" || { echo "no $want in:"; cat "$T/verbose"; false; }
	done
	[ "$(grep -c '^    MESSAGE=' "$T/verbose")" -eq 1 ]
	# the documented queries: the failing address; warnings and worse
	sed -n '/^== POP3_EVENT=auth_failed -o cat --output-fields=POP3_PEER$/,/^== /p' <<<"$output" |
		sed '1d;$d' >"$T/peers"
	[ "$(cat "$T/peers")" = 192.0.2.7 ]
	sed -n '/^== SYSLOG_IDENTIFIER=pop3-session -p warning -o cat$/,/^== /p' <<<"$output" |
		sed '1d;$d' >"$T/warnings"
	[ "$(cat "$T/warnings")" = 'auth failed user=alice peer=192.0.2.7 reason=bad-password' ]
}

@test "with no journald socket every line reaches the stream with its <N> prefix" {
	# /run/systemd/journal is an empty directory: nobody listens
	journal_session --stream -- TCPREMOTEIP=192.0.2.7 \
		< <(crlf 'USER alice' 'PASS wrong' 'QUIT')
	run fields stream 'line=<4>auth failed user=alice peer=192.0.2.7 reason=bad-password'
	[ "$status" -eq 0 ]
	grep -Eq '"line": "<6>session end peer=192\.0\.2\.7 user=- outcome=quit ' "$T/events"
	run ! grep -q '"src": "native"' "$T/events"
}

@test "a journald that stopped reading never stalls a session: its lines go to the stream" {
	# --stuck: the socket's queue is full before the session starts
	journal_session --journal "$T/journal" --stuck --stream -- TCPREMOTEIP=192.0.2.7 \
		< <(crlf 'USER alice' 'PASS wrong' 'USER alice' 'PASS wonderland' 'STAT' 'QUIT')
	grep -q '"src": "exit", "status": 0' "$T/events"
	run fields stream 'line=<4>auth failed user=alice peer=192.0.2.7 reason=bad-password'
	[ "$status" -eq 0 ]
	grep -Eq '"line": "<6>session end peer=192\.0\.2\.7 user=alice outcome=quit ' "$T/events"
	[[ "$(cat "$T/client")" == *"+OK 6 5127"* ]]
}

@test "a JOURNAL_STREAM that names another file is ignored: <N> lines on stderr, no datagram" {
	# inherited by a service whose stderr is not the journal (a pipe here)
	journal_session --journal "$T/journal" -- JOURNAL_STREAM=1:1 TCPREMOTEIP=192.0.2.7 \
		< <(crlf 'USER alice' 'PASS wrong' 'QUIT')
	grep -qx '<4>auth failed user=alice peer=192.0.2.7 reason=bad-password' "$T/events"
	run ! grep -q '"src": "native"' "$T/events"
}

@test "the shipped fail2ban filter matches every real auth-failed line, with its address, and nothing else" {
	# every form of failure, an IPv6 peer, a name that tries to fake a peer
	f2b_session() {
		journal_session --journal "$T/journal" --stream -- TCPREMOTEIP="$1"
		cat "$T/events" >>"$T/all"
	}
	f2b_session 192.0.2.7 < <(crlf 'USER alice' 'PASS wrong' \
		"AUTH PLAIN $(printf '\0x peer=203.0.113.9\0pw' | base64 -w0)" \
		"AUTH PLAIN $(printf '\0carlos\0nope' | base64 -w0)")
	f2b_session 2001:db8::7 < <(crlf 'USER bob' 'PASS builder' 'QUIT')
	f2b_session 2001:db8::8 < <(crlf 'USER bob' 'PASS wrong' 'QUIT')
	# the lines as fail2ban's systemd backend sees them (host, then
	# SYSLOG_IDENTIFIER[SYSLOG_PID]: MESSAGE), dated as in a syslog file
	grep '"src": "native"' "$T/all" | python3 -c 'import json, sys
for line in sys.stdin:
    f = json.loads(line)["fields"]
    print("Nov 24 09:00:00 mailhost %s[%s]: %s" % (f["SYSLOG_IDENTIFIER"], f["SYSLOG_PID"], f["MESSAGE"]))' \
		>"$T/mail.log"
	[ "$(grep -c ': auth failed ' "$T/mail.log")" -eq 4 ]
	grep -q ': session end ' "$T/mail.log"
	# fail2ban resolves common.conf beside the filter, as in /etc/fail2ban/filter.d
	mkdir "$T/filter.d"
	cp "$POP3_SRC/docs/fail2ban/pop3.conf" "$T/filter.d/pop3.conf"
	ln -s /etc/fail2ban/filter.d/common.conf "$T/filter.d/common.conf"
	run fail2ban-regex -o ip "$T/mail.log" "$T/filter.d/pop3.conf"
	[ "$status" -eq 0 ]
	[ "$output" = "192.0.2.7
192.0.2.7
192.0.2.7
2001:db8::8" ]
}
