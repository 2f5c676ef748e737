#!/usr/bin/env bats
# TLS: STLS (RFC 2595) and implicit TLS (RFC 8314) with real clients -
# openssl s_client, curl, Python's poplib, mpop - and the defences: no
# plaintext run inside TLS, plaintext logins refused from a non-local peer,
# a broken key that costs STLS only its -ERR.  Certificates are made here.
load helper

bats_require_minimum_version 1.5.0

setup() {
	setup_store
	export PYTHONPATH="$POP3_SRC/tests/lib"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
	if [ "$(id -u)" -eq 0 ]; then chown "$TEST_USER": "$T/key.pem" "$T/cert.pem"; fi
	PORT=$(free_port)
	SESSION_ARGS=(--tls-cert "$T/cert.pem" --tls-key "$T/key.pem")
}

teardown() {
	teardown_store
}

MSG1="$BATS_TEST_DIRNAME/../maildir-sample/alice/cur/1732000000.M104211P4101.sample,S=683,W=704:2,S"

# s_client ARG...: openssl's client on 127.0.0.1:$PORT, stdin as commands;
# prints what the server said, CRs removed.
s_client() {
	openssl s_client -quiet -nocommands -connect "127.0.0.1:$PORT" "$@" 2>/dev/null | tr -d '\r'
}

# py: Python with tests/lib, against 127.0.0.1:$PORT (argv[1]).
py() {
	python3 - "$PORT" "$@"
}

@test "openssl s_client -starttls pop3: login inside TLS, and the session log names the cipher" {
	start_tcp "127.0.0.1:$PORT"
	run s_client -starttls pop3 < <(crlf 'USER alice' 'PASS wonderland' 'STAT' 'QUIT')
	[ "$status" -eq 0 ]
	[[ "$output" == *"+OK Logged in, 6 messages (5127 octets)"* ]]
	[[ "$output" == *"+OK 6 5127"* ]]
	[[ "$output" == *"+OK Bye, 0 deleted"* ]]
	run chat 127.0.0.1 "$PORT" < <(crlf 'QUIT')
	grep -E 'session end peer=127\.0\.0\.1 user=alice outcome=quit .* tls=TLSv1\.3/TLS_' "$T/activate.log"
	grep -E 'session end peer=127\.0\.0\.1 user=- outcome=quit .* tls=-$' "$T/activate.log"
}

@test "implicit TLS: the greeting comes after the handshake" {
	SESSION_ARGS+=(--implicit-tls)
	start_tcp "127.0.0.1:$PORT"
	run s_client < <(crlf 'USER alice' 'PASS wonderland' 'LIST 1' 'QUIT')
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "+OK POP3 server ready" ]
	[ "${lines[3]}" = "+OK 1 704" ]
	# CAPA inside implicit TLS offers no STLS
	run s_client < <(crlf 'CAPA' 'QUIT')
	[[ "$output" == *"USER"* ]] && [[ "$output" != *"STLS"* ]]
}

@test "curl pop3s:// and pop3:// --ssl-reqd retrieve message 1 byte-exact" {
	start_tcp "127.0.0.1:$PORT"
	python3 -m pop3lib wire "$MSG1" >"$T/want"
	curl -sS --ssl-reqd -k "pop3://alice:wonderland@127.0.0.1:$PORT/1" >"$T/got"
	cmp "$T/got" "$T/want"
	PORT2=$(free_port)
	fifo_port=$PORT
	PORT=$PORT2
	SESSION_ARGS+=(--implicit-tls)
	start_tcp "127.0.0.1:$PORT"
	curl -sS -k "pop3s://alice:wonderland@127.0.0.1:$PORT/1" >"$T/got2"
	cmp "$T/got2" "$T/want"
	[ "$fifo_port" != "$PORT" ]
}

@test "poplib: stls() and POP3_SSL log in and list" {
	start_tcp "127.0.0.1:$PORT"
	py <<-'EOF'
	import poplib, ssl, sys
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=20)
	caps = p.capa()
	assert "STLS" in caps, caps
	p.stls(context=ctx)
	caps = p.capa()
	assert "STLS" not in caps and "USER" in caps and caps.get("SASL") == ["PLAIN"], caps
	p.user("alice"); p.pass_("wonderland")
	assert p.stat() == (6, 5127), p.stat()
	p.quit()
	EOF
	PORT=$(free_port)
	SESSION_ARGS+=(--implicit-tls)
	start_tcp "127.0.0.1:$PORT"
	py <<-'EOF'
	import poplib, ssl, sys
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=20)
	p.user("alice"); p.pass_("wonderland")
	assert len(p.list()[1]) == 6
	p.quit()
	EOF
}

