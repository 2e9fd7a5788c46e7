//! The swarm folders of the tree (`services`, `stacks`, `tasks`, `nodes`, `configs`, `secrets`),
//! built the way containers and networks are: a hidden `.<id>` file holding the object's
//! inspect JSON, and a name symlink to it.

use std::collections::BTreeSet;

use super::{inspect_file, link, valid_name, Folder, InspectTarget, Withheld};
use crate::engine::ObjectKind;
use crate::swarm::{NamedRecord, SwarmKind, SwarmState};

/// The top folders of a swarm manager's engine.
pub const SWARM_FOLDERS: [&str; 6] = ["configs", "nodes", "secrets", "services", "stacks", "tasks"];

/// What a service's tasks folder is called in `services/`: `<service>.tasks`. A service name
/// cannot hold a `.` (it must be a DNS label), so no service's own name takes this path.
pub const TASKS_SUFFIX: &str = ".tasks";

fn target(kind: SwarmKind, id: &str) -> Option<InspectTarget> {
    Some(InspectTarget {
        kind: ObjectKind::Swarm(kind),
        id: id.to_string(),
    })
}

/// Whether `name` may be shown as a name entry: a usable path component without a leading `.`
/// (every `.` name in these folders belongs to an id; Swarm refuses such names anyway).
fn shown_name(
    folder: &'static str,
    name: &str,
    id: &str,
    withheld: &mut BTreeSet<Withheld>,
) -> bool {
    if !valid_name(name) {
        return false;
    }
    if name.starts_with('.') {
        withheld.insert(Withheld {
            folder,
            name: name.to_string(),
            still_at: Some(format!("{folder}/.{id}")),
        });
        return false;
    }
    true
}

/// `folder/.<id>` for each object and `folder/<name> -> .<id>`; with two objects of one name
/// (two nodes with one hostname), the name leads to the first by id.
fn named_objects(
    top: &mut Folder,
    folder: &'static str,
    kind: SwarmKind,
    objects: &[NamedRecord],
    withheld: &mut BTreeSet<Withheld>,
) {
    let here = top.folder(&[folder]);
    for object in objects {
        let dot_id = format!(".{}", object.id);
        here.leaf(
            inspect_file(dot_id.clone(), object.updated),
            target(kind, &object.id),
        );
        if shown_name(folder, &object.name, &object.id, withheld) {
            here.leaf(link(object.name.clone(), object.updated, dot_id), None);
        }
    }
}

