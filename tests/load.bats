#!/usr/bin/env bats
# pop3-load, the Mailstone-style load tool: against pop3-session under
# systemd-socket-activate its counts match what the server's metrics say;
# against a deliberately broken stub (tests/lib/pop3stub.py) it counts the
# right kind of error and fails; its store preparation follows the Maildir
# protocol; its CSV parses and its HTML page renders in a real browser.

load helper

LOAD=$POP3_BUILD/pop3-load

setup() {
	setup_store
	PORT=$(free_port)
}

teardown() {
	teardown_store
}

# users N: u1..uN (password secret<i>) with the flow's message, in $T's
# state file and maildirs, owned by the service user.
users() {
	"$LOAD" prepare --maildir-root "$T/mail" --state "$T/state.db" --users "$1" \
		--login-format 'u%d' --passwd-format 'secret%d' "${@:2}"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T"; fi
}

# metric NAME: one of the server's counters, read as the service user.
metric() {
	as_user "$ADMIND" --state "$T/state.db" --metrics | sed -n "s/^$1=//p"
}

# summary DIR NAME: a value from pop3-load's summary.csv.
summary() {
	python3 -c 'import csv, sys
print({r["name"]: r["value"] for r in csv.DictReader(open(sys.argv[1], newline=""))}[sys.argv[2]])' "$1/summary.csv" "$2"
}

# settled N: wait until the server has counted N sessions and none is
# live.  A session writes its metrics after it has closed the connection
# (so no client waits for them): the client has no signal for that, the
# state file is the only witness.  Bounded: 10 s.
settled() {
	local i m
	for i in $(seq 1 100); do
		m=$(as_user "$ADMIND" --state "$T/state.db" --metrics)
		if grep -qx "sessions_total=$1" <<<"$m" && grep -qx "sessions_now=0" <<<"$m"; then
			return 0
		fi
		sleep 0.1
	done
	echo "$m"
	return 1
}

# start_stub MODE: tests/lib/pop3stub.py on 127.0.0.1:$PORT, once it listens.
start_stub() {
	local fifo=$T/stub.fifo line rfd
	mkfifo "$fifo"
	python3 "$POP3_SRC/tests/lib/pop3stub.py" "$1" "$PORT" >"$fifo" 2>>"$T/stub.log" &
	SERVER_PIDS+=($!)
	exec {rfd}<"$fifo"
	read -r line <&"$rfd"
	exec {rfd}<&-
	[ "$line" = ready ]
}

@test "--help names every option, and the man page documents each one and renders cleanly" {
	run "$LOAD" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"pop3-load prepare"* ]]
	local page=$POP3_SRC/load/pop3-load.1 o bad=0
	for o in $("$LOAD" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		sed 's/\\-/-/g' "$page" | grep -qE -- "$o([^a-z-]|\$)" || { echo "no $o in the man page"; bad=1; }
	done
	[ "$bad" -eq 0 ]
	[ -z "$(groff -ww -man -z "$page" 2>&1)" ]
	[ -z "$(mandoc -T lint -W warning "$page" 2>&1)" ]
	run "$LOAD" --version
	[[ "$output" == "pop3-load "* ]]
}

@test "usage errors exit 100 and say what is wrong, with the file and line" {
	printf '<FLOW>\n  weigth 3\n</FLOW>\n' >"$T/bad.workload"
	run "$LOAD" "$T/bad.workload"
	[ "$status" -eq 100 ]
	[[ "$output" == *"bad.workload:2: unknown attribute 'weigth'"* ]]
	run "$LOAD" flow noSuchThing=1
	[ "$status" -eq 100 ]
	run "$LOAD" -t 1s -r 2s flow
	[ "$status" -eq 100 ]
	[[ "$output" == *"rampTime is longer than time"* ]]
	run "$LOAD" flow loginFormat='u%s'
	[ "$status" -eq 100 ]
}

