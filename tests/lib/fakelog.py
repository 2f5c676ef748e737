#!/usr/bin/env python3
"""fakelog.py - a stand-in for journald and syslogd that reports what it got.

  fakelog.py [--journal DIR] [--syslog PATH] [--stuck] [--stream]
             [--stdout FILE] [-- CMD...]

--journal DIR binds DIR/socket, a datagram socket speaking journald's native
protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL); --syslog PATH binds a datagram
socket like /dev/log.  (tests/lib/logns makes the real paths lead to them.)
--stuck never reads the journal socket and fills its queue before CMD starts:
a journald that has stopped reading.  CMD runs with fakelog's stdin; with
--stream its stderr is one end of a stream socket pair and JOURNAL_STREAM
names that end's device and inode, as under StandardError=journal; its stdout
goes to --stdout FILE (default: fakelog's stderr).

Every event is one JSON line on stdout, flushed at once:
  {"src": "ready"}                       the sockets are bound, CMD started
  {"src": "native", "fields": {...}}     one journal entry (a repeated field
                                         has a list of values)
  {"src": "syslog", "raw": "...", "pri": N, "ident": "...", "pid": N, "msg": "..."}
  {"src": "stream", "line": "..."}       one line CMD wrote to its stderr
  {"src": "exit", "status": N}           CMD ended (after everything it sent)
fakelog exits when CMD has ended and its stream is closed, or on SIGTERM
(which it passes on to CMD).

  fakelog.py find FILE SRC [KEY=VALUE...]
prints, as sorted KEY=VALUE lines, the first SRC event of the JSON-lines FILE
whose fields (native: the entry's fields; syslog: pri, ident, pid, msg;
stream: line) have all those values; exit status 1 if none has.
"""
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys

SYSLOG_RE = re.compile(
    r"^<(\d+)>(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d )?([^\[: ]+)\[(\d+)\]: (.*)$", re.S)


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def decode_native(data):
    """One native-protocol payload: NAME=value lines, or NAME, a 64-bit
    little-endian length, the value and a newline (for values with '\\n')."""
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name = line
            (n,) = struct.unpack_from("<Q", data, nl + 1)
            value = data[nl + 9:nl + 9 + n]
            if data[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError("binary field %r not ended by a newline" % name)
            i = nl + 10 + n
        name, value = name.decode(), value.decode("utf-8", "backslashreplace")
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9_]{0,63}", name):
            raise ValueError("invalid field name %r" % name)
        if name in fields:
            old = fields[name]
            fields[name] = (old if isinstance(old, list) else [old]) + [value]
        else:
            fields[name] = value
    return fields


def dgram_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    os.chmod(path, 0o666)  # like journald's and syslogd's: any user may log
    return s


def fill(sock, path):
    """Queue datagrams until the kernel refuses one: a journald that stopped reading."""
    w = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    w.setblocking(False)
    n = 0
    try:
        while n < 100000:
            w.sendto(b"MESSAGE=filler\n", path)
            n += 1
    except BlockingIOError:
        pass
    w.close()
    if n == 0 or n == 100000:
        raise SystemExit("could not fill the journal socket's queue (%d)" % n)


def serve(args):
    journal = syslog = cmd = out = None
    stuck = stream = False
    while args:
        a = args.pop(0)
        if a == "--journal":
            journal = args.pop(0)
        elif a == "--syslog":
            syslog = args.pop(0)
        elif a == "--stuck":
            stuck = True
        elif a == "--stream":
            stream = True
        elif a == "--stdout":
            out = args.pop(0)
        elif a == "--":
            cmd = args
            break
        else:
            raise SystemExit("fakelog.py: unknown argument %r" % a)

    socks = {}
    if journal:
        path = os.path.join(journal, "socket")
        js = dgram_socket(path)
        if stuck:
            fill(js, path)
        else:
            socks[js.fileno()] = ("native", js)
    if syslog:
        ss = dgram_socket(syslog)
        socks[ss.fileno()] = ("syslog", ss)

    child = ours = None
    if cmd:
        env = dict(os.environ)
        stderr = None
        if stream:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            st = os.fstat(theirs.fileno())
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
            stderr = theirs
        stdout = open(out, "wb") if out else sys.stderr
        child = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env)
        if stream:
            theirs.close()
        if out:
            stdout.close()

    def stop(_sig, _frame):
        if child and child.poll() is None:
            child.terminate()
            child.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    emit({"src": "ready"})

    def drain(fd):
        kind, s = socks[fd]
        data = s.recv(1 << 20)
        if kind == "native":
            emit({"src": "native", "fields": decode_native(data)})
        else:
            raw = data.decode("utf-8", "backslashreplace")
            ev = {"src": "syslog", "raw": raw}
            m = SYSLOG_RE.match(raw)
            if m:
                ev.update(pri=int(m.group(1)), ident=m.group(2), pid=int(m.group(3)),
                          msg=m.group(4))
            emit(ev)

    buf = b""
    stream_open = ours is not None
    while True:
        fds = list(socks) + ([ours.fileno()] if stream_open else [])
        ready, _, _ = select.select(fds, [], [], 0.2 if child else None)
        for fd in ready:
            if stream_open and fd == ours.fileno():
                chunk = ours.recv(65536)
                if not chunk:
                    stream_open = False
                buf += chunk
                while b"\n" in buf or (not chunk and buf):
                    line, _, buf = buf.partition(b"\n")
                    emit({"src": "stream", "line": line.decode("utf-8", "backslashreplace")})
            else:
                drain(fd)
        if child and child.poll() is not None and not stream_open:
            # whatever CMD sent before it ended is queued by now: report it first
            for fd in socks:
                socks[fd][1].setblocking(False)
                try:
                    while True:
                        drain(fd)
                except BlockingIOError:
                    pass
            emit({"src": "exit", "status": child.returncode})
            return 0


def find(path, src, wants):
    with open(path) as f:
        for line in f:
            ev = json.loads(line)
            if ev["src"] != src:
                continue
            fields = ev["fields"] if src == "native" else {k: v for k, v in ev.items() if k != "src"}
            if all(str(fields.get(k)) == v for k, v in (w.split("=", 1) for w in wants)):
                for k in sorted(fields):
                    print("%s=%s" % (k, fields[k]))
                return 0
    return 1


def main():
    if sys.argv[1:2] == ["find"]:
        return find(sys.argv[2], sys.argv[3], sys.argv[4:])
    return serve(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
