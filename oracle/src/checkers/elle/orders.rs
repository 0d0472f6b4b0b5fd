//! The read side of the list-append checker: who appended each element, the version
//! order of every key (from its longest read), and the anomalies visible without a
//! graph — duplicates, internal inconsistency, aborted and intermediate reads,
//! incompatible orders and lost updates.
//!
//! The checker runs over the whole history many times in a long run, so its indexes are
//! flat: sorted vectors instead of ordered maps, lists borrowed from the history instead
//! of copied, and one hash index (`Appenders`) that is only ever looked up, never walked,
//! so its order cannot leak into a report.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::checkers::elle::{Anomaly, AnomalyKind};
use crate::logical::{ElleTxn, Mop, TxnOutcome};

/// A committed transaction's first read of a key, taken before it appended to that key:
/// the version of the key it saw from the outside.
#[derive(Debug, Clone)]
pub(super) struct ExternalRead<'a> {
    pub txn: usize,
    pub key: u64,
    pub list: &'a [u64],
}

/// A fixed, seedless multiply-rotate hash for `(key, element)` pairs. The map it feeds is
/// never iterated, so the hash decides speed only, never an outcome.
#[derive(Debug, Default)]
pub(super) struct ElementHasher(u64);

impl Hasher for ElementHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

/// `(key, element)` to the transaction that appended it first.
pub(super) type Appenders = HashMap<(u64, u64), usize, BuildHasherDefault<ElementHasher>>;

/// What the graph needs from the reads.
#[derive(Debug, Default)]
pub(super) struct Analysis<'a> {
    /// Per key, ascending by key: its elements in append order, as far as reads reveal it.
    pub orders: Vec<(u64, &'a [u64])>,
    pub appender: Appenders,
    pub external_reads: Vec<ExternalRead<'a>>,
    /// Per transaction: whether it takes part in dependencies (committed ones, and
    /// in-doubt ones whose appends some read shows).
    pub nodes: Vec<bool>,
}

impl<'a> Analysis<'a> {
    /// The version order of `key`, if any read revealed one.
    pub fn order(&self, key: u64) -> Option<&'a [u64]> {
        let at = self.orders.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        Some(self.orders[at].1)
    }

    /// The transaction that appended `element` to `key`, when it takes part in
    /// dependencies.
    pub fn node(&self, key: u64, element: u64) -> Option<usize> {
        let writer = *self.appender.get(&(key, element))?;
        self.nodes[writer].then_some(writer)
    }
}

fn anomaly(kind: AnomalyKind, explanation: String, txns: Vec<usize>) -> Anomaly {
    Anomaly {
        kind,
        explanation,
        cycle: txns,
    }
}

/// Analyses the reads of `txns`, pushing every non-cycle anomaly into `anomalies`.
pub(super) fn analyze<'a>(txns: &'a [ElleTxn], anomalies: &mut Vec<Anomaly>) -> Analysis<'a> {
    let mut analysis = Analysis {
        nodes: vec![false; txns.len()],
        ..Analysis::default()
    };
    index_appends(txns, &mut analysis, anomalies);
    let mut known = Vec::new();
    for (index, txn) in txns.iter().enumerate() {
        check_internal(index, txn, &mut known, anomalies);
    }
    // (key, reader, list) for every committed read, in history order.
    let mut reads_by_key: Vec<(u64, usize, &'a [u64])> = Vec::new();
    let (mut appended, mut read) = (Vec::new(), Vec::new());
    for (index, txn) in txns.iter().enumerate() {
        if txn.outcome != TxnOutcome::Committed {
            continue;
        }
        analysis.nodes[index] = true;
        appended.clear();
        read.clear();
        for mop in &txn.mops {
            match mop {
                Mop::Append { key, .. } => {
                    if !appended.contains(key) {
                        appended.push(*key);
                    }
                }
                Mop::Read {
                    key,
                    list: Some(list),
                } => {
                    check_dirty_reads(txns, &analysis.appender, index, *key, list, anomalies);
                    reads_by_key.push((*key, index, list));
                    if !appended.contains(key) && !read.contains(key) {
                        read.push(*key);
                        let external = ExternalRead {
                            txn: index,
                            key: *key,
                            list,
                        };
                        analysis.external_reads.push(external);
                    }
                }
                Mop::Read { list: None, .. } => {}
            }
        }
    }
    // A stable sort keeps each key's reads in history order.
    reads_by_key.sort_by_key(|(key, _, _)| *key);
    for reads in reads_by_key.chunk_by(|a, b| a.0 == b.0) {
        let key = reads[0].0;
        let order = version_order(key, reads, anomalies);
        for element in order {
            if let Some(writer) = analysis.appender.get(&(key, *element))
                && txns[*writer].outcome == TxnOutcome::InDoubt
            {
                analysis.nodes[*writer] = true;
            }
        }
        analysis.orders.push((key, order));
    }
    find_lost_updates(txns, &analysis.external_reads, anomalies);
    analysis
}

