//! DockerFS against engines other than the machine's local socket, mounted through the `vfs`
//! binary: a TLS engine (a throwaway dockerd on a loopback port with certificates made by
//! openssl here) reached through every spelling the docker CLI has for TLS.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fuse_available, run, VfsMount};
use vfs_testkit::throwaway::{program_available, Throwaway};

/// A free loopback port (bound and released: the engine binds it right after).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("its address").port()
}

fn openssl(dir: &Path, args: &[&str]) {
    run("openssl", args, Some(dir));
}

/// A CA, an engine certificate for 127.0.0.1 and a client certificate, as `dockerd --tlsverify`
/// and the docker CLI's `DOCKER_CERT_PATH` name them: `ca.pem`, `server-cert.pem`,
/// `server-key.pem`, `cert.pem`, `key.pem`.
fn make_certificates(dir: &Path, ca_name: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=vfs test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca-key.pem", "-out", ca_name]);
    openssl(dir, &ca);
    for (name, cn, ext) in [
        (
            "server",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "vfs client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let (key, cert) = if name == "server" {
            ("server-key.pem", "server-cert.pem")
        } else {
            ("key.pem", "cert.pem")
        };
        let mut request = vec!["req", "-new", "-subj"];
        let subject = format!("/CN={cn}");
        request.push(&subject);
        request.extend(ec);
        request.extend(["-keyout", key, "-out", "request.csr"]);
        openssl(dir, &request);
        std::fs::write(dir.join("ext.cnf"), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "request.csr",
                "-CA",
                ca_name,
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                cert,
            ],
        );
    }
}

/// A throwaway dockerd serving TLS (client certificates required) on a loopback port.
struct TlsEngine {
    engine: Throwaway,
    certs: PathBuf,
    address: String,
    image_id: String,
}

impl TlsEngine {
    fn start() -> TlsEngine {
        let certs = tempfile::Builder::new()
            .prefix("vfs-tls-")
            .tempdir()
            .unwrap()
            .keep();
        make_certificates(&certs, "ca.pem");
        let address = format!("127.0.0.1:{}", free_port());
        let file = |name: &str| certs.join(name).display().to_string();
        let engine = Throwaway::dockerd(&[
            "--tlsverify",
            "--tlscacert",
            &file("ca.pem"),
            "--tlscert",
            &file("server-cert.pem"),
            "--tlskey",
            &file("server-key.pem"),
            "-H",
            &format!("tcp://{address}"),
        ]);
        let image_id = engine.import_busybox("tls/base:1");
        TlsEngine {
            engine,
            certs,
            address,
            image_id,
        }
    }

    fn file(&self, name: &str) -> String {
        self.certs.join(name).display().to_string()
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.certs);
    }
}

