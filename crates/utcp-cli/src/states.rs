//! `utcp states`: RFC 9293's state diagram (§3.3.2, Figure 5) as Graphviz
//! DOT, with each transition marked by whether a list of edges (what the
//! engine's tests traced) contains it.

use std::collections::HashSet;
use std::fmt::Write;
use utcp_core::tcp::State;
use State::*;

/// Where an edge comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An arrow of Figure 5.
    Figure,
    /// The text of §3.10 (RST, ABORT) and Linux's timeouts.
    Text,
}

/// The edges drawn: (from, to, event / action, source, and why utcp never
/// traces it, for the edges it never takes by design or does not trace).
pub const EDGES: &[(State, State, &str, Source, Option<&str>)] = &[
    (
        Closed,
        Listen,
        "passive OPEN",
        Source::Figure,
        Some("listeners have no TCB: no state-change event"),
    ),
    (
        Listen,
        Closed,
        "CLOSE",
        Source::Figure,
        Some("listeners have no TCB: no state-change event"),
    ),
    (
        Closed,
        SynSent,
        "active OPEN\\nsnd SYN",
        Source::Figure,
        None,
    ),
    (SynSent, Closed, "CLOSE", Source::Figure, None),
    (
        Listen,
        SynReceived,
        "rcv SYN\\nsnd SYN,ACK",
        Source::Figure,
        None,
    ),
    (
        Listen,
        SynSent,
        "SEND\\nsnd SYN",
        Source::Figure,
        Some("no sockets-API counterpart (Linux: EPIPE)"),
    ),
    (
        SynSent,
        SynReceived,
        "rcv SYN\\nsnd SYN,ACK",
        Source::Figure,
        None,
    ),
    (
        SynSent,
        Established,
        "rcv SYN,ACK\\nsnd ACK",
        Source::Figure,
        None,
    ),
    (
        SynReceived,
        Established,
        "rcv ACK of SYN",
        Source::Figure,
        None,
    ),
    (
        SynReceived,
        FinWait1,
        "CLOSE\\nsnd FIN",
        Source::Figure,
        None,
    ),
    (
        Established,
        FinWait1,
        "CLOSE\\nsnd FIN",
        Source::Figure,
        None,
    ),
    (
        Established,
        CloseWait,
        "rcv FIN\\nsnd ACK",
        Source::Figure,
        None,
    ),
    (FinWait1, FinWait2, "rcv ACK of FIN", Source::Figure, None),
    (FinWait1, Closing, "rcv FIN\\nsnd ACK", Source::Figure, None),
    (CloseWait, LastAck, "CLOSE\\nsnd FIN", Source::Figure, None),
    (
        FinWait2,
        TimeWait,
        "rcv FIN\\nsnd ACK",
        Source::Figure,
        None,
    ),
    (Closing, TimeWait, "rcv ACK of FIN", Source::Figure, None),
    (LastAck, Closed, "rcv ACK of FIN", Source::Figure, None),
    (TimeWait, Closed, "timeout 2MSL", Source::Figure, None),
    (
        FinWait1,
        TimeWait,
        "rcv FIN,ACK of FIN",
        Source::Text,
        Some("utcp takes the ACK, then the FIN: via FIN-WAIT-2"),
    ),
    (SynReceived, Closed, "rcv RST", Source::Text, None),
    (Established, Closed, "rcv RST / ABORT", Source::Text, None),
    (FinWait1, Closed, "rcv RST", Source::Text, None),
    (
        FinWait2,
        Closed,
        "rcv RST / orphan timeout",
        Source::Text,
        None,
    ),
    (CloseWait, Closed, "rcv RST", Source::Text, None),
    (Closing, Closed, "rcv RST", Source::Text, None),
];

/// Edges as (from, to).
pub type Edges = HashSet<(State, State)>;

const ALL: [State; 11] = State::ALL;

fn by_name(name: &str) -> Option<State> {
    ALL.into_iter().find(|s| s.name() == name)
}

/// Read "FROM -> TO" lines (what the test harness appends); other lines
/// are errors, blank ones are skipped.
pub fn parse_edges(text: &str) -> Result<Edges, String> {
    let mut out = Edges::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let edge = line
            .split_once(" -> ")
            .and_then(|(a, b)| Some((by_name(a.trim())?, by_name(b.trim())?)));
        match edge {
            Some(e) => {
                out.insert(e);
            }
            None => return Err(format!("line {}: not \"STATE -> STATE\": {line:?}", n + 1)),
        }
    }
    Ok(out)
}

