//! Support for the tests against the real Docker engine: the docker CLI as oracle, unique
//! names, cleanup guards, a lock that keeps the engine-restart test apart, a TCP forwarder.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use vfs_core::{walk, ChangeNotifier, ChangeReceiver, Node, NodeKind, NodePath, Notice, Provider};
use vfs_docker::{parse_rfc3339, DockerProvider, DockerSource};

// Shared with the other test crates: the CI rule, the engine lock the restart test takes
// exclusively, and the docker CLI as oracle. Not every test binary uses every one.
#[allow(unused_imports)]
pub use vfs_testkit::{
    docker::{docker, docker_in},
    engine::EngineLock,
    env::{docker_available, in_ci},
};

/// `docker … inspect` of one object, parsed.
pub fn inspect(kind: &str, id: &str) -> serde_json::Value {
    let text = docker(&[kind, "inspect", id]);
    let mut all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("inspect JSON");
    assert_eq!(all.len(), 1);
    all.remove(0)
}

pub fn time_of(value: &serde_json::Value, pointer: &str) -> SystemTime {
    let text = value
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {value}"));
    parse_rfc3339(text).unwrap_or_else(|| panic!("{pointer} = {text:?} is not a time"))
}

pub fn short_hex(id: &str) -> String {
    id.trim().trim_start_matches("sha256:").to_string()
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A lowercase name unique to this process and call (image references must be lowercase).
pub fn unique(stem: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "vfst{}x{}{}{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed),
        nanos % 1000,
        stem
    )
}

/// Everything a test made on the engine, removed on drop even when the test fails.
#[derive(Default)]
pub struct Cleanup {
    pub containers: Vec<String>,
    pub images: Vec<String>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
    /// (project, compose file)
    pub compose: Vec<(String, PathBuf)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("docker")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        // By label, not `docker-compose down`: the compose file may be gone already.
        for (project, _) in &self.compose {
            let label = format!("label=com.docker.compose.project={project}");
            for (list, remove) in [
                (&["ps", "-aq", "--filter"][..], &["rm", "-f", "-v"][..]),
                (
                    &["network", "ls", "-q", "--filter"][..],
                    &["network", "rm"][..],
                ),
            ] {
                let mut args: Vec<&str> = list.to_vec();
                args.push(&label);
                let found = Command::new("docker").args(&args).output();
                if let Ok(found) = found {
                    let ids = String::from_utf8_lossy(&found.stdout).into_owned();
                    for id in ids.split_whitespace() {
                        let mut args: Vec<&str> = remove.to_vec();
                        args.push(id);
                        quiet(&args);
                    }
                }
            }
        }
        for container in &self.containers {
            quiet(&["rm", "-f", "-v", container]);
        }
        for image in self.images.iter().rev() {
            quiet(&["rmi", "-f", image]);
        }
        for volume in &self.volumes {
            quiet(&["volume", "rm", "-f", volume]);
        }
        for network in &self.networks {
            quiet(&["network", "rm", network]);
        }
    }
}

/// A busybox root filesystem imported as `reference` (no registry needed); returns its id.
pub fn import_busybox(cleanup: &mut Cleanup, reference: &str) -> String {
    let root = tempfile::tempdir().expect("temp dir");
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox");
    for applet in ["sh", "sleep", "cat", "echo", "true", "ls"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let tar = root.path().join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(root.path())
        .args(["-cf"])
        .arg(&tar)
        .arg("bin")
        .status()
        .expect("run tar");
    assert!(status.success());
    let id = docker(&[
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        tar.to_str().unwrap(),
        reference,
    ]);
    let id = short_hex(&id);
    // The id first: removed last, after every image built on it (cleanup runs in reverse).
    cleanup.images.push(id.clone());
    cleanup.images.push(reference.to_string());
    id
}

/// `DOCKER_BUILDKIT=0 docker build -t TAG DIR` writing `Dockerfile` and `files` first;
/// returns the image id.
pub fn build(cleanup: &mut Cleanup, dir: &Path, tag: &str) -> String {
    docker_in(
        &["build", "-q", "-t", tag, "."],
        Some(dir),
        &[("DOCKER_BUILDKIT", "0")],
    );
    cleanup.images.push(tag.to_string());
    let id = short_hex(&docker(&["image", "inspect", "--format", "{{.Id}}", tag]));
    cleanup.images.push(id.clone());
    id
}

pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let mut file = File::create(dir.join(name)).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }
}

