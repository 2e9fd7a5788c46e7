//! For random sequences of provider changes, announced as a provider announces them, the
//! followed folder ends equal to a fresh `once` of the final tree: names, kinds, symlink
//! targets, times (and, with contents, bytes).

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use support::{at, read_folder, Kind, TestProvider};
use vfs_sync::SyncOptions;

/// One change of the test provider's tree; indices pick among the paths that exist.
#[derive(Clone, Debug)]
enum Change {
    Add {
        parent: usize,
        name: u8,
        kind: u8,
        time: u32,
    },
    Retime {
        path: usize,
        time: u32,
        as_subtree: bool,
    },
    Remove {
        path: usize,
    },
    Relink {
        path: usize,
        target: u8,
    },
    Rewrite {
        path: usize,
        text: u8,
    },
    /// A folder turns into a file, anything else into a folder.
    SwapKind {
        path: usize,
        time: u32,
    },
    /// Let the sync catch up before the next change (no batch then).
    Settle,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..6, 0u8..3, 0u32..1000).prop_map(|(parent, name, kind, time)| Change::Add { parent, name, kind, time }),
        2 => (any::<usize>(), 0u32..1000, any::<bool>()).prop_map(|(path, time, as_subtree)| Change::Retime { path, time, as_subtree }),
        2 => any::<usize>().prop_map(|path| Change::Remove { path }),
        1 => (any::<usize>(), 0u8..4).prop_map(|(path, target)| Change::Relink { path, target }),
        1 => (any::<usize>(), 0u8..4).prop_map(|(path, text)| Change::Rewrite { path, text }),
        1 => (any::<usize>(), 0u32..1000).prop_map(|(path, time)| Change::SwapKind { path, time }),
        1 => Just(Change::Settle),
    ]
}

fn parent_of(path: &str) -> String {
    path.rsplit_once('/')
        .map_or(String::new(), |(parent, _)| parent.to_owned())
}

fn time(value: u32) -> std::time::SystemTime {
    // Nanoseconds too: the folder must keep them.
    at(u64::from(value), value * 1_001)
}

/// Applies `change` to the provider and sends the notices a provider would.
fn apply(provider: &TestProvider, change: &Change) {
    let paths: Vec<String> = provider
        .model
        .lock()
        .unwrap()
        .nodes
        .keys()
        .cloned()
        .collect();
    let pick = |index: usize| paths[index % paths.len()].clone();
    match change {
        Change::Add {
            parent,
            name,
            kind,
            time: t,
        } => {
            let dirs: Vec<String> = {
                let model = provider.model.lock().unwrap();
                model
                    .nodes
                    .iter()
                    .filter(|(_, (kind, _))| *kind == Kind::Dir)
                    .map(|(path, _)| path.clone())
                    .collect()
            };
            let parent = dirs[parent % dirs.len()].clone();
            let path = if parent.is_empty() {
                format!("n{name}")
            } else {
                format!("{parent}/n{name}")
            };
            let kind = match kind {
                0 => Kind::Dir,
                1 => Kind::File(format!("text {name}")),
                _ => Kind::Link(format!("../t{name}")),
            };
            let exists = provider.model.lock().unwrap().nodes.contains_key(&path);
            if exists {
                return;
            }
            provider.edit(
                |nodes| {
                    nodes.insert(path.clone(), (kind, time(*t)));
                    if let Some(entry) = nodes.get_mut(&parent) {
                        entry.1 = time(*t + 1);
                    }
                },
                &[(false, &parent)],
            );
        }
        Change::Retime {
            path,
            time: t,
            as_subtree,
        } => {
            let path = pick(*path);
            provider.edit(
                |nodes| {
                    if let Some(entry) = nodes.get_mut(&path) {
                        entry.1 = time(*t);
                    }
                },
                &[(*as_subtree, &path)],
            );
        }
        Change::Remove { path } => {
            let path = pick(*path);
            if path.is_empty() {
                return;
            }
            let parent = parent_of(&path);
            provider.edit(
                |nodes| {
                    nodes.retain(|other, _| {
                        other != &path && !other.starts_with(&format!("{path}/"))
                    });
                    if let Some(entry) = nodes.get_mut(&parent) {
                        entry.1 = time(999);
                    }
                },
                // A name that left: a subtree notice of its own, and the folder's node.
                &[(true, &path), (false, &parent)],
            );
        }
        Change::Relink { path, target } => {
            let path = pick(*path);
            provider.edit(
                |nodes| {
                    if let Some((kind @ Kind::Link(_), _)) = nodes.get_mut(&path) {
                        *kind = Kind::Link(format!("t{target}"));
                    }
                },
                &[(false, &path)],
            );
        }
        Change::Rewrite { path, text } => {
            let path = pick(*path);
            provider.edit(
                |nodes| {
                    if let Some((kind @ Kind::File(_), stamp)) = nodes.get_mut(&path) {
                        *kind = Kind::File("x".repeat(usize::from(*text)));
                        *stamp = time(u32::from(*text) + 500);
                    }
                },
                &[(true, &path)],
            );
        }
        Change::SwapKind { path, time: t } => {
            let path = pick(*path);
            if path.is_empty() {
                return;
            }
            let parent = parent_of(&path);
            provider.edit(
                |nodes| {
                    let was_dir = nodes.get(&path).is_some_and(|(kind, _)| *kind == Kind::Dir);
                    nodes.retain(|other, _| !other.starts_with(&format!("{path}/")));
                    let kind = if was_dir {
                        Kind::File("swapped".into())
                    } else {
                        Kind::Dir
                    };
                    nodes.insert(path.clone(), (kind, time(*t)));
                },
                &[(true, &path), (false, &parent)],
            );
        }
        Change::Settle => {}
    }
}

fn options(contents: bool) -> SyncOptions {
    SyncOptions {
        name: "test".into(),
        contents,
        create_missing: true,
        ttl: None,
    }
}

fn run_case(changes: &[Change], contents: bool) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let followed = work.path().join("followed");
    let fresh = work.path().join("fresh");
    let provider = TestProvider::new();
    let following = runtime
        .block_on(vfs_sync::follow(
            provider.clone(),
            &followed,
            &options(contents),
        ))
        .unwrap();
    for change in changes {
        apply(&provider, change);
        if matches!(change, Change::Settle) {
            assert_eq!(
                vfs_sync::wait(&followed).unwrap(),
                vfs_sync::Waited::Settled
            );
        }
    }
    assert_eq!(
        vfs_sync::wait(&followed).unwrap(),
        vfs_sync::Waited::Settled
    );
    runtime.block_on(following.stop()).unwrap();
    let final_tree = Arc::new(TestProvider {
        model: std::sync::Mutex::new(std::mem::take(&mut *provider.model.lock().unwrap())),
        contents: vfs_core::CopiedContents::Allowed,
    });
    runtime
        .block_on(vfs_sync::once(final_tree, &fresh, &options(contents)))
        .unwrap();
    prop_assert_eq!(read_folder(&followed), read_folder(&fresh));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_followed_folder_equals_a_fresh_once_of_the_final_tree(changes in prop::collection::vec(change(), 1..40)) {
        run_case(&changes, false)?;
    }

    #[test]
    fn with_contents_too(changes in prop::collection::vec(change(), 1..25)) {
        run_case(&changes, true)?;
    }
}
