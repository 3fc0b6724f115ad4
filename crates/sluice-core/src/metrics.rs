//! The numbers an operator reads at a glance: throughput and error rate
//! over a sliding minute, lag, and the backlog with its time to empty.
//! Everything takes the time as an argument, so tests need no clock.

use std::collections::VecDeque;

/// The sliding window, in one-second buckets.
pub const WINDOW_SECONDS: usize = 60;
/// Latencies kept for the percentiles: the newest, within the window.
pub const MAX_LATENCY_SAMPLES: usize = 4096;
/// Fewer attempts than this in the window give no error rate: one failure
/// out of two is not a trend worth an alert.
pub const MIN_ATTEMPTS_FOR_RATE: u32 = 5;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bucket {
    second: i64,
    handled: u32,
    attempts: u32,
    failures: u32,
}

/// Counts per second over the last minute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    buckets: VecDeque<Bucket>,
    /// When the first thing was recorded: before a minute has passed,
    /// throughput is averaged over the time actually watched.
    started_ms: Option<f64>,
    /// The source timestamp (µs) of the last event handled, and when.
    last_event: Option<(i64, f64)>,
    /// When each recent attempt ended, and how long it took (ms).
    latencies: VecDeque<(f64, f64)>,
}

/// How long the agent takes per attempt over the last minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// What the strip shows, computed at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Events handled per second over the last minute.
    pub throughput: f64,
    /// Handled events per second, oldest first, one entry per second.
    pub per_second: Vec<u32>,
    /// Share of attempts that failed over the last minute (0–1), once
    /// there were enough attempts to say.
    pub error_rate: Option<f64>,
    pub attempts: u32,
    /// Source timestamp (µs) of the last event handled.
    pub last_event_micros: Option<i64>,
    /// The agent's latency, once an attempt was answered in the window.
    pub latency: Option<Latency>,
}

/// The nearest-rank percentile `p` (0–1) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn second_of(ms: f64) -> i64 {
    (ms / 1000.0).floor() as i64
}

impl Metrics {
    fn bucket(&mut self, now_ms: f64) -> &mut Bucket {
        self.started_ms.get_or_insert(now_ms);
        let second = second_of(now_ms);
        self.forget_before(second);
        if self.buckets.back().is_none_or(|b| b.second != second) {
            self.buckets.push_back(Bucket {
                second,
                ..Bucket::default()
            });
        }
        self.buckets.back_mut().expect("just pushed")
    }

    fn forget_before(&mut self, second: i64) {
        let oldest = second - WINDOW_SECONDS as i64 + 1;
        while self.buckets.front().is_some_and(|b| b.second < oldest) {
            self.buckets.pop_front();
        }
    }

    /// One delivery attempt the agent answered ended after `took_ms`; `ok`
    /// unless it failed or was refused.
    pub fn record_attempt(&mut self, now_ms: f64, ok: bool, took_ms: f64) {
        let bucket = self.bucket(now_ms);
        bucket.attempts += 1;
        bucket.failures += u32::from(!ok);
        if self.latencies.len() == MAX_LATENCY_SAMPLES {
            self.latencies.pop_front();
        }
        self.latencies.push_back((now_ms, took_ms));
    }

    /// Median and 95th percentile of the attempts that ended in the window.
    fn latency(&self, now_ms: f64) -> Option<Latency> {
        let since = now_ms - WINDOW_SECONDS as f64 * 1000.0;
        let mut recent: Vec<f64> = self
            .latencies
            .iter()
            .filter(|(at, _)| *at > since)
            .map(|(_, took)| *took)
            .collect();
        if recent.is_empty() {
            return None;
        }
        recent.sort_by(f64::total_cmp);
        Some(Latency {
            median_ms: percentile(&recent, 0.5),
            p95_ms: percentile(&recent, 0.95),
        })
    }

    /// An event left the gate for the drain (passed or dead-lettered).
    pub fn record_handled(&mut self, now_ms: f64, event_micros: i64) {
        self.bucket(now_ms).handled += 1;
        self.last_event = Some((event_micros, now_ms));
    }

    pub fn snapshot(&self, now_ms: f64) -> Snapshot {
        let now = second_of(now_ms);
        let oldest = now - WINDOW_SECONDS as i64 + 1;
        let mut per_second = vec![0; WINDOW_SECONDS];
        let (mut attempts, mut failures) = (0, 0);
        for bucket in self.buckets.iter().filter(|b| b.second >= oldest) {
            // A bucket newer than `now` (the page's clock ticks apart from
            // the recording) counts in the newest second.
            per_second[(bucket.second.min(now) - oldest) as usize] += bucket.handled;
            attempts += bucket.attempts;
            failures += bucket.failures;
        }
        let handled: u32 = per_second.iter().sum();
        let watched_secs = self
            .started_ms
            .map_or(1.0, |start| ((now_ms - start) / 1000.0).max(1.0))
            .min(WINDOW_SECONDS as f64);
        Snapshot {
            throughput: f64::from(handled) / watched_secs,
            per_second,
            error_rate: (attempts >= MIN_ATTEMPTS_FOR_RATE)
                .then(|| f64::from(failures) / f64::from(attempts)),
            attempts,
            last_event_micros: self.last_event.map(|(micros, _)| micros),
            latency: self.latency(now_ms),
        }
    }
}

