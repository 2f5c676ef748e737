#!/usr/bin/env bats
# pop3-admind, the UDP administration daemon, and pop3-admin, its client
# (docs/admin-protocol.md): every client command and its errors, the effect
# of a change on the next POP3 session, the protocol's defences (secret,
# tags, timestamps, unauthenticated datagrams) exercised with datagrams made
# by hand (tests/lib/adm_udp.py), and the daemon's life: socket activation,
# two addresses, SIGKILL, SIGTERM, SIGHUP.
#
# The daemon runs as the service user (it owns the state file); pop3-admin
# runs as the suite's user, root in CI, which can read the mode-600 secret.
load helper

bats_require_minimum_version 1.5.0

# pyenv and the like put a shell script in front of python3: resolve it once
setup_file() {
	ADM_PY=$(python3 -c 'import sys; print(sys.executable)')
	export ADM_PY
}

setup() {
	setup_store
	export PYTHONPATH="$POP3_SRC/tests/lib"
	PORT=$("$ADM_PY" -m adm_udp freeport)
	make_secret "$T/secret"
	ADMIND_PID=
	N_FIFO=0
}

teardown() {
	# a daemon stopped with SIGSTOP would never act on teardown's SIGTERM
	[ -z "${ADMIND_PID:-}" ] || kill -CONT "$ADMIND_PID" 2>/dev/null || true
	teardown_store
}

# add_user NAME PASSWORD [--maildir DIR]: user add, the password on stdin.
add_user() {
	adm --password-stdin --scheme sha512crypt user add "$1" "${@:3}" <<<"$2"
}

# pass_reply NAME PASSWORD: one session over a pipe; its answer to PASS.
pass_reply() {
	pop3 < <(crlf "USER $1" "PASS $2" 'QUIT') 2>/dev/null | sed -n '3s/\r$//p'
}

# new_maildir DIR: an empty maildir the service user owns.
new_maildir() {
	mkdir -p "$1/cur" "$1/new" "$1/tmp"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$1"; fi
}

# capa_has COMMAND: the running daemon lists COMMAND in CAPA.
capa_has() {
	adm capabilities | grep -qx "$1"
}

# ms_since EPOCHREALTIME: milliseconds from then to now.
ms_since() {
	local now=$EPOCHREALTIME
	echo $(( (${now/./} - ${1/./}) / 1000 ))
}

# ---- the client's commands ----

@test "a user added with pop3-admin user add logs in at once" {
	serve
	new_maildir "$T/mail/dave"
	run --separate-stderr add_user dave 'dave-s3cret'
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run pass_reply dave 'dave-s3cret'
	[ "$output" = "+OK Logged in, 0 messages (0 octets)" ]
	run pass_reply dave 'wrong-pass'
	[ "$output" = "-ERR [AUTH] Authentication failed" ]
}

@test "user add stores the sha512crypt hash the client made, never the password" {
	serve
	add_user dave 'dave-s3cret'
	hash=$(sqlite3 "$T/state.db" "select hash from users where name = 'dave'")
	[[ "$hash" == '$6$'* ]]
	[[ "$hash" != *dave-s3cret* ]]
}

@test "user add --maildir gives the user that maildir" {
	serve
	add_user erin 'erin-pass' --maildir "$T/mail/bob"
	run adm user show erin
	[[ "$output" == *" maildir=$T/mail/bob "* ]]
	run pass_reply erin 'erin-pass'
	[ "$output" = "+OK Logged in, 2 messages (693 octets)" ]
}

@test "user add with a relative --maildir exits 1 with [INVALID]" {
	serve
	run --separate-stderr add_user erin 'erin-pass' --maildir mail/bob
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[INVALID]"* ]]
	run adm user show erin
	[ "$status" -eq 1 ]
}

@test "adding an existing user exits 1 with [EXISTS] and keeps the old password" {
	serve
	run --separate-stderr add_user alice 'new-pass'
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[EXISTS]"* ]]
	run pass_reply alice wonderland
	[[ "$output" == "+OK Logged in"* ]]
}

@test "user add refuses invalid names with exit 1 and [INVALID]" {
	serve
	long=$(printf 'a%.0s' {1..129})
	for name in .hidden 'a/b' 'a:b' 'semi;colon' '../etc' "$long"; do
		run --separate-stderr add_user "$name" 'pass-word'
		[ "$status" -eq 1 ] || { echo "$name: exit $status"; false; }
		[[ "$stderr" == *"[INVALID]"* ]] || { echo "$name: $stderr"; false; }
	done
	# 128 octets is the longest name
	run add_user "${long:1}" 'pass-word'
	[ "$status" -eq 0 ]
	run adm user list
	[ "$output" = "$(printf '%s\n' "${long:1}" alice bob carlos)" ]
}

@test "user show prints the user's record and never the password hash" {
	serve
	pop3 < <(crlf 'USER bob' 'PASS builder' 'QUIT') >/dev/null 2>&1
	run --separate-stderr adm user show bob
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^name=bob\ enabled=1\ maildir=\ created=[0-9]+\ last_login=([0-9]+)\ last_peer=local\ filter=default$ ]]
	[ "${BASH_REMATCH[1]}" -ge $(( $(date +%s) - 60 )) ]
	hash=$(sqlite3 "$T/state.db" "select hash from users where name = 'bob'")
	[[ "$output" != *"$hash"* && "$output" != *'$6$'* ]]
}

@test "user list prints all 23 users once, sorted, over several pages" {
	serve
	names=(Zed alpha.beta x@example.org m+tag z-last)
	for i in $(seq 1 15); do names+=("user$i"); done
	for n in $(shuf -e "${names[@]}"); do add_user "$n" "pw-$n"; done
	run --separate-stderr adm user list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 23 ]
	[ "$output" = "$(printf '%s\n' "${names[@]}" alice bob carlos | LC_ALL=C sort)" ]
	# 23 names do not fit one page: the first reply ends with a cursor
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	body = a.check_reply(s, "list1tagxx", p.exchange(a.request(s, "list1tagxx", "USER LIST")))
	lines = body.split("\n")
	assert lines[0] == "+OK" and lines[-1].startswith("more="), body
	EOF
}

