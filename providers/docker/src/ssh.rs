//! An engine over SSH the way the docker CLI reaches one: `ssh … HOST docker system dial-stdio`
//! runs on the remote machine and joins its stdin and stdout to the engine's socket, so one
//! `ssh` process is one connection. Running the user's own `ssh` keeps `~/.ssh/config`, the
//! agent, known hosts and jump hosts working exactly as they do for the CLI.

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// Where `ssh://[user@]host[:port]` points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Docker source {0:?}: not an ssh://[user@]host[:port] address")]
pub struct BadSshAddress(pub String);

impl SshTarget {
    pub fn parse(address: &str) -> Result<SshTarget, BadSshAddress> {
        let bad = || BadSshAddress(address.to_string());
        let rest = address.strip_prefix("ssh://").ok_or_else(bad)?;
        // The docker CLI refuses a path, a query or a fragment too.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(bad());
        }
        let (user, host_port) = match rest.rsplit_once('@') {
            Some((user, host_port)) if !user.is_empty() => (Some(user.to_string()), host_port),
            Some(_) => return Err(bad()),
            None => (None, rest),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| bad())?;
                (host, Some(port))
            }
            _ => (host_port, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.starts_with('-') {
            return Err(bad());
        }
        Ok(SshTarget {
            user,
            host: host.to_string(),
            port,
        })
    }

    /// The `ssh` arguments, as the docker CLI's connection helper builds them.
    pub fn ssh_args(&self) -> Vec<String> {
        let mut args = vec![
            "-o".to_string(),
            "ConnectTimeout=30".to_string(),
            "-T".to_string(),
        ];
        if let Some(user) = &self.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        args.extend(["--".to_string(), self.host.clone()]);
        args.extend(["docker", "system", "dial-stdio"].map(str::to_string));
        args
    }

    /// Starts one `ssh` process: one connection to the engine.
    pub fn dial(&self) -> io::Result<SshStream> {
        let mut child = Command::new("ssh")
            .args(self.ssh_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The pool drops a connection it no longer wants: the process must go with it.
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| io::Error::new(error.kind(), format!("cannot run ssh: {error}")))?;
        let missing = || io::Error::other("ssh: no pipe");
        Ok(SshStream {
            stdin: child.stdin.take().ok_or_else(missing)?,
            stdout: child.stdout.take().ok_or_else(missing)?,
            stderr: child.stderr.take().ok_or_else(missing)?,
            _child: child,
            got_data: false,
            said: Vec::new(),
        })
    }
}

/// One `ssh` process's stdout and stdin as a byte stream.
pub struct SshStream {
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
    _child: Child,
    /// Whether the engine ever answered: an end before that is ssh failing (authentication,
    /// an unknown host, no docker on the remote), and what ssh printed is the explanation.
    got_data: bool,
    said: Vec<u8>,
}

impl AsyncRead for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stdout).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.got_data = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(())) if !this.got_data => {
                // ssh ended without a byte from the engine: read what it said, to the end.
                loop {
                    let mut chunk = [0u8; 1024];
                    let mut chunk_buf = ReadBuf::new(&mut chunk);
                    match Pin::new(&mut this.stderr).poll_read(cx, &mut chunk_buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) if !chunk_buf.filled().is_empty() => {
                            this.said.extend_from_slice(chunk_buf.filled());
                        }
                        Poll::Ready(_) => break,
                    }
                }
                let said = String::from_utf8_lossy(&this.said);
                let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!("ssh ended before the engine answered: {said}"),
                )))
            }
            other => other,
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_the_docker_cli_takes_them() {
        assert_eq!(
            SshTarget::parse("ssh://me@engine.example:2222").unwrap(),
            SshTarget {
                user: Some("me".into()),
                host: "engine.example".into(),
                port: Some(2222)
            }
        );
        let plain = SshTarget::parse("ssh://engine").unwrap();
        assert_eq!(plain.user, None);
        assert_eq!(plain.port, None);
        assert_eq!(
            plain.ssh_args(),
            [
                "-o",
                "ConnectTimeout=30",
                "-T",
                "--",
                "engine",
                "docker",
                "system",
                "dial-stdio"
            ]
        );
        assert!(SshTarget::parse("ssh://engine/path").is_err());
        assert!(SshTarget::parse("ssh://-oProxyCommand=x").is_err());
        assert!(SshTarget::parse("ssh://h:notaport").is_err());
    }
}
