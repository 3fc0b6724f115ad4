//! PostgREST's RPC (`/rest/v1/rpc/{function}`, docs: "Functions as RPC"):
//! the schema picked by `Content-Profile` / `Accept-Profile`, named
//! arguments matched against the catalogue's overloads, and results shaped
//! as PostgREST shapes them. Arguments travel as one JSON parameter that
//! `json_to_record` casts to the function's argument types, as PostgREST
//! itself does, so values never reach the SQL text.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::sql::quote;

/// The schemas the gateway exposes, in the order PostgREST lists them
/// (Supabase's `db-schemas` after exposing Queues): the first is the default.
pub const EXPOSED_SCHEMAS: [&str; 2] = ["public", "pgmq_public"];

/// The schema a request addresses: `Content-Profile` for POST,
/// `Accept-Profile` for GET (docs: "Switching schemas").
pub fn schema(headers: &HeaderMap, post: bool) -> Result<&'static str, ApiError> {
    let header = if post {
        "content-profile"
    } else {
        "accept-profile"
    };
    let Some(asked) = headers.get(header) else {
        return Ok(EXPOSED_SCHEMAS[0]);
    };
    let asked = asked.to_str().unwrap_or_default();
    EXPOSED_SCHEMAS
        .iter()
        .find(|exposed| **exposed == asked)
        .copied()
        .ok_or_else(|| {
            ApiError::postgrest(
                StatusCode::NOT_ACCEPTABLE,
                "PGRST106",
                format!("Invalid schema: {asked}"),
                None,
                Some(format!(
                    "Only the following schemas are exposed: {}",
                    EXPOSED_SCHEMAS.join(", ")
                )),
            )
        })
}

/// Whether `name` could be a function's name: PostgreSQL names are at most
/// 63 bytes (it truncates longer ones, so asking the catalogue could match
/// another function) and cannot hold a NUL (the catalogue query would fail).
/// Any other name is simply unknown: PGRST202, as PostgREST answers.
pub fn could_name_a_function(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && !name.contains('\0')
}

/// One overload of a function, as `pg_proc` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overload {
    /// (argument name, type as `format_type` prints it), in order.
    pub arguments: Vec<(String, String)>,
    /// How many trailing arguments have defaults.
    pub defaults: usize,
    pub returns_set: bool,
}

impl Overload {
    fn accepts(&self, given: &[&str]) -> bool {
        let required = self.arguments.len() - self.defaults;
        given
            .iter()
            .all(|name| self.arguments.iter().any(|(arg, _)| arg == name))
            && self.arguments[..required]
                .iter()
                .all(|(arg, _)| given.contains(&arg.as_str()))
    }

    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.arguments.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names
    }
}