/// Covered / total edges of each source.
pub fn counts(covered: &Edges, source: Source) -> (usize, usize) {
    let of: Vec<_> = EDGES.iter().filter(|e| e.3 == source).collect();
    (
        of.iter().filter(|e| covered.contains(&(e.0, e.1))).count(),
        of.len(),
    )
}

fn id(s: State) -> String {
    s.name().replace('-', "_")
}

/// The node an edge ends at: a connection that was open ends at the
/// bottom CLOSED.
fn node_to(from: State, to: State) -> String {
    if to == Closed && !matches!(from, Listen | SynSent) {
        "CLOSED_END".into()
    } else {
        id(to)
    }
}

/// The DOT text. Without `covered`, the plain diagram.
pub fn dot(covered: Option<&Edges>) -> String {
    let mut o = String::new();
    o += "// RFC 9293 section 3.3.2 (Figure 5) and the transitions of its text,\n";
    o += "// generated by `utcp states`";
    if let Some(c) = covered {
        let (f, ft) = counts(c, Source::Figure);
        let (t, tt) = counts(c, Source::Text);
        let _ = write!(o, " from the engine tests' traced state changes:\n// Figure 5: {f}/{ft} edges covered; text: {t}/{tt}");
    }
    o += "\ndigraph tcp_states {\n";
    o += "  graph [fontname=\"Helvetica\", fontsize=11, nodesep=0.5, ranksep=0.45";
    if let Some(c) = covered {
        let (f, ft) = counts(c, Source::Figure);
        let (t, tt) = counts(c, Source::Text);
        let _ = write!(
            o,
            ", labelloc=t, label=<<b>TCP states (RFC 9293)</b> and what utcp-core's tests traced: Figure 5 {f}/{ft} edges, its text {t}/{tt}<br/>\
<font color=\"#1e8449\">green solid: traced</font> &nbsp; <font color=\"#c0392b\">red dashed: never traced</font> &nbsp; \
<font color=\"#7f8c8d\">grey dotted: never traced, by design</font> &nbsp; thin: from the RFC's text, not its figure<br/> >"
        );
    }
    o += "];\n";
    o += "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f6f7\", fontname=\"Helvetica-Bold\", fontsize=11];\n";
    o += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
    for s in ALL {
        let _ = writeln!(o, "  {} [label=\"{}\"];", id(s), s.name());
    }
    // As in the figure, CLOSED twice: where connections start (top) and
    // where they end (bottom).
    o += "  CLOSED_END [label=\"CLOSED\"];\n";
    o += "  { rank=same; TIME_WAIT; CLOSED_END; }\n";
    // The figure's layout: the open at the top, the closes below.
    o += "  { rank=same; SYN_RECEIVED; SYN_SENT; }\n";
    o += "  { rank=same; FIN_WAIT_1; CLOSE_WAIT; }\n";
    o += "  { rank=same; FIN_WAIT_2; CLOSING; LAST_ACK; }\n";
    for &(from, to, label, source, untraceable) in EDGES {
        let mut attrs = vec![format!("label=\"{label}\"")];
        match (covered, untraceable) {
            (None, _) => {}
            (Some(c), _) if c.contains(&(from, to)) => {
                attrs.push("color=\"#1e8449\", fontcolor=\"#1e8449\", style=solid".into())
            }
            (Some(_), Some(why)) => {
                attrs[0] = format!("label=\"{label}\\n({why})\"");
                attrs.push("color=\"#7f8c8d\", fontcolor=\"#7f8c8d\", style=dotted".into())
            }
            (Some(_), None) => {
                attrs.push("color=\"#c0392b\", fontcolor=\"#c0392b\", style=dashed".into())
            }
        }
        attrs.push(match source {
            Source::Figure => "penwidth=1.8".into(),
            Source::Text => "penwidth=0.9, constraint=false".into(),
        });
        let _ = writeln!(
            o,
            "  {} -> {} [{}];",
            id(from),
            node_to(from, to),
            attrs.join(", ")
        );
    }
    // Anything traced that the RFC does not have, so it is not lost.
    if let Some(c) = covered {
        let mut extra: Vec<(State, State)> = c.iter().copied().collect();
        extra.sort_by_key(|&(a, b)| (a.name(), b.name()));
        for (from, to) in extra {
            if !EDGES.iter().any(|e| (e.0, e.1) == (from, to)) {
                let _ = writeln!(
                    o,
                    "  {} -> {} [label=\"traced, not in RFC 9293\", color=\"#2e86c1\", fontcolor=\"#2e86c1\", constraint=false];",
                    id(from),
                    node_to(from, to)
                );
            }
        }
    }
    o += "}\n";
    o
}

