//! Shared helpers: a tiny parser from Python-like text into the pool.
#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func};

/// Parse `src` (numbers, names, + - * / **, unary minus, calls) into `pool`.
/// An explicit operator/operand stack (shunting-yard), no recursion.
pub fn parse(pool: &ExprPool, src: &str) -> ExprId {
    #[derive(Clone, Debug, PartialEq)]
    enum Tok {
        Num(String),
        Name(String),
        Op(char),
        LParen,
        RParen,
        Comma,
    }
    let cs: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let s = i;
            while i < cs.len()
                && (cs[i].is_ascii_digit()
                    || cs[i] == '.'
                    || cs[i] == 'e'
                    || ((cs[i] == '-' || cs[i] == '+') && cs[i - 1] == 'e'))
            {
                i += 1;
            }
            toks.push(Tok::Num(cs[s..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let s = i;
            while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Name(cs[s..i].iter().collect()));
        } else if c == '*' && cs.get(i + 1) == Some(&'*') {
            toks.push(Tok::Op('^'));
            i += 2;
        } else {
            toks.push(match c {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                ',' => Tok::Comma,
                o => Tok::Op(o),
            });
            i += 1;
        }
    }
    // Operators: + - * / ^ and 'n' (unary minus), 'f' (call marker).
    let prec = |o: char| match o {
        '+' | '-' => 1,
        '*' | '/' => 2,
        'n' => 3,
        '^' => 4,
        _ => 0,
    };
    let mut out: Vec<ExprId> = Vec::new();
    let mut ops: Vec<(char, Option<String>, usize)> = Vec::new();
    let mut argc: Vec<usize> = Vec::new();
    let apply = |out: &mut Vec<ExprId>, o: char| {
        if o == 'n' {
            let a = out.pop().unwrap();
            let r = pool.neg(a).unwrap();
            out.push(r);
            return;
        }
        let b = out.pop().unwrap();
        let a = out.pop().unwrap();
        let r = match o {
            '+' => pool.add(&[a, b]),
            '-' => pool.sub(a, b),
            '*' => pool.mul(&[a, b]),
            '/' => pool.div(a, b),
            '^' => pool.pow(a, b),
            _ => panic!("op {o}"),
        }
        .unwrap();
        out.push(r);
    };
    let mut prev_operand = false;
    let mut k = 0;
    while k < toks.len() {
        match &toks[k] {
            Tok::Num(s) => {
                let id = if s.contains('.') || s.contains('e') {
                    pool.float(s.parse().unwrap()).unwrap()
                } else {
                    pool.integer(s.parse::<i64>().unwrap()).unwrap()
                };
                out.push(id);
                prev_operand = true;
            }
            Tok::Name(n) => {
                if toks.get(k + 1) == Some(&Tok::LParen) {
                    ops.push(('f', Some(n.clone()), out.len()));
                    argc.push(1);
                    ops.push(('(', None, 0));
                    k += 1;
                    prev_operand = false;
                } else {
                    out.push(pool.symbol(n).unwrap());
                    prev_operand = true;
                }
            }
            Tok::Op(o) => {
                let o = if *o == '-' && !prev_operand { 'n' } else { *o };
                if o == '+' && !prev_operand {
                    k += 1;
                    continue;
                }
                while let Some((top, _, _)) = ops.last() {
                    let t = *top;
                    if t == '(' || t == 'f' {
                        break;
                    }
                    let right = o == '^' || o == 'n';
                    if prec(t) > prec(o) || (prec(t) == prec(o) && !right) {
                        ops.pop();
                        apply(&mut out, t);
                    } else {
                        break;
                    }
                }
                ops.push((o, None, 0));
                prev_operand = false;
            }
            Tok::LParen => {
                ops.push(('(', None, 0));
                prev_operand = false;
            }
            Tok::Comma | Tok::RParen => {
                while let Some((top, _, _)) = ops.last() {
                    if *top == '(' {
                        break;
                    }
                    let t = ops.pop().unwrap().0;
                    apply(&mut out, t);
                }
                if toks[k] == Tok::Comma {
                    *argc.last_mut().unwrap() += 1;
                    prev_operand = false;
                } else {
                    ops.pop();
                    if let Some(('f', _, _)) = ops.last() {
                        let (_, name, _) = ops.pop().unwrap();
                        let n = argc.pop().unwrap();
                        let args = out.split_off(out.len() - n);
                        let name = name.unwrap();
                        let f = Func::ALL
                            .into_iter()
                            .find(|f| f.name().eq_ignore_ascii_case(&name))
                            .unwrap_or_else(|| panic!("fn {name}"));
                        out.push(pool.func(f, &args).unwrap());
                    }
                    prev_operand = true;
                }
            }
        }
        k += 1;
    }
    while let Some((t, _, _)) = ops.pop() {
        apply(&mut out, t);
    }
    assert_eq!(out.len(), 1, "parse {src}");
    out[0]
}