/// The overload named arguments call, or PostgREST's PGRST202 / PGRST203.
pub fn choose<'a>(
    schema: &str,
    function: &str,
    overloads: &'a [Overload],
    given: &[&str],
    json_body: bool,
) -> Result<&'a Overload, ApiError> {
    let matching: Vec<&Overload> = overloads.iter().filter(|o| o.accepts(given)).collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(not_found(schema, function, overloads, given, json_body)),
        _ => Err(ApiError::postgrest(
            StatusCode::MULTIPLE_CHOICES,
            "PGRST203",
            format!(
                "Could not choose the best candidate function between: {}",
                matching
                    .iter()
                    .map(|o| format!("{schema}.{function}({})", o.names().join(", ")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
            Some("Try renaming the parameters or the function itself in the database so function overloading can be resolved".into()),
        )),
    }
}

/// PGRST202 with PostgREST's message, details and hint: the arguments
/// sorted by name, and the closest overload (most names in common) offered.
fn not_found(
    schema: &str,
    function: &str,
    overloads: &[Overload],
    given: &[&str],
    json_body: bool,
) -> ApiError {
    let mut sorted = given.to_vec();
    sorted.sort_unstable();
    let qualified = format!("{schema}.{function}");
    let message = if sorted.is_empty() {
        format!("Could not find the function {qualified} without parameters in the schema cache")
    } else {
        format!(
            "Could not find the function {qualified}({}) in the schema cache",
            sorted.join(", ")
        )
    };
    let parameters = match sorted.len() {
        0 => " without parameters".to_string(),
        1 => format!(" with parameter {}", sorted[0]),
        _ => format!(" with parameters {}", sorted.join(", ")),
    };
    let unnamed = if json_body {
        " or with a single unnamed json/jsonb parameter"
    } else {
        ""
    };
    let details = format!(
        "Searched for the function {qualified}{parameters}{unnamed}, but no matches were found in the schema cache."
    );
    let closest = overloads.iter().max_by_key(|o| {
        o.arguments
            .iter()
            .filter(|(name, _)| given.contains(&name.as_str()))
            .count()
    });
    let hint = closest.map(|o| {
        format!(
            "Perhaps you meant to call the function {qualified}({})",
            o.names().join(", ")
        )
    });
    ApiError::postgrest(
        StatusCode::NOT_FOUND,
        "PGRST202",
        message,
        Some(details),
        hint,
    )
}

/// The arguments of a call: a POST's JSON object, or a GET's query pairs
/// (as strings, which `json_to_record` casts like PostgREST's text input).
/// Query parameters that PostgREST reserves for shaping results are not
/// arguments.
pub fn arguments_from_query(pairs: &[(String, String)]) -> Map<String, Value> {
    const RESERVED: [&str; 5] = ["apikey", "select", "order", "limit", "offset"];
    pairs
        .iter()
        .filter(|(name, _)| !RESERVED.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect()
}

/// The SQL that calls `overload` with the given arguments (bound as `$1`,
/// a JSON object) and returns one text value: a JSON array for a set, the
/// bare JSON value otherwise.
pub fn call_sql(schema: &str, function: &str, overload: &Overload, given: &[&str]) -> String {
    let used: Vec<&(String, String)> = overload
        .arguments
        .iter()
        .filter(|(name, _)| given.contains(&name.as_str()))
        .collect();
    let record = used
        .iter()
        .map(|(name, ty)| format!("{} {ty}", quote(name)))
        .collect::<Vec<_>>()
        .join(", ");
    let call_args = used
        .iter()
        .map(|(name, _)| format!("{0} => _args.{0}", quote(name)))
        .collect::<Vec<_>>()
        .join(", ");
    let from = if used.is_empty() {
        format!("{}.{}() _result", quote(schema), quote(function))
    } else {
        format!(
            "json_to_record($1::text::json) AS _args({record}), LATERAL {}.{}({call_args}) _result",
            quote(schema),
            quote(function)
        )
    };
    if overload.returns_set {
        format!("SELECT coalesce(json_agg(_result), '[]')::text FROM {from}")
    } else {
        format!("SELECT coalesce((SELECT to_json(_result) FROM {from}), 'null')::text")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read() -> Overload {
        Overload {
            arguments: vec![
                ("queue_name".into(), "text".into()),
                ("sleep_seconds".into(), "integer".into()),
                ("n".into(), "integer".into()),
            ],
            defaults: 0,
            returns_set: true,
        }
    }

    fn send() -> Overload {
        Overload {
            arguments: vec![
                ("queue_name".into(), "text".into()),
                ("message".into(), "jsonb".into()),
                ("sleep_seconds".into(), "integer".into()),
            ],
            defaults: 1,
            returns_set: true,
        }
    }

    #[test]
    fn named_arguments_pick_the_overload_that_has_them_all_and_lacks_no_required_one() {
        let overloads = [send()];
        assert!(choose(
            "pgmq_public",
            "send",
            &overloads,
            &["message", "queue_name"],
            true
        )
        .is_ok());
        assert!(choose(
            "pgmq_public",
            "send",
            &overloads,
            &["queue_name", "message", "sleep_seconds"],
            true
        )
        .is_ok());
        assert!(choose("pgmq_public", "send", &overloads, &["queue_name"], true).is_err());
    }

    #[test]
    fn an_unknown_argument_gets_postgrests_pgrst202_with_sorted_names_and_a_hint() {
        let error = choose(
            "pgmq_public",
            "read",
            &[read()],
            &["queue_name", "vt", "n"],
            true,
        )
        .unwrap_err();
        assert_eq!(error.status, StatusCode::NOT_FOUND);
        assert_eq!(error.body["code"], "PGRST202");
        assert_eq!(
            error.body["message"],
            "Could not find the function pgmq_public.read(n, queue_name, vt) in the schema cache"
        );
        assert_eq!(
            error.body["details"],
            "Searched for the function pgmq_public.read with parameters n, queue_name, vt or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache."
        );
        assert_eq!(
            error.body["hint"],
            "Perhaps you meant to call the function pgmq_public.read(n, queue_name, sleep_seconds)"
        );
    }

    #[test]
    fn an_unknown_function_has_no_hint_and_a_get_searches_no_unnamed_json_parameter() {
        let error = choose("public", "nope", &[], &["queue_name"], false).unwrap_err();
        assert_eq!(
            error.body["details"],
            "Searched for the function public.nope with parameter queue_name, but no matches were found in the schema cache."
        );
        assert_eq!(error.body["hint"], Value::Null);
    }

    #[test]
    fn names_no_function_can_have_are_told_apart() {
        assert!(could_name_a_function("send_batch"));
        assert!(could_name_a_function(&"f".repeat(63)));
        assert!(!could_name_a_function(&"f".repeat(64)));
        assert!(!could_name_a_function("a\0b"));
        assert!(!could_name_a_function(""));
    }

    #[test]
    fn two_overloads_that_both_fit_are_pgrst203() {
        let error = choose(
            "s",
            "f",
            &[send(), send()],
            &["queue_name", "message"],
            true,
        )
        .unwrap_err();
        assert_eq!(error.status, StatusCode::MULTIPLE_CHOICES);
        assert_eq!(error.body["code"], "PGRST203");
    }

    #[test]
    fn an_unexposed_schema_is_pgrst106_naming_the_exposed_ones() {
        let mut headers = HeaderMap::new();
        headers.insert("content-profile", "pgmq".parse().unwrap());
        let error = schema(&headers, true).unwrap_err();
        assert_eq!(error.status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(error.body["message"], "Invalid schema: pgmq");
        assert_eq!(
            error.body["hint"],
            "Only the following schemas are exposed: public, pgmq_public"
        );
        assert_eq!(schema(&headers, false).unwrap(), "public");
    }

    #[test]
    fn the_call_binds_only_the_given_arguments_through_json_to_record() {
        let sql = call_sql("pgmq_public", "send", &send(), &["queue_name", "message"]);
        assert_eq!(
            sql,
            "SELECT coalesce(json_agg(_result), '[]')::text FROM json_to_record($1::text::json) AS _args(\"queue_name\" text, \"message\" jsonb), \
             LATERAL \"pgmq_public\".\"send\"(\"queue_name\" => _args.\"queue_name\", \"message\" => _args.\"message\") _result"
        );
    }

    #[test]
    fn reserved_query_parameters_are_not_arguments() {
        let pairs = [
            ("queue_name".to_string(), "jobs".to_string()),
            ("apikey".to_string(), "k".to_string()),
        ];
        let args = arguments_from_query(&pairs);
        assert_eq!(args.len(), 1);
        assert_eq!(args["queue_name"], "jobs");
    }
}
