#!/usr/bin/env bats
# The Maildir side of pop3-session: new/ to cur/, the snapshot, sizes and
# their cache, messages that change under a session, deletion, the lock and
# where a user's maildir is.  Sessions run over pipes; those that must be
# interrupted by a change on disk run over two fifos, one reply at a time.
load helper

bats_require_minimum_version 1.5.0

setup() {
	setup_store
	export PYTHONPATH="$POP3_SRC/tests/lib"
	A="$T/mail/alice"
	M1="1732000000.M104211P4101.sample,S=683,W=704:2,S"
	M2="1732000100.M318840P4102.sample:2,S"
	M3="1732000200.M527093P4103.sample:2,RS"
}

teardown() {
	# a session left waiting by a failed test ends on EOF
	if [ -n "${IN:-}" ]; then exec {IN}>&-; fi
	if [ -n "${OUT:-}" ]; then exec {OUT}<&-; fi
	if [ -n "${SESSION_BG:-}" ]; then wait "$SESSION_BG" || true; fi
	teardown_store
}

# ---- a session on fifos, driven one command at a time ----

# open_session [ARGS]: start pop3-session, read its greeting.
open_session() {
	mkfifo "$T/in" "$T/out"
	pop3 "$@" <"$T/in" >"$T/out" 2>>"$T/session.log" 3>&- &
	SESSION_BG=$!
	exec {IN}>"$T/in" {OUT}<"$T/out"
	get
	[ "$REPLY_LINE" = "+OK POP3 server ready" ]
}

# get: the next reply line, without its CRLF, in REPLY_LINE.
get() {
	IFS= read -r -t 10 REPLY_LINE <&"$OUT" || return 1
	REPLY_LINE=${REPLY_LINE%$'\r'}
}

# ask CMD: send one command, its (first) reply line in REPLY_LINE.
ask() {
	printf '%s\r\n' "$1" >&"$IN"
	get
}

# ask_multi CMD: status line in REPLY_LINE; after +OK the body lines,
# un-stuffed, in BODY.
ask_multi() {
	ask "$1"
	BODY=()
	[[ "$REPLY_LINE" == "+OK"* ]] || return 0
	local status=$REPLY_LINE
	while :; do
		get || return 1
		[ "$REPLY_LINE" = "." ] && break
		[[ "$REPLY_LINE" == .* ]] && REPLY_LINE=${REPLY_LINE:1}
		BODY+=("$REPLY_LINE")
	done
	REPLY_LINE=$status
}

# login USER PASS: in the fifo session; fails unless logged in.
login() {
	ask "USER $1"
	ask "PASS $2"
	[[ "$REPLY_LINE" == "+OK Logged in"* ]]
}

# close_session: end the fifo session; its exit status in SESSION_STATUS.
close_session() {
	exec {IN}>&-
	IN=
	SESSION_STATUS=0
	wait "$SESSION_BG" || SESSION_STATUS=$?
	SESSION_BG=
	exec {OUT}<&-
	OUT=
}

# deliver MAILDIR NAME TEXT: write a message into tmp/ and move it to new/,
# as an MDA does.
deliver() {
	local md=$1 name=$2
	printf '%s\n' "$3" >"$md/tmp/$name"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$md/tmp/$name"
	mv "$md/tmp/$name" "$md/new/$name"
}

# ---- new/ and cur/ ----

@test "a message in new/ is moved to cur/ with :2, appended at login" {
	[ -e "$A/new/1732000400.M912377P4105.sample" ]
	run pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[ "$status" -eq 0 ]
	[ -z "$(ls "$A/new")" ]
	[ -f "$A/cur/1732000400.M912377P4105.sample:2," ]
}

@test "UIDLs are the unique names before the colon, the same before and after the move to cur/" {
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'UIDL' 'QUIT')
	first=$output
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'UIDL' 'QUIT')
	[ "$output" = "$first" ]
	[[ "$output" == *$'\r\n5 1732000400.M912377P4105.sample\r\n'* ]]
	expected=$(cd "$A/cur" && ls | sort -n | cut -d: -f1 | awk '{ printf "%d %s\r\n", NR, $0 }')
	[ "$(sed -n '/^+OK Unique-ID/,/^\.\r$/p' <<<"$output" | sed '1d;$d')" = "${expected%$'\n'}" ]
}

