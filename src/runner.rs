//! Drives one table's drain: asks the engine (`sluice_core::drain`) what to
//! do next, does it with the browser adapters, reports back, and publishes
//! what happened to the components' signals. The gate's view changes only
//! on the engine's steps and the agent's signals; no timer moves it.

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::{FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use sluice_core::agent::{AgentSettings, Attempt, Signal as AgentSignal, DELIVERY_BACKOFF};
use sluice_core::credentials::Session;
use sluice_core::dead_letters::{self, DeadLetter};
use sluice_core::drain::{Admission, Drain, Step};
use sluice_core::gate::{Badge, GateView};
use sluice_core::history::{self, Entry, History, Outcome};
use sluice_core::legacy;
use sluice_core::metrics::{Backlog, Metrics};
use sluice_core::rate::ConsumptionRate;
use sluice_core::source::{Event, TableSource};
use sluice_core::storage_keys;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use crate::browser::storage::{self, Store};
use crate::browser::{agent_client, dead_letter_store, ledger_store, rest, tab_lock};
use crate::components::Alerts;

/// Where a table's drain stands, in the operator's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Idle,
    Starting,
    /// Another tab of this browser holds the table's lock.
    OtherTabDraining,
    Draining,
    /// A transient read error; retrying by itself.
    Retrying(String),
    /// Stopped until the operator acts.
    Halted(String),
}

/// What was handled in this tab: counted per event without waking the
/// page, and shown once a second (see [`DrainView::publish_journal`]).
#[derive(Default)]
pub struct Journal {
    pub metrics: Metrics,
    pub history: History,
    changed: bool,
}

/// What the components show about the drain.
#[derive(Clone, Copy)]
pub struct DrainView {
    pub gate: RwSignal<GateView>,
    /// The event waiting first at the source.
    pub next_up: RwSignal<Option<Badge>>,
    pub queued: RwSignal<usize>,
    pub handled: RwSignal<u64>,
    pub dead_letters: RwSignal<Vec<DeadLetter>>,
    /// Source timestamp (µs) of the oldest event not yet handled.
    pub oldest_waiting_micros: RwSignal<Option<i64>>,
    pub backlog: RwSignal<Backlog>,
    pub journal: StoredValue<Journal, LocalStorage>,
    /// Bumped when the journal is published.
    pub journal_revision: RwSignal<u64>,
    pub last_read_ms: RwSignal<Option<f64>>,
    pub admission: RwSignal<Admission>,
    pub watch_only: RwSignal<bool>,
    pub condition: RwSignal<Condition>,
}

impl Default for DrainView {
    fn default() -> Self {
        Self {
            gate: RwSignal::new(GateView::default()),
            next_up: RwSignal::new(None),
            queued: RwSignal::new(0),
            handled: RwSignal::new(0),
            dead_letters: RwSignal::new(Vec::new()),
            oldest_waiting_micros: RwSignal::new(None),
            backlog: RwSignal::new(Backlog::default()),
            journal: StoredValue::new_local(Journal::default()),
            journal_revision: RwSignal::new(0),
            last_read_ms: RwSignal::new(None),
            admission: RwSignal::new(Admission::Open),
            watch_only: RwSignal::new(false),
            condition: RwSignal::new(Condition::Idle),
        }
    }
}

impl DrainView {
    /// Back to an empty rail, when no table is drained.
    pub fn reset(&self) {
        self.gate.set(GateView::default());
        self.next_up.set(None);
        self.queued.set(0);
        self.handled.set(0);
        self.dead_letters.set(Vec::new());
        self.oldest_waiting_micros.set(None);
        self.backlog.set(Backlog::default());
        self.journal.set_value(Journal::default());
        self.journal_revision.update(|r| *r += 1);
        self.last_read_ms.set(None);
        self.condition.set(Condition::Idle);
    }

    /// Shows what was handled since the last call; a fast drain changes the
    /// page once per call rather than once per event.
    pub fn publish_journal(&self) {
        let changed = self
            .journal
            .try_update_value(|j| std::mem::take(&mut j.changed))
            .unwrap_or(false);
        if changed {
            self.journal_revision.update(|r| *r += 1);
        }
    }

