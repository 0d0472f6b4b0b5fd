//! `CompletionGroup`: fan-in of many completions into one.
//!
//! What must hold:
//! - Every member is linked before any is evaluated; the group finishes when its last
//!   member finishes and never earlier, and only once it has been built.
//! - Its result is the first error in completion order, or success. A member that had
//!   already failed when added counts as failing at the moment it was added.
//! - `cancel()` (or `abort()` on the built completion) aborts only unfinished members.
//! - Groups nest: a built group is a completion like any other.
//! - An empty group's `build()` returns a finished, succeeded completion.
//! - The outstanding count never wraps: finishing more members than were added is a bug
//!   and panics with a message.

use super::completion::{Completion, CompletionResult, GroupState, lock};

/// Builds one completion that stands for many.
pub struct CompletionGroup {
    completion: Completion,
}

impl CompletionGroup {
    /// A group whose callback runs once, with the group's result, when it finishes.
    pub fn new(callback: impl Fn(CompletionResult) + Send + Sync + 'static) -> Self {
        let state = GroupState {
            label: None,
            members: Vec::new(),
            outstanding: 0,
            first_error: None,
            built: false,
            complete_on_first: false,
        };
        CompletionGroup {
            completion: Completion::with_parts(Some(Box::new(callback)), 0, Some(state)),
        }
    }

    /// Names the kind of group (e.g. "commit-frames") for fault targeting and statistics.
    pub fn with_label(self, label: &'static str) -> Self {
        self.state().label = Some(label);
        self
    }

    /// Known-bad behaviour for the simulator to catch: the group finishes with its first
    /// member instead of its last.
    #[cfg(feature = "canaries")]
    pub fn complete_on_first_member(self) -> Self {
        self.state().complete_on_first = true;
        self
    }

    /// Adds a member. Members that already finished are allowed; a failed one makes the
    /// group's result that error.
    pub fn add(&mut self, member: &Completion) {
        assert!(
            !member.same_as(&self.completion),
            "a group cannot contain itself"
        );
        assert!(!self.state().built, "add after build");
        match member.attach_parent(&self.completion) {
            Some(result) => {
                let mut state = self.state();
                if let (Err(e), None) = (result, state.first_error) {
                    state.first_error = Some(e);
                }
                state.members.push(member.clone());
            }
            None => {
                let mut state = self.state();
                state.outstanding += 1;
                state.members.push(member.clone());
            }
        }
    }

