//! Section times in a work tree checked out with CRLF over LF blobs (`core.autocrlf=true`): `git diff` is
//! empty there, so every section keeps its commit's time, and an edit moves only the edited section.

mod support;

use support::*;
use vfs_core::{ChangeNotifier, Provider};
use vfs_gitconfig::GitConfigProvider;

const T1: i64 = 1_600_000_000;
const T2: i64 = 1_600_100_000;

const COMPOSE: &str =
    "services:\r\n  web:\r\n    image: nginx\r\n  db:\r\n    image: postgres:15\r\n";

async fn mtime(provider: &dyn Provider, path: &str) -> std::time::SystemTime {
    node(provider, path).await.mtime
}

#[tokio::test]
async fn with_core_autocrlf_each_section_keeps_its_commit_time_and_an_edit_moves_only_its_section()
{
    let repo = Repo::new();
    repo.git(&["config", "core.autocrlf", "true"]);
    repo.commit_file("docker-compose.yml", COMPOSE, T1);
    let db_changed = COMPOSE.replace("postgres:15", "postgres:16");
    repo.commit_file("docker-compose.yml", &db_changed, T2);
    let blob = repo.git(&["cat-file", "blob", "HEAD:docker-compose.yml"]);
    assert!(!blob.contains('\r'), "git stored LF");
    assert!(
        std::fs::read_to_string(repo.path().join("docker-compose.yml"))
            .expect("read")
            .contains("\r\n"),
        "the work tree keeps CRLF"
    );
    assert_eq!(repo.git(&["diff", "--stat"]), "");

    let provider = GitConfigProvider::new(repo.path());
    provider
        .start(ChangeNotifier::detached())
        .await
        .expect("start");
    assert_eq!(
        mtime(&provider, "docker-compose.yml/services/web").await,
        at(T1)
    );
    assert_eq!(
        mtime(&provider, "docker-compose.yml/services/db").await,
        at(T2)
    );
    assert_eq!(mtime(&provider, "docker-compose.yml").await, at(T2));

    repo.write(
        "docker-compose.yml",
        &db_changed.replace("image: nginx", "image: httpd"),
    );
    let edited = mtime_of(&repo.path().join("docker-compose.yml"));
    assert_eq!(
        mtime(&provider, "docker-compose.yml/services/web").await,
        edited
    );
    assert_eq!(
        mtime(&provider, "docker-compose.yml/services/db").await,
        at(T2),
        "the service that was not edited keeps its commit's time"
    );
}