/// Records the appender of every element; an element appended twice is a duplicate.
fn index_appends(txns: &[ElleTxn], analysis: &mut Analysis, anomalies: &mut Vec<Anomaly>) {
    let appends = txns
        .iter()
        .flat_map(|txn| &txn.mops)
        .filter(|mop| matches!(mop, Mop::Append { .. }))
        .count();
    analysis.appender.reserve(appends);
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

/// What a transaction knows about a key so far.
enum Known<'a> {
    /// Only its own appends (the prefix before them is unknown).
    Suffix(Vec<u64>),
    /// The whole list: the list it last read, then its own appends since.
    Whole(&'a [u64], Vec<u64>),
}

impl Known<'_> {
    fn push(&mut self, element: u64) {
        match self {
            Known::Suffix(own) | Known::Whole(_, own) => own.push(element),
        }
    }

    fn agrees_with(&self, list: &[u64]) -> bool {
        match self {
            Known::Suffix(own) => list.ends_with(own),
            Known::Whole(read, own) => {
                list.len() == read.len() + own.len()
                    && list.starts_with(read)
                    && list.ends_with(own)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Known::Suffix(own) => format!("a list ending with its own appends {own:?}"),
            Known::Whole(read, own) => {
                let whole: Vec<u64> = read.iter().chain(own).copied().collect();
                format!("{whole:?}")
            }
        }
    }
}

/// The first element of `list` that already appeared earlier in it.
fn first_repeat(list: &[u64]) -> Option<u64> {
    /// Up to this length a quadratic scan is cheaper than building a set.
    const SCAN_LEN: usize = 32;
    if list.len() <= SCAN_LEN {
        return (1..list.len())
            .find(|at| list[..*at].contains(&list[*at]))
            .map(|at| list[at]);
    }
    let mut seen = BTreeSet::new();
    list.iter().find(|element| !seen.insert(**element)).copied()
}

/// A transaction must read its own appends and agree with its own earlier reads. `known`
/// is scratch space, reused from one transaction to the next.
fn check_internal<'a>(
    index: usize,
    txn: &'a ElleTxn,
    known: &mut Vec<(u64, Known<'a>)>,
    anomalies: &mut Vec<Anomaly>,
) {
    known.clear();
    for mop in &txn.mops {
        match mop {
            Mop::Append { key, element } => match known.iter_mut().find(|(k, _)| k == key) {
                Some((_, state)) => state.push(*element),
                None => known.push((*key, Known::Suffix(vec![*element]))),
            },
            Mop::Read {
                key,
                list: Some(list),
            } => {
                if let Some(twice) = first_repeat(list) {
                    anomalies.push(anomaly(
                        AnomalyKind::DuplicateElement,
                        format!("T{index} read key {key} as {list:?}, with {twice} twice"),
                        vec![index],
                    ));
                }
                let slot = known.iter().position(|(k, _)| k == key);
                if let Some(at) = slot
                    && !known[at].1.agrees_with(list)
                {
                    let expected = known[at].1.describe();
                    anomalies.push(anomaly(
                        AnomalyKind::InternalInconsistency,
                        format!("T{index} read key {key} as {list:?}, but expected {expected}"),
                        vec![index],
                    ));
                }
                let whole = Known::Whole(list, Vec::new());
                match slot {
                    Some(at) => known[at].1 = whole,
                    None => known.push((*key, whole)),
                }
            }
            Mop::Read { list: None, .. } => {}
        }
    }
}

/// G1a (an element nobody committed may have appended) and G1b (an intermediate state).
fn check_dirty_reads(
    txns: &[ElleTxn],
    appender: &Appenders,
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
    let appends_to_key = |mop: &Mop| match mop {
        Mop::Append { key: k, element } if *k == key => Some(*element),
        _ => None,
    };
    let writer_last = txns[writer].mops.iter().rev().find_map(appends_to_key);
    if writer_last != Some(*last) {
        let writer_appends: Vec<u64> = txns[writer]
            .mops
            .iter()
            .filter_map(appends_to_key)
            .collect();
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

/// The longest read of `key`; every other read must be a prefix of it. `reads` are the
/// key's `(key, reader, list)` in history order.
fn version_order<'a>(
    key: u64,
    reads: &[(u64, usize, &'a [u64])],
    anomalies: &mut Vec<Anomaly>,
) -> &'a [u64] {
    let (longest_reader, longest) = reads
        .iter()
        .max_by_key(|(_, index, list)| (list.len(), std::cmp::Reverse(*index)))
        .map(|(_, index, list)| (*index, *list))
        .expect("a key in the read index has at least one read");
    for (_, reader, list) in reads {
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
    let mut by_version: Vec<(u64, &[u64], usize)> = reads
        .iter()
        .filter(|read| {
            txns[read.txn]
                .mops
                .iter()
                .any(|mop| matches!(mop, Mop::Append { key, .. } if *key == read.key))
        })
        .map(|read| (read.key, read.list, read.txn))
        .collect();
    // A stable sort keeps the writers of one version in history order.
    by_version.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for version in by_version.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if version.len() >= 2 {
            let (key, list) = (version[0].0, version[0].1);
            let writers: Vec<usize> = version.iter().map(|(_, _, txn)| *txn).collect();
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

#[cfg(test)]
mod tests {
    use super::first_repeat;

    #[test]
    fn first_repeat_names_the_first_element_seen_twice_in_short_and_long_lists() {
        assert_eq!(first_repeat(&[]), None);
        assert_eq!(first_repeat(&[1, 2, 3]), None);
        assert_eq!(first_repeat(&[1, 2, 3, 2, 1]), Some(2));
        assert_eq!(first_repeat(&[5, 5]), Some(5));
        // Past the quadratic scan's length the set path must agree.
        let mut long: Vec<u64> = (0..100).collect();
        assert_eq!(first_repeat(&long), None);
        long.push(70);
        long.push(3);
        assert_eq!(first_repeat(&long), Some(70));
        long.insert(50, 3);
        assert_eq!(first_repeat(&long), Some(3));
    }
}