    fn note(&self, change: impl FnOnce(&mut Journal)) {
        self.journal.update_value(|j| {
            change(j);
            j.changed = true;
        });
    }
}

/// Sets a signal only when the value differs, so that the steps of a fast
/// drain wake only what they change.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    signal.maybe_update(|current| {
        let changed = *current != value;
        if changed {
            *current = value;
        }
        changed
    });
}

/// Everything a running drain needs.
struct Context {
    session: Session,
    source: TableSource,
    agent: Signal<AgentSettings>,
    rate: Signal<ConsumptionRate>,
    view: DrainView,
    alerts: Alerts,
    stopped: Rc<Cell<bool>>,
}

impl Context {
    fn table(&self) -> &str {
        self.source.table.as_str()
    }

    fn project(&self) -> &str {
        self.session.project.as_str()
    }
}

/// A running drain; dropping it stops it once the event at the gate is done.
pub struct Runner {
    /// Empty until this tab holds the table's lock and has read its ledger.
    drain: Rc<RefCell<Option<Drain>>>,
    /// Dead letters the operator sent back through the gate, by key.
    redeliveries: Rc<RefCell<std::collections::VecDeque<String>>>,
    wake: UnboundedSender<()>,
    stopped: Rc<Cell<bool>>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn random() -> f64 {
    js_sys::Math::random()
}

impl Runner {
    pub fn start(
        session: Session,
        source: TableSource,
        agent: Signal<AgentSettings>,
        rate: Signal<ConsumptionRate>,
        view: DrainView,
        alerts: Alerts,
    ) -> Self {
        let (wake, wakes) = unbounded();
        let stopped = Rc::new(Cell::new(false));
        let drain = Rc::new(RefCell::new(None));
        let context = Context {
            session,
            source,
            agent,
            rate,
            view,
            alerts,
            stopped: stopped.clone(),
        };
        view.dead_letters.set(load_dead_letters(&context));
        let redeliveries = Rc::new(RefCell::new(std::collections::VecDeque::new()));
        leptos::task::spawn_local(run(context, drain.clone(), redeliveries.clone(), wakes));
        Self {
            drain,
            redeliveries,
            wake,
            stopped,
        }
    }

    fn with(&self, change: impl FnOnce(&mut Drain)) {
        if let Some(drain) = self.drain.borrow_mut().as_mut() {
            change(drain);
        }
        let _ = self.wake.unbounded_send(());
    }

    pub fn pause(&self) {
        self.with(Drain::pause);
    }

    pub fn resume(&self) {
        self.with(Drain::resume);
    }

    pub fn step(&self) {
        self.with(Drain::step);
    }

    pub fn set_watch_only(&self, watch_only: bool) {
        self.with(|drain| drain.set_watch_only(watch_only));
    }

    /// After the operator fixed what halted the drain.
    pub fn retry(&self) {
        self.with(Drain::retry_now);
    }

    /// Sends dead letters back through the gate, with their Idempotency-Key.
    pub fn redeliver(&self, keys: Vec<String>) {
        self.redeliveries.borrow_mut().extend(keys);
        let _ = self.wake.unbounded_send(());
    }

