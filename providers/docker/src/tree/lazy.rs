//! Images not inspected yet: the tree is built from the image list alone, and the times of an
//! image's files (its `LastTagTime` is only in its inspect) are filled in when it is inspected
//! (on a lookup or listing that needs them, or by the background loader).
//!
//! The rule, so that no time shown is older than the truth:
//! - a file or link of an image not inspected yet is *waiting*: the provider inspects the image
//!   before it answers for it ([`Tree::lookup`], [`Tree::waiting_in`]), and records the answer
//!   in the tree ([`Tree::resolve`]);
//! - a folder's time is the newest of what it holds; while something it holds waits, it is
//!   *provisional*: the time the images were listed (no image tagged later is still waiting: an
//!   event inspects it), or newer. It becomes exact once all it holds is resolved, and at the
//!   latest when the background loader's inspects are taken into a new tree (with a notice).
//!   A folder answered with its provisional time that became exact in place (its images
//!   resolved by lookups and listings) is compared as it was answered, so that notice comes
//!   even though the tree answers the exact time by then ([`Tree::changes_to`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use vfs_core::{Node, NodePath, ProviderError};

use super::{Folder, InspectTarget, Tree};
use crate::engine::ImageTimes;

/// Which of an image's times a leaf shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Role {
    /// A tag's link: `LastTagTime`, else `Created`.
    Tag,
    /// The `.<id>` file: the newer of the two (never older than a tag's link).
    IdFile,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct PendingLeaf {
    image: usize,
    role: Role,
}

/// An image not inspected when the tree was built, and its times once resolved.
#[derive(Debug)]
struct PendingImage {
    id: String,
    /// The list's `Created` (whole seconds), for an inspect without one.
    listed_created: SystemTime,
    times: OnceLock<ImageTimes>,
}

/// A folder whose time depends on images not inspected when the tree was built.
#[derive(Debug)]
struct PendingFolder {
    /// The newest of what it holds that does not wait for an inspect.
    settled: Option<SystemTime>,
    below: Arc<[PendingLeaf]>,
}

/// The waiting part of a tree (empty when every image was inspected).
#[derive(Debug)]
pub(super) struct Lazy {
    images: Vec<PendingImage>,
    leaves: std::collections::HashMap<NodePath, PendingLeaf>,
    folders: std::collections::HashMap<NodePath, PendingFolder>,
    /// What a folder shows while something below it waits (see the module's rule).
    provisional: SystemTime,
    /// The folders answered with their provisional time: the kernel may hold that time
    /// however exact the folder is now.
    answered_provisional: parking_lot::Mutex<std::collections::HashSet<NodePath>>,
}

/// A file or link that waits for the inspect of image `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    index: usize,
    pub id: String,
}

/// What a lookup finds.
#[derive(Debug)]
pub enum Lookup {
    Found(Node),
    /// The entry exists; its times need the image's inspect.
    Waiting(Waiting),
}

/// A folder's time while being built: the newest settled time below it, and what waits.
#[derive(Clone, Debug, Default)]
pub(super) struct Timing {
    settled: Option<SystemTime>,
    below: BTreeMap<usize, Role>,
}

impl Timing {
    pub(super) fn add_leaf(&mut self, node: &Node, pending: Option<PendingLeaf>) {
        let time = node.mtime;
        match pending {
            Some(leaf) => {
                let role = self.below.entry(leaf.image).or_insert(leaf.role);
                *role = (*role).max(leaf.role);
            }
            None => self.settled = self.settled.max(Some(time)),
        }
    }

    pub(super) fn merge(&mut self, other: &Timing) {
        self.settled = self.settled.max(other.settled);
        for (&image, &role) in &other.below {
            let mine = self.below.entry(image).or_insert(role);
            *mine = (*mine).max(role);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.settled.is_none() && self.below.is_empty()
    }

    fn leaves(&self) -> Arc<[PendingLeaf]> {
        self.below
            .iter()
            .map(|(&image, &role)| PendingLeaf { image, role })
            .collect()
    }
}

impl Folder {
    /// Adds an image's file or link whose time waits for the image's inspect (`node` carries
    /// a placeholder time).
    /// Adds an image's file or link unless an earlier leaf took the name; `pending` when its
    /// time waits for the image's inspect (`node` then carries a placeholder).
    pub(super) fn image_leaf(
        &mut self,
        node: Node,
        target: Option<InspectTarget>,
        pending: Option<PendingLeaf>,
    ) {
        self.leaves
            .entry(node.name.clone())
            .or_insert((node, target, pending));
    }

