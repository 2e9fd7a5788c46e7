//! The vfs command line

/// Placeholder until the command line lands.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::FAILURE
}
