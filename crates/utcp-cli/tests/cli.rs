//! The `utcp` command's arguments and errors. No network: `run` is
//! checked with --dry-run, or by running `env`, which opens no sockets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn utcp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_utcp"))
        .args(args)
        .env_remove("UTCP_LIB")
        .env_remove("LD_PRELOAD")
        .output()
        .expect("run utcp")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A file that looks like a shared library (the ELF magic) for --lib.
fn fake_lib(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("utcp-cli-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lib = dir.join("libutcp.so");
    std::fs::write(&lib, b"\x7fELF-not-really").unwrap();
    lib
}

/// Exit 2 and exactly one line on stderr that starts with `prefix`.
fn assert_usage_error(args: &[&str], prefix: &str, mentions: &str) {
    let o = utcp(args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(
        err.starts_with(prefix) && err.contains(mentions),
        "{args:?}: {err}"
    );
    assert!(o.stdout.is_empty(), "{args:?}");
}

#[test]
fn help() {
    for args in [
        &["--help"][..],
        &["help"],
        &["run", "--help"],
        &["help", "run"],
        &["demo", "--help"],
        &["vars", "--help"],
        &["trace", "--help"],
        &["help", "states"],
    ] {
        let o = utcp(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(text(&o.stdout).contains("usage"), "{args:?}");
    }
    let run_help = text(&utcp(&["run", "--help"]).stdout);
    for opt in [
        "--dev", "--addr", "--peer", "--mtu", "--trace", "--pcap", "--lib",
    ] {
        assert!(run_help.contains(opt), "run --help lacks {opt}");
    }
}

#[test]
fn usage_errors() {
    let o = utcp(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert_usage_error(&["frobnicate"], "utcp: unknown command", "frobnicate");
    assert_usage_error(&["vars", "extra"], "utcp vars:", "extra");
    assert_usage_error(&["demo", "--bogus"], "utcp demo:", "--bogus");
    assert_usage_error(&["trace"], "utcp trace:", "no capture file");
    assert_usage_error(&["trace", "a.pcap", "--bogus"], "utcp trace:", "--bogus");
    assert_usage_error(&["trace", "a.pcap", "--svg"], "utcp trace:", "--svg");
    assert_usage_error(&["states", "--bogus"], "utcp states:", "--bogus");
}

#[test]
fn bad_run_options_are_one_line_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--mtu", "9", "--", "true"], "576 to 65535"),
        (&["run", "--mtu=abc", "true"], "--mtu"),
        (
            &["run", "--addr", "198.18.0.300", "true"],
            "not an IPv4 address",
        ),
        (&["run", "--peer", "198.18.0.1", "true"], "ADDRESS/PREFIX"),
        (
            &["run", "--peer", "198.18.0.1/40", "true"],
            "ADDRESS/PREFIX",
        ),
        (&["run", "--dev", "a/b", "true"], "device name"),
        (
            &["run", "--dev", "waytoolongdevicename", "true"],
            "device name",
        ),
        (&["run", "--pcap=", "true"], "file name"),
        (
            &[
                "run",
                "--addr",
                "198.18.0.1",
                "--peer",
                "198.18.0.1/24",
                "true",
            ],
            "kernel side",
        ),
        (&["run", "--mtu"], "needs a value"),
        (&["run", "--trace=yes", "true"], "takes no value"),
        (&["run", "--frob", "true"], "unknown option"),
        (&["run", "--trace"], "no PROGRAM"),
        (&["run"], "no PROGRAM"),
    ];
    for (args, mentions) in cases {
        assert_usage_error(args, "utcp run: ", mentions);
    }
}

#[test]
fn missing_library_names_where_it_looked() {
    assert_usage_error(
        &["run", "--lib", "/nonexistent/libutcp.so", "true"],
        "utcp: --lib /nonexistent/libutcp.so",
        "no such file",
    );
    let not_elf = std::env::temp_dir().join(format!("utcp-cli-test-{}-notelf", std::process::id()));
    std::fs::write(&not_elf, "hello").unwrap();
    assert_usage_error(
        &["run", "--lib", not_elf.to_str().unwrap(), "true"],
        "utcp: ",
        "not an ELF",
    );
    let _ = std::fs::remove_file(&not_elf);

    let o = Command::new(env!("CARGO_BIN_EXE_utcp"))
        .args(["run", "true"])
        .env("UTCP_LIB", "/nonexistent/x.so")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("UTCP_LIB /nonexistent/x.so: no such file"),
        "{}",
        text(&o.stderr)
    );

    // With nothing given and no library near the executable, the message
    // lists the places it tried. Copy the binary somewhere empty.
    let dir = std::env::temp_dir().join(format!("utcp-cli-test-{}-alone/bin", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("utcp");
    std::fs::copy(env!("CARGO_BIN_EXE_utcp"), &exe).unwrap();
    // A test running in parallel may fork while the copy is open for
    // writing; its child holds the fd until it execs, and exec of the copy
    // fails with ETXTBSY meanwhile. Try again briefly.
    let mut tries = 0;
    let o = loop {
        match Command::new(&exe).args(["run", "true"]).env_remove("UTCP_LIB").output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => break r.unwrap(),
        }
    };
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot find libutcp.so"), "{err}");
    assert!(
        err.contains(&dir.join("libutcp.so").display().to_string()),
        "{err}"
    );
    assert!(
        err.contains(
            &dir.parent()
                .unwrap()
                .join("lib/libutcp.so")
                .display()
                .to_string()
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn dry_run_shows_the_environment() {
    let lib = fake_lib("dry");
    let o = Command::new(env!("CARGO_BIN_EXE_utcp"))
        .args([
            "run",
            "--lib",
            lib.to_str().unwrap(),
            "--dev=utcp7",
            "--addr",
            "198.18.7.9",
            "--peer",
            "198.18.7.1/24",
        ])
        .args([
            "--mtu",
            "1400",
            "--trace",
            "--pcap",
            "/tmp/x.pcap",
            "-n",
            "--",
            "curl",
            "-v",
            "--mtu",
            "x",
        ])
        .env("LD_PRELOAD", "/other.so")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lib = std::fs::canonicalize(&lib).unwrap();
    let expect = format!(
        "LD_PRELOAD={}:/other.so\nUTCP_DEV=utcp7\nUTCP_ADDR=198.18.7.9\nUTCP_PEER=198.18.7.1/24\nUTCP_MTU=1400\nUTCP_TRACE=1\nUTCP_PCAP=/tmp/x.pcap\nexec curl -v --mtu x\n",
        lib.display()
    );
    assert_eq!(out, expect);
    let _ = std::fs::remove_dir_all(lib.parent().unwrap());
}

/// The real libutcp.so if this build made it (cargo build --workspace puts
/// it next to the binary).
fn built_lib() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_BIN_EXE_utcp")).with_file_name("libutcp.so");
    p.is_file().then_some(p)
}

#[test]
fn run_execs_the_program_with_the_variables() {
    let Some(lib) = built_lib() else {
        eprintln!(
            "skipped: no libutcp.so next to the utcp binary (cargo build --workspace makes it)"
        );
        return;
    };
    // Found next to the executable; `env` makes no sockets, so the
    // preloaded library never starts a stack or touches a device.
    let o = utcp(&["run", "--mtu", "1280", "--trace", "env"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lib = std::fs::canonicalize(lib).unwrap();
    assert!(
        out.lines()
            .any(|l| l == format!("LD_PRELOAD={}", lib.display())),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "UTCP_MTU=1280"), "{out}");
    assert!(out.lines().any(|l| l == "UTCP_TRACE=1"), "{out}");
    // The program's exit status is passed through.
    let o = utcp(&["run", "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn unrunnable_program_is_127() {
    let lib = fake_lib("exec");
    let o = utcp(&[
        "run",
        "--lib",
        lib.to_str().unwrap(),
        "--",
        "/nonexistent/program",
    ]);
    assert_eq!(o.status.code(), Some(127));
    assert!(
        text(&o.stderr).contains("cannot execute /nonexistent/program"),
        "{}",
        text(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(lib.parent().unwrap());
}

#[test]
fn vars_lists_every_variable() {
    let o = utcp(&["vars"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    for v in [
        "UTCP_DEV",
        "UTCP_ADDR",
        "UTCP_PEER",
        "UTCP_MTU",
        "UTCP_TRACE",
        "UTCP_PCAP",
        "UTCP_LOG",
        "UTCP_PASSTHROUGH",
        "UTCP_SYN_RETRIES",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(v)),
            "vars lacks {v}:\n{out}"
        );
    }
}

/// `utcp trace` on a capture written as utcp writes them (LINKTYPE_RAW):
/// a SYN refused with RST,ACK.
#[test]
fn trace_draws_a_refused_connection() {
    let ip = |src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, seq: u32, ack: u32, flags: u8| {
        let mut p = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ack.to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p
    };
    let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0];
    for (t, p) in [
        (0u32, ip([198, 18, 0, 2], [198, 18, 0, 1], 40000, 9, 77, 0, 0x02)),
        (10, ip([198, 18, 0, 1], [198, 18, 0, 2], 9, 40000, 0, 78, 0x14)),
    ] {
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&t.to_le_bytes());
        file.extend_from_slice(&(p.len() as u32).to_le_bytes());
        file.extend_from_slice(&(p.len() as u32).to_le_bytes());
        file.extend_from_slice(&p);
    }
    let dir = std::env::temp_dir().join(format!("utcp-cli-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("refused.pcap");
    let svg = dir.join("refused.svg");
    std::fs::write(&pcap, &file).unwrap();
    let o = utcp(&["trace", pcap.to_str().unwrap(), "--text", "--svg", svg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("SYN-SENT |--- S seq 0 len 0 "), "{out}");
    assert!(out.contains("CLOSED |<") && out.contains("R. seq 0 ack 1 len 0 ---| CLOSED"), "{out}");
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.contains(">R. seq 0 ack 1 len 0</text>"));
    // Not a capture: one line, exit 1.
    std::fs::write(&pcap, b"not a capture at all, really").unwrap();
    let o = utcp(&["trace", pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("not a pcap file"), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
