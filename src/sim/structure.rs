//! The structure of a run as a person reads it: for every decision, where its draws lie on
//! the tape and what it served (a transaction of one connection, the I/O that transaction
//! issued, a crash, recovery). The shrinker uses it to delete whole transactions,
//! connections, faults and crash epochs from a tape (`Simulation::run_structured`).
//!
//! Recording it changes nothing in the run: no draw, no event and no hash depends on it.
//! An I/O completion belongs to whoever submitted the operation: the transaction whose step
//! issued it, or recovery.

use super::nemesis::lock_choices;
use super::simulation::Simulation;
use crate::target::Target;

/// What one decision served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Owner {
    /// A step of transaction number `txn` (counted from 0 over the whole run) on the
    /// connection of fiber `fiber`, or the completion of I/O that transaction issued.
    Txn { fiber: usize, txn: u64 },
    /// Opening or recovering the database, or completing its I/O.
    Recovery,
    /// A crash (or a restart after poisoning): the draws are the fates of unsynced writes.
    Crash,
    /// Anything else: a bit flip, time passing while I/O is held, an I/O nobody claims.
    #[default]
    Other,
}

/// One decision: its draws are `tape.values[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionRecord {
    pub start: usize,
    pub end: usize,
    /// The decision number (`step`) it ran at.
    pub step: u64,
    pub owner: Owner,
}

/// Collects `DecisionRecord`s while a run goes.
#[derive(Debug, Default)]
pub(crate) struct StructureRecorder {
    pub(crate) decisions: Vec<DecisionRecord>,
    /// `(first I/O id, owner)`: every I/O id from `first` until the next entry's belongs to
    /// `owner`. Ids are handed out in submission order, so this stays sorted.
    io_owners: Vec<(u64, Owner)>,
    /// The owner of the decision in progress.
    pub(crate) owner: Owner,
}

impl StructureRecorder {
    /// I/O ids `first..next` were submitted during the decision in progress.
    pub(crate) fn submitted(&mut self, first: u64, next: u64) {
        if next > first && self.io_owners.last().map(|&(_, o)| o) != Some(self.owner) {
            self.io_owners.push((first, self.owner));
        }
    }

    /// Who submitted I/O `id`.
    pub(crate) fn io_owner(&self, id: u64) -> Owner {
        let at = self.io_owners.partition_point(|&(first, _)| first <= id);
        at.checked_sub(1)
            .map_or(Owner::Other, |index| self.io_owners[index].1)
    }
}

impl<T: Target> Simulation<T> {
    /// One scheduler decision; while the structure is recorded, also what it served and
    /// where its draws lie.
    pub(crate) fn decide(&mut self) {
        let Some(recorder) = self.structure.as_mut() else {
            return self.decide_now();
        };
        recorder.owner = Owner::Other;
        let start = lock_choices(&self.choices).position();
        let (first_io, step) = (self.io.submitted(), self.step);
        self.decide_now();
        let end = lock_choices(&self.choices).position();
        let next_io = self.io.submitted();
        let recorder = self.structure.as_mut().expect("recorded above");
        recorder.submitted(first_io, next_io);
        let owner = recorder.owner;
        recorder.decisions.push(DecisionRecord {
            start,
            end,
            step,
            owner,
        });
    }

    /// Tells the structure recorder (if any) whom the decision in progress serves.
    pub(crate) fn note_owner(&mut self, owner: Owner) {
        if let Some(recorder) = self.structure.as_mut() {
            recorder.owner = owner;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_owners_are_found_by_the_range_their_id_falls_in() {
        let mut recorder = StructureRecorder::default();
        let txn = Owner::Txn { fiber: 1, txn: 4 };
        recorder.owner = Owner::Recovery;
        recorder.submitted(0, 3);
        recorder.owner = txn;
        recorder.submitted(3, 3); // nothing submitted: no entry
        recorder.submitted(3, 5);
        recorder.submitted(5, 6); // same owner again: still one range
        recorder.owner = Owner::Crash;
        recorder.submitted(9, 10);
        assert_eq!(recorder.io_owner(0), Owner::Recovery);
        assert_eq!(recorder.io_owner(2), Owner::Recovery);
        assert_eq!(recorder.io_owner(3), txn);
        assert_eq!(recorder.io_owner(5), txn);
        assert_eq!(recorder.io_owner(8), txn);
        assert_eq!(recorder.io_owner(9), Owner::Crash);
        assert_eq!(recorder.io_owners.len(), 3);
    }

    #[test]
    fn an_id_before_any_submission_has_no_owner() {
        let mut recorder = StructureRecorder {
            owner: Owner::Recovery,
            ..StructureRecorder::default()
        };
        recorder.submitted(4, 5);
        assert_eq!(recorder.io_owner(2), Owner::Other);
    }
}
