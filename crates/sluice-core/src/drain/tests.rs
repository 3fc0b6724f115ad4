//! The drain engine's unit tests: a table in memory answers its reads the
//! way PostgREST would, and the tests walk the engine through pages, late
//! rows, errors, unreadable rows, pauses and reloads. The helpers marked
//! `pub(super)` serve `lane_tests.rs` too.

use super::*;
use crate::source::Identifier;
use crate::timestamp::format_micros;
use serde_json::{json, Value};

pub(super) const T0: i64 = 1_714_557_600_000_000;
pub(super) const SECOND: Duration = Duration::from_secs(1);

pub(super) fn source() -> TableSource {
    TableSource {
        table: Identifier::parse("events").unwrap(),
        timestamp_column: Identifier::parse("created_at").unwrap(),
        key_column: Identifier::parse("id").unwrap(),
    }
}

/// A row of the test table; its `part` column serves as a partition key.
pub(super) fn row(id: i64, micros: i64) -> Value {
    json!({"id": id, "created_at": format_micros(micros), "type": "x", "part": (id * 7) % 5})
}

/// A table in memory, answering the engine's reads the way PostgREST would.
pub(super) struct Table(pub Vec<(i64, i64)>);

impl Table {
    pub(super) fn answer(&self, drain: &Drain, kind: ReadKind) -> Vec<Value> {
        let mut rows = self.0.clone();
        rows.sort_by_key(|&(id, t)| (t, id));
        let after = |id: i64, t: i64| match drain.read_to.as_ref() {
            None => true,
            Some(c) => {
                let ct = crate::timestamp::parse_micros(&c.timestamp).unwrap();
                let ck: i64 = c.key.parse().unwrap();
                (t, id) > (ct, ck)
            }
        };
        match kind {
            ReadKind::Page | ReadKind::Position => rows
                .into_iter()
                .filter(|&(id, t)| after(id, t))
                .take(PAGE_SIZE)
                .map(|(id, t)| row(id, t))
                .collect(),
            ReadKind::Late => {
                let floor = drain.ledger().late_floor().unwrap();
                rows.into_iter()
                    .filter(|&(id, t)| {
                        let cursor = drain.ledger().cursor().unwrap();
                        let ct = crate::timestamp::parse_micros(&cursor.timestamp).unwrap();
                        let ck: i64 = cursor.key.parse().unwrap();
                        t > floor
                            && (t, id) <= (ct, ck)
                            && !drain.ledger().remembers(&id.to_string())
                    })
                    .take(LATE_PAGE_SIZE)
                    .map(|(id, t)| row(id, t))
                    .collect()
            }
        }
    }
}

/// Runs the engine against `table` until it waits, delivering every
/// event at once; returns the keys delivered, in order.
fn run(drain: &mut Drain, table: &Table, now: &mut f64) -> Vec<String> {
    let mut delivered = Vec::new();
    for _ in 0..10_000 {
        match drain.next(*now, SECOND) {
            Step::Read(kind, _) => {
                let rows = table.answer(drain, kind);
                drain.on_read(kind, Ok(rows), *now, 0.5);
            }
            Step::Deliver(event) => {
                delivered.push(event.key.clone());
                drain.on_handled(&event.key);
            }
            Step::Record(_) => {}
            Step::Refuse(event, reason) => panic!("{} refused: {reason}", event.key),
            Step::Wait(_) | Step::Halted => return delivered,
        }
    }
    panic!("the engine never settled");
}

fn limit_in(path: &str) -> usize {
    let at = path.find("limit=").expect("a limit") + 6;
    path[at..].split('&').next().unwrap().parse().unwrap()
}

