//! Supabase Realtime as a wake-up: what Sluice says on the socket (Phoenix
//! channels, `vsn=1.0.0` JSON objects), what it makes of what it hears, and
//! the mode the Source node shows. A change never carries an event to the
//! gate: it only makes the drain read now, and the keyset read, the ledger
//! and the late-row look-back stay the only truth (Realtime promises no
//! delivery, and the changes just after subscribing can be missed).

use serde_json::{json, Value};
use std::time::Duration;

use crate::backoff::Backoff;
use crate::credentials::ProjectUrl;
use crate::source::Source;

/// A heartbeat at least this often (Realtime closes a socket silent for
/// 60 s; its own client beats every 25 s).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(25);
/// A join or a heartbeat not answered within this is a dead socket.
pub const REPLY_WITHIN: Duration = Duration::from_secs(10);
/// While live, the drain still reads this often: a change Realtime missed,
/// or a queue message whose visibility timeout ran out (which changes no
/// row), is found at the latest then.
pub const SAFETY_READ_EVERY: Duration = Duration::from_secs(60);
/// Reconnecting after a lost socket: 1 s, doubling up to a minute, with jitter.
pub const RECONNECT: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// After a refusal that only the project's settings can lift (the table
/// is not published, a policy, too many channels), the next try. Realtime
/// off for the project is retried as an unreachable socket is.
pub const RETRY_REFUSED_AFTER: Duration = Duration::from_secs(300);

/// The table whose inserts wake a drain: the chosen table, or a queue's
/// own table `pgmq.q_{queue}` (a `send` inserts there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub schema: String,
    pub table: String,
}

impl Target {
    pub fn of(source: &Source) -> Self {
        match source {
            Source::Table(table) => Self {
                schema: "public".into(),
                table: table.table.as_str().to_string(),
            },
            Source::Queue(queue) => Self {
                schema: "pgmq".into(),
                table: format!("q_{}", queue.name()),
            },
        }
    }

    /// The channel's topic (any name works; this one reads well in logs).
    pub fn topic(&self) -> String {
        format!("realtime:sluice:{}.{}", self.schema, self.table)
    }

    /// `pgmq.q_orders`, `public.events`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

/// The socket's address: the project's URL with `ws`/`wss`, the key as
/// Realtime (behind Supabase's gateway) takes it, and the protocol version.
pub fn socket_url(project: &ProjectUrl, key: &str) -> String {
    let base = project.as_str().trim_end_matches('/');
    let base = match base.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some((_, rest)) => format!("ws://{rest}"),
        None => format!("wss://{base}"),
    };
    let key: String = query_value(key);
    format!("{base}/realtime/v1/websocket?apikey={key}&vsn=1.0.0")
}

/// Percent-encodes what a query value must not carry raw (keys are
/// base64url or `sb_…`, so this rarely changes anything).
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn frame(
    topic: &str,
    event: &str,
    payload: Value,
    reference: u64,
    join_ref: Option<u64>,
) -> String {
    json!({
        "topic": topic,
        "event": event,
        "payload": payload,
        "ref": reference.to_string(),
        "join_ref": join_ref.map(|r| r.to_string()),
    })
    .to_string()
}

/// The join: inserts on the target, as the signed-in operator when there
/// is one (Realtime checks each change against their policies). A
/// `private` channel is joined only by those whom the project's policies
/// on `realtime.messages` let read its topic; Sluice joins one only where
/// the project refuses public channels.
pub fn join(target: &Target, reference: u64, access_token: Option<&str>, private: bool) -> String {
    let mut payload = json!({
        "config": {
            "broadcast": { "ack": false, "self": false },
            "presence": { "enabled": false, "key": "" },
            "postgres_changes": [{ "event": "INSERT", "schema": target.schema, "table": target.table }],
            "private": private,
        }
    });
    if let Some(token) = access_token {
        payload["access_token"] = json!(token);
    }
    frame(
        &target.topic(),
        "phx_join",
        payload,
        reference,
        Some(reference),
    )
}