@test "user list of 128-octet names keeps every page within 1,200 octets and prints each name once" {
	serve
	base=$(printf 'N%.0s' {1..127})
	for i in 0 1 2 3 4 5 6 7 8 9; do add_user "$base$i" 'pw-long'; done
	"$ADM_PY" - "$PORT" "$T/secret" "$base" <<-'EOF'
	import sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	want = sorted([sys.argv[3] + str(i) for i in range(10)] + ["alice", "bob", "carlos"])
	got, cursor = [], ""
	for page in range(10):
	    tag = "pagetag%d" % page
	    r = p.exchange(a.request(s, tag, "USER LIST" + (" " + cursor if cursor else "")))
	    assert r is not None, "no reply to page %d" % page
	    lines = a.check_reply(s, tag, r).split("\n")  # also: at most 1,200 octets
	    assert lines[0] == "+OK", lines
	    names = [l for l in lines[1:] if not l.startswith("more=")]
	    cursor = lines[-1][5:] if lines[-1].startswith("more=") else ""
	    for n in names:
	        assert n in want, "page %d: %r is no user" % (page, n)
	    assert not cursor or cursor == names[-1], "page %d: cursor %r" % (page, cursor)
	    got += names
	    if not cursor:
	        break
	assert got == want, got
	EOF
	run --separate-stderr timeout 20 "$ADMIN" --port "$PORT" --secret-file "$T/secret" user list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 13 ]
}

@test "user passwd applies the new password to the next login at once" {
	serve
	run --separate-stderr adm --password-stdin --scheme sha512crypt user passwd alice <<<'looking-glass'
	[ "$status" -eq 0 ]
	run pass_reply alice looking-glass
	[[ "$output" == "+OK Logged in"* ]]
	run pass_reply alice wonderland
	[ "$output" = "-ERR [AUTH] Authentication failed" ]
}

@test "user disable refuses the user's next login with -ERR [AUTH]" {
	serve
	run --separate-stderr adm user disable alice
	[ "$status" -eq 0 ]
	run pass_reply alice wonderland
	[ "$output" = "-ERR [AUTH] Authentication failed" ]
	run adm user show alice
	[[ "$output" == *" enabled=0 "* ]]
}

@test "user enable lets a disabled user log in again" {
	serve
	adm user disable bob
	run --separate-stderr adm user enable bob
	[ "$status" -eq 0 ]
	run pass_reply bob builder
	[[ "$output" == "+OK Logged in"* ]]
	run adm user show bob
	[[ "$output" == *" enabled=1 "* ]]
}

@test "user del removes the user: no login, no record, not listed" {
	serve
	run --separate-stderr adm user del carlos
	[ "$status" -eq 0 ]
	run pass_reply carlos montana
	[ "$output" = "-ERR [AUTH] Authentication failed" ]
	run --separate-stderr adm user show carlos
	[ "$status" -eq 1 ]
	run adm user list
	[ "$output" = "$(printf '%s\n' alice bob)" ]
}

@test "every user command on an unknown user exits 1 with [NOUSER]" {
	serve
	for sub in show del enable disable; do
		run --separate-stderr adm user "$sub" nobody
		[ "$status" -eq 1 ] || { echo "$sub: exit $status"; false; }
		[[ "$stderr" == *"[NOUSER]"* ]] || { echo "$sub: $stderr"; false; }
	done
	run --separate-stderr adm --password-stdin --scheme sha512crypt user passwd nobody <<<'some-pass'
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[NOUSER]"* ]]
	run adm user list
	[ "$output" = "$(printf '%s\n' alice bob carlos)" ]
}

@test "metrics prints every counter as name=value, the figures of the state file" {
	serve
	pop3 < <(crlf 'USER carlos' 'PASS montana' 'RETR 1' 'QUIT') >/dev/null 2>&1
	run --separate-stderr adm metrics
	[ "$status" -eq 0 ]
	for m in since sessions_total sessions_now logins_ok logins_failed messages_retrieved \
		messages_deleted octets_sent uptime; do
		grep -Eqx "$m=[0-9]+" <<<"$output" || { echo "no $m in: $output"; false; }
	done
	for want in sessions_total=1 sessions_now=0 logins_ok=1 logins_failed=0 messages_retrieved=1; do
		grep -qx "$want" <<<"$output" || { echo "no $want in: $output"; false; }
	done
	offline=$(as_user "$ADMIND" --state "$T/state.db" --metrics | grep -v '^last_login ')
	[ "$(grep -v '^uptime=' <<<"$output")" = "$offline" ]
}

@test "metrics --prometheus prints every metric with HELP and TYPE, over several pages" {
	serve
	capa_has "METRICS PROMETHEUS" || skip "the daemon does not list METRICS PROMETHEUS"
	pop3 < <(crlf 'USER carlos' 'PASS montana' 'QUIT') >/dev/null 2>&1
	run --separate-stderr adm metrics --prometheus
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 27 ]
	for nt in pop3_metrics_since_seconds:gauge pop3_sessions_total:counter pop3_sessions:gauge \
		pop3_logins_total:counter pop3_login_failures_total:counter \
		pop3_messages_retrieved_total:counter pop3_messages_deleted_total:counter \
		pop3_sent_octets_total:counter pop3_admind_uptime_seconds:gauge; do
		n=${nt%%:*} t=${nt#*:}
		grep -qx "# TYPE $n $t" <<<"$output" || { echo "no TYPE of $n"; false; }
		grep -q "^# HELP $n ." <<<"$output" || { echo "no HELP of $n"; false; }
		grep -Eqx "$n [0-9]+" <<<"$output" || { echo "no sample of $n"; false; }
	done
	grep -qx 'pop3_sessions_total 1' <<<"$output"
	grep -qx 'pop3_logins_total 1' <<<"$output"
}

@test "logins lists each user's last login with its time and peer" {
	serve
	capa_has LOGINS || skip "the daemon does not list LOGINS"
	pop3 < <(crlf 'USER bob' 'PASS builder' 'QUIT') >/dev/null 2>&1
	pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT') >/dev/null 2>&1
	pop3 < <(crlf 'USER carlos' 'PASS wrong' 'QUIT') >/dev/null 2>&1
	run --separate-stderr adm logins
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^user=alice\ time=([0-9]+)\ peer=local$ ]]
	[ "${BASH_REMATCH[1]}" -ge $(( $(date +%s) - 60 )) ]
	[[ "${lines[1]}" =~ ^user=bob\ time=[0-9]+\ peer=local$ ]]
}

