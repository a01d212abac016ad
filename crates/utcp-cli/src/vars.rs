//! `utcp vars`: the configuration table.
//!
//! The CLI does not link the library, so this is a copy of
//! `VARIABLES` in src/runtime/config.rs; a test keeps the two equal.

pub const VARIABLES: &[(&str, &str)] = &[
    (
        "UTCP_DEV",
        "TUN device to open or create (default: the first free utcpN)",
    ),
    (
        "UTCP_ADDR",
        "utcp's own IPv4 address (default: 198.18.N.2, or the device's address + 1)",
    ),
    (
        "UTCP_PEER",
        "the kernel side of the TUN, address/prefix (default: 198.18.N.1/24)",
    ),
    (
        "UTCP_MTU",
        "device MTU, 576..65535 (default 1500); MSS = MTU - 40",
    ),
    (
        "UTCP_TRACE",
        "1: print each segment and state change to stderr",
    ),
    (
        "UTCP_PCAP",
        "file to write a pcap capture of the device traffic to",
    ),
    ("UTCP_LOG", "error, warn, info or debug (default warn)"),
    (
        "UTCP_PASSTHROUGH",
        "comma-separated CIDRs served by the kernel instead (default 127.0.0.0/8)",
    ),
    (
        "UTCP_SYN_RETRIES",
        "SYN retransmissions before ETIMEDOUT (default 6, as Linux)",
    ),
    (
        "UTCP_FAULTS",
        "inject faults at the device, e.g. loss=5%,dup=1%,reorder=2%,delay=10ms,jitter=5ms,corrupt=0.1%,seed=7; in:/out: prefixes for one direction",
    ),
    (
        "UTCP_SPIN_US",
        "how long a blocked call polls the TUN itself before it sleeps, in µs, when its thread waited moments ago (default 50; 0: always sleep at once)",
    ),
    (
        "UTCP_OFFLOAD",
        "1 (default): virtio-net header with checksum offload and TSO/GSO on the TUN; 0: plain packets (UTCP_FAULTS turns it off)",
    ),
];

const HELP: &str = "\
usage: utcp vars

Prints the environment variables libutcp.so reads, read once when a
program's first TCP socket starts the stack. A bad value makes the
library print one line naming the variable.";

pub fn main(args: &[String]) -> u8 {
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            println!("{HELP}");
            return 0;
        }
        Some(other) => {
            eprintln!("utcp vars: unexpected argument {other:?} (usage: utcp vars)");
            return 2;
        }
    }
    let width = VARIABLES
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0)
        .max("VARIABLE".len());
    println!("{:width$}  MEANING", "VARIABLE");
    for (name, meaning) in VARIABLES {
        println!("{name:width$}  {meaning}");
    }
    println!();
    println!("utcp run also reads UTCP_LIB: the libutcp.so to preload (like --lib).");
    0
}

#[cfg(test)]
mod tests {
    use super::VARIABLES;

    const CONFIG_RS: &str = include_str!("../../../src/runtime/config.rs");

    /// The `("NAME", "meaning")` entries of the library's VARIABLES table.
    fn library_table() -> Vec<(String, String)> {
        let start = CONFIG_RS
            .find("pub const VARIABLES")
            .expect("config.rs has no VARIABLES");
        let body = &CONFIG_RS[start..];
        let body = &body[body.find("= &[").expect("VARIABLES = &[") + 4..];
        let body = &body[..body.find("\n];").expect("end of VARIABLES")];
        let mut out = Vec::new();
        for line in body.lines().map(str::trim).filter(|l| l.starts_with("(\"")) {
            // ("NAME", "meaning"),   -- meanings contain no `"` today.
            let parts: Vec<&str> = line.split('"').collect();
            assert!(parts.len() == 5, "cannot read this VARIABLES line: {line}");
            out.push((parts[1].to_string(), parts[3].to_string()));
        }
        out
    }

    #[test]
    fn every_variable_name_appears_in_config_rs() {
        for (name, _) in VARIABLES {
            assert!(
                CONFIG_RS.contains(&format!("\"{name}\"")),
                "{name} is not in src/runtime/config.rs"
            );
        }
    }

    #[test]
    fn copy_equals_the_library_table() {
        let lib = library_table();
        let copy: Vec<(String, String)> = VARIABLES
            .iter()
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .collect();
        assert!(!lib.is_empty());
        assert_eq!(copy, lib, "crates/utcp-cli/src/vars.rs VARIABLES differs from src/runtime/config.rs: copy it again");
    }
}
