//! Which profile a run is gated against: the one `--profile` names, resolved before anything
//! is measured ([`resolve_profile`]); `auto` is built later from the GPUs found.

use crate::gate::{self, Profile};

/// The profile `--profile` names, loaded before anything is measured; None for `auto` (built
/// from the GPUs found). Names behave the same everywhere: `auto`, like the built-in names, in
/// any case.
pub fn resolve_profile(
    name: Option<&str>,
) -> Result<Option<(Profile, String)>, gate::ProfileError> {
    match name {
        None => Ok(None),
        Some(p) if p.eq_ignore_ascii_case("auto") => Ok(None),
        Some(p) => gate::load_profile(p).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--profile AUTO` is `auto`, as `G2.LARGE` is g2.large (it was refused).
    #[test]
    fn profile_names_are_case_insensitive_auto_included() {
        for auto in ["auto", "AUTO", "Auto"] {
            assert!(resolve_profile(Some(auto)).unwrap().is_none(), "{auto}");
        }
        assert!(resolve_profile(None).unwrap().is_none());
        let (p, origin) = resolve_profile(Some("G2.LARGE")).unwrap().unwrap();
        assert_eq!((p.name.as_str(), origin.as_str()), ("g2.large", "builtin"));
        assert!(resolve_profile(Some("g9.huge")).is_err());
    }
}
