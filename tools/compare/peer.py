#!/usr/bin/env python3
"""Scripted TCP peer for scripts/compare.

Owns the TUN device peer0 (kernel side 198.18.1.1/24) and answers as
198.18.1.2: it reads and writes raw IPv4 packets, so it can be an ordinary
TCP endpoint or misbehave on purpose (drop, reset, lie). One function per
scenario; the system under test is the same C program on kernel TCP or on
utcp, and this peer does exactly the same thing to both.

usage: peer.py SCENARIO SUT_ADDR TRANSCRIPT_FILE
Prints "ready" when the TUN is open; exits 0 when the script ran to its
end, 1 (with the failed step on stderr) otherwise.
"""
import fcntl, os, select, struct, sys, time
from tcpopts import walk

ME = "198.18.1.2"
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
M = 1 << 32
DEADLINE = time.monotonic() + 20  # no script runs longer than this


class Fail(Exception):
    pass


def ip2b(a):
    return bytes(int(x) for x in a.split("."))


def b2ip(b):
    return ".".join(str(x) for x in b)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Seg:
    def __init__(self, pkt):
        ihl = (pkt[0] & 15) * 4
        self.src, self.dst = b2ip(pkt[12:16]), b2ip(pkt[16:20])
        t = pkt[ihl:]
        (self.sport, self.dport, self.seq, self.ack, off, self.flags, self.win) = struct.unpack("!HHIIBBH", t[:16])
        doff = (off >> 4) * 4
        self.opts = parse_opts(t[20:doff])
        self.data = t[doff:]

    def has(self, f):
        return self.flags & f == f

    def __repr__(self):
        fl = "".join(c for c, b in zip("FSRPA", (FIN, SYN, RST, PSH, ACK)) if self.flags & b)
        return f"<{self.sport}>{self.dport} [{fl}] seq {self.seq} ack {self.ack} len {len(self.data)}>"


def parse_opts(b):
    o = {}
    for k, v in walk(b):
        if k == 2 and len(v) == 2:
            o["mss"] = struct.unpack("!H", v)[0]
        elif k == 3 and len(v) == 1:
            o["wscale"] = v[0]
        elif k == 4:
            o["sackok"] = True
        elif k == 8 and len(v) == 8:
            o["ts"] = struct.unpack("!II", v)
    return o


def build_opts(mss=None, sackok=False, ts=None, wscale=None):
    b = b""
    if mss is not None:
        b += struct.pack("!BBH", 2, 4, mss)
    if sackok and ts is not None:
        b += struct.pack("!BBBBII", 4, 2, 8, 10, *ts)
    else:
        if sackok:
            b += bytes([1, 1, 4, 2])
        if ts is not None:
            b += struct.pack("!BBBBII", 1, 1, 8, 10, *ts)
    if wscale is not None:
        b += bytes([1, 3, 3, wscale])
    return b


class Tun:
    def __init__(self, name="peer0"):
        self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
        self.pending = []

    def write(self, pkt):
        os.write(self.fd, pkt)

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(0, timeout))
        if not r:
            return None
        try:
            pkt = os.read(self.fd, 65600)
        except BlockingIOError:
            return None
        if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6 or b2ip(pkt[16:20]) != ME:
            return None
        return Seg(pkt)

    def get(self, pred, timeout):
        """The first pending or arriving segment that pred accepts, or None."""
        for i, s in enumerate(self.pending):
            if pred(s):
                return self.pending.pop(i)
        end = min(time.monotonic() + timeout, DEADLINE)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            s = self._read(left)
            if s is None:
                continue
            if pred(s):
                return s
            self.pending.append(s)


def ts_now():
    return int(time.monotonic() * 1000) & 0xFFFFFFFF


