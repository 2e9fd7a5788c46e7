//! mount(8) and /etc/fstab: `mount -t fuse.vfs docker DIR -o allow_other,ttl=2s` and an fstab
//! line of type `fuse.vfs` mount through the helper `/sbin/mount.fuse.vfs` (the vfs binary
//! under that name), and `vfs mount … -o …` takes the same options.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{docker_available, fuse_available, in_ci, is_mounted, vfs_binary, EngineLock};
use vfs_testkit::mounts::UnmountGuard;

/// Where mount(8) looks for the helper of type `fuse.vfs` (a fixed search path: /sbin).
const HELPER: &str = "/sbin/mount.fuse.vfs";

/// Installs the binary under test as the helper; puts back whatever was there on drop.
struct HelperInstalled {
    previous: Option<PathBuf>,
}

impl HelperInstalled {
    fn install() -> HelperInstalled {
        let previous = std::fs::read_link(HELPER).ok();
        let _ = std::fs::remove_file(HELPER);
        std::os::unix::fs::symlink(vfs_binary(), HELPER).expect("install the mount helper");
        HelperInstalled { previous }
    }
}

impl Drop for HelperInstalled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(HELPER);
        if let Some(previous) = &self.previous {
            let _ = std::os::unix::fs::symlink(previous, HELPER);
        }
    }
}

fn ready() -> bool {
    let have_mount = Command::new("mount").arg("--version").output().is_ok();
    if in_ci() {
        assert!(have_mount, "mount(8) is missing");
    }
    have_mount && fuse_available() && docker_available()
}

/// The options the kernel shows for the mount at `path` (from /proc/self/mountinfo).
fn mount_options(path: &Path) -> String {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let target = path.display().to_string();
    table
        .lines()
        .rfind(|line| line.split(' ').nth(4) == Some(target.as_str()))
        .unwrap_or_default()
        .to_owned()
}

fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn unmount(path: &Path) {
    let output = Command::new("umount").arg(path).output().unwrap();
    succeeded("umount", &output);
    assert!(!is_mounted(path));
}

#[test]
fn mount_t_fuse_vfs_and_an_fstab_line_mount_docker() {
    if !ready() {
        return;
    }
    let _engine = EngineLock::shared();
    let _helper = HelperInstalled::install();
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("d");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = UnmountGuard(mnt.clone());
    let state = work.path().join("state");

    let output = Command::new("mount")
        .args(["-t", "fuse.vfs", "docker"])
        .arg(&mnt)
        .args(["-o", "allow_other,ttl=2s"])
        .env("VFS_STATE_DIR", &state)
        .output()
        .unwrap();
    succeeded("mount -t fuse.vfs", &output);
    assert!(is_mounted(&mnt));
    let options = mount_options(&mnt);
    assert!(options.contains("allow_other"), "{options}");
    assert!(
        options.contains("fuse.vfs") || options.contains("vfs-docker"),
        "{options}"
    );
    assert!(mnt.join("networks/bridge").exists());
    unmount(&mnt);

    let fstab = work.path().join("fstab");
    std::fs::write(
        &fstab,
        format!(
            "# a throwaway fstab\ndocker {} fuse.vfs defaults,_netdev,x-systemd.requires=docker.service 0 0\n",
            mnt.display()
        ),
    )
    .unwrap();
    let output = Command::new("mount")
        .arg("--fstab")
        .arg(&fstab)
        .arg(&mnt)
        .env("VFS_STATE_DIR", &state)
        .output()
        .unwrap();
    succeeded("mount --fstab", &output);
    assert!(is_mounted(&mnt));
    assert!(!mount_options(&mnt).contains("allow_other"));
    assert!(mnt.join("networks/bridge").exists());
    unmount(&mnt);
}

#[test]
fn vfs_mount_takes_o_options() {
    if !fuse_available() || !docker_available() {
        return;
    }
    let _engine = EngineLock::shared();
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("d");
    std::fs::create_dir(&mnt).unwrap();
    let mnt_text = mnt.display().to_string();
    let mount = common::VfsMount::start(
        &["mount", "docker", &mnt_text, "-o", "ro,allow_other,ttl=2s"],
        &mnt,
    );
    assert!(mount_options(&mnt).contains("allow_other"));
    drop(mount);
    let output = Command::new(vfs_binary())
        .args(["mount", "docker", &mnt_text, "-o", "allow_others"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("unknown mount option: allow_others"),
        "{said}"
    );
    assert!(!is_mounted(&mnt));
}
