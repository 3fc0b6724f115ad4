//! Auth's error replies, in the two shapes GoTrue sends (supabase/auth
//! internal/api/errors.go, `handleResponseErrorHTTP`; apierrors/apierrors.go,
//! `HTTPError`):
//!
//! - without an `X-Supabase-Api-Version` header (the initial API version):
//!   `{"code": 400, "error_code": "invalid_credentials", "msg": "..."}`;
//! - with `X-Supabase-Api-Version: 2024-01-01` or later (what supabase-js
//!   sends, internal/api/apiversions.go): `{"code": "invalid_credentials",
//!   "message": "..."}`, and the version echoed in the reply's header, which
//!   is how supabase-js knows to read `code` as the error code.
//!
//! Either way the error code also travels as the `x-sb-error-code` header.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub const API_VERSION_HEADER: &str = "x-supabase-api-version";
/// The one dated version GoTrue knows (apiversions.go, `APIVersion20240101`).
const API_VERSION_2024_01_01: &str = "2024-01-01";

/// An error as GoTrue's `HTTPError` holds it: an HTTP status, an error code
/// (apierrors/errorcode.go) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTrueError {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: String,
}

impl GoTrueError {
    pub fn new(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            msg: msg.into(),
        }
    }

    pub fn bad_request(code: &'static str, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, msg)
    }

    pub fn forbidden(code: &'static str, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, msg)
    }

    /// `NewInternalServerError`: 500 `unexpected_failure`.
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            msg.into(),
        )
    }

    /// A database error, logged, answered as GoTrue answers one it did not
    /// expect.
    pub fn database(context: &str, error: impl std::fmt::Display) -> Self {
        eprintln!("auth: {context}: {error}");
        Self::internal(context)
    }

    /// The body in the shape the request's API version asks for.
    pub fn body(&self, version: ApiVersion) -> serde_json::Value {
        match version {
            ApiVersion::Initial => {
                json!({ "code": self.status.as_u16(), "error_code": self.code, "msg": self.msg })
            }
            ApiVersion::V20240101 => json!({ "code": self.code, "message": self.msg }),
        }
    }
}

/// Answered in the initial shape; [`versioned`] reshapes it when the
/// request asked for a dated API version.
impl IntoResponse for GoTrueError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body(ApiVersion::Initial))).into_response();
        if let Ok(value) = HeaderValue::from_str(self.code) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-sb-error-code"), value);
        }
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    Initial,
    V20240101,
}

/// GoTrue's `DetermineClosestAPIVersion`: no header is the initial version;
/// a date (`YYYY-MM-DD`) on or after 2024-01-01 is that version; an earlier
/// date, or one that does not parse, is the initial version.
pub fn api_version(header: Option<&str>) -> ApiVersion {
    let Some(date) = header.filter(|d| !d.is_empty()) else {
        return ApiVersion::Initial;
    };
    let bytes = date.as_bytes();
    let well_formed = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let month: u32 = date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(0);
    let day: u32 = date.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(0);
    if well_formed && (1..=12).contains(&month) && (1..=31).contains(&day) {
        // Fixed-width dates compare as strings.
        if date >= API_VERSION_2024_01_01 {
            return ApiVersion::V20240101;
        }
    }
    ApiVersion::Initial
}

/// Middleware over `/auth/v1`: reshapes a [`GoTrueError`] for the API
/// version the request asked for, and echoes that version as GoTrue does.
pub async fn versioned(request: Request, next: Next) -> Response {
    let version = api_version(
        request
            .headers()
            .get(API_VERSION_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    let response = next.run(request).await;
    if version == ApiVersion::Initial {
        return response;
    }
    let Some(error) = response.extensions().get::<GoTrueError>().cloned() else {
        return response;
    };
    let mut reshaped = (error.status, Json(error.body(version))).into_response();
    for (name, value) in response.headers() {
        if name != axum::http::header::CONTENT_LENGTH {
            reshaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    reshaped.headers_mut().insert(
        HeaderName::from_static(API_VERSION_HEADER),
        HeaderValue::from_static(API_VERSION_2024_01_01),
    );
    reshaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_header_picks_the_closest_version() {
        assert_eq!(api_version(None), ApiVersion::Initial);
        assert_eq!(api_version(Some("")), ApiVersion::Initial);
        assert_eq!(api_version(Some("2024-01-01")), ApiVersion::V20240101);
        assert_eq!(api_version(Some("2025-06-30")), ApiVersion::V20240101);
        assert_eq!(api_version(Some("2023-12-31")), ApiVersion::Initial);
        assert_eq!(api_version(Some("yesterday")), ApiVersion::Initial);
        assert_eq!(api_version(Some("2024-13-01")), ApiVersion::Initial);
    }

    #[test]
    fn both_shapes_carry_the_code_and_the_message() {
        let error = GoTrueError::bad_request("invalid_credentials", "Invalid login credentials");
        assert_eq!(
            error.body(ApiVersion::Initial),
            json!({"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"})
        );
        assert_eq!(
            error.body(ApiVersion::V20240101),
            json!({"code": "invalid_credentials", "message": "Invalid login credentials"})
        );
    }
}
