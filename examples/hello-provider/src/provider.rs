//! The `hello` provider itself: nodes, listings, contents and change notices.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use vfs_core::{
    async_trait, ChangeNotifier, Content, Node, NodePath, Poller, Provider, ProviderError, Snapshot,
};

const GREETING: &str = "greeting.txt";
const WORDS: &str = "words";
const TICKS: &str = "ticks";
const COUNT: &str = "count";
const LATEST: &str = "latest";
const POLLED: &str = "polled";

/// What `hello` is built from (see the arguments in `lib.rs`).
#[derive(Clone, Debug)]
pub struct HelloConfig {
    /// The text of greeting.txt (a newline is added); its words become words/1, words/2, …
    pub greeting: String,
    /// The time of every greeting node.
    pub time: SystemTime,
    /// When set, ticks/count counts up at this period and a change notice follows each tick.
    pub tick: Option<Duration>,
    /// When set, polled/ shows the files of this folder, read again at this period.
    pub poll: Option<PollConfig>,
}

/// `--poll DIR --poll-every SECONDS`: a source without events, read on an interval.
#[derive(Clone, Debug)]
pub struct PollConfig {
    pub dir: PathBuf,
    pub every: Duration,
}

/// How often the ticker fired, and when it last did.
#[derive(Clone, Copy, Debug)]
struct Ticks {
    count: u64,
    time: SystemTime,
}

pub struct Hello {
    config: HelloConfig,
    // Shared with the ticker task; never held across an `.await`.
    ticks: Arc<Mutex<Ticks>>,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    // Reads --poll's folder on an interval; set by `start`.
    poller: Mutex<Option<Arc<Poller>>>,
}

impl Hello {
    pub fn new(config: HelloConfig) -> Hello {
        let ticks = Ticks {
            count: 0,
            time: config.time,
        };
        Hello {
            config,
            ticks: Arc::new(Mutex::new(ticks)),
            ticker: Mutex::new(None),
            poller: Mutex::new(None),
        }
    }

    fn ticks(&self) -> Ticks {
        *self.ticks.lock()
    }

    fn greeting_text(&self) -> String {
        format!("{}\n", self.config.greeting)
    }

    fn words(&self) -> Vec<String> {
        self.config
            .greeting
            .split_whitespace()
            .map(|word| format!("{word}\n"))
            .collect()
    }

    /// words/1, words/2, …: sizes are known, so `ls -l` and `stat` show them before any read.
    fn word_nodes(&self) -> Vec<Node> {
        self.words()
            .iter()
            .enumerate()
            .map(|(index, word)| {
                let name = (index + 1).to_string();
                Node::file(name, self.config.time, Some(word.len() as u64))
            })
            .collect()
    }

    fn root_listing(&self) -> Vec<Node> {
        let time = self.config.time;
        let mut nodes = vec![
            Node::file(GREETING, time, Some(self.greeting_text().len() as u64)),
            // The host calls `list(["words"])` when someone looks inside.
            Node::directory(WORDS, time),
            // Its time is the last tick's: a notice on `ticks` makes the host ask for it again.
            Node::directory(TICKS, self.ticks().time),
            Node::symlink(LATEST, time, GREETING),
        ];
        // polled/ as the last poll saw it (only with --poll, once started).
        if let Some(poller) = self.poller() {
            nodes.extend(poller.current().node(&polled()).cloned());
        }
        nodes
    }

    fn poller(&self) -> Option<Arc<Poller>> {
        self.poller.lock().clone()
    }

    fn count_node(&self) -> Node {
        // Unknown size: the count is only known when read, and it grows.
        Node::file(COUNT, self.ticks().time, None)
    }

    /// The word file `words/NAME`, if there is one.
    fn word(&self, name: &str) -> Option<String> {
        let index: usize = name.parse().ok()?;
        self.words().into_iter().nth(index.checked_sub(1)?)
    }
}

/// The path of the polled folder.
fn polled() -> NodePath {
    NodePath::from_names([POLLED])
}

