//! `find_libdevice` and `ALKAHEST_LIBDEVICE` (one test in its own binary:
//! it changes the process environment).

mod common;

use alkahest_cuda::{Error, LIBDEVICE_ENV, find_libdevice};

#[test]
fn search_order_and_override() {
    // SAFETY: the only test of this binary; nothing else reads the
    // environment concurrently.
    unsafe { std::env::set_var(LIBDEVICE_ENV, "/nonexistent/libdevice.10.bc") };
    match find_libdevice(&common::site_dirs()) {
        Err(Error::NoLibdevice { searched }) => {
            assert_eq!(
                searched,
                [std::path::PathBuf::from("/nonexistent/libdevice.10.bc")]
            );
        }
        other => panic!("a wrong override must be an error, got {other:?}"),
    }

    // A site-packages directory without the wheel is searched and reported.
    unsafe { std::env::remove_var(LIBDEVICE_ENV) };
    let empty = std::env::temp_dir().join(format!("alkahest-empty-site-{}", std::process::id()));
    if let Err(Error::NoLibdevice { searched }) = find_libdevice(std::slice::from_ref(&empty)) {
        assert!(searched[0].starts_with(&empty), "{searched:?}");
        assert!(searched[0].ends_with("nvidia/cuda_nvcc/nvvm/libdevice/libdevice.10.bc"));
    }

    let Some(real) = common::libdevice() else {
        eprintln!("SKIPPED rest of search_order_and_override: no libdevice installed");
        return;
    };
    // The override accepts the file or its directory.
    unsafe { std::env::set_var(LIBDEVICE_ENV, real.parent().unwrap()) };
    assert_eq!(find_libdevice(&[]).unwrap(), real);
    unsafe { std::env::set_var(LIBDEVICE_ENV, &real) };
    assert_eq!(find_libdevice(&[]).unwrap(), real);
    unsafe { std::env::remove_var(LIBDEVICE_ENV) };
}
