//! The benchmark's persistence probe (`scripts/bench.sh`): Sluice's real
//! ledger store, driven in the browser the benchmark measures, so that its
//! cost per recorded event can be set beside the seed prototype's scheme on
//! the same page. Built with wasm-bindgen for the web; not part of the app.

#[cfg(target_arch = "wasm32")]
mod probe {
    use sluice::browser::table_store::TableStore;
    use sluice_core::ledger::{Arrival, Ledger, LedgerFile};
    use sluice_core::source::Position;
    use wasm_bindgen::prelude::*;

    const PROJECT: &str = "http://127.0.0.1:54321";
    const T0: i64 = 1_700_000_000_000_000;

    fn event(i: u32) -> Position {
        let micros = T0 + i64::from(i) * 1000;
        Position {
            key: i.to_string(),
            timestamp: sluice_core::timestamp::format_micros(micros),
            timestamp_micros: micros,
        }
    }

    fn now() -> f64 {
        web_sys::window()
            .and_then(|w| w.performance())
            .map_or(0.0, |p| p.now())
    }

    /// Stores the ledger of `table` as it is after `k - 1` events, then
    /// records events k, k+1, … one at a time as the app does (two small
    /// writes each); returns the mean milliseconds per record. The batch is
    /// timed whole: browsers round `performance.now()` to 0.1 ms.
    #[wasm_bindgen]
    pub fn sluice_record_ms(table: &str, k: u32, samples: u32) -> Result<f64, JsValue> {
        let store = TableStore::new(PROJECT, table);
        store.clear_ledger();
        let mut ledger = Ledger::default();
        for i in 1..k {
            ledger.record(&event(i), Arrival::InOrder);
        }
        let stored = LedgerFile::of(table, &ledger).writes();
        store.record(&stored).map_err(|e| e.to_string())?;
        let started = now();
        for i in k..k + samples {
            let writes = ledger.record(&event(i), Arrival::InOrder);
            store.record(&writes).map_err(|e| e.to_string())?;
        }
        Ok((now() - started) / f64::from(samples.max(1)))
    }

    /// Milliseconds to read the stored ledger back, as a page load does.
    #[wasm_bindgen]
    pub fn sluice_load_ms(table: &str) -> Result<f64, JsValue> {
        let started = now();
        let ledger = TableStore::new(PROJECT, table)
            .ledger()
            .map_err(|e| e.to_string())?;
        let elapsed = now() - started;
        if ledger.handled() == 0 {
            return Err("nothing was stored".into());
        }
        Ok(elapsed)
    }
}

fn main() {}
