//! The mount's barrier end to end: `vfs wait MOUNTPOINT` (or reading `MOUNTPOINT/.vfs`) after a
//! docker command, and the mount shows the command's result, at rest and under a churn of
//! engine events; `make && make` with a recipe that ends with `vfs wait` runs nothing the
//! second time; a Makefile naming `.dockerfs/.vfs` as an order-only prerequisite fails loudly
//! when the mount is not there.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    docker_available, fuse_available, import_busybox, unique, vfs_binary, Cleanup, EngineLock,
    VfsMount,
};
use vfs_testkit::churn::Churn;
use vfs_testkit::docker::docker;

/// `PATH` with the `vfs` under test first, as a user's shell would have it.
fn path_with_vfs() -> String {
    let dir = vfs_binary().parent().unwrap().to_path_buf();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `vfs wait MOUNTPOINT`; its time.
fn vfs_wait(mountpoint: &Path) -> Duration {
    let started = Instant::now();
    let output = Command::new(vfs_binary())
        .arg("wait")
        .arg(mountpoint)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "vfs wait: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed()
}

fn shell(script: &str, dir: &Path) -> (bool, String) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path_with_vfs())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("run sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn link(path: &Path) -> Option<String> {
    std::fs::read_link(path)
        .ok()
        .map(|target| target.to_string_lossy().into_owned())
}

struct Scene {
    _cleanup: Cleanup,
    _dir: tempfile::TempDir,
    mountpoint: PathBuf,
    image: String,
    name: String,
}

/// Rounds of a docker command (a tag, its removal, a container removed and created again),
/// each followed by the barrier (`vfs wait`, or reading `.vfs` every other round), after which
/// the mount must show the result. Returns how often a look right after the command, before
/// the barrier, did not show it yet.
fn rounds(scene: &Scene, stem: &str, tries: u32, waits: &mut Vec<Duration>) -> u32 {
    let mnt = &scene.mountpoint;
    let repo = format!("{}-{stem}", scene.name);
    let container = format!("{}-{stem}-box", scene.name);
    let mut missed = 0;
    let mut barrier = |round: u32| {
        if round % 2 == 0 {
            waits.push(vfs_wait(mnt));
        } else {
            let text = std::fs::read_to_string(mnt.join(".vfs")).unwrap();
            assert_eq!(text, "vfs mount: docker\nsettled\n");
        }
    };
    for round in 0..tries {
        let tag = mnt.join(format!("images/{repo}/t{round}"));
        docker(&["tag", &scene.image, &format!("{repo}:t{round}")]);
        missed += u32::from(!exists(&tag));
        barrier(round);
        assert!(
            exists(&tag),
            "round {round}: {tag:?} missing after the barrier"
        );

        docker(&["rmi", &format!("{repo}:t{round}")]);
        missed += u32::from(exists(&tag));
        barrier(round);
        assert!(
            !exists(&tag),
            "round {round}: {tag:?} still there after the barrier"
        );

        let _ = Command::new("docker")
            .args(["rm", "-f", &container])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let id = docker(&["create", "--name", &container, &scene.image]);
        let want = format!(".{}", id.trim());
        let by_name = mnt.join(format!("containers/{container}"));
        missed += u32::from(link(&by_name).as_deref() != Some(want.as_str()));
        barrier(round);
        assert_eq!(
            link(&by_name).as_deref(),
            Some(want.as_str()),
            "round {round}: {container} not re-created in the mount after the barrier"
        );
    }
    missed
}

