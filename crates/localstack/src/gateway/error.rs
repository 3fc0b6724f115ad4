//! Error replies as Supabase sends them: Kong's `{message, hint}` for key
//! problems, PostgREST's `{code, details, hint, message}` for the rest.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::keys::{AuthError, Role};
use super::query::ParseError;
use super::sql::UnknownColumn;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn postgrest(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        details: Option<String>,
        hint: Option<String>,
    ) -> Self {
        Self {
            status,
            body: json!({ "code": code, "details": details, "hint": hint, "message": message.into() }),
        }
    }

    pub fn unknown_table(table: &str) -> Self {
        Self::postgrest(
            StatusCode::NOT_FOUND,
            "PGRST205",
            format!("Could not find the table 'public.{table}' in the schema cache"),
            None,
            None,
        )
    }

    pub fn range_not_satisfiable(offset: u64, total: i64) -> Self {
        Self::postgrest(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
            Some(format!(
                "An offset of {offset} was requested, but there are only {total} rows."
            )),
            None,
        )
    }

    /// A range or offset past what PostgreSQL can count to.
    pub fn range_out_of_bounds(range: &str) -> Self {
        Self::postgrest(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
            Some(format!(
                "The range {range:?} (with any offset) is out of bounds."
            )),
            None,
        )
    }

    pub fn bad_body(message: impl Into<String>) -> Self {
        Self::postgrest(StatusCode::BAD_REQUEST, "PGRST102", message, None, None)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::postgrest(
            StatusCode::SERVICE_UNAVAILABLE,
            "PGRST001",
            "Database client error. Retrying the connection.",
            Some(message.into()),
            None,
        )
    }

    /// No pooled connection came free within the acquisition timeout:
    /// PostgREST's answer to hasql's `AcquisitionTimeoutUsageError`.
    pub fn pool_timeout() -> Self {
        Self::postgrest(
            StatusCode::GATEWAY_TIMEOUT,
            "PGRST003",
            "Timed out acquiring connection from connection pool.",
            None,
            None,
        )
    }

    /// A body over the gateway's limit (PostgREST sets none; Kong's
    /// request-size-limiting plugin answers this way).
    pub fn payload_too_large() -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: json!({ "message": "Request size limit exceeded" }),
        }
    }

    /// A database error, with PostgREST's mapping from SQLSTATE to HTTP status.
    pub fn database(error: &tokio_postgres::Error, role: Role) -> Self {
        let Some(db) = error.as_db_error() else {
            return Self::unavailable(error.to_string());
        };
        let code = db.code().code();
        let status = match code {
            "42501" if role == Role::Anon => StatusCode::UNAUTHORIZED,
            "42501" => StatusCode::FORBIDDEN,
            "42P01" | "42883" => StatusCode::NOT_FOUND,
            // A write in the read-only transaction of a GET.
            "25006" => StatusCode::METHOD_NOT_ALLOWED,
            "23503" | "23505" => StatusCode::CONFLICT,
            "57014" => StatusCode::INTERNAL_SERVER_ERROR,
            c if c.starts_with("22")
                || c.starts_with("23")
                || c.starts_with("42")
                || c == "P0001" =>
            {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::postgrest(
            status,
            code,
            db.message(),
            db.detail().map(str::to_string),
            db.hint().map(str::to_string),
        )
    }
}

impl From<ParseError> for ApiError {
    fn from(error: ParseError) -> Self {
        Self::postgrest(
            StatusCode::BAD_REQUEST,
            "PGRST100",
            error.message,
            Some(error.details),
            None,
        )
    }
}

impl From<UnknownColumn> for ApiError {
    fn from(error: UnknownColumn) -> Self {
        Self::postgrest(
            StatusCode::BAD_REQUEST,
            "42703",
            format!("column {}.{} does not exist", error.table, error.column),
            None,
            None,
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let kong = |message: &str, hint: &str| Self {
            status: StatusCode::UNAUTHORIZED,
            body: json!({ "message": message, "hint": hint }),
        };
        match error {
            AuthError::NoApiKey => kong(
                "No API key found in request",
                "No `apikey` request header or url param was found.",
            ),
            AuthError::InvalidApiKey => kong(
                "Invalid API key",
                "Double check your Supabase `anon` or `service_role` API key.",
            ),
            AuthError::InvalidJwt(message) => {
                Self::postgrest(StatusCode::UNAUTHORIZED, "PGRST301", message, None, None)
            }
            AuthError::JwtExpired => Self::postgrest(
                StatusCode::UNAUTHORIZED,
                "PGRST303",
                "JWT expired",
                None,
                None,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
