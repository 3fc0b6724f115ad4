//! A demo processing agent implementing Sluice's webhook v1 (docs/agent-protocol.md).
//! It answers with JSON or streams ndjson signals, with configurable latency,
//! progress steps and failure mix, and records every Idempotency-Key it was
//! sent so tests can prove each event was delivered once.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tower_http::cors::{Any, CorsLayer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    /// One `{"status":"done"}` reply.
    Json,
    /// `application/x-ndjson`: progress lines, then `done`.
    #[default]
    Ndjson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct AgentConfig {
    /// How long processing one event takes, in milliseconds.
    #[arg(
        id = "agent-latency-ms",
        long = "agent-latency-ms",
        env = "SLUICE_AGENT_LATENCY_MS",
        default_value_t = 1200
    )]
    pub latency_ms: u64,
    /// Up to this much more per delivery, at random: agents are not all
    /// equally quick, so events finish out of order.
    #[arg(
        id = "agent-latency-jitter-ms",
        long = "agent-latency-jitter-ms",
        env = "SLUICE_AGENT_LATENCY_JITTER_MS",
        default_value_t = 0
    )]
    pub latency_jitter_ms: u64,
    #[arg(id = "agent-mode", long = "agent-mode", env = "SLUICE_AGENT_MODE", value_enum, default_value_t = ReplyMode::Ndjson)]
    pub mode: ReplyMode,
    /// Progress signals sent before `done` (ndjson mode).
    #[arg(
        id = "agent-progress-steps",
        long = "agent-progress-steps",
        env = "SLUICE_AGENT_PROGRESS_STEPS",
        default_value_t = 4
    )]
    pub progress_steps: u32,
    /// Share of events refused for good (422), chosen by a hash of the key so
    /// the same events are refused on every attempt.
    #[arg(
        id = "agent-reject-rate",
        long = "agent-reject-rate",
        env = "SLUICE_AGENT_REJECT_RATE",
        default_value_t = 0.0
    )]
    pub reject_rate: f64,
    /// The status designed rejects are answered with: 422 (refused for
    /// good) unless set, e.g. 503 to have the same events fail every try.
    #[arg(
        id = "agent-reject-status",
        long = "agent-reject-status",
        env = "SLUICE_AGENT_REJECT_STATUS",
        default_value_t = 422
    )]
    pub reject_status: u16,
    /// Share of deliveries answered 503 with Retry-After (worth retrying).
    #[arg(
        id = "agent-error-rate",
        long = "agent-error-rate",
        env = "SLUICE_AGENT_ERROR_RATE",
        default_value_t = 0.0
    )]
    pub error_rate: f64,
    /// Share of deliveries never answered (the caller's timeout must fire).
    #[arg(
        id = "agent-timeout-rate",
        long = "agent-timeout-rate",
        env = "SLUICE_AGENT_TIMEOUT_RATE",
        default_value_t = 0.0
    )]
    pub timeout_rate: f64,
    /// Share of ndjson replies cut off mid-stream after some progress, as
    /// when an agent dies mid-event (the caller should retry).
    #[arg(
        id = "agent-midstream-fail-rate",
        long = "agent-midstream-fail-rate",
        env = "SLUICE_AGENT_MIDSTREAM_FAIL_RATE",
        default_value_t = 0.0
    )]
    pub midstream_fail_rate: f64,
    /// Share of deliveries answered 200 with an HTML page instead of a
    /// signal, as a misconfigured proxy would (the caller should retry).
    #[arg(
        id = "agent-garbage-rate",
        long = "agent-garbage-rate",
        env = "SLUICE_AGENT_GARBAGE_RATE",
        default_value_t = 0.0
    )]
    pub garbage_rate: f64,
    /// Seconds put in Retry-After on 503s.
    #[arg(
        id = "agent-retry-after-s",
        long = "agent-retry-after-s",
        env = "SLUICE_AGENT_RETRY_AFTER_S",
        default_value_t = 1
    )]
    pub retry_after_s: u64,
    /// When not empty, deliveries must carry `Authorization: Bearer {token}`
    /// or are answered 401, as a real agent behind a token would.
    #[arg(
        id = "agent-token",
        long = "agent-token",
        env = "SLUICE_AGENT_TOKEN",
        default_value = ""
    )]
    pub token: String,
    /// When not 0, every delivery is answered with this HTTP status (a 3xx
    /// with a `Location`), to try each class of answer. Not recorded as done.
    #[arg(
        id = "agent-answer-status",
        long = "agent-answer-status",
        env = "SLUICE_AGENT_ANSWER_STATUS",
        default_value_t = 0
    )]
    pub answer_status: u16,
    /// Keep the connection open after the final signal, as some proxies
    /// and serverless hosts do: the caller must not wait for it to close.
    #[arg(
        id = "agent-hold-open-after-done",
        long = "agent-hold-open-after-done",
        env = "SLUICE_AGENT_HOLD_OPEN_AFTER_DONE",
        default_value_t = false
    )]
    pub hold_open_after_done: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            latency_ms: 1200,
            latency_jitter_ms: 0,
            mode: ReplyMode::Ndjson,
            progress_steps: 4,
            reject_rate: 0.0,
            reject_status: 422,
            error_rate: 0.0,
            timeout_rate: 0.0,
            midstream_fail_rate: 0.0,
            garbage_rate: 0.0,
            retry_after_s: 1,
            token: String::new(),
            answer_status: 0,
            hold_open_after_done: false,
        }
    }
}

