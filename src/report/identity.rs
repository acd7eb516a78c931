//! Accounting identities: equations a run's own counts must satisfy (`expected deliveries =
//! delivered + missing`), checked when its report is built and shown in every format. One that
//! does not hold is blast's own bug or a lost result: a warning naming the figure, and exit 1.

use serde::Serialize;

/// One identity, as checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The figure the identity accounts for (`expected deliveries`).
    pub figure: &'static str,
    /// The figure's value.
    pub value: u64,
    /// The parts it must equal the sum of, by name.
    pub parts: Vec<(&'static str, u64)>,
    pub holds: bool,
}

impl Identity {
    /// `figure = value` must be the sum of `parts`.
    pub fn check(figure: &'static str, value: u64, parts: &[(&'static str, u64)]) -> Identity {
        let sum = parts.iter().fold(0u64, |a, (_, n)| a.saturating_add(*n));
        Identity { figure, value, parts: parts.to_vec(), holds: sum == value }
    }

    /// `expected deliveries 100 = delivered 98 + missing 2`, with `!=` where it does not hold.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self.parts.iter().map(|(name, n)| format!("{name} {n}")).collect();
        let sign = if self.holds { "=" } else { "!=" };
        format!("{} {} {sign} {}", self.figure, self.value, parts.join(" + "))
    }

    /// The warning when it does not hold.
    pub fn warning(&self) -> Option<String> {
        (!self.holds).then(|| {
            format!(
                "accounting identity broken: {} (a result was lost or miscounted: blast's own bug; the report's {} cannot be trusted)",
                self.line(),
                self.figure
            )
        })
    }
}

/// The identities on one line (`; ` between them).
pub fn lines(identities: &[Identity]) -> String {
    identities.iter().map(Identity::line).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_holds_only_when_its_parts_add_up() {
        // 98 delivered + 2 missing of 100 expected: holds, no warning.
        let ok = Identity::check("expected deliveries", 100, &[("delivered", 98), ("missing", 2)]);
        assert!(ok.holds && ok.warning().is_none());
        assert_eq!(ok.line(), "expected deliveries 100 = delivered 98 + missing 2");
        // One result lost: the warning names the figure and both sides.
        let lost = Identity::check("established connections", 20, &[("confirmed", 18), ("unconfirmed", 1)]);
        let w = lost.warning().expect("broken");
        assert!(w.contains("established connections 20 != confirmed 18 + unconfirmed 1"), "{w}");
        // Counted twice is as wrong as lost.
        assert!(!Identity::check("x", 1, &[("a", 1), ("b", 1)]).holds);
    }
}