/// polled/ as it is now: the folder (with the folder's time) and its regular files with their
/// times and bytes. Reading a folder blocks, so it runs on tokio's blocking threads.
async fn read_polled(dir: PathBuf) -> Result<Snapshot, ProviderError> {
    let read = move || -> std::io::Result<Snapshot> {
        let mut tree = Snapshot::new(Node::directory("", SystemTime::UNIX_EPOCH));
        let folder_time = std::fs::metadata(&dir)?.modified()?;
        tree.insert(&NodePath::root(), Node::directory(POLLED, folder_time));
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let metadata = entry.metadata()?;
            if metadata.is_file() {
                // The time first: bytes read after it are never older than it says.
                let time = metadata.modified()?;
                let bytes = std::fs::read(entry.path())?;
                files.push((Node::file(entry.file_name(), time, None), bytes));
            }
        }
        // A stable order: the host serves a listing in pieces.
        files.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));
        for (file, bytes) in files {
            // The bytes go in the snapshot (and the node's size with them): `read` answers
            // from the snapshot `list` answers from, so they change together, with a notice.
            tree.insert_file(&polled(), file, bytes);
        }
        Ok(tree)
    };
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|error| ProviderError::Other(format!("polling stopped: {error}")))?
        .map_err(|error| ProviderError::io("reading the --poll folder", error))
}

/// The names of `path` as text; `None` when one is not UTF-8 (no such name exists here).
fn names(path: &NodePath) -> Option<Vec<&str>> {
    path.names().iter().map(|name| name.to_str()).collect()
}