@test "a message delivered into new/ during a session is not in that session's LIST" {
	open_session
	login alice wonderland
	ask_multi LIST
	first=("${BODY[@]}")
	[ "${#first[@]}" -eq 6 ]
	deliver "$A" 1732000900.M1P1.late 'Subject: late'
	ask_multi LIST
	[ "${BODY[*]}" = "${first[*]}" ]
	ask STAT
	[ "$REPLY_LINE" = "+OK 6 5127" ]
	ask QUIT
	close_session
	[ "$SESSION_STATUS" -eq 0 ]
	[ -f "$A/new/1732000900.M1P1.late" ]
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[[ "${lines[2]}" == "+OK Logged in, 7 messages"* ]]
}

# ---- sizes ----

@test "a message with ,W=<n> in its name is listed with size n without being read" {
	f="$A/cur/1732000600.M1P1.test,W=12345:2,"
	printf 'Subject: small\n\nnot 12345 octets\n' >"$f"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$f"
	chmod 000 "$f" # unreadable: a size read from the file would be 0
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'LIST 7' 'LIST 1' 'QUIT')
	[ "${lines[3]}" = $'+OK 7 12345\r' ]
	[ "${lines[4]}" = $'+OK 1 704\r' ]
	! grep -q '1732000600.M1P1.test' "$A/pop3.sizes"
}

@test "sizes without W= are computed once and cached in pop3.sizes" {
	[ ! -e "$A/pop3.sizes" ]
	run pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[ "$status" -eq 0 ]
	[ -f "$A/pop3.sizes" ]
	[ "$(head -n1 "$A/pop3.sizes")" = "pop3-sizes 1" ]
	[ "$(sed 1d "$A/pop3.sizes" | sort)" = "$(printf '%s\n' \
		'1732000100.M318840P4102.sample 1181' '1732000200.M527093P4103.sample 793' \
		'1732000300.M730516P4104.sample 875' '1732000400.M912377P4105.sample 867' \
		'1732000500.M145902P4106.sample 707')" ]
	# nothing new to size: the second login leaves the file as it is
	inode=$(stat -c %i "$A/pop3.sizes")
	run pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[ "$status" -eq 0 ]
	[ "$(stat -c %i "$A/pop3.sizes")" = "$inode" ]
}

@test "a second login takes sizes from pop3.sizes instead of reading the messages" {
	run pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[ "$status" -eq 0 ]
	# Maildir messages never change; this one does only to show the cache is used
	printf 'short\n' >"$A/cur/$M2"
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'LIST 2' 'QUIT')
	[ "${lines[3]}" = $'+OK 2 1181\r' ]
}

@test "a damaged pop3.sizes is ignored as a whole and rewritten" {
	printf 'pop3-sizes 1\n1732000100.M318840P4102.sample 99\nthis is garbage\n\x01\xff\n' \
		>"$A/pop3.sizes"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$A/pop3.sizes"
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'LIST 2' 'QUIT')
	[ "${lines[3]}" = $'+OK 2 1181\r' ]
	[ "$(head -n1 "$A/pop3.sizes")" = "pop3-sizes 1" ]
	[ "$(sed 1d "$A/pop3.sizes" | sort)" = "$(printf '%s\n' \
		'1732000100.M318840P4102.sample 1181' '1732000200.M527093P4103.sample 793' \
		'1732000300.M730516P4104.sample 875' '1732000400.M912377P4105.sample 867' \
		'1732000500.M145902P4106.sample 707')" ]
}

# ---- messages that change under a session ----