/// A started provider with a notice receiver (dropping the provider ends its watcher task).
pub struct Started {
    pub provider: Arc<DockerProvider>,
    pub notices: ChangeReceiver,
}

pub fn default_source() -> DockerSource {
    DockerSource::new("unix:///var/run/docker.sock", "test")
}

pub async fn start(source: DockerSource) -> Started {
    let provider = vfs_docker::provider_for(source);
    let (notifier, notices) = ChangeNotifier::channel();
    provider.start(notifier).await.expect("provider starts");
    Started { provider, notices }
}

/// The whole tree by path (`/images/.abc` …).
pub async fn tree(provider: &DockerProvider) -> HashMap<String, Node> {
    walk(provider)
        .await
        .expect("walk")
        .into_iter()
        .map(|entry| (entry.path.to_string(), entry.node))
        .collect()
}

pub fn link_target(node: &Node) -> String {
    match &node.kind {
        NodeKind::Symlink { target } => String::from_utf8_lossy(target.as_bytes()).into_owned(),
        other => panic!("{:?} is not a symlink: {other:?}", node.name),
    }
}

/// `target` resolved against the folder holding `link_path`, as the kernel would.
pub fn resolve(link_path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = link_path
        .split('/')
        .filter(|part| !part.is_empty())
        .collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "" | "." => {}
            name => parts.push(name),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Polls the tree until `check` holds; returns how long it took, or panics after `limit`.
pub async fn wait_for<F>(
    provider: &DockerProvider,
    limit: Duration,
    what: &str,
    check: F,
) -> Duration
where
    F: Fn(&HashMap<String, Node>) -> bool,
{
    let started = Instant::now();
    loop {
        if check(&tree(provider).await) {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the provider made no engine call for `quiet` (the event replay after start).
pub async fn settle(provider: &DockerProvider, quiet: Duration) {
    let mut last = provider.engine_calls();
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    while since.elapsed() < quiet && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = provider.engine_calls();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

/// True when a notice covers `path` (it or one of its ancestors).
/// Whether one of `notices` tells the host of a change at `path` (see `Notice::covers`).
pub fn covered(notices: &[Notice], path: &str) -> bool {
    let path = NodePath::parse(path);
    notices.iter().any(|notice| notice.covers(&path))
}

/// The notices that arrive until every one of `paths` is covered, waiting at most a second
/// (issue 3's bound). The provider replaces its tree before it sends the notices, so a test
/// that has just seen the new tree may be a few microseconds ahead of them.
pub async fn notices_covering(notices: &ChangeReceiver, paths: &[&str]) -> Vec<Notice> {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut arrived = notices.pending();
    while Instant::now() < deadline && !paths.iter().all(|path| covered(&arrived, path)) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        arrived.extend(notices.pending());
    }
    arrived
}

pub fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}

/// Exposes a unix socket on 127.0.0.1 (a tcp:// engine without a second dockerd).
pub struct TcpForwarder {
    address: std::net::SocketAddr,
    connections: Arc<AtomicU32>,
}

impl TcpForwarder {
    pub fn start(socket: &str) -> TcpForwarder {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&connections);
        let socket = socket.to_string();
        // The thread lives as long as the test process; it only copies bytes.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(engine) = std::os::unix::net::UnixStream::connect(&socket) else {
                    continue;
                };
                counted.fetch_add(1, Ordering::Relaxed);
                let (Ok(mut client_in), Ok(mut engine_in)) =
                    (client.try_clone(), engine.try_clone())
                else {
                    continue;
                };
                let (mut client_out, mut engine_out) = (client, engine);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_in, &mut engine_out);
                    let _ = engine_out.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut engine_in, &mut client_out);
                    let _ = client_out.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        TcpForwarder {
            address,
            connections,
        }
    }

    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::Relaxed)
    }
}
