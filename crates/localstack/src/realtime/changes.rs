//! Changes from the database to the subscribers: a connection of its own
//! listens on `sluice_realtime` (realtime.sql's trigger sends each inserted
//! row's identity), and each change is read again as each subscriber, under
//! its role and claims, before it is sent: a row the subscriber's policies
//! hide is not sent, and a table it may not read is sent as Realtime sends
//! it, with `errors: ["Error 401: Unauthorized"]` and no record.

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::AsyncMessage;

use super::protocol::{self, Binding};
use super::Realtime;
use crate::gateway::keys::Authorized;
use crate::gateway::{begin_as, Access};

/// What realtime.sql's trigger sends.
#[derive(Debug, Deserialize)]
struct Notice {
    schema: String,
    table: String,
    #[serde(rename = "type")]
    kind: String,
    pk: Map<String, Value>,
    commit_timestamp: String,
}

/// Whether the publication holds `binding`'s table (any table for "*").
pub(super) async fn published(hub: &Realtime, binding: &Binding) -> Result<bool, String> {
    let client = hub
        .gateway
        .admin_client()
        .await
        .map_err(|e| e.body.to_string())?;
    let table = binding.table.clone().unwrap_or_else(|| "*".into());
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime' \
             AND ($1 = '*' OR schemaname = $1) AND ($2 = '*' OR tablename = $2))",
            &[&binding.schema, &table],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

/// Listens for changes until the process ends, connecting again after a
/// lost connection (what was inserted meanwhile is not announced: the app's
/// safety read finds it, as it must after any Realtime outage).
pub async fn listen(hub: Arc<Realtime>, database_url: String) {
    loop {
        if let Err(error) = listen_once(&hub, &database_url).await {
            eprintln!("realtime: listening failed: {error}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(hub: &Arc<Realtime>, database_url: &str) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) =
        tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    let (notices, mut arriving) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notice)) => {
                    let _ = notices.send(notice.payload().to_string());
                }
                Ok(_) => {}
                Err(error) => {
                    eprintln!("realtime: listening connection: {error}");
                    break;
                }
            }
        }
    });
    client.batch_execute("LISTEN sluice_realtime").await?;
    // As Realtime polls the log and handles what it finds together, the
    // notices waiting are taken as one batch (a thousand at most).
    while let Some(first) = arriving.recv().await {
        let mut payloads = vec![first];
        while payloads.len() < BATCH {
            match arriving.try_recv() {
                Ok(payload) => payloads.push(payload),
                Err(_) => break,
            }
        }
        let notices: Vec<Notice> = payloads
            .iter()
            .filter_map(|payload| match serde_json::from_str(payload) {
                Ok(notice) => Some(notice),
                Err(error) => {
                    eprintln!("realtime: unreadable notice {payload}: {error}");
                    None
                }
            })
            .collect();
        for run in runs_by_table(notices) {
            dispatch(hub, &run).await;
        }
    }
    driver.abort();
    Ok(())
}

/// Most notices handled together.
const BATCH: usize = 1000;

/// Splits notices into runs of one table each, in order.
fn runs_by_table(notices: Vec<Notice>) -> Vec<Vec<Notice>> {
    let mut runs: Vec<Vec<Notice>> = Vec::new();
    for notice in notices {
        match runs.last_mut() {
            Some(run) if run[0].schema == notice.schema && run[0].table == notice.table => {
                run.push(notice)
            }
            _ => runs.push(vec![notice]),
        }
    }
    runs
}

/// A channel a change goes to: its socket, topic, claims and the ids of
/// its bindings that match.
pub(super) struct Recipient {
    pub(super) socket: u64,
    pub(super) topic: String,
    pub(super) join_ref: Option<String>,
    pub(super) authorized: Authorized,
    pub(super) ids: Vec<u32>,
}

fn recipients(hub: &Realtime, notice: &Notice) -> Vec<Recipient> {
    let sockets = hub.sockets();
    let mut found = Vec::new();
    for (socket, entry) in sockets.iter().filter(|(_, e)| !e.muted) {
        for (topic, channel) in entry.channels.iter().filter(|(_, c)| c.subscribed) {
            let ids: Vec<u32> = channel
                .bindings
                .iter()
                .filter(|b| b.matches(&notice.schema, &notice.table, &notice.kind))
                .map(Binding::id)
                .collect();
            if !ids.is_empty() {
                found.push(Recipient {
                    socket: *socket,
                    topic: topic.clone(),
                    join_ref: channel.join_ref.clone(),
                    authorized: channel.authorized.clone(),
                    ids,
                });
            }
        }
    }
    found
}

