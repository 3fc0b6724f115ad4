//! `sluice_core::case` in the browser is the browser's case mapping: it must
//! give what Rust's `to_lowercase`/`to_uppercase` give, here in headless
//! Chromium (natively the module is Rust's own).
#![cfg(target_arch = "wasm32")]

use sluice_core::case::{lower, upper};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn the_browsers_case_mapping_is_rusts() {
    for text in [
        "",
        "order.created",
        "HTTP 422: Schema mismatch",
        "Événement reçu à Zürich",
        "ΟΔΟΣ ΣΑΣ",
        "straße ß ŉ ﬀ",
        "İstanbul Iı",
        "ǅ ǆ Ǆ",
        "Привет, МИР",
        "日本語 🙂",
    ] {
        assert_eq!(lower(text), text.to_lowercase(), "lower({text:?})");
        assert_eq!(upper(text), text.to_uppercase(), "upper({text:?})");
    }
}
