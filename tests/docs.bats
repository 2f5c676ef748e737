#!/usr/bin/env bats
# Documentation that ships: man pages render without warnings.

@test "the pop3-admin man page renders without groff warnings" {
	run groff -ww -man -Tutf8 -z "$POP3_SRC/admin/pop3-admin.1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
