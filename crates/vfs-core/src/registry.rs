use std::path::PathBuf;
use std::sync::Arc;

use crate::Provider;

/// How a provider makes itself known to the `vfs` command line.
///
/// Register one with [`crate::register_provider!`] (or `vfs_core::inventory::submit!`) in the
/// provider's crate; the binary must link that crate (`use my_provider as _;`), or the linker
/// drops the registration.
pub struct ProviderRegistration {
    /// The name users type: `vfs mount NAME …`.
    pub name: &'static str,
    /// One line for `vfs providers`.
    pub about: &'static str,
    /// Adds the provider's own arguments to the subcommand clap builds for it.
    pub args: fn(clap::Command) -> clap::Command,
    /// Builds the provider from the parsed arguments. Cheap and offline: connecting to the
    /// source belongs in `Provider::start`.
    pub build: fn(&clap::ArgMatches) -> Result<Built, BuildError>,
}

/// What [`ProviderRegistration::build`] returns.
pub struct Built {
    pub provider: Arc<dyn Provider>,
    /// Where to mount when the command is `mount`: providers choose where the mountpoint
    /// stands among their arguments (and may give a default).
    pub mountpoint: Option<PathBuf>,
}

/// A user's arguments that a provider cannot build from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

inventory::collect!(ProviderRegistration);

/// Every provider linked into this binary, sorted by name.
pub fn registrations() -> Vec<&'static ProviderRegistration> {
    let mut all: Vec<_> = inventory::iter::<ProviderRegistration>
        .into_iter()
        .collect();
    all.sort_by_key(|registration| registration.name);
    all
}

/// The provider registered under `name`.
pub fn find_registration(name: &str) -> Option<&'static ProviderRegistration> {
    inventory::iter::<ProviderRegistration>
        .into_iter()
        .find(|registration| registration.name == name)
}

/// Registers a provider with the `vfs` command line.
///
/// ```ignore
/// vfs_core::register_provider! {
///     name: "hello",
///     about: "A greeting as a file",
///     args: |command| command.arg(vfs_core::clap::Arg::new("mountpoint").required(true)),
///     build: build_hello,
/// }
/// ```
#[macro_export]
macro_rules! register_provider {
    (name: $name:expr, about: $about:expr, args: $args:expr, build: $build:expr $(,)?) => {
        $crate::inventory::submit! {
            $crate::ProviderRegistration {
                name: $name,
                about: $about,
                args: $args,
                build: $build,
            }
        }
    };
}
