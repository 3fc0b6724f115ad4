//! Prints how much localStorage one table's ledger takes after k events,
//! item names included, exactly as the browser adapter writes it (the same
//! key names, serde_json values). Run: `cargo run -p sluice-core --example ledger_size`.

use sluice_core::ledger::{Arrival, Ledger, Write};
use sluice_core::source::Position;
use sluice_core::storage_keys;
use sluice_core::timestamp::format_micros;
use std::collections::BTreeMap;

fn main() {
    let project = "https://abcdefghijklmnopqrst.supabase.co";
    println!(
        "{:>8}  {:>16}  {:>16}  {:>6}",
        "events", "integer keys", "uuid keys", "items"
    );
    for k in [1_000i64, 10_000, 100_000] {
        let mut sizes = Vec::new();
        let mut count = 0;
        for uuid in [false, true] {
            let table = "staff_room_events";
            let mut ledger = Ledger::default();
            let mut items: BTreeMap<String, String> = BTreeMap::new();
            for i in 0..k {
                let micros = 1_714_557_600_000_000 + i * 1_000;
                let key = if uuid {
                    format!("{i:08x}-7d2a-4c1e-9f00-{i:012x}")
                } else {
                    (i + 1).to_string()
                };
                let event = Position {
                    key,
                    timestamp: format_micros(micros),
                    timestamp_micros: micros,
                };
                for write in ledger.record(&event, Arrival::InOrder) {
                    let (name, value) = match write {
                        Write::Head(head) => (
                            storage_keys::ledger_head(project, table),
                            serde_json::to_string(&head).unwrap(),
                        ),
                        Write::Slot(slot, entry) => (
                            storage_keys::ledger_slot(project, table, slot),
                            serde_json::to_string(&entry).unwrap(),
                        ),
                    };
                    items.insert(name, value);
                }
            }
            sizes.push(items.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>());
            count = items.len();
        }
        println!(
            "{k:>8}  {:>10} chars  {:>10} chars  {count:>6}",
            sizes[0], sizes[1]
        );
    }
}
