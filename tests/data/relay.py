"""A stand-in for a remote launcher (ssh, adb): runs the command given as arguments as its own child
and relays stdin and stdout line by line, as ssh does. RELAY_DIE_ON=TEXT makes it SIGKILL itself when
the worker reports progress containing TEXT: a connection that drops in the middle of a case."""
import os
import signal
import subprocess
import sys
import threading

child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
die_on = os.environ.get("RELAY_DIE_ON")


def upstream():
    for line in sys.stdin.buffer:
        child.stdin.write(line)
        child.stdin.flush()
    child.stdin.close()  # the host went away: the worker sees its stdin close, as over ssh


threading.Thread(target=upstream, daemon=True).start()
for line in child.stdout:
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()
    if die_on and b'"progress"' in line and die_on.encode() in line:
        os.kill(os.getpid(), signal.SIGKILL)
sys.exit(child.wait())
