// Without this line the linker drops the crate, and with it the provider's registration:
// `hello-vfs providers` would list nothing.
use hello_provider as _;

fn main() -> std::process::ExitCode {
    vfs_cli::main()
}
