# Shell helpers shared by scripts/test-preload, scripts/compat and
# scripts/robust-loss (sourced; the callers `export -f` what their
# namespaced `bash -c` scenarios use).

# Wait (at most 10 s) until FILE contains PATTERN.
wait_for() {
    local i
    for i in $(seq 100); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1:"; cat "$1" 2>/dev/null
    return 1
}

# A persistent TUN device utcpN, kernel side 198.18.N.1/24, up, made before
# any preloaded program starts (the library joins it and takes .2), inside
# the caller's private network namespace.
make_tun() {
    ip tuntap add "utcp$1" mode tun &&
        ip addr add "198.18.$1.1/24" dev "utcp$1" &&
        ip link set "utcp$1" up
}
