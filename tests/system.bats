#!/usr/bin/env bats
# System integration: make install / uninstall into staged trees, the
# installed systemd units checked by systemd-analyze (verify, and security's
# exposure score), the sysusers.d and tmpfiles.d entries applied to a staged
# root, and pop3-admind finding its secret where LoadCredential= puts it.
#
# systemd is not PID 1 on the machines this runs on, so everything about
# the units is checked offline; units/README.md has the scores and what a
# real boot showed.
load helper

bats_require_minimum_version 1.5.0

setup() {
	W=$(mktemp -d /tmp/pop3-system.XXXXXX)
	T=
	SERVER_PIDS=()
}

teardown() {
	teardown_store
	rm -rf "$W"
}

# stage ARG...: make install (or uninstall, or anything else given) with
# ARGs, using the programs the suite tests: each is marked as up to date
# (-o) so that nothing is rebuilt, whatever $POP3_BUILD holds.
stage() {
	local o=() b
	for b in "$POP3_BUILD"/pop3-*; do o+=(-o "$b"); done
	make -s --no-print-directory -C "$POP3_SRC" BUILD="$POP3_BUILD" "${o[@]}" "$@"
}

# listing DIR: "MODE PATH" of every file under DIR, sorted.
listing() {
	(cd "$1" && find . -type f -printf '%m %P\n' | LC_ALL=C sort)
}

# expected_usr: what make install PREFIX=/usr must put under DESTDIR.
expected_usr() {
	local b f
	for b in pop3-session pop3-session-tls pop3-admind; do echo "755 usr/sbin/$b"; done
	echo "755 usr/bin/pop3-admin"
	echo "755 usr/bin/pop3-load"
	echo "644 usr/share/man/man1/pop3-load.1"
	echo "644 usr/share/doc/pop3/load/flow.workload"
	echo "644 usr/share/doc/pop3/load/mailstone.workload"
	echo "644 usr/share/man/man8/pop3-session.8"
	echo "644 usr/share/man/man8/pop3-admind.8"
	echo "644 usr/share/man/man1/pop3-admin.1"
	echo "644 usr/share/doc/pop3/README.md"
	for f in "$POP3_SRC"/docs/*.md; do echo "644 usr/share/doc/pop3/${f##*/}"; done
	echo "644 usr/share/doc/pop3/units/README.md"
	for f in pop3.socket pop3@.service pop3s.socket pop3s@.service pop3-admind.socket \
		pop3-admind.service; do
		echo "644 usr/lib/systemd/system/$f"
	done
	echo "644 usr/lib/sysusers.d/pop3.conf"
	echo "644 usr/lib/tmpfiles.d/pop3.conf"
}

# score UNIT: systemd-analyze security's overall exposure for UNIT in the
# staged tree $W/d.
score() {
	systemd-analyze security --offline=true --root="$W/d" "$1" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\) .*/\1/p'
}

# ---- make install / uninstall ----

@test "make install DESTDIR=... PREFIX=/usr installs exactly the expected files, with their modes" {
	run stage install DESTDIR="$W/d" PREFIX=/usr
	[ "$status" -eq 0 ]
	# nothing to do on this machine is suggested for a staged tree
	[ "$output" = "" ]
	[ "$(listing "$W/d")" = "$(expected_usr | LC_ALL=C sort)" ]
	# the secret's directory, empty: install never writes a secret
	[ "$(stat -c %a "$W/d/etc/pop3")" = 755 ]
	[ -z "$(ls -A "$W/d/etc/pop3")" ]
	# state, mail and runtime directories are tmpfiles.d's job, not install's
	[ ! -e "$W/d/var" ]
	[ ! -e "$W/d/run" ]
	# the installed programs are the ones built
	cmp "$POP3_BUILD/pop3-session" "$W/d/usr/sbin/pop3-session"
	cmp "$POP3_BUILD/pop3-admin" "$W/d/usr/bin/pop3-admin"
}

