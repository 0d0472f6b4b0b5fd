//! `CompletionGroup`: fan-in of many completions into one.
//!
//! What must hold (DESIGN.md §2):
//! - Every member is linked before any is evaluated; the group finishes when its last
//!   member finishes and never earlier, and only once it has been built.
//! - Its result is the first error in completion order, or success. A member that had
//!   already failed when added counts as failing at the moment it was added.
//! - `cancel()` (or `abort()` on the built completion) aborts only unfinished members.
//! - Groups nest: a built group is a completion like any other.
//! - An empty group's `build()` returns a finished, succeeded completion.
//! - The outstanding count never wraps: finishing more members than were added is a bug
//!   and panics with a message.

use super::completion::{Completion, CompletionError, CompletionResult, lock};

pub(crate) struct GroupState {
    pub(crate) label: Option<&'static str>,
    members: Vec<Completion>,
    outstanding: usize,
    first_error: Option<CompletionError>,
    pub(crate) built: bool,
    /// Canary: finish the group as soon as its first member finishes.
    complete_on_first: bool,
}

impl GroupState {
    pub(crate) fn unfinished_members(&self) -> Vec<Completion> {
        self.members.iter().filter(|m| !m.finished()).cloned().collect()
    }
}

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
        assert!(!member.same_as(&self.completion), "a group cannot contain itself");
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
        lock(self.completion.inner.group.as_ref().expect("a group's completion has group state"))
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
