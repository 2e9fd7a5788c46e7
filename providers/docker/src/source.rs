//! Which Docker engine to talk to, resolved the way the docker CLI does it.

use std::fmt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ssh::SshTarget;
use crate::tls::TlsSettings;

/// The engine socket used when nothing else is configured.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

const SCHEMES: [&str; 6] = [
    "unix://", "tcp://", "http://", "https://", "ssh://", "npipe://",
];

/// An engine address and where it came from (for error messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerSource {
    /// `unix:///path`, `tcp://host:port`, `http://host:port`, `https://host:port` or
    /// `ssh://[user@]host[:port]`.
    pub host: String,
    /// How it was chosen: "command line", "DOCKER_HOST", "context foo", "default socket".
    pub origin: String,
    /// TLS to use over TCP (always set for `https://`).
    pub tls: Option<TlsSettings>,
}

impl DockerSource {
    /// A source without TLS.
    pub fn new(host: impl Into<String>, origin: impl Into<String>) -> DockerSource {
        DockerSource {
            host: host.into(),
            origin: origin.into(),
            tls: None,
        }
    }
}

impl fmt::Display for DockerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {}", self.host, self.origin)?;
        if let Some(tls) = &self.tls {
            write!(f, "; TLS {}", tls.describe())?;
        }
        write!(f, ")")
    }
}

/// TLS as the docker CLI's flags give it (`--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`,
/// `--tlskey`); unset flags fall back on `DOCKER_TLS`, `DOCKER_TLS_VERIFY` and
/// `DOCKER_CERT_PATH`, as the CLI's do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFlags {
    pub tls: bool,
    pub verify: Option<bool>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("Docker source {0:?}: unsupported scheme (use unix://, tcp://, http://, https://, ssh://, or a socket path)")]
    UnsupportedScheme(String),
    #[error(transparent)]
    Ssh(#[from] crate::ssh::BadSshAddress),
    #[error("Docker context {name:?} (from {origin}) not found: no {path}")]
    ContextNotFound {
        name: String,
        origin: String,
        path: String,
    },
    #[error("Docker context {name:?}: cannot read {path}: {reason}")]
    BadContext {
        name: String,
        path: String,
        reason: String,
    },
    #[error("cannot read Docker config {path}: {reason}")]
    BadConfig { path: String, reason: String },
}

/// True when a command-line word names an engine rather than a mountpoint: it has an engine
/// scheme, or it is a socket file.
pub fn looks_like_source(word: &str) -> bool {
    SCHEMES.iter().any(|scheme| word.starts_with(scheme))
        || std::fs::metadata(word).is_ok_and(|meta| meta.file_type().is_socket())
}

/// A source the user gave (`-H` or a positional word), without TLS flags or environment.
pub fn from_user(word: &str, origin: &str) -> Result<DockerSource, SourceError> {
    from_user_with_tls(word, origin, &TlsFlags::default(), &|_| None)
}

/// A source the user gave, with TLS from `flags` and the environment (`env`) as the docker CLI
/// applies them to `-H` and `DOCKER_HOST`: to `tcp://` addresses, and always to `https://`.
pub fn from_user_with_tls(
    word: &str,
    origin: &str,
    flags: &TlsFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DockerSource, SourceError> {
    let host = normalise(word)?;
    let tls = if host.starts_with("https://") {
        Some(tls_settings(flags, env).unwrap_or_else(|| default_tls(flags, env, true)))
    } else if host.starts_with("tcp://") {
        tls_settings(flags, env)
    } else {
        None
    };
    Ok(DockerSource {
        host,
        origin: origin.to_string(),
        tls,
    })
}

/// The docker CLI's TLS rule: TLS when `--tls`/`DOCKER_TLS` or `--tlsverify`/
/// `DOCKER_TLS_VERIFY` asks for it; its files from the flags or `DOCKER_CERT_PATH`.
fn tls_settings(flags: &TlsFlags, env: &dyn Fn(&str) -> Option<String>) -> Option<TlsSettings> {
    let set = |key: &str| env(key).is_some_and(|value| !value.is_empty());
    let verify = flags.verify.unwrap_or_else(|| set("DOCKER_TLS_VERIFY"));
    let tls = flags.tls || set("DOCKER_TLS") || verify || flags.verify.is_some();
    tls.then(|| default_tls(flags, env, verify))
}

fn default_tls(
    flags: &TlsFlags,
    env: &dyn Fn(&str) -> Option<String>,
    verify: bool,
) -> TlsSettings {
    let cert_dir = env("DOCKER_CERT_PATH")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir(env));
    // As the CLI: a default client certificate or key that does not exist is not used; one
    // named by a flag must exist. The CA is needed only to verify.
    let default_file = |name: &str| Some(cert_dir.join(name)).filter(|path| path.exists());
    let ca = flags.ca.clone().or_else(|| {
        let path = cert_dir.join("ca.pem");
        (verify || path.exists()).then_some(path)
    });
    TlsSettings {
        verify,
        ca: if verify { ca } else { None },
        cert: flags.cert.clone().or_else(|| default_file("cert.pem")),
        key: flags.key.clone().or_else(|| default_file("key.pem")),
    }
}

fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let set = |key: &str| env(key).filter(|value| !value.is_empty());
    match set("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => match set("HOME") {
            Some(home) => Path::new(&home).join(".docker"),
            None => PathBuf::from("/root/.docker"),
        },
    }
}

fn normalise(word: &str) -> Result<String, SourceError> {
    if ["unix://", "tcp://", "http://", "https://"]
        .iter()
        .any(|scheme| word.starts_with(scheme))
    {
        return Ok(word.to_string());
    }
    if word.starts_with("ssh://") {
        SshTarget::parse(word)?;
        return Ok(word.to_string());
    }
    if SCHEMES.iter().any(|scheme| word.starts_with(scheme)) || word.contains("://") {
        return Err(SourceError::UnsupportedScheme(word.to_string()));
    }
    // A bare path: the socket file itself.
    let path = std::path::absolute(word).unwrap_or_else(|_| PathBuf::from(word));
    Ok(format!("unix://{}", path.display()))
}

/// The source with nothing on the command line: `DOCKER_HOST`, then `DOCKER_CONTEXT`, then the
/// `currentContext` of the CLI's config.json, then the first engine socket that exists.
/// `env` looks up an environment variable (a parameter so tests need not touch the process's).
pub fn resolve_default(env: &dyn Fn(&str) -> Option<String>) -> Result<DockerSource, SourceError> {
    resolve_default_with_tls(&TlsFlags::default(), env)
}

/// [`resolve_default`] with the docker CLI's TLS flags.
pub fn resolve_default_with_tls(
    flags: &TlsFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DockerSource, SourceError> {
    resolve_with(flags, env, current_uid(), &|path| {
        std::fs::metadata(path).is_ok_and(|meta| meta.file_type().is_socket())
    })
}

/// The well-known engine sockets after the context step, in the order tried: the rootful
/// Docker socket (the docker CLI's default), rootless Docker's (`dockerd-rootless.sh`),
/// rootless Podman's and rootful Podman's (`podman system service`, as bollard's and
/// docker-py's Podman defaults look for them). The user's runtime folder is
/// `$XDG_RUNTIME_DIR`, else `/run/user/<uid>` (a session without it, such as `su` or cron),
/// as bollard's Podman defaults and `dockerd-rootless.sh` take it.
fn socket_candidates(
    env: &dyn Fn(&str) -> Option<String>,
    uid: u32,
) -> Vec<(String, &'static str)> {
    let runtime = env("XDG_RUNTIME_DIR")
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| format!("/run/user/{uid}"));
    let runtime = runtime.trim_end_matches('/');
    vec![
        ("/var/run/docker.sock".to_string(), "default socket"),
        (format!("{runtime}/docker.sock"), "rootless Docker socket"),
        (
            format!("{runtime}/podman/podman.sock"),
            "rootless Podman socket",
        ),
        ("/run/podman/podman.sock".to_string(), "Podman socket"),
    ]
}

/// This process's user id: the owner of `/proc/self` (as bollard finds it).
fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |meta| meta.uid())
}

fn resolve_with(
    flags: &TlsFlags,
    env: &dyn Fn(&str) -> Option<String>,
    uid: u32,
    is_socket: &dyn Fn(&Path) -> bool,
) -> Result<DockerSource, SourceError> {
    let set = |key: &str| env(key).filter(|value| !value.is_empty());
    if let Some(host) = set("DOCKER_HOST") {
        return from_user_with_tls(&host, "DOCKER_HOST", flags, env);
    }
    let config_dir = config_dir(env);
    let chosen = match set("DOCKER_CONTEXT") {
        Some(name) => Some((name, "DOCKER_CONTEXT".to_string())),
        None => current_context(&config_dir)?,
    };
    if let Some((name, origin)) = chosen.filter(|(name, _)| name != "default") {
        return context_host(&config_dir, &name, &origin);
    }
    // The default context: with TLS asked for, the CLI's default TLS address.
    if let Some(tls) = tls_settings(flags, env) {
        return Ok(DockerSource {
            host: "tcp://localhost:2376".to_string(),
            origin: "default TLS address".to_string(),
            tls: Some(tls),
        });
    }
    let candidates = socket_candidates(env, uid);
    let found = candidates
        .iter()
        .find(|(path, _)| is_socket(Path::new(path)))
        .unwrap_or(&candidates[0]);
    Ok(DockerSource::new(format!("unix://{}", found.0), found.1))
}

