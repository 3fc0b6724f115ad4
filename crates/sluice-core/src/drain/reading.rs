//! Reading rows and isolating the unreadable ones: what a page, a
//! look-back or a one-row position read brought, how each row takes its
//! place in the order of reading, and how a page that cannot be read (or
//! times out) is read again in halves down to one row, whose key and
//! timestamp are then read alone so that it can be refused by its key.

use super::{millis, Drain, ReadKind, ReadReport, LATE_PAGE_SIZE, PAGE_SIZE, UNREADABLE_AFTER};
use crate::ledger::Arrival;
use crate::source::{Cursor, Event, RowRead};
use crate::source_error::SourceError;

impl Drain {
    /// Takes the result of a read that ended at `now_ms`; `random` in [0, 1)
    /// jitters the backoff.
    pub fn on_read(
        &mut self,
        kind: ReadKind,
        result: Result<Vec<serde_json::Value>, SourceError>,
        now_ms: f64,
        random: f64,
    ) -> ReadReport {
        let mut report = ReadReport::default();
        if kind == ReadKind::Position {
            self.on_position_read(result, now_ms, random);
            return report;
        }
        let rows = match result {
            Ok(rows) => rows,
            Err(error) => {
                // Watching only, nothing is refused: the error backs off.
                if kind == ReadKind::Page && !self.watch_only && self.read_smaller(&error) {
                    return report;
                }
                if error.is_transient() {
                    let wait = self.backoff.fail(error.retry_after(), random);
                    self.retry_at_ms = Some(now_ms + millis(wait));
                    self.last_error = Some(error);
                } else {
                    self.halted = Some(error);
                }
                return report;
            }
        };
        self.backoff.succeed();
        self.last_error = None;
        self.last_read_ms = Some(now_ms);
        let full = rows.len()
            >= if kind == ReadKind::Page {
                self.page_size
            } else {
                LATE_PAGE_SIZE
            };
        if kind == ReadKind::Page {
            self.unreadable_reads = 0;
            self.page_size = (self.page_size * 2).min(PAGE_SIZE);
        }
        if self.watch_only && kind == ReadKind::Page {
            // A fresh look replaces the last one, when it arrives: the source
            // never shows empty while a read is under way.
            self.queue.clear();
        }
        let arrival = if kind == ReadKind::Page {
            Arrival::InOrder
        } else {
            Arrival::Late
        };
        let mut parsed = 0;
        let mut last_micros = self.ledger.head().cursor_micros;
        for row in rows {
            match self.source.read_row(row, last_micros) {
                RowRead::Event(event) => {
                    parsed += 1;
                    if let Some(missing) = self.missing_partition_key(&event) {
                        self.halted = Some(missing);
                        return report;
                    }
                    last_micros = Some(event.timestamp_micros);
                    self.take_in(event, arrival);
                }
                RowRead::Refused(event, reason) => {
                    parsed += 1;
                    last_micros = Some(event.timestamp_micros);
                    self.take_in_refused(event, arrival, reason);
                }
                RowRead::Malformed(malformed) => {
                    if self.reported.len() < 10_000 && self.reported.insert(malformed.to_string()) {
                        report.malformed.push(malformed);
                    }
                }
            }
        }
        match kind {
            ReadKind::Page => {
                self.more_pages = full && !self.watch_only;
                self.next_read_at_ms = now_ms + millis(self.interval);
                if full && parsed == 0 {
                    // A whole page of rows that cannot be handled: the cursor
                    // cannot move past them, so say so rather than spin.
                    self.halted = Some(SourceError::Unreadable {
                        table: self.source.table.as_str().to_string(),
                        detail: format!("{PAGE_SIZE} rows in a row are malformed; fix them or the table's columns"),
                    });
                }
            }
            ReadKind::Late => {
                // More late rows than one look-back holds: check again soon.
                if full {
                    self.next_late_check_at_ms = now_ms;
                }
            }
            ReadKind::Position => {}
        }
        report
    }

    /// The partition key names a column the table's rows do not have.
    fn missing_partition_key(&self, event: &Event) -> Option<SourceError> {
        let column = self.partition_key.as_ref()?;
        event.row.get(column.as_str()).is_none().then(|| SourceError::UnknownColumn {
            table: self.source.table.as_str().to_string(),
            message: format!(
                "the partition key {} is not a column of {}; change or clear it in the agent settings",
                column.as_str(),
                self.source.table.as_str()
            ),
        })
    }

