//! DockerFS on a swarm manager, mounted through the `vfs` binary: a throwaway dockerd of the
//! test's own (so the machine's engine, which other tests use, never joins a swarm) made a
//! single-node swarm with `docker swarm init`. Services from a busybox image imported into it
//! (no registry), a stack deployed from a compose file, configs and secrets; and
//! docs/docker.md's stack recipe run end to end with GitConfigFS and GNU make.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{fuse_available, git, recipe, run, vfs_binary, RecipeShell, VfsMount};
use vfs_testkit::mounts::unmount_lazily;
use vfs_testkit::throwaway::{program_available, Throwaway};

const T1: i64 = 1_600_000_000;

/// A throwaway dockerd made a single-node swarm. Leaves the swarm before the engine stops, and
/// removes the network devices a swarm engine makes in the machine's network namespace
/// (its own bridge does not cover them): the `docker_gwbridge` bridge, overlay networks'
/// `vx-…` vxlan devices and `veth…` pairs, those that were not there before it started.
struct Swarm {
    engine: Option<Throwaway>,
    devices_before: Vec<String>,
}

/// The machine's network devices a swarm engine may leave behind.
fn swarm_devices() -> Vec<String> {
    listing(Path::new("/sys/class/net"))
        .into_iter()
        .filter(|name| {
            name == "docker_gwbridge" || name.starts_with("vx-") || name.starts_with("veth")
        })
        .collect()
}

impl Swarm {
    /// The engine holds the machine's engines alone (`EngineLock::exclusive`) while it lives,
    /// so no other engine makes or removes devices meanwhile.
    fn start() -> Swarm {
        let engine = Throwaway::dockerd(&[]);
        Swarm {
            devices_before: swarm_devices(),
            engine: Some(engine),
        }
    }

    fn engine(&self) -> &Throwaway {
        self.engine.as_ref().expect("the engine runs")
    }

