//! The connection to the engine: every call goes through here and is counted.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bollard::models::{ContainerSummary, EventMessage, ImageSummary, Network, Volume};
use bollard::query_parameters::{
    EventsOptions, ListContainersOptions, ListImagesOptions, ListNetworksOptions,
    ListVolumesOptions,
};
use bollard::Docker;
use futures_util::Stream;
use hyper::body::Bytes;
use serde::Deserialize;

use crate::applied::EventKey;
use crate::source::DockerSource;
use crate::tag_times::TagTimes;
use crate::timestamp::parse_rfc3339;
use crate::transport::{no_answer_within, with_causes, Endpoint, RawError, Transport};

/// How long the engine has to answer the first request (the API version negotiation) and each
/// ping: an address that accepts connections but never answers must not hold `vfs mount` for
/// bollard's two-minute default.
pub const FIRST_CONTACT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a list may take to arrive in full. Generous: a list of thousands of images takes
/// a second or more on a busy engine, and a failed list at start fails the mount.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// The kinds of engine objects the tree shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Container,
    Image,
    Volume,
    Network,
    /// A swarm manager's services, tasks, nodes, configs and secrets (`swarm`).
    Swarm(SwarmKind),
}

/// Which swarm object a file is the inspect of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwarmKind {
    Service,
    Task,
    Node,
    Config,
    Secret,
}

impl SwarmKind {
    /// The inspect endpoint of the object `encoded_id` (already percent-encoded), below the
    /// API version: what `docker service|node|config|secret inspect` and `docker inspect TASK`
    /// ask (a service with its defaults filled in, as the CLI asks for it).
    pub fn inspect_path(self, encoded_id: &str) -> String {
        match self {
            SwarmKind::Service => format!("/services/{encoded_id}?insertDefaults=true"),
            SwarmKind::Task => format!("/tasks/{encoded_id}"),
            SwarmKind::Node => format!("/nodes/{encoded_id}"),
            SwarmKind::Config => format!("/configs/{encoded_id}"),
            SwarmKind::Secret => format!("/secrets/{encoded_id}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no such {kind:?}: {id}")]
    NotFound { kind: ObjectKind, id: String },
    #[error("cannot reach the Docker engine at {engine}: {reason}")]
    Unreachable { engine: String, reason: String },
    #[error("Docker engine at {engine}: {reason}")]
    Failed { engine: String, reason: String },
}

/// What an image inspect says about an image: enough to update one image without a re-list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageDetails {
    /// 64 hex digits, without `sha256:`.
    pub id: String,
    pub tags: Vec<String>,
    pub times: ImageTimes,
}

/// What an image inspect says about an image's times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageTimes {
    pub created: Option<SystemTime>,
    pub last_tag_time: Option<SystemTime>,
}

/// The engine's clock, read from `/info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineClock {
    /// Nanoseconds since the epoch, by the engine's clock.
    pub now_nanos: i64,
    /// The engine is Podman's Docker-compatible service (its `/info` has `BuildahVersion`).
    pub podman: bool,
}