    /// Something the engine waits on changed (the rate): look again.
    pub fn nudge(&self) {
        let _ = self.wake.unbounded_send(());
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stopped.set(true);
        let _ = self.wake.unbounded_send(());
    }
}

/// Waits `duration`, or less if woken; `false` when the runner was stopped.
async fn pause_for(
    duration: Duration,
    wakes: &mut UnboundedReceiver<()>,
    stopped: &Cell<bool>,
) -> bool {
    let millis = duration.as_millis().min(3_600_000) as u32;
    futures::select! {
        _ = TimeoutFuture::new(millis).fuse() => {}
        _ = wakes.next() => {}
    }
    !stopped.get()
}

fn publish(drain: &Drain, view: &DrainView) {
    let table = drain.source().table.as_str();
    let next_up = drain.next_event();
    if view
        .next_up
        .with_untracked(|n| n.as_ref().map(|b| &b.key) != next_up.map(|e| &e.key))
    {
        view.next_up
            .set(next_up.map(|e| Badge::of(&e.key, &e.row, table)));
    }
    set_if_changed(view.queued, drain.queued());
    set_if_changed(view.handled, drain.ledger().handled());
    set_if_changed(view.last_read_ms, drain.last_read_ms());
    set_if_changed(view.admission, drain.admission());
    set_if_changed(view.watch_only, drain.watch_only());
    set_if_changed(view.oldest_waiting_micros, drain.oldest_waiting_micros());
    let read_all = drain.last_read_ms().is_some()
        && !drain.more_pages()
        && drain.queued() < sluice_core::drain::PAGE_SIZE;
    if read_all {
        // Everything after the cursor has been read: the backlog is known
        // exactly, without asking the server.
        let waiting = (drain.queued() + usize::from(drain.delivering().is_some())) as u64;
        let handled = drain.ledger().handled();
        view.backlog.maybe_update(|b| {
            let before = *b;
            b.counted(waiting, handled);
            *b != before
        });
    }
    let condition = if let Some(error) = drain.halted() {
        Condition::Halted(error.to_string())
    } else if let Some((error, failures)) = drain.retrying() {
        Condition::Retrying(format!("{error} (attempt {failures})"))
    } else {
        Condition::Draining
    };
    set_if_changed(view.condition, condition);
}

/// Reads the source without draining it, while another tab drains; returns
/// `false` once stopped.
async fn watch_once(context: &Context, wakes: &mut UnboundedReceiver<()>) -> bool {
    // The other tab moves the cursor: read it afresh each time.
    let ledger = ledger_store::load(context.project(), context.table()).unwrap_or_default();
    let mut drain = Drain::new(context.source.clone(), ledger);
    drain.set_watch_only(true);
    let interval = context.rate.get_untracked().interval();
    if let Step::Read(kind, path) = drain.next(now_ms(), interval) {
        let result = rest::read_rows(&context.session, context.table(), &path).await;
        drain.on_read(kind, result, now_ms(), random());
    }
    publish(&drain, &context.view);
    context.view.watch_only.set(false);
    context.view.condition.set(Condition::OtherTabDraining);
    pause_for(
        interval.max(Duration::from_secs(1)),
        wakes,
        &context.stopped,
    )
    .await
}

/// Holds the table's lock across tabs, watching while another tab has it.
async fn take_lock(
    context: &Context,
    wakes: &mut UnboundedReceiver<()>,
) -> Result<Option<tab_lock::TabLock>, ()> {
    let name = format!("sluice:{}|{}", context.project(), context.table());
    match tab_lock::try_acquire(&name).await {
        Ok(Some(lock)) => Ok(Some(lock)),
        Ok(None) => {
            context.view.condition.set(Condition::OtherTabDraining);
            let mut waiting = Box::pin(tab_lock::acquire(&name).fuse());
            loop {
                futures::select! {
                    lock = waiting => return Ok(lock.ok()),
                    keep = watch_once(context, wakes).fuse() => if !keep { return Err(()) },
                }
            }
        }
        Err(reason) => {
            context.alerts.show(format!(
                "Other tabs cannot be kept from draining {} at the same time: {reason}.",
                context.table()
            ));
            Ok(None)
        }
    }
}

/// Longest run of the drain loop without yielding to the page (ms).
const SLICE_MS: f64 = 20.0;

/// While the source holds more than was read, the server counts the backlog
/// every few seconds (never per event); otherwise `publish` knows it.
async fn count_backlog(context: Rc<Context>, slot: Rc<RefCell<Option<Drain>>>) {
    const EVERY_MS: u32 = 5_000;
    while !context.stopped.get() {
        let wanted = slot.borrow().as_ref().and_then(|drain| {
            let unknown = drain.more_pages() || drain.queued() >= sluice_core::drain::PAGE_SIZE;
            unknown.then(|| {
                let ledger = drain.ledger();
                (
                    context.source.backlog_path(ledger.cursor()),
                    ledger.handled(),
                )
            })
        });
        if let Some((path, handled)) = wanted {
            if let Ok(Some(rows)) = rest::count(&context.session, context.table(), &path).await {
                context.view.backlog.update(|b| b.counted(rows, handled));
            }
        }
        TimeoutFuture::new(EVERY_MS).await;
    }
}

async fn run(
    context: Context,
    slot: Rc<RefCell<Option<Drain>>>,
    redeliveries: Rc<RefCell<std::collections::VecDeque<String>>>,
    mut wakes: UnboundedReceiver<()>,
) {
    let view = context.view;
    view.condition.set(Condition::Starting);
    let Ok(_lock) = take_lock(&context, &mut wakes).await else {
        return;
    };
    if context.stopped.get() {
        return;
    }
    // Read only now: until the lock was ours, another tab was moving the cursor.
    let ledger = match ledger_store::load(context.project(), context.table()) {
        Ok(ledger) => ledger,
        Err(error) => {
            // Never restart a table from zero silently.
            view.condition.set(Condition::Halted(format!(
                "The saved progress of {} cannot be read ({error}) — use “Clear history” to start this table again.",
                context.table()
            )));
            return;
        }
    };
    let mut fresh = Drain::new(context.source.clone(), ledger);
    import_prototype_keys(&context, &mut fresh);
    if view.admission.get_untracked() != Admission::Open {
        fresh.pause();
    }
    fresh.set_watch_only(view.watch_only.get_untracked());
    *slot.borrow_mut() = Some(fresh);
    let context = Rc::new(context);
    leptos::task::spawn_local(count_backlog(context.clone(), slot.clone()));
    let drain = DrainRef(slot);
    let mut slice_started = now_ms();
    loop {
        if context.stopped.get() {
            return;
        }
        // A backlog passes through without waiting on the network; give the
        // page its turn every few milliseconds so it never freezes.
        if now_ms() - slice_started > SLICE_MS {
            TimeoutFuture::new(0).await;
            slice_started = now_ms();
        }
        let redelivery = redeliveries.borrow_mut().pop_front();
        if let Some(key) = redelivery {
            redeliver(&context, &key, &mut wakes).await;
            continue;
        }
        let interval = context.rate.get_untracked().interval();
        let step = drain.get_mut().next(now_ms(), interval);
        publish(&drain.get(), &view);
        match step {
            Step::Read(kind, path) => {
                let result = rest::read_rows(&context.session, context.table(), &path).await;
                let report = drain.get_mut().on_read(kind, result, now_ms(), random());
                for malformed in report.malformed {
                    context.alerts.show(malformed);
                }
            }
            Step::Deliver(event) => match deliver(&context, event, &mut wakes).await {
                Delivered::Handled(_) => {
                    let writes = drain.get_mut().on_handled();
                    persist(&context, &drain, &writes);
                }
                Delivered::Abandoned => drain.get_mut().on_abandoned(),
            },
            Step::Record(writes) => persist(&context, &drain, &writes),
            Step::Wait(duration) => {
                if !pause_for(duration, &mut wakes, &context.stopped).await {
                    return;
                }
            }
            Step::Halted => {
                if !pause_for(Duration::MAX, &mut wakes, &context.stopped).await {
                    return;
                }
            }
        }
    }
}

/// Sends one dead letter through the gate again. Its letter stays stored
/// until the agent's final signal: passed removes it, rejected replaces it.
async fn redeliver(context: &Context, key: &str, wakes: &mut UnboundedReceiver<()>) {
    let Some(letter) = load_dead_letters(context)
        .into_iter()
        .find(|l| l.key == key)
    else {
        return;
    };
    // A row too large to keep was stored as a note: read it again.
    let row = if letter.event.get(dead_letters::NOTE_FIELD).is_some() {
        let path = context.source.row_path(key);
        match rest::read_rows(&context.session, context.table(), &path).await {
            Ok(mut rows) if !rows.is_empty() => rows.swap_remove(0),
            Ok(_) => {
                return context.alerts.show(format!(
                    "Dead letter {key} was not retried: the row is no longer in {}.",
                    context.table()
                ))
            }
            Err(error) => {
                return context
                    .alerts
                    .show(format!("Dead letter {key} was not retried: {error}"))
            }
        }
    } else {
        letter.event
    };
    let event = match context.source.event(row) {
        Ok(event) => event,
        Err(malformed) => {
            return context
                .alerts
                .show(format!("Dead letter {key} was not retried: {malformed}"))
        }
    };
    if let Delivered::Handled(Outcome::Passed | Outcome::PassedThrough) =
        deliver(context, event, wakes).await
    {
        let mut list = load_dead_letters(context);
        list.retain(|l| l.key != key);
        save_dead_letters(context, &list);
    }
}

/// Stores what the ledger recorded. If it cannot be stored, draining pauses:
/// going on would hand these events to the agent again after a reload.
fn persist(context: &Context, drain: &DrainRef, writes: &[sluice_core::ledger::Write]) {
    if let Err(error) = ledger_store::save(context.project(), context.table(), writes) {
        drain.get_mut().pause();
        context.view.admission.set(Admission::Paused);
        context.alerts.show(format!(
            "{error} Draining is paused so that no event is handled twice."
        ));
    }
}

/// The drain once it exists (it does for the whole main loop).
struct DrainRef(Rc<RefCell<Option<Drain>>>);

impl DrainRef {
    fn get(&self) -> std::cell::Ref<'_, Drain> {
        std::cell::Ref::map(self.0.borrow(), |d| {
            d.as_ref().expect("the drain exists once running")
        })
    }