    /// The times of everything below this folder, as an empty folder takes them.
    pub(super) fn timing(&self) -> Timing {
        let mut timing = Timing::default();
        for (node, _, pending) in self.leaves.values() {
            timing.add_leaf(node, *pending);
        }
        for folder in self.folders.values() {
            timing.merge(&folder.timing());
        }
        timing
    }
}

impl Default for Lazy {
    fn default() -> Lazy {
        Lazy {
            images: Vec::new(),
            leaves: std::collections::HashMap::new(),
            folders: std::collections::HashMap::new(),
            provisional: SystemTime::UNIX_EPOCH,
            answered_provisional: parking_lot::Mutex::default(),
        }
    }
}

impl Lazy {
    /// Registers an image not inspected yet; the leaf marker for one of its roles.
    pub(super) fn image(&mut self, id: &str, listed_created: SystemTime) -> usize {
        self.images.push(PendingImage {
            id: id.to_string(),
            listed_created,
            times: OnceLock::new(),
        });
        self.images.len() - 1
    }

    pub(super) fn leaf(image: usize, role: Role) -> PendingLeaf {
        PendingLeaf { image, role }
    }

    pub(super) fn set_provisional(&mut self, time: SystemTime) {
        self.provisional = time;
    }

    pub(super) fn add_leaf(&mut self, path: NodePath, leaf: PendingLeaf) {
        self.leaves.insert(path, leaf);
    }

    /// The time a folder with `timing` shows in the tree as built (`shared`: the empty
    /// folders' list of what waits, shared rather than copied for each); records what waits.
    pub(super) fn folder_time(
        &mut self,
        path: &NodePath,
        timing: &Timing,
        shared: Option<&Arc<[PendingLeaf]>>,
        fallback: SystemTime,
    ) -> SystemTime {
        if timing.below.is_empty() {
            return timing.settled.unwrap_or(fallback);
        }
        let below = match shared {
            Some(shared) => Arc::clone(shared),
            None => timing.leaves(),
        };
        self.folders.insert(
            path.clone(),
            PendingFolder {
                settled: timing.settled,
                below,
            },
        );
        timing
            .settled
            .max(Some(self.provisional))
            .unwrap_or(fallback)
    }

    pub(super) fn shared_leaves(timing: &Timing) -> Arc<[PendingLeaf]> {
        timing.leaves()
    }

    fn times(&self, leaf: PendingLeaf) -> Option<SystemTime> {
        let image = &self.images[leaf.image];
        let times = image.times.get()?;
        let created = times.created.unwrap_or(image.listed_created);
        Some(match (leaf.role, times.last_tag_time) {
            (Role::Tag, tagged) => tagged.unwrap_or(created),
            (Role::IdFile, tagged) => tagged.map_or(created, |tagged| tagged.max(created)),
        })
    }

    /// `node` at `path` as `wanted`; `None` for a leaf still waiting.
    fn answer(&self, path: &NodePath, node: &Node, wanted: Answer) -> Option<Node> {
        if wanted == Answer::Held && self.answered_provisional.lock().contains(path) {
            return Some(node.clone());
        }
        Some(match self.effective_or_provisional(path, node)? {
            Some(exact) => exact,
            None => {
                if wanted == Answer::Given {
                    self.answered_provisional.lock().insert(path.clone());
                }
                node.clone()
            }
        })
    }

    /// `None` for a leaf still waiting; `Some(None)` for a folder still provisional (`node`
    /// as built carries that time); else the node as it is answered now.
    fn effective_or_provisional(&self, path: &NodePath, node: &Node) -> Option<Option<Node>> {
        if let Some(&leaf) = self.leaves.get(path) {
            return self.times(leaf).map(|time| Some(timed(node, time)));
        }
        if let Some(folder) = self.folders.get(path) {
            let resolved: Option<Vec<SystemTime>> =
                folder.below.iter().map(|&leaf| self.times(leaf)).collect();
            return Some(
                resolved.map(|times| match times.into_iter().max().max(folder.settled) {
                    Some(newest) => timed(node, newest),
                    None => node.clone(),
                }),
            );
        }
        Some(Some(node.clone()))
    }

    fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

fn timed(node: &Node, time: SystemTime) -> Node {
    let mut node = node.clone();
    node.mtime = time;
    node.ctime = Some(time);
    node
}

/// Which answer of a node a tree gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// As it is now (the newer of two trees compared).
    Now,
    /// Given out now: a folder answered with its provisional time is remembered as such.
    Given,
    /// As the kernel may hold it from this tree: a folder's provisional time once given,
    /// however exact it became in place since.
    Held,
}

impl Tree {
    /// `node`, an entry of `dir`, as `wanted`; `None` for a leaf still waiting.
    pub(super) fn entry_as(&self, dir: &NodePath, node: &Node, wanted: Answer) -> Option<Node> {
        if self.lazy.is_empty() {
            return Some(node.clone());
        }
        self.lazy.answer(&dir.join(&node.name), node, wanted)
    }

    /// The root as `wanted`.
    pub(super) fn root_as(&self, wanted: Answer) -> Node {
        self.lazy
            .answer(&NodePath::root(), &self.root, wanted)
            .unwrap_or_else(|| self.root.clone())
    }

    /// The entry `name` of `dir`, or what it waits for.
    pub fn lookup(&self, dir: &NodePath, name: &std::ffi::OsStr) -> Result<Lookup, ProviderError> {
        let path = dir.join(name);
        let Some(listing) = self.listings.get(dir) else {
            return Err(match self.node(dir) {
                Some(_) => ProviderError::NotADirectory(dir.clone()),
                None => ProviderError::NotFound(path),
            });
        };
        let node =
            super::entry(listing, name).ok_or_else(|| ProviderError::NotFound(path.clone()))?;
        if self.lazy.is_empty() {
            return Ok(Lookup::Found(node.clone()));
        }
        Ok(match self.lazy.answer(&path, node, Answer::Given) {
            Some(node) => Lookup::Found(node),
            None => Lookup::Waiting(self.waiting_for(self.lazy.leaves[&path].image)),
        })
    }

    fn waiting_for(&self, index: usize) -> Waiting {
        Waiting {
            index,
            id: self.lazy.images[index].id.clone(),
        }
    }

    /// The images the entries of `dir` wait for (none when `dir` is not a folder).
    pub fn waiting_in(&self, dir: &NodePath) -> Vec<Waiting> {
        if self.lazy.is_empty() {
            return Vec::new();
        }
        let mut indexes: Vec<usize> = self
            .listings
            .get(dir)
            .into_iter()
            .flatten()
            .filter_map(|node| self.lazy.leaves.get(&dir.join(&node.name)))
            .filter(|leaf| self.lazy.images[leaf.image].times.get().is_none())
            .map(|leaf| leaf.image)
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
            .into_iter()
            .map(|index| self.waiting_for(index))
            .collect()
    }

    /// The images the folder at `path` waits for, if at most `most` (none when it waits for
    /// more, or for none, or is no folder).
    pub fn waiting_below(&self, path: &NodePath, most: usize) -> Vec<Waiting> {
        let Some(folder) = self.lazy.folders.get(path) else {
            return Vec::new();
        };
        let mut indexes: Vec<usize> = folder
            .below
            .iter()
            .map(|leaf| leaf.image)
            .filter(|&index| self.lazy.images[index].times.get().is_none())
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        if indexes.len() > most {
            return Vec::new();
        }
        indexes
            .into_iter()
            .map(|index| self.waiting_for(index))
            .collect()
    }

    /// Every image this tree still waits for.
    pub fn waiting(&self) -> Vec<Waiting> {
        (0..self.lazy.images.len())
            .filter(|&index| self.lazy.images[index].times.get().is_none())
            .map(|index| self.waiting_for(index))
            .collect()
    }

    /// Whether an image of this tree is still waiting for its inspect.
    pub fn is_waiting(&self) -> bool {
        self.lazy
            .images
            .iter()
            .any(|image| image.times.get().is_none())
    }

    /// Answers a waiting image's leaves with the provisional time (no older than the truth)
    /// when its inspect failed; the next tree has them exact, and its notices correct them.
    pub fn resolve_provisionally(&self, waiting: &Waiting) {
        let times = ImageTimes {
            created: None,
            last_tag_time: Some(self.lazy.provisional),
        };
        self.resolve(waiting, times);
    }

