//! The mirror and the mapping rules, walked without FUSE.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use support::*;
use vfs_core::{ChangeNotifier, Content, NodeKind, NodePath, Provider, ProviderError};
use vfs_gitconfig::GitConfigProvider;

async fn provider_for(dir: &std::path::Path) -> GitConfigProvider {
    start(GitConfigProvider::new(dir)).await
}

#[tokio::test]
async fn plain_entries_keep_content_size_mode_times_and_symlinks() {
    let repo = Repo::new();
    repo.write("src/main.c", "int main(void) { return 0; }\n");
    repo.write("notes.txt", "hello\n");
    std::fs::set_permissions(
        repo.path().join("notes.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("outside")).unwrap();
    std::os::unix::fs::symlink("loop", repo.path().join("loop")).unwrap();
    std::os::unix::fs::symlink("src", repo.path().join("src-link")).unwrap();
    let provider = provider_for(repo.path()).await;
    let all = tree(&provider).await;
    let names: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "/",
            "/loop",
            "/notes.txt",
            "/outside",
            "/src",
            "/src-link",
            "/src/main.c"
        ],
        ".git is hidden and links are not followed"
    );
    let notes = &all["/notes.txt"];
    let metadata = std::fs::metadata(repo.path().join("notes.txt")).unwrap();
    assert_eq!(notes.kind, NodeKind::File { size: Some(6) });
    assert_eq!(notes.perm, Some(0o640));
    assert_eq!(notes.mtime, metadata.modified().unwrap());
    assert_eq!(notes.atime, Some(metadata.accessed().unwrap()));
    assert_eq!(
        all["/outside"].kind,
        NodeKind::Symlink {
            target: "/etc/passwd".into()
        }
    );
    assert!(matches!(all["/loop"].kind, NodeKind::Symlink { .. }));
    match provider.read(&NodePath::parse("src/main.c")).await.unwrap() {
        Content::File(_) => {}
        other => panic!("a plain file is served from disk, got {other:?}"),
    }
    assert_eq!(
        read_text(&provider, "src/main.c").await,
        "int main(void) { return 0; }\n"
    );
    assert!(matches!(
        provider.list(&NodePath::parse(".git")).await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        provider.list(&NodePath::parse("src-link")).await,
        Err(ProviderError::NotADirectory(_))
    ));
}

