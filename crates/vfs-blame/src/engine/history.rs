//! One walk of the history for many files at once: what `git rev-list --parents HEAD -- PATH`
//! lists, for every file of a scope, from a single pass over the commits.
//!
//! A first walk of a folder tree blames every config file in it, and each `git rev-list -- PATH`
//! walks the whole history again (it is most of a small file's blame). Here each commit is read
//! once, and its tree compared with its parents' only where a file of the scope lies and the
//! subtrees differ. Each file follows the line `git rev-list`'s default history simplification
//! gives it: a commit with one parent is listed when the file's entry (mode and id) differs from
//! the parent's; a merge whose entry equals a parent's follows the first such parent only and is
//! not listed; a merge that differs from every parent would be listed with several parents, so
//! the file's history is no chain (the engine then blames it with the git CLI, as before); a
//! root commit (or a shallow clone's boundary) is listed where it has the file.
//!
//! Each file's walk is independent of the others' (its line is fixed by its own entries), so the
//! order commits are taken in (newest committer time first, for sharing) does not change the
//! answer. Files walking the same line share one group (a union-find), so a commit costs work in
//! proportion to the scope's entries that changed in it, not to the number of files.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind;
use gix::ObjectId;
use parking_lot::Mutex;

use super::parallel::Version;
use super::Scope;
use crate::error::BlameError;

/// Scopes with more files than this are not walked together (each file walks on its own): the
/// walk's memory grows with the files and their versions.
pub(crate) const MAX_SCOPE_FILES: usize = 50_000;
/// A walk that would hold more versions than this (some 44 bytes each) is given up: each file then
/// walks on its own, as without a scope.
pub(crate) const MAX_VERSIONS: usize = 1_000_000;

/// What the shared walk found for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Walked {
    /// The versions `git rev-list --parents HEAD -- PATH` lists, newest first (the last one with
    /// no blob where the file was deleted, or replaced by something not a file), and the commit
    /// that made the file where its parent had none (where `git blame` would look for a rename).
    Chain {
        versions: Vec<Version>,
        created: Option<ObjectId>,
    },
    /// A merge differs from every parent: the history is not a chain.
    NotAChain,
}

/// The walk of every file of a scope from one HEAD. Each file's answer is handed out once (the
/// blamer caches the blame made from it), so the index shrinks as the files are blamed.
pub(crate) struct HistoryIndex {
    files: Mutex<HashMap<PathBuf, Walked>>,
}

/// A file's entry in a tree: what `git rev-list -- PATH` compares (the mode's kind and the id).
type TreeEntry = (EntryKind, ObjectId);

/// The files of the scope as a tree of names, so that a commit's trees are read only along them.
#[derive(Default)]
struct Names {
    children: Vec<(Vec<u8>, Names)>,
    index: HashMap<Vec<u8>, usize>,
    /// The file this name is, when it is one.
    file: Option<usize>,
}

impl Names {
    fn insert(&mut self, components: &[Vec<u8>], file: usize) {
        let Some((first, rest)) = components.split_first() else {
            self.file = Some(file);
            return;
        };
        let position = match self.index.get(first) {
            Some(position) => *position,
            None => {
                self.children.push((first.clone(), Names::default()));
                self.index.insert(first.clone(), self.children.len() - 1);
                self.children.len() - 1
            }
        };
        self.children[position].1.insert(rest, file);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Walking,
    Ended,
    NotAChain,
}

/// Groups of files walking the same line, merged when their lines meet.
struct Groups {
    parent: Vec<usize>,
    /// Files still walking, per root group.
    alive: Vec<usize>,
}

impl Groups {
    fn new_group(&mut self, alive: usize) -> usize {
        self.parent.push(self.parent.len());
        self.alive.push(alive);
        self.parent.len() - 1
    }

    fn find(&mut self, mut group: usize) -> usize {
        while self.parent[group] != group {
            self.parent[group] = self.parent[self.parent[group]];
            group = self.parent[group];
        }
        group
    }

    fn union(&mut self, a: usize, b: usize) -> usize {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return a;
        }
        self.parent[b] = a;
        self.alive[a] += self.alive[b];
        self.alive[b] = 0;
        a
    }
}

