//! What the gate can show. The names are a public contract: the gate element
//! carries one of them in `data-state`, and tests and styles select on it.

/// The gate's state, driven only by the agent's signals and the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GateState {
    /// Nothing at the gate.
    #[default]
    Idle,
    /// The agent is working on the event at the gate.
    Processing,
    /// The agent said it is done; the event drains.
    Passed,
    /// The last attempt failed in a way worth retrying.
    Retrying,
    /// The agent refused the event for good: it went to the dead letters.
    Rejected,
    /// The operator paused admission.
    Paused,
    /// The source is unreachable or refuses the key; or the agent does not
    /// answer (the event waits), or its settings are wrong (the drain halts).
    Offline,
}

impl GateState {
    /// An event is at the gate in this state (its lane is busy).
    pub fn is_busy(self) -> bool {
        matches!(self, Self::Processing | Self::Retrying | Self::Offline)
    }

    /// The name carried in `data-state`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Processing => "processing",
            Self::Passed => "passed",
            Self::Retrying => "retrying",
            Self::Rejected => "rejected",
            Self::Paused => "paused",
            Self::Offline => "offline",
        }
    }
}

/// An event as the rail shows it: its key and initials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub key: String,
    pub initials: String,
    /// The event's type (or source), spelled out for the accessible name.
    pub label: String,
}

impl Badge {
    /// Initials come from the row's `type`, else its `source` (for a queue's
    /// message record, those of its `message`), else the table: the first
    /// letters of the first two words ("order.created" → "OC"), or the first
    /// two letters of a single word ("heartbeat" → "HE").
    pub fn of(key: &str, row: &serde_json::Value, table: &str) -> Self {
        let label = named_type(row)
            .or_else(|| row.get("message").and_then(named_type))
            .unwrap_or(table)
            .to_string();
        Self {
            key: key.to_string(),
            initials: initials(&label),
            label,
        }
    }
}

/// The first of `type`, `event_type` and `source` that holds a word.
fn named_type(fields: &serde_json::Value) -> Option<&str> {
    ["type", "event_type", "source"].iter().find_map(|field| {
        fields
            .get(field)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
    })
}

fn initials(label: &str) -> String {
    let words: Vec<&str> = label
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let letters: String = match words.as_slice() {
        [] => "?".into(),
        [word] => word.chars().take(2).collect(),
        [first, second, ..] => first
            .chars()
            .take(1)
            .chain(second.chars().take(1))
            .collect(),
    };
    crate::case::upper(&letters)
}

/// What the gate shows, updated only by the engine and the agent's signals.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GateView {
    pub state: GateState,
    pub event: Option<Badge>,
    /// 0–1, when the agent reports it.
    pub progress: Option<f64>,
    /// The agent's latest message, or the reason for a retry or rejection.
    pub message: Option<String>,
    /// The attempt under way (1 for the first).
    pub attempt: u32,
    /// When the next attempt starts, while retrying (ms on the shell's clock).
    pub retry_at_ms: Option<f64>,
    /// Counts admissions across lanes: the newest event has the highest.
    pub serial: u64,
}

/// The lane that speaks for the whole gate, by index, from each lane's
/// [`GateView::speaking_rank`]: the busiest (processing, else retrying,
/// else waiting on its agent), and among equals or when none is busy, the
/// one admitted last. (Ranks rather than views: the page reads each lane's
/// signal without cloning it.)
pub fn speaking_lane(ranks: impl IntoIterator<Item = Option<(u8, u64)>>) -> Option<usize> {
    ranks
        .into_iter()
        .enumerate()
        .filter_map(|(lane, rank)| rank.map(|rank| (rank, lane)))
        .max()
        .map(|(_, lane)| lane)
}

impl GateView {
    /// How strongly this lane speaks for the gate (see [`speaking_lane`]);
    /// `None` before its first event.
    pub fn speaking_rank(&self) -> Option<(u8, u64)> {
        self.event.as_ref()?;
        let busy = match self.state {
            GateState::Processing => 3,
            GateState::Retrying => 2,
            GateState::Offline => 1,
            _ => 0,
        };
        Some((busy, self.serial))
    }

    /// An event arrived at the gate, the `serial`th admitted.
    pub fn admit(badge: Badge, serial: u64) -> Self {
        Self {
            state: GateState::Processing,
            event: Some(badge),
            attempt: 1,
            serial,
            ..Self::default()
        }
    }

    /// The agent reported progress or a message.
    pub fn processing(&mut self, progress: Option<f64>, message: Option<String>) {
        self.state = GateState::Processing;
        self.retry_at_ms = None;
        if progress.is_some() {
            self.progress = progress;
        }
        if message.is_some() {
            self.message = message;
        }
    }