#[tokio::test]
async fn vanished_files_are_not_found() {
    let dir = outside_git();
    std::fs::write(dir.path().join("gone.txt"), "x").unwrap();
    std::fs::write(dir.path().join("gone.yml"), "a: 1\n").unwrap();
    let provider = provider_for(dir.path()).await;
    let _ = tree(&provider).await;
    std::fs::remove_file(dir.path().join("gone.txt")).unwrap();
    std::fs::remove_file(dir.path().join("gone.yml")).unwrap();
    assert!(matches!(
        provider.read(&NodePath::parse("gone.txt")).await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        provider.read(&NodePath::parse("gone.yml/a")).await,
        Err(ProviderError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_missing_source_is_a_clear_error() {
    let dir = outside_git();
    let missing = dir.path().join("nope");
    let provider = GitConfigProvider::new(&missing);
    let error = provider
        .start(ChangeNotifier::detached())
        .await
        .expect_err("a missing SOURCE");
    assert!(error.to_string().contains("nope"), "{error}");
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let provider = GitConfigProvider::new(dir.path().join("file"));
    let error = provider
        .start(ChangeNotifier::detached())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not a directory"), "{error}");
}

#[tokio::test]
async fn yaml_files_follow_the_mapping_rules() {
    let dir = outside_git();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "keys.yml",
        "a/b: 1\n'.': dot\n'..': dots\n'': empty\n50%: half\ndup: first\ndup: second\n? [x, y]\n: seq-key\n7: seven\nnull_value:\nlist:\n  - one\n  - {k: v}\n",
    );
    write("multi.yaml", "a: 1\n---\n- x\n--- just text\n");
    write("scalar.yml", "just text\n");
    write("broken.yml", "a: [1, 2\nb: }\n");
    write("empty.yml", "");
    write("readme.md", "a: 1\n");
    let provider = provider_for(dir.path()).await;
    let all = tree(&provider).await;
    let names: Vec<&str> = all
        .keys()
        .filter(|path| path.starts_with("/keys.yml/"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "/keys.yml/%",
            "/keys.yml/%2E",
            "/keys.yml/%2E%2E",
            "/keys.yml/50%25",
            "/keys.yml/7",
            "/keys.yml/[x, y]",
            "/keys.yml/a%2Fb",
            "/keys.yml/dup",
            "/keys.yml/dup%~2",
            "/keys.yml/list",
            "/keys.yml/list/0",
            "/keys.yml/list/1",
            "/keys.yml/list/1/k",
            "/keys.yml/null_value",
        ]
    );
    assert_eq!(read_text(&provider, "keys.yml/%").await, "empty\n");
    assert_eq!(read_text(&provider, "keys.yml/dup").await, "first\n");
    assert_eq!(read_text(&provider, "keys.yml/dup%~2").await, "second\n");
    assert_eq!(read_text(&provider, "keys.yml/null_value").await, "\n");
    assert_eq!(read_text(&provider, "keys.yml/[x, y]").await, "seq-key\n");
    assert!(is_dir(&all["/multi.yaml"]));
    assert_eq!(read_text(&provider, "multi.yaml/0/a").await, "1\n");
    assert_eq!(read_text(&provider, "multi.yaml/1/0").await, "x\n");
    assert_eq!(read_text(&provider, "multi.yaml/2").await, "just text\n");
    for plain in ["/scalar.yml", "/broken.yml", "/empty.yml", "/readme.md"] {
        assert!(all[plain].is_file(), "{plain} stays a plain file");
    }
    assert_eq!(read_text(&provider, "broken.yml").await, "a: [1, 2\nb: }\n");
    let yaml_perm = all["/keys.yml"].perm;
    assert_eq!(all["/keys.yml/7"].kind, NodeKind::File { size: Some(6) });
    assert!(yaml_perm.is_some_and(|perm| perm & 0o111 != 0));
}

#[tokio::test]
async fn a_large_tree_is_listed_without_reading_its_files() {
    let dir = outside_git();
    for folder in 0..100 {
        let path = dir.path().join(format!("d{folder:03}"));
        std::fs::create_dir(&path).unwrap();
        for file in 0..100 {
            std::fs::write(path.join(format!("f{file:03}.yml")), "a:\n  b: 1\n").unwrap();
        }
    }
    let provider = GitConfigProvider::new(dir.path());
    let started = Instant::now();
    provider
        .start(ChangeNotifier::detached())
        .await
        .expect("start");
    let root = provider.list(&NodePath::root()).await.expect("list root");
    let elapsed = started.elapsed();
    assert_eq!(root.len(), 100);
    assert!(
        elapsed < Duration::from_secs(1),
        "start and the first listing of 10,000 files took {elapsed:?}"
    );
    let folder = provider.list(&NodePath::parse("d042")).await.unwrap();
    assert_eq!(folder.len(), 100);
    assert!(folder.iter().all(is_dir));
}

/// Every input of the YAML test suite, mirrored without a panic or a hang; the invalid ones
/// (those with an `error` file) stay plain files.
#[tokio::test(flavor = "multi_thread")]
async fn every_yaml_test_suite_input_is_mirrored() {
    let suite = shared_dir().join("yaml-test-suite");
    if !suite.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {} is missing",
            suite.display()
        );
        eprintln!("skipped: {} is missing", suite.display());
        return;
    }
    let work = outside_git();
    let mut cases = 0;
    let mut invalid = 0;
    for case in std::fs::read_dir(&suite).unwrap() {
        let case = case.unwrap().path();
        let input = case.join("in.yaml");
        if !input.is_file() {
            continue;
        }
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let target = work.path().join(&name);
        std::fs::create_dir(&target).unwrap();
        std::fs::copy(&input, target.join("in.yaml")).unwrap();
        if case.join("error").exists() {
            std::fs::write(target.join("invalid"), "").unwrap();
            invalid += 1;
        }
        cases += 1;
    }
    assert!(cases > 300, "only {cases} cases found");
    let provider = GitConfigProvider::new(work.path());
    provider
        .start(ChangeNotifier::detached())
        .await
        .expect("start");
    let all = tokio::time::timeout(Duration::from_secs(120), tree(&provider))
        .await
        .expect("walking the suite took over two minutes");
    let mut folders = 0;
    for (path, node) in &all {
        if let Some(case) = path.strip_suffix("/in.yaml") {
            if all.contains_key(&format!("{case}/invalid")) {
                assert!(node.is_file(), "{path} is invalid YAML but became a folder");
            } else if is_dir(node) {
                folders += 1;
            }
        }
        if node.is_file() {
            // Reading every file must not fail either.
            let _ = read_text_lossy(&provider, path).await;
        }
    }
    eprintln!("{cases} inputs ({invalid} invalid), {folders} shown as folders");
    assert!(
        folders > cases / 2,
        "only {folders} of {cases} inputs became folders"
    );
}

async fn read_text_lossy(provider: &GitConfigProvider, path: &str) -> Vec<u8> {
    match provider.read(&NodePath::parse(path)).await {
        Ok(Content::Bytes(bytes)) => bytes,
        Ok(Content::File(mut file)) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).expect("read");
            bytes
        }
        Err(error) => panic!("reading {path}: {error}"),
    }
}

#[tokio::test]
async fn sections_are_data_without_exec_or_set_id_bits() {
    let repo = Repo::new();
    repo.write("c.yml", "web:\n  image: app\n");
    std::fs::set_permissions(
        repo.path().join("c.yml"),
        std::fs::Permissions::from_mode(0o6755),
    )
    .unwrap();
    let provider = provider_for(repo.path()).await;
    let all = tree(&provider).await;
    assert_eq!(all["/c.yml"].perm, Some(0o555), "a YAML file's folder");
    assert_eq!(all["/c.yml/web"].perm, Some(0o555), "a section folder");
    assert_eq!(all["/c.yml/web/image"].perm, Some(0o444), "a section file");
}
