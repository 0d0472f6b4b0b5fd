//! What a benchmark ran on and how much memory it used: the machine line BENCHMARKS.md
//! quotes (cores, CPU model, memory) and the process's peak resident set (`VmHWM`), read
//! from `/proc`, and the CPU time of the running thread. Off Linux the values are reported as unknown.

/// The machine, in one line: cores, CPU model and total memory.
pub fn describe() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let model = cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".into());
    let memory = kib_field(&meminfo, "MemTotal").map_or("unknown memory".into(), |kib| {
        format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0)
    });
    format!("{cores} cores available, {model}, {memory}")
}

/// Peak resident set size of this process so far, in KiB (`VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmHWM")
}

/// CPU time this thread has run so far, in seconds (`/proc/thread-self/schedstat`, in ns;
/// updated at scheduler ticks, so exact only for runs much longer than a few ms).
pub fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

/// The value of the first `model name` line of `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_string())
}

/// A `Name:   1234 kB` field of `/proc/self/status` or `/proc/meminfo` text, in KiB.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if key.trim() != name {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_from_proc_text() {
        let status = "Name:\tbraid\nVmPeak:\t  9000 kB\nVmHWM:\t  4321 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(kib_field(status, "VmHWM"), Some(4321));
        assert_eq!(kib_field(status, "VmSwap"), None);
        let cpuinfo = "processor\t: 0\nmodel name\t: Some CPU @ 2.00GHz\nflags\t: fpu\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("Some CPU @ 2.00GHz"));
        assert_eq!(cpu_model("processor\t: 0\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
            // The kernel updates the figure at scheduler ticks: it never goes backwards.
            let before = thread_cpu_seconds().expect("schedstat is readable");
            let after = thread_cpu_seconds().expect("schedstat is readable");
            assert!(after >= before, "CPU time never goes backwards");
        }
    }
}
