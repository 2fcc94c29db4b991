//! Files.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The permission bits (`0o777` part of the mode) of `path`; panics, naming the path, when it
/// cannot be read.
pub fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[cfg(test)]
mod tests {
    use super::mode_of;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn mode_of_reads_the_permission_bits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        assert_eq!(mode_of(&file), 0o640);
    }
}
