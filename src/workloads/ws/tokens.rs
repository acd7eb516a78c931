//! `blast ws --tokens FILE`: the bearer tokens the connections take in turn, read once before
//! the run and registered as secrets so that no report or error prints them.

use std::path::Path;

/// The tokens of `path`: one a line, blank lines and `#` comments skipped; each is registered
/// as a secret (never printed). An empty file is an error: it would run unauthenticated.
pub fn read(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--tokens {}: {e}", path.display()))?;
    let tokens: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
    for t in &tokens {
        crate::redact::secret(t);
    }
    if tokens.is_empty() {
        return Err(format!("--tokens {}: no token in the file (one a line)", path.display()));
    }
    Ok(tokens)
}