@test "mpop fetches a maildrop over STLS and over implicit TLS" {
	mkdir -p "$T/out1"/{cur,new,tmp} "$T/out2"/{cur,new,tmp}
	start_tcp "127.0.0.1:$PORT"
	PORT2=$(free_port)
	SESSION_ARGS+=(--implicit-tls)
	start_tcp "127.0.0.1:$PORT2"
	cat >"$T/mpoprc" <<-EOF
	defaults
	auth user
	user carlos
	password montana
	tls on
	tls_certcheck off
	keep on
	host 127.0.0.1
	account stls
	uidls_file $T/uidls1
	port $PORT
	tls_starttls on
	delivery maildir $T/out1
	account implicit
	uidls_file $T/uidls2
	port $PORT2
	tls_starttls off
	delivery maildir $T/out2
	EOF
	chmod 600 "$T/mpoprc"
	run mpop -C "$T/mpoprc" -q stls
	[ "$status" -eq 0 ]
	run mpop -C "$T/mpoprc" -q implicit
	[ "$status" -eq 0 ]
	[ "$(ls "$T/out1/new" | wc -l)" -eq 3 ]
	[ "$(ls "$T/out2/new" | wc -l)" -eq 3 ]
}

# stls_injection: STLS with a login and a deletion pipelined behind it in
# one segment; after the handshake the session must not be logged in, and
# nothing deleted.
stls_injection() {
	start_tcp "127.0.0.1:$PORT"
	py <<-'EOF'
	import socket, ssl, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
	f = s.makefile("rb")
	assert f.readline().startswith(b"+OK")
	s.sendall(b"STLS\r\nUSER alice\r\nPASS wonderland\r\nDELE 1\r\nQUIT\r\n")
	assert f.readline() == b"+OK Begin TLS negotiation\r\n"
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	t = ctx.wrap_socket(s)
	tf = t.makefile("rb")
	t.sendall(b"NOOP\r\nQUIT\r\n")
	# not logged in: the injected commands never ran
	assert tf.readline() == b"-ERR Command not valid in this state\r\n"
	assert tf.readline() == b"+OK Bye\r\n"
	EOF
	# nobody logged in: new/ was not even moved to cur/
	[ -e "$T/mail/alice/new/1732000400.M912377P4105.sample" ]
	[ "$(ls "$T/mail/alice/cur" | wc -l)" -eq 5 ]
	run chat 127.0.0.1 "$PORT" < <(crlf 'QUIT')
	grep -q 'input after STLS discarded octets=43 peer=127.0.0.1' "$T/activate.log"
}

@test "plaintext pipelined after STLS is discarded, never run inside TLS" {
	stls_injection
}

@test "plaintext pipelined after STLS is discarded in pop3-session-tls too, where no hand-off happens" {
	SESSION=$POP3_BUILD/pop3-session-tls
	stls_injection
}

@test "STLS twice, STLS with an argument, STLS in TRANSACTION" {
	start_tcp "127.0.0.1:$PORT"
	run s_client -starttls pop3 < <(crlf 'STLS' 'QUIT')
	[[ "$output" == *"-ERR TLS is already active"* ]]
	run chat 127.0.0.1 "$PORT" < <(crlf 'STLS now' 'USER alice' 'PASS wonderland' 'STLS' 'QUIT')
	[ "${lines[1]%$'\r'}" = "-ERR Syntax error" ]
	[ "${lines[4]%$'\r'}" = "-ERR Command not valid in this state" ]
	[ "${lines[5]%$'\r'}" = "+OK Bye, 0 deleted" ]
}

