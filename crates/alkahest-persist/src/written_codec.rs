//! The byte form of written forms (`alkahest_core::Written`): the body of
//! a pool file's `WRITTEN` section (docs/persistence-format.md). Leaves are
//! referred to by position in a list the caller stores itself (as roots of
//! the same file), so the canonical expressions are written once.

use alkahest_core::{ExprId, Written, WrittenOp, WrittenView};
use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::wire::{Reader, put_varint};

/// Encode `roots` over `leaves` (which must hold every leaf, e.g.
/// [`Written::leaves`]).
pub(crate) fn encode(roots: &[Written], leaves: &[ExprId]) -> Result<Vec<u8>> {
    let leaf_index: HashMap<ExprId, usize> =
        leaves.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    let order = Written::post_order(roots);
    let index: HashMap<*const (), usize> = order
        .iter()
        .enumerate()
        .map(|(i, w)| (w.identity(), i))
        .collect();
    let mut out = Vec::new();
    put_varint(&mut out, order.len() as u64);
    for w in &order {
        match w.view() {
            WrittenView::Expr(id) => {
                let i = leaf_index.get(&id).ok_or(Error::UnknownId(id.0))?;
                out.push(0);
                put_varint(&mut out, *i as u64);
            }
            WrittenView::Op(op, args) => {
                let (tag, arg) = op.code();
                out.extend_from_slice(&[tag, arg]);
                for a in args {
                    put_varint(&mut out, index[&a.identity()] as u64);
                }
            }
        }
    }
    put_varint(&mut out, roots.len() as u64);
    for r in roots {
        put_varint(&mut out, index[&r.identity()] as u64);
    }
    Ok(out)
}

/// Decode what [`encode`] made, over the same `leaves`; `base` is the
/// section's offset in the file (for error messages). Malformed bytes are
/// an [`Error::Malformed`], never a panic.
pub(crate) fn decode(bytes: &[u8], base: usize, leaves: &[ExprId]) -> Result<Vec<Written>> {
    let mut r = Reader::new(bytes, base);
    let n = r.varint()?;
    // Every step takes at least two bytes.
    if n > r.remaining() as u64 {
        return Err(r.malformed("more written steps than bytes"));
    }
    let mut steps: Vec<Written> = Vec::with_capacity(n as usize);
    let step = |r: &mut Reader<'_>, steps: &[Written]| -> Result<Written> {
        let i = r.varint()?;
        steps
            .get(i as usize)
            .cloned()
            .ok_or_else(|| r.malformed("written step refers forward or out of range"))
    };
    for _ in 0..n {
        let tag = r.u8()?;
        if tag == 0 {
            let i = r.varint()?;
            let id = *leaves
                .get(i as usize)
                .ok_or_else(|| r.malformed("written leaf out of range"))?;
            steps.push(Written::expr(id));
            continue;
        }
        let arg = r.u8()?;
        let op = WrittenOp::from_code(tag, arg)
            .ok_or_else(|| r.malformed("unknown written operation"))?;
        let args = (0..op.arity())
            .map(|_| step(&mut r, &steps))
            .collect::<Result<Vec<_>>>()?;
        steps.push(Written::step(op, args));
    }
    let m = r.varint()?;
    if m > r.remaining() as u64 {
        return Err(r.malformed("more written roots than bytes"));
    }
    let roots = (0..m)
        .map(|_| step(&mut r, &steps))
        .collect::<Result<Vec<_>>>()?;
    if r.remaining() != 0 {
        return Err(r.malformed("bytes after the written forms"));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use alkahest_core::ExprPool;

    use super::*;

    #[test]
    fn written_forms_survive_encoding_and_damage_is_an_error() {
        let p = ExprPool::new();
        let (x, y, z) = (
            p.symbol("x").unwrap(),
            p.symbol("y").unwrap(),
            p.symbol("z").unwrap(),
        );
        let xy = p.add(&[x, y]).unwrap();
        let yz = p.add(&[y, z]).unwrap();
        let left = Written::step(WrittenOp::Add, vec![Written::expr(xy), Written::expr(z)]);
        let right = Written::step(WrittenOp::Add, vec![Written::expr(x), Written::expr(yz)]);
        let roots = [left, right];
        let k = Written::content_keys(&p, &roots).unwrap();
        let leaves = Written::leaves(&roots);
        let bytes = encode(&roots, &leaves).unwrap();
        let back = decode(&bytes, 0, &leaves).unwrap();
        assert_eq!(Written::content_keys(&p, &back).unwrap(), k);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], 0, &leaves).is_err());
        }
        assert!(decode(&[1, 3, 0, 5, 5], 0, &leaves).is_err());
    }
}