    /// Number of members added so far.
    pub fn len(&self) -> usize {
        self.state().members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Aborts every member that has not finished yet. Finished members keep their result.
    pub fn cancel(&self) {
        let members = self.state().unfinished_members();
        for member in members {
            member.abort();
        }
    }

    /// Seals the group and returns its completion. If nothing is outstanding it is
    /// finished already (succeeded unless a member had failed).
    pub fn build(self) -> Completion {
        let ready = {
            let mut state = self.state();
            state.built = true;
            if state.outstanding == 0 {
                Some(state.first_error.map_or(Ok(0), Err))
            } else {
                None
            }
        };
        if let Some(result) = ready {
            self.completion.finish(result);
        }
        self.completion
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GroupState> {
        lock(
            self.completion
                .inner
                .group
                .as_ref()
                .expect("a group's completion has group state"),
        )
    }
}

impl Completion {
    /// Called when one member of this group finishes.
    pub(crate) fn member_finished(&self, result: CompletionResult) {
        let group = self.inner.group.as_ref().expect("only groups have members");
        let ready = {
            let mut state = lock(group);
            if let (Err(e), None) = (result, state.first_error) {
                state.first_error = Some(e);
            }
            state.outstanding = state
                .outstanding
                .checked_sub(1)
                .expect("a group member finished more often than members were added");
            assert!(
                state.outstanding <= state.members.len(),
                "a group counts down only its own members"
            );
            let last = state.outstanding == 0 || state.complete_on_first;
            if state.built && last {
                Some(state.first_error.map_or(Ok(0), Err))
            } else {
                None
            }
        };
        if let Some(result) = ready {
            self.finish(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;

    use super::*;
    use crate::io::CompletionError;

    /// A callback that records every result it is called with.
    fn recorder() -> (
        Arc<Mutex<Vec<CompletionResult>>>,
        impl Fn(CompletionResult) + Send + Sync,
    ) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = calls.clone();
        (calls, move |r| sink.lock().expect("test mutex").push(r))
    }

    fn calls(log: &Arc<Mutex<Vec<CompletionResult>>>) -> Vec<CompletionResult> {
        log.lock().expect("test mutex").clone()
    }

    #[test]
    fn group_finishes_only_when_last_member_finishes() {
        let (log, cb) = recorder();
        let members: Vec<Completion> = (0..3).map(|_| Completion::new_noop()).collect();
        let mut group = CompletionGroup::new(cb);
        for m in &members {
            group.add(m);
        }
        let built = group.build();
        members[2].complete(1);
        members[0].complete(1);
        assert!(
            !built.finished(),
            "two of three finished: the group must still wait"
        );
        assert!(calls(&log).is_empty());
        members[1].complete(1);
        assert!(built.finished() && built.succeeded());
        assert_eq!(calls(&log), vec![Ok(0)]);
    }

    #[test]
    fn group_result_is_first_error_in_completion_order() {
        let (log, cb) = recorder();
        let (a, b, c) = (
            Completion::new_noop(),
            Completion::new_noop(),
            Completion::new_noop(),
        );
        let mut group = CompletionGroup::new(cb);
        group.add(&a);
        group.add(&b);
        group.add(&c);
        let built = group.build();
        c.error(CompletionError::Io(std::io::ErrorKind::Other));
        a.error(CompletionError::Aborted);
        assert!(!built.finished());
        b.complete(4);
        assert_eq!(
            built.get_error(),
            Some(CompletionError::Io(std::io::ErrorKind::Other))
        );
        assert_eq!(
            calls(&log),
            vec![Err(CompletionError::Io(std::io::ErrorKind::Other))]
        );
    }

    #[test]
    fn member_failed_before_add_fails_the_group_but_group_still_waits() {
        let failed = Completion::new_noop();
        failed.error(CompletionError::Io(std::io::ErrorKind::UnexpectedEof));
        let pending = Completion::new_noop();
        let (log, cb) = recorder();
        let mut group = CompletionGroup::new(cb);
        group.add(&failed);
        group.add(&pending);
        let built = group.build();
        assert!(!built.finished(), "a pending member remains");
        pending.complete(0);
        assert!(built.failed(), "the pre-failed member decides the result");
        assert_eq!(
            built.get_error(),
            Some(CompletionError::Io(std::io::ErrorKind::UnexpectedEof))
        );
        assert_eq!(calls(&log).len(), 1);
    }

    #[test]
    fn group_of_only_a_failed_member_fails_at_build() {
        let failed = Completion::new_noop();
        failed.error(CompletionError::Aborted);
        let mut group = CompletionGroup::new(|_| {});
        group.add(&failed);
        let built = group.build();
        assert!(
            built.finished() && built.failed(),
            "must not report success"
        );
    }

    #[test]
    fn cancel_aborts_only_unfinished_members() {
        let done = Completion::new_noop();
        let pending = Completion::new_noop();
        let (log, cb) = recorder();
        let mut group = CompletionGroup::new(cb);
        group.add(&done);
        group.add(&pending);
        done.complete(8);
        group.cancel();
        assert!(done.succeeded(), "finished member keeps its result");
        assert_eq!(pending.get_error(), Some(CompletionError::Aborted));
        let built = group.build();
        assert_eq!(built.get_error(), Some(CompletionError::Aborted));
        assert_eq!(calls(&log), vec![Err(CompletionError::Aborted)]);
    }

    #[test]
    fn abort_of_built_group_aborts_unfinished_members() {
        let done = Completion::new_noop();
        let pending = Completion::new_noop();
        let mut group = CompletionGroup::new(|_| {});
        group.add(&done);
        group.add(&pending);
        let built = group.build();
        done.complete(1);
        built.abort();
        assert!(done.succeeded());
        assert_eq!(pending.get_error(), Some(CompletionError::Aborted));
        assert_eq!(built.get_error(), Some(CompletionError::Aborted));
    }

    #[test]
    fn groups_nest_three_deep() {
        let leaf = Completion::new_noop();
        let sibling = Completion::new_noop();
        let mut inner = CompletionGroup::new(|_| {}).with_label("inner");
        inner.add(&leaf);
        let inner = inner.build();
        let mut middle = CompletionGroup::new(|_| {}).with_label("middle");
        middle.add(&inner);
        middle.add(&sibling);
        let middle = middle.build();
        let (log, cb) = recorder();
        let mut outer = CompletionGroup::new(cb).with_label("outer");
        outer.add(&middle);
        let outer = outer.build();
        assert_eq!(leaf.group_labels(), vec!["inner", "middle", "outer"]);
        leaf.complete(0);
        assert!(inner.finished() && !middle.finished() && !outer.finished());
        sibling.error(CompletionError::Aborted);
        assert!(middle.failed() && outer.failed());
        assert_eq!(calls(&log), vec![Err(CompletionError::Aborted)]);
    }

    #[test]
    fn empty_group_is_finished_and_succeeded() {
        let (log, cb) = recorder();
        let built = CompletionGroup::new(cb).build();
        assert!(built.finished() && built.succeeded());
        assert_eq!(calls(&log), vec![Ok(0)]);
    }

    #[test]
    fn every_callback_runs_exactly_once() {
        let (member_log, member_cb) = recorder();
        let (group_log, group_cb) = recorder();
        let member = Completion::new(member_cb);
        let mut group = CompletionGroup::new(group_cb);
        group.add(&member);
        let built = group.build();
        member.complete(3);
        member.complete(5);
        member.error(CompletionError::Aborted);
        member.abort();
        built.abort();
        built.complete(9);
        assert_eq!(calls(&member_log), vec![Ok(3)]);
        assert_eq!(calls(&group_log), vec![Ok(0)]);
    }

    #[test]
    fn completing_twice_is_ignored() {
        let c = Completion::new_noop();
        c.error(CompletionError::Io(std::io::ErrorKind::Other));
        c.complete(7);
        assert!(c.failed());
        assert_eq!(
            c.result(),
            Some(Err(CompletionError::Io(std::io::ErrorKind::Other)))
        );
    }

    #[test]
    fn yield_completion_is_finished_and_succeeded() {
        let y = Completion::new_yield();
        assert!(y.finished() && y.succeeded() && !y.failed());
        assert_eq!(y.get_error(), None);
    }

    #[test]
    fn member_shared_by_two_groups_notifies_both() {
        let member = Completion::new_noop();
        let mut g1 = CompletionGroup::new(|_| {});
        let mut g2 = CompletionGroup::new(|_| {});
        g1.add(&member);
        g2.add(&member);
        let (b1, b2) = (g1.build(), g2.build());
        member.complete(0);
        assert!(b1.succeeded() && b2.succeeded());
    }

    #[test]
    #[should_panic(expected = "add after build")]
    fn add_after_build_is_refused() {
        let built = CompletionGroup::new(|_| {}).build();
        // Outside code cannot reach a sealed group; rebuild the handle to prove the state
        // itself refuses a late member instead of silently reopening a finished group.
        let mut late = CompletionGroup { completion: built };
        late.add(&Completion::new_noop());
    }
}