    /// An attempt failed in a way worth retrying.
    pub fn retrying(&mut self, reason: String, next_attempt: u32, retry_at_ms: f64) {
        self.state = GateState::Retrying;
        self.message = Some(reason);
        self.progress = None;
        self.attempt = next_attempt;
        self.retry_at_ms = Some(retry_at_ms);
    }

    /// A new attempt starts.
    pub fn attempting(&mut self, attempt: u32) {
        self.state = GateState::Processing;
        self.attempt = attempt;
        self.retry_at_ms = None;
    }

    /// The agent did not answer: the event waits at the gate until
    /// `retry_at_ms`.
    pub fn offline(&mut self, reason: String, retry_at_ms: f64) {
        self.state = GateState::Offline;
        self.message = Some(reason);
        self.progress = None;
        self.retry_at_ms = Some(retry_at_ms);
    }

    /// The agent's settings are wrong: the event waits for new settings or
    /// the operator's retry, with no next try planned.
    pub fn halted(&mut self, reason: String) {
        self.state = GateState::Offline;
        self.message = Some(reason);
        self.progress = None;
        self.retry_at_ms = None;
    }

    /// The event could not leave (its dead letter could not be kept): it
    /// went back to the source and admission paused.
    pub fn kept_back(&mut self, reason: String) {
        self.state = GateState::Paused;
        self.message = Some(reason);
        self.progress = None;
        self.retry_at_ms = None;
    }

    /// The event left the gate unhandled: it stays in its source (a queue's
    /// message back for any reader).
    pub fn let_go(&mut self, reason: String) {
        self.state = GateState::Idle;
        self.message = Some(reason);
        self.progress = None;
        self.retry_at_ms = None;
    }

    pub fn passed(&mut self) {
        self.state = GateState::Passed;
        self.progress = Some(1.0);
        self.retry_at_ms = None;
    }

    /// The state the gate shows. An event in progress shows as such; else
    /// an unreachable or refusing source shows "offline", and paused
    /// admission "paused", rather than what happened to the last event.
    pub fn shown(&self, paused: bool, source_offline: bool) -> GateState {
        match self.state {
            // The event at the gate, whatever admission or the source do.
            GateState::Processing | GateState::Retrying | GateState::Offline => self.state,
            _ if source_offline => GateState::Offline,
            _ if paused => GateState::Paused,
            state => state,
        }
    }

    /// What screen readers hear (politely) about this view. While a backlog
    /// drains only trouble is announced, so a fast drain does not flood them;
    /// progress is never announced.
    pub fn announcement(&self, backlog: bool) -> Option<String> {
        let event = self.event.as_ref()?;
        let what = format!("Event {} ({})", event.key, event.label);
        let reason = self.message.clone().unwrap_or_default();
        match self.state {
            GateState::Processing if !backlog => Some(format!("{what} is at the gate")),
            GateState::Passed if !backlog => Some(format!("{what} passed")),
            GateState::Retrying => Some(format!(
                "{what}: attempt {} failed ({reason}); retrying",
                self.attempt - 1
            )),
            GateState::Rejected => Some(format!("{what} was rejected: {reason}")),
            GateState::Offline => Some(format!("{what} waits at the gate: {reason}")),
            _ => None,
        }
    }

