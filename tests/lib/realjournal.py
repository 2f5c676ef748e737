#!/usr/bin/env python3
"""realjournal.py [--query 'JOURNALCTL ARGS']... -- CMD...: run CMD as a
service of a real systemd-journald, then print what journalctl finds.

Run it as root inside a private mount namespace (unshare --mount): it covers
/run/systemd, /run/log and /var/log/journal with empty tmpfs mounts, so the
journald it starts owns the real paths and the host's journal (if any) is
neither seen nor touched.  journald tells it is ready through NOTIFY_SOCKET,
as it does to systemd.  CMD's stdin is ours, its stdout goes to our stderr,
its stderr is a stream connected to journald's stdout socket and
JOURNAL_STREAM names it: StandardError=journal.  Once CMD has ended, each
query runs as `journalctl -D /run/log/journal --no-pager ARGS` and its output
follows a line `== ARGS`.
"""
import os
import shlex
import socket
import subprocess
import sys

JOURNALD = "/lib/systemd/systemd-journald"


def main():
    args, queries = sys.argv[1:], []
    while args and args[0] == "--query":
        queries.append(args[1])
        args = args[2:]
    if not args or args[0] != "--":
        raise SystemExit(__doc__)
    cmd = args[1:]

    for d in ("/run/systemd", "/run/log", "/var/log/journal"):
        if os.path.isdir(d):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", d], check=True)
    os.makedirs("/run/systemd/journal", exist_ok=True)

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("/run/systemd/test-notify")
    notify.settimeout(20)
    # its own messages would go to the kernel's log: nowhere instead
    env = dict(os.environ, NOTIFY_SOCKET="/run/systemd/test-notify", SYSTEMD_LOG_TARGET="null")
    journald = subprocess.Popen([JOURNALD], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while b"READY=1" not in notify.recv(4096):
            pass

        stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stream.connect("/run/systemd/journal/stdout")
        # the header systemd sends for a service: identifier (what
        # SyslogIdentifier= defaults to, the program's name), unit,
        # priority, level prefix, then forward to syslog, kmsg, console
        stream.sendall(b"pop3-session\n\n6\n1\n0\n0\n0\n")
        st = os.fstat(stream.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        status = subprocess.run(cmd, stdout=sys.stderr, stderr=stream.fileno(), env=env).returncode
        stream.close()

        subprocess.run(["journalctl", "--sync"], check=True)
        for q in queries:
            print("== " + q, flush=True)
            subprocess.run(["journalctl", "-D", "/run/log/journal", "--no-pager"] + shlex.split(q),
                           check=False)
            sys.stdout.flush()
        print("== exit %d" % status, flush=True)
    finally:
        journald.terminate()
        journald.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