@test "the documented example workload file runs as it is, its options overridden" {
	users 2
	start_tcp "127.0.0.1:$PORT"
	run "$LOAD" "$POP3_SRC/load/flow.workload" -s "127.0.0.1:$PORT" -l 2 -r 0 -t 10 --max-blocks 4 \
		-q -o "$T/out"
	[ "$status" -eq 0 ]
	[ "$(summary "$T/out" sessions_done)" -eq 4 ]
	grep -q 'POP3 LIST and RETR flow' "$T/out/results.txt"
}

@test "prepare delivers with the Maildir protocol: names tell true sizes, tmp/ is empty, the users log in" {
	"$LOAD" prepare --maildir-root "$T/store" --state "$T/state.db" --users 2 --first-login 7 \
		--login-format 'p%d' --passwd-format 'pw%d' --messages 7 --size mailstone,flow,3000 \
		--users-file "$T/users.txt"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T"; fi
	[ "$(cat "$T/users.txt")" = "$(printf 'p7:pw7\np8:pw8')" ]
	[ -z "$(find "$T/store/p7/tmp" "$T/store/p8/tmp" -type f)" ]
	[ "$(ls "$T/store/p8/new" | wc -l)" -eq 7 ]
	# ,S= is the file, ,W= the size with CRLF line ends; Mailstone's sizes in turn
	python3 - "$T/store/p7/new" <<'PY'
import os, re, sys
d = sys.argv[1]
sizes = []
for name in sorted(os.listdir(d)):
    data = open(os.path.join(d, name), "rb").read()
    s, w = map(int, re.search(r",S=(\d+),W=(\d+)$", name).groups())
    assert s == len(data), (name, len(data))
    assert w == len(data) + data.count(b"\n"), (name, w)
    assert data.endswith(b"\n") and b"\r" not in data, name
    sizes.append(s)
assert sizes == [1024, 5120, 17408, 20480, 32768, 101, 3000], sizes
PY
	# the server agrees: LIST and RETR say what ,W= says
	as_user "$ADMIND" --state "$T/state.db" --set maildir_root="$T/store"
	local w
	w=$(ls "$T/store/p7/new" | sort | sed -n 3p | sed 's/.*,W=//')
	run pop3 < <(crlf 'USER p7' 'PASS pw7' 'LIST 3' 'RETR 3' 'QUIT')
	[[ "$output" == *"+OK 3 $w"* ]]
	[[ "$output" == *"+OK $w octets"* ]]
}

@test "the flow for 3 s: pop3-load's counts are the server's metrics, to the octet" {
	users 5
	start_tcp "127.0.0.1:$PORT"
	run "$LOAD" -s "127.0.0.1:$PORT" -l 5 -t 3 -q -o "$T/out" flow interval=0 \
		loginFormat='u%d' passwdFormat='secret%d'
	[ "$status" -eq 0 ]
	local done conns
	done=$(summary "$T/out" sessions_done)
	conns=$(summary "$T/out" connections)
	[ "$done" -gt 50 ]
	[ "$done" -eq "$conns" ]
	[ "$(summary "$T/out" errors)" -eq 0 ]
	settled "$conns"
	[ "$(metric logins_ok)" -eq "$(summary "$T/out" logins_ok)" ]
	[ "$(metric logins_failed)" -eq 0 ]
	[ "$(metric messages_retrieved)" -eq "$done" ]
	[ "$(metric octets_sent)" -eq "$(summary "$T/out" octets_read)" ]
	# every RETR was of the 102-octet flow message
	[ "$(summary "$T/out" message_octets)" -eq $((done * 102)) ]
}

