//! How requests reach the engine: one connector (a Unix socket, TCP, TLS over TCP, or an
//! `ssh … docker system dial-stdio` process) under one pooled HTTP/1 client, serving both
//! bollard (as its custom transport) and the raw reads that must keep the engine's own bytes
//! (inspect files, see `json_indent`). One transport for both means the two can never disagree
//! about where the engine is or how it is trusted, and both reuse kept-open connections: a
//! start inspects every image, and bollard's own transports keep none alive.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use crate::source::DockerSource;
use crate::ssh::SshTarget;
use crate::tls::{server_name, TlsSettings};

/// How long an inspect may take to arrive in full: a reader of an inspect file gets an error
/// rather than hanging on an engine that stopped answering.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections kept for reuse: as many as requests run at once while loading.
const IDLE_CONNECTIONS: usize = 8;

/// bollard's request timeout (its default): the time to a response's head, not a stream's life.
const BOLLARD_TIMEOUT_SECONDS: u64 = 120;

/// The authority every request is addressed to. The connector alone knows the engine's
/// address, so one name keeps every request in one pool.
const POOL_AUTHORITY: &str = "http://docker";

/// A request body as bollard sends it (its `BodyType`, spelled out: it is not exported).
pub type Body = Either<
    Full<Bytes>,
    StreamBody<Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, io::Error>> + Send>>>,
>;

/// Where the engine is and how to reach it.
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
    Tls {
        address: String,
        config: Arc<ClientConfig>,
        settings: Arc<TlsSettings>,
    },
    Ssh(SshTarget),
}

impl Endpoint {
    /// How to reach `source`: its scheme, and its TLS files read now (a bad file is an error
    /// naming it before any connection is tried).
    pub fn for_source(source: &DockerSource) -> Result<Endpoint, String> {
        let host = source.host.as_str();
        if let Some(path) = host.strip_prefix("unix://") {
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if host.starts_with("ssh://") {
            return SshTarget::parse(host)
                .map(Endpoint::Ssh)
                .map_err(|error| error.to_string());
        }
        let address = ["tcp://", "http://", "https://"]
            .iter()
            .find_map(|scheme| host.strip_prefix(scheme))
            .ok_or_else(|| format!("unsupported scheme in {host}"))?
            .trim_end_matches('/')
            .to_string();
        match &source.tls {
            Some(settings) => Ok(Endpoint::Tls {
                address,
                config: settings
                    .client_config()
                    .map_err(|error| error.to_string())?,
                settings: Arc::new(settings.clone()),
            }),
            None => Ok(Endpoint::Tcp(address)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error("{0}")]
    Http(String),
    #[error("{}", no_answer_within(*.0))]
    Timeout(Duration),
}

/// "no answer within 10 s": how a timed-out request is reported.
pub fn no_answer_within(limit: Duration) -> String {
    format!("no answer within {} s", limit.as_secs_f64())
}

/// An error and its causes on one line ("client error (Connect): Connection refused …").
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = inner.source();
    }
    text.replace('\n', " ")
}

/// The pooled client over the engine's connector.
#[derive(Clone)]
pub struct Transport {
    client: Client<Connector, Body>,
    refusal: Arc<Refusal>,
}

/// The last refusal a TLS engine sent on a connection, in `TlsSettings::explain`'s words.
/// With TLS 1.3 an engine refuses a client certificate only after the handshake; the
/// connection's task reads that alert and ends, and a request that was to go on the
/// connection then fails as "connection was not ready", the alert lost with the task (or, seen
/// once in 45 runs, waits until its time runs out). Kept here, the refusal is what such a
/// request reports, and what the first contact with the engine fails with at once. An answer
/// clears it.
struct Refusal(tokio::sync::watch::Sender<Option<String>>);

impl Default for Refusal {
    fn default() -> Refusal {
        Refusal(tokio::sync::watch::Sender::new(None))
    }
}

impl Refusal {
    fn record(&self, text: &str) {
        self.0.send_replace(Some(text.to_string()));
    }

    fn clear(&self) {
        // A shared read on every answer; a write only after a refusal.
        if self.0.borrow().is_some() {
            self.0.send_replace(None);
        }
    }

    /// The refusal, for a request that failed on a connection rather than in connecting (a
    /// failure to connect carries its own words).
    fn instead_of(&self, error: &hyper_util::client::legacy::Error) -> Option<String> {
        if error.is_connect() {
            return None;
        }
        self.0.borrow().clone()
    }

