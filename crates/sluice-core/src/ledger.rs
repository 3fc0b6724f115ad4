//! What has been handled in one table, kept small however long it drains:
//! a cursor (the last event handled in order) plus a ring of the most recent
//! keys, which is what the look-back for late rows compares against.
//!
//! With several lanes, events finish out of order: the cursor moves only
//! over the unbroken run of handled events, and an event handled ahead of an
//! unfinished older one is kept in the head's `ahead` list until the cursor
//! passes it. The drain admits no more than [`MAX_AHEAD`] events beyond the
//! oldest unfinished one, so that list stays small whatever the lanes.
//!
//! Persisted as separate small storage items, so recording an event writes
//! two of them (the head and one ring slot) and never the whole ledger.

use serde::{Deserialize, Serialize};

use crate::source::{Cursor, Position};

/// Keys remembered for the look-back. With the key names, one table's
/// ledger stays under 16 KB even with uuid keys.
pub const RING_SLOTS: usize = 100;

/// Events at most at the gate or handled ahead of the cursor at once: with
/// uuid keys the `ahead` list adds under 4 KB to the head.
pub const MAX_AHEAD: usize = 64;

/// How far behind the cursor late rows are still looked for.
pub const LOOK_BACK_MICROS: i64 = 10 * 60 * 1_000_000;
/// The look-back Sluice aims for at least: a transaction that commits more
/// than this behind the newest handled row is rare. When the ring of keys
/// covers less (a fast table), the operator is warned.
pub const LOOK_BACK_WANTED_MICROS: i64 = 60 * 1_000_000;

/// What the look-back for late rows really covers now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookBack {
    /// From the floor to the cursor.
    pub micros: i64,
    /// Keys remembered in that span.
    pub keys: usize,
}

impl LookBack {
    /// Shorter than [`LOOK_BACK_WANTED_MICROS`] (and not simply because the
    /// table is younger than that).
    pub fn is_short(&self) -> bool {
        self.micros < LOOK_BACK_WANTED_MICROS && self.keys >= RING_SLOTS
    }

    fn span(&self) -> String {
        crate::metrics::format_duration(self.micros as f64 / 1e6)
    }

    /// "late rows: 10 min back (37 keys)"
    pub fn describe(&self) -> String {
        let keys = match self.keys {
            1 => "1 key".to_string(),
            n => format!("{n} keys"),
        };
        format!("late rows: {} back ({keys})", self.span())
    }

    /// Said when the look-back is short.
    pub fn warning(&self) -> Option<String> {
        self.is_short().then(|| {
            format!(
                "At this rate the look-back for late rows covers only {} ({} keys), less than {}: a row that commits further behind the newest handled one would not be seen.",
                self.span(),
                self.keys,
                crate::metrics::format_duration(LOOK_BACK_WANTED_MICROS as f64 / 1e6)
            )
        })
    }
}

/// The ledger's head item: the cursor, the ring's write position and what
/// the ring has forgotten.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub cursor: Option<Cursor>,
    /// Microseconds of the cursor's timestamp (kept to avoid re-parsing).
    pub cursor_micros: Option<i64>,
    /// The newest timestamp among keys evicted from the ring: late rows are
    /// only looked for after it, since older keys can no longer be checked.
    pub evicted_up_to: Option<i64>,
    /// The ring slot the next key goes into.
    pub next_slot: usize,
    /// Events handled in this table since its history was last cleared.
    pub handled: u64,
    /// Events handled ahead of the cursor (an older one was unfinished), in
    /// the order they were handled: a reload skips them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ahead: Vec<Slot>,
}

/// One remembered key and its timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot(pub i64, pub String);

/// A storage item to write after recording an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Head(Head),
    Slot(usize, Slot),
}

/// Whether an event came in keyset order or from the look-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// In keyset order, with nothing older unfinished: the cursor moves to it.
    InOrder,
    /// In keyset order, but an older event is unfinished: remembered ahead
    /// of the cursor until the cursor passes it.
    Ahead,
    Late,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    head: Head,
    slots: Vec<Option<Slot>>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            head: Head::default(),
            slots: vec![None; RING_SLOTS],
        }
    }
}

