# tests/lib/logcapture.bash - watch a server's output and the log daemons
# that stand in for journald and syslogd (fakelog.py), for superserver.bats
# and journal.bats.  Load it after helper (it uses $T, SERVER_PIDS).

LIB=$POP3_SRC/tests/lib
FAKELOG=("$LIB/fakelog.py")

# need_logns: skip unless a private mount namespace can be made (root: CI).
need_logns() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a private mount namespace"
	unshare --mount --propagation private true 2>/dev/null ||
		skip "this machine refuses a private mount namespace"
}

# watch CMD...: run CMD in the background with its stdout and stderr going to
# a FIFO that wait_for reads: its readiness lines and whatever it reports
# come in the order it wrote them, and every line read is kept in
# $T/events (emptied by each watch).
watch() {
	local fifo
	fifo=$(mktemp -u "$T/watch.XXXXXX")
	mkfifo "$fifo"
	# the caller's stdin, not the /dev/null bash gives background jobs
	"$@" <&0 >"$fifo" 2>&1 &
	SERVER_PIDS+=($!)
	# bats owns fd 3: let bash pick a free descriptor
	exec {EV_FD}<"$fifo"
	: >"$T/events"
}

# wait_for REGEX: read the watched lines until one matches (bash =~), at most
# 200 lines and 20 s of silence; fail, showing what came, if none does.
wait_for() {
	local line n=0
	while [ "$n" -lt 200 ] && IFS= read -r -t 20 line <&"$EV_FD"; do
		printf '%s\n' "$line" >>"$T/events"
		n=$((n + 1))
		[[ "$line" =~ $1 ]] && return 0
	done
	echo "no line matching /$1/ in:" >&2
	cat "$T/events" >&2
	return 1
}

# fields SRC [KEY=VALUE...]: the first SRC event fakelog reported (so far,
# in $T/events) with those values, as KEY=VALUE lines.
fields() {
	grep '^{' "$T/events" >"$T/events.json" || true
	python3 "$LIB/fakelog.py" find "$T/events.json" "$@"
}
