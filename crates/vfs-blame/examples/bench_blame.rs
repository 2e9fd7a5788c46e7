//! Times each blame engine against `git blame --porcelain` (the git CLI) on one file, in alternation.
//!
//! Usage: bench_blame REPO_DIR [--lines N] [--commits N] [--rounds N]
//!
//! REPO_DIR is created with `git fast-import` when it does not exist: a YAML file `config.yml` of about
//! N lines, changed by N commits that each touch a few lines, with fixed committer dates.
//! Every round runs, in turn: `git blame --porcelain` (subprocess, output read to the end), then for each
//! engine a cold blame (a new Blamer, so nothing cached) and a warm one (the same call again: a cache hit).
//! Prints medians and ratios to the git CLI as a Markdown table.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vfs_blame::{Blamer, EngineKind, LineOrigin};

const FILE: &str = "config.yml";
const FIRST_TIME: i64 = 1_600_000_000;

struct Settings {
    repo: PathBuf,
    lines: usize,
    commits: usize,
    rounds: usize,
}

fn parse_settings() -> Result<Settings, String> {
    let mut args = std::env::args().skip(1);
    let repo = PathBuf::from(
        args.next()
            .ok_or("usage: bench_blame REPO_DIR [--lines N] [--commits N] [--rounds N]")?,
    );
    let mut settings = Settings {
        repo,
        lines: 5_000,
        commits: 2_000,
        rounds: 5,
    };
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|value| value.parse().ok())
            .ok_or(format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--lines" => settings.lines = value,
            "--commits" => settings.commits = value,
            "--rounds" => settings.rounds = value.max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(settings)
}

/// A deterministic generator, so the same settings give the same repository.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

fn render(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

fn git(repo: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("git")
        .args(args)
        .current_dir(repo)
        .status()
        .map_err(|error| format!("git {args:?}: {error}"))?;
    status
        .success()
        .then_some(())
        .ok_or(format!("git {args:?} failed"))
}

/// Writes the history as one `git fast-import` stream: every commit changes a few lines (mostly edits,
/// sometimes an insertion or a deletion), so blame has to walk the whole history.
fn create_repository(settings: &Settings) -> Result<(), String> {
    std::fs::create_dir_all(&settings.repo).map_err(|error| error.to_string())?;
    git(&settings.repo, &["init", "-q", "-b", "main"])?;
    let mut random = Lcg(7);
    let mut lines: Vec<String> = vec!["services:".to_string()];
    for index in 1..settings.lines {
        lines.push(if index % 50 == 1 {
            format!("  service{}:", index / 50)
        } else {
            format!("    key{index}: initial")
        });
    }
    let mut importer = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&settings.repo)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|error| format!("git fast-import: {error}"))?;
    let mut stream = std::io::BufWriter::new(
        importer
            .stdin
            .take()
            .ok_or("no stdin for git fast-import")?,
    );
    for commit in 0..settings.commits {
        if commit > 0 {
            for _ in 0..1 + random.below(4) {
                let at = 1 + random.below(lines.len() - 1);
                match random.below(10) {
                    0 => lines.insert(at, format!("    added{commit}: {}", random.below(1000))),
                    1 if lines.len() > settings.lines / 2 => {
                        lines.remove(at);
                    }
                    _ => lines[at] = format!("    key{at}: value {commit}"),
                }
            }
        }
        let time = FIRST_TIME + 60 * commit as i64;
        let message = format!("change {commit}");
        let content = render(&lines);
        let write = |stream: &mut dyn Write| -> std::io::Result<()> {
            writeln!(stream, "commit refs/heads/main")?;
            writeln!(stream, "mark :{}", commit + 1)?;
            writeln!(stream, "author Bench <bench@example.com> {time} +0000")?;
            writeln!(stream, "committer Bench <bench@example.com> {time} +0000")?;
            writeln!(stream, "data {}\n{message}", message.len())?;
            if commit > 0 {
                writeln!(stream, "from :{commit}")?;
            }
            writeln!(stream, "M 100644 inline {FILE}")?;
            writeln!(stream, "data {}", content.len())?;
            stream.write_all(&content)?;
            writeln!(stream)
        };
        write(&mut stream).map_err(|error| format!("writing to git fast-import: {error}"))?;
    }
    drop(stream);
    let status = importer.wait().map_err(|error| error.to_string())?;
    if !status.success() {
        return Err("git fast-import failed".to_string());
    }
    git(&settings.repo, &["reset", "-q", "--hard"])
}

