//! (Reference copy for tests; see `reference/mod.rs`.)
//!
//! The read side of the list-append checker: who appended each element, the version
//! order of every key (from its longest read), and the anomalies visible without a
//! graph — duplicates, internal inconsistency, aborted and intermediate reads,
//! incompatible orders and lost updates.

use std::collections::{BTreeMap, BTreeSet};

use crate::checkers::elle::{Anomaly, AnomalyKind};
use crate::logical::{ElleTxn, Mop, TxnOutcome};

/// A committed transaction's first read of a key, taken before it appended to that key:
/// the version of the key it saw from the outside.
#[derive(Debug, Clone)]
pub(super) struct ExternalRead {
    pub txn: usize,
    pub key: u64,
    pub list: Vec<u64>,
}

/// What the graph needs from the reads.
#[derive(Debug, Default)]
pub(super) struct Analysis {
    /// Per key, its elements in append order, as far as reads reveal it.
    pub orders: BTreeMap<u64, Vec<u64>>,
    /// `(key, element)` to the transaction that appended it.
    pub appender: BTreeMap<(u64, u64), usize>,
    pub external_reads: Vec<ExternalRead>,
    /// Transactions that take part in dependencies: committed ones, and in-doubt ones
    /// whose appends some read shows.
    pub nodes: BTreeSet<usize>,
}

fn anomaly(kind: AnomalyKind, explanation: String, txns: Vec<usize>) -> Anomaly {
    Anomaly {
        kind,
        explanation,
        cycle: txns,
    }
}

/// Analyses the reads of `txns`, pushing every non-cycle anomaly into `anomalies`.
pub(super) fn analyze(txns: &[ElleTxn], anomalies: &mut Vec<Anomaly>) -> Analysis {
    let mut analysis = Analysis::default();
    index_appends(txns, &mut analysis, anomalies);
    for (index, txn) in txns.iter().enumerate() {
        check_internal(index, txn, anomalies);
    }
    let mut reads_by_key: BTreeMap<u64, Vec<(usize, &Vec<u64>)>> = BTreeMap::new();
    for (index, txn) in txns.iter().enumerate() {
        if txn.outcome != TxnOutcome::Committed {
            continue;
        }
        analysis.nodes.insert(index);
        let mut appended: BTreeSet<u64> = BTreeSet::new();
        let mut read: BTreeSet<u64> = BTreeSet::new();
        for mop in &txn.mops {
            match mop {
                Mop::Append { key, .. } => {
                    appended.insert(*key);
                }
                Mop::Read {
                    key,
                    list: Some(list),
                } => {
                    check_dirty_reads(txns, &analysis.appender, index, *key, list, anomalies);
                    reads_by_key.entry(*key).or_default().push((index, list));
                    if !appended.contains(key) && read.insert(*key) {
                        let external = ExternalRead {
                            txn: index,
                            key: *key,
                            list: list.clone(),
                        };
                        analysis.external_reads.push(external);
                    }
                }
                Mop::Read { list: None, .. } => {}
            }
        }
    }
    for (key, reads) in &reads_by_key {
        let order = version_order(*key, reads, anomalies);
        for element in &order {
            if let Some(writer) = analysis.appender.get(&(*key, *element))
                && txns[*writer].outcome == TxnOutcome::InDoubt
            {
                analysis.nodes.insert(*writer);
            }
        }
        analysis.orders.insert(*key, order);
    }
    find_lost_updates(txns, &analysis.external_reads, anomalies);
    analysis
}

/// Records the appender of every element; an element appended twice is a duplicate.
fn index_appends(txns: &[ElleTxn], analysis: &mut Analysis, anomalies: &mut Vec<Anomaly>) {
    for (index, txn) in txns.iter().enumerate() {
        for mop in &txn.mops {
            let Mop::Append { key, element } = mop else {
                continue;
            };
            if let Some(first) = analysis.appender.insert((*key, *element), index) {
                analysis.appender.insert((*key, *element), first);
                anomalies.push(anomaly(
                    AnomalyKind::DuplicateElement,
                    format!("element {element} was appended to key {key} by T{first} and T{index}"),
                    vec![first, index],
                ));
            }
        }
    }
}

