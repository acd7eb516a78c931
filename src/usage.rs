//! The usage error: bad input or configuration, found before anything is sent. Printed as one
//! line, exit code 2. Every layer may return it (a scenario file's `file:line: field` error, a
//! bad `--sla`), so it lives below them all.

/// A user or configuration error: printed as one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl<T: Into<String>> From<T> for UsageError {
    fn from(s: T) -> Self {
        UsageError(s.into())
    }
}
