#!/usr/bin/env python3
"""Normalizes and diffs the two runs of each scenario (scripts/compare).

usage: report.py WORKDIR ALLOWED_FILE SCENARIO...
WORKDIR/SCENARIO/{kernel,utcp}/ hold transcript.txt, cap.pcap, peer.out.

Packets are normalized to one line each:
    S>P c1>7000 [S] seq 0 win + <mss 1460,sackOK,TS,wscale 7>
S>P is SUT to peer, P>S the other way; SUT ports are named c1, c2... in
order of appearance; seq/ack are relative to each side's ISN (its SYN, or
its first segment); PSH is dropped; the window is only "0" or "+"; the
options are listed by name (TS and SACK values dropped; MSS and window
scale kept). Times, addresses, TTL and IP ids are dropped.
"""
import difflib
import subprocess, os, re, struct, sys
from tcpopts import walk

PEER = "198.18.1.2"
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def read_pcap(path):
    try:
        b = open(path, "rb").read()
    except OSError:
        return []
    if len(b) < 24:
        return []
    magic = struct.unpack("<I", b[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack(end + "I", b[20:24])[0]
    off, pkts = 24, []
    while off + 16 <= len(b):
        _, _, incl, _ = struct.unpack(end + "IIII", b[off:off + 16])
        data = b[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 113:  # Linux cooked
            data = data[16:]
        elif link == 276:
            data = data[20:]
        pkts.append(data)
    return pkts


def opts_str(b):
    out = []
    for k, v in walk(b):
        if k is None:
            out.append("bad")
        elif k == 2:
            out.append("mss %d" % struct.unpack("!H", v)[0])
        elif k == 3:
            out.append("wscale %d" % v[0])
        elif k == 4:
            out.append("sackOK")
        elif k == 5:
            out.append("SACK")
        elif k == 8:
            out.append("TS" if struct.unpack("!I", v[4:8])[0] else "TS ecr0")
        else:
            out.append("opt%d" % k)
    return out


def normalize(pkts):
    lines, ports, isn = [], {}, {}
    for p in pkts:
        if len(p) < 20 or p[0] >> 4 != 4:
            continue
        ihl = (p[0] & 15) * 4
        src = ".".join(map(str, p[12:16]))
        proto = p[9]
        t = p[ihl:]
        if proto == 1:
            lines.append(f"{'P>S' if src == PEER else 'S>P'} ICMP type {t[0]} code {t[1]}")
            continue
        if proto != 6 or len(t) < 20:
            continue
        sport, dport, seq, ack, off, fl, win = struct.unpack("!HHIIBBH", t[:16])
        # The payload length from the IP header, not from what was captured.
        tot = struct.unpack("!H", p[2:4])[0]
        ndata = max(0, tot - ihl - (off >> 4) * 4)
        frompeer = src == PEER
        sutport, peerport = (dport, sport) if frompeer else (sport, dport)
        if sutport not in ports:
            ports[sutport] = f"c{len(ports) + 1}" if sutport not in (7000, 7001) else str(sutport)
        conn = (sutport, peerport)
        me, other = (conn, "P" if frompeer else "S"), (conn, "S" if frompeer else "P")
        if me not in isn or (fl & SYN and not isn[me][1]):
            isn[me] = (seq, bool(fl & SYN))
        rel = lambda v, k: (v - isn[k][0]) % (1 << 32) if k in isn else f"abs{v}"
        f = "".join(c for c, bit in (("S", SYN), ("F", FIN), ("R", RST)) if fl & bit)
        f += "." if fl & ACK else ""
        s = "P>S" if frompeer else "S>P"
        cs = f"{ports[sutport]}>{peerport}" if not frompeer else f"{peerport}>{ports[sutport]}"
        line = f"{s} {cs} [{f or 'none'}] seq {rel(seq, me)}"
        if fl & ACK:
            line += f" ack {rel(ack, other)}"
        line += f" win {'0' if win == 0 else '+'}"
        if ndata:
            line += f" len {ndata}"
        if len(p) < tot:
            line += " TRUNCATED-CAPTURE"
        o = opts_str(t[20:(off >> 4) * 4])
        if o:
            line += " <" + ",".join(o) + ">"
        lines.append(line)
    return lines


def load(d):
    tr = open(os.path.join(d, "transcript.txt")).read().splitlines() if os.path.exists(os.path.join(d, "transcript.txt")) else ["# no transcript"]
    pk = normalize(read_pcap(os.path.join(d, "cap.pcap")))
    try:
        po = open(os.path.join(d, "peer.out")).read().split()
        status = "ok" if po and po[-1] == "ok" else "FAILED"
        err = open(os.path.join(d, "peer.err")).read().strip().splitlines()
    except OSError:
        status, err = "did not run", []
    pk.append(f"# peer script {status}" + (f": {err[-1]}" if err and status != "ok" else ""))
    st = sut_states(os.path.join(d, "cap.pcap"))
    # A packet tcpdump dropped would silently shorten the list above.
    try:
        m = re.search(r"(\d+) packets? dropped by kernel", open(os.path.join(d, "tcpdump.err")).read())
        if m and int(m.group(1)):
            pk.append(f"# tcpdump dropped {m.group(1)} packets: the capture is incomplete")
    except OSError:
        pass
    return tr, pk, st


# The scripted peer's address: every other endpoint in a capture is the SUT.
PEER_ADDR = "198.18.1.2"
# The `utcp` command, built beside libutcp.so.
UTCP = os.environ.get("UTCP_CLI") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "target", "release", "utcp")


def sut_states(pcap):
    """The SUT's TCP states per connection, inferred from the capture by
    `utcp trace --states` (the same inference draws the ladder diagrams)."""
    if not os.path.exists(pcap):
        return ["# no capture"]
    try:
        out = subprocess.run([UTCP, "trace", "--states", pcap], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"# utcp trace failed: {e}"]
    lines = []
    for l in out.stdout.splitlines():
        addr, _, states = l.partition(" ")
        if not addr.startswith(PEER_ADDR + ":"):
            lines.append(states)
    return lines or ["# no TCP connection"]


def load_allowed(path):
    rules = []
    for n, l in enumerate(open(path), 1):
        l = l.strip()
        if not l or l.startswith("#"):
            continue
        # The regex may contain "|": scenario | kind | regex | reason, split
        # at the first two and at the last " | ".
        parts = l.split("|", 2)
        if len(parts) == 3 and " | " in parts[2]:
            parts = parts[:2] + parts[2].rsplit(" | ", 1)
        parts = [x.strip() for x in parts]
        if len(parts) != 4 or parts[1] not in ("transcript", "packets", "states"):
            sys.exit(f"{path}:{n}: expected 'scenario | transcript|packets|states | regex | reason'")
        m = re.fullmatch(r"s/(.*)/(.*)/", parts[2])
        mv = re.fullmatch(r"moved:(.*)", parts[2])
        if m:  # a rewrite applied to both sides before diffing
            rules.append((parts[0], parts[1], ("s", re.compile(m.group(1)), m.group(2)), parts[3]))
        elif mv:  # a line this regex matches, in both runs but elsewhere
            rules.append((parts[0], parts[1], ("moved", re.compile(mv.group(1))), parts[3]))
        else:  # a differing line this regex matches is allowed
            rules.append((parts[0], parts[1], ("m", re.compile(parts[2])), parts[3]))
    return rules


def diff(a, b):
    """The differing lines, as '-kernel line' / '+utcp line'."""
    out = []
    for l in difflib.unified_diff(a, b, "kernel", "utcp", n=0, lineterm=""):
        if l.startswith(("---", "+++", "@@")):
            continue
        out.append(l)
    return out


def main():
    work, allowed_path, scens = sys.argv[1], sys.argv[2], sys.argv[3:]
    rules = load_allowed(allowed_path)
    used = set()
    rows, bad = [], 0
    details = []
    for sc in scens:
        k = load(os.path.join(work, sc, "kernel"))
        u = load(os.path.join(work, sc, "utcp"))
        cells, verdicts = [], []
        for idx, kind in ((0, "transcript"), (1, "packets"), (2, "states")):
            for side, v in (("kernel", k), ("utcp", u)):
                open(os.path.join(work, sc, f"{side}.{kind}"), "w").write("\n".join(v[idx]) + "\n")
            d = diff(k[idx], u[idx])
            if not d:
                cells.append("same")
                continue
            mine = [(i, r) for i, r in enumerate(rules) if r[0] in (sc, "*") and r[1] == kind]
            ka, ua = list(k[idx]), list(u[idx])
            for i, r in mine:
                if r[2][0] == "s":
                    k2 = [r[2][1].sub(r[2][2], l) for l in ka]
                    u2 = [r[2][1].sub(r[2][2], l) for l in ua]
                    if (k2, u2) != (ka, ua):
                        used.add(i)
                    ka, ua = k2, u2
            unexplained = []
            d2 = diff(ka, ua)
            for l in d2:
                hit = [i for i, r in mine if r[2][0] == "m" and r[2][1].search(l)]
                # The same line removed on one side and added on the other:
                # it only moved.
                twin = ("+" if l[0] == "-" else "-") + l[1:]
                hit += [i for i, r in mine if r[2][0] == "moved" and r[2][1].search(l[1:]) and twin in d2]
                used.update(hit)
                if not hit:
                    unexplained.append(l)
            if unexplained:
                cells.append(f"DIFF ({len(unexplained)} lines)")
                verdicts.append("DIFF")
                details.append((sc, kind, k[idx], u[idx], d, unexplained))
            else:
                cells.append(f"allowed ({len(d)} lines)")
        verdict = "DIFF" if verdicts else ("allowed" if any(c.startswith("allowed") for c in cells) else "same")
        bad += verdict == "DIFF"
        rows.append((sc, cells[0], cells[1], cells[2], verdict))
    w = max(len(r[0]) for r in rows + [("scenario",)])
    w1 = max(len(r[1]) for r in rows + [("x", "transcript")])
    w2 = max(len(r[2]) for r in rows + [("x", "x", "packets")])
    w3 = max(len(r[3]) for r in rows + [("x", "x", "x", "states")])
    print(f"{'scenario':<{w}} | {'transcript':<{w1}} | {'packets':<{w2}} | {'states':<{w3}} | verdict")
    print(f"{'-' * w}-+-{'-' * w1}-+-{'-' * w2}-+-{'-' * w3}-+--------")
    for r in rows:
        print(f"{r[0]:<{w}} | {r[1]:<{w1}} | {r[2]:<{w2}} | {r[3]:<{w3}} | {r[4]}")
    if details and os.environ.get("COMPARE_QUIET") != "1":
        print()
        for sc, kind, a, b, d, un in details:
            print(f"=== {sc}: {kind} (kernel | utcp); unexplained lines marked !")
            for l in d:
                print(("! " if l in un else "  ") + l)
            print()
    if os.environ.get("COMPARE_QUIET") != "1":
        print("allowed differences that applied:")
        for i in sorted(used):
            r = rules[i]
            print(f"  {r[0]} | {r[1]} | {r[3]}")
    print(f"\n{len(rows) - bad} of {len(rows)} scenarios match (same or allowed); {bad} differ.")
    print(f"full outputs: {work}/SCENARIO/{{kernel,utcp}}.{{transcript,packets,states}}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