/// A transaction must read its own appends and agree with its own earlier reads.
fn check_internal(index: usize, txn: &ElleTxn, anomalies: &mut Vec<Anomaly>) {
    /// What the transaction knows about a key so far.
    enum Known {
        /// Only its own appends (the prefix before them is unknown).
        Suffix(Vec<u64>),
        /// The whole list.
        Whole(Vec<u64>),
    }
    let mut known: BTreeMap<u64, Known> = BTreeMap::new();
    for mop in &txn.mops {
        match mop {
            Mop::Append { key, element } => {
                match known
                    .entry(*key)
                    .or_insert_with(|| Known::Suffix(Vec::new()))
                {
                    Known::Suffix(list) | Known::Whole(list) => list.push(*element),
                }
            }
            Mop::Read {
                key,
                list: Some(list),
            } => {
                let mut seen = BTreeSet::new();
                if let Some(twice) = list.iter().find(|element| !seen.insert(**element)) {
                    anomalies.push(anomaly(
                        AnomalyKind::DuplicateElement,
                        format!("T{index} read key {key} as {list:?}, with {twice} twice"),
                        vec![index],
                    ));
                }
                let consistent = match known.get(key) {
                    None => true,
                    Some(Known::Suffix(own)) => list.ends_with(own),
                    Some(Known::Whole(expected)) => list == expected,
                };
                if !consistent {
                    let expected = match &known[key] {
                        Known::Suffix(own) => format!("a list ending with its own appends {own:?}"),
                        Known::Whole(expected) => format!("{expected:?}"),
                    };
                    anomalies.push(anomaly(
                        AnomalyKind::InternalInconsistency,
                        format!("T{index} read key {key} as {list:?}, but expected {expected}"),
                        vec![index],
                    ));
                }
                known.insert(*key, Known::Whole(list.clone()));
            }
            Mop::Read { list: None, .. } => {}
        }
    }
}

/// G1a (an element nobody committed may have appended) and G1b (an intermediate state).
fn check_dirty_reads(
    txns: &[ElleTxn],
    appender: &BTreeMap<(u64, u64), usize>,
    reader: usize,
    key: u64,
    list: &[u64],
    anomalies: &mut Vec<Anomaly>,
) {
    for element in list {
        match appender.get(&(key, *element)) {
            None => anomalies.push(anomaly(
                AnomalyKind::G1a,
                format!(
                    "T{reader} read element {element} of key {key}, which no transaction appended"
                ),
                vec![reader],
            )),
            Some(writer) if *writer != reader && txns[*writer].outcome == TxnOutcome::Aborted => {
                anomalies.push(anomaly(
                    AnomalyKind::G1a,
                    format!(
                        "T{reader} read element {element} of key {key}, appended by aborted T{writer}"
                    ),
                    vec![*writer, reader],
                ));
            }
            Some(_) => {}
        }
    }
    let Some(last) = list.last() else { return };
    let Some(writer) = appender.get(&(key, *last)).copied() else {
        return;
    };
    if writer == reader {
        return;
    }
    let writer_appends: Vec<u64> = txns[writer]
        .mops
        .iter()
        .filter_map(|mop| match mop {
            Mop::Append { key: k, element } if *k == key => Some(*element),
            _ => None,
        })
        .collect();
    if writer_appends.last() != Some(last) {
        anomalies.push(anomaly(
            AnomalyKind::G1b,
            format!(
                "T{reader} read key {key} as {list:?}, ending at {last}, but T{writer} appended \
                 {writer_appends:?}: the read saw T{writer} half done"
            ),
            vec![writer, reader],
        ));
    }
}

/// The longest read of `key`; every other read must be a prefix of it.
fn version_order(key: u64, reads: &[(usize, &Vec<u64>)], anomalies: &mut Vec<Anomaly>) -> Vec<u64> {
    let (longest_reader, longest) = reads
        .iter()
        .max_by_key(|(index, list)| (list.len(), std::cmp::Reverse(*index)))
        .map(|(index, list)| (*index, (*list).clone()))
        .expect("a key in the read index has at least one read");
    for (reader, list) in reads {
        if !longest.starts_with(list) {
            anomalies.push(anomaly(
                AnomalyKind::IncompatibleOrder,
                format!(
                    "T{reader} read key {key} as {list:?}, which is not a prefix of \
                     {longest:?} read by T{longest_reader}"
                ),
                vec![*reader, longest_reader],
            ));
        }
    }
    longest
}

/// Two committed transactions that read the same version of a key and both appended to it.
fn find_lost_updates(txns: &[ElleTxn], reads: &[ExternalRead], anomalies: &mut Vec<Anomaly>) {
    let mut by_version: BTreeMap<(u64, &Vec<u64>), Vec<usize>> = BTreeMap::new();
    for read in reads {
        let appends = txns[read.txn]
            .mops
            .iter()
            .any(|mop| matches!(mop, Mop::Append { key, .. } if *key == read.key));
        if appends {
            by_version
                .entry((read.key, &read.list))
                .or_default()
                .push(read.txn);
        }
    }
    for ((key, list), writers) in by_version {
        if writers.len() >= 2 {
            let names: Vec<String> = writers.iter().map(|t| format!("T{t}")).collect();
            anomalies.push(anomaly(
                AnomalyKind::LostUpdate,
                format!(
                    "{} all read key {key} as {list:?} and appended to it: all but one update \
                     is lost",
                    names.join(", ")
                ),
                writers,
            ));
        }
    }
}