@test "RETR of a message removed during the session gets -ERR [SYS/TEMP] and the session goes on" {
	open_session
	login alice wonderland
	rm "$A/cur/$M2"
	ask 'RETR 2'
	[ "$REPLY_LINE" = "-ERR [SYS/TEMP] Message is no longer available" ]
	ask NOOP
	[ "$REPLY_LINE" = "+OK" ]
	ask_multi 'RETR 3'
	[ "$REPLY_LINE" = "+OK 793 octets" ]
	ask QUIT
	[ "$REPLY_LINE" = "+OK Bye, 0 deleted" ]
	close_session
	[ "$SESSION_STATUS" -eq 0 ]
}

@test "a message renamed with new flags during the session is still retrieved" {
	open_session
	login alice wonderland
	mv "$A/cur/$M2" "$A/cur/${M2%S}RS"
	ask_multi 'RETR 2'
	[ "$REPLY_LINE" = "+OK 1181 octets" ]
	printf '%s\r\n' "${BODY[@]}" >"$T/got"
	python3 -m pop3lib wire "$A/cur/${M2%S}RS" >"$T/want"
	cmp "$T/got" "$T/want"
	ask QUIT
	close_session
	[ "$SESSION_STATUS" -eq 0 ]
}

@test "a message renamed with new flags during the session is removed by DELE and QUIT" {
	open_session
	login alice wonderland
	mv "$A/cur/$M2" "$A/cur/${M2%S}RS"
	ask 'DELE 2'
	[ "$REPLY_LINE" = "+OK Message 2 deleted" ]
	ask QUIT
	[ "$REPLY_LINE" = "+OK Bye, 1 deleted" ]
	close_session
	[ "$SESSION_STATUS" -eq 0 ]
	[ -z "$(ls "$A/cur" | grep '^1732000100\.M318840P4102\.sample')" ]
	[ "$(ls "$A/cur" | wc -l)" -eq 5 ]
}

@test "QUIT answers -ERR [SYS/TEMP] and exits 111 when deleted messages cannot be removed" {
	open_session
	login alice wonderland
	chmod 555 "$A/cur"
	ask 'DELE 1'
	ask 'DELE 2'
	ask QUIT
	[ "$REPLY_LINE" = "-ERR [SYS/TEMP] 2 of 2 deleted messages could not be removed" ]
	close_session
	chmod 755 "$A/cur"
	[ "$SESSION_STATUS" -eq 111 ]
	[ -f "$A/cur/$M1" ]
	[ -f "$A/cur/$M2" ]
}

# ---- where the maildir is, and its lock ----

@test "a user without a maildir logs in to an empty maildrop and gets cur/ new/ tmp/" {
	printf 'dave:secret\n' >"$T/dave.users"
	as_user "$ADMIND" --state "$T/state.db" --import-users "$T/dave.users" --scheme sha512crypt
	[ ! -e "$T/mail/dave" ]
	run --separate-stderr pop3 < <(crlf 'USER dave' 'PASS secret' 'STAT' 'QUIT')
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = $'+OK Logged in, 0 messages (0 octets)\r' ]
	[ "${lines[3]}" = $'+OK 0 0\r' ]
	[ -d "$T/mail/dave/cur" ] && [ -d "$T/mail/dave/new" ] && [ -d "$T/mail/dave/tmp" ]
	[ "$(stat -c %U "$T/mail/dave/cur")" = "$(as_user id -un)" ]
}

@test "a session leaves its lock file pop3.lock in the maildir" {
	[ ! -e "$A/pop3.lock" ]
	run pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[ "$status" -eq 0 ]
	[ -f "$A/pop3.lock" ] && [ ! -L "$A/pop3.lock" ]
}

@test "a second session for the same user gets -ERR [IN-USE] while the first is logged in" {
	open_session
	login alice wonderland
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[ "${lines[2]}" = $'-ERR [IN-USE] Maildrop is in use by another session\r' ]
	[ "${lines[3]}" = $'+OK Bye\r' ]
	ask STAT
	[ "$REPLY_LINE" = "+OK 6 5127" ]
	ask QUIT
	close_session
	[ "$SESSION_STATUS" -eq 0 ]
}

