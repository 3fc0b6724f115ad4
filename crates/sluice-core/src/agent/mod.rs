//! The agent webhook (docs/agent-protocol.md) as pure decisions:
//!
//! - `settings.rs`: the operator's agent settings, checked when saved;
//! - `signal.rs`: the agent's signals and how a reply carrying them is read;
//! - `answer.rs`: what one attempt came to, by what the agent answered, and
//!   the request's `Idempotency-Key`;
//! - `patience.rs`: what follows an attempt (pass, retry, wait for the agent,
//!   halt, dead letter).

mod answer;
mod patience;
mod settings;
mod signal;

pub use answer::{attempt_for_status, idempotency_key, Attempt, RETRY_AFTER_CAP};
pub use patience::{Next, Patience, OFFLINE_ALERT_AFTER, RETRY_BACKOFF};
pub use settings::{AgentSettings, Destination};
pub use signal::{parse_signal, ReplyFormat, ReplyReader, Signal, MAX_LINE_BYTES, MAX_REPLY_BYTES};
