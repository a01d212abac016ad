#!/usr/bin/env python3
"""scripts/robust's packet-level sections: bad packets, blind attacks
(RFC 5961, 6528, 6056), SYN flood, resource limits.

usage: robust.py SECTION LIB WORKDIR     (SECTION: badpkt attack synflood limits)

Runs inside a private network namespace that scripts/robust made (unshare
-n); creates the TUN devices utcp0 (and utcp1) there, starts the utcp
process (tools/robust/sut.py under LD_PRELOAD=LIB, UTCP_LOG=info) and plays
the far end with the scripted peer of tools/compare/peer.py, whose Conn
class does the TCP bookkeeping. Instead of a TUN of its own, the peer
sends and sniffs on utcp0's kernel side with an AF_PACKET socket: what it
sends goes to utcp byte for byte (a bad IP checksum included, which the
kernel's own input path would drop), and utcp's answers to the spoofed
address 198.19.0.9 (blackholed, so the kernel neither answers nor sends
ICMP) are seen there.

Prints one row per case, `case | bytes sent | bytes verified | retransmits
| result`, and exits 1 if any case failed. Drop counters are checked
against the line utcp prints at exit (`utcp: stats: ...`), reason by
reason, exactly: each case records how many of its packets must be
counted under which name.
"""
import os, random, signal, socket, struct, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "compare"))
import peer  # noqa: E402
from peer import ACK, FIN, PSH, RST, SYN, M, Conn, Fail, csum, ip2b  # noqa: E402

SUT = "198.18.0.2"
ME = "198.19.0.9"  # the spoofed peer: outside every kernel route but a blackhole
peer.ME = ME
peer.DEADLINE = time.monotonic() + 600  # peer.py's own 20 s bound is per scenario
ETH_P_ALL, ETH_P_IP, PACKET_OUTGOING = 0x0003, 0x0800, 4
MIB = 1 << 20


