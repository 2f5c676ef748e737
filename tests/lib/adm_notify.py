#!/usr/bin/env python3
"""adm_notify.py CMD...: run CMD with a NOTIFY_SOCKET and a 400 ms watchdog,
as systemd does for Type=notify with WatchdogSec=, and check the daemon's
messages: READY=1 and STATUS= first, then at least two WATCHDOG=1; then send
SIGTERM and expect STOPPING=1 and exit status 0.  Prints what it received."""
import os
import signal
import socket
import subprocess
import sys
import tempfile

d = tempfile.mkdtemp()
path = os.path.join(d, "notify")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(d, 0o755)
os.chmod(path, 0o777)
sock.settimeout(10)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
proc = subprocess.Popen(sys.argv[1:], env=env, stderr=subprocess.DEVNULL)
got = []


def wait_for(word):
    while True:
        msg = sock.recv(4096).decode()
        got.append(msg)
        if word in msg.split("\n"):
            return


try:
    wait_for("READY=1")
    watchdogs = 0
    while watchdogs < 2:
        msg = sock.recv(4096).decode()
        got.append(msg)
        watchdogs += "WATCHDOG=1" in msg.split("\n")
    proc.send_signal(signal.SIGTERM)
    wait_for("STOPPING=1")
    rc = proc.wait(10)
finally:
    if proc.poll() is None:
        proc.kill()
print("\n".join(got))
assert any(m.startswith("STATUS=") for m in "\n".join(got).split("\n")), "no STATUS="
sys.exit(rc)
