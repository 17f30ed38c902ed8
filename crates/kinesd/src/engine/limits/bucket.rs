//! A token bucket on a monotonic clock: `rate` tokens a second, at most `capacity` held.
//!
//! Invariant: `tokens <= capacity`. Tokens may go below zero only through [`TokenBucket::charge`]
//! (a cost known after the fact, like the bytes a GetRecords returned) or when a single cost is
//! larger than the whole capacity (a 10 MiB record on a 1 MiB/s shard): that debt is repaid at
//! `rate`, and until it is, nothing else is admitted — AWS's "burst tank" that a large record
//! empties and that then refills at the shard's sustained rate.

/// Nanoseconds on the limits' own monotonic clock.
pub type Nanos = u64;

/// Rounding slack when comparing token counts (far below any record or byte).
const EPSILON: f64 = 1e-6;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: Nanos,
}

impl TokenBucket {
    /// A full bucket; `rate` tokens a second with one second's worth of burst.
    pub fn per_second(rate: f64, now: Nanos) -> TokenBucket {
        TokenBucket { rate, capacity: rate, tokens: rate, updated: now }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Changes the rate (and the one-second capacity with it), keeping what is held.
    pub fn set_rate(&mut self, rate: f64, now: Nanos) {
        self.refill(now);
        self.rate = rate;
        self.capacity = rate;
        self.tokens = self.tokens.min(rate);
    }

    fn refill(&mut self, now: Nanos) {
        if now > self.updated {
            let elapsed = (now - self.updated) as f64 / 1e9;
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
            self.updated = now;
        }
    }

    /// Whether `cost` tokens could be taken now: the bucket holds them, or — for a cost larger
    /// than the whole capacity — the bucket is full.
    pub fn can_take(&mut self, cost: f64, now: Nanos) -> bool {
        self.refill(now);
        // A token refilled in steps sums to a hair under one in floating point.
        self.tokens + EPSILON >= cost.min(self.capacity)
    }

    /// Takes `cost` tokens, which [`TokenBucket::can_take`] has allowed.
    pub fn take(&mut self, cost: f64) {
        self.tokens -= cost;
    }

    /// Takes `cost` if it can be taken; whether it was.
    pub fn try_take(&mut self, cost: f64, now: Nanos) -> bool {
        let ok = self.can_take(cost, now);
        if ok {
            self.take(cost);
        }
        ok
    }

    /// Whether anything is left (a call whose cost is only known afterwards may start).
    pub fn has_credit(&mut self, now: Nanos) -> bool {
        self.refill(now);
        self.tokens > 0.0
    }

    /// What the bucket holds now (negative while in debt).
    pub fn balance(&mut self, now: Nanos) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// Charges a cost known after the fact; the bucket may go into debt.
    pub fn charge(&mut self, cost: f64, now: Nanos) {
        self.refill(now);
        self.tokens -= cost;
    }

    /// Charges what other nodes took from their copies of this bucket, going into debt down to
    /// `seconds` of the rate at most (a debt already deeper, from a local charge, stays): the
    /// debt stops local admissions until the rate has repaid it, and its floor bounds how long
    /// any report, however large, can block this node.
    pub fn debit(&mut self, cost: f64, seconds: f64, now: Nanos) {
        self.refill(now);
        let floor = self.tokens.min(-seconds * self.capacity);
        self.tokens = (self.tokens - cost).max(floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Nanos = 1_000_000_000;

    #[test]
    fn a_full_bucket_admits_exactly_its_capacity_then_refills_at_its_rate() {
        let mut b = TokenBucket::per_second(10.0, 0);
        assert_eq!((0..15).filter(|_| b.try_take(1.0, 1)).count(), 10);
        assert!(!b.try_take(1.0, SECOND / 20), "half a token after 50 ms");
        assert!(b.try_take(1.0, SECOND / 10), "one token after 100 ms");
        assert_eq!((0..15).filter(|_| b.try_take(1.0, 5 * SECOND)).count(), 10, "never more than the capacity");
    }

    #[test]
    fn a_cost_larger_than_the_capacity_needs_a_full_bucket_and_leaves_a_debt() {
        let mut b = TokenBucket::per_second(1.0, 0);
        assert!(b.try_take(10.0, 0), "a full bucket takes a 10x record");
        assert!(!b.try_take(0.5, 8 * SECOND), "the debt is repaid at the rate: 9 s");
        assert!(b.try_take(0.5, 9 * SECOND + SECOND / 2));
    }

    #[test]
    fn debits_go_into_debt_down_to_their_floor_only() {
        let mut b = TokenBucket::per_second(10.0, 0);
        b.debit(25.0, 2.0, 0);
        assert_eq!(b.balance(0), -15.0);
        b.debit(100.0, 2.0, 0);
        assert_eq!(b.balance(0), -20.0, "never below two seconds of the rate");
        b.charge(30.0, 0);
        b.debit(5.0, 2.0, 0);
        assert_eq!(b.balance(0), -50.0, "a deeper local debt stays as it is");
    }

    #[test]
    fn charges_after_the_fact_block_calls_until_repaid() {
        let mut b = TokenBucket::per_second(2.0, 0);
        assert!(b.has_credit(0));
        b.charge(10.0, 0);
        assert!(!b.has_credit(3 * SECOND + SECOND / 2));
        assert!(b.has_credit(4 * SECOND + 1));
    }
}
