#!/usr/bin/env bats
# The message filter (src/filter.c): RETR and TOP through an administrator's
# program, switched live, per user; the failures it must contain (exit
# status, a hang, a flood, an early close of stdin, stderr); what reaches the
# filter (environment, descriptors, no shell) and what reaches the client.
load helper

bats_require_minimum_version 1.5.0

setup() {
	setup_store
	export PYTHONPATH="$POP3_SRC/tests/lib"
}

teardown() {
	teardown_store
}

VOWELS='/bin/sed -e y/aeiou/43105/'
MSG1="$BATS_TEST_DIRNAME/../maildir-sample/alice/cur/1732000000.M104211P4101.sample,S=683,W=704:2,S"

# set NAME=VALUE: store a setting as the service user (it owns the file).
set_() {
	as_user "$ADMIND" --state "$T/state.db" --set "$1"
}

# filter_on COMMAND: every session from now on runs RETR and TOP through it.
filter_on() {
	set_ filter=on && set_ "filter_command=$1"
}

# session LINE...: one session over a pipe, the lines as its commands; the
# transcript on stdout with CRs removed, the log in $T/err.
session() {
	pop3 < <(crlf "$@") 2>"$T/err" | tr -d '\r'
}

# want_wire FILE [FILTER...]: what RETR must send of FILE (before stuffing),
# after FILTER if given.
want_wire() {
	local f=$1
	shift
	if [ $# -gt 0 ]; then "$@" <"$f" >"$T/filtered"; f=$T/filtered; fi
	python3 -m pop3lib wire "$f"
}

@test "the sed vowel filter rewrites RETR over TCP, with the filtered size on +OK" {
	filter_on "$VOWELS"
	PORT=$(free_port)
	start_tcp "127.0.0.1:$PORT"
	run chat 127.0.0.1 "$PORT" < <(crlf 'USER alice' 'PASS wonderland' 'LIST 1' 'RETR 1' 'QUIT')
	[ "$status" -eq 0 ]
	want_wire "$MSG1" /bin/sed -e 'y/aeiou/43105/' >"$T/want"
	size=$(stat -c %s "$T/want")
	# LIST keeps the stored size; RETR's status line gives what is sent
	[[ "$output" == *"+OK 1 704"* ]]
	[[ "$output" == *"+OK $size octets"* ]]
	[[ "$output" == *"S5bj3ct: L5nch 0n Th5rsd4y?"* ]]
	printf '%s' "$output" | python3 -c '
import sys
data = sys.stdin.buffer.read()
start = data.index(b"octets\r\n") + len(b"octets\r\n")
body = data[start:data.index(b"\r\n.\r\n", start) + 2]
want = open(sys.argv[1], "rb").read()
assert body == want, (body[:200], want[:200])' "$T/want"
}

@test "curl and poplib retrieve filtered messages byte-exact although LIST gives stored sizes" {
	filter_on "$VOWELS"
	PORT=$(free_port)
	start_tcp "127.0.0.1:$PORT"
	curl -sS "pop3://alice:wonderland@127.0.0.1:$PORT/1" >"$T/got"
	want_wire "$MSG1" /bin/sed -e 'y/aeiou/43105/' >"$T/want"
	cmp "$T/got" "$T/want"
	python3 - "$PORT" "$T/mail/alice" <<-'EOF'
	import poplib, subprocess, sys, pop3lib
	p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=20)
	p.user("alice")
	p.pass_("wonderland")
	for i, (uniq, path) in enumerate(pop3lib.maildir_msgs(sys.argv[2]), 1):
	    with open(path, "rb") as f:
	        out = subprocess.run(["sed", "-e", "y/aeiou/43105/"], stdin=f,
	                             capture_output=True, check=True).stdout
	    want = pop3lib.wire(out).split(b"\r\n")[:-1]
	    resp, lines, octets = p.retr(i)
	    assert lines == want, (i, lines[:3], want[:3])
	p.quit()
	EOF
}