    fn get_mut(&self) -> std::cell::RefMut<'_, Drain> {
        std::cell::RefMut::map(self.0.borrow_mut(), |d| {
            d.as_mut().expect("the drain exists once running")
        })
    }
}

/// Once per table, and only before Sluice has handled anything in it: the
/// keys the seed prototype recorded are handed to the engine, which records
/// them instead of delivering them. The prototype's item is left untouched.
fn import_prototype_keys(context: &Context, drain: &mut Drain) {
    let flag = storage_keys::prototype_imported(context.project(), context.table());
    if drain.ledger().handled() > 0
        || matches!(storage::load::<bool>(Store::Local, &flag), Ok(Some(true)))
    {
        return;
    }
    let stored = match storage::load::<serde_json::Value>(Store::Local, legacy::PROTOTYPE_KEY) {
        Ok(Some(stored)) => stored,
        Ok(None) => return,
        Err(error) => {
            context
                .alerts
                .show(format!("The prototype's history was not imported: {error}"));
            return;
        }
    };
    match legacy::parse(&stored.to_string()) {
        Ok((mut tables, _)) => {
            if let Some(keys) = tables.remove(context.table()) {
                drain.import_handled(keys);
            }
            if let Err(error) = storage::save(Store::Local, &flag, &true) {
                context.alerts.show(error);
            }
        }
        Err(message) => context.alerts.show(format!(
            "The prototype's history was not imported: {message}"
        )),
    }
}

