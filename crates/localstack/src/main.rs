//! `sluice-stack`: the local back end Sluice is developed and tested against.
//! One process serves the Supabase-compatible gateway and the demo agent, and
//! runs the event generator, over a PostgreSQL database that
//! `scripts/backend.sh` starts. See docs/local-stack.md.

mod agent;
mod agent_tls;
mod auth;
mod events;
mod gateway;
mod loopback;
mod queues;
mod realtime;

use axum::serve::ListenerExt;
use clap::Parser;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    about = "Sluice's local stack: Supabase-compatible gateway, demo agent and event generator"
)]
struct Args {
    /// PostgreSQL connection string (not needed with `--serve agent`).
    #[arg(long, env = "SLUICE_DATABASE_URL", default_value = "")]
    database_url: String,
    /// What this process serves: the soak runs the agent in a process of its
    /// own, so that restarting the gateway keeps the agent's tally.
    #[arg(long, env = "SLUICE_SERVE", value_enum, default_value_t = Serve::All)]
    serve: Serve,
    /// Where the gateway listens (Supabase CLI's API port by default).
    #[arg(long, env = "SLUICE_GATEWAY_ADDR", default_value = "127.0.0.1:54321")]
    gateway_addr: SocketAddr,
    /// Where the demo agent listens.
    #[arg(long, env = "SLUICE_AGENT_ADDR", default_value = "127.0.0.1:54330")]
    agent_addr: SocketAddr,
    /// Where the demo agent also listens over HTTPS with HTTP/2 (a
    /// self-signed certificate): a browser opens at most six HTTP/1.1
    /// connections to one host, so more lanes than that need HTTP/2.
    #[arg(long, env = "SLUICE_AGENT_TLS_ADDR", default_value = "127.0.0.1:54331")]
    agent_tls_addr: SocketAddr,
    /// JWT secret (Supabase CLI's local default, so its well-known keys work).
    #[arg(long, env = "SLUICE_JWT_SECRET", default_value = gateway::keys::DEFAULT_JWT_SECRET, hide_default_value = true)]
    jwt_secret: String,
    #[arg(long, env = "SLUICE_PUBLISHABLE_KEY", default_value = gateway::keys::DEFAULT_PUBLISHABLE_KEY)]
    publishable_key: String,
    #[arg(long, env = "SLUICE_SECRET_KEY", default_value = gateway::keys::DEFAULT_SECRET_KEY, hide_default_value = true)]
    secret_key: String,
    /// Most rows in one reply (Supabase's default).
    #[arg(long, env = "SLUICE_MAX_ROWS", default_value_t = 1000)]
    max_rows: u64,
    /// Database connections the gateway's pool holds at most.
    #[arg(long, env = "SLUICE_POOL_SIZE", default_value_t = 16)]
    pool_size: usize,
    /// How long a request waits for a pooled connection before it is
    /// answered 504 PGRST003 (PostgREST's `db-pool-acquisition-timeout`,
    /// 10 s by default).
    #[arg(long, env = "SLUICE_POOL_TIMEOUT_MS", default_value_t = 10_000)]
    pool_timeout_ms: u64,
    /// Database URL the gateway's REST and RPC connect with, as
    /// `authenticator` (by default: `--database-url` with that user).
    #[arg(long, env = "SLUICE_AUTHENTICATOR_URL", default_value = "")]
    authenticator_url: String,
    /// Events seeded into each empty default table (and messages into each
    /// empty default queue) at start.
    #[arg(long, env = "SLUICE_SEED_EVENTS", default_value_t = 40)]
    seed_events: usize,
    /// Events the generator adds per second, across the tables (0: none).
    #[arg(long, env = "SLUICE_GENERATE_PER_SECOND", default_value_t = 0.5)]
    generate_per_second: f64,
    #[command(flatten)]
    auth: auth::AuthArgs,
    #[command(flatten)]
    faults: gateway::faults::Faults,
    #[command(flatten)]
    agent: agent::AgentConfig,
    #[command(flatten)]
    realtime: realtime::RealtimeArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Serve {
    All,
    Gateway,
    Agent,
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("database connection closed: {error}");
        }
    });
    Ok(client)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let gateway = match args.serve {
        Serve::Agent => None,
        Serve::All | Serve::Gateway => Some(start_gateway(&args).await?),
    };
    let agent = match args.serve {
        Serve::Gateway => None,
        Serve::All | Serve::Agent => {
            let listener = TcpListener::bind(args.agent_addr).await?;
            println!("  agent URL        http://{}/", args.agent_addr);
            println!(
                "  agent URL (h2)   https://{}/  (self-signed)",
                args.agent_tls_addr
            );
            let agent = Arc::new(agent::Agent::new(args.agent));
            let tls = agent_tls::serve(args.agent_tls_addr, agent::router(agent.clone()))?;
            Some((
                listener,
                agent::router(agent).into_make_service_with_connect_info::<SocketAddr>(),
                tls,
            ))
        }
    };
    println!("sluice-stack ready");
    // Replies go out at once rather than wait on Nagle's algorithm for the
    // peer's delayed ACK (a streamed or split reply would stall ~40 ms).
    let no_delay = |stream: &mut tokio::net::TcpStream| {
        let _ = stream.set_nodelay(true);
    };
    let gateway = async {
        match gateway {
            Some((listener, app)) => axum::serve(listener.tap_io(no_delay), app).await,
            None => std::future::pending().await,
        }
    };
    let agent = async {
        match agent {
            Some((listener, app, tls)) => {
                tokio::select! {
                    result = axum::serve(listener.tap_io(no_delay), app) => result,
                    result = tls => result,
                }
            }
            None => std::future::pending().await,
        }
    };
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    tokio::select! {
        result = gateway => result?,
        result = agent => result?,
        () = shutdown => println!("sluice-stack stopping"),
    }
    Ok(())
}

