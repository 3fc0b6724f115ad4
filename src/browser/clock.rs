/// Seconds since the Unix epoch, from the browser's clock.
pub fn now_unix() -> u64 {
    (js_sys::Date::now() / 1_000.0) as u64
}
