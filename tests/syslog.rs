//! `--syslog`: a warning goes to the system log (syslog(3) writes to /dev/log, which journald
//! reads), not to stderr. The test owns a datagram socket and makes it the /dev/log of a private
//! mount namespace (`unshare -m`, a tmpfs over /dev with /dev/null and that socket), so nothing
//! of the machine's own logging is touched.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use common::{in_ci, vfs_binary};

#[test]
fn a_warning_goes_to_the_system_log_with_syslog() {
    let unshare = Command::new("unshare").arg("--version").output();
    if !unshare.is_ok_and(|output| output.status.success()) {
        assert!(!in_ci(), "CI=true but unshare is missing");
        eprintln!("skipped: unshare is missing");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    std::fs::create_dir(&source).unwrap();
    // Not YAML: one "kept as a plain file" warning.
    std::fs::write(source.join("broken.yml"), "a: [1,\n").unwrap();
    let socket_path = work.path().join("log.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let script = "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && touch /dev/log \
                  && mount --bind \"$1\" /dev/log && exec \"$2\" --syslog tree gitconfig \"$3\"";
    let output = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&socket_path)
        .arg(vfs_binary())
        .arg(&source)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let mut logged = Vec::new();
    let mut buffer = [0u8; 8192];
    while let Ok(length) = socket.recv(&mut buffer) {
        let message = String::from_utf8_lossy(&buffer[..length]).into_owned();
        let done = message.contains("kept as a plain file");
        logged.push(message);
        if done {
            break;
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }
    let warning = logged
        .iter()
        .find(|message| message.contains("kept as a plain file"))
        .unwrap_or_else(|| panic!("no warning in the system log: {logged:?}; stderr: {stderr}"));
    assert!(
        warning.contains("vfs"),
        "tagged with the program's name: {warning}"
    );
    assert!(warning.contains("broken.yml"), "{warning}");
    assert!(
        !stderr.contains("kept as a plain file"),
        "the warning went to stderr too: {stderr}"
    );
    // The tree itself is printed as without --syslog.
    assert!(String::from_utf8_lossy(&output.stdout).contains("broken.yml"));
}
