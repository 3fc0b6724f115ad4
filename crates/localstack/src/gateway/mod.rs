//! A Supabase-compatible REST gateway over a real PostgreSQL: the subset of
//! PostgREST (behind Supabase's key checks) that Sluice relies on.

mod error;
pub mod faults;
pub mod keys;
mod paging;
mod query;
mod queue_admin;
mod rpc;
mod sql;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Extension, Router};
use deadpool_postgres::{Pool, PoolError, TimeoutType};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;
use std::sync::Arc;
use tower_http::cors::{Any, CorsLayer};

pub use error::ApiError;
use faults::SharedFaults;
use keys::{Authorized, Keys, Role};
use sql::{Statement, Table};

/// The largest request body accepted (rows of several megabytes are legal),
/// enforced while the body is read.
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

pub struct Gateway {
    /// Connections as `authenticator`, as PostgREST connects under Supabase:
    /// a role that can do nothing but switch to `anon`, `authenticated` or
    /// `service_role` for each request.
    pub pool: Pool,
    /// Connections as the database's owner, for what is not PostgREST: the
    /// stack's own controls (`/_admin`) and Auth (GoTrue connects as its own
    /// `supabase_auth_admin`).
    pub admin: Pool,
    /// Replaced when a test rotates the JWT secret (revoking every key signed with the old one).
    pub keys: std::sync::RwLock<Keys>,
    pub max_rows: u64,
}

impl Gateway {
    /// A pooled connection. Waiting longer than the pool's wait timeout is
    /// PostgREST's 504 PGRST003; a pool that cannot connect is its 503.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, ApiError> {
        Self::from(&self.pool).await
    }

    /// A connection as the database's owner (see [`Gateway::admin`]).
    pub async fn admin_client(&self) -> Result<deadpool_postgres::Object, ApiError> {
        Self::from(&self.admin).await
    }

    async fn from(pool: &Pool) -> Result<deadpool_postgres::Object, ApiError> {
        pool.get().await.map_err(|error| match error {
            PoolError::Timeout(TimeoutType::Wait) => ApiError::pool_timeout(),
            other => ApiError::unavailable(other.to_string()),
        })
    }
}

pub fn router(
    gateway: Arc<Gateway>,
    auth: Arc<crate::auth::Auth>,
    realtime: Arc<crate::realtime::Realtime>,
    faults: SharedFaults,
    generated: crate::events::SharedGeneratorTally,
) -> Router {
    let rest = Router::new()
        .route("/rest/v1/{table}", get(read).post(insert))
        .route(
            "/rest/v1/rpc/{function}",
            get(call_get)
                .post(call_post)
                .fallback(rpc_method_not_allowed),
        )
        .route_layer(middleware::from_fn_with_state(gateway.clone(), require_key))
        .with_state(gateway.clone())
        .layer(middleware::from_fn_with_state(
            faults.clone(),
            faults::inject,
        ));
    let tables = Router::new()
        .route("/_admin/tables", axum::routing::post(create_table))
        .route(
            "/_admin/tables/{name}/anon",
            axum::routing::put(open_table_to_anon),
        )
        .route("/_admin/jwt-secret", axum::routing::put(rotate_secret))
        .route("/_admin/queues", axum::routing::post(queue_admin::create))
        .route("/_admin/queues/{name}", get(queue_admin::describe))
        .with_state(gateway.clone());
    let admin = Router::new()
        .route("/_admin/faults", get(faults::get).put(faults::put))
        .with_state(faults)
        .route(
            "/_admin/generator",
            get(move || {
                let tally = *generated.lock().expect("generator tally lock");
                async move { axum::Json(tally) }
            }),
        );
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([
            header::CONTENT_RANGE,
            HeaderName::from_static("range-unit"),
            header::RETRY_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(3600));
    let controls = admin
        .merge(tables)
        .merge(crate::auth::controls(auth.clone()))
        .merge(crate::realtime::controls(realtime.clone()))
        .layer(middleware::from_fn(crate::loopback::only_local));
    rest.layer(cors)
        .merge(crate::auth::router(auth))
        .merge(crate::realtime::router(realtime))
        .merge(controls)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Splits a raw query string into decoded pairs; `+` decodes to a space,
/// as in PostgREST, so a timestamp's `+` must travel as `%2B`.
fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|e| {
        ApiError::postgrest(
            StatusCode::BAD_REQUEST,
            "PGRST100",
            "failed to parse the query string",
            Some(e.to_string()),
            None,
        )
    })
}

