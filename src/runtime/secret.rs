//! The ISN and timestamp secret shared by every utcp process of a user.
//!
//! Linux keys every connection's ISN and timestamp offset with one secret
//! per boot, so a new connection on a reused 4-tuple starts above the old
//! one wherever it was opened, and a peer still in TIME-WAIT takes its SYN
//! (RFC 6191). utcp processes get the same by sharing a secret through a
//! file on the per-boot tmpfs, readable only by the user who made it:
//! `/dev/shm/utcp-UID.secret`, 16 random bytes. A file that is not ours,
//! not private or not 16 bytes long is never used (another user could
//! have planted it to learn our ISNs); the process then keys its own.

use std::ffi::CString;

use crate::sys;

const LEN: usize = 16;

/// The user's secret, made on first use; `None` when it cannot be had
/// safely (the stack then draws its own from entropy).
pub fn host_secret() -> Option<[u8; LEN]> {
    // SAFETY: geteuid and getpid take no arguments and cannot fail.
    let (uid, pid) = unsafe { (libc::geteuid(), libc::getpid()) };
    let path = CString::new(format!("/dev/shm/utcp-{uid}.secret")).ok()?;
    // Twice: a second process may create it between our read and our link.
    for _ in 0..2 {
        if let Some(s) = read(&path, uid) {
            return Some(s);
        }
        // Written whole under a private name, then linked into place, so
        // nobody reads a half-written secret.
        let tmp = CString::new(format!("/dev/shm/utcp-{uid}.secret.{pid}")).ok()?;
        let fd = sys::create_excl(&tmp, 0o600).ok()?;
        let mut s = [0u8; LEN];
        s[..8].copy_from_slice(&super::entropy().to_ne_bytes());
        s[8..].copy_from_slice(&super::entropy().to_ne_bytes());
        let written = sys::write(fd, &s) == Ok(LEN);
        let _ = sys::close(fd);
        let linked = written && sys::link(&tmp, &path).is_ok();
        let _ = sys::unlink(&tmp);
        if linked {
            return Some(s);
        }
    }
    None
}

/// The secret in `path` if it is a regular file of `uid`'s that no one
/// else can read or write, of exactly LEN bytes.
fn read(path: &CString, uid: libc::uid_t) -> Option<[u8; LEN]> {
    let fd = sys::open(path, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC).ok()?;
    let ok = sys::fstat(fd).is_ok_and(|st| {
        st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_uid == uid && st.st_mode & 0o077 == 0 && st.st_size == LEN as i64
    });
    let mut s = [0u8; LEN];
    let got = ok && sys::read(fd, &mut s) == Ok(LEN);
    let _ = sys::close(fd);
    got.then_some(s)
}
