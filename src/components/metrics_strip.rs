use leptos::prelude::*;
use sluice_core::gate::GateState;
use sluice_core::metrics::{lag_seconds, sparkline_points, time_to_empty};

use super::format::{clock_time, format_duration, format_duration_ms};
use super::state::{Clock, DrainHandle, Sources};

const SPARK_WIDTH: f64 = 120.0;
const SPARK_HEIGHT: f64 = 28.0;

/// Is it moving, how far behind, is anything failing: the table's numbers,
/// refreshed once a second with fixed-width figures so nothing jumps.
/// Crossing an operator's alert limit shows a warning, announced at once
/// (`aria-live="assertive"`; `role="alert"` stays for errors alone).
#[component]
pub fn MetricsStrip() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let view = move || drain.view();
    let agent = drain.agent;
    let clock = expect_context::<Clock>();
    let thresholds = move || view().alert_thresholds;
    let snapshot = Memo::new(move |_| {
        view().journal_published.track();
        let now = clock.now_ms();
        view().journal.with_value(|j| j.metrics.snapshot(now))
    });
    let backlog = move || view().backlog.with(|b| b.estimate(view().handled.get()));
    let progress = move || view().backlog.with(|b| b.progress(view().handled.get()));
    let lag = Memo::new(move |_| lag_seconds(view().oldest_waiting_micros.get(), clock.now_ms()));
    let warnings = Memo::new(move |_| {
        thresholds().with(|t| t.warnings(lag.get(), snapshot.with(|s| s.error_rate)))
    });
    let sources = expect_context::<Sources>();
    // A queue's length comes from the metrics function the README's
    // recipe adds; pgmq_public itself tells nothing of it.
    let backlog_text = move || match backlog() {
        Some(n) => n.to_string(),
        None if sources.queue_chosen() => "unknown".to_string(),
        None => "—".to_string(),
    };
    let backlog_title = move || {
        (sources.queue_chosen() && backlog().is_none()).then_some(
            "Supabase Queues' API does not tell a queue's length: add the sluice_queue_metrics function (Sluice's docs/queues.md)",
        )
    };
    let empty_in = move || {
        let left = backlog()?;
        let eta = time_to_empty(left, snapshot.with(|s| s.throughput))?;
        Some(format!("empty in ~{}", format_duration(eta)))
    };
    let gate = Memo::new(move |_| view().speaking_lane());
    let gate_text = move || {
        gate.with(|g| match g.state {
            GateState::Processing | GateState::Retrying => {
                format!(
                    "attempt {} of {}",
                    g.attempt,
                    agent.with(|a| a.attempts.get())
                )
            }
            GateState::Offline if g.retry_at_ms.is_some() => "agent offline".to_string(),
            GateState::Offline => "halted".to_string(),
            _ => "idle".to_string(),
        })
    };
    // Each figure is its own small `<dl>`; bars, sparkline and notes sit
    // beside it, outside the list (a `<dl>` holds only dt/dd groups).
    view! {
        <section class="metrics" aria-label="Metrics">
            <div class="metrics__list">
                <div class="metric" data-metric="backlog">
                    <dl><dt>"Backlog"</dt><dd title=backlog_title>{backlog_text}</dd></dl>
                    <Show when=move || progress().is_some()>
                        <progress class="metric__bar" max="100" aria-label="Catching up"
                            value=move || progress().map_or(0.0, |p| (p * 100.0).round())></progress>
                    </Show>
                    <span class="metric__note">{move || empty_in().unwrap_or_default()}</span>
                    <span class="metric__note" class:metric__note--warn=move || view().look_back.with(|l| l.is_some_and(|l| l.is_short()))
                        title=move || view().look_back.with(|l| l.and_then(|l| l.warning()).unwrap_or_default())>
                        {move || view().look_back.with(|l| l.map(|l| l.describe()).unwrap_or_default())}
                    </span>
                </div>
                <div class="metric" data-metric="lag" class:metric--warn=move || warnings.with(|w| w.iter().any(|w| w.is_lag()))>
                    <dl><dt>"Lag"</dt><dd>{move || lag.get().map_or("caught up".to_string(), format_duration)}</dd></dl>
                </div>
                <div class="metric" data-metric="throughput">
                    <dl><dt>"Throughput"</dt><dd>{move || format!("{:.1}/s", snapshot.with(|s| s.throughput))}</dd></dl>
                    <svg class="sparkline" role="img" aria-label="Events handled per second over the last minute"
                        viewBox=format!("0 0 {SPARK_WIDTH} {SPARK_HEIGHT}") width=SPARK_WIDTH height=SPARK_HEIGHT>
                        <polyline fill="none" stroke="currentColor" stroke-width="1.5"
                            points=move || snapshot.with(|s| sparkline_points(&s.per_second, SPARK_WIDTH, SPARK_HEIGHT)) />
                    </svg>
                </div>
                <div class="metric" data-metric="error-rate" class:metric--warn=move || warnings.with(|w| w.iter().any(|w| w.is_error_rate()))>
                    <dl><dt>"Error rate"</dt><dd>{move || snapshot.with(|s| s.error_rate.map_or("—".to_string(), |r| format!("{:.0} %", r * 100.0)))}</dd></dl>
                    <span class="metric__note">{move || format!("{} attempts / min", snapshot.with(|s| s.attempts))}</span>
                </div>
                <div class="metric" data-metric="last-event">
                    <dl><dt>"Last event"</dt><dd>{move || snapshot.with(|s| s.last_event_micros.map_or("—".to_string(), |m| clock_time(m as f64 / 1000.0)))}</dd></dl>
                </div>
                <div class="metric" data-metric="gate">
                    <dl><dt>"Gate"</dt><dd>{gate_text}</dd></dl>
                </div>
                <div class="metric" data-metric="lanes">
                    <dl><dt>"Lanes in use"</dt><dd>{move || format!("{} of {}", view().busy_lanes(), view().lanes_shown.get())}</dd></dl>
                </div>
                <div class="metric" data-metric="latency">
                    <dl><dt>"Agent latency"</dt><dd>{move || snapshot.with(|s| s.latency.map_or("—".to_string(), |l| format_duration_ms(l.median_ms)))}</dd></dl>
                    <span class="metric__note">{move || snapshot.with(|s| s.latency.map(|l| format!("p95 {}", format_duration_ms(l.p95_ms))).unwrap_or_default())}</span>
                </div>
            </div>
            <div class="threshold-alert" aria-live="assertive" aria-atomic="true"
                class:threshold-alert--on=move || warnings.with(|w| !w.is_empty()) || view().look_back.with(|l| l.is_some_and(|l| l.is_short()))>
                {move || warnings.get().into_iter().map(|w| view! { <p>{w.to_string()}</p> }).collect_view()}
                {move || view().look_back.with(|l| l.and_then(|l| l.warning())).map(|w| view! { <p>{w}</p> })}
            </div>
        </section>
    }
}
