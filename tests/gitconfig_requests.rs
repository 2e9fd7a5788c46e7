//! GitConfigFS at the limit of the kernel's caches (issue 17): while inotify watches SOURCE the
//! provider's notices are complete, so the kernel keeps every name, attribute, link and listing
//! it read until a notice drops it. A warm `make -q` over section targets, a warm `find` and a
//! warm `ls -lR` of the mirrored tree then reach the mount with no request (but find's one
//! `statfs`, which FUSE never caches); so does the walk right after a cold one. An edit or a
//! commit is still seen at the next look, and the walk after that is request-free again.
//!
//! Requests are counted in the mount's `--debug-fuse` log (tests/common, as tests/docker_e2e.rs
//! counts them).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    assert_folders_were_listed, assert_the_walk_after_a_cold_one_is_free, assert_walk_is_free,
    fuse_available, fuse_requests, git, init_repo, inode_and_kind, request_kinds, wait_until,
    VfsMount, COMPOSE,
};
use vfs_testkit::mounts::within_or_abort;

/// The first commit's time, and the second's.
const T1: i64 = 1_600_000_000;
const T2: i64 = 1_700_000_000;
/// Bound on one walk or make of these small trees (a hang fails, the connection is aborted).
const WALK_LIMIT: Duration = Duration::from_secs(60);

const APP_TOML: &str = "\
[server]
host = \"0.0.0.0\"
port = 8080

[server.tls]
cert = \"server.pem\"

[database]
url = \"postgres://db/app\"
";

const SETUP_INI: &str = "\
[metadata]
name = demo
version = 1.0

[options]
zip_safe = false
";

const SETTINGS_JSON: &str =
    "{\"log\": {\"level\": \"info\", \"sinks\": {\"file\": \"/var/log/app\"}}}\n";

/// Targets on sections of every format: a folder, a scalar, a nested table, an ini section.
const MAKEFILE: &str = "\
C := .cfgfs
all: out/web out/db out/tls out/metadata out/log
out/web: $(C)/compose.yml/services/web ; @mkdir -p out && touch $@
out/db: $(C)/compose.yml/services/db/image ; @mkdir -p out && touch $@
out/tls: $(C)/conf/app.toml/server/tls ; @mkdir -p out && touch $@
out/metadata: $(C)/conf/deep/setup.ini/metadata/name ; @mkdir -p out && touch $@
out/log: $(C)/settings.json/log/sinks ; @mkdir -p out && touch $@
";

