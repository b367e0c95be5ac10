//! The dialect definition and the MLIR context every entry point works in.

use std::sync::{Arc, Mutex};

use melior::Context;
use melior::dialect::{DialectHandle, DialectRegistry};
use melior::ir::attribute::AttributeLike;
use melior::ir::{Attribute, Module};

use crate::error::{Error, Result};

const IRDL: &str = include_str!("alkahest.irdl.mlir");

/// The IRDL definition of the `alkahest` dialect (MLIR 19 syntax).
///
/// External tools verify emitted modules with it:
/// `mlir-opt-19 --irdl-file=alkahest.irdl.mlir module.mlir`. Each op's
/// operands, attributes and semantics are documented in its comments.
pub fn dialect_irdl() -> &'static str {
    IRDL
}

/// Diagnostics collected from a context, so errors carry MLIR's own words.
/// (`Arc`/`Mutex`: the context, which owns a clone through its handler,
/// may be dropped on another thread inside a compiled function.)
#[derive(Clone, Default)]
pub(crate) struct Diags(Arc<Mutex<Vec<String>>>);

impl Diags {
    /// Take everything reported so far.
    pub(crate) fn take(&self) -> String {
        let v = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if v.is_empty() {
            "no diagnostic reported".to_string()
        } else {
            v.join("\n")
        }
    }

    /// An [`Error::Mlir`] for `stage` holding the diagnostics so far.
    pub(crate) fn error(&self, stage: &'static str) -> Error {
        Error::Mlir {
            stage,
            diagnostics: self.take(),
        }
    }
}

/// A context with exactly the dialects this crate uses (func, arith, math,
/// llvm, irdl): registering every dialect would link all of MLIR in.
/// `unregistered` allows ops of unknown dialects (StableHLO, CHLO).
pub(crate) fn new_context(unregistered: bool) -> (Context, Diags) {
    let registry = DialectRegistry::new();
    // SAFETY: the handle getters are plain C functions returning static
    // dialect descriptors; they have no preconditions.
    let handles = unsafe {
        [
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__arith__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__math__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__irdl__()),
        ]
    };
    for h in handles
        .into_iter()
        .chain([DialectHandle::func(), DialectHandle::llvm()])
    {
        h.insert_dialect(&registry);
    }
    let context = Context::new();
    // Modules here are single functions: a thread pool per context would
    // cost more than it saves (and the machines have few cores).
    context.enable_multi_threading(false);
    context.append_dialect_registry(&registry);
    context.load_all_available_dialects();
    context.set_allow_unregistered_dialects(unregistered);
    let diags = Diags::default();
    let sink = diags.clone();
    context.attach_diagnostic_handler(move |d| {
        sink.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(d.to_string());
        true
    });
    (context, diags)
}

/// Parse the IRDL definition and register the `alkahest` dialect in
/// `context`. The returned module must outlive every use of the dialect.
pub(crate) fn load_dialect<'c>(context: &'c Context, diags: &Diags) -> Result<Module<'c>> {
    let module = Module::parse(context, IRDL).ok_or_else(|| diags.error("IRDL parse"))?;
    if !melior::utility::load_irdl_dialects(&module) {
        return Err(diags.error("IRDL dialect loading"));
    }
    Ok(module)
}

/// `array<f64: ...>` (melior 0.22 has no wrapper for dense f64 arrays).
pub(crate) fn f64_array<'c>(context: &'c Context, values: &[f64]) -> Attribute<'c> {
    // SAFETY: the context is alive for 'c, and the pointer/length pair
    // describes `values`, which MLIR copies before returning.
    unsafe {
        Attribute::from_raw(mlir_sys::mlirDenseF64ArrayGet(
            context.to_raw(),
            values.len() as isize,
            values.as_ptr(),
        ))
    }
}

/// Read an `array<f64: ...>` attribute back; `None` for any other attribute.
pub(crate) fn read_f64_array(attr: Attribute<'_>) -> Option<Vec<f64>> {
    let raw = attr.to_raw();
    // SAFETY: `raw` is a live attribute; the element getters are only called
    // after checking it is a dense f64 array, with indices below its length.
    unsafe {
        if !mlir_sys::mlirAttributeIsADenseF64Array(raw) {
            return None;
        }
        let n = mlir_sys::mlirDenseArrayGetNumElements(raw);
        Some(
            (0..n)
                .map(|i| mlir_sys::mlirDenseF64ArrayGetElement(raw, i))
                .collect(),
        )
    }
}

/// Check a user-facing function name against MLIR's bare symbol syntax
/// (`[A-Za-z_][A-Za-z0-9_$.]*`) and the names this crate reserves.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidName {
            name: name.to_string(),
            why,
        })
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return bad("empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return bad("must start with a letter or '_'");
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.')) {
        return bad("only letters, digits, '_', '$' and '.' are allowed");
    }
    if crate::funcs::is_reserved(name) {
        return bad("reserved: it names a libm function the module declares");
    }
    Ok(())
}