    /// Waits for a refusal.
    async fn refused(&self) -> String {
        let mut seen = self.0.subscribe();
        let refusal = seen
            .wait_for(Option::is_some)
            .await
            .map(|refusal| refusal.clone());
        match refusal {
            Ok(text) => text.unwrap_or_default(),
            // The sender lives as long as `self`: never reached.
            Err(_) => std::future::pending().await,
        }
    }
}

/// Why one exchange failed; whether a second try may help.
enum Failure {
    Request(hyper_util::client::legacy::Error),
    Body(hyper::Error),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Request(error) => !error.is_connect(),
            Failure::Body(_) => true,
        }
    }

    fn into_raw(self, refusal: &Refusal) -> RawError {
        match self {
            Failure::Request(error) => RawError::Http(
                refusal
                    .instead_of(&error)
                    .unwrap_or_else(|| with_causes(&error)),
            ),
            Failure::Body(error) => RawError::Http(with_causes(&error)),
        }
    }
}

impl Transport {
    pub fn new(endpoint: Endpoint) -> Transport {
        let refusal = Arc::new(Refusal::default());
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(IDLE_CONNECTIONS)
            .pool_timer(TokioTimer::new())
            .build(Connector {
                endpoint: Arc::new(endpoint),
                refusal: Arc::clone(&refusal),
            });
        Transport { client, refusal }
    }

    /// Returns once a TLS engine refused a connection (a client certificate it does not
    /// accept), with that refusal in words naming the file: a first contact fails with it at
    /// once, whatever became of the request the refusal cut.
    pub async fn refused(&self) -> String {
        self.refusal.refused().await
    }

    /// A bollard client whose every request goes through this transport.
    pub fn bollard(&self) -> Result<bollard::Docker, bollard::errors::Error> {
        let client = self.client.clone();
        let refusal = Arc::clone(&self.refusal);
        bollard::Docker::connect_with_custom_transport(
            move |request: bollard::BollardRequest| {
                let client = client.clone();
                let refusal = Arc::clone(&refusal);
                async move {
                    match client.request(request).await {
                        Ok(response) => {
                            refusal.clear();
                            Ok(response)
                        }
                        Err(error) => Err(match refusal.instead_of(&error) {
                            Some(text) => bollard::errors::Error::from(io::Error::new(
                                io::ErrorKind::PermissionDenied,
                                text,
                            )),
                            None => bollard::errors::Error::from(error),
                        }),
                    }
                }
            },
            Some(POOL_AUTHORITY),
            BOLLARD_TIMEOUT_SECONDS,
            bollard::API_DEFAULT_VERSION,
        )
    }

    /// GETs `path_and_query`; returns the status code and the whole body, untouched.
    pub async fn get(&self, path_and_query: &str) -> Result<(u16, Bytes), RawError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.get_unbounded(path_and_query))
            .await
            .map_err(|_| RawError::Timeout(REQUEST_TIMEOUT))?
    }

    async fn get_unbounded(&self, path_and_query: &str) -> Result<(u16, Bytes), RawError> {
        let uri: Uri = format!("{POOL_AUTHORITY}{path_and_query}")
            .parse()
            .map_err(|error| RawError::Http(format!("{path_and_query:?}: {error}")))?;
        match self.exchange(uri.clone()).await {
            Ok(answer) => Ok(answer),
            // A kept connection may have been closed by the engine meanwhile (a restart, an
            // idle timeout): a GET is tried once more, on a new connection if need be.
            Err(failure) if failure.retryable() => self
                .exchange(uri)
                .await
                .map_err(|failure| failure.into_raw(&self.refusal)),
            Err(failure) => Err(failure.into_raw(&self.refusal)),
        }
    }

    async fn exchange(&self, uri: Uri) -> Result<(u16, Bytes), Failure> {
        let mut request = hyper::Request::new(Body::Left(Full::new(Bytes::new())));
        *request.uri_mut() = uri;
        let response = self
            .client
            .request(request)
            .await
            .map_err(Failure::Request)?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(Failure::Body)?
            .to_bytes();
        self.refusal.clear();
        Ok((status, body))
    }
}

/// Opens one connection to the engine; the client pools what it opens.
#[derive(Clone)]
struct Connector {
    endpoint: Arc<Endpoint>,
    refusal: Arc<Refusal>,
}

impl tower_service::Service<Uri> for Connector {
    type Response = EngineIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<EngineIo>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let endpoint = Arc::clone(&self.endpoint);
        let refusal = Arc::clone(&self.refusal);
        Box::pin(async move { endpoint.connect(refusal).await })
    }
}