struct Walk<'a> {
    repository: &'a gix::Repository,
    names: Names,
    shallow: HashSet<ObjectId>,
    status: Vec<Status>,
    versions: Vec<Vec<Version>>,
    group_of: Vec<usize>,
    groups: Groups,
    /// Commits to look at, newest first, with the group that arrived there.
    queue: BinaryHeap<(i64, ObjectId)>,
    waiting: HashMap<ObjectId, usize>,
    /// Versions found so far, of every file.
    held: usize,
}

impl HistoryIndex {
    /// Walks the history from `head` for every file of HEAD in `scope`; None where the scope is
    /// too large, or where the history is rewritten in a way this walk does not follow
    /// (`info/grafts`, `refs/replace/`).
    pub fn build(
        repository: &gix::Repository,
        head: ObjectId,
        scope: &Scope,
    ) -> Result<Option<HistoryIndex>, BlameError> {
        if rewritten_history(repository)? {
            return Ok(None);
        }
        let Some(paths) = files_in_scope(repository, head, scope)? else {
            return Ok(None);
        };
        let mut names = Names::default();
        for (file, path) in paths.iter().enumerate() {
            names.insert(&components(path), file);
        }
        let shallow = repository
            .shallow_commits()
            .map_err(gix_error)?
            .map(|commits| commits.iter().copied().collect())
            .unwrap_or_default();
        let count = paths.len();
        let mut walk = Walk {
            repository,
            names,
            shallow,
            status: vec![Status::Walking; count],
            versions: vec![Vec::new(); count],
            group_of: vec![0; count],
            groups: Groups {
                parent: Vec::new(),
                alive: Vec::new(),
            },
            queue: BinaryHeap::new(),
            waiting: HashMap::new(),
            held: 0,
        };
        if count > 0 {
            let all = walk.groups.new_group(count);
            walk.arrive(head, all)?;
            if !walk.run()? {
                return Ok(None);
            }
        }
        let Walk {
            status, versions, ..
        } = walk;
        let files = paths
            .into_iter()
            .zip(status.into_iter().zip(versions))
            .map(|(path, (status, versions))| {
                let walked = match status {
                    Status::NotAChain => Walked::NotAChain,
                    Status::Walking | Status::Ended => finish(versions),
                };
                (path, walked)
            })
            .collect();
        Ok(Some(HistoryIndex {
            files: Mutex::new(files),
        }))
    }

    /// The walk of `path` (relative to the work tree), if it is in the scope and was not taken yet.
    pub fn take(&self, path: &Path) -> Option<Walked> {
        self.files.lock().remove(path)
    }
}

/// The chain of a file whose walk ended, and the commit to look for a rename in: the one that
/// made the file where the commit listed before it has none (deleted, or not a file), or, where
/// nothing older is listed, the oldest listed version.
fn finish(versions: Vec<Version>) -> Walked {
    let created = match versions.last() {
        Some(last) if last.blob.is_none() => {
            (versions.len() >= 2).then(|| versions[versions.len() - 2].commit)
        }
        Some(last) => Some(last.commit),
        None => None,
    };
    Walked::Chain { versions, created }
}