/// An image id without its `sha256:` (events and lists write it with, the tree without).
pub fn strip_digest_prefix(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

pub struct Engine {
    docker: Docker,
    raw: Transport,
    api_prefix: String,
    source: DockerSource,
    calls: Arc<AtomicU64>,
    /// Tag event times standing in for a `LastTagTime` the engine does not keep (Podman).
    pub tag_times: TagTimes,
}

impl Engine {
    /// Connects and negotiates the API version (one engine call).
    pub async fn connect(
        source: &DockerSource,
        calls: Arc<AtomicU64>,
    ) -> Result<Engine, EngineError> {
        let unreachable = |reason: String| EngineError::Unreachable {
            engine: source.to_string(),
            reason,
        };
        let raw = Transport::new(Endpoint::for_source(source).map_err(unreachable)?);
        // bollard runs on the same transport as the raw reads: one connector, one pool.
        let docker = raw
            .bollard()
            .map_err(|error| unreachable(with_causes(&error)))?;
        count(&calls, "negotiate API version");
        let first_contact = async {
            tokio::select! {
                negotiated = docker.negotiate_version() => {
                    negotiated.map_err(|error| unreachable(with_causes(&error)))
                }
                refusal = raw.refused() => Err(unreachable(refusal)),
            }
        };
        let docker = tokio::time::timeout(FIRST_CONTACT_TIMEOUT, first_contact)
            .await
            .map_err(|_| unreachable(no_answer_within(FIRST_CONTACT_TIMEOUT)))??;
        let version = docker.client_version();
        let api_prefix = format!("/v{}.{}", version.major_version, version.minor_version);
        tracing::debug!(engine = %source, api = %api_prefix, "connected to the Docker engine");
        Ok(Engine {
            docker,
            raw,
            api_prefix,
            source: source.clone(),
            calls,
            tag_times: TagTimes::default(),
        })
    }

    pub fn source(&self) -> &DockerSource {
        &self.source
    }

    fn count(&self, what: &str) {
        count(&self.calls, what);
    }

    fn failure(&self, error: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error;
        match error {
            Error::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::Failed {
                engine: self.source.to_string(),
                reason: format!("{status_code}: {message}"),
            },
            other => EngineError::Unreachable {
                engine: self.source.to_string(),
                reason: with_causes(&other),
            },
        }
    }

    /// `request`'s answer, or `Unreachable` when it has not come in full within `limit`.
    async fn bounded<T>(
        &self,
        limit: Duration,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, EngineError> {
        match tokio::time::timeout(limit, request).await {
            Ok(answer) => answer.map_err(|error| self.failure(error)),
            Err(_) => Err(EngineError::Unreachable {
                engine: self.source.to_string(),
                reason: no_answer_within(limit),
            }),
        }
    }

    pub async fn ping(&self) -> Result<(), EngineError> {
        self.count("ping");
        self.bounded(FIRST_CONTACT_TIMEOUT, self.docker.ping())
            .await
            .map(|_| ())
    }

    pub async fn list_containers(&self) -> Result<Vec<ContainerSummary>, EngineError> {
        self.count("list containers");
        let options = ListContainersOptions {
            all: true,
            size: false,
            ..Default::default()
        };
        self.bounded(LIST_TIMEOUT, self.docker.list_containers(Some(options)))
            .await
    }

    pub async fn list_images(&self) -> Result<Vec<ImageSummary>, EngineError> {
        self.count("list images");
        let options = ListImagesOptions {
            all: true,
            ..Default::default()
        };
        self.bounded(LIST_TIMEOUT, self.docker.list_images(Some(options)))
            .await
    }

    pub async fn list_volumes(&self) -> Result<Vec<Volume>, EngineError> {
        self.count("list volumes");
        self.bounded(
            LIST_TIMEOUT,
            self.docker.list_volumes(None::<ListVolumesOptions>),
        )
        .await
        .map(|response| response.volumes.unwrap_or_default())
    }

    pub async fn list_networks(&self) -> Result<Vec<Network>, EngineError> {
        self.count("list networks");
        self.bounded(
            LIST_TIMEOUT,
            self.docker.list_networks(None::<ListNetworksOptions>),
        )
        .await
    }

    /// The engine's events from `since` (seconds since the epoch) on; one call for the stream.
    pub fn events(
        &self,
        since: Option<i64>,
    ) -> impl Stream<Item = Result<EventMessage, bollard::errors::Error>> + use<> {
        self.count("subscribe to events");
        let options = EventsOptions {
            since: since.map(|seconds| seconds.to_string()),
            until: None,
            filters: Some(watched_event_types()),
        };
        self.docker.events(Some(options))
    }

    /// The engine's own clock (`SystemTime` of `/info`): event times are the engine's, so a
    /// barrier must not use the host's clock. The same answer tells Podman apart.
    pub async fn clock(&self) -> Result<EngineClock, EngineError> {
        let body = self.get_ok("info (the engine's clock)", "/info").await?;
        let failed = |reason: String| EngineError::Failed {
            engine: self.source.to_string(),
            reason,
        };
        let info: Info<'_> = serde_json::from_slice(&body)
            .map_err(|error| failed(format!("unreadable info JSON: {error}")))?;
        let now_nanos = info
            .system_time
            .as_deref()
            .and_then(parse_rfc3339)
            .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
            .and_then(|elapsed| i64::try_from(elapsed.as_nanos()).ok())
            .ok_or_else(|| failed("info has no readable SystemTime".into()))?;
        Ok(EngineClock {
            now_nanos,
            podman: info.is_podman(),
        })
    }

    /// The events of the kinds the watcher follows between `since` and `until` (nanoseconds,
    /// inclusive, the engine's clock). On Docker
    /// `until` is the past, so the engine answers from its buffer and ends the answer at once;
    /// a later `until` (Podman's) is answered as a stream that ends when `until` comes.
    pub async fn events_between(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<EventKey>, EngineError> {
        self.count("past events");
        let options = EventsOptions {
            since: Some(nanos_text(since)),
            until: Some(nanos_text(until)),
            filters: Some(watched_event_types()),
        };
        let events = self.docker.events(Some(options));
        let collect = async {
            let mut keys = Vec::new();
            let mut events = std::pin::pin!(events);
            while let Some(event) = futures_util::StreamExt::next(&mut events).await {
                keys.extend(EventKey::of(&event?));
            }
            Ok(keys)
        };
        self.bounded(LIST_TIMEOUT, collect).await
    }

    /// The body of a GET of `path` (below the API version) answered 200, counted as `what`.
    pub async fn get_ok(&self, what: &str, path: &str) -> Result<Bytes, EngineError> {
        self.count(what);
        let path = format!("{}{path}", self.api_prefix);
        let (status, body) =
            self.raw
                .get(&path)
                .await
                .map_err(|error| EngineError::Unreachable {
                    engine: self.source.to_string(),
                    reason: error.to_string(),
                })?;
        if status != 200 {
            return Err(EngineError::Failed {
                engine: self.source.to_string(),
                reason: format!(
                    "{what}: HTTP {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                ),
            });
        }
        Ok(body)
    }

    /// The engine's inspect JSON of one object, untouched.
    pub async fn inspect_raw(&self, kind: ObjectKind, id: &str) -> Result<Bytes, EngineError> {
        let encoded = percent_encode(id);
        let path = match kind {
            ObjectKind::Container => format!("{}/containers/{encoded}/json", self.api_prefix),
            // An id asked as `sha256:<id>`: Docker and Podman both take it, and Podman answers
            // a bare id of a removed image with HTTP 500 (it tries it as a name) where this
            // gets the 404 that Docker gives either way.
            ObjectKind::Image if is_bare_image_id(id) => {
                format!("{}/images/sha256:{encoded}/json", self.api_prefix)
            }
            ObjectKind::Image => format!("{}/images/{encoded}/json", self.api_prefix),
            ObjectKind::Volume => format!("{}/volumes/{encoded}", self.api_prefix),
            ObjectKind::Network => format!("{}/networks/{encoded}", self.api_prefix),
            ObjectKind::Swarm(kind) => {
                format!("{}{}", self.api_prefix, kind.inspect_path(&encoded))
            }
        };
        self.count(&format!("inspect {kind:?} {id}"));
        let (status, body) = self.raw.get(&path).await.map_err(|error| match error {
            RawError::Timeout(_) | RawError::Http(_) => EngineError::Unreachable {
                engine: self.source.to_string(),
                reason: error.to_string(),
            },
        })?;
        match status {
            200 => Ok(body),
            404 => Err(EngineError::NotFound {
                kind,
                id: id.to_string(),
            }),
            _ => Err(EngineError::Failed {
                engine: self.source.to_string(),
                reason: format!(
                    "inspect {kind:?} {id}: HTTP {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                ),
            }),
        }
    }

    /// `Created` of a container, to the nanosecond (the list gives whole seconds only).
    pub async fn container_created(&self, id: &str) -> Result<Option<SystemTime>, EngineError> {
        let body = self.inspect_raw(ObjectKind::Container, id).await?;
        Ok(time_of(self.parse(&body)?.created.as_deref()))
    }

    /// Id, tags and times of the image `reference` (an id or a name).
    pub async fn image_details(&self, reference: &str) -> Result<ImageDetails, EngineError> {
        let body = self.inspect_raw(ObjectKind::Image, reference).await?;
        let fields = self.parse(&body)?;
        let id = fields
            .id
            .as_deref()
            .map(|id| strip_digest_prefix(id).to_string())
            .ok_or_else(|| EngineError::Failed {
                engine: self.source.to_string(),
                reason: format!("image inspect of {reference} has no Id"),
            })?;
        let mut times = fields.image_times();
        times.last_tag_time = self.tag_times.fill(&id, times.last_tag_time);
        let mut tags: Vec<String> = fields
            .repo_tags
            .unwrap_or_default()
            .into_iter()
            .filter(|tag| !tag.contains("<none>"))
            .map(Cow::into_owned)
            .collect();
        tags.sort();
        Ok(ImageDetails { id, tags, times })
    }

    fn parse<'body>(&self, body: &'body [u8]) -> Result<InspectFields<'body>, EngineError> {
        serde_json::from_slice(body).map_err(|error| EngineError::Failed {
            engine: self.source.to_string(),
            reason: format!("unreadable inspect JSON: {error}"),
        })
    }
}

/// What the barrier reads of `/info`.
#[derive(Deserialize)]
struct Info<'body> {
    #[serde(rename = "SystemTime", borrow, default)]
    system_time: Option<Cow<'body, str>>,
    /// Podman's alone (its compat `/info` adds it to Docker's fields).
    #[serde(rename = "BuildahVersion", borrow, default)]
    buildah_version: Option<Cow<'body, str>>,
}

impl Info<'_> {
    fn is_podman(&self) -> bool {
        self.buildah_version
            .as_deref()
            .is_some_and(|version| !version.is_empty())
    }
}

/// The few fields of an inspect answer that the tree needs. Read into borrowed strings and
/// skipping the rest: a start inspects every image and container, and a generic JSON value per
/// answer (a map per object) cost more CPU than the engine's own work on it.
#[derive(Deserialize)]
struct InspectFields<'body> {
    #[serde(rename = "Id", borrow, default)]
    id: Option<Cow<'body, str>>,
    #[serde(rename = "Created", borrow, default)]
    created: Option<Cow<'body, str>>,
    #[serde(rename = "RepoTags", borrow, default)]
    repo_tags: Option<Vec<Cow<'body, str>>>,
    #[serde(rename = "Metadata", borrow, default)]
    metadata: Option<InspectMetadata<'body>>,
}

