//! Fetches `config.json` from beside the app.

use gloo_net::http::Request;
use sluice_core::runtime_config::RuntimeConfig;

/// The deployed defaults; a missing file means none. Errors are messages for
/// the operator.
pub async fn fetch() -> Result<RuntimeConfig, String> {
    let response = Request::get("config.json")
        .send()
        .await
        .map_err(|e| format!("config.json could not be read: {e}"))?;
    match response.status() {
        404 => return Ok(RuntimeConfig::default()),
        200..=299 => {}
        status => {
            return Err(format!(
                "config.json could not be read (HTTP {status}): the deployed project URL, agent and tables are not applied."
            ))
        }
    }
    let text = response
        .text()
        .await
        .map_err(|e| format!("config.json could not be read: {e}"))?;
    RuntimeConfig::parse(&text)
}
