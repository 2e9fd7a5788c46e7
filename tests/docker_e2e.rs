//! DockerFS end to end: `vfs mount docker` through the kernel, read by ls, cat, jq, python, cp,
//! wc and stat, and GNU make driving real `docker build`s through the mount.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    assert_folders_were_listed, assert_the_walk_after_a_cold_one_is_free, assert_walk_is_free,
    docker_available, fuse_available, fuse_requests, import_busybox, request_kinds, run, unique,
    wait_until, Cleanup, EngineLock, VfsMount,
};
use vfs_testkit::docker::docker;

fn inspect_time(kind: &str, id: &str, field: &str) -> SystemTime {
    let text = docker(&[kind, "inspect", "--format", &format!("{{{{{field}}}}}"), id]);
    // Go's time format: 2026-11-27 21:23:13.471935743 +0000 UTC
    let text = text.trim();
    let json = docker(&[kind, "inspect", id]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let pointer = format!("/0/{}", field.trim_start_matches('.').replace('.', "/"));
    let rfc = value
        .pointer(&pointer)
        .and_then(|value| value.as_str())
        .unwrap_or_else(|| panic!("{pointer} missing ({text})"));
    vfs_docker::parse_rfc3339(rfc).unwrap_or_else(|| panic!("{rfc} is not a time"))
}

fn mtime(metadata: &std::fs::Metadata) -> SystemTime {
    UNIX_EPOCH + Duration::new(metadata.mtime() as u64, metadata.mtime_nsec() as u32)
}

fn shell(script: &str, dir: &Path) -> (bool, String) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
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

#[test]
fn the_mount_shows_the_engine_to_ls_cat_jq_python_cp_wc_and_stat() {
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let name = unique("vfse", "see");
    let base_ref = format!("{name}/team/base:1");
    let base_id = import_busybox(&mut cleanup, &base_ref, &["sh", "cat", "true"], &[]);
    let container = format!("{name}-box");
    let container_id = docker(&[
        "create", "-e", "SECRET=x", "--name", &container, &base_ref, "true",
    ])
    .trim()
    .to_string();
    cleanup.containers.push(container_id.clone());
    let volume = format!("{name}-vol");
    docker(&["volume", "create", &volume]);
    cleanup.volumes.push(volume.clone());

    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // The original order, MOUNTPOINT SOURCE.
    let mount = VfsMount::start(
        &[
            "mount",
            "docker",
            mnt.to_str().unwrap(),
            "unix:///var/run/docker.sock",
        ],
        &mnt,
    );
    let at = |relative: &str| mount.path().join(relative);

    // ls hides the ids, ls -a shows them.
    let ls = run("ls", &[at("containers").to_str().unwrap()], None);
    assert!(ls.lines().any(|line| line == container), "{ls}");
    assert!(!ls.contains(&container_id), "{ls}");
    let ls_all = run("ls", &["-a", at("containers").to_str().unwrap()], None);
    assert!(
        ls_all
            .lines()
            .any(|line| line == format!(".{container_id}")),
        "{ls_all}"
    );
    assert_eq!(
        run("ls", &[at("").to_str().unwrap()], None)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["compose", "containers", "images", "networks", "volumes"]
    );

    // Symlinks as the issue lays them out.
    assert_eq!(
        std::fs::read_link(at(&format!("images/{base_ref}"))).unwrap(),
        Path::new(&format!("../../.{base_id}"))
    );
    assert_eq!(
        std::fs::read_link(at(&format!("images/{name}/team/base/1"))).unwrap(),
        Path::new(&format!("../../../.{base_id}"))
    );
    assert_eq!(
        run(
            "readlink",
            &[at(&format!("containers/{container}")).to_str().unwrap()],
            None
        )
        .trim(),
        format!(".{container_id}")
    );

    // Whole JSON for every reader, equal to the docker CLI's.
    let expected = docker(&["container", "inspect", &container_id]);
    let link = at(&format!("containers/{container}"));
    let link_text = link.to_str().unwrap();
    assert_eq!(run("cat", &[link_text], None), expected);
    assert_eq!(
        run("wc", &["-c", link_text], None)
            .split_whitespace()
            .next()
            .unwrap(),
        expected.len().to_string()
    );
    assert_eq!(
        run("jq", &["-r", ".[0].Id", link_text], None).trim(),
        container_id
    );
    let python = run(
        "python3",
        &[
            "-c",
            "import json,sys; d=open(sys.argv[1]).read(); print(len(d), json.loads(d)[0]['Name'])",
            link_text,
        ],
        None,
    );
    assert_eq!(python.trim(), format!("{} /{container}", expected.len()));
    let copy = dir.path().join("copy.json");
    run("cp", &[link_text, copy.to_str().unwrap()], None);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), expected);
    assert_eq!(
        std::fs::read_to_string(at(&format!("volumes/{volume}"))).unwrap(),
        docker(&["volume", "inspect", &volume])
    );

    // Times and permissions through stat.
    let file = std::fs::metadata(&link).unwrap();
    assert_eq!(file.permissions().mode() & 0o777, 0o400);
    assert_eq!(
        mtime(&file),
        inspect_time("container", &container_id, ".Created")
    );
    let image = std::fs::metadata(at(&format!("images/.{base_id}"))).unwrap();
    let tagged = inspect_time("image", &base_id, ".Metadata.LastTagTime");
    let created = inspect_time("image", &base_id, ".Created");
    assert_eq!(mtime(&image), tagged.max(created));
    let tag_link = std::fs::symlink_metadata(at(&format!("images/{base_ref}"))).unwrap();
    assert_eq!(mtime(&tag_link), tagged);
    assert_eq!(
        mtime(&std::fs::metadata(at(&format!("volumes/{volume}"))).unwrap()),
        inspect_time("volume", &volume, ".CreatedAt")
    );
    let folder = std::fs::metadata(at("images")).unwrap();
    assert_eq!(folder.permissions().mode() & 0o777, 0o555);

    // A new tag through the kernel within a second; gone after rmi.
    let fresh = format!("{name}/fresh:2");
    cleanup.images.push(fresh.clone());
    let listing = at(&format!("images/{name}"));
    let _ = std::fs::read_dir(&listing).map(|entries| entries.count());
    docker(&["tag", &base_ref, &fresh]);
    let waited = wait_until(Duration::from_secs(1), "new tag through the mount", || {
        at(&format!("images/{fresh}")).exists() && at(&format!("images/{name}/fresh/2")).exists()
    });
    eprintln!("new tag visible through the mount {waited:?} after `docker tag` returned");
    docker(&["rmi", &fresh]);
    let waited = wait_until(Duration::from_secs(1), "tag gone through the mount", || {
        !at(&format!("images/{fresh}")).exists()
    });
    eprintln!("removed tag gone from the mount {waited:?} after `docker rmi` returned");
}

