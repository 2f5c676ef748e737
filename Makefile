# pop3 - a POP3 service: pop3-session per connection, pop3-admind beside it.
#
#   make            build into build/ (make SANITIZE=1: ASan+UBSan into build/asan/)
#   make run        install missing build dependencies (as root), build, and serve
#                   the sample maildir on 127.0.0.1:1110 and [::1]:1110
#   make test       install missing test dependencies (as root), build, run the suite
#   make bench      measure the design targets (see docs/performance.md)
#   make bench-compare  the same suite against Dovecot (installs it when root)
#   make bench-tls  the flow and a 25 MiB RETR over TLS, ours against Dovecot pop3s
#   make install    copy binaries, man pages, docs, systemd units, sysusers.d and
#                   tmpfiles.d files under $(DESTDIR)$(PREFIX) (default /usr/local)
#   make uninstall  remove exactly what make install put there

# Install layout (docs/design.md, "Install layout").  The C sources have
# their own defaults (/var/lib/pop3/state.db, /var/mail/pop3, /run/pop3/live,
# /etc/pop3/admin.secret); STATEDIR, MAILROOT and RUNDIR only change what
# the installed units and tmpfiles.d entry say, so keep them in step with
# the state file's maildir_root and live_dir settings.  MAILROOT, not
# MAILDIR: mail tools export $MAILDIR and ?= would pick it up.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/pop3
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR  ?= /etc
STATEDIR    ?= /var/lib/pop3
MAILROOT    ?= /var/mail/pop3
RUNDIR      ?= /run/pop3
CC          ?= cc

OURS_CFLAGS = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Werror \
	      -D_GNU_SOURCE -O2 -g -fPIE -fstack-protector-strong -fstack-clash-protection
OURS_LDFLAGS = -Wl,-z,relro -Wl,-z,now -Wl,--as-needed

# pop3-session is linked statically by default: a process starts per
# connection, and dynamic loading of libsqlite3, libcrypt and libc cost
# ~0.75 ms of each session (docs/performance.md).  STATIC=0 links it
# dynamically (then library security updates need no rebuild).
STATIC ?= 1

ifeq ($(SANITIZE),1)
STATIC       = 0
BUILD       ?= build/asan
OURS_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OURS_LDFLAGS += -fsanitize=address,undefined
else
BUILD       ?= build
OURS_CFLAGS += -D_FORTIFY_SOURCE=2
endif