/// A project that is a git repository: its config files under `config/` (committed at T1 with
/// a plain file and a symlink beside them), a Makefile whose targets depend on their sections,
/// and `.cfgfs/` where `config/` is mounted. The targets (`out/`) are outside the mirrored tree.
struct Project {
    work: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let work = tempfile::tempdir().expect("temporary directory");
        let project = Project { work };
        let (dir, config) = (project.dir(), project.config());
        std::fs::create_dir_all(config.join("conf/deep")).unwrap();
        std::fs::write(config.join("compose.yml"), COMPOSE).unwrap();
        std::fs::write(config.join("conf/app.toml"), APP_TOML).unwrap();
        std::fs::write(config.join("conf/deep/setup.ini"), SETUP_INI).unwrap();
        std::fs::write(config.join("settings.json"), SETTINGS_JSON).unwrap();
        std::fs::write(config.join("README"), "Configuration of the demo.\n").unwrap();
        std::os::unix::fs::symlink("conf", config.join("latest")).unwrap();
        std::fs::write(dir.join("Makefile"), MAKEFILE).unwrap();
        std::fs::write(dir.join(".gitignore"), ".cfgfs/\nout/\nstate/\n*.log\n").unwrap();
        std::fs::create_dir(project.mnt()).unwrap();
        init_repo(&dir);
        git(&dir, &["add", "-A"], None);
        git(&dir, &["commit", "-q", "-m", "config"], Some(T1));
        project
    }

    fn dir(&self) -> PathBuf {
        self.work.path().to_path_buf()
    }

    fn config(&self) -> PathBuf {
        self.dir().join("config")
    }

    fn mnt(&self) -> PathBuf {
        self.dir().join(".cfgfs")
    }

    /// `vfs --debug-fuse mount gitconfig config .cfgfs` (file events: complete notices), its
    /// log at `log`.
    fn mount(&self, log: &Path) -> VfsMount {
        let mut command = common::vfs_command_logged(
            &["--debug-fuse", "mount", "gitconfig", "config", ".cfgfs"],
            log,
        );
        command
            .current_dir(self.dir())
            .env("VFS_STATE_DIR", self.dir().join("state"))
            .env_remove("VFS_GITCONFIG_WATCH");
        VfsMount::start_command(command, &self.mnt())
    }

    /// The walks counted: `make -q` over the section targets, `find` printing every node's time
    /// and `ls -lR` (every name's attributes, every link's target).
    fn walks(&self) -> [(&'static str, String); 3] {
        [
            ("make -q", "make -q".to_string()),
            (
                "find",
                "find .cfgfs -printf '%T@ %p\\n' >/dev/null".to_string(),
            ),
            ("ls -lR", "ls -lR .cfgfs >/dev/null".to_string()),
        ]
    }

    /// Runs `script` with sh in the project, bounded; whether it succeeded, and its output.
    fn shell(&self, script: &str) -> (bool, String) {
        let (dir, script_text) = (self.dir(), script.to_string());
        within_or_abort(&self.mnt(), WALK_LIMIT, script, move || {
            let output = Command::new("sh")
                .arg("-c")
                .arg(&script_text)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .expect("run sh");
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            (output.status.success(), text)
        })
    }

    /// Runs `script`, which must succeed.
    fn run(&self, what: &str, script: &str) {
        let (ok, output) = self.shell(script);
        assert!(ok, "{what} failed: {output}");
    }

    /// The mount's barrier: every notice sent so far is applied once this returns. Reading
    /// `.vfs` opens a file, whose `RELEASE` the kernel sends after `close` returns: waited for
    /// too, so that it is not counted as the next walk's.
    fn barrier(&self) {
        let marker = self.mnt().join(".vfs");
        within_or_abort(&self.mnt(), WALK_LIMIT, "the barrier", move || {
            std::fs::read(marker).expect("read .vfs")
        });
        std::thread::sleep(Duration::from_millis(200));
    }

    /// The modification time of a path through the mount, in seconds.
    fn mtime(&self, relative: &str) -> i64 {
        let path = self.mnt().join(relative);
        within_or_abort(&self.mnt(), WALK_LIMIT, relative, move || {
            std::fs::symlink_metadata(&path).map_or(i64::MIN, |metadata| metadata.mtime())
        })
    }

    /// Writes `text` to `relative` under `config/` as editors and `sed -i` do: a new file
    /// renamed over the old one.
    fn save(&self, relative: &str, text: &str) {
        let path = self.config().join(relative);
        let temporary = path.with_extension("swp");
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, &path).unwrap();
    }
}

/// Every walk once more, each of which must reach the mount with no request.
fn assert_walks_are_free(project: &Project, log: &Path, when: &str) {
    for (what, script) in project.walks() {
        assert_walk_is_free(log, when, what, || project.run(what, &script));
    }
}

/// Runs every walk once (a first make builds the targets), then waits for whatever notices the
/// run caused and takes the barrier.
fn walk_all(project: &Project, make: &str) {
    for (what, script) in project.walks() {
        let script = if what == "make -q" { make } else { &script };
        project.run(what, script);
    }
    std::thread::sleep(Duration::from_millis(200));
    project.barrier();
}

/// Mounts a new project (its log at `vfs.log`), runs every walk cold and once more, checks that
/// the walks then reach the mount with no request (a failure says `when`), and runs `test` on
/// the warm mount with the log. Nothing without FUSE.
fn on_a_warm_mount(when: &str, test: impl FnOnce(&Project, &Path)) {
    if !fuse_available() {
        return;
    }
    let project = Project::new();
    let log = project.dir().join("vfs.log");
    let _mount = project.mount(&log);
    // Cold, then once more: the kernel then holds every name, attribute, link and listing.
    walk_all(&project, "make");
    walk_all(&project, "make -q");
    assert_walks_are_free(&project, &log, when);
    test(&project, &log);
}

#[test]
fn a_warm_make_find_and_ls_lr_reach_the_mount_with_no_request() {
    on_a_warm_mount("warm", |_, log| {
        let text = std::fs::read_to_string(log).unwrap();
        let requests = fuse_requests(&text);
        let kinds = request_kinds(&requests);
        assert_folders_were_listed(&kinds, "the log shows the cold walks' requests");
        assert!(
            kinds.contains(&"READLINK"),
            "the cold ls -lR read the symlink's target: {kinds:?}"
        );
        assert!(
            kinds.iter().filter(|kind| **kind == "OPENDIR").count() <= 1,
            "OPENDIR is answered ENOSYS once (complete notices), and the kernel sends no other: \
             {kinds:?}"
        );
    });
}

