//! The ladder as an SVG picture, written as text: the two lifelines, a
//! sloped arrow per segment (time runs down), its label above it, and the
//! states in boxes beside the lifelines where they change.

use super::{states_note, Arrow, Ladder};
use core::fmt::Write;
use utcp_core::tcp::State;

const ROW: f64 = 38.0;
const SLOPE: f64 = 16.0;
const LEFT_X: f64 = 250.0;
const RIGHT_X: f64 = 690.0;
const WIDTH: f64 = 940.0;
const HEAD: f64 = 78.0;
const CHAR_W: f64 = 7.2;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Arrow colours by what the segment does: reset, open, close, data, ack.
const COLOURS: [&str; 5] = ["#c0392b", "#1e8449", "#ca6f1e", "#2e86c1", "#566573"];

fn colour(a: &Arrow) -> usize {
    if a.flags.rst() {
        0
    } else if a.flags.syn() {
        1
    } else if a.flags.fin() {
        2
    } else if a.len > 0 {
        3
    } else {
        4
    }
}

/// A state in a box, its near edge `x` from the lifeline on `side`.
fn state_box(out: &mut String, x: f64, y: f64, text: &str, left: bool) {
    let w = text.len() as f64 * CHAR_W + 12.0;
    let bx = if left { x - w } else { x };
    let fill = if text.ends_with("ESTABLISHED") {
        "#d5f5e3"
    } else {
        "#fdebd0"
    };
    let _ = writeln!(
        out,
        r##"<rect x="{bx:.1}" y="{:.1}" width="{w:.1}" height="18" rx="4" fill="{fill}" stroke="#7f8c8d" stroke-width="0.6"/>"##,
        y - 13.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{y:.1}" class="state">{}</text>"#,
        bx + 6.0,
        esc(text)
    );
}

pub fn render(ladders: &[Ladder]) -> String {
    let heights: Vec<f64> = ladders
        .iter()
        .map(|l| HEAD + (l.arrows.len() as f64 + 1.0) * ROW + 30.0)
        .collect();
    let total: f64 = heights.iter().sum::<f64>() + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total:.0}" viewBox="0 0 {WIDTH} {total:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">"#
    );
    out += "<defs>\n";
    // One arrowhead per colour (context-stroke is SVG 2, not everywhere).
    for (i, c) in COLOURS.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<marker id="head{i}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"#
        );
    }
    out += r##"<style>.state{font-weight:bold;fill:#1b2631}.label{fill:#1b2631}.time{fill:#7f8c8d;font-size:11px}.name{font-weight:bold;font-size:13px}</style></defs>
<rect width="100%" height="100%" fill="white"/>
"##;
    let mut top = 10.0;
    for (i, (l, h)) in ladders.iter().zip(&heights).enumerate() {
        draw(&mut out, l, top, i, ladders.len());
        top += h;
    }
    out += "</svg>\n";
    out
}

fn draw(out: &mut String, l: &Ladder, top: f64, index: usize, count: usize) {
    let title = if count > 1 {
        format!(
            "connection {} of {count}: {} \u{2194} {}",
            index + 1,
            l.left,
            l.right
        )
    } else {
        format!("{} \u{2194} {}", l.left, l.right)
    };
    let _ = writeln!(
        out,
        r#"<text x="10" y="{:.1}" class="name">{}</text>"#,
        top + 14.0,
        esc(&title)
    );
    let names_y = top + 40.0;
    for (x, name) in [(LEFT_X, l.left.to_string()), (RIGHT_X, l.right.to_string())] {
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="{names_y:.1}" text-anchor="middle" class="name">{name}</text>"#
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="10" y="{names_y:.1}" class="time">time (s)</text>"#
    );
    let line_top = names_y + 8.0;
    let bottom = top + HEAD + (l.arrows.len() as f64 + 1.0) * ROW;
    for x in [LEFT_X, RIGHT_X] {
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{line_top:.1}" x2="{x}" y2="{bottom:.1}" stroke="#1b2631" stroke-width="2"/>"##
        );
    }
    let first = top + HEAD;
    let initial = |s: State| s.name().to_string();
    state_box(out, LEFT_X - 8.0, first - 6.0, &initial(l.initial.0), true);
    state_box(
        out,
        RIGHT_X + 8.0,
        first - 6.0,
        &initial(l.initial.1),
        false,
    );
    for (k, a) in l.arrows.iter().enumerate() {
        let y = first + (k as f64 + 1.0) * ROW - 10.0;
        let (x1, x2) = if a.rightward {
            (LEFT_X, RIGHT_X)
        } else {
            (RIGHT_X, LEFT_X)
        };
        let k = colour(a);
        let c = COLOURS[k];
        let _ = writeln!(
            out,
            r#"<line x1="{x1}" y1="{y:.1}" x2="{x2}" y2="{:.1}" stroke="{c}" stroke-width="1.6" marker-end="url(#head{k})"/>"#,
            y + SLOPE
        );
        // The label over the middle of the arrow, tilted with it.
        let (mx, my) = ((LEFT_X + RIGHT_X) / 2.0, y + SLOPE / 2.0 - 5.0);
        let angle = (SLOPE / (x2 - x1)).atan().to_degrees();
        let _ = writeln!(
            out,
            r#"<text x="{mx}" y="{my:.1}" text-anchor="middle" class="label" transform="rotate({angle:.2} {mx} {:.1})">{}</text>"#,
            y + SLOPE / 2.0,
            esc(&a.label())
        );
        let _ = writeln!(
            out,
            r#"<text x="10" y="{:.1}" class="time">{:.6}</text>"#,
            y + 4.0,
            a.micros as f64 / 1e6
        );
        // A sender changes state as it sends (the arrow's tail), the
        // receiver as it receives (the head).
        let (ly, ry) = if a.rightward {
            (y, y + SLOPE)
        } else {
            (y + SLOPE, y)
        };
        if !a.left_states.is_empty() {
            state_box(
                out,
                LEFT_X - 8.0,
                ly + 4.0,
                &states_note(&a.left_states),
                true,
            );
        }
        if !a.right_states.is_empty() {
            state_box(
                out,
                RIGHT_X + 8.0,
                ry + 4.0,
                &states_note(&a.right_states),
                false,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{build, pcap, tests::sample_pcap};
    use super::*;

    #[test]
    fn the_sample_connection() {
        let svg = render(&build(&pcap::read(&sample_pcap()).unwrap()));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // Ten arrows (plus the two lifelines), each with its label.
        assert_eq!(svg.matches("marker-end=\"url(#head").count(), 10);
        for label in [
            "S seq 0 len 0",
            "S. seq 0 ack 1 len 0",
            "F. seq 78 ack 302 len 0",
        ] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        // The initial states and every change: 2 + 10 boxes.
        assert_eq!(svg.matches("class=\"state\"").count(), 12);
        for s in [
            "SYN-SENT",
            "SYN-RECEIVED",
            "CLOSE-WAIT",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "LAST-ACK",
            "TIME-WAIT",
        ] {
            assert!(svg.contains(&format!(">{s}</text>")), "{s}");
        }
        // Balanced: every element opened is closed.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b>&\"c"), "a&lt;b&gt;&amp;&quot;c");
    }
}