    fn init(&self) {
        self.engine()
            .cli(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    }

    fn cli(&self, args: &[&str]) -> String {
        self.engine().cli(args)
    }

    fn host(&self) -> String {
        self.engine().host()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let _ = Command::new("docker")
                .args(["-H", &engine.host(), "swarm", "leave", "--force"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            for device in swarm_devices() {
                if !self.devices_before.contains(&device) {
                    let _ = Command::new("ip")
                        .args(["link", "delete", &device])
                        .stderr(Stdio::null())
                        .status();
                }
            }
            drop(engine);
        }
    }
}

/// `vfs wait MOUNT`: the mount shows every change the engine made before it.
fn vfs_wait(mount: &Path) {
    run(
        vfs_binary().to_str().unwrap(),
        &["wait", mount.to_str().unwrap()],
        None,
    );
}

fn mtime(path: &Path) -> SystemTime {
    let meta = std::fs::metadata(path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    SystemTime::UNIX_EPOCH + Duration::new(meta.mtime() as u64, meta.mtime_nsec() as u32)
}

/// `UpdatedAt` of a swarm object, to the nanosecond, as the CLI reports it.
fn updated_at(swarm: &Swarm, kind: &str, name: &str) -> SystemTime {
    let nanos: u64 = swarm
        .cli(&[kind, "inspect", "--format", "{{.UpdatedAt.UnixNano}}", name])
        .trim()
        .parse()
        .expect("nanoseconds");
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// Waits until `check` holds (the engine makes tasks on its own time, without an event of
/// their own), or panics with `what`.
fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn ready() -> bool {
    fuse_available() && program_available("dockerd") && program_available("make")
}

#[test]
fn swarm_objects_show_and_follow_the_engine() {
    if !ready() {
        return;
    }
    let swarm = Swarm::start();
    let scratch = tempfile::tempdir().unwrap();
    swarm.engine().import_busybox("swarm/busybox:1");
    let mnt = scratch.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let host = swarm.host();
    let mount = VfsMount::start(&["mount", "docker", &host, mnt.to_str().unwrap()], &mnt);
    let root = mount.path();

    // Not a swarm manager: no swarm folders.
    assert!(root.join("images/swarm/busybox/1").exists());
    for folder in ["services", "stacks", "tasks", "nodes", "configs", "secrets"] {
        assert!(!root.join(folder).exists(), "{folder} before swarm init");
    }

    // `swarm init` announces the node: the folders come, the node by its hostname.
    swarm.init();
    let hostname = swarm
        .cli(&[
            "node",
            "inspect",
            "self",
            "--format",
            "{{.Description.Hostname}}",
        ])
        .trim()
        .to_string();
    eventually(
        "nodes/<hostname> after swarm init",
        Duration::from_secs(5),
        || root.join("nodes").join(&hostname).exists(),
    );
    vfs_wait(root);
    let node = std::fs::read_to_string(root.join("nodes").join(&hostname)).unwrap();
    assert_eq!(node, swarm.cli(&["node", "inspect", "self"]));

    // A service: its file is `docker service inspect`, its time UpdatedAt.
    swarm.cli(&[
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        "web",
        "swarm/busybox:1",
        "sleep",
        "3600",
    ]);
    vfs_wait(root);
    let web = root.join("services/web");
    assert!(web.exists(), "services/web after vfs wait");
    assert_eq!(
        std::fs::read_to_string(&web).unwrap(),
        swarm.cli(&["service", "inspect", "web"])
    );
    let created = mtime(&web);
    assert_eq!(created, updated_at(&swarm, "service", "web"));

    // Its task, under the service, named as its container is.
    let tasks = root.join("services/web.tasks");
    eventually("a task of web", Duration::from_secs(30), || {
        listing(&tasks)
            .iter()
            .any(|name| name.starts_with("web.1."))
    });
    let task_name = listing(&tasks)
        .into_iter()
        .find(|name| name.starts_with("web.1."))
        .unwrap();
    let task_id = task_name.rsplit('.').next().unwrap().to_string();
    // The file is read when it is opened: once the task runs, it and the CLI agree.
    eventually("web's task running", Duration::from_secs(30), || {
        swarm
            .cli(&[
                "inspect",
                "--type",
                "task",
                "--format",
                "{{.Status.State}}",
                &task_id,
            ])
            .trim()
            == "running"
    });
    assert_eq!(
        std::fs::read_to_string(tasks.join(&task_name)).unwrap(),
        swarm.cli(&["inspect", "--type", "task", &task_id])
    );

    // `docker service update` moves the service's time.
    std::thread::sleep(Duration::from_millis(20));
    swarm.cli(&[
        "service",
        "update",
        "--detach",
        "--env-add",
        "ROLE=web",
        "web",
    ]);
    vfs_wait(root);
    let updated = mtime(&web);
    assert!(updated > created, "{updated:?} after {created:?}");
    assert_eq!(updated, updated_at(&swarm, "service", "web"));

    // A config shows its inspect (its data is its content, as `docker config inspect` shows);
    // a secret its metadata, never its data.
    let config_file = scratch.path().join("site.conf");
    std::fs::write(&config_file, "listen 80;\n").unwrap();
    swarm.cli(&[
        "config",
        "create",
        "site.conf",
        config_file.to_str().unwrap(),
    ]);
    let password = format!("hunter2-{}", std::process::id());
    let secret_file = scratch.path().join("password");
    std::fs::write(&secret_file, &password).unwrap();
    swarm.cli(&[
        "secret",
        "create",
        "db_password",
        secret_file.to_str().unwrap(),
    ]);
    vfs_wait(root);
    assert_eq!(
        std::fs::read_to_string(root.join("configs/site.conf")).unwrap(),
        swarm.cli(&["config", "inspect", "site.conf"])
    );
    assert_eq!(
        mtime(&root.join("configs/site.conf")),
        updated_at(&swarm, "config", "site.conf")
    );
    let secret = std::fs::read_to_string(root.join("secrets/db_password")).unwrap();
    assert_eq!(secret, swarm.cli(&["secret", "inspect", "db_password"]));
    let base64 = run("base64", &["-w0", secret_file.to_str().unwrap()], None);
    assert!(!secret.contains(&password), "{secret}");
    assert!(!secret.contains(base64.trim()), "{secret}");
    assert!(!secret.contains("\"Data\""), "{secret}");

    // A stack: its services grouped under stacks/<stack>/<service>.
    let stack = scratch.path().join("stack.yml");
    std::fs::write(
        &stack,
        "version: \"3.8\"\nservices:\n  api:\n    image: swarm/busybox:1\n    command: [\"sleep\", \"3600\"]\n",
    )
    .unwrap();
    swarm.cli(&[
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        stack.to_str().unwrap(),
        "shop",
    ]);
    vfs_wait(root);
    let api = root.join("stacks/shop/api");
    assert_eq!(
        std::fs::read_link(&api).unwrap(),
        PathBuf::from(format!(
            "../../services/.{}",
            swarm
                .cli(&["service", "inspect", "--format", "{{.ID}}", "shop_api"])
                .trim()
        ))
    );
    assert_eq!(mtime(&api), updated_at(&swarm, "service", "shop_api"));
    assert!(root.join("services/shop_api").exists());

    // Removing them removes their files.
    swarm.cli(&["config", "rm", "site.conf"]);
    swarm.cli(&["secret", "rm", "db_password"]);
    swarm.cli(&["service", "rm", "web"]);
    swarm.cli(&["stack", "rm", "shop"]);
    vfs_wait(root);
    for gone in [
        "configs/site.conf",
        "secrets/db_password",
        "services/web",
        "stacks/shop",
        "services/shop_api",
    ] {
        assert!(
            std::fs::symlink_metadata(root.join(gone)).is_err(),
            "{gone} after its removal"
        );
    }
    drop(mount);
}

const STACK_FILE: &str = "\
version: \"3.8\"
services:
  web:
    image: IMAGE
    command: [\"sleep\", \"3600\"]
    environment:
      ROLE: web
  db:
    image: IMAGE
    command: [\"sleep\", \"3601\"]
";

/// A git repository with docker-stack.yml and the recipe's Makefile; DockerFS (of the swarm)
/// and GitConfigFS mounted inside it.
struct Repo {
    _work: tempfile::TempDir,
    shell: RecipeShell,
}

impl Drop for Repo {
    fn drop(&mut self) {
        for mountpoint in [self.shell.cfgfs(), self.shell.dockerfs()] {
            unmount_lazily(&mountpoint);
        }
    }
}

impl Repo {
    fn new(docker_host: String) -> Repo {
        let work = tempfile::tempdir().unwrap();
        let shell = RecipeShell {
            dir: work.path().join("shop"),
            state: work.path().join("state"),
            env: vec![("DOCKER_HOST".to_string(), docker_host)],
        };
        Repo { _work: work, shell }
    }

    fn path(&self) -> PathBuf {
        self.shell.dir.clone()
    }

    /// `make`; whether it deployed.
    fn make(&self, step: &str) -> bool {
        self.shell.make(&[], step).contains("docker stack deploy")
    }

    fn edit(&self, from: &str, to: &str) {
        std::thread::sleep(Duration::from_millis(20));
        let path = self.path().join("docker-stack.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text.replacen(from, to, 1);
        assert_ne!(text, edited, "{from:?} is not in the stack file");
        std::fs::write(&path, edited).unwrap();
    }
}

/// A step of the walk-through: what it does to the repository.
type Step = Box<dyn Fn(&Repo)>;

/// docs/docker.md's stack recipe: deployed, settled; edits elsewhere (a comment in web, db's
/// section, a commit) deploy nothing; a change of web's meaning deploys once and settles again.
#[test]
fn the_docker_stack_recipe_settles() {
    if !ready() {
        return;
    }
    let swarm = Swarm::start();
    swarm.init();
    swarm.engine().import_busybox("shop/busybox:1");
    let repo = Repo::new(swarm.host());
    let dir = repo.path();
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("docker-stack.yml"),
        STACK_FILE.replace("IMAGE", "shop/busybox:1"),
    )
    .unwrap();
    // No registry here: the digest lookup is skipped, as it would fail anyway.
    let makefile = recipe("docs/docker.md", Some("swarm")).replace(
        "docker stack deploy",
        "docker stack deploy --resolve-image never",
    );
    std::fs::write(dir.join("Makefile"), makefile).unwrap();
    std::fs::write(dir.join(".gitignore"), ".dockerfs/\n.cfgfs/\n").unwrap();
    git(&dir, &["init", "-q", "-b", "main"], None);
    git(&dir, &["config", "user.name", "Test"], None);
    git(&dir, &["config", "user.email", "test@example.com"], None);
    git(&dir, &["add", "-A"], None);
    git(&dir, &["commit", "-q", "-m", "stack"], Some(T1));

    // Without the mounts make stops before any recipe.
    let (code, output) = repo.shell.run("make", &[]);
    assert_ne!(code, 0, "make without the mounts:\n{output}");
    assert!(!output.contains("docker stack deploy"), "{output}");

    repo.shell.mount();
    assert!(repo.make("first deploy"), "the first make deployed nothing");
    assert_eq!(
        repo.shell.question(&[]),
        0,
        "settled after the first deploy"
    );
    assert!(!repo.make("make again"), "the second make deployed");
    repo.shell.unmount();

    let quiet: [(&str, Step); 3] = [
        (
            "a comment in web",
            Box::new(|repo| repo.edit("    environment:\n", "    # the front\n    environment:\n")),
        ),
        (
            "db's section",
            Box::new(|repo| repo.edit("\"3601\"", "\"3602\"")),
        ),
        (
            "a commit of both",
            Box::new(|repo| {
                std::thread::sleep(Duration::from_millis(1100));
                git(&repo.path(), &["commit", "-q", "-am", "edits"], None);
            }),
        ),
    ];
    for (what, step) in &quiet {
        step(&repo);
        repo.shell.mount();
        let question = repo.shell.question(&[]);
        if question != 0 {
            let deployed = repo.make(what);
            panic!("{what}: make -q answered {question}; make deployed: {deployed}");
        }
        repo.shell.unmount();
    }

    // A change of web's meaning: deployed once, then settled.
    repo.edit("ROLE: web", "ROLE: api");
    repo.shell.mount();
    assert_ne!(repo.shell.question(&[]), 0, "web's change is not seen");
    assert!(repo.make("web changed"), "web's change deployed nothing");
    assert_eq!(repo.shell.question(&[]), 0, "settled after the redeploy");
    assert!(
        !repo.make("make again"),
        "the make after the redeploy deployed"
    );
    assert_eq!(
        swarm
            .cli(&[
                "service",
                "inspect",
                "--format",
                "{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{.}}{{end}}",
                "shop_web",
            ])
            .trim(),
        "ROLE=api"
    );
    repo.shell.unmount();
}
