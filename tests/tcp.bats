#!/usr/bin/env bats
# pop3-session over real TCP sockets, served the way pop3.socket does it
# (systemd-socket-activate --accept --inetd on 127.0.0.1 and [::1]), driven
# by chat.py, curl and Python's poplib.
load helper

bats_require_minimum_version 1.5.0

setup() {
	setup_store
	export PYTHONPATH="$POP3_SRC/tests/lib"
}
teardown() { teardown_store; }

# serve: listen on 127.0.0.1:$PORT and [::1]:$PORT.
serve() {
	PORT=$(free_port)
	start_tcp "127.0.0.1:$PORT" "[::1]:$PORT"
}

# halfclose HOST PORT: send stdin, then vanish without QUIT (FIN); print all
# the server says.  Returns once the server closed the connection, i.e. once
# the session process has ended.
halfclose() {
	python3 -c 'import sys, pop3lib
c = pop3lib.Conn(sys.argv[1], sys.argv[2])
c.sock.sendall(sys.stdin.buffer.read())
sys.stdout.write(c.greeting + "\r\n" + c.halfclose().decode())' "$@"
}

# The transcript of bob's full session (see maildir-sample/README.md).
bob_session_in() {
	crlf 'USER bob' 'PASS builder' 'STAT' 'LIST' 'UIDL' 'RETR 1' 'DELE 1' 'QUIT'
}
bob_session_out() {
	crlf '+OK POP3 server ready' '+OK Send PASS' \
		'+OK Logged in, 2 messages (693 octets)' '+OK 2 693' \
		'+OK 2 messages (693 octets)' '1 102' '2 591' '.' \
		'+OK Unique-ID listing follows' \
		'1 1732086400.M500123P5201.sample,S=102,W=102' \
		'2 1732086500.M662014P5202.sample' '.' \
		'+OK 102 octets' "$(printf 'Z%.0s' {1..100})" '.' \
		'+OK Message 1 deleted' '+OK Bye, 1 deleted'
}

@test "a full session over IPv4 lists, retrieves and deletes a message" {
	serve
	run chat 127.0.0.1 "$PORT" < <(bob_session_in)
	[ "$output" = "$(bob_session_out)" ]
	[ ! -e "$T/mail/bob/cur/1732086400.M500123P5201.sample,S=102,W=102:2,S" ]
	[ -e "$T/mail/bob/cur/1732086500.M662014P5202.sample:2," ]
}

@test "a full session over IPv6 lists, retrieves and deletes a message" {
	have_ipv6 || skip "this machine has no IPv6 loopback"
	serve
	run chat ::1 "$PORT" < <(bob_session_in)
	[ "$output" = "$(bob_session_out)" ]
	[ ! -e "$T/mail/bob/cur/1732086400.M500123P5201.sample,S=102,W=102:2,S" ]
	[ -e "$T/mail/bob/cur/1732086500.M662014P5202.sample:2," ]
}

@test "the session end log line of an IPv4 session names peer=127.0.0.1" {
	serve
	run chat 127.0.0.1 "$PORT" < <(bob_session_in)
	[ "$output" = "$(bob_session_out)" ]
	# the line is written before the session exits; once a second whole
	# session has come and gone it has long passed through the log pipe
	run chat 127.0.0.1 "$PORT" < <(crlf 'USER carlos' 'PASS montana' 'QUIT')
	[[ "$output" == *"+OK Bye, 0 deleted"* ]]
	grep -E 'session end peer=127\.0\.0\.1 user=bob outcome=quit retr=1 retr_octets=[0-9]+ dele=1 ' \
		"$T/activate.log"
}

