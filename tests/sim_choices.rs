//! `Choices` and tapes: recording is a pure function of the seed, a replay returns exactly
//! what was recorded, a tape ends in zeros, spans nest, and tapes survive a file round trip.

use braid::sim::{Choices, Span, Tape, TapeError};
use braid_workloads::Draw;

/// A small "workload" drawing through the `Draw` trait, as braid-workloads does.
fn generate(draw: &mut impl Draw, transactions: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for _ in 0..transactions {
        draw.begin_span("txn");
        let ops = draw.draw(4) + 1;
        for _ in 0..ops {
            draw.begin_span("op");
            out.push(draw.draw(1000));
            if draw.chance(250_000) {
                out.push(draw.draw(3));
            }
            draw.end_span();
        }
        draw.end_span();
    }
    out
}

#[test]
fn the_same_seed_records_the_same_tape() {
    let mut a = Choices::recording(99);
    let mut b = Choices::recording(99);
    assert_eq!(generate(&mut a, 20), generate(&mut b, 20));
    assert_eq!(a.tape(), b.tape());
    let mut c = Choices::recording(100);
    generate(&mut c, 20);
    assert_ne!(
        a.tape().values,
        c.tape().values,
        "another seed draws other values"
    );
    assert_eq!(a.seed(), Some(99));
}

#[test]
fn replay_equals_recording() {
    let mut recording = Choices::recording(5);
    let recorded = generate(&mut recording, 30);
    let tape = recording.into_tape();
    let mut replay = Choices::replaying_tape(&tape);
    assert!(replay.is_replaying());
    assert_eq!(generate(&mut replay, 30), recorded);
    assert_eq!(replay.past_end_draws(), 0);
    assert_eq!(replay.reduced_draws(), 0);
    let replayed = replay.into_tape();
    assert_eq!(replayed.values, tape.values);
    assert_eq!(
        replayed.spans, tape.spans,
        "the replay rebuilds the same spans"
    );
    assert_eq!(replayed.values_hash(), tape.values_hash());
}

#[test]
fn past_the_end_of_the_tape_every_draw_is_zero() {
    let mut replay = Choices::replaying(vec![3, 1]);
    assert_eq!(replay.draw(10), 3);
    assert_eq!(replay.draw(10), 1);
    for bound in [2, 10, 1_000_000, u64::MAX] {
        assert_eq!(replay.draw(bound), 0);
    }
    assert!(
        !replay.chance(999_999),
        "zero is the no-fault outcome of chance"
    );
    assert_eq!(replay.past_end_draws(), 5);
    assert_eq!(replay.values(), &[3, 1, 0, 0, 0, 0, 0]);
}

#[test]
fn an_edited_tape_is_reduced_deterministically_and_its_normal_form_replays_identically() {
    // As the shrinker leaves it: values shifted onto draws with smaller bounds.
    let edited = vec![999, 7, 12, 0, 5];
    let run = |values: Vec<u64>| {
        let mut choices = Choices::replaying(values);
        let out = generate(&mut choices, 3);
        (out, choices.into_tape())
    };
    let (first, normal) = run(edited.clone());
    let (again, _) = run(edited);
    assert_eq!(first, again);
    assert!(
        normal
            .values
            .iter()
            .zip([4u64, 1000, 1_000_000, 1000])
            .all(|(v, b)| *v < b)
    );
    let (from_normal, renormal) = run(normal.values.clone());
    assert_eq!(from_normal, first);
    assert_eq!(renormal.values, normal.values);
}

#[test]
fn spans_record_labelled_nested_ranges_of_draws() {
    let mut choices = Choices::recording(1);
    choices.begin_span("connection");
    choices.draw(10);
    choices.begin_span("txn");
    choices.draw(10);
    choices.draw(10);
    choices.end_span();
    choices.begin_span("empty");
    choices.end_span();
    choices.draw(1); // bound 1: no draw, no tape entry
    choices.end_span();
    let spans = choices.spans().to_vec();
    let span = |label: &'static str, start, end, depth| Span {
        label: label.into(),
        start,
        end,
        depth,
    };
    assert_eq!(
        spans,
        vec![
            span("connection", 0, 3, 0),
            span("txn", 1, 3, 1),
            span("empty", 3, 3, 1)
        ]
    );
    assert_eq!(spans[1].len(), 2);
    assert!(spans[2].is_empty());
    assert_eq!(choices.open_spans(), 0);
}

#[test]
fn open_spans_are_closed_at_the_end_of_the_tape() {
    let mut choices = Choices::recording(2);
    choices.begin_span("run");
    choices.draw(5);
    let tape = choices.tape();
    assert_eq!(tape.spans[0].end, 1);
    choices.draw(5);
    assert_eq!(choices.into_tape().spans[0].end, 2);
}

#[test]
fn a_tape_file_round_trips_and_damage_is_detected() {
    let mut choices = Choices::recording(11);
    generate(&mut choices, 10);
    let tape = choices.into_tape();
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim_choices_round_trip.tape");
    tape.save(&path).expect("write the tape");
    let loaded = Tape::load(&path).expect("read the tape back");
    assert_eq!(loaded, tape);
    let mut bytes = std::fs::read(&path).expect("read the bytes");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    assert!(matches!(
        Tape::from_bytes(&bytes),
        Err(TapeError::ChecksumMismatch)
    ));
    std::fs::remove_file(&path).expect("clean up");
}
