//! Lanes: several events at the gate at once, finishing in any order. A
//! small deterministic generator picks which event at the gate finishes
//! next, so each test runs many orders and any failure repeats.

use std::collections::{BTreeMap, HashMap};

use super::tests::{keys, read_first_page, row, source, Table, SECOND, T0};
use super::*;
use crate::ledger::{Head, Ledger, MAX_AHEAD};
use crate::source_error::SourceError;

/// xorshift64*: enough to shuffle completions, and the same every run.
struct Shuffle(u64);

impl Shuffle {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

fn part_of(event: &Event) -> String {
    event.row["part"].to_string()
}

/// What a lane run saw.
#[derive(Default)]
struct Seen {
    /// Keys in the order they went to the gate.
    delivered: Vec<String>,
    /// Keys in the order they finished.
    finished: Vec<String>,
    /// The most events at the gate at once.
    most_at_gate: usize,
}

/// Drives `drain` against `table`, finishing the events at the gate in an
/// order `shuffle` picks, until nothing is left or `stop_after` events have
/// finished (then those still at the gate, as many as it admits, are
/// returned unfinished). Checks
/// on every admission that no two events of one partition overlap, when
/// the drain has a partition key.
fn run_lanes(
    drain: &mut Drain,
    table: &Table,
    shuffle: &mut Shuffle,
    stop_after: Option<usize>,
) -> (Seen, Vec<Event>) {
    let mut seen = Seen::default();
    let mut gate: Vec<Event> = Vec::new();
    let partitioned = drain.partition_key.is_some();
    for _ in 0..100_000 {
        match drain.next(0.0, SECOND) {
            Step::Read(kind, _) => {
                let rows = table.answer(drain, kind);
                drain.on_read(kind, Ok(rows), 0.0, 0.5);
            }
            Step::Deliver(event) => {
                if partitioned {
                    assert!(
                        gate.iter().all(|e| part_of(e) != part_of(&event)),
                        "{} overlaps another event of partition {}",
                        event.key,
                        part_of(&event)
                    );
                }
                seen.delivered.push(event.key.clone());
                gate.push(event);
                seen.most_at_gate = seen.most_at_gate.max(gate.len());
                assert!(gate.len() <= drain.lanes());
            }
            Step::Record(_) => {}
            Step::Refuse(event, reason) => panic!("{} refused: {reason}", event.key),
            // Stopped with the gate as full as it gets.
            Step::Wait(_) | Step::Halted
                if gate.is_empty() || stop_after.is_some_and(|n| seen.finished.len() >= n) =>
            {
                return (seen, gate)
            }
            Step::Wait(_) | Step::Halted => {
                let done = gate.remove(shuffle.below(gate.len()));
                drain.on_handled(&done.key);
                seen.finished.push(done.key);
            }
        }
    }
    panic!("the engine never settled");
}

fn table(n: i64) -> Table {
    Table((1..=n).map(|i| (i, T0 + i * 1000)).collect())
}

fn with_lanes(lanes: usize, ledger: Ledger) -> Drain {
    let mut drain = Drain::new(source(), ledger);
    drain.set_lanes(lanes);
    drain
}

#[test]
fn lanes_admit_up_to_their_number_oldest_first() {
    let table = table(10);
    let mut drain = with_lanes(4, Ledger::default());
    read_first_page(&mut drain, &table);
    let admitted: Vec<String> = (0..4)
        .map(|_| match drain.next(0.0, SECOND) {
            Step::Deliver(event) => event.key,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(admitted, keys(1..5));
    assert_eq!(drain.at_gate(), 4);
    assert_eq!(
        drain.next(0.0, SECOND),
        Step::Wait(Duration::MAX),
        "four lanes, four events"
    );
    drain.on_handled("3");
    assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "5"));
}

#[test]
fn the_cursor_moves_only_over_the_unbroken_run_of_handled_events() {
    let table = table(6);
    let mut drain = with_lanes(4, Ledger::default());
    read_first_page(&mut drain, &table);
    for _ in 0..4 {
        assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(_)));
    }
    let cursor = |drain: &Drain| drain.ledger().cursor().map(|c| c.key.clone());
    let ahead = |drain: &Drain| drain.ledger().ahead().map(String::from).collect::<Vec<_>>();
    drain.on_handled("3");
    drain.on_handled("2");
    assert_eq!(
        (cursor(&drain), ahead(&drain)),
        (None, vec!["3".into(), "2".into()])
    );
    drain.on_handled("1");
    assert_eq!(
        (cursor(&drain), ahead(&drain)),
        (Some("3".into()), vec![]),
        "1 closes the gap: the cursor passes 2 and 3"
    );
    assert_eq!(drain.ledger().handled(), 3);
    drain.on_handled("4");
    assert_eq!(cursor(&drain), Some("4".into()));
}

