//! Supabase Queues on the local stack: pgmq installed from the crates.io
//! `pgmq` crate (its embedded SQL, at the version the crate pins), exposed
//! through `pgmq_public` as Supabase exposes it, and two seeded queues, each
//! with its dead-letter queue.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// A default queue, and what its messages look like.
pub struct QueueSpec {
    pub name: &'static str,
    pub source: &'static str,
    pub types: &'static [&'static str],
}

pub const QUEUES: [QueueSpec; 2] = [
    QueueSpec {
        name: "order_jobs",
        source: "shop-api",
        types: &["invoice.render", "stock.reserve", "parcel.label"],
    },
    QueueSpec {
        name: "email_jobs",
        source: "mailer",
        types: &["email.welcome", "email.receipt", "email.reset_password"],
    },
];

/// The dead-letter queue a queue gets unless its settings name another.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}_dlq")
}

/// What installing pgmq did, for the start-up banner.
pub struct Installed {
    pub version: String,
    pub took: Duration,
}

/// Installs pgmq with the crate's own installer (idempotent: it records the
/// applied scripts), then exposes it and creates the default queues.
pub async fn install(
    database_url: &str,
    client: &Client,
) -> Result<Installed, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await?;
    pgmq::install::install_sql_from_embedded(&pool).await?;
    let version = pgmq::install::installed_version(&pool)
        .await?
        .map_or_else(|| "unknown".to_string(), |v| v.to_string());
    pool.close().await;
    client.batch_execute(include_str!("queues.sql")).await?;
    for queue in &QUEUES {
        create(client, queue.name, false).await?;
    }
    Ok(Installed {
        version,
        took: started.elapsed(),
    })
}

/// Creates a queue and its dead-letter queue, protected by the operator
/// policies (policies.sql); `open_to_anon` also opens both to the anon key
/// for good (a test facility).
pub async fn create(
    client: &Client,
    queue: &str,
    open_to_anon: bool,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "SELECT sluice_stack.create_queue($1, $2, $3)",
            &[&queue, &dead_letter_queue(queue), &open_to_anon],
        )
        .await?;
    Ok(())
}

fn message(queue: &QueueSpec, rng: &mut impl Rng) -> Value {
    let kind = *queue.types.choose(rng).expect("non-empty");
    let people = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara"];
    let person = *people.choose(rng).expect("non-empty");
    let payload = match kind.split('.').next().unwrap_or_default() {
        "email" => json!({"to": format!("{}@example.com", person.to_lowercase())}),
        _ => json!({"order": format!("ORD-{}", rng.random_range(10000..99999)), "by": person}),
    };
    json!({"type": kind, "source": queue.source, "payload": payload})
}

/// Sends one message to `queue`.
pub async fn send(client: &Client, queue: &QueueSpec) -> Result<(), tokio_postgres::Error> {
    let message = message(queue, &mut rand::rng());
    client
        .execute(
            "SELECT pgmq.send(queue_name := $1, msg := $2)",
            &[&queue.name, &message],
        )
        .await?;
    Ok(())
}

/// Seeds each empty default queue with `per_queue` messages.
pub async fn seed(client: &Client, per_queue: usize) -> Result<usize, tokio_postgres::Error> {
    let mut sent = 0;
    for queue in &QUEUES {
        let waiting: i64 = client
            .query_one("SELECT queue_length FROM pgmq.metrics($1)", &[&queue.name])
            .await?
            .get(0);
        if waiting > 0 {
            continue;
        }
        for _ in 0..per_queue {
            send(client, queue).await?;
            sent += 1;
        }
    }
    Ok(sent)
}