/// One step of a random DAG: an operation and operand picks (taken modulo
/// the number of nodes built so far).
#[derive(Clone, Debug)]
pub struct Step {
    pub op: u8,
    pub a: usize,
    pub b: usize,
    pub c: usize,
    pub k: i64,
}

/// Number of distinct [`Step::op`] values.
pub const OPS: u8 = 10;

pub fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    (
        0u8..OPS,
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        -9i64..9,
    )
        .prop_map(|(op, a, b, c, k)| Step { op, a, b, c, k })
}

/// The comparisons, for picking one by index.
pub const COMPARISONS: [Func; 6] = [Func::Lt, Func::Le, Func::Gt, Func::Ge, Func::Eq, Func::Ne];

/// A random condition over numbers `a`, `b`, `c`, `d`: a comparison of `a`
/// and `b` (`Lt` for `pick % 8 < 3`), sometimes negated or combined with a
/// second comparison by `And`/`Or`.
pub fn condition(pool: &ExprPool, pick: usize, [a, b, c, d]: [ExprId; 4]) -> ExprId {
    let cmp = if pick % 8 < 3 {
        Func::Lt
    } else {
        COMPARISONS[pick % COMPARISONS.len()]
    };
    let first = pool.func(cmp, &[a, b]).unwrap();
    match (pick / 8) % 4 {
        0 => first,
        1 => pool.func(Func::Not, &[first]).unwrap(),
        2 => {
            let second = pool.func(Func::Ge, &[c, d]).unwrap();
            pool.func(Func::And, &[first, second]).unwrap()
        }
        _ => {
            let second = pool.func(Func::Ne, &[d, a]).unwrap();
            pool.func(Func::Or, &[first, second]).unwrap()
        }
    }
}

/// A random DAG over `x`, `y`, `z` and small constants, built with the
/// canonical builders; returns every id built (all numbers: conditions
/// only appear inside `where`). Functions come from [`Func::numeric`]
/// (conditions cannot be applied to numbers); op 9 builds
/// `where(cond, c, d)` with `cond` mostly `Lt(a, b)` ([`condition`]).
pub fn random_dag(pool: &ExprPool, steps: &[Step]) -> Vec<ExprId> {
    let numeric: Vec<Func> = Func::numeric().collect();
    let mut ids = vec![
        pool.symbol("x").unwrap(),
        pool.symbol("y").unwrap(),
        pool.symbol("z").unwrap(),
        pool.integer(2).unwrap(),
        pool.rational(1, 3).unwrap(),
    ];
    for s in steps {
        let n = ids.len();
        let (a, b, c) = (ids[s.a % n], ids[s.b % n], ids[s.c % n]);
        let id = match s.op {
            0 => pool.add(&[a, b]),
            1 => pool.mul(&[a, b]),
            2 => pool.sub(a, b),
            3 => pool.div(a, b),
            4 => pool.integer(s.k % 4).and_then(|e| pool.pow(a, e)),
            5 | 6 => {
                let f = numeric[(s.b / 7).wrapping_add(s.c) % numeric.len()];
                pool.func(f, &[a, b, c][..f.arity()])
            }
            7 => pool.integer(s.k).and_then(|k| pool.mul(&[k, a])),
            8 => pool
                .float(0.25 * s.k as f64)
                .and_then(|k| pool.add(&[k, a])),
            _ => {
                let d = ids[(s.a / 3 + s.c / 5) % n];
                let cond = condition(
                    pool,
                    (s.k.unsigned_abs() as usize).wrapping_add(s.c),
                    [a, b, c, d],
                );
                pool.select(cond, c, d)
            }
        };
        ids.push(id.unwrap());
    }
    ids
}
