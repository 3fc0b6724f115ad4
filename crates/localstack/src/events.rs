//! Realistic events for the four default tables: the seed at start and the
//! generator that keeps adding more, with the awkward cases a real queue has
//! (rows that commit late with older timestamps, several rows sharing one
//! timestamp).

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};
use tokio_postgres::Client;

use crate::queues::{self, QUEUES};

/// How a default table is shaped, and what happens in it.
pub struct TableSpec {
    pub name: &'static str,
    pub timestamp_column: &'static str,
    pub key_column: &'static str,
    /// The key is supplied by the writer (a text id) rather than the database.
    pub text_key: bool,
    pub source: &'static str,
    pub types: &'static [&'static str],
}

pub const TABLES: [TableSpec; 4] = [
    TableSpec {
        name: "staff_room_events",
        timestamp_column: "created_at",
        key_column: "id",
        text_key: false,
        source: "staff-room-panel",
        types: &[
            "room.booked",
            "room.released",
            "coffee.brewed",
            "door.opened",
            "fridge.cleaned",
        ],
    },
    TableSpec {
        name: "temp_events",
        timestamp_column: "created_at",
        key_column: "id",
        text_key: false,
        source: "sensor-gateway",
        types: &[
            "temperature.reading",
            "temperature.alert",
            "humidity.reading",
        ],
    },
    TableSpec {
        name: "events",
        timestamp_column: "occurred_at",
        key_column: "id",
        text_key: false,
        source: "shop-api",
        types: &[
            "order.created",
            "payment.captured",
            "user.signed_up",
            "email.bounced",
            "refund.requested",
        ],
    },
    TableSpec {
        name: "trello_events",
        timestamp_column: "created_at",
        key_column: "action_id",
        text_key: true,
        source: "trello-webhook",
        types: &[
            "card.created",
            "card.moved",
            "comment.added",
            "checklist.completed",
        ],
    },
];

fn payload(kind: &str, rng: &mut impl Rng) -> Value {
    let people = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara"];
    let person = *people.choose(rng).expect("non-empty");
    match kind.split('.').next().unwrap_or_default() {
        "room" | "door" | "coffee" | "fridge" => {
            json!({"room": format!("R{}", rng.random_range(1..6)), "by": person})
        }
        "temperature" | "humidity" => {
            json!({"sensor": format!("t-{}", rng.random_range(1..9)), "celsius": (rng.random_range(150..320) as f64) / 10.0})
        }
        "order" | "payment" | "refund" => {
            json!({"order": format!("ORD-{}", rng.random_range(10000..99999)), "amount_cents": rng.random_range(500..25000), "currency": "EUR"})
        }
        "user" | "email" => json!({"email": format!("{}@example.com", person.to_lowercase())}),
        _ => {
            let list = ["To do", "Doing", "Done"].choose(rng).copied();
            json!({"card": format!("Card {}", rng.random_range(1..200)), "list": list, "member": person})
        }
    }
}

fn metadata(rng: &mut impl Rng) -> Option<Value> {
    rng.random_bool(0.6).then(|| {
        json!({
            "correlation_id": format!("corr-{:08x}", rng.random::<u32>()),
            "causation_id": format!("cause-{:08x}", rng.random::<u32>()),
        })
    })
}

/// Inserts one event at `at` into `table`.
pub async fn insert(
    client: &Client,
    table: &TableSpec,
    at: SystemTime,
) -> Result<(), tokio_postgres::Error> {
    let (kind, payload, metadata, key) = {
        let mut rng = rand::rng();
        let kind = *table.types.choose(&mut rng).expect("non-empty");
        let key = format!("{:024x}", rng.random::<u128>() >> 32);
        (kind, payload(kind, &mut rng), metadata(&mut rng), key)
    };
    if table.text_key {
        let sql = format!(
            "INSERT INTO {} ({}, {}, type, source, payload, metadata) VALUES ($1, $2, $3, $4, $5, $6)",
            table.name, table.key_column, table.timestamp_column
        );
        client
            .execute(
                &sql,
                &[&key, &at, &kind, &table.source, &payload, &metadata],
            )
            .await?;
    } else {
        let sql = format!(
            "INSERT INTO {} ({}, type, source, payload, metadata) VALUES ($1, $2, $3, $4, $5)",
            table.name, table.timestamp_column
        );
        client
            .execute(&sql, &[&at, &kind, &table.source, &payload, &metadata])
            .await?;
    }
    Ok(())
}

/// Seeds each empty table with `per_table` events over the last hour, a few
/// of them sharing a timestamp.
pub async fn seed(client: &Client, per_table: usize) -> Result<usize, tokio_postgres::Error> {
    let mut inserted = 0;
    for table in &TABLES {
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
            .await?
            .get(0);
        if count > 0 {
            continue;
        }
        let now = SystemTime::now();
        for i in 0..per_table {
            // Every fifth event shares the previous one's timestamp.
            let slot = if i % 5 == 4 { i - 1 } else { i };
            let ago = (per_table - slot) as u64 * 3_600_000 / per_table as u64;
            let at = now - Duration::from_millis(ago);
            insert(client, table, at).await?;
            inserted += 1;
        }
    }
    Ok(inserted)
}

/// What the generator did: how many rows, and how many of them late or
/// sharing a timestamp.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct GeneratorTally {
    pub inserted: u64,
    /// Messages sent to the default queues.
    pub queued: u64,
    pub late: u64,
    pub same_timestamp: u64,
}

/// The tally, shared between the generator and the gateway that reports it.
pub type SharedGeneratorTally = std::sync::Arc<std::sync::Mutex<GeneratorTally>>;

/// Adds `per_second` events a second across the tables until the process
/// ends, and half as many messages across the default queues. About one in
/// ten rows commits "late", with a timestamp up to 20 s in the past; about
/// one in ten reuses the previous timestamp.
pub async fn generate(client: Client, per_second: f64, tally: SharedGeneratorTally) {
    if per_second <= 0.0 {
        return;
    }
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    // The last timestamp written to each table, so a repeat lands in the same table.
    let mut previous = [SystemTime::now(); TABLES.len()];
    let mut ticks = 0_u64;
    loop {
        ticker.tick().await;
        ticks += 1;
        if ticks.is_multiple_of(2) {
            let queue = QUEUES.choose(&mut rand::rng()).expect("non-empty");
            match queues::send(&client, queue).await {
                Ok(()) => tally.lock().expect("tally lock").queued += 1,
                Err(error) => eprintln!("generator: send to {} failed: {error}", queue.name),
            }
        }
        let (index, at, late, same) = {
            let mut rng = rand::rng();
            let index = rng.random_range(0..TABLES.len());
            let roll: f64 = rng.random();
            if roll < 0.1 {
                (
                    index,
                    SystemTime::now() - Duration::from_millis(rng.random_range(1_000..20_000)),
                    true,
                    false,
                )
            } else if roll < 0.2 {
                (index, previous[index], false, true)
            } else {
                (index, SystemTime::now(), false, false)
            }
        };
        previous[index] = at;
        let table = &TABLES[index];
        match insert(&client, table, at).await {
            Ok(()) => {
                let mut tally = tally.lock().expect("tally lock");
                tally.inserted += 1;
                tally.late += u64::from(late);
                tally.same_timestamp += u64::from(same);
            }
            Err(error) => eprintln!("generator: insert into {} failed: {error}", table.name),
        }
    }
}
