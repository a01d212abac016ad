//! The ladder for a terminal: time, the left side's state, the left
//! lifeline, the arrow with its label, the right lifeline, the right
//! side's state.
//!
//! ```text
//!     time                   198.18.0.2:48662                            198.18.0.1:8080
//!                                      CLOSED |                          | LISTEN
//! 0.000000                           SYN-SENT |---- S seq 0 len 0 ------>|
//! ```

use super::{states_note, Ladder};

/// Arrows are at least this wide, and wider than their longest label.
const MIN_ARROW: usize = 36;

pub fn render(ladders: &[Ladder]) -> String {
    let mut out = String::new();
    for (i, l) in ladders.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if ladders.len() > 1 {
            out += &format!(
                "connection {} of {}: {} <-> {}\n",
                i + 1,
                ladders.len(),
                l.left,
                l.right
            );
        }
        render_one(&mut out, l);
    }
    out
}

fn render_one(out: &mut String, l: &Ladder) {
    let left_name = l.left.to_string();
    let right_name = l.right.to_string();
    let lw = l
        .arrows
        .iter()
        .map(|a| states_note(&a.left_states).len())
        .chain([left_name.len(), l.initial.0.name().len()])
        .max()
        .unwrap_or(0);
    let aw = l
        .arrows
        .iter()
        .map(|a| a.label().len() + 8)
        .max()
        .unwrap_or(0)
        .max(MIN_ARROW);
    let times: Vec<String> = l
        .arrows
        .iter()
        .map(|a| format!("{:.6}", a.micros as f64 / 1e6))
        .collect();
    let tw = times.iter().map(String::len).max().unwrap_or(0).max(4);

    let line = |out: &mut String, time: &str, left: &str, mid: &str, right: &str| {
        let s = format!("{time:>tw$}  {left:>lw$} {mid} {right}");
        out.push_str(s.trim_end());
        out.push('\n');
    };
    // The names sit over the lifelines: the left one ends at it, the right
    // one starts at it.
    line(out, "time", &left_name, &" ".repeat(aw + 2), &right_name);
    let blank = format!("|{}|", " ".repeat(aw));
    line(out, "", l.initial.0.name(), &blank, l.initial.1.name());
    for (a, time) in l.arrows.iter().zip(&times) {
        let label = format!(" {} ", a.label());
        let shaft = aw - label.len() - 1;
        // The label sits nearer the arrow's tail, as it is read from there.
        let (before, after) = (3, shaft - 3);
        let mid = if a.rightward {
            format!("|{}{label}{}>|", "-".repeat(before), "-".repeat(after))
        } else {
            format!("|<{}{label}{}|", "-".repeat(after), "-".repeat(before))
        };
        line(
            out,
            time,
            &states_note(&a.left_states),
            &mid,
            &states_note(&a.right_states),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::{build, pcap, tests::sample_pcap};
    use super::*;

    #[test]
    fn the_sample_connection() {
        let text = render(&build(&pcap::read(&sample_pcap()).unwrap()));
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.len(), 12, "{text}");
        assert_eq!(
            got[..4],
            [
                "    time  198.18.0.2:48662                                        198.18.0.1:8080",
                "                    CLOSED |                                    | LISTEN",
                "0.000000          SYN-SENT |--- S seq 0 len 0 ----------------->|",
                "0.003500       ESTABLISHED |<---------- S. seq 0 ack 1 len 0 ---| SYN-RECEIVED",
            ],
            "{text}"
        );
        // Every row's lifelines line up.
        let bar = got[1].find('|').unwrap();
        let bar2 = got[1].rfind('|').unwrap();
        for row in &got[1..] {
            assert_eq!(row.find('|'), Some(bar), "{text}");
            assert_eq!(row.rfind('|'), Some(bar2), "{text}");
        }
        assert!(
            got[11].contains("CLOSED |<") && got[11].contains(". seq 302 ack 79 len 0"),
            "{text}"
        );
        assert!(
            got[10].contains("LAST-ACK |--- F. seq 78 ack 302 len 0 ")
                && got[10].ends_with(">| TIME-WAIT")
        );
    }

    #[test]
    fn several_connections_are_numbered() {
        let mut ladders = build(&pcap::read(&sample_pcap()).unwrap());
        ladders.push(ladders[0].clone());
        let text = render(&ladders);
        assert!(text.starts_with("connection 1 of 2: 198.18.0.2:48662 <-> 198.18.0.1:8080\n"));
        assert!(text.contains("\n\nconnection 2 of 2: "));
    }
}
