//! The logged-in users HTTP probes are sent as (`--login` with HTTP probes): each connection
//! puts its user's probe credentials here when its login succeeds and takes them out when the
//! server refuses them (an auth close, a refused upgrade); the publisher rotates over the users
//! present, one probe each in turn, and puts back what a login again after a refused probe
//! captured.

use crate::workloads::ws::login::ProbeCredentials;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The users' probe credentials, by user, shared by the cores of one process.
#[derive(Default)]
pub struct ProbeUsers {
    users: Mutex<BTreeMap<u64, Arc<ProbeCredentials>>>,
}

impl ProbeUsers {
    /// User `c.user` logged in: its probes carry `c` from now on.
    pub fn set(&self, c: ProbeCredentials) -> Arc<ProbeCredentials> {
        let c = Arc::new(c);
        self.lock().insert(c.user, c.clone());
        c
    }

    /// User `user`'s credentials were refused: no probe is sent as it until it logs in again.
    pub fn remove(&self, user: u64) {
        self.lock().remove(&user);
    }

    /// The first user from `from` on that is present, else the first of all (round-robin).
    pub fn next_from(&self, from: u64) -> Option<Arc<ProbeCredentials>> {
        let users = self.lock();
        users.range(from..).next().or_else(|| users.iter().next()).map(|(_, c)| c.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ProbeCredentials>>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: u64) -> ProbeCredentials {
        ProbeCredentials { user, token: Some(format!("t{user}")), headers: Vec::new() }
    }

    #[test]
    fn probes_rotate_over_the_users_present() {
        let u = ProbeUsers::default();
        assert!(u.next_from(0).is_none(), "nobody logged in");
        for user in [1, 3, 5] {
            u.set(creds(user));
        }
        let mut from = 0;
        let mut seen = Vec::new();
        for _ in 0..4 {
            let c = u.next_from(from).expect("a user");
            seen.push(c.user);
            from = c.user + 1;
        }
        assert_eq!(seen, [1, 3, 5, 1]);
        u.remove(3);
        assert_eq!(u.next_from(2).map(|c| c.user), Some(5), "a refused user is skipped");
        u.set(ProbeCredentials { token: Some("new".into()), ..creds(5) });
        assert_eq!(u.next_from(4).and_then(|c| c.token.clone()).as_deref(), Some("new"), "the newer login");
    }
}