class Conn:
    """One TCP connection as the peer sees it."""

    def __init__(self, tun, sut_ip, sut_port, my_port, iss=1000000):
        self.tun, self.sut_ip, self.sut_port, self.my_port = tun, sut_ip, sut_port, my_port
        self.iss = iss
        self.snd_nxt = iss
        self.rcv_nxt = None
        self.ts_ok = False
        self.ws_ok = False
        self.ts_recent = 0
        self.zero = False  # our receive window is closed: accept no data

    def out(self, flags, data=b"", seq=None, ack=None, win=None, opts=b""):
        if seq is None:
            seq = self.snd_nxt
            self.snd_nxt = (self.snd_nxt + len(data) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) % M
        if ack is None:
            ack = self.rcv_nxt if (flags & ACK and self.rcv_nxt is not None) else 0
        if win is None:
            win = 0 if self.zero else (65535 if (flags & SYN or not self.ws_ok) else 512)
        if not flags & SYN and self.ts_ok and not opts:
            opts = build_opts(ts=(ts_now(), self.ts_recent))
        if len(opts) % 4:
            opts += b"\0" * (4 - len(opts) % 4)
        tcp = struct.pack("!HHIIBBHHH", self.my_port, self.sut_port, seq, ack % M, (20 + len(opts)) // 4 << 4, flags, win, 0, 0) + opts + data
        pseudo = ip2b(ME) + ip2b(self.sut_ip) + struct.pack("!BBH", 0, 6, len(tcp))
        c = csum(pseudo + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, ip2b(ME), ip2b(self.sut_ip))
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        self.tun.write(iph + tcp)

    def mine(self, s):
        return s.src == self.sut_ip and s.sport == self.sut_port and s.dport == self.my_port

    def take(self, s):
        """Bookkeeping for a segment from the SUT."""
        if "ts" in s.opts:
            self.ts_recent = s.opts["ts"][0]
        if s.has(SYN):
            self.rcv_nxt = (s.seq + 1) % M
            return s
        if self.rcv_nxt is not None and s.seq == self.rcv_nxt and not s.has(RST):
            n = 0 if self.zero else len(s.data)
            if s.has(FIN) and (n == len(s.data)):
                n += 1
            self.rcv_nxt = (self.rcv_nxt + n) % M
        return s

    def maybe(self, pred=lambda s: True, timeout=1.0):
        """The next segment of this connection that pred accepts; the ones
        before it are taken (bookkeeping) and passed over."""
        end = time.monotonic() + timeout
        while True:
            s = self.tun.get(self.mine, end - time.monotonic())
            if s is None:
                return None
            self.take(s)
            if pred(s):
                return s

    def expect(self, what, pred=lambda s: True, timeout=3.0):
        s = self.maybe(pred, timeout)
        if s is None:
            raise Fail(f"timed out waiting for {what}")
        return s

    def expect_none(self, what, timeout):
        s = self.tun.get(self.mine, timeout)
        if s is not None:
            self.take(s)
            raise Fail(f"expected nothing ({what}), got {s!r}")

    def acks_all(self, s):
        return s.has(ACK) and s.ack == self.snd_nxt

    def synack(self, syn, mss=1460, full=True, ack=None, sack=True):
        o = syn.opts
        self.ts_ok = full and "ts" in o
        self.ws_ok = full and "wscale" in o
        opts = build_opts(mss=mss, sackok=full and sack and o.get("sackok", False),
                          ts=(ts_now(), o["ts"][0]) if self.ts_ok else None,
                          wscale=7 if self.ws_ok else None)
        self.out(SYN | ACK, seq=self.iss, ack=ack, opts=opts)
        self.snd_nxt = (self.iss + 1) % M

    def collect(self, nbytes, what, idle=0.1, timeout=5.0):
        """Receives nbytes of data; acks every second segment (RFC 1122),
        when the SUT goes idle, and at the end."""
        want = (self.rcv_nxt + nbytes) % M
        end = time.monotonic() + timeout
        unacked = 0
        while self.rcv_nxt != want:
            if time.monotonic() > end:
                raise Fail(f"timed out collecting {what}")
            s = self.maybe(lambda s: len(s.data) > 0, idle)
            if s is None or unacked == 1:
                self.out(ACK)
                unacked = 0
            else:
                unacked += 1
        if unacked:
            self.out(ACK)

    def until_fin(self, what, timeout=3.0):
        """Receives segments until the SUT's FIN (acking nothing)."""
        end = time.monotonic() + timeout
        while True:
            s = self.expect(what, timeout=max(0.01, end - time.monotonic()))
            if s.has(FIN):
                return s

    def peer_close(self):
        """We close; the SUT reads EOF, closes; we ack its FIN."""
        self.out(FIN | ACK)
        self.until_fin("the SUT's FIN after ours")
        self.out(ACK)


def listen(tun, port=7000, timeout=3.0):
    s = tun.get(lambda s: s.has(SYN) and not s.has(ACK) and s.dport == port, timeout)
    if s is None:
        raise Fail(f"timed out waiting for a SYN to port {port}")
    c = Conn(tun, s.src, s.sport, port)
    c.take(s)
    return c, s


def accept(tun, port=7000, **kw):
    c, syn = listen(tun, port)
    c.synack(syn, **kw)
    c.expect("the third ACK", c.acks_all)
    return c


def connect(tun, sut, port=7000, my_port=40000, iss=1000000, timeout=3.0):
    """We open a connection to the SUT's listener (full options); returns
    the Conn and our SYN's options (to send it again)."""
    c = Conn(tun, sut, port, my_port, iss)
    opts = build_opts(mss=1460, sackok=True, ts=(ts_now(), 0), wscale=7)
    c.out(SYN, opts=opts)
    sa = c.expect("the SYN-ACK", lambda s: s.has(SYN | ACK), timeout=timeout)
    c.ts_ok, c.ws_ok = "ts" in sa.opts, "wscale" in sa.opts
    c.out(ACK)
    return c, opts


def mark(name):
    """Tells the SUT "now" (c-tests/scenarios/common.h wait_mark): the
    SUT and the peer share the working directory."""
    open(name, "w").close()


def wait_ready(path, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if "# ready" in open(path).read():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise Fail("the SUT never printed '# ready'")


# ---- scenarios ------------------------------------------------------------

def s_handshake(tun, sut, tr):
    c = accept(tun)
    c.until_fin("the SUT's FIN")
    c.out(FIN | ACK)
    c.expect("the ACK of our FIN", c.acks_all)


def s_data(tun, sut, tr):
    c = accept(tun)
    c.collect(5, "hello")
    c.out(PSH | ACK, b"0123456789")
    c.expect("the ACK of our 10 bytes", c.acks_all)
    c.collect(3000, "3000 bytes")
    c.peer_close()


def s_active_close(tun, sut, tr):
    c = accept(tun)
    c.until_fin("the SUT's FIN")
    c.out(ACK)
    time.sleep(0.3)
    c.out(FIN | ACK)
    c.expect("the ACK of our FIN", c.acks_all)
    time.sleep(0.2)
    c.out(FIN | ACK, seq=(c.snd_nxt - 1) % M)  # retransmitted: TIME-WAIT acks it again
    c.expect("the TIME-WAIT ACK of our retransmitted FIN", c.acks_all)


def s_passive_close(tun, sut, tr):
    c = accept(tun)
    time.sleep(0.1)
    c.out(FIN | ACK)
    c.expect("the ACK of our FIN", c.acks_all)
    c.until_fin("'bye' and the SUT's FIN")
    c.expect("a retransmission in LAST-ACK", lambda s: s.has(FIN), timeout=4.0)
    c.out(ACK)
    c.expect_none("after the last ACK", 0.5)


def s_refused(tun, sut, tr):
    for i in range(2):
        c, syn = listen(tun, 7001)
        c.out(RST | ACK, seq=0, ack=(syn.seq + 1) % M)


def s_half_close(tun, sut, tr):
    c = accept(tun)
    c.until_fin("'request' and the SUT's FIN")
    c.out(ACK)
    time.sleep(0.1)
    c.out(PSH | ACK, b"resp1")
    c.expect("the ACK of resp1", c.acks_all)
    time.sleep(0.1)
    c.out(PSH | ACK, b"resp2")
    c.expect("the ACK of resp2", c.acks_all)
    time.sleep(0.1)
    c.out(FIN | ACK)
    c.expect("the ACK of our FIN", c.acks_all)
    c.expect_none("after the close", 0.5)


def s_simultaneous_close(tun, sut, tr):
    c = accept(tun)
    fin = c.until_fin("the SUT's FIN")
    c.out(FIN | ACK, ack=fin.seq)  # crosses the SUT's FIN: acks everything but it
    c.expect("the ACK of our FIN (CLOSING)", c.acks_all)
    c.out(ACK)
    c.expect_none("after the close", 0.5)


def s_lost_third_ack(tun, sut, tr):
    wait_ready(tr)
    c = Conn(tun, sut, 7000, 40000)
    ts0 = ts_now()
    c.out(SYN, opts=build_opts(mss=1460, sackok=True, ts=(ts0, 0), wscale=7))
    sa = c.expect("the SYN-ACK", lambda s: s.has(SYN | ACK))
    c.ts_ok, c.ws_ok = "ts" in sa.opts, "wscale" in sa.opts
    c.expect("the retransmitted SYN-ACK", lambda s: s.has(SYN | ACK), timeout=4.0)
    c.out(ACK)
    c.out(PSH | ACK, b"hi")
    c.expect("the ACK of 'hi'", c.acks_all)
    c.out(FIN | ACK)
    c.until_fin("the SUT's FIN")
    c.out(ACK)


def s_synack_bad_ack(tun, sut, tr):
    c, syn = listen(tun)
    c.synack(syn, ack=(syn.seq + 1000) % M)
    c.expect("the RST for the bad SYN-ACK", lambda s: s.has(RST))
    c.expect("the retransmitted SYN", lambda s: s.has(SYN), timeout=4.0)
    c.synack(syn)
    c.expect("the third ACK", c.acks_all)
    c.until_fin("the SUT's FIN")
    c.out(FIN | ACK)
    c.expect("the ACK of our FIN", c.acks_all)


def s_rst_window(tun, sut, tr):
    c = accept(tun)
    time.sleep(0.1)
    c.out(RST, seq=(c.snd_nxt + 100) % M)
    c.expect("a challenge ACK for the in-window RST", lambda s: s.has(ACK) and not s.has(RST), timeout=1.0)
    time.sleep(0.1)
    c.out(RST, seq=(c.snd_nxt + 0x40000000) % M)
    c.expect_none("the out-of-window RST is ignored", 0.5)
    c.out(PSH | ACK, b"ok")
    c.expect("the ACK of 'ok'", c.acks_all)
    time.sleep(0.1)
    c.out(RST)
    c.expect_none("after the exact RST", 0.5)


def s_linger0(tun, sut, tr):
    c = accept(tun)
    c.expect("the RST of the abort", lambda s: s.has(RST))
    c.expect_none("after the RST", 0.3)


def s_unread_close(tun, sut, tr):
    c = accept(tun)
    c.out(PSH | ACK, b"unread data")
    c.expect("the RST (unread data at close)", lambda s: s.has(RST), timeout=2.0)
    c.expect_none("after the RST", 0.3)


def s_write_after_reset(tun, sut, tr):
    c = accept(tun)
    time.sleep(0.1)
    c.out(RST | ACK)
    c.expect_none("after the RST", 1.0)


def s_mss_clamp(tun, sut, tr):
    c = accept(tun, mss=536)
    c.collect(2000, "2000 bytes")
    c.peer_close()


def s_no_options(tun, sut, tr):
    c = accept(tun, full=False)
    c.collect(4, "ping")
    c.out(PSH | ACK, b"pong")
    c.expect("the ACK of pong", c.acks_all)
    c.peer_close()


def s_zero_window(tun, sut, tr):
    c = accept(tun)
    c.zero = True
    c.out(ACK)  # window 0
    c.expect("a zero-window probe", timeout=3.0)
    c.out(ACK)
    c.expect("a second zero-window probe", timeout=5.0)
    c.zero = False
    c.out(ACK)  # window update
    c.collect(10, "10 bytes after the window update")
    c.peer_close()


def s_rto(tun, sut, tr):
    c = accept(tun)
    first = c.expect("'abc'", lambda s: len(s.data) > 0)
    c.expect("the retransmission of 'abc'", lambda s: s.seq == first.seq and len(s.data) > 0, timeout=4.0)
    c.out(ACK)
    c.peer_close()


def s_nonblock_connect(tun, sut, tr):
    c = accept(tun)
    c2, syn = listen(tun, 7001)
    c2.out(RST | ACK, seq=0, ack=(syn.seq + 1) % M)
    c.until_fin("the SUT's FIN")
    c.out(FIN | ACK)
    c.expect("the ACK of our FIN", c.acks_all)


def s_connect_timeout(tun, sut, tr):
    c, syn = listen(tun)
    c.expect("the retransmitted SYN", lambda s: s.has(SYN), timeout=3.0)
    c.maybe(lambda s: False, 3.5)  # whatever else comes is in the capture


def s_simultaneous_open(tun, sut, tr):
    c, syn = listen(tun)
    # Our own SYN, sent as if the SUT's had not arrived yet: they crossed.
    c.out(SYN, opts=build_opts(mss=1460, sackok=True, ts=(ts_now(), 0), wscale=7))
    c.ts_ok, c.ws_ok = "ts" in syn.opts, "wscale" in syn.opts
    c.expect("the SUT's SYN-ACK (SYN-RECEIVED)", lambda s: s.has(SYN | ACK))
    # Now "we" see its SYN: our SYN-ACK (RFC 9293 Figure 8, line 5).
    opts = build_opts(mss=1460, sackok="sackok" in syn.opts, ts=(ts_now(), c.ts_recent) if c.ts_ok else None,
                      wscale=7 if c.ws_ok else None)
    c.out(SYN | ACK, seq=c.iss, opts=opts)
    c.collect(5, "hello")
    c.peer_close()
    c.expect_none("after the close", 0.5)


def s_dup_syn(tun, sut, tr):
    wait_ready(tr)
    c, synopts = connect(tun, sut)
    time.sleep(0.1)
    # The old duplicate: our SYN again, same sequence number and options
    # (its TSval is old now, so PAWS fails too).
    c.out(SYN, seq=c.iss, opts=synopts)
    c.expect("a challenge ACK for the old SYN", lambda s: c.acks_all(s) and not s.has(RST | SYN), timeout=1.0)
    time.sleep(0.6)  # past Linux's per-socket challenge-ACK rate limit (500 ms)
    c.out(SYN, seq=(c.snd_nxt + 100) % M, opts=build_opts(mss=1460, sackok=True, ts=(ts_now(), 0), wscale=7))
    c.expect("a challenge ACK for the in-window SYN", lambda s: c.acks_all(s) and not s.has(RST | SYN), timeout=1.0)
    c.out(PSH | ACK, b"ok")
    c.expect("the ACK of 'ok'", lambda s: c.acks_all(s) and s.ack == c.snd_nxt)
    c.out(FIN | ACK)
    c.until_fin("the SUT's FIN")
    c.out(ACK)
    c.expect_none("after the close", 0.3)


def s_backlog_full(tun, sut, tr):
    wait_ready(tr)
    done, dropped = [], []
    for i in range(4):
        c = Conn(tun, sut, 7000, 40000 + i, 1000000 + i * 100000)
        c.out(SYN, opts=build_opts(mss=1460, sackok=True, ts=(ts_now(), 0), wscale=7))
        sa = c.maybe(lambda s: s.has(SYN | ACK), 0.4)
        if sa is None:
            dropped.append(c)
            continue
        c.ts_ok, c.ws_ok = "ts" in sa.opts, "wscale" in sa.opts
        c.out(ACK)
        done.append(c)
        time.sleep(0.05)
    print(f"{len(done)} connections, {len(dropped)} SYNs unanswered", flush=True)
    mark("peer.opened")
    # The SUT accepts what is queued, then waits for one more.
    end = time.monotonic() + 5
    while "# drained" not in open(tr).read():
        if time.monotonic() > end:
            raise Fail("the SUT never drained its accept queue")
        time.sleep(0.02)
    time.sleep(0.1)
    if dropped:
        c = dropped[0]
        c.out(SYN, seq=c.iss, opts=build_opts(mss=1460, sackok=True, ts=(ts_now(), 0), wscale=7))
        sa = c.expect("the SYN-ACK to the retransmitted SYN", lambda s: s.has(SYN | ACK), timeout=1.0)
        c.ts_ok, c.ws_ok = "ts" in sa.opts, "wscale" in sa.opts
        c.out(ACK)
        done.append(c)
    # The SUT closes them in the order it accepted them; we answer each FIN.
    for c in done:
        c.until_fin(f"the SUT's FIN on {c.my_port}")
    for c in done:
        c.out(FIN | ACK)
        c.expect(f"the ACK of our FIN on {c.my_port}", c.acks_all)


def s_accept_after_reset(tun, sut, tr):
    wait_ready(tr)
    c, _ = connect(tun, sut)
    c.out(PSH | ACK, b"hi")
    c.expect("the ACK of 'hi'", c.acks_all)
    time.sleep(0.05)
    c.out(RST | ACK)
    time.sleep(0.1)
    mark("peer.reset")
    c.expect_none("after the RST (the SUT accepts, reads, writes)", 1.0)


def s_bind_timewait(tun, sut, tr):
    wait_ready(tr)
    c, _ = connect(tun, sut)
    c.until_fin("the SUT's FIN")
    c.out(ACK)
    time.sleep(0.05)
    c.out(FIN | ACK)
    c.expect("the ACK of our FIN", c.acks_all)
    c.expect_none("the SUT is in TIME-WAIT", 0.5)


def s_fast_retransmit(tun, sut, tr):
    c, syn = listen(tun)
    time.sleep(0.03)  # an RTT of 30 ms: no tail loss probe before the dupacks
    c.synack(syn, mss=1012, sack=False)
    c.expect("the third ACK", c.acks_all)
    data = lambda s: len(s.data) > 0
    c.expect("segment 1", data)
    c.out(ACK)
    lost = c.expect("segment 2 (we lose it)", data)
    c.rcv_nxt = lost.seq  # take() counted it: undo
    top = (lost.seq + len(lost.data)) % M
    for i in (3, 4, 5):
        s = c.expect(f"segment {i}", data)
        top = (s.seq + len(s.data)) % M
        c.out(ACK)  # a duplicate ACK
    t0 = time.monotonic()
    c.expect("the fast retransmission of segment 2 (within 0.5 s)", lambda s: s.seq == lost.seq and data(s), timeout=0.5)
    print(f"retransmitted after {time.monotonic() - t0:.3f} s", flush=True)
    c.rcv_nxt = top
    c.out(ACK)
    c.peer_close()
    c.expect_none("after the close", 0.3)


def s_keepalive(tun, sut, tr):
    c = accept(tun)
    p = c.expect("the first keepalive probe", timeout=3.0)
    c.out(ACK)
    c.expect("the second keepalive probe", timeout=3.0)
    c.expect("the third keepalive probe", timeout=3.0)
    r = c.expect("the RST", lambda s: s.has(RST), timeout=3.0)
    print(f"got {r!r}", flush=True)
    c.expect_none("after the RST", 0.3)


def main():
    scen, sut, tr = sys.argv[1], sys.argv[2], sys.argv[3]
    tun = Tun()
    print("ready", flush=True)
    try:
        globals()["s_" + scen](tun, sut, tr)
    except Fail as e:
        print(f"peer: {scen}: {e}", file=sys.stderr)
        print(f"FAIL {e}", flush=True)
        sys.exit(1)
    print("ok", flush=True)


if __name__ == "__main__":
    main()
