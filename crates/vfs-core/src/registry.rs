use std::path::PathBuf;
use std::sync::Arc;

use crate::Provider;

/// The id under which the command line's MOUNTPOINT stands in the matches `build` receives
/// (a `PathBuf`; absent for `vfs tree`, and when the user gave none). The command line owns
/// that argument for every provider: a provider declares no MOUNTPOINT of its own.
pub const MOUNTPOINT_ARG: &str = "mountpoint";

/// How a provider makes itself known to the `vfs` command line.
///
/// Register one with [`crate::register_provider!`] in the provider's crate; the binary must
/// link that crate (`use my_provider as _;`), or the linker drops the registration.
pub struct ProviderRegistration {
    /// The name users type: `vfs mount NAME …`.
    pub name: &'static str,
    /// One line for `vfs providers`, the "Providers:" list of `vfs mount --help` and the top of
    /// `vfs mount NAME --help` (the doc comment of a derived `clap::Args` type is not shown).
    pub about: &'static str,
    /// Adds the provider's own arguments to the subcommand clap builds for it (`mount NAME`,
    /// `tree NAME`, `sync NAME`). The command line adds MOUNTPOINT itself, after them.
    pub args: fn(clap::Command) -> clap::Command,
    /// Builds the provider from the parsed arguments. Cheap and offline: connecting to the
    /// source belongs in `Provider::start`.
    pub build: fn(&clap::ArgMatches) -> Result<Built, BuildError>,
    /// Where `vfs mount NAME` mounts when the user gives no MOUNTPOINT (relative to the current
    /// folder, e.g. `.dockerfs`); `None`: a MOUNTPOINT must be given.
    pub default_mountpoint: Option<&'static str>,
}

/// What [`ProviderRegistration::build`] returns.
pub struct Built {
    pub provider: Arc<dyn Provider>,
    /// Leave it `None` (as [`Built::new`] does): the mount goes to the command line's
    /// MOUNTPOINT, else to the registration's default. Only a provider that reads the
    /// MOUNTPOINT word itself (DockerFS takes `SOURCE MOUNTPOINT` in either order, and reads
    /// [`MOUNTPOINT_ARG`] to tell them apart) sets it; it then wins.
    pub mountpoint: Option<PathBuf>,
}

impl Built {
    /// A built provider that mounts where the command line says.
    pub fn new(provider: impl Provider) -> Built {
        Built {
            provider: Arc::new(provider),
            mountpoint: None,
        }
    }
}

/// A user's arguments that a provider cannot build from: shown as one line,
/// `PROGRAM: error: NAME: TEXT`, exit status 2.
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
/// The usual form takes the provider's arguments as a [`clap::Args`] type and a `build`
/// function from it (`fn(Args) -> Result<Built, BuildError>`):
///
/// ```
/// use std::time::SystemTime;
///
/// use vfs_core::clap;
/// use vfs_core::{BuildError, Built, Content, Node, NodePath, Provider, ProviderError};
///
/// #[derive(clap::Args)]
/// struct HelloArgs {
///     /// What greeting.txt says
///     #[arg(long, default_value = "Hello, world!")]
///     greeting: String,
/// }
///
/// struct Hello(String);
///
/// #[vfs_core::async_trait]
/// impl Provider for Hello {
///     async fn root(&self) -> Result<Node, ProviderError> {
///         Ok(Node::directory("", SystemTime::UNIX_EPOCH))
///     }
///     async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
///         Err(ProviderError::NotFound(dir.clone()))
///     }
///     async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
///         Ok(self.0.as_str().into())
///     }
/// }
///
/// fn build_hello(args: HelloArgs) -> Result<Built, BuildError> {
///     Ok(Built::new(Hello(args.greeting)))
/// }
///
/// vfs_core::register_provider! {
///     name: "hello",
///     about: "A greeting as a file",
///     args: HelloArgs,
///     build: build_hello,
///     // Optional: where `mount hello` mounts without a MOUNTPOINT (else one is required).
///     default_mountpoint: ".hello",
/// }
/// # fn main() {}
/// ```
///
/// The command line adds MOUNTPOINT after the provider's arguments (for `mount` and `sync`,
/// not `tree`): declare none. A provider that builds its arguments by hand gives
/// `command: fn(clap::Command) -> clap::Command` and `build: fn(&clap::ArgMatches) -> Result<Built,
/// BuildError>` instead of `args` and `build`.
#[macro_export]
macro_rules! register_provider {
    (@default) => { ::core::option::Option::None };
    (@default $mountpoint:expr) => { ::core::option::Option::Some($mountpoint) };
    (
        name: $name:expr,
        about: $about:expr,
        args: $args:ty,
        build: $build:expr
        $(, default_mountpoint: $mountpoint:expr)? $(,)?
    ) => {
        $crate::inventory::submit! {
            $crate::ProviderRegistration {
                name: $name,
                about: $about,
                args: <$args as $crate::clap::Args>::augment_args,
                build: |matches| {
                    let parsed = <$args as $crate::clap::FromArgMatches>::from_arg_matches(matches)
                        .map_err(|error| $crate::BuildError(error.to_string()))?;
                    ($build)(parsed)
                },
                default_mountpoint: $crate::register_provider!(@default $($mountpoint)?),
            }
        }
    };
    (
        name: $name:expr,
        about: $about:expr,
        command: $command:expr,
        build: $build:expr
        $(, default_mountpoint: $mountpoint:expr)? $(,)?
    ) => {
        $crate::inventory::submit! {
            $crate::ProviderRegistration {
                name: $name,
                about: $about,
                args: $command,
                build: $build,
                default_mountpoint: $crate::register_provider!(@default $($mountpoint)?),
            }
        }
    };
}
