//! A string that must never be printed: Debug and Display show a redaction.

use std::fmt;

/// Holds a secret (AWS secret key, session token). It has no `Serialize`
/// impl on purpose, so it can never end up in an IPC response or a file.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call sites are few and easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(***)")
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Sensitive::new("wJalrXUtnFEMI/K7MDENG");
        assert!(!format!("{s:?} {s}").contains("wJalr"));
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG");
    }
}
