//! What the tree is built from: the engine's objects, reduced to names, ids and times, and the
//! loading of it through the list endpoints (plus one cached inspect per image and container).

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use futures_util::stream::{self, StreamExt};

use crate::engine::{Engine, EngineError, ImageTimes};
use crate::timestamp::{from_unix_seconds, parse_rfc3339};

/// How many inspects run at once while (re)loading.
const INSPECT_CONCURRENCY: usize = 8;

pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    /// The container's own name (without the leading `/`).
    pub name: Option<String>,
    pub created: SystemTime,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
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
}

/// The image times last fetched, and the tags the image had then: a change of tags (or an
/// event naming the image) fetches them again.
#[derive(Clone, Debug)]
struct CachedImage {
    tags: Vec<String>,
    times: ImageTimes,
}

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
    pub async fn everything(&mut self, engine: &Engine) -> Result<EngineState, EngineError> {
        Ok(EngineState {
            containers: self.containers(engine).await?,
            images: self.images(engine, &HashSet::new()).await?,
            volumes: volumes(engine).await?,
            networks: networks(engine).await?,
        })
    }

    pub async fn containers(
        &mut self,
        engine: &Engine,
    ) -> Result<Vec<ContainerRecord>, EngineError> {
        let listed = engine.list_containers().await?;
        let missing: Vec<String> = listed
            .iter()
            .filter_map(|summary| summary.id.clone())
            .filter(|id| !self.container_created.contains_key(id))
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
                    self.container_created.insert(id, created);
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
            let created = match self.container_created.get(&id) {
                Some(created) => *created,
                None => from_unix_seconds(summary.created.unwrap_or(0)),
            };
            let labels = summary.labels.unwrap_or_default();
            records.push(ContainerRecord {
                name: own_name(summary.names.as_deref().unwrap_or_default()),
                created,
                compose_project: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
                compose_service: labels.get(COMPOSE_SERVICE_LABEL).cloned(),
                id,
            });
        }
        let live: HashSet<&str> = records.iter().map(|record| record.id.as_str()).collect();
        self.container_created
            .retain(|id, _| live.contains(id.as_str()));
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
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
        let fetched: Vec<(String, Vec<String>, Result<ImageTimes, EngineError>)> =
            stream::iter(stale)
                .map(|(id, tags)| async move {
                    let times = engine.image_times(&id).await;
                    (id, tags, times)
                })
                .buffer_unordered(INSPECT_CONCURRENCY)
                .collect()
                .await;
        let mut gone = HashSet::new();
        for (id, tags, times) in fetched {
            match times {
                Ok(times) => {
                    self.images.insert(id, CachedImage { tags, times });
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
