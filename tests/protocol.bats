#!/usr/bin/env bats
# tests/protocol.bats - the POP3 protocol of pop3-session over pipes
# (RFC 1939, 2449, 3206, 5034 and the decisions in docs/design.md).
load helper
bats_require_minimum_version 1.5.0

setup() { setup_store; }
teardown() {
	# a test may have made a maildir unreadable: give it back to rm -rf
	if [ -n "${T:-}" ]; then chmod -R u+rwX "$T" 2>/dev/null || true; fi
	teardown_store
}

# ---- helpers of this file ----

# talk [ARGS...] < input: one session on stdin.  Sets $status, $output and
# $lines (replies with their CR removed, empty lines kept); the raw stdout is
# in $T/out, stderr accumulates in $T/err.  The transcript goes to this
# test's stdout, which bats shows when the test fails.
talk() {
	status=0
	pop3 "$@" >"$T/out" 2>>"$T/err" || status=$?
	output=$(tr -d '\r' <"$T/out")
	mapfile -t lines < <(tr -d '\r' <"$T/out")
	printf '%s\n' "--- exit status $status, ${#lines[@]} lines:" "${lines[@]}"
}

# not COMMAND...: succeeds when COMMAND fails (a bare "! cmd" never fails a
# bats test, set -e ignores it).
not() {
	if "$@"; then return 1; fi
}

password() {
	case $1 in
	alice) echo wonderland ;;
	bob) echo builder ;;
	carlos) echo montana ;;
	esac
}

# login_as USER [COMMAND...]: USER and PASS lines for USER, then the commands.
login_as() {
	local u=$1
	shift
	crlf "USER $u" "PASS $(password "$u")" "$@"
}

# b64 STRING: base64 of STRING (printf escapes such as \0 allowed).
b64() {
	# shellcheck disable=SC2059 # the escapes are the point
	printf "$1" | base64 -w0
}

# msgfile USER STAMP: the file(s) of USER's message whose unique name starts
# with STAMP, in cur/ or new/; fails when there is none.
msgfile() {
	compgen -G "$T/mail/$1/cur/$2.*" || compgen -G "$T/mail/$1/new/$2.*"
}

# nmsgs USER: how many message files USER's maildir holds.
nmsgs() {
	find "$T/mail/$1/cur" "$T/mail/$1/new" -type f | wc -l
}

# open_session [ARGS...]: start a session in the background; write its input
# to fd $W, read its replies with next_reply, end it with close_session.
open_session() {
	mkfifo "$T/in.fifo" "$T/out.fifo"
	pop3 "$@" <"$T/in.fifo" >"$T/out.fifo" 2>>"$T/err" 3>&- &
	SPID=$!
	exec {W}>"$T/in.fifo" {R}<"$T/out.fifo"
}

# next_reply: the session's next line (CR removed) in $REPLY; fails when
# nothing comes within 10 s.
next_reply() {
	IFS= read -r -t 10 REPLY <&"$R"
	REPLY=${REPLY%$'\r'}
	echo "S: $REPLY"
}

# close_session: end the input (unless already done), collect the remaining
# replies in $REST (CRs removed) and the exit status in $status.
close_session() {
	if [ -n "${W:-}" ]; then exec {W}>&-; fi
	W=
	REST=$(timeout 10 cat <&"$R" | tr -d '\r')
	echo "S: $REST"
	exec {R}<&-
	status=0
	wait "$SPID" || status=$?
}

# own [-R] FILE...: hand files made here to the service user.
own() {
	if [ "$(id -u)" -eq 0 ]; then chown "$TEST_USER": "$@"; fi
}

# number_test COMMAND: its reply in the TRANSACTION state must be -ERR and
# nothing about message 1 may appear.
number_test() {
	talk < <(login_as alice "$1" STAT QUIT)
	[[ "${lines[3]}" == "-ERR"* ]]
	[ "${lines[4]}" = "+OK 6 5127" ]
	[ "${#lines[@]}" -eq 6 ]
	[[ "$output" != *"704"* ]]
}

# The message files of alice, in POP3 order (message n is ALICE[n-1]).
ALICE=(1732000000 1732000100 1732000200 1732000300 1732000400 1732000500)

# pytool COMMAND ARGS...: checks on raw transcripts (see the commands below).
PYTOOL=$(
	cat <<'EOF'
import glob, os, re, sys

class Fail(Exception):
    pass

def wire(raw):
    """A stored message in wire form, unstuffed: every line end CRLF
    (a CR already before an LF kept), a last line without an end gets one."""
    out = re.sub(rb'(?<!\r)\n', b'\r\n', raw)
    if out and not out.endswith(b'\n'):
        out += b'\n' if out.endswith(b'\r') else b'\r\n'
    return out

class Transcript:
    def __init__(self, data):
        self.d, self.p = data, 0
    def line(self):
        i = self.d.find(b'\r\n', self.p)
        if i < 0:
            raise Fail('no CRLF after offset %d: %r' % (self.p, self.d[self.p:self.p + 60]))
        l = self.d[self.p:i]
        if b'\n' in l:
            raise Fail('bare LF in line at offset %d: %r' % (self.p, l))
        self.p = i + 2
        return l
    def ok(self, what):
        l = self.line()
        if not l.startswith(b'+OK'):
            raise Fail('%s: expected +OK, got %r' % (what, l))
        return l
    def multi(self):
        """Lines up to the terminating '.', unstuffed, each with its CRLF."""
        body = bytearray()
        while True:
            l = self.line()
            if l == b'.':
                return bytes(body)
            if l.startswith(b'.'):
                if not l.startswith(b'..'):
                    raise Fail('line starting with a single dot not stuffed: %r' % l)
                l = l[1:]
            body += l + b'\r\n'

def find_file(maildir, uid):
    hits = [f for f in glob.glob(os.path.join(maildir, '*', glob.escape(uid) + '*'))
            if os.path.basename(f).split(':')[0] == uid]
    if len(hits) != 1:
        raise Fail('uid %s: %d files' % (uid, len(hits)))
    return hits[0]

def sizes(transcript, maildir, count):
    """Transcript of USER, PASS, LIST, UIDL, RETR 1..count, QUIT."""
    t = Transcript(open(transcript, 'rb').read())
    count = int(count)
    t.ok('greeting'); t.ok('USER')
    m = re.fullmatch(rb'\+OK .*?(\d+) messages \((\d+) octets\)', t.ok('PASS'))
    if not m or int(m.group(1)) != count:
        raise Fail('login reply does not announce %d messages' % count)
    total = int(m.group(2))
    t.ok('LIST')
    listed = {}
    for l in t.multi().split(b'\r\n')[:-1]:
        k, n = l.split(b' ')
        listed[int(k)] = int(n)
    t.ok('UIDL')
    uids = {}
    for l in t.multi().split(b'\r\n')[:-1]:
        k, u = l.split(b' ')
        uids[int(k)] = u.decode()
    if sorted(listed) != list(range(1, count + 1)) or sorted(uids) != sorted(listed):
        raise Fail('LIST/UIDL numbers %r %r' % (sorted(listed), sorted(uids)))
    if sum(listed.values()) != total:
        raise Fail('LIST sizes add up to %d, login said %d' % (sum(listed.values()), total))
    bad = 0
    for k in range(1, count + 1):
        st = t.ok('RETR %d' % k)
        m = re.fullmatch(rb'\+OK (\d+) octets', st)
        body = t.multi()
        f = find_file(maildir, uids[k])
        want = wire(open(f, 'rb').read())
        said = int(m.group(1)) if m else None
        good = listed[k] == len(body) == said and body == want
        print('%s message %d: LIST %d, RETR says %s, RETR sent %d (unstuffed), file in wire form %d%s'
              % ('ok ' if good else 'BAD', k, listed[k], said, len(body), len(want),
                 '' if body == want else ', CONTENT DIFFERS'))
        bad += not good
    t.ok('QUIT')
    if t.p != len(t.d):
        raise Fail('trailing octets after QUIT: %r' % t.d[t.p:t.p + 60])
    if bad:
        raise Fail('%d messages with wrong sizes or content' % bad)

def body(transcript, skip):
    """The unstuffed multi-line body that follows the first SKIP lines."""
    t = Transcript(open(transcript, 'rb').read())
    for _ in range(int(skip)):
        t.line()
    sys.stdout.buffer.write(t.multi())

def wirefile(path):
    sys.stdout.buffer.write(wire(open(path, 'rb').read()))

try:
    {'sizes': sizes, 'body': body, 'wire': wirefile}[sys.argv[1]](*sys.argv[2:])
except Fail as e:
    print('FAIL:', e)
    sys.exit(1)
EOF
)
pytool() {
	python3 -c "$PYTOOL" "$@"
}

