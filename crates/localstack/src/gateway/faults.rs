//! Fault injection for tests, off by default: latency, a share of 500s,
//! dropped connections and malformed bodies. Set at start (flags) or at run
//! time through `PUT /_admin/faults`, which answers loopback peers only.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct Faults {
    /// Added to every REST reply, in milliseconds.
    #[arg(
        id = "fault-latency-ms",
        long = "fault-latency-ms",
        env = "SLUICE_FAULT_LATENCY_MS",
        default_value_t = 0
    )]
    pub latency_ms: u64,
    /// Share of REST requests answered with a 500 (0 to 1).
    #[arg(
        id = "fault-error-rate",
        long = "fault-error-rate",
        env = "SLUICE_FAULT_ERROR_RATE",
        default_value_t = 0.0
    )]
    pub error_rate: f64,
    /// Share of REST requests whose connection is dropped mid-reply.
    #[arg(
        id = "fault-drop-rate",
        long = "fault-drop-rate",
        env = "SLUICE_FAULT_DROP_RATE",
        default_value_t = 0.0
    )]
    pub drop_rate: f64,
    /// Share of REST requests answered 200 with a truncated JSON body.
    #[arg(
        id = "fault-malformed-rate",
        long = "fault-malformed-rate",
        env = "SLUICE_FAULT_MALFORMED_RATE",
        default_value_t = 0.0
    )]
    pub malformed_rate: f64,
}

pub type SharedFaults = Arc<RwLock<Faults>>;

enum Fault {
    ServerError,
    Drop,
    Malformed,
}

impl Faults {
    fn draw(&self) -> Option<Fault> {
        let roll: f64 = rand::rng().random();
        if roll < self.error_rate {
            Some(Fault::ServerError)
        } else if roll < self.error_rate + self.drop_rate {
            Some(Fault::Drop)
        } else if roll < self.error_rate + self.drop_rate + self.malformed_rate {
            Some(Fault::Malformed)
        } else {
            None
        }
    }
}

/// Middleware over the REST routes.
pub async fn inject(State(faults): State<SharedFaults>, request: Request, next: Next) -> Response {
    let faults = *faults.read().expect("faults lock");
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    match faults.draw() {
        None => next.run(request).await,
        Some(Fault::ServerError) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"code": "XX000", "details": null, "hint": null, "message": "injected fault: internal error"})),
        )
            .into_response(),
        Some(Fault::Malformed) => Response::builder()
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Content-Range", "0-0/*")
            .body(Body::from("[{\"id\":1,\"created_at\":\"2024-"))
            .expect("static response"),
        // Headers go out, then the body fails: the client sees the connection drop.
        Some(Fault::Drop) => Response::builder()
            .header("Content-Type", "application/json; charset=utf-8")
            .body(Body::from_stream(futures::stream::once(async {
                Err::<Vec<u8>, std::io::Error>(std::io::Error::other("injected fault: connection dropped"))
            })))
            .expect("static response"),
    }
}

fn loopback_only(peer: SocketAddr) -> Result<(), StatusCode> {
    if peer.ip().is_loopback() {
        Ok(())
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

pub async fn get(
    State(faults): State<SharedFaults>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<Faults>, StatusCode> {
    loopback_only(peer)?;
    Ok(Json(*faults.read().expect("faults lock")))
}

pub async fn put(
    State(faults): State<SharedFaults>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(new): Json<Faults>,
) -> Result<Json<Faults>, StatusCode> {
    loopback_only(peer)?;
    *faults.write().expect("faults lock") = new;
    Ok(Json(new))
}
