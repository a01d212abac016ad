//! `utcp run`: set UTCP_* variables, preload libutcp.so, exec the program.

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const HELP: &str = "\
usage: utcp run [OPTIONS] [--] PROGRAM [ARGS...]

Runs PROGRAM with libutcp.so first in LD_PRELOAD, so its TCP/IPv4 sockets
are served by utcp over a TUN device (the first such process in a network
namespace gets utcp0: kernel side 198.18.0.1/24, utcp 198.18.0.2).
Options set the variables the library reads (see `utcp vars`); anything
not given is left as the environment has it. Options end at `--` or at
the first argument that is not an option.

options:
  --dev NAME      TUN device to open or create (UTCP_DEV)
  --addr A        utcp's own IPv4 address (UTCP_ADDR)
  --peer A/LEN    the kernel side of the TUN, e.g. 198.18.0.1/24 (UTCP_PEER)
  --mtu N         device MTU, 576..65535 (UTCP_MTU)
  --trace         print each segment and state change to stderr (UTCP_TRACE=1)
  --pcap FILE     write a pcap capture of the device traffic (UTCP_PCAP)
  --lib PATH      libutcp.so to preload (default: $UTCP_LIB, else next to
                  this executable, ../lib, ../release or target/release)
  -n, --dry-run   print the environment and command instead of running it
  -h, --help      this text

exit status: PROGRAM's; 2 for a bad option; 126/127 if PROGRAM cannot run.";

/// What `utcp run` was asked to do.
#[derive(Debug, Default, PartialEq)]
pub struct RunOpts {
    /// (variable, value) pairs to set, in option order.
    pub env: Vec<(&'static str, String)>,
    pub lib: Option<String>,
    pub dry_run: bool,
    pub help: bool,
    pub program: Vec<String>,
}

/// Parse `utcp run`'s arguments. Err is the one line to print (exit 2).
pub fn parse(args: &[String]) -> Result<RunOpts, String> {
    let mut o = RunOpts::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let takes_value = matches!(
            name,
            "--dev" | "--addr" | "--peer" | "--mtu" | "--pcap" | "--lib"
        );
        let value = if takes_value {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => {
                            return Err(format!(
                                "utcp run: {name} needs a value (see utcp run --help)"
                            ))
                        }
                    }
                }
            }
        } else {
            if inline.is_some() {
                return Err(format!("utcp run: {name} takes no value"));
            }
            String::new()
        };
        let bad = |why: &str| format!("utcp run: {name} {value:?}: {why}");
        match name {
            "--dev" => {
                if value.is_empty()
                    || value.len() > 15
                    || value.contains('/')
                    || value.chars().any(char::is_whitespace)
                {
                    return Err(bad("not a device name (1-15 characters, no '/' or spaces)"));
                }
                o.env.push(("UTCP_DEV", value));
            }
            "--addr" => {
                value
                    .parse::<Ipv4Addr>()
                    .map_err(|_| bad("not an IPv4 address"))?;
                o.env.push(("UTCP_ADDR", value));
            }
            "--peer" => {
                parse_cidr(&value)
                    .ok_or_else(|| bad("expected ADDRESS/PREFIX, e.g. 198.18.0.1/24"))?;
                o.env.push(("UTCP_PEER", value));
            }
            "--mtu" => match value.parse::<u32>() {
                Ok(m) if (576..=65535).contains(&m) => o.env.push(("UTCP_MTU", m.to_string())),
                _ => return Err(bad("expected a number from 576 to 65535")),
            },
            "--pcap" => {
                if value.is_empty() {
                    return Err(bad("expected a file name"));
                }
                o.env.push(("UTCP_PCAP", value));
            }
            "--lib" => {
                if value.is_empty() {
                    return Err(bad("expected the path of libutcp.so"));
                }
                o.lib = Some(value);
            }
            "--trace" => o.env.push(("UTCP_TRACE", "1".into())),
            "-n" | "--dry-run" => o.dry_run = true,
            "-h" | "--help" => o.help = true,
            _ => {
                return Err(format!(
                    "utcp run: unknown option {arg:?} (see utcp run --help)"
                ))
            }
        }
        i += 1;
    }
    o.program = args[i..].to_vec();
    // The library refuses an address equal to the kernel's; say so now.
    let get = |k: &str| {
        o.env
            .iter()
            .rev()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
    };
    if let (Some(a), Some(p)) = (get("UTCP_ADDR"), get("UTCP_PEER")) {
        if parse_cidr(p).map(|(pa, _)| pa) == a.parse::<Ipv4Addr>().ok() {
            return Err(format!("utcp run: --addr {a} is the kernel side's address (--peer {p}); pick another in its subnet"));
        }
    }
    if !o.help && o.program.is_empty() {
        return Err(
            "utcp run: no PROGRAM given (usage: utcp run [OPTIONS] -- PROGRAM [ARGS...])".into(),
        );
    }
    Ok(o)
}

pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, l) = s.split_once('/')?;
    if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: u8 = l.parse().ok()?;
    (len <= 32).then_some(())?;
    Some((a.parse().ok()?, len))
}

/// Where libutcp.so is looked for when neither --lib nor UTCP_LIB says.
pub fn default_lib_candidates(exe: &Path) -> Vec<PathBuf> {
    let dir = exe.parent().unwrap_or(Path::new("."));
    [
        "",
        "../lib",
        "../release",
        "target/release",
        "../target/release",
    ]
    .iter()
    .map(|d| dir.join(d).join("libutcp.so"))
    .collect()
}

