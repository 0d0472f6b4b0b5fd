//! JUnit XML for CI: one `<testcase>` per failing seed (each with its `<failure>`) and one
//! summary testcase for the whole campaign, so a CI page shows each failing seed by name.

use super::summary::Summary;

/// The summary as a JUnit XML document.
pub fn to_junit(summary: &Summary) -> String {
    let tests = summary.failures.len() + 1;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites tests=\"{tests}\" failures=\"{}\" time=\"{:.3}\">\n",
        summary.failed, summary.elapsed_seconds
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"braid fuzz {}\" tests=\"{tests}\" failures=\"{}\" time=\"{:.3}\">\n",
        escape(&summary.config),
        summary.failed,
        summary.elapsed_seconds
    ));
    for failure in &summary.failures {
        xml.push_str(&format!(
            "    <testcase classname=\"braid.fuzz\" name=\"seed {}\">\n",
            failure.seed
        ));
        xml.push_str(&format!(
            "      <failure type=\"{}\" message=\"{} at step {}\">{}\nartifacts: {}</failure>\n",
            escape(failure.kind.name()),
            escape(failure.kind.name()),
            failure.step,
            escape(&failure.message),
            escape(failure.dir.as_deref().unwrap_or("(not written)"))
        ));
        xml.push_str("    </testcase>\n");
    }
    xml.push_str(&format!(
        "    <testcase classname=\"braid.fuzz\" name=\"campaign ({} seeds)\">\n",
        summary.seeds
    ));
    if summary.failed > 0 {
        xml.push_str(&format!(
            "      <failure type=\"campaign\" message=\"{} of {} seeds failed\"/>\n",
            summary.failed, summary.seeds
        ));
    }
    xml.push_str("    </testcase>\n  </testsuite>\n</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::campaign::summary::{FailureLine, SeedRecord, SummaryHeader, Totals};

    fn summary(failing: bool) -> Summary {
        let mut records = BTreeMap::new();
        records.insert(
            4,
            SeedRecord {
                seed: 4,
                failure: failing.then(|| FailureLine {
                    seed: 4,
                    kind: crate::sim::FailureKind::Violation(
                        braid_oracle::ViolationKind::LostCommit,
                    ),
                    step: 9,
                    message: "a <commit> & \"more\"".into(),
                    trace_hash: "0".into(),
                    dir: Some("out/seed-4".into()),
                }),
                totals: Totals::default(),
                txn_latency_decisions: Default::default(),
                ops_per_txn: Default::default(),
            },
        );
        let header = SummaryHeader {
            config: "<default>".into(),
            canary: None,
            swarm: false,
            shard: "0..1".into(),
            elapsed_seconds: 1.0,
            interrupted: false,
        };
        Summary::build(header, &records)
    }

    #[test]
    fn a_failing_seed_is_a_failed_testcase_with_escaped_text() {
        let xml = to_junit(&summary(true));
        assert!(xml.contains("name=\"seed 4\""), "{xml}");
        assert!(
            xml.contains("a &lt;commit&gt; &amp; &quot;more&quot;"),
            "{xml}"
        );
        assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
        assert!(xml.contains("failures=\"1\""));
    }

    #[test]
    fn a_passing_campaign_has_one_passing_testcase() {
        let xml = to_junit(&summary(false));
        assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
        assert!(!xml.contains("<failure"), "{xml}");
    }
}
