//! Bad configs are rejected with a message naming the file, the key and what was expected.

use braid::config::{ConfigError, parse};

/// Parses `text` as the file `bad.toml` and returns the error it must produce.
fn reject(text: &str) -> ConfigError {
    match parse(text, "bad.toml") {
        Ok(config) => panic!("accepted a bad config: {config:?}"),
        Err(error) => error,
    }
}

/// Asserts the error names `bad.toml`, the `key`, and says `expected`.
fn assert_names(error: &ConfigError, key: &str, expected: &str) {
    let text = error.to_string();
    assert!(text.starts_with("bad.toml"), "no file in: {text}");
    assert_eq!(error.key.as_deref(), Some(key), "wrong key in: {text}");
    assert!(
        text.contains(&format!(": {key}: ")),
        "key not shown in: {text}"
    );
    assert!(text.contains(expected), "{expected:?} not in: {text}");
}

#[test]
fn an_empty_file_is_the_documented_defaults() {
    let config = parse("", "empty.toml").expect("every field has a default");
    assert_eq!(config, braid::config::Config::default());
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    assert_names(
        &reject("[storage]\npagesize = 512\n"),
        "storage.pagesize",
        "unknown key",
    );
    assert_names(
        &reject("[storage]\npagesize = 512\n"),
        "storage.pagesize",
        "page_size",
    );
    assert_names(
        &reject("[nemesis]\ncrash = 0.1\n"),
        "nemesis",
        "unknown key",
    );
    let text = "[[workload]]\nkind = \"bank\"\n[[workload]]\nkind = \"bank\"\ncolour = 3\n";
    assert_names(&reject(text), "workload[1].colour", "unknown key");
}

#[test]
fn values_of_the_wrong_type_are_rejected_with_their_path() {
    assert_names(
        &reject("[run]\nsteps = \"many\"\n"),
        "run.steps",
        "invalid type",
    );
    assert_names(
        &reject("[storage]\nsync = \"sometimes\"\n"),
        "storage.sync",
        "full",
    );
    assert_names(
        &reject("[scheduler]\nstrategy = \"fifo\"\n"),
        "scheduler.strategy",
        "pct",
    );
    let text = "[[workload]]\nkind = \"bank\"\n[[workload]]\nkind = \"churn\"\nweight = \"x\"\n";
    assert_names(&reject(text), "workload[1].weight", "invalid type");
    assert_names(
        &reject("[swarm]\nconnections = [1]\n"),
        "swarm.connections",
        "length",
    );
}

#[test]
fn a_missing_workload_kind_is_rejected() {
    assert_names(&reject("[[workload]]\nweight = 2\n"), "workload[0]", "kind");
}

#[test]
fn probabilities_outside_zero_to_one_are_rejected() {
    assert_names(&reject("[faults]\ncrash = 1.5\n"), "faults.crash", "0..=1");
    assert_names(
        &reject("[faults]\nread_error = -0.1\n"),
        "faults.read_error",
        "0..=1",
    );
    let text = "[scheduler]\nyield_probability = 2\n";
    assert_names(&reject(text), "scheduler.yield_probability", "0..=1");
    let text = "[[workload]]\nkind = \"register\"\nrollback_probability = 1.01\n";
    assert_names(&reject(text), "workload[0].rollback_probability", "0..=1");
    assert_names(
        &reject("[swarm]\nfault_keep = 3.0\n"),
        "swarm.fault_keep",
        "0..=1",
    );
}

#[test]
fn zero_connections_are_rejected() {
    assert_names(
        &reject("[run]\nconnections = 0\n"),
        "run.connections",
        "1..=256",
    );
}

#[test]
fn page_sizes_must_be_powers_of_two_in_range() {
    for bad in [1000, 256, 131_072, 0] {
        let error = reject(&format!("[storage]\npage_size = {bad}\n"));
        assert_names(&error, "storage.page_size", "power of two in 512..=65536");
    }
    for good in [512, 4096, 65_536] {
        parse(&format!("[storage]\npage_size = {good}\n"), "good.toml").expect("valid page size");
    }
}

#[test]
fn unknown_workload_kinds_are_rejected() {
    let text = "[[workload]]\nkind = \"bank\"\n[[workload]]\nkind = \"churn\"\n\
                [[workload]]\nkind = \"banana\"\n";
    let error = reject(text);
    assert_names(&error, "workload[2].kind", "expected one of register, bank");
    assert!(error.to_string().contains("banana"));
}

