//! Test facilities for queues (loopback only): create a queue nobody else
//! uses, and read what pgmq knows of it that the API roles may not see.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

use super::error::ApiError;
use super::keys::Role;
use super::Gateway;

#[derive(serde::Deserialize)]
pub struct NewQueue {
    name: String,
    /// False creates a bare pgmq queue: no policies, no grants, so the API
    /// roles are refused.
    #[serde(default = "exposed")]
    exposed: bool,
    /// True opens the queue (and its dead-letter queue) to the anon key
    /// too, to test the key-only path.
    #[serde(default)]
    open_to_anon: bool,
}

fn exposed() -> bool {
    true
}

fn valid(name: &str) -> bool {
    // pgmq's limit: `template_pgmq_q_` plus the name must fit 63 bytes; the
    // dead-letter queue adds `_dlq`.
    !name.is_empty()
        && name.len() <= 43
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `POST /_admin/queues {"name", "exposed", "open_to_anon"}`: the queue and
/// its `{name}_dlq`, protected like the default ones (signed-in operators
/// only, unless `open_to_anon`).
pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    Json(new): Json<NewQueue>,
) -> Result<StatusCode, ApiError> {
    if !valid(&new.name) {
        return Err(ApiError::bad_body(
            "a queue name is up to 43 lowercase letters, digits and underscores",
        ));
    }
    let client = gateway.admin_client().await?;
    let created = if new.exposed {
        crate::queues::create(&client, &new.name, new.open_to_anon).await
    } else {
        client
            .execute("SELECT pgmq.create($1)", &[&new.name])
            .await
            .map(drop)
    };
    created.map_err(|e| ApiError::database(&e, Role::Service))?;
    Ok(StatusCode::CREATED)
}

/// `GET /_admin/queues/{name}`: its length, its messages and its archived
/// ones (ids, read counts and bodies), read without taking anything.
pub async fn describe(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !valid(&name) && !name.strip_suffix("_dlq").is_some_and(valid) {
        return Err(ApiError::bad_body("not a queue name"));
    }
    let client = gateway.admin_client().await?;
    let length: i64 = client
        .query_one("SELECT queue_length FROM pgmq.metrics($1)", &[&name])
        .await
        .map_err(|e| ApiError::database(&e, Role::Service))?
        .get(0);
    // Rows as JSON, read as the owner: nothing is taken from the queue.
    let rows = |prefix: &str| {
        format!(
            "SELECT coalesce(json_agg(json_build_object('msg_id', msg_id, 'read_ct', read_ct, 'message', message) ORDER BY msg_id), '[]')::text FROM pgmq.{}",
            super::sql::quote(&format!("{prefix}_{name}"))
        )
    };
    let mut listed = Vec::new();
    for prefix in ["q", "a"] {
        let row = client
            .query_one(&rows(prefix), &[])
            .await
            .map_err(|e| ApiError::database(&e, Role::Service))?;
        listed.push(serde_json::from_str::<Value>(&row.get::<_, String>(0)).unwrap_or_default());
    }
    let [messages, archived] = <[Value; 2]>::try_from(listed).expect("two lists");
    Ok(Json(json!({
        "queue_length": length,
        "messages": messages,
        "archived": archived,
    })))
}
