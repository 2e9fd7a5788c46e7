//! The tree shown to the host, built in memory from an [`EngineState`], and the difference
//! between two trees as change notices.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::time::{SystemTime, UNIX_EPOCH};

use vfs_core::{Node, NodePath, Notice, ProviderError};

use crate::engine::ObjectKind;
use crate::state::EngineState;

mod lazy;

use lazy::{Answer, Lazy, Role, Timing};
pub use lazy::{Lookup, Waiting};

mod swarm_folders;

/// Inspect files hold environment variables and other secrets: owner-only.
const INSPECT_FILE_PERM: u16 = 0o400;
const FOLDER_PERM: u16 = 0o555;
/// Where a compose service's one-off containers (`docker compose run`) are shown.
pub const ONE_OFF_FOLDER: &str = "run";

/// Which engine object a file's content is the inspect of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectTarget {
    pub kind: ObjectKind,
    pub id: String,
}

/// The whole tree, every listing precomputed: answering the host costs no engine call.
#[derive(Debug)]
pub struct Tree {
    root: Node,
    listings: HashMap<NodePath, Vec<Node>>,
    files: HashMap<NodePath, InspectTarget>,
    withheld: BTreeSet<Withheld>,
    /// The images not inspected yet, and what waits for them.
    lazy: Lazy,
}

/// An object's name that is not shown because it has the form of an id's file name
/// ([`is_id_name`]): shown, it would take (or lose to, by list order) another object's path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Withheld {
    /// The folder the name would have been in (`networks`, `volumes`, …).
    pub folder: &'static str,
    pub name: String,
    /// Where the object is still served, if anywhere (its own `.<id>` file).
    pub still_at: Option<String>,
}

/// A folder under construction. Sub-folders and leaves are kept apart so that a folder wins
/// over a leaf of the same name (a repository folder over a colon-free tag).
#[derive(Default)]
struct Folder {
    folders: BTreeMap<OsString, Folder>,
    leaves: BTreeMap<OsString, (Node, Option<InspectTarget>, Option<lazy::PendingLeaf>)>,
    /// Sub-folders whose time does not count for this folder's (a service's `run/`).
    untimed: BTreeSet<OsString>,
}

impl Folder {
    /// The folder at `names` below this one, created as needed.
    fn folder(&mut self, names: &[&str]) -> &mut Folder {
        let mut folder = self;
        for name in names {
            folder = folder.folders.entry(OsString::from(name)).or_default();
        }
        folder
    }

    /// Adds a file or symlink unless an earlier leaf took the name.
    fn leaf(&mut self, node: Node, target: Option<InspectTarget>) {
        self.leaves
            .entry(node.name.clone())
            .or_insert((node, target, None));
    }

    /// Turns this folder into listings; returns its timing (the newest of what it holds, and
    /// what of it waits for an inspect; `empty`'s when it holds nothing).
    fn finish(self, path: &NodePath, built: &mut Built, empty: &Timing) -> Option<Timing> {
        let mut by_name: BTreeMap<OsString, Node> = BTreeMap::new();
        let mut timing = Timing::default();
        for (name, (node, target, pending)) in self.leaves {
            if self.folders.contains_key(&name) {
                tracing::debug!(?name, folder = %path, "a folder hides a leaf of the same name");
                continue;
            }
            if let Some(target) = target {
                built.files.insert(path.join(&name), target);
            }
            if let Some(leaf) = pending {
                built.lazy.add_leaf(path.join(&name), leaf);
            }
            timing.add_leaf(&node, pending);
            by_name.insert(name, node);
        }
        for (name, folder) in self.folders {
            let below = path.join(&name);
            let sub = folder.finish(&below, built, empty);
            let time = match &sub {
                Some(sub) => built.lazy.folder_time(&below, sub, None, first_built()),
                None => {
                    let shared = built.empty_waits.as_ref();
                    built.lazy.folder_time(&below, empty, shared, first_built())
                }
            };
            by_name.insert(name.clone(), folder_node(name.clone(), time));
            if !self.untimed.contains(&name) {
                timing.merge(sub.as_ref().unwrap_or(empty));
            }
        }
        built
            .listings
            .insert(path.clone(), by_name.into_values().collect());
        (!timing.is_empty()).then_some(timing)
    }
}

