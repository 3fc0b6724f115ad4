//! Auth's admin API for users (supabase/auth internal/api/admin.go), for the
//! service role only (`requireAdminCredentials`): create, list, delete.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use uuid::Uuid;

use super::errors::GoTrueError;
use super::{admin_role, params, store, Auth, AUDIENCE, BCRYPT_COST};

/// The fields of GoTrue's `AdminUserParams` this stack takes.
#[derive(Deserialize)]
pub struct AdminUserParams {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    aud: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    email_confirm: bool,
    #[serde(default)]
    user_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    app_metadata: Option<Map<String, Value>>,
}

fn validation(msg: impl Into<String>) -> GoTrueError {
    GoTrueError::bad_request("validation_failed", msg)
}

/// GoTrue's `validateEmail`: at most 255 characters, and an address.
fn validate_email(email: &str) -> Result<String, GoTrueError> {
    if email.len() > 255 {
        return Err(validation("An email address is too long"));
    }
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !email.contains(char::is_whitespace);
    if !well_formed {
        return Err(validation(
            "Unable to validate email address: invalid format",
        ));
    }
    Ok(email.to_string())
}

/// `app_metadata` as GoTrue writes it for a new email user: the provider,
/// then the caller's keys (`UpdateAppMetaData`: a null value removes a key).
pub fn app_metadata(given: Option<Map<String, Value>>) -> Value {
    let mut metadata = Map::new();
    metadata.insert("provider".into(), json!("email"));
    metadata.insert("providers".into(), json!(["email"]));
    for (key, value) in given.unwrap_or_default() {
        if value.is_null() {
            metadata.remove(&key);
        } else {
            metadata.insert(key, value);
        }
    }
    Value::Object(metadata)
}

/// A random password for a user created without one (GoTrue generates 64
/// characters).
fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..64)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `POST /auth/v1/admin/users` (`adminUserCreate`): 200 with the user.
pub async fn create(
    State(auth): State<Arc<Auth>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GoTrueError> {
    admin_role(&auth, &headers, query.as_deref())?;
    let params: AdminUserParams = params(&body)?;
    let email = params.email.unwrap_or_default();
    let phone = params.phone.unwrap_or_default();
    if email.is_empty() && phone.is_empty() {
        return Err(validation(
            "Cannot create a user without either an email or phone",
        ));
    }
    if !phone.is_empty() {
        return Err(validation(
            "The local stack's Auth creates users with an email only",
        ));
    }
    let email = validate_email(&email)?;
    let id = match params.id.as_deref().filter(|id| !id.is_empty()) {
        None => Uuid::new_v4(),
        Some(id) => {
            let id = Uuid::parse_str(id)
                .map_err(|_| validation("ID must conform to the uuid v4 format"))?;
            if id.is_nil() {
                return Err(validation("ID cannot be a nil uuid"));
            }
            id
        }
    };
    let password = params
        .password
        .filter(|p| !p.is_empty())
        .unwrap_or_else(random_password);
    if password.len() > 72 {
        // golang.org/x/crypto/bcrypt's `ErrPasswordTooLong`.
        return Err(validation("bcrypt: password length exceeds 72 bytes"));
    }
    let aud = params
        .aud
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| AUDIENCE.into());
    let role = params
        .role
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| AUDIENCE.into());
    let taken = auth
        .transaction(async |tx| store::email_taken(tx, &email, &aud).await)
        .await?;
    if taken {
        return Err(GoTrueError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_exists",
            "A user with this email address has already been registered",
        ));
    }
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .map_err(|e| GoTrueError::internal(format!("Error creating user: {e}")))?
        .map_err(|e| GoTrueError::internal(format!("Error creating user: {e}")))?;
    let new = store::NewUser {
        id,
        aud: &aud,
        role: &role,
        email: &email,
        password_hash: &hash,
        app_metadata: app_metadata(params.app_metadata),
        user_metadata: Value::Object(params.user_metadata.unwrap_or_default()),
        confirmed: params.email_confirm,
    };
    let user = auth
        .transaction(async |tx| {
            store::insert_user(tx, &new).await?;
            store::user_by_id(tx, id)
                .await?
                .ok_or_else(|| GoTrueError::internal("Database error creating new user"))
        })
        .await?;
    Ok(Json(user.to_json()))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
    filter: Option<String>,
}

