#!/usr/bin/env python3
"""Boot a GRUB Xen image under `shim run`, type `echo` at its prompt, and report when the prompt and the answer
appeared and how the vCPU thread's CPU time splits between user space (Shim) and the kernel (KVM, including its
instruction emulator). Usage: measure-grub-prompt.py SHIM IMAGE [TIMEOUT_SECONDS]"""
import glob
import os
import select
import subprocess
import sys
import time

COMMAND = b"echo hello from stdin\n"
ANSWER = b"hello from stdin"
TICKS = os.sysconf("SC_CLK_TCK")


def thread_times(pid):
    """(name, user s, system s) of every thread, from /proc/PID/task/*/stat (fields 14 and 15)."""
    result = []
    for path in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            stat = open(path).read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        result.append((name, int(fields[11]) / TICKS, int(fields[12]) / TICKS))
    return result


def report(label, at, times):
    busiest = max(times, key=lambda t: t[1] + t[2])
    print(f"{label}: {at:.1f} s wall; busiest thread '{busiest[0]}' user {busiest[1]:.2f} s, system {busiest[2]:.2f} s;"
          f" process user {sum(t[1] for t in times):.2f} s, system {sum(t[2] for t in times):.2f} s")


def main():
    shim, image = sys.argv[1], sys.argv[2]
    timeout = sys.argv[3] if len(sys.argv) > 3 else "600"
    start = time.monotonic()
    guest = subprocess.Popen([shim, "run", image, "--timeout", timeout], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(guest.stdout.fileno(), False)
    output, typed_at = b"", None
    while guest.poll() is None:
        if select.select([guest.stdout], [], [], 0.2)[0]:
            output += guest.stdout.read() or b""
        if typed_at is None and b"grub> " in output:
            report("prompt", time.monotonic() - start, thread_times(guest.pid))
            typed_at = len(output)
            guest.stdin.write(COMMAND)
            guest.stdin.flush()
        # Typed characters are echoed with cursor moves between them: only GRUB's answer is contiguous.
        elif typed_at is not None and ANSWER in output[typed_at:]:
            report("answer", time.monotonic() - start, thread_times(guest.pid))
            guest.terminate()
            guest.wait()
            return 0
    print(f"shim ended (exit {guest.returncode}) before {'the prompt' if typed_at is None else 'the answer'}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
