//! Every Makefile recipe the docs show for compose services (README.md's, and those of
//! docs/gitconfig.md, copied from the pages themselves) run as a user would: a real compose
//! project on the real engine, a real git repository, GNU make, DockerFS and GitConfigFS mounted
//! inside the repository. Walked through the cases of issue 10, with an unmount and a remount
//! between every step: after the first build `make -q` answers 0 until a section's meaning
//! changes, and then only that service is rebuilt.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    docker_available, fuse_available, git, import_busybox, in_ci, init_repo, recipe, unique,
    Cleanup, EngineLock, RecipeShell,
};
use vfs_testkit::mounts::unmount_lazily;

const T1: i64 = 1_600_000_000;

const COMPOSE: &str = "\
x-defaults: &defaults
  image: IMAGE
  stop_signal: SIGKILL

services:
  web:
    <<: *defaults
    command: [\"sleep\", \"3600\"]
    environment:
      ROLE: web
  db:
    <<: *defaults
    command: [\"sleep\", \"3601\"]
";

/// A compose project in a git repository named `project`, with both mounts inside it.
struct Scene {
    work: tempfile::TempDir,
    project: String,
    image: String,
    /// The images and containers the test made; removed after the scene's own teardown.
    cleanup: Cleanup,
    /// Where make and vfs run: the repository.
    shell: RecipeShell,
}

impl Drop for Scene {
    fn drop(&mut self) {
        for mountpoint in [self.shell.cfgfs(), self.shell.dockerfs()] {
            unmount_lazily(&mountpoint);
        }
        let quiet = |program: &str, args: &[&str], dir: &Path| {
            let _ = Command::new(program)
                .args(args)
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        let repo = self.repo();
        quiet(
            "docker-compose",
            &["-p", &self.project, "down", "-t", "0"],
            &repo,
        );
    }
}

impl Scene {
    fn new(makefile: &str) -> Scene {
        let project = unique("shop", "");
        let image = format!("vfs-recipes/{}:latest", unique("busybox", ""));
        let work = tempfile::tempdir().unwrap();
        let shell = RecipeShell {
            dir: work.path().join(&project),
            state: work.path().join("state"),
            env: Vec::new(),
        };
        let mut scene = Scene {
            work,
            project,
            image,
            cleanup: Cleanup::default(),
            shell,
        };
        let repo = scene.repo();
        std::fs::create_dir(&repo).unwrap();
        import_busybox(&mut scene.cleanup, &scene.image, &["sh", "sleep"], &[]);
        std::fs::write(
            repo.join("docker-compose.yml"),
            COMPOSE.replace("IMAGE", &scene.image),
        )
        .unwrap();
        // README's rule names its project `shop`: this one's own name keeps runs apart.
        std::fs::write(
            repo.join("Makefile"),
            makefile
                .replace("/shop/", &format!("/{}/", scene.project))
                .replace("-p shop", &format!("-p {}", scene.project)),
        )
        .unwrap();
        std::fs::write(repo.join(".gitignore"), ".dockerfs/\n.cfgfs/\nout/\n").unwrap();
        init_repo(&repo);
        git(&repo, &["add", "-A"], None);
        git(&repo, &["commit", "-q", "-m", "compose"], Some(T1));
        scene
    }

    fn repo(&self) -> PathBuf {
        self.shell.dir.clone()
    }

    /// Runs `make TARGETS…`; returns the services whose recipe ran.
    fn make(&self, targets: &[&str], step: &str) -> BTreeSet<String> {
        self.shell
            .make(targets, step)
            .lines()
            .filter(|line| line.contains("docker-compose") && line.contains("--no-deps"))
            .filter_map(|line| {
                let after = line.split("--no-deps ").nth(1)?;
                Some(after.split_whitespace().next()?.to_string())
            })
            .collect()
    }

    fn edit(&self, from: &str, to: &str) {
        std::thread::sleep(Duration::from_millis(20));
        let path = self.repo().join("docker-compose.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text.replacen(from, to, 1);
        assert_ne!(text, edited, "{from:?} is not in the compose file");
        std::fs::write(&path, edited).unwrap();
    }

    /// Commits everything at the current time, a second after whatever was built (commit times
    /// are whole seconds): blame alone would then call the committed lines newer than the build.
    fn commit_now(&self, message: &str) {
        std::thread::sleep(Duration::from_millis(1100));
        self.git(&["commit", "-q", "-am", message], None);
    }

    fn git(&self, args: &[&str], date: Option<i64>) {
        git(&self.repo(), args, date);
    }
}

fn ready() -> bool {
    if !fuse_available() || !docker_available() {
        return false;
    }
    let compose = Command::new("docker-compose")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(compose || !in_ci(), "CI=true but docker-compose is missing");
    if !compose {
        eprintln!("skipped: docker-compose is missing");
    }
    compose
}

fn set(services: &[&str]) -> BTreeSet<String> {
    services.iter().map(|service| service.to_string()).collect()
}

/// A step of the walk-through: what it does to the repository.
type Step = Box<dyn Fn(&Scene)>;

/// The walk-through of issue 10 for a Makefile whose `targets` build `services`.
fn walk_through(makefile: &str, targets: &[&str], services: &[&str]) {
    let scene = Scene::new(makefile);
    let targets: Vec<String> = targets
        .iter()
        .map(|target| target.replace("shop", &scene.project))
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let only = |wanted: &[&str]| -> BTreeSet<String> {
        wanted
            .iter()
            .filter(|service| services.contains(service))
            .map(|service| service.to_string())
            .collect()
    };
    // A missing mount fails loudly instead of running recipes: with no mount at all, and with
    // GitConfigFS alone where the target is DockerFS's.
    let (code, output) = scene.shell.run("make", &targets);
    assert_ne!(code, 0, "make without the mounts must fail:\n{output}");
    assert!(
        !output.contains("--no-deps"),
        "no recipe may run:\n{output}"
    );
    if makefile.contains(".dockerfs/.vfs") {
        scene.shell.mount_gitconfig();
        let (code, output) = scene.shell.run("make", &targets);
        assert_ne!(code, 0, "make without DockerFS must fail:\n{output}");
        // An explicit rule names the marker; a pattern rule without it does not apply, and make
        // says it has no rule for the target.
        let said = output.contains(".dockerfs/.vfs") || output.contains("No rule to make target");
        assert!(said, "{output}");
        assert!(
            !output.contains("--no-deps"),
            "no recipe may run:\n{output}"
        );
        scene.shell.unmount();
    }

    scene.shell.mount();
    assert_eq!(scene.make(&targets, "build"), set(services), "first build");
    assert_eq!(
        scene.shell.question(&targets),
        0,
        "settled after the first build"
    );
    scene.shell.unmount();

    // Steps after which nothing is rebuilt, each followed by an unmount and a remount.
    let quiet_steps: Vec<(&str, Step)> = vec![
        (
            "commit the edit that was built",
            Box::new(|scene| scene.commit_now("frontend")),
        ),
        (
            "a comment-only edit inside web",
            Box::new(|scene| {
                scene.edit(
                    "    environment:\n",
                    "    # what the service is for\n    environment:\n",
                )
            }),
        ),
        (
            "a formatting-only edit inside web",
            Box::new(|scene| {
                scene.edit("      ROLE: frontend", "      \"ROLE\": 'frontend'");
                scene.edit("[\"sleep\", \"3600\"]", "\n      - sleep\n      - \"3600\"");
            }),
        ),
        (
            "git stash, then git stash pop",
            Box::new(|scene| {
                scene.git(&["stash", "-q"], None);
                scene.git(&["stash", "pop", "-q"], None);
            }),
        ),
        (
            "commit the formatting",
            Box::new(|scene| scene.commit_now("format")),
        ),
        (
            "a checkout of the first commit and back",
            Box::new(|scene| {
                scene.git(&["checkout", "-q", "HEAD~2"], None);
                scene.git(&["checkout", "-q", "main"], None);
            }),
        ),
        (
            "a rebase that rewords every commit",
            Box::new(|scene| {
                let output = scene
                    .shell
                    .command("git", &["rebase", "-q", "-i", "--root"])
                    .env("GIT_SEQUENCE_EDITOR", "sed -i s/^pick/reword/")
                    .env("GIT_EDITOR", "sed -i 1s/^/reworded:\\ /")
                    .output()
                    .unwrap();
                assert!(output.status.success(), "{output:?}");
            }),
        ),
    ];

    // An edit of web's meaning rebuilds web alone.
    scene.edit("ROLE: web", "ROLE: frontend");
    scene.shell.mount();
    assert_eq!(
        scene.make(&targets, "edit web"),
        only(&["web"]),
        "edit of web"
    );
    assert_eq!(
        scene.shell.question(&targets),
        0,
        "settled after editing web"
    );
    scene.shell.unmount();

    for (what, step) in &quiet_steps {
        step(&scene);
        scene.shell.mount();
        let question = scene.shell.question(&targets);
        if question != 0 {
            let rebuilt = scene.make(&targets, what);
            panic!("{what}: make -q answered {question}; make rebuilt {rebuilt:?}");
        }
        scene.shell.unmount();
    }

    // An edit of another service rebuilds that one only.
    scene.edit("\"3601\"", "\"3602\"");
    scene.shell.mount();
    assert_eq!(scene.make(&targets, "edit db"), only(&["db"]), "edit of db");
    assert_eq!(
        scene.shell.question(&targets),
        0,
        "settled after editing db"
    );
    scene.shell.unmount();

    // A change of web's meaning made in another clone, committed long ago, pulled while nothing
    // was mounted: rebuilt.
    scene.git(&["commit", "-q", "-am", "db"], Some(T1 + 300));
    let other = scene.work.path().join("other");
    let repo = scene.repo();
    git(
        scene.work.path(),
        &[
            "clone",
            "-q",
            repo.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
        None,
    );
    let compose = other.join("docker-compose.yml");
    let text = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(&compose, text.replacen("'frontend'", "'api'", 1)).unwrap();
    git(
        &other,
        &[
            "-c",
            "user.name=O",
            "-c",
            "user.email=o@e",
            "commit",
            "-q",
            "-am",
            "api",
        ],
        Some(T1 + 400),
    );
    std::thread::sleep(Duration::from_millis(20));
    scene.git(
        &["pull", "-q", "--ff-only", other.to_str().unwrap(), "main"],
        None,
    );
    scene.shell.mount();
    assert_eq!(
        scene.make(&targets, "pull"),
        only(&["web"]),
        "a pulled change of web"
    );
    assert_eq!(scene.shell.question(&targets), 0, "settled after the pull");
    scene.shell.unmount();
}

#[test]
fn the_compose_containers_recipe_settles() {
    let _lock = EngineLock::shared();
    if !ready() {
        return;
    }
    walk_through(
        &recipe("docs/gitconfig.md", Some("compose-containers")),
        &[],
        &["web", "db"],
    );
}

#[test]
fn the_compose_stamps_recipe_settles() {
    let _lock = EngineLock::shared();
    if !ready() {
        return;
    }
    walk_through(
        &recipe("docs/gitconfig.md", Some("compose-stamps")),
        &[],
        &["web", "db"],
    );
}

#[test]
fn the_readme_compose_rule_settles() {
    let _lock = EngineLock::shared();
    if !ready() {
        return;
    }
    walk_through(
        &recipe("README.md", None),
        &[".dockerfs/compose/shop/web"],
        &["web"],
    );
}

#[test]
fn the_introductory_stamp_rule_settles() {
    let _lock = EngineLock::shared();
    if !ready() {
        return;
    }
    walk_through(
        &recipe("docs/gitconfig.md", Some("intro")),
        &["out/web.stamp"],
        &["web"],
    );
}

#[test]
fn the_compose_sections_example_docker_rule_settles() {
    let _lock = EngineLock::shared();
    if !ready() {
        return;
    }
    // The example's own Makefile, with its compose file and project named for this layout.
    let makefile = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose-sections/Makefile"),
    )
    .unwrap();
    walk_through(
        &makefile,
        &[
            "up",
            "NAMES=web db",
            "COMPOSE=docker-compose.yml",
            "PROJECT=shop",
        ],
        &["web", "db"],
    );
}

/// docs/docker.md's block: an image from a Dockerfile, a container and a compose service from
/// it. Built, settled, then a source change rebuilds all three once, and it settles again.
#[test]
fn the_docker_md_recipes_settle() {
    let _lock = EngineLock::shared();
    if !ready() {
        return;
    }
    let mut scene = Scene::new("");
    let repo = scene.repo();
    let app = format!("vfs-recipes/{}", unique("app", ""));
    let container = unique("app", "");
    scene.cleanup.containers.push(container.clone());
    scene.cleanup.images.push(format!("{app}:latest"));
    let makefile = recipe("docs/docker.md", Some("docker"))
        .replace("myorg/app", &app)
        .replace("--name app", &format!("--name {container}"))
        .replace("rm -f app", &format!("rm -f {container}"))
        .replace("containers/app", &format!("containers/{container}"))
        .replace("shop", &scene.project);
    std::fs::write(repo.join("Makefile"), makefile).unwrap();
    std::fs::write(
        repo.join("Dockerfile"),
        format!(
            "FROM {}\nCOPY src /src\nCMD [\"sleep\", \"3600\"]\n",
            scene.image
        ),
    )
    .unwrap();
    std::fs::write(repo.join(".dockerignore"), ".dockerfs\n.cfgfs\n").unwrap();
    std::fs::create_dir(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/message.txt"), "one\n").unwrap();
    let compose = COMPOSE.replace("IMAGE", &format!("{app}:latest"));
    std::fs::write(repo.join("docker-compose.yml"), compose).unwrap();
    let targets = [
        format!(".dockerfs/containers/{container}"),
        format!(".dockerfs/compose/{}/web", scene.project),
    ];
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let make = |what: &str| scene.shell.make(&targets, what);
    scene.shell.vfs(&["mount", "-d", "docker", ".dockerfs"]);
    let first = make("first build");
    for step in ["docker build", "docker create", "--force-recreate"] {
        assert!(first.contains(step), "first build ran no {step}:\n{first}");
    }
    assert_eq!(
        scene.shell.question(&targets),
        0,
        "settled after the first build"
    );
    let again = make("make again");
    assert!(
        !["docker build", "docker create", "docker-compose"]
            .iter()
            .any(|recipe| again.contains(recipe)),
        "the second make ran a recipe:\n{again}"
    );
    // A source change: the image, then the container and the service, once.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(repo.join("src/message.txt"), "two\n").unwrap();
    let rebuilt = make("after a source change");
    for step in ["docker build", "docker create", "--force-recreate"] {
        assert!(
            rebuilt.contains(step),
            "the change ran no {step}:\n{rebuilt}"
        );
    }
    assert_eq!(
        scene.shell.question(&targets),
        0,
        "settled after the change"
    );
    scene.shell.unmount();
}

/// README.md's image rule: built, settled, rebuilt after a source change, and settled after a
/// fully cached rebuild (a touch without a change) too.
#[test]
fn the_readme_image_rule_settles() {
    let _lock = EngineLock::shared();
    if !ready() {
        return;
    }
    let mut scene = Scene::new("");
    let repo = scene.repo();
    let app = format!("vfs-recipes/{}", unique("readme", ""));
    scene.cleanup.images.push(format!("{app}:latest"));
    let makefile = recipe("README.md", None)
        .replace("images/app/latest", &format!("images/{app}/latest"))
        .replace("-t app ", &format!("-t {app} "));
    std::fs::write(repo.join("Makefile"), makefile).unwrap();
    std::fs::write(
        repo.join("Dockerfile"),
        format!("FROM {}\nCOPY src /src\n", scene.image),
    )
    .unwrap();
    std::fs::write(repo.join(".dockerignore"), ".dockerfs\n.cfgfs\n").unwrap();
    std::fs::create_dir(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/message.txt"), "one\n").unwrap();
    let target = format!(".dockerfs/images/{app}/latest");
    let builds = |what: &str| {
        let output = scene.shell.make(&[&target], what);
        output.matches("docker build").count()
    };
    scene.shell.vfs(&["mount", "-d", "docker", ".dockerfs"]);
    assert_eq!(builds("first build"), 1);
    assert_eq!(
        scene.shell.question(&[&target]),
        0,
        "settled after the first build"
    );
    assert_eq!(builds("make again"), 0);
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(repo.join("src/message.txt"), "two\n").unwrap();
    assert_eq!(builds("after a source change"), 1);
    assert_eq!(
        scene.shell.question(&[&target]),
        0,
        "settled after the change"
    );
    // A touch without a change: the build is all cached, and still counts.
    std::thread::sleep(Duration::from_millis(1100));
    let touched = Command::new("touch")
        .arg(repo.join("src/message.txt"))
        .status()
        .unwrap();
    assert!(touched.success());
    assert_eq!(builds("after a touch"), 1);
    assert_eq!(
        scene.shell.question(&[&target]),
        0,
        "settled after a cached build"
    );
    scene.shell.unmount();
}