#[async_trait]
impl Provider for Hello {
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        if let Some(poll) = &self.config.poll {
            // The first read happens here: a --poll folder that cannot be read refuses the mount.
            let dir = poll.dir.clone();
            let read = move || read_polled(dir.clone());
            let poller = Poller::start(poll.every, notifier.clone(), read).await?;
            *self.poller.lock() = Some(Arc::new(poller));
        }
        let Some(period) = self.config.tick else {
            return Ok(());
        };
        let ticks = Arc::clone(&self.ticks);
        let ticker = tokio::spawn(async move {
            let mut interval =
                tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                interval.tick().await;
                let count = {
                    let mut ticks = ticks.lock();
                    ticks.count += 1;
                    ticks.time = SystemTime::now();
                    ticks.count
                };
                vfs_core::tracing::debug!(count, "tick");
                // "ticks and everything below it changed": the host forgets what it cached there
                // (the folder's own time included: it is asked again from the root's listing).
                notifier.changed(NodePath::from_names([TICKS]));
            }
        });
        *self.ticker.lock() = Some(ticker);
        vfs_core::tracing::info!(?period, "ticking");
        Ok(())
    }

    /// `vfs wait` (or reading `.vfs`): a poll now, so that a change made before it is seen
    /// without waiting for the interval.
    async fn settle(&self) -> Result<(), ProviderError> {
        match self.poller() {
            Some(poller) => poller.poll_now().await,
            None => Ok(()),
        }
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        Ok(Node::directory("", self.config.time))
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
        if let (Some(poller), Some(&[POLLED, ..])) = (self.poller(), names(dir).as_deref()) {
            return poller.list(dir);
        }
        match names(dir).as_deref() {
            Some([]) => Ok(self.root_listing()),
            Some([WORDS]) => Ok(self.word_nodes()),
            Some([TICKS]) => Ok(vec![self.count_node()]),
            Some([GREETING] | [LATEST] | [TICKS, COUNT]) => {
                Err(ProviderError::NotADirectory(dir.clone()))
            }
            Some([WORDS, word]) if self.word(word).is_some() => {
                Err(ProviderError::NotADirectory(dir.clone()))
            }
            _ => Err(ProviderError::NotFound(dir.clone())),
        }
    }

    async fn read(&self, path: &NodePath) -> Result<Content, ProviderError> {
        if let (Some(poller), Some(&[POLLED, ..])) = (self.poller(), names(path).as_deref()) {
            // Not the file as it is now: that would show a change before its notice.
            return poller.read(path);
        }
        match names(path).as_deref() {
            Some([GREETING]) => Ok(self.greeting_text().into()),
            Some([TICKS, COUNT]) => Ok(format!("{}\n", self.ticks().count).into()),
            Some([WORDS, word]) => match self.word(word) {
                Some(text) => Ok(text.into()),
                None => Err(ProviderError::NotFound(path.clone())),
            },
            Some([] | [WORDS] | [TICKS]) => Err(ProviderError::NotAFile(path.clone())),
            _ => Err(ProviderError::NotFound(path.clone())),
        }
    }

    /// The --poll folder: the host refuses to mount over it (the mount would hide it, and
    /// hello would then read itself through the mount).
    fn local_sources(&self) -> Vec<PathBuf> {
        self.config
            .poll
            .iter()
            .map(|poll| poll.dir.clone())
            .collect()
    }

    async fn stop(&self) {
        if let Some(ticker) = self.ticker.lock().take() {
            ticker.abort();
        }
        if let Some(poller) = self.poller() {
            poller.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use vfs_core::{NodeKind, Notice};

    use super::*;

    fn greeting_at(seconds: u64) -> Hello {
        Hello::new(HelloConfig {
            greeting: "Hi there".into(),
            time: UNIX_EPOCH + Duration::new(seconds, 5),
            tick: None,
            poll: None,
        })
    }

    fn text(content: Content) -> String {
        match content {
            Content::Bytes(bytes) => String::from_utf8(bytes).unwrap(),
            Content::File(mut file) => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut file, &mut text).unwrap();
                text
            }
        }
    }

    fn kind(node: &Node) -> String {
        match &node.kind {
            NodeKind::File { size: Some(size) } => format!("file of {size} bytes"),
            NodeKind::File { size: None } => "file of unknown size".into(),
            NodeKind::Symlink { target } => format!("link to {}", target.to_string_lossy()),
            _ => "dir".into(),
        }
    }

    async fn read(hello: &Hello, path: &str) -> Result<Content, ProviderError> {
        hello.read(&NodePath::parse(path)).await
    }

    async fn list(hello: &Hello, path: &str) -> Result<Vec<Node>, ProviderError> {
        hello.list(&NodePath::parse(path)).await
    }

    #[tokio::test]
    async fn the_walked_tree_has_every_kind_of_node() {
        let hello = greeting_at(1_700_000_000);
        let entries = vfs_core::walk(&hello).await.unwrap();
        let summary: Vec<(String, String)> = entries
            .iter()
            .map(|entry| (entry.path.to_string(), kind(&entry.node)))
            .collect();
        let expected: Vec<(String, String)> = [
            ("/", "dir"),
            ("/greeting.txt", "file of 9 bytes"),
            ("/words", "dir"),
            ("/words/1", "file of 3 bytes"),
            ("/words/2", "file of 6 bytes"),
            ("/ticks", "dir"),
            ("/ticks/count", "file of unknown size"),
            ("/latest", "link to greeting.txt"),
        ]
        .iter()
        .map(|(path, kind)| (path.to_string(), kind.to_string()))
        .collect();
        assert_eq!(summary, expected);
        let expected_time = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert!(entries
            .iter()
            .all(|entry| entry.node.mtime == expected_time));
    }

    #[tokio::test]
    async fn contents_match_the_sizes_and_errors_say_why() {
        let hello = greeting_at(0);
        assert_eq!(
            text(read(&hello, "greeting.txt").await.unwrap()),
            "Hi there\n"
        );
        assert_eq!(text(read(&hello, "words/2").await.unwrap()), "there\n");
        assert_eq!(text(read(&hello, "ticks/count").await.unwrap()), "0\n");
        assert!(matches!(
            read(&hello, "words/3").await,
            Err(ProviderError::NotFound(_))
        ));
        assert!(matches!(
            read(&hello, "words/0").await,
            Err(ProviderError::NotFound(_))
        ));
        assert!(matches!(
            read(&hello, "ticks").await,
            Err(ProviderError::NotAFile(_))
        ));
        assert!(matches!(
            read(&hello, "nothing").await,
            Err(ProviderError::NotFound(_))
        ));
        assert!(matches!(
            list(&hello, "latest").await,
            Err(ProviderError::NotADirectory(_))
        ));
        assert!(matches!(
            list(&hello, "words/1").await,
            Err(ProviderError::NotADirectory(_))
        ));
        assert!(matches!(
            list(&hello, "nothing").await,
            Err(ProviderError::NotFound(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_tick_counts_and_sends_a_change_notice() {
        let hello = Hello::new(HelloConfig {
            greeting: "Hi".into(),
            time: UNIX_EPOCH,
            tick: Some(Duration::from_millis(20)),
            poll: None,
        });
        let (notifier, notices) = ChangeNotifier::channel();
        hello.start(notifier).await.unwrap();
        let notice = tokio::task::spawn_blocking(move || {
            let first = notices.recv_timeout(Duration::from_secs(5));
            (first, notices)
        });
        let (first, notices) = notice.await.unwrap();
        let first = first.map(|notice| notice.map(|notice| notice.path));
        assert_eq!(first, Ok(Some(NodePath::parse("ticks"))));
        let count: u64 = text(hello.read(&NodePath::parse("ticks/count")).await.unwrap())
            .trim()
            .parse()
            .unwrap();
        assert!(count >= 1, "count {count} after a notice");
        let ticks = hello.list(&NodePath::parse("ticks")).await.unwrap();
        assert!(ticks[0].mtime > UNIX_EPOCH, "count kept the start time");
        hello.stop().await;
        // Once stopped the ticker is gone, and with it the last notifier.
        let after_stop = tokio::task::spawn_blocking(move || loop {
            match notices.recv_timeout(Duration::from_secs(5)) {
                Ok(Some(_)) => continue,
                other => return other,
            }
        });
        assert_eq!(after_stop.await.unwrap(), Err(()));
    }

    #[tokio::test]
    async fn polled_files_show_and_each_poll_sends_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\n").unwrap();
        let hello = Hello::new(HelloConfig {
            greeting: "Hi".into(),
            time: UNIX_EPOCH,
            tick: None,
            // Never on its own during the test: `settle` polls.
            poll: Some(PollConfig {
                dir: dir.path().to_path_buf(),
                every: Duration::from_secs(3600),
            }),
        });
        let (notifier, notices) = ChangeNotifier::channel();
        hello.start(notifier).await.unwrap();
        let names = |nodes: Vec<Node>| -> Vec<String> {
            nodes
                .iter()
                .map(|node| node.name.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(list(&hello, "").await.unwrap()).last().unwrap(),
            "polled"
        );
        assert_eq!(names(list(&hello, "polled").await.unwrap()), ["a.txt"]);
        assert_eq!(
            text(
                read(&hello, "polled/a.txt")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            ),
            "one\n"
        );
        // A new file: after a poll it is served, and its folder is announced.
        std::fs::write(dir.path().join("b.txt"), "two\n").unwrap();
        hello.settle().await.unwrap();
        assert_eq!(
            names(list(&hello, "polled").await.unwrap()),
            ["a.txt", "b.txt"]
        );
        let told = notices.pending();
        assert!(told.contains(&Notice::node(polled())), "{told:?}");
        // a.txt did not change, and no notice announces it (the folder's notice `covers` it:
        // the host asks about every name of polled/ again, but a.txt's node is the same).
        let unchanged = NodePath::parse("polled/a.txt");
        assert!(!told.iter().any(|notice| notice.announces(&unchanged)));
        // A file rewritten: its old bytes are served until the poll that announces the new.
        std::fs::write(dir.path().join("a.txt"), "uno\n").unwrap();
        assert_eq!(text(read(&hello, "polled/a.txt").await.unwrap()), "one\n");
        hello.settle().await.unwrap();
        assert_eq!(text(read(&hello, "polled/a.txt").await.unwrap()), "uno\n");
        assert!(notices
            .pending()
            .iter()
            .any(|notice| notice.announces(&unchanged)));
        assert!(matches!(
            read(&hello, "polled/c.txt").await,
            Err(ProviderError::NotFound(_))
        ));
        hello.stop().await;
    }
}
