"""tlsretr.py PORT USER PASS - RETR 1 over implicit TLS on 127.0.0.1:PORT,
read as fast as Python's ssl can; prints the MB/s of the reply (status
line to terminator), so the client is not the bottleneck curl is."""
import socket
import ssl
import sys
import time

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60))
f = s.makefile("rb", buffering=0)


def status(cmd):
    if cmd:
        s.sendall(cmd + b"\r\n")
    line = b""
    while not line.endswith(b"\r\n"):
        line += s.recv(1)
    if not line.startswith(b"+OK"):
        sys.exit(f"tlsretr: {cmd!r} got {line!r}")


status(None)
status(b"USER " + user.encode())
status(b"PASS " + password.encode())
buf = bytearray(1 << 20)
n, tail = 0, b""
t0 = time.monotonic()
s.sendall(b"RETR 1\r\n")
while tail != b"\r\n.\r\n":
    k = s.recv_into(buf)
    if not k:
        sys.exit("tlsretr: connection closed before the terminator")
    n += k
    tail = (tail + bytes(buf[max(0, k - 5):k]))[-5:]
t1 = time.monotonic()
status(b"QUIT")
print(f"{n / (t1 - t0) / 1e6:.0f}")
