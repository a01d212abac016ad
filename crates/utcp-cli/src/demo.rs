//! `utcp demo`: in a private network namespace, curl running on utcp
//! fetches a page from `python3 -m http.server` running on the kernel's
//! TCP, through a TUN device; the trace shows the segments.

use crate::proc::{self, die_with_parent, run_ok, run_timed, which};
use crate::run::find_lib;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HELP: &str = "\
usage: utcp demo [--lib PATH]

In a private network namespace (made with `unshare -n` unless already in
one), creates TUN device utcp0 with the kernel side at 198.18.0.1/24,
serves a small page with `python3 -m http.server` on 198.18.0.1 (kernel
TCP), and fetches it with `utcp run --trace -- curl` (utcp at 198.18.0.2).
Prints the traced handshake, data and close, then the page.
Needs root (or unprivileged user namespaces), ip, python3 and curl.
Nothing leaves the namespace; every wait has a timeout.

  --lib PATH   libutcp.so to use (default: as `utcp run` finds it)";

/// Set in the re-executed demo, inside the namespace unshare made.
const INNER: &str = "UTCP_DEMO_NETNS";

const PAGE: &str = "<!doctype html>\n<title>utcp demo</title>\n<p>Hello from python3 -m http.server, fetched by curl over utcp.</p>\n";

pub fn main(args: &[String]) -> u8 {
    let mut lib_opt = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return 0;
            }
            "--lib" => {
                i += 1;
                match args.get(i) {
                    Some(v) if !v.is_empty() => lib_opt = Some(v.clone()),
                    _ => {
                        eprintln!("utcp demo: --lib needs a value");
                        return 2;
                    }
                }
            }
            a if a.starts_with("--lib=") => lib_opt = Some(a["--lib=".len()..].to_string()),
            other => {
                eprintln!(
                    "utcp demo: unexpected argument {other:?} (usage: utcp demo [--lib PATH])"
                );
                return 2;
            }
        }
        i += 1;
    }
    let lib = match find_lib(lib_opt.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    match std::env::var(INNER) {
        // Re-executed by unshare: the namespace must differ from the one
        // the outer demo ran in (recorded in the variable).
        Ok(outer) => {
            if own_netns().is_none_or(|me| me == outer) {
                eprintln!("utcp demo: unshare -n did not give this process a new network namespace; not touching this one");
                return 1;
            }
        }
        Err(_) if !in_private_netns() => return reexec_in_new_netns(&lib),
        Err(_) => println!("utcp demo: already in a private network namespace; using it"),
    }
    match demo(&lib) {
        Ok(()) => {
            println!("demo ok");
            0
        }
        Err(e) => {
            eprintln!("utcp demo: FAILED: {e}");
            1
        }
    }
}

fn own_netns() -> Option<String> {
    std::fs::read_link("/proc/self/ns/net")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Whether this process's network namespace differs from init's. If we
/// cannot tell (e.g. /proc/1 unreadable without CAP_SYS_PTRACE), assume not.
fn in_private_netns() -> bool {
    match (own_netns(), std::fs::read_link("/proc/1/ns/net")) {
        (Some(me), Ok(init)) => Path::new(&me) != init,
        _ => false,
    }
}

fn reexec_in_new_netns(lib: &Path) -> u8 {
    let Some(unshare) = which("unshare") else {
        eprintln!(
            "utcp demo: the demo runs in a private network namespace so it never touches this machine's network, \
             and needs `unshare` (util-linux) to make one; install util-linux, or run it in a namespace you made: \
             scripts/netns create demo && scripts/netns exec demo utcp demo"
        );
        return 1;
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("utcp demo: cannot locate this executable to re-run it under unshare: {e}");
            return 1;
        }
    };
    let root = unsafe { libc::geteuid() } == 0;
    // Unprivileged: a user namespace (-r) makes us root in the new netns.
    let ns_flags: &[&str] = if root { &["-n"] } else { &["-r", "-n"] };
    println!(
        "utcp demo: entering a new network namespace: unshare {} -- {} demo",
        ns_flags.join(" "),
        exe.display()
    );
    let mut cmd = Command::new(&unshare);
    cmd.args(ns_flags)
        .arg("--")
        .arg(&exe)
        .arg("demo")
        .arg("--lib")
        .arg(lib)
        .env(INNER, own_netns().unwrap_or_default());
    let mut child = match die_with_parent(&mut cmd).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("utcp demo: cannot start {}: {e}", unshare.display());
            return 1;
        }
    };
    match proc::wait_until(&mut child, Duration::from_secs(120)) {
        Ok(Some(st)) if st.success() => 0,
        Ok(Some(st)) => {
            if st.code() == Some(1) && !root {
                eprintln!("utcp demo: (not root: the demo needs root, or unprivileged user namespaces for `unshare -r -n`)");
            }
            match st.code() {
                Some(c) if c != 0 => c as u8,
                _ => 1,
            }
        }
        Ok(None) => {
            eprintln!("utcp demo: FAILED: did not finish within 120 s; killed it");
            1
        }
        Err(e) => {
            eprintln!("utcp demo: waiting for the demo: {e}");
            1
        }
    }
}

