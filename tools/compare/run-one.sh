#!/usr/bin/env bash
# One scenario on one stack, inside a private network + PID namespace that
# scripts/compare creates (unshare -n -p -f --kill-child). Nothing here
# touches any other namespace.
#
# usage: run-one.sh SCENARIO kernel|utcp OUTDIR
#   OUTDIR gets transcript.txt (the SUT's calls), cap.pcap (tcpdump on
#   peer0), peer.out/peer.err, sut.err.
# Topology: the peer (peer.py) owns the TUN peer0, kernel side 198.18.1.1/24,
# and answers as 198.18.1.2. kernel: the SUT's kernel socket is routed
# straight to peer0 (local address 198.18.1.1). utcp: a persistent utcp0
# (kernel side 198.18.0.1/24, utcp takes 198.18.0.2) and the kernel forwards
# between utcp0 and peer0. Either way every SUT packet crosses peer0, where
# tcpdump captures it.
set -u
scen=$1 mode=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
cd "$out" || exit 1
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

ip link set lo up
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.ipv4.tcp_syn_retries=1 2>/dev/null || true
# Kernel defaults worth pinning (a new namespace starts from these anyway).
sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1 2>/dev/null
ip tuntap add peer0 mode tun || exit 1
ip addr add 198.18.1.1/24 dev peer0
ip link set peer0 up
if [ "$mode" = utcp ]; then
    ip tuntap add utcp0 mode tun || exit 1
    ip addr add 198.18.0.1/24 dev utcp0
    ip link set utcp0 up
    sut_addr=198.18.0.2
else
    sut_addr=198.18.1.1
fi
# Scenario-specific settings, the same for both stacks.
syn_retries=6
case $scen in connect_timeout) syn_retries=1 ;; esac
sysctl -qw net.ipv4.tcp_syn_retries=$syn_retries

# --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over
# only when a block fills or its timeout (about 1 s) passes, and the last
# packets before the kill below (e.g. keepalive's final RST) never reached
# the pcap ("8 packets received by filter", 7 captured). Immediate mode
# uses a TPACKET_V2 ring of snaplen-sized frames: with the default snaplen
# (262144) the 2 MiB buffer holds 7 frames and a burst of 5 data segments
# plus ACKs lost packets ("7 packets dropped by kernel"). -s 4096 holds any
# packet of peer0 (MTU 1500); report.py takes lengths from the IP header,
# marks a truncated packet and reports tcpdump's drops.
timeout 40 tcpdump -Z root -U --immediate-mode -s 4096 -B 8192 -n -i peer0 -w cap.pcap ip >tcpdump.err 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" tcpdump.err && break; sleep 0.05; done
: >transcript.txt
timeout 30 "$PY" -u "$here/peer.py" "$scen" "$sut_addr" "$out/transcript.txt" >peer.out 2>peer.err &
peer=$!
pids+=($peer)
for _ in $(seq 100); do grep -q ready peer.out && break; sleep 0.05; done
if [ "$mode" = utcp ]; then
    env LD_PRELOAD="$LIB" UTCP_SYN_RETRIES=$syn_retries UTCP_LOG=error \
        timeout 20 "$BIN/$scen" 198.18.1.2 >>transcript.txt 2>sut.err
else
    timeout 20 "$BIN/$scen" 198.18.1.2 >>transcript.txt 2>sut.err
fi
rc=$?
[ $rc -ne 0 ] && echo "# exit status $rc" >>transcript.txt
wait "$peer"
echo "$?" >peer.rc
sleep 0.3 # the last packets reach the capture
exit 0