ALL_CFLAGS  = $(OURS_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(OURS_LDFLAGS) $(LDFLAGS)

# pop3-session links only what a session uses: no libsystemd and no
# OpenSSL, whose start-up would be paid on every connection.  A session
# that asks for TLS execs pop3-session-tls, the same program with OpenSSL
# (src/handoff.c; docs/design.md, "TLS").
SESSION_OBJS = session proto handoff tlsfiles stream filter cmdline msgconv maildrop livefile auth state sqlmem config iobuf log
SESSION_LIBS = -lsqlite3 -lcrypt -lm
TLS_LIBS     = -lssl -lcrypto
ifeq ($(STATIC),1)
SESSION_LDFLAGS = -static-pie
else
SESSION_LDFLAGS = -pie
endif
ADMIND_OBJS  = admind admserve admproto hmac state auth config cmdline log
ADMIND_LIBS  = -lsqlite3 -lcrypt -lsystemd -lcrypto

ADMIN_OBJS   = admin/pop3-admin auth hmac
ADMIN_LIBS   = -lcrypt -lcrypto

BINS = $(BUILD)/pop3-session $(BUILD)/pop3-session-tls $(BUILD)/pop3-admind $(BUILD)/pop3-admin

all: $(BINS)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/pop3-session: $(SESSION_OBJS:%=$(BUILD)/%.o) $(BUILD)/tls_none.o
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(SESSION_LDFLAGS) -o $@ $^ $(SESSION_LIBS)

$(BUILD)/pop3-session-tls: $(SESSION_OBJS:%=$(BUILD)/%.o) $(BUILD)/tls.o
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(SESSION_LDFLAGS) -o $@ $^ $(TLS_LIBS) $(SESSION_LIBS)

$(BUILD)/pop3-admind: $(ADMIND_OBJS:%=$(BUILD)/%.o)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -pie -o $@ $^ $(ADMIND_LIBS)

$(BUILD)/admin/%.o: admin/%.c | $(BUILD)
	@mkdir -p $(BUILD)/admin
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -Isrc -MMD -MP -c -o $@ $<

$(BUILD)/pop3-admin: $(ADMIN_OBJS:%=$(BUILD)/%.o)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -pie -o $@ $^ $(ADMIN_LIBS)

$(BUILD):
	mkdir -p $@

-include $(wildcard $(BUILD)/*.d $(BUILD)/admin/*.d)
include load/load.mk

deps-run:
	@scripts/deps run

deps-build:
	@scripts/deps build

deps-test:
	@scripts/deps test

run: deps-run
	$(MAKE) all
	scripts/run-demo $(BUILD)

test: deps-test
	$(MAKE) all
	tests/run $(BUILD)

bench: deps-test
	$(MAKE) all
	scripts/bench $(BUILD)

# implicit TLS: ours against Dovecot's pop3s (installs Dovecot when root)
bench-tls: deps-test
	$(MAKE) all
	scripts/bench-tls $(BUILD)

# ---- install -----------------------------------------------------------------
# The servers go to SBINDIR (pop3-session-tls must sit next to
# pop3-session), the client and the load tool to BINDIR, the example
# workloads to DOCDIR/load; the test programs are not installed.
SBIN_PROGS = $(filter pop3-session pop3-session-tls pop3-admind,$(notdir $(BINS)))
BIN_PROGS  = pop3-admin pop3-load
MANPAGES   = docs/pop3-session.8 docs/pop3-admind.8 admin/pop3-admin.1 load/pop3-load.1
WORKLOADS  = load/flow.workload load/mailstone.workload
DOCS       = README.md $(wildcard docs/*.md)
UNITS      = pop3.socket pop3@.service pop3s.socket pop3s@.service pop3-admind.socket pop3-admind.service
# Units and the sysusers.d/tmpfiles.d entries are rendered from units/*.in
# at install time, so they name the directories of this very install
# (docs/design.md, "Install layout").
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	    -e 's|@DOCDIR@|$(DOCDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@STATEDIR@|$(STATEDIR)|g' -e 's|@MAILROOT@|$(MAILROOT)|g' \
	    -e 's|@RUNDIR@|$(RUNDIR)|g'
TEMPLATES = $(UNITS:%=units/%.in) units/pop3.sysusers.in units/pop3.tmpfiles.in

# Copies only.  Never runs systemctl, systemd-sysusers or systemd-tmpfiles
# (a packager's DESTDIR is not this machine) and never writes a secret.
install: all $(MANPAGES) $(TEMPLATES) $(WORKLOADS) units/README.md
	for p in $(SBIN_PROGS); do \
		install -D -m 0755 $(BUILD)/$$p "$(DESTDIR)$(SBINDIR)/$$p" || exit 1; \
	done
	for p in $(BIN_PROGS); do \
		install -D -m 0755 $(BUILD)/$$p "$(DESTDIR)$(BINDIR)/$$p" || exit 1; \
	done
	for f in $(MANPAGES); do \
		install -D -m 0644 $$f "$(DESTDIR)$(MANDIR)/man$${f##*.}/$${f##*/}" || exit 1; \
	done
	for f in $(DOCS); do install -D -m 0644 $$f "$(DESTDIR)$(DOCDIR)/$${f##*/}" || exit 1; done
	install -D -m 0644 units/README.md $(DESTDIR)$(DOCDIR)/units/README.md
	for f in $(WORKLOADS); do install -D -m 0644 $$f "$(DESTDIR)$(DOCDIR)/load/$${f##*/}" || exit 1; done
	for u in $(UNITS); do \
		$(SUBST) units/$$u.in | install -D -m 0644 /dev/stdin "$(DESTDIR)$(UNITDIR)/$$u" || exit 1; \
	done
	$(SUBST) units/pop3.sysusers.in | install -D -m 0644 /dev/stdin $(DESTDIR)$(SYSUSERSDIR)/pop3.conf
	$(SUBST) units/pop3.tmpfiles.in | install -D -m 0644 /dev/stdin $(DESTDIR)$(TMPFILESDIR)/pop3.conf
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/pop3
	@if [ -z "$(DESTDIR)" ]; then \
		echo "Next, as root: systemd-sysusers pop3.conf; systemd-tmpfiles --create pop3.conf;"; \
		echo "systemctl daemon-reload; create $(SYSCONFDIR)/pop3/admin.secret and the state file"; \
		echo "($(DOCDIR)/units/README.md); systemctl enable --now pop3.socket pop3-admind.socket"; \
	fi

# Removes the files install copies, and the directories only this package
# uses if they are empty: a secret in $(SYSCONFDIR)/pop3, the state file
# and the mail are never touched.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(SBIN_PROGS)) $(addprefix $(DESTDIR)$(BINDIR)/,$(BIN_PROGS))
	rm -f $(foreach f,$(MANPAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(f)))/$(notdir $(f)))
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS))) $(DESTDIR)$(DOCDIR)/units/README.md
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/load/,$(notdir $(WORKLOADS)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -f $(DESTDIR)$(SYSUSERSDIR)/pop3.conf $(DESTDIR)$(TMPFILESDIR)/pop3.conf
	for d in $(DESTDIR)$(DOCDIR)/units $(DESTDIR)$(DOCDIR)/load $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/pop3; do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d" || exit 1; \
	done

clean:
	rm -rf build run

.PHONY: all run test bench bench-tls clean deps-build deps-run deps-test install uninstall
