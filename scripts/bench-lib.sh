# shellcheck shell=bash disable=SC2034  # variables are for the sourcing script
# scripts/bench-lib.sh - sourced by scripts/bench and scripts/bench-compare:
# the bench store, starting the servers on loopback, and the pop3-load
# suite (one function per figure), so both measure exactly the same thing.
#
# Knobs (environment): BENCH_SECONDS (each flow run, default 10),
# BENCH_SHORT_SECONDS (each RETR and STAT run, default 5), BENCH_REPEATS
# (default 3), BENCH_IDLE (idle sessions, default 1000), BENCH_OUT (where
# the report and every run's pop3-load results go, default BUILD/bench).

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_SHORT_SECONDS=${BENCH_SHORT_SECONDS:-5}
BENCH_REPEATS=${BENCH_REPEATS:-3}
BENCH_IDLE=${BENCH_IDLE:-1000}
# scripts/, absolute: pop3-load runs --on-ready commands from its own cwd
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bench_setup BUILD: a private temporary directory $B, the service user,
# the binaries ($LOAD, $SESSION, $ADMIND), $OUT, and the cleanup.
bench_setup() {
	build=$(realpath "${1:-build}")
	LOAD=$build/pop3-load
	ADMIND=$build/pop3-admind
	OUT=${BENCH_OUT:-$build/bench}
	for b in pop3-load pop3-admind pop3-session; do
		[ -x "$build/$b" ] || { echo "bench: $build/$b is missing: run make first" >&2; exit 1; }
	done
	B=$(mktemp -d /tmp/pop3-bench.XXXXXX)
	chmod 755 "$B"
	rm -rf "$OUT"
	mkdir -p "$OUT/runs"
	pids=()
	dovecot_confs=()
	trap bench_cleanup EXIT
	# 1,000 idle sessions: the servers and pop3-load need the descriptors
	ulimit -n "$(ulimit -Hn)"
	RUNAS=()
	SVC_USER=$(id -un)
	SESSION=$build/pop3-session
	if [ "$(id -u)" -eq 0 ]; then
		id pop3test >/dev/null 2>&1 ||
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pop3test
		RUNAS=(setpriv --reuid=pop3test --regid=pop3test --clear-groups --)
		SVC_USER=pop3test
		# the service user may not reach a checkout under a private home
		cp "$build/pop3-session" "$B/"
		SESSION=$B/pop3-session
	fi
	SVC_GROUP=$(id -gn "$SVC_USER")
}

bench_cleanup() {
	local p c
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for c in "${dovecot_confs[@]}"; do dovecot -c "$c" stop >/dev/null 2>&1 || true; done
	rm -rf "$B"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_store ROOT STATE: the store every server gets a copy of.
#   u1..u1000   the flow's message (100 'Z'); flows and idle sessions
#   big1m       one 1 MiB message;  big25m  one 25 MiB message
#   many10k     10,000 and many100k 100,000 messages of 1 KiB (Mailstone's en-1k)
# Passwords: secret<N> for uN, the user's name for the others; sha512crypt.
bench_store() {
	local root=$1 state=$2 n=$BENCH_IDLE
	[ "$n" -ge 100 ] || n=100
	"$LOAD" prepare --maildir-root "$root" --state "$state" --users "$n" \
		--login-format 'u%d' --passwd-format 'secret%d' --size flow
	local u
	for u in big1m:1M big25m:25M; do
		"$LOAD" prepare --maildir-root "$root" --state "$state" --login-format "${u%%:*}" \
			--passwd-format "${u%%:*}" --size "${u#*:}"
	done
	"$LOAD" prepare --maildir-root "$root" --state "$state" --login-format many10k \
		--passwd-format many10k --messages 10000 --size 1k
	"$LOAD" prepare --maildir-root "$root" --state "$state" --login-format many100k \
		--passwd-format many100k --messages 100000 --size 1k
}

# start_ours PORT STATE: pop3-session under systemd-socket-activate, as
# pop3.socket runs it; SERVER_PID is the listener.
start_ours() {
	local fifo=$B/ours.$1.fifo line rfd
	mkfifo "$fifo"
	"${RUNAS[@]}" systemd-socket-activate -l "127.0.0.1:$1" --accept --inetd \
		-E POP3_STATE="$2" -- "$SESSION" 2>"$fifo" &
	SERVER_PID=$!
	pids+=($!)
	exec {rfd}<"$fifo"
	while read -r line <&"$rfd"; do
		case $line in *Listening*) break ;; esac
	done
	cat <&"$rfd" >/dev/null &
	pids+=($!)
	exec {rfd}<&-
}