pub fn heartbeat(reference: u64) -> String {
    frame("phoenix", "heartbeat", json!({}), reference, None)
}

/// A refreshed token for the joined channel (Realtime answers nothing when
/// it is good, and closes the channel when it is not).
pub fn access_token(target: &Target, reference: u64, join_ref: u64, token: &str) -> String {
    frame(
        &target.topic(),
        "access_token",
        json!({ "access_token": token }),
        reference,
        Some(join_ref),
    )
}

/// What a frame from Realtime means to the drain.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// The join was accepted; our binding's id.
    Joined(u64),
    /// The join was refused, and why.
    Refused(Fallback),
    /// The subscription is in place: from now on inserts wake the drain.
    Subscribed,
    /// A row was inserted (a binding of ours matched).
    Change,
    /// A change Realtime could not check for this operator.
    ChangeRefused(String),
    /// The reply to the message with this ref.
    Reply(u64),
    /// Our channel ended, and why.
    Ended(Fallback),
    Other,
}

/// Makes sense of one text frame for the channel on `topic`.
pub fn hear(text: &str, topic: &str) -> Heard {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        return Heard::Other;
    };
    let text_of =
        |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let reference = frame
        .get("ref")
        .and_then(Value::as_str)
        .and_then(|r| r.parse::<u64>().ok());
    let payload = frame.get("payload").cloned().unwrap_or(Value::Null);
    let event = text_of(&frame, "event");
    if frame.get("topic").and_then(Value::as_str) == Some("phoenix") {
        return reference.map_or(Heard::Other, Heard::Reply);
    }
    if frame.get("topic").and_then(Value::as_str) != Some(topic) {
        return Heard::Other;
    }
    match event.as_str() {
        "phx_reply" => {
            let response = payload.get("response").cloned().unwrap_or(Value::Null);
            if text_of(&payload, "status") == "ok" {
                let id = response
                    .pointer("/postgres_changes/0/id")
                    .and_then(Value::as_u64);
                match id {
                    Some(id) => Heard::Joined(id),
                    None => reference.map_or(Heard::Other, Heard::Reply),
                }
            } else {
                Heard::Refused(Fallback::refused(&text_of(&response, "reason")))
            }
        }
        "system" => {
            let message = text_of(&payload, "message");
            match (
                text_of(&payload, "extension").as_str(),
                text_of(&payload, "status").as_str(),
            ) {
                ("postgres_changes", "ok") => Heard::Subscribed,
                ("postgres_changes", _) if message.starts_with("Unable to subscribe") => {
                    Heard::Ended(Fallback::NotPublished)
                }
                (_, "error") => Heard::Ended(Fallback::refused(&message)),
                _ => Heard::Other,
            }
        }
        "postgres_changes" => match payload.pointer("/data/errors") {
            Some(Value::Array(errors)) if !errors.is_empty() => Heard::ChangeRefused(
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => Heard::Change,
        },
        "phx_close" | "phx_error" => Heard::Ended(Fallback::Lost),
        _ => Heard::Other,
    }
}

/// Why a drain polls rather than listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// The socket could not open, or was refused at the handshake
    /// (Realtime off, a wrong key): a browser is not told which.
    Unreachable,
    /// The table is not in the `supabase_realtime` publication (or does
    /// not exist: Realtime does not tell the two apart).
    NotPublished,
    /// The operator's token was refused (it is sent again after a refresh).
    Token(String),
    /// Too many channels, joins or users for the project.
    TooMany(String),
    /// Refused for another reason, as Realtime put it (a policy: "Error 401").
    Refused(String),
    /// The project refuses public channels: join a private one.
    PrivateOnly,
    /// The private channel was refused: no policy on `realtime.messages`
    /// lets the operator read its topic (Realtime's reason names only it).
    PrivateRefused,
    /// The socket closed or the channel ended.
    Lost,
    /// Realtime stopped answering (a join or a heartbeat went unanswered).
    Silent,
}

