//! Whether a user other than root may mount with `allow_other`: fusermount3 allows it only
//! when /etc/fuse.conf has a line `user_allow_other`. Checked before mounting, so the refusal
//! names the fix instead of fusermount3's message arriving after the provider started.

use std::path::Path;

pub const FUSE_CONF: &str = "/etc/fuse.conf";

/// As fusermount3 reads the file: a line that is `user_allow_other` once blanks around it are
/// cut; lines starting with `#` are comments.
pub fn allows_other(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|line| !line.starts_with('#') && line == "user_allow_other")
}

/// `Err` with the reason when `allow_other` will be refused for this user.
pub fn check_allow_other(path: &Path) -> Result<(), String> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if allows_other(&text) {
        Ok(())
    } else {
        Err(format!(
            "--allow-other (allow_other) is refused to users other than root unless {} has a \
             line `user_allow_other` (root adds it); without it the mount stays private to you",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_uncommented_line_of_its_own_allows_it() {
        assert!(allows_other(
            "# comment\n  user_allow_other  \nmount_max = 10\n"
        ));
        assert!(!allows_other("#user_allow_other\n"));
        assert!(!allows_other("user_allow_other_not\n"));
        assert!(!allows_other(""));
    }
}