impl Walk<'_> {
    /// `group` reaches `commit`: it joins the group already waiting there, or waits there.
    fn arrive(&mut self, commit: ObjectId, group: usize) -> Result<(), BlameError> {
        if let Some(waiting) = self.waiting.get(&commit).copied() {
            let merged = self.groups.union(waiting, group);
            self.waiting.insert(commit, merged);
            return Ok(());
        }
        let time = self
            .repository
            .find_commit(commit)
            .map_err(gix_error)?
            .time()
            .map_err(gix_error)?
            .seconds;
        self.waiting.insert(commit, group);
        self.queue.push((time, commit));
        Ok(())
    }

    /// Walks until every file's line ends; false where it would hold too many versions.
    fn run(&mut self) -> Result<bool, BlameError> {
        while let Some((_, commit)) = self.queue.pop() {
            if self.held > MAX_VERSIONS {
                return Ok(false);
            }
            let Some(group) = self.waiting.remove(&commit) else {
                continue;
            };
            let group = self.groups.find(group);
            if self.groups.alive[group] == 0 {
                continue;
            }
            self.step(commit, group)?;
        }
        Ok(true)
    }

    /// Whether `file` is walking in `group`.
    fn walking_in(&mut self, file: usize, group: usize) -> bool {
        self.status[file] == Status::Walking && self.groups.find(self.group_of[file]) == group
    }

    fn end(&mut self, file: usize, group: usize, status: Status) {
        self.status[file] = status;
        self.groups.alive[group] -= 1;
    }

    fn step(&mut self, commit: ObjectId, group: usize) -> Result<(), BlameError> {
        let object = self.repository.find_commit(commit).map_err(gix_error)?;
        let tree = object.tree_id().map_err(gix_error)?.detach();
        let parents: Vec<ObjectId> = match self.shallow.contains(&commit) {
            true => Vec::new(),
            false => object.parent_ids().map(|id| id.detach()).collect(),
        };
        drop(object);
        let Some(first_parent) = parents.first().copied() else {
            // A root (or the shallow boundary): listed where it has the file; the walk ends.
            for (file, entry) in self.changed(tree, None)? {
                if self.walking_in(file, group) {
                    self.held += 1;
                    self.versions[file].push(Version {
                        commit,
                        blob: blob_of(entry),
                    });
                }
            }
            self.groups.alive[group] = 0;
            return Ok(());
        };
        let first_tree = self.tree_of(first_parent)?;
        let changed = self.changed(tree, Some(first_tree))?;
        if parents.len() == 1 {
            for (file, entry) in changed {
                if !self.walking_in(file, group) {
                    continue;
                }
                let blob = blob_of(entry);
                self.held += 1;
                self.versions[file].push(Version { commit, blob });
                if blob.is_none() {
                    self.end(file, group, Status::Ended);
                }
            }
        } else {
            // A merge: a file equal in a parent follows the first such parent, unlisted.
            let mut others = Vec::new();
            for parent in &parents[1..] {
                let parent_tree = self.tree_of(*parent)?;
                let differs: HashSet<usize> = self
                    .changed(tree, Some(parent_tree))?
                    .into_iter()
                    .map(|(file, _)| file)
                    .collect();
                others.push((*parent, differs));
            }
            let mut moved: HashMap<ObjectId, usize> = HashMap::new();
            for (file, _) in changed {
                if !self.walking_in(file, group) {
                    continue;
                }
                match others.iter().find(|(_, differs)| !differs.contains(&file)) {
                    Some((parent, _)) => {
                        self.groups.alive[group] -= 1;
                        let target = match moved.get(parent) {
                            Some(target) => {
                                self.groups.alive[*target] += 1;
                                *target
                            }
                            None => {
                                let target = self.groups.new_group(1);
                                moved.insert(*parent, target);
                                target
                            }
                        };
                        self.group_of[file] = target;
                    }
                    None => self.end(file, group, Status::NotAChain),
                }
            }
            for (parent, target) in moved {
                self.arrive(parent, target)?;
            }
        }
        if self.groups.alive[group] > 0 {
            self.arrive(first_parent, group)?;
        }
        Ok(())
    }

    fn tree_of(&self, commit: ObjectId) -> Result<ObjectId, BlameError> {
        Ok(self
            .repository
            .find_commit(commit)
            .map_err(gix_error)?
            .tree_id()
            .map_err(gix_error)?
            .detach())
    }

    /// The files of the scope whose entry differs between `tree` and `parent` (None: the empty
    /// tree), each with its entry in `tree`.
    fn changed(
        &self,
        tree: ObjectId,
        parent: Option<ObjectId>,
    ) -> Result<Vec<(usize, Option<TreeEntry>)>, BlameError> {
        let mut changed = Vec::new();
        diff(
            self.repository,
            &self.names,
            Some(tree),
            parent,
            &mut changed,
        )?;
        Ok(changed)
    }
}