#[test]
fn an_unreachable_engine_is_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let source = format!("tcp://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = Command::new(common::vfs_binary())
        .args(["mount", "docker", &source, mnt.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&source), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!common::is_mounted(&mnt));
}

#[test]
fn a_warm_make_asks_no_name_time_or_link_long_after_the_short_default_ttl() {
    // Alone on the engine: another test's image would (rightly) invalidate `images/`.
    let _lock = common::EngineLock::exclusive();
    if !fuse_available() || !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let name = unique("vfse", "warm");
    import_busybox(
        &mut cleanup,
        &format!("{name}/base:1"),
        &["sh", "cat", "true"],
        &[],
    );
    let other = format!("{name}/other");
    import_busybox(
        &mut cleanup,
        &format!("{other}:1"),
        &["sh", "cat", "true"],
        &[],
    );
    let project = tempfile::tempdir().unwrap();
    let mnt = project.path().join(".dockerfs");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(
        project.path().join("Makefile"),
        format!(
            "all: out/image out/repository\n\
             out/image: .dockerfs/images/{name}/base/1 ; mkdir -p out && touch $@\n\
             out/repository: .dockerfs/images/{name}/base ; mkdir -p out && touch $@\n"
        ),
    )
    .unwrap();
    let log = project.path().join("vfs.log");
    let mnt_arg = mnt.to_str().unwrap();
    let _mount = VfsMount::start_command(
        common::vfs_command_logged(&["--debug-fuse", "mount", "docker", mnt_arg], &log),
        &mnt,
    );
    let (built, output) = shell("make", project.path());
    assert!(built, "first make: {output}");
    // The mount's barrier: DockerFS settles once the background inspects are done. Until then
    // a folder over images shows the image list's time, and the inspects' notices (rightly)
    // have the kernel ask the root's and `images/`'s attributes again in the measured make.
    std::fs::read(mnt.join(".vfs")).unwrap();
    // Two nothing-to-do runs: the second picks up the directory attributes the host refreshes
    // once a directory has been listed.
    for _ in 0..2 {
        assert!(shell("make -q", project.path()).0, "nothing to do");
    }
    // Three times the 500 ms a provider without complete notices gets.
    std::thread::sleep(Duration::from_millis(1500));
    let before = std::fs::read_to_string(&log).unwrap().len();
    assert!(shell("make -q", project.path()).0, "still nothing to do");
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(&log).unwrap();
    // make opens the folder of every prerequisite (its directory cache), and the kernel asks
    // the filesystem for every opendir; the listing itself comes from the kernel's cache.
    // Nothing else may reach the mount: no lookup, no attributes, no link, no listing.
    let opens_folders = |line: &&str| line.contains(" OPENDIR ") || line.contains(" RELEASEDIR ");
    let asked: Vec<&str> = fuse_requests(&text[before..])
        .into_iter()
        .filter(|line| !opens_folders(line))
        .collect();
    assert!(
        asked.is_empty(),
        "a warm make made {} FUSE requests besides opendir: {asked:#?}",
        asked.len()
    );
    assert!(
        !fuse_requests(&text[..before]).is_empty(),
        "the log shows FUSE requests at all (else this test proves nothing)"
    );

    // Another image tagged: the folders holding it are newer, but what the kernel knows of the
    // names make depends on stays (the provider tells of those folders alone): the next run
    // looks up no name again.
    tag_and_see(&mut cleanup, &mnt, &other);
    std::thread::sleep(Duration::from_millis(200));
    let before = std::fs::read_to_string(&log).unwrap().len();
    assert!(
        shell("make -q", project.path()).0,
        "the other image's tag changes nothing make depends on"
    );
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(&log).unwrap();
    // make's probes for RCS/ and SCCS/ are missing names, and a folder whose names changed
    // must have its missing names asked for again (one may have appeared); a name that is there
    // must not.
    let probes = |line: &&str| line.contains(r#"name "RCS""#) || line.contains(r#"name "SCCS""#);
    let looked_up: Vec<&str> = fuse_requests(&text[before..])
        .into_iter()
        .filter(|line| line.contains(" LOOKUP ") && !probes(line))
        .collect();
    assert!(
        looked_up.is_empty(),
        "names looked up again after an unrelated tag: {looked_up:#?}"
    );

    // The long TTL does not hide a change: the engine's event invalidates at once.
    tag_and_see(&mut cleanup, &mnt, &format!("{name}/base"));
}

/// The scene of the request-count tests (issue 17): an image `NAME/base:1`, tagged again as
/// `NAME/OTHER:1` for each of `others`, a project folder with `.dockerfs` to mount on and a
/// Makefile whose targets (`out/image`, `out/OTHER`…, `out/repository`, `out/images`) depend on
/// the tags, a repository folder and `images/`. `None` where FUSE or Docker is missing.
struct WalkScene {
    _cleanup: Cleanup,
    project: tempfile::TempDir,
    mnt: PathBuf,
}

impl WalkScene {
    fn new(stem: &str, others: &[&str]) -> Option<WalkScene> {
        if !fuse_available() || !docker_available() {
            return None;
        }
        let mut cleanup = Cleanup::default();
        let name = unique("vfse", stem);
        import_busybox(&mut cleanup, &format!("{name}/base:1"), &["sh"], &[]);
        let mut targets = vec!["out/image".to_string()];
        let mut rules =
            format!("out/image: .dockerfs/images/{name}/base/1 ; mkdir -p out && touch $@\n");
        for other in others {
            docker(&[
                "tag",
                &format!("{name}/base:1"),
                &format!("{name}/{other}:1"),
            ]);
            cleanup.images.push(format!("{name}/{other}:1"));
            targets.push(format!("out/{other}"));
            rules += &format!(
                "out/{other}: .dockerfs/images/{name}/{other}/1 ; mkdir -p out && touch $@\n"
            );
        }
        let project = tempfile::tempdir().unwrap();
        let mnt = project.path().join(".dockerfs");
        std::fs::create_dir(&mnt).unwrap();
        std::fs::write(
            project.path().join("Makefile"),
            format!(
                "all: {} out/repository out/images\n\
                 {rules}\
                 out/repository: .dockerfs/images/{name}/base ; mkdir -p out && touch $@\n\
                 out/images: .dockerfs/images ; mkdir -p out && touch $@\n",
                targets.join(" ")
            ),
        )
        .unwrap();
        Some(WalkScene {
            _cleanup: cleanup,
            project,
            mnt,
        })
    }

    /// The three walks counted, each with what to call it: `make -q`, a `find` printing times
    /// and an `ls -lR` of the mount.
    fn walks(&self) -> [(&'static str, String); 3] {
        let mnt = self.mnt.to_str().unwrap();
        [
            ("make -q", "make -q".to_string()),
            ("find", format!("find {mnt} -printf '%T@ %p\\n' >/dev/null")),
            ("ls -lR", format!("ls -lR {mnt} >/dev/null")),
        ]
    }
}

#[test]
fn a_warm_make_find_and_ls_lr_reach_the_mount_with_no_request() {
    // Alone on the engine: another test's objects would (rightly) invalidate what is cached.
    let _lock = common::EngineLock::exclusive();
    let Some(scene) = WalkScene::new("zero", &[]) else {
        return;
    };
    let (project, mnt) = (&scene.project, &scene.mnt);
    let log = project.path().join("vfs.log");
    let mnt_arg = mnt.to_str().unwrap();
    let _mount = VfsMount::start_command(
        common::vfs_command_logged(&["--debug-fuse", "mount", "docker", mnt_arg], &log),
        mnt,
    );
    assert!(shell("make", project.path()).0, "first make");
    let walks = scene.walks();
    // Cold; then the mount's barrier (every engine event so far applied: the image's own
    // import may still be announced), and once more: the kernel then holds every name,
    // attribute, link and listing.
    for round in 0..2 {
        for (what, script) in &walks {
            assert!(shell(script, project.path()).0, "{what}");
        }
        if round == 0 {
            std::fs::read(mnt.join(".vfs")).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    for (what, script) in &walks {
        assert_walk_is_free(&log, "warm", what, || {
            assert!(shell(script, project.path()).0, "{what}")
        });
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let all = fuse_requests(&text);
    let kinds = request_kinds(&all);
    assert_folders_were_listed(&kinds, "the log shows the cold walks' requests");
    assert!(
        kinds.iter().filter(|kind| **kind == "OPENDIR").count() <= 1,
        "OPENDIR is answered ENOSYS once, and the kernel sends no other: {kinds:?}"
    );
}

/// The walk right after a cold one (issue 17): listing a folder changes none of its attributes
/// (DockerFS's folders count no link), so nothing the cold walk read is forgotten after it. A
/// refresh of the folder's attributes left to the notices thread once it was listed landed after
/// the cold walk, and the next `make -q` asked again for the attributes of every folder it had
/// listed.
#[test]
fn the_walk_right_after_a_cold_one_reaches_the_mount_with_no_request() {
    // Alone on the engine: another test's objects would (rightly) invalidate what is cached.
    let _lock = common::EngineLock::exclusive();
    let Some(scene) = WalkScene::new("second", &["other"]) else {
        return;
    };
    let (project, mnt) = (&scene.project, &scene.mnt);
    let mnt_arg = mnt.to_str().unwrap();
    std::fs::create_dir(project.path().join("out")).unwrap();
    let walks = scene.walks();
    for (index, (what, script)) in walks.iter().enumerate() {
        let log = project.path().join(format!("vfs-{index}.log"));
        let mount = VfsMount::start_command(
            common::vfs_command_logged(&["--debug-fuse", "mount", "docker", mnt_arg], &log),
            mnt,
        );
        // The barrier first (every engine event so far applied, the inspects done), then the
        // cold walk on a kernel that holds nothing of the mount.
        std::fs::read(mnt.join(".vfs")).unwrap();
        // Every target newer than what it depends on: `make -q` has nothing to do.
        for target in ["image", "other", "repository", "images"] {
            std::fs::write(project.path().join("out").join(target), "").unwrap();
        }
        // DockerFS's folders count no link, so listing one changes none of its attributes:
        // even an empty folder, in which nothing is looked up after its listing, is not asked
        // for again once a refresh left to the notices thread has landed.
        assert_the_walk_after_a_cold_one_is_free(&log, what, |label| {
            assert!(shell(script, project.path()).0, "{label}")
        });
        drop(mount);
    }
}

/// Tags `repository:1` as `repository:2` and waits until the mount at `mnt` shows it (within the
/// second issue 3 allows, whatever the TTL).
fn tag_and_see(cleanup: &mut Cleanup, mnt: &Path, repository: &str) {
    docker(&[
        "tag",
        &format!("{repository}:1"),
        &format!("{repository}:2"),
    ]);
    cleanup.images.push(format!("{repository}:2"));
    let tag = mnt.join(format!("images/{repository}/2"));
    wait_until(Duration::from_secs(1), "the new tag", || {
        tag.symlink_metadata().is_ok()
    });
}

#[test]
fn make_drives_docker_builds_through_the_mount() {
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let mut cleanup = Cleanup::default();
    let name = unique("vfse", "mk");
    let base_ref = format!("{name}/base:1");
    import_busybox(&mut cleanup, &base_ref, &["sh", "cat", "true"], &[]);
    let app = format!("{name}/app");
    cleanup.images.push(format!("{app}:latest"));

    let project = tempfile::tempdir().unwrap();
    let mnt = project.path().join(".dockerfs");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(project.path().join(".dockerignore"), ".dockerfs\n").unwrap();
    std::fs::write(
        project.path().join("Dockerfile"),
        format!("FROM {base_ref}\nCOPY src.txt /src.txt\n"),
    )
    .unwrap();
    std::fs::write(project.path().join("src.txt"), "one\n").unwrap();
    std::fs::write(
        project.path().join("Makefile"),
        format!(
            "IMAGE := .dockerfs/images/{app}/latest\n\
             $(IMAGE): Dockerfile src.txt\n\
             \tdocker build -q -t {app}:latest .\n"
        ),
    )
    .unwrap();
    let _mount = VfsMount::start(&["mount", "docker", mnt.to_str().unwrap()], &mnt);
    let make = |what: &str| {
        let (ok, output) = shell("make", project.path());
        assert!(ok, "{what}: {output}");
        output
    };
    let up_to_date = || shell("make -q", project.path()).0;

    let first = make("first run");
    assert!(first.contains("docker build"), "first run builds: {first}");
    let first_id = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{app}:latest"),
    ]);
    cleanup.images.push(first_id.trim().to_string());
    // The tag reaches the mount through the engine's events; a moment later make sees it.
    wait_until(
        Duration::from_secs(1),
        "make sees the first build",
        up_to_date,
    );
    let second = make("second run");
    assert!(
        !second.contains("docker build"),
        "second run must do nothing: {second}"
    );

    // touch: make rebuilds; the build is fully cached (same image id) yet moves LastTagTime.
    std::thread::sleep(Duration::from_millis(1100));
    run(
        "touch",
        &[project.path().join("src.txt").to_str().unwrap()],
        None,
    );
    assert!(!up_to_date());
    let third = make("after touch");
    assert!(third.contains("docker build"), "{third}");
    let cached_id = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{app}:latest"),
    ]);
    assert_eq!(cached_id, first_id, "the rebuild was fully cached");
    let waited = wait_until(
        Duration::from_secs(1),
        "make sees the cached rebuild",
        up_to_date,
    );
    eprintln!("cached rebuild counted by make {waited:?} after the build");
    let fourth = make("after the cached rebuild");
    assert!(
        !fourth.contains("docker build"),
        "make must stop rebuilding: {fourth}"
    );

    // A real change: a new image, then nothing to do.
    std::fs::write(project.path().join("src.txt"), "two\n").unwrap();
    let fifth = make("after a change");
    assert!(fifth.contains("docker build"), "{fifth}");
    let new_id = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{app}:latest"),
    ]);
    cleanup.images.push(new_id.trim().to_string());
    assert_ne!(new_id, first_id);
    wait_until(
        Duration::from_secs(1),
        "make sees the new build",
        up_to_date,
    );
    let sixth = make("after the new build");
    assert!(!sixth.contains("docker build"), "{sixth}");
}

