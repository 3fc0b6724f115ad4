//! The page's shared state, handed to the panels by context
//! (`provide_context` in `App`, `expect_context` in each panel), so each
//! panel takes what it needs and nothing else.

use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::credentials::Session;
use sluice_core::drain::Admission;
use sluice_core::queue::QueueSource;
use sluice_core::rate::ConsumptionRate;
use sluice_core::runtime_config::{
    queue_list, selected_source, selection, table_list, RuntimeConfig,
};
use sluice_core::source::{Source, TableSource};
use sluice_core::storage_keys;

use crate::alerts::Alerts;
use crate::browser::storage::{self, Store};
use crate::browser::table_store::TableStore;
use crate::runner::{Choices, DrainView, Inputs, Intent, Runner};

/// Reads a remembered value; damaged data gives a message and `None`.
pub fn remembered<T: serde::de::DeserializeOwned>(key: &str, alerts: Alerts) -> Option<T> {
    storage::load(Store::Local, key).unwrap_or_else(|error| {
        alerts.show(error);
        None
    })
}

/// Remembers a value; a failure is shown.
pub fn remember<T: serde::Serialize>(key: &str, value: &T, alerts: Alerts) {
    if let Err(error) = storage::save(Store::Local, key, value) {
        alerts.show(error);
    }
}

/// Who is logged in, which tables there are and which one is drained.
#[derive(Clone, Copy)]
pub struct Sources {
    pub session: RwSignal<Option<Session>>,
    /// The tables the deployment offers (config.json, else the defaults).
    pub deployed: RwSignal<Vec<TableSource>>,
    /// config.json was read (or could not be) and the page's link applied:
    /// until then `deployed` holds only the defaults.
    pub configured: RwSignal<bool>,
    /// The tables the operator added (remembered).
    pub added: RwSignal<Vec<TableSource>>,
    /// A table named by the page's link (`?table=`) that is not in the
    /// list: it is drained only once the operator says so.
    pub offered: RwSignal<Option<TableSource>>,
    /// Every table the source dialog offers.
    pub tables: Memo<Vec<TableSource>>,
    /// The queues the deployment offers (config.json).
    pub deployed_queues: RwSignal<Vec<QueueSource>>,
    /// The queues the operator added (remembered).
    pub added_queues: RwSignal<Vec<QueueSource>>,
    /// Every queue the source dialog offers.
    pub queues: Memo<Vec<QueueSource>>,
    /// The chosen source, as remembered: a table's name or `queue:{name}`.
    pub selected: RwSignal<Option<String>>,
    /// The chosen source, once it is in the lists.
    pub chosen: Memo<Option<Source>>,
    /// The chosen table (`None` while a queue is chosen).
    pub source: Memo<Option<TableSource>>,
    /// What this browser keeps about the chosen table of this project.
    pub store: Memo<Option<TableStore>>,
}

impl Sources {
    pub fn new(
        session: Option<Session>,
        added: Vec<TableSource>,
        added_queues: Vec<QueueSource>,
        selected: Option<String>,
    ) -> Self {
        let session = RwSignal::new(session);
        let deployed = RwSignal::new(RuntimeConfig::default().tables);
        let added = RwSignal::new(added);
        let tables =
            Memo::new(move |_| added.with(|extra| deployed.with(|d| table_list(d, extra))));
        let deployed_queues = RwSignal::new(Vec::new());
        let added_queues = RwSignal::new(added_queues);
        let queues = Memo::new(move |_| {
            added_queues.with(|extra| deployed_queues.with(|d| queue_list(d, extra)))
        });
        let selected = RwSignal::new(selected);
        let chosen = Memo::new(move |_| {
            let name = selected.get()?;
            tables.with(|t| queues.with(|q| selected_source(&name, t, q)))
        });
        let source = Memo::new(move |_| match chosen.get()? {
            Source::Table(table) => Some(table),
            Source::Queue(_) => None,
        });
        let store = Memo::new(move |_| {
            let project = session.with(|s| s.as_ref().map(|s| s.project.as_str().to_string()))?;
            source.with(|s| {
                s.as_ref()
                    .map(|s| TableStore::new(&project, s.table.as_str()))
            })
        });
        Self {
            session,
            deployed,
            configured: RwSignal::new(false),
            added,
            offered: RwSignal::new(None),
            tables,
            deployed_queues,
            added_queues,
            queues,
            selected,
            chosen,
            source,
            store,
        }
    }

    /// Adds a table to the operator's list (remembered) and selects it.
    pub fn add_and_select(&self, source: TableSource, alerts: Alerts) {
        let name = source.table.as_str().to_string();
        self.added.update(|a| a.push(source));
        self.added
            .with_untracked(|a| remember(&storage_keys::added_tables(), a, alerts));
        self.selected.set(Some(name));
    }

    /// Whether a queue is chosen (tracked): no history, no watch-only, no
    /// search, and an unknown backlog.
    pub fn queue_chosen(&self) -> bool {
        self.chosen
            .with(|c| c.as_ref().is_some_and(Source::is_queue))
    }

