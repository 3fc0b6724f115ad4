//! The rate limit of `POST /auth/v1/token`, per client IP, as GoTrue sets it
//! (supabase/auth internal/api/apilimiter/apilimiter.go: a tollbooth limiter,
//! i.e. a token bucket, of `GOTRUE_RATE_LIMIT_TOKEN_REFRESH` requests per
//! five minutes, 150 by default, with a burst of 30). Every token request
//! counts, whatever its grant and outcome; one over the limit is answered
//! 429 `over_request_rate_limit` "Request rate limit reached"
//! (api/middleware.go, `performRateLimiting`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    /// `per_five_minutes` requests each five minutes, after a burst.
    pub fn per_five_minutes(per_five_minutes: f64, burst: u32) -> Self {
        Self {
            per_second: per_five_minutes / 300.0,
            burst: f64::from(burst),
        }
    }
}

impl Bucket {
    pub fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.burst,
            at: now,
        }
    }

    /// Takes one request from the bucket if it holds one.
    pub fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One bucket per client IP. A rate with no burst turns the limit off.
pub struct Limiter {
    rate: Rate,
    buckets: HashMap<IpAddr, Bucket>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: HashMap::new(),
        }
    }

    pub fn allow(&mut self, client: IpAddr, now: Instant) -> bool {
        if self.rate.burst <= 0.0 {
            return true;
        }
        // Buckets that have refilled completely are dropped, so that the map
        // stays as small as the set of recent clients.
        if self.buckets.len() > 10_000 {
            let rate = self.rate;
            self.buckets.retain(|_, bucket| {
                let mut probe = *bucket;
                probe.take(rate, now);
                probe.tokens + 1.0 < rate.burst
            });
        }
        let rate = self.rate;
        self.buckets
            .entry(client)
            .or_insert_with(|| Bucket::full(rate, now))
            .take(rate, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_steady_rate() {
        // GoTrue's defaults: 150 per five minutes (one each 2 s), burst 30.
        let rate = Rate::per_five_minutes(150.0, 30);
        let start = Instant::now();
        let mut bucket = Bucket::full(rate, start);
        for i in 0..30 {
            assert!(bucket.take(rate, start), "request {i}");
        }
        assert!(!bucket.take(rate, start), "the 31st at once is over");
        assert!(!bucket.take(rate, start + Duration::from_millis(1900)));
        assert!(bucket.take(rate, start + Duration::from_millis(2100)));
        assert!(!bucket.take(rate, start + Duration::from_millis(2200)));
        // An idle minute refills 30, no more than the burst.
        let later = start + Duration::from_secs(600);
        for _ in 0..30 {
            assert!(bucket.take(rate, later));
        }
        assert!(!bucket.take(rate, later));
    }

    #[test]
    fn each_client_has_its_own_bucket_and_no_burst_means_no_limit() {
        let now = Instant::now();
        let mut limiter = Limiter::new(Rate::per_five_minutes(1.0, 2));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(limiter.allow(a, now));
        assert!(limiter.allow(a, now));
        assert!(!limiter.allow(a, now));
        assert!(limiter.allow(b, now));
        let mut open = Limiter::new(Rate::per_five_minutes(0.0, 0));
        for _ in 0..1000 {
            assert!(open.allow(a, now));
        }
    }
}
