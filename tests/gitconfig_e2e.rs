//! GitConfigFS through the `vfs` binary: real FUSE mounts of real repositories, and GNU make
//! deciding rebuilds from section times.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{fuse_available, git, init_repo, run, vfs_binary, VfsMount, COMPOSE};

const TTL: &str = "200ms";
/// Longer than the TTL: an edit must be visible by then even without a change notice.
const SETTLE: Duration = Duration::from_millis(450);
const T1: i64 = 1_600_000_000;

const MAKEFILE: &str = "\
CFG := mnt/docker-compose.yml/services

all: out/web out/db

out/%: $(CFG)/%
\t@mkdir -p out
\t@echo $* >> built.log
\t@touch $@
";

/// Runs make in `work` and returns the targets it rebuilt, sorted.
fn make(work: &Path) -> Vec<String> {
    let log = work.join("built.log");
    let _ = std::fs::remove_file(&log);
    run("make", &["-s", "-C", &work.display().to_string()], None);
    let mut built: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    built.sort();
    built
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replace(from, to)).expect("write");
}

#[test]
fn make_rebuilds_only_the_services_whose_sections_changed() {
    if !fuse_available() {
        return;
    }
    let work = tempfile::tempdir().expect("temporary directory");
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    init_repo(&repo);
    let compose = repo.join("docker-compose.yml");
    std::fs::write(&compose, COMPOSE).unwrap();
    git(&repo, &["add", "-A"], None);
    git(&repo, &["commit", "-q", "-m", "first"], Some(T1));
    // Another branch whose web differs, committed long ago.
    git(&repo, &["checkout", "-q", "-b", "other"], None);
    edit(&compose, "image: nginx", "image: httpd");
    git(&repo, &["commit", "-q", "-am", "httpd"], Some(T1 + 100));
    git(&repo, &["checkout", "-q", "main"], None);
    std::fs::write(work.path().join("Makefile"), MAKEFILE).unwrap();
    let mountpoint = work.path().join("mnt");
    std::fs::create_dir(&mountpoint).unwrap();

    let repo_arg = repo.display().to_string();
    let mount_arg = mountpoint.display().to_string();
    let _mount = VfsMount::start(
        &["--ttl", TTL, "mount", "gitconfig", &repo_arg, &mount_arg],
        &mountpoint,
    );
    let web = mountpoint.join("docker-compose.yml/services/web");
    assert_eq!(
        std::fs::read_to_string(web.join("image")).unwrap(),
        "nginx\n"
    );
    assert_eq!(
        std::fs::read_to_string(web.join("restart")).unwrap(),
        "always\n"
    );
    assert!(!mountpoint.join(".git").exists(), ".git is hidden");

    assert_eq!(make(work.path()), ["db", "web"], "first build");
    assert!(make(work.path()).is_empty(), "nothing changed");

    // An uncommitted edit of one service.
    std::thread::sleep(Duration::from_millis(20));
    edit(&compose, "postgres:15", "postgres:16");
    std::thread::sleep(SETTLE);
    assert_eq!(
        std::fs::read_to_string(mountpoint.join("docker-compose.yml/services/db/image")).unwrap(),
        "postgres:16\n"
    );
    assert_eq!(make(work.path()), ["db"], "after editing db");
    assert!(make(work.path()).is_empty());

    // Committing an edit already built rebuilds nothing: db means what it meant when it was
    // served, so it keeps the time it was served with (issue 10).
    std::thread::sleep(Duration::from_millis(1100));
    git(&repo, &["commit", "-q", "-am", "pg16"], None);
    std::thread::sleep(SETTLE);
    assert!(make(work.path()).is_empty(), "after committing db");

    // Editing the anchor every service merges rebuilds both.
    std::thread::sleep(Duration::from_millis(20));
    edit(&compose, "restart: always", "restart: unless-stopped");
    std::thread::sleep(SETTLE);
    assert_eq!(make(work.path()), ["db", "web"], "after editing x-defaults");
    // File times move in kernel clock ticks (4 ms here): a revert in the tick make last touched
    // a target in would be no newer than it, for make as for any file.
    std::thread::sleep(Duration::from_millis(20));
    git(&repo, &["checkout", "-q", "--", "docker-compose.yml"], None);
    std::thread::sleep(SETTLE);
    assert_eq!(
        make(work.path()),
        ["db", "web"],
        "after reverting x-defaults"
    );

    // A branch switch: blame says web is old, but its text changed under the target.
    std::thread::sleep(Duration::from_millis(20));
    git(&repo, &["checkout", "-q", "other"], None);
    std::thread::sleep(SETTLE);
    assert_eq!(
        std::fs::read_to_string(web.join("image")).unwrap(),
        "httpd\n"
    );
    let built = make(work.path());
    assert!(
        built.contains(&"web".to_string()),
        "after the switch: {built:?}"
    );
    assert!(make(work.path()).is_empty());
}