@test "Mailstone's POP3 steps with DELE and AUTH PLAIN drain the maildrops; deletions match the server's" {
	users 3 --messages 4 --size mailstone
	start_tcp "127.0.0.1:$PORT"
	# each user twice, in order: the first session takes all, the second finds none
	run "$LOAD" -s "127.0.0.1:$PORT" -l 3 -t 30 --max-blocks 6 -q -o "$T/out" pop3 \
		numLoops=all leaveMailOnServer=0 listFirst=1 authPlain=1 loopDelay=10ms \
		loginFormat='u%d' passwdFormat='secret%d' numLogins=3 sequentialLogins=1
	[ "$status" -eq 0 ]
	[ "$(summary "$T/out" sessions_done)" -eq 6 ]
	[ "$(summary "$T/out" messages_retrieved)" -eq 12 ]
	[ "$(summary "$T/out" messages_deleted)" -eq 12 ]
	settled 6
	[ "$(metric messages_retrieved)" -eq 12 ]
	[ "$(metric messages_deleted)" -eq 12 ]
	[ "$(metric octets_sent)" -eq "$(summary "$T/out" octets_read)" ]
	[ -z "$(find "$T"/mail/u[123]/cur "$T"/mail/u[123]/new -type f)" ]
}

@test "pipelined RETRs over IPv6, every sample message checked against LIST" {
	have_ipv6 || skip "no IPv6 loopback"
	start_tcp "[::1]:$PORT"
	# alice's messages: dot lines, a CRLF file, no final newline, UTF-8
	run "$LOAD" -s "[::1]:$PORT" -l 1 -t 30 --max-blocks 3 -q -o "$T/out" pipeline \
		leaveMailOnServer=1 loginFormat=alice passwdFormat=wonderland
	[ "$status" -eq 0 ]
	[ "$(summary "$T/out" sessions_done)" -eq 3 ]
	[ "$(summary "$T/out" messages_retrieved)" -eq 18 ]
	settled 3
	[ "$(metric messages_retrieved)" -eq 18 ]
}

@test "idle sessions are held logged in: --on-ready sees their 20 session processes, then they quit" {
	users 20
	start_tcp "127.0.0.1:$PORT"
	# one pop3-session per connection, children of the listener (the
	# state file's sessions_now may lag: a start transaction can still be
	# queued when the last client is logged in)
	run "$LOAD" -s "127.0.0.1:$PORT" -l 20 -r 500ms -t 30 -q -o "$T/out" idle \
		loginFormat='u%d' passwdFormat='secret%d' \
		--on-ready "test \"\$(pgrep -c -P ${SERVER_PIDS[0]})\" -eq 20"
	[ "$status" -eq 0 ]
	[ "$(summary "$T/out" on_ready_status)" -eq 0 ]
	[ "$(summary "$T/out" sessions_done)" -eq 20 ]
	# the run ended when the command did, not at -t
	python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 20)" "$(summary "$T/out" elapsed_s)"
	settled 20
}

@test "a correct stub server passes: the faults below are the stub's, not the tool's" {
	start_stub good
	run "$LOAD" -s "127.0.0.1:$PORT" -l 2 -t 1 -q -o "$T/out" flow interval=0
	[ "$status" -eq 0 ]
	[ "$(summary "$T/out" errors)" -eq 0 ]
	[ "$(summary "$T/out" sessions_done)" -gt 10 ]
}

@test "a server that drops RETR's terminator and closes: truncated errors, no session done, exit 1" {
	start_stub no-terminator
	run "$LOAD" -s "127.0.0.1:$PORT" -l 2 -t 1 -o "$T/out" flow interval=0
	[ "$status" -eq 1 ]
	[[ "$output" == *"truncated error in retrieve"* ]]
	[ "$(summary "$T/out" errors_truncated)" -gt 0 ]
	[ "$(summary "$T/out" errors)" -eq "$(summary "$T/out" errors_truncated)" ]
	[ "$(summary "$T/out" sessions_done)" -eq 0 ]
	[ "$(summary "$T/out" messages_retrieved)" -eq 0 ]
}

@test "a server that drops the terminator and stays silent: timeout errors" {
	start_stub hang
	run "$LOAD" -s "127.0.0.1:$PORT" -l 2 -t 1 --timeout 1s -q -o "$T/out" flow interval=0
	[ "$status" -eq 1 ]
	[ "$(summary "$T/out" errors_timeout)" -eq 2 ]
	[ "$(summary "$T/out" sessions_done)" -eq 0 ]
}