fn scene(cleanup_names: &[&str]) -> Option<(Scene, VfsMount)> {
    if !fuse_available() || !docker_available() {
        return None;
    }
    let mut cleanup = Cleanup::default();
    let name = unique("vfsw", "wait");
    let image = import_busybox(
        &mut cleanup,
        &format!("{name}-base:1"),
        &["sh"],
        &[r#"CMD ["sh"]"#],
    );
    for stem in cleanup_names {
        cleanup.containers.push(format!("{name}-{stem}-box"));
    }
    let dir = tempfile::tempdir().unwrap();
    let mountpoint = dir.path().join(".dockerfs");
    let mount = VfsMount::start(
        &["mount", "docker", mountpoint.to_str().unwrap()],
        &mountpoint,
    );
    Some((
        Scene {
            _cleanup: cleanup,
            _dir: dir,
            mountpoint,
            image,
            name,
        },
        mount,
    ))
}

#[test]
fn after_vfs_wait_the_mount_shows_every_docker_change_made_before_it_at_rest_and_under_churn() {
    let _lock = EngineLock::shared();
    let Some((scene, _mount)) = scene(&["rest", "busy"]) else {
        return;
    };
    let mut waits_at_rest = Vec::new();
    let at_rest = rounds(&scene, "rest", 20, &mut waits_at_rest);

    let churn = Churn::start(
        &scene.image,
        &format!("{}-churn", scene.name),
        150,
        Duration::from_secs(120),
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut waits_busy = Vec::new();
    let busy = rounds(&scene, "busy", 20, &mut waits_busy);
    let rate = churn.rate();
    drop(churn);
    let longest = |waits: &[Duration]| waits.iter().max().copied().unwrap_or_default();
    eprintln!(
        "without the barrier, missed {at_rest}/60 at rest and {busy}/60 under churn ({rate:.0} events/s); \
         longest vfs wait {:?} at rest, {:?} under churn",
        longest(&waits_at_rest),
        longest(&waits_busy)
    );
    assert!(rate >= 100.0, "the churn reached only {rate:.0} events/s");
}

/// The recipe of docs/docker.md: a container re-created from its image, ending with
/// `vfs wait`, and the mount as an order-only prerequisite.
const MAKEFILE: &str = "\
D := .dockerfs

$(D)/images/REPO/latest: Dockerfile | $(D)/.vfs
\tdocker build -q -t REPO:latest .
\tvfs wait $(D)

$(D)/containers/BOX: $(D)/images/REPO/latest | $(D)/.vfs
\tdocker rm -f BOX 2>/dev/null || true
\tdocker create --name BOX REPO:latest
\tvfs wait $(D)
";

#[test]
fn make_and_make_after_a_recipe_ending_with_vfs_wait_runs_nothing_the_second_time() {
    let _lock = EngineLock::shared();
    let Some((scene, mut mount)) = scene(&["make"]) else {
        return;
    };
    let project = scene.mountpoint.parent().unwrap();
    let repo = format!("{}-make", scene.name);
    let container = format!("{}-make-box", scene.name);
    std::fs::write(
        project.join("Makefile"),
        MAKEFILE.replace("BOX", &container).replace("REPO", &repo),
    )
    .unwrap();
    // The mount lies inside the build context: docker must not walk it (other tests change the
    // engine, and with it the mount, while the context is read; docs/docker.md says so).
    std::fs::write(project.join(".dockerignore"), ".dockerfs\n").unwrap();
    std::fs::write(
        project.join("Dockerfile"),
        format!("FROM {}-base:1\n", scene.name),
    )
    .unwrap();
    // Churn on an image of its own: each churn tag moves its image's LastTagTime.
    let mut cleanup = Cleanup::default();
    cleanup.images.push(format!("{repo}:latest"));
    let churned = import_busybox(
        &mut cleanup,
        &format!("{}-churned:1", scene.name),
        &["sh"],
        &[r#"CMD ["sh"]"#],
    );
    let churn = Churn::start(
        &churned,
        &format!("{}-churn", scene.name),
        100,
        Duration::from_secs(120),
    );
    let make = format!("make .dockerfs/containers/{container}");
    let make_q = format!("make -q .dockerfs/containers/{container}");
    // The first run builds the image and creates the container; then nothing is left to do.
    let (ran, output) = shell(&make, project);
    assert!(ran, "first make: {output}");
    assert!(output.contains("docker build"), "{output}");
    assert!(shell(&make_q, project).0, "make -q after the first run");
    for round in 0..10 {
        // The image moves (a tag moves LastTagTime): the container is out of date.
        docker(&["tag", &scene.image, &format!("{repo}:latest")]);
        vfs_wait(&scene.mountpoint);
        let (ran, output) = shell(&make, project);
        assert!(ran, "round {round}, first make: {output}");
        assert!(output.contains("docker create"), "round {round}: {output}");
        let (ran, output) = shell(&make, project);
        assert!(ran, "round {round}, second make: {output}");
        assert!(
            !output.contains("docker create"),
            "round {round}: the second make re-created the container: {output}"
        );
        assert!(shell(&make_q, project).0, "round {round}: make -q");
    }
    drop(churn);

    // Without the mount, the order-only prerequisite fails the run before any recipe.
    mount.stop_with(libc::SIGTERM);
    assert!(!project.join(".dockerfs/.vfs").exists());
    let (ran, output) = shell(&make, project);
    assert!(!ran, "make without the mount succeeded: {output}");
    assert!(
        output.contains("No rule to make target '.dockerfs/.vfs'"),
        "{output}"
    );
    assert!(!output.contains("docker build"), "a recipe ran: {output}");
}