# need_dovecot: Debian's Dovecot, installed when root and missing.
need_dovecot() {
	command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/pop3 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench-compare: needs Dovecot; as root run: apt-get install -y dovecot-core dovecot-pop3d" >&2
		exit 1
	fi
	echo "installing dovecot-core dovecot-pop3d"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		dovecot-core dovecot-pop3d >/dev/null
	# the package may start the system's own instance: it is not measured
	systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
}

# dovecot_passwd STATE FILE: the same users and the same sha512crypt
# hashes as our state file, as a passwd-file Dovecot reads.
dovecot_passwd() {
	sqlite3 "$1" "SELECT name || ':{CRYPT}' || hash FROM users ORDER BY name" >"$2"
}

# start_dovecot MODE PORT MAILROOT PASSWD: a private Dovecot on loopback,
# run as the service user (no root: no chroot, one uid for everything),
# from a configuration in $B/dovecot-MODE.  MODE default keeps Dovecot's
# service settings; hp is its high-performance mode (login and mail
# processes reused, several clients per process).  SERVER_PID is its master.
start_dovecot() {
	local mode=$1 port=$2 root=$3 passwd=$4 d=$B/dovecot-$1 services=""
	mkdir -p "$d/run" "$d/state"
	if [ "$mode" = hp ]; then
		services="service pop3-login {
  service_count = 0
  process_min_avail = $(nproc)
}
service pop3 {
  service_count = 0
  process_min_avail = $(nproc)
  client_limit = 10
}"
	fi
	cat >"$d/dovecot.conf" <<EOF
# generated by scripts/bench-lib.sh (make bench-compare), mode $mode
base_dir = $d/run
state_dir = $d/state
instance_name = pop3bench-$mode
log_path = $d/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
# its default, said out loud: every login verifies the hash, as ours does
auth_cache_size = 0
pop3_uidl_format = %f
default_internal_user = $SVC_USER
default_internal_group = $SVC_GROUP
default_login_user = $SVC_USER
mail_location = maildir:$root/%u
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u $passwd
}
userdb {
  driver = static
  args = uid=$SVC_USER gid=$SVC_GROUP home=$root/%u
}
# limits, not tuning: the defaults (100 processes, 1000 clients) would
# refuse the 1,000 idle sessions outright
default_process_limit = 1024
default_client_limit = 4096
service anvil {
  chroot =
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $port
  }
}
$services
EOF
	[ "$(id -u)" -eq 0 ] && chown -R "$SVC_USER": "$d"
	dovecot_confs+=("$d/dovecot.conf")
	# its own log is log_path (written by the service user); stderr holds
	# only what it says before that is open
	"${RUNAS[@]}" dovecot -F -c "$d/dovecot.conf" 2>"$d/stderr" &
	SERVER_PID=$!
	pids+=($!)
	# Dovecot tells its caller nothing when it is ready: its greeting is
	# the signal (bounded: 20 s)
	python3 - "$port" <<'PY' || { cat "$d/stderr" "$d/dovecot.log" >&2; exit 1; }
import socket, sys, time
deadline = time.time() + 20
while True:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1) as s:
            if s.recv(64).startswith(b"+OK"):
                break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("dovecot did not greet within 20 s")
    time.sleep(0.1)
PY
}