/// What [`Folder::finish`] fills.
struct Built {
    listings: HashMap<NodePath, Vec<Node>>,
    files: HashMap<NodePath, InspectTarget>,
    lazy: Lazy,
    /// The empty folders' list of what waits (everything), shared.
    empty_waits: Option<std::sync::Arc<[lazy::PendingLeaf]>>,
}

/// When this process first built a tree (the provider's start, near enough).
fn first_built() -> SystemTime {
    static FIRST: std::sync::OnceLock<SystemTime> = std::sync::OnceLock::new();
    *FIRST.get_or_init(SystemTime::now)
}

/// The entry `name` of a listing. Every listing is sorted by name (built from a `BTreeMap` in
/// [`Folder::finish`]), so a name costs a binary search: `images/` and a repository's folder hold
/// one entry per image, and a scan of them per lookup was a fifth of the CPU of a cold `make -q`
/// over 10,000 images.
fn entry<'a>(listing: &'a [Node], name: &OsStr) -> Option<&'a Node> {
    listing
        .binary_search_by(|node| node.name.as_os_str().cmp(name))
        .ok()
        .map(|index| &listing[index])
}

fn folder_node(name: impl Into<OsString>, time: SystemTime) -> Node {
    Node::directory(name, time)
        .with_ctime(time)
        .with_perm(FOLDER_PERM)
}

fn inspect_file(name: String, time: SystemTime) -> Node {
    Node::file(name, time, None)
        .with_ctime(time)
        .with_perm(INSPECT_FILE_PERM)
}

fn link(name: String, time: SystemTime, target: String) -> Node {
    Node::symlink(name, time, target).with_ctime(time)
}

/// A name usable as one path component.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// `repo:tag` split into the repository's components and the tag. The tag is after the last
/// `:` that follows the last `/`, so a registry port (`localhost:5000/app:1`) stays in the repo.
/// Docker Hub names are shown as Docker lists them (`docker.io/library/app:1` is `app:1`,
/// `docker.io/team/app:1` is `team/app:1`): Podman's API lists them in full.
pub fn split_reference(reference: &str) -> Option<(Vec<&str>, &str)> {
    let reference = reference
        .strip_prefix("docker.io/library/")
        .filter(|rest| !rest.contains('/'))
        .or_else(|| reference.strip_prefix("docker.io/"))
        .unwrap_or(reference);
    let last_slash = reference.rfind('/').map_or(0, |index| index + 1);
    let colon = last_slash + reference[last_slash..].rfind(':')?;
    let (repo, tag) = (&reference[..colon], &reference[colon + 1..]);
    let components: Vec<&str> = repo.split('/').collect();
    if !valid_name(tag) || !components.iter().all(|name| valid_name(name)) {
        return None;
    }
    Some((components, tag))
}