impl Fallback {
    /// A refusal's `"Code: message"` sorted by what can lift it.
    pub fn refused(reason: &str) -> Self {
        // A channel closed over its token, or over its policies when a
        // refreshed token no longer passes them, says so without a code.
        if reason.starts_with("Token has expired") {
            return Self::Token(reason.into());
        }
        if reason.starts_with("You do not have permissions to read from this Channel topic")
            || reason.starts_with("You no longer have permission to read from this Channel topic")
        {
            return Self::PrivateRefused;
        }
        let code = reason.split(':').next().unwrap_or_default();
        match code {
            "InvalidJWTToken" | "JwtSignatureError" | "MalformedJWT" => Self::Token(reason.into()),
            "ChannelRateLimitReached"
            | "ClientJoinRateLimitReached"
            | "ConnectionRateLimitReached" => Self::TooMany(reason.into()),
            "RealtimeDisabledForTenant" => Self::Unreachable,
            "PrivateOnly" => Self::PrivateOnly,
            // Only a private channel's join is refused over its topic.
            "Unauthorized" => Self::PrivateRefused,
            _ => Self::Refused(reason.into()),
        }
    }

    /// When to try again: soon after a lost socket or a token (a refresh
    /// may have fixed it), much later after what only the project's
    /// settings can lift.
    pub fn retry_soon(&self) -> bool {
        matches!(
            self,
            Self::Lost | Self::Silent | Self::Token(_) | Self::Unreachable | Self::PrivateOnly
        )
    }

    /// Whether the next join asks for a private channel, after this ended
    /// one that asked for `private`: public first, as most projects allow;
    /// private once the project refuses a public one; public again when a
    /// private one is refused (the project may allow public ones by then).
    pub fn next_private(&self, private: bool) -> bool {
        match self {
            Self::PrivateOnly => true,
            Self::PrivateRefused => false,
            _ => private,
        }
    }

    pub fn describe(&self, target: &Target) -> String {
        match self {
            Self::Unreachable => "Realtime unreachable or off for this project".into(),
            Self::NotPublished => format!(
                "{} is not in the supabase_realtime publication",
                target.qualified()
            ),
            Self::Token(why) => format!("Realtime refused the session ({why})"),
            Self::TooMany(why) => format!("Realtime refused: too many channels ({why})"),
            Self::Refused(why) => format!("Realtime refused ({why})"),
            Self::PrivateOnly => "the project allows only private channels; joining one".into(),
            Self::PrivateRefused => {
                "private channel refused: operators need a SELECT policy on realtime.messages"
                    .into()
            }
            Self::Lost => "Realtime connection lost, reconnecting".into(),
            Self::Silent => "Realtime stopped answering, reconnecting".into(),
        }
    }
}

/// How the drain learns of new events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Opening the socket for the first time: polling meanwhile.
    #[default]
    Connecting,
    /// Subscribed: inserts wake the drain, and it reads only now and then
    /// besides ([`SAFETY_READ_EVERY`]).
    Live,
    /// Polling at the slider's rate, and why.
    Polling(Fallback),
}

impl Mode {
    /// How long the drain waits between reads when idle.
    pub fn poll_interval(&self, rate: Duration) -> Duration {
        match self {
            Self::Live => SAFETY_READ_EVERY.max(rate),
            _ => rate,
        }
    }

    pub fn is_live(&self) -> bool {
        *self == Self::Live
    }