# warm_up PORT: every user logs in once, so no measured run pays for a
# first login (our new/ to cur/ move, Dovecot's index and uidlist).
warm_up() {
	local n=$BENCH_IDLE
	[ "$n" -ge 100 ] || n=100
	# 20 clients, each through its own slice of the users in order; twice
	# the user count so a slow client's slice is covered too
	"$LOAD" -q -s "127.0.0.1:$1" -l 20 -t 600 --max-blocks "$((2 * n))" flow interval=0 \
		loginFormat=u%d passwdFormat=secret%d numLogins="$n" sequentialLogins=1 >/dev/null || return 1
	local u
	for u in big1m big25m many10k many100k; do
		"$LOAD" -q -s "127.0.0.1:$1" --timeout 120s --max-blocks 1 -t 600 pop3 numLoops=0 \
			"loginFormat=$u" "passwdFormat=$u" || return 1
	done
}

SUITE=(flow1 flow10 flow100 retr1m retr25m stat10k stat100k "idle$BENCH_IDLE")

# run_test TEST SERVER PORT SERVER_PID REP: one pop3-load run, its
# results in $OUT/runs/REP-TEST-SERVER; appends "rep server test value
# errors detail" to $OUT/raw.tsv.
run_test() {
	local t=$1 srv=$2 port=$3 spid=$4 rep=$5 dir=$OUT/runs/$5-$1-$2 rc=0
	local base=(-q -s "127.0.0.1:$port" -o "$dir" -b "$t on $srv, run $rep")
	# ramps of 1 and 2 s, shorter when the runs are (BENCH_SECONDS, whole seconds)
	local r10=$((BENCH_SECONDS >= 4 ? 1000 : BENCH_SECONDS * 250))ms
	local r100=$((BENCH_SECONDS >= 4 ? 2000 : BENCH_SECONDS * 500))ms
	case $t in
	flow1) "$LOAD" "${base[@]}" -l 1 -t "$BENCH_SECONDS" flow interval=0 \
		loginFormat=u%d passwdFormat=secret%d || rc=$? ;;
	flow10) "$LOAD" "${base[@]}" -l 10 -r "$r10" -t "$BENCH_SECONDS" flow interval=0 \
		loginFormat=u%d passwdFormat=secret%d || rc=$? ;;
	# Dovecot's listen queue is 100: the clients ramp up over 2 s
	flow100) "$LOAD" "${base[@]}" -l 100 -r "$r100" -t "$BENCH_SECONDS" flow interval=0 \
		loginFormat=u%d passwdFormat=secret%d || rc=$? ;;
	retr1m | retr25m) "$LOAD" "${base[@]}" -l 1 -t "$BENCH_SHORT_SECONDS" --timeout 60s pop3 \
		numLoops=1 leaveMailOnServer=1 listFirst=1 "loginFormat=big${t#retr}" \
		"passwdFormat=big${t#retr}" || rc=$? ;;
	stat10k | stat100k) "$LOAD" "${base[@]}" -l 1 -t "$BENCH_SHORT_SECONDS" --timeout 60s pop3 \
		numLoops=0 "loginFormat=many${t#stat}" "passwdFormat=many${t#stat}" || rc=$? ;;
	idle*)
		# the server's whole process tree, idle, then while the sessions are
		# held: the difference is what the sessions cost
		mkdir -p "$dir"
		"$BENCH_DIR/pss-tree" "$spid" >"$dir/pss.before"
		"$LOAD" "${base[@]}" -l "${t#idle}" -r 10s -t 120 --timeout 60s idle \
			loginFormat=u%d passwdFormat=secret%d \
			--on-ready "'$BENCH_DIR/pss-tree' $spid >'$dir/pss.during'" || rc=$? ;;
	esac
	python3 - "$t" "$srv" "$rep" "$dir" "$rc" >>"$OUT/raw.tsv" <<'PY'
import csv, os, sys
t, srv, rep, d, rc = sys.argv[1:6]
def table(name, key):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        return {row[key]: row for row in csv.DictReader(f)}
summary = {k: v["value"] for k, v in table("summary.csv", "name").items()}
totals = table("totals.csv", "timer")
errors = int(summary.get("errors", "0")) + int(summary.get("sessions_aborted", "0"))
if not summary:
    errors = -1  # the run produced nothing: pop3-load failed outright