/// Waits until `path` exists under the mount (a stat through the kernel), or panics.
fn wait_for_path(path: &Path, limit: Duration) -> Duration {
    let started = Instant::now();
    while std::fs::symlink_metadata(path).is_err() {
        assert!(
            started.elapsed() < limit,
            "{} not within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

/// The mount shows the engine's image, its inspect file holds the engine's own JSON (the raw
/// client over TLS), and a tag made meanwhile shows within a second (the event stream, bollard
/// over TLS).
fn check_mount(tls: &TlsEngine, mount: &VfsMount, new_tag: &str) {
    let root = mount.path();
    let file = root.join(format!("images/.{}", tls.image_id));
    assert!(root.join("images/tls/base/1").exists());
    let served = std::fs::read_to_string(&file).expect("read the inspect file over TLS");
    assert_eq!(served, tls.engine.cli(&["image", "inspect", &tls.image_id]));
    tls.engine
        .cli(&["tag", "tls/base:1", &format!("tls/{new_tag}:1")]);
    let took = wait_for_path(
        &root.join(format!("images/tls/{new_tag}/1")),
        Duration::from_secs(1),
    );
    eprintln!("{new_tag}: the tag showed after {took:?}");
    let meta = std::fs::metadata(&file).unwrap();
    assert!(meta.mtime() > 0);
}

fn mount_point(scratch: &Path, name: &str) -> PathBuf {
    let path = scratch.join(name);
    std::fs::create_dir_all(&path).unwrap();
    path
}

#[test]
fn a_tls_engine_mounts_through_every_spelling_the_docker_cli_has() {
    if !fuse_available() || !program_available("dockerd") || !program_available("openssl") {
        return;
    }
    let tls = TlsEngine::start();
    let scratch = tempfile::tempdir().unwrap();
    let tcp = format!("tcp://{}", tls.address);
    let https = format!("https://{}", tls.address);
    let certs = tls.certs.display().to_string();
    let (ca, cert, key) = (
        tls.file("ca.pem"),
        tls.file("cert.pem"),
        tls.file("key.pem"),
    );

    // The CLI's flags.
    let mnt = mount_point(scratch.path(), "flags");
    let mnt_text = mnt.display().to_string();
    let mount = VfsMount::start(
        &[
            "mount",
            "docker",
            "--tlsverify",
            "--tlscacert",
            &ca,
            "--tlscert",
            &cert,
            "--tlskey",
            &key,
            "-H",
            &tcp,
            &mnt_text,
        ],
        &mnt,
    );
    check_mount(&tls, &mount, "byflags");
    drop(mount);

    // DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
    let mnt = mount_point(scratch.path(), "env");
    let mnt_text = mnt.display().to_string();
    let mount = VfsMount::start_with_env(
        &["mount", "docker", &mnt_text],
        &mnt,
        &[
            ("DOCKER_HOST", &tcp),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", &certs),
        ],
    );
    check_mount(&tls, &mount, "byenv");
    drop(mount);

    // https:// (TLS implied; the files from DOCKER_CERT_PATH).
    let mnt = mount_point(scratch.path(), "https");
    let mnt_text = mnt.display().to_string();
    let mount = VfsMount::start_with_env(
        &["mount", "docker", &https, &mnt_text],
        &mnt,
        &[("DOCKER_CERT_PATH", &certs)],
    );
    check_mount(&tls, &mount, "byhttps");
    drop(mount);

    // DOCKER_TLS: encrypted, the engine's certificate not checked (the client's still shown).
    let mnt = mount_point(scratch.path(), "tlsonly");
    let mnt_text = mnt.display().to_string();
    let mount = VfsMount::start_with_env(
        &["mount", "docker", &mnt_text],
        &mnt,
        &[
            ("DOCKER_HOST", &tcp),
            ("DOCKER_TLS", "1"),
            ("DOCKER_CERT_PATH", &certs),
        ],
    );
    check_mount(&tls, &mount, "bytls");
    drop(mount);

    // A context made by the docker CLI with its TLS material (copied into the context store).
    let config = tempfile::tempdir().unwrap();
    let config_dir = config.path().display().to_string();
    let docker_with_config = |args: &[&str]| {
        let status = Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", &config_dir)
            .stdout(Stdio::null())
            .status()
            .expect("run docker");
        assert!(status.success(), "docker {args:?}");
    };
    docker_with_config(&[
        "context",
        "create",
        "tlsctx",
        "--docker",
        &format!("host={tcp},ca={ca},cert={cert},key={key}"),
    ]);
    docker_with_config(&["context", "use", "tlsctx"]);
    let mnt = mount_point(scratch.path(), "context");
    let mnt_text = mnt.display().to_string();
    let mount = VfsMount::start_with_env(
        &["mount", "docker", &mnt_text],
        &mnt,
        &[
            ("DOCKER_CONFIG", &config_dir),
            ("DOCKER_CERT_PATH", "/nonexistent"),
        ],
    );
    check_mount(&tls, &mount, "bycontext");
    drop(mount);
}

/// A wrong CA, a missing file: `vfs mount` fails at once with one line that names the file.
#[test]
fn a_tls_mismatch_is_one_line_naming_the_file() {
    if !fuse_available() || !program_available("dockerd") || !program_available("openssl") {
        return;
    }
    let tls = TlsEngine::start();
    let other = tempfile::tempdir().unwrap();
    make_certificates(other.path(), "other-ca.pem");
    let wrong_ca = other.path().join("other-ca.pem").display().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let mnt = mount_point(scratch.path(), "mnt");
    let tcp = format!("tcp://{}", tls.address);
    let (cert, key) = (tls.file("cert.pem"), tls.file("key.pem"));
    let fail = |ca: &str, cert: &str, key: &str| {
        let output = Command::new(common::vfs_binary())
            .args([
                "mount",
                "docker",
                "--tlsverify",
                "--tlscacert",
                ca,
                "--tlscert",
                cert,
                "--tlskey",
                key,
                "-H",
                &tcp,
            ])
            .arg(&mnt)
            .stdin(Stdio::null())
            .output()
            .expect("run vfs");
        assert!(!output.status.success(), "mounted with {ca}");
        assert!(!common::is_mounted(&mnt));
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|line| line.contains("error"))
            .collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        lines[0].to_string()
    };
    let line = fail(&wrong_ca, &cert, &key);
    eprintln!("{line}");
    assert!(line.contains(&wrong_ca), "{line}");
    assert!(line.contains("not accepted"), "{line}");

    // The engine refuses a client certificate from another CA: the certificate is named.
    let other_cert = other.path().join("cert.pem").display().to_string();
    let other_key = other.path().join("key.pem").display().to_string();
    let line = fail(&tls.file("ca.pem"), &other_cert, &other_key);
    eprintln!("{line}");
    assert!(
        line.contains(&format!("refused the client certificate {other_cert}")),
        "{line}"
    );

    let missing = other.path().join("missing-ca.pem").display().to_string();
    let line = fail(&missing, &cert, &key);
    eprintln!("{line}");
    assert!(line.contains(&missing), "{line}");
}
