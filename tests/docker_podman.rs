//! DockerFS against Podman's Docker-compatible API: Debian's `podman system service` on a socket
//! of the test's own, with its own storage (vfs_testkit::throwaway), images made by
//! `podman import` of a busybox rootfs. A cached rebuild, a tag, an rmi and a container create
//! move the same files as on Docker; where Podman's API differs (no `LastTagTime`, names in full)
//! docs/docker.md says what DockerFS does instead.
//!
//! Most changes are awaited by polling the mount (bounded): what is promised and checked there
//! is that a change shows within a second. `vfs wait` is checked on its own: Podman 4.3's
//! events API answers a question about the past (`until` before now) with nothing, and writes
//! the events of image tags and removals made through its service after the call returned, so
//! DockerFS asks it about the second to come (docs/docker.md, Podman); after the barrier the
//! change must show with no polling at all.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::{fuse_available, vfs_binary, within, VfsMount};
use vfs_testkit::throwaway::{program_available, Throwaway};

/// How soon a change must show through the mount.
const SHOWS_WITHIN: Duration = Duration::from_secs(1);

/// Waits (bounded by [`SHOWS_WITHIN`]) until `check` holds, polling through the mount; panics
/// with `what` otherwise. Returns how long it took.
fn eventually(what: &str, check: impl Fn() -> bool + Send + 'static) -> Duration {
    let what_owned = what.to_string();
    within(SHOWS_WITHIN + Duration::from_secs(10), what, move || {
        let started = std::time::Instant::now();
        while !check() {
            assert!(
                started.elapsed() < SHOWS_WITHIN,
                "not within {SHOWS_WITHIN:?}: {what_owned}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        started.elapsed()
    })
}

fn stat_mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

/// Waits (bounded by [`SHOWS_WITHIN`]) until `path`'s time (symlinks followed) is later than
/// `than`: `Ok` with it, or `Err` with the last time seen.
fn poll_newer(path: &Path, than: SystemTime) -> Result<SystemTime, Option<SystemTime>> {
    let watched = path.to_path_buf();
    within(
        SHOWS_WITHIN + Duration::from_secs(10),
        "poll a time",
        move || {
            let started = std::time::Instant::now();
            loop {
                let seen = stat_mtime(&watched);
                match seen {
                    Some(time) if time > than => return Ok(time),
                    _ if started.elapsed() >= SHOWS_WITHIN => return Err(seen),
                    _ => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        },
    )
}

/// Waits until `path`'s time is later than `than`; returns it.
fn newer_than(what: &str, path: &Path, than: SystemTime) -> SystemTime {
    poll_newer(path, than)
        .unwrap_or_else(|seen| panic!("not within {SHOWS_WITHIN:?}: {what} ({seen:?})"))
}

fn shows(what: &str, path: PathBuf) -> Duration {
    eventually(what, move || std::fs::symlink_metadata(&path).is_ok())
}

fn goes(what: &str, path: PathBuf) -> Duration {
    eventually(what, move || std::fs::symlink_metadata(&path).is_err())
}

/// The modification time of `path` (symlinks followed, as make's stat does), or `None`.
fn mtime(path: &Path) -> Option<SystemTime> {
    let path = path.to_path_buf();
    within(Duration::from_secs(10), "stat in the mount", move || {
        std::fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .ok()
    })
}

fn exists(path: &Path) -> bool {
    let path = path.to_path_buf();
    within(Duration::from_secs(10), "stat in the mount", move || {
        std::fs::symlink_metadata(&path).is_ok()
    })
}

/// The engine's own idea of now (its clock is this machine's, as vfs wait's barrier assumes).
fn now() -> SystemTime {
    SystemTime::now()
}

struct Scene {
    engine: Throwaway,
    _scratch: tempfile::TempDir,
    mnt: PathBuf,
    context: PathBuf,
    mount: Option<VfsMount>,
}

impl Scene {
    fn start() -> Scene {
        let engine = Throwaway::podman();
        let scratch = tempfile::tempdir().unwrap();
        let mnt = scratch.path().join("mnt");
        let context = scratch.path().join("context");
        std::fs::create_dir(&mnt).unwrap();
        std::fs::create_dir(&context).unwrap();
        engine.import_busybox("pod/base:1");
        let host = engine.host();
        let mnt_text = mnt.display().to_string();
        let mount = VfsMount::start(&["mount", "docker", &host, &mnt_text], &mnt);
        Scene {
            engine,
            _scratch: scratch,
            mnt,
            context,
            mount: Some(mount),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.mnt.join(relative)
    }

    /// The docker CLI against the Podman service (the compatible API).
    fn docker(&self, args: &[&str]) -> String {
        let mut full = vec!["-H".to_string(), self.engine.host()];
        full.extend(args.iter().map(|arg| arg.to_string()));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        common::run("docker", &full, None)
    }

    /// The engine's image events so far, one a line with their times (for failure messages).
    fn image_events(&self) -> String {
        self.engine.cli(&[
            "events",
            "--stream=false",
            "--since",
            "10m",
            "--filter",
            "type=image",
            "--format",
            "{{.Time}} {{.Status}} {{.ID}} {{.Name}}",
        ])
    }

    fn image_id(&self, reference: &str) -> String {
        let id = self
            .engine
            .cli(&["image", "inspect", "--format", "{{.Id}}", reference]);
        let id = id.trim();
        id.strip_prefix("sha256:").unwrap_or(id).to_string()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        // Unmount before the engine goes.
        self.mount.take();
    }
}

fn ready() -> bool {
    fuse_available() && program_available("podman") && program_available("docker")
}

/// Podman names images in full: `podman import … pod/base:1` is `localhost/pod/base:1`, a tag
/// through the docker CLI is `docker.io/…`, shown as Docker shows it (`pod/…`).
#[test]
fn podman_tags_rmis_and_creates_move_the_same_files_as_on_docker() {
    if !ready() {
        return;
    }
    let scene = Scene::start();
    let base_id = scene.image_id("localhost/pod/base:1");
    let image_file = scene.path(&format!("images/.{base_id}"));
    assert!(exists(&scene.path("images/localhost/pod/base/1")));
    assert!(exists(&scene.path("images/localhost/pod/base:1")));
    let served = within(Duration::from_secs(10), "read", {
        let file = image_file.clone();
        move || std::fs::read_to_string(file)
    })
    .expect("read the image's inspect file");
    assert!(served.contains(&base_id));
    let created = mtime(&image_file).expect("the image file");

    // A tag (through the docker CLI): the new name shows, and the image gets newer (Docker's
    // LastTagTime would move; Podman's tag event stands in for it).
    std::thread::sleep(Duration::from_millis(20));
    let before_tag = now();
    scene.docker(&["tag", "localhost/pod/base:1", "pod/tagged:1"]);
    let took = shows("the tag", scene.path("images/pod/tagged/1"));
    eprintln!("tag shown after {took:?}");
    let tagged = newer_than("the image's time after the tag", &image_file, created);
    assert!(
        tagged >= before_tag - Duration::from_secs(1),
        "the tag moved the image's time to before it: {tagged:?} < {before_tag:?}"
    );
    assert_eq!(mtime(&scene.path("images/pod/tagged/1")), Some(tagged));

    // An rmi of that tag: the name goes, the image stays.
    scene.docker(&["rmi", "pod/tagged:1"]);
    goes("the untag", scene.path("images/pod/tagged/1"));
    assert!(!exists(&scene.path("images/pod/tagged:1")));
    assert!(exists(&image_file));

    // A container create: its file and name, at its Created time.
    let before_create = now();
    let container_id = scene.docker(&["create", "--name", "podbox", "localhost/pod/base:1"]);
    let container_id = container_id.trim().to_string();
    shows("the new container", scene.path("containers/podbox"));
    let container_time = mtime(&scene.path("containers/podbox")).expect("containers/podbox");
    assert!(exists(&scene.path(&format!("containers/.{container_id}"))));
    assert!(container_time >= before_create - Duration::from_secs(1));
    assert!(mtime(&scene.path("containers")).unwrap() >= container_time);

    // An rmi of a whole image (its container removed first).
    scene.docker(&["rm", "podbox"]);
    // The rootfs import_busybox left in the engine's folder, imported again: another image.
    let tar = scene.engine.dir().join("rootfs.tar").display().to_string();
    let gone_id = scene
        .engine
        .cli(&["import", "--quiet", &tar, "pod/alone:1"]);
    let gone_id = gone_id.trim().trim_start_matches("sha256:").to_string();
    shows(
        "the imported image",
        scene.path(&format!("images/.{gone_id}")),
    );
    scene.docker(&["rmi", "localhost/pod/alone:1"]);
    goes(
        "the removed image",
        scene.path(&format!("images/.{gone_id}")),
    );
    assert!(!exists(&scene.path("images/localhost/pod/alone/1")));
    goes("the removed container", scene.path("containers/podbox"));
}

/// A fully cached `podman build` (and one through the docker CLI) gives the same image id
/// again; the image's time must still move past the rebuild, or make would rebuild forever.
#[test]
fn a_cached_podman_rebuild_moves_the_image_time() {
    if !ready() {
        return;
    }
    let scene = Scene::start();
    std::fs::write(
        scene.context.join("Containerfile"),
        "FROM localhost/pod/base:1\nLABEL vfs.test=cached\n",
    )
    .unwrap();
    let context = scene.context.display().to_string();
    let build = || {
        scene
            .engine
            .cli(&["build", "--quiet", "-t", "pod/app:1", &context])
    };
    let first = build();
    let link = scene.path("images/localhost/pod/app/1");
    shows("the built image", link.clone());
    let mut last_time = mtime(&link).expect("the built image");

    for round in 0..2 {
        std::thread::sleep(Duration::from_millis(50));
        let before = now();
        let again = build();
        assert_eq!(again.trim(), first.trim(), "the rebuild was not cached");
        let rebuilt = poll_newer(&link, last_time).unwrap_or_else(|seen| {
            panic!(
                "round {round}: the cached rebuild did not move the image's time within \
                 {SHOWS_WITHIN:?} (before {last_time:?}, rebuild started {before:?}, now \
                 {seen:?}); the engine's image events:\n{}",
                scene.image_events()
            )
        });
        assert!(rebuilt >= before - Duration::from_secs(1));
        last_time = rebuilt;
        let meta = std::fs::metadata(&link).unwrap();
        assert_eq!(meta.ctime(), meta.mtime());
    }

    // Through the docker CLI's classic builder (Podman 4.3 has no BuildKit): `-t app:2` is
    // Docker Hub's `app:2` to Podman, shown as Docker shows it.
    let docker_build = |tag: &str| {
        let output = Command::new("docker")
            .args(["-H", &scene.engine.host(), "build", "-q", "-t", tag])
            .arg(&scene.context)
            .arg("-f")
            .arg(scene.context.join("Containerfile"))
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("run docker build");
        assert!(
            output.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let id = docker_build("app:2");
    let link = scene.path("images/app/2");
    shows("the image docker build made", link.clone());
    let built = mtime(&link).expect("images/app/2");
    std::thread::sleep(Duration::from_millis(50));
    let before = now();
    assert_eq!(docker_build("app:2"), id, "the rebuild was not cached");
    let rebuilt = poll_newer(&link, built).unwrap_or_else(|seen| {
        panic!(
            "docker build: the cached rebuild did not move the image's time within \
             {SHOWS_WITHIN:?} ({built:?} -> {seen:?}); the engine's image events:\n{}",
            scene.image_events()
        )
    });
    assert!(rebuilt >= before - Duration::from_secs(1));
}

/// `vfs wait MOUNTPOINT` (bounded); its time.
fn vfs_wait(mountpoint: &Path) -> Duration {
    let mountpoint = mountpoint.to_path_buf();
    within(Duration::from_secs(40), "vfs wait", move || {
        let started = Instant::now();
        let output = Command::new(vfs_binary())
            .arg("wait")
            .arg(&mountpoint)
            .output()
            .expect("run vfs wait");
        assert!(
            output.status.success(),
            "vfs wait: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        started.elapsed()
    })
}

/// The barrier on Podman: after a tag or an rmi made through the service (whose events Podman
/// writes after the call returned) and a container create, `vfs wait` (or a read of `.vfs`,
/// every other round) returns only once the mount shows the change, checked at once, with no
/// polling; ten rounds.
#[test]
fn vfs_wait_is_a_barrier_on_podman_too() {
    if !ready() {
        return;
    }
    let scene = Scene::start();
    let base_id = scene.image_id("localhost/pod/base:1");
    let image_file = scene.path(&format!("images/.{base_id}"));
    let mnt = scene.mnt.clone();
    let barrier = |round: u32, waits: &mut Vec<Duration>| {
        if round % 2 == 0 {
            waits.push(vfs_wait(&mnt));
        } else {
            let marker = mnt.join(".vfs");
            let text = within(Duration::from_secs(40), "read .vfs", move || {
                std::fs::read_to_string(marker)
            })
            .expect("read .vfs");
            assert_eq!(text, "vfs mount: docker\nsettled\n");
        }
    };
    let mut waits = Vec::new();
    let mut missed = 0;
    for round in 0..10 {
        let tag = scene.path(&format!("images/pod/barrier/t{round}"));
        let before = mtime(&image_file).expect("the image file");
        std::thread::sleep(Duration::from_millis(20));
        scene.docker(&[
            "tag",
            "localhost/pod/base:1",
            &format!("pod/barrier:t{round}"),
        ]);
        missed += u32::from(!exists(&tag));
        barrier(round, &mut waits);
        assert!(
            exists(&tag),
            "round {round}: {tag:?} missing after the barrier"
        );
        let tagged = mtime(&image_file).expect("the image file");
        assert!(
            tagged > before,
            "round {round}: the tag did not move the image's time by the barrier \
             ({before:?} -> {tagged:?}); the engine's image events:\n{}",
            scene.image_events()
        );

        scene.docker(&["rmi", &format!("pod/barrier:t{round}")]);
        missed += u32::from(exists(&tag));
        barrier(round, &mut waits);
        assert!(
            !exists(&tag),
            "round {round}: {tag:?} still there after the barrier"
        );

        let name = format!("podwait{round}");
        let id = scene.docker(&["create", "--name", &name, "localhost/pod/base:1"]);
        let by_name = scene.path(&format!("containers/{name}"));
        missed += u32::from(!exists(&by_name));
        barrier(round, &mut waits);
        assert!(
            exists(&scene.path(&format!("containers/.{}", id.trim()))),
            "round {round}: container {name} missing after the barrier"
        );
        scene.docker(&["rm", &name]);
    }
    waits.sort();
    eprintln!(
        "podman barrier: {missed} of 30 changes not shown before it; vfs wait took {:?} (min) \
         {:?} (median) {:?} (max)",
        waits[0],
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
}