/// Undoes what the demo set up, even when a step fails.
#[derive(Default)]
struct Cleanup {
    server: Option<Child>,
    dev: Option<String>,
    dir: Option<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let pid = s.id();
            // SIGKILL to exactly this PID.
            let _ = s.kill();
            let _ = proc::wait_until(&mut s, Duration::from_secs(5));
            println!("cleanup: stopped the http server (pid {pid})");
        }
        if let Some(d) = self.dev.take() {
            // Dies with a namespace we made anyway; this matters when the
            // demo ran in a namespace that outlives it.
            let _ = run_ok("ip", &["link", "del", &d]);
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn demo(lib: &Path) -> Result<(), String> {
    for tool in ["ip", "python3", "curl"] {
        if which(tool).is_none() {
            let pkg = match tool {
                "ip" => "iproute2",
                "python3" => "python3",
                _ => "curl",
            };
            return Err(format!(
                "needs `{tool}` in PATH (package {pkg}): install it and run again"
            ));
        }
    }
    let mut clean = Cleanup::default();

    run_ok("ip", &["link", "set", "lo", "up"])?;
    // The TUN device, made persistent up front so that the server can bind
    // the kernel side's address before any utcp process exists; the
    // library joins it and takes the device address + 1.
    let n = (0..64u8)
        .find(|n| !Path::new(&format!("/sys/class/net/utcp{n}")).exists())
        .ok_or("no free device name utcp0..utcp63")?;
    let dev = format!("utcp{n}");
    let kernel = Ipv4Addr::new(198, 18, n, 1);
    let stack = Ipv4Addr::new(198, 18, n, 2);
    run_ok("ip", &["tuntap", "add", "dev", &dev, "mode", "tun"])?;
    clean.dev = Some(dev.clone());
    // No IPv6 on the device: its router solicitations would only add
    // dropped non-IPv4 packets to the trace. Best effort.
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
    run_ok("ip", &["addr", "add", &format!("{kernel}/24"), "dev", &dev])?;
    run_ok("ip", &["link", "set", &dev, "up"])?;

    // The page.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("utcp-demo-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    clean.dir = Some(dir.clone());
    std::fs::write(dir.join("index.html"), PAGE)
        .map_err(|e| format!("cannot write the page: {e}"))?;

    // The kernel-side server, on a port free on that address.
    let port = TcpListener::bind((kernel, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free port on {kernel}: {e}"))?
        .port();
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut server = Command::new("python3");
    server
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            &kernel.to_string(),
            "--directory",
        ])
        .arg(&dir)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    let server = die_with_parent(&mut server)
        .spawn()
        .map_err(|e| format!("cannot start python3: {e}"))?;
    let server_pid = server.id();
    clean.server = Some(server);
    let server_log = || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let addr = SocketAddr::from((kernel, port));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(st) = clean
            .server
            .as_mut()
            .unwrap()
            .try_wait()
            .map_err(|e| e.to_string())?
        {
            return Err(format!(
                "python3 -m http.server exited ({st}): {}",
                server_log()
            ));
        }
        // A kernel-to-kernel probe inside the namespace: is it listening?
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "python3 -m http.server did not listen on {addr} within 15 s: {}",
                server_log()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let url = format!("http://{kernel}:{port}/index.html");
    println!("utcp demo: a private network namespace with TUN device {dev}:");
    println!("  kernel side {kernel}/24: python3 -m http.server on port {port} (pid {server_pid}), the kernel's TCP");
    println!("  utcp side   {stack}:    curl, its TCP served by utcp (libutcp.so preloaded)");
    println!();
    println!("$ utcp run --dev {dev} --trace -- curl -sS {url}");
    println!("  (utcp's stack lives inside curl's process: when curl exits, utcp sends its FIN and keeps");
    println!("  the stack running up to 500 ms so the close completes, as the kernel would on its own)");
    println!();

    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this executable: {e}"))?;
    let mut curl = Command::new(exe);
    curl.args(["run", "--lib"]).arg(lib).args([
        "--dev",
        &dev,
        "--trace",
        "--",
        "curl",
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "10",
        &url,
    ]);
    // Only the settings above: none inherited from the caller.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("UTCP_") {
            curl.env_remove(k);
        }
    }
    let out = run_timed(&mut curl, Duration::from_secs(30))?;
    let (trace, other): (Vec<&str>, Vec<&str>) =
        out.stderr.lines().partition(|l| l.starts_with("utcp: "));
    if !out.status.success() {
        return Err(format!(
            "curl under utcp failed ({}): {}{}",
            out.status,
            other.join(" | "),
            if trace.is_empty() {
                String::new()
            } else {
                format!("; last trace line: {}", trace[trace.len() - 1])
            }
        ));
    }
    explain(&trace)?;
    for l in &other {
        println!("(stderr) {l}");
    }
    println!("The page curl received:");
    println!();
    for l in out.stdout.lines() {
        println!("  | {l}");
    }
    println!();
    if out.stdout != PAGE {
        return Err(format!(
            "curl printed {:?}, not the page served ({PAGE:?})",
            out.stdout
        ));
    }
    Ok(())
}