/// Runs the engine against `table`, where any read that would carry a
/// row of `poisoned` fails as unreadable (position reads carry only the
/// key and timestamp, so they pass). Returns the keys delivered, the
/// keys refused and the page sizes asked for, in order.
fn run_poisoned(
    drain: &mut Drain,
    table: &Table,
    poisoned: &[i64],
    now: &mut f64,
) -> (Vec<String>, Vec<String>, Vec<usize>) {
    let (mut delivered, mut refused, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..100_000 {
        match drain.next(*now, SECOND) {
            Step::Read(ReadKind::Position, _) => {
                let next = table.answer(drain, ReadKind::Page).into_iter().next();
                let rows = next
                    .map(|r| vec![json!({"id": r["id"], "created_at": r["created_at"]})])
                    .unwrap_or_default();
                drain.on_read(ReadKind::Position, Ok(rows), *now, 0.5);
            }
            Step::Read(kind, path) => {
                let mut rows = table.answer(drain, kind);
                if kind == ReadKind::Page {
                    sizes.push(limit_in(&path));
                    rows.truncate(limit_in(&path));
                }
                let hostile = rows
                    .iter()
                    .any(|r| poisoned.contains(&r["id"].as_i64().unwrap()));
                let result = if hostile {
                    Err(SourceError::Unreadable {
                        table: "events".into(),
                        detail: "recursion limit exceeded".into(),
                    })
                } else {
                    Ok(rows)
                };
                drain.on_read(kind, result, *now, 0.5);
            }
            Step::Deliver(event) => {
                delivered.push(event.key.clone());
                drain.on_handled(&event.key);
            }
            Step::Refuse(event, reason) => {
                assert!(reason.contains("recursion limit exceeded"), "{reason}");
                assert!(event.row.get(crate::dead_letters::NOTE_FIELD).is_some());
                refused.push(event.key.clone());
                drain.on_handled(&event.key);
            }
            Step::Record(_) => {}
            // Waits of a backoff pass; once every row is handled, stop.
            Step::Wait(wait)
                if wait < Duration::from_secs(600)
                    && drain.ledger().handled() < table.0.len() as u64 =>
            {
                *now += millis(wait).max(1.0);
            }
            Step::Wait(_) | Step::Halted => return (delivered, refused, sizes),
        }
    }
    panic!("the engine never settled");
}

#[test]
fn an_unreadable_row_is_isolated_by_halving_and_refused_by_its_key() {
    let table = Table((1..=250).map(|i| (i, T0 + i * 1000)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    let (delivered, refused, sizes) = run_poisoned(&mut drain, &table, &[137, 138], &mut now);
    assert_eq!(refused, ["137", "138"]);
    let mut expected = keys(1..251);
    expected.retain(|k| k != "137" && k != "138");
    assert_eq!(delivered, expected, "every other row, in order");
    assert!(drain.halted().is_none());
    assert_eq!(drain.ledger().handled(), 250);
    assert!(sizes.contains(&1), "isolated down to one row: {sizes:?}");
    let after = &sizes[sizes.iter().rposition(|&n| n == 1).unwrap()..];
    assert!(
        after.windows(2).all(|w| w[1] == (w[0] * 2).min(PAGE_SIZE)) && after.len() > 3,
        "then doubling back towards full pages: {after:?}"
    );
}

#[test]
fn one_garbled_reply_is_not_taken_for_an_unreadable_row() {
    let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let garbled = || {
        Err(SourceError::Unreadable {
            table: "events".into(),
            detail: "EOF".into(),
        })
    };
    // Garbled at every size down to one row (100, 50, 25, 12, 6, 3),
    // then at one row fewer times than it takes.
    let mut reads = 0;
    while reads < 6 + UNREADABLE_AFTER - 1 {
        if let Step::Read(kind, _) = drain.next(1e9, SECOND) {
            drain.on_read(kind, garbled(), 0.0, 0.5);
            reads += 1;
        }
    }
    let mut now = 1e9;
    assert_eq!(run(&mut drain, &table, &mut now), keys(1..4));
}

#[test]
fn a_row_whose_key_cannot_be_read_halts_the_table_naming_its_place() {
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    let unreadable = || SourceError::Unreadable {
        table: "events".into(),
        detail: "recursion limit exceeded".into(),
    };
    let mut halted = false;
    for _ in 0..1000 {
        match drain.next(now, SECOND) {
            Step::Read(ReadKind::Position, _) => {
                drain.on_read(ReadKind::Position, Ok(vec![json!({"id": null})]), now, 0.5);
            }
            Step::Read(kind, _) => {
                drain.on_read(kind, Err(unreadable()), now, 0.5);
            }
            Step::Wait(wait) => now += millis(wait),
            Step::Halted => {
                halted = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(halted);
    assert!(drain
        .halted()
        .unwrap()
        .to_string()
        .contains("the row first cannot be read, not even its key"));
}

#[test]
fn watching_only_an_unreadable_page_backs_off_instead_of_isolating() {
    let mut drain = Drain::new(source(), Ledger::default());
    drain.set_watch_only(true);
    let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
        panic!("a first read");
    };
    let unreadable = SourceError::Unreadable {
        table: "events".into(),
        detail: "recursion limit exceeded".into(),
    };
    drain.on_read(kind, Err(unreadable), 0.0, 0.5);
    assert!(matches!(drain.next(0.0, SECOND), Step::Wait(_)));
    assert!(drain.retrying().is_some());
}

#[test]
fn a_page_that_times_out_is_asked_again_smaller() {
    let mut drain = Drain::new(source(), Ledger::default());
    let mut sizes = Vec::new();
    let mut now = 0.0;
    for _ in 0..200 {
        match drain.next(now, SECOND) {
            Step::Read(kind, path) => {
                sizes.push(limit_in(&path));
                let timed_out = SourceError::TimedOut {
                    table: "events".into(),
                    detail: "20 s".into(),
                };
                drain.on_read(kind, Err(timed_out), now, 0.5);
            }
            Step::Wait(wait) => now += millis(wait),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(&sizes[..8], [100, 50, 25, 12, 6, 3, 1, 1]);
}

/// The drain's first step is a read: answers it.
pub(super) fn read_first_page(drain: &mut Drain, table: &Table) {
    let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
        panic!("a new drain reads first")
    };
    drain.on_read(kind, Ok(table.answer(drain, kind)), 0.0, 0.5);
}

pub(super) fn keys(range: std::ops::Range<i64>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

#[test]
fn drains_oldest_first_across_pages_without_waiting_between_them() {
    let table = Table((1..=250).rev().map(|i| (i, T0 + i * 1000)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    assert_eq!(run(&mut drain, &table, &mut now), keys(1..251));
    assert_eq!(drain.ledger().handled(), 250);
}

#[test]
fn an_event_put_back_stays_unhandled_and_comes_first_after_resume() {
    let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    let first = loop {
        match drain.next(now, SECOND) {
            Step::Read(kind, _) => {
                drain.on_read(kind, Ok(table.answer(&drain, kind)), now, 0.5);
            }
            Step::Deliver(event) => break event,
            other => panic!("{other:?}"),
        }
    };
    drain.put_back(first);
    assert_eq!(drain.admission(), Admission::Paused);
    assert_eq!(drain.ledger().handled(), 0);
    assert!(matches!(drain.next(now, SECOND), Step::Wait(_)));
    drain.resume();
    assert_eq!(run(&mut drain, &table, &mut now), keys(1..4));
}

#[test]
fn late_rows_are_looked_for_during_a_backlog_too() {
    let mut table = Table((1..=250).map(|i| (i, T0 + i * 1000)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut delivered = Vec::new();
    while delivered.len() < 50 {
        match drain.next(0.0, SECOND) {
            Step::Read(kind, _) => {
                drain.on_read(kind, Ok(table.answer(&drain, kind)), 0.0, 0.5);
            }
            Step::Deliver(event) => {
                drain.on_handled(&event.key);
                delivered.push(event.key);
            }
            other => panic!("{other:?}"),
        }
    }
    // Commits now, with a timestamp among the rows already handled.
    table.0.push((1000, T0 + 10 * 1000 + 1));
    let mut now = 0.0;
    delivered.extend(run(&mut drain, &table, &mut now));
    let late_at = delivered.iter().position(|k| k == "1000").unwrap();
    assert!(late_at < 200, "handled during the backlog, at {late_at}");
    assert_eq!(delivered.len(), 251);
}

#[test]
fn equal_timestamps_are_neither_skipped_nor_repeated() {
    // 230 rows sharing 3 timestamps, across page boundaries.
    let table = Table((1..=230).map(|i| (i, T0 + (i % 3) * 1000)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    let delivered = run(&mut drain, &table, &mut now);
    let mut expected = table.0.clone();
    expected.sort_by_key(|&(id, t)| (t, id));
    assert_eq!(
        delivered,
        expected
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
    );
}

#[test]
fn new_rows_are_picked_up_after_the_interval_and_old_ones_never_again() {
    let mut table = Table((1..=3).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    assert_eq!(run(&mut drain, &table, &mut now), keys(1..4));
    table.0.push((4, T0 + 10));
    assert_eq!(
        run(&mut drain, &table, &mut now),
        Vec::<String>::new(),
        "not before the interval"
    );
    now += 1000.0;
    assert_eq!(run(&mut drain, &table, &mut now), keys(4..5));
}

#[test]
fn a_table_whose_oldest_rows_are_all_handled_does_not_stall() {
    // The seed's "oldest N, filtered on the client" would fetch rows 1..=100
    // for ever; the keyset starts after them.
    let mut table = Table((1..=100).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    run(&mut drain, &table, &mut now);
    table.0.push((101, T0 + 1_000));
    now += 1000.0;
    match drain.next(now, SECOND) {
        Step::Read(ReadKind::Page, path) => {
            assert!(path.contains("or=(created_at.gt."), "{path}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn late_rows_inside_the_window_are_handled_once() {
    let mut table = Table((1..=5).map(|i| (i, T0 + i * 1_000_000)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    run(&mut drain, &table, &mut now);
    // Row 6 commits late, with a timestamp between rows 2 and 3.
    table.0.push((6, T0 + 2_500_000));
    now += 5_000.0;
    assert_eq!(run(&mut drain, &table, &mut now), keys(6..7));
    now += 60_000.0;
    assert_eq!(
        run(&mut drain, &table, &mut now),
        Vec::<String>::new(),
        "never twice"
    );
    assert_eq!(
        drain.ledger().cursor().unwrap().key,
        "5",
        "a late row does not move the cursor"
    );
}

#[test]
fn transient_errors_back_off_and_recover() {
    let table = Table(vec![(1, T0)]);
    let mut drain = Drain::new(source(), Ledger::default());
    let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
        panic!()
    };
    let error = SourceError::Server {
        table: "events".into(),
        status: 503,
        message: "down".into(),
        retry_after: None,
    };
    drain.on_read(kind, Err(error), 0.0, 0.999);
    assert_eq!(drain.retrying().map(|(_, n)| n), Some(1));
    assert!(matches!(drain.next(100.0, SECOND), Step::Wait(d) if d > Duration::from_millis(300)));
    let Step::Read(kind, _) = drain.next(600.0, SECOND) else {
        panic!("retries after the backoff")
    };
    let rows = table.answer(&drain, kind);
    drain.on_read(kind, Ok(rows), 600.0, 0.5);
    assert!(drain.retrying().is_none());
    assert!(matches!(drain.next(600.0, SECOND), Step::Deliver(e) if e.key == "1"));
}

#[test]
fn a_refused_key_halts_until_the_operator_acts() {
    let mut drain = Drain::new(source(), Ledger::default());
    let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
        panic!()
    };
    drain.on_read(
        kind,
        Err(SourceError::Unauthorized("Invalid API key".into())),
        0.0,
        0.5,
    );
    assert_eq!(drain.next(1e9, SECOND), Step::Halted);
    assert_eq!(drain.next(2e9, SECOND), Step::Halted, "never by itself");
}

#[test]
fn malformed_rows_are_reported_once_and_skipped_without_losing_neighbours() {
    let mut drain = Drain::new(source(), Ledger::default());
    let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
        panic!()
    };
    let rows = vec![
        row(1, T0),
        json!({"id": null, "created_at": format_micros(T0 + 1)}),
        row(3, T0 + 2),
    ];
    let report = drain.on_read(kind, Ok(rows.clone()), 0.0, 0.5);
    assert_eq!(report.malformed.len(), 1);
    assert!(report.malformed[0].reason.contains("holds null"));
    assert_eq!(drain.queued(), 2);
    drain.queue.clear();
    assert!(
        drain.on_read(kind, Ok(rows), 0.0, 0.5).malformed.is_empty(),
        "reported once"
    );
}

#[test]
fn rows_with_no_event_in_them_are_refused_in_their_turn_and_the_cursor_moves_over_them() {
    let mut drain = Drain::new(source(), Ledger::default());
    let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
        panic!()
    };
    let rows = vec![
        json!({"id": 1, "created_at": "0044-03-15T12:00:00+00:00 BC"}),
        json!({"id": "", "created_at": format_micros(T0)}),
        row(3, T0 + 1),
        json!({"id": 4, "created_at": "10000-01-01T00:00:00+00:00"}),
    ];
    assert!(drain.on_read(kind, Ok(rows), 0.0, 0.5).malformed.is_empty());
    let mut seen = Vec::new();
    for _ in 0..4 {
        let key = match drain.next(0.0, SECOND) {
            Step::Refuse(event, reason) => {
                assert!(reason.starts_with("unreadable row"), "{reason}");
                format!("refused {}", event.key)
            }
            Step::Deliver(event) => format!("delivered {}", event.key),
            other => panic!("{other:?}"),
        };
        let handled = key.rsplit(' ').next().unwrap().to_string();
        assert!(!drain.on_handled(&handled).is_empty());
        seen.push(key);
    }
    assert_eq!(
        seen,
        ["refused 1", "refused ", "delivered 3", "refused 4"],
        "in the table's order"
    );
    let cursor = drain.ledger.cursor().unwrap();
    assert_eq!(
        (cursor.key.as_str(), cursor.timestamp.as_str()),
        ("4", "10000-01-01T00:00:00+00:00"),
        "the next page starts after the last row, as PostgreSQL wrote it"
    );
}

#[test]
fn pause_lets_the_gate_finish_and_step_admits_exactly_one() {
    let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    read_first_page(&mut drain, &table);
    assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "1"));
    drain.pause();
    assert_eq!(
        drain.on_handled("1").len(),
        2,
        "the event at the gate still finishes"
    );
    assert_eq!(drain.next(0.0, SECOND), Step::Wait(Duration::MAX));
    drain.step();
    assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "2"));
    drain.on_handled("2");
    assert_eq!(
        drain.next(0.0, SECOND),
        Step::Wait(Duration::MAX),
        "one step, one event"
    );
    drain.resume();
    assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "3"));
}

#[test]
fn watch_only_reads_but_never_delivers() {
    let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    drain.set_watch_only(true);
    let mut now = 0.0;
    assert_eq!(run(&mut drain, &table, &mut now), Vec::<String>::new());
    assert_eq!(drain.next_event().map(|e| e.key.as_str()), Some("1"));
    assert_eq!(drain.ledger().handled(), 0);
    // The next look: what waits stays shown while the read is under way,
    // and is replaced, not doubled, when it returns.
    let Step::Read(kind, _) = drain.next(now + 1_000.0, SECOND) else {
        panic!()
    };
    assert_eq!(drain.queued(), 3);
    let rows = table.answer(&drain, kind);
    drain.on_read(kind, Ok(rows), now + 1_000.0, 0.5);
    assert_eq!(drain.queued(), 3);
}

#[test]
fn keys_the_prototype_handled_are_recorded_not_delivered() {
    let table = Table((1..=6).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    drain.import_handled(["2".to_string(), "3".to_string(), "99".to_string()]);
    let mut now = 0.0;
    assert_eq!(run(&mut drain, &table, &mut now), ["1", "4", "5", "6"]);
    assert_eq!(drain.ledger().handled(), 6);
    assert!(drain.imported.is_empty(), "dropped once caught up");
}

#[test]
fn a_restart_from_the_stored_ledger_resumes_after_the_last_handled_event() {
    let table = Table((1..=5).map(|i| (i, T0 + i)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    read_first_page(&mut drain, &table);
    for _ in 0..2 {
        let Step::Deliver(event) = drain.next(0.0, SECOND) else {
            panic!()
        };
        drain.on_handled(&event.key);
    }
    // The third event is at the gate when the page reloads.
    let Step::Deliver(in_flight) = drain.next(0.0, SECOND) else {
        panic!()
    };
    let mut reloaded = Drain::new(source(), drain.ledger().clone());
    let mut now = 0.0;
    let delivered = run(&mut reloaded, &table, &mut now);
    assert_eq!(delivered, keys(3..6));
    assert_eq!(
        delivered[0], in_flight.key,
        "the in-flight event goes again, with the same key"
    );
}

#[test]
fn a_wake_reads_at_once_and_a_live_drain_polls_twice_a_minute_at_most() {
    let table = Table((1..=3).map(|i| (i, T0 + i * 1000)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    assert_eq!(run(&mut drain, &table, &mut now), keys(1..4));
    let live = Duration::from_secs(60);
    // Idle and live: a page read every minute, the look-back every other.
    let mut reads = Vec::new();
    let mut at = now;
    while at < now + 600_000.0 {
        match drain.next(at, live) {
            Step::Read(kind, _) => {
                reads.push(kind);
                drain.on_read(kind, Ok(Vec::new()), at, 0.5);
            }
            Step::Wait(wait) => at += wait.as_secs_f64() * 1000.0 + 1.0,
            other => panic!("{other:?}"),
        }
    }
    let late = reads.iter().filter(|k| **k == ReadKind::Late).count();
    assert!(reads.len() <= 16, "{} reads in 10 minutes", reads.len());
    assert!(late <= 6, "{late} look-backs in 10 minutes");
    // A wake: the page is due now, the look-back within a second.
    drain.wake(at);
    let mut woken = Vec::new();
    while let Step::Read(kind, _) = drain.next(at, live) {
        woken.push(kind);
        drain.on_read(kind, Ok(Vec::new()), at, 0.5);
    }
    assert_eq!(woken, vec![ReadKind::Page]);
    // Woken every 100 ms for a second: the look-back once or twice, not ten times.
    let mut looked = 0;
    for tick in 1..=10 {
        let now = at + 100.0 * f64::from(tick);
        drain.wake(now);
        while let Step::Read(kind, _) = drain.next(now, live) {
            looked += usize::from(kind == ReadKind::Late);
            drain.on_read(kind, Ok(Vec::new()), now, 0.5);
        }
    }
    assert!(
        (1..=2).contains(&looked),
        "{looked} look-backs in a second of wake-ups"
    );
}

#[test]
fn a_wake_waits_for_a_pending_backoff() {
    let mut drain = Drain::new(source(), Ledger::default());
    let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
        panic!("reads first")
    };
    drain.on_read(kind, Err(SourceError::Network("down".into())), 0.0, 0.5);
    drain.wake(1.0);
    assert!(matches!(drain.next(1.0, SECOND), Step::Wait(w) if w > Duration::ZERO));
}

#[test]
fn a_wake_with_a_new_interval_still_reads_now() {
    let table = Table((1..=2).map(|i| (i, T0 + i * 1000)).collect());
    let mut drain = Drain::new(source(), Ledger::default());
    let mut now = 0.0;
    assert_eq!(run(&mut drain, &table, &mut now), keys(1..3));
    // Going live: the drain is woken, and its interval becomes a minute.
    drain.wake(now);
    assert!(matches!(
        drain.next(now, Duration::from_secs(60)),
        Step::Read(..)
    ));
}