#[derive(Deserialize)]
struct InspectMetadata<'body> {
    #[serde(rename = "LastTagTime", borrow, default)]
    last_tag_time: Option<Cow<'body, str>>,
}

impl InspectFields<'_> {
    fn image_times(&self) -> ImageTimes {
        ImageTimes {
            created: time_of(self.created.as_deref()),
            last_tag_time: time_of(
                self.metadata
                    .as_ref()
                    .and_then(|metadata| metadata.last_tag_time.as_deref()),
            ),
        }
    }
}

/// The kinds of events the watcher follows.
fn watched_event_types() -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "type".to_string(),
        [
            "container",
            "image",
            "volume",
            "network",
            "daemon",
            // Swarm's (a manager's; an engine outside a swarm never sends them).
            "service",
            "node",
            "secret",
            "config",
        ]
        .map(str::to_string)
        .to_vec(),
    )])
}

/// A time in nanoseconds as the events endpoint takes it: `seconds.nanoseconds`.
fn nanos_text(nanos: i64) -> String {
    format!(
        "{}.{:09}",
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000)
    )
}

/// 64 hex digits: an image id without `sha256:` (the engine refuses such a string as a name).
fn is_bare_image_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn count(calls: &AtomicU64, what: &str) {
    let total = calls.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::debug!(engine_calls = total, "engine call: {what}");
}