/// Seconds between an event's source timestamp and now; `None` when nothing
/// waits (the queue is caught up).
pub fn lag_seconds(oldest_waiting_micros: Option<i64>, now_ms: f64) -> Option<f64> {
    oldest_waiting_micros.map(|micros| (now_ms / 1000.0 - micros as f64 / 1e6).max(0.0))
}

/// The backlog, counted now and then by the server and estimated in
/// between from the events handled since: the count is never asked for per
/// event.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    counted: Option<u64>,
    /// Events handled (the ledger's count) when the server counted.
    handled_at_count: u64,
    /// The largest backlog since it was last empty: the progress bar's 100 %.
    peak: u64,
}

impl Backlog {
    /// The server counted `rows` after the cursor, when `handled` events
    /// had been handled.
    pub fn counted(&mut self, rows: u64, handled: u64) {
        self.counted = Some(rows);
        self.handled_at_count = handled;
        self.peak = if rows == 0 { 0 } else { self.peak.max(rows) };
    }

    /// The best estimate now, given the ledger's count.
    pub fn estimate(&self, handled: u64) -> Option<u64> {
        let since = handled.saturating_sub(self.handled_at_count);
        self.counted.map(|rows| rows.saturating_sub(since))
    }

    /// How far through catching up (0–1), while there is a backlog.
    pub fn progress(&self, handled: u64) -> Option<f64> {
        let left = self.estimate(handled)?;
        (left > 0 && self.peak > 0).then(|| 1.0 - left as f64 / self.peak as f64)
    }
}

/// Seconds until the backlog is empty at the current throughput.
pub fn time_to_empty(backlog: u64, throughput: f64) -> Option<f64> {
    (backlog > 0 && throughput > 0.0).then(|| backlog as f64 / throughput)
}

/// "4 s", "3 min 20 s", "2 h 5 min": short, and exact enough to act on.
pub fn format_duration(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    match total {
        0..=59 => format!("{total} s"),
        60..=3599 => format!("{} min {} s", total / 60, total % 60),
        _ => format!("{} h {} min", total / 3600, (total % 3600) / 60),
    }
}

/// Time at the gate: milliseconds while short, else as a duration.
pub fn format_duration_ms(ms: f64) -> String {
    if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format_duration(ms / 1000.0)
    }
}

/// How fresh the source's figures are: "not read yet", "updated just now",
/// "updated 3 s ago" (whole seconds, so it changes once a second at most).
pub fn updated_ago(last_read_ms: Option<f64>, now_ms: f64) -> String {
    match last_read_ms {
        None => "not read yet".into(),
        Some(at) => match ((now_ms - at) / 1000.0).max(0.0).round() as u64 {
            0 => "updated just now".into(),
            seconds => format!("updated {seconds} s ago"),
        },
    }
}

