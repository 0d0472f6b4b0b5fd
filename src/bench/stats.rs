//! Summaries of repeated measurements: mean, sample standard deviation, median, minimum and
//! maximum. Benchmarks report the spread next to the mean so a reader can tell a real
//! difference from noise.

use std::time::Instant;

/// The summary of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub samples: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); 0 for a single sample.
    pub stddev: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Summarizes `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let stddev = if samples.len() > 1 {
            let squares: f64 = samples.iter().map(|s| (s - mean) * (s - mean)).sum();
            (squares / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Some(Summary {
            samples: samples.len(),
            mean,
            stddev,
            median: median(samples).expect("samples are not empty"),
            min: samples.iter().copied().fold(f64::INFINITY, f64::min),
            max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }

    /// Standard deviation as a percentage of the mean.
    pub fn spread_percent(&self) -> f64 {
        if self.mean == 0.0 {
            0.0
        } else {
            100.0 * self.stddev / self.mean
        }
    }

    /// "mean ± stddev (±p%, min..max, n=k)" with `digits` decimals.
    pub fn describe(&self, digits: usize) -> String {
        format!(
            "{:.digits$} ± {:.digits$} (±{:.1}%, min {:.digits$}, max {:.digits$}, n={})",
            self.mean,
            self.stddev,
            self.spread_percent(),
            self.min,
            self.max,
            self.samples
        )
    }
}

/// The median of `samples` (mean of the middle two for an even count); `None` if empty.
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// How long something took: wall time, and the CPU time of the calling thread (which does
/// not count time spent waiting for a core on a busy machine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elapsed {
    pub wall_seconds: f64,
    /// None where the thread's CPU time cannot be read (off Linux).
    pub cpu_seconds: Option<f64>,
}

impl Elapsed {
    /// CPU seconds when known, wall seconds otherwise.
    pub fn best_seconds(&self) -> f64 {
        self.cpu_seconds.unwrap_or(self.wall_seconds)
    }
}

/// Runs `f` on this thread and returns its value with the time it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Elapsed) {
    let cpu_start = super::machine::thread_cpu_seconds();
    let start = Instant::now();
    let value = f();
    let wall_seconds = start.elapsed().as_secs_f64();
    let cpu_end = super::machine::thread_cpu_seconds();
    let cpu_seconds = cpu_start.zip(cpu_end).map(|(a, b)| b - a);
    (
        value,
        Elapsed {
            wall_seconds,
            cpu_seconds,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).expect("samples");
        assert_eq!(s.mean, 5.0);
        assert!((s.stddev - 2.138).abs() < 0.001, "stddev {}", s.stddev);
        assert_eq!(s.median, 4.5);
        assert_eq!((s.min, s.max), (2.0, 9.0));
    }

    #[test]
    fn one_sample_has_no_spread_and_none_has_no_summary() {
        let s = Summary::of(&[3.0]).expect("one sample");
        assert_eq!((s.mean, s.stddev, s.median), (3.0, 0.0, 3.0));
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    }
}
