//! GPU architecture names (`sm_XY`).
//!
//! PTX emitted for `sm_XY` runs on every GPU of compute capability X.Y or
//! newer (the driver JIT-compiles it), except the `a` variants (`sm_90a`),
//! which run only on exactly that architecture.

use crate::error::{Error, Result};

/// The architecture used when no device is present to ask (Ampere, the
/// spec's reference GPU).
pub const DEFAULT_ARCH: &str = "sm_86";

/// Every architecture LLVM 19's NVPTX backend can target that supports
/// double precision and libdevice, oldest first.
pub const SUPPORTED_ARCHS: &[&str] = &[
    "sm_30", "sm_32", "sm_35", "sm_37", "sm_50", "sm_52", "sm_53", "sm_60", "sm_61", "sm_62",
    "sm_70", "sm_72", "sm_75", "sm_80", "sm_86", "sm_87", "sm_89", "sm_90", "sm_90a",
];

/// Check an architecture string; returns it unchanged when LLVM can target it.
pub fn validate_arch(arch: &str) -> Result<&str> {
    if SUPPORTED_ARCHS.contains(&arch) {
        Ok(arch)
    } else {
        Err(Error::InvalidArch {
            arch: arch.to_owned(),
            supported: SUPPORTED_ARCHS.join(", "),
        })
    }
}

/// `(major, minor)` of an `sm_XY` / `sm_XYa` name.
pub(crate) fn capability_of(arch: &str) -> Option<(u32, u32)> {
    let digits = arch.strip_prefix("sm_")?.trim_end_matches('a');
    let n: u32 = digits.parse().ok()?;
    Some((n / 10, n % 10))
}

/// The best architecture to compile for on a device of compute capability
/// `major.minor`: the newest portable (non-`a`) one not newer than the device.
/// Newer GPUs than LLVM 19 knows (Blackwell) get `sm_90`, whose PTX the
/// driver JIT-compiles for them. `None` for devices older than `sm_30`.
pub fn arch_for_capability(major: u32, minor: u32) -> Option<&'static str> {
    SUPPORTED_ARCHS
        .iter()
        .copied()
        .rfind(|a| !a.ends_with('a') && capability_of(a).is_some_and(|cc| cc <= (major, minor)))
}

/// Whether PTX compiled for `arch` can be loaded on a device of compute
/// capability `major.minor`.
pub(crate) fn runs_on(arch: &str, major: u32, minor: u32) -> bool {
    match capability_of(arch) {
        Some(cc) if arch.ends_with('a') => cc == (major, minor),
        Some(cc) => cc <= (major, minor),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert_eq!(validate_arch("sm_86").unwrap(), "sm_86");
        assert_eq!(validate_arch("sm_90a").unwrap(), "sm_90a");
        for bad in [
            "",
            "sm86",
            "sm_",
            "sm_8x",
            "compute_86",
            "sm_100",
            "sm_20",
            "SM_86",
        ] {
            assert!(
                matches!(validate_arch(bad), Err(Error::InvalidArch { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn capability_mapping() {
        assert_eq!(arch_for_capability(8, 6), Some("sm_86"));
        assert_eq!(arch_for_capability(8, 8), Some("sm_87"));
        assert_eq!(arch_for_capability(9, 0), Some("sm_90"));
        assert_eq!(arch_for_capability(10, 0), Some("sm_90"));
        assert_eq!(arch_for_capability(12, 0), Some("sm_90"));
        assert_eq!(arch_for_capability(7, 1), Some("sm_70"));
        assert_eq!(arch_for_capability(2, 1), None);
        assert!(runs_on("sm_86", 9, 0));
        assert!(!runs_on("sm_90", 8, 6));
        assert!(runs_on("sm_90a", 9, 0));
        assert!(!runs_on("sm_90a", 10, 0));
    }
}