    pub fn rejected(&mut self, reason: String) {
        self.state = GateState::Rejected;
        self.message = Some(reason);
        self.retry_at_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_messages_badge_comes_from_the_message_inside_the_record() {
        let record = serde_json::json!({"msg_id": 7, "message": {"type": "invoice.render"}});
        let badge = Badge::of("7", &record, "order_jobs");
        assert_eq!(
            (badge.initials.as_str(), badge.label.as_str()),
            ("IR", "invoice.render")
        );
        let bare = serde_json::json!({"msg_id": 8, "message": [1, 2]});
        assert_eq!(Badge::of("8", &bare, "order_jobs").initials, "OJ");
    }
    use serde_json::json;

    #[test]
    fn initials_follow_the_documented_rule() {
        let cases = [
            (json!({"type": "order.created"}), "OC"),
            (json!({"type": "temperature_reading"}), "TR"),
            (json!({"type": "heartbeat"}), "HE"),
            (json!({"type": "", "source": "billing-api"}), "BA"),
            (json!({"event_type": "card moved"}), "CM"),
            (json!({"payload": {}}), "EV"),
            (json!({"type": "..."}), "?"),
        ];
        for (row, expected) in cases {
            assert_eq!(Badge::of("1", &row, "events").initials, expected, "{row}");
        }
    }

    #[test]
    fn the_gate_follows_signals_only() {
        let badge = Badge::of("7", &json!({"type": "order.created"}), "events");
        let mut gate = GateView::admit(badge.clone(), 1);
        assert_eq!((gate.state, gate.attempt), (GateState::Processing, 1));
        gate.processing(Some(0.4), Some("resizing".into()));
        gate.processing(None, None);
        assert_eq!(
            (gate.progress, gate.message.as_deref()),
            (Some(0.4), Some("resizing")),
            "a bare signal keeps what was said"
        );
        gate.retrying("HTTP 503".into(), 2, 5_000.0);
        assert_eq!(
            (gate.state, gate.attempt, gate.retry_at_ms),
            (GateState::Retrying, 2, Some(5_000.0))
        );
        gate.attempting(2);
        assert_eq!(gate.state, GateState::Processing);
        gate.passed();
        assert_eq!(
            (gate.state, gate.event.as_ref()),
            (GateState::Passed, Some(&badge))
        );
        gate.rejected("no such order".into());
        assert_eq!(gate.state.name(), "rejected");
    }

    #[test]
    fn announcements_are_kept_for_what_matters_during_a_drain() {
        let mut gate = GateView::admit(
            Badge::of("7", &json!({"type": "order.created"}), "events"),
            1,
        );
        assert_eq!(
            gate.announcement(false).as_deref(),
            Some("Event 7 (order.created) is at the gate")
        );
        assert_eq!(gate.announcement(true), None);
        gate.processing(Some(0.5), None);
        assert_eq!(gate.announcement(true), None, "progress is not announced");
        gate.retrying("HTTP 503".into(), 2, 0.0);
        assert_eq!(
            gate.announcement(true).as_deref(),
            Some("Event 7 (order.created): attempt 1 failed (HTTP 503); retrying")
        );
        gate.rejected("no such order".into());
        assert!(gate
            .announcement(true)
            .unwrap()
            .contains("rejected: no such order"));
        assert_eq!(GateView::default().announcement(false), None);
    }

    #[test]
    fn paused_and_offline_show_once_the_gate_is_free() {
        let mut gate = GateView::admit(Badge::of("1", &json!({}), "t"), 1);
        assert_eq!(
            gate.shown(true, true),
            GateState::Processing,
            "the event at the gate finishes first"
        );
        gate.passed();
        assert_eq!(gate.shown(true, false), GateState::Paused);
        assert_eq!(gate.shown(false, false), GateState::Passed);
        assert_eq!(gate.shown(true, true), GateState::Offline);
        assert_eq!(GateView::default().shown(true, false), GateState::Paused);
    }

    #[test]
    fn an_event_waiting_on_its_agent_shows_offline_even_while_paused() {
        let mut gate = GateView::admit(Badge::of("7", &json!({}), "t"), 1);
        gate.offline("refused".into(), 5_000.0);
        assert_eq!(gate.shown(true, false), GateState::Offline);
        assert_eq!(gate.retry_at_ms, Some(5_000.0));
        assert!(gate
            .announcement(true)
            .unwrap()
            .contains("waits at the gate: refused"));
        gate.halted("HTTP 401 — check Token".into());
        assert_eq!((gate.state, gate.retry_at_ms), (GateState::Offline, None));
        gate.attempting(1);
        assert_eq!(gate.shown(true, false), GateState::Processing);
    }

    #[test]
    fn the_busiest_lane_speaks_for_the_gate_else_the_newest() {
        let lane = |key: &str, serial| GateView::admit(Badge::of(key, &json!({}), "t"), serial);
        let mut passed = lane("1", 1);
        passed.passed();
        let mut retrying = lane("2", 2);
        retrying.retrying("HTTP 503".into(), 2, 0.0);
        let processing = lane("3", 3);
        let mut newest = lane("4", 4);
        newest.rejected("no".into());
        let speaking = |lanes: &[GateView]| {
            speaking_lane(lanes.iter().map(GateView::speaking_rank))
                .and_then(|i| lanes[i].event.as_ref())
                .map(|e| e.key.clone())
        };
        let all = [passed.clone(), retrying.clone(), processing, newest.clone()];
        assert_eq!(speaking(&all), Some("3".into()), "processing first");
        let all = [passed.clone(), retrying, newest.clone()];
        assert_eq!(speaking(&all), Some("2".into()), "then retrying");
        let all = [passed, newest, GateView::default()];
        assert_eq!(speaking(&all), Some("4".into()), "then the newest");
        assert_eq!(speaking(&[GateView::default()]), None);
    }

    #[test]
    fn names_are_the_documented_ones() {
        let all = [
            GateState::Idle,
            GateState::Processing,
            GateState::Passed,
            GateState::Retrying,
            GateState::Rejected,
            GateState::Paused,
            GateState::Offline,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "idle",
                "processing",
                "passed",
                "retrying",
                "rejected",
                "paused",
                "offline"
            ]
        );
    }

    #[test]
    fn a_new_gate_is_idle() {
        assert_eq!(GateState::default().name(), "idle");
    }
}
