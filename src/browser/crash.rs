//! What the page shows when the module panics. A panic aborts the whole
//! WebAssembly module (release builds use `panic = "abort"`), so nothing of
//! the app runs afterwards: the banner is plain DOM, and its button is an
//! inline handler, not a Rust closure.

use wasm_bindgen::JsCast;

/// The banner's id: a second panic does not add another.
pub const BANNER_ID: &str = "sluice-crash";

/// Logs the panic as usual, then covers the page with the banner.
pub fn install_panic_banner() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_banner(&info.to_string());
    }));
}

/// Covers the page with a banner that says the drain stopped, that nothing
/// was lost (progress is recorded only after the agent's final signal) and
/// how to go on, with the message to copy into a report.
pub fn show_banner(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Some(body) = document.body() else {
        return;
    };
    if document.get_element_by_id(BANNER_ID).is_some() {
        return;
    }
    let build = || -> Result<(), wasm_bindgen::JsValue> {
        let banner = document.create_element("div")?;
        banner.set_id(BANNER_ID);
        banner.set_class_name("crash");
        banner.set_attribute("role", "alert")?;
        let title = document.create_element("p")?;
        title.set_class_name("crash__title");
        title.set_text_content(Some(
            "Sluice stopped because of an error; reload to go on — nothing was lost.",
        ));
        let hint = document.create_element("p")?;
        hint.set_text_content(Some(
            "Events at the gate go to the agent again after the reload, with the same Idempotency-Key. The error, to copy into a report:",
        ));
        let text = document.create_element("textarea")?;
        text.set_class_name("crash__message");
        text.set_attribute("readonly", "")?;
        text.set_attribute("aria-label", "Error message")?;
        text.set_text_content(Some(message));
        let reload = document.create_element("button")?;
        reload.set_attribute("type", "button")?;
        reload.set_attribute("onclick", "location.reload()")?;
        reload.set_text_content(Some("Reload"));
        for child in [&title, &hint, &text, &reload] {
            banner.append_child(child)?;
        }
        // The page behind is dead: keep keyboard and screen readers off it.
        let children = body.children();
        for i in 0..children.length() {
            if let Some(child) = children.item(i) {
                child.set_attribute("inert", "")?;
            }
        }
        body.prepend_with_node_1(&banner)?;
        if let Some(button) = reload.dyn_ref::<web_sys::HtmlElement>() {
            let _ = button.focus();
        }
        Ok(())
    };
    if let Err(error) = build() {
        web_sys::console::error_2(&"Sluice could not show its crash banner:".into(), &error);
    }
}