@test "logins of 9 users with 128-octet names prints each once" {
	serve
	capa_has LOGINS || skip "the daemon does not list LOGINS"
	base=$(printf 'L%.0s' {1..127})
	for i in 1 2 3 4 5 6 7 8 9; do
		add_user "$base$i" 'pw-long' --maildir "$T/mail/carlos"
		pop3 < <(crlf "USER $base$i" 'PASS pw-long' 'QUIT') >/dev/null 2>&1
	done
	run --separate-stderr timeout 20 "$ADMIN" --port "$PORT" --secret-file "$T/secret" logins
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 9 ]
	for i in 1 2 3 4 5 6 7 8 9; do
		[[ "${lines[i - 1]}" =~ ^user=$base$i\ time=[0-9]+\ peer=local$ ]]
	done
}

@test "who lists a live session: user=- before login, then its user and octets" {
	serve
	capa_has WHO || skip "the daemon does not list WHO"
	new_maildir "$T/live"
	adm config set live_dir "$T/live"
	mkfifo "$T/in" "$T/out"
	pop3 <"$T/in" >"$T/out" 2>/dev/null 3>&- &
	bg=$!
	exec {w}>"$T/in" {r}<"$T/out"
	read -r -t 10 greeting <&"$r"
	[[ "$greeting" == "+OK POP3 server ready"* ]]
	# once its first command is answered, the session has registered itself
	printf 'NOOP\r\n' >&"$w"
	read -r -t 10 l <&"$r"
	run --separate-stderr adm who
	[[ "$output" =~ ^pid=[0-9]+\ user=-\ peer=local\ since=[0-9]+\ octets=-$ ]]
	printf 'USER alice\r\nPASS wonderland\r\nRETR 1\r\n' >&"$w"
	while read -r -t 10 l <&"$r" && [ "$l" != $'.\r' ]; do :; done
	# NOOP is read after RETR is done, its live file written
	printf 'NOOP\r\n' >&"$w"
	read -r -t 10 l <&"$r"
	[[ "$l" == "+OK"* ]]
	run --separate-stderr adm who
	[[ "$output" =~ ^pid=[0-9]+\ user=alice\ peer=local\ since=[0-9]+\ octets=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -ge 704 ]
	printf 'QUIT\r\n' >&"$w"
	exec {w}>&-
	cat <&"$r" >/dev/null
	exec {r}<&-
	wait "$bg"
	run --separate-stderr adm who
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
}

@test "who pages over 4 live sessions of users with 128-octet names, each listed once" {
	serve
	capa_has WHO || skip "the daemon does not list WHO"
	new_maildir "$T/live"
	adm config set live_dir "$T/live"
	base=$(printf 'W%.0s' {1..127})
	ws=() bgs=()
	for i in 1 2 3 4; do
		new_maildir "$T/m$i"
		add_user "$base$i" 'pw-who' --maildir "$T/m$i"
		mkfifo "$T/in$i" "$T/out$i"
		pop3 <"$T/in$i" >"$T/out$i" 2>/dev/null 3>&- &
		bgs+=($!)
		exec {w}>"$T/in$i" {r}<"$T/out$i"
		ws+=("$w")
		printf 'USER %s\r\nPASS pw-who\r\nNOOP\r\n' "$base$i" >&"$w"
		for k in 1 2 3 4; do read -r -t 10 l <&"$r"; done
		[[ "$l" == "+OK"* ]] || { echo "session $i: $l"; false; }
		exec {r}<&-
	done
	run --separate-stderr timeout 20 "$ADMIN" --port "$PORT" --secret-file "$T/secret" who
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	for i in 1 2 3 4; do
		[ "$(grep -Ec "^pid=[0-9]+ user=$base$i peer=local since=[0-9]+ octets=[0-9]+$" <<<"$output")" -eq 1 ]
	done
	for w in "${ws[@]}"; do
		printf 'QUIT\r\n' >&"$w"
		exec {w}>&-
	done
	for b in "${bgs[@]}"; do wait "$b" || true; done
}

@test "config get prints the stored settings, or the one named" {
	serve
	run --separate-stderr adm config get
	[ "$status" -eq 0 ]
	grep -qx 'auth_delay_ms=0' <<<"$output"
	grep -qx "maildir_root=$T/mail" <<<"$output"
	[[ "$output" != *dummy_hash* ]]
	run --separate-stderr adm config get maildir_root
	[ "$status" -eq 0 ]
	[ "$output" = "maildir_root=$T/mail" ]
}

@test "config set stores a setting that config get then shows" {
	serve
	run --separate-stderr adm config set idle_timeout 45
	[ "$status" -eq 0 ]
	run --separate-stderr adm config set log_level debug
	[ "$status" -eq 0 ]
	run adm config get idle_timeout
	[ "$output" = "idle_timeout=45" ]
	run adm config get log_level
	[ "$output" = "log_level=debug" ]
}

@test "config set refuses invalid values with exit 1 and [INVALID], storing nothing" {
	serve
	before=$(adm config get)
	for nv in 'idle_timeout 0' 'idle_timeout 86401' 'idle_timeout soon' 'auth_delay_ms 60001' \
		'auth_delay_ms -1' 'maildir_root relative/mail' 'log_level loud' 'live_dir run/live' \
		'no_such_setting 1' 'dummy_hash $6$abc$def'; do
		run --separate-stderr adm config set $nv
		[ "$status" -eq 1 ] || { echo "$nv: exit $status"; false; }
		[[ "$stderr" == *"[INVALID]"* ]] || { echo "$nv: $stderr"; false; }
	done
	[ "$(adm config get)" = "$before" ]
}

@test "capabilities lists the protocol version, its limits and every command" {
	serve
	run --separate-stderr adm capabilities
	[ "$status" -eq 0 ]
	for want in version=PA1 max-request=1024 max-reply=1200 CAPA 'USER ADD' 'USER DEL' \
		'USER PASSWD' 'USER ENABLE' 'USER DISABLE' 'USER SHOW' 'USER LIST' METRICS \
		'CONFIG GET' 'CONFIG SET'; do
		grep -qx "$want" <<<"$output" || { echo "no $want in: $output"; false; }
	done
}

@test "usage errors exit 100" {
	serve
	run --separate-stderr "$ADMIN"
	[ "$status" -eq 100 ]
	for args in frobnicate user 'user add' 'user add a b' 'user add a --maildir' 'user show' \
		'user show a b' 'user list x' 'user frob alice' 'metrics x' 'config' 'config get a b' \
		'config set a' 'capabilities x'; do
		run --separate-stderr adm $args
		[ "$status" -eq 100 ] || { echo "$args: exit $status"; false; }
	done
	run --separate-stderr adm --no-such-option capabilities
	[ "$status" -eq 100 ]
	run --separate-stderr adm user show 'two words'
	[ "$status" -eq 100 ]
	run --separate-stderr adm --scheme md5 --password-stdin user add xavier <<<'pass-word'
	[ "$status" -eq 100 ]
	run adm user list
	[ "$output" = "$(printf '%s\n' alice bob carlos)" ]
}

# ---- changes reach the next session ----

@test "idle_timeout set with pop3-admin ends the next idle session after 1 s" {
	serve
	adm config set idle_timeout 1
	mkfifo "$T/in" "$T/out"
	pop3 <"$T/in" >"$T/out" 2>/dev/null 3>&- &
	bg=$!
	exec {w}>"$T/in" {r}<"$T/out"
	read -r -t 10 greeting <&"$r"
	[[ "$greeting" == "+OK POP3 server ready"* ]]
	t0=$EPOCHREALTIME
	read -r -t 10 line <&"$r"
	ms=$(ms_since "$t0")
	exec {w}>&- {r}<&-
	wait "$bg" || true # an autologout is no clean end
	[[ "$line" == "-ERR Autologout"* ]]
	[ "$ms" -lt 5000 ]
}

@test "maildir_root set with pop3-admin applies to the next login" {
	serve
	mkdir "$T/mail2"
	cp -r "$T/mail/bob" "$T/mail2/alice"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/mail2"; fi
	adm config set maildir_root "$T/mail2"
	run pass_reply alice wonderland
	[ "$output" = "+OK Logged in, 2 messages (693 octets)" ]
}

@test "auth_delay_ms set with pop3-admin delays the next failed login" {
	serve
	adm config set auth_delay_ms 600
	t0=$EPOCHREALTIME
	run pass_reply alice wrong-pass
	ms=$(ms_since "$t0")
	[ "$output" = "-ERR [AUTH] Authentication failed" ]
	[ "$ms" -ge 550 ]
}

# ---- the secret ----

@test "a client with another secret exits 1 and the daemon still serves" {
	serve
	make_secret "$T/other"
	run --separate-stderr "$ADMIN" --port "$PORT" --secret-file "$T/other" user del alice
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"wrong secret"* ]]
	run --separate-stderr adm user show alice
	[ "$status" -eq 0 ]
	[[ "$output" == "name=alice "* ]]
}