@test "the session end log line of an IPv6 session names peer=::1" {
	have_ipv6 || skip "this machine has no IPv6 loopback"
	serve
	run chat ::1 "$PORT" < <(bob_session_in)
	[ "$output" = "$(bob_session_out)" ]
	run chat ::1 "$PORT" < <(crlf 'USER carlos' 'PASS montana' 'QUIT')
	[[ "$output" == *"+OK Bye, 0 deleted"* ]]
	grep -E 'session end peer=::1 user=bob outcome=quit retr=1 retr_octets=[0-9]+ dele=1 ' \
		"$T/activate.log"
}

@test "curl lists alice's messages with their sizes" {
	serve
	run curl -s "pop3://alice:wonderland@127.0.0.1:$PORT/"
	[ "$status" -eq 0 ]
	[ "$output" = "$(crlf '1 704' '2 1181' '3 793' '4 875' '5 867' '6 707')" ]
}

@test "curl retrieves message 1 byte-exact" {
	serve
	curl -s "pop3://alice:wonderland@127.0.0.1:$PORT/1" >"$T/got"
	python3 -m pop3lib wire "$T/mail/alice/cur/1732000000.M104211P4101.sample,S=683,W=704:2,S" >"$T/want"
	[ "$(stat -c %s "$T/want")" -eq 704 ]
	cmp "$T/got" "$T/want"
}

@test "curl retrieves a message with dot-leading lines byte-exact after un-stuffing" {
	serve
	curl -s "pop3://alice:wonderland@127.0.0.1:$PORT/3" >"$T/got"
	python3 -m pop3lib wire "$T/mail/alice/cur/1732000200.M527093P4103.sample:2,RS" >"$T/want"
	grep -q '^\.' "$T/want"
	cmp "$T/got" "$T/want"
}

@test "curl --request DELE deletes message 1 and only it" {
	serve
	run curl -s --request DELE -I "pop3://alice:wonderland@127.0.0.1:$PORT/1"
	[ "$status" -eq 0 ]
	[ ! -e "$T/mail/alice/cur/1732000000.M104211P4101.sample,S=683,W=704:2,S" ]
	[ "$(ls "$T/mail/alice/cur" | wc -l)" -eq 5 ]
}

@test "poplib downloads alice's whole maildrop: RETR, LIST and UIDL match the files" {
	serve
	python3 - "$PORT" "$T/mail/alice" <<-'EOF'
	import poplib, sys, pop3lib
	p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=20)
	p.user("alice")
	p.pass_("wonderland")
	msgs = pop3lib.maildir_msgs(sys.argv[2])  # after login: new/ is in cur/
	listing = p.list()[1]
	uidls = p.uidl()[1]
	assert len(msgs) == len(listing) == len(uidls) == 6, (msgs, listing, uidls)
	for i, (uniq, path) in enumerate(msgs, 1):
	    with open(path, "rb") as f:
	        want = pop3lib.wire(f.read())
	    resp, lines, _ = p.retr(i)
	    got = b"\r\n".join(lines) + b"\r\n"
	    assert got == want, (i, path)
	    assert resp == b"+OK %d octets" % len(want), (i, resp)
	    assert listing[i - 1] == b"%d %d" % (i, len(want)), (i, listing[i - 1])
	    assert uidls[i - 1] == b"%d %s" % (i, uniq.encode()), (i, uidls[i - 1])
	assert p.quit().startswith(b"+OK Bye")
	EOF
}

