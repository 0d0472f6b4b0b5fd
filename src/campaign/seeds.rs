//! Which seeds a campaign runs: a range (`--seeds A..B`, `--count N`, or open-ended under
//! `--time`), narrowed by a shard (`--shard I/N` keeps `seed % N == I - 1`), plus the
//! parsing of those flags and of durations (`--time 8h`).

use std::time::Duration;

/// Seeds `start..end` (`end = None`: no end, the campaign stops on time or Ctrl-C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    pub end: Option<u64>,
}

impl SeedRange {
    /// Parses `A..B` (B excluded) or `A..=B` (B included).
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let bad = || format!("--seeds {text}: expected A..B or A..=B with A <= B");
        let (start, end) = text.split_once("..").ok_or_else(bad)?;
        let start: u64 = start.trim().parse().map_err(|_| bad())?;
        let end = match end.strip_prefix('=') {
            Some(last) => last
                .trim()
                .parse::<u64>()
                .map_err(|_| bad())?
                .checked_add(1)
                .ok_or_else(bad)?,
            None => end.trim().parse().map_err(|_| bad())?,
        };
        if start > end {
            return Err(bad());
        }
        Ok(SeedRange {
            start,
            end: Some(end),
        })
    }

    /// The first `count` seeds from 0.
    pub fn count(count: u64) -> SeedRange {
        SeedRange {
            start: 0,
            end: Some(count),
        }
    }

    /// Every seed from `start` on.
    pub fn open(start: u64) -> SeedRange {
        SeedRange { start, end: None }
    }

    /// Number of seeds in the range (None when open-ended).
    pub fn len(&self) -> Option<u64> {
        self.end.map(|end| end - self.start)
    }

    /// Whether the range is closed and holds no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// `A..B` (or `A..` when open).
    pub fn describe(&self) -> String {
        match self.end {
            Some(end) => format!("{}..{end}", self.start),
            None => format!("{}..", self.start),
        }
    }
}

/// One machine's part of a campaign: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole campaign.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parses `I/N` with `1 <= I <= N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text}: expected I/N with 1 <= I <= N (I is 1-based)");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.trim().parse().map_err(|_| bad())?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard runs `seed`.
    pub fn takes(&self, seed: u64) -> bool {
        seed % self.count == self.index - 1
    }
}

/// The seeds of `range` this shard takes, in increasing order, skipping those `done`
/// says are finished.
pub fn shard_seeds<'a>(
    range: SeedRange,
    shard: Shard,
    done: impl Fn(u64) -> bool + 'a,
) -> impl Iterator<Item = u64> + 'a {
    // The first seed >= start that the shard takes, then every `count`-th.
    let offset = (shard.index - 1 + shard.count - range.start % shard.count) % shard.count;
    let first = range.start.checked_add(offset);
    let end = range.end.unwrap_or(u64::MAX);
    let step = usize::try_from(shard.count).unwrap_or(usize::MAX);
    first
        .into_iter()
        .flat_map(move |first| (first..end).step_by(step))
        .filter(move |&seed| !done(seed))
}

/// Parses a duration: a number with a unit `s`, `m`, `h` or `d`, or several (`1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text}: expected a duration like 90s, 30m, 8h or 1h30m");
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let value: u64 = number.parse().map_err(|_| bad())?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_reject_nonsense() {
        assert_eq!(SeedRange::parse("3..10").expect("ok").len(), Some(7));
        assert_eq!(SeedRange::parse("3..=10").expect("ok").len(), Some(8));
        assert!(SeedRange::parse("10..3").is_err());
        assert!(SeedRange::parse("3").is_err());
        assert!(SeedRange::parse("a..b").is_err());
    }

    #[test]
    fn shards_parse_one_based() {
        assert_eq!(
            Shard::parse("2/4").expect("ok"),
            Shard { index: 2, count: 4 }
        );
        assert!(Shard::parse("0/4").is_err());
        assert!(Shard::parse("5/4").is_err());
        assert!(Shard::parse("1/0").is_err());
    }

    #[test]
    fn shard_seeds_follow_the_modulus_from_any_start() {
        let range = SeedRange::parse("5..20").expect("ok");
        let shard = Shard { index: 2, count: 3 };
        let seeds: Vec<_> = shard_seeds(range, shard, |_| false).collect();
        assert_eq!(seeds, vec![7, 10, 13, 16, 19]);
        let skipped: Vec<_> = shard_seeds(range, shard, |s| s == 10).collect();
        assert_eq!(skipped, vec![7, 13, 16, 19]);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(28_800)));
        assert!(parse_duration("8").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