# ---- greeting and CAPA ----

@test "the greeting is +OK and carries no APOP timestamp" {
	talk < <(crlf QUIT)
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "+OK"* ]]
	[[ ! "${lines[0]}" =~ \<[^\>]*@[^\>]*\> ]]
	[[ "${lines[0]}" != *"<"* ]]
}

@test "CAPA lists exactly TOP UIDL USER SASL PLAIN RESP-CODES AUTH-RESP-CODE PIPELINING IMPLEMENTATION and a dot" {
	talk < <(crlf CAPA QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[ "${lines[-2]}" = "." ]
	[[ "${lines[-1]}" == "+OK"* ]]
	local caps=("${lines[@]:2:${#lines[@]}-4}")
	printf 'caps: %s\n' "${caps[@]}"
	[[ "${caps[-1]}" == "IMPLEMENTATION "?* ]]
	caps[-1]=IMPLEMENTATION
	[ "$(printf '%s\n' "${caps[@]}" | sort)" = "$(printf '%s\n' TOP UIDL USER 'SASL PLAIN' \
		RESP-CODES AUTH-RESP-CODE PIPELINING IMPLEMENTATION | sort)" ]
}

@test "CAPA advertises neither EXPIRE nor LOGIN-DELAY" {
	talk < <(crlf CAPA QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[[ "$output" != *EXPIRE* ]]
	[[ "$output" != *LOGIN-DELAY* ]]
}

@test "CAPA is answered in the TRANSACTION state too" {
	talk < <(login_as alice CAPA QUIT)
	[[ "${lines[3]}" == "+OK"* ]]
	[[ "$output" == *$'\nPIPELINING\n'* ]]
	[ "${lines[-2]}" = "." ]
	[ "$status" -eq 0 ]
}

# ---- USER and PASS ----

@test "USER answers +OK for an existing, an unknown and an over-long name" {
	local long
	long=$(printf 'u%.0s' {1..200})
	talk < <(crlf 'USER alice' 'USER nosuchuser' "USER $long" QUIT)
	[ "${#lines[@]}" -eq 5 ]
	[[ "${lines[1]}" == "+OK"* ]]
	[[ "${lines[2]}" == "+OK"* ]]
	[[ "${lines[3]}" == "+OK"* ]]
	# the same answer whatever the name: USER reveals nobody's existence
	[ "${lines[1]}" = "${lines[2]}" ]
	[ "${lines[1]}" = "${lines[3]}" ]
}

@test "PASS without USER is -ERR" {
	talk < <(crlf 'PASS wonderland' STAT QUIT)
	[[ "${lines[1]}" == "-ERR"* ]]
	[[ "${lines[2]}" == "-ERR"* ]] # still not logged in
	[ "$status" -eq 0 ]
}

@test "a wrong password is -ERR [AUTH] and leaves the session unauthenticated" {
	talk < <(crlf 'USER alice' 'PASS wonderlan' STAT QUIT)
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
}

@test "an unknown user is -ERR [AUTH]" {
	talk < <(crlf 'USER mallory' 'PASS wonderland' QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
}

@test "a disabled user with the right password is -ERR [AUTH]" {
	as_user sqlite3 "$T/state.db" "UPDATE users SET enabled=0 WHERE name='bob'"
	talk < <(login_as bob STAT QUIT)
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[3]}" == "-ERR"* ]]
	# the very same answer as a wrong password
	local disabled=${lines[2]}
	talk < <(crlf 'USER alice' 'PASS nope' QUIT)
	[ "$disabled" = "${lines[2]}" ]
}

@test "an over-long user name is accepted by USER and fails at PASS with -ERR [AUTH]" {
	local long
	long=alice$(printf 'x%.0s' {1..200})
	talk < <(crlf "USER $long" 'PASS wonderland' STAT QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[3]}" == "-ERR"* ]]
}

@test "PASS takes the rest of the line, so a password may contain spaces" {
	printf 'dave:open sesame  now\n' >"$T/more-users"
	chmod 644 "$T/more-users"
	as_user "$ADMIND" --state "$T/state.db" --import-users "$T/more-users" --scheme sha512crypt >/dev/null
	cp -r "$T/mail/bob" "$T/mail/dave"
	own -R "$T/mail/dave"
	talk < <(crlf 'USER dave' 'PASS open sesame' 'USER dave' 'PASS open sesame  now' STAT QUIT)
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
	[ "${lines[5]}" = "+OK 2 693" ]
	[ "$status" -eq 0 ]
}

@test "the third failed login closes the connection and nothing after it is answered" {
	talk < <(crlf 'USER alice' 'PASS a' 'USER alice' 'PASS b' 'USER alice' 'PASS c' \
		'USER alice' 'PASS wonderland' STAT QUIT)
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 7 ]
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[4]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[6]}" == "-ERR [AUTH]"* ]]
}