/// One traced segment.
#[derive(Debug)]
struct Seg {
    out: bool,
    flags: String,
    seq: Option<u64>,
    ack: Option<u64>,
    len: u64,
}

fn field(line: &str, name: &str) -> Option<u64> {
    let at = line.find(&format!(", {name} "))? + name.len() + 3;
    let digits: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn parse_seg(line: &str) -> Option<Seg> {
    let body = line.strip_prefix("utcp: ")?;
    let rest = body.split_once(' ')?.1;
    let out = rest.starts_with("OUT ");
    if !out && !rest.starts_with("IN ") {
        return None;
    }
    let f = rest.find("Flags [")? + 7;
    let flags = rest[f..].split(']').next()?.to_string();
    Some(Seg {
        out,
        flags,
        seq: field(rest, "seq"),
        ack: field(rest, "ack"),
        len: field(rest, "length").unwrap_or(0),
    })
}

/// A trace line as shown: no `utcp: ` prefix, TCP options only on SYNs.
fn show(line: &str) -> String {
    let mut l = line.strip_prefix("utcp: ").unwrap_or(line).to_string();
    if !l.contains("Flags [S") {
        if let Some(a) = l.find(", options [") {
            if let Some(b) = l[a..].find("],") {
                l.replace_range(a..a + b + 1, "");
            }
        }
    }
    format!("    {l}")
}

fn is_state(line: &str) -> bool {
    line.contains(" -> ") && parse_seg(line).is_none()
}

/// Print the trace in three parts, checking each; Err if one is missing.
fn explain(trace: &[&str]) -> Result<(), String> {
    let dump = || trace.iter().map(|l| show(l)).collect::<Vec<_>>().join("\n");
    // Only segments and state changes; other events (drops) are counted.
    let lines: Vec<&str> = trace
        .iter()
        .copied()
        .filter(|l| parse_seg(l).is_some() || is_state(l))
        .collect();
    let ignored = trace.len() - lines.len();
    let segs: Vec<(usize, Seg)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| parse_seg(l).map(|s| (i, s)))
        .collect();

    // Handshake: SYN (seq x), SYN-ACK (seq y, ack x+1), ACK (ack y+1).
    let (i_syn, syn) = segs
        .iter()
        .find(|(_, s)| s.out && s.flags == "S")
        .ok_or_else(|| format!("no SYN from utcp in the trace:\n{}", dump()))?;
    let x = syn.seq.ok_or("the SYN has no seq")?;
    let (i_synack, synack) = segs
        .iter()
        .find(|(i, s)| i > i_syn && !s.out && s.flags == "S." && s.ack == Some(x + 1))
        .ok_or_else(|| {
            format!(
                "no SYN-ACK acknowledging {} in the trace:\n{}",
                x + 1,
                dump()
            )
        })?;
    let y = synack.seq.ok_or("the SYN-ACK has no seq")?;
    let (i_ack, _) = segs
        .iter()
        .find(|(i, s)| i > i_synack && s.out && !s.flags.contains('S') && s.ack == Some(y + 1))
        .ok_or_else(|| {
            format!(
                "no ACK of the SYN-ACK (ack {}) in the trace:\n{}",
                y + 1,
                dump()
            )
        })?;
    // The close starts at the first FIN or at the state change (out of
    // ESTABLISHED) that comes just before utcp sends its FIN.
    let i_fin = segs
        .iter()
        .find(|(i, s)| *i > *i_ack && s.flags.contains('F'))
        .map(|(i, _)| *i)
        .ok_or_else(|| format!("no FIN in the trace:\n{}", dump()))?;
    let i_fin = (i_ack + 1..i_fin)
        .find(|&i| is_state(lines[i]))
        .unwrap_or(i_fin);
    let data = &segs
        .iter()
        .filter(|(i, _)| i > i_ack && *i < i_fin)
        .collect::<Vec<_>>();
    let sent: u64 = segs.iter().filter(|(_, s)| s.out).map(|(_, s)| s.len).sum();
    let received: u64 = segs
        .iter()
        .filter(|(_, s)| !s.out)
        .map(|(_, s)| s.len)
        .sum();
    if sent == 0 || received == 0 {
        return Err(format!(
            "expected data both ways, saw {sent} bytes out and {received} in:\n{}",
            dump()
        ));
    }
    let fin_out = segs.iter().any(|(_, s)| s.out && s.flags.contains('F'));
    let fin_in = segs.iter().any(|(_, s)| !s.out && s.flags.contains('F'));
    let last_state = lines
        .iter()
        .rev()
        .find(|l| is_state(l))
        .map(|l| l.rsplit(' ').next().unwrap_or(""))
        .unwrap_or("");
    if !fin_out || !fin_in || !matches!(last_state, "CLOSED" | "TIME-WAIT") {
        return Err(format!("the close is incomplete (FIN out: {fin_out}, FIN in: {fin_in}, last state: {last_state:?}):\n{}", dump()));
    }

    println!("The trace (UTCP_TRACE=1: seconds since the stack started; OUT = utcp -> kernel, IN = kernel -> utcp;");
    println!("flags as tcpdump: S = SYN, . = ACK, P = PUSH, F = FIN; TCP options shown on the SYNs only):");
    println!();
    println!(
        "1. Three-way handshake. curl's connect() makes utcp send a SYN with its initial sequence"
    );
    println!(
        "   number x; the kernel answers SYN-ACK with its own y and ack x+1; utcp's ACK carries"
    );
    println!("   ack y+1 and the connection is ESTABLISHED (the SYNs also agree on MSS, SACK, timestamps");
    println!("   and window scaling).");
    for l in &lines[..=*i_ack] {
        println!("{}", show(l));
    }
    println!(
        "   checked: x = {x}, SYN-ACK ack = x+1 = {}; y = {y}, ACK ack = y+1 = {}",
        x + 1,
        y + 1
    );
    println!();
    println!("2. Data. curl's HTTP request goes out ({sent} bytes, seq a:b covers the bytes); the server's");
    println!(
        "   response comes in ({received} bytes); each side ACKs with the next byte it expects."
    );
    let shown = 16;
    for (i, _) in data.iter().take(shown) {
        println!("{}", show(lines[*i]));
    }
    if data.len() > shown {
        println!("    ... {} more segments", data.len() - shown);
    }
    println!();
    println!(
        "3. Close. Each side sends a FIN when it closes and ACKs the other's FIN (a FIN takes one"
    );
    println!("   sequence number); utcp's state changes show who closed first.");
    for l in &lines[i_fin..] {
        println!("{}", show(l));
    }
    if ignored > 0 {
        println!("   ({ignored} other trace line(s) not shown, e.g. dropped non-IPv4 packets)");
    }
    println!();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "\
utcp: 0.000088 198.18.0.2:46574 198.18.0.1:8080 CLOSED -> SYN-SENT
utcp: 0.000107 OUT 198.18.0.2.46574 > 198.18.0.1.8080: Flags [S], seq 62628536, win 64240, options [mss 1460,sackOK,TS val 4067553501 ecr 0,nop,wscale 7], length 0
utcp: 0.004447 IN  198.18.0.1.8080 > 198.18.0.2.46574: Flags [S.], seq 2490781930, ack 62628537, win 65160, options [mss 1460,sackOK,TS val 1893810753 ecr 4067553501,nop,wscale 10], length 0
utcp: 0.004447 198.18.0.2:46574 198.18.0.1:8080 SYN-SENT -> ESTABLISHED
utcp: 0.004447 IN  malformed packet (NotIpv4), 48 bytes
utcp: 0.004447 drop not_ipv4
utcp: 0.004458 OUT 198.18.0.2.46574 > 198.18.0.1.8080: Flags [.], ack 2490781931, win 65535, options [nop,nop,TS val 4067553505 ecr 1893810753], length 0
utcp: 0.004597 OUT 198.18.0.2.46574 > 198.18.0.1.8080: Flags [P.], seq 62628537:62628626, ack 2490781931, win 65535, options [nop,nop,TS val 4067553505 ecr 1893810753], length 89
utcp: 0.012021 IN  198.18.0.1.8080 > 198.18.0.2.46574: Flags [P.], seq 2490781931:2490782116, ack 62628626, win 64, options [nop,nop,TS val 1893810764 ecr 4067553505], length 185
utcp: 0.012101 IN  198.18.0.1.8080 > 198.18.0.2.46574: Flags [F.], seq 2490782128, ack 62628626, win 64, options [nop,nop,TS val 1893810764 ecr 4067553513], length 0
utcp: 0.012101 198.18.0.2:46574 198.18.0.1:8080 ESTABLISHED -> CLOSE-WAIT
utcp: 0.012198 OUT 198.18.0.2.46574 > 198.18.0.1.8080: Flags [F.], seq 62628626, ack 2490782129, win 65535, options [nop,nop,TS val 4067553513 ecr 1893810764], length 0
utcp: 0.012439 198.18.0.2:46574 198.18.0.1:8080 LAST-ACK -> CLOSED";

    #[test]
    fn parses_segments() {
        let lines: Vec<&str> = TRACE.lines().collect();
        let s = parse_seg(lines[2]).unwrap();
        assert!(!s.out);
        assert_eq!(
            (s.flags.as_str(), s.seq, s.ack, s.len),
            ("S.", Some(2490781930), Some(62628537), 0)
        );
        let s = parse_seg(lines[7]).unwrap();
        assert_eq!((s.flags.as_str(), s.seq, s.len), ("P.", Some(62628537), 89));
        assert!(parse_seg(lines[0]).is_none() && is_state(lines[0]));
        assert!(parse_seg(lines[4]).is_none() && !is_state(lines[4]));
        assert!(!show(lines[6]).contains("options"));
        assert!(show(lines[1]).contains("wscale 7"));
    }

    #[test]
    fn explains_a_complete_trace() {
        let lines: Vec<&str> = TRACE.lines().collect();
        explain(&lines).unwrap();
        // Without the handshake's last ACK it is not a complete trace.
        let broken: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| !l.contains("ack 2490781931,"))
            .collect();
        assert!(explain(&broken)
            .unwrap_err()
            .contains("no ACK of the SYN-ACK"));
    }
}