@test "pop3-admind refuses to start with a secret file of mode 644" {
	chmod 644 "$T/secret"
	if serve; then echo "it started"; false; fi
	rc=0
	wait "$ADMIND_PID" || rc=$?
	wait "$DRAIN_PID"
	[ "$rc" -ne 0 ] && [ "$rc" -lt 126 ]
	grep -q "secret file $T/secret: readable or writable by group or others" "$T/admind.log"
}

@test "pop3-admind refuses to start with a secret of 31 octets" {
	printf '%031d\n' 7 >"$T/secret"
	if serve; then echo "it started"; false; fi
	rc=0
	wait "$ADMIND_PID" || rc=$?
	wait "$DRAIN_PID"
	[ "$rc" -ne 0 ] && [ "$rc" -lt 126 ]
	grep -q "32 to 256 printable octets" "$T/admind.log"
}

@test "pop3-admin refuses a secret file of mode 644 with exit 111" {
	serve
	chmod 644 "$T/secret"
	run --separate-stderr adm user del alice
	[ "$status" -eq 111 ]
	[[ "$stderr" == *"chmod 600"* ]]
	chmod 600 "$T/secret"
	run adm user show alice
	[ "$status" -eq 0 ]
}

@test "SIGHUP makes pop3-admind read its secret file again" {
	serve
	cp -p "$T/secret" "$T/old"
	head -c 36 /dev/urandom | base64 >"$T/secret" # same file: mode and owner stay
	kill -HUP "$ADMIND_PID"
	# no readiness signal for a reload, and datagrams already queued are
	# answered first: ask with the new secret until it is taken
	n=0
	until adm capabilities >/dev/null 2>&1; do
		kill -0 "$ADMIND_PID"
		n=$((n + 1))
		[ "$n" -lt 200 ]
	done
	run --separate-stderr "$ADMIN" --port "$PORT" --secret-file "$T/old" capabilities
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"wrong secret"* ]]
}

# ---- datagrams made by hand ----

@test "datagrams under 90 octets, the empty one included, get no reply" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import os, sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	real = a.request(s, "abcdefgh12345678", "CAPA")
	for d in (b"", b"\n", b"x", b"-ERR auth", b"PA1 ", b"\0" * 89, os.urandom(60), b"A" * 89,
	          real[:89]):
	    got = p.answers_to(d, s)
	    assert got == [], (d, got)
	EOF
	run adm user show alice
	[ "$status" -eq 0 ]
}

@test "garbage and binary datagrams of 90 octets or more get exactly -ERR auth" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import os, sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	for d in (b"G" * 90, b"hello, daemon! " * 10, os.urandom(200), b"\0" * 100, bytes(range(256)),
	          b"PA1 " + b"x" * 200, b"\xff" * 1024, b"\n" * 300):
	    got = p.answers_to(d, s)
	    assert got == [b"-ERR auth"], (d[:40], got)
	EOF
	run adm user show alice
	[ "$status" -eq 0 ]
}

@test "a request signed with another secret, or altered after signing, gets -ERR auth" {
	serve
	make_secret "$T/other"
	"$ADM_PY" - "$PORT" "$T/secret" "$T/other" <<-'EOF'
	import sys, adm_udp as a
	s, other = a.read_secret(sys.argv[2]), a.read_secret(sys.argv[3])
	p = a.Peer("127.0.0.1", sys.argv[1])
	forged = a.request(other, "forged1tagxx", "USER DEL alice")
	altered = a.request(s, "altered1", "USER SHOW alice").replace(b"SHOW", b"DEL ")
	for d in (forged, altered):
	    got = p.answers_to(d, s)
	    assert got == [b"-ERR auth"], (d, got)
	EOF
	run adm user show alice
	[ "$status" -eq 0 ]
}