enum Delivered {
    /// The agent's final signal arrived (passed, or dead-lettered).
    Handled(Outcome),
    /// Stopped before the agent finished: the event stays unhandled.
    Abandoned,
}

/// Takes the event: once handled, its row moves into the history.
async fn deliver(context: &Context, event: Event, wakes: &mut UnboundedReceiver<()>) -> Delivered {
    let gate = context.view.gate;
    let badge = Badge::of(&event.key, &event.row, context.table());
    gate.set(GateView::admit(badge.clone()));
    let started_ms = now_ms();
    let signals = RefCell::new(Vec::new());
    let settings = context.agent.get_untracked();
    let (outcome, attempts) = if settings.pass_through() {
        gate.update(|g| {
            g.message = Some("pass-through: no agent configured".into());
            g.passed();
        });
        (Outcome::PassedThrough, 1)
    } else {
        match attempt_delivery(context, &event, &settings, &signals, wakes).await {
            Some(done) => done,
            None => return Delivered::Abandoned,
        }
    };
    let (row, row_bytes) = history::kept_row(event.row);
    let entry = Entry {
        serial: 0,
        badge,
        timestamp: event.timestamp,
        outcome: outcome.clone(),
        attempts,
        duration_ms: now_ms() - started_ms,
        handled_at_ms: now_ms(),
        row,
        row_bytes,
        signals: signals.into_inner(),
    };
    context.view.note(|journal| {
        journal
            .metrics
            .record_handled(entry.handled_at_ms, event.timestamp_micros);
        journal.history.push(entry);
    });
    Delivered::Handled(outcome)
}

