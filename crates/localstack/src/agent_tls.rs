//! The demo agent over HTTPS with HTTP/2, on a certificate made at start.
//! Browsers speak HTTP/2 only over TLS, and over HTTP/1.1 they open at most
//! six connections to one host: without this, lanes beyond six would wait
//! for a connection rather than for the agent. The certificate is
//! self-signed, so only a browser told to accept it (the tests and bench
//! do) or an operator who accepts it once reaches this address.

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Serves `app` on `addr` over TLS, offering HTTP/2 and HTTP/1.1.
pub fn serve(
    addr: SocketAddr,
    app: Router,
) -> Result<impl Future<Output = std::io::Result<()>>, Box<dyn std::error::Error>> {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let key = rustls::pki_types::PrivateKeyDer::try_from(certified.key_pair.serialize_der())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = RustlsConfig::from_config(Arc::new(config));
    Ok(axum_server::bind_rustls(addr, tls)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>()))
}
