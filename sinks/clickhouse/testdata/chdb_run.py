"""Runs SQL statements on chDB (ClickHouse in-process) for quell's tests.

Reads {"dir": DIR, "statements": [SQL, ...]} on stdin, runs each in one
session (database quell, data in DIR) and prints one JSON object a line:
{"ok": true, "result": CSV} or {"ok": false, "error": MESSAGE}. It stops at
the first error.
"""
import json
import sys

import chdb
from chdb import session

req = json.load(sys.stdin)
s = session.Session(req["dir"])
s.query("CREATE DATABASE IF NOT EXISTS quell")
s.query("USE quell")
print(json.dumps({"ok": True, "result": chdb.__version__}), flush=True)
for stmt in req["statements"]:
    try:
        out = s.query(stmt, "CSV")
    except Exception as e:  # chDB raises its own error type per failed query
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
        sys.exit(0)
    print(json.dumps({"ok": True, "result": str(out)}), flush=True)
