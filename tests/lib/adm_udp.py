"""adm_udp.py - raw datagrams for admind.bats: the admin protocol by hand
(docs/admin-protocol.md), without pop3-admin, so that tests can replay,
forge and mangle requests.

Import it from an inline script (bats sets PYTHONPATH to tests/lib):

    read_secret(path)           the secret as the daemon reads it (bytes)
    request(secret, tag, cmd, stamp=None, mac=None)
                                one signed request datagram (bytes); stamp
                                defaults to now, mac to the right one
    seal(secret, tag, body)     a reply signed as the daemon signs it
    reply_mac(secret, reply)    (claimed mac, computed mac) of a reply
    check_reply(secret, tag, reply)
                                the reply's body ("+OK ..." with its lines,
                                str) after checking its version, tag and MAC
    Peer(host, port)            a UDP socket connected to the daemon:
        send(data), recv(timeout) (None when nothing came),
        exchange(data) (send, return the first reply),
        answers_to(data, secret) (send data, then a signed CAPA probe; every
                                datagram received before the probe's reply,
                                i.e. the replies to data: no timeout needed,
                                the daemon answers in order)

    python3 -m adm_udp freeport             a UDP port free on 127.0.0.1 (and ::1)
    python3 -m adm_udp sign SECRETFILE TAG COMMAND [STAMP]
                                            a signed request, on stdout
    python3 -m adm_udp send PORT FILE       send FILE's octets to 127.0.0.1:PORT,
                                            the reply on stdout (exit 1: none in 5 s)
    python3 -m adm_udp body SECRETFILE TAG FILE
                                            the checked body of the reply in FILE
"""
import errno
import hashlib
import hmac
import os
import socket
import sys
import time


def read_secret(path):
    with open(path, "rb") as f:
        return f.read().rstrip(b" \t\r\n")


def _mac(secret, msg):
    return hmac.new(secret, msg, hashlib.sha256).hexdigest().encode()


def request(secret, tag, cmd, stamp=None, mac=None):
    if stamp is None:
        stamp = int(time.time())
    tag = tag.encode() if isinstance(tag, str) else tag
    cmd = cmd.encode() if isinstance(cmd, str) else cmd
    stamp = str(stamp).encode()
    if mac is None:
        mac = _mac(secret, b"PA1 " + tag + b" " + stamp + b" " + cmd)
    return b"PA1 " + tag + b" " + stamp + b" " + mac + b" " + cmd


def seal(secret, tag, body):
    """A reply as the daemon signs it: "PA1 tag mac body"."""
    tag = tag.encode() if isinstance(tag, str) else tag
    body = body.encode() if isinstance(body, str) else body
    return b"PA1 " + tag + b" " + _mac(secret, b"PA1 " + tag + b" " + body) + b" " + body


def reply_mac(secret, reply):
    parts = reply.split(b" ", 3)
    assert len(parts) == 4 and parts[0] == b"PA1", reply
    return parts[2], _mac(secret, b"PA1 " + parts[1] + b" " + parts[3])


def check_reply(secret, tag, reply):
    assert len(reply) <= 1200, ("reply longer than 1200 octets", len(reply))
    parts = reply.split(b" ", 3)
    assert len(parts) == 4, reply
    assert parts[0] == b"PA1", reply
    assert parts[1] == tag.encode(), (tag, reply)
    claimed, want = reply_mac(secret, reply)
    assert hmac.compare_digest(claimed, want), ("bad reply MAC", reply)
    for c in parts[3]:
        assert c == 0x0A or 0x20 <= c <= 0x7E, ("non-printable octet in reply", reply)
    return parts[3].decode()


class Peer:
    def __init__(self, host, port, family=None):
        if family is None:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 18)
        self.sock.connect((host, int(port)))

    def send(self, data):
        self.sock.send(data)

    def recv(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None

    def exchange(self, data, timeout=5.0):
        self.send(data)
        return self.recv(timeout)

    def answers_to(self, data, secret):
        tag = os.urandom(8).hex()
        self.send(data)
        self.send(request(secret, tag, "CAPA"))
        got = []
        while True:
            r = self.recv(10.0)
            assert r is not None, "the daemon stopped answering"
            if r.startswith(b"PA1 " + tag.encode() + b" "):
                body = check_reply(secret, tag, r)
                assert body.startswith("+OK"), body
                return got
            got.append(r)


def freeport():
    """A port where UDP is free on 127.0.0.1 and, if there is IPv6, on ::1."""
    while True:
        s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s4.bind(("127.0.0.1", 0))
        port = s4.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s6.bind(("::1", port))
            s6.close()
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                s4.close()
                continue
        s4.close()
        return port


def main(argv):
    out = sys.stdout.buffer
    if argv[:1] == ["freeport"] and len(argv) == 1:
        print(freeport())
    elif argv[:1] == ["sign"] and len(argv) in (4, 5):
        stamp = int(argv[4]) if len(argv) == 5 else None
        out.write(request(read_secret(argv[1]), argv[2], argv[3], stamp))
    elif argv[:1] == ["send"] and len(argv) == 3:
        with open(argv[2], "rb") as f:
            r = Peer("127.0.0.1", argv[1]).exchange(f.read())
        if r is None:
            sys.exit("adm_udp: no reply")
        out.write(r)
    elif argv[:1] == ["body"] and len(argv) == 4:
        with open(argv[3], "rb") as f:
            print(check_reply(read_secret(argv[1]), argv[2], f.read()))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
