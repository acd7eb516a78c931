//! Known, injected misbehaviour of the embedded target, so blast's numbers can be checked
//! against the truth: a fixed added delay, periodic stalls in which nothing is answered, and
//! idle keep-alive connections closed after a timeout. Every hold is measured as applied
//! (`Held`) and sent back in the `x-blast-hold-us` header, so tests judge blast against what
//! the target really did, not against what it was asked to do.

use std::time::{Duration, Instant};

/// When a request that arrived at some instant may be answered.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Added to every answer of `POST /v1/messages`.
    pub delay: Duration,
    /// Every `every`, starting `every` after the server started, nothing is answered for `length`.
    pub stall: Option<Stall>,
    /// Added before a posted message is broadcast to its WebSocket subscribers.
    pub broadcast_delay: Duration,
    /// Close a keep-alive connection once it has been idle (no request in progress) this long,
    /// as most servers do (uvicorn 5 s, nginx 75 s).
    pub keepalive_timeout: Option<Duration>,
    /// The upload API stores the n-th chunk it receives (1-based, counted over the run)
    /// corrupted: its first byte flipped in the object, so that upload's SHA-256 is wrong.
    pub corrupt_chunk: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    pub every: Duration,
    pub length: Duration,
}

impl Faults {
    /// No delay or stall on answers (a broadcast delay does not delay the answer).
    pub fn is_none(&self) -> bool {
        self.delay.is_zero() && self.stall.is_none()
    }

    /// The instant at which a request that arrived at `arrived` is answered, for a server that
    /// started at `started`: after the delay, pushed past the end of any stall it falls in.
    pub fn release_at(&self, started: Instant, arrived: Instant) -> Instant {
        let mut release = arrived + self.delay;
        if let Some(s) = self.stall {
            let since = release.saturating_duration_since(started);
            if since >= s.every {
                let phase = Duration::from_nanos((since.as_nanos() % s.every.as_nanos()) as u64);
                if phase < s.length {
                    release += s.length - phase;
                }
            }
        }
        release
    }
}

/// The response header carrying the hold the target applied, in whole microseconds (the
/// header the generators read: `crate::http::codec::TARGET_TIME_HEADER`).
pub const HOLD_HEADER: &str = crate::http::codec::TARGET_TIME_HEADER;

/// A hold as the target applied it: from the request's arrival at the handler to its release
/// (timer overshoot on a busy machine included).
#[derive(Clone, Copy, Debug)]
pub struct Held(pub Duration);

impl Held {
    /// The header value: whole microseconds, rounded down (the truth is never overstated).
    pub fn header_value(self) -> String {
        self.0.as_micros().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_table() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let f = Faults { delay: ms(10), stall: Some(Stall { every: ms(1000), length: ms(200) }), ..Faults::default() };
        // (arrived after start, answered after start)
        let rows = [
            (0, 10),      // before the first stall: just the delay
            (500, 510),   // between stalls
            (995, 1200),  // delay ends inside the stall at 1000..1200: answered at its end
            (1100, 1200), // arrived mid-stall
            (1190, 1200), // release at 1200 is exactly the end: not stalled
            (2050, 2200), // second stall
            (1300, 1310),
        ];
        for (arrived, want) in rows {
            let got = f.release_at(t0, t0 + ms(arrived)) - t0;
            assert_eq!(got, ms(want), "arrived at {arrived} ms");
        }
    }
}