class Link(peer.Tun):
    """peer.Tun's interface on an existing device's kernel side (AF_PACKET)."""

    def __init__(self, dev):
        self.dev = dev
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((dev, ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * MIB)
        self.fd = self.sock.fileno()
        self.pending = []

    def write(self, pkt):
        self.sock.sendto(pkt, (self.dev, ETH_P_IP))

    def _read(self, timeout):
        import select
        r, _, _ = select.select([self.fd], [], [], max(0, timeout))
        if not r:
            return None
        pkt, addr = self.sock.recvfrom(65600)
        if addr[2] == PACKET_OUTGOING:  # our own writes
            return None
        if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6 or peer.b2ip(pkt[16:20]) != ME:
            return None
        return peer.Seg(pkt)

    def raw_segments(self, timeout):
        """Every TCP segment utcp sends within timeout (any destination)."""
        import select
        out = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            pkt, addr = self.sock.recvfrom(65600)
            if addr[2] != PACKET_OUTGOING and len(pkt) >= 40 and pkt[0] >> 4 == 4 and pkt[9] == 6:
                out.append(peer.Seg(pkt))

    def flush(self):
        self.pending = []
        while self._ready():
            self.sock.recv(65600)

    def _ready(self):
        import select
        return bool(select.select([self.fd], [], [], 0)[0])


# ---- packet building -------------------------------------------------------

def tcp_bytes(src, dst, sport, dport, seq, ack, flags, data=b"", opts=b"", win=65535, doff=None, bad_csum=False):
    if len(opts) % 4:
        opts += b"\0" * (4 - len(opts) % 4)
    off = doff if doff is not None else (20 + len(opts)) // 4
    t = struct.pack("!HHIIBBHHH", sport, dport, seq % M, ack % M, off << 4, flags, win, 0, 0) + opts + data
    c = csum(ip2b(src) + ip2b(dst) + struct.pack("!BBH", 0, 6, len(t)) + t)
    if bad_csum:
        c ^= 0x5555
    return t[:16] + struct.pack("!H", c) + t[18:]


def ip_bytes(src, dst, payload, proto=6, ident=0, frag=0x4000, total=None, bad_csum=False):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total if total is not None else 20 + len(payload),
                    ident, frag, 64, proto, 0, ip2b(src), ip2b(dst))
    c = csum(h) ^ (0x5555 if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def seg_for(c, flags=ACK, data=b"", seq=None, ack=None, **kw):
    """A segment of connection c (peer side) without touching c's state."""
    return tcp_bytes(ME, c.sut_ip, c.my_port, c.sut_port, c.snd_nxt if seq is None else seq,
                     c.rcv_nxt if ack is None else ack, flags, data, **kw)


# ---- the utcp process --------------------------------------------------------

class Sut:
    def __init__(self, lib, work, dev="utcp0", args=None, wait_ready=True):
        self.progress = os.path.join(work, f"progress-{dev}")
        self.err_path = os.path.join(work, f"sut-{dev}.err")
        env = dict(os.environ, LD_PRELOAD=lib, UTCP_DEV=dev, UTCP_LOG="info")
        argv = [sys.executable, "-u", os.path.join(HERE, "sut.py")] + (args or ["serve", self.progress])
        self.err = open(self.err_path, "w")
        self.p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=self.err, text=True)
        if wait_ready:
            line = self.p.stdout.readline()
            if "# ready" not in line:
                raise Fail(f"the utcp process did not start: {line!r}; see {self.err_path}")

    def rss(self):
        """Resident memory of the utcp process, in bytes."""
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise Fail("no VmRSS")

    def written(self, port):
        """Bytes the source connection from peer port `port` has written."""
        try:
            with open(f"{self.progress}-{port}") as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def stop(self):
        """SIGTERM (a normal exit: atexit prints the counters); returns them."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # Every thread's stack, for the report, before the kill.
            dump = f"{self.err_path}.hang"
            try:
                with open(dump, "w") as f:
                    subprocess.run(["gdb", "-batch", "-p", str(self.p.pid), "-ex", "thread apply all bt 16"],
                                   stdout=f, stderr=subprocess.DEVNULL, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass
            print(f"the utcp process did not exit 10 s after SIGTERM: killed (stacks: {dump}, KEEP=1)", file=sys.stderr)
            self.p.kill()
            self.p.wait()
        self.err.close()
        stats = {}
        for line in open(self.err_path):
            if line.startswith("utcp: stats: "):
                for kv in line.split()[2:]:
                    k, v = kv.split("=")
                    stats[k] = int(v)
        return stats


def setup_dev(dev, kernel_addr):
    for cmd in (["ip", "tuntap", "add", dev, "mode", "tun"],
                ["ip", "addr", "add", kernel_addr, "dev", dev],
                ["ip", "link", "set", dev, "up"]):
        subprocess.run(cmd, check=True)


# ---- results -----------------------------------------------------------------

class Table:
    def __init__(self):
        self.rows = []  # [case, sent, verified, retransmits, ok, note]
        self.expect = {}  # counter -> (count, [row indexes])

    def row(self, case, sent, verified, rexmit, ok, note=""):
        self.rows.append([case, sent, verified, rexmit, ok, note])
        return len(self.rows) - 1

    def counted(self, idx, counter, n, exact=True):
        """Row idx is only ok if utcp's counter `counter` reached n (with
        the other rows' expectations of the same counter added)."""
        cnt, rows, ex = self.expect.get(counter, (0, [], True))
        self.expect[counter] = (cnt + n, rows + [idx], ex and exact)

    def check_stats(self, stats):
        if not stats:
            for r in self.rows:
                r[4] = False
                r[5] += " [no stats line from utcp]"
            return
        for counter, (n, rows, exact) in self.expect.items():
            got = stats.get(counter, 0)
            good = got == n if exact else got >= n
            for i in rows:
                self.rows[i][5] += f" {counter}={got}" + ("" if good else f" (want {'' if exact else '>='}{n})")
                if not good:
                    self.rows[i][4] = False

    def print(self):
        fail = False
        for case, sent, ver, rx, ok, note in self.rows:
            res = "ok" if ok else "FAIL"
            fail |= not ok
            print(f"{case:<24} | {sent:>10} | {ver:>10} | {rx:>11} | {res}{(' ' + note.strip()) if note.strip() else ''}", flush=True)
        return fail


# ---- a live connection: echo and verify ------------------------------------

def recv_data(c, n, timeout=5.0):
    """n bytes of in-order data from c (acking each segment); returns
    (bytes, retransmitted segments seen)."""
    got = bytearray()
    rx = 0
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        s = c.tun.get(c.mine, min(0.2, end - time.monotonic()))
        if s is None:
            continue
        if s.data:
            if s.seq == c.rcv_nxt:
                got += s.data
            elif (c.rcv_nxt - s.seq) % M < (1 << 31):
                rx += 1
            c.take(s)
            c.out(ACK)
        else:
            c.take(s)
    return bytes(got), rx