@test "a broken key file: STLS gets -ERR [SYS/TEMP], the log names it, plaintext goes on" {
	echo 'not a key' >"$T/key.pem"
	start_tcp "127.0.0.1:$PORT"
	py <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
	f = s.makefile("rb")
	def cmd(line):
	    s.sendall(line + b"\r\n")
	    return f.readline()
	assert f.readline().startswith(b"+OK")
	assert cmd(b"STLS") == b"-ERR [SYS/TEMP] TLS is unavailable now; try again later\r\n"
	assert cmd(b"USER alice") == b"+OK Send PASS\r\n"
	assert cmd(b"PASS wonderland").startswith(b"+OK Logged in")
	assert cmd(b"STAT") == b"+OK 6 5127\r\n"
	assert cmd(b"QUIT").startswith(b"+OK Bye")
	EOF
	grep -q "cannot start TLS peer=127.0.0.1: $T/key.pem: " "$T/activate.log"
}

@test "without a certificate STLS is neither offered nor accepted" {
	SESSION_ARGS=()
	start_tcp "127.0.0.1:$PORT"
	run chat 127.0.0.1 "$PORT" < <(crlf 'CAPA' 'STLS' 'QUIT')
	[[ "$output" != *$'\nSTLS'* ]]
	[[ "$output" == *"-ERR STLS is not available: no certificate is configured"* ]]
}

@test "from a non-local address plaintext logins are refused until STLS, USER not offered" {
	start_tcp "127.0.0.1:$PORT"
	py <<-'EOF'
	import socket, ssl, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20,
	                             source_address=("127.0.0.2", 0))
	f = s.makefile("rb")
	def cmd(line):
	    s.sendall(line + b"\r\n")
	    return f.readline()
	def multi():
	    out = []
	    while (l := f.readline()) != b".\r\n":
	        out.append(l.strip())
	    return out
	assert f.readline().startswith(b"+OK")
	assert cmd(b"CAPA").startswith(b"+OK")
	caps = multi()
	assert b"USER" not in caps and b"SASL PLAIN" not in caps and b"STLS" in caps, caps
	want = b"-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS\r\n"
	assert cmd(b"USER alice") == want
	assert cmd(b"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=") == want
	assert cmd(b"STLS") == b"+OK Begin TLS negotiation\r\n"
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	s = ctx.wrap_socket(s)
	f = s.makefile("rb")
	assert cmd(b"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=").startswith(b"+OK Logged in")
	assert cmd(b"QUIT").startswith(b"+OK Bye")
	EOF
}

@test "plaintext_auth yes allows a non-local peer; no refuses even loopback" {
	as_user "$ADMIND" --state "$T/state.db" --set plaintext_auth=yes
	start_tcp "127.0.0.1:$PORT"
	py <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20,
	                             source_address=("127.0.0.2", 0))
	f = s.makefile("rb")
	f.readline()
	s.sendall(b"USER alice\r\n")
	assert f.readline() == b"+OK Send PASS\r\n"
	EOF
	as_user "$ADMIND" --state "$T/state.db" --set plaintext_auth=no
	run chat 127.0.0.1 "$PORT" < <(crlf 'USER alice' 'QUIT')
	[[ "${lines[1]%$'\r'}" == "-ERR [AUTH] Plaintext authentication disallowed"* ]]
	run pop3 < <(crlf 'USER alice' 'QUIT')
	[[ "${lines[1]}" == "-ERR [AUTH] Plaintext authentication disallowed"* ]]
}