/// Middleware over the REST routes: the key is checked before a handler
/// runs, as Kong checks it in front of PostgREST, so a request with a wrong
/// or missing key is refused without its body being read. Handlers find
/// the role and claims ([`Authorized`]) in the request's extensions.
async fn require_key(
    State(gateway): State<Arc<Gateway>>,
    mut request: Request,
    next: Next,
) -> Response {
    let found = query_pairs(request.uri().query())
        .and_then(|pairs| authorize(&gateway, request.headers(), &pairs));
    match found {
        Ok(found) => {
            request.extensions_mut().insert(found);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// The request body, read up to [`BODY_LIMIT`] (PostgREST sets no limit;
/// axum's 2 MB default would refuse large rows): a larger `Content-Length`
/// is refused before anything is read, a longer stream as soon as it
/// passes the limit.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    if body.size_hint().lower() > BODY_LIMIT as u64 {
        return Err(ApiError::payload_too_large());
    }
    match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::payload_too_large()),
        Err(error) => Err(ApiError::bad_body(format!(
            "Could not read the request body: {error}"
        ))),
    }
}

fn authorize(
    gateway: &Gateway,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Authorized, ApiError> {
    let from_query = pairs
        .iter()
        .find(|(k, _)| k == "apikey")
        .map(|(_, v)| v.as_str());
    let apikey = header_str(headers, "apikey").or(from_query);
    Ok(gateway
        .keys
        .read()
        .expect("keys lock")
        .authorize(apikey, header_str(headers, "authorization"))?)
}

/// The table's columns, read from the catalogue on every request so tables
/// added while the stack runs are served at once.
async fn describe(client: &tokio_postgres::Client, name: &str) -> Result<Table, ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid {
        return Err(ApiError::unknown_table(name));
    }
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') \
               AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&name],
        )
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    if rows.is_empty() {
        return Err(ApiError::unknown_table(name));
    }
    Ok(Table {
        name: name.to_string(),
        columns: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
    })
}

fn params(statement: &Statement) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    statement
        .params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

async fn read(
    State(gateway): State<Arc<Gateway>>,
    Extension(found): Extension<Authorized>,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref())?;
    let query = query::parse_read(&pairs)?;
    let (want_count, _) = paging::prefer(header_str(&headers, "prefer"));
    let range = header_str(&headers, "range");
    let window = paging::window(range, query.limit, query.offset, gateway.max_rows)
        .ok_or_else(|| ApiError::range_out_of_bounds(range.unwrap_or_default()))?;

    let (mut client, table) = connect_to(&gateway, &table).await?;
    let (rows_sql, count_sql) = sql::read(&table, &query, window.limit, window.offset)?;
    let role = found.role;
    let tx = begin_as(&mut client, &found, Access::ReadOnly).await?;
    let total = if want_count {
        let row = tx
            .query_one(&count_sql.sql, &params(&count_sql))
            .await
            .map_err(|e| ApiError::database(&e, role))?;
        Some(row.get::<_, i64>(0))
    } else {
        None
    };
    if let Some(total) = total {
        if window.offset > total as u64 {
            return Err(ApiError::range_not_satisfiable(window.offset, total));
        }
    }
    let row = tx
        .query_one(&rows_sql.sql, &params(&rows_sql))
        .await
        .map_err(|e| ApiError::database(&e, role))?;
    tx.commit()
        .await
        .map_err(|e| ApiError::database(&e, role))?;
    let body: String = row.get(0);
    let returned = serde_json::from_str::<Vec<serde::de::IgnoredAny>>(&body)
        .map_or(0, |rows| rows.len() as u64);
    let (status, content_range) = paging::content_range(window.offset, returned, total);
    Ok(json_response(status, &content_range, body))
}

/// A pooled connection and the named table as the catalogue describes it.
async fn connect_to(
    gateway: &Gateway,
    name: &str,
) -> Result<(deadpool_postgres::Object, Table), ApiError> {
    let client = gateway.client().await?;
    let table = describe(&client, name).await?;
    Ok((client, table))
}

