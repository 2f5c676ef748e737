#!/usr/bin/env python3
"""hold_write_lock.py DB: take SQLite's write lock on DB, print "held",
keep it until a line arrives on stdin, then roll back and exit."""
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
db.close()