const HELP: &str = "\
usage: utcp states [--covered EDGES]

Prints RFC 9293's TCP state diagram (Figure 5, and the RST and timeout
transitions of its text) as Graphviz DOT: `utcp states | dot -Tsvg`.
With --covered, EDGES is a file of \"FROM -> TO\" lines (the state
changes the engine's tests traced; scripts/pictures makes it) and each
transition is drawn green and solid when it is in the file, red and
dashed when not; the counts go to stderr.";

pub fn main(args: &[String]) -> u8 {
    let mut covered_file = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return 0;
            }
            "--covered" => {
                i += 1;
                match args.get(i) {
                    Some(v) if !v.is_empty() => covered_file = Some(v.clone()),
                    _ => {
                        eprintln!("utcp states: --covered needs a file name");
                        return 2;
                    }
                }
            }
            other => {
                eprintln!("utcp states: unexpected argument {other:?} (usage: utcp states [--covered EDGES])");
                return 2;
            }
        }
        i += 1;
    }
    let covered = match covered_file {
        None => None,
        Some(f) => {
            let text = match std::fs::read_to_string(&f) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("utcp states: cannot read {f}: {e}");
                    return 1;
                }
            };
            match parse_edges(&text) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("utcp states: {f}: {e}");
                    return 1;
                }
            }
        }
    };
    print!("{}", dot(covered.as_ref()));
    if let Some(c) = &covered {
        let (f, ft) = counts(c, Source::Figure);
        let (t, tt) = counts(c, Source::Text);
        eprintln!("utcp states: Figure 5: {f}/{ft} edges covered; text: {t}/{tt}");
        for e in EDGES.iter().filter(|e| !c.contains(&(e.0, e.1))) {
            eprintln!(
                "utcp states:   not traced: {} -> {}{}",
                e.0,
                e.1,
                e.4.map(|w| format!(" ({w})")).unwrap_or_default()
            );
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_5_has_nineteen_arrows_and_no_duplicates() {
        assert_eq!(EDGES.iter().filter(|e| e.3 == Source::Figure).count(), 19);
        let pairs: HashSet<_> = EDGES.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(pairs.len(), EDGES.len());
    }

    #[test]
    fn parses_the_harness_lines() {
        let c = parse_edges("CLOSED -> SYN-SENT\n\nSYN-SENT -> ESTABLISHED\nCLOSED -> SYN-SENT\n")
            .unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.contains(&(SynSent, Established)));
        assert!(parse_edges("CLOSED -> NOWHERE")
            .unwrap_err()
            .contains("line 1"));
    }

    #[test]
    fn covered_edges_are_green_and_the_rest_red_or_grey() {
        let c = parse_edges("CLOSED -> SYN-SENT\nESTABLISHED -> TIME-WAIT\n").unwrap();
        let d = dot(Some(&c));
        assert!(d.contains("TIME_WAIT -> CLOSED_END [label=\"timeout 2MSL\", color=\"#c0392b\""));
        assert!(
            d.contains("CLOSED -> SYN_SENT [label=\"active OPEN\\nsnd SYN\", color=\"#1e8449\"")
        );
        assert!(d.contains("SYN_SENT -> ESTABLISHED [label=\"rcv SYN,ACK\\nsnd ACK\", color=\"#c0392b\", fontcolor=\"#c0392b\", style=dashed"));
        assert!(d.contains("CLOSED -> LISTEN [label=\"passive OPEN\\n(listeners have no TCB"));
        assert!(d.contains("ESTABLISHED -> TIME_WAIT [label=\"traced, not in RFC 9293\""));
        assert!(d.contains("Figure 5: 1/19 edges covered; text: 0/7"));
        assert_eq!(counts(&c, Source::Figure), (1, 19));
        // Without coverage: no colours.
        assert!(!dot(None).contains("#c0392b"));
    }
}