impl Endpoint {
    async fn connect(&self, refusal: Arc<Refusal>) -> io::Result<EngineIo> {
        match self {
            Endpoint::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok(EngineIo::new(stream, None))
            }
            Endpoint::Tcp(address) => {
                let stream = tokio::net::TcpStream::connect(address.as_str()).await?;
                let _ = stream.set_nodelay(true);
                Ok(EngineIo::new(stream, None))
            }
            Endpoint::Tls {
                address,
                config,
                settings,
            } => {
                let name = server_name(address).map_err(io::Error::other)?;
                let stream = tokio::net::TcpStream::connect(address.as_str()).await?;
                let _ = stream.set_nodelay(true);
                let stream = TlsConnector::from(Arc::clone(config))
                    .connect(name, stream)
                    .await
                    .map_err(|error| settings.explain(error))?;
                Ok(EngineIo::new(
                    stream,
                    Some(TlsWords {
                        settings: Arc::clone(settings),
                        refusal,
                    }),
                ))
            }
            Endpoint::Ssh(target) => Ok(EngineIo::new(target.dial()?, None)),
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Io for T {}

/// One connection to the engine, whatever carries it.
struct EngineIo {
    inner: TokioIo<Pin<Box<dyn Io>>>,
    tls: Option<TlsWords>,
}

/// For TLS: turns a refusal that arrives on a read into words naming the file at fault, and
/// keeps them for the request the refusal made fail (see `Refusal`).
struct TlsWords {
    settings: Arc<TlsSettings>,
    refusal: Arc<Refusal>,
}

impl EngineIo {
    fn new(stream: impl Io + 'static, tls: Option<TlsWords>) -> EngineIo {
        EngineIo {
            inner: TokioIo::new(Box::pin(stream)),
            tls,
        }
    }

    fn explain<T>(&self, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match (result, &self.tls) {
            (Poll::Ready(Err(error)), Some(tls)) => match tls.settings.words_for(&error) {
                Some(text) => {
                    tls.refusal.record(&text);
                    Poll::Ready(Err(io::Error::new(error.kind(), text)))
                }
                None => Poll::Ready(Err(error)),
            },
            (other, _) => other,
        }
    }
}

impl Connection for EngineIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for EngineIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.explain(result)
    }
}

impl hyper::rt::Write for EngineIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.explain(result)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.explain(result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use super::*;

    /// A minimal HTTP server on a Unix socket: answers `{"n":COUNT}` to every request, and
    /// hangs up after `answers_per_connection` answers. Counts the connections it accepted.
    fn serve(listener: UnixListener, answers_per_connection: usize) -> Arc<AtomicUsize> {
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut answered = 0usize;
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                for _ in 0..answers_per_connection {
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => request.extend_from_slice(&buffer[..read]),
                        }
                    }
                    if request.is_empty() {
                        break;
                    }
                    request.clear();
                    answered += 1;
                    let body = format!("{{\"n\":{answered}}}");
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
        });
        accepted
    }

    #[tokio::test]
    async fn a_refusal_is_waited_for_kept_until_an_answer_and_then_forgotten() {
        let refusal = Arc::new(Refusal::default());
        let waiting = tokio::spawn({
            let refusal = Arc::clone(&refusal);
            async move { refusal.refused().await }
        });
        tokio::task::yield_now().await;
        refusal.record("TLS: the engine refused the client certificate c.pem");
        let told = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiter is woken")
            .unwrap();
        assert_eq!(told, "TLS: the engine refused the client certificate c.pem");
        // A second waiter finds it at once; an answer clears it.
        assert_eq!(refusal.refused().await, told);
        refusal.clear();
        assert!(refusal.0.borrow().is_none());
    }

    #[tokio::test]
    async fn requests_reuse_a_kept_connection_and_survive_its_loss() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let accepted = serve(UnixListener::bind(&socket).unwrap(), usize::MAX);
        let endpoint = Transport::new(Endpoint::Unix(socket.clone()));
        for expected in 1..=5 {
            let (status, body) = endpoint.get("/images/x/json").await.unwrap();
            assert_eq!(status, 200);
            assert_eq!(body.as_ref(), format!("{{\"n\":{expected}}}").as_bytes());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");

        // An engine that hangs up after every answer: each request still gets its answer.
        let socket = dir.path().join("restarting.sock");
        let accepted = serve(UnixListener::bind(&socket).unwrap(), 1);
        let endpoint = Transport::new(Endpoint::Unix(socket.clone()));
        for expected in 1..=3 {
            let (status, body) = endpoint.get("/images/x/json").await.unwrap();
            assert_eq!(status, 200);
            assert_eq!(body.as_ref(), format!("{{\"n\":{expected}}}").as_bytes());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}
