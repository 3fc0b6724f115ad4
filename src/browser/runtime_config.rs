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
    if response.status() == 404 {
        return Ok(RuntimeConfig::default());
    }
    let text = response
        .text()
        .await
        .map_err(|e| format!("config.json could not be read: {e}"))?;
    RuntimeConfig::parse(&text)
}