/// The `currentContext` of `config.json`, with where it came from.
fn current_context(config_dir: &Path) -> Result<Option<(String, String)>, SourceError> {
    let path = config_dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(SourceError::BadConfig {
                path: path.display().to_string(),
                reason: error.to_string(),
            })
        }
    };
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| SourceError::BadConfig {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
    Ok(config
        .get("currentContext")
        .and_then(serde_json::Value::as_str)
        .filter(|name| !name.is_empty())
        .map(|name| {
            (
                name.to_string(),
                format!("currentContext of {}", path.display()),
            )
        }))
}

/// The Docker endpoint of a context in the CLI's context store, which files each context's
/// meta.json under the SHA-256 of its name.
fn context_host(config_dir: &Path, name: &str, origin: &str) -> Result<DockerSource, SourceError> {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let path = config_dir
        .join("contexts")
        .join("meta")
        .join(&hex)
        .join("meta.json");
    let text = std::fs::read_to_string(&path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            SourceError::ContextNotFound {
                name: name.to_string(),
                origin: origin.to_string(),
                path: path.display().to_string(),
            }
        } else {
            SourceError::BadContext {
                name: name.to_string(),
                path: path.display().to_string(),
                reason: error.to_string(),
            }
        }
    })?;
    let bad = |reason: String| SourceError::BadContext {
        name: name.to_string(),
        path: path.display().to_string(),
        reason,
    };
    let meta: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| bad(error.to_string()))?;
    let host = meta
        .pointer("/Endpoints/docker/Host")
        .and_then(serde_json::Value::as_str)
        .filter(|host| !host.is_empty())
        .ok_or_else(|| bad("no Endpoints.docker.Host".to_string()))?;
    let mut source = from_user(host, &format!("context {name}"))?;
    source.tls = context_tls(config_dir, &hex, &meta, &source.host);
    Ok(source)
}