@test "TOP filters the whole message, then cuts: a header the filter adds is in TOP n 0" {
	filter_on '/bin/sed -e 1iX-Filtered:\ yes'
	session 'USER alice' 'PASS wonderland' 'TOP 1 0' 'TOP 1 2' 'QUIT' >"$T/got"
	want_wire "$MSG1" /bin/sed -e '1iX-Filtered: yes' | tr -d '\r' >"$T/msg"
	grep -qx 'X-Filtered: yes' "$T/msg"
	{
		printf '%s\n' '+OK POP3 server ready' '+OK Send PASS' '+OK Logged in, 6 messages (5127 octets)' '+OK'
		sed '/^$/q' "$T/msg"
		printf '%s\n' . +OK
		sed -n '1,/^$/p' "$T/msg"
		sed '1,/^$/d' "$T/msg" | head -n 2
		printf '%s\n' . '+OK Bye, 0 deleted'
	} >"$T/want"
	diff "$T/want" "$T/got"
}

@test "a filter that exits 1 gets -ERR [SYS/TEMP] before any +OK; the session goes on, DELE kept" {
	filter_on /bin/false
	run session 'USER alice' 'PASS wonderland' 'DELE 2' 'RETR 1' 'STAT' 'QUIT'
	[ "${lines[4]}" = "-ERR [SYS/TEMP] The message filter failed; try again later" ]
	[ "${lines[5]}" = "+OK 5 3946" ]
	[ "${lines[6]}" = "+OK Bye, 1 deleted" ]
	grep -q 'filter failed user=alice msg=1 reason=exit (status 1)' "$T/err"
	[ "$(ls "$T/mail/alice/cur" | wc -l)" -eq 5 ]
}

@test "a filter that never ends is killed after filter_timeout, reaped, and RETR gets -ERR" {
	filter_on '/bin/sleep 4242.5'
	set_ filter_timeout=1
	mkfifo "$T/in" "$T/out"
	pop3 <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
	bg=$!
	exec {w}>"$T/in" {r}<"$T/out"
	crlf 'USER alice' 'PASS wonderland' 'RETR 1' >&"$w"
	for i in 1 2 3 4; do read -r -t 20 line <&"$r"; done
	[ "${line%$'\r'}" = "-ERR [SYS/TEMP] The message filter failed; try again later" ]
	# the reply comes after the filter is gone: no process, no zombie
	[ -z "$(pgrep -f 'sleep 4242.5' || true)" ]
	[ -z "$(ps -eo stat=,comm= | grep '^Z.*sleep' || true)" ]
	crlf 'NOOP' 'QUIT' >&"$w"
	read -r -t 10 line <&"$r"
	[ "${line%$'\r'}" = "+OK" ]
	exec {w}>&- {r}<&-
	wait "$bg"
	grep -q 'filter failed user=alice msg=1 reason=timeout (no result after 1 s)' "$T/err"
}

@test "a filter that prints 100 MB ends the session at filter_max_octets without a terminator, deleting nothing" {
	filter_on '/bin/sh -c "yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c 100000000"'
	pop3 < <(crlf 'USER alice' 'PASS wonderland' 'DELE 2' 'RETR 1' 'QUIT') >"$T/out" 2>"$T/err" || true
	size=$(stat -c %s "$T/out")
	# the default limit is 64 MiB: more never reaches the client
	[ "$size" -gt 60000000 ] && [ "$size" -lt 75000000 ]
	[ "$(tail -c 5 "$T/out" | od -An -c | tr -d ' ')" != '\r\n.\r\n' ]
	run grep -c '^+OK Bye' "$T/out"
	[ "$output" = 0 ]
	grep -q 'reason=output_limit (more than 67108864 octets); closing without the terminator' "$T/err"
	grep -q 'outcome=server-error' "$T/err"
	[ "$(ls "$T/mail/alice/cur" | wc -l)" -eq 6 ]
}

@test "a filter that writes more than filter_max_octets on a small message gets -ERR before +OK" {
	filter_on '/bin/sh -c "cat; cat /etc/services"'
	set_ filter_max_octets=2048
	run session 'USER alice' 'PASS wonderland' 'RETR 1' 'NOOP' 'QUIT'
	[ "${lines[3]}" = "-ERR [SYS/TEMP] The message filter failed; try again later" ]
	[ "${lines[4]}" = "+OK" ]
	grep -q 'reason=output_limit (more than 2048 octets)' "$T/err"
}

