//! An SSH server of a test's own: Debian's `sshd` on a loopback port with keys generated for
//! the test, and an `ssh` client configuration that reaches it by a host alias. Logging in as
//! root is allowed (the key only), so `docker system dial-stdio` run through it reaches the
//! machine's engine as the docker CLI's `ssh://` hosts do.
//!
//! `ssh` reads `~/.ssh/config` from the account's home in the password database, not from
//! `$HOME`, so a test cannot hand it a configuration by setting `HOME`. [`Sshd::client_path`]
//! is a folder with an `ssh` that runs `/usr/bin/ssh -F <the test's config>`: a process given
//! that folder first in its `PATH` runs `ssh` by name, as the docker CLI does, and gets the
//! test's host alias, port, user and key.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long sshd may take to listen (it does in a few milliseconds).
const START_LIMIT: Duration = Duration::from_secs(10);

/// A running `sshd -D` on `127.0.0.1:port`; stopped when dropped.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    pid: Option<i32>,
}

/// The host alias the client configuration gives the server.
pub const HOST_ALIAS: &str = "vfs-ssh-engine";

impl Sshd {
    /// Generates the host and client keys and the configurations, and starts sshd on a free
    /// loopback port.
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("vfs-sshd-")
            .tempdir()
            .expect("a folder for sshd");
        let root = dir.path();
        for key in ["host_key", "client_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(root.join(key))
                .stdout(Stdio::null())
                .status()
                .expect("run ssh-keygen");
            assert!(status.success(), "ssh-keygen {key} failed");
        }
        std::fs::copy(root.join("client_key.pub"), root.join("authorized_keys"))
            .expect("authorized_keys");
        let port = free_port();
        let path = |name: &str| root.join(name).display().to_string();
        let server = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n",
            path("host_key"),
            path("authorized_keys"),
        );
        std::fs::write(root.join("sshd_config"), server).expect("sshd_config");
        // The alias gives the address, port and user; every host gets the key, so that
        // `ssh://root@127.0.0.1:PORT` works through the same file.
        let client = format!(
            "Host {HOST_ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n\
             Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  BatchMode yes\n  \
             StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            path("client_key"),
        );
        std::fs::write(root.join("ssh_config"), client).expect("ssh_config");
        let bin = root.join("bin");
        std::fs::create_dir(&bin).expect("bin folder");
        let wrapper = bin.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
                path("ssh_config")
            ),
        )
        .expect("ssh wrapper");
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the ssh wrapper");
        let mut sshd = Sshd {
            dir,
            port,
            pid: None,
        };
        sshd.resume();
        sshd
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A folder holding an `ssh` that uses the test's client configuration; put it first in
    /// `PATH`.
    pub fn client_path(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// `client_path` before the current `PATH`: the `PATH` to give a process.
    pub fn path_env(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string());
        format!("{}:{rest}", self.client_path().display())
    }

    /// Runs `ssh HOST_ALIAS command` through the test's configuration; its stdout.
    pub fn run(&self, command: &str) -> String {
        let output = Command::new(self.client_path().join("ssh"))
            .args([HOST_ALIAS, command])
            .stdin(Stdio::null())
            .output()
            .expect("run ssh");
        assert!(
            output.status.success(),
            "ssh {HOST_ALIAS} {command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The process ids of sshd's connection processes (one per client connection).
    pub fn connections(&self) -> Vec<i32> {
        match self.pid {
            Some(pid) => children_of(pid),
            None => Vec::new(),
        }
    }

    /// Ends every client connection (its sshd process is killed): the clients see their
    /// connection drop. The server keeps listening.
    pub fn drop_connections(&self) -> usize {
        let connections = self.connections();
        for pid in &connections {
            // SAFETY: kill(2) of a process our own sshd forked; no memory is touched.
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
            }
        }
        connections.len()
    }

    /// Stops the server and every connection: nothing answers on the port until
    /// [`Sshd::resume`].
    pub fn stop(&mut self) {
        let Some(pid) = self.pid.take() else { return };
        let connections = children_of(pid);
        // SAFETY: signals the process group of the sshd this guard started in its own session,
        // and the connection processes it forked.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            for child in connections {
                libc::kill(child, libc::SIGKILL);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
    }

    /// Starts sshd (again) on the same port, and waits until it accepts connections.
    pub fn resume(&mut self) {
        if self.pid.is_some() {
            return;
        }
        let root = self.dir.path();
        // sshd refuses to start without its privilege separation folder.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("sshd.log"))
            .expect("sshd log");
        let err = log.try_clone().expect("clone the log handle");
        let child = Command::new("setsid")
            .arg("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(root.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start sshd");
        let pid = i32::try_from(child.id()).expect("a pid");
        // The guard reaps it (waitpid in stop); the `Child` is not kept.
        std::mem::forget(child);
        self.pid = Some(pid);
        let deadline = Instant::now() + START_LIMIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen on port {} within {START_LIMIT:?}; its log:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What sshd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback port (bound and released: the server binds it right after).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("its address").port()
}

/// The processes whose parent is `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|candidate| {
            std::fs::read_to_string(format!("/proc/{candidate}/stat")).is_ok_and(|stat| {
                // The fields after the command (which may hold spaces) start after its `)`.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}