@test "a per-user maildir in the state file replaces maildir_root/<user>" {
	mkdir -p "$T/other/cur" "$T/other/new" "$T/other/tmp"
	printf 'Subject: elsewhere\n\nfrom the other maildir\n' \
		>"$T/other/cur/1732200000.M1P1.other:2,S"
	[ "$(id -u)" -ne 0 ] || chown -R "$TEST_USER": "$T/other"
	as_user sqlite3 "$T/state.db" "UPDATE users SET maildir='$T/other' WHERE name='bob'"
	run --separate-stderr pop3 < <(crlf 'USER bob' 'PASS builder' 'LIST' 'UIDL 1' 'QUIT')
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = $'+OK Logged in, 1 messages (46 octets)\r' ]
	[ "${lines[4]}" = $'1 46\r' ]
	[ "${lines[5]}" = $'.\r' ]
	[ "${lines[6]}" = $'+OK 1 1732200000.M1P1.other\r' ]
	[ -e "$T/mail/bob/new/1732086500.M662014P5202.sample" ] # untouched
}

@test "a symlink in cur/ is never followed" {
	ln -s /etc/passwd "$A/cur/1732000600.M1P1.link:2,"
	passwd_size=$(python3 -m pop3lib wire /etc/passwd | wc -c)
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'LIST' 'RETR 7' 'NOOP' 'QUIT')
	[ "$status" -eq 0 ]
	[[ "$output" != *"root:"* ]]
	[[ "$output" != *" $passwd_size"$'\r'* ]]
	[ "$(grep -c '^-ERR' <<<"$output")" -eq 1 ] # RETR 7
	! grep -Eq '^\+OK [0-9]+ octets' <<<"$output"
	[ "${lines[-2]}" = $'+OK\r' ]
	[[ "${lines[-1]}" = "+OK Bye"* ]]
}

@test "a message the service user cannot read is listed, RETR gets -ERR [SYS/TEMP], the session goes on" {
	chmod 000 "$A/cur/$M2"
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'LIST' 'RETR 2' 'NOOP' 'LIST 3' 'QUIT')
	[ "$status" -eq 0 ]
	[[ "${lines[3]}" == "+OK 6 messages"* ]]
	[ "${lines[10]}" = $'.\r' ]
	[ "${lines[11]}" = $'-ERR [SYS/TEMP] Message is no longer available\r' ]
	[ "${lines[12]}" = $'+OK\r' ]
	[ "${lines[13]}" = $'+OK 3 793\r' ]
	[ -e "$A/cur/$M2" ]
}

# ---- hostile or odd maildir contents ----

@test "a FIFO and a directory in cur/ are skipped, never opened" {
	mkfifo "$A/cur/1732000600.M1P1.fifo:2,"
	mkdir "$A/cur/1732000601.M1P1.dir:2,"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$A/cur/1732000600.M1P1.fifo:2," "$A/cur/1732000601.M1P1.dir:2,"
	# a hang here would hold the lock for ever: --timeout bounds only reads
	run --separate-stderr timeout 20 "${AS_USER[@]}" "$SESSION" --state "$T/state.db" --timeout 2 \
		< <(crlf 'USER alice' 'PASS wonderland' 'STAT' 'DELE 1' 'QUIT')
	[ "$status" -eq 0 ]
	[[ "${lines[3]}" == "+OK 6 5127"* ]]
	[ -p "$A/cur/1732000600.M1P1.fifo:2," ]
	[ -d "$A/cur/1732000601.M1P1.dir:2," ]
}

@test "a FIFO named with W= never makes RETR hang" {
	mkfifo "$A/cur/1732000600.M1P1.fifo,W=10:2,"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$A/cur/1732000600.M1P1.fifo,W=10:2,"
	run --separate-stderr timeout 20 "${AS_USER[@]}" "$SESSION" --state "$T/state.db" --timeout 2 \
		< <(crlf 'USER alice' 'PASS wonderland' 'RETR 7' 'NOOP' 'QUIT')
	[ "$status" -eq 0 ]
	# skipped at the snapshot (or, where readdir cannot tell, refused at open)
	[[ "${lines[3]}" == "-ERR"* ]]
	[[ "${lines[4]}" == "+OK"* ]]
}

