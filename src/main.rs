// The providers are linked here so that their `inventory` registrations survive linking.
use vfs_docker as _;
use vfs_gitconfig as _;

fn main() -> std::process::ExitCode {
    vfs_cli::main()
}