@test "a filter that closes its stdin early is its own business: its output is sent" {
	# a 3 MB message, far more than a pipe holds: the writer meets EPIPE
	python3 -c 'import sys; sys.stdout.write("Subject: big\n\n" + "line of text\n" * 250000)' \
		>"$T/mail/carlos/cur/1800000000.M1P1.big:2,"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/mail"; fi
	filter_on '/usr/bin/head -n 1'
	run session 'USER carlos' 'PASS montana' 'RETR 4' 'STAT' 'QUIT'
	[ "${lines[3]}" = "+OK 14 octets" ]
	[ "${lines[4]}" = "Subject: big" ]
	[ "${lines[5]}" = "." ]
	[[ "${lines[6]}" == "+OK 4 "* ]]
}

@test "a filter's stderr goes to the log, never to the client" {
	filter_on '/bin/sh -c "echo oops >&2; printf partial >&2; cat"'
	run session 'USER alice' 'PASS wonderland' 'RETR 1' 'QUIT'
	[ "${lines[3]}" = "+OK 704 octets" ]
	[[ "$output" != *oops* ]] && [[ "$output" != *partial* ]]
	grep -q 'filter stderr user=alice msg=1: oops' "$T/err"
	grep -q 'filter stderr user=alice msg=1: partial' "$T/err"
}