fn time_git_cli(repo: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    let output = Command::new("git")
        .args(["blame", "--porcelain", "--", FILE])
        .current_dir(repo)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| error.to_string())?;
    let elapsed = start.elapsed();
    output
        .status
        .success()
        .then_some(elapsed)
        .ok_or("git blame failed".to_string())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.4}")
    } else {
        format!("{ms:.1}")
    }
}

fn run() -> Result<(), String> {
    let settings = parse_settings()?;
    if !settings.repo.join(".git").exists() {
        let start = Instant::now();
        create_repository(&settings)?;
        eprintln!(
            "created {} in {:.1} s",
            settings.repo.display(),
            start.elapsed().as_secs_f64()
        );
    }
    let content = std::fs::read(settings.repo.join(FILE)).map_err(|error| error.to_string())?;
    let line_count = content.split(|byte| *byte == b'\n').count() - 1;

    // BENCH_ENGINES=parallel,gix limits the engines (for profiling one of them).
    let chosen = std::env::var("BENCH_ENGINES").ok();
    let engines: Vec<EngineKind> = EngineKind::ALL
        .iter()
        .copied()
        .filter(|engine| {
            chosen
                .as_deref()
                .is_none_or(|names| names.split(',').any(|name| name == engine.name()))
        })
        .collect();
    let mut cli = Vec::new();
    let mut cold: Vec<Vec<Duration>> = vec![Vec::new(); engines.len()];
    let mut warm: Vec<Vec<Duration>> = vec![Vec::new(); engines.len()];
    let mut answers: Vec<Option<Vec<LineOrigin>>> = vec![None; engines.len()];
    for round in 0..settings.rounds {
        cli.push(time_git_cli(&settings.repo)?);
        for (index, engine) in engines.iter().enumerate() {
            let blamer = Blamer::discover_with_engine(&settings.repo, *engine)
                .map_err(|error| error.to_string())?;
            let start = Instant::now();
            let first = blamer
                .blame(Path::new(FILE), &content)
                .map_err(|error| error.to_string())?;
            cold[index].push(start.elapsed());
            let start = Instant::now();
            let again = blamer
                .blame(Path::new(FILE), &content)
                .map_err(|error| error.to_string())?;
            warm[index].push(start.elapsed());
            if !std::sync::Arc::ptr_eq(&first, &again) {
                return Err(format!("{}: the warm call missed the cache", engine.name()));
            }
            answers[index].get_or_insert_with(|| first.lines.clone());
        }
        eprintln!("round {} of {} done", round + 1, settings.rounds);
    }

    let reference = answers[0].clone().unwrap_or_default();
    let cli_median = median(&mut cli);
    println!(
        "{} lines, {} commits, {} rounds (medians, ms; ratio = engine / git CLI)\n",
        line_count, settings.commits, settings.rounds
    );
    println!("| contender | cold (first blame) | ratio | warm (cached call) | ratio | same answer as git-cli engine |");
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| `git blame --porcelain` (subprocess) | {} | 1.00 | - | - | - |",
        millis(cli_median)
    );
    for (index, engine) in engines.iter().enumerate() {
        let cold_median = median(&mut cold[index]);
        let warm_median = median(&mut warm[index]);
        let same = answers[index].as_ref() == Some(&reference);
        println!(
            "| {} engine | {} | {:.2} | {} | {:.5} | {} |",
            engine.name(),
            millis(cold_median),
            cold_median.as_secs_f64() / cli_median.as_secs_f64(),
            millis(warm_median),
            warm_median.as_secs_f64() / cli_median.as_secs_f64(),
            if same { "yes" } else { "no" }
        );
    }
    Ok(())
}

fn main() {
    if let Err(error) = run() {
        eprintln!("bench_blame: {error}");
        std::process::exit(1);
    }
}
