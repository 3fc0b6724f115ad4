//! Auth's rows in PostgreSQL (`auth.users`, `auth.identities`,
//! `auth.sessions`, `auth.refresh_tokens`, `auth.mfa_amr_claims`; auth.sql),
//! read and written in the caller's transaction.

use serde_json::{json, Map, Value};
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

use super::errors::GoTrueError;
use super::tokens::{Amr, Subject};

type Result<T> = std::result::Result<T, GoTrueError>;

fn db(context: &'static str) -> impl Fn(tokio_postgres::Error) -> GoTrueError {
    move |error| GoTrueError::database(context, error)
}

/// A user as Auth answers it: GoTrue's `models.User` in JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub aud: String,
    pub role: String,
    pub email: String,
    pub phone: String,
    pub encrypted_password: Option<String>,
    pub email_confirmed: bool,
    pub app_metadata: Value,
    pub user_metadata: Value,
    pub is_anonymous: bool,
    /// Timestamps as GoTrue writes them (RFC 3339, UTC, `Z`), by name.
    times: Vec<(&'static str, Option<String>)>,
    pub identities: Vec<Value>,
}

/// A timestamp as Go's `time.Time` writes it in JSON (RFC 3339 with
/// nanoseconds, trailing zeros dropped) for a UTC time: what GoTrue answers.
fn go_time(column: &str) -> String {
    format!(
        "rtrim(rtrim(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '0'), '.') || 'Z'"
    )
}

/// The timestamps of a user, in the order GoTrue's struct declares them;
/// all of them `omitempty` but `created_at` and `updated_at`.
const USER_TIMES: [&str; 6] = [
    "email_confirmed_at",
    "phone_confirmed_at",
    "confirmed_at",
    "last_sign_in_at",
    "created_at",
    "updated_at",
];

fn user_select() -> String {
    let times: Vec<String> = USER_TIMES.iter().map(|c| go_time(c)).collect();
    format!(
        "SELECT id, coalesce(aud, ''), coalesce(role, ''), coalesce(email, ''), coalesce(phone, ''), \
         encrypted_password, email_confirmed_at IS NOT NULL, coalesce(raw_app_meta_data, '{{}}'), \
         coalesce(raw_user_meta_data, '{{}}'), is_anonymous, {} FROM auth.users",
        times.join(", ")
    )
}

fn user_from(row: &Row) -> User {
    User {
        id: row.get(0),
        aud: row.get(1),
        role: row.get(2),
        email: row.get(3),
        phone: row.get(4),
        encrypted_password: row.get(5),
        email_confirmed: row.get(6),
        app_metadata: row.get(7),
        user_metadata: row.get(8),
        is_anonymous: row.get(9),
        times: USER_TIMES
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, row.get::<_, Option<String>>(10 + i)))
            .collect(),
        identities: Vec::new(),
    }
}

impl User {
    /// GoTrue's JSON for a user (models/user.go): `email` and `phone` are
    /// strings, empty when unset; unset optional timestamps are left out.
    pub fn to_json(&self) -> Value {
        let mut user = Map::new();
        user.insert("id".into(), json!(self.id.to_string()));
        user.insert("aud".into(), json!(self.aud));
        user.insert("role".into(), json!(self.role));
        user.insert("email".into(), json!(self.email));
        user.insert("phone".into(), json!(self.phone));
        for (name, time) in &self.times {
            if let Some(time) = time {
                user.insert((*name).into(), json!(time));
            } else if matches!(*name, "created_at" | "updated_at") {
                user.insert((*name).into(), json!("0001-01-01T00:00:00Z"));
            }
        }
        user.insert("app_metadata".into(), self.app_metadata.clone());
        user.insert("user_metadata".into(), self.user_metadata.clone());
        user.insert("identities".into(), Value::Array(self.identities.clone()));
        user.insert("is_anonymous".into(), json!(self.is_anonymous));
        Value::Object(user)
    }

    /// What the access token says about the user.
    pub fn subject(&self) -> Subject {
        Subject {
            id: self.id.to_string(),
            aud: self.aud.clone(),
            role: self.role.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            app_metadata: self.app_metadata.clone(),
            user_metadata: self.user_metadata.clone(),
            is_anonymous: self.is_anonymous,
        }
    }
}

