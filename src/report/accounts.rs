//! The accounting identities of an open-loop run, for the run and each name: every slot the
//! schedule reached was sent, dropped or not sent; every request sent completed, failed without
//! a response, or was still in flight when the run ended. The counts come from separate paths
//! of the engine (`engine::recorder::Accounting`), so an identity that does not hold is blast's
//! own bug or a lost result: the report names the figure, warns, and the run fails.

use crate::engine::recorder::{ErrorKind, Recorder};
use crate::report::identity::Identity;
use serde::Serialize;

/// Where the requests of a run (or of one name) ended up, and whether it adds up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accounts {
    /// Slots of the measured window the schedule reached; `None` for a name that is not
    /// scheduled itself (a flow's step runs as part of its flow's iterations).
    pub scheduled: Option<u64>,
    pub sent: u64,
    /// Refused at once: every connection was busy and the queue was full.
    pub dropped: u64,
    /// Never written (no connection could be opened, or the run ended first).
    pub not_sent: u64,
    /// Got a complete response, any status.
    pub completed: u64,
    /// Written, then failed without a complete response (timeout, reset, closed, malformed).
    pub failed_without_response: u64,
    /// Written and still unanswered when the run ended.
    pub in_flight_at_end: u64,
    /// Each identity that does not hold, with its figures (empty when all hold).
    pub broken: Vec<String>,
}

impl Accounts {
    /// The accounts of `r`; `scheduled`: whether its name is scheduled itself.
    pub fn of(r: &Recorder, scheduled: bool) -> Accounts {
        let a = r.accounting;
        let mut accounts = Accounts {
            scheduled: scheduled.then_some(a.scheduled),
            sent: r.sent,
            dropped: r.errors_of(ErrorKind::Dropped),
            not_sent: a.not_sent,
            completed: r.completed,
            failed_without_response: a.no_response,
            in_flight_at_end: a.in_flight,
            broken: Vec::new(),
        };
        accounts.broken = accounts.check();
        accounts
    }

    /// The two identities (the first only for a name that is scheduled itself).
    fn identities(&self) -> Vec<Identity> {
        let mut all = Vec::with_capacity(2);
        if let Some(scheduled) = self.scheduled {
            let parts = [("sent", self.sent), ("dropped", self.dropped), ("not sent", self.not_sent)];
            all.push(Identity::check("scheduled", scheduled, &parts));
        }
        let parts = [
            ("completed", self.completed),
            ("failed without response", self.failed_without_response),
            ("in flight at the end", self.in_flight_at_end),
        ];
        all.push(Identity::check("sent", self.sent, &parts));
        all
    }

    /// Each identity that does not hold, with its figures.
    fn check(&self) -> Vec<String> {
        self.identities().iter().filter(|i| !i.holds).map(Identity::line).collect()
    }

    pub fn holds(&self) -> bool {
        self.broken.is_empty()
    }

    /// Both identities with their figures, and whether they hold.
    pub fn line(&self) -> String {
        let scheduled = match self.scheduled {
            Some(s) => {
                format!("scheduled {s} = {} sent + {} dropped + {} not sent; ", self.sent, self.dropped, self.not_sent)
            }
            None => String::new(),
        };
        let verdict = if self.holds() { "adds up" } else { "DOES NOT ADD UP" };
        format!(
            "{scheduled}sent {} = {} completed + {} failed without response + {} in flight at the end: {verdict}",
            self.sent, self.completed, self.failed_without_response, self.in_flight_at_end
        )
    }

    /// The warning for each identity that does not hold, `of` naming whose figures they are.
    pub fn warnings(&self, of: &str) -> Vec<String> {
        self.broken.iter().map(|b| format!("accounting ({of}): {b}: a result was lost or miscounted")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_identity_is_checked_on_its_own() {
        let mut r = Recorder::new();
        // 5 scheduled: 3 sent (1 answered, 1 timed out, 1 cut at the end), 1 dropped, 1 not sent.
        r.accounting.scheduled = 5;
        r.sent = 3;
        r.completed = 1;
        r.accounting.no_response = 1;
        r.accounting.in_flight = 1;
        r.record_error(ErrorKind::Dropped);
        r.accounting.not_sent = 1;
        let a = Accounts::of(&r, true);
        assert!(a.holds(), "{:?}", a.broken);
        assert!(a.line().ends_with("adds up"), "{}", a.line());
        // One answer lost: the second identity names it.
        r.completed = 0;
        let a = Accounts::of(&r, true);
        assert_eq!(a.broken.len(), 1);
        assert!(a.broken[0].starts_with("sent 3 != completed 0"), "{}", a.broken[0]);
        // A slot lost before sending: the first.
        r.completed = 1;
        r.accounting.scheduled = 6;
        let a = Accounts::of(&r, true);
        assert!(a.broken[0].starts_with("scheduled 6 != sent 3"), "{}", a.broken[0]);
        // A step (not scheduled itself) is held to the second identity only.
        assert!(Accounts::of(&r, false).holds());
    }
}