fn is_anonymous_volume(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// `.` and 64 hex digits: the form of every id's file (`.<id>`; an anonymous volume's
/// `.<name>`). Such names belong to ids in every folder, so an object *named* like that (a
/// network can be: `docker network create .<another network's id>`) gets no name entry. The
/// rule looks at the name alone, never at which ids exist or the order the engine lists
/// objects in, so a path means the same object whatever else is on the engine.
fn is_id_name(name: &str) -> bool {
    name.strip_prefix('.').is_some_and(is_anonymous_volume)
}

impl Tree {
    /// An empty tree (before the first load).
    pub fn empty() -> Tree {
        Tree::build(&EngineState::default())
    }

    pub fn build(state: &EngineState) -> Tree {
        let mut top = Folder::default();
        let mut withheld = BTreeSet::new();
        for name in ["containers", "images", "volumes", "networks", "compose"] {
            top.folder(&[name]);
        }

        for container in &state.containers {
            let dot_id = format!(".{}", container.id);
            let time = container.created;
            let containers = top.folder(&["containers"]);
            containers.leaf(
                inspect_file(dot_id.clone(), time),
                Some(InspectTarget {
                    kind: ObjectKind::Container,
                    id: container.id.clone(),
                }),
            );
            let name = container.name.clone().filter(|name| valid_name(name));
            match &name {
                // The engine refuses such container names today; the rule holds anyway.
                Some(name) if is_id_name(name) => {
                    withheld.insert(Withheld {
                        folder: "containers",
                        name: name.clone(),
                        still_at: Some(format!("containers/{dot_id}")),
                    });
                }
                Some(name) => containers.leaf(link(name.clone(), time, dot_id.clone()), None),
                None => {}
            }
            if let (Some(project), Some(service)) =
                (&container.compose_project, &container.compose_service)
            {
                if valid_name(project) && valid_name(service) {
                    let entry = name.clone().unwrap_or_else(|| container.id.clone());
                    let service = top.folder(&["compose", project, service]);
                    if container.compose_oneoff {
                        // `compose run` containers: shown with their service, but they do
                        // not make it newer (the service was not recreated).
                        service.untimed.insert(OsString::from(ONE_OFF_FOLDER));
                        service.folder(&[ONE_OFF_FOLDER]).leaf(
                            link(entry, time, format!("../../../../containers/{dot_id}")),
                            None,
                        );
                    } else {
                        service.leaf(
                            link(entry, time, format!("../../../containers/{dot_id}")),
                            None,
                        );
                    }
                }
            }
        }

        let mut lazy = Lazy::default();
        let waiting = state.images.iter().filter(|image| !image.inspected);
        let provisional = waiting.map(|image| image.created).max();
        let provisional = provisional
            .max(Some(state.images_listed_at))
            .unwrap_or(UNIX_EPOCH);
        lazy.set_provisional(provisional);
        for image in &state.images {
            let dot_id = format!(".{}", image.id);
            // Not inspected yet: its leaves wait for the inspect (see `lazy`).
            let index = (!image.inspected).then(|| lazy.image(&image.id, image.created));
            let pending = |role| index.map(|index| Lazy::leaf(index, role));
            let time = match (index, image.last_tag_time) {
                // A placeholder, answered only if the inspect fails: no older than the truth.
                (Some(_), _) => provisional,
                (None, Some(tagged)) => tagged.max(image.created),
                (None, None) => image.created,
            };
            top.folder(&["images"]).image_leaf(
                inspect_file(dot_id.clone(), time),
                Some(InspectTarget {
                    kind: ObjectKind::Image,
                    id: image.id.clone(),
                }),
                pending(Role::IdFile),
            );
            let tag_time = match index {
                Some(_) => provisional,
                None => image.last_tag_time.unwrap_or(image.created),
            };
            for reference in &image.tags {
                let Some((repo, tag)) = split_reference(reference) else {
                    tracing::debug!(%reference, "image reference not shown: not a usable path");
                    continue;
                };
                let Some((last, parents)) = repo.split_last() else {
                    continue;
                };
                // The first component is a folder in `images/`, which would hide an image's
                // file (a folder wins). Reference syntax forbids a leading `.`; checked anyway.
                if repo.first().is_some_and(|first| is_id_name(first)) {
                    withheld.insert(Withheld {
                        folder: "images",
                        name: reference.clone(),
                        still_at: Some(format!("images/{dot_id}")),
                    });
                    continue;
                }
                let mut folder_names = vec!["images"];
                folder_names.extend(parents);
                let up = "../".repeat(parents.len());
                top.folder(&folder_names).image_leaf(
                    link(format!("{last}:{tag}"), tag_time, format!("{up}{dot_id}")),
                    None,
                    pending(Role::Tag),
                );
                folder_names.push(last);
                top.folder(&folder_names).image_leaf(
                    link(tag.to_string(), tag_time, format!("../{up}{dot_id}")),
                    None,
                    pending(Role::Tag),
                );
            }
        }

        for volume in &state.volumes {
            if !valid_name(&volume.name) {
                continue;
            }
            // A volume has no file but its name's: one named like an id is not shown at all
            // (the local driver refuses a leading `.`; a plugin's volume could have one).
            if is_id_name(&volume.name) {
                withheld.insert(Withheld {
                    folder: "volumes",
                    name: volume.name.clone(),
                    still_at: None,
                });
                continue;
            }
            let name = if is_anonymous_volume(&volume.name) {
                format!(".{}", volume.name)
            } else {
                volume.name.clone()
            };
            top.folder(&["volumes"]).leaf(
                inspect_file(name, volume.created),
                Some(InspectTarget {
                    kind: ObjectKind::Volume,
                    id: volume.name.clone(),
                }),
            );
        }

        for network in &state.networks {
            let dot_id = format!(".{}", network.id);
            let networks = top.folder(&["networks"]);
            networks.leaf(
                inspect_file(dot_id.clone(), network.created),
                Some(InspectTarget {
                    kind: ObjectKind::Network,
                    id: network.id.clone(),
                }),
            );
            if is_id_name(&network.name) {
                withheld.insert(Withheld {
                    folder: "networks",
                    name: network.name.clone(),
                    still_at: Some(format!("networks/{dot_id}")),
                });
            } else if valid_name(&network.name) {
                networks.leaf(link(network.name.clone(), network.created, dot_id), None);
            }
        }

        if let Some(swarm) = &state.swarm {
            swarm_folders::add(&mut top, swarm, &mut withheld);
        }

        // An empty folder (`containers/` with no container) takes the newest object's time,
        // the same for every process that reads this engine (`vfs tree` agrees with a mount):
        // 1970 looked broken in `ls -l`. With no object at all, the time this process first
        // built a tree, which is about when the provider started.
        let empty = top.timing();
        let mut built = Built {
            listings: HashMap::new(),
            files: HashMap::new(),
            empty_waits: Some(Lazy::shared_leaves(&empty)),
            lazy,
        };
        let root = NodePath::root();
        let timing = top.finish(&root, &mut built, &empty);
        let newest = built.lazy.folder_time(
            &root,
            timing.as_ref().unwrap_or(&empty),
            None,
            first_built(),
        );
        Tree {
            root: folder_node("", newest),
            listings: built.listings,
            files: built.files,
            withheld,
            lazy: built.lazy,
        }
    }

    /// The names withheld from this tree that `older` did not withhold: what to warn about,
    /// once each time such a name appears rather than at every rebuild.
    pub fn newly_withheld<'a>(&'a self, older: &'a Tree) -> impl Iterator<Item = &'a Withheld> {
        self.withheld.difference(&older.withheld)
    }

    pub fn root(&self) -> Node {
        self.root_as(Answer::Given)
    }

    /// The entries of `dir`; an entry still waiting for its image's inspect (see
    /// [`Tree::waiting_in`]) shows a time no older than the truth.
    pub fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        if let Some(nodes) = self.listings.get(dir) {
            return Ok(nodes
                .iter()
                .map(|node| {
                    self.entry_as(dir, node, Answer::Given)
                        .unwrap_or_else(|| node.clone())
                })
                .collect());
        }
        match self.node(dir) {
            Some(_) => Err(ProviderError::NotADirectory(dir.clone())),
            None => Err(ProviderError::NotFound(dir.clone())),
        }
    }

    /// The object whose inspect is the content of the file at `path`.
    pub fn inspect_target(&self, path: &NodePath) -> Result<&InspectTarget, ProviderError> {
        if let Some(target) = self.files.get(path) {
            return Ok(target);
        }
        if path.is_root() || self.node(path).is_some() {
            return Err(ProviderError::NotAFile(path.clone()));
        }
        Err(ProviderError::NotFound(path.clone()))
    }

    fn node(&self, path: &NodePath) -> Option<&Node> {
        entry(self.listings.get(&path.parent()?)?, path.name()?)
    }

    /// The notices that make a host see `new` instead of `self`, as small as they can be: a
    /// folder whose names or own attributes changed is a change of that node alone (each
    /// folder's listing is compared on its own, so what changed further below is told
    /// separately); a name that left, a file or link that changed, or an entry that changed
    /// kind is a change of its whole subtree. None is covered by another.
    pub fn changes_to(&self, new: &Tree) -> Vec<Notice> {
        let mut subtrees = BTreeSet::new();
        let mut nodes = BTreeSet::new();
        if self.root_as(Answer::Held) != new.root_as(Answer::Now) {
            nodes.insert(NodePath::root());
        }
        let folders: BTreeSet<&NodePath> =
            self.listings.keys().chain(new.listings.keys()).collect();
        for folder in folders {
            let (before, after) = match (self.listings.get(folder), new.listings.get(folder)) {
                (Some(before), Some(after)) => (before, after),
                (Some(_), None) => {
                    // A folder that went: everything below it goes, and its parent's names.
                    subtrees.insert(folder.clone());
                    nodes.insert(folder.parent().unwrap_or_default());
                    continue;
                }
                _ => {
                    // A folder that came: its parent's names changed.
                    nodes.insert(folder.parent().unwrap_or_default());
                    continue;
                }
            };
            // As answered: `None` for an entry waiting for its image's inspect (before: never
            // answered from that tree; after: to be answered anew). A folder of `self`
            // answered with its provisional time is taken at that time, however exact it
            // became in place since: the kernel may hold it.
            let names_before: BTreeMap<&OsString, (&Node, Option<Node>)> = before
                .iter()
                .map(|node| {
                    (
                        &node.name,
                        (node, self.entry_as(folder, node, Answer::Held)),
                    )
                })
                .collect();
            let names_after: BTreeMap<&OsString, (&Node, Option<Node>)> = after
                .iter()
                .map(|node| (&node.name, (node, new.entry_as(folder, node, Answer::Now))))
                .collect();
            if names_before.keys().ne(names_after.keys()) {
                nodes.insert(folder.clone());
            }
            for (name, (old_built, old)) in &names_before {
                let path = folder.join(name);
                let Some((new_built, new)) = names_after.get(name) else {
                    subtrees.insert(path);
                    continue;
                };
                match (old, new) {
                    (None, _) if same_kind(old_built, new_built) => {}
                    (Some(old), Some(new)) if same_entry(old, new) => {}
                    (Some(old), Some(new)) if old.is_directory() && new.is_directory() => {
                        nodes.insert(path);
                    }
                    _ => {
                        subtrees.insert(path);
                    }
                }
            }
        }
        let mut covering: Vec<NodePath> = Vec::new();
        for path in subtrees {
            if !covering.iter().any(|kept| path.starts_with(kept)) {
                covering.push(path);
            }
        }
        let nodes: Vec<Notice> = nodes
            .into_iter()
            .filter(|path| !covering.iter().any(|kept| path.starts_with(kept)))
            .map(Notice::node)
            .collect();
        covering
            .into_iter()
            .map(Notice::subtree)
            .chain(nodes)
            .collect()
    }
}