    /// The chosen table's or queue's name (tracked).
    pub fn chosen_name(&self) -> Option<String> {
        self.chosen
            .with(|c| c.as_ref().map(|s| s.name().to_string()))
    }

    /// The chosen table's or queue's name (untracked).
    pub fn chosen_name_untracked(&self) -> Option<String> {
        self.chosen
            .with_untracked(|c| c.as_ref().map(|s| s.name().to_string()))
    }

    /// Adds a queue to the operator's list (remembered) and selects it.
    pub fn add_queue_and_select(&self, queue: QueueSource, alerts: Alerts) {
        let chosen = selection(&Source::Queue(queue.clone()));
        self.added_queues.update(|a| a.push(queue));
        self.added_queues
            .with_untracked(|a| remember(&storage_keys::added_queues(), a, alerts));
        self.selected.set(Some(chosen));
    }

    /// The store of another table of the logged-in project.
    pub fn store_of(&self, table: &str) -> Option<TableStore> {
        self.session.with_untracked(|s| {
            s.as_ref()
                .map(|s| TableStore::new(s.project.as_str(), table))
        })
    }
}

/// The chosen source's drain: the operator's choices, which reach the
/// runner only as intents, and the view of the drain that runs (an idle one
/// while none does), which only the runner writes.
#[derive(Clone, Copy)]
pub struct DrainHandle {
    view: RwSignal<DrainView>,
    /// What the page shows while no drain runs; it keeps the operator's
    /// Pause and Watch only for the drain to come.
    idle: DrainView,
    pub rate: RwSignal<ConsumptionRate>,
    pub agent: RwSignal<AgentSettings>,
    runner: StoredValue<Option<Runner>, LocalStorage>,
    /// The page's owner: each drain's view is owned by a child of it, which
    /// the runner drops once its loop has ended.
    page: StoredValue<WeakOwner, LocalStorage>,
}

impl DrainHandle {
    /// Made by the page itself (its owner outlives every drain).
    pub fn new(rate: ConsumptionRate, agent: AgentSettings) -> Self {
        let idle = DrainView::default();
        Self {
            view: RwSignal::new(idle),
            idle,
            rate: RwSignal::new(rate),
            agent: RwSignal::new(agent),
            runner: StoredValue::new_local(None),
            page: StoredValue::new_local(
                Owner::current()
                    .expect("a drain handle is made by the page")
                    .downgrade(),
            ),
        }
    }

    /// The view of the drain that runs (tracked).
    pub fn view(&self) -> DrainView {
        self.view.get()
    }

    /// Stops the running drain, if any, and starts one of `source` for
    /// `session` (none without both), with a view of its own.
    pub fn start(&self, next: Option<(Session, Source)>, alerts: Alerts) {
        self.runner.set_value(None);
        let Some((session, source)) = next else {
            self.view.set(self.idle);
            return;
        };
        let Some(owner) = self
            .page
            .with_value(WeakOwner::upgrade)
            .map(|page| page.child())
        else {
            return;
        };
        let admission = self.idle.admission.get_untracked();
        // The operator's Pause and Watch only (a queue has none) show from
        // the view's first frame: until the loop first publishes, a default
        // view would offer "Pause" on a paused drain, and a click on it
        // would pause it again.
        let view = owner.with(DrainView::default);
        view.admission.set(admission);
        view.watch_only
            .set(matches!(source, Source::Table(_)) && self.idle.watch_only.get_untracked());
        let runner = Runner::start(
            Inputs {
                session,
                source,
                choices: self.choices_untracked(),
                admission,
                view,
                alerts,
            },
            owner,
        );
        self.runner.set_value(Some(runner));
        self.view.set(view);
    }

    /// The operator's rate and agent settings, as they are now.
    pub fn choices_untracked(&self) -> Choices {
        Choices {
            agent: self.agent.get_untracked(),
            rate: self.rate.get_untracked(),
        }
    }

    /// Sends an intent to the running drain, if there is one.
    pub fn send(&self, intent: Intent) {
        self.runner
            .with_value(|r| r.iter().for_each(|r| r.send(intent.clone())));
    }

    pub fn is_running(&self) -> bool {
        self.runner.with_value(Option::is_some)
    }

    /// Pause or resume; kept for the drain to come as well.
    pub fn set_paused(&self, paused: bool) {
        let (admission, intent) = if paused {
            (Admission::Paused, Intent::Pause)
        } else {
            (Admission::Open, Intent::Resume)
        };
        self.idle.admission.set(admission);
        self.send(intent);
    }

    /// Whether the drain shown admits nothing (tracked).
    pub fn paused(&self) -> bool {
        self.view().admission.get() != Admission::Open
    }

    pub fn paused_untracked(&self) -> bool {
        self.view
            .with_untracked(|v| v.admission.get_untracked() != Admission::Open)
    }

    pub fn set_watch_only(&self, on: bool) {
        self.idle.watch_only.set(on);
        self.send(Intent::WatchOnly(on));
    }
}

/// The page's clock for "updated 3 s ago" and the figures, once a second.
#[derive(Clone, Copy)]
pub struct Clock(pub Signal<f64>);

impl Clock {
    pub fn now_ms(self) -> f64 {
        self.0.get()
    }
}