fn time_of(text: Option<&str>) -> Option<SystemTime> {
    text.and_then(parse_rfc3339)
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn a_silent_engine_fails_the_first_contact_within_its_timeout() {
        let scratch = tempfile::tempdir().unwrap();
        let socket = scratch.path().join("silent.sock");
        // Accepts connections, reads nothing and never answers.
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        let source = DockerSource::new(format!("unix://{}", socket.display()), "command line");
        let started = Instant::now();
        let Err(error) = Engine::connect(&source, Arc::default()).await else {
            panic!("connected to an engine that never answers");
        };
        let took = started.elapsed();
        assert!(matches!(error, EngineError::Unreachable { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            format!("cannot reach the Docker engine at {source}: no answer within 10 s")
        );
        assert!(took >= FIRST_CONTACT_TIMEOUT, "{took:?}");
        assert!(
            took < FIRST_CONTACT_TIMEOUT + Duration::from_secs(5),
            "{took:?}"
        );
    }

    #[test]
    fn podman_is_told_apart_by_the_buildah_version_of_its_info() {
        let podman: Info<'_> = serde_json::from_str(
            r#"{"SystemTime":"2026-11-30T09:50:15.830220576Z","ServerVersion":"4.3.1","BuildahVersion":"1.28.2"}"#,
        )
        .unwrap();
        assert!(podman.is_podman());
        let docker: Info<'_> = serde_json::from_str(
            r#"{"SystemTime":"2026-11-30T09:50:15.830220576Z","ServerVersion":"20.10.24+dfsg1"}"#,
        )
        .unwrap();
        assert!(!docker.is_podman());
    }

    #[test]
    fn only_a_bare_image_id_is_asked_with_its_digest_prefix() {
        let id = "9acc7cc13e99969636714b938f40d79369fb08cccdca8a995cc1f90c0fcf3d0a";
        assert!(is_bare_image_id(id));
        assert!(!is_bare_image_id(&format!("sha256:{id}")));
        assert!(!is_bare_image_id("app:1"));
        assert!(!is_bare_image_id(&id[..12]));
    }

    #[test]
    fn event_times_are_written_as_seconds_and_nanoseconds() {
        assert_eq!(
            nanos_text(1_700_000_000_000_000_123),
            "1700000000.000000123"
        );
        assert_eq!(nanos_text(5), "0.000000005");
    }

    #[test]
    fn a_timeout_reads_in_seconds() {
        assert_eq!(
            no_answer_within(Duration::from_secs(30)),
            "no answer within 30 s"
        );
        assert_eq!(
            no_answer_within(Duration::from_millis(2500)),
            "no answer within 2.5 s"
        );
    }
}