impl Ledger {
    /// Rebuilds a ledger from its stored items. A missing or damaged slot
    /// means a key may be forgotten, so the look-back is narrowed to after
    /// the cursor's timestamp rather than risk handling an event twice.
    pub fn restore(mut head: Head, stored: Vec<Option<Slot>>) -> Self {
        let mut slots = stored;
        slots.resize(RING_SLOTS, None);
        let used = (head.handled as usize).min(RING_SLOTS);
        let missing = (0..used).any(|i| slots[i].is_none());
        if missing {
            head.evicted_up_to = head.cursor_micros.max(head.evicted_up_to);
        }
        head.next_slot %= RING_SLOTS;
        Self { head, slots }
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn cursor(&self) -> Option<&Cursor> {
        self.head.cursor.as_ref()
    }

    pub fn handled(&self) -> u64 {
        self.head.handled
    }

    /// Keys handled ahead of the cursor.
    pub fn ahead(&self) -> impl Iterator<Item = &str> {
        self.head.ahead.iter().map(|slot| slot.1.as_str())
    }

    /// Whether `key` was handled ahead of the cursor.
    pub fn is_ahead(&self, key: &str) -> bool {
        self.head.ahead.iter().any(|slot| slot.1 == key)
    }

    /// Whether `key` is among the remembered recent keys.
    pub fn remembers(&self, key: &str) -> bool {
        self.slots.iter().flatten().any(|slot| slot.1 == key)
    }

    /// Where the look-back starts (exclusive), or `None` before any event.
    pub fn late_floor(&self) -> Option<i64> {
        let cursor = self.head.cursor_micros?;
        let window = cursor - LOOK_BACK_MICROS;
        Some(
            self.head
                .evicted_up_to
                .map_or(window, |evicted| evicted.max(window)),
        )
    }

    /// The span late rows are looked for in, once there is a cursor.
    pub fn look_back(&self) -> Option<LookBack> {
        let (cursor, floor) = (self.head.cursor_micros?, self.late_floor()?);
        Some(LookBack {
            micros: (cursor - floor).max(0),
            keys: self.keys_after_floor().len(),
        })
    }

    /// The remembered keys newer than the floor: the look-back excludes them.
    pub fn keys_after_floor(&self) -> Vec<&str> {
        let Some(floor) = self.late_floor() else {
            return Vec::new();
        };
        self.slots
            .iter()
            .flatten()
            .filter(|slot| slot.0 > floor)
            .map(|slot| slot.1.as_str())
            .collect()
    }

    /// Records a handled event; returns the storage items to write.
    pub fn record(&mut self, event: &Position, arrival: Arrival) -> Vec<Write> {
        let slot_index = self.head.next_slot;
        if let Some(evicted) = self.slots[slot_index].take() {
            self.head.evicted_up_to = Some(
                self.head
                    .evicted_up_to
                    .map_or(evicted.0, |e| e.max(evicted.0)),
            );
        }
        let slot = Slot(event.timestamp_micros, event.key.clone());
        self.slots[slot_index] = Some(slot.clone());
        self.head.next_slot = (slot_index + 1) % RING_SLOTS;
        self.head.handled += 1;
        match arrival {
            Arrival::InOrder => self.move_cursor(event),
            Arrival::Ahead => self
                .head
                .ahead
                .push(Slot(event.timestamp_micros, event.key.clone())),
            Arrival::Late => {}
        }
        vec![
            Write::Head(self.head.clone()),
            Write::Slot(slot_index, slot),
        ]
    }
}

impl Ledger {
    /// The cursor moves on to `event`, handled ahead earlier, now that
    /// nothing before it is unfinished. Returns the head to write.
    /// `passed` are the events handled ahead that it moves over.
    pub fn pass_ahead(&mut self, event: &Position, passed: &[String]) -> Write {
        self.head.ahead.retain(|slot| !passed.contains(&slot.1));
        self.move_cursor(event);
        Write::Head(self.head.clone())
    }

    /// Moves the cursor, forgetting the events handled ahead that it passes
    /// (and any whose row vanished behind it).
    fn move_cursor(&mut self, to: &Position) {
        self.head.cursor = Some(Cursor {
            timestamp: to.timestamp.clone(),
            key: to.key.clone(),
        });
        self.head.cursor_micros = Some(to.timestamp_micros);
        self.head
            .ahead
            .retain(|slot| slot.1 != to.key && slot.0 >= to.timestamp_micros);
    }
}

/// A reset of a table's history the operator confirmed, kept until the
/// tab draining the table can make it (once its gate is empty): a reload
/// or a switch of table meanwhile does not drop it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingReset {
    Clear,
    Import(LedgerFile),
}

/// A table's ledger as a file, for moving it to another browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerFile {
    pub format: String,
    pub version: u32,
    pub table: String,
    pub head: Head,
    pub slots: Vec<Option<Slot>>,
}

const LEDGER_FORMAT: &str = "sluice-ledger";

impl LedgerFile {
    pub fn of(table: &str, ledger: &Ledger) -> Self {
        Self {
            format: LEDGER_FORMAT.into(),
            version: 1,
            table: table.into(),
            head: ledger.head.clone(),
            slots: ledger.slots.clone(),
        }
    }