/// Compares two trees along `names` only, descending where the entries differ.
fn diff(
    repository: &gix::Repository,
    names: &Names,
    tree: Option<ObjectId>,
    parent: Option<ObjectId>,
    changed: &mut Vec<(usize, Option<TreeEntry>)>,
) -> Result<(), BlameError> {
    if tree == parent {
        return Ok(());
    }
    let ours = entries_along(repository, names, tree)?;
    let theirs = entries_along(repository, names, parent)?;
    for (position, (_, child)) in names.children.iter().enumerate() {
        let (entry, before) = (ours[position], theirs[position]);
        if entry == before {
            continue;
        }
        if let Some(file) = child.file {
            changed.push((file, entry));
        }
        if !child.children.is_empty() {
            let subtree = |entry: Option<TreeEntry>| {
                entry
                    .filter(|(kind, _)| *kind == EntryKind::Tree)
                    .map(|(_, id)| id)
            };
            diff(repository, child, subtree(entry), subtree(before), changed)?;
        }
    }
    Ok(())
}

/// The entries of `tree` named by `names`' children, in their order.
fn entries_along(
    repository: &gix::Repository,
    names: &Names,
    tree: Option<ObjectId>,
) -> Result<Vec<Option<TreeEntry>>, BlameError> {
    let mut found = vec![None; names.children.len()];
    let Some(tree) = tree else {
        return Ok(found);
    };
    let tree = repository.find_tree(tree).map_err(gix_error)?;
    for entry in tree.iter() {
        let entry = entry.map_err(gix_error)?;
        if let Some(position) = names.index.get(entry.inner.filename.as_bytes()) {
            found[*position] = Some((entry.inner.mode.kind(), entry.inner.oid.to_owned()));
        }
    }
    Ok(found)
}

fn blob_of(entry: Option<TreeEntry>) -> Option<ObjectId> {
    match entry {
        Some((EntryKind::Blob | EntryKind::BlobExecutable, id)) => Some(id),
        _ => None,
    }
}

