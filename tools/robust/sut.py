#!/usr/bin/env python3
"""The utcp process scripts/robust attacks: run under LD_PRELOAD=libutcp.so.

usage: sut.py serve PROGRESS_FILE   listens on
         7000  echo, a thread per connection
         7001  source: writes forever (SO_SNDBUF 65536); the total accepted
               by send() goes to PROGRESS_FILE-PEERPORT every 0.1 s
         7002  hold: SO_RCVBUF 65536, accepts and never reads
       prints "# ready"; SIGTERM exits normally (so utcp's atexit runs and,
       with UTCP_LOG=info, prints its counters).
       sut.py connect HOST PORT N STEP   N connect() calls in a row, the
       i-th to PORT + i * STEP (refused or not), for the ISN and ephemeral
       port checks; exits 0.
"""
import signal, socket, sys, threading, time


def echo(c):
    with c:
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
        except OSError:  # the peer's RST ends a test connection
            return


def source(c, progress):
    progress = f"{progress}-{c.getpeername()[1]}"
    total = 0
    c.settimeout(0.1)
    chunk = b"s" * 16384
    last = 0.0
    while True:
        try:
            total += c.send(chunk)
        except socket.timeout:
            pass
        except OSError:
            return
        if time.monotonic() - last > 0.1:
            last = time.monotonic()
            with open(progress, "w") as f:
                f.write(f"{total}\n")


def serve(progress):
    held = []
    ls = []
    for port in (7000, 7001, 7002):
        l = socket.socket()
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if port == 7001:
            l.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        if port == 7002:
            l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        l.bind(("0.0.0.0", port))
        # A small backlog: the SYN flood fills the SYN queue fast.
        l.listen(16)
        ls.append(l)

    def loop(l, port):
        while True:
            c, _ = l.accept()
            if port == 7000:
                threading.Thread(target=echo, args=(c,), daemon=True).start()
            elif port == 7001:
                threading.Thread(target=source, args=(c, progress), daemon=True).start()
            else:
                held.append(c)

    # SIGTERM only to the main thread: Python runs handlers there, and a
    # SIGTERM the kernel once gave to an accept thread left the main
    # thread asleep (seen 1 run in about 15). The threads inherit the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    for l, port in zip(ls, (7000, 7001, 7002)):
        threading.Thread(target=loop, args=(l, port), daemon=True).start()
    # The handler before "# ready": a SIGTERM right after it must still
    # exit normally (atexit runs, utcp prints its counters).
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    print("# ready", flush=True)
    while True:
        time.sleep(3600)


def connect(host, port, n, step):
    for i in range(n):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, port + i * step))
        except OSError:
            pass
        s.close()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