#[test]
fn any_completion_order_handles_every_event_once_and_the_cursor_ends_at_the_last() {
    for seed in 1..=40u64 {
        let table = table(300);
        let lanes = 1 + (seed as usize * 7) % MAX_LANES;
        let mut drain = with_lanes(lanes, Ledger::default());
        let (seen, left) = run_lanes(&mut drain, &table, &mut Shuffle(seed), None);
        assert!(left.is_empty());
        let mut finished = seen.finished.clone();
        finished.sort_by_key(|k| k.parse::<i64>().unwrap());
        assert_eq!(finished, keys(1..301), "seed {seed}: each once");
        assert_eq!(
            seen.delivered,
            keys(1..301),
            "seed {seed}: admitted oldest first"
        );
        assert_eq!(
            seen.most_at_gate,
            lanes.min(300),
            "seed {seed}: every lane used"
        );
        assert_eq!(drain.ledger().cursor().unwrap().key, "300");
        assert_eq!(drain.ledger().ahead().count(), 0);
    }
}

#[test]
fn a_partition_never_overlaps_and_passes_in_the_table_order() {
    for seed in 1..=20u64 {
        let table = table(200);
        let mut drain = with_lanes(16, Ledger::default());
        drain.set_partition_key(Some(&Identifier::parse("part").unwrap()));
        // run_lanes asserts that no two events of a partition overlap.
        let (seen, _) = run_lanes(&mut drain, &table, &mut Shuffle(seed), None);
        let mut by_part: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for key in &seen.finished {
            let id: i64 = key.parse().unwrap();
            by_part.entry((id * 7) % 5).or_default().push(id);
        }
        assert_eq!(by_part.len(), 5);
        for (part, ids) in by_part {
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "seed {seed}: partition {part} finished out of order: {ids:?}"
            );
        }
        assert_eq!(
            seen.most_at_gate, 5,
            "five partitions run side by side, no more"
        );
        assert_eq!(seen.finished.len(), 200);
    }
}

/// Storage as the shell keeps it: the head and the ring's slots.
fn stored(ledger: &Ledger) -> Ledger {
    let file = crate::ledger::LedgerFile::of("events", ledger);
    let mut head = Head::default();
    let mut slots = vec![None; crate::ledger::RING_SLOTS];
    for write in file.writes() {
        match write {
            Write::Head(h) => head = h,
            Write::Slot(i, slot) => slots[i] = Some(slot),
        }
    }
    Ledger::restore(head, slots)
}

#[test]
fn a_reload_sends_again_exactly_the_events_that_were_at_the_gate() {
    for seed in 1..=30u64 {
        let table = table(120);
        let mut drain = with_lanes(8, Ledger::default());
        let stop = 10 + (seed as usize * 13) % 60;
        let (before, at_gate) = run_lanes(&mut drain, &table, &mut Shuffle(seed), Some(stop));
        assert_eq!(at_gate.len(), 8, "seed {seed}");
        // The page reloads: only what was stored survives.
        let mut reloaded = with_lanes(8, stored(drain.ledger()));
        let (after, _) = run_lanes(&mut reloaded, &table, &mut Shuffle(seed + 1000), None);
        let at_gate: Vec<String> = at_gate.into_iter().map(|e| e.key).collect();
        assert_eq!(
            after.delivered[..8],
            at_gate[..],
            "seed {seed}: the events at the gate go first, again"
        );
        let mut all: Vec<&String> = before.finished.iter().chain(&after.finished).collect();
        all.sort_by_key(|k| k.parse::<i64>().unwrap());
        all.dedup();
        assert_eq!(all.len(), 120, "seed {seed}: nothing lost");
        assert_eq!(
            before.finished.len() + after.finished.len(),
            120,
            "seed {seed}: nothing handled twice"
        );
    }
}