/// PostgREST runs GET and HEAD in a read-only transaction, POST in a
/// read-write one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// A transaction running as the request's database role, so that
/// privileges, row-level security and the role's statement timeout apply
/// as in Supabase. As PostgREST does ("Transactions": transaction-scoped
/// settings), the role and the JWT's claims are set with `set_config(...,
/// true)`, which lasts until the transaction ends; the role's
/// `statement_timeout` is applied the same way ("Impersonated Role
/// Settings"). PostgREST 12 sets `request.jwt.claims` only: the legacy
/// `request.jwt.claim.sub` etc. are gone, so a policy written against this
/// stack must read the claims as it would on Supabase (`auth.uid()`,
/// `auth.jwt()`).
pub async fn begin_as<'a>(
    client: &'a mut deadpool_postgres::Object,
    found: &Authorized,
    access: Access,
) -> Result<deadpool_postgres::Transaction<'a>, ApiError> {
    let tx = client
        .build_transaction()
        .read_only(access == Access::ReadOnly)
        .start()
        .await
        .map_err(|e| ApiError::database(&e, found.role))?;
    take_role(&tx, found).await?;
    Ok(tx)
}

/// Takes the request's role, its statement timeout and its JWT's claims
/// for the rest of the transaction (see [`begin_as`]).
pub async fn take_role(
    tx: &deadpool_postgres::Transaction<'_>,
    found: &Authorized,
) -> Result<(), ApiError> {
    let role = found.role;
    let claims = found.claims.to_string();
    tx.execute(
        "SELECT set_config('role', $1, true), set_config('statement_timeout', $2, true), \
         set_config('request.jwt.claims', $3, true)",
        &[&role.db_role(), &role.statement_timeout(), &claims],
    )
    .await
    .map_err(|e| ApiError::database(&e, role))?;
    Ok(())
}

fn json_response(status: StatusCode, content_range: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if !content_range.is_empty() {
        if let Ok(value) = HeaderValue::from_str(content_range) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// The overloads of `schema.function` with named arguments, from the catalogue.
async fn overloads(
    client: &tokio_postgres::Client,
    schema: &str,
    function: &str,
) -> Result<Vec<rpc::Overload>, ApiError> {
    let rows = client
        .query(
            "SELECT coalesce(p.proargnames[1:p.pronargs], '{}')::text[],                     array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i) ORDER BY i)::text[],                     p.pronargdefaults::int4, p.proretset              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace              WHERE n.nspname = $1 AND p.proname = $2 AND p.prokind = 'f'",
            &[&schema, &function],
        )
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let names: Vec<String> = row.get(0);
            let types: Vec<String> = row.get(1);
            // PostgREST calls only functions whose arguments all have names.
            (names.len() == types.len() && names.iter().all(|n| !n.is_empty())).then(|| {
                rpc::Overload {
                    arguments: names.into_iter().zip(types).collect(),
                    defaults: row.get::<_, i32>(2) as usize,
                    returns_set: row.get(3),
                }
            })
        })
        .collect())
}

/// `POST /rest/v1/rpc/{function}`: named arguments as a JSON object, the
/// schema from `Content-Profile`, in a read-write transaction.
async fn call_post(
    State(gateway): State<Arc<Gateway>>,
    Extension(found): Extension<Authorized>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let schema = rpc::schema(&headers, true)?;
    let body = read_body(body).await?;
    let arguments = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(arguments)) => arguments,
            _ => return Err(ApiError::bad_body("Empty or invalid json")),
        }
    };
    call(
        &gateway,
        &found,
        schema,
        &function,
        arguments,
        Access::ReadWrite,
    )
    .await
}

/// `GET /rest/v1/rpc/{function}?arg=value`: the schema from
/// `Accept-Profile`, in a read-only transaction, so a function that writes
/// fails (25006, answered 405).
async fn call_get(
    State(gateway): State<Arc<Gateway>>,
    Extension(found): Extension<Authorized>,
    Path(function): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref())?;
    let schema = rpc::schema(&headers, false)?;
    let arguments = rpc::arguments_from_query(&pairs);
    call(
        &gateway,
        &found,
        schema,
        &function,
        arguments,
        Access::ReadOnly,
    )
    .await
}