value, detail = "nan", ""
if t.startswith("flow") and summary:
    value = "%.1f" % float(summary["done_per_s_after_ramp"])
    detail = "p50 %.2f ms, p99 %.2f ms" % (float(totals["total"]["p50_ms"]), float(totals["total"]["p99_ms"]))
elif t.startswith("retr") and summary and int(summary["messages_retrieved"]) > 0:
    size = int(summary["message_octets"]) / int(summary["messages_retrieved"])
    p50 = float(totals["retrieve"]["p50_ms"])
    value = "%.0f" % (size / (p50 / 1000) / 1e6)
    detail = "RETR p50 %.2f ms for %d octets" % (p50, size)
elif t.startswith("stat") and summary:
    value = "%.2f" % float(totals["total"]["p50_ms"])
    detail = "login p50 %.2f ms, STAT p50 %.2f ms" % (float(totals["login"]["p50_ms"]), float(totals["command"]["p50_ms"]))
elif t.startswith("idle"):
    def kv(name):
        try:
            return dict(x.split("=") for x in open(os.path.join(d, name)).read().split())
        except OSError:
            return None
    before, during = kv("pss.before"), kv("pss.during")
    if before and during:
        n = int(t[4:])
        pss = int(during["pss_kib"]) - int(before["pss_kib"])
        priv = int(during["private_kib"]) - int(before["private_kib"])
        value = "%.1f" % (pss / 1024)
        detail = "%.1f KiB Pss (%.1f KiB private) per session, %s processes" % (pss / n, priv / n, during["processes"])
print("\t".join([rep, srv, t, value, str(errors), detail]))
PY
}

# report SERVER...: medians over the repeats, one row per test, and the
# ratios of the first server to each other one.
report() {
	python3 - "$OUT/raw.tsv" "$@" <<'PY'
import statistics, sys
path, servers = sys.argv[1], sys.argv[2:]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
tests = []
for r in rows:
    if r[2] not in tests:
        tests.append(r[2])
labels = {
    "flow1": "flow, 1 client (sessions/s)", "flow10": "flow, 10 clients (sessions/s)",
    "flow100": "flow, 100 clients (sessions/s)", "retr1m": "RETR 1 MiB (MB/s)",
    "retr25m": "RETR 25 MiB (MB/s)", "stat10k": "login+STAT, 10,000 msgs (ms)",
    "stat100k": "login+STAT, 100,000 msgs (ms)",
}
def label(t):
    return labels.get(t, "%s idle sessions (MiB)" % t[4:])
def med(t, s):
    vals = [float(r[3]) for r in rows if r[2] == t and r[1] == s and r[3] != "nan"]
    errs = sum(max(int(r[4]), 0) for r in rows if r[2] == t and r[1] == s)
    failed = sum(1 for r in rows if r[2] == t and r[1] == s and (r[3] == "nan" or int(r[4]) < 0))
    return (statistics.median(vals) if vals else None), errs, failed, len(vals)
head = ["test"] + servers + ["%s/%s" % (servers[0], s) for s in servers[1:]]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
notes = []
for t in tests:
    cells, base = [label(t)], None
    meds = []
    for s in servers:
        m, errs, failed, n = med(t, s)
        meds.append(m)
        cell = "n/a" if m is None else ("%.0f" % m if m >= 100 else "%.2f" % m if m < 10 else "%.1f" % m)
        if errs or failed:
            cell += " (%d errors%s)" % (errs, ", %d runs failed" % failed if failed else "")
        cells.append(cell)
    for m in meds[1:]:
        cells.append("%.2f" % (meds[0] / m) if meds[0] is not None and m else "n/a")
    print("| " + " | ".join(cells) + " |")
print()
print("Medians of %d repeats. Ratios are %s / other: above 1 is better for sessions/s and MB/s,"
      % (max(int(r[0]) for r in rows), servers[0]))
print("below 1 is better for ms and MiB. Details per run: the detail column of raw.tsv.")
PY
}
