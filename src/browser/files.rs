//! Text in and out of the page: downloads made from text (through
//! gloo-file's object URLs), the clipboard, and a chosen file's text.

use gloo_file::ObjectUrl;
use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Offers `text` as a download named `name`.
pub fn download(name: &str, text: &str) -> Result<(), String> {
    let failed = |what: &str| format!("The file could not be offered for download ({what}).");
    let url = ObjectUrl::from(gloo_file::Blob::new_with_options(
        text,
        Some("application/json"),
    ));
    let link: web_sys::HtmlAnchorElement = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| failed("no document"))?
        .create_element("a")
        .map_err(|_| failed("link"))?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The browser reads the file after this returns: revoke its URL later.
    Timeout::new(60_000, move || drop(url)).forget();
    Ok(())
}

/// Writes `text` to the clipboard: false where the page has no clipboard
/// (`navigator.clipboard` exists in secure contexts only) or the browser
/// refuses.
pub async fn copy(text: &str) -> bool {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return false;
    };
    if !js_sys::Reflect::has(&navigator, &"clipboard".into()).unwrap_or(false) {
        return false;
    }
    JsFuture::from(navigator.clipboard().write_text(text))
        .await
        .is_ok()
}

/// The text of the file chosen in a file input.
pub async fn chosen_text(input: &web_sys::HtmlInputElement) -> Result<String, String> {
    let file = input
        .files()
        .and_then(|files| files.get(0))
        .ok_or("No file was chosen.")?;
    JsFuture::from(file.text())
        .await
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| format!("{} could not be read.", file.name()))
}