/// A pool of connections made with `config`, each request waiting at most
/// `timeout_ms` for one.
fn connection_pool(
    config: tokio_postgres::Config,
    size: usize,
    timeout_ms: u64,
) -> Result<Pool, Box<dyn std::error::Error>> {
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_millis(timeout_ms)))
        .runtime(Runtime::Tokio1)
        .build()?)
}

type GatewayService =
    axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>;

/// Schema, seed, pool, generator and the gateway's listener.
async fn start_gateway(
    args: &Args,
) -> Result<(TcpListener, GatewayService), Box<dyn std::error::Error>> {
    let setup = connect(&args.database_url).await?;
    setup
        .batch_execute("SET client_min_messages = warning")
        .await?;
    setup.batch_execute(include_str!("schema.sql")).await?;
    setup.batch_execute(include_str!("auth/auth.sql")).await?;
    setup.batch_execute(include_str!("policies.sql")).await?;
    let seeded = events::seed(&setup, args.seed_events).await?;
    let pgmq = queues::install(&args.database_url, &setup).await?;
    let queued = queues::seed(&setup, args.seed_events).await?;
    setup
        .batch_execute(include_str!("realtime/realtime.sql"))
        .await?;

    let owner: tokio_postgres::Config = args.database_url.parse()?;
    let authenticator: tokio_postgres::Config = if args.authenticator_url.is_empty() {
        let mut config = owner.clone();
        config.user("authenticator");
        config
    } else {
        args.authenticator_url.parse()?
    };
    let pool = connection_pool(authenticator, args.pool_size, args.pool_timeout_ms)?;
    // The stack's own controls and Auth: a few connections as the owner.
    let admin = connection_pool(owner, 4, args.pool_timeout_ms)?;
    let keys = gateway::keys::Keys::new(&args.jwt_secret, &args.publishable_key, &args.secret_key);
    let (anon, service_role) = (keys.anon.clone(), keys.service_role.clone());
    let gateway = Arc::new(gateway::Gateway {
        pool,
        admin,
        keys: RwLock::new(keys),
        max_rows: args.max_rows,
    });
    let api_url = format!("http://{}", args.gateway_addr);
    let operator = auth::ensure_operator(&gateway, &args.auth).await?;
    let auth = Arc::new(auth::Auth::new(gateway.clone(), &args.auth, &api_url));
    let faults = Arc::new(RwLock::new(args.faults));
    let listener = TcpListener::bind(args.gateway_addr).await?;
    let generator_tally = Arc::new(Mutex::new(events::GeneratorTally::default()));
    tokio::spawn(events::generate(
        connect(&args.database_url).await?,
        args.generate_per_second,
        generator_tally.clone(),
    ));
    println!("  API URL          {api_url}");
    println!("  anon key         {anon}");
    println!("  publishable key  {}", args.publishable_key);
    println!("  service_role key {service_role}  (server-side only)");
    if operator.is_some() {
        println!(
            "  operator         {} / {}  (app_metadata.sluice_operator = true)",
            args.auth.operator_email, args.auth.operator_password
        );
    }
    println!(
        "  Auth             {api_url}/auth/v1 (access tokens live {} s); tables and queues open to signed-in operators only",
        args.auth.jwt_expiry_seconds,
    );
    println!(
        "  pgmq {} installed and exposed as pgmq_public in {} ms",
        pgmq.version,
        pgmq.took.as_millis()
    );
    println!(
        "  seeded {seeded} events and {queued} queue messages; generating {} a second",
        args.generate_per_second
    );
    let realtime = realtime::Realtime::new(gateway.clone(), &args.realtime);
    tokio::spawn(realtime::listen(
        realtime.clone(),
        args.database_url.clone(),
    ));
    if realtime.enabled() {
        println!("  Realtime         ws://{}/realtime/v1/websocket  (tables in the supabase_realtime publication)", args.gateway_addr);
    } else {
        println!("  Realtime         off");
    }
    let app = gateway::router(gateway, auth, realtime, faults, generator_tally)
        .into_make_service_with_connect_info::<SocketAddr>();
    Ok((listener, app))
}