@test "a server that lies about sizes: size errors, exit 1" {
	start_stub wrong-size
	run "$LOAD" -s "127.0.0.1:$PORT" -l 2 -t 1 -o "$T/out" flow interval=0
	[ "$status" -eq 1 ]
	[[ "$output" == *"size error in retrieve: RETR 1: '+OK 100 octets' but 102 octets sent"* ]]
	[ "$(summary "$T/out" errors_size)" -gt 0 ]
	[ "$(summary "$T/out" sessions_done)" -eq 0 ]
}

@test "bare LF line ends and an unstuffed dot line are protocol errors" {
	local mode
	for mode in bare-lf unstuffed; do
		start_stub "$mode"
		run "$LOAD" -s "127.0.0.1:$PORT" -l 1 -t 30 --max-blocks 3 -q -o "$T/$mode" flow interval=0
		[ "$status" -eq 1 ]
		[ "$(summary "$T/$mode" errors_protocol)" -eq 3 ]
		kill "${SERVER_PIDS[-1]}"
		rm -f "$T/stub.fifo"
		PORT=$(free_port)
	done
}

@test "the CSV files parse and agree with each other" {
	users 3
	start_tcp "127.0.0.1:$PORT"
	"$LOAD" -s "127.0.0.1:$PORT" -l 3 -t 2 -q -o "$T/out" flow interval=0 \
		loginFormat='u%d' passwdFormat='secret%d'
	python3 - "$T/out" <<'PY'
import csv, os, sys
d = sys.argv[1]
def rows(name):
    with open(os.path.join(d, name), newline="") as f:
        return list(csv.DictReader(f))
totals = {r["timer"]: r for r in rows("totals.csv")}
assert list(totals) == ["connect", "banner", "login", "command", "retrieve", "logout", "idle", "total"], list(totals)
for r in totals.values():
    for k, v in r.items():
        if k != "timer":
            float(v)
summary = {r["name"]: r["value"] for r in rows("summary.csv")}
done = int(summary["sessions_done"])
t = totals["total"]
assert int(t["tries"]) == int(summary["sessions_started"]) == done > 0
assert int(t["bytes_in"]) == int(summary["octets_read"])
assert float(t["min_ms"]) <= float(t["p50_ms"]) <= float(t["p90_ms"]) <= float(t["p99_ms"]) <= float(t["max_ms"])
assert int(totals["retrieve"]["tries"]) == int(summary["messages_retrieved"]) == done
series = rows("time.csv")
assert abs(len(series) - float(summary["elapsed_s"])) <= 1.5, (len(series), summary["elapsed_s"])
assert [int(r["second"]) for r in series] == list(range(len(series)))
assert sum(int(r["done"]) for r in series) == done
assert sum(int(r["bytes_in"]) for r in series) == int(summary["octets_read"])
assert max(int(r["conns_max"]) for r in series) <= 3
assert all(r["p50_ms"] == "" or float(r["p50_ms"]) <= float(r["p99_ms"]) for r in series)
PY
}

@test "the HTML report is self-contained and renders in a browser: graphs drawn, not blank" {
	users 3
	start_tcp "127.0.0.1:$PORT"
	"$LOAD" -s "127.0.0.1:$PORT" -l 3 -t 3 -q -b "load test <render>" -o "$T/out" flow interval=0 \
		loginFormat='u%d' passwdFormat='secret%d'
	local html=$T/out/results.html
	[ "$(grep -c '<svg' "$html")" -eq 3 ]
	grep -q 'load test &lt;render&gt;' "$html"
	! grep -qiE '<script|<link|<img|src=|@import' "$html"
	command -v chromium >/dev/null || { echo "chromium is missing: scripts/deps test installs it"; false; }
	# --no-sandbox: the sandbox needs user namespaces a CI container may lack
	HOME=$T timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$T/chromium" --window-size=1000,1700 --screenshot="$T/shot.png" \
		"file://$html" >/dev/null 2>&1
	# throughput (blue), failures (red), retrieved (green), connections (purple)
	python3 "$POP3_SRC/tests/lib/pngcheck.py" "$T/shot.png" '#1f77b4' '#2ca02c' '#9467bd' '#ff7f0e'
}