@test "a 25 MB message through cat arrives byte-exact over TCP" {
	python3 -c '
import sys
line = b"0123456789" * 7 + b"\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: 25 MB\n\n")
    f.write(b".dot-led line\n")
    f.write(line * (25 * 1024 * 1024 // len(line)))' "$T/mail/carlos/cur/1800000000.M2P2.big:2,"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/mail"; fi
	filter_on /bin/cat
	PORT=$(free_port)
	start_tcp "127.0.0.1:$PORT"
	curl -sS "pop3://carlos:montana@127.0.0.1:$PORT/4" | sha256sum >"$T/got"
	want_wire "$T/mail/carlos/cur/1800000000.M2P2.big:2," | sha256sum >"$T/want"
	cmp "$T/got" "$T/want"
}

@test "pop3-admin switches the filter on and off between two sessions" {
	PORT=$(python3 -m adm_udp freeport)
	make_secret "$T/secret"
	start_admind --listen "127.0.0.1:$PORT"
	adm config set filter_command /bin/sed -e y/aeiou/43105/
	adm config set filter on
	run session 'USER alice' 'PASS wonderland' 'TOP 1 0' 'QUIT'
	[[ "$output" == *"S5bj3ct: L5nch 0n Th5rsd4y?"* ]]
	adm config set filter off
	run session 'USER alice' 'PASS wonderland' 'TOP 1 0' 'QUIT'
	[[ "$output" == *"Subject: Lunch on Thursday?"* ]]
	run adm config get filter_command
	[ "$output" = "filter_command=/bin/sed -e y/aeiou/43105/" ]
}

@test "a user's own filter setting overrides the global one, and default restores it" {
	PORT=$(python3 -m adm_udp freeport)
	make_secret "$T/secret"
	start_admind --listen "127.0.0.1:$PORT"
	filter_on "$VOWELS"
	adm user filter alice off
	adm user filter carlos /bin/sed -e s/^Subject:/Subject:[carlos]/
	run adm user show carlos
	[[ "$output" == *" filter=/bin/sed -e s/^Subject:/Subject:[carlos]/" ]]
	run session 'USER alice' 'PASS wonderland' 'TOP 1 0' 'QUIT'
	[[ "$output" == *"Subject: Lunch on Thursday?"* ]]
	run session 'USER bob' 'PASS builder' 'TOP 2 0' 'QUIT'
	[[ "$output" == *"S5bj3ct:"* ]]
	run session 'USER carlos' 'PASS montana' 'TOP 1 0' 'QUIT'
	[[ "$output" == *"Subject:[carlos] "* ]]
	adm user filter alice default
	run adm user show alice
	[[ "$output" == *" filter=default" ]]
	run session 'USER alice' 'PASS wonderland' 'TOP 1 0' 'QUIT'
	[[ "$output" == *"S5bj3ct: L5nch 0n Th5rsd4y?"* ]]
	run adm user filter alice relative/sed
	[ "$status" -eq 1 ]
	[[ "$output" == *"absolute path"* ]]
}

@test "the filter gets a clean environment with POP3_USER, POP3_MSGNO, POP3_UIDL and POP3_SIZE" {
	filter_on /usr/bin/env
	export FOO=leak
	run session 'USER alice' 'PASS wonderland' 'RETR 2' 'QUIT'
	uidl=$(session 'USER alice' 'PASS wonderland' 'UIDL 2' 'QUIT' | sed -n '4s/^+OK 2 //p')
	[ -n "$uidl" ]
	got=$(printf '%s\n' "${lines[@]:4}" | sed '/^\.$/,$d' | sort)
	want=$(printf '%s\n' PATH=/usr/local/bin:/usr/bin:/bin POP3_MSGNO=2 POP3_SIZE=1181 \
		"POP3_UIDL=$uidl" POP3_USER=alice | sort)
	[ "$got" = "$want" ]
}

@test "the filter command runs without a shell: \$, backquotes and ; reach it literally" {
	filter_on "/bin/echo \$HOME \`id\` ; rm -rf /tmp/x 'two words'"
	run session 'USER alice' 'PASS wonderland' 'RETR 1' 'QUIT'
	[ "${lines[4]}" = "\$HOME \`id\` ; rm -rf /tmp/x two words" ]
}

@test "over TCP the filter's descriptors are three pipes: it cannot reach the client's socket" {
	filter_on '/bin/sh -c "cat >/dev/null; for f in /proc/self/fd/*; do readlink $f; done; exit 0"'
	PORT=$(free_port)
	start_tcp "127.0.0.1:$PORT"
	run chat 127.0.0.1 "$PORT" < <(crlf 'USER alice' 'PASS wonderland' 'RETR 1' 'QUIT')
	[[ "$output" == *"pipe:"* ]]
	[[ "$output" != *"socket:"* ]]
	[ "$(printf '%s\n' "$output" | grep -c '^pipe:')" -eq 3 ]
}

@test "filter settings are validated: a relative path, a bad quote and bad limits are refused" {
	run as_user "$ADMIND" --state "$T/state.db" --set filter_command=sed
	[ "$status" -eq 1 ]
	run as_user "$ADMIND" --state "$T/state.db" --set "filter_command=/bin/echo 'open"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unterminated quote"* ]]
	run as_user "$ADMIND" --state "$T/state.db" --set filter_timeout=0
	[ "$status" -eq 1 ]
	run as_user "$ADMIND" --state "$T/state.db" --set filter_max_octets=10
	[ "$status" -eq 1 ]
}

@test "a filter program that does not exist gets -ERR and a log line naming it" {
	filter_on /nonexistent/filter
	run session 'USER alice' 'PASS wonderland' 'RETR 1' 'QUIT'
	[ "${lines[3]}" = "-ERR [SYS/TEMP] The message filter failed; try again later" ]
	grep -q 'reason=spawn (/nonexistent/filter: No such file or directory)' "$T/err"
}

@test "a grandchild that left the filter's process group and keeps its stdout open does not stall RETR" {
	# the straggler calls setsid(2): kill(-pgid) cannot reach it, and it
	# holds the filter's stdout; the leader waits until it has left
	mkfifo "$T/esc"
	if [ "$(id -u)" -eq 0 ]; then chown "$TEST_USER": "$T/esc"; fi
	filter_on "/bin/sh -c '/usr/bin/setsid /bin/sh -c \"echo >$T/esc; exec /bin/sleep 4243.25\" & read x <$T/esc; exec /bin/cat'"
	mkfifo "$T/in" "$T/out"
	pop3 <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
	bg=$!
	exec {w}>"$T/in" {r}<"$T/out"
	crlf 'USER alice' 'PASS wonderland' 'RETR 1' >&"$w"
	# the default filter_timeout is 60 s: the answer must not wait for it
	for i in 1 2 3 4; do read -r -t 20 line <&"$r" || break; done
	for p in $(pgrep -f 'sleep 4243.25'); do kill "$p"; done
	[ "${line%$'\r'}" = "+OK 704 octets" ]
	crlf 'QUIT' >&"$w"
	exec {w}>&-
	cat <&"$r" >"$T/rest"
	exec {r}<&-
	wait "$bg"
	grep -q '^+OK Bye' "$T/rest"
	! grep -q 'filter failed' "$T/err"
}

@test "a SIGCHLD ignored by whoever started the session does not make a failing filter succeed" {
	# an ignored SIGCHLD survives exec: the kernel would reap the filter
	# itself and waitpid(2) could not tell its exit status
	filter_on /bin/false
	crlf 'USER alice' 'PASS wonderland' 'RETR 1' 'QUIT' >"$T/cmds"
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
os.execvp(sys.argv[1], sys.argv[1:])' "${AS_USER[@]}" "$SESSION" --state "$T/state.db" \
		<"$T/cmds" 2>"$T/err" | tr -d '\r' >"$T/got"
	[ "$(sed -n 4p "$T/got")" = "-ERR [SYS/TEMP] The message filter failed; try again later" ]
	grep -q 'filter failed user=alice msg=1 reason=exit (status 1)' "$T/err"
}

@test "TOP that has its lines is not failed by filter_timeout while the filter it stopped is reaped" {
	# the session is stopped while it waits for the filter, the filter's
	# output arrives and the deadline passes; on resuming, TOP reads its
	# lines, stops the filter, and must answer with them
	mkfifo "$T/started" "$T/gate" "$T/ready" "$T/in" "$T/out"
	if [ "$(id -u)" -eq 0 ]; then chown "$TEST_USER": "$T/started" "$T/gate" "$T/ready"; fi
	filter_on "/bin/sh -c 'echo \$PPID >$T/started; read g <$T/gate; /bin/cat; echo >$T/ready; exec /bin/sleep 4244.25'"
	set_ filter_timeout=1
	pop3 <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
	bg=$!
	exec {w}>"$T/in" {r}<"$T/out"
	crlf 'USER alice' 'PASS wonderland' 'TOP 1 0' >&"$w"
	read -r spid <"$T/started"
	# the filter's parent is the session: wait until it sleeps in poll(2)
	until [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$spid/stat")" = S ]; do :; done
	kill -STOP "$spid"
	echo >"$T/gate"
	read -r g <"$T/ready"
	# let the 1 s deadline pass while the session is stopped (not a wait for an event)
	sleep 1.5
	kill -CONT "$spid"
	for i in 1 2 3 4; do read -r -t 20 line <&"$r" || break; done
	[ "${line%$'\r'}" = "+OK" ]
	crlf 'QUIT' >&"$w"
	exec {w}>&-
	cat <&"$r" | tr -d '\r' >"$T/rest"
	exec {r}<&-
	wait "$bg"
	grep -qx 'Subject: Lunch on Thursday?' "$T/rest"
	grep -q '^+OK Bye' "$T/rest"
	[ -z "$(pgrep -f 'sleep 4244.25' || true)" ]
}

@test "a filter's stderr cannot add key=value fields to the log line" {
	filter_on '/bin/sh -c "echo peer=192.0.2.66 user=root \\\\ >&2; cat"'
	run session 'USER alice' 'PASS wonderland' 'RETR 1' 'QUIT'
	[ "${lines[3]}" = "+OK 704 octets" ]
	grep -qF 'filter stderr user=alice msg=1: peer\x3d192.0.2.66 user\x3droot \x5c' "$T/err"
	! grep -q 'peer=192.0.2.66' "$T/err"
}

@test "a filter command of 1023 octets, the longest a setting holds, is accepted" {
	long=/$(head -c 1022 /dev/zero | tr '\0' a)
	run as_user "$ADMIND" --state "$T/state.db" --set "filter_command=$long"
	[ "$status" -eq 0 ]
	run as_user "$ADMIND" --state "$T/state.db" --set "filter_command=${long}a"
	[ "$status" -eq 1 ]
}