@test "installed units and entries name the directories of that install" {
	stage install DESTDIR="$W/d" PREFIX=/usr
	u=$W/d/usr/lib/systemd/system
	grep -qx 'ExecStart=/usr/sbin/pop3-session' "$u/pop3@.service"
	grep -qx 'ExecStart=/usr/sbin/pop3-admind' "$u/pop3-admind.service"
	grep -qx 'Environment=POP3_STATE=/var/lib/pop3/state.db' "$u/pop3@.service"
	grep -qx 'ReadWritePaths=/var/lib/pop3 /var/mail/pop3 /run/pop3/live' "$u/pop3@.service"
	grep -qx 'ReadWritePaths=/var/lib/pop3 /run/pop3/live' "$u/pop3-admind.service"
	grep -qx 'LoadCredential=admin.secret:/etc/pop3/admin.secret' "$u/pop3-admind.service"
	grep -q 'file:///usr/share/doc/pop3/admin-protocol.md' "$u/pop3-admind.service"
	grep -Eq '^u +pop3 +- +"POP3 mail service" +/var/lib/pop3 +/usr/sbin/nologin$' \
		"$W/d/usr/lib/sysusers.d/pop3.conf"

	# every directory comes from the make variables
	stage install DESTDIR="$W/o" PREFIX=/opt/p SYSCONFDIR=/opt/etc STATEDIR=/srv/state \
		MAILROOT=/srv/mail RUNDIR=/run/p3 UNITDIR=/opt/units
	u=$W/o/opt/units
	grep -qx 'ExecStart=/opt/p/sbin/pop3-session' "$u/pop3@.service"
	grep -qx 'Environment=POP3_STATE=/srv/state/state.db' "$u/pop3-admind.service"
	grep -qx 'ReadWritePaths=/srv/state /srv/mail /run/p3/live' "$u/pop3@.service"
	grep -qx 'LoadCredential=admin.secret:/opt/etc/pop3/admin.secret' "$u/pop3-admind.service"
	grep -q 'file:///opt/p/share/doc/pop3/units/README.md' "$u/pop3.socket"
	grep -Eq '^d +/srv/mail +2770 pop3 pop3 ' "$W/o/opt/p/lib/tmpfiles.d/pop3.conf"
	grep -Eq '^d +/run/p3/live +0750 pop3 pop3 ' "$W/o/opt/p/lib/tmpfiles.d/pop3.conf"
	[ -d "$W/o/opt/etc/pop3" ]
	# and no placeholder is left anywhere
	run grep -rE '@[A-Z]+@' "$W/d" "$W/o" --include='*.service' --include='*.socket' --include='*.conf'
	[ "$status" -eq 1 ]
}

@test "make uninstall removes every file install put there and keeps an administrator's secret" {
	stage install DESTDIR="$W/d" PREFIX=/usr
	stage install DESTDIR="$W/o" PREFIX=/opt/p
	printf 'x%.0s' {1..40} >"$W/o/etc/pop3/admin.secret"

	run stage uninstall DESTDIR="$W/d" PREFIX=/usr
	[ "$status" -eq 0 ]
	[ -z "$(find "$W/d" -type f -o -type l)" ]
	[ ! -e "$W/d/usr/share/doc/pop3" ]
	[ ! -e "$W/d/etc/pop3" ]

	run stage uninstall DESTDIR="$W/o" PREFIX=/opt/p
	[ "$status" -eq 0 ]
	[ "$(cd "$W/o" && find . -type f)" = "./etc/pop3/admin.secret" ]
	[ ! -e "$W/o/opt/p/share/doc/pop3" ]
}

@test "make install never runs systemctl, systemd-sysusers or systemd-tmpfiles" {
	mkdir "$W/bin"
	for c in systemctl systemd-sysusers systemd-tmpfiles; do
		printf '#!/bin/sh\necho "$0 $*" >>%s/called\n' "$W" >"$W/bin/$c"
		chmod 755 "$W/bin/$c"
	done
	PATH="$W/bin:$PATH" run stage install DESTDIR="$W/d" PREFIX=/usr
	[ "$status" -eq 0 ]
	# without DESTDIR it only prints what to run next
	PATH="$W/bin:$PATH" run stage install PREFIX="$W/s/usr" SYSCONFDIR="$W/s/etc"
	[ "$status" -eq 0 ]
	[[ "$output" == *"systemd-sysusers pop3.conf"* ]]
	[ ! -e "$W/called" ]
}

# ---- the units, offline ----

@test "systemd-analyze verify accepts every installed unit" {
	# Not --root=DESTDIR: verify then needs the root's own systemd units
	# (sysinit.target...) and kill(1), which a staged install is not.  An
	# install whose PREFIX is the staging directory names real paths
	# (ExecStart= must exist), and the host supplies the rest.
	stage install PREFIX="$W/s/usr" SYSCONFDIR="$W/s/etc" >/dev/null
	u=$W/s/usr/lib/systemd/system
	cd "$W"
	# MANPATH: the man pages in Documentation= must be the installed ones
	run env MANPATH="$W/s/usr/share/man" SYSTEMD_UNIT_PATH="$u:" \
		systemd-analyze verify "$u/pop3.socket" pop3@x.service "$u/pop3s.socket" pop3s@x.service \
		"$u/pop3-admind.socket" "$u/pop3-admind.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
}

@test "systemd-analyze security rates pop3@, pop3s@ and pop3-admind 2.0 or lower" {
	stage install DESTDIR="$W/d" PREFIX=/usr
	s=$(score pop3@x.service)
	t=$(score pop3s@x.service)
	a=$(score pop3-admind.service)
	echo "# exposure: pop3@.service $s, pop3s@.service $t, pop3-admind.service $a" >&3
	[ -n "$s" ] && [ -n "$t" ] && [ -n "$a" ]
	awk -v s="$s" -v t="$t" -v a="$a" 'BEGIN { exit !(s <= 2.0 && t <= 2.0 && a <= 2.0) }'
}

# ---- sysusers.d and tmpfiles.d, applied to a staged root ----

