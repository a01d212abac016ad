//! What a simulated wire does to packets, and the `key=value,...` text form
//! that tests and the runtime's `UTCP_FAULTS` share.

use core::time::Duration;

/// Impairments for one direction of a [`Link`](super::Link).
///
/// `Default` is a perfect wire: no loss, no delay, infinite rate. It is
/// zero rather than "a realistic LAN" because the runtime applies parsed
/// impairments to real traffic, where an unmentioned key must change
/// nothing; simulations that want a round-trip time set `delay`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairments {
    /// Probability (0.0..=1.0) that a packet is dropped.
    pub loss: f64,
    /// Probability that a packet is delivered twice.
    pub dup: f64,
    /// Probability that a packet is held back by `reorder_delay`, so that
    /// packets sent after it overtake it.
    pub reorder: f64,
    /// Probability that one random bit of a packet is flipped.
    pub corrupt: f64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter)` per packet. Jitter
    /// alone never reorders: a packet is never delivered before the one sent
    /// ahead of it (a real path keeps order; reordering is the `reorder`
    /// impairment's job). The cost is that jitter only ever stretches gaps.
    pub jitter: Duration,
    /// How long a reordered packet is held back. Default 1 ms, so that
    /// `reorder=N%` alone reorders a burst without further keys.
    pub reorder_delay: Duration,
    /// Serialization rate in bits per second; `None` (or `Some(0)`) is
    /// infinite. Packets queue behind each other at this rate.
    pub rate_bps: Option<u64>,
    /// Most packets the link holds at once (queued for serialization or
    /// propagating), as netem's `limit`; an arriving packet beyond it is
    /// tail-dropped. Default 1000, netem's default. Also bounds memory. The
    /// check is on entry, so a `dup` copy may take the link one past it.
    pub queue_limit: usize,
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments {
            loss: 0.0,
            dup: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            reorder_delay: Duration::from_millis(1),
            rate_bps: None,
            queue_limit: 1000,
        }
    }
}

impl Impairments {
    /// Whether these impairments leave every packet untouched and on time,
    /// so a fault injector can pass packets straight through. `limit` and
    /// `reorder_delay` alone change nothing: nothing is ever held.
    pub fn is_noop(&self) -> bool {
        self.loss == 0.0
            && self.dup == 0.0
            && self.reorder == 0.0
            && self.corrupt == 0.0
            && self.delay.is_zero()
            && self.jitter.is_zero()
            && self.rate_bps.is_none_or(|r| r == 0)
    }

    /// Parse `key=value` items separated by commas, e.g.
    /// `loss=5%,dup=1%,reorder=2%,delay=10ms,jitter=5ms,corrupt=0.1%,rate=1gbit`.
    ///
    /// Keys: `loss`, `dup`, `reorder`, `corrupt` (a percentage `5%` or a
    /// fraction `0.05`); `delay`, `jitter`, `reorder_delay` (a number with
    /// `us`, `ms` or `s`, or a bare `0`); `rate` (a number with `bit`,
    /// `kbit`, `mbit` or `gbit`, decimal, case-insensitive); `limit` (packets).
    /// Unmentioned keys keep their [`Default`]; the empty string is the
    /// default. The error names the offending item.
    pub fn parse(s: &str) -> Result<Impairments, String> {
        let mut imp = Impairments::default();
        let mut seen: Vec<&str> = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!("{item:?}: expected key=value"));
            };
            let (key, value) = (key.trim(), value.trim());
            // A repeated key is almost always a typo in a fault spec; silently
            // taking the last one would hide it.
            if seen.contains(&key) {
                return Err(format!("{key}: given more than once"));
            }
            seen.push(key);
            let bad = |why: &str| format!("{key}={value}: {why}");
            match key {
                "loss" => imp.loss = parse_prob(value).map_err(bad)?,
                "dup" => imp.dup = parse_prob(value).map_err(bad)?,
                "reorder" => imp.reorder = parse_prob(value).map_err(bad)?,
                "corrupt" => imp.corrupt = parse_prob(value).map_err(bad)?,
                "delay" => imp.delay = parse_duration(value).map_err(bad)?,
                "jitter" => imp.jitter = parse_duration(value).map_err(bad)?,
                "reorder_delay" => imp.reorder_delay = parse_duration(value).map_err(bad)?,
                "rate" => imp.rate_bps = Some(parse_rate(value).map_err(bad)?),
                "limit" => imp.queue_limit = value.parse().map_err(|_| bad("expected a packet count"))?,
                _ => {
                    return Err(format!(
                        "unknown key {key:?} (expected loss, dup, reorder, corrupt, delay, \
                         jitter, reorder_delay, rate or limit)"
                    ))
                }
            }
        }
        Ok(imp)
    }
}

impl core::str::FromStr for Impairments {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Impairments::parse(s)
    }
}

/// A finite, non-negative number. `f64::from_str` also takes `inf` and
/// `NaN`, which would poison every comparison downstream.
fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

fn parse_prob(value: &str) -> Result<f64, &'static str> {
    let p = match value.strip_suffix('%') {
        Some(pct) => parse_number(pct.trim()).map(|v| v / 100.0),
        None => parse_number(value),
    };
    match p {
        Some(p) if p <= 1.0 => Ok(p),
        Some(_) => Err("probability above 100%"),
        None => Err("expected a percentage like 5% or a fraction like 0.05"),
    }
}

fn parse_duration(value: &str) -> Result<Duration, &'static str> {
    const UNITS: [(&str, f64); 3] = [("us", 1.0), ("ms", 1e3), ("s", 1e6)];
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    // "us" and "ms" are tried before "s", which is a suffix of both.
    let (num, mult) = UNITS
        .iter()
        .find_map(|&(unit, mult)| value.strip_suffix(unit).map(|n| (n.trim(), mult)))
        .ok_or("expected a duration with a unit: us, ms or s")?;
    let us = parse_number(num).ok_or("expected a non-negative number before the unit")? * mult;
    // About 31 years: far beyond any test, and safely inside u64.
    if us > 1e15 {
        return Err("duration too large");
    }
    Ok(Duration::from_micros(us.round() as u64))
}

fn parse_rate(value: &str) -> Result<u64, &'static str> {
    const UNITS: [(&str, f64); 4] = [("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9), ("bit", 1.0)];
    let lower = value.to_ascii_lowercase();
    // The prefixed units are tried before "bit", which is a suffix of them.
    let (num, mult) = UNITS
        .iter()
        .find_map(|&(unit, mult)| lower.strip_suffix(unit).map(|n| (n.trim().to_owned(), mult)))
        .ok_or("expected a rate with a unit: bit, kbit, mbit or gbit")?;
    let bps = parse_number(&num).ok_or("expected a non-negative number before the unit")? * mult;
    if bps.round() < 1.0 {
        return Err("rate must be at least 1bit");
    }
    if bps > 1e18 {
        return Err("rate too large");
    }
    Ok(bps.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let imp =
            Impairments::parse("loss=5%,dup=1%,reorder=2%,delay=10ms,jitter=5ms,corrupt=0.1%,rate=1gbit").unwrap();
        assert!((imp.loss - 0.05).abs() < 1e-12);
        assert!((imp.dup - 0.01).abs() < 1e-12);
        assert!((imp.reorder - 0.02).abs() < 1e-12);
        assert!((imp.corrupt - 0.001).abs() < 1e-12);
        assert_eq!(imp.delay, Duration::from_millis(10));
        assert_eq!(imp.jitter, Duration::from_millis(5));
        assert_eq!(imp.rate_bps, Some(1_000_000_000));
        assert_eq!(imp.reorder_delay, Duration::from_millis(1));
        assert_eq!(imp.queue_limit, 1000);
    }

    #[test]
    fn parses_other_forms() {
        let imp: Impairments =
            " loss = 0.25 , delay=1.5ms, reorder_delay=250us, jitter=0, rate=2.5Mbit, limit=7,".parse().unwrap();
        assert_eq!(imp.loss, 0.25);
        assert_eq!(imp.delay, Duration::from_micros(1500));
        assert_eq!(imp.reorder_delay, Duration::from_micros(250));
        assert_eq!(imp.jitter, Duration::ZERO);
        assert_eq!(imp.rate_bps, Some(2_500_000));
        assert_eq!(imp.queue_limit, 7);
        assert_eq!(Impairments::parse("").unwrap(), Impairments::default());
        assert_eq!(Impairments::parse("delay=2s").unwrap().delay, Duration::from_secs(2));
        assert_eq!(Impairments::parse("rate=300bit").unwrap().rate_bps, Some(300));
        assert_eq!(Impairments::parse("loss=100%").unwrap().loss, 1.0);
    }

    #[test]
    fn errors_name_the_key_and_value() {
        for (input, needle) in [
            ("loss=5x", "loss=5x"),
            ("loss=150%", "loss=150%"),
            ("dup=-1%", "dup=-1%"),
            ("corrupt=NaN", "corrupt=NaN"),
            ("delay=10", "delay=10"),
            ("jitter=5parsecs", "jitter=5parsecs"),
            ("rate=0gbit", "rate=0gbit"),
            ("rate=fast", "rate=fast"),
            ("limit=many", "limit=many"),
            ("bogus=1", "\"bogus\""),
            ("delay=1ms,loss", "\"loss\""),
            ("loss=1%,loss=2%", "loss"),
        ] {
            let err = Impairments::parse(input).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
