use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::alert_thresholds::AlertThresholds;
use sluice_core::gate::GateState;
use sluice_core::metrics::{format_duration, lag_seconds, sparkline_points, time_to_empty};

use super::history::clock_time;
use crate::runner::DrainView;

const SPARK_WIDTH: f64 = 120.0;
const SPARK_HEIGHT: f64 = 28.0;

/// Is it moving, how far behind, is anything failing: the table's numbers,
/// refreshed once a second with fixed-width figures so nothing jumps.
/// Crossing an operator's alert limit shows a warning, announced at once
/// (`aria-live="assertive"`; `role="alert"` stays for errors alone).
#[component]
pub fn MetricsStrip(
    view: DrainView,
    now_ms: ReadSignal<f64>,
    agent: Signal<AgentSettings>,
    thresholds: Signal<AlertThresholds>,
) -> impl IntoView {
    let snapshot = Memo::new(move |_| {
        view.journal_revision.track();
        let now = now_ms.get();
        view.journal.with_value(|j| j.metrics.snapshot(now))
    });
    let backlog = move || view.backlog.with(|b| b.estimate(view.handled.get()));
    let progress = move || view.backlog.with(|b| b.progress(view.handled.get()));
    let lag = Memo::new(move |_| lag_seconds(view.oldest_waiting_micros.get(), now_ms.get()));
    let warnings = Memo::new(move |_| {
        thresholds
            .get()
            .warnings(lag.get(), snapshot.with(|s| s.error_rate))
    });
    let backlog_text = move || backlog().map_or("—".to_string(), |n| n.to_string());
    let empty_in = move || {
        let left = backlog()?;
        let eta = time_to_empty(left, snapshot.with(|s| s.throughput))?;
        Some(format!("empty in ~{}", format_duration(eta)))
    };
    let gate_text = move || {
        view.gate.with(|g| match g.state {
            GateState::Processing | GateState::Retrying => {
                format!("attempt {} of {}", g.attempt, agent.with(|a| a.attempts))
            }
            _ => "idle".to_string(),
        })
    };
    view! {
        <section class="metrics" aria-label="Metrics">
            <dl class="metrics__list">
                <div class="metric" data-metric="backlog">
                    <dt>"Backlog"</dt>
                    <dd>{backlog_text}</dd>
                    <Show when=move || progress().is_some()>
                        <progress class="metric__bar" max="100" aria-label="Catching up"
                            value=move || progress().map_or(0.0, |p| (p * 100.0).round())></progress>
                    </Show>
                    <span class="metric__note">{move || empty_in().unwrap_or_default()}</span>
                </div>
                <div class="metric" data-metric="lag" class:metric--warn=move || warnings.with(|w| w.iter().any(|w| w.starts_with("Lag")))>
                    <dt>"Lag"</dt>
                    <dd>{move || lag.get().map_or("caught up".to_string(), format_duration)}</dd>
                </div>
                <div class="metric" data-metric="throughput">
                    <dt>"Throughput"</dt>
                    <dd>{move || format!("{:.1}/s", snapshot.with(|s| s.throughput))}</dd>
                    <svg class="sparkline" role="img" aria-label="Events handled per second over the last minute"
                        viewBox=format!("0 0 {SPARK_WIDTH} {SPARK_HEIGHT}") width=SPARK_WIDTH height=SPARK_HEIGHT>
                        <polyline fill="none" stroke="currentColor" stroke-width="1.5"
                            points=move || snapshot.with(|s| sparkline_points(&s.per_second, SPARK_WIDTH, SPARK_HEIGHT)) />
                    </svg>
                </div>
                <div class="metric" data-metric="error-rate" class:metric--warn=move || warnings.with(|w| w.iter().any(|w| w.starts_with("Error")))>
                    <dt>"Error rate"</dt>
                    <dd>{move || snapshot.with(|s| s.error_rate.map_or("—".to_string(), |r| format!("{:.0} %", r * 100.0)))}</dd>
                    <span class="metric__note">{move || format!("{} attempts / min", snapshot.with(|s| s.attempts))}</span>
                </div>
                <div class="metric" data-metric="last-event">
                    <dt>"Last event"</dt>
                    <dd>{move || snapshot.with(|s| s.last_event_micros.map_or("—".to_string(), |m| clock_time(m as f64 / 1000.0)))}</dd>
                </div>
                <div class="metric" data-metric="gate">
                    <dt>"Gate"</dt>
                    <dd>{gate_text}</dd>
                </div>
            </dl>
            <div class="threshold-alert" aria-live="assertive" aria-atomic="true" class:threshold-alert--on=move || warnings.with(|w| !w.is_empty())>
                {move || warnings.get().into_iter().map(|w| view! { <p>{w}</p> }).collect_view()}
            </div>
        </section>
    }
}
