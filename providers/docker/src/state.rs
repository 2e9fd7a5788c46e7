//! What the tree is built from: the engine's objects, reduced to names, ids and times, and the
//! loading of it through the list endpoints (plus one cached inspect per container; images'
//! inspects are [`ImageInspects`]', asked in the background and on demand).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};

use crate::engine::{strip_digest_prefix, Engine, EngineError, ImageDetails, ImageTimes};
use crate::images::{ImageInspects, Inspected};
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
    /// The inspect's `Created` (to the nanosecond), or the list's (whole seconds) until the
    /// image is inspected.
    pub created: SystemTime,
    pub last_tag_time: Option<SystemTime>,
    /// Whether `created` and `last_tag_time` are the inspect's. Until then the image's files
    /// are answered through an inspect on demand (see `Tree`).
    pub inspected: bool,
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

#[derive(Clone, Debug, PartialEq)]
pub struct EngineState {
    pub containers: Vec<ContainerRecord>,
    pub images: Vec<ImageRecord>,
    pub volumes: Vec<VolumeRecord>,
    pub networks: Vec<NetworkRecord>,
    /// When the images were last listed: no image not inspected since was tagged later (a tag
    /// after it comes with an event, which inspects that image), so this bounds the times of
    /// the images not yet inspected.
    pub images_listed_at: SystemTime,
    /// Services, tasks, nodes, configs and secrets; `None` unless the engine is a swarm manager.
    pub swarm: Option<SwarmState>,
}

impl Default for EngineState {
    fn default() -> EngineState {
        EngineState {
            containers: Vec::new(),
            images: Vec::new(),
            volumes: Vec::new(),
            networks: Vec::new(),
            images_listed_at: SystemTime::UNIX_EPOCH,
            swarm: None,
        }
    }
}

/// Allowance for the engine's clock against ours when comparing event and inspect times.
const CLOCK_ALLOWANCE: Duration = Duration::from_secs(1);

/// Loads engine state, remembering the per-object inspects that do not need repeating.
pub struct Loader {
    container_created: HashMap<String, SystemTime>,
    images: Arc<ImageInspects>,
}

impl Loader {
    pub fn new(images: Arc<ImageInspects>) -> Loader {
        Loader {
            container_created: HashMap::new(),
            images,
        }
    }

    /// All four kinds at once. Images are listed, not inspected: their inspects (for
    /// `LastTagTime`) follow in the background and on demand.
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
        let (images, images_listed_at) = images?;
        Ok(EngineState {
            containers: containers?,
            images,
            volumes: volumes?,
            networks: networks?,
            swarm: swarm?,
            images_listed_at,
        })
    }

    pub async fn containers(
        &mut self,
        engine: &Engine,
    ) -> Result<Vec<ContainerRecord>, EngineError> {
        load_containers(&mut self.container_created, engine).await
    }

    /// Lists images, with the times of those whose inspect is cached and still fresh; the
    /// others are left to be inspected (by the background loader, or a lookup). An image whose
    /// tags changed since its inspect, or that `named` holds (images an event was about: a
    /// cached rebuild moves `LastTagTime` without any other change), is inspected again.
    /// Returns the images and the time the list was asked for.
    pub async fn images(
        &mut self,
        engine: &Engine,
        named: &HashSet<String>,
    ) -> Result<(Vec<ImageRecord>, SystemTime), EngineError> {
        for id in named {
            self.images.invalidate(id);
        }
        let listed_at = SystemTime::now();
        let listed = engine.list_images().await?;
        let mut records = Vec::with_capacity(listed.len());
        for summary in listed {
            let id = strip_digest_prefix(&summary.id).to_string();
            let mut tags: Vec<String> = summary
                .repo_tags
                .into_iter()
                .filter(|tag| !tag.contains("<none>"))
                .collect();
            tags.sort();
            records.push(ImageRecord {
                created: from_unix_seconds(summary.created),
                last_tag_time: None,
                inspected: false,
                tags,
                id,
            });
        }
        self.take_inspected(&mut records);
        let live: HashSet<&str> = records.iter().map(|record| record.id.as_str()).collect();
        self.images.retain(&live);
        engine.tag_times.retain(&live);
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((records, listed_at))
    }

    /// Takes into `images` the cached inspects of the images not inspected yet (the
    /// background loader's and the lookups' work); true when any was taken. An inspect whose
    /// tags are not the image's any more is marked stale, to be asked again.
    pub fn take_inspected(&self, images: &mut [ImageRecord]) -> bool {
        let mut took = false;
        for record in images.iter_mut().filter(|record| !record.inspected) {
            let Some(cached) = self.images.cached(&record.id) else {
                continue;
            };
            if cached.details.tags == record.tags {
                record.set_times(cached.details.times);
                took = true;
            } else {
                self.images.invalidate(&record.id);
            }
        }
        took
    }
}

impl ImageRecord {
    fn set_times(&mut self, times: ImageTimes) {
        if let Some(created) = times.created {
            self.created = created;
        }
        self.last_tag_time = times.last_tag_time;
        self.inspected = true;
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
        let inspects = &self.images;
        let references: Vec<(String, Option<SystemTime>)> = references
            .iter()
            .map(|(reference, event_time)| (reference.clone(), *event_time))
            .collect();
        let fetched: Vec<(String, Result<Inspected, EngineError>)> = stream::iter(references)
            .map(|(reference, event_time)| async move {
                // Without the event's time, whatever is cached is too old.
                let after = event_time
                    .map(|time| time + CLOCK_ALLOWANCE)
                    .unwrap_or_else(SystemTime::now);
                let inspected = if is_image_id(&reference) {
                    inspects.inspect(engine, &reference, Some(after)).await
                } else {
                    let asked_at = SystemTime::now();
                    engine
                        .image_details(&reference)
                        .await
                        .map(|details| Inspected { details, asked_at })
                };
                (reference, inspected)
            })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .collect()
            .await;
        for (reference, inspected) in fetched {
            match inspected {
                Ok(inspected) => {
                    if !is_image_id(&reference) {
                        self.images.store(inspected.clone());
                    }
                    apply_image(images, inspected.details);
                }
                Err(EngineError::NotFound { .. }) if is_image_id(&reference) => {
                    images.retain(|image| image.id != reference);
                    self.images.remove(&reference);
                    engine.tag_times.forget(&reference);
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
}

/// Puts an inspected image into `images`; its tags leave the images that held them.
fn apply_image(images: &mut Vec<ImageRecord>, details: ImageDetails) {
    for other in images.iter_mut().filter(|image| image.id != details.id) {
        other.tags.retain(|tag| !details.tags.contains(tag));
    }
    let record = ImageRecord {
        id: details.id.clone(),
        tags: details.tags,
        created: details.times.created.unwrap_or(SystemTime::UNIX_EPOCH),
        last_tag_time: details.times.last_tag_time,
        inspected: true,
    };
    match images.iter_mut().find(|image| image.id == details.id) {
        Some(existing) => *existing = record,
        None => images.push(record),
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