async fn call(
    gateway: &Gateway,
    found: &Authorized,
    schema: &str,
    function: &str,
    arguments: serde_json::Map<String, Value>,
    access: Access,
) -> Result<Response, ApiError> {
    let mut client = gateway.client().await?;
    // A name no function can have (a NUL byte, too long) is unknown like
    // any other, not a question for the catalogue.
    let overloads = if rpc::could_name_a_function(function) {
        overloads(&client, schema, function).await?
    } else {
        Vec::new()
    };
    let given: Vec<&str> = arguments.keys().map(String::as_str).collect();
    let overload = rpc::choose(
        schema,
        function,
        &overloads,
        &given,
        access == Access::ReadWrite,
    )?;
    let sql = rpc::call_sql(schema, function, overload, &given);
    let bound = Value::Object(arguments.clone()).to_string();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = if given.is_empty() {
        Vec::new()
    } else {
        vec![&bound]
    };
    let role = found.role;
    let tx = begin_as(&mut client, found, access).await?;
    let row = tx
        .query_one(&sql, &params)
        .await
        .map_err(|e| ApiError::database(&e, role))?;
    tx.commit()
        .await
        .map_err(|e| ApiError::database(&e, role))?;
    let body: String = row.get(0);
    let content_range = if overload.returns_set {
        let returned = serde_json::from_str::<Vec<serde::de::IgnoredAny>>(&body)
            .map_or(0, |rows| rows.len() as u64);
        paging::content_range(0, returned, None).1
    } else {
        String::new()
    };
    Ok(json_response(StatusCode::OK, &content_range, body))
}

/// PostgREST answers other methods on a function with 405 and PGRST101.
async fn rpc_method_not_allowed(method: Method) -> ApiError {
    ApiError::postgrest(
        StatusCode::METHOD_NOT_ALLOWED,
        "PGRST101",
        format!("Cannot use the {method} method on RPC"),
        None,
        None,
    )
}

async fn insert(
    State(gateway): State<Arc<Gateway>>,
    Extension(found): Extension<Authorized>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (_, want_rows) = paging::prefer(header_str(&headers, "prefer"));
    let body = read_body(body).await?;
    let rows = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(rows)) => rows,
        Ok(object @ Value::Object(_)) => vec![object],
        _ => return Err(ApiError::bad_body("Empty or invalid json")),
    };
    let columns = sql::insert_columns(&rows)
        .ok_or_else(|| ApiError::bad_body("All object keys must match"))?;
    let (mut client, table) = connect_to(&gateway, &table).await?;
    let statement = sql::insert(&table, &columns).map_err(|missing| {
        ApiError::postgrest(
            StatusCode::BAD_REQUEST,
            "PGRST204",
            format!(
                "Could not find the '{}' column of '{}' in the schema cache",
                missing.column, missing.table
            ),
            None,
            None,
        )
    })?;
    let payload = Value::Array(rows).to_string();
    let role = found.role;
    let tx = begin_as(&mut client, &found, Access::ReadWrite).await?;
    let row = tx
        .query_one(&statement.sql, &[&payload])
        .await
        .map_err(|e| ApiError::database(&e, role))?;
    tx.commit()
        .await
        .map_err(|e| ApiError::database(&e, role))?;
    let inserted: String = row.get(0);
    Ok(if want_rows {
        json_response(StatusCode::CREATED, "*/*", inserted)
    } else {
        let mut response = StatusCode::CREATED.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_RANGE, HeaderValue::from_static("*/*"));
        response
    })
}

/// A test facility (loopback only): creates an event table shaped like the
/// default ones, so a test can drain a table nobody else writes to. It is
/// protected as the seeded ones are (policies.sql): signed-in operators
/// read it; `"open_to_anon": true` opens it to the anon key too, to test
/// the key-only path.
#[derive(serde::Deserialize)]
struct NewTable {
    name: String,
    #[serde(default = "default_timestamp_column")]
    timestamp_column: String,
    /// `bigint` (identity), `uuid` or `text`.
    #[serde(default = "default_key_type")]
    key_type: String,
    /// `timestamptz`, or `text` to hold values that are not timestamps.
    #[serde(default = "default_timestamp_type")]
    timestamp_type: String,
    #[serde(default)]
    open_to_anon: bool,
}