@test "failed PASS, AUTH PLAIN and malformed SASL all count toward the three-failure limit" {
	talk < <(crlf 'USER alice' 'PASS a' "AUTH PLAIN $(b64 '\0alice\0b')" 'AUTH PLAIN !!!!' \
		'USER alice' 'PASS wonderland' STAT QUIT)
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 5 ]
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[3]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[4]}" == "-ERR [AUTH]"* ]]
}

@test "a failed login waits auth_delay_ms while a good login does not" {
	as_user "$ADMIND" --state "$T/state.db" --set auth_delay_ms=300
	local t0 t1 t2 bad good
	t0=$EPOCHREALTIME
	talk < <(crlf 'USER alice' 'PASS wrong' QUIT)
	t1=$EPOCHREALTIME
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	talk < <(login_as alice QUIT)
	t2=$EPOCHREALTIME
	[[ "${lines[2]}" == "+OK"* ]]
	bad=$(((${t1//[.,]/} - ${t0//[.,]/}) / 1000))
	good=$(((${t2//[.,]/} - ${t1//[.,]/}) / 1000))
	echo "failed login session: $bad ms, good login session: $good ms"
	[ "$bad" -ge 290 ]
	# the good one pays no delay (compared with the bad one, not with a
	# fixed bound, so that a slow machine slows both alike)
	[ "$good" -lt $((bad - 150)) ]
}

# ---- AUTH ----

@test "a bare AUTH lists PLAIN and ends with a dot" {
	talk < <(crlf AUTH QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[ "${lines[2]}" = "PLAIN" ]
	[ "${lines[3]}" = "." ]
	[[ "${lines[4]}" == "+OK"* ]]
	[ "${#lines[@]}" -eq 5 ]
}

@test "AUTH PLAIN, a '+ ' continuation and a base64 line log in" {
	talk < <(crlf 'AUTH PLAIN' "$(printf '\0alice\0wonderland' | base64)" STAT QUIT)
	[ "${lines[1]}" = "+ " ]
	grep -q $'^+ \r$' "$T/out"
	[[ "${lines[2]}" == "+OK"* ]]
	[ "${lines[3]}" = "+OK 6 5127" ]
	[ "$status" -eq 0 ]
}

@test "AUTH PLAIN with an initial response on one line logs in" {
	talk < <(crlf "AUTH PLAIN $(printf '\0alice\0wonderland' | base64)" STAT QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[ "${lines[2]}" = "+OK 6 5127" ]
}

@test "AUTH PLAIN with an authzid equal to the authcid logs in" {
	talk < <(crlf "AUTH PLAIN $(b64 'bob\0bob\0builder')" STAT QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[ "${lines[2]}" = "+OK 2 693" ]
}

@test "a '*' in answer to the AUTH continuation cancels with -ERR" {
	talk < <(crlf 'AUTH PLAIN' '*' STAT QUIT)
	[ "${lines[1]}" = "+ " ]
	[[ "${lines[2]}" == "-ERR"* ]]
	[[ "${lines[3]}" == "-ERR"* ]] # not logged in
	[ "$status" -eq 0 ]
}

@test "malformed base64 in AUTH PLAIN is -ERR [AUTH]" {
	talk < <(crlf 'AUTH PLAIN' 'AGFsaWNlAHdvbmRlcmxhbm' "AUTH PLAIN AGFsaWNl*HdvbmRlcmxhbmQ=" STAT QUIT)
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[3]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[4]}" == "-ERR"* ]]
}

@test "an authzid different from the authcid is refused with -ERR [AUTH]" {
	talk < <(crlf "AUTH PLAIN $(b64 'bob\0alice\0wonderland')" STAT QUIT)
	[[ "${lines[1]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[2]}" == "-ERR"* ]]
}

@test "AUTH PLAIN with a wrong password is -ERR [AUTH]" {
	talk < <(crlf "AUTH PLAIN $(b64 '\0alice\0wonderlan')" STAT QUIT)
	[[ "${lines[1]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[2]}" == "-ERR"* ]]
}

@test "an unknown SASL mechanism is -ERR" {
	talk < <(crlf 'AUTH CRAM-MD5' 'AUTH LOGIN' QUIT)
	[[ "${lines[1]}" == "-ERR"* ]]
	[[ "${lines[2]}" == "-ERR"* ]]
	[[ "${lines[3]}" == "+OK"* ]]
	[ "${#lines[@]}" -eq 4 ]
}

# ---- commands this server does not offer ----

@test "APOP is -ERR" {
	talk < <(crlf 'APOP alice c4c9334bac560ecc979e58001b3e22fb' STAT QUIT)
	[[ "${lines[1]}" == "-ERR"* ]]
	[[ "${lines[2]}" == "-ERR"* ]]
}

@test "LAST, which fetchmail tries, is a clean -ERR in the TRANSACTION state" {
	talk < <(login_as alice LAST STAT QUIT)
	[[ "${lines[3]}" == "-ERR"* ]]
	[ "${lines[4]}" = "+OK 6 5127" ]
	[ "$status" -eq 0 ]
}

@test "STLS is -ERR (not available yet)" {
	talk < <(crlf STLS 'USER alice' QUIT)
	[[ "${lines[1]}" == "-ERR"* ]]
	[[ "${lines[2]}" == "+OK"* ]] # the session goes on in plain text
}

# ---- response codes for server-side conditions ----

@test "a second session on a locked maildrop gets -ERR [IN-USE]" {
	open_session
	login_as alice >&"$W"
	next_reply; next_reply; next_reply
	[[ "$REPLY" == "+OK"* ]] # the first session holds the maildrop
	talk < <(login_as alice STAT QUIT)
	[[ "${lines[2]}" == "-ERR [IN-USE]"* ]]
	[[ "${lines[3]}" == "-ERR"* ]]
	crlf QUIT >&"$W"
	close_session
	[[ "$REST" == "+OK"* ]]
	[ "$status" -eq 0 ]
}

@test "an unavailable state file makes PASS answer -ERR [SYS/TEMP]" {
	talk --state "$T/missing.db" < <(login_as alice QUIT)
	[[ "${lines[0]}" == "+OK"* ]]
	[[ "${lines[2]}" == "-ERR [SYS/TEMP]"* ]]
}

@test "an unreadable maildir makes PASS answer -ERR [SYS/TEMP] and the session stays in AUTHORIZATION" {
	chmod 000 "$T/mail/bob"
	talk < <(login_as bob STAT QUIT)
	chmod 755 "$T/mail/bob"
	[[ "${lines[2]}" == "-ERR [SYS/TEMP]"* ]]
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
}

# ---- TRANSACTION ----

@test "an empty maildrop answers STAT 0 0, an empty LIST and UIDL, and -ERR to RETR 1" {
	rm "$T"/mail/bob/cur/* "$T"/mail/bob/new/*
	talk < <(login_as bob STAT LIST UIDL 'RETR 1' QUIT)
	[ "${lines[2]}" = "+OK Logged in, 0 messages (0 octets)" ]
	[ "${lines[3]}" = "+OK 0 0" ]
	[[ "${lines[4]}" == "+OK"* ]]
	[ "${lines[5]}" = "." ]
	[[ "${lines[6]}" == "+OK"* ]]
	[ "${lines[7]}" = "." ]
	[[ "${lines[8]}" == "-ERR"* ]]
	[[ "${lines[9]}" == "+OK"* ]]
	[ "$status" -eq 0 ]
}

@test "STAT gives the number of messages and their total octets" {
	talk < <(login_as alice STAT QUIT)
	[ "${lines[3]}" = "+OK 6 5127" ]
	talk < <(login_as bob STAT QUIT)
	[ "${lines[3]}" = "+OK 2 693" ]
	talk < <(login_as carlos STAT QUIT)
	[ "${lines[3]}" = "+OK 3 2856" ]
}

@test "LIST gives every message with its size and ends with a dot" {
	talk < <(login_as alice LIST QUIT)
	[[ "${lines[3]}" == "+OK"* ]]
	[ "$(printf '%s\n' "${lines[@]:4:7}")" = "$(printf '%s\n' '1 704' '2 1181' '3 793' '4 875' \
		'5 867' '6 707' '.')" ]
	[[ "${lines[11]}" == "+OK"* ]]
}

@test "LIST n gives one message" {
	talk < <(login_as alice 'LIST 3' 'LIST 6' QUIT)
	[ "${lines[3]}" = "+OK 3 793" ]
	[ "${lines[4]}" = "+OK 6 707" ]
	[ "${#lines[@]}" -eq 6 ]
}

@test "UIDL lists the unique names, unchanged by the move from new/ to cur/" {
	talk < <(login_as alice UIDL QUIT)
	[[ "${lines[3]}" == "+OK"* ]]
	[ "$(printf '%s\n' "${lines[@]:4:7}")" = "$(printf '%s\n' \
		'1 1732000000.M104211P4101.sample,S=683,W=704' \
		'2 1732000100.M318840P4102.sample' \
		'3 1732000200.M527093P4103.sample' \
		'4 1732000300.M730516P4104.sample' \
		'5 1732000400.M912377P4105.sample' \
		'6 1732000500.M145902P4106.sample' '.')" ]
	# message 5 was in new/: now in cur/ with ":2,", same UIDL next time
	[ -e "$T/mail/alice/cur/1732000400.M912377P4105.sample:2," ]
	talk < <(login_as alice 'UIDL 5' QUIT)
	[ "${lines[3]}" = "+OK 5 1732000400.M912377P4105.sample" ]
}

@test "UIDL n gives one unique name" {
	talk < <(login_as bob 'UIDL 2' 'UIDL 1' QUIT)
	[ "${lines[3]}" = "+OK 2 1732086500.M662014P5202.sample" ]
	[ "${lines[4]}" = "+OK 1 1732086400.M500123P5201.sample,S=102,W=102" ]
}

@test "RETR sends +OK with the octet count, the message and a dot line" {
	talk < <(login_as bob 'RETR 1' QUIT)
	[ "${lines[3]}" = "+OK 102 octets" ]
	[ "${lines[4]}" = "$(printf 'Z%.0s' {1..100})" ]
	[ "${lines[5]}" = "." ]
	[[ "${lines[6]}" == "+OK"* ]]
	[ "${#lines[@]}" -eq 7 ]
}

@test "TOP n 0 sends the header and the blank line only" {
	local f want
	f=$(msgfile alice "${ALICE[0]}")
	talk < <(login_as alice 'TOP 1 0' QUIT)
	[ "${lines[3]}" = "+OK" ]
	want=$(sed '/^$/q' "$f")
	[ "$(printf '%s\n' "${lines[@]:4}" | sed '/^\.$/,$d')" = "$want" ]
	[ "${lines[-3]}" = "" ] # the blank line that ends the header
	[ "${lines[-2]}" = "." ]
}

@test "TOP n 3 sends the header, the blank line and exactly 3 body lines" {
	local f top
	f=$(msgfile alice "${ALICE[0]}")
	talk < <(login_as alice 'TOP 1 3' QUIT)
	[ "${lines[3]}" = "+OK" ]
	top=$(printf '%s\n' "${lines[@]:4}" | sed '/^\.$/,$d')
	# everything up to the blank line is the header, then 3 lines
	[ "$(sed '1,/^$/d' <<<"$top" | wc -l)" -eq 3 ]
	[ "$top" = "$(awk '{print} !b && /^$/ {b=1; next} b && ++n == 3 {exit}' "$f")" ]
}

@test "TOP on a CRLF file also stops after 3 body lines" {
	local f top
	f=$(msgfile alice "${ALICE[3]}")
	talk < <(login_as alice 'TOP 4 3' QUIT)
	[ "${lines[3]}" = "+OK" ]
	top=$(printf '%s\n' "${lines[@]:4}" | sed '/^\.$/,$d')
	[ "$(sed '1,/^$/d' <<<"$top" | wc -l)" -eq 3 ]
	[ "$top" = "$(tr -d '\r' <"$f" | awk '{print} !b && /^$/ {b=1; next} b && ++n == 3 {exit}')" ]
}

@test "NOOP is +OK" {
	talk < <(login_as alice NOOP QUIT)
	[ "${lines[3]}" = "+OK" ]
}

@test "DELE hides a message from STAT, LIST and LIST n" {
	talk < <(login_as alice 'DELE 2' STAT LIST 'LIST 2' 'LIST 3' QUIT)
	[[ "${lines[3]}" == "+OK"* ]]
	[ "${lines[4]}" = "+OK 5 3946" ]
	[[ "${lines[5]}" == "+OK 5 "* ]]
	[ "$(printf '%s\n' "${lines[@]:6:6}")" = "$(printf '%s\n' '1 704' '3 793' '4 875' \
		'5 867' '6 707' '.')" ]
	[[ "${lines[12]}" == "-ERR"* ]]
	[ "${lines[13]}" = "+OK 3 793" ]
}

@test "DELE of an already deleted message is -ERR" {
	talk < <(login_as alice 'DELE 1' 'DELE 1' QUIT)
	[[ "${lines[3]}" == "+OK"* ]]
	[[ "${lines[4]}" == "-ERR"* ]]
	[[ "${lines[5]}" == "+OK"* ]]
}

@test "RETR, TOP, LIST n and UIDL n of a deleted message are -ERR" {
	talk < <(login_as alice 'DELE 1' 'RETR 1' 'TOP 1 0' 'LIST 1' 'UIDL 1' QUIT)
	[[ "${lines[3]}" == "+OK"* ]]
	[[ "${lines[4]}" == "-ERR"* ]]
	[[ "${lines[5]}" == "-ERR"* ]]
	[[ "${lines[6]}" == "-ERR"* ]]
	[[ "${lines[7]}" == "-ERR"* ]]
	[ "${#lines[@]}" -eq 9 ]
}

@test "RSET restores deleted messages and QUIT then deletes nothing" {
	talk < <(login_as alice 'DELE 1' 'DELE 6' RSET STAT 'RETR 1' QUIT)
	[[ "${lines[5]}" == "+OK"* ]]
	[ "${lines[6]}" = "+OK 6 5127" ]
	[ "${lines[7]}" = "+OK 704 octets" ]
	[ "$status" -eq 0 ]
	[ "$(nmsgs alice)" -eq 6 ]
	msgfile alice "${ALICE[0]}"
	msgfile alice "${ALICE[5]}"
}

@test "STAT, LIST and RETR before login are -ERR" {
	talk < <(crlf STAT LIST 'RETR 1' 'USER alice' STAT QUIT)
	[[ "${lines[1]}" == "-ERR"* ]]
	[[ "${lines[2]}" == "-ERR"* ]]
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
	[[ "${lines[5]}" == "-ERR"* ]] # between USER and PASS too
	[ "$status" -eq 0 ]
}

@test "USER, PASS, AUTH and APOP after login are -ERR" {
	talk < <(login_as alice 'USER bob' 'PASS builder' "AUTH PLAIN $(b64 '\0bob\0builder')" \
		'APOP bob 0123456789abcdef0123456789abcdef' STAT QUIT)
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "-ERR"* ]]
	[[ "${lines[5]}" == "-ERR"* ]]
	[[ "${lines[6]}" == "-ERR"* ]]
	[ "${lines[7]}" = "+OK 6 5127" ] # still alice
}

@test "QUIT in AUTHORIZATION says +OK and exits 0" {
	talk < <(crlf QUIT NOOP)
	[[ "${lines[1]}" == "+OK"* ]]
	[ "${#lines[@]}" -eq 2 ]
	[ "$status" -eq 0 ]
}

@test "an unknown command and an empty line are -ERR" {
	talk < <(crlf XYZZY '' 'USER alice' QUIT)
	[[ "${lines[1]}" == "-ERR"* ]]
	[[ "${lines[2]}" == "-ERR"* ]]
	[[ "${lines[3]}" == "+OK"* ]]
}

@test "arguments where none are allowed are -ERR" {
	talk < <(login_as alice 'NOOP x' 'STAT 1' 'RSET x' 'LIST 1 2' 'DELE 1 2' 'RETR' STAT QUIT)
	local i
	for i in 3 4 5 6 7 8; do [[ "${lines[$i]}" == "-ERR"* ]]; done
	[ "${lines[9]}" = "+OK 6 5127" ]
}

# ---- sizes and the wire form ----

@test "LIST octet counts equal what RETR sends, unstuffed, for every message of alice, bob and carlos" {
	local u n cmds
	for u in alice:6 bob:2 carlos:3; do
		n=${u#*:}
		u=${u%:*}
		cmds=(LIST UIDL)
		for ((i = 1; i <= n; i++)); do cmds+=("RETR $i"); done
		talk < <(login_as "$u" "${cmds[@]}" QUIT) >/dev/null
		[ "$status" -eq 0 ]
		pytool sizes "$T/out" "$T/mail/$u" "$n"
	done
}

@test "sizes stay exact on a later login that reads them from the size cache" {
	talk < <(login_as carlos LIST QUIT)
	[ -s "$T/mail/carlos/pop3.sizes" ]
	talk < <(login_as carlos LIST UIDL 'RETR 1' 'RETR 2' 'RETR 3' QUIT) >/dev/null
	pytool sizes "$T/out" "$T/mail/carlos" 3
}

@test "sizes and dot-stuffing stay exact across the 128 KiB read chunks" {
	python3 - "$T/mail/bob/new/1732090000.M1P1.big" <<'PY'
import sys
K = 131072
b = bytearray(b'Subject: big chunks\n\n')
def fill_to(n):
    """Lines of 'y' up to exactly n octets, the last one ended by its LF."""
    while len(b) < n:
        room = n - len(b)
        b.extend(b'y' * min(70, room - 1) + b'\n')
fill_to(K)
b += b'.dot line at the start of the second chunk\n'
fill_to(2 * K - 1)
b += b'\r\n'  # CR ends the second chunk, its LF starts the third
fill_to(3 * K - 1)
b += b'.\n'  # a lone dot ends the third chunk, its LF starts the fourth
b += b'..double\nno final newline'
assert b[K] == ord('.') and b[2 * K - 1:2 * K + 1] == b'\r\n' and b[3 * K - 1:3 * K + 1] == b'.\n'
open(sys.argv[1], 'wb').write(b)
PY
	own "$T/mail/bob/new/1732090000.M1P1.big"
	talk < <(login_as bob LIST UIDL 'RETR 1' 'RETR 2' 'RETR 3' QUIT) >/dev/null
	pytool sizes "$T/out" "$T/mail/bob" 3
}

@test "an empty file, a lone CR at the end and a CR inside a line keep LIST and RETR in agreement" {
	local d=$T/mail/bob/new
	printf '' >"$d/1732090001.M1P1.empty"
	printf 'Subject: lone CR at the end\n\nabc\r' >"$d/1732090002.M1P1.lonecr"
	printf 'Subject: CR inside\n\na\rb\n.\r\n' >"$d/1732090003.M1P1.midcr"
	own "$d"/17320900*
	talk < <(login_as bob LIST UIDL 'RETR 1' 'RETR 2' 'RETR 3' 'RETR 4' 'RETR 5' QUIT) >/dev/null
	pytool sizes "$T/out" "$T/mail/bob" 5
	talk < <(login_as bob 'LIST 3' 'LIST 4' 'LIST 5' QUIT)
	[ "${lines[3]}" = "+OK 3 0" ]
	[ "${lines[4]}" = "+OK 4 36" ]
	[ "${lines[5]}" = "+OK 5 30" ]
}

@test "a file with CRLF line ends is sent byte for byte, without doubled CRs" {
	local f
	f=$(msgfile alice "${ALICE[3]}")
	talk < <(login_as alice 'RETR 4' QUIT)
	[ "${lines[3]}" = "+OK 875 octets" ]
	not grep -q $'\r\r' "$T/out"
	pytool body "$T/out" 4 >"$T/body"
	cmp "$T/body" "$f"
}

@test "a file with LF line ends is sent with every LF turned into CRLF" {
	local f
	f=$(msgfile alice "${ALICE[0]}")
	talk < <(login_as alice 'RETR 1' QUIT)
	[ "${lines[3]}" = "+OK 704 octets" ]
	pytool body "$T/out" 4 >"$T/body"
	[ "$(wc -c <"$T/body")" -eq 704 ]
	cmp "$T/body" <(sed 's/$/\r/' "$f")
}

@test "a file without a final newline ends with exactly one CRLF before the dot" {
	local f
	f=$(msgfile alice "${ALICE[5]}")
	[ "$(tail -c 1 "$f")" = "s" ] # the sample really lacks it
	talk < <(login_as alice 'RETR 6' QUIT)
	[ "${lines[3]}" = "+OK 707 octets" ]
	grep -q $'^Only the grin remains\r$' "$T/out"
	[ "${lines[-3]}" = "Only the grin remains" ]
	[ "${lines[-2]}" = "." ]
	pytool body "$T/out" 4 >"$T/body"
	[ "$(wc -c <"$T/body")" -eq 707 ]
	[ "$(tail -c 23 "$T/body" | od -An -c | tr -s ' ')" = "$(printf 'Only the grin remains\r\n' | od -An -c | tr -s ' ')" ]
}

@test "lines starting with a dot are stuffed and a lone dot line is sent as two dots" {
	talk < <(login_as alice 'RETR 3' QUIT)
	[ "${lines[3]}" = "+OK 793 octets" ]
	[[ "$output" == *$'\n..hidden\n...double\n..\n.. space\n....\n'* ]]
	[[ "$output" == *$'\n..last line also starts with a dot\n.\n+OK'* ]]
	# the only lone "." is the terminator
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^\.$')" -eq 1 ]
	pytool body "$T/out" 4 >"$T/body"
	[ "$(wc -c <"$T/body")" -eq 793 ]
}

@test "TOP dot-stuffs body lines too" {
	talk < <(login_as alice 'TOP 3 6' QUIT)
	[ "${lines[3]}" = "+OK" ]
	[[ "$output" == *$'\n..hidden\n...double\n..\n.\n+OK'* ]]
}

# ---- line handling ----

@test "an over-long line gets exactly one -ERR and a QUIT in its tail does not end the session" {
	talk < <(login_as alice "NOOP$(printf '%300s' '')QUIT" STAT QUIT)
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[3]}" == "-ERR"* ]]
	[ "${lines[4]}" = "+OK 6 5127" ]
	[[ "${lines[5]}" == "+OK"* ]]
	[ "$status" -eq 0 ]
}

@test "the tail of an over-long line is not executed even where a cut at 255 octets would start a command" {
	# 255 octets of NOOP and spaces, then "DELE 1" in the same line
	talk < <(login_as alice "NOOP$(printf '%251s' '')DELE 1" "$(printf '%253s' '')DELE 2" QUIT)
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "-ERR"* ]]
	[[ "${lines[5]}" == "+OK"* ]]
	[ "$(nmsgs alice)" -eq 6 ]
}

@test "the line after an over-long line is executed" {
	talk < <(login_as alice "NOOP$(printf '%300s' '')" 'DELE 1' QUIT)
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
	[[ "${lines[5]}" == "+OK"* ]]
	[ "${#lines[@]}" -eq 6 ]
	not msgfile alice "${ALICE[0]}"
	[ "$(nmsgs alice)" -eq 5 ]
}

@test "an over-long line larger than the input buffer still gets exactly one -ERR" {
	talk < <(login_as alice "NOOP $(printf 'x%.0s' {1..5000}) QUIT" STAT QUIT)
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[3]}" == "-ERR"* ]]
	[ "${lines[4]}" = "+OK 6 5127" ]
}

@test "an over-long line is refused as soon as 255 octets have arrived, and the rest of it is discarded" {
	open_session
	login_as alice >&"$W"
	next_reply; next_reply; next_reply
	[[ "$REPLY" == "+OK"* ]]
	printf 'NOOP%300s' '' >&"$W" # no line end yet
	next_reply
	[[ "$REPLY" == "-ERR"* ]]
	printf 'QUIT\r\nSTAT\r\n' >&"$W" # this "QUIT" still belongs to the long line
	next_reply
	[ "$REPLY" = "+OK 6 5127" ]
	crlf QUIT >&"$W"
	close_session
	[[ "$REST" == "+OK"* ]]
	[ "$status" -eq 0 ]
}

@test "a line of exactly 255 octets including CRLF is accepted" {
	local name
	name=$(printf 'a%.0s' {1..248}) # "USER " + 248 + CRLF = 255
	talk < <(crlf "USER $name" QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[[ "${lines[2]}" == "+OK"* ]]
	[ "${#lines[@]}" -eq 3 ]
}

@test "a line of 256 octets including CRLF is refused" {
	local name
	name=$(printf 'a%.0s' {1..249})
	talk < <(crlf "USER $name" QUIT)
	[[ "${lines[1]}" == "-ERR"* ]]
	[[ "${lines[2]}" == "+OK"* ]]
	[ "${#lines[@]}" -eq 3 ]
}

@test "a line with a NUL byte is -ERR and not executed" {
	talk < <(login_as alice; printf 'QUIT\0\r\nDELE\0 1\r\n'; crlf STAT QUIT)
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "-ERR"* ]]
	[ "${lines[5]}" = "+OK 6 5127" ]
	[[ "${lines[6]}" == "+OK"* ]]
	[ "$(nmsgs alice)" -eq 6 ]
}

@test "a bare CR inside a line is -ERR and not executed" {
	talk < <(login_as alice $'QUIT\rNOOP' $'STAT\r' STAT QUIT)
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "-ERR"* ]]
	[ "${lines[5]}" = "+OK 6 5127" ]
	[ "$status" -eq 0 ]
}

@test "bare LF line ends are accepted" {
	talk < <(printf 'USER alice\nPASS wonderland\nSTAT\nQUIT\n')
	[[ "${lines[2]}" == "+OK"* ]]
	[ "${lines[3]}" = "+OK 6 5127" ]
	[ "$status" -eq 0 ]
	# the replies still end in CRLF
	[ "$(grep -c $'\r$' "$T/out")" -eq 5 ]
}

@test "lower-case and mixed-case commands are accepted" {
	talk < <(crlf 'user alice' 'pAsS wonderland' 'stat' 'list 1' 'Quit')
	[[ "${lines[2]}" == "+OK"* ]]
	[ "${lines[3]}" = "+OK 6 5127" ]
	[ "${lines[4]}" = "+OK 1 704" ]
	[ "$status" -eq 0 ]
}

# ---- strict numbers ----

@test "LIST 4294967297 is no such message, never message 1" {
	number_test 'LIST 4294967297'
	[[ "${lines[3]}" == "-ERR"*"o such message"* ]]
}

@test "LIST 18446744073709551617 is -ERR, never message 1" {
	number_test 'LIST 18446744073709551617'
}

@test "LIST -1 is -ERR" {
	number_test 'LIST -1'
}

@test "LIST +1 is -ERR" {
	number_test 'LIST +1'
}

@test "LIST 1x is -ERR" {
	number_test 'LIST 1x'
}

@test "LIST 0 is -ERR" {
	number_test 'LIST 0'
}

@test "RETR 99 is -ERR" {
	number_test 'RETR 99'
}

@test "TOP 1 -1 is -ERR" {
	number_test 'TOP 1 -1'
}

@test "DELE 4294967297 deletes nothing" {
	number_test 'DELE 4294967297'
	[ "$(nmsgs alice)" -eq 6 ]
}

# ---- pipelining ----

@test "200 commands in one write get 200 answers in order" {
	local sizes=(704 1181 793 875 867 707) i k
	{
		login_as alice
		for ((i = 0; i < 200; i++)); do printf 'LIST %d\r\n' $((i % 6 + 1)); done
		crlf QUIT
	} >"$T/in"
	talk <"$T/in" >/dev/null
	[ "${#lines[@]}" -eq 204 ]
	for ((i = 0; i < 200; i++)); do
		k=$((i % 6 + 1))
		[ "${lines[i + 3]}" = "+OK $k ${sizes[k - 1]}" ] || {
			echo "answer $i: '${lines[i + 3]}'"
			false
		}
	done
	[[ "${lines[203]}" == "+OK"* ]]
	[ "$status" -eq 0 ]
}

@test "200 pipelined NOOPs get 200 +OK" {
	{
		login_as alice
		for ((i = 0; i < 200; i++)); do printf 'NOOP\r\n'; done
		crlf QUIT
	} >"$T/in"
	talk <"$T/in" >/dev/null
	[ "${#lines[@]}" -eq 204 ]
	[ "$(printf '%s\n' "${lines[@]:3:200}" | grep -cx '+OK')" -eq 200 ]
}

# ---- deletion happens only in UPDATE ----

@test "DELE marks but only QUIT removes the file: a hang-up without QUIT deletes nothing" {
	talk < <(login_as alice 'DELE 1' 'DELE 2' STAT)
	[[ "${lines[3]}" == "+OK"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
	[ "${lines[5]}" = "+OK 4 3242" ]
	[ "$status" -eq 1 ]
	[ "$(nmsgs alice)" -eq 6 ]
	msgfile alice "${ALICE[0]}"
	msgfile alice "${ALICE[1]}"
}

@test "DELE and QUIT remove exactly the marked files and QUIT says +OK" {
	talk < <(login_as alice 'DELE 1' 'DELE 5' QUIT)
	[[ "${lines[5]}" == "+OK"* ]]
	[[ "${lines[5]}" == *2* ]]
	[ "$status" -eq 0 ]
	not msgfile alice "${ALICE[0]}"
	not msgfile alice "${ALICE[4]}"
	[ "$(nmsgs alice)" -eq 4 ]
	for i in 1 2 3 5; do msgfile alice "${ALICE[i]}"; done
	# the next session numbers the rest afresh
	talk < <(login_as alice STAT QUIT)
	[ "${lines[3]}" = "+OK 4 3556" ]
}

@test "an idle session is logged out with -ERR, exits 1 and keeps the DELE'd file" {
	open_session --timeout 1
	login_as alice 'DELE 1' >&"$W"
	# the input stays open: the session must end by itself
	REST=$(timeout 10 cat <&"$R" | tr -d '\r')
	printf '%s\n' "$REST"
	mapfile -t lines <<<"$REST"
	close_session
	[ "$status" -eq 1 ]
	[[ "${lines[3]}" == "+OK"* ]]
	[[ "${lines[4]}" == "-ERR"*"utologout"* ]]
	[ "${#lines[@]}" -eq 5 ]
	msgfile alice "${ALICE[0]}"
	[ "$(nmsgs alice)" -eq 6 ]
	grep 'session end' "$T/err" | grep -q 'outcome=timeout'
}

# ---- the process ----

@test "pop3-session refuses to run as root: exit 102 and no greeting" {
	[ "$(id -u)" -eq 0 ] || skip "not running as root"
	local rc=0
	"$SESSION" --state "$T/state.db" < <(login_as alice QUIT) >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/out"
	[ "$rc" -eq 102 ]
	not grep -q '+OK' "$T/out"
	grep -q '^-ERR \[SYS/PERM\]' "$T/out"
}

@test "a session logs exactly one session end line with peer, user and outcome" {
	talk < <(login_as alice 'RETR 1' QUIT)
	cat "$T/err"
	[ "$(grep -c 'session end' "$T/err")" -eq 1 ]
	l=$(grep 'session end' "$T/err")
	[[ " $l " == *" peer=local "* ]]
	[[ " $l " == *" user=alice "* ]]
	[[ " $l " == *" outcome=quit "* ]]
}

@test "a hang-up is logged as one session end with outcome=disconnect" {
	talk < <(login_as bob STAT)
	cat "$T/err"
	[ "$(grep -c 'session end' "$T/err")" -eq 1 ]
	l=$(grep 'session end' "$T/err")
	[[ " $l " == *" peer=local "* ]]
	[[ " $l " == *" user=bob "* ]]
	[[ " $l " == *" outcome=disconnect "* ]]
}

@test "passwords never reach stderr, right or wrong, by PASS or by AUTH PLAIN" {
	local b1 b2
	b1=$(b64 '\0alice\0Secret-Two')
	b2=$(b64 '\0alice\0wonderland')
	talk < <(crlf 'USER alice' 'PASS Secret-One' "AUTH PLAIN $b1" "AUTH PLAIN $b2" QUIT)
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[3]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
	cat "$T/err"
	[ "$(grep -c 'session end' "$T/err")" -eq 1 ]
	grep 'session end' "$T/err" | grep -q 'user=alice'
	not grep -qiF -e Secret-One -e Secret-Two -e wonderland -e "$b1" -e "$b2" "$T/err"
}

@test "a session ended by the failure limit logs user=- and outcome=auth-limit, without the passwords" {
	talk < <(crlf 'USER alice' 'PASS Guess-1' 'USER alice' 'PASS Guess-2' 'USER bob' 'PASS builderr')
	[ "$status" -eq 1 ]
	cat "$T/err"
	[ "$(grep -c 'session end' "$T/err")" -eq 1 ]
	l=$(grep 'session end' "$T/err")
	[[ " $l " == *" peer=local "* ]]
	[[ " $l " == *" user=- "* ]]
	[[ " $l " == *" outcome=auth-limit "* ]]
	not grep -qF -e Guess-1 -e Guess-2 -e builderr "$T/err"
}

# ---- hardening: names from the client ----

@test "a user name longer than 128 octets never logs in, even when its first 128 octets name a user" {
	local n
	n=$(printf 'a%.0s' {1..128})
	printf '%s:secret\n' "$n" >"$T/more-users"
	chmod 644 "$T/more-users"
	as_user "$ADMIND" --state "$T/state.db" --import-users "$T/more-users" --scheme sha512crypt >/dev/null
	talk < <(crlf "USER ${n}b" 'PASS secret' STAT "USER $n" 'PASS secret' STAT QUIT)
	[[ "${lines[1]}" == "+OK"* ]]
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[5]}" == "+OK"* ]] # the exact name does log in
	[ "${lines[6]}" = "+OK 0 0" ]
}

@test "an over-long SASL response counts toward the three-failure limit like any malformed one" {
	local long
	long=$(printf 'A%.0s' {1..1500})
	talk < <(crlf 'AUTH PLAIN' "$long" 'AUTH PLAIN' "$long" 'AUTH PLAIN' "$long" \
		'USER alice' 'PASS wonderland' STAT QUIT)
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[4]}" == "-ERR [AUTH]"* ]]
	[[ "${lines[6]}" == "-ERR [AUTH]"* ]]
	[ "${#lines[@]}" -eq 7 ]
	[ "$status" -eq 1 ]
}

@test "a user name with a line break sent by AUTH PLAIN cannot forge a log line" {
	talk < <(crlf "AUTH PLAIN $(b64 '\0x\nsession end peer=192.0.2.9 user=root outcome=quit\0pw')" QUIT)
	[[ "${lines[1]}" == "-ERR [AUTH]"* ]]
	cat "$T/err"
	[ "$(grep -c 'session end' "$T/err")" -eq 1 ]
	not grep -v '^pop3-session\[[0-9]*\]: ' "$T/err"
}

@test "control characters in a user name never reach the log raw" {
	talk < <(crlf "USER a$(printf '\t')peer=192.0.2.9$(printf '\033')[2J" 'PASS x' QUIT)
	[[ "${lines[2]}" == "-ERR [AUTH]"* ]]
	cat -A "$T/err"
	not grep -q $'[\t\033]' "$T/err"
}

@test "the peer address comes from REMOTE_ADDR, else TCPREMOTEIP, v4-mapped shown as IPv4" {
	REMOTE_ADDR=::ffff:192.0.2.4 talk < <(crlf QUIT)
	TCPREMOTEIP=2001:db8::7 talk < <(crlf QUIT)
	REMOTE_ADDR='bad addr' talk < <(crlf QUIT)
	grep -q 'session end peer=192.0.2.4 ' "$T/err"
	grep -q 'session end peer=2001:db8::7 ' "$T/err"
	grep -q 'session end peer=local ' "$T/err"
}

@test "a connection gets ten login attempts in all, whatever their answers" {
	# alice is locked by a file lock held here: every correct PASS gets [IN-USE]
	: >>"$T/mail/alice/pop3.lock"
	own "$T/mail/alice/pop3.lock"
	exec {lk}<"$T/mail/alice/pop3.lock"
	flock -n "$lk"
	args=()
	for i in $(seq 11); do args+=('USER alice' 'PASS wonderland'); done
	talk < <(crlf "${args[@]}" QUIT)
	exec {lk}>&-
	[ "$(grep -c '^-ERR \[IN-USE\]' <<<"$output")" -eq 10 ]
	[[ "${lines[-1]}" == "-ERR [AUTH] Too many login attempts"* ]]
	[ "$status" -eq 1 ]
}

@test "a client that stops reading a pipe cannot hold the session past the timeout" {
	f="$T/mail/bob/cur/1732090000.M1P1.big:2,"
	head -c 3000000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$f"
	own "$f"
	mkfifo "$T/slow"
	exec {r}<>"$T/slow" # a reader that never reads
	crlf 'USER bob' 'PASS builder' 'RETR 3' 'QUIT' >"$T/cmds"
	status=0
	timeout 30 "${AS_USER[@]}" "$SESSION" --state "$T/state.db" --timeout 1 <"$T/cmds" >"$T/slow" 2>"$T/err" || status=$?
	exec {r}>&-
	[ "$status" -eq 1 ]
	grep -q 'outcome=write-error' "$T/err"
	[ -f "$f" ]
}