/// A context's TLS material, where `docker context create --docker
/// host=…,ca=…,cert=…,key=…` stores it: `contexts/tls/<hash>/docker/{ca,cert,key}.pem`. Present
/// files mean TLS, checked unless the endpoint says `SkipTLSVerify`.
fn context_tls(
    config_dir: &Path,
    hex: &str,
    meta: &serde_json::Value,
    host: &str,
) -> Option<TlsSettings> {
    if !(host.starts_with("tcp://") || host.starts_with("https://")) {
        return None;
    }
    let dir = config_dir
        .join("contexts")
        .join("tls")
        .join(hex)
        .join("docker");
    let file = |name: &str| Some(dir.join(name)).filter(|path| path.exists());
    let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
    let skip_verify = meta
        .pointer("/Endpoints/docker/SkipTLSVerify")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let any = ca.is_some() || cert.is_some() || key.is_some();
    (any || skip_verify || host.starts_with("https://")).then_some(TlsSettings {
        verify: !skip_verify,
        ca: if skip_verify { None } else { ca },
        cert,
        key,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    fn write_context(config_dir: &Path, name: &str, host: &str) {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        let dir = config_dir.join("contexts/meta").join(hex);
        std::fs::create_dir_all(&dir).unwrap();
        let meta = serde_json::json!({
            "Name": name,
            "Metadata": {},
            "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}}
        });
        std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    }

    #[test]
    fn docker_host_wins_over_everything() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "remote", "tcp://10.0.0.1:2375");
        let config = dir.path().to_str().unwrap();
        let source = resolve_default(&env_of(&[
            ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
            ("DOCKER_CONTEXT", "remote"),
            ("DOCKER_CONFIG", config),
        ]))
        .unwrap();
        assert_eq!(source.host, "tcp://127.0.0.1:2375");
        assert_eq!(source.origin, "DOCKER_HOST");
    }

    #[test]
    fn docker_context_is_read_from_the_context_store() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "remote", "tcp://10.0.0.1:2375");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"other"}"#,
        )
        .unwrap();
        let config = dir.path().to_str().unwrap();
        let source = resolve_default(&env_of(&[
            ("DOCKER_CONTEXT", "remote"),
            ("DOCKER_CONFIG", config),
        ]))
        .unwrap();
        assert_eq!(source.host, "tcp://10.0.0.1:2375");
        assert_eq!(source.origin, "context remote");
    }

    #[test]
    fn current_context_of_config_json_under_home() {
        let home = tempfile::tempdir().unwrap();
        let config_dir = home.path().join(".docker");
        write_context(&config_dir, "my ctx", "unix:///run/other.sock");
        std::fs::write(
            config_dir.join("config.json"),
            r#"{"auths":{},"currentContext":"my ctx"}"#,
        )
        .unwrap();
        let source = resolve_default(&env_of(&[("HOME", home.path().to_str().unwrap())])).unwrap();
        assert_eq!(source.host, "unix:///run/other.sock");
    }

    #[test]
    fn default_socket_without_config_or_with_default_context() {
        let home = tempfile::tempdir().unwrap();
        let home_path = home.path().to_str().unwrap();
        let source = resolve_default(&env_of(&[("HOME", home_path)])).unwrap();
        assert_eq!(source.host, DEFAULT_HOST);
        std::fs::create_dir_all(home.path().join(".docker")).unwrap();
        std::fs::write(
            home.path().join(".docker/config.json"),
            r#"{"currentContext":"default"}"#,
        )
        .unwrap();
        let source = resolve_default(&env_of(&[("HOME", home_path)])).unwrap();
        assert_eq!(source.host, DEFAULT_HOST);
        let source = resolve_default(&env_of(&[("HOME", home_path), ("DOCKER_HOST", "")])).unwrap();
        assert_eq!(source.origin, "default socket");
    }

    /// Resolves with nothing configured, on a machine where only `sockets` exist.
    fn found_among(env: &[(&str, &str)], sockets: &[&str]) -> DockerSource {
        let home = tempfile::tempdir().unwrap();
        let mut pairs = vec![("HOME", home.path().to_str().unwrap())];
        pairs.extend_from_slice(env);
        let is_socket = |path: &Path| sockets.iter().any(|socket| Path::new(socket) == path);
        resolve_with(&TlsFlags::default(), &env_of(&pairs), 1000, &is_socket).unwrap()
    }

    #[test]
    fn well_known_sockets_are_tried_in_the_documented_order() {
        let xdg = [("XDG_RUNTIME_DIR", "/run/user/1000")];
        let rootful = "/var/run/docker.sock";
        let rootless = "/run/user/1000/docker.sock";
        let podman_rootless = "/run/user/1000/podman/podman.sock";
        let podman = "/run/podman/podman.sock";
        let all = [rootful, rootless, podman_rootless, podman];
        // Each one found when those before it are missing, with its origin named.
        for (index, (expected, origin)) in [
            (rootful, "default socket"),
            (rootless, "rootless Docker socket"),
            (podman_rootless, "rootless Podman socket"),
            (podman, "Podman socket"),
        ]
        .into_iter()
        .enumerate()
        {
            let source = found_among(&xdg, &all[index..]);
            assert_eq!(source.host, format!("unix://{expected}"));
            assert_eq!(source.origin, origin);
        }
        // Without XDG_RUNTIME_DIR the user's runtime folder is /run/user/<uid>.
        let source = found_among(&[], &[podman_rootless, podman]);
        assert_eq!(source.host, format!("unix://{podman_rootless}"));
        let source = found_among(&[("XDG_RUNTIME_DIR", "/tmp/rt/")], &["/tmp/rt/docker.sock"]);
        assert_eq!(source.host, "unix:///tmp/rt/docker.sock");
        // Nothing there: the docker CLI's default, whose absence the connect error will name.
        let source = found_among(&xdg, &[]);
        assert_eq!(source.host, DEFAULT_HOST);
        assert_eq!(source.origin, "default socket");
        // DOCKER_HOST and a context come first, whatever sockets exist.
        let source = found_among(&[("DOCKER_HOST", "unix:///elsewhere.sock")], &all);
        assert_eq!(source.host, "unix:///elsewhere.sock");
    }

    #[test]
    fn missing_context_and_bad_config_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().to_str().unwrap();
        let error = resolve_default(&env_of(&[
            ("DOCKER_CONTEXT", "nowhere"),
            ("DOCKER_CONFIG", config),
        ]))
        .unwrap_err();
        assert!(
            matches!(error, SourceError::ContextNotFound { .. }),
            "{error}"
        );
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let error = resolve_default(&env_of(&[("DOCKER_CONFIG", config)])).unwrap_err();
        assert!(matches!(error, SourceError::BadConfig { .. }), "{error}");
    }

    #[test]
    fn user_words_are_schemes_or_socket_paths() {
        assert!(looks_like_source("tcp://localhost:2375"));
        assert!(looks_like_source("unix:///var/run/docker.sock"));
        assert!(!looks_like_source(".dockerfs"));
        assert!(!looks_like_source("/tmp"));
        assert_eq!(
            from_user("/var/run/docker.sock", "x").unwrap().host,
            "unix:///var/run/docker.sock"
        );
        assert!(matches!(
            from_user("ftp://x", "x"),
            Err(SourceError::UnsupportedScheme(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(looks_like_source(socket.to_str().unwrap()));
    }
}