@test "a signed request outside the grammar gets -ERR auth and is not applied" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import sys, time, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	now = int(time.time())
	good = a.request(s, "okay1tagxx", "USER DEL bob")
	bad = [
	    a.request(s, "tag17chars1234567", "USER DEL alice"),      # tag over 16
	    a.request(s, "tag-1", "USER DEL alice"),                  # tag not alphanumeric
	    a.request(s, "stamp13tagxx", "USER DEL alice", stamp="000%d" % now),  # 13 digits
	    a.request(s, "ctl1tagxx", "USER DEL al\tice"),                 # a control character
	    a.request(s, "nul1tagxx", "USER DEL al\0ice"),
	    a.request(s, "hi1tagxx", b"USER DEL al\xe9ice"),                # not US-ASCII
	    good.replace(good.split(b" ")[3], good.split(b" ")[3].upper()),  # upper-case MAC
	    a.request(s, "lf2tagxx", "USER DEL alice") + b"\n\n",          # more than one final LF
	    b"PA2" + a.request(s, "ver2tagxx", "USER DEL alice")[3:],      # another version
	]
	for d in bad:
	    got = p.answers_to(d, s)
	    assert got == [b"-ERR auth"], (d, got)
	# a final LF is allowed
	r = p.exchange(a.request(s, "lf1tagxx", "USER SHOW alice") + b"\n")
	assert a.check_reply(s, "lf1tagxx", r).startswith("+OK\nname=alice "), r
	EOF
	run adm user list
	[ "$output" = "$(printf '%s\n' alice bob carlos)" ]
}

@test "a signed request of 1,024 octets is answered, one of 1,025 gets -ERR auth" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	def sized(tag, n):
	    base = len(a.request(s, tag, "CONFIG GET "))
	    d = a.request(s, tag, "CONFIG GET " + "x" * (n - base))
	    assert len(d) == n
	    return d
	r = p.exchange(sized("max1tagxx", 1024))
	assert r is not None, "no answer"
	body = a.check_reply(s, "max1tagxx", r)  # authenticated, whatever the answer
	assert body.startswith(("+OK", "-ERR [")), body
	assert p.answers_to(sized("over1tagxx", 1025), s) == [b"-ERR auth"]
	EOF
}

@test "a 64 KB datagram gets -ERR auth and the daemon keeps serving" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import os, sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	for d in (b"A" * 65507, os.urandom(65000),
	          a.request(s, "big1tagxx", "CONFIG GET " + "x" * 65000)):
	    got = p.answers_to(d, s)
	    assert got == [b"-ERR auth"], (len(d), got)
	EOF
	run --separate-stderr adm user show alice
	[ "$status" -eq 0 ]
}

@test "no reply to an unauthenticated datagram is longer than the datagram" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import os, sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	sizes = list(range(0, 1100, 11)) + [89, 90, 91, 1023, 1024, 1025, 1026, 1500, 9000, 65507]
	for n in sizes:
	    for d in (os.urandom(n), (b"PA1 t1 1 " + b"0" * 64 + b" CAPA" * n)[:n]):
	        got = p.answers_to(d, s)
	        assert len(got) <= 1, (n, got)
	        for r in got:
	            assert len(r) <= len(d), (n, r)
	EOF
	run --separate-stderr adm user show alice
	[ "$status" -eq 0 ]
}

@test "unknown commands and wrong arguments get -ERR [SYNTAX]; verbs are case-insensitive" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	def ask(i, cmd):
	    tag = "syntaxcase%06d" % i
	    return a.check_reply(s, tag, p.exchange(a.request(s, tag, cmd)))
	for i, cmd in enumerate(("FROB", "FROB alice", "USER FROB alice", "USER DEL alice bob",
	                         "USER ADD alice", "USER PASSWD alice", "USER", "CONFIG",
	                         "CONFIG SET idle_timeout", "METRICS NOW", "USER SHOW a b c d e f")):
	    body = ask(i, cmd)
	    assert body.startswith("-ERR [SYNTAX] "), (cmd, body)
	assert ask(20, "user show alice").startswith("+OK\nname=alice "), "lower-case verb"
	assert ask(21, "Capa").startswith("+OK\nversion=PA1"), "mixed-case verb"
	EOF
	run adm user list
	[ "$output" = "$(printf '%s\n' alice bob carlos)" ]
}

# ---- tags, retries and timestamps ----

@test "a retried request is applied once and both replies are the same signed +OK" {
	serve
	hash=$(openssl passwd -6 'erin-pass')
	"$ADM_PY" - "$PORT" "$T/secret" "$hash" <<-'EOF'
	import hmac, sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	req = a.request(s, "retry1tagxx", "USER ADD erin " + sys.argv[3])
	r1 = p.exchange(req)
	r2 = p.exchange(req)
	assert r1 is not None and r2 is not None
	assert r1 == r2, (r1, r2)
	claimed, want = a.reply_mac(s, r1)
	assert hmac.compare_digest(claimed, want), (claimed, want)
	assert a.check_reply(s, "retry1tagxx", r1) == "+OK", r1
	EOF
	run adm user list
	[ "$(grep -cx erin <<<"$output")" -eq 1 ]
	new_maildir "$T/mail/erin"
	run pass_reply erin erin-pass
	[ "$output" = "+OK Logged in, 0 messages (0 octets)" ]
}

@test "a retry that comes after the user was deleted is answered from the cache, not applied" {
	serve
	"$ADM_PY" -m adm_udp sign "$T/secret" retry2tagxx "USER ADD erin $(openssl passwd -6 erin-pass)" >"$T/req"
	"$ADM_PY" -m adm_udp send "$PORT" "$T/req" >"$T/r1"
	[ "$("$ADM_PY" -m adm_udp body "$T/secret" retry2tagxx "$T/r1")" = "+OK" ]
	adm user del erin
	"$ADM_PY" -m adm_udp send "$PORT" "$T/req" >"$T/r2"
	cmp "$T/r1" "$T/r2"
	run --separate-stderr adm user show erin
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[NOUSER]"* ]]
}

@test "a request replayed after pop3-admind restarted is not applied again" {
	serve
	"$ADM_PY" -m adm_udp sign "$T/secret" replay1tagxx "USER ADD erin $(openssl passwd -6 erin-pass)" >"$T/req"
	"$ADM_PY" -m adm_udp send "$PORT" "$T/req" >"$T/r1"
	[ "$("$ADM_PY" -m adm_udp body "$T/secret" replay1tagxx "$T/r1")" = "+OK" ]
	adm user del erin
	kill -TERM "$ADMIND_PID"
	wait "$ADMIND_PID"
	serve
	"$ADM_PY" -m adm_udp send "$PORT" "$T/req" >"$T/r2" || true
	run --separate-stderr adm user show erin
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[NOUSER]"* ]]
}

