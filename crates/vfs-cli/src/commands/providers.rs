//! `vfs providers`: the providers linked into this binary.

use vfs_core::ProviderRegistration;

/// One line per provider: its name, padded, and its one-line description.
fn lines(registrations: &[&'static ProviderRegistration]) -> Vec<String> {
    let width = registrations
        .iter()
        .map(|registration| registration.name.len())
        .max()
        .unwrap_or(0);
    registrations
        .iter()
        .map(|registration| format!("{:width$}  {}", registration.name, registration.about))
        .collect()
}

pub fn run(registrations: &[&'static ProviderRegistration]) -> anyhow::Result<()> {
    if registrations.is_empty() {
        tracing::warn!("this binary links no provider: link one with `use my_provider as _;`");
    }
    super::print_lines(lines(registrations))
}

#[cfg(test)]
mod tests {
    use vfs_core::{BuildError, Built};

    use super::*;

    fn never_built(_: &clap::ArgMatches) -> Result<Built, BuildError> {
        Err(BuildError("not used".to_owned()))
    }

    static SHORT: ProviderRegistration = ProviderRegistration {
        name: "git",
        about: "Short name",
        args: |command| command,
        build: never_built,
        default_mountpoint: None,
    };

    static LONG: ProviderRegistration = ProviderRegistration {
        name: "docker",
        about: "Longer name",
        args: |command| command,
        build: never_built,
        default_mountpoint: None,
    };

    #[test]
    fn names_are_aligned_before_their_description() {
        assert_eq!(
            lines(&[&LONG, &SHORT]),
            ["docker  Longer name", "git     Short name"]
        );
    }
}
