# tests/helper.bash - shared set-up for the bats suite.
#
# Every test gets its own directory $T with a fresh copy of maildir-sample
# in $T/mail, a state file $T/state.db holding the sample users (passwords
# in maildir-sample/users) and auth_delay_ms=0, all owned by the user the
# services run as.  Services started with start_tcp are stopped in teardown.

SESSION=$POP3_BUILD/pop3-session
ADMIND=$POP3_BUILD/pop3-admind
ADMIN=$POP3_BUILD/pop3-admin
TEST_USER=pop3test

# The prefix that runs a command as the unprivileged service user (empty
# when not root), for places a shell function cannot go (timeout, $!).
AS_USER=()
if [ "$(id -u)" -eq 0 ]; then
	AS_USER=(setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --clear-groups --)
fi

# Run a command as the unprivileged service user (directly when not root).
as_user() {
	"${AS_USER[@]}" "$@"
}

setup_store() {
	T=$(mktemp -d /tmp/pop3-test.XXXXXX)
	chmod 755 "$T"
	cp -r "$POP3_SRC/maildir-sample" "$T/mail"
	rm -f "$T/mail/users" "$T/mail/README.md"
	for u in "$T"/mail/*/; do mkdir -p "$u/tmp"; done
	"$ADMIND" --state "$T/state.db" --init --maildir-root "$T/mail" \
		--import-users "$POP3_SRC/maildir-sample/users" --scheme sha512crypt >/dev/null
	"$ADMIND" --state "$T/state.db" --set auth_delay_ms=0
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T"; fi
	SERVER_PIDS=()
}

teardown_store() {
	local p
	for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${T:-}" ] && rm -rf "$T"
}

# pop3 [ARGS...]: one session on stdin/stdout against $T's state file.
pop3() {
	as_user "$SESSION" --state "$T/state.db" "$@"
}

# crlf 'LINE' ...: the lines, each ended with CRLF, for a session's stdin.
crlf() {
	printf '%s\r\n' "$@"
}

# A TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# have_ipv6: this machine has an IPv6 loopback to test on.
have_ipv6() {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null
}

# start_tcp ADDR:PORT... : serve pop3-session with systemd-socket-activate
# (what pop3.socket with Accept=yes does) and return once it listens.
# The array SESSION_ARGS, if set, holds pop3-session's arguments, and
# SESSION_ENV the names of further variables to pass it.
# IPv6 addresses are left out on a machine without IPv6 (its IPv6 tests skip).
start_tcp() {
	local args=() a fifo="$T/activate.fifo" n_addr=0
	[ -n "${SESSION_ARGS+set}" ] || SESSION_ARGS=()
	for a in "${SESSION_ENV[@]}"; do args+=(-E "$a"); done
	for a in "$@"; do
		[[ "$a" == "["* ]] && ! have_ipv6 && continue
		args+=(-l "$a")
		n_addr=$((n_addr + 1))
	done
	rm -f "$fifo" # a second listener in the same test
	mkfifo "$fifo"
	# not through the as_user function: $! must be the listener itself
	"${AS_USER[@]}" systemd-socket-activate "${args[@]}" --accept --inetd \
		-E POP3_STATE="$T/state.db" -E ASAN_OPTIONS -E UBSAN_OPTIONS \
		-- "$SESSION" "${SESSION_ARGS[@]}" 2>"$fifo" &
	SERVER_PIDS+=($!)
	# readiness: it prints "Listening on ..." once per socket it bound
	# (bats owns fd 3: let bash pick a free descriptor)
	local n=0 line rfd
	exec {rfd}<"$fifo"
	while [ "$n" -lt "$n_addr" ] && read -r line <&"$rfd"; do
		case $line in *Listening*) n=$((n + 1)) ;; esac
	done
	# keep draining its stderr so it never blocks on a full pipe
	cat <&"$rfd" >>"$T/activate.log" &
	SERVER_PIDS+=($!)
	exec {rfd}<&-
	[ "$n" -eq "$n_addr" ]
}

# chat HOST PORT: send stdin over TCP, print everything the server says
# until it closes the connection.
chat() {
	python3 "$POP3_SRC/tests/lib/chat.py" "$@"
}

# ---- pop3-admind for tests that change settings live (needs PORT set) ----

# make_secret FILE: 48 random base64 characters, mode 600, owned by the
# service user.
make_secret() {
	head -c 36 /dev/urandom | base64 >"$1"
	chmod 600 "$1"
	if [ "$(id -u)" -eq 0 ]; then chown "$TEST_USER": "$1"; fi
}

# start_admind ARG...: run pop3-admind as the service user on $T's state
# file and secret, with ARGs (--listen ...), and return once it has logged
# "ready on"; false if it ended before that.
start_admind() {
	start_admind_cmd "$ADMIND" --state "$T/state.db" --secret-file "$T/secret" "$@"
}

# start_admind_cmd COMMAND...: the same for a whole command line (say, env
# VAR=... pop3-admind ...).  ADMIND_PID is the daemon itself, DRAIN_PID the
# cat that copies the rest of its stderr to $T/admind.log (it ends when
# the daemon does).
start_admind_cmd() {
	local fifo="$T/admind.$((N_FIFO += 1)).fifo" line rfd ready=1
	mkfifo "$fifo"
	# not through the as_user function: $! must be the daemon itself
	"${AS_USER[@]}" "$@" 2>"$fifo" 3>&- &
	ADMIND_PID=$!
	SERVER_PIDS+=($!)
	# bats owns fd 3: let bash pick a free descriptor
	exec {rfd}<"$fifo"
	while IFS= read -r line <&"$rfd"; do
		printf '%s\n' "$line" >>"$T/admind.log"
		case $line in *"ready on"*) ready=0; break ;; esac
	done
	# keep draining its stderr so that it never blocks on a full pipe
	cat <&"$rfd" >>"$T/admind.log" 3>&- &
	DRAIN_PID=$!
	SERVER_PIDS+=($!)
	exec {rfd}<&-
	return "$ready"
}

# serve: the daemon on 127.0.0.1:$PORT.
serve() {
	start_admind --listen "127.0.0.1:$PORT"
}

# adm ARG...: pop3-admin against the daemon on 127.0.0.1:$PORT.
adm() {
	"$ADMIN" --port "$PORT" --secret-file "$T/secret" "$@"
}