/// The walk right after a cold one, on a mount of its own for each walk: nothing the cold walk
/// read is forgotten after it.
#[test]
fn the_walk_right_after_a_cold_one_reaches_the_mount_with_no_request() {
    if !fuse_available() {
        return;
    }
    let project = Project::new();
    // The targets, newer than every section: `make -q` has nothing to do.
    std::fs::create_dir(project.dir().join("out")).unwrap();
    for target in ["web", "db", "tls", "metadata", "log"] {
        std::fs::write(project.dir().join("out").join(target), "").unwrap();
    }
    for (index, (what, script)) in project.walks().into_iter().enumerate() {
        let log = project.dir().join(format!("vfs-{index}.log"));
        let mount = project.mount(&log);
        // The barrier, then the cold walk on a kernel that holds nothing of the mount.
        project.barrier();
        assert_the_walk_after_a_cold_one_is_free(&log, what, |label| project.run(label, &script));
        drop(mount);
    }
}

/// The long-kept answers hide no change: an edit saved over one file and a commit are seen at
/// the next look (new times, a new section), which asks only about what changed; the walk after
/// it is request-free again.
#[test]
fn an_edit_and_a_commit_show_at_the_next_look_then_the_walks_are_free_again() {
    on_a_warm_mount("before the edit", |project, log| {
        assert_eq!(project.mtime("compose.yml/services/db/image"), T1);
        assert_eq!(project.mtime("compose.yml/services/web"), T1);
        // The inodes of what the edit of compose.yml leaves alone (asked while warm: no request).
        let untouched: Vec<u64> = ["conf", "conf/app.toml", "conf/app.toml/server", "conf/deep"]
            .iter()
            .chain(["conf/deep/setup.ini", "settings.json", "settings.json/log"].iter())
            .map(|relative| {
                std::fs::symlink_metadata(project.mnt().join(relative))
                    .unwrap()
                    .ino()
            })
            .collect();

        // An edit of db alone, saved as editors save (a new file renamed over the old one).
        std::thread::sleep(Duration::from_millis(20));
        project.save(
            "compose.yml",
            &COMPOSE.replace("postgres:15", "postgres:16"),
        );
        let before = std::fs::read_to_string(log).unwrap().len();
        wait_until(Duration::from_secs(5), "the edit through the mount", || {
            project.mtime("compose.yml/services/db/image") > T1
        });
        assert_eq!(
            project.mtime("compose.yml/services/web"),
            T1,
            "web did not change"
        );
        let (up_to_date, _) = project.shell("make -q");
        assert!(!up_to_date, "make -q sees db newer than its target");
        std::thread::sleep(Duration::from_millis(200));
        project.barrier();
        walk_all(project, "make");
        let text = std::fs::read_to_string(log).unwrap();
        let asked_about_others: Vec<&str> = fuse_requests(&text[before..])
            .into_iter()
            .filter(|line| inode_and_kind(line).is_some_and(|(ino, _)| untouched.contains(&ino)))
            .collect();
        assert!(
            asked_about_others.is_empty(),
            "the walks after an edit of compose.yml asked about the other files: \
             {asked_about_others:#?}"
        );
        assert_walks_are_free(project, log, "after the edit");

        // A new section committed at T2 before anyone looked: the next look shows it, with the
        // commit's time, and the other sections keep theirs.
        std::thread::sleep(Duration::from_millis(20));
        let toml = project.config().join("conf/app.toml");
        std::fs::write(&toml, format!("{APP_TOML}\n[cache]\nsize = 64\n")).unwrap();
        let committed = ["commit", "-q", "-m", "cache", "--", "config/conf/app.toml"];
        git(&project.dir(), &committed, Some(T2));
        wait_until(Duration::from_secs(5), "the committed section", || {
            project.mtime("conf/app.toml/cache") == T2
        });
        assert_eq!(project.mtime("conf/app.toml/server/tls"), T1);
        std::thread::sleep(Duration::from_millis(200));
        project.barrier();
        walk_all(project, "make -q");
        assert_walks_are_free(project, log, "after the commit");

        // Committing the edit already served keeps db's time (it means what it meant when
        // served, issue 10); the commit's notices are applied, and the walks settle again.
        let served = project.mtime("compose.yml/services/db/image");
        git(
            &project.dir(),
            &["commit", "-q", "-am", "pg16"],
            Some(T2 + 100),
        );
        std::thread::sleep(Duration::from_millis(200));
        project.barrier();
        assert_eq!(project.mtime("compose.yml/services/db/image"), served);
        walk_all(project, "make -q");
        assert_walks_are_free(project, log, "after committing the served edit");
    });
}