@test "a 25 MB RETR over TLS is byte-exact" {
	python3 -c '
import sys
line = b"0123456789" * 7 + b"\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: 25 MB\n\n.dot-led line\n")
    f.write(line * (25 * 1024 * 1024 // len(line)))' "$T/mail/carlos/cur/1800000000.M2P2.big:2,"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/mail"; fi
	SESSION_ARGS+=(--implicit-tls)
	start_tcp "127.0.0.1:$PORT"
	curl -sS -k "pop3s://carlos:montana@127.0.0.1:$PORT/4" | sha256sum >"$T/got"
	python3 -m pop3lib wire "$T/mail/carlos/cur/1800000000.M2P2.big:2," | sha256sum >"$T/want"
	cmp "$T/got" "$T/want"
}

@test "ALPN pop3 is accepted, another protocol's ALPN is refused; TLS 1.1 is refused" {
	SESSION_ARGS+=(--implicit-tls)
	start_tcp "127.0.0.1:$PORT"
	run openssl s_client -ign_eof -nocommands -connect "127.0.0.1:$PORT" -alpn pop3 < <(crlf 'QUIT')
	[[ "$output" == *"ALPN protocol: pop3"* ]]
	run openssl s_client -ign_eof -nocommands -connect "127.0.0.1:$PORT" -alpn imap < <(crlf 'QUIT')
	[[ "$output" != *"+OK POP3 server ready"* ]]
	run openssl s_client -ign_eof -nocommands -connect "127.0.0.1:$PORT" -tls1_1 -cipher DEFAULT:@SECLEVEL=0 < <(crlf 'QUIT')
	[[ "$output" != *"+OK POP3 server ready"* ]]
	run openssl s_client -ign_eof -nocommands -connect "127.0.0.1:$PORT" -tls1_2 < <(crlf 'QUIT')
	[[ "$output" == *"+OK POP3 server ready"* ]]
	[[ "$output" == *"Protocol  : TLSv1.2"* ]]
}

@test "certificate and key from systemd credentials (CREDENTIALS_DIRECTORY)" {
	mkdir "$T/creds"
	cp "$T/cert.pem" "$T/creds/tls.crt"
	cp "$T/key.pem" "$T/creds/tls.key"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/creds"; fi
	SESSION_ARGS=(--implicit-tls)
	export CREDENTIALS_DIRECTORY=$T/creds
	SESSION_ENV=(CREDENTIALS_DIRECTORY)
	start_tcp "127.0.0.1:$PORT"
	run s_client < <(crlf 'QUIT')
	[ "${lines[0]}" = "+OK POP3 server ready" ]
}

@test "implicit TLS without a certificate closes and logs why" {
	SESSION_ARGS=(--implicit-tls)
	start_tcp "127.0.0.1:$PORT"
	run s_client < <(crlf 'QUIT')
	[[ "$output" != *"+OK"* ]]
	run chat 127.0.0.1 "$PORT" </dev/null
	grep -q 'implicit TLS without a certificate' "$T/activate.log"
}

@test "credentials that say unset (pop3@.service's fallback) mean no STLS" {
	mkdir "$T/creds"
	echo unset >"$T/creds/tls.crt"
	echo unset >"$T/creds/tls.key"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/creds"; fi
	SESSION_ARGS=()
	export CREDENTIALS_DIRECTORY=$T/creds
	SESSION_ENV=(CREDENTIALS_DIRECTORY)
	start_tcp "127.0.0.1:$PORT"
	run chat 127.0.0.1 "$PORT" < <(crlf 'CAPA' 'STLS' 'QUIT')
	[[ "$output" != *$'\nSTLS'* ]]
	[[ "$output" == *"-ERR STLS is not available: no certificate is configured"* ]]
}

@test "over TLS a client that reads steadily but slowly is not cut off: the timeout bounds a stall, not a whole write" {
	# 300 KiB leave in writes of 128 KiB and more; the client takes about
	# 1.6 s for each, with --timeout 1: every record makes progress in time
	python3 -c '
import sys
line = b"0123456789" * 7 + b"\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: big\n\n")
    f.write(line * (300 * 1024 // len(line)))' "$T/mail/carlos/cur/1800000000.M3P3.big:2,"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/mail"; fi
	python3 -m pop3lib wire "$T/mail/carlos/cur/1800000000.M3P3.big:2," >"$T/want"
	python3 - "$T/want" "${AS_USER[@]}" "$POP3_BUILD/pop3-session-tls" --state "$T/state.db" \
		--implicit-tls --timeout 1 "${SESSION_ARGS[@]}" <<-'EOF'
	import socket, ssl, subprocess, sys, time
	want = open(sys.argv[1], "rb").read()
	a, b = socket.socketpair()
	# the session's end buffers little: it sees the client's pace
	b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
	a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
	p = subprocess.Popen(sys.argv[2:], stdin=b, stdout=b)
	b.close()
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	t = ctx.wrap_socket(a)
	buf = b""
	def until(end):
	    global buf
	    while end not in buf:
	        c = t.recv(8192)
	        assert c, buf[-200:]
	        buf += c
	        if len(buf) > 20000:
	            time.sleep(0.1)  # about 80 KB/s once the message flows
	    i = buf.index(end) + len(end)
	    out, buf = buf[:i], buf[i:]
	    return out
	until(b"ready\r\n")
	t.sendall(b"USER carlos\r\nPASS montana\r\nRETR 4\r\n")
	until(b"Send PASS\r\n"); until(b"octets)\r\n")
	assert until(b"octets\r\n") == b"+OK %d octets\r\n" % len(want)
	assert until(b"\r\n.\r\n") == want + b".\r\n"
	t.sendall(b"QUIT\r\n")
	assert until(b"\r\n").startswith(b"+OK Bye")
	assert p.wait() == 0
	EOF
	# a client that stops reading altogether is still cut off after --timeout
	python3 - "${AS_USER[@]}" "$POP3_BUILD/pop3-session-tls" --state "$T/state.db" \
		--implicit-tls --timeout 1 "${SESSION_ARGS[@]}" <<-'EOF'
	import socket, ssl, subprocess, sys
	a, b = socket.socketpair()
	b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
	a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
	p = subprocess.Popen(sys.argv[1:], stdin=b, stdout=b)
	b.close()
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	t = ctx.wrap_socket(a)
	t.sendall(b"USER carlos\r\nPASS montana\r\nRETR 4\r\n")
	assert p.wait(timeout=20) == 1
	EOF
}

@test "--resume-stls is parsed strictly: no sign, no blanks, no overflow" {
	crlf QUIT >"$T/cmds"
	for bad in -1:0:0:1:5:0 ' 1:0:0:1:5:0' +1:0:0:1:5:0 4294967296:0:0:1:5:0 \
		1:0:18446744073709551616:1:5:0 1:0:0:1:5:0: 1:0:0:2:5:0 1:0:0:1:5:1000000000 \
		1::0:1:5:0 1:0:0:1:-0:0 '1:0:0:1:5:0 '; do
		run as_user "$POP3_BUILD/pop3-session-tls" --state "$T/state.db" "${SESSION_ARGS[@]}" \
			"--resume-stls=$bad" <"$T/cmds"
		[ "$status" -eq 100 ] || { echo "accepted: '$bad'"; false; }
	done
	# pop3-session hands an STLS over, never an implicit TLS session's
	run as_user "$POP3_BUILD/pop3-session-tls" --state "$T/state.db" "${SESSION_ARGS[@]}" \
		--implicit-tls --resume-stls=2:1:1:1:5:0 <"$T/cmds"
	[ "$status" -eq 100 ]
	run as_user "$POP3_BUILD/pop3-session-tls" --state "$T/state.db" "${SESSION_ARGS[@]}" \
		--resume-stls=2:1:1:1:5:999999999 <"$T/cmds"
	[ "${lines[0]%$'\r'}" = "+OK Begin TLS negotiation" ]
}

@test "an unreadable credential is a broken certificate, not a missing one: STLS says -ERR and the log names it" {
	mkdir "$T/creds"
	cp "$T/cert.pem" "$T/creds/tls.crt"
	cp "$T/key.pem" "$T/creds/tls.key"
	chmod 000 "$T/creds/tls.key"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER": "$T/creds"; fi
	SESSION_ARGS=()
	export CREDENTIALS_DIRECTORY=$T/creds
	SESSION_ENV=(CREDENTIALS_DIRECTORY)
	start_tcp "127.0.0.1:$PORT"
	run chat 127.0.0.1 "$PORT" < <(crlf 'CAPA' 'STLS' 'QUIT')
	[[ "$output" == *$'\nSTLS\r'* ]]
	[[ "$output" == *"-ERR [SYS/TEMP] TLS is unavailable now; try again later"* ]]
	grep -q "cannot start TLS peer=127.0.0.1: $T/creds/tls.key: " "$T/activate.log"
}

@test "plaintext_auth local trusts the kernel's addresses, not a REMOTE_ADDR in the environment" {
	export REMOTE_ADDR=127.0.0.1
	SESSION_ENV=(REMOTE_ADDR)
	start_tcp "127.0.0.1:$PORT"
	py <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20,
	                             source_address=("127.0.0.2", 0))
	f = s.makefile("rb")
	f.readline()
	s.sendall(b"USER alice\r\nQUIT\r\n")
	assert f.readline().startswith(b"-ERR [AUTH] Plaintext authentication disallowed"), "trusted"
	EOF
}
