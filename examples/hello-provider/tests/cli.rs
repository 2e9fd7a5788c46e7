//! `hello-vfs` without FUSE: `providers`, `tree`, and the errors a user can cause before
//! anything is mounted.

use std::process::{Command, Output};

fn hello_vfs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hello-vfs"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("hello-vfs runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command failed with `code` and exactly the one error line `expected`.
fn assert_one_error_line(output: &Output, code: i32, expected: &str) {
    let stderr = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr, format!("hello-vfs: error: {expected}\n"));
    assert!(output.stdout.is_empty(), "stdout: {}", stdout(output));
}

#[test]
fn providers_lists_the_linked_provider() {
    let output = hello_vfs(&["providers"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "hello  A greeting as files: the example provider of the tutorial\n"
    );
}

#[test]
fn the_help_describes_the_provider_with_its_registration_line() {
    let about = "A greeting as files: the example provider of the tutorial";
    for command in ["mount", "tree", "sync"] {
        let list = hello_vfs(&[command, "--help"]);
        assert!(list.status.success(), "stderr: {}", stderr(&list));
        // The "Providers:" list; not the doc comment of hello's arguments struct.
        assert!(
            stdout(&list).contains(&format!("  hello  {about}\n")),
            "{command} --help:\n{}",
            stdout(&list)
        );
        let own = hello_vfs(&[command, "hello", "--help"]);
        assert!(own.status.success(), "stderr: {}", stderr(&own));
        assert!(
            stdout(&own).starts_with(&format!("{about}\n")),
            "{command} hello --help:\n{}",
            stdout(&own)
        );
        assert!(
            !stdout(&own).contains("The provider's own arguments"),
            "{command} hello --help:\n{}",
            stdout(&own)
        );
    }
}

#[test]
fn tree_prints_every_node_with_its_time_and_kind() {
    let output = hello_vfs(&[
        "tree",
        "hello",
        "--greeting",
        "Hi there",
        "--time",
        "1700000000.000000042",
    ]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let time = "2023-11-14T22:13:20.000000042Z";
    let expected: String = [
        "dir  /",
        "file /greeting.txt",
        "dir  /words",
        "file /words/1",
        "file /words/2",
        "dir  /ticks",
        "file /ticks/count",
        "link /latest -> greeting.txt",
    ]
    .iter()
    .map(|rest| format!("{time} {rest}\n"))
    .collect();
    assert_eq!(stdout(&output), expected);
}

#[test]
fn tree_needs_no_mountpoint_and_refuses_a_stray_argument() {
    let without = hello_vfs(&["tree", "hello", "--time", "0"]);
    assert!(without.status.success(), "stderr: {}", stderr(&without));
    // A word `tree` has no use for is an error, not a mountpoint taken silently (issue 13).
    let with = hello_vfs(&["tree", "hello", "--time", "0", "/nonexistent/mnt"]);
    assert_eq!(with.status.code(), Some(2), "stderr: {}", stderr(&with));
    assert!(
        stderr(&with).contains("/nonexistent/mnt"),
        "{}",
        stderr(&with)
    );
    assert!(!std::path::Path::new("/nonexistent/mnt").exists());
}

#[test]
fn an_unknown_provider_is_one_line_naming_the_known_ones() {
    for command in ["mount", "tree"] {
        let output = hello_vfs(&[command, "nosuch", "/tmp/never-mounted"]);
        assert_one_error_line(
            &output,
            2,
            "no such provider: nosuch (known providers: hello)",
        );
    }
}

#[test]
fn mount_without_a_mountpoint_is_one_line() {
    let output = hello_vfs(&["mount", "hello", "--greeting", "hi"]);
    assert_one_error_line(
        &output,
        2,
        "hello: no mountpoint given (see `hello-vfs mount hello --help`)",
    );
}

#[test]
fn a_regular_file_as_mountpoint_is_one_line_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let file_text = file.to_str().unwrap();
    for daemon in [false, true] {
        let mut args = vec!["mount"];
        if daemon {
            args.push("-d");
        }
        args.extend(["hello", file_text]);
        let output = hello_vfs(&args);
        assert_one_error_line(
            &output,
            1,
            &format!("mountpoint {file_text} is not a directory"),
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}

#[test]
fn a_start_error_says_its_os_error_once() {
    let expected = "hello: cannot start: reading the --poll folder: \
                    No such file or directory (os error 2)";
    let tree = hello_vfs(&["tree", "hello", "--poll", "/nonexistent/polled"]);
    assert_one_error_line(&tree, 1, expected);
    // `mount` starts the provider once it knows FUSE is there (else it says that instead).
    if !vfs_testkit::env::fuse_available() {
        return;
    }
    let mountpoint = tempfile::tempdir().unwrap();
    let mountpoint = mountpoint.path().to_str().unwrap();
    for daemon in [false, true] {
        let mut args = vec!["mount"];
        if daemon {
            args.push("-d");
        }
        args.extend(["hello", "--poll", "/nonexistent/polled", mountpoint]);
        // Refused at `start`, before anything is mounted.
        assert_one_error_line(&hello_vfs(&args), 1, expected);
    }
}

#[test]
fn bad_option_values_are_usage_errors_without_a_panic() {
    for args in [
        &["--ttl", "soon", "tree", "hello"][..],
        &["tree", "hello", "--tick", "0"],
        &["tree", "hello", "--time", "yesterday"],
        &["bogus"],
    ] {
        let output = hello_vfs(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = stderr(&output);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
