#!/usr/bin/env bats
load helper

setup() { setup_store; }
teardown() { teardown_store; }

@test "a session over a pipe logs in, lists and quits" {
	run pop3 < <(crlf 'USER alice' 'PASS wonderland' 'STAT' 'QUIT')
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "+OK"* ]]
	[[ "${lines[3]}" == "+OK 6 5127"* ]]
}

@test "a session over TCP on IPv4 and IPv6 under systemd-socket-activate" {
	port=$(free_port)
	start_tcp "127.0.0.1:$port" "[::1]:$port"
	run chat 127.0.0.1 "$port" < <(crlf 'USER bob' 'PASS builder' 'LIST' 'QUIT')
	[[ "$output" == *"+OK 2 messages"* ]]
	have_ipv6 || skip "this machine has no IPv6 loopback"
	run chat ::1 "$port" < <(crlf 'USER bob' 'PASS builder' 'STAT' 'QUIT')
	[[ "$output" == *"+OK 2 "* ]]
}
