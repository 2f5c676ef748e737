# load/load.mk - pop3-load, the Mailstone-style load tool (included by the
# top Makefile: same compiler, flags and BUILD directory as the rest).
#
# pop3-load links no library besides libm: it talks POP3 over sockets and
# creates users by running pop3-admind (docs/performance.md, "pop3-load").

LOAD_OBJS = pop3-load workload client run reply stats report html prepare util
LOAD_BIN  = $(BUILD)/pop3-load

# a prerequisite added to the top Makefile's `all` (this file is included
# after that rule, so the default goal stays `all`)
all: $(LOAD_BIN)

$(BUILD)/load/%.o: load/%.c | $(BUILD)
	@mkdir -p $(BUILD)/load
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

$(LOAD_BIN): $(LOAD_OBJS:%=$(BUILD)/load/%.o)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -pie -o $@ $^ -lm

# make bench-compare: the same suite against this project and Dovecot
# (scripts/bench-compare; docs/performance.md)
bench-compare: deps-test
	$(MAKE) all
	scripts/bench-compare $(BUILD)

-include $(wildcard $(BUILD)/load/*.d)

.PHONY: bench-compare
