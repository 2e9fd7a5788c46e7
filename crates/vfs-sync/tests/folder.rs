//! Which folders `vfs sync` writes, and how a second run over a folder reconciles it.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::{at, read_folder, Kind, TestProvider};
use vfs_core::CopiedContents;
use vfs_sync::{SyncError, SyncOptions};

fn options(contents: bool) -> SyncOptions {
    SyncOptions {
        name: "test".into(),
        contents,
        create_missing: true,
        ttl: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sample(provider: &TestProvider) {
    provider.edit(
        |nodes| {
            nodes.insert("a".into(), (Kind::Dir, at(5, 1)));
            nodes.insert("a/f".into(), (Kind::File("bytes".into()), at(3, 2)));
            nodes.insert("a/l".into(), (Kind::Link("f".into()), at(4, 3)));
            nodes.insert("g".into(), (Kind::File("more".into()), at(2, 4)));
        },
        &[],
    );
}

fn once(
    provider: std::sync::Arc<TestProvider>,
    dir: &Path,
    contents: bool,
) -> Result<vfs_sync::Changes, SyncError> {
    runtime().block_on(vfs_sync::once(provider, dir, &options(contents)))
}

#[test]
fn a_folder_with_someone_elses_files_is_refused_and_left_alone() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let provider = TestProvider::new();
    sample(&provider);
    let error = once(provider.clone(), &dir, false).unwrap_err();
    assert!(matches!(error, SyncError::NotOurs(_)), "{error}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    // A .vfs that is not vfs sync's (a FUSE mount's says `vfs mount:`) is no marker either.
    std::fs::write(dir.join(".vfs"), "vfs mount: docker\nsettled\n").unwrap();
    assert!(matches!(
        once(provider.clone(), &dir, false),
        Err(SyncError::NotOurs(_))
    ));
    // Missing and not to be created: an error, no folder.
    let missing = work.path().join("missing");
    let refused = runtime().block_on(vfs_sync::once(
        provider,
        &missing,
        &SyncOptions {
            create_missing: false,
            ..options(false)
        },
    ));
    assert!(matches!(refused, Err(SyncError::Missing(_))));
    assert!(!missing.exists());
}

#[test]
fn a_second_run_reconciles_what_was_changed_in_between_in_one_pass() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dir");
    let fresh = work.path().join("fresh");
    let provider = TestProvider::new();
    sample(&provider);
    let first = once(provider.clone(), &dir, false).unwrap();
    assert_eq!(first.created, 4);
    let marker = vfs_sync::read_marker(&dir).unwrap();
    assert_eq!(marker.mode, Some(vfs_sync::Mode::Once));
    // Meanwhile: the provider changed, and someone wrote into the folder.
    provider.edit(
        |nodes| {
            nodes.remove("g");
            nodes.insert("a/l".into(), (Kind::Link("elsewhere".into()), at(9, 9)));
            nodes.insert("a/new".into(), (Kind::Dir, at(8, 8)));
        },
        &[],
    );
    std::fs::write(dir.join("a/stray"), "x").unwrap();
    std::fs::create_dir(dir.join("a/newer")).unwrap();
    let again = once(provider.clone(), &dir, false).unwrap();
    assert_eq!(
        (again.created, again.replaced, again.removed),
        (1, 1, 3),
        "{again:?}"
    );
    once(provider.clone(), &fresh, false).unwrap();
    assert_eq!(read_folder(&dir), read_folder(&fresh));
    // Unchanged: nothing to do at all.
    assert_eq!(once(provider, &dir, false).unwrap().total(), 0);
}

#[test]
fn files_are_empty_stand_ins_unless_contents_and_switching_rewrites_them() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dir");
    let provider = TestProvider::new();
    sample(&provider);
    once(provider.clone(), &dir, false).unwrap();
    assert_eq!(std::fs::metadata(dir.join("a/f")).unwrap().len(), 0);
    assert_eq!(std::fs::read_link(dir.join("a/l")).unwrap(), Path::new("f"));
    once(provider.clone(), &dir, true).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("a/f")).unwrap(), "bytes");
    assert!(vfs_sync::read_marker(&dir).unwrap().contents);
    once(provider, &dir, false).unwrap();
    assert_eq!(std::fs::metadata(dir.join("g")).unwrap().len(), 0);
}

#[test]
fn owner_only_contents_need_a_private_folder() {
    let work = tempfile::tempdir().unwrap();
    let provider = TestProvider::with_contents(CopiedContents::OwnerOnly { why: "secrets" });
    sample(&provider);
    let open = work.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let error = once(provider.clone(), &open, true).unwrap_err();
    assert!(
        matches!(error, SyncError::ContentsNeedPrivateFolder { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("secrets"), "{error}");
    assert!(
        std::fs::read_dir(&open).unwrap().next().is_none(),
        "nothing written"
    );
    // Without --contents the same folder is fine; a folder vfs sync creates is made private.
    once(provider.clone(), &open, false).unwrap();
    let created = work.path().join("created");
    once(provider.clone(), &created, true).unwrap();
    let mode = std::fs::metadata(&created).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let refused = TestProvider::with_contents(CopiedContents::Refused { why: "no" });
    assert!(matches!(
        once(refused, &work.path().join("r"), true),
        Err(SyncError::ContentsRefused("no"))
    ));
}

#[test]
fn one_process_at_a_time_keeps_a_folder() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dir");
    let runtime = runtime();
    let provider = TestProvider::new();
    sample(&provider);
    let following = runtime
        .block_on(vfs_sync::follow(provider.clone(), &dir, &options(false)))
        .unwrap();
    let second = runtime.block_on(vfs_sync::once(provider.clone(), &dir, &options(false)));
    assert!(matches!(second, Err(SyncError::Busy(_))), "{second:?}");
    assert_eq!(vfs_sync::wait(&dir).unwrap(), vfs_sync::Waited::Settled);
    runtime.block_on(following.stop()).unwrap();
    assert!(matches!(
        vfs_sync::wait(&dir),
        Err(vfs_sync::WaitError::Stopped(_))
    ));
    assert!(!dir.join(".vfs.sock").exists());
}