/// Drives `drain` with event 1 never finishing and every other event
/// finishing as soon as it is at the gate, until nothing more moves; hands
/// each finished event and what recording it wrote to `finished`. Returns
/// the events left at the gate.
fn run_with_event_1_stuck(
    drain: &mut Drain,
    table: &Table,
    mut finished: impl FnMut(&Event, Vec<Write>),
) -> Vec<Event> {
    let mut gate: Vec<Event> = Vec::new();
    for _ in 0..10_000 {
        match drain.next(0.0, SECOND) {
            Step::Read(kind, _) => {
                drain.on_read(kind, Ok(table.answer(drain, kind)), 0.0, 0.5);
            }
            Step::Deliver(event) => gate.push(event),
            _ => {
                let Some(i) = (0..gate.len()).find(|&i| gate[i].key != "1") else {
                    return gate;
                };
                let done = gate.remove(i);
                let writes = drain.on_handled(&done.key);
                finished(&done, writes);
            }
        }
    }
    panic!("the engine never settled");
}

#[test]
fn a_stuck_event_holds_at_most_max_ahead_and_the_head_stays_small() {
    let table = table(500);
    let mut drain = with_lanes(MAX_LANES, Ledger::default());
    let mut largest_head = 0;
    let gate = run_with_event_1_stuck(&mut drain, &table, |_, writes| {
        for write in writes {
            if let Write::Head(head) = write {
                largest_head = largest_head.max(ahead_chars_with_uuid_keys(&head));
            }
        }
    });
    assert_eq!(gate.len(), 1, "only the stuck event is left at the gate");
    // The stuck event and those handled ahead of it fill the window.
    assert_eq!(drain.ledger().ahead().count(), MAX_AHEAD - 1);
    assert_eq!(drain.ledger().handled(), MAX_AHEAD as u64 - 1);
    assert!(drain.ledger().cursor().is_none());
    // With uuid keys instead of numbers, the head grows by under 4 KB.
    assert!(
        largest_head < 4 * 1024,
        "{largest_head} characters with uuid keys"
    );
    // It finishes: the cursor passes everything handled ahead at once.
    drain.on_handled("1");
    assert_eq!(drain.ledger().cursor().unwrap().key, "64");
    assert_eq!(drain.ledger().ahead().count(), 0);
}

/// Characters the `ahead` list adds to the head item as stored, with every
/// key as long as a uuid.
fn ahead_chars_with_uuid_keys(head: &Head) -> usize {
    let mut head = head.clone();
    for slot in &mut head.ahead {
        slot.1 = format!("{:0>36}", slot.1);
    }
    let without = Head {
        ahead: Vec::new(),
        ..head.clone()
    };
    serde_json::to_string(&head).unwrap().len() - serde_json::to_string(&without).unwrap().len()
}

#[test]
fn a_failing_event_holds_only_its_own_partition() {
    let table = table(40);
    let mut drain = with_lanes(4, Ledger::default());
    drain.set_partition_key(Some(&Identifier::parse("part").unwrap()));
    let stuck_part = part_of(&Event {
        key: "1".into(),
        timestamp: String::new(),
        timestamp_micros: 0,
        row: row(1, T0),
        row_bytes: 0,
    });
    let mut finished: HashMap<String, usize> = HashMap::new();
    run_with_event_1_stuck(&mut drain, &table, |done, _| {
        *finished.entry(part_of(done)).or_default() += 1;
    });
    assert_eq!(
        finished.get(&stuck_part),
        None,
        "its partition waits behind it"
    );
    assert_eq!(
        finished.values().sum::<usize>(),
        32,
        "the other partitions drained"
    );
}

#[test]
fn a_new_partition_key_applies_once_the_gate_is_empty() {
    let table = table(10);
    let mut drain = with_lanes(4, Ledger::default());
    read_first_page(&mut drain, &table);
    assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "1"));
    drain.set_partition_key(Some(&Identifier::parse("part").unwrap()));
    assert_eq!(drain.next(0.0, SECOND), Step::Wait(Duration::MAX));
    drain.on_handled("1");
    assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "2"));
}

#[test]
fn a_partition_key_the_rows_lack_halts_with_its_name() {
    let table = table(3);
    let mut drain = with_lanes(4, Ledger::default());
    drain.set_partition_key(Some(&Identifier::parse("tenant").unwrap()));
    read_first_page(&mut drain, &table);
    assert_eq!(drain.next(0.0, SECOND), Step::Halted);
    assert!(drain
        .halted()
        .unwrap()
        .to_string()
        .contains("the partition key tenant is not a column of events"));
}