#[test]
fn all_workload_weights_zero_is_rejected() {
    let text =
        "[[workload]]\nkind = \"bank\"\nweight = 0\n[[workload]]\nkind = \"churn\"\nweight = 0\n";
    assert_names(&reject(text), "workload", "weight above 0");
}

#[test]
fn workload_parameters_are_bounded() {
    let text =
        "[storage]\npage_size = 512\n[[workload]]\nkind = \"churn\"\nvalue_bytes_max = 200\n";
    assert_names(
        &reject(text),
        "workload[0].value_bytes_max",
        "page_size / 4 = 128",
    );
    let text = "[[workload]]\nkind = \"register\"\ntxn_ops_min = 5\ntxn_ops_max = 2\n";
    assert_names(&reject(text), "workload[0].txn_ops_min", "txn_ops_max");
    let text = "[[workload]]\nkind = \"bank\"\nkey_count = 0\n";
    assert_names(&reject(text), "workload[0].key_count", "at least 1");
}

#[test]
fn other_bounds_are_rejected() {
    assert_names(&reject("[run]\nsteps = 0\n"), "run.steps", "at least 1");
    assert_names(
        &reject("[storage]\ncache_pages = 4\n"),
        "storage.cache_pages",
        "at least 8",
    );
    assert_names(
        &reject("[scheduler]\npct_depth = 0\n"),
        "scheduler.pct_depth",
        "1..=64",
    );
    let text = "[faults]\nmax_latency_decisions = 0\n";
    assert_names(&reject(text), "faults.max_latency_decisions", "at least 1");
    let text = "[swarm]\ncrash_probability = [0.5, 0.1]\n";
    assert_names(&reject(text), "swarm.crash_probability", "low <= high");
    assert_names(
        &reject("[swarm]\nconnections = [0, 4]\n"),
        "swarm.connections",
        "1 <= low",
    );
    assert_names(
        &reject("[swarm]\nstrategies = []\n"),
        "swarm.strategies",
        "at least one",
    );
    assert_names(
        &reject("[[workload]]\nkind = \"bank\"\n[liveness]\nstuck_decisions = 0\n"),
        "liveness.stuck_decisions",
        "at least 1",
    );
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let error = reject("[run]\nsteps = 10\nconnections = \n");
    let text = error.to_string();
    assert!(text.starts_with("bad.toml:3:"), "no line in: {text}");
}

#[test]
fn an_unreadable_file_is_named() {
    let path = std::path::Path::new("/nonexistent/braid/missing.toml");
    let error = braid::config::load(path).expect_err("no such file");
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/braid/missing.toml: cannot read"),
        "{error}"
    );
}

#[test]
fn a_bad_fsync_failure_mode_is_rejected_naming_the_modes() {
    let error = reject("[faults]\nfsync_failure = \"zfs\"\n");
    assert_names(&error, "faults.fsync_failure", "ext4");
    for mode in ["xfs", "btrfs", "retry", "zfs"] {
        assert!(error.to_string().contains(mode), "{mode} not in: {error}");
    }
    assert_names(
        &reject("[faults]\nfsync_failure = 1\n"),
        "faults.fsync_failure",
        "string",
    );
    assert_names(
        &reject("[swarm]\nfsync_failures = [\"ext4\", \"ntfs\"]\n"),
        "swarm.fsync_failures[1]",
        "btrfs",
    );
}

#[test]
fn bad_storage_ranges_in_swarm_are_rejected() {
    let cases = [
        (
            "page_size = [512, 1000]",
            "swarm.page_size",
            "powers of two",
        ),
        ("page_size = [256, 4096]", "swarm.page_size", "512..=65536"),
        ("page_size = [4096, 512]", "swarm.page_size", "low <= high"),
        ("cache_pages = [4, 64]", "swarm.cache_pages", "8 <= low"),
        ("cache_pages = [64, 8]", "swarm.cache_pages", "low <= high"),
        (
            "autocheckpoint_frames = [100, 10]",
            "swarm.autocheckpoint_frames",
            "low <= high",
        ),
        ("sync_modes = [\"often\"]", "swarm.sync_modes[0]", "full"),
    ];
    for (line, key, expected) in cases {
        assert_names(&reject(&format!("[swarm]\n{line}\n")), key, expected);
    }
    // A workload's values must fit the smallest page size the swarm may draw.
    let text = "[storage]\npage_size = 4096\n[swarm]\npage_size = [512, 4096]\n\
                [[workload]]\nkind = \"register\"\nvalue_bytes_max = 512\n";
    assert_names(
        &reject(text),
        "workload[0].value_bytes_max",
        "smallest page size",
    );
}