    /// Reads an exported file for `table`; the message says what is wrong.
    pub fn parse(text: &str, table: &str) -> Result<Self, String> {
        let file: Self = serde_json::from_str(text)
            .map_err(|e| format!("This is not a Sluice history file ({e})."))?;
        if file.format != LEDGER_FORMAT || file.version != 1 {
            return Err(format!(
                "This file is {} version {}, not a Sluice history file version 1.",
                file.format, file.version
            ));
        }
        if file.table != table {
            return Err(format!(
                "This file holds the history of {}, not of {table}.",
                file.table
            ));
        }
        if file.head.ahead.len() > MAX_AHEAD {
            return Err(format!(
                "This file has {} events handled ahead of its cursor; at most {MAX_AHEAD} are expected.",
                file.head.ahead.len()
            ));
        }
        if file.slots.len() > RING_SLOTS {
            return Err(format!(
                "This file has {} slots; at most {RING_SLOTS} are expected.",
                file.slots.len()
            ));
        }
        Ok(file)
    }

    /// Every storage item the imported ledger consists of.
    pub fn writes(&self) -> Vec<Write> {
        let ledger = Ledger::restore(self.head.clone(), self.slots.clone());
        std::iter::once(Write::Head(ledger.head.clone()))
            .chain(
                ledger
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.clone().map(|s| Write::Slot(i, s))),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::{format_micros, parse_micros};

    const T0: i64 = 1_714_557_600_000_000;

    fn event(key: &str, micros: i64) -> Position {
        Position {
            key: key.into(),
            timestamp: format_micros(micros),
            timestamp_micros: micros,
        }
    }

    #[test]
    fn in_order_events_move_the_cursor_and_late_ones_do_not() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.late_floor(), None);
        ledger.record(&event("1", T0), Arrival::InOrder);
        ledger.record(&event("2", T0 + 10), Arrival::InOrder);
        ledger.record(&event("0", T0 - 5), Arrival::Late);
        let cursor = ledger.cursor().unwrap();
        assert_eq!(
            (cursor.key.as_str(), parse_micros(&cursor.timestamp)),
            ("2", Some(T0 + 10))
        );
        assert_eq!(ledger.handled(), 3);
        assert!(ledger.remembers("0") && ledger.remembers("1") && ledger.remembers("2"));
        assert_eq!(ledger.late_floor(), Some(T0 + 10 - LOOK_BACK_MICROS));
    }

    #[test]
    fn the_look_back_says_what_it_covers_and_when_a_fast_table_makes_it_short() {
        let mut slow = Ledger::default();
        assert_eq!(slow.look_back(), None);
        for i in 0..(RING_SLOTS as i64 * 2) {
            slow.record(
                &event(&i.to_string(), T0 + i * 60_000_000),
                Arrival::InOrder,
            );
        }
        let covered = slow.look_back().unwrap();
        assert_eq!(
            covered.micros, LOOK_BACK_MICROS,
            "ten minutes, the ring has room"
        );
        assert!(!covered.is_short());
        // Ten rows a second: the ring forgets after ten seconds.
        let mut fast = Ledger::default();
        for i in 0..(RING_SLOTS as i64 * 2) {
            fast.record(&event(&i.to_string(), T0 + i * 100_000), Arrival::InOrder);
        }
        let covered = fast.look_back().unwrap();
        assert_eq!(covered.keys, RING_SLOTS);
        assert_eq!(
            covered.micros, 10_000_000,
            "99 steps of 0.1 s, less than a minute"
        );
        assert!(covered.is_short());
        assert_eq!(covered.describe(), "late rows: 10 s back (100 keys)");
        let one = LookBack { micros: 0, keys: 1 };
        assert_eq!(one.describe(), "late rows: 0 s back (1 key)");
        assert!(covered
            .warning()
            .unwrap()
            .contains("covers only 10 s (100 keys), less than 1 min"));
        // A young table covers little time, but only because it is young.
        let mut young = Ledger::default();
        young.record(&event("1", T0), Arrival::InOrder);
        assert!(!young.look_back().unwrap().is_short());
    }

    #[test]
    fn each_record_writes_the_head_and_one_slot() {
        let mut ledger = Ledger::default();
        let writes = ledger.record(&event("a", T0), Arrival::InOrder);
        assert_eq!(writes.len(), 2);
        assert!(
            matches!(&writes[0], Write::Head(head) if head.handled == 1 && head.next_slot == 1)
        );
        assert_eq!(writes[1], Write::Slot(0, Slot(T0, "a".into())));
    }

    #[test]
    fn the_ring_forgets_the_oldest_keys_and_raises_the_floor_past_them() {
        let mut ledger = Ledger::default();
        for i in 0..(RING_SLOTS as i64 + 5) {
            ledger.record(&event(&i.to_string(), T0 + i), Arrival::InOrder);
        }
        assert!(!ledger.remembers("4"));
        assert!(ledger.remembers("5"));
        // Keys 0..=4 are forgotten, so the look-back must not reach them.
        assert_eq!(ledger.late_floor(), Some(T0 + 4));
        let excluded = ledger.keys_after_floor();
        assert_eq!(excluded.len(), RING_SLOTS);
        assert!(!excluded.contains(&"4"));
    }

    #[test]
    fn size_stays_bounded_however_many_events() {
        let mut ledger = Ledger::default();
        let mut items: std::collections::BTreeMap<String, String> = Default::default();
        for i in 0..20_000i64 {
            let key = format!("{:08x}-aaaa-bbbb-cccc-{:012x}", i, i);
            for write in ledger.record(&event(&key, T0 + i * 1000), Arrival::InOrder) {
                let (name, value) = match write {
                    Write::Head(head) => (
                        "sluice:v1:ledger:staff_room_events:head".to_string(),
                        serde_json::to_string(&head).unwrap(),
                    ),
                    Write::Slot(i, slot) => (
                        format!("sluice:v1:ledger:staff_room_events:{i}"),
                        serde_json::to_string(&slot).unwrap(),
                    ),
                };
                items.insert(name, value);
            }
        }
        // localStorage quotas count the characters of names and values.
        let chars: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(items.len() == RING_SLOTS + 1);
        assert!(chars < 16 * 1024, "{chars} characters");
    }

    /// Records `n` events and keeps what they wrote, as storage would.
    fn stored_after(n: i64) -> (Ledger, Head, Vec<Option<Slot>>) {
        let mut ledger = Ledger::default();
        let mut slots = vec![None; RING_SLOTS];
        let mut head = Head::default();
        for i in 0..n {
            for write in ledger.record(&event(&i.to_string(), T0 + i), Arrival::InOrder) {
                match write {
                    Write::Head(h) => head = h,
                    Write::Slot(i, slot) => slots[i] = Some(slot),
                }
            }
        }
        (ledger, head, slots)
    }

    #[test]
    fn a_restored_ledger_is_the_same_ledger() {
        let (ledger, head, slots) = stored_after(150);
        assert_eq!(Ledger::restore(head, slots), ledger);
    }

    #[test]
    fn a_lost_slot_narrows_the_look_back_instead_of_risking_a_repeat() {
        let (ledger, head, mut slots) = stored_after(3);
        slots[1] = None;
        let restored = Ledger::restore(head, slots);
        assert_eq!(restored.late_floor(), Some(T0 + 2));
        assert_eq!(restored.cursor(), ledger.cursor());
    }

    #[test]
    fn an_exported_ledger_imports_as_the_same_ledger() {
        let (ledger, _, _) = stored_after(130);
        let text = serde_json::to_string(&LedgerFile::of("events", &ledger)).unwrap();
        let file = LedgerFile::parse(&text, "events").unwrap();
        let mut head = Head::default();
        let mut slots = vec![None; RING_SLOTS];
        for write in file.writes() {
            match write {
                Write::Head(h) => head = h,
                Write::Slot(i, slot) => slots[i] = Some(slot),
            }
        }
        assert_eq!(Ledger::restore(head, slots), ledger);
    }

    #[test]
    fn events_handled_ahead_travel_with_the_file_and_too_many_are_refused() {
        let mut ledger = Ledger::default();
        ledger.record(&event("1", T0), Arrival::InOrder);
        ledger.record(&event("3", T0 + 2), Arrival::Ahead);
        let text = serde_json::to_string(&LedgerFile::of("events", &ledger)).unwrap();
        let file = LedgerFile::parse(&text, "events").unwrap();
        assert_eq!(file.head.ahead, vec![Slot(T0 + 2, "3".into())]);
        let mut crowded = ledger.clone();
        for i in 0..MAX_AHEAD as i64 {
            crowded.record(&event(&format!("a{i}"), T0 + 10 + i), Arrival::Ahead);
        }
        let text = serde_json::to_string(&LedgerFile::of("events", &crowded)).unwrap();
        assert!(LedgerFile::parse(&text, "events")
            .unwrap_err()
            .contains("handled ahead of its cursor"));
    }

    #[test]
    fn a_foreign_or_mismatched_file_is_refused_with_the_reason() {
        let (ledger, _, _) = stored_after(3);
        let text = serde_json::to_string(&LedgerFile::of("events", &ledger)).unwrap();
        assert!(LedgerFile::parse(&text, "temp_events")
            .unwrap_err()
            .contains("history of events, not of temp_events"));
        assert!(LedgerFile::parse("[1,2]", "events")
            .unwrap_err()
            .contains("not a Sluice history file"));
        let other = text.replace("sluice-ledger", "something-else");
        assert!(LedgerFile::parse(&other, "events").is_err());
    }
}
