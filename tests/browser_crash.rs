//! The crash banner in headless Chromium: what an operator sees when the
//! module has panicked (the panic itself would end the test module, so the
//! banner is shown directly).
#![cfg(target_arch = "wasm32")]

use sluice::browser::crash::{show_banner, BANNER_ID};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn a_panic_covers_the_page_with_a_banner_that_says_nothing_was_lost() {
    let document = web_sys::window().unwrap().document().unwrap();
    let body = document.body().unwrap();
    let page = document.create_element("main").unwrap();
    body.append_child(&page).unwrap();

    show_banner("panicked at src/runner/drive.rs:1:1: boom");
    show_banner("a second panic");

    let banner = document.get_element_by_id(BANNER_ID).unwrap();
    assert_eq!(banner.get_attribute("role").as_deref(), Some("alert"));
    let text = banner.text_content().unwrap();
    assert!(
        text.contains("Sluice stopped because of an error; reload to go on — nothing was lost."),
        "{text}"
    );
    let message: web_sys::HtmlTextAreaElement = banner
        .query_selector("textarea")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    assert_eq!(
        message.value(),
        "panicked at src/runner/drive.rs:1:1: boom",
        "the first panic, to copy"
    );
    assert!(page.has_attribute("inert"), "the dead page is out of reach");
    assert_eq!(
        document
            .query_selector_all(&format!("#{BANNER_ID}"))
            .unwrap()
            .length(),
        1,
        "one banner"
    );
    let reload = banner.query_selector("button").unwrap().unwrap();
    assert_eq!(reload.text_content().as_deref(), Some("Reload"));
    assert_eq!(
        reload.get_attribute("onclick").as_deref(),
        Some("location.reload()")
    );
}