/// `GET /auth/v1/admin/users?page=&per_page=&filter=` (`adminUsers`):
/// `{"users": [...], "aud": "authenticated"}`, newest first, 50 a page, with
/// GoTrue's `X-Total-Count` and `Link` headers.
pub async fn list(
    State(auth): State<Arc<Auth>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, GoTrueError> {
    admin_role(&auth, &headers, query.as_deref())?;
    let wanted: ListQuery =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let number = |value: Option<String>, default: u64| -> Result<u64, GoTrueError> {
        match value.filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| validation(format!("Bad Pagination Parameters: {e}"))),
        }
    };
    let page = number(wanted.page, 1)?;
    let per_page = number(wanted.per_page, 50)?;
    let filter = wanted.filter.unwrap_or_default();
    let (users, total) = auth
        .transaction(async |tx| store::list_users(tx, AUDIENCE, page, per_page, &filter).await)
        .await?;
    let users: Vec<Value> = users.iter().map(store::User::to_json).collect();
    let mut response = Json(json!({ "users": users, "aud": AUDIENCE })).into_response();
    let total = u64::try_from(total).unwrap_or(0);
    let pages = if per_page == 0 {
        0
    } else {
        total.div_ceil(per_page)
    };
    let link = |page: u64| format!("</admin/users?page={page}&per_page={per_page}>");
    let mut links = Vec::new();
    if pages > page {
        links.push(format!("{}; rel=\"next\"", link(page + 1)));
    }
    links.push(format!("{}; rel=\"last\"", link(pages)));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert(header::LINK, value);
    }
    headers.insert(
        HeaderName::from_static("x-total-count"),
        HeaderValue::from(total),
    );
    Ok(response)
}

#[derive(Deserialize, Default)]
struct DeleteParams {
    #[serde(default)]
    should_soft_delete: bool,
}

/// `DELETE /auth/v1/admin/users/{id}` (`adminUserDelete`): 200 `{}`. The
/// user's sessions and refresh tokens go with it, so nothing of it can
/// refresh; access tokens already issued stay valid until they expire, as
/// on Supabase (they are checked by signature, not against the database).
pub async fn delete(
    State(auth): State<Arc<Auth>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GoTrueError> {
    admin_role(&auth, &headers, query.as_deref())?;
    let id = Uuid::parse_str(&id).map_err(|_| {
        GoTrueError::new(
            StatusCode::NOT_FOUND,
            "validation_failed",
            "user_id must be an UUID",
        )
    })?;
    if !body.is_empty() {
        let params: DeleteParams = params(&body)?;
        if params.should_soft_delete {
            return Err(validation(
                "The local stack's Auth deletes users outright: should_soft_delete is not supported",
            ));
        }
    }
    let deleted = auth
        .transaction(async |tx| store::delete_user(tx, id).await)
        .await?;
    if !deleted {
        return Err(GoTrueError::new(
            StatusCode::NOT_FOUND,
            "user_not_found",
            "User not found",
        ));
    }
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_metadata_starts_with_the_provider_and_takes_the_callers_keys() {
        let given: Map<String, Value> =
            serde_json::from_value(json!({"sluice_operator": true, "provider": null})).unwrap();
        assert_eq!(
            app_metadata(Some(given)),
            json!({"providers": ["email"], "sluice_operator": true})
        );
        assert_eq!(
            app_metadata(None),
            json!({"provider": "email", "providers": ["email"]})
        );
    }

    #[test]
    fn emails_are_checked_like_gotrue_does() {
        assert!(validate_email("operator@sluice.local").is_ok());
        for bad in [
            "nobody",
            "@sluice.local",
            "a@b",
            "a b@c.d",
            "a@@c.d",
            "a@c.",
        ] {
            let error = validate_email(bad).unwrap_err();
            assert_eq!(error.code, "validation_failed", "{bad}");
        }
        assert_eq!(
            validate_email(&format!("{}@x.io", "a".repeat(300)))
                .unwrap_err()
                .msg,
            "An email address is too long"
        );
    }

    #[test]
    fn random_passwords_are_long() {
        let password = random_password();
        assert_eq!(password.len(), 64);
        assert_ne!(password, random_password());
    }
}
