#!/usr/bin/env python3
"""inetd_stderr.py CMD...: run CMD the way classic inetd runs a "nowait"
service: one connected socket as its stdin, stdout AND stderr.  Sends a
short session, prints everything that came back over the socket."""
import socket
import subprocess
import sys

ours, theirs = socket.socketpair()
fd = theirs.fileno()
proc = subprocess.Popen(sys.argv[1:], stdin=fd, stdout=fd, stderr=fd)
theirs.close()
ours.sendall(b"USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS wonderland\r\nSTAT\r\nQUIT\r\n")
data = b""
while True:
    chunk = ours.recv(65536)
    if not chunk:
        break
    data += chunk
proc.wait()
sys.stdout.buffer.write(data)
sys.exit(proc.returncode)