    /// What the Source node says: "live", or "polling every 2 s: why".
    pub fn describe(&self, target: &Target, rate_in_words: &str) -> String {
        match self {
            Self::Live => "live".into(),
            Self::Connecting => format!("polling {rate_in_words}: connecting to Realtime"),
            Self::Polling(why) => format!("polling {rate_in_words}: {}", why.describe(target)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueSource;
    use crate::source::TableSource;

    fn events() -> Target {
        Target {
            schema: "public".into(),
            table: "events".into(),
        }
    }

    #[test]
    fn a_queue_listens_to_its_own_table() {
        let queue = Source::Queue(QueueSource::parse("order_jobs", "").unwrap());
        assert_eq!(Target::of(&queue).qualified(), "pgmq.q_order_jobs");
        let table = Source::Table(TableSource::parse("events", "occurred_at", "id").unwrap());
        assert_eq!(Target::of(&table), events());
        assert_eq!(events().topic(), "realtime:sluice:public.events");
    }

    #[test]
    fn the_socket_url_follows_the_projects_scheme() {
        let local = ProjectUrl::parse("http://127.0.0.1:54321").unwrap();
        assert_eq!(
            socket_url(&local, "sb_publishable_x"),
            "ws://127.0.0.1:54321/realtime/v1/websocket?apikey=sb_publishable_x&vsn=1.0.0"
        );
        let hosted = ProjectUrl::parse("https://abc.supabase.co/").unwrap();
        assert!(socket_url(&hosted, "a+b")
            .starts_with("wss://abc.supabase.co/realtime/v1/websocket?apikey=a%2Bb&"));
    }

    #[test]
    fn the_join_asks_for_inserts_with_the_operators_token() {
        let join: Value = serde_json::from_str(&join(&events(), 3, Some("jwt"), false)).unwrap();
        assert_eq!(join["event"], "phx_join");
        assert_eq!(join["ref"], "3");
        assert_eq!(join["join_ref"], "3");
        assert_eq!(join["payload"]["access_token"], "jwt");
        assert_eq!(
            join["payload"]["config"]["postgres_changes"],
            json!([{"event": "INSERT", "schema": "public", "table": "events"}])
        );
        assert_eq!(join["payload"]["config"]["private"], false);
        let anonymous: Value =
            serde_json::from_str(&super::join(&events(), 1, None, true)).unwrap();
        assert!(anonymous["payload"].get("access_token").is_none());
        assert_eq!(anonymous["payload"]["config"]["private"], true);
        let beat: Value = serde_json::from_str(&heartbeat(9)).unwrap();
        assert_eq!(
            (beat["topic"].as_str(), beat["ref"].as_str()),
            (Some("phoenix"), Some("9"))
        );
        let renew: Value = serde_json::from_str(&access_token(&events(), 10, 3, "new")).unwrap();
        assert_eq!(renew["payload"]["access_token"], "new");
        assert_eq!(renew["join_ref"], "3");
    }

    const TOPIC: &str = "realtime:sluice:public.events";

    fn heard(value: Value) -> Heard {
        hear(&value.to_string(), TOPIC)
    }

    #[test]
    fn replies_subscriptions_and_changes_are_told_apart() {
        assert_eq!(
            heard(json!({"topic": TOPIC, "event": "phx_reply", "ref": "1",
                "payload": {"status": "ok", "response": {"postgres_changes": [{"id": 42}]}}})),
            Heard::Joined(42)
        );
        assert_eq!(
            heard(
                json!({"topic": "phoenix", "event": "phx_reply", "ref": "7", "payload": {"status": "ok", "response": {}}})
            ),
            Heard::Reply(7)
        );
        assert_eq!(
            heard(json!({"topic": TOPIC, "event": "system", "ref": null,
                "payload": {"extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL"}})),
            Heard::Subscribed
        );
        assert_eq!(
            heard(
                json!({"topic": TOPIC, "event": "postgres_changes", "ref": null,
                "payload": {"ids": [42], "data": {"type": "INSERT", "record": {"id": 1}, "errors": null}}})
            ),
            Heard::Change
        );
        assert_eq!(
            heard(json!({"topic": TOPIC, "event": "postgres_changes",
                "payload": {"ids": [42], "data": {"type": "INSERT", "record": {}, "errors": ["Error 401: Unauthorized"]}}})),
            Heard::ChangeRefused("Error 401: Unauthorized".into())
        );
        assert_eq!(
            heard(json!({"topic": "realtime:other", "event": "postgres_changes", "payload": {}})),
            Heard::Other
        );
        assert_eq!(hear("garbage", TOPIC), Heard::Other);
    }

    #[test]
    fn refusals_say_what_can_lift_them() {
        let refused = |reason: &str| {
            heard(json!({"topic": TOPIC, "event": "phx_reply", "ref": "1",
                "payload": {"status": "error", "response": {"reason": reason}}}))
        };
        assert!(matches!(
            refused("InvalidJWTToken: Token has expired 3 seconds ago"),
            Heard::Refused(Fallback::Token(_))
        ));
        assert!(matches!(
            refused("ChannelRateLimitReached: Too many channels"),
            Heard::Refused(Fallback::TooMany(_))
        ));
        assert_eq!(
            heard(
                json!({"topic": TOPIC, "event": "system", "payload": {"extension": "postgres_changes",
                "status": "error", "message": "Unable to subscribe to changes with given parameters. ..."}})
            ),
            Heard::Ended(Fallback::NotPublished)
        );
        assert!(matches!(
            heard(
                json!({"topic": TOPIC, "event": "system", "payload": {"extension": "system",
                "status": "error", "message": "Token has expired 1 seconds ago"}})
            ),
            Heard::Ended(Fallback::Token(_))
        ));
        assert_eq!(
            heard(json!({"topic": TOPIC, "event": "phx_close", "payload": {}})),
            Heard::Ended(Fallback::Lost)
        );
        assert_eq!(
            refused("PrivateOnly: This project only allows private channels"),
            Heard::Refused(Fallback::PrivateOnly)
        );
        let topic = "Unauthorized: You do not have permissions to read from this Channel topic: sluice:public.events";
        assert_eq!(refused(topic), Heard::Refused(Fallback::PrivateRefused));
        for revoked in [
            "You no longer have permission to read from this Channel topic: sluice:public.events",
            "You do not have permissions to read from this Channel topic: sluice:public.events",
        ] {
            assert_eq!(
                heard(
                    json!({"topic": TOPIC, "event": "system", "payload": {"extension": "system",
                    "status": "error", "message": revoked}})
                ),
                Heard::Ended(Fallback::PrivateRefused),
                "a refreshed token that no longer passes the policies"
            );
        }
        assert!(Fallback::Lost.retry_soon());
        assert!(
            Fallback::PrivateOnly.retry_soon(),
            "a private channel is joined next"
        );
        assert!(!Fallback::NotPublished.retry_soon());
        assert!(!Fallback::PrivateRefused.retry_soon());
    }

    #[test]
    fn a_project_that_refuses_public_channels_is_joined_on_private_ones() {
        assert!(Fallback::PrivateOnly.next_private(false));
        assert!(
            Fallback::Lost.next_private(true),
            "a lost socket rejoins as it was"
        );
        assert!(!Fallback::Lost.next_private(false));
        assert!(
            !Fallback::PrivateRefused.next_private(true),
            "public again after a private refusal"
        );
    }

    #[test]
    fn live_reads_only_for_safety_and_says_so() {
        let rate = Duration::from_secs(2);
        assert_eq!(Mode::Live.poll_interval(rate), SAFETY_READ_EVERY);
        assert_eq!(Mode::Polling(Fallback::Lost).poll_interval(rate), rate);
        assert_eq!(Mode::Connecting.poll_interval(rate), rate);
        assert_eq!(Mode::Live.describe(&events(), "every 2 s"), "live");
        assert_eq!(
            Mode::Polling(Fallback::NotPublished).describe(&events(), "every 2 s"),
            "polling every 2 s: public.events is not in the supabase_realtime publication"
        );
    }
}
