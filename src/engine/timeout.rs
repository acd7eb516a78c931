//! A connection's call timeout without a timer per call: one timer per connection, armed
//! lazily. Each call only notes its own deadline; the timer stays armed at an earlier call's
//! deadline and, when it fires while a later call runs, is moved to that call's deadline. On a
//! busy connection the timer is touched about once per timeout period instead of being armed
//! and cleared for every request (tokio's `timeout` registers and removes a timer entry per
//! call). A call still times out at exactly its own deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Poll, Waker};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The call did not finish within its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// One connection's reusable timeout.
pub struct LazyTimeout {
    sleep: Pin<Box<Sleep>>,
    /// Where the timer is armed now (at or before the running call's deadline).
    armed: Instant,
    /// The waker the timer was last polled with since it was armed: it stays registered with
    /// the timer, so while calls are polled with the same waker (the same task) the timer is
    /// only looked at (`is_elapsed`), not polled again for every pending poll of every call.
    registered: Option<Waker>,
}

impl Default for LazyTimeout {
    fn default() -> Self {
        let now = Instant::now();
        LazyTimeout { sleep: Box::pin(tokio::time::sleep_until(now)), armed: now, registered: None }
    }
}

impl LazyTimeout {
    /// Runs `fut` for at most `limit` from now. The future is taken pinned where its caller
    /// made it: a request's future is over a kilobyte, and taken by value it would be copied
    /// into this one's state and that into the caller's, for every request.
    pub async fn run<F: Future>(&mut self, limit: Duration, mut fut: Pin<&mut F>) -> Result<F::Output, Elapsed> {
        let deadline = Instant::now() + limit;
        if self.armed > deadline {
            // A shorter limit than the last call's: the timer must not fire after this one's.
            self.armed = deadline;
            self.sleep.as_mut().reset(deadline);
            self.registered = None;
        }
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            loop {
                let waker_registered = self.registered.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
                // Polled only when it may have fired (then the poll says for sure) or when this
                // waker is not the one it holds.
                if waker_registered && !self.sleep.is_elapsed() {
                    return Poll::Pending;
                }
                // A task out of its scheduling budget gets Pending from the timer without its
                // waker being registered (tokio re-polls the task instead): only a poll made with
                // budget left may be trusted to have registered it.
                let had_budget = tokio::task::coop::has_budget_remaining();
                if self.sleep.as_mut().poll(cx).is_pending() {
                    self.registered = had_budget.then(|| cx.waker().clone());
                    return Poll::Pending;
                }
                // The timer fired (or was left behind by an earlier call): this call's
                // deadline has passed, or the timer moves to it.
                if self.armed >= deadline || Instant::now() >= deadline {
                    return Poll::Ready(Err(Elapsed));
                }
                self.armed = deadline;
                self.sleep.as_mut().reset(deadline);
                self.registered = None;
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;

    fn on_runtime(f: impl Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(f);
    }

    #[test]
    fn calls_in_time_return_and_a_late_call_times_out_at_its_own_deadline() {
        on_runtime(async {
            let mut t = LazyTimeout::default();
            for _ in 0..20 {
                assert_eq!(t.run(Duration::from_millis(50), pin!(async { 7 })).await, Ok(7));
                let quick = t.run(Duration::from_millis(50), pin!(tokio::time::sleep(Duration::from_millis(1)))).await;
                assert_eq!(quick, Ok(()));
            }
            // The timer is still armed at an earlier call's deadline: the slow call must run
            // past it and end at its own.
            let started = std::time::Instant::now();
            let slow = t.run(Duration::from_millis(60), pin!(tokio::time::sleep(Duration::from_secs(5)))).await;
            let took = started.elapsed();
            assert_eq!(slow, Err(Elapsed));
            assert!(took >= Duration::from_millis(60), "timed out early: {took:?}");
            assert!(took < Duration::from_millis(1000), "timed out late: {took:?}");
            // And it can be used again after a timeout.
            assert_eq!(t.run(Duration::from_millis(50), pin!(async { 1 })).await, Ok(1));
        });
    }

    /// The timer fires while a call runs (it was armed at an earlier call's deadline) and is
    /// moved to this call's deadline in a poll where the call left the task one unit of its
    /// scheduling budget: the poll that finds it fired takes that unit, and the timer's next poll
    /// gets Pending without its waker registered. The call must still end at its deadline.
    #[test]
    fn a_call_that_used_up_the_budget_still_times_out() {
        /// Pending on its first poll; on its second (the timer's wake-up) takes all but one
        /// unit of the task's budget (tokio gives a task 128 per poll); never finishes.
        struct DrainOnSecondPoll(u32);
        impl Future for DrainOnSecondPoll {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
                self.0 += 1;
                if self.0 == 2 {
                    for _ in 0..127 {
                        let mut unit = pin!(tokio::task::coop::consume_budget());
                        if unit.as_mut().poll(cx).is_pending() {
                            break;
                        }
                    }
                }
                Poll::Pending
            }
        }
        on_runtime(async {
            let mut t = LazyTimeout::default();
            // A call that waits once arms the timer at its deadline, 100 ms out.
            assert_eq!(t.run(Duration::from_millis(100), pin!(tokio::task::yield_now())).await, Ok(()));
            let started = std::time::Instant::now();
            let stall = pin!(DrainOnSecondPoll(0));
            let call = t.run(Duration::from_millis(300), stall);
            let ended = tokio::time::timeout(Duration::from_secs(3), call).await;
            assert_eq!(ended, Ok(Err(Elapsed)), "the call's timeout never fired");
            assert!(started.elapsed() >= Duration::from_millis(300), "timed out early");
        });
    }
}