fn default_timestamp_type() -> String {
    "timestamptz".into()
}

fn default_timestamp_column() -> String {
    "created_at".into()
}

fn default_key_type() -> String {
    "bigint".into()
}

async fn create_table(
    State(gateway): State<Arc<Gateway>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    axum::Json(new): axum::Json<NewTable>,
) -> Result<StatusCode, ApiError> {
    if !peer.ip().is_loopback() {
        return Ok(StatusCode::FORBIDDEN);
    }
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let key = match new.key_type.as_str() {
        "bigint" => "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "uuid" => "id uuid PRIMARY KEY DEFAULT gen_random_uuid()",
        "text" => "id text PRIMARY KEY",
        _ => return Err(ApiError::bad_body("key_type must be bigint, uuid or text")),
    };
    let timestamp = match new.timestamp_type.as_str() {
        "timestamptz" => "timestamptz NOT NULL DEFAULT now()",
        "text" => "text",
        _ => {
            return Err(ApiError::bad_body(
                "timestamp_type must be timestamptz or text",
            ))
        }
    };
    if !valid(&new.name) || !valid(&new.timestamp_column) {
        return Err(ApiError::bad_body(
            "table and column names must be lowercase identifiers",
        ));
    }
    let (table, ts) = (sql::quote(&new.name), sql::quote(&new.timestamp_column));
    let ddl = format!(
        "CREATE TABLE IF NOT EXISTS public.{table} ({key}, {ts} {timestamp}, type text NOT NULL DEFAULT 'test.event', \
         source text NOT NULL DEFAULT 'e2e', payload jsonb NOT NULL DEFAULT '{{}}', metadata jsonb); \
         GRANT SELECT ON public.{table} TO anon, authenticated; GRANT ALL ON public.{table} TO service_role;"
    );
    let client = gateway.admin_client().await?;
    client
        .batch_execute(&ddl)
        .await
        .map_err(|e| ApiError::database(&e, Role::Service))?;
    let qualified = format!("public.{table}");
    client
        .execute(
            "SELECT sluice_stack.protect_table($1::text::regclass), sluice_stack.open_table_to_anon($1::text::regclass, $2)",
            &[&qualified, &new.open_to_anon],
        )
        .await
        .map_err(|e| ApiError::database(&e, Role::Service))?;
    Ok(StatusCode::CREATED)
}

#[derive(serde::Deserialize)]
struct AnonAccess {
    open: bool,
}

/// A test facility (loopback only): `PUT /_admin/tables/{name}/anon
/// {"open": true|false}` opens a table of `public` (a seeded one too) to the
/// anon key, or closes it again, so that the key-only path can be tested.
async fn open_table_to_anon(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    axum::Json(access): axum::Json<AnonAccess>,
) -> Result<StatusCode, ApiError> {
    let client = gateway.admin_client().await?;
    describe(&client, &name).await?;
    let qualified = format!("public.{}", sql::quote(&name));
    client
        .execute(
            "SELECT sluice_stack.open_table_to_anon($1::text::regclass, $2)",
            &[&qualified, &access.open],
        )
        .await
        .map_err(|e| ApiError::database(&e, Role::Service))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A test facility (loopback only): signs the project's keys with a new JWT
/// secret, as rotating it in Supabase does, so the old anon and
/// service_role keys stop working. Answers with the new anon key.
async fn rotate_secret(
    State(gateway): State<Arc<Gateway>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Result<String, StatusCode> {
    if !peer.ip().is_loopback() {
        return Err(StatusCode::FORBIDDEN);
    }
    let secret = body
        .get("jwt_secret")
        .and_then(Value::as_str)
        .filter(|s| s.len() >= 32)
        .ok_or(StatusCode::BAD_REQUEST)?;
    let mut keys = gateway.keys.write().expect("keys lock");
    *keys = Keys::new(secret, &keys.publishable, &keys.secret_key);
    Ok(keys.anon.clone())
}