/// Find libutcp.so: `--lib`, else `$UTCP_LIB`, else near this executable.
/// The result is absolute, so it stays valid if the program changes
/// directory before it forks and execs.
pub fn find_lib(opt: Option<&str>) -> Result<PathBuf, String> {
    let given = match opt {
        Some(p) => Some(("--lib", p.to_string())),
        None => std::env::var("UTCP_LIB")
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| ("UTCP_LIB", v)),
    };
    if let Some((what, p)) = given {
        let path = Path::new(&p);
        if !path.is_file() {
            return Err(format!("utcp: {what} {p}: no such file"));
        }
        check_elf(path)?;
        return std::fs::canonicalize(path).map_err(|e| format!("utcp: {what} {p}: {e}"));
    }
    let exe = std::env::current_exe().map_err(|e| format!("utcp: cannot find libutcp.so: cannot locate this executable: {e}; use --lib PATH or UTCP_LIB"))?;
    let candidates = default_lib_candidates(&exe);
    for c in &candidates {
        if c.is_file() {
            check_elf(c)?;
            return std::fs::canonicalize(c).map_err(|e| format!("utcp: {}: {e}", c.display()));
        }
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|c| normalize(c).display().to_string())
        .collect();
    Err(format!(
        "utcp: cannot find libutcp.so; looked in {} (give --lib PATH or set UTCP_LIB, or build it: cargo build --release)",
        looked.join(", ")
    ))
}

/// Drop `.` and fold `..` lexically, for a readable message.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn check_elf(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "utcp: {} is not an ELF shared library (libutcp.so)",
            path.display()
        ))
    }
}

/// LD_PRELOAD with `lib` first (and only once).
pub fn preload_value(lib: &Path, existing: Option<OsString>) -> OsString {
    let mut v = OsString::from(lib.as_os_str());
    if let Some(old) = existing {
        let old = old.to_string_lossy().into_owned();
        let rest: Vec<&str> = old
            .split([':', ' '])
            .filter(|e| !e.is_empty() && Path::new(e) != lib)
            .collect();
        if !rest.is_empty() {
            v.push(":");
            v.push(rest.join(":"));
        }
    }
    v
}

pub fn main(args: &[String]) -> u8 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if o.help {
        println!("{HELP}");
        return 0;
    }
    let lib = match find_lib(o.lib.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let preload = preload_value(&lib, std::env::var_os("LD_PRELOAD"));
    if o.dry_run {
        println!("LD_PRELOAD={}", preload.to_string_lossy());
        for (k, v) in &o.env {
            println!("{k}={v}");
        }
        println!("exec {}", o.program.join(" "));
        return 0;
    }
    let mut cmd = Command::new(&o.program[0]);
    cmd.args(&o.program[1..]).env("LD_PRELOAD", &preload);
    for (k, v) in &o.env {
        cmd.env(k, v);
    }
    let err = cmd.exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    eprintln!("utcp run: cannot execute {}: {err}", o.program[0]);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<RunOpts, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_then_program() {
        let o = p(&[
            "--dev",
            "utcp3",
            "--mtu=1400",
            "--trace",
            "curl",
            "--max-time",
            "1",
        ])
        .unwrap();
        assert_eq!(
            o.env,
            vec![
                ("UTCP_DEV", "utcp3".into()),
                ("UTCP_MTU", "1400".into()),
                ("UTCP_TRACE", "1".into())
            ]
        );
        assert_eq!(o.program, ["curl", "--max-time", "1"]);
        let o = p(&["--", "--weird-program"]).unwrap();
        assert_eq!(o.program, ["--weird-program"]);
    }

    #[test]
    fn bad_values() {
        for a in [
            &["--mtu", "9", "x"][..],
            &["--mtu", "70000", "x"],
            &["--addr", "1.2.3", "x"],
            &["--peer", "198.18.0.1", "x"],
            &["--peer", "198.18.0.1/33", "x"],
            &["--dev", "a/b", "x"],
            &["--dev", "", "x"],
            &["--mtu"],
            &["--bogus", "x"],
            &["--trace=1", "x"],
            &["--addr", "198.18.0.1", "--peer", "198.18.0.1/24", "x"],
            &[],
        ] {
            let e = p(a).unwrap_err();
            assert!(
                e.starts_with("utcp run: ") && !e.contains('\n'),
                "{a:?}: {e}"
            );
        }
    }

    #[test]
    fn preload_goes_first_once() {
        let lib = Path::new("/x/libutcp.so");
        assert_eq!(preload_value(lib, None), "/x/libutcp.so");
        assert_eq!(
            preload_value(lib, Some("/a.so /x/libutcp.so:/b.so".into())),
            "/x/libutcp.so:/a.so:/b.so"
        );
    }

    #[test]
    fn candidates_near_the_executable() {
        let c = default_lib_candidates(Path::new("/opt/utcp/bin/utcp"));
        assert_eq!(normalize(&c[0]), Path::new("/opt/utcp/bin/libutcp.so"));
        assert_eq!(normalize(&c[1]), Path::new("/opt/utcp/lib/libutcp.so"));
    }
}