/// Same name, kind, target and attributes (a folder's listing is compared on its own).
fn same_entry(a: &Node, b: &Node) -> bool {
    same_kind(a, b) && a.mtime == b.mtime && a.ctime == b.ctime && a.perm == b.perm
}

/// Same kind and target (a folder's listing is compared on its own).
fn same_kind(a: &Node, b: &Node) -> bool {
    a.kind == b.kind
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use vfs_core::NodeKind;

    use super::*;
    use crate::state::{ContainerRecord, ImageRecord, NetworkRecord, VolumeRecord};

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn hex(digit: char) -> String {
        std::iter::repeat_n(digit, 64).collect()
    }

    fn names(tree: &Tree, dir: &str) -> Vec<String> {
        tree.list(&NodePath::parse(dir))
            .unwrap()
            .iter()
            .map(|node| node.name.to_string_lossy().into_owned())
            .collect()
    }

    fn target(tree: &Tree, path: &str) -> String {
        let path = NodePath::parse(path);
        let node = tree.node(&path).unwrap();
        match &node.kind {
            NodeKind::Symlink { target } => target.to_string_lossy().into_owned(),
            other => panic!("{path} is {other:?}"),
        }
    }

    #[test]
    fn references_keep_ports_and_split_slashes() {
        assert_eq!(
            split_reference("localhost:5000/app:v1"),
            Some((vec!["localhost:5000", "app"], "v1"))
        );
        assert_eq!(
            split_reference("ghcr.io/team/app:1.2"),
            Some((vec!["ghcr.io", "team", "app"], "1.2"))
        );
        assert_eq!(split_reference("localhost:5000/app"), None);
        assert_eq!(
            split_reference("docker.io/library/app:1"),
            Some((vec!["app"], "1"))
        );
        assert_eq!(
            split_reference("docker.io/team/app:1"),
            Some((vec!["team", "app"], "1"))
        );
        assert_eq!(
            split_reference("localhost/app:1"),
            Some((vec!["localhost", "app"], "1"))
        );
        assert_eq!(split_reference("a//b:x"), None);
        assert_eq!(split_reference("../x:y"), None);
    }

    #[test]
    fn an_empty_folder_takes_the_newest_objects_time_never_1970() {
        let state = EngineState {
            networks: vec![NetworkRecord {
                id: hex('e'),
                name: "bridge".into(),
                created: at(8),
            }],
            ..EngineState::default()
        };
        let tree = Tree::build(&state);
        let top = tree.list(&NodePath::root()).unwrap();
        for node in &top {
            assert_eq!(node.mtime, at(8), "{:?}", node.name);
        }
        let nothing = Tree::build(&EngineState::default());
        let before = SystemTime::now() - Duration::from_secs(3600);
        assert!(nothing.root().mtime > before, "{:?}", nothing.root().mtime);
        for node in nothing.list(&NodePath::root()).unwrap() {
            assert_eq!(node.mtime, nothing.root().mtime);
        }
    }

    #[test]
    fn folder_wins_over_a_tag_and_times_roll_up() {
        let state = EngineState {
            images: vec![
                ImageRecord {
                    id: hex('a'),
                    tags: vec!["team/app:x".into()],
                    created: at(10),
                    last_tag_time: Some(at(30)),
                    inspected: true,
                },
                ImageRecord {
                    id: hex('b'),
                    tags: vec!["team/app/x:1".into()],
                    created: at(20),
                    last_tag_time: None,
                    inspected: true,
                },
            ],
            ..EngineState::default()
        };
        let tree = Tree::build(&state);
        assert_eq!(names(&tree, "images/team"), ["app", "app:x"]);
        assert_eq!(names(&tree, "images/team/app"), ["x", "x:1"]);
        assert_eq!(
            target(&tree, "images/team/app:x"),
            format!("../.{}", hex('a'))
        );
        assert_eq!(
            target(&tree, "images/team/app/x:1"),
            format!("../../.{}", hex('b'))
        );
        assert_eq!(
            target(&tree, "images/team/app/x/1"),
            format!("../../../.{}", hex('b'))
        );
        assert_eq!(tree.root().mtime, at(30));
        let images = tree.list(&NodePath::root()).unwrap();
        let images = images.iter().find(|node| node.name == "images").unwrap();
        assert_eq!(images.mtime, at(30));
        assert_eq!(
            tree.node(&NodePath::parse("images/team/app/x"))
                .unwrap()
                .mtime,
            at(20)
        );
    }

    #[test]
    fn every_listing_is_in_name_order_and_finds_each_of_its_names() {
        // Names whose byte order is not their "natural" one (img10 before img2, upper case
        // before lower, `.` before letters, a colon-free tag beside its `name:tag`).
        let tags = [
            "img2:latest",
            "img10:latest",
            "Img1:v",
            "img1:latest",
            "a/b:c",
            "a:1",
        ];
        let state = EngineState {
            images: tags
                .iter()
                .enumerate()
                .map(|(n, tag)| ImageRecord {
                    id: hex(char::from_digit(n as u32 + 1, 16).unwrap()),
                    tags: vec![(*tag).into()],
                    created: at(10),
                    last_tag_time: None,
                    inspected: n % 2 == 0,
                })
                .collect(),
            ..EngineState::default()
        };
        let tree = Tree::build(&state);
        for (dir, listing) in &tree.listings {
            assert!(
                listing.is_sorted_by(|a, b| a.name < b.name),
                "{dir}: {:?}",
                listing.iter().map(|node| &node.name).collect::<Vec<_>>()
            );
            for node in listing {
                let path = dir.join(&node.name);
                assert_eq!(tree.node(&path).map(|found| &found.name), Some(&node.name));
                assert!(tree.lookup(dir, &node.name).is_ok(), "{path}");
            }
            assert!(tree.node(&dir.join("zz-not-there")).is_none());
        }
        assert!(tree.listings.len() > 5);
    }

    #[test]
    fn every_kind_has_its_place() {
        let state = EngineState {
            containers: vec![ContainerRecord {
                id: hex('c'),
                name: Some("web-1".into()),
                created: at(5),
                compose_project: Some("shop".into()),
                compose_service: Some("web".into()),
                compose_oneoff: false,
            }],
            volumes: vec![
                VolumeRecord {
                    name: "data".into(),
                    created: at(6),
                },
                VolumeRecord {
                    name: hex('d'),
                    created: at(7),
                },
            ],
            networks: vec![NetworkRecord {
                id: hex('e'),
                name: "bridge".into(),
                created: at(8),
            }],
            ..EngineState::default()
        };
        let tree = Tree::build(&state);
        assert_eq!(
            names(&tree, ""),
            ["compose", "containers", "images", "networks", "volumes"]
        );
        assert_eq!(
            names(&tree, "containers"),
            [format!(".{}", hex('c')), "web-1".into()]
        );
        assert_eq!(
            target(&tree, "compose/shop/web/web-1"),
            format!("../../../containers/.{}", hex('c'))
        );
        assert_eq!(
            names(&tree, "volumes"),
            [format!(".{}", hex('d')), "data".into()]
        );
        assert_eq!(
            names(&tree, "networks"),
            [format!(".{}", hex('e')), "bridge".into()]
        );
        let target_of = tree
            .inspect_target(&NodePath::parse(&format!("volumes/.{}", hex('d'))))
            .unwrap();
        assert_eq!(target_of.id, hex('d'));
        assert!(matches!(
            tree.inspect_target(&NodePath::parse("containers/web-1")),
            Err(ProviderError::NotAFile(_))
        ));
        assert!(matches!(
            tree.list(&NodePath::parse("nothing")),
            Err(ProviderError::NotFound(_))
        ));
    }

    #[test]
    fn changes_name_the_smallest_forgettable_paths() {
        let mut state = EngineState {
            volumes: vec![VolumeRecord {
                name: "old".into(),
                created: at(50),
            }],
            ..EngineState::default()
        };
        let before = Tree::build(&state);
        state.networks.push(NetworkRecord {
            id: hex('1'),
            name: "n".into(),
            created: at(10),
        });
        let after = Tree::build(&state);
        let told = |before: &Tree, after: &Tree| -> Vec<String> {
            before
                .changes_to(after)
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        // A new network, older than the volume: the networks folder alone (names, time); the
        // root's time stays; nothing below is forgotten.
        assert_eq!(told(&before, &after), ["/networks alone"]);
        assert!(after.changes_to(&Tree::build(&state)).is_empty());
        // A volume newer: its file, and the times of the folders holding it, and of the empty
        // folders (which take the newest object's time).
        state.volumes[0].created = at(60);
        let newer = Tree::build(&state);
        assert_eq!(
            told(&after, &newer),
            [
                "/volumes/old and below",
                "/ alone",
                "/compose alone",
                "/containers alone",
                "/images alone",
                "/volumes alone"
            ]
        );
        // A volume gone: its whole path, and its folder's names; the empty folders go back to
        // the newest object left.
        state.volumes.clear();
        assert_eq!(
            told(&newer, &Tree::build(&state)),
            [
                "/volumes/old and below",
                "/ alone",
                "/compose alone",
                "/containers alone",
                "/images alone",
                "/volumes alone"
            ]
        );
    }

    /// A network named `.<id of another network>`: the other's file, time and name link stand
    /// whichever of the two the engine lists first, and the impostor is withheld (warned about
    /// once, served at its own `.<id>`).
    #[test]
    fn a_name_shaped_like_an_id_never_takes_an_ids_path() {
        let real = NetworkRecord {
            id: hex('5'),
            name: "real".into(),
            created: at(10),
        };
        for impostor_id in [hex('1'), hex('9')] {
            let impostor = NetworkRecord {
                id: impostor_id.clone(),
                name: format!(".{}", hex('5')),
                created: at(99),
            };
            for networks in [
                vec![impostor.clone(), real.clone()],
                vec![real.clone(), impostor.clone()],
            ] {
                let state = EngineState {
                    networks,
                    ..EngineState::default()
                };
                let tree = Tree::build(&state);
                let real_file = NodePath::parse(&format!("networks/.{}", hex('5')));
                let node = tree.node(&real_file).unwrap();
                assert!(matches!(node.kind, NodeKind::File { .. }), "{node:?}");
                assert_eq!(node.mtime, at(10));
                assert_eq!(tree.inspect_target(&real_file).unwrap().id, hex('5'));
                assert_eq!(target(&tree, "networks/real"), format!(".{}", hex('5')));
                let own = NodePath::parse(&format!("networks/.{impostor_id}"));
                assert_eq!(tree.inspect_target(&own).unwrap().id, impostor_id);
                assert_eq!(names(&tree, "networks").len(), 3);
                let empty = Tree::empty();
                let warned: Vec<&Withheld> = tree.newly_withheld(&empty).collect();
                assert_eq!(
                    warned,
                    [&Withheld {
                        folder: "networks",
                        name: format!(".{}", hex('5')),
                        still_at: Some(format!("networks/.{impostor_id}")),
                    }]
                );
                // Rebuilt with the same objects: nothing new to warn about.
                assert_eq!(Tree::build(&state).newly_withheld(&tree).count(), 0);
            }
        }
    }

    #[test]
    fn id_shaped_names_are_withheld_in_every_folder() {
        let shaped = format!(".{}", hex('a'));
        let upper = format!(".{}", hex('A'));
        let state = EngineState {
            containers: vec![ContainerRecord {
                id: hex('a'),
                name: Some(upper.clone()),
                created: at(1),
                compose_project: None,
                compose_service: None,
                compose_oneoff: false,
            }],
            images: vec![ImageRecord {
                id: hex('a'),
                tags: vec![format!("{shaped}/app:1"), "ok:1".into()],
                created: at(2),
                last_tag_time: None,
                inspected: true,
            }],
            volumes: vec![
                VolumeRecord {
                    // An anonymous volume: shown as `.<name>`.
                    name: hex('a'),
                    created: at(3),
                },
                VolumeRecord {
                    name: shaped.clone(),
                    created: at(4),
                },
                VolumeRecord {
                    // Not 64 hex digits after the dot: an ordinary name.
                    name: ".cache".into(),
                    created: at(5),
                },
            ],
            networks: vec![NetworkRecord {
                id: hex('b'),
                name: ".hidden".into(),
                created: at(6),
            }],
            swarm: None,
            images_listed_at: SystemTime::UNIX_EPOCH,
        };
        let tree = Tree::build(&state);
        assert_eq!(names(&tree, "containers"), [shaped.as_str()]);
        assert_eq!(
            names(&tree, "images"),
            [shaped.clone(), "ok".into(), "ok:1".into()]
        );
        assert!(matches!(
            tree.node(&NodePath::parse(&format!("images/{shaped}")))
                .unwrap()
                .kind,
            NodeKind::File { .. }
        ));
        assert_eq!(names(&tree, "volumes"), [shaped.clone(), ".cache".into()]);
        let volume = tree
            .node(&NodePath::parse(&format!("volumes/{shaped}")))
            .unwrap();
        assert_eq!(volume.mtime, at(3), "the anonymous volume keeps its path");
        assert_eq!(
            names(&tree, "networks"),
            [format!(".{}", hex('b')), ".hidden".into()]
        );
        let empty = Tree::empty();
        let warned: Vec<(&str, &str)> = tree
            .newly_withheld(&empty)
            .map(|withheld| (withheld.folder, withheld.name.as_str()))
            .collect();
        let reference = format!("{shaped}/app:1");
        assert_eq!(
            warned,
            [
                ("containers", upper.as_str()),
                ("images", reference.as_str()),
                ("volumes", shaped.as_str()),
            ]
        );
    }

    /// A `compose run` container is under its service's `run/`, and the service folder keeps
    /// the time of the containers the service runs.
    #[test]
    fn one_off_containers_do_not_make_their_service_newer() {
        let container = |digit: char, name: &str, created: u64, oneoff: bool| ContainerRecord {
            id: hex(digit),
            name: Some(name.into()),
            created: at(created),
            compose_project: Some("shop".into()),
            compose_service: Some("web".into()),
            compose_oneoff: oneoff,
        };
        let state = EngineState {
            containers: vec![
                container('1', "shop_web_1", 10, false),
                container('2', "shop_web_run_1", 50, true),
            ],
            ..EngineState::default()
        };
        let tree = Tree::build(&state);
        assert_eq!(names(&tree, "compose/shop/web"), ["run", "shop_web_1"]);
        assert_eq!(names(&tree, "compose/shop/web/run"), ["shop_web_run_1"]);
        assert_eq!(
            target(&tree, "compose/shop/web/run/shop_web_run_1"),
            format!("../../../../containers/.{}", hex('2'))
        );
        let service = tree.node(&NodePath::parse("compose/shop/web")).unwrap();
        assert_eq!(service.mtime, at(10));
        let run = tree.node(&NodePath::parse("compose/shop/web/run")).unwrap();
        assert_eq!(run.mtime, at(50));
        let project = tree.node(&NodePath::parse("compose/shop")).unwrap();
        assert_eq!(project.mtime, at(10));
    }
}