#[test]
fn watch_only_meanwhile_keeps_the_events_at_the_gate_and_loses_none() {
    let table = table(30);
    let mut drain = with_lanes(4, Ledger::default());
    let mut shuffle = Shuffle(3);
    let (first, gate) = run_lanes(&mut drain, &table, &mut shuffle, Some(5));
    drain.set_watch_only(true);
    // What was at the gate finishes while only watching.
    for event in &gate {
        drain.on_handled(&event.key);
    }
    let _ = drain.next(0.0, SECOND);
    drain.set_watch_only(false);
    let (then, _) = run_lanes(&mut drain, &table, &mut shuffle, None);
    let mut all: Vec<String> = first
        .finished
        .into_iter()
        .chain(gate.into_iter().map(|e| e.key))
        .chain(then.finished)
        .collect();
    all.sort_by_key(|k| k.parse::<i64>().unwrap());
    assert_eq!(all, keys(1..31), "each once, none lost");
    assert_eq!(drain.ledger().cursor().unwrap().key, "30");
}

/// Answers a read as PostgREST would, except that any read carrying a row
/// of `poisoned` whole fails as unreadable (a position read carries only
/// the key and timestamp, so it passes).
fn answer_poisoned(
    drain: &Drain,
    table: &Table,
    kind: ReadKind,
    path: &str,
    poisoned: i64,
) -> Result<Vec<serde_json::Value>, SourceError> {
    let rows = table.answer(drain, kind);
    if kind == ReadKind::Position {
        let first = rows.into_iter().next();
        return Ok(first
            .map(|r| vec![serde_json::json!({"id": r["id"], "created_at": r["created_at"]})])
            .unwrap_or_default());
    }
    let at = path.find("limit=").expect("a limit") + 6;
    let limit: usize = path[at..].split('&').next().unwrap().parse().unwrap();
    let rows: Vec<_> = rows.into_iter().take(limit).collect();
    if rows.iter().any(|r| r["id"].as_i64() == Some(poisoned)) {
        return Err(SourceError::Unreadable {
            table: "events".into(),
            detail: "recursion limit exceeded".into(),
        });
    }
    Ok(rows)
}

#[test]
fn an_unreadable_row_refused_ahead_of_older_events_is_not_refused_again_after_a_reload() {
    let table = table(10);
    let mut drain = with_lanes(5, Ledger::default());
    let (mut now, mut gate, mut refused) = (0.0, Vec::new(), Vec::new());
    // Events 1–4 stay at the gate while row 5 is isolated and refused.
    for _ in 0..10_000 {
        match drain.next(now, SECOND) {
            Step::Read(kind, path) => {
                let result = answer_poisoned(&drain, &table, kind, &path, 5);
                drain.on_read(kind, result, now, 0.5);
            }
            Step::Deliver(event) => gate.push(event.key),
            Step::Refuse(event, _) => {
                drain.on_handled(&event.key);
                refused.push(event.key);
            }
            Step::Wait(wait) if refused.is_empty() => now += wait.as_secs_f64() * 1000.0 + 1.0,
            _ => break,
        }
    }
    assert_eq!(
        (gate[..4].to_vec(), refused),
        (keys(1..5), vec!["5".to_string()])
    );
    assert!(drain.ledger().is_ahead("5"), "refused ahead of 1–4");
    // The page reloads with 1–4 unfinished.
    let mut reloaded = with_lanes(5, stored(drain.ledger()));
    let (mut delivered, mut refused_again) = (Vec::new(), Vec::new());
    for _ in 0..10_000 {
        match reloaded.next(now, SECOND) {
            Step::Read(kind, path) => {
                let result = answer_poisoned(&reloaded, &table, kind, &path, 5);
                reloaded.on_read(kind, result, now, 0.5);
            }
            Step::Deliver(event) => {
                reloaded.on_handled(&event.key);
                delivered.push(event.key);
            }
            Step::Refuse(event, _) => refused_again.push(event.key),
            Step::Record(_) => {}
            Step::Wait(wait) if wait < Duration::from_secs(600) => {
                now += wait.as_secs_f64() * 1000.0 + 1.0
            }
            Step::Wait(_) | Step::Halted => break,
        }
    }
    assert_eq!(refused_again, Vec::<String>::new(), "dead-lettered once");
    delivered.sort_by_key(|k| k.parse::<i64>().unwrap());
    assert_eq!(delivered, ["1", "2", "3", "4", "6", "7", "8", "9", "10"]);
    assert_eq!(reloaded.ledger().cursor().unwrap().key, "10");
}