/// The users' identities, in GoTrue's JSON (models/identity.go: the
/// identity's own id is `identity_id`, the provider's id for the user `id`).
async fn attach_identities(tx: &Transaction<'_>, users: &mut [User]) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let rows = tx
        .query(
            &format!(
                "SELECT user_id, json_build_object('identity_id', id, 'id', provider_id, 'user_id', user_id, \
                   'identity_data', identity_data, 'provider', provider, 'last_sign_in_at', {}, \
                   'created_at', {}, 'updated_at', {}, 'email', email)::jsonb \
                 FROM auth.identities WHERE user_id = ANY($1) ORDER BY created_at, id",
                go_time("last_sign_in_at"),
                go_time("created_at"),
                go_time("updated_at")
            ),
            &[&ids],
        )
        .await
        .map_err(db("Database error loading identities"))?;
    for row in rows {
        let user_id: Uuid = row.get(0);
        let mut identity: Value = row.get(1);
        if let Value::Object(fields) = &mut identity {
            fields.retain(|_, v| !v.is_null());
        }
        if let Some(user) = users.iter_mut().find(|u| u.id == user_id) {
            user.identities.push(identity);
        }
    }
    Ok(())
}

async fn one_user(tx: &Transaction<'_>, row: Option<Row>) -> Result<Option<User>> {
    let Some(row) = row else { return Ok(None) };
    let mut users = [user_from(&row)];
    attach_identities(tx, &mut users).await?;
    let [user] = users;
    Ok(Some(user))
}

/// GoTrue's `FindUserByEmailAndAudience`: the email compared lowercased.
pub async fn user_by_email(tx: &Transaction<'_>, email: &str, aud: &str) -> Result<Option<User>> {
    let row = tx
        .query_opt(
            &format!(
                "{} WHERE lower(email) = lower($1) AND aud = $2 AND is_sso_user = false",
                user_select()
            ),
            &[&email, &aud],
        )
        .await
        .map_err(db("Database error querying schema"))?;
    one_user(tx, row).await
}

pub async fn user_by_id(tx: &Transaction<'_>, id: Uuid) -> Result<Option<User>> {
    let row = tx
        .query_opt(&format!("{} WHERE id = $1", user_select()), &[&id])
        .await
        .map_err(db("Database error finding user"))?;
    one_user(tx, row).await
}

/// A page of the audience's users, newest first (GoTrue's
/// `FindUsersInAudience` with its default sort), and how many there are.
/// `filter` matches the email or the full name, as GoTrue's does.
pub async fn list_users(
    tx: &Transaction<'_>,
    aud: &str,
    page: u64,
    per_page: u64,
    filter: &str,
) -> Result<(Vec<User>, i64)> {
    let pattern = format!(
        "%{}%",
        filter
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let matching =
        "aud = $1 AND ($2 = '%%' OR email ILIKE $2 OR raw_user_meta_data ->> 'full_name' ILIKE $2)";
    let total: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM auth.users WHERE {matching}"),
            &[&aud, &pattern],
        )
        .await
        .map_err(db("Database error finding users"))?
        .get(0);
    let limit = i64::try_from(per_page).unwrap_or(i64::MAX);
    let offset = i64::try_from(page.saturating_sub(1).saturating_mul(per_page)).unwrap_or(i64::MAX);
    let rows = tx
        .query(
            &format!(
                "{} WHERE {matching} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
                user_select()
            ),
            &[&aud, &pattern, &limit, &offset],
        )
        .await
        .map_err(db("Database error finding users"))?;
    let mut users: Vec<User> = rows.iter().map(user_from).collect();
    attach_identities(tx, &mut users).await?;
    Ok((users, total))
}

/// A new user as GoTrue's admin API creates one (api/admin.go,
/// `adminUserCreate`): an email identity, `app_metadata` with the provider
/// merged with what the caller gave, confirmed at once if asked.
pub struct NewUser<'a> {
    pub id: Uuid,
    pub aud: &'a str,
    pub role: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub app_metadata: Value,
    pub user_metadata: Value,
    pub confirmed: bool,
}

pub async fn email_taken(tx: &Transaction<'_>, email: &str, aud: &str) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM auth.users WHERE lower(email) = lower($1) AND aud = $2 AND is_sso_user = false",
            &[&email, &aud],
        )
        .await
        .map_err(db("Database error checking email"))?
        .is_some())
}

