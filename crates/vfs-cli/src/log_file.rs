//! Where a background mount logs when `--log-file` is not given: one file per mountpoint in
//! the state folder vfs already uses (GitConfigFS keeps its served sections there), or in
//! `/var/log/vfs` for root, whose mounts start at boot without a HOME. Files are appended to;
//! rotating them is left to logrotate (`copytruncate`, as the file stays open).

use std::path::{Path, PathBuf};

/// `$VFS_STATE_DIR/log`, else `/var/log/vfs` for root, else `$XDG_STATE_HOME/vfs/log`, else
/// `~/.local/state/vfs/log`. `None` when none can be named (no HOME).
pub fn default_dir(env: &dyn Fn(&str) -> Option<String>, is_root: bool) -> Option<PathBuf> {
    let set = |key: &str| {
        env(key)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    if let Some(state) = set("VFS_STATE_DIR") {
        return Some(state.join("log"));
    }
    if is_root {
        return Some(PathBuf::from("/var/log/vfs"));
    }
    set("XDG_STATE_HOME")
        .map(|state| state.join("vfs"))
        .or_else(|| set("HOME").map(|home| home.join(".local/state/vfs")))
        .map(|state| state.join("log"))
}

/// The file name of `mountpoint`'s log, after systemd's path escaping: `/mnt/d` is
/// `mnt-d.log`; a `-` or any byte but ASCII letters, digits, `_` and `.` is `\xNN`, so two
/// mountpoints never share a file.
pub fn file_name(mountpoint: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let bytes = mountpoint.as_os_str().as_bytes();
    let trimmed = bytes.strip_prefix(b"/").unwrap_or(bytes);
    let trimmed = trimmed.strip_suffix(b"/").unwrap_or(trimmed);
    if trimmed.is_empty() {
        return "-.log".to_owned();
    }
    let mut name = String::new();
    for (index, &byte) in trimmed.iter().enumerate() {
        match byte {
            b'/' => name.push('-'),
            b'.' if index == 0 => name.push_str("\\x2e"),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => name.push(char::from(byte)),
            other => name.push_str(&format!("\\x{other:02x}")),
        }
    }
    name.push_str(".log");
    name
}

/// The default log file of a background mount at `mountpoint` (absolute) in this process's
/// environment.
pub fn default_for(mountpoint: &Path) -> Option<PathBuf> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let is_root = unsafe { libc::geteuid() } == 0;
    default_dir(&|key| std::env::var(key).ok(), is_root).map(|dir| dir.join(file_name(mountpoint)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            pairs
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn the_state_folder_convention_is_followed() {
        let all = [
            ("VFS_STATE_DIR", "/s"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(default_dir(&env(&all), false), Some("/s/log".into()));
        assert_eq!(
            default_dir(&env(&all[1..]), true),
            Some("/var/log/vfs".into())
        );
        assert_eq!(
            default_dir(&env(&all[1..]), false),
            Some("/x/vfs/log".into())
        );
        assert_eq!(
            default_dir(&env(&all[2..]), false),
            Some("/h/.local/state/vfs/log".into())
        );
        assert_eq!(default_dir(&env(&[]), false), None);
    }

    #[test]
    fn mountpoints_are_escaped_as_systemd_does() {
        assert_eq!(file_name(Path::new("/mnt/d")), "mnt-d.log");
        assert_eq!(
            file_name(Path::new("/srv/my-app/.dockerfs")),
            "srv-my\\x2dapp-.dockerfs.log"
        );
        assert_eq!(file_name(Path::new("/.hidden")), "\\x2ehidden.log");
        assert_eq!(file_name(Path::new("/a b")), "a\\x20b.log");
        assert_eq!(file_name(Path::new("/")), "-.log");
    }
}
