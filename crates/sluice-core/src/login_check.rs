//! Before a key is accepted, one small request checks it against the
//! project. What came back decides the message.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoginRefused {
    #[error("The project refused this API key ({0}). Copy the publishable or anon key again from the project's API settings.")]
    WrongKey(String),
    #[error("This address answered, but not like a Supabase project's REST API (HTTP {0}). Check the project URL.")]
    NotSupabase(u16),
    #[error(
        "The project answered HTTP {0}. It may be starting or overloaded; try again in a moment."
    )]
    ServerTrouble(u16),
    #[error("The project could not be reached: check the URL and your connection.")]
    Unreachable,
    #[error("The project answered, but the browser blocked the reply (CORS). Serve Sluice from an origin the project allows, or check the URL.")]
    CorsBlocked,
}

/// Reads the reply to `GET {project}/rest/v1/{table}?select=*&limit=0`.
/// A missing table is fine here: the key was accepted before the table was
/// looked up.
pub fn verdict(status: u16, body: &str) -> Result<(), LoginRefused> {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let postgrest_error = field("code").is_some() || field("message").is_some();
    match status {
        200..=299 | 416 => match json {
            Some(serde_json::Value::Array(_)) => Ok(()),
            _ => Err(LoginRefused::NotSupabase(status)),
        },
        // The key was accepted; its role may not read this table (a grant
        // or policy question the drain names for that table, not a wrong key).
        401 | 403 if field("code").as_deref() == Some("42501") => Ok(()),
        401 | 403 => Err(LoginRefused::WrongKey(
            field("message").unwrap_or_else(|| format!("HTTP {status}")),
        )),
        400 | 404 | 406 if postgrest_error => Ok(()),
        500..=599 if postgrest_error => Err(LoginRefused::ServerTrouble(status)),
        502..=504 => Err(LoginRefused::ServerTrouble(status)),
        _ => Err(LoginRefused::NotSupabase(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_key_is_accepted_whatever_the_table() {
        assert_eq!(verdict(200, "[]"), Ok(()));
        assert_eq!(verdict(206, "[]"), Ok(()));
        let missing = r#"{"code":"PGRST205","details":null,"hint":null,"message":"Could not find the table 'public.x' in the schema cache"}"#;
        assert_eq!(verdict(404, missing), Ok(()));
    }

    #[test]
    fn a_refused_key_says_why() {
        let kong = r#"{"message":"Invalid API key","hint":"Double check your Supabase `anon` or `service_role` API key."}"#;
        assert_eq!(
            verdict(401, kong),
            Err(LoginRefused::WrongKey("Invalid API key".into()))
        );
        assert!(verdict(401, kong)
            .unwrap_err()
            .to_string()
            .contains("Invalid API key"));
    }

    #[test]
    fn other_servers_are_not_mistaken_for_supabase() {
        assert_eq!(
            verdict(404, "<html>Not Found</html>"),
            Err(LoginRefused::NotSupabase(404))
        );
        assert_eq!(
            verdict(200, "<!doctype html><title>My blog</title>"),
            Err(LoginRefused::NotSupabase(200))
        );
        assert_eq!(
            verdict(200, r#"{"ok":true}"#),
            Err(LoginRefused::NotSupabase(200))
        );
        assert_eq!(
            verdict(503, "upstream down"),
            Err(LoginRefused::ServerTrouble(503))
        );
    }

    #[test]
    fn a_table_the_keys_role_may_not_read_is_not_a_wrong_key() {
        let denied = r#"{"code":"42501","message":"permission denied for table events"}"#;
        assert_eq!(verdict(401, denied), Ok(()));
        assert_eq!(verdict(403, denied), Ok(()));
        assert!(verdict(401, r#"{"code":"PGRST301","message":"JWSError"}"#).is_err());
    }
}
