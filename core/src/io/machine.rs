//! The loop every multi-state machine of this crate runs, so that each state is handled by
//! a function of its own.
//!
//! A machine keeps its state in an enum whose `Default` is its finished state and which
//! names, for each waiting state, the one completion it waits for (`MachineState`).
//! `run_machine` does the two things every state used to repeat: it yields while that
//! completion is unfinished, and it moves the state out of the machine (leaving the finished
//! state behind) so the handler owns the variant's data. The handler then sets the next
//! state and returns `Flow::Continue` (run it now), yields (after putting back whatever must
//! survive the yield), or returns `Flow::Finish(value)`.
//!
//! A handler that fails leaves the machine in the finished state unless it puts a state back.

use super::{Completion, IOCompletions, IOResult};
use crate::Result;

/// What a state's handler hands back inside `IOResult::Done`.
#[derive(Debug)]
pub(crate) enum Flow<T> {
    /// The machine moved to a state that can run at once.
    Continue,
    /// The machine is done; `step` returns this value.
    Finish(T),
}

/// The result of one state's handler.
pub(crate) type FlowResult<T> = Result<IOResult<Flow<T>>>;

/// Handler result: the next state is set, run it now.
pub(crate) fn next_state<T>() -> FlowResult<T> {
    Ok(IOResult::Done(Flow::Continue))
}

/// Handler result: the machine is done with `value`.
pub(crate) fn finish<T>(value: T) -> FlowResult<T> {
    Ok(IOResult::Done(Flow::Finish(value)))
}

/// A machine's state enum. `Default` is the finished state.
pub(crate) trait MachineState: Default {
    /// The completion this state waits for before its handler may run, if any.
    fn waiting_on(&self) -> Option<&Completion>;
}

/// Runs `machine` until it finishes or must wait: yields while the current state's
/// completion is unfinished, else hands the state (moved out of `state(machine)`) to
/// `on_state`.
pub(crate) fn run_machine<M: ?Sized, S: MachineState, T>(
    machine: &mut M,
    state: fn(&mut M) -> &mut S,
    mut on_state: impl FnMut(&mut M, S) -> FlowResult<T>,
) -> Result<IOResult<T>> {
    loop {
        if let Some(waiting) = state(machine).waiting_on()
            && !waiting.finished()
        {
            return Ok(IOResult::IO(IOCompletions::Single(waiting.clone())));
        }
        let current = std::mem::take(state(machine));
        match on_state(machine, current)? {
            IOResult::IO(io) => return Ok(IOResult::IO(io)),
            IOResult::Done(Flow::Continue) => {}
            IOResult::Done(Flow::Finish(value)) => return Ok(IOResult::Done(value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    enum Count {
        Wait(Completion, u32),
        Add(u32),
        #[default]
        Done,
    }

    impl MachineState for Count {
        fn waiting_on(&self) -> Option<&Completion> {
            match self {
                Count::Wait(c, _) => Some(c),
                _ => None,
            }
        }
    }

    struct Counter {
        state: Count,
        pending: Completion,
    }

    fn on_state(counter: &mut Counter, state: Count) -> FlowResult<u32> {
        match state {
            Count::Wait(_, n) => {
                counter.state = Count::Add(n + 1);
                next_state()
            }
            Count::Add(n) if n < 3 => {
                counter.state = Count::Wait(counter.pending.clone(), n);
                next_state()
            }
            Count::Add(n) => finish(n),
            Count::Done => panic!("stepped after it finished"),
        }
    }

    #[test]
    fn yields_until_the_awaited_completion_finishes_and_moves_the_state_out() {
        let mut counter = Counter {
            state: Count::Add(0),
            pending: Completion::new_noop(),
        };
        let step = |c: &mut Counter| run_machine(c, |c| &mut c.state, on_state);
        assert!(!step(&mut counter).expect("no error").is_done());
        assert!(
            !step(&mut counter).expect("no error").is_done(),
            "still unfinished"
        );
        assert!(
            matches!(counter.state, Count::Wait(_, 0)),
            "the wait state stays"
        );
        counter.pending.complete(0);
        match step(&mut counter).expect("no error") {
            IOResult::Done(n) => assert_eq!(n, 3),
            IOResult::IO(_) => panic!("a finished completion never yields"),
        }
        assert!(
            matches!(counter.state, Count::Done),
            "finished state left behind"
        );
    }
}
