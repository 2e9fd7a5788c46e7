//! What the tree is built from: the engine's objects, reduced to names, ids and times, and the
//! loading of it through the list endpoints (plus one cached inspect per image and container).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};

use crate::engine::{Engine, EngineError, ImageDetails, ImageTimes};
use crate::swarm::SwarmState;
use crate::timestamp::{from_unix_seconds, parse_rfc3339};

/// How many inspects run at once while (re)loading.
const INSPECT_CONCURRENCY: usize = 8;

pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";
/// `True` on the containers of `docker compose run` / `docker-compose run`.
pub const COMPOSE_ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    /// The container's own name (without the leading `/`).
    pub name: Option<String>,
    pub created: SystemTime,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// A one-off container (`compose run`), not one the service runs.
    pub compose_oneoff: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecord {
    /// 64 hex digits, without `sha256:`.
    pub id: String,
    /// `repo:tag` references, without `<none>`.
    pub tags: Vec<String>,
    pub created: SystemTime,
    pub last_tag_time: Option<SystemTime>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VolumeRecord {
    pub name: String,
    pub created: SystemTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub created: SystemTime,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineState {
    pub containers: Vec<ContainerRecord>,
    pub images: Vec<ImageRecord>,
    pub volumes: Vec<VolumeRecord>,
    pub networks: Vec<NetworkRecord>,
    /// Services, tasks, nodes, configs and secrets; `None` unless the engine is a swarm manager.
    pub swarm: Option<SwarmState>,
}

/// The image times last fetched, and the tags the image had then: a change of tags (or an
/// event naming the image) fetches them again.
#[derive(Clone, Debug)]
struct CachedImage {
    tags: Vec<String>,
    times: ImageTimes,
    /// When the inspect was sent: an event older than that is already reflected.
    asked_at: SystemTime,
}

/// An inspect's answer with the time it was asked.
type Fetched<T> = Result<(T, SystemTime), EngineError>;

/// Allowance for the engine's clock against ours when comparing event and inspect times.
const CLOCK_ALLOWANCE: Duration = Duration::from_secs(1);

/// Loads engine state, remembering the per-object inspects that do not need repeating.
#[derive(Default)]
pub struct Loader {
    container_created: HashMap<String, SystemTime>,
    images: HashMap<String, CachedImage>,
}

pub fn strip_digest_prefix(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

impl Loader {
    /// All four kinds at once: the container and image inspects overlap, so a start waits for
    /// the longer of the two rather than their sum.
    pub async fn everything(&mut self, engine: &Engine) -> Result<EngineState, EngineError> {
        // The container times are taken out for the join, so that the image load can borrow
        // the rest of the loader; they are put back whatever the outcome.
        let mut container_created = std::mem::take(&mut self.container_created);
        let no_names = HashSet::new();
        let (containers, images, volumes, networks, swarm) = tokio::join!(
            load_containers(&mut container_created, engine),
            self.images(engine, &no_names),
            volumes(engine),
            networks(engine),
            crate::swarm::load(engine),
        );
        self.container_created = container_created;
        Ok(EngineState {
            containers: containers?,
            images: images?,
            volumes: volumes?,
            networks: networks?,
            swarm: swarm?,
        })
    }

    pub async fn containers(
        &mut self,
        engine: &Engine,
    ) -> Result<Vec<ContainerRecord>, EngineError> {
        load_containers(&mut self.container_created, engine).await
    }

    /// Lists images; inspects those that are new, whose tags changed, or that `named` holds
    /// (images an event was about: a cached rebuild moves `LastTagTime` without any other change).
    pub async fn images(
        &mut self,
        engine: &Engine,
        named: &HashSet<String>,
    ) -> Result<Vec<ImageRecord>, EngineError> {
        let listed = engine.list_images().await?;
        let mut summaries = Vec::with_capacity(listed.len());
        for summary in listed {
            let id = strip_digest_prefix(&summary.id).to_string();
            let mut tags: Vec<String> = summary
                .repo_tags
                .into_iter()
                .filter(|tag| !tag.contains("<none>"))
                .collect();
            tags.sort();
            summaries.push((id, tags, summary.created));
        }
        let stale: Vec<(String, Vec<String>)> = summaries
            .iter()
            .filter(|(id, tags, _)| {
                named.contains(id)
                    || self
                        .images
                        .get(id)
                        .is_none_or(|cached| &cached.tags != tags)
            })
            .map(|(id, tags, _)| (id.clone(), tags.clone()))
            .collect();
        let fetched: Vec<(String, Vec<String>, Fetched<ImageTimes>)> = stream::iter(stale)
            .map(|(id, tags)| async move {
                let asked_at = SystemTime::now();
                let times = engine.image_times(&id).await;
                (id, tags, times.map(|times| (times, asked_at)))
            })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .collect()
            .await;
        let mut gone = HashSet::new();
        for (id, tags, times) in fetched {
            match times {
                Ok((times, asked_at)) => {
                    self.images.insert(
                        id,
                        CachedImage {
                            tags,
                            times,
                            asked_at,
                        },
                    );
                }
                Err(EngineError::NotFound { .. }) => {
                    gone.insert(id);
                }
                Err(error @ EngineError::Unreachable { .. }) => return Err(error),
                Err(error) => {
                    // Leave it uncached so the next refresh tries again.
                    self.images.remove(&id);
                    tracing::warn!(image = %id, %error, "cannot inspect image");
                }
            }
        }
        let mut records = Vec::with_capacity(summaries.len());
        for (id, tags, created_seconds) in summaries {
            if gone.contains(&id) {
                continue;
            }
            let cached = self.images.get(&id).map(|cached| cached.times);
            records.push(ImageRecord {
                created: cached
                    .and_then(|times| times.created)
                    .unwrap_or_else(|| from_unix_seconds(created_seconds)),
                last_tag_time: cached.and_then(|times| times.last_tag_time),
                tags,
                id,
            });
        }
        let live: HashSet<&str> = records.iter().map(|record| record.id.as_str()).collect();
        self.images.retain(|id, _| live.contains(id.as_str()));
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }
}

/// Lists containers; inspects those not seen before for their `Created` to the nanosecond
/// (the list has whole seconds), remembering it in `container_created`.
async fn load_containers(
    container_created: &mut HashMap<String, SystemTime>,
    engine: &Engine,
) -> Result<Vec<ContainerRecord>, EngineError> {
    let listed = engine.list_containers().await?;
    let missing: Vec<String> = listed
        .iter()
        .filter_map(|summary| summary.id.clone())
        .filter(|id| !container_created.contains_key(id))
        .collect();
    let fetched: Vec<(String, Result<Option<SystemTime>, EngineError>)> = stream::iter(missing)
        .map(|id| async move {
            let created = engine.container_created(&id).await;
            (id, created)
        })
        .buffer_unordered(INSPECT_CONCURRENCY)
        .collect()
        .await;
    let mut gone = HashSet::new();
    for (id, created) in fetched {
        match created {
            Ok(Some(created)) => {
                container_created.insert(id, created);
            }
            Ok(None) => tracing::warn!(container = %id, "inspect has no Created time"),
            Err(EngineError::NotFound { .. }) => {
                gone.insert(id);
            }
            Err(error @ EngineError::Unreachable { .. }) => return Err(error),
            Err(error) => tracing::warn!(container = %id, %error, "cannot inspect container"),
        }
    }
    let mut records = Vec::with_capacity(listed.len());
    for summary in listed {
        let Some(id) = summary.id else { continue };
        if gone.contains(&id) {
            continue;
        }
        let created = match container_created.get(&id) {
            Some(created) => *created,
            None => from_unix_seconds(summary.created.unwrap_or(0)),
        };
        let labels = summary.labels.unwrap_or_default();
        records.push(ContainerRecord {
            name: own_name(summary.names.as_deref().unwrap_or_default()),
            created,
            compose_project: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
            compose_service: labels.get(COMPOSE_SERVICE_LABEL).cloned(),
            compose_oneoff: labels
                .get(COMPOSE_ONEOFF_LABEL)
                .is_some_and(|value| value.eq_ignore_ascii_case("true")),
            id,
        });
    }
    let live: HashSet<&str> = records.iter().map(|record| record.id.as_str()).collect();
    container_created.retain(|id, _| live.contains(id.as_str()));
    records.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(records)
}

/// Whether [`Loader::update_images`] managed on its own.
#[derive(Debug, PartialEq, Eq)]
pub enum ImageUpdate {
    Done,
    /// An event named something that could not be resolved to an image: re-list them all.
    NeedsFullList,
}

impl Loader {
    /// Updates `images` from an inspect of each image in `references` (ids or names that events
    /// named), without listing all images: on a big engine the list takes a second or more.
    /// A tag names one image, so the tags an inspected image holds are taken from the others.
    /// Each reference comes with the time of the latest event about it: an image inspected after
    /// that (events replayed after a load) is not inspected again.
    pub async fn update_images(
        &mut self,
        engine: &Engine,
        images: &mut Vec<ImageRecord>,
        references: &HashMap<String, Option<SystemTime>>,
    ) -> Result<ImageUpdate, EngineError> {
        let stale: Vec<String> = references
            .iter()
            .filter(|(reference, event_time)| {
                let known_since = self.images.get(*reference).map(|cached| cached.asked_at);
                match (known_since, event_time) {
                    (Some(asked_at), Some(event_time)) => asked_at <= *event_time + CLOCK_ALLOWANCE,
                    _ => true,
                }
            })
            .map(|(reference, _)| reference.clone())
            .collect();
        let fetched: Vec<(String, Fetched<ImageDetails>)> = stream::iter(stale)
            .map(|reference| async move {
                let asked_at = SystemTime::now();
                let details = engine.image_details(&reference).await;
                (reference, details.map(|details| (details, asked_at)))
            })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .collect()
            .await;
        for (reference, details) in fetched {
            match details {
                Ok((details, asked_at)) => self.apply_image(images, details, asked_at),
                Err(EngineError::NotFound { .. }) if is_image_id(&reference) => {
                    images.retain(|image| image.id != reference);
                    self.images.remove(&reference);
                }
                Err(EngineError::NotFound { .. }) => return Ok(ImageUpdate::NeedsFullList),
                Err(error @ EngineError::Unreachable { .. }) => return Err(error),
                Err(error) => {
                    tracing::warn!(image = %reference, %error, "cannot inspect image; re-listing");
                    return Ok(ImageUpdate::NeedsFullList);
                }
            }
        }
        images.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(ImageUpdate::Done)
    }

    fn apply_image(
        &mut self,
        images: &mut Vec<ImageRecord>,
        details: ImageDetails,
        asked_at: SystemTime,
    ) {
        for other in images.iter_mut().filter(|image| image.id != details.id) {
            other.tags.retain(|tag| !details.tags.contains(tag));
            if let Some(cached) = self.images.get_mut(&other.id) {
                cached.tags.retain(|tag| !details.tags.contains(tag));
            }
        }
        let record = ImageRecord {
            id: details.id.clone(),
            tags: details.tags.clone(),
            created: details.times.created.unwrap_or(SystemTime::UNIX_EPOCH),
            last_tag_time: details.times.last_tag_time,
        };
        match images.iter_mut().find(|image| image.id == details.id) {
            Some(existing) => *existing = record,
            None => images.push(record),
        }
        self.images.insert(
            details.id,
            CachedImage {
                tags: details.tags,
                times: details.times,
                asked_at,
            },
        );
    }
}

fn is_image_id(reference: &str) -> bool {
    reference.len() == 64 && reference.bytes().all(|byte| byte.is_ascii_hexdigit())
}

pub async fn volumes(engine: &Engine) -> Result<Vec<VolumeRecord>, EngineError> {
    let mut records: Vec<VolumeRecord> = engine
        .list_volumes()
        .await?
        .into_iter()
        .map(|volume| VolumeRecord {
            created: volume
                .created_at
                .as_deref()
                .and_then(parse_rfc3339)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            name: volume.name,
        })
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

pub async fn networks(engine: &Engine) -> Result<Vec<NetworkRecord>, EngineError> {
    let mut records: Vec<NetworkRecord> = engine
        .list_networks()
        .await?
        .into_iter()
        .filter_map(|network| {
            Some(NetworkRecord {
                created: network
                    .created
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .unwrap_or(SystemTime::UNIX_EPOCH),
                id: network.id?,
                name: network.name?,
            })
        })
        .collect();
    records.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(records)
}

/// A container's own name: the one of its names without a further `/` (the others are legacy
/// link aliases like `/web/db`).
fn own_name(names: &[String]) -> Option<String> {
    names
        .iter()
        .map(|name| name.strip_prefix('/').unwrap_or(name))
        .find(|name| !name.is_empty() && !name.contains('/'))
        .map(str::to_string)
}
