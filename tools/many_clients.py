# N concurrent kernel-side echo clients (threads), each sending a few KiB
# and checking what comes back. With "slow", every 10th client has a small
# receive buffer, sends 256 KiB and starts reading late, so the server's
# sends block (EAGAIN, then EPOLLOUT). usage: HOST PORT N [slow]
# (used by scripts/test-preload and scripts/compat)
import socket, sys, threading, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
slow = len(sys.argv) > 4 and sys.argv[4] == "slow"
barrier = threading.Barrier(n)
errors, total = [], [0]
lock = threading.Lock()
def client(i):
    try:
        big = slow and i % 10 == 0
        size = 262144 if big else 2048 + (i * 389) % 6144
        data = bytes((i + k * 7) % 251 for k in range(size))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if big:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        barrier.wait(timeout=30)
        s.connect((host, port))
        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        if big:
            time.sleep(0.3)
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        t.join()
        s.close()
        if bytes(got) != data:
            raise Exception(f"got {len(got)} of {len(data)} bytes")
        with lock:
            total[0] += size
    except Exception as e:
        with lock:
            errors.append(f"client {i}: {e!r}")
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join()
for e in errors[:10]: print(e)
if errors:
    print(f"FAILED: {len(errors)} of {n} clients")
    sys.exit(1)
print(f"ok {n} clients, {total[0]} bytes echoed in {time.time() - t0:.2f}s")