@test "the sysusers.d entry creates the system user and group pop3, once" {
	stage install DESTDIR="$W/d" PREFIX=/usr
	mkdir -p "$W/root/etc"
	run systemd-sysusers --root="$W/root" "$W/d/usr/lib/sysusers.d/pop3.conf"
	[ "$status" -eq 0 ]
	line=$(grep '^pop3:' "$W/root/etc/passwd")
	[[ "$line" =~ ^pop3:x:([0-9]+):([0-9]+):POP3\ mail\ service:/var/lib/pop3:/usr/sbin/nologin$ ]]
	uid=${BASH_REMATCH[1]} gid=${BASH_REMATCH[2]}
	[ "$uid" -lt 1000 ]
	[ "$(grep '^pop3:' "$W/root/etc/group")" = "pop3:x:$gid:" ]
	# a second run (every boot) changes nothing
	cp "$W/root/etc/passwd" "$W/passwd.before"
	systemd-sysusers --root="$W/root" "$W/d/usr/lib/sysusers.d/pop3.conf"
	cmp "$W/passwd.before" "$W/root/etc/passwd"
}

@test "the tmpfiles.d entry creates the service's directories with their modes and owner" {
	[ "$(id -u)" -eq 0 ] || skip "giving directories to the staged pop3 user needs root"
	stage install DESTDIR="$W/d" PREFIX=/usr
	mkdir -p "$W/root/etc"
	systemd-sysusers --root="$W/root" "$W/d/usr/lib/sysusers.d/pop3.conf"
	ids=$(awk -F: '$1 == "pop3" { print $3 ":" $4 }' "$W/root/etc/passwd")
	# a maildir root left with the wrong mode and owner is corrected
	mkdir -p "$W/root/var/mail/pop3"
	chmod 777 "$W/root/var/mail/pop3"
	run systemd-tmpfiles --root="$W/root" --create "$W/d/usr/lib/tmpfiles.d/pop3.conf"
	[ "$status" -eq 0 ]
	[ "$(stat -c '%a %u:%g' "$W/root/var/lib/pop3")" = "750 $ids" ]
	[ "$(stat -c '%a %u:%g' "$W/root/var/mail/pop3")" = "2770 $ids" ]
	[ "$(stat -c '%a %u:%g' "$W/root/run/pop3")" = "750 $ids" ]
	[ "$(stat -c '%a %u:%g' "$W/root/run/pop3/live")" = "750 $ids" ]
}

# ---- pop3-admind's secret from LoadCredential= ----

# start_env VAR=VALUE... [-- ARG...]: pop3-admind as the service user on
# $T's state file, on 127.0.0.1:$PORT, with ARGs and only the named secret
# variables set (POP3_ADMIN_SECRET_FILE and CREDENTIALS_DIRECTORY are not
# inherited); returns once it has logged "ready on", false if it ended
# before.
start_env() {
	local vars=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
	[ $# -eq 0 ] || shift
	start_admind_cmd env -u POP3_ADMIN_SECRET_FILE -u CREDENTIALS_DIRECTORY "${vars[@]}" \
		"$ADMIND" --state "$T/state.db" --listen "127.0.0.1:$PORT" "$@"
}

# secret_ok FILE: pop3-admin with the secret in FILE gets an answer.
secret_ok() {
	"$ADMIN" --port "$PORT" --secret-file "$1" capabilities >/dev/null 2>&1
}

# creds_setup: a credentials directory as systemd makes it (the service
# user's, the secret mode 0400) holding secret A, and a secret file B.
creds_setup() {
	setup_store
	PORT=$(PYTHONPATH="$POP3_SRC/tests/lib" python3 -m adm_udp freeport)
	mkdir "$T/creds"
	make_secret "$T/creds/admin.secret"
	chmod 400 "$T/creds/admin.secret"
	make_secret "$T/b.secret"
	if [ "$(id -u)" -eq 0 ]; then chown "$TEST_USER": "$T/creds"; fi
}

@test "pop3-admind reads its secret from \$CREDENTIALS_DIRECTORY/admin.secret" {
	creds_setup
	start_env CREDENTIALS_DIRECTORY="$T/creds"
	secret_ok "$T/creds/admin.secret"
	run ! secret_ok "$T/b.secret"
}

@test "POP3_ADMIN_SECRET_FILE and --secret-file win over the credential" {
	creds_setup
	start_env CREDENTIALS_DIRECTORY="$T/creds" POP3_ADMIN_SECRET_FILE="$T/b.secret"
	secret_ok "$T/b.secret"
	run ! secret_ok "$T/creds/admin.secret"
	kill "${SERVER_PIDS[0]}"
	wait "${SERVER_PIDS[0]}" || true
	SERVER_PIDS=()
	start_env CREDENTIALS_DIRECTORY="$T/creds" POP3_ADMIN_SECRET_FILE="$T/creds/admin.secret" \
		-- --secret-file "$T/b.secret"
	secret_ok "$T/b.secret"
	run ! secret_ok "$T/creds/admin.secret"
}

@test "a credentials directory without admin.secret stops pop3-admind, naming the file" {
	creds_setup
	mkdir "$T/other"
	run start_env CREDENTIALS_DIRECTORY="$T/other"
	[ "$status" -ne 0 ]
	grep -q "secret file $T/other/admin.secret: No such file or directory" "$T/admind.log"
}