    /// A row just read: waiting at the source, unless it is already at the
    /// gate or handled ahead of the cursor (read again after a reload), or
    /// (from the look-back) already waiting.
    /// A row with no event in it takes its place in the order like any
    /// other, to be refused by its key when its turn comes.
    fn take_in_refused(&mut self, event: Event, arrival: Arrival, reason: String) {
        let key = event.key.clone();
        self.take_in(event, arrival);
        if let Some(waiting) = self.queue.iter_mut().rev().find(|w| w.event.key == key) {
            waiting.refusing = Some(reason);
        }
    }

    fn take_in(&mut self, event: Event, arrival: Arrival) {
        if self.watch_only {
            let seq = self.take_seq();
            self.queue.push_back(self.waiting(event, arrival, seq));
            return;
        }
        if arrival == Arrival::InOrder {
            self.read_to = Some(Cursor {
                timestamp: event.timestamp.clone(),
                key: event.key.clone(),
            });
        }
        let seq = self.take_seq();
        if let Some(at_gate) = self
            .at_gate
            .iter_mut()
            .find(|g| g.position.key == event.key)
        {
            if arrival == Arrival::InOrder && at_gate.arrival != Arrival::Late {
                at_gate.seq = Some(seq);
            }
            return;
        }
        if arrival == Arrival::InOrder && self.ledger.is_ahead(&event.key) {
            self.ahead_read.insert(seq, event.position());
            return;
        }
        if arrival == Arrival::Late && self.queue.iter().any(|w| w.event.key == event.key) {
            return;
        }
        self.queue.push_back(self.waiting(event, arrival, seq));
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A page failed in a way a smaller page may not: unreadable (a row the
    /// parser refuses) or too slow. Returns whether it is handled here.
    fn read_smaller(&mut self, error: &SourceError) -> bool {
        let SourceError::Unreadable { detail, .. } = error else {
            if matches!(error, SourceError::TimedOut { .. }) {
                // Still backed off as transient, but with a smaller page.
                self.page_size = (self.page_size / 2).max(1);
            }
            return false;
        };
        if self.page_size > 1 {
            self.page_size /= 2;
            return true;
        }
        self.unreadable_reads += 1;
        if self.unreadable_reads < UNREADABLE_AFTER {
            return false;
        }
        self.unreadable = Some(detail.clone());
        true
    }

    /// The key and timestamp of a row that cannot be read whole.
    fn on_position_read(
        &mut self,
        result: Result<Vec<serde_json::Value>, SourceError>,
        now_ms: f64,
        random: f64,
    ) {
        let detail = self.unreadable.clone().unwrap_or_default();
        let after = match &self.read_to {
            Some(c) => format!("after key {} at {}", c.key, c.timestamp),
            None => "first".to_string(),
        };
        let halt = |detail: String| SourceError::Unreadable {
            table: self.source.table.as_str().to_string(),
            detail,
        };
        match result {
            Err(error)
                if error.is_transient() && !matches!(error, SourceError::Unreadable { .. }) =>
            {
                let wait = self.backoff.fail(error.retry_after(), random);
                self.retry_at_ms = Some(now_ms + millis(wait));
                self.last_error = Some(error);
            }
            Err(error) => {
                self.unreadable = None;
                self.halted = Some(halt(format!(
                    "the row {after} cannot be read, not even its key ({error}); fix or delete it"
                )));
            }
            Ok(rows) => {
                self.unreadable = None;
                self.unreadable_reads = 0;
                let Some(row) = rows.into_iter().next() else {
                    // The row is gone: read on.
                    return;
                };
                match self.source.event(row) {
                    // Refused before a reload, ahead of an older event: it
                    // is handled, and stays so.
                    Ok(event) if self.ledger.is_ahead(&event.key) => {
                        self.read_to = Some(Cursor {
                            timestamp: event.timestamp.clone(),
                            key: event.key.clone(),
                        });
                        let seq = self.take_seq();
                        self.ahead_read.insert(seq, event.position());
                    }
                    Ok(mut event) => {
                        let reason = format!("unreadable row: {detail}");
                        event.row = serde_json::json!({
                            crate::dead_letters::NOTE_FIELD: format!("this row could not be read ({detail}); read it from the table by its key"),
                        });
                        event.row_bytes = 0;
                        self.read_to = Some(Cursor {
                            timestamp: event.timestamp.clone(),
                            key: event.key.clone(),
                        });
                        let seq = self.take_seq();
                        self.refusal = Some((event, reason, seq));
                    }
                    Err(malformed) => {
                        self.halted = Some(halt(format!(
                            "the row {after} cannot be read, not even its key ({})",
                            malformed.reason
                        )));
                    }
                }
            }
        }
    }

    pub fn set_watch_only(&mut self, watch_only: bool) {
        self.watch_only = watch_only;
        self.read_again_from_cursor();
    }
}
