# pop3 - a POP3 service: pop3-session per connection, pop3-admind beside it.
#
#   make            build into build/ (make SANITIZE=1: ASan+UBSan into build/asan/)
#   make run        install missing build dependencies (as root), build, and serve
#                   the sample maildir on 127.0.0.1:1110 and [::1]:1110
#   make test       install missing test dependencies (as root), build, run the suite
#   make bench      measure the design targets (see docs/performance.md)

PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
CC       ?= cc

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

# pop3-session links only what a session uses: no libsystemd (its start-up
# cost is paid on every connection), no libssl yet.
SESSION_OBJS = session proto stream filter cmdline msgconv maildrop livefile auth state sqlmem config iobuf log
SESSION_LIBS = -lsqlite3 -lcrypt -lm
ifeq ($(STATIC),1)
SESSION_LDFLAGS = -static-pie
else
SESSION_LDFLAGS = -pie
endif
ADMIND_OBJS  = admind admserve admproto hmac state auth config cmdline log
ADMIND_LIBS  = -lsqlite3 -lcrypt -lsystemd -lcrypto

ADMIN_OBJS   = admin/pop3-admin auth hmac
ADMIN_LIBS   = -lcrypt -lcrypto

BINS = $(BUILD)/pop3-session $(BUILD)/pop3-admind $(BUILD)/pop3-admin

all: $(BINS)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/pop3-session: $(SESSION_OBJS:%=$(BUILD)/%.o)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(SESSION_LDFLAGS) -o $@ $^ $(SESSION_LIBS)

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

clean:
	rm -rf build run

.PHONY: all run test bench clean deps-build deps-run deps-test
