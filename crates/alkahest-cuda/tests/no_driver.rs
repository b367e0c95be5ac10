//! The no-driver path, forced even on a GPU machine: `ALKAHEST_CUDA_DRIVER`
//! names a library that does not exist, so the probe fails before cudarc is
//! touched. Every device call must return `Error::NoDriver` and the process
//! must carry on. (One test in its own binary: the probe runs once per
//! process.)

use std::path::Path;

use alkahest_cuda::{CudaFn, DRIVER_ENV, Error, device_available, device_info};
use alkahest_tape::{Op, Tape, UnaryFn};

#[test]
fn missing_driver_is_a_typed_error_not_an_abort() {
    // SAFETY: this binary's only test sets the variable before any other
    // code of the process reads the environment.
    unsafe { std::env::set_var(DRIVER_ENV, "/nonexistent/libcuda.so.1") };

    let err = device_available().unwrap_err();
    assert!(matches!(err, Error::NoDriver(_)), "{err}");
    assert!(err.to_string().contains("no CUDA driver"), "{err}");
    assert!(matches!(device_info(1), Err(Error::NoDriver(_))));

    // Compiling needs no driver: the default architecture is used.
    let tape = Tape::new(1, vec![Op::Input(0), Op::Unary(UnaryFn::Abs, 0)], vec![1]).unwrap();
    let f = CudaFn::new(&tape, None, Path::new("/nonexistent")).unwrap();
    assert_eq!(f.arch(), alkahest_cuda::DEFAULT_ARCH);
    assert!(f.ptx().contains(".entry alkahest_kernel"));

    let xs = [1.0, -2.0];
    assert!(matches!(f.call_batch(&[&xs]), Err(Error::NoDriver(_))));
    let mut out = [0.0; 2];
    assert!(matches!(
        f.call_batch_into(&[&xs], &mut out),
        Err(Error::NoDriver(_))
    ));
    // SAFETY: the driver probe fails before any pointer is used.
    let r = unsafe { f.call_device(&[0x1000], 0x2000, 2, None) };
    assert!(matches!(r, Err(Error::NoDriver(_))), "{r:?}");
    // Several outputs: the same typed error from the m-output calls.
    let two = Tape::new(1, vec![Op::Input(0), Op::Neg(0)], vec![1, 0]).unwrap();
    let g = CudaFn::new(&two, None, Path::new("/nonexistent")).unwrap();
    assert_eq!(g.n_outputs(), 2);
    assert!(matches!(g.call_batch_many(&[&xs]), Err(Error::NoDriver(_))));
    let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
    assert!(matches!(
        g.call_batch_many_into(&[&xs], &mut [&mut a, &mut b]),
        Err(Error::NoDriver(_))
    ));
    // SAFETY: the driver probe fails before any pointer is used.
    let r = unsafe { g.call_device_many(&[0x1000], &[0x2000, 0x3000], 2, None) };
    assert!(matches!(r, Err(Error::NoDriver(_))), "{r:?}");
    assert!(matches!(
        g.call_batch(&[&xs]),
        Err(Error::Kernel(alkahest_tape::Error::Outputs {
            expected: 2,
            got: 1
        }))
    ));
    // Argument errors are still reported first.
    assert!(matches!(
        f.call_batch(&[&xs, &xs]),
        Err(Error::Kernel(alkahest_tape::Error::Arity { .. }))
    ));
}