@test "two files with one unique name get distinct UIDLs and DELE removes only the one chosen" {
	# cur/ already holds the name, so the new/ twin cannot move there
	printf 'Subject: first\n\nA\n' >"$A/cur/1732000800.M1P1.dup:2,S"
	printf 'Subject: second twin\n\nBB\n' >"$A/new/1732000800.M1P1.dup"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$A/cur/1732000800.M1P1.dup:2,S" "$A/new/1732000800.M1P1.dup"
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'UIDL 7' 'UIDL 8' 'LIST 7' 'LIST 8' 'QUIT')
	u7=${lines[3]#+OK 7 }
	u8=${lines[4]#+OK 8 }
	[ -n "$u7" ] && [ "$u7" != "$u8" ]
	# sizes are each file's own
	sizes="${lines[5]} ${lines[6]}"
	[[ "$sizes" == *" 21"* ]] && [[ "$sizes" == *" 28"* ]]
	# delete the new/ twin while an IMAP-like agent renames it: its sibling stays
	open_session
	login alice wonderland
	n=$(printf '%s\n' 7 8 | while read -r i; do ask "LIST $i"; echo "$i ${REPLY_LINE##* }"; done | awk '$2 == 28 {print $1}')
	[ -n "$n" ]
	ask "DELE $n"
	[[ "$REPLY_LINE" == "+OK"* ]]
	ask QUIT
	close_session
	[ "$SESSION_STATUS" -eq 0 ]
	[ -f "$A/cur/1732000800.M1P1.dup:2,S" ]
	[ ! -e "$A/new/1732000800.M1P1.dup" ]
}

@test "a name pop3.sizes cannot carry does not stop the cache from being used" {
	printf 'Subject: odd\n\nodd\n' >"$A/cur/1732000700.odd name:2,"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$A/cur/1732000700.odd name:2,"
	run --separate-stderr pop3 --log-level debug < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	[[ "$stderr" == *"sized 6 messages"* ]]
	run --separate-stderr pop3 --log-level debug < <(crlf 'USER alice' 'PASS wonderland' 'QUIT')
	# the second login reads only the odd one
	[[ "$stderr" == *"sized 1 messages"* ]]
	grep -q '^1732000100.M318840P4102.sample ' "$A/pop3.sizes"
}

@test "a new/ message whose unique name cur/ already holds gets a name of its own, so no UIDL is ever reused" {
	printf 'Subject: first\n\nA\n' >"$A/cur/1732000800.M1P1.twin:2,S"
	printf 'Subject: second twin\n\nBB\n' >"$A/new/1732000800.M1P1.twin"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$A/cur/1732000800.M1P1.twin:2,S" "$A/new/1732000800.M1P1.twin"
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'UIDL' 'DELE 7' 'QUIT')
	first=$(grep -c 'M1P1.twin' <<<"$output")
	[ "$first" -eq 2 ]
	# the original is deleted; its twin must not inherit its UIDL
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'UIDL' 'QUIT')
	[[ "$output" != *$' 1732000800.M1P1.twin\r'* ]]
	[[ "$output" == *" 1732000800.M1P1.twin.dup"* ]]
	[ -z "$(ls "$A/new")" ]
}

@test "a digest UIDL never equals a real unique name, and a negative schema version is refused" {
	printf 'Subject: odd\n\nodd\n' >"$A/cur/1732000700.odd name:2,S"
	[ "$(id -u)" -ne 0 ] || chown "$TEST_USER": "$A/cur/1732000700.odd name:2,S"
	run --separate-stderr pop3 < <(crlf 'USER alice' 'PASS wonderland' 'UIDL 7' 'QUIT')
	[[ "${lines[3]}" == "+OK 7 :"* ]]
	sqlite3 "$T/state.db" 'PRAGMA user_version = -1'
	run --separate-stderr "$ADMIND" --state "$T/state.db" --init --maildir-root "$T/mail"
	[ "$status" -eq 111 ]
	[[ "$stderr" == *"schema version -1"* ]]
}