def echo_check(c, n=4000):
    """Send n random bytes, read the echo: (sent, verified, retransmits)."""
    data = os.urandom(n)
    for i in range(0, n, 1000):
        c.out(ACK | PSH, data[i:i + 1000])
    got, rx = recv_data(c, n)
    verified = n if got == data else sum(1 for a, b in zip(got, data) if a == b)
    return n, verified, rx, got == data


def open_conn(link, port, my_port):
    c, _ = peer.connect(link, SUT, port=port, my_port=my_port, iss=random.getrandbits(32))
    return c


# ---- sections ----------------------------------------------------------------

def badpkt(lib, work, t):
    link = Link("utcp0")
    sut = Sut(lib, work)
    try:
        c = open_conn(link, 7000, 41000)
        n, v, rx, ok = echo_check(c)
        t.row("badpkt_baseline", n, v, rx, ok, "echo before")
        d = b"BAD!"
        good_tcp = lambda **kw: seg_for(c, ACK | PSH, d, **kw)
        cases = [
            ("bad_ip_checksum", "drop.bad_ip_checksum", lambda i: ip_bytes(ME, SUT, good_tcp(), bad_csum=True)),
            ("bad_tcp_checksum", "drop.bad_tcp_checksum", lambda i: ip_bytes(ME, SUT, good_tcp(bad_csum=True))),
            # The IP header claims 100 bytes more than arrived.
            ("truncated_ip", "drop.truncated", lambda i: ip_bytes(ME, SUT, good_tcp(), total=20 + 24 + 100)),
            # A whole IP packet whose TCP header is cut at 12 bytes.
            ("truncated_tcp", "drop.truncated", lambda i: ip_bytes(ME, SUT, good_tcp()[:12])),
            ("data_offset_short", "drop.bad_data_offset", lambda i: ip_bytes(ME, SUT, good_tcp(doff=4))),
            ("data_offset_long", "drop.bad_data_offset", lambda i: ip_bytes(ME, SUT, seg_for(c, ACK, doff=15))),
            # MSS option whose length (40) runs past the 24-byte header.
            ("option_past_header", "drop.bad_option_len", lambda i: ip_bytes(ME, SUT, good_tcp(opts=bytes([2, 40, 5, 180])))),
            ("zero_length_option", "drop.bad_option_len", lambda i: ip_bytes(ME, SUT, good_tcp(opts=bytes([1, 1, 30, 0])))),
            ("syn_fin", "drop.syn_fin", lambda i: ip_bytes(ME, SUT, seg_for(c, SYN | FIN | ACK))),
            ("syn_rst", "drop.syn_rst", lambda i: ip_bytes(ME, SUT, seg_for(c, SYN | RST))),
            ("wrong_destination", "drop.wrong_destination", lambda i: ip_bytes(ME, "198.18.0.77", tcp_bytes(ME, "198.18.0.77", c.my_port, c.sut_port, c.snd_nxt, c.rcv_nxt, ACK | PSH, d))),
        ]
        reps = 3
        for name, counter, build in cases:
            for i in range(reps):
                link.write(build(i))
            time.sleep(0.05)
            n, v, rx, ok = echo_check(c)
            idx = t.row(name, n, v, rx, ok, "")
            t.counted(idx, counter, reps)
        # Overlapping fragments: the first 16 bytes of a segment, then 16
        # bytes from offset 8 (RFC 5722 spirit; Linux drops the queue).
        for i in range(reps):
            whole = seg_for(c, ACK | PSH, b"OVERLAP-OVERLAP-OVERLAP!")
            ident = 0x100 + i
            link.write(ip_bytes(ME, SUT, whole[:16], ident=ident, frag=0x2000 | 0))
            link.write(ip_bytes(ME, SUT, whole[8:24], ident=ident, frag=0x2000 | 1))
        time.sleep(0.05)
        n, v, rx, ok = echo_check(c)
        idx = t.row("fragments_overlapping", n, v, rx, ok, "")
        t.counted(idx, "drop.frag_overlap", reps)
        # Positive control: the same segment in two proper fragments is
        # reassembled and echoed, so the fragment path is not just a drop.
        payload = os.urandom(800)
        whole = seg_for(c, ACK | PSH, payload)
        link.write(ip_bytes(ME, SUT, whole[:400], ident=0x200, frag=0x2000 | 0))
        link.write(ip_bytes(ME, SUT, whole[400:], ident=0x200, frag=400 // 8))
        c.snd_nxt = (c.snd_nxt + len(payload)) % M
        got, rx = recv_data(c, len(payload))
        idx = t.row("fragments_reassembled", len(payload), len(got) if got == payload else 0, rx, got == payload, "")
        t.counted(idx, "frags_reassembled", 1)
        n, v, rx, ok = echo_check(c, 20000)
        t.row("badpkt_after_all", n, v, rx, ok, "echo after")
        c.out(FIN | ACK)
    finally:
        t.check_stats(sut.stop())


def wait_ack(c, timeout=1.0):
    """The next pure ACK (no data, no RST) of c within timeout, or None."""
    return c.maybe(lambda s: s.has(ACK) and not s.has(RST) and not s.data, timeout)


def attack(lib, work, t):
    link = Link("utcp0")
    sut = Sut(lib, work)
    try:
        c = open_conn(link, 7000, 42000)
        n, v, rx, ok = echo_check(c)
        t.row("attack_baseline", n, v, rx, ok, "")
        # RFC 5961 §3.2: RST in the window but not at RCV.NXT: challenge ACK.
        time.sleep(0.6)  # past the challenge-ACK rate limit (500 ms)
        link.write(ip_bytes(ME, SUT, seg_for(c, RST, seq=c.snd_nxt + 1000, ack=0)))
        a = wait_ack(c)
        chal = a is not None and a.ack == c.snd_nxt
        n, v, rx, ok = echo_check(c)
        idx = t.row("rst_in_window", n, v, rx, ok and chal, "challenge ACK" if chal else f"no challenge ACK ({a!r})")
        t.counted(idx, "drop.rst_challenged", 1)
        # RFC 5961 §4.2: a SYN on an established connection: challenge ACK.
        time.sleep(0.6)
        link.write(ip_bytes(ME, SUT, seg_for(c, SYN, seq=c.snd_nxt + 100, ack=0)))
        a = wait_ack(c)
        chal = a is not None and a.ack == c.snd_nxt
        n, v, rx, ok = echo_check(c)
        idx = t.row("syn_in_window", n, v, rx, ok and chal, "challenge ACK" if chal else f"no challenge ACK ({a!r})")
        t.counted(idx, "drop.syn_challenged", 1)
        # RFC 5961 §5.2: data whose ACK is outside [SND.UNA - MAX.SND.WND,
        # SND.NXT] is dropped; the echo shows whether "EVIL" got in.
        time.sleep(0.6)
        link.write(ip_bytes(ME, SUT, seg_for(c, ACK | PSH, b"EVIL", ack=c.rcv_nxt + (1 << 30))))
        link.write(ip_bytes(ME, SUT, seg_for(c, ACK | PSH, b"EVIL", ack=c.rcv_nxt - (1 << 30))))
        time.sleep(0.1)
        n, v, rx, ok = echo_check(c)
        idx = t.row("data_unacceptable_ack", n, v, rx, ok, "")
        t.counted(idx, "drop.ack_not_yet_sent", 1)
        t.counted(idx, "drop.ack_too_old", 1)
        # RFC 5961 §7: 50 in-window RSTs in a burst get one challenge ACK.
        time.sleep(0.6)
        c.tun.pending = []
        for i in range(50):
            link.write(ip_bytes(ME, SUT, seg_for(c, RST, seq=c.snd_nxt + 1000 + i, ack=0)))
        acks = 0
        while wait_ack(c, 0.3) is not None:
            acks += 1
        n, v, rx, ok = echo_check(c)
        idx = t.row("challenge_ack_ratelimit", n, v, rx, ok and 1 <= acks <= 2, f"{acks} challenge ACKs for 50 RSTs")
        t.counted(idx, "drop.challenge_ack_limited", 50 - acks, exact=False)
        # Each RST is still counted as challenged, answered or not.
        t.counted(idx, "drop.rst_challenged", 50)
        c.out(FIN | ACK)
        # RFC 6528: the ISNs of our SYN-ACKs to 8 connections in a row.
        isns = []
        for i in range(8):
            c2 = open_conn(link, 7000, 43000 + i)
            isns.append((c2.rcv_nxt - 1) % M)
            c2.out(RST | ACK)
        t.row("isn_passive_open", 0, 0, 0, unpredictable(isns), "ISNs " + spread(isns))
    finally:
        t.check_stats(sut.stop())
    # RFC 6056 / 6528: eight connect() calls in a row from a second utcp
    # process, to one destination, then to eight destination ports; the
    # peer refuses each (RST) and records port and ISN.
    link1 = Link("utcp1")
    same = refused_syns(lib, work, link1, step=0)
    other = refused_syns(lib, work, link1, step=1)
    ports = [s.sport for s in same]
    d = [(b - a) % 65536 for a, b in zip(ports, ports[1:])]
    # Algorithm 4 walks one destination's ports in small random steps (as
    # Linux does): not a constant stride.
    t.row("ports_same_destination", 0, 0, 0, len(ports) == 8 and len(set(d)) >= 3, f"ports {ports}")
    ports = [s.sport for s in other]
    far = sum(1 for x in ((b - a) % 65536 for a, b in zip(ports, ports[1:])) if 64 < x < 65536 - 64)
    # Another destination starts at another keyed offset.
    t.row("ports_other_destinations", 0, 0, 0, len(ports) == 8 and far >= 6, f"ports {ports}")
    isns = [s.seq for s in same]
    t.row("isn_active_open", 0, 0, 0, len(isns) == 8 and unpredictable(isns), "ISNs " + spread(isns))


def refused_syns(lib, work, link, step):
    """The SYNs of `sut.py connect` (8 connects to ME:9 + i*step), each
    refused with an RST; returns them in order."""
    syns = []
    conn = Sut(lib, work, dev="utcp1", args=["connect", ME, "9", "8", str(step)], wait_ready=False)
    end = time.monotonic() + 20
    while len(syns) < 8 and time.monotonic() < end:
        s = link.get(lambda s: s.has(SYN) and not s.has(ACK), 1.0)
        if s is None:
            continue
        if all((s.sport, s.dport) != (x.sport, x.dport) for x in syns):
            syns.append(s)
        t1 = tcp_bytes(ME, s.src, s.dport, s.sport, 0, s.seq + 1, RST | ACK, win=0)
        link.write(ip_bytes(ME, s.src, t1))
    conn.stop()
    return syns


def spread(xs):
    d = [(b - a) % M for a, b in zip(xs, xs[1:])]
    return "deltas " + ",".join(str(x if x < 1 << 31 else x - M) for x in d)


def unpredictable(isns):
    """RFC 6528: consecutive ISNs differ by far more than the 4 µs clock
    adds in a few milliseconds, and not by a constant step."""
    d = [(b - a) % M for a, b in zip(isns, isns[1:])]
    return len(set(d)) == len(d) and sum(1 for x in d if 1 << 20 < x < M - (1 << 20)) >= len(d) - 1


def synflood(lib, work, t):
    link = Link("utcp0")
    sut = Sut(lib, work)
    try:
        rss0 = sut.rss()
        n_syn = 5000
        stop = threading.Event()

        def flood():
            rnd = random.Random(5)
            for i in range(n_syn):
                src = f"198.19.{rnd.randrange(1, 255)}.{rnd.randrange(1, 255)}"
                opts = bytes([2, 4, 5, 180])
                seg = tcp_bytes(src, SUT, rnd.randrange(1024, 65535), 7000, rnd.getrandbits(32), 0, SYN, opts=opts)
                link.write(ip_bytes(src, SUT, seg, ident=i & 0xFFFF))
                if i % 500 == 499:
                    time.sleep(0.01)  # the TUN queue holds 500 packets
            stop.set()

        th = threading.Thread(target=flood)
        th.start()
        # Legitimate kernel clients (198.18.0.1) during and after the flood.
        sent = verified = good = 0
        for i in range(6):
            time.sleep(0.15)
            data = os.urandom(20000)
            try:
                s = socket.create_connection((SUT, 7000), timeout=5)
                s.sendall(data)
                got = b""
                while len(got) < len(data):
                    b = s.recv(65536)
                    if not b:
                        break
                    got += b
                s.close()
            except OSError:
                got = b""
            sent += len(data)
            if got == data:
                verified += len(data)
                good += 1
        th.join()
        time.sleep(0.3)
        rss1 = sut.rss()
        ok = good == 6 and rss1 - rss0 < 16 * MIB
        idx = t.row("syn_flood", sent, verified, 0, ok,
                    f"{n_syn} spoofed SYNs; {good}/6 clients echoed; RSS {rss0 // 1024} -> {rss1 // 1024} KiB")
        t.counted(idx, "syn_cookies_sent", 1, exact=False)
        t.counted(idx, "syn_cookies_accepted", 1, exact=False)
    finally:
        t.check_stats(sut.stop())


def watch(sut, secs, c, zero=False):
    """Sample RSS and bytes written by c's writer for secs; with zero,
    acknowledge what arrives with a zero window. Returns (samples of (rss,
    written), segments seen, retransmitted segments seen)."""
    samples = []
    seen = rexmit = 0
    top = c.rcv_nxt
    end = time.monotonic() + secs
    nxt = time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() >= nxt:
            samples.append((sut.rss(), sut.written(c.my_port)))
            nxt += 0.5
        s = c.tun.get(c.mine, 0.1)
        if s is None:
            continue
        seen += 1
        if s.data:
            if (top - s.seq) % M < (1 << 31) and top != s.seq:
                rexmit += 1
            e = (s.seq + len(s.data)) % M
            if (e - top) % M < (1 << 31):
                top = e
        c.take(s)
        if zero:
            c.out(ACK, win=0)
    samples.append((sut.rss(), sut.written(c.my_port)))
    return samples, seen, rexmit


def limits(lib, work, t):
    link = Link("utcp0")
    sut = Sut(lib, work)
    try:
        base = sut.rss()
        # A peer that never ACKs: utcp retransmits, the writer blocks.
        c = open_conn(link, 7001, 44000)
        samples, seen, rexmit = watch(sut, 5.0, c)
        rss_max = max(r for r, _ in samples)
        written = samples[-1][1]
        plateau = samples[-1][1] - samples[len(samples) // 2][1]
        ok = 0 < written < 4 * MIB and plateau < 256 * 1024 and rss_max - base < 16 * MIB and rexmit > 0
        t.row("never_ack", written, 0, rexmit, ok,
              f"written {written} (+{plateau} in the last half); RSS {base // 1024} -> {rss_max // 1024} KiB")
        c.out(RST | ACK, seq=c.snd_nxt)
        # A peer that reads nothing more: everything is acknowledged with a
        # zero window, forever; utcp probes (persist timer).
        c = open_conn(link, 7001, 44001)
        c.out(ACK, win=0)
        samples, seen, rexmit = watch(sut, 5.0, c, zero=True)
        rss_max = max(r for r, _ in samples)
        written = samples[-1][1]
        plateau = samples[-1][1] - samples[len(samples) // 2][1]
        ok = 0 < written < 4 * MIB and plateau < 256 * 1024 and rss_max - base < 16 * MIB and seen > 0
        t.row("zero_window", written, 0, rexmit, ok,
              f"written {written} (+{plateau} in the last half), {seen} segments incl. probes; RSS max {rss_max // 1024} KiB")
        c.out(RST | ACK, seq=c.snd_nxt)
        # A program that never reads, and a peer that ignores the window:
        # 8 MiB pushed at an SO_RCVBUF=64K socket.
        c = open_conn(link, 7002, 44002)
        chunk = b"x" * 1400
        pushed = 0
        for i in range(6000):
            link.write(ip_bytes(ME, SUT, seg_for(c, ACK, chunk)))
            c.snd_nxt = (c.snd_nxt + len(chunk)) % M
            pushed += len(chunk)
            if i % 400 == 399:
                time.sleep(0.01)
        time.sleep(0.5)
        rss = sut.rss()
        idx = t.row("unread_flood", pushed, 0, 0, rss - base < 16 * MIB, f"RSS {base // 1024} -> {rss // 1024} KiB")
        t.counted(idx, "drop.out_of_window", 1000, exact=False)
    finally:
        t.check_stats(sut.stop())


def main():
    section, lib, work = sys.argv[1], sys.argv[2], sys.argv[3]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    setup_dev("utcp0", "198.18.0.1/24")
    setup_dev("utcp1", "198.18.1.1/24")
    # utcp turns ip_forward on; the spoofed peers must not be routed back
    # to utcp or answered with ICMP: a blackhole drops them silently.
    subprocess.run(["ip", "route", "add", "blackhole", "198.19.0.0/16"], check=True)
    t = Table()
    try:
        {"badpkt": badpkt, "attack": attack, "synflood": synflood, "limits": limits}[section](lib, work, t)
    except Fail as e:
        t.row(section, 0, 0, 0, False, f"aborted: {e}")
    sys.exit(1 if t.print() else 0)


if __name__ == "__main__":
    main()
