#!/usr/bin/env python3
"""idle.py SESSION STATE N [RUNAS...]: start N logged-in sessions of users
u1..uN (password secret<N>) over pipes, leave them idle, and print their
mean memory from /proc/PID/smaps_rollup: Pss (shared pages divided among
the sharers), its anonymous part, and private dirty memory."""
import subprocess
import sys


def main():
    session, state, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    runas = sys.argv[4:]
    procs = []
    try:
        for i in range(1, n + 1):
            p = subprocess.Popen(runas + [session, "--state", state], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            procs.append(p)
            p.stdout.readline()
            p.stdin.write(b"USER u%d\r\nPASS secret%d\r\n" % (i, i))
            p.stdin.flush()
            p.stdout.readline()
            line = p.stdout.readline()
            if not line.startswith(b"+OK"):
                sys.exit("session %d: %r" % (i, line))
        tot = {}
        for p in procs:
            with open("/proc/%d/smaps_rollup" % p.pid) as f:
                for row in f:
                    key, val = row.split(":", 1)
                    if key in ("Pss", "Pss_Anon", "Private_Dirty"):
                        tot[key] = tot.get(key, 0) + int(val.split()[0])
        print("idle logged-in sessions=%d, per session: %s" % (
            n, ", ".join("%s %.1f KiB" % (k, v / n) for k, v in tot.items())))
    finally:
        for p in procs:
            try:
                p.stdin.write(b"QUIT\r\n")
                p.stdin.close()
            except BrokenPipeError:
                pass
            p.wait()


if __name__ == "__main__":
    main()
