//! `Distribution`: a mergeable histogram of small integer measurements (decisions, ops).
//!
//! It keeps exact counts per value (`[value, count]` pairs in JSON), so shard summaries merge
//! by adding counts and nothing is lost to bucketing; percentiles come from an
//! `hdrhistogram::Histogram` built from those counts.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Exact counts per value, with the percentiles computed from them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "DistributionJson", into = "DistributionJson")]
pub struct Distribution {
    counts: BTreeMap<u64, u64>,
}

/// The JSON form: percentiles for people, counts for `braid merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DistributionJson {
    count: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
    /// `[value, count]` pairs in increasing value order.
    counts: Vec<[u64; 2]>,
}

impl From<DistributionJson> for Distribution {
    fn from(json: DistributionJson) -> Distribution {
        let mut distribution = Distribution::default();
        for [value, count] in json.counts {
            distribution.record_n(value, count);
        }
        distribution
    }
}

impl From<Distribution> for DistributionJson {
    fn from(distribution: Distribution) -> DistributionJson {
        DistributionJson {
            count: distribution.count(),
            p50: distribution.percentile(50.0),
            p90: distribution.percentile(90.0),
            p99: distribution.percentile(99.0),
            max: distribution.max(),
            counts: distribution.counts.iter().map(|(&v, &c)| [v, c]).collect(),
        }
    }
}

impl Distribution {
    /// Records one measurement.
    pub fn record(&mut self, value: u64) {
        self.record_n(value, 1);
    }

    /// Records `count` measurements of `value`.
    pub fn record_n(&mut self, value: u64, count: u64) {
        if count > 0 {
            *self.counts.entry(value).or_default() += count;
        }
    }

    /// Adds every measurement of `other`.
    pub fn merge(&mut self, other: &Distribution) {
        for (&value, &count) in &other.counts {
            self.record_n(value, count);
        }
    }

    /// Number of measurements.
    pub fn count(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The largest measurement (0 when empty).
    pub fn max(&self) -> u64 {
        self.counts.keys().next_back().copied().unwrap_or(0)
    }

    /// The value at `percentile` (0..=100), as hdrhistogram reports it (0 when empty).
    pub fn percentile(&self, percentile: f64) -> u64 {
        if self.counts.is_empty() {
            return 0;
        }
        let mut histogram =
            Histogram::<u64>::new(3).expect("3 significant figures is a valid precision");
        for (&value, &count) in &self.counts {
            histogram
                .record_n(value, count)
                .expect("an auto-resizing histogram takes any value");
        }
        // hdrhistogram answers with the top of the value's bucket, which for large values
        // can pass the largest value recorded.
        histogram
            .value_at_quantile(percentile / 100.0)
            .min(self.max())
    }

    /// `p50 a  p90 b  p99 c  max d` for summaries.
    pub fn describe(&self) -> String {
        format!(
            "p50 {}  p90 {}  p99 {}  max {}  (n={})",
            self.percentile(50.0),
            self.percentile(90.0),
            self.percentile(99.0),
            self.max(),
            self.count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut d = Distribution::default();
        for value in 1..=100 {
            d.record(value);
        }
        assert_eq!(d.percentile(50.0), 50);
        assert_eq!(d.percentile(90.0), 90);
        assert_eq!(d.percentile(99.0), 99);
        assert_eq!(d.max(), 100);
        assert_eq!(d.count(), 100);
    }

    #[test]
    fn merging_adds_counts_and_survives_json() {
        let mut a = Distribution::default();
        a.record_n(3, 2);
        let mut b = Distribution::default();
        b.record_n(3, 1);
        b.record(10);
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert_eq!(a.max(), 10);
        let json = serde_json::to_string(&a).expect("serializes");
        assert!(json.contains("\"p50\":3"), "{json}");
        let back: Distribution = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, a);
    }

    #[test]
    fn percentiles_never_pass_the_largest_value() {
        let mut d = Distribution::default();
        for value in 20_000..20_040 {
            d.record(value);
        }
        assert!(d.percentile(99.0) <= 20_039);
        assert!(d.percentile(50.0) >= 20_000);
    }

    #[test]
    fn empty_is_all_zero() {
        let d = Distribution::default();
        assert_eq!((d.percentile(99.0), d.max(), d.count()), (0, 0, 0));
    }
}