@test "a 25 MB message with many dot-leading lines arrives byte-exact after un-stuffing" {
	big="$T/mail/bob/cur/$(date +%s).M1P1.big:2,"
	python3 - "$big" <<-'EOF'
	import os, random, sys
	alpha = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-"
	raw = os.urandom(26 << 20).translate(bytes(alpha[i % len(alpha)] for i in range(256)))
	rnd, lines, pos = random.Random(25), [], 0
	while pos < len(raw):
	    n = rnd.randrange(0, 200)
	    line, pos, k = raw[pos:pos + n], pos + n, rnd.random()
	    if k < 0.25:
	        line = b"." + line
	    elif k < 0.28:
	        line = b"."
	    elif k < 0.30:
	        line = b".."
	    lines.append(line)
	with open(sys.argv[1], "wb") as f:
	    f.write(b"\n".join(lines) + b"\n")
	EOF
	chown "$TEST_USER": "$big" 2>/dev/null || true
	serve
	python3 - "$PORT" "$big" <<-'EOF'
	import hashlib, os, poplib, sys, pop3lib
	with open(sys.argv[2], "rb") as f:
	    want = pop3lib.wire(f.read())
	assert len(want) > 25 << 20, len(want)
	uniq = os.path.basename(sys.argv[2]).split(":")[0].encode()
	p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=60)
	p.user("bob")
	p.pass_("builder")
	n = [int(l.split()[0]) for l in p.uidl()[1] if l.split()[1] == uniq][0]
	assert p.list(n) == b"+OK %d %d" % (n, len(want)), p.list(n)
	resp, lines, _ = p.retr(n)
	assert resp == b"+OK %d octets" % len(want), resp
	h = hashlib.sha256()
	for l in lines:
	    h.update(l)
	    h.update(b"\r\n")
	assert h.hexdigest() == hashlib.sha256(want).hexdigest()
	assert p.quit().startswith(b"+OK Bye")
	EOF
}

@test "two users are logged in at once on two connections" {
	serve
	python3 - "$PORT" <<-'EOF'
	import sys, pop3lib
	a = pop3lib.Conn("127.0.0.1", sys.argv[1])
	b = pop3lib.Conn("::1", sys.argv[1])
	ra = a.login("alice", "wonderland")
	rb = b.login("bob", "builder")
	assert ra == "+OK Logged in, 6 messages (5127 octets)", ra
	assert rb == "+OK Logged in, 2 messages (693 octets)", rb
	assert a.cmd("STAT") == "+OK 6 5127"
	assert b.cmd("STAT") == "+OK 2 693"
	assert a.cmd("QUIT").startswith("+OK Bye")
	assert b.cmd("QUIT").startswith("+OK Bye")
	EOF
}

@test "a second session for a user whose maildrop is locked gets -ERR [IN-USE] at once" {
	serve
	python3 - "$PORT" <<-'EOF'
	import sys, time, pop3lib
	a = pop3lib.Conn("127.0.0.1", sys.argv[1])
	assert a.login("alice", "wonderland").startswith("+OK Logged in")
	c = pop3lib.Conn("127.0.0.1", sys.argv[1], timeout=5)
	t0 = time.monotonic()
	r = c.login("alice", "wonderland")
	assert r == "-ERR [IN-USE] Maildrop is in use by another session", r
	assert time.monotonic() - t0 < 3  # no waiting for the lock
	assert c.cmd("QUIT") == "+OK Bye"
	assert a.cmd("STAT") == "+OK 6 5127"  # the first session is unharmed
	assert a.cmd("QUIT").startswith("+OK Bye")
	EOF
}

@test "the lock is released when a logged-in client vanishes without QUIT" {
	serve
	python3 - "$PORT" <<-'EOF'
	import sys, pop3lib
	a = pop3lib.Conn("127.0.0.1", sys.argv[1])
	assert a.login("alice", "wonderland").startswith("+OK Logged in")
	a.halfclose()  # returns once the server closed: its session is over
	b = pop3lib.Conn("127.0.0.1", sys.argv[1])
	r = b.login("alice", "wonderland")
	assert r == "+OK Logged in, 6 messages (5127 octets)", r
	assert b.cmd("QUIT").startswith("+OK Bye")
	EOF
}

