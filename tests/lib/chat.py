#!/usr/bin/env python3
"""chat.py HOST PORT: send stdin to a TCP server, print all it answers until
it closes the connection (or 30 s of silence).  The input is sent whole, as
one pipelined burst; the write side stays open so the server decides when
the session ends."""
import socket
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    data = sys.stdin.buffer.read()
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(data)
        out = sys.stdout.buffer
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out.write(chunk)
        out.flush()


if __name__ == "__main__":
    main()