/// Every delivery, by Idempotency-Key.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    /// Deliveries received, duplicates included.
    pub deliveries: u64,
    /// How many times each key was delivered.
    pub keys: BTreeMap<String, u32>,
    /// Every delivery's key, in the order they arrived.
    pub order: Vec<String>,
    /// Keys answered with a final `done`.
    pub done: BTreeMap<String, u32>,
    /// Keys refused for good.
    pub rejected: BTreeMap<String, u32>,
    /// What each delivery of a key met, in order: `done`, `rejected`,
    /// `503`, `timeout`, `cut` (stream broken off) or `garbage` (HTML), so
    /// a soak can say why a key was delivered more than once.
    pub outcomes: BTreeMap<String, Vec<&'static str>>,
    /// Arrivals and outcomes as they happened, `[key, "arrived"]` then
    /// `[key, outcome]`: tests read from it which deliveries overlapped.
    pub timeline: Vec<(String, &'static str)>,
    /// When each delivery started and ended, in the order they arrived (the
    /// latest [`DELIVERY_TIMES_KEPT`]): a test checks with it that no two
    /// deliveries of one key overlapped.
    pub delivery_times: VecDeque<DeliveryTime>,
}

/// How many [`DeliveryTime`]s the tally keeps (about 10 MB at most).
const DELIVERY_TIMES_KEPT: usize = 100_000;

/// One delivery's span on the agent's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryTime {
    /// Tells this delivery's entry apart when it ends.
    #[serde(skip)]
    id: u64,
    pub key: String,
    /// Milliseconds since the agent started (a monotonic clock).
    pub started_ms: u64,
    /// `None` while the delivery is in flight.
    pub ended_ms: Option<u64>,
    /// What it met, as in `outcomes`, or `disconnected` when the client went
    /// away before it met anything; `None` while in flight.
    pub outcome: Option<&'static str>,
}

impl Tally {
    /// Only the deliveries whose key starts with `prefix` (`{table}:` for
    /// one table's or queue's), in the same shape.
    fn matching(&self, prefix: &str) -> Self {
        fn pick<V: Clone>(map: &BTreeMap<String, V>, prefix: &str) -> BTreeMap<String, V> {
            map.range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(key, _)| key.starts_with(prefix))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        }
        let order: Vec<String> = self
            .order
            .iter()
            .filter(|key| key.starts_with(prefix))
            .cloned()
            .collect();
        Self {
            deliveries: order.len() as u64,
            keys: pick(&self.keys, prefix),
            order,
            done: pick(&self.done, prefix),
            rejected: pick(&self.rejected, prefix),
            outcomes: pick(&self.outcomes, prefix),
            timeline: self
                .timeline
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .cloned()
                .collect(),
            delivery_times: self
                .delivery_times
                .iter()
                .filter(|time| time.key.starts_with(prefix))
                .cloned()
                .collect(),
        }
    }

    fn start_delivery(&mut self, id: u64, key: &str, now_ms: u64) {
        self.deliveries += 1;
        *self.keys.entry(key.to_string()).or_default() += 1;
        self.order.push(key.to_string());
        self.timeline.push((key.to_string(), "arrived"));
        if self.delivery_times.len() == DELIVERY_TIMES_KEPT {
            self.delivery_times.pop_front();
        }
        self.delivery_times.push_back(DeliveryTime {
            id,
            key: key.to_string(),
            started_ms: now_ms,
            ended_ms: None,
            outcome: None,
        });
    }

    /// Ids grow by one a delivery, so the entry is found by subtraction; a
    /// delivery from before a reset, or dropped from the window, has none.
    fn end_delivery(&mut self, id: u64, now_ms: u64, outcome: &'static str) {
        let Some(first) = self.delivery_times.front().map(|time| time.id) else {
            return;
        };
        let entry = id
            .checked_sub(first)
            .and_then(|index| self.delivery_times.get_mut(index as usize))
            .filter(|time| time.id == id);
        if let Some(time) = entry {
            time.ended_ms = Some(now_ms);
            time.outcome = Some(outcome);
        }
    }

    fn record(&mut self, key: &str, outcome: &'static str) {
        self.outcomes
            .entry(key.to_string())
            .or_default()
            .push(outcome);
        self.timeline.push((key.to_string(), outcome));
        if outcome == "done" {
            *self.done.entry(key.to_string()).or_default() += 1;
        }
    }
}

