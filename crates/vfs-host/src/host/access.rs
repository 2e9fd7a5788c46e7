//! `access(2)`: the permission bits, and never writing.

use crate::attrs::{Attributes, EntryKind};

use super::{Errno, Host};

impl Host {
    /// `access(2)` for a caller: writing is never allowed; reading and searching follow the
    /// permission bits (root may read anything, and execute what has an x bit).
    pub(crate) fn check_access(
        attrs: &Attributes,
        uid: u32,
        gid: u32,
        mask: i32,
    ) -> Result<(), Errno> {
        if mask & libc::W_OK != 0 {
            return Err(libc::EROFS);
        }
        let wanted = ((mask & (libc::R_OK | libc::X_OK)) as u16) & 0o7;
        if wanted == 0 {
            return Ok(());
        }
        let granted = if uid == 0 {
            let any_x = if attrs.perm & 0o111 != 0 || attrs.kind == EntryKind::Directory {
                0o1
            } else {
                0
            };
            0o4 | any_x
        } else if uid == attrs.uid {
            (attrs.perm >> 6) & 0o7
        } else if gid == attrs.gid {
            (attrs.perm >> 3) & 0o7
        } else {
            attrs.perm & 0o7
        };
        if granted & wanted == wanted {
            Ok(())
        } else {
            Err(libc::EACCES)
        }
    }
}