@test "pipelined commands sent in one packet are answered in order" {
	serve
	run chat 127.0.0.1 "$PORT" < <(crlf 'USER alice' 'PASS wonderland' 'STAT' \
		'LIST 1' 'LIST 2' 'LIST 3' 'LIST 4' 'LIST 5' 'LIST 6' \
		'UIDL 1' 'UIDL 2' 'UIDL 3' 'UIDL 4' 'UIDL 5' 'UIDL 6' \
		'NOOP' 'DELE 2' 'LIST 2' 'STAT' 'RSET' 'LIST 7' 'QUIT')
	[ "$output" = "$(crlf '+OK POP3 server ready' '+OK Send PASS' \
		'+OK Logged in, 6 messages (5127 octets)' '+OK 6 5127' \
		'+OK 1 704' '+OK 2 1181' '+OK 3 793' '+OK 4 875' '+OK 5 867' '+OK 6 707' \
		'+OK 1 1732000000.M104211P4101.sample,S=683,W=704' \
		'+OK 2 1732000100.M318840P4102.sample' \
		'+OK 3 1732000200.M527093P4103.sample' \
		'+OK 4 1732000300.M730516P4104.sample' \
		'+OK 5 1732000400.M912377P4105.sample' \
		'+OK 6 1732000500.M145902P4106.sample' \
		'+OK' '+OK Message 2 deleted' '-ERR Message already deleted' '+OK 5 3946' \
		'+OK 6 messages (5127 octets)' '-ERR No such message' \
		'+OK Bye, 0 deleted')" ]
}

@test "a client that disconnects without QUIT after DELE deletes nothing" {
	serve
	run halfclose 127.0.0.1 "$PORT" < <(crlf 'USER alice' 'PASS wonderland' 'DELE 1' 'DELE 2')
	[[ "$output" == *"+OK Message 2 deleted"* ]]
	[ "$(ls "$T/mail/alice/cur" | wc -l)" -eq 6 ]
	[ -e "$T/mail/alice/cur/1732000000.M104211P4101.sample,S=683,W=704:2,S" ]
	[ -e "$T/mail/alice/cur/1732000100.M318840P4102.sample:2,S" ]
}

@test "metrics count exactly ten finished sessions" {
	# over pipes: each session has ended, metrics written, when pop3 returns
	good() {
		run --separate-stderr pop3 < <(crlf "USER $1" "PASS $2" "${@:3}" 'QUIT')
		[ "$status" -eq 0 ] && [[ "${lines[2]}" == "+OK Logged in"* ]]
	}
	bad() {
		run --separate-stderr pop3 < <(crlf "$@" 'QUIT')
		[ "$status" -eq 0 ] && [[ "$output" == *"-ERR [AUTH] Authentication failed"* ]]
	}
	good alice wonderland 'RETR 1'
	good alice wonderland 'RETR 2' 'DELE 2'
	good bob builder 'RETR 1'
	good bob builder 'RETR 2' 'DELE 2'
	good carlos montana 'RETR 1'
	good carlos montana 'RETR 3'
	bad 'USER alice' 'PASS wrong'
	bad 'USER nobody' 'PASS wonderland'
	bad 'USER bob' 'PASS alice'
	bad "AUTH PLAIN $(printf '\0carlos\0nope' | base64)"
	run "$ADMIND" --state "$T/state.db" --metrics
	[ "$status" -eq 0 ]
	for want in sessions_total=10 logins_ok=6 logins_failed=4 messages_retrieved=6 \
		messages_deleted=2 sessions_now=0; do
		grep -qx "$want" <<<"$output" || { echo "missing $want in: $output"; false; }
	done
	grep -q '^last_login user=alice time=[0-9]* peer=local$' <<<"$output"
	[ ! -e "$T/mail/alice/cur/1732000100.M318840P4102.sample:2,S" ]
	[ ! -e "$T/mail/bob/cur/1732086500.M662014P5202.sample:2," ]
}