pub struct Agent {
    pub config: Mutex<AgentConfig>,
    pub tally: Mutex<Tally>,
    /// The agent's clock starts with it.
    started: Instant,
    /// Numbers deliveries across resets, so one in flight through a reset
    /// cannot end another's entry.
    next_delivery: AtomicU64,
}

impl Agent {
    pub fn new(config: AgentConfig) -> Self {
        Self {
            config: Mutex::new(config),
            tally: Mutex::default(),
            started: Instant::now(),
            next_delivery: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// A delivery in flight. Dropping it records when the delivery ended, also
/// when its handler (or its reply stream) is cancelled because the client
/// went away, so a test can tell whether two deliveries of a key overlapped.
struct InFlight {
    agent: Arc<Agent>,
    id: u64,
    key: String,
    outcome: Option<&'static str>,
}

impl InFlight {
    fn start(agent: Arc<Agent>, key: String) -> Self {
        let now_ms = agent.now_ms();
        let id = {
            let mut tally = agent.tally.lock().expect("tally lock");
            // Taken under the lock, so the tally holds the ids in order.
            let id = agent.next_delivery.fetch_add(1, Ordering::Relaxed);
            tally.start_delivery(id, &key, now_ms);
            id
        };
        Self {
            agent,
            id,
            key,
            outcome: None,
        }
    }

    /// What the delivery met: `done`, an injected fault or a refusal.
    fn record(&mut self, outcome: &'static str) {
        self.outcome = Some(outcome);
        self.agent
            .tally
            .lock()
            .expect("tally lock")
            .record(&self.key, outcome);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now_ms = self.agent.now_ms();
        // Never panic in a drop (a poisoned lock only loses this record).
        if let Ok(mut tally) = self.agent.tally.lock() {
            tally.end_delivery(self.id, now_ms, self.outcome.unwrap_or("disconnected"));
        }
    }
}

pub fn router(agent: Arc<Agent>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::RETRY_AFTER]);
    let webhook = Router::new()
        .route("/", post(deliver))
        .with_state(agent.clone())
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::gateway::BODY_LIMIT,
        ))
        .layer(cors);
    let controls = Router::new()
        .route("/tally", get(tally))
        .route("/reset", post(reset))
        .route("/config", get(config).put(set_config))
        .with_state(agent)
        .layer(axum::middleware::from_fn(crate::loopback::only_local));
    webhook.merge(controls)
}

/// The Kong-free part of the contract a real agent must honour too.
#[derive(Deserialize)]
struct Delivery {
    key: String,
    table: String,
    event: Value,
}

fn designed_reject(key: &str, rate: f64) -> bool {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % 10_000) as f64 / 10_000.0 < rate
}

fn problem(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({"status": "failed", "reason": reason}))).into_response()
}