@test "a request replayed after 1,024 other requests is not applied again" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	captured = a.request(s, "wrapdisable00001", "USER DISABLE bob")
	assert a.check_reply(s, "wrapdisable00001", p.exchange(captured)) == "+OK"
	r = p.exchange(a.request(s, "wrapenable000001", "USER ENABLE bob"))
	assert a.check_reply(s, "wrapenable000001", r) == "+OK"
	for i in range(1024):
	    tag = "wrapfill%08d" % i
	    r = p.exchange(a.request(s, tag, "USER ENABLE alice"))
	    assert a.check_reply(s, tag, r) == "+OK", r
	p.exchange(captured)  # the replay: whatever the answer, bob stays enabled
	EOF
	run adm user show bob
	[[ "$output" == *" enabled=1 "* ]]
}

@test "a tag reused with another request gets -ERR [TAG] and is not applied" {
	serve
	hash=$(openssl passwd -6 'erin-pass')
	"$ADM_PY" - "$PORT" "$T/secret" "$hash" <<-'EOF'
	import sys, time, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	now = int(time.time())
	r = p.exchange(a.request(s, "reuse1tagxx", "USER ADD erin " + sys.argv[3], stamp=now))
	assert a.check_reply(s, "reuse1tagxx", r) == "+OK", r
	for cmd, stamp in (("USER DEL erin", now), ("USER ADD erin " + sys.argv[3], now + 1)):
	    r = p.exchange(a.request(s, "reuse1tagxx", cmd, stamp=stamp))
	    body = a.check_reply(s, "reuse1tagxx", r)
	    assert body == "-ERR [TAG] tag reused", body
	EOF
	run --separate-stderr adm user show erin
	[ "$status" -eq 0 ]
}

@test "a request stamped 10 minutes off gets -ERR [STALE] and is not applied" {
	serve
	hash=$(openssl passwd -6 'frank-pass')
	"$ADM_PY" - "$PORT" "$T/secret" "$hash" <<-'EOF'
	import sys, time, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	now = int(time.time())
	for tag, off in (("past1tagxx", -600), ("future1tagxx", 600)):
	    r = p.exchange(a.request(s, tag, "USER ADD frank " + sys.argv[3], stamp=now + off))
	    body = a.check_reply(s, tag, r)
	    assert body.startswith("-ERR [STALE] clock difference "), body
	    assert body.endswith(" s"), body
	    assert abs(int(body.split()[4]) - off) <= 5, body
	EOF
	run --separate-stderr adm user show frank
	[ "$status" -eq 1 ]
}

@test "a request stamped 100 s ago is still accepted" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import sys, time, adm_udp as a
	s = a.read_secret(sys.argv[2])
	p = a.Peer("127.0.0.1", sys.argv[1])
	r = p.exchange(a.request(s, "late1tagxx", "USER DISABLE bob", stamp=int(time.time()) - 100))
	assert a.check_reply(s, "late1tagxx", r) == "+OK", r
	EOF
	run adm user show bob
	[[ "$output" == *" enabled=0 "* ]]
}

# ---- the client's side of the protocol, against a fake daemon ----