@test "sessions_now heals after a session is killed with SIGKILL" {
	mkfifo "$T/in" "$T/out"
	pop3 <"$T/in" >"$T/out" 3>&- &
	bg=$!
	exec {w}>"$T/in" {r}<"$T/out"
	read -r -t 10 greeting <&"$r"
	[[ "$greeting" == "+OK POP3 server ready"* ]]
	# the session counts itself right after the greeting, before it reads
	# its first command: once that command is answered it is registered
	printf 'NOOP\r\n' >&"$w"
	read -r -t 10 answer <&"$r"
	[[ "$answer" == "-ERR Command not valid in this state"* ]]
	[ "$(sqlite3 "$T/state.db" 'select count(*) from live')" -eq 1 ]
	pid=$(sqlite3 "$T/state.db" 'select pid from live')
	kill -9 "$pid"
	wait "$bg" || true # reaped: no zombie answers kill(pid, 0)
	exec {w}>&- {r}<&-
	run "$ADMIND" --state "$T/state.db" --metrics
	[ "$status" -eq 0 ]
	grep -qx 'sessions_total=1' <<<"$output"
	grep -qx 'sessions_now=0' <<<"$output"
	[ "$(sqlite3 "$T/state.db" 'select count(*) from live')" -eq 0 ]
}

@test "with a missing state file a login gets -ERR [SYS/TEMP] and the session goes on" {
	run --separate-stderr pop3 --state "$T/missing.db" < <(crlf 'USER alice' 'PASS wonderland' 'CAPA' 'QUIT')
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = $'+OK POP3 server ready\r' ]
	[ "${lines[2]}" = $'-ERR [SYS/TEMP] Authentication is unavailable now; try again later\r' ]
	[ "${lines[3]}" = $'+OK Capability list follows\r' ]
	[ "${lines[-1]}" = $'+OK Bye\r' ]
	[ ! -e "$T/missing.db" ]
	[[ "$stderr" == *"state file unavailable"* ]]
}

@test "under classic inetd (stderr is the client's socket) no log line reaches the client" {
	run python3 "$POP3_SRC/tests/lib/inetd_stderr.py" "${AS_USER[@]}" "$SESSION" --state "$T/state.db"
	[ "$status" -eq 0 ]
	# every line the client got is a POP3 reply
	while IFS= read -r l; do
		[[ "$l" == "+OK"* || "$l" == "-ERR"* ]]
	done <<<"$(tr -d '\r' <<<"$output")"
	[[ "$output" == *"-ERR [AUTH]"* ]]
	[[ "$output" != *"session end"* && "$output" != *"auth failed"* ]]
}

@test "a session whose metrics cannot be written at its start still serves mail, and is counted at its end" {
	before=$("$ADMIND" --state "$T/state.db" --metrics | sed -n 's/^sessions_total=//p')
	mkfifo "$T/hin" "$T/hout"
	python3 "$POP3_SRC/tests/lib/hold_write_lock.py" "$T/state.db" <"$T/hin" >"$T/hout" &
	holder=$!
	exec {hw}>"$T/hin" {hr}<"$T/hout"
	read -r line <&"$hr"
	[ "$line" = held ]
	mkfifo "$T/in" "$T/out"
	pop3 <"$T/in" >"$T/out" 2>"$T/err" &
	spid=$!
	exec {w}>"$T/in" {r}<"$T/out"
	read -r greeting <&"$r"
	printf 'USER bob\r\nPASS builder\r\nRETR 1\r\n' >&"$w"
	read -r l <&"$r"; read -r login <&"$r"; read -r retr <&"$r"
	[[ "$login" == "+OK Logged in"* ]]
	[[ "$retr" == "+OK 102 octets"* ]]
	# let the end transaction through
	echo done >&"$hw"
	exec {hw}>&- {hr}<&-
	wait "$holder"
	printf 'QUIT\r\n' >&"$w"
	exec {w}>&-
	cat <&"$r" >/dev/null
	exec {r}<&-
	wait "$spid"
	grep -q 'cannot count session start' "$T/err"
	after=$("$ADMIND" --state "$T/state.db" --metrics | sed -n 's/^sessions_total=//p')
	[ "$after" -eq $((before + 1)) ]
}