pub async fn insert_user(tx: &Transaction<'_>, new: &NewUser<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, \
           raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at) \
         VALUES ('00000000-0000-0000-0000-000000000000', $1, $2, $3, lower($4), $5, \
           CASE WHEN $6 THEN now() END, $7, $8, false, now(), now())",
        &[
            &new.id,
            &new.aud,
            &new.role,
            &new.email,
            &new.password_hash,
            &new.confirmed,
            &new.app_metadata,
            &new.user_metadata,
        ],
    )
    .await
    .map_err(db("Database error creating new user"))?;
    let identity = json!({
        "sub": new.id.to_string(),
        "email": new.email.to_lowercase(),
        "email_verified": false,
        "phone_verified": false,
    });
    tx.execute(
        "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at) \
         VALUES ($1::uuid::text, $1, $2, 'email', now(), now(), now())",
        &[&new.id, &identity],
    )
    .await
    .map_err(db("Database error creating new user"))?;
    Ok(())
}

/// The stack's operator, kept as the flags say at each start: created if
/// missing, otherwise given the password again, confirmed, and marked an
/// operator. Answers the user's id.
pub async fn ensure_operator(
    tx: &Transaction<'_>,
    email: &str,
    password_hash: &str,
) -> Result<Uuid> {
    let updated = tx
        .query_opt(
            "UPDATE auth.users SET encrypted_password = $2, \
               email_confirmed_at = coalesce(email_confirmed_at, now()), \
               raw_app_meta_data = coalesce(raw_app_meta_data, '{}') || '{\"sluice_operator\": true}', \
               updated_at = now() \
             WHERE lower(email) = lower($1) AND aud = 'authenticated' AND is_sso_user = false RETURNING id",
            &[&email, &password_hash],
        )
        .await
        .map_err(db("Database error updating the operator"))?;
    if let Some(row) = updated {
        return Ok(row.get(0));
    }
    let id = Uuid::new_v4();
    insert_user(
        tx,
        &NewUser {
            id,
            aud: "authenticated",
            role: "authenticated",
            email,
            password_hash,
            app_metadata: json!({"provider": "email", "providers": ["email"], "sluice_operator": true}),
            user_metadata: json!({}),
            confirmed: true,
        },
    )
    .await?;
    Ok(id)
}

/// Hard-deletes a user; its identities, sessions and refresh tokens go with
/// it (foreign keys `ON DELETE CASCADE`, as in GoTrue's schema). Answers
/// whether there was such a user.
pub async fn delete_user(tx: &Transaction<'_>, id: Uuid) -> Result<bool> {
    Ok(tx
        .execute("DELETE FROM auth.users WHERE id = $1", &[&id])
        .await
        .map_err(db("Database error deleting user"))?
        > 0)
}

/// Where a request came from, recorded on its session as GoTrue records it.
pub struct Client<'a> {
    pub user_agent: Option<&'a str>,
    pub ip: Option<String>,
}

/// A new session for a password sign-in, with its first refresh token
/// (`GrantAuthenticatedUser`, `AddClaimToSession`); the user's
/// `last_sign_in_at` is updated as GoTrue updates it.
pub async fn start_session(
    tx: &Transaction<'_>,
    user: Uuid,
    refresh_token: &str,
    client: &Client<'_>,
) -> Result<Uuid> {
    let session = Uuid::new_v4();
    tx.execute(
        "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip) \
         VALUES ($1, $2, now(), now(), 'aal1', $3, $4::text::inet)",
        &[&session, &user, &client.user_agent, &client.ip],
    )
    .await
    .map_err(db("Database error creating new session"))?;
    tx.execute(
        "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id) \
         VALUES ('00000000-0000-0000-0000-000000000000', $1, $2::uuid::text, false, now(), now(), NULL, $3)",
        &[&refresh_token, &user, &session],
    )
    .await
    .map_err(db("Database error granting user"))?;
    tx.execute(
        "INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         VALUES (gen_random_uuid(), $1, now(), now(), 'password') \
         ON CONFLICT ON CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey DO UPDATE SET updated_at = now()",
        &[&session],
    )
    .await
    .map_err(db("Database error granting user"))?;
    signed_in(tx, user).await?;
    Ok(session)
}

async fn signed_in(tx: &Transaction<'_>, user: Uuid) -> Result<()> {
    tx.execute(
        "UPDATE auth.users SET last_sign_in_at = now(), updated_at = now() WHERE id = $1",
        &[&user],
    )
    .await
    .map_err(db("Database error updating user"))?;
    Ok(())
}

/// The session's `amr` claim: how and when it was signed in.
pub async fn amr(tx: &Transaction<'_>, session: Uuid) -> Result<Vec<Amr>> {
    let rows = tx
        .query(
            "SELECT authentication_method, floor(extract(epoch FROM updated_at))::bigint FROM auth.mfa_amr_claims \
             WHERE session_id = $1 ORDER BY updated_at DESC",
            &[&session],
        )
        .await
        .map_err(db("Database error loading session"))?;
    Ok(rows
        .iter()
        .map(|row| Amr {
            method: row.get(0),
            timestamp: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
        })
        .collect())
}