    /// Records the inspect of a waiting image (a first answer stands: what was answered from
    /// this tree never changes; a newer inspect comes with a new tree).
    pub fn resolve(&self, waiting: &Waiting, times: ImageTimes) {
        if let Some(image) = self.lazy.images.get(waiting.index) {
            if image.id == waiting.id {
                let _ = image.times.set(times);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::time::Duration;

    use super::*;
    use crate::state::{EngineState, ImageRecord};

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn hex(digit: char) -> String {
        std::iter::repeat_n(digit, 64).collect()
    }

    /// Two images listed at 100 s, neither inspected: `a` tagged `app:1`, `b` tagged `team/x:2`.
    fn listed() -> EngineState {
        let image = |digit, tag: &str, created| ImageRecord {
            id: hex(digit),
            tags: vec![tag.into()],
            created: at(created),
            last_tag_time: None,
            inspected: false,
        };
        EngineState {
            images: vec![image('a', "app:1", 10), image('b', "team/x:2", 20)],
            images_listed_at: at(100),
            ..EngineState::default()
        }
    }

    fn times(created: u64, tagged: u64) -> ImageTimes {
        ImageTimes {
            created: Some(at(created)),
            last_tag_time: Some(at(tagged)),
        }
    }

    fn found(tree: &Tree, dir: &str, name: &str) -> Node {
        match tree
            .lookup(&NodePath::parse(dir), OsStr::new(name))
            .unwrap()
        {
            Lookup::Found(node) => node,
            Lookup::Waiting(waiting) => panic!("{dir}/{name} waits for {}", waiting.id),
        }
    }

    fn waiting(tree: &Tree, dir: &str, name: &str) -> Waiting {
        match tree
            .lookup(&NodePath::parse(dir), OsStr::new(name))
            .unwrap()
        {
            Lookup::Waiting(waiting) => waiting,
            Lookup::Found(node) => panic!("{dir}/{name} is answered: {node:?}"),
        }
    }

    #[test]
    fn an_images_files_wait_for_its_inspect_and_folders_are_never_older_than_the_truth() {
        let tree = Tree::build(&listed());
        let tag = waiting(&tree, "images", "app:1");
        assert_eq!(tag.id, hex('a'));
        assert_eq!(waiting(&tree, "images", &format!(".{}", hex('a'))), tag);
        assert_eq!(waiting(&tree, "images/app", "1"), tag);
        // Folders answer at once, with the time of the list (no image waiting was tagged later).
        assert_eq!(found(&tree, "", "images").mtime, at(100));
        assert_eq!(found(&tree, "images", "team").mtime, at(100));
        assert_eq!(tree.root().mtime, at(100));
        assert_eq!(tree.waiting_in(&NodePath::parse("images")).len(), 2);
        assert_eq!(tree.waiting_in(&NodePath::parse("images/team")).len(), 1);
        assert!(tree.waiting_in(&NodePath::parse("containers")).is_empty());

        tree.resolve(&tag, times(11, 50));
        assert_eq!(found(&tree, "images", "app:1").mtime, at(50));
        assert_eq!(found(&tree, "images/app", "1").mtime, at(50));
        assert_eq!(
            found(&tree, "images", &format!(".{}", hex('a'))).mtime,
            at(50)
        );
        // `images/app` holds only `a`'s tag: exact now; `images` still waits for `b`.
        assert_eq!(found(&tree, "images", "app").mtime, at(50));
        assert_eq!(found(&tree, "", "images").mtime, at(100));
        assert_eq!(tree.waiting().len(), 1);

        let other = waiting(&tree, "images/team", "x:2");
        tree.resolve(&other, times(21, 40));
        assert!(!tree.is_waiting());
        assert_eq!(found(&tree, "", "images").mtime, at(50));
        assert_eq!(found(&tree, "images", "team").mtime, at(40));
        assert_eq!(tree.root().mtime, at(50));
        // The same tree, built from inspected images, answers the same.
        let mut state = listed();
        for (record, (created, tagged)) in state.images.iter_mut().zip([(11, 50), (21, 40)]) {
            record.created = at(created);
            record.last_tag_time = Some(at(tagged));
            record.inspected = true;
        }
        let inspected = Tree::build(&state);
        for dir in ["", "images", "images/app", "images/team", "images/team/x"] {
            let dir = NodePath::parse(dir);
            assert_eq!(
                tree.list(&dir).unwrap(),
                inspected.list(&dir).unwrap(),
                "{dir}"
            );
        }
        // What it answered exact needs no notice; the folders it answered with their
        // provisional time (the root, `images`, `images/team`, at 100) are told alone: the
        // kernel may hold 100 however exact they became in place.
        let told: Vec<String> = tree
            .changes_to(&inspected)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(told, ["/ alone", "/images alone", "/images/team alone"]);
        assert!(inspected.changes_to(&Tree::build(&state)).is_empty());
    }

    #[test]
    fn a_folder_waiting_for_a_few_images_names_them() {
        let tree = Tree::build(&listed());
        let ids = |waiting: Vec<Waiting>| -> Vec<String> {
            waiting.into_iter().map(|waiting| waiting.id).collect()
        };
        assert_eq!(
            ids(tree.waiting_below(&NodePath::parse("images/app"), 8)),
            [hex('a')]
        );
        assert_eq!(
            ids(tree.waiting_below(&NodePath::parse("images"), 2)),
            [hex('a'), hex('b')]
        );
        assert!(
            tree.waiting_below(&NodePath::parse("images"), 1).is_empty(),
            "more than 1"
        );
        assert_eq!(
            ids(tree.waiting_below(&NodePath::parse("containers"), 8)),
            [hex('a'), hex('b')],
            "empty, it shows the newest object's time"
        );
        assert!(
            tree.waiting_below(&NodePath::parse("images/app:1"), 8)
                .is_empty(),
            "a link"
        );
        let app = waiting(&tree, "images", "app:1");
        tree.resolve(&app, times(11, 50));
        assert!(tree
            .waiting_below(&NodePath::parse("images/app"), 8)
            .is_empty());
        assert_eq!(
            ids(tree.waiting_below(&NodePath::parse("images"), 1)),
            [hex('b')]
        );
    }

    #[test]
    fn a_folder_answered_provisionally_and_exact_in_place_is_told_at_the_next_tree() {
        let mut state = listed();
        let tree = Tree::build(&state);
        // `images/team` is answered with the list's time; `images/app` is never answered.
        assert_eq!(found(&tree, "images", "team").mtime, at(100));
        for (dir, name, inspected) in [
            ("images", "app:1", (11, 50)),
            ("images/team", "x:2", (21, 40)),
        ] {
            let waiting = waiting(&tree, dir, name);
            tree.resolve(&waiting, times(inspected.0, inspected.1));
        }
        // In place, both folders are exact now (40 and 50), and a listing says so.
        assert_eq!(found(&tree, "images", "team").mtime, at(40));
        for (record, (created, tagged)) in state.images.iter_mut().zip([(11, 50), (21, 40)]) {
            record.created = at(created);
            record.last_tag_time = Some(at(tagged));
            record.inspected = true;
        }
        let told: Vec<String> = tree
            .changes_to(&Tree::build(&state))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            told,
            ["/images/team alone"],
            "answered at 100, 40 now; `images/app` was never answered provisionally"
        );
    }

    #[test]
    fn what_was_answered_is_corrected_by_notices_and_what_was_not_needs_none() {
        let mut state = listed();
        let tree = Tree::build(&state);
        let tag = waiting(&tree, "images", "app:1");
        tree.resolve(&tag, times(11, 50));
        // `a` was answered at 50; it turns out tagged at 60 (an event): its paths are told.
        state.images[0].created = at(11);
        state.images[0].last_tag_time = Some(at(60));
        state.images[0].inspected = true;
        let after = Tree::build(&state);
        let told: Vec<String> = tree
            .changes_to(&after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            told,
            [
                format!("/images/.{} and below", hex('a')),
                "/images/app/1 and below".into(),
                "/images/app:1 and below".into(),
                "/images/app alone".into(),
            ]
        );
        // `b`, never answered, needs no notice when inspected; the folders that were
        // provisional and are exact now are told alone.
        state.images[1].created = at(21);
        state.images[1].last_tag_time = Some(at(40));
        state.images[1].inspected = true;
        let last = Tree::build(&state);
        let told: Vec<String> = after
            .changes_to(&last)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            told,
            [
                "/ alone",
                "/compose alone",
                "/containers alone",
                "/images alone",
                "/images/team alone",
                "/images/team/x alone",
                "/networks alone",
                "/volumes alone"
            ]
        );
        // An answered image waiting again (its tags changed): its paths are told.
        let mut again = state.clone();
        again.images[0].inspected = false;
        let told: Vec<String> = last
            .changes_to(&Tree::build(&again))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            told.contains(&"/images/app:1 and below".to_string()),
            "{told:?}"
        );
    }

    #[test]
    fn a_failed_inspect_answers_the_provisional_time() {
        let tree = Tree::build(&listed());
        let tag = waiting(&tree, "images", "app:1");
        tree.resolve_provisionally(&tag);
        assert_eq!(found(&tree, "images", "app:1").mtime, at(100));
        assert_eq!(
            found(&tree, "images", &format!(".{}", hex('a'))).mtime,
            at(100)
        );
    }
}
