//! The Phoenix channels protocol as Supabase Realtime speaks it: frames in
//! both serialisations it serves, the join's `postgres_changes` bindings,
//! and the messages it sends, in its shapes (supabase/realtime,
//! `realtime_channel.ex`, `message_dispatcher.ex`; Phoenix's serializers).

use serde::Deserialize;
use serde_json::{json, Value};

/// The serialisation a socket asked for with `vsn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vsn {
    /// JSON objects; the server leaves `join_ref` out of what it sends.
    V1,
    /// JSON arrays `[join_ref, ref, topic, event, payload]`
    /// (`@supabase/supabase-js` 2.x's default).
    V2,
}

impl Vsn {
    /// Phoenix's default is 1.0.0; anything else is refused (403).
    pub fn parse(vsn: Option<&str>) -> Option<Self> {
        match vsn.unwrap_or("1.0.0") {
            "1.0.0" => Some(Self::V1),
            "2.0.0" => Some(Self::V2),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub join_ref: Option<String>,
    pub reference: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

/// A `ref` or `join_ref` as clients send it (a string; numbers tolerated).
fn reference(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Frame {
    pub fn decode(vsn: Vsn, text: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(text).ok()?;
        let field = |name: &str| value.get(name);
        let (join_ref, reference_, topic, event, payload) = match vsn {
            Vsn::V1 => (
                reference(field("join_ref")),
                reference(field("ref")),
                field("topic")?.as_str()?.to_string(),
                field("event")?.as_str()?.to_string(),
                field("payload").cloned().unwrap_or(Value::Null),
            ),
            Vsn::V2 => {
                let parts = value.as_array().filter(|a| a.len() == 5)?;
                (
                    reference(parts.first()),
                    reference(parts.get(1)),
                    parts[2].as_str()?.to_string(),
                    parts[3].as_str()?.to_string(),
                    parts[4].clone(),
                )
            }
        };
        Some(Self {
            join_ref,
            reference: reference_,
            topic,
            event,
            payload,
        })
    }

    pub fn encode(&self, vsn: Vsn) -> String {
        match vsn {
            Vsn::V1 => json!({
                "topic": self.topic,
                "event": self.event,
                "payload": self.payload,
                "ref": self.reference,
            }),
            Vsn::V2 => json!([
                self.join_ref,
                self.reference,
                self.topic,
                self.event,
                self.payload
            ]),
        }
        .to_string()
    }

    /// The reply to this frame: `phx_reply` with its refs.
    pub fn reply(&self, status: &str, response: Value) -> Self {
        Self {
            join_ref: self.join_ref.clone(),
            reference: self.reference.clone(),
            topic: self.topic.clone(),
            event: "phx_reply".into(),
            payload: json!({ "status": status, "response": response }),
        }
    }
}

/// One `postgres_changes` binding of a join, as sent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Binding {
    pub event: String,
    pub schema: String,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub filter: Option<String>,
}

impl Binding {
    /// Realtime's id for a binding (`:erlang.phash2` of its parameters):
    /// equal bindings get equal ids. Here FNV-1a over the same parameters,
    /// cut to 27 bits as phash2's range is.
    pub fn id(&self) -> u32 {
        let text = format!(
            "{}|{}|{}|{}",
            self.event,
            self.schema,
            self.table.as_deref().unwrap_or("*"),
            self.filter.as_deref().unwrap_or("")
        );
        let hash = text.bytes().fold(0x811c_9dc5u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        hash & 0x07ff_ffff
    }

    /// The binding echoed in the join's reply, with its id.
    pub fn echoed(&self) -> Value {
        let mut echoed = json!({ "event": self.event, "schema": self.schema, "id": self.id() });
        if let Some(table) = &self.table {
            echoed["table"] = json!(table);
        }
        if let Some(filter) = &self.filter {
            echoed["filter"] = json!(filter);
        }
        echoed
    }

    /// Whether an `event` on `schema.table` matches ("*" matches all).
    pub fn matches(&self, schema: &str, table: &str, event: &str) -> bool {
        (self.schema == "*" || self.schema == schema)
            && self.table.as_deref().is_none_or(|t| t == "*" || t == table)
            && (self.event == "*" || self.event.eq_ignore_ascii_case(event))
    }

    /// Realtime's refusal when the publication holds no such table.
    pub fn unable_to_subscribe(&self) -> String {
        format!(
            "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [event: {}, schema: {}, table: {}, filters: [], select: nil]",
            self.event,
            self.schema,
            self.table.as_deref().unwrap_or("*")
        )
    }
}

/// What a join asks for: its bindings (filters are not supported here and
/// refused as Realtime refuses a filter it cannot parse) and its token.
#[derive(Debug, Default)]
pub struct Join {
    pub bindings: Vec<Binding>,
    pub access_token: Option<String>,
    /// `config.private`: a private channel, joined only by those whom
    /// `realtime.messages`' policies let read its topic.
    pub private: bool,
}

impl Join {
    pub fn parse(payload: &Value) -> Result<Self, String> {
        let bindings = match payload.pointer("/config/postgres_changes") {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => serde_json::from_value::<Vec<Binding>>(value.clone())
                .map_err(|e| format!("Error parsing `postgres_changes` params: {e}"))?,
        };
        if let Some(filter) = bindings.iter().find_map(|b| b.filter.as_ref()) {
            return Err(format!(
                "Error parsing `filter` params: [\"{filter}\"] (the local stack takes no filters)"
            ));
        }
        let access_token = payload
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        let private = payload
            .pointer("/config/private")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Self {
            bindings,
            access_token,
            private,
        })
    }
}

/// A `system` message on `topic` (`channel` is the topic without its
/// `realtime:` prefix).
pub fn system(topic: &str, extension: &str, status: &str, message: &str) -> Frame {
    Frame {
        join_ref: None,
        reference: None,
        topic: topic.into(),
        event: "system".into(),
        payload: json!({
            "extension": extension,
            "status": status,
            "message": message,
            "channel": topic.strip_prefix("realtime:").unwrap_or(topic),
        }),
    }
}

/// A pushed message (no ref) on `topic`.
pub fn push(topic: &str, join_ref: Option<&str>, event: &str, payload: Value) -> Frame {
    Frame {
        join_ref: join_ref.map(str::to_string),
        reference: None,
        topic: topic.into(),
        event: event.into(),
        payload,
    }
}

/// The reason Realtime gives when it refuses a join's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    Expired { seconds_ago: u64 },
    Signature,
    Malformed,
    MissingClaims,
}

impl TokenRefusal {
    /// What a refused join's reply says: the code, then the message.
    pub fn reason(&self) -> String {
        format!("{}: {}", self.code(), self.message())
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Expired { .. } | Self::MissingClaims => "InvalidJWTToken",
            Self::Signature => "JwtSignatureError",
            Self::Malformed => "MalformedJWT",
        }
    }

    /// What closing a joined channel over its token says (no code).
    pub fn message(&self) -> String {
        match self {
            Self::Expired { seconds_ago } => format!("Token has expired {seconds_ago} seconds ago"),
            Self::Signature => "Failed to validate JWT signature".into(),
            Self::Malformed => "The token provided is not a valid JWT".into(),
            Self::MissingClaims => "Fields `role` and `exp` are required in JWT".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_frames_are_objects_without_join_ref() {
        let frame = Frame::decode(
            Vsn::V1,
            r#"{"topic":"realtime:x","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}"#,
        )
        .unwrap();
        assert_eq!(frame.join_ref.as_deref(), Some("1"));
        let reply: Value =
            serde_json::from_str(&frame.reply("ok", json!({})).encode(Vsn::V1)).unwrap();
        assert_eq!(
            reply,
            json!({"topic":"realtime:x","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"})
        );
    }

    #[test]
    fn v2_frames_are_five_element_arrays() {
        let frame = Frame::decode(Vsn::V2, r#"["3","4","phoenix","heartbeat",{}]"#).unwrap();
        assert_eq!(frame.reference.as_deref(), Some("4"));
        assert_eq!(frame.topic, "phoenix");
        let reply: Value =
            serde_json::from_str(&frame.reply("ok", json!({})).encode(Vsn::V2)).unwrap();
        assert_eq!(
            reply,
            json!(["3", "4", "phoenix", "phx_reply", {"status":"ok","response":{}}])
        );
        assert!(Frame::decode(Vsn::V2, r#"["1","phoenix","heartbeat",{}]"#).is_none());
        assert!(Frame::decode(Vsn::V1, "not json").is_none());
    }

    #[test]
    fn vsn_defaults_to_one_and_refuses_others() {
        assert_eq!(Vsn::parse(None), Some(Vsn::V1));
        assert_eq!(Vsn::parse(Some("2.0.0")), Some(Vsn::V2));
        assert_eq!(Vsn::parse(Some("3.0.0")), None);
    }

    #[test]
    fn equal_bindings_get_equal_ids_and_the_echo_keeps_their_fields() {
        let payload = json!({"config": {"postgres_changes": [
            {"event": "INSERT", "schema": "public", "table": "events"},
            {"event": "INSERT", "schema": "public", "table": "events"},
            {"event": "INSERT", "schema": "pgmq", "table": "q_jobs"}
        ]}, "access_token": "t"});
        let join = Join::parse(&payload).unwrap();
        assert_eq!(join.access_token.as_deref(), Some("t"));
        assert!(!join.private, "public unless config.private says otherwise");
        let private = json!({"config": {"private": true}});
        assert!(Join::parse(&private).unwrap().private);
        let ids: Vec<u32> = join.bindings.iter().map(Binding::id).collect();
        assert_eq!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
        assert!(ids.iter().all(|id| *id < 1 << 27));
        assert_eq!(
            join.bindings[0].echoed(),
            json!({"event": "INSERT", "schema": "public", "table": "events", "id": ids[0]})
        );
    }

    #[test]
    fn bindings_match_by_schema_table_and_event() {
        let binding = |event: &str, schema: &str, table: Option<&str>| Binding {
            event: event.into(),
            schema: schema.into(),
            table: table.map(str::to_string),
            filter: None,
        };
        assert!(binding("INSERT", "public", Some("events")).matches("public", "events", "INSERT"));
        assert!(!binding("INSERT", "public", Some("events")).matches("public", "other", "INSERT"));
        assert!(!binding("DELETE", "public", Some("events")).matches("public", "events", "INSERT"));
        assert!(binding("*", "public", None).matches("public", "any", "INSERT"));
        assert!(binding("insert", "*", Some("*")).matches("pgmq", "q_jobs", "INSERT"));
    }

    #[test]
    fn filters_are_refused_and_a_join_without_changes_has_no_bindings() {
        let filtered = json!({"config": {"postgres_changes": [
            {"event": "INSERT", "schema": "public", "table": "events", "filter": "id=eq.1"}
        ]}});
        assert!(Join::parse(&filtered).unwrap_err().contains("filter"));
        assert!(Join::parse(&json!({"config": {}}))
            .unwrap()
            .bindings
            .is_empty());
        assert!(Join::parse(&json!({"config": {"postgres_changes": "x"}})).is_err());
    }

    #[test]
    fn refusal_reasons_are_realtimes() {
        assert_eq!(
            TokenRefusal::Expired { seconds_ago: 3 }.reason(),
            "InvalidJWTToken: Token has expired 3 seconds ago"
        );
        assert!(TokenRefusal::Signature
            .reason()
            .starts_with("JwtSignatureError: "));
        assert_eq!(
            TokenRefusal::Expired { seconds_ago: 3 }.message(),
            "Token has expired 3 seconds ago"
        );
        let message = system(
            "realtime:orders",
            "postgres_changes",
            "ok",
            "Subscribed to PostgreSQL",
        );
        assert_eq!(message.payload["channel"], "orders");
        assert_eq!(message.reference, None);
    }
}
