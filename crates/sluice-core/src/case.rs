//! Unicode case mapping, for the filters and the badges' initials.
//!
//! Natively this is Rust's own `to_lowercase`/`to_uppercase`. In the browser
//! it is the browser's `toLowerCase`/`toUpperCase`, which apply the same
//! Unicode default case conversion (final sigma included) from the browser's
//! own tables: Rust's would add 34 KB to the bundle, 15 KB gzip
//! (docs/performance.md, "Where the bundle's bytes go"). The only crate
//! this module takes from the browser's side is `js-sys`, on wasm32 alone.
//! ASCII text, nearly all of it, never leaves Rust.

/// `text` in lower case, as `str::to_lowercase` gives it.
pub fn lower(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    imp::lower(text)
}

/// `text` in upper case, as `str::to_uppercase` gives it.
pub fn upper(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_uppercase();
    }
    imp::upper(text)
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod imp {
    pub fn lower(text: &str) -> String {
        text.to_lowercase()
    }

    pub fn upper(text: &str) -> String {
        text.to_uppercase()
    }
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod imp {
    use js_sys::JsString;

    pub fn lower(text: &str) -> String {
        JsString::from(text).to_lower_case().into()
    }

    pub fn upper(text: &str) -> String {
        JsString::from(text).to_upper_case().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_rust_for_ascii_and_beyond() {
        for text in [
            "",
            "Order.Created",
            "HTTP 422: schema mismatch",
            "Événement reçu",
            "ΟΔΟΣ",
            "straße",
            "İstanbul",
        ] {
            assert_eq!(lower(text), text.to_lowercase(), "{text}");
            assert_eq!(upper(text), text.to_uppercase(), "{text}");
        }
    }
}