/// A refresh token presented for a refresh, locked with its session so
/// that two refreshes of one session happen one after the other (GoTrue
/// locks the token's row, `FOR UPDATE SKIP LOCKED`, and retries).
pub struct Presented {
    pub id: i64,
    pub token: String,
    pub revoked: bool,
    pub session: Uuid,
    pub user: Uuid,
    pub seconds_since_update: f64,
}

pub async fn lock_refresh_token(tx: &Transaction<'_>, token: &str) -> Result<Option<Presented>> {
    let row = tx
        .query_opt(
            "SELECT rt.id, rt.token, coalesce(rt.revoked, false), s.id, s.user_id, \
               extract(epoch FROM now() - rt.updated_at)::float8 \
             FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id \
             WHERE rt.token = $1 FOR UPDATE OF rt, s",
            &[&token],
        )
        .await
        .map_err(db("Database error finding refresh token"))?;
    Ok(row.map(|row| Presented {
        id: row.get(0),
        token: row.get(1),
        revoked: row.get(2),
        session: row.get(3),
        user: row.get(4),
        seconds_since_update: row.get(5),
    }))
}

/// The session's active refresh token and its parent
/// (`FindCurrentlyActiveRefreshToken`).
pub async fn active_token(
    tx: &Transaction<'_>,
    session: Uuid,
) -> Result<Option<(String, Option<String>)>> {
    let row = tx
        .query_opt(
            "SELECT token, parent FROM auth.refresh_tokens WHERE session_id = $1 AND revoked IS false \
             ORDER BY id DESC LIMIT 1",
            &[&session],
        )
        .await
        .map_err(db("Database error finding refresh token"))?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// Revokes `presented` and issues its child (`GrantRefreshTokenSwap`).
pub async fn rotate(tx: &Transaction<'_>, presented: &Presented, child: &str) -> Result<()> {
    tx.execute(
        "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE id = $1",
        &[&presented.id],
    )
    .await
    .map_err(db("Database error revoking refresh token"))?;
    tx.execute(
        "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id) \
         VALUES ('00000000-0000-0000-0000-000000000000', $1, $2::uuid::text, false, now(), now(), $3, $4)",
        &[&child, &presented.user, &presented.token, &presented.session],
    )
    .await
    .map_err(db("Database error granting user"))?;
    signed_in(tx, presented.user).await
}

/// Records a refresh on its session (`UpdateOnlyRefreshInfo`).
pub async fn refreshed(tx: &Transaction<'_>, session: Uuid, client: &Client<'_>) -> Result<()> {
    tx.execute(
        "UPDATE auth.sessions SET refreshed_at = now() AT TIME ZONE 'UTC', updated_at = now(), \
           user_agent = $2, ip = $3::text::inet WHERE id = $1",
        &[&session, &client.user_agent, &client.ip],
    )
    .await
    .map_err(db("failed to update session information"))?;
    Ok(())
}

/// Ends a session: its refresh tokens go with it (`LogoutSession`).
pub async fn end_session(tx: &Transaction<'_>, session: Uuid) -> Result<()> {
    tx.execute("DELETE FROM auth.sessions WHERE id = $1", &[&session])
        .await
        .map_err(db("Error logging out user"))?;
    Ok(())
}

pub async fn session_exists(tx: &Transaction<'_>, session: Uuid) -> Result<bool> {
    Ok(tx
        .query_opt("SELECT 1 FROM auth.sessions WHERE id = $1", &[&session])
        .await
        .map_err(db("Database error finding session"))?
        .is_some())
}

/// Logout's scopes (api/logout.go): `global` ends every session of the
/// user, `local` this one, `others` all but this one.
pub async fn logout(
    tx: &Transaction<'_>,
    user: Uuid,
    session: Option<Uuid>,
    scope: Scope,
) -> Result<()> {
    let (sql, params): (&str, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) =
        match (scope, &session) {
            (Scope::Local, Some(session)) => {
                ("DELETE FROM auth.sessions WHERE id = $1", vec![session])
            }
            (Scope::Others, Some(session)) => (
                "DELETE FROM auth.sessions WHERE id != $1 AND user_id = $2",
                vec![session, &user],
            ),
            _ => ("DELETE FROM auth.sessions WHERE user_id = $1", vec![&user]),
        };
    tx.execute(sql, &params)
        .await
        .map_err(db("Error logging out user"))?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Local,
    Others,
}