pub(super) fn add(top: &mut Folder, swarm: &SwarmState, withheld: &mut BTreeSet<Withheld>) {
    for name in SWARM_FOLDERS {
        top.folder(&[name]);
    }
    let mut service_names = std::collections::HashMap::new();
    for service in &swarm.services {
        let dot_id = format!(".{}", service.id);
        let time = service.updated;
        let services = top.folder(&["services"]);
        services.leaf(
            inspect_file(dot_id.clone(), time),
            target(SwarmKind::Service, &service.id),
        );
        if !shown_name("services", &service.name, &service.id, withheld) {
            continue;
        }
        services.leaf(link(service.name.clone(), time, dot_id.clone()), None);
        service_names.insert(service.id.as_str(), service.name.as_str());
        if let Some(stack) = service.stack.as_deref().filter(|stack| valid_name(stack)) {
            // `docker stack deploy` names a stack's services `<stack>_<service>`.
            let short = service
                .name
                .strip_prefix(stack)
                .and_then(|rest| rest.strip_prefix('_'))
                .filter(|short| valid_name(short))
                .unwrap_or(&service.name);
            top.folder(&["stacks", stack]).leaf(
                link(short.to_string(), time, format!("../../services/{dot_id}")),
                None,
            );
        }
    }
    for task in &swarm.tasks {
        let dot_id = format!(".{}", task.id);
        top.folder(&["tasks"]).leaf(
            inspect_file(dot_id.clone(), task.created),
            target(SwarmKind::Task, &task.id),
        );
        let Some(service) = service_names.get(task.service_id.as_str()) else {
            continue;
        };
        // The name the task's container gets: `<service>.<slot>.<task id>` (a global
        // service's task: `<service>.<node id>.<task id>`).
        let Some(slot) = task
            .slot
            .map(|slot| slot.to_string())
            .or_else(|| task.node_id.clone())
        else {
            continue;
        };
        let name = format!("{service}.{slot}.{}", task.id);
        if valid_name(&name) {
            top.folder(&["services", &format!("{service}{TASKS_SUFFIX}")])
                .leaf(
                    link(name, task.created, format!("../../tasks/{dot_id}")),
                    None,
                );
        }
    }
    named_objects(top, "nodes", SwarmKind::Node, &swarm.nodes, withheld);
    named_objects(top, "configs", SwarmKind::Config, &swarm.configs, withheld);
    named_objects(top, "secrets", SwarmKind::Secret, &swarm.secrets, withheld);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use vfs_core::{NodeKind, NodePath};

    use super::super::Tree;
    use crate::state::EngineState;
    use crate::swarm::{NamedRecord, ServiceRecord, SwarmState, TaskRecord};

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn names(tree: &Tree, dir: &str) -> Vec<String> {
        tree.list(&NodePath::parse(dir))
            .unwrap()
            .iter()
            .map(|node| node.name.to_string_lossy().into_owned())
            .collect()
    }

    fn link_target(tree: &Tree, path: &str) -> (String, SystemTime) {
        let node = tree.node(&NodePath::parse(path)).unwrap();
        match &node.kind {
            NodeKind::Symlink { target } => (target.to_string_lossy().into_owned(), node.mtime),
            other => panic!("{path} is {other:?}"),
        }
    }

    fn named(id: &str, name: &str, updated: u64) -> NamedRecord {
        NamedRecord {
            id: id.into(),
            name: name.into(),
            updated: at(updated),
        }
    }

    fn swarm() -> SwarmState {
        SwarmState {
            services: vec![
                ServiceRecord {
                    id: "s1".into(),
                    name: "shop_web".into(),
                    updated: at(20),
                    stack: Some("shop".into()),
                },
                ServiceRecord {
                    id: "s2".into(),
                    name: "lonely".into(),
                    updated: at(30),
                    stack: None,
                },
            ],
            tasks: vec![
                TaskRecord {
                    id: "t1".into(),
                    service_id: "s1".into(),
                    slot: Some(1),
                    node_id: Some("n1".into()),
                    created: at(21),
                },
                TaskRecord {
                    id: "t2".into(),
                    service_id: "s2".into(),
                    slot: None,
                    node_id: Some("n1".into()),
                    created: at(31),
                },
            ],
            nodes: vec![named("n1", "vm", 5), named("n2", "vm", 6)],
            configs: vec![named("c1", "site.conf", 7)],
            secrets: vec![named("x1", "db_password", 8), named("x2", ".sneaky", 9)],
        }
    }

    #[test]
    fn swarm_objects_have_their_places_and_times() {
        let state = EngineState {
            swarm: Some(swarm()),
            ..EngineState::default()
        };
        let tree = Tree::build(&state);
        assert_eq!(
            names(&tree, ""),
            [
                "compose",
                "configs",
                "containers",
                "images",
                "networks",
                "nodes",
                "secrets",
                "services",
                "stacks",
                "tasks",
                "volumes"
            ]
        );
        assert_eq!(
            names(&tree, "services"),
            [
                ".s1",
                ".s2",
                "lonely",
                "lonely.tasks",
                "shop_web",
                "shop_web.tasks"
            ]
        );
        assert_eq!(
            link_target(&tree, "services/shop_web"),
            (".s1".into(), at(20))
        );
        let file = NodePath::parse("services/.s1");
        assert_eq!(tree.node(&file).unwrap().mtime, at(20));
        assert_eq!(tree.inspect_target(&file).unwrap().id, "s1");
        assert_eq!(
            link_target(&tree, "stacks/shop/web"),
            ("../../services/.s1".into(), at(20))
        );
        assert_eq!(names(&tree, "stacks"), ["shop"]);
        assert_eq!(
            link_target(&tree, "services/shop_web.tasks/shop_web.1.t1"),
            ("../../tasks/.t1".into(), at(21))
        );
        // A global service's task is named by its node.
        assert_eq!(names(&tree, "services/lonely.tasks"), ["lonely.n1.t2"]);
        assert_eq!(names(&tree, "tasks"), [".t1", ".t2"]);
        // Two nodes with one hostname: the name leads to the first by id.
        assert_eq!(names(&tree, "nodes"), [".n1", ".n2", "vm"]);
        assert_eq!(link_target(&tree, "nodes/vm"), (".n1".into(), at(5)));
        assert_eq!(names(&tree, "configs"), [".c1", "site.conf"]);
        // A name with a leading `.` is withheld; its object stays at its `.<id>`.
        assert_eq!(names(&tree, "secrets"), [".x1", ".x2", "db_password"]);
        assert_eq!(tree.newly_withheld(&Tree::empty()).count(), 1);
    }

    #[test]
    fn an_engine_that_is_no_manager_has_no_swarm_folders() {
        let tree = Tree::build(&EngineState::default());
        assert_eq!(
            names(&tree, ""),
            ["compose", "containers", "images", "networks", "volumes"]
        );
        // An empty swarm: the folders are there, empty.
        let state = EngineState {
            swarm: Some(SwarmState::default()),
            ..EngineState::default()
        };
        assert_eq!(
            names(&Tree::build(&state), "services"),
            Vec::<String>::new()
        );
    }
}
