"""pop3lib.py - small helpers for the Python parts of tcp.bats and maildir.bats.

Import it from an inline script (bats sets PYTHONPATH to tests/lib):

    Conn(host, port)      a raw POP3 connection: line(), cmd(), multi(),
                          login(), halfclose() (shutdown the write side and
                          read to EOF: returns once the server has exited)
    wire(data)            a stored message in the form the server counts and
                          sends it, before dot-stuffing: every bare LF becomes
                          CRLF and a last line without an end gets CRLF
    maildir_msgs(dir)     [(unique name, path)] of cur/ and new/ in the
                          server's message order (leading timestamp, then name)

    python3 pop3lib.py wire FILE   prints wire(FILE's content) (for cmp/sha256)
"""
import os
import re
import socket
import sys


def wire(data):
    out = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


def _sortkey(name):
    digits = re.match(rb"[0-9]{0,18}", name.encode()).group(0)
    uniq = name.split(":", 1)[0]
    return (int(digits) if digits else 0, uniq.encode())


def maildir_msgs(maildir):
    names = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for n in os.listdir(d):
            if not n.startswith("."):
                names.append((n, os.path.join(d, n)))
    names.sort(key=lambda np: _sortkey(np[0]))
    return [(n.split(":", 1)[0], p) for n, p in names]


class Conn:
    def __init__(self, host, port, timeout=20):
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""
        self.greeting = self.line()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def line(self):
        """One reply line without its CRLF (str)."""
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("utf-8", "replace")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def cmd(self, text):
        self.send(text)
        return self.line()

    def multi(self):
        """The lines of a multi-line body up to its "." (still stuffed)."""
        out = []
        while True:
            ln = self.line()
            if ln == ".":
                return out
            out.append(ln)

    def login(self, user, password):
        first = self.cmd("USER " + user)
        if not first.startswith("+OK"):
            return first
        return self.cmd("PASS " + password)

    def halfclose(self):
        """Vanish without QUIT: send FIN, then read until the server closes.
        The server process has ended (its lock released) once this returns."""
        self.sock.shutdown(socket.SHUT_WR)
        rest = self.buf
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.sock.close()
        return rest

    def close(self):
        self.sock.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "wire":
        with open(sys.argv[2], "rb") as f:
            sys.stdout.buffer.write(wire(f.read()))
    else:
        sys.exit("usage: pop3lib.py wire FILE")
