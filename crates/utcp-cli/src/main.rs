//! `utcp`: run unmodified programs on the utcp userspace TCP stack.
//!
//! This binary never links the stack: `utcp run` only sets `UTCP_*`
//! variables, puts libutcp.so in front of `LD_PRELOAD` and execs the
//! program (like `onload PROGRAM`).

mod demo;
mod ladder;
mod proc;
mod run;
mod states;
mod vars;

use std::process::ExitCode;

const USAGE: &str = "\
utcp: run unmodified Linux programs on the utcp userspace TCP/IPv4 stack

usage:
  utcp run [OPTIONS] [--] PROGRAM [ARGS...]   run PROGRAM with libutcp.so preloaded
  utcp demo [--lib PATH]                       curl fetches a page over utcp, with a trace
  utcp vars                                    the UTCP_* configuration variables
  utcp trace FILE.pcap [--svg OUT] [--text]    a ladder diagram of each TCP connection
  utcp states [--covered EDGES]                RFC 9293's state diagram as Graphviz DOT
  utcp help [COMMAND]                          this text, or a command's help

`utcp COMMAND --help` describes each command.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = dispatch(&args);
    ExitCode::from(code)
}

fn dispatch(args: &[String]) -> u8 {
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return 2;
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "run" => run::main(rest),
        "demo" => demo::main(rest),
        "vars" => vars::main(rest),
        "trace" => ladder::main(rest),
        "states" => states::main(rest),
        "help" | "-h" | "--help" => match rest.first().map(String::as_str) {
            None => {
                println!("{USAGE}");
                0
            }
            Some("run") => run::main(&["--help".to_string()]),
            Some("demo") => demo::main(&["--help".to_string()]),
            Some("vars") => vars::main(&["--help".to_string()]),
            Some("trace") => ladder::main(&["--help".to_string()]),
            Some("states") => states::main(&["--help".to_string()]),
            Some(other) => {
                eprintln!("utcp: no command {other:?}; commands: run, demo, vars, trace, states");
                2
            }
        },
        "-V" | "--version" => {
            println!("utcp {}", env!("CARGO_PKG_VERSION"));
            0
        }
        other => {
            eprintln!(
                "utcp: unknown command {other:?}; commands: run, demo, vars, trace, states (see utcp --help)"
            );
            2
        }
    }
}