async fn deliver(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Sent percent-encoded where a header could not carry the key as is
    // (docs/agent-protocol.md); the tally keeps it decoded.
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| percent_encoding::percent_decode_str(v).decode_utf8().ok())
        .map(|v| v.into_owned())
    else {
        return problem(StatusCode::BAD_REQUEST, "missing Idempotency-Key header");
    };
    let delivery: Delivery = match serde_json::from_slice(&body) {
        Ok(delivery) => delivery,
        Err(error) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("body is not {{key, table, event}}: {error}"),
            )
        }
    };
    if !delivery.event.is_object() {
        return problem(
            StatusCode::BAD_REQUEST,
            "event must be the row, as a JSON object",
        );
    }
    // A queue's message is keyed `queue/{queue}:{msg_id}`, so that it never
    // shares a key with a row of a table of the same name.
    let table_key = format!("{}:{}", delivery.table, delivery.key);
    if table_key != key && format!("queue/{table_key}") != key {
        return problem(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key must be {table}:{key} (or queue/{queue}:{key}) of the body",
        );
    }
    let config = agent.config.lock().expect("config lock").clone();
    let mut delivery = InFlight::start(agent.clone(), key.clone());
    if !config.token.is_empty() {
        let expected = format!("Bearer {}", config.token);
        if headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            != Some(&expected)
        {
            delivery.record("401");
            return problem(
                StatusCode::UNAUTHORIZED,
                "demo agent: wrong or missing token",
            );
        }
    }
    if config.answer_status != 0 {
        delivery.record("status");
        let status = StatusCode::from_u16(config.answer_status).unwrap_or(StatusCode::IM_A_TEAPOT);
        let mut response = problem(status, &format!("demo agent answers {status} (configured)"));
        if status.is_redirection() {
            response.headers_mut().insert(
                header::LOCATION,
                header::HeaderValue::from_static("/elsewhere"),
            );
        }
        return response;
    }
    if designed_reject(&key, config.reject_rate) {
        delivery.record("rejected");
        *agent
            .tally
            .lock()
            .expect("tally lock")
            .rejected
            .entry(key)
            .or_default() += 1;
        let status =
            StatusCode::from_u16(config.reject_status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        let mut response = problem(status, "demo agent refuses this event (designed reject)");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, config.retry_after_s.into());
        }
        return response;
    }
    let mut config = config;
    if config.latency_jitter_ms > 0 {
        config.latency_ms += rand::rng().random_range(0..=config.latency_jitter_ms);
    }
    let roll: f64 = rand::rng().random();
    if roll < config.error_rate {
        delivery.record("503");
        let mut response = problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "demo agent is busy (injected 503)",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, config.retry_after_s.into());
        return response;
    }
    if roll < config.error_rate + config.timeout_rate {
        delivery.record("timeout");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return problem(StatusCode::GATEWAY_TIMEOUT, "demo agent never finished");
    }
    let fail_midstream =
        roll < config.error_rate + config.timeout_rate + config.midstream_fail_rate;
    if !fail_midstream
        && roll
            < config.error_rate
                + config.timeout_rate
                + config.midstream_fail_rate
                + config.garbage_rate
    {
        delivery.record("garbage");
        return (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response();
    }
    match config.mode {
        ReplyMode::Json => {
            // Even a zero sleep waits for the timer's next millisecond tick.
            if config.latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
            }
            delivery.record("done");
            // Pretty-printed: a reply is one JSON value, however laid out.
            let done = "{\n  \"status\": \"done\"\n}\n";
            let body = if config.hold_open_after_done {
                Body::from_stream(then_hold_open(done.to_string()))
            } else {
                Body::from(done)
            };
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        ReplyMode::Ndjson => ndjson(delivery, config, fail_midstream),
    }
}

/// `last`, then nothing for an hour with the connection open.
fn then_hold_open(
    last: String,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    futures::stream::once(async move { Ok(last) }).chain(futures::stream::once(async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(String::new())
    }))
}

