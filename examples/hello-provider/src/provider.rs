//! The `hello` provider itself: nodes, listings, contents and change notices.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use vfs_core::{async_trait, ChangeNotifier, Content, Node, NodePath, Provider, ProviderError};

const GREETING: &str = "greeting.txt";
const WORDS: &str = "words";
const TICKS: &str = "ticks";
const COUNT: &str = "count";
const LATEST: &str = "latest";

/// What `hello` is built from (see the arguments in `lib.rs`).
#[derive(Clone, Debug)]
pub struct HelloConfig {
    /// The text of greeting.txt (a newline is added); its words become words/1, words/2, …
    pub greeting: String,
    /// The time of every greeting node.
    pub time: SystemTime,
    /// When set, ticks/count counts up at this period and a change notice follows each tick.
    pub tick: Option<Duration>,
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
        }
    }

    fn ticks(&self) -> Ticks {
        *self.ticks.lock().unwrap_or_else(PoisonError::into_inner)
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
        vec![
            Node::file(GREETING, time, Some(self.greeting_text().len() as u64)),
            // Eager: the host gets the children with the directory and never calls `list` for it.
            Node::directory(WORDS, time).with_children(self.word_nodes()),
            // Lazy: the host calls `list(["ticks"])` when someone looks inside.
            Node::directory(TICKS, self.ticks().time),
            Node::symlink(LATEST, time, GREETING),
        ]
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

/// The names of `path` as text; `None` when one is not UTF-8 (no such name exists here).
fn names(path: &NodePath) -> Option<Vec<&str>> {
    path.names().iter().map(|name| name.to_str()).collect()
}

#[async_trait]
impl Provider for Hello {
    async fn start(&self, notifier: ChangeNotifier) -> Result<(), ProviderError> {
        let Some(period) = self.config.tick else {
            return Ok(());
        };
        let ticks = Arc::clone(&self.ticks);
        let ticker = tokio::spawn(async move {
            let mut interval =
                tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                interval.tick().await;
                {
                    let mut ticks = ticks.lock().unwrap_or_else(PoisonError::into_inner);
                    ticks.count += 1;
                    ticks.time = SystemTime::now();
                }
                // "ticks and everything below it changed": the host forgets what it cached there.
                notifier.changed(NodePath::from_names([TICKS]));
            }
        });
        *self.ticker.lock().unwrap_or_else(PoisonError::into_inner) = Some(ticker);
        Ok(())
    }

    async fn root(&self) -> Result<Node, ProviderError> {
        Ok(Node::directory("", self.config.time))
    }

    async fn list(&self, dir: &NodePath) -> Result<Vec<Node>, ProviderError> {
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

    async fn stop(&self) {
        if let Some(ticker) = self
            .ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            ticker.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use vfs_core::NodeKind;

    use super::*;

    fn greeting_at(seconds: u64) -> Hello {
        Hello::new(HelloConfig {
            greeting: "Hi there".into(),
            time: UNIX_EPOCH + Duration::new(seconds, 5),
            tick: None,
        })
    }

    fn text(content: Content) -> String {
        match content {
            Content::Bytes(bytes) => String::from_utf8(bytes).unwrap(),
            Content::File(_) => panic!("hello serves bytes"),
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
        let summary: Vec<(String, NodeKind)> = entries
            .iter()
            .map(|entry| (entry.path.to_string(), entry.node.kind.clone()))
            .collect();
        let lazy = NodeKind::Directory { children: None };
        let file = |size| NodeKind::File { size };
        let word_files = vec![
            Node::file("1", hello.config.time, Some(3)),
            Node::file("2", hello.config.time, Some(6)),
        ];
        assert_eq!(
            summary,
            vec![
                ("/".into(), lazy.clone()),
                ("/greeting.txt".into(), file(Some(9))),
                (
                    "/words".into(),
                    NodeKind::Directory {
                        children: Some(word_files)
                    }
                ),
                ("/words/1".into(), file(Some(3))),
                ("/words/2".into(), file(Some(6))),
                ("/ticks".into(), lazy),
                ("/ticks/count".into(), file(None)),
                (
                    "/latest".into(),
                    NodeKind::Symlink {
                        target: GREETING.into()
                    }
                ),
            ]
        );
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
}
