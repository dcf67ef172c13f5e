#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its password prompts.

usage: pty_password.py ANSWER1 [ANSWER2] -- CMD...
Each ANSWER is typed after the next prompt ending in ": ". Prints what the
command wrote and exits with its status (124 on timeout).
"""
import os
import pty
import select
import sys
import time

sep = sys.argv.index("--")
answers, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b""
deadline = time.time() + 20
while True:
    if time.time() > deadline:
        os.kill(pid, 9)
        sys.stdout.write(out.decode(errors="replace") + "\ntimeout\n")
        sys.exit(124)
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            break
        out += data
        if answers and out.rstrip(b" ").endswith(b":"):
            os.write(fd, answers.pop(0).encode() + b"\n")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
