//! Docker Swarm: the services, tasks, nodes, configs and secrets of an engine that is a swarm
//! manager, reduced to ids, names and times (the tree is built from them in `tree`'s
//! `swarm_folders`), and the loading of them through the list endpoints.
//!
//! An engine that is not a manager (no swarm, or a worker, which cannot list the cluster) has
//! no swarm state at all: the swarm folders are absent, not empty.

use std::collections::HashMap;
use std::time::SystemTime;

use hyper::body::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::engine::{Engine, EngineError, ObjectKind};
use crate::timestamp::parse_rfc3339;

/// The label `docker stack deploy` puts on a stack's services (and its networks, configs and
/// secrets): the stack's name.
pub const STACK_NAMESPACE_LABEL: &str = "com.docker.stack.namespace";

/// Which swarm object a file is the inspect of (defined beside `ObjectKind`, which the engine
/// connection matches on: the engine names no module above it).
pub use crate::engine::SwarmKind;

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceRecord {
    pub id: String,
    pub name: String,
    /// `UpdatedAt`: moved by every `docker service update` and `docker stack deploy`.
    pub updated: SystemTime,
    /// The `com.docker.stack.namespace` label: the stack the service was deployed by.
    pub stack: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    pub id: String,
    pub service_id: String,
    /// A replicated service's slot; a global service's tasks have none (their node names them).
    pub slot: Option<u64>,
    pub node_id: Option<String>,
    pub created: SystemTime,
}

/// A node (named by its hostname), a config or a secret.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedRecord {
    pub id: String,
    pub name: String,
    pub updated: SystemTime,
}

/// The cluster as a manager sees it. Every list is sorted by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwarmState {
    pub services: Vec<ServiceRecord>,
    pub tasks: Vec<TaskRecord>,
    pub nodes: Vec<NamedRecord>,
    pub configs: Vec<NamedRecord>,
    pub secrets: Vec<NamedRecord>,
}

#[derive(Deserialize)]
struct Info {
    #[serde(rename = "Swarm", default)]
    swarm: Option<SwarmInfo>,
}

#[derive(Deserialize)]
struct SwarmInfo {
    #[serde(rename = "ControlAvailable", default)]
    control_available: bool,
    #[serde(rename = "LocalNodeState", default)]
    local_node_state: String,
}

/// The fields every swarm object has.
#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "CreatedAt", default)]
    created_at: Option<String>,
    #[serde(rename = "UpdatedAt", default)]
    updated_at: Option<String>,
    #[serde(rename = "Spec", default)]
    spec: Option<NamedSpec>,
}

