//! The logged-in users HTTP probes are sent as (`--login` with HTTP probes): each connection
//! puts its user's probe credentials here when its login succeeds and takes them out when the
//! server refuses them (an auth close, a refused upgrade); the publisher rotates over the users
//! present, one probe each in turn, and puts back what a login again after a refused probe
//! captured. Each user's last login state (its jar, its captures) is kept here too, whether its
//! credentials are refused or not: a login again of the user, the probe's or its connection's,
//! starts from the newer of its own and this one, as one browser's would.

use crate::workloads::ws::login::{ProbeCredentials, UserLogin};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The users' probe credentials and last logins, by user, shared by the cores of one process.
#[derive(Default)]
pub struct ProbeUsers {
    users: Mutex<Users>,
}

#[derive(Default)]
struct Users {
    /// The users probes are sent as: their credentials, not known to be refused.
    probing: BTreeMap<u64, Arc<ProbeCredentials>>,
    /// Each user's last login (`UserLogin::carried`).
    logins: HashMap<u64, UserLogin>,
}

impl ProbeUsers {
    /// User `c.user` logged in (`login`: what it carries into its next login): its probes
    /// carry `c` from now on.
    pub fn set(&self, c: ProbeCredentials, login: UserLogin) -> Arc<ProbeCredentials> {
        let c = Arc::new(c);
        let mut users = self.lock();
        users.probing.insert(c.user, c.clone());
        users.logins.insert(c.user, login);
        c
    }

    /// User `user`'s credentials were refused: no probe is sent as it until it logs in again
    /// (which starts from its last login, kept).
    pub fn remove(&self, user: u64) {
        self.lock().probing.remove(&user);
    }

    /// A copy of user `user`'s last login, when it is newer than one of `logins` logins (a
    /// login of the user elsewhere since).
    pub fn login_newer_than(&self, user: u64, logins: u64) -> Option<UserLogin> {
        self.lock().logins.get(&user).filter(|l| l.logins > logins).map(UserLogin::carried)
    }

    /// The first user from `from` on that is present, else the first of all (round-robin).
    pub fn next_from(&self, from: u64) -> Option<Arc<ProbeCredentials>> {
        let users = self.lock();
        let probing = &users.probing;
        probing.range(from..).next().or_else(|| probing.iter().next()).map(|(_, c)| c.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Users> {
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
            u.set(creds(user), UserLogin::default());
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
        u.set(ProbeCredentials { token: Some("new".into()), ..creds(5) }, UserLogin::default());
        assert_eq!(u.next_from(4).and_then(|c| c.token.clone()).as_deref(), Some("new"), "the newer login");
    }

    #[test]
    fn a_users_last_login_is_kept_past_a_refusal_and_given_when_newer() {
        let u = ProbeUsers::default();
        assert!(u.login_newer_than(1, 0).is_none(), "never logged in");
        let login = |n: u64| {
            let mut l = UserLogin::default();
            l.logins = n;
            l
        };
        u.set(creds(1), login(2));
        u.remove(1);
        assert!(u.next_from(0).is_none(), "refused: no probe as it");
        assert_eq!(u.login_newer_than(1, 1).map(|l| l.logins), Some(2), "kept past the refusal");
        assert!(u.login_newer_than(1, 2).is_none(), "the caller's own is as new");
        assert!(u.login_newer_than(2, 0).is_none(), "another user's");
    }
}