/// Streams `processing` signals with progress, then `done` (or `failed`).
/// The delivery ends with its last signal, or when the stream is dropped
/// because the client went away.
fn ndjson(delivery: InFlight, config: AgentConfig, fail_midstream: bool) -> Response {
    let hold_open = config.hold_open_after_done;
    let steps = config.progress_steps.max(1);
    let pause = Duration::from_millis(config.latency_ms / u64::from(steps + 1));
    let lines = futures::stream::unfold(
        (0u32, Some(delivery)),
        move |(step, mut delivery)| async move {
            if step > steps {
                if hold_open && step == steps + 1 {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                return None;
            }
            tokio::time::sleep(pause).await;
            if step < steps {
                let progress = f64::from(step + 1) / f64::from(steps + 1);
                let line = json!({"status": "processing", "progress": progress, "message": format!("step {} of {steps}", step + 1)});
                return Some((Ok(format!("{line}\n")), (step + 1, delivery)));
            }
            let mut ended = delivery.take()?;
            if fail_midstream {
                ended.record("cut");
                return Some((
                    Err(std::io::Error::other(
                        "demo agent died mid-event (injected)",
                    )),
                    (step + 1, None),
                ));
            }
            ended.record("done");
            Some((
                Ok(format!("{}\n", json!({"status": "done"}))),
                (step + 1, None),
            ))
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(lines))
        .expect("static response")
}

#[derive(Deserialize)]
struct TallyFilter {
    /// Only keys starting with it (`{table}:`), so a test downloads its own
    /// deliveries rather than everyone's.
    prefix: Option<String>,
}

async fn tally(
    State(agent): State<Arc<Agent>>,
    axum::extract::Query(filter): axum::extract::Query<TallyFilter>,
) -> Json<Tally> {
    let tally = agent.tally.lock().expect("tally lock");
    Json(match filter.prefix {
        Some(prefix) => tally.matching(&prefix),
        None => tally.clone(),
    })
}

async fn reset(State(agent): State<Arc<Agent>>) -> StatusCode {
    *agent.tally.lock().expect("tally lock") = Tally::default();
    StatusCode::NO_CONTENT
}

async fn config(State(agent): State<Arc<Agent>>) -> Json<AgentConfig> {
    Json(agent.config.lock().expect("config lock").clone())
}

async fn set_config(
    State(agent): State<Arc<Agent>>,
    Json(new): Json<AgentConfig>,
) -> Json<AgentConfig> {
    *agent.config.lock().expect("config lock") = new.clone();
    Json(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_keeps_only_its_keys_in_the_same_shape() {
        let mut tally = Tally::default();
        for (id, key) in ["events:1", "events_b:1", "events:2", "eventa:9", "events:1"]
            .into_iter()
            .enumerate()
        {
            tally.start_delivery(id as u64, key, id as u64);
            tally.record(key, "done");
        }
        let mine = tally.matching("events:");
        assert_eq!(mine.deliveries, 3);
        assert_eq!(mine.order, ["events:1", "events:2", "events:1"]);
        assert_eq!(
            mine.keys,
            BTreeMap::from([("events:1".to_string(), 2), ("events:2".to_string(), 1)])
        );
        assert_eq!(mine.done, mine.keys);
        assert_eq!(mine.outcomes.len(), 2);
        assert_eq!(mine.timeline.len(), 6);
        assert_eq!(mine.delivery_times.len(), 3);
        assert_eq!(tally.matching("").deliveries, 5);
        assert_eq!(tally.matching("nothing:").order, Vec::<String>::new());
    }

    #[test]
    fn a_delivery_ends_its_own_entry_and_no_other() {
        let mut tally = Tally::default();
        tally.start_delivery(7, "events:a", 10);
        tally.start_delivery(8, "events:a", 12);
        tally.end_delivery(8, 20, "done");
        tally.end_delivery(3, 21, "done"); // from before a reset
        assert_eq!(tally.delivery_times[0].ended_ms, None);
        assert_eq!(tally.delivery_times[1].ended_ms, Some(20));
        assert_eq!(tally.delivery_times[1].outcome, Some("done"));
        tally.end_delivery(7, 30, "disconnected");
        assert_eq!(tally.delivery_times[0].outcome, Some("disconnected"));
    }

    #[test]
    fn delivery_times_keep_the_latest_window() {
        let mut tally = Tally::default();
        for id in 0..DELIVERY_TIMES_KEPT as u64 + 2 {
            tally.start_delivery(id, "q:1", id);
        }
        assert_eq!(tally.delivery_times.len(), DELIVERY_TIMES_KEPT);
        assert_eq!(tally.delivery_times[0].id, 2);
        tally.end_delivery(1, 0, "done"); // dropped from the window
        tally.end_delivery(DELIVERY_TIMES_KEPT as u64 + 1, 5, "done");
        assert_eq!(tally.delivery_times.back().unwrap().ended_ms, Some(5));
    }

    #[test]
    fn designed_rejects_are_stable_and_near_the_rate() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("events:{i}")).collect();
        let rejected = keys.iter().filter(|k| designed_reject(k, 0.05)).count();
        assert!((400..600).contains(&rejected), "{rejected}");
        assert!(keys
            .iter()
            .all(|k| designed_reject(k, 0.05) == designed_reject(k, 0.05)));
        assert!(!keys.iter().any(|k| designed_reject(k, 0.0)));
    }
}