/// The points of an SVG polyline drawing `values` in a `width`×`height`
/// box, highest value at the top.
pub fn sparkline_points(values: &[u32], width: f64, height: f64) -> String {
    let top = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = width / (values.len().saturating_sub(1).max(1)) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = i as f64 * step;
            let y = height - (*v as f64 / top) * height;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: f64 = 1_700_000_000_000.0;

    #[test]
    fn throughput_is_averaged_over_the_time_watched_then_over_a_minute() {
        let mut metrics = Metrics::default();
        for i in 0..10 {
            metrics.record_handled(T + i as f64 * 100.0, 0);
        }
        // Ten events in the first second: 10/s, not 10/60.
        assert_eq!(metrics.snapshot(T + 999.0).throughput, 10.0);
        // Five seconds later the same ten events average 2/s.
        assert_eq!(metrics.snapshot(T + 5_000.0).throughput, 2.0);
        // After the minute the window slides: 120 events in the last minute.
        let mut steady = Metrics::default();
        for i in 0..240 {
            steady.record_handled(T + i as f64 * 500.0, 0);
        }
        let snapshot = steady.snapshot(T + 119_999.0);
        assert_eq!(snapshot.per_second.len(), WINDOW_SECONDS);
        assert_eq!(snapshot.per_second.iter().sum::<u32>(), 120);
        assert_eq!(snapshot.throughput, 2.0);
    }

    #[test]
    fn old_seconds_slide_out_of_the_window() {
        let mut metrics = Metrics::default();
        metrics.record_handled(T, 0);
        metrics.record_attempt(T, false, 10.0);
        let later = metrics.snapshot(T + 61_000.0);
        assert_eq!(later.throughput, 0.0);
        assert_eq!(later.attempts, 0);
        assert_eq!(later.per_second.iter().sum::<u32>(), 0);
        // The newest second is last, for the sparkline.
        metrics.record_handled(T + 61_000.0, 0);
        assert_eq!(metrics.snapshot(T + 61_500.0).per_second[59], 1);
        assert_eq!(metrics.buckets.len(), 1, "memory stays bounded");
    }

    #[test]
    fn error_rate_needs_enough_attempts_and_counts_failures() {
        let mut metrics = Metrics::default();
        for ok in [true, false, true, true] {
            metrics.record_attempt(T, ok, 10.0);
        }
        assert_eq!(metrics.snapshot(T).error_rate, None);
        metrics.record_attempt(T + 10.0, false, 10.0);
        assert_eq!(metrics.snapshot(T + 10.0).error_rate, Some(0.4));
        assert_eq!(metrics.snapshot(T + 70_000.0).error_rate, None);
    }

    #[test]
    fn latency_is_the_median_and_p95_of_the_last_minute() {
        let mut metrics = Metrics::default();
        assert_eq!(metrics.snapshot(T).latency, None);
        // An old, slow attempt, then 100 of 1..=100 ms within the minute.
        metrics.record_attempt(T, true, 60_000.0);
        for took in 1..=100 {
            metrics.record_attempt(T + 30_000.0, true, f64::from(took));
        }
        let latency = metrics.snapshot(T + 61_000.0).latency.unwrap();
        assert_eq!((latency.median_ms, latency.p95_ms), (50.0, 95.0));
        for _ in 0..MAX_LATENCY_SAMPLES {
            metrics.record_attempt(T + 40_000.0, true, 1.0);
        }
        assert_eq!(metrics.latencies.len(), MAX_LATENCY_SAMPLES, "bounded");
    }

    #[test]
    fn lag_is_the_age_of_the_oldest_waiting_event() {
        let micros = (T as i64 - 90_000) * 1000;
        assert_eq!(lag_seconds(Some(micros), T), Some(90.0));
        assert_eq!(lag_seconds(None, T), None);
        // A clock behind the database never shows a negative lag.
        assert_eq!(lag_seconds(Some((T as i64 + 5_000) * 1000), T), Some(0.0));
    }

    #[test]
    fn the_backlog_is_estimated_between_counts_and_tracks_its_peak() {
        let mut backlog = Backlog::default();
        assert_eq!(backlog.estimate(0), None);
        backlog.counted(400, 100);
        assert_eq!(backlog.estimate(250), Some(250));
        assert_eq!(backlog.progress(250), Some(0.375));
        assert_eq!(backlog.estimate(900), Some(0));
        assert_eq!(backlog.progress(900), None);
        backlog.counted(0, 500);
        backlog.counted(10, 500);
        assert_eq!(
            backlog.progress(505),
            Some(0.5),
            "the peak restarts after empty"
        );
        assert_eq!(time_to_empty(300, 20.0), Some(15.0));
        assert_eq!(time_to_empty(300, 0.0), None);
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(format_duration(4.4), "4 s");
        assert_eq!(format_duration(200.0), "3 min 20 s");
        assert_eq!(format_duration(7_500.0), "2 h 5 min");
    }

    #[test]
    fn the_sparkline_fills_its_box() {
        assert_eq!(
            sparkline_points(&[0, 2, 1], 10.0, 4.0),
            "0.0,4.0 5.0,0.0 10.0,2.0"
        );
        assert_eq!(sparkline_points(&[0, 0], 10.0, 4.0), "0.0,4.0 10.0,4.0");
    }

    #[test]
    fn freshness_and_short_durations_read_in_words() {
        assert_eq!(updated_ago(None, 5_000.0), "not read yet");
        assert_eq!(updated_ago(Some(5_000.0), 5_400.0), "updated just now");
        assert_eq!(updated_ago(Some(5_000.0), 8_200.0), "updated 3 s ago");
        assert_eq!(
            updated_ago(Some(9_000.0), 8_000.0),
            "updated just now",
            "a clock step back"
        );
        assert_eq!(format_duration_ms(42.4), "42 ms");
        assert_eq!(format_duration_ms(75_000.0), "1 min 15 s");
    }

    #[test]
    fn a_snapshot_taken_with_a_clock_behind_the_last_record_counts_it_now() {
        let mut metrics = Metrics::default();
        metrics.record_handled(10_500.0, 1);
        metrics.record_handled(11_200.0, 2);
        let snapshot = metrics.snapshot(10_900.0);
        assert_eq!(snapshot.per_second.iter().sum::<u32>(), 2);
        assert_eq!(snapshot.per_second[WINDOW_SECONDS - 1], 2);
    }
}