@test "pop3-admin sends user add as a signed request carrying only a sha512crypt hash" {
	"$ADM_PY" - "$ADMIN" "$T/secret" <<-'EOF'
	import socket, subprocess, sys, time, warnings, adm_udp as a
	warnings.simplefilter("ignore", DeprecationWarning)
	import crypt
	s = a.read_secret(sys.argv[2])
	srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	srv.bind(("127.0.0.1", 0))
	srv.settimeout(10)
	cli = subprocess.Popen([sys.argv[1], "--port", str(srv.getsockname()[1]), "--secret-file",
	                        sys.argv[2], "--password-stdin", "--scheme", "sha512crypt",
	                        "user", "add", "zed"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
	cli.stdin.write(b"hunter2-pass\n")
	cli.stdin.close()
	req, peer = srv.recvfrom(65536)
	assert b"hunter2" not in req, req
	f = req.split(b" ", 4)
	assert len(f) == 5 and f[0] == b"PA1", req
	tag, stamp, mac, cmd = f[1:]
	assert 1 <= len(tag) <= 16 and tag.isalnum(), tag
	assert abs(int(stamp) - time.time()) < 60, stamp
	assert a.request(s, tag, cmd, stamp=int(stamp)) == req, "the request's MAC is wrong"
	w = cmd.split(b" ")
	assert w[:3] == [b"USER", b"ADD", b"zed"] and len(w) == 4, cmd
	h = w[3].decode()
	assert h.startswith("$6$") and crypt.crypt("hunter2-pass", h) == h, h
	srv.sendto(a.seal(s, tag, "+OK"), peer)
	err = cli.stderr.read()
	assert cli.wait(timeout=10) == 0, (cli.returncode, err)
	EOF
}

@test "pop3-admin ignores replies with a wrong MAC or another tag" {
	"$ADM_PY" - "$ADMIN" "$T/secret" <<-'EOF'
	import socket, subprocess, sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	srv.bind(("127.0.0.1", 0))
	srv.settimeout(10)
	cli = subprocess.Popen([sys.argv[1], "--port", str(srv.getsockname()[1]), "--secret-file",
	                        sys.argv[2], "config", "get"],
	                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
	req, peer = srv.recvfrom(65536)
	tag = req.split(b" ")[1]
	srv.sendto(a.seal(b"another secret of at least 32 octets", tag, "+OK\nforged=mac"), peer)
	srv.sendto(a.seal(s, b"othertag", "+OK\nforged=tag"), peer)
	srv.sendto(a.seal(s, tag, "+OK\ngenuine=1"), peer)
	out, err = cli.communicate(timeout=10)
	assert cli.returncode == 0, (cli.returncode, err)
	assert out == b"genuine=1\n", out
	EOF
}

@test "pop3-admin sends an unanswered request three times, identical, 1 and 2 s apart, then exits 111" {
	"$ADM_PY" - "$ADMIN" "$T/secret" <<-'EOF'
	import socket, subprocess, sys, time
	srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	srv.bind(("127.0.0.1", 0))
	srv.settimeout(15)
	cli = subprocess.Popen([sys.argv[1], "--port", str(srv.getsockname()[1]), "--secret-file",
	                        sys.argv[2], "user", "show", "alice"], stderr=subprocess.PIPE)
	got = []
	while len(got) < 3:
	    d = srv.recvfrom(65536)[0]
	    got.append((time.monotonic(), d))
	err = cli.stderr.read()
	rc = cli.wait(timeout=15)
	end = time.monotonic()
	assert rc == 111, (rc, err)
	assert b"no answer" in err, err
	assert got[0][1] == got[1][1] == got[2][1], "a retry differs from the request"
	gaps = [got[1][0] - got[0][0], got[2][0] - got[1][0], end - got[2][0]]
	assert 0.8 < gaps[0] < 1.8 and 1.8 < gaps[1] < 2.8 and 3.6 < gaps[2] < 5, gaps
	srv.settimeout(0)
	try:
	    srv.recvfrom(65536)
	    assert False, "a fourth datagram"
	except BlockingIOError:
	    pass
	EOF
}

@test "pop3-admin exits 111 when the daemon's address cannot be resolved" {
	run --separate-stderr "$ADMIN" --port no-such-service --secret-file "$T/secret" capabilities
	[ "$status" -eq 111 ]
	[[ "$stderr" == *"cannot resolve"* ]]
}

# ---- sessions and metrics ----

@test "50 scripted sessions move the metrics by exactly their counts" {
	serve
	before=$(adm metrics)
	users=(alice bob carlos)
	passes=(wonderland builder montana)
	for i in $(seq 0 29); do
		out=$(pop3 < <(crlf "USER ${users[i % 3]}" "PASS ${passes[i % 3]}" 'RETR 1' 'QUIT') 2>/dev/null)
		[[ "$out" == *"+OK Logged in"* ]] || { echo "session $i: $out"; false; }
	done
	for i in $(seq 1 20); do
		out=$(pop3 < <(crlf "USER ${users[i % 3]}" "PASS wrong$i" 'QUIT') 2>/dev/null)
		[[ "$out" == *"-ERR [AUTH]"* ]] || { echo "failed login $i: $out"; false; }
	done
	after=$(adm metrics)
	delta() {
		echo $(( $(sed -n "s/^$1=//p" <<<"$after") - $(sed -n "s/^$1=//p" <<<"$before") ))
	}
	[ "$(delta sessions_total)" -eq 50 ]
	[ "$(delta logins_ok)" -eq 30 ]
	[ "$(delta logins_failed)" -eq 20 ]
	[ "$(delta messages_retrieved)" -eq 30 ]
	[ "$(delta messages_deleted)" -eq 0 ]
	[ "$(delta octets_sent)" -gt 0 ]
	grep -qx sessions_now=0 <<<"$after"
}

@test "sessions log in while pop3-admind is down" {
	serve
	new_maildir "$T/mail/dave"
	add_user dave 'dave-s3cret'
	kill -TERM "$ADMIND_PID"
	wait "$ADMIND_PID"
	run pass_reply alice wonderland
	[ "$output" = "+OK Logged in, 6 messages (5127 octets)" ]
	run pass_reply dave 'dave-s3cret'
	[ "$output" = "+OK Logged in, 0 messages (0 octets)" ]
}

@test "sessions log in while pop3-admind is stopped with SIGSTOP" {
	serve
	kill -STOP "$ADMIND_PID"
	run pass_reply alice wonderland
	kill -CONT "$ADMIND_PID"
	[ "$output" = "+OK Logged in, 6 messages (5127 octets)" ]
	run adm user show alice
	[[ "$output" == *" last_login="[1-9]* ]]
}

# ---- the daemon's life ----

@test "pop3-admind killed with SIGKILL and restarted has lost nothing" {
	serve
	new_maildir "$T/mail/dave"
	add_user dave 'dave-s3cret'
	add_user erin 'erin-pass' --maildir "$T/mail/bob"
	adm user disable bob
	adm config set idle_timeout 77
	pop3 < <(crlf 'USER alice' 'PASS wonderland' 'RETR 1' 'QUIT') >/dev/null 2>&1
	pop3 < <(crlf 'USER bob' 'PASS builder' 'QUIT') >/dev/null 2>&1
	users=$(adm user list)
	shows=$(for u in $users; do adm user show "$u"; done)
	metrics=$(adm metrics | grep -v '^uptime=')
	config=$(adm config get)
	kill -KILL "$ADMIND_PID"
	wait "$ADMIND_PID" || true
	serve
	[ "$(adm user list)" = "$users" ]
	[ "$users" = "$(printf '%s\n' alice bob carlos dave erin)" ]
	[ "$(for u in $users; do adm user show "$u"; done)" = "$shows" ]
	[ "$(adm metrics | grep -v '^uptime=')" = "$metrics" ]
	[ "$(adm config get)" = "$config" ]
	run pass_reply dave 'dave-s3cret'
	[[ "$output" == "+OK Logged in"* ]]
}

@test "pop3-admind under systemd-socket-activate --datagram answers on the socket it is given" {
	fifo="$T/activate.fifo"
	mkfifo "$fifo"
	# not through as_user: $! must be the listener, which becomes the daemon
	"${AS_USER[@]}" systemd-socket-activate --datagram -l "127.0.0.1:$PORT" \
		-E ASAN_OPTIONS -E UBSAN_OPTIONS -- \
		"$ADMIND" --state "$T/state.db" --secret-file "$T/secret" 2>"$fifo" 3>&- &
	ADMIND_PID=$!
	SERVER_PIDS+=($!)
	exec {rfd}<"$fifo"
	while IFS= read -r line <&"$rfd"; do
		printf '%s\n' "$line" >>"$T/admind.log"
		[[ "$line" != *"Listening on"* ]] || break
	done
	cat <&"$rfd" >>"$T/admind.log" 3>&- &
	SERVER_PIDS+=($!)
	exec {rfd}<&-
	[[ "$line" == *"Listening on"* ]]
	# the first datagram starts the daemon; it answers that datagram
	run --separate-stderr adm capabilities
	[ "$status" -eq 0 ]
	grep -qx version=PA1 <<<"$output"
	[ "$(readlink "/proc/$ADMIND_PID/exe")" = "$(readlink -f "$ADMIND")" ]
	new_maildir "$T/mail/dave"
	add_user dave 'dave-s3cret'
	run pass_reply dave 'dave-s3cret'
	[[ "$output" == "+OK Logged in"* ]]
}

@test "pop3-admind with --listen on 127.0.0.1 and [::1] answers on both" {
	have_ipv6 || skip "this machine has no IPv6 loopback"
	start_admind --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT"
	grep -q "ready on 2 sockets" "$T/admind.log"
	run --separate-stderr adm --host ::1 user disable alice
	[ "$status" -eq 0 ]
	run --separate-stderr adm --host 127.0.0.1 user show alice
	[ "$status" -eq 0 ]
	[[ "$output" == *" enabled=0 "* ]]
	run --separate-stderr adm --host ::1 capabilities
	grep -qx version=PA1 <<<"$output"
}

@test "after a SIGHUP that cannot reopen the state file requests get [TEMP], and the next SIGHUP heals" {
	serve
	chmod 000 "$T/state.db"
	kill -HUP "$ADMIND_PID"
	# no readiness signal for a reload: ask until the answer changes
	for n in $(seq 200); do
		run --separate-stderr adm user show alice
		[ "$status" -eq 0 ] || break
	done
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[TEMP]"* ]]
	chmod 600 "$T/state.db"
	kill -HUP "$ADMIND_PID"
	for n in $(seq 200); do
		run --separate-stderr adm user show alice
		[ "$status" -ne 0 ] || break
	done
	[ "$status" -eq 0 ]
	[[ "$output" == "name=alice "* ]]
	grep -q "reload failed" "$T/admind.log"
}

@test "a change answered [TEMP] is applied when the identical request is retried later" {
	serve
	chmod 000 "$T/state.db"
	kill -HUP "$ADMIND_PID"
	for n in $(seq 200); do
		run --separate-stderr adm user show alice
		[ "$status" -eq 0 ] || break
	done
	[[ "$stderr" == *"[TEMP]"* ]]
	"$ADM_PY" -m adm_udp sign "$T/secret" tempretry0000001 "USER DISABLE bob" >"$T/req"
	"$ADM_PY" -m adm_udp send "$PORT" "$T/req" >"$T/r1"
	run "$ADM_PY" -m adm_udp body "$T/secret" tempretry0000001 "$T/r1"
	[[ "$output" == "-ERR [TEMP]"* ]]
	chmod 600 "$T/state.db"
	kill -HUP "$ADMIND_PID"
	for n in $(seq 200); do
		run --separate-stderr adm user show alice
		[ "$status" -ne 0 ] || break
	done
	"$ADM_PY" -m adm_udp send "$PORT" "$T/req" >"$T/r2"
	run "$ADM_PY" -m adm_udp body "$T/secret" tempretry0000001 "$T/r2"
	[ "$output" = "+OK" ]
	run adm user show bob
	[[ "$output" == *" enabled=0 "* ]]
}

@test "pop3-admind exits non-zero when it cannot bind its --listen address" {
	if start_admind --listen "192.0.2.1:$PORT"; then echo "it started"; false; fi
	rc=0
	wait "$ADMIND_PID" || rc=$?
	wait "$DRAIN_PID"
	[ "$rc" -ne 0 ] && [ "$rc" -lt 126 ]
	grep -q "cannot listen on 192.0.2.1:$PORT" "$T/admind.log"
}

@test "SIGTERM ends pop3-admind with exit status 0" {
	serve
	adm capabilities >/dev/null
	kill -TERM "$ADMIND_PID"
	rc=0
	wait "$ADMIND_PID" || rc=$?
	[ "$rc" -eq 0 ]
	wait "$DRAIN_PID"
	grep -q "stopping after 1 requests" "$T/admind.log"
}

@test "config get shows the values sessions use, defaults included, and refuses an unknown name" {
	serve
	run adm config get idle_timeout
	[ "$status" -eq 0 ]
	[ "$output" = "idle_timeout=600" ]
	run adm config get
	[[ "$output" == *"auth_delay_ms=0"* && "$output" == *"log_level=info"* ]]
	[[ "$output" != *"dummy_hash"* ]]
	run --separate-stderr adm config get nosuch
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[INVALID]"* ]]
}

@test "a usage error exits 100 before the secret file is even read" {
	run --separate-stderr "$ADMIN" --secret-file /nonexistent user
	[ "$status" -eq 100 ]
	run --separate-stderr "$ADMIN" --secret-file /nonexistent frobnicate
	[ "$status" -eq 100 ]
}

@test "a signed request with a tag under 8 characters is dropped without a reply" {
	serve
	"$ADM_PY" - "$PORT" "$T/secret" <<-'EOF'
	import sys, adm_udp as a
	s = a.read_secret(sys.argv[2])
	req = a.request(s, "t1", "LOGINS")
	assert len(req) < 90, len(req)
	p = a.Peer("127.0.0.1", sys.argv[1])
	assert p.answers_to(req, s) == [], "a reply came"
	EOF
}

@test "under Type=notify it sends READY=1 and STATUS=, feeds the watchdog, and SIGTERM sends STOPPING=1 and exits 0" {
	run "$ADM_PY" "$POP3_SRC/tests/lib/adm_notify.py" "${AS_USER[@]}" "$ADMIND" --state "$T/state.db" \
		--secret-file "$T/secret" --listen "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"READY=1"* && "$output" == *"WATCHDOG=1"* && "$output" == *"STOPPING=1"* ]]
}

@test "the message filter settings are validated and stored, a command line with its arguments" {
	serve
	run --separate-stderr adm config set filter maybe
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"[INVALID]"* ]]
	run --separate-stderr adm config set filter_command sed -e s/a/4/g
	[ "$status" -eq 1 ]
	adm config set filter on
	adm config set filter_command /bin/sed -e 's/[aeiou]/4/g'
	run adm config get filter_command
	[ "$output" = "filter_command=/bin/sed -e s/[aeiou]/4/g" ]
	run adm config get filter
	[ "$output" = "filter=on" ]
}

@test "pop3-admind migrates a state file of the previous schema at start, and sessions use it" {
	sqlite3 "$T/state.db" 'ALTER TABLE users DROP COLUMN filter; PRAGMA user_version = 2;'
	# a session of this version still logs in on the old file
	run pass_reply alice wonderland
	[[ "$output" == "+OK Logged in"* ]]
	serve
	grep -q "migrated $T/state.db from schema 2 to 3" "$T/admind.log"
	[ "$(sqlite3 "$T/state.db" 'PRAGMA user_version')" = 3 ]
	run adm user show alice
	[[ "$output" == *" filter=default" ]]
}

@test "pop3-admind refuses a state file of a newer schema" {
	sqlite3 "$T/state.db" 'PRAGMA user_version = 99;'
	run start_admind --listen "127.0.0.1:$PORT"
	[ "$status" -ne 0 ]
	grep -q "has schema 99, this version knows 3; refusing to touch it" "$T/admind.log"
}

@test "--init without --maildir-root migrates and keeps the stored maildir_root" {
	as_user "$ADMIND" --state "$T/state.db" --set maildir_root=/srv/mail
	as_user "$ADMIND" --state "$T/state.db" --init
	[ "$(sqlite3 "$T/state.db" "SELECT value FROM settings WHERE name = 'maildir_root'")" = /srv/mail ]
}
