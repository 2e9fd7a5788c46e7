//! `vfs completions SHELL` and `vfs man`: generated from the same clap definition as the
//! command line itself (so a provider's own arguments are in them too), by clap_complete and
//! clap_mangen.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context as _;
use clap_complete::Shell;

/// The completion script for `shell`, for a binary called `program`, on stdout.
pub fn completions(mut command: clap::Command, program: &str, shell: Shell) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, program, &mut script);
    write_stdout(&script)
}

/// The man page of `program` (section 1) on stdout, or with `dir` one page per command
/// (`vfs.1`, `vfs-mount.1`, `vfs-mount-docker.1`, …) written there.
pub fn man(command: clap::Command, dir: Option<&Path>) -> anyhow::Result<()> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("cannot write man pages to {}", dir.display()))
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .context("cannot render the man page")?;
            write_stdout(&page)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}
