//! `--resume`: a campaign continues from its progress file, skipping finished seeds, and its
//! summary covers the seeds of both sessions.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use braid::campaign::{CampaignSpec, PROGRESS_FILE, SeedRange, Shard, load_finished, run_campaign};
use braid::config;

fn spec(seeds: &str, out: PathBuf, resume: bool) -> CampaignSpec {
    let mut config = config::default_config();
    config.run.steps = 1500;
    CampaignSpec {
        config,
        config_name: "<default>".into(),
        seeds: SeedRange::parse(seeds).expect("a range"),
        shard: Shard::ALL,
        jobs: 2,
        time_limit: None,
        out,
        resume,
        canary: None,
    }
}

fn temp_out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("braid-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn resume_skips_finished_seeds_and_reports_all() {
    let out = temp_out("resume");
    let stop = AtomicBool::new(false);
    let first = run_campaign(&spec("0..3", out.clone(), false), &stop, |_| {}).expect("runs");
    assert_eq!(first.summary.seeds, 3);

    let mut ran = Vec::new();
    let second = run_campaign(&spec("0..6", out.clone(), true), &stop, |seed| {
        ran.push(seed.record.seed)
    })
    .expect("runs");
    ran.sort_unstable();
    assert_eq!(ran, vec![3, 4, 5], "only the unfinished seeds run again");
    assert_eq!(second.resumed, 3);
    assert_eq!(second.summary.seeds, 6);
    let finished = load_finished(&out).expect("progress file");
    assert_eq!(
        finished.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 5]
    );

    // Without --resume the progress file starts afresh and every seed runs.
    let mut count = 0;
    run_campaign(&spec("0..2", out.clone(), false), &stop, |_| count += 1).expect("runs");
    assert_eq!(count, 2);
    assert_eq!(load_finished(&out).expect("progress").len(), 2);
    assert!(out.join(PROGRESS_FILE).exists());
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn a_stopped_campaign_is_interrupted_and_resumable() {
    let out = temp_out("stopped");
    let stop = AtomicBool::new(false);
    let mut spec = spec("0..100", out.clone(), false);
    spec.jobs = 1;
    let result = run_campaign(&spec, &stop, |_| stop.store(true, Ordering::SeqCst)).expect("runs");
    assert!(result.summary.interrupted);
    // The worker takes seeds until it sees the stop, which the main thread sets after the
    // first result: on a loaded machine that can be a few seeds later, never all of them.
    let done = result.summary.seeds;
    assert!((1..100).contains(&done), "{done} seeds before the stop");

    let stop = AtomicBool::new(false);
    spec.resume = true;
    let rest = run_campaign(&spec, &stop, |_| {}).expect("runs");
    assert_eq!(rest.resumed, done);
    assert_eq!(rest.summary.seeds, 100);
    assert!(!rest.summary.interrupted);
    std::fs::remove_dir_all(&out).expect("cleanup");
}