/// Hands the event to the agent until it passes, is refused, or attempts
/// run out; `None` if the runner stopped first.
async fn attempt_delivery(
    context: &Context,
    event: &Event,
    settings: &AgentSettings,
    signals: &RefCell<Vec<String>>,
    wakes: &mut UnboundedReceiver<()>,
) -> Option<(Outcome, u32)> {
    let gate = context.view.gate;
    let count_attempt = |ok: bool| {
        context
            .view
            .note(|journal| journal.metrics.record_attempt(now_ms(), ok))
    };
    let mut backoff = DELIVERY_BACKOFF;
    for attempt in 1..=settings.attempts {
        gate.update(|g| g.attempting(attempt));
        let on_signal = |signal: AgentSignal| {
            if let AgentSignal::Processing { progress, message } = signal {
                let said = match (&message, progress) {
                    (Some(m), _) => m.clone(),
                    (None, Some(p)) => format!("{:.0} %", p * 100.0),
                    (None, None) => "processing".into(),
                };
                history::push_signal(&mut signals.borrow_mut(), said);
                gate.update(|g| g.processing(progress, message));
            }
        };
        match agent_client::attempt(settings, context.table(), event, &on_signal).await {
            Attempt::Passed => {
                count_attempt(true);
                history::push_signal(&mut signals.borrow_mut(), "done".into());
                gate.update(GateView::passed);
                return Some((Outcome::Passed, attempt));
            }
            Attempt::Rejected(reason) => {
                count_attempt(false);
                history::push_signal(&mut signals.borrow_mut(), format!("failed: {reason}"));
                dead_letter(context, event, reason.clone(), attempt);
                return Some((Outcome::Rejected(reason), attempt));
            }
            Attempt::Failed {
                reason,
                retry_after,
            } => {
                count_attempt(false);
                history::push_signal(
                    &mut signals.borrow_mut(),
                    format!("attempt {attempt}: {reason}"),
                );
                if attempt == settings.attempts {
                    let reason = format!("gave up after {attempt} attempts: {reason}");
                    dead_letter(context, event, reason.clone(), attempt);
                    return Some((Outcome::Rejected(reason), attempt));
                }
                let wait = backoff.fail(retry_after, random());
                gate.update(|g| {
                    g.retrying(reason, attempt + 1, now_ms() + wait.as_secs_f64() * 1000.0)
                });
                let deadline = now_ms() + wait.as_secs_f64() * 1000.0;
                // Wake-ups (a rate change, say) do not cut the backoff short.
                while now_ms() < deadline {
                    let left = Duration::from_secs_f64(((deadline - now_ms()) / 1000.0).max(0.0));
                    if !pause_for(left, wakes, &context.stopped).await {
                        return None;
                    }
                }
            }
        }
    }
    // Attempts are validated to be at least one.
    None
}

fn load_dead_letters(context: &Context) -> Vec<DeadLetter> {
    dead_letter_store::load(context.project(), context.table()).unwrap_or_else(|error| {
        context.alerts.show(error);
        Vec::new()
    })
}

fn dead_letter(context: &Context, event: &Event, reason: String, attempts: u32) {
    context.view.gate.update(|g| g.rejected(reason.clone()));
    let mut list = load_dead_letters(context);
    let dropped = dead_letters::push(
        &mut list,
        DeadLetter::new(&event.key, &event.row, reason, attempts, now_ms()),
    );
    if dropped > 0 {
        context.alerts.show(format!(
            "The dead letters of {} are full; the oldest was dropped.",
            context.table()
        ));
    }
    save_dead_letters(context, &list);
}

fn save_dead_letters(context: &Context, list: &[DeadLetter]) {
    if let Err(error) = dead_letter_store::save(context.project(), context.table(), list) {
        context.alerts.show(error);
    }
    context.view.dead_letters.set(list.to_vec());
}