#[test]
fn the_make_docker_example_runs_end_to_end() {
    let _lock = EngineLock::shared();
    if !fuse_available() || !docker_available() {
        return;
    }
    let name = unique("vfse", "ex");
    let work = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/make-docker");
    run(
        "cp",
        &[
            "-r",
            example.to_str().unwrap(),
            work.path().to_str().unwrap(),
        ],
        None,
    );
    let copy = work.path().join("make-docker");
    let _ = std::fs::remove_file(copy.join("app/message.txt"));
    let image = format!("{name}/app");
    let base = format!("{name}/base");
    let container = format!("{name}-app");
    let _cleanup = Cleanup {
        containers: vec![container.clone()],
        images: vec![format!("{base}:1"), format!("{image}:latest")],
        volumes: Vec::new(),
    };
    let output = Command::new("sh")
        .arg("./run.sh")
        .current_dir(&copy)
        .env("VFS", common::vfs_binary())
        .env("IMAGE", &image)
        .env("BASE", &base)
        .env("CONTAINER", &container)
        .output()
        .expect("run the example");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Dangling images left by the example's rebuilds carry its label.
    let dangling = docker(&[
        "images",
        "-q",
        "--filter",
        "label=vfs.example=make-docker",
        "--filter",
        "dangling=true",
    ]);
    for id in dangling.split_whitespace() {
        let _ = Command::new("docker").args(["rmi", "-f", id]).output();
    }
    assert!(output.status.success(), "{text}");
    assert!(
        !common::is_mounted(&copy.join(".dockerfs")),
        "run.sh must unmount"
    );
    let phases: Vec<&str> = text.split("== ").skip(1).collect();
    assert_eq!(phases.len(), 6, "{text}");
    let built = |phase: &str| phase.contains("Successfully tagged");
    let idle = |phase: &str| phase.contains("Nothing to be done") && !built(phase);
    assert!(built(phases[0]), "first run: {}", phases[0]);
    assert!(idle(phases[1]), "second run: {}", phases[1]);
    assert!(
        built(phases[2]) && !phases[2].contains("Using cache\n ---> Using"),
        "change: {}",
        phases[2]
    );
    assert!(idle(phases[3]), "after the rebuild: {}", phases[3]);
    assert!(
        built(phases[4]) && phases[4].contains("Using cache"),
        "touch: {}",
        phases[4]
    );
    assert!(idle(phases[5]), "after the cached rebuild: {}", phases[5]);
}