#[test]
fn tree_works_without_git_and_warns_once() {
    let work = tempfile::tempdir().expect("temporary directory");
    let outside = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(work.path())
        .output()
        .expect("git");
    assert!(!outside.status.success(), "temporary directory inside git");
    std::fs::write(work.path().join("c.yml"), "a:\n  b: 1\n").unwrap();
    std::fs::write(work.path().join("broken.yml"), "a: [1,\n").unwrap();
    let output = Command::new(vfs_binary())
        .args(["tree", "gitconfig"])
        .arg(work.path())
        .output()
        .expect("run vfs tree");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("c.yml"), "{stdout}");
    assert!(stdout.contains('b'), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("not inside a git work tree").count(),
        1,
        "one warning expected: {stderr}"
    );
    assert_eq!(
        stderr.matches("kept as a plain file").count(),
        1,
        "one warning for the file that does not parse: {stderr}"
    );
}

#[test]
fn a_missing_source_fails_with_one_line() {
    let work = tempfile::tempdir().expect("temporary directory");
    let missing = work.path().join("missing");
    let output = Command::new(vfs_binary())
        .args(["tree", "gitconfig"])
        .arg(&missing)
        .output()
        .expect("run vfs tree");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("missing"), "{stderr}");
}

/// docs/gitconfig.md's npm recipe, copied from the page, with the real npm (offline: the one
/// dependency is a local folder) and GitConfigFS mounted inside the project with its default
/// (long) TTL: editing `scripts` or `version` installs nothing, editing `dependencies` does.
#[test]
fn the_npm_recipe_installs_only_when_dependencies_change() {
    if !fuse_available() {
        return;
    }
    let npm = Command::new("npm").arg("--version").output();
    if !npm.as_ref().is_ok_and(|output| output.status.success()) {
        assert!(!common::in_ci(), "CI=true but npm is missing");
        eprintln!("skipped: npm is missing");
        return;
    }
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/gitconfig.md"))
            .unwrap();
    let from = doc.find("<!-- recipe: npm -->").expect("the npm recipe");
    let block = &doc[from..];
    let start = block.find("```make\n").unwrap() + "```make\n".len();
    let makefile = &block[start..start + block[start..].find("```").unwrap()];

    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("app");
    std::fs::create_dir_all(repo.join("vendor/local-dep")).unwrap();
    std::fs::write(
        repo.join("vendor/local-dep/package.json"),
        "{\"name\": \"local-dep\", \"version\": \"1.0.0\"}\n",
    )
    .unwrap();
    let package = "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"scripts\": {\n    \"test\": \"true\"\n  },\n  \"dependencies\": {\n    \"local-dep\": \"file:./vendor/local-dep\"\n  }\n}\n";
    std::fs::write(repo.join("package.json"), package).unwrap();
    std::fs::write(repo.join("Makefile"), makefile).unwrap();
    std::fs::write(repo.join(".gitignore"), ".cfgfs/\nnode_modules/\n").unwrap();
    init_repo(&repo);
    git(&repo, &["add", "-A"], None);
    git(&repo, &["commit", "-q", "-m", "app"], Some(T1));
    let mnt = repo.join(".cfgfs");
    let state = work.path().join("state");
    let mut command = Command::new(vfs_binary());
    command
        .args(["mount", "gitconfig", ".", ".cfgfs"])
        .current_dir(&repo)
        .env("VFS_STATE_DIR", &state)
        .stdin(std::process::Stdio::null());
    let _mount = VfsMount::start_command(command, &mnt);
    let make = |args: &[&str]| {
        let output = Command::new("make")
            .arg("--no-print-directory")
            .args(args)
            .current_dir(&repo)
            .env("NPM_CONFIG_UPDATE_NOTIFIER", "false")
            .env("NPM_CONFIG_OFFLINE", "true")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code(), text)
    };
    let (code, output) = make(&[]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("npm install"), "{output}");
    assert!(repo.join("node_modules/local-dep").exists());
    assert_eq!(make(&["-q"]).0, Some(0), "settled after the install");
    // scripts and version: nothing to install.
    std::thread::sleep(Duration::from_millis(20));
    edit(
        &repo.join("package.json"),
        "\"test\": \"true\"",
        "\"test\": \"echo ok\"",
    );
    edit(
        &repo.join("package.json"),
        "\"version\": \"1.0.0\"",
        "\"version\": \"1.1.0\"",
    );
    std::thread::sleep(SETTLE);
    assert_eq!(
        make(&["-q"]).0,
        Some(0),
        "an edit of scripts and version installs nothing"
    );
    // dependencies: installed again, once.
    edit(
        &repo.join("package.json"),
        "file:./vendor/local-dep",
        "file:vendor/local-dep",
    );
    std::thread::sleep(SETTLE);
    assert_eq!(
        make(&["-q"]).0,
        Some(1),
        "an edit of dependencies must install"
    );
    let (code, output) = make(&[]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("npm install"), "{output}");
    assert_eq!(make(&["-q"]).0, Some(0), "settled again");
}