/// The regular files of HEAD's tree in `scope`, relative to the work tree; None where there are
/// more than [`MAX_SCOPE_FILES`].
fn files_in_scope(
    repository: &gix::Repository,
    head: ObjectId,
    scope: &Scope,
) -> Result<Option<Vec<PathBuf>>, BlameError> {
    let root = repository
        .find_commit(head)
        .map_err(gix_error)?
        .tree()
        .map_err(gix_error)?;
    let start = match scope.under.as_os_str().is_empty() {
        true => Some(root.id),
        false => root
            .lookup_entry_by_path(&scope.under)
            .map_err(gix_error)?
            .filter(|entry| entry.mode().is_tree())
            .map(|entry| entry.object_id()),
    };
    let mut files = Vec::new();
    let Some(start) = start else {
        return Ok(Some(files));
    };
    let mut folders = vec![(start, scope.under.clone())];
    while let Some((tree, folder)) = folders.pop() {
        let tree = repository.find_tree(tree).map_err(gix_error)?;
        for entry in tree.iter() {
            let entry = entry.map_err(gix_error)?;
            let name = gix::path::from_bstr(entry.inner.filename).map_err(gix_error)?;
            let path = folder.join(name.as_ref());
            match entry.inner.mode.kind() {
                EntryKind::Tree => folders.push((entry.inner.oid.to_owned(), path)),
                EntryKind::Blob | EntryKind::BlobExecutable if (scope.include)(&path) => {
                    files.push(path);
                    if files.len() > MAX_SCOPE_FILES {
                        return Ok(None);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Some(files))
}

/// A path's names as bytes, as trees hold them.
fn components(path: &Path) -> Vec<Vec<u8>> {
    path.components()
        .map(|component| gix::path::os_str_into_bstr(component.as_os_str()))
        .filter_map(Result::ok)
        .map(|name| name.to_vec())
        .collect()
}

/// Whether commits are replaced (`refs/replace/`) or grafted (`info/grafts`): `git rev-list`
/// follows those, this walk does not.
fn rewritten_history(repository: &gix::Repository) -> Result<bool, BlameError> {
    if repository.common_dir().join("info/grafts").exists() {
        return Ok(true);
    }
    let references = repository.references().map_err(gix_error)?;
    let mut replaced = references.prefixed("refs/replace/").map_err(gix_error)?;
    Ok(replaced.next().is_some())
}

fn gix_error(error: impl std::fmt::Display) -> BlameError {
    BlameError::Git(error.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Arc;

    use super::Walked;
    use crate::engine::parallel::ParallelEngine;
    use crate::engine::{BlameEngine, Scope};
    use crate::repository::RepositoryHandle;

    /// A repository made with the git CLI at fixed dates (`time` can go backwards: clock skew).
    struct Repo {
        dir: tempfile::TempDir,
        time: i64,
    }

    impl Repo {
        fn new() -> Repo {
            let repo = Repo {
                dir: tempfile::tempdir().expect("temporary directory"),
                time: 1_600_000_000,
            };
            repo.git(&["init", "-q", "-b", "main"]);
            repo
        }

        fn git(&self, args: &[&str]) -> String {
            let date = format!("{} +0000", self.time);
            let output = Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@e", "-c"])
                .arg("commit.gpgsign=false")
                .args(args)
                .current_dir(self.dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .output()
                .expect("run git");
            assert!(
                output.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).expect("utf-8")
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
            std::fs::write(path, text).expect("write");
        }

        fn commit(&mut self, message: &str) {
            self.time += 60;
            self.git(&["add", "-A"]);
            self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        }

        fn merge(&mut self, branch: &str) {
            self.time += 60;
            self.git(&["merge", "-q", "--no-ff", "-m", "merge", branch]);
        }
    }

    fn lines(tag: &str, count: usize) -> String {
        (0..count).map(|line| format!("k{line}: {tag}\n")).collect()
    }

    fn with_line(text: &str, line: usize, value: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[line] = format!("k{line}: {value}");
        lines.join("\n") + "\n"
    }

    /// Renames, deletions, merges (one side's, both sides', the same change on both), a mode change,
    /// a folder replaced by a file, a symbolic link replaced by a file, and commits older than their
    /// parents.
    fn eventful_history() -> Repo {
        let mut repo = Repo::new();
        let x = lines("x0", 40);
        repo.write("a/x.yaml", &x);
        repo.write("a/y.yaml", &lines("y0", 5));
        repo.write("b/z.yaml", &lines("z0", 5));
        repo.write("top.yaml", &lines("top0", 30));
        repo.write("notes.txt", "notes\n");
        repo.write("d.yaml/inner.yaml", &lines("inner", 3));
        std::os::unix::fs::symlink("a/y.yaml", repo.dir.path().join("link.yaml")).expect("link");
        repo.commit("root");
        for step in 1..4 {
            repo.write(
                "a/y.yaml",
                &with_line(&lines("y0", 5), step, &format!("y{step}")),
            );
            repo.write(
                "b/z.yaml",
                &with_line(&lines("z0", 5), step, &format!("z{step}")),
            );
            repo.commit(&format!("step {step}"));
        }
        repo.git(&["checkout", "-q", "-b", "side"]);
        repo.write("a/x.yaml", &with_line(&x, 35, "side"));
        repo.write("c/new.yaml", &lines("new", 4));
        repo.write("b/same.yaml", &lines("same", 3));
        repo.time -= 3600; // older than its parent
        repo.commit("side");
        repo.git(&["checkout", "-q", "main"]);
        repo.write("a/x.yaml", &with_line(&x, 2, "main"));
        repo.write("b/same.yaml", &lines("same", 3));
        repo.commit("main");
        repo.merge("side");
        repo.git(&["rm", "-q", "b/z.yaml"]);
        repo.commit("delete z");
        repo.write("b/z.yaml", &lines("z again", 6));
        repo.git(&["mv", "top.yaml", "moved.yaml"]);
        repo.write("moved.yaml", &with_line(&lines("top0", 30), 0, "moved"));
        repo.git(&["update-index", "--chmod=+x", "a/y.yaml"]);
        repo.commit("recreate z, move top, chmod y");
        repo.git(&["rm", "-q", "-r", "d.yaml", "link.yaml"]);
        repo.write("d.yaml", &lines("d", 4));
        repo.write("link.yaml", &lines("link", 2));
        repo.commit("folder and link become files");
        repo.write("a/y.yaml", &with_line(&lines("y0", 5), 4, "last"));
        repo.commit("last");
        repo
    }

    fn engine(repo: &Repo, scope: bool) -> ParallelEngine {
        let handle = RepositoryHandle::discover(repo.dir.path()).expect("repository");
        let mut engine = ParallelEngine::new(&handle).expect("engine");
        if scope {
            engine.share_history_walk(Scope {
                under: PathBuf::new(),
                include: Arc::new(|path: &Path| {
                    path.extension()
                        .is_some_and(|extension| extension == "yaml")
                }),
            });
        }
        engine
    }

    /// For every file of HEAD, the shared walk lists what `git rev-list --parents HEAD -- path` lists.
    fn walks_match_rev_list(repo: &Repo) {
        let handle = RepositoryHandle::discover(repo.dir.path()).expect("repository");
        let head = handle.head_commit().expect("HEAD").expect("born");
        let settings = handle.history_settings().expect("settings");
        let shared = engine(repo, true);
        let files = repo.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
        let mut seen = 0;
        for file in files.lines() {
            let path = Path::new(file);
            let walked = shared.walked(head, path, &settings);
            let listed = shared.listed_chain(head, path).expect("rev-list");
            if file.ends_with(".yaml") {
                assert_eq!(walked.as_ref(), Some(&listed), "{file}");
                seen += 1;
            } else {
                assert_eq!(walked, None, "{file} is out of the scope");
            }
        }
        assert_eq!(seen, 8, "files compared");
    }

    #[test]
    fn the_shared_walk_lists_what_rev_list_lists_for_every_file() {
        let repo = eventful_history();
        walks_match_rev_list(&repo);
        // The cases are there: a merge that differs from both parents is no chain, a file made by a
        // rename has its creation to check.
        let handle = RepositoryHandle::discover(repo.dir.path()).expect("repository");
        let head = handle.head_commit().expect("HEAD").expect("born");
        let settings = handle.history_settings().expect("settings");
        let shared = engine(&repo, true);
        assert_eq!(
            shared.walked(head, Path::new("a/x.yaml"), &settings),
            Some(Walked::NotAChain)
        );
        assert!(matches!(
            shared.walked(head, Path::new("moved.yaml"), &settings),
            Some(Walked::Chain {
                created: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn the_shared_walk_stops_at_a_shallow_boundary_as_rev_list_does() {
        let repo = eventful_history();
        let clone = Repo {
            dir: tempfile::tempdir().expect("temporary directory"),
            time: repo.time,
        };
        let url = format!("file://{}", repo.dir.path().display());
        clone.git(&["clone", "-q", "--depth", "3", &url, "."]);
        assert!(clone.dir.path().join(".git/shallow").is_file());
        walks_match_rev_list(&clone);
    }

    #[test]
    fn grafted_histories_are_walked_one_file_at_a_time() {
        let repo = eventful_history();
        let handle = RepositoryHandle::discover(repo.dir.path()).expect("repository");
        let head = handle.head_commit().expect("HEAD").expect("born");
        let settings = handle.history_settings().expect("settings");
        let parent = repo.git(&["rev-parse", "HEAD~1"]);
        repo.git(&["replace", "--graft", parent.trim()]);
        assert_eq!(
            engine(&repo, true).walked(head, Path::new("a/y.yaml"), &settings),
            None
        );
    }

    #[test]
    fn each_answer_is_handed_out_once() {
        let repo = eventful_history();
        let handle = RepositoryHandle::discover(repo.dir.path()).expect("repository");
        let head = handle.head_commit().expect("HEAD").expect("born");
        let settings = handle.history_settings().expect("settings");
        let shared = engine(&repo, true);
        let path = Path::new("a/y.yaml");
        assert!(shared.walked(head, path, &settings).is_some());
        // Asked again (the blamer's caches forgot the blame): the file walks on its own.
        assert_eq!(shared.walked(head, path, &settings), None);
        assert!(shared
            .walked(head, Path::new("b/z.yaml"), &settings)
            .is_some());
    }

    #[test]
    fn without_a_scope_nothing_is_walked_together() {
        let repo = eventful_history();
        let handle = RepositoryHandle::discover(repo.dir.path()).expect("repository");
        let head = handle.head_commit().expect("HEAD").expect("born");
        let settings = handle.history_settings().expect("settings");
        assert_eq!(
            engine(&repo, false).walked(head, Path::new("a/y.yaml"), &settings),
            None
        );
    }
}
