//! The stack's controls (the gateway's `/_admin` routes, the demo agent's
//! settings, tally and reset) answer only programs on this machine: a
//! loopback peer, a loopback `Host` (so a DNS-rebinding page cannot reach
//! them by name) and no `Origin` (so no web page can, even with a request
//! that needs no CORS preflight). They send no CORS headers either.

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::{IpAddr, SocketAddr};

/// Middleware: refuses with 403 what [`refusal`] refuses.
pub async fn only_local(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match refusal(peer, request.headers()) {
        Some(why) => (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "message": why })),
        )
            .into_response(),
        None => next.run(request).await,
    }
}

fn refusal(peer: SocketAddr, headers: &HeaderMap) -> Option<&'static str> {
    if !peer.ip().is_loopback() {
        return Some("the stack's controls answer only this machine");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !is_loopback_host(host) {
        return Some(
            "the stack's controls answer only a loopback Host (127.0.0.1, ::1 or localhost)",
        );
    }
    if headers.contains_key(header::ORIGIN) {
        return Some("the stack's controls answer no web page (the request has an Origin)");
    }
    None
}

/// `127.0.0.1:54321`, `[::1]:54330`, `localhost`: a loopback name or
/// address, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    const LOCAL: &str = "127.0.0.1:5000";

    #[test]
    fn this_machine_without_an_origin_is_let_in() {
        for host in [
            "127.0.0.1:54321",
            "localhost:54330",
            "[::1]:54321",
            "127.0.0.1",
            "LOCALHOST",
        ] {
            assert_eq!(
                refusal(LOCAL.parse().unwrap(), &headers(&[(header::HOST, host)])),
                None,
                "{host}"
            );
        }
    }

    #[test]
    fn other_peers_hosts_and_web_pages_are_refused() {
        let remote: SocketAddr = "192.168.1.7:5000".parse().unwrap();
        assert!(refusal(remote, &headers(&[(header::HOST, "127.0.0.1:54321")])).is_some());
        for host in [
            "evil.example:54321",
            "127.0.0.1.evil.example",
            "",
            "10.0.0.1:54321",
        ] {
            assert!(
                refusal(LOCAL.parse().unwrap(), &headers(&[(header::HOST, host)])).is_some(),
                "{host}"
            );
        }
        let page = headers(&[
            (header::HOST, "127.0.0.1:54321"),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert!(refusal(LOCAL.parse().unwrap(), &page).is_some());
    }
}