/// What one subscriber may see of a run of changes: the rows it may read,
/// by identity (a row its policies hide, or one gone since, is missing),
/// or a refusal (`errors`) for them all.
enum Seen {
    Rows(HashMap<String, Value>),
    Refused(&'static str),
}

/// Sends a run of one table's inserts to the channels listening, each
/// change only to those whose claims may read its row (read once per
/// distinct claims for the whole run).
async fn dispatch(hub: &Realtime, run: &[Notice]) {
    let first = &run[0];
    let recipients = recipients(hub, first);
    if recipients.is_empty() {
        return;
    }
    let columns = columns(hub, first).await.unwrap_or_default();
    let mut seen_by: HashMap<String, Seen> = HashMap::new();
    for recipient in &recipients {
        let claims = recipient.authorized.claims.to_string();
        if let Entry::Vacant(unread) = seen_by.entry(claims) {
            hub.checks.fetch_add(1, Ordering::Relaxed);
            unread.insert(read_as(hub, &recipient.authorized, run).await);
        }
    }
    for notice in run {
        for recipient in &recipients {
            let (record, errors) = match &seen_by[&recipient.authorized.claims.to_string()] {
                Seen::Rows(rows) => match rows.get(&pk_key(&notice.pk)) {
                    Some(row) => (row.clone(), Value::Null),
                    None => continue,
                },
                Seen::Refused(why) => (json!({}), json!([why])),
            };
            let payload = json!({
                "ids": recipient.ids,
                "data": {
                    "schema": notice.schema,
                    "table": notice.table,
                    "commit_timestamp": notice.commit_timestamp,
                    "type": notice.kind,
                    "columns": columns,
                    "record": record,
                    "errors": errors,
                }
            });
            let change = protocol::push(
                &recipient.topic,
                recipient.join_ref.as_deref(),
                "postgres_changes",
                payload,
            );
            if hub.send_change(recipient, change) {
                hub.changes_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A row's identity as a map key: its primary key's columns and values.
fn pk_key(pk: &Map<String, Value>) -> String {
    Value::Object(pk.clone()).to_string()
}

/// `"name"` with inner quotes doubled.
fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The table's columns, `[{name, type}]` as Realtime lists them.
async fn columns(hub: &Realtime, notice: &Notice) -> Result<Vec<Value>, String> {
    let client = hub
        .gateway
        .admin_client()
        .await
        .map_err(|e| e.body.to_string())?;
    let relation = format!("{}.{}", quoted(&notice.schema), quoted(&notice.table));
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&relation],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .map(|r| json!({ "name": r.get::<_, String>(0), "type": r.get::<_, String>(1) }))
        .collect())
}

/// Reads the changed rows as the subscriber, in one read-only transaction
/// with its role and claims, as Realtime's `apply_rls` checks each change.
async fn read_as(hub: &Realtime, authorized: &Authorized, run: &[Notice]) -> Seen {
    let first = &run[0];
    if first.pk.is_empty() {
        return Seen::Refused("Error 400: Bad Request, no primary key");
    }
    let nothing = Seen::Rows(HashMap::new());
    let mut client = match hub.gateway.client().await {
        Ok(client) => client,
        Err(error) => {
            eprintln!(
                "realtime: no connection to read a change as a subscriber: {}",
                error.body
            );
            return nothing;
        }
    };
    let relation = format!("{}.{}", quoted(&first.schema), quoted(&first.table));
    let columns: Vec<&String> = first.pk.keys().collect();
    let keys: Vec<String> = columns.iter().map(|k| quoted(k)).collect();
    let sql = format!(
        "SELECT to_jsonb(t) FROM {relation} t WHERE ({tuple}) IN \
         (SELECT {key_list} FROM jsonb_populate_recordset(NULL::{relation}, $1::text::jsonb))",
        tuple = keys
            .iter()
            .map(|k| format!("t.{k}"))
            .collect::<Vec<_>>()
            .join(", "),
        key_list = keys.join(", "),
    );
    let role = authorized.role;
    // As PostgREST runs a GET: the subscriber's role, claims and timeout.
    let tx = match begin_as(&mut client, authorized, Access::ReadOnly).await {
        Ok(tx) => tx,
        Err(error) => {
            eprintln!(
                "realtime: reading {relation} as {}: {}",
                role.db_role(),
                error.body
            );
            return nothing;
        }
    };
    let identities = Value::Array(run.iter().map(|n| Value::Object(n.pk.clone())).collect());
    match tx.query(&sql, &[&identities.to_string()]).await {
        Ok(rows) => Seen::Rows(
            rows.iter()
                .map(|row| {
                    let record: Value = row.get(0);
                    let pk: Map<String, Value> = columns
                        .iter()
                        .map(|c| {
                            (
                                (*c).clone(),
                                record.get(c.as_str()).cloned().unwrap_or(Value::Null),
                            )
                        })
                        .collect();
                    (pk_key(&pk), record)
                })
                .collect(),
        ),
        Err(error)
            if error.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) =>
        {
            Seen::Refused("Error 401: Unauthorized")
        }
        Err(error) => {
            eprintln!(
                "realtime: reading {relation} as {}: {error}",
                role.db_role()
            );
            nothing
        }
    }
}
