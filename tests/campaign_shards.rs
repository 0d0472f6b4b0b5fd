//! Campaign sharding and merging: shards of a seed range are disjoint and cover it, and the
//! merged summaries of shards add up to the summary of the whole range.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use braid::campaign::{CampaignSpec, SeedRange, Shard, Summary, run_campaign, shard_seeds};
use braid::config;

fn spec(seeds: SeedRange, shard: Shard, out: PathBuf) -> CampaignSpec {
    let mut config = config::default_config();
    config.run.steps = 1500;
    CampaignSpec {
        config,
        config_name: "<default>".into(),
        seeds,
        shard,
        jobs: 2,
        time_limit: None,
        out,
        resume: false,
        canary: None,
    }
}

fn temp_out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("braid-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn shards_are_disjoint_and_cover_the_range() {
    for (start, end) in [(0u64, 100u64), (7, 64), (5, 6), (3, 3)] {
        for count in 1..=7 {
            let range = SeedRange::parse(&format!("{start}..{end}")).expect("a range");
            let mut seen = Vec::new();
            for index in 1..=count {
                let shard = Shard { index, count };
                for seed in shard_seeds(range, shard, |_| false) {
                    assert!(shard.takes(seed), "shard {index}/{count} took {seed}");
                    seen.push(seed);
                }
            }
            seen.sort_unstable();
            let expected: Vec<u64> = (start..end).collect();
            assert_eq!(seen, expected, "shards of {start}..{end} over {count}");
        }
    }
}

#[test]
fn an_open_range_keeps_producing_the_shards_seeds() {
    let shard = Shard::parse("3/4").expect("a shard");
    let first: Vec<_> = shard_seeds(SeedRange::open(10), shard, |_| false)
        .take(3)
        .collect();
    assert_eq!(first, vec![10, 14, 18]);
}

#[test]
fn merged_shard_summaries_equal_the_whole_campaign() {
    let range = SeedRange::parse("0..6").expect("a range");
    let stop = AtomicBool::new(false);
    let whole = run_campaign(&spec(range, Shard::ALL, temp_out("whole")), &stop, |_| {})
        .expect("campaign runs")
        .summary;
    assert_eq!(whole.seeds, 6);
    let mut parts = Vec::new();
    for index in 1..=3 {
        let shard = Shard { index, count: 3 };
        let out = temp_out(&format!("shard{index}"));
        let part = run_campaign(&spec(range, shard, out), &stop, |_| {})
            .expect("campaign runs")
            .summary;
        assert_eq!(part.seeds, 2, "shard {index}/3 runs two of six seeds");
        // Through JSON, as `braid merge` reads them.
        let json = part.to_json();
        parts.push(serde_json::from_str::<Summary>(&json).expect("a summary reads back"));
    }
    let merged = Summary::merge(&parts).expect("same config");
    assert_eq!(merged.seeds, whole.seeds);
    assert_eq!(merged.passed, whole.passed);
    assert_eq!(merged.failed, whole.failed);
    assert_eq!(merged.failures, whole.failures);
    assert_eq!(merged.totals, whole.totals);
    assert_eq!(merged.histograms, whole.histograms);
    assert!(merged.totals.decisions > 0);
    assert_eq!(merged.shards.len(), 3);
}

#[test]
fn merging_refuses_different_configs_and_nothing() {
    let stop = AtomicBool::new(false);
    let range = SeedRange::count(1);
    let a = run_campaign(&spec(range, Shard::ALL, temp_out("merge-a")), &stop, |_| {})
        .expect("campaign runs")
        .summary;
    let mut b = a.clone();
    b.config = "configs/chaos.toml".into();
    assert!(Summary::merge(&[a.clone(), b]).is_err());
    assert!(Summary::merge(&[]).is_err());
    let twice = Summary::merge(&[a.clone(), a.clone()]).expect("same config");
    assert_eq!(twice.seeds, 2 * a.seeds);
    assert_eq!(twice.totals.decisions, 2 * a.totals.decisions);
}

#[test]
fn a_time_limit_stops_an_open_campaign() {
    let stop = AtomicBool::new(false);
    let mut spec = spec(SeedRange::open(0), Shard::ALL, temp_out("timed"));
    spec.time_limit = Some(Duration::from_millis(1));
    let result = run_campaign(&spec, &stop, |_| {}).expect("campaign runs");
    assert!(
        result.summary.interrupted,
        "an open range is never exhausted"
    );
    // Each thread may have started at most one seed before it saw the deadline.
    assert!(result.summary.seeds <= 2, "{} seeds", result.summary.seeds);
}
