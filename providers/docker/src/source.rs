//! Which Docker engine to talk to, resolved the way the docker CLI does it.

use std::fmt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The engine socket used when nothing else is configured.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

const SCHEMES: [&str; 6] = [
    "unix://", "tcp://", "http://", "https://", "ssh://", "npipe://",
];

/// An engine address and where it came from (for error messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerSource {
    /// `unix:///path`, `tcp://host:port` or `http://host:port`.
    pub host: String,
    /// How it was chosen: "command line", "DOCKER_HOST", "context foo", "default socket".
    pub origin: String,
}

impl fmt::Display for DockerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.host, self.origin)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("Docker source {0:?}: unsupported scheme (use unix://, tcp:// or http://, or a socket path)")]
    UnsupportedScheme(String),
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

/// A source the user gave (`-H` or a positional word).
pub fn from_user(word: &str, origin: &str) -> Result<DockerSource, SourceError> {
    let host = normalise(word)?;
    Ok(DockerSource {
        host,
        origin: origin.to_string(),
    })
}

fn normalise(word: &str) -> Result<String, SourceError> {
    if ["unix://", "tcp://", "http://"]
        .iter()
        .any(|scheme| word.starts_with(scheme))
    {
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
/// `currentContext` of the CLI's config.json, then the default socket.
/// `env` looks up an environment variable (a parameter so tests need not touch the process's).
pub fn resolve_default(env: &dyn Fn(&str) -> Option<String>) -> Result<DockerSource, SourceError> {
    let set = |key: &str| env(key).filter(|value| !value.is_empty());
    if let Some(host) = set("DOCKER_HOST") {
        return from_user(&host, "DOCKER_HOST");
    }
    let config_dir = match set("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => match set("HOME") {
            Some(home) => Path::new(&home).join(".docker"),
            None => PathBuf::from("/root/.docker"),
        },
    };
    let chosen = match set("DOCKER_CONTEXT") {
        Some(name) => Some((name, "DOCKER_CONTEXT".to_string())),
        None => current_context(&config_dir)?,
    };
    match chosen {
        Some((name, origin)) if name != "default" => context_host(&config_dir, &name, &origin),
        _ => Ok(DockerSource {
            host: DEFAULT_HOST.to_string(),
            origin: "default socket".to_string(),
        }),
    }
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
        .join(hex)
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
    from_user(host, &format!("context {name}"))
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
