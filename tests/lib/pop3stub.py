#!/usr/bin/env python3
"""pop3stub.py MODE PORT: a deliberately broken POP3 server on 127.0.0.1
for tests/load.bats, to prove that pop3-load notices what a broken server
does.  It accepts any USER/PASS (and AUTH PLAIN) and serves one maildrop
of one message, 100 'Z' (102 octets with its CRLF), the "POP3 LIST and
RETR" flow's.  Prints "ready" once it listens; runs until killed.

MODE:
  good           a correct server (the control)
  no-terminator  RETR sends the message without ".\\r\\n" and closes
  hang           RETR sends the message without ".\\r\\n" and stays silent
  wrong-size     LIST and RETR's status line say 100 octets; 102 are sent
  bare-lf        the message's line ends in LF alone
  unstuffed      the message has a line ".hidden" that is not dot-stuffed
"""
import socketserver
import sys

MODE = sys.argv[1]
BODY = b"Z" * 100 + b"\r\n"


class Session(socketserver.StreamRequestHandler):
    def send(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def retr(self):
        if MODE == "wrong-size":
            self.send(b"+OK 100 octets\r\n" + BODY + b".\r\n")
        elif MODE == "no-terminator":
            self.send(b"+OK 102 octets\r\n" + BODY)
            return False
        elif MODE == "hang":
            self.send(b"+OK 102 octets\r\n" + BODY)
            self.rfile.read()  # until the client gives up and closes
            return False
        elif MODE == "bare-lf":
            self.send(b"+OK 101 octets\r\n" + b"Z" * 100 + b"\n.\r\n")
        elif MODE == "unstuffed":
            self.send(b"+OK 111 octets\r\n" + BODY + b".hidden\r\n.\r\n")
        else:
            self.send(b"+OK 102 octets\r\n" + BODY + b".\r\n")
        return True

    def handle(self):
        self.send(b"+OK stub ready\r\n")
        size = b"100" if MODE == "wrong-size" else b"102"
        for raw in self.rfile:
            verb = raw.strip().split(b" ")[0].upper()
            if verb in (b"USER", b"PASS", b"AUTH", b"NOOP", b"DELE", b"RSET"):
                self.send(b"+OK\r\n")
            elif verb == b"STAT":
                self.send(b"+OK 1 " + size + b"\r\n")
            elif verb == b"LIST":
                self.send(b"+OK 1 messages\r\n1 " + size + b"\r\n.\r\n")
            elif verb == b"RETR":
                if not self.retr():
                    return
            elif verb == b"QUIT":
                self.send(b"+OK bye\r\n")
                return
            else:
                self.send(b"-ERR unknown command\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


def main():
    with Server(("127.0.0.1", int(sys.argv[2])), Session) as srv:
        print("ready", flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