#[derive(Default, Deserialize)]
struct NamedSpec {
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct NodeSummary {
    #[serde(flatten)]
    meta: Meta,
    #[serde(rename = "Description", default)]
    description: Option<NodeDescription>,
}

#[derive(Deserialize)]
struct NodeDescription {
    #[serde(rename = "Hostname", default)]
    hostname: Option<String>,
}

#[derive(Deserialize)]
struct TaskSummary {
    #[serde(flatten)]
    meta: Meta,
    #[serde(rename = "ServiceID", default)]
    service_id: Option<String>,
    #[serde(rename = "Slot", default)]
    slot: Option<u64>,
    #[serde(rename = "NodeID", default)]
    node_id: Option<String>,
}

fn time(text: Option<&str>) -> SystemTime {
    text.and_then(parse_rfc3339)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn parse<T: DeserializeOwned>(engine: &Engine, what: &str, body: &Bytes) -> Result<T, EngineError> {
    serde_json::from_slice(body).map_err(|error| EngineError::Failed {
        engine: engine.source().to_string(),
        reason: format!("unreadable {what} JSON: {error}"),
    })
}

/// Whether the engine is a swarm manager (`/info`: `Swarm.ControlAvailable`, on an active node).
async fn is_manager(engine: &Engine) -> Result<bool, EngineError> {
    let body = engine.get_ok("info (swarm state)", "/info").await?;
    let info: Info = parse(engine, "info", &body)?;
    Ok(info
        .swarm
        .is_some_and(|swarm| swarm.control_available && swarm.local_node_state == "active"))
}

/// The swarm objects of a manager; `None` for an engine that is not one. A manager that
/// cannot answer for its cluster (no quorum, or leaving the swarm meanwhile) is one warning and
/// no swarm folders: the containers, images, volumes and networks are served all the same.
pub async fn load(engine: &Engine) -> Result<Option<SwarmState>, EngineError> {
    match load_manager(engine).await {
        Err(EngineError::Failed { reason, .. }) => {
            tracing::warn!(engine = %engine.source(), %reason, "cannot list the swarm's objects; not shown until the next swarm event");
            Ok(None)
        }
        other => other,
    }
}

async fn load_manager(engine: &Engine) -> Result<Option<SwarmState>, EngineError> {
    if !is_manager(engine).await? {
        return Ok(None);
    }
    let (services, tasks, nodes, configs, secrets) = tokio::join!(
        engine.get_ok("list services", "/services"),
        engine.get_ok("list tasks", "/tasks"),
        engine.get_ok("list nodes", "/nodes"),
        engine.get_ok("list configs", "/configs"),
        engine.get_ok("list secrets", "/secrets"),
    );
    let services: Vec<Meta> = parse(engine, "service list", &services?)?;
    let tasks: Vec<TaskSummary> = parse(engine, "task list", &tasks?)?;
    let nodes: Vec<NodeSummary> = parse(engine, "node list", &nodes?)?;
    let configs: Vec<Meta> = parse(engine, "config list", &configs?)?;
    let secrets: Vec<Meta> = parse(engine, "secret list", &secrets?)?;

    let mut state = SwarmState {
        services: services
            .into_iter()
            .filter_map(|service| {
                let spec = service.spec?;
                Some(ServiceRecord {
                    updated: time(service.updated_at.as_deref()),
                    stack: spec
                        .labels
                        .and_then(|mut labels| labels.remove(STACK_NAMESPACE_LABEL)),
                    name: spec.name?,
                    id: service.id,
                })
            })
            .collect(),
        tasks: tasks
            .into_iter()
            .filter_map(|task| {
                Some(TaskRecord {
                    created: time(task.meta.created_at.as_deref()),
                    service_id: task.service_id?,
                    slot: task.slot.filter(|slot| *slot > 0),
                    node_id: task.node_id.filter(|node| !node.is_empty()),
                    id: task.meta.id,
                })
            })
            .collect(),
        nodes: nodes
            .into_iter()
            .map(|node| NamedRecord {
                updated: time(node.meta.updated_at.as_deref()),
                name: node
                    .description
                    .and_then(|description| description.hostname)
                    .unwrap_or_default(),
                id: node.meta.id,
            })
            .collect(),
        configs: named(configs),
        secrets: named(secrets),
    };
    state.services.sort_by(|a, b| a.id.cmp(&b.id));
    state.tasks.sort_by(|a, b| a.id.cmp(&b.id));
    state.nodes.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Some(state))
}

fn named(objects: Vec<Meta>) -> Vec<NamedRecord> {
    let mut records: Vec<NamedRecord> = objects
        .into_iter()
        .filter_map(|object| {
            Some(NamedRecord {
                updated: time(object.updated_at.as_deref()),
                name: object.spec?.name?,
                id: object.id,
            })
        })
        .collect();
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records
}

/// A secret's inspect as served: Swarm never returns a secret's data, and DockerFS must not
/// either. Should an engine ever put `Spec.Data` into the answer, it is taken out (the rest
/// re-serialised) and a warning logged; every other answer is served untouched.
pub fn withhold_secret_data(kind: ObjectKind, raw: Bytes) -> Bytes {
    if kind != ObjectKind::Swarm(SwarmKind::Secret) {
        return raw;
    }
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&raw) else {
        // Not JSON: nothing a reader could take data from is served.
        return Bytes::from_static(b"{}");
    };
    let removed = value
        .get_mut("Spec")
        .and_then(serde_json::Value::as_object_mut)
        .and_then(|spec| spec.remove("Data"));
    if removed.is_none() {
        return raw;
    }
    tracing::warn!("the engine's secret inspect held the secret's data; it is not served");
    match serde_json::to_vec(&value) {
        Ok(bytes) => Bytes::from(bytes),
        Err(_) => Bytes::from_static(b"{}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secrets_data_is_never_served() {
        let secret = ObjectKind::Swarm(SwarmKind::Secret);
        let plain = Bytes::from_static(br#"{"ID":"s","Spec":{"Name":"db","Labels":{}}}"#);
        assert_eq!(withhold_secret_data(secret, plain.clone()), plain);
        let leaked =
            Bytes::from_static(br#"{"ID":"s","Spec":{"Name":"db","Data":"aHVudGVyMg=="}}"#);
        let served = withhold_secret_data(secret, leaked);
        let text = String::from_utf8_lossy(&served);
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
        assert!(text.contains(r#""Name":"db""#), "{text}");
        // A config's data is its content, and `docker config inspect` shows it.
        let config = Bytes::from_static(br#"{"Spec":{"Data":"eA=="}}"#);
        assert_eq!(
            withhold_secret_data(ObjectKind::Swarm(SwarmKind::Config), config.clone()),
            config
        );
    }
}
