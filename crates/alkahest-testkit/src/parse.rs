//! A small parser for the printed syntax (`alkahest_core::to_string`): Python
//! infix arithmetic with calls, so tests can write expressions as text.
//!
//! ```text
//! expr  := term (('+' | '-') term)*
//! term  := unary (('*' | '/') unary)*
//! unary := ('-' | '+') unary | power
//! power := atom ('**' unary)?              -- right-associative, binds tighter than a unary minus on its left
//! atom  := integer | float | name | name '(' args ')' | '(' expr ')'
//! ```
//!
//! Integers are exact (`1/3` is the rational one third), literals with a
//! `.` or an exponent are floats, `float('nan')` / `float('inf')` are NaN and
//! infinity. A call names a function by its printed name (`sin`, `Min`,
//! `loggamma`, `Lt`, `And`, `where`, ...; [`Func::from_name`]), or is
//! `Piecewise((v1, c1), ..., (z, True))`. Any other name is a symbol of the
//! pool.

use alkahest_core::{ExprId, ExprPool, Func};
use num_bigint::BigInt;

/// Parse `text` into `pool`. Errors are messages naming the position.
pub fn parse(pool: &ExprPool, text: &str) -> Result<ExprId, String> {
    let tokens = lex(text)?;
    let mut p = Parser {
        pool,
        tokens,
        pos: 0,
    };
    let e = p.expr()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(format!(
            "unexpected {t:?} after a complete expression in {text:?}"
        )),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Int(BigInt),
    Float(f64),
    Name(String),
    Str(String),
    Op(&'static str),
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            let mut float = false;
            while i < chars.len() {
                let d = chars[i];
                if d.is_ascii_digit() {
                    i += 1;
                } else if d == '.' {
                    float = true;
                    i += 1;
                } else if (d == 'e' || d == 'E')
                    && (chars.get(i + 1).is_some_and(char::is_ascii_digit)
                        || (matches!(chars.get(i + 1), Some('+' | '-'))
                            && chars.get(i + 2).is_some_and(char::is_ascii_digit)))
                {
                    float = true;
                    i += 2;
                } else {
                    break;
                }
            }
            let s: String = chars[start..i].iter().collect();
            out.push(if float {
                Tok::Float(s.parse().map_err(|e| format!("bad number {s:?}: {e}"))?)
            } else {
                Tok::Int(s.parse().map_err(|e| format!("bad integer {s:?}: {e}"))?)
            });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Name(chars[start..i].iter().collect()));
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or("unterminated string")?;
            out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = if two == "**" {
                "**"
            } else {
                match c {
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    _ => return Err(format!("unexpected character {c:?} in {text:?}")),
                }
            };
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    pool: &'a ExprPool,
    tokens: Vec<Tok>,
    pos: usize,
}

type R = Result<ExprId, String>;

fn err(e: alkahest_core::Error) -> String {
    e.to_string()
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!("expected {op:?}, found {:?}", self.peek()))
        }
    }

    fn expr(&mut self) -> R {
        let mut acc = self.term()?;
        loop {
            if self.eat("+") {
                let t = self.term()?;
                acc = self.pool.add(&[acc, t]).map_err(err)?;
            } else if self.eat("-") {
                let t = self.term()?;
                acc = self.pool.sub(acc, t).map_err(err)?;
            } else {
                return Ok(acc);
            }
        }
    }

    fn term(&mut self) -> R {
        let mut acc = self.unary()?;
        loop {
            if self.eat("*") {
                let t = self.unary()?;
                acc = self.pool.mul(&[acc, t]).map_err(err)?;
            } else if self.eat("/") {
                let t = self.unary()?;
                acc = self.pool.div(acc, t).map_err(err)?;
            } else {
                return Ok(acc);
            }
        }
    }

    fn unary(&mut self) -> R {
        if self.eat("-") {
            let a = self.unary()?;
            self.pool.neg(a).map_err(err)
        } else if self.eat("+") {
            self.unary()
        } else {
            self.power()
        }
    }

    fn power(&mut self) -> R {
        let base = self.atom()?;
        if self.eat("**") {
            let e = self.unary()?;
            self.pool.pow(base, e).map_err(err)
        } else {
            Ok(base)
        }
    }

    fn args(&mut self) -> Result<Vec<ExprId>, String> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn atom(&mut self) -> R {
        let p = self.pool;
        match self.next() {
            Some(Tok::Int(i)) => p.integer(i).map_err(err),
            Some(Tok::Float(f)) => p.float(f).map_err(err),
            Some(Tok::Op("(")) => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Tok::Name(name)) => {
                if !self.eat("(") {
                    return p.symbol(&name).map_err(err);
                }
                match name.as_str() {
                    "float" => {
                        let Some(Tok::Str(s)) = self.next() else {
                            return Err("float(...) takes a string".into());
                        };
                        self.expect(")")?;
                        let v: f64 = s.parse().map_err(|_| format!("float({s:?})"))?;
                        p.float(v).map_err(err)
                    }
                    "Piecewise" => self.piecewise(),
                    _ => {
                        let f = Func::from_name(&name)
                            .ok_or_else(|| format!("unknown function {name:?}"))?;
                        let args = self.args()?;
                        p.func(f, &args).map_err(err)
                    }
                }
            }
            t => Err(format!("expected an expression, found {t:?}")),
        }
    }

    /// After `Piecewise(`: `(v, c), ..., (z, True))`.
    fn piecewise(&mut self) -> R {
        let mut pieces = Vec::new();
        let mut otherwise = None;
        loop {
            self.expect("(")?;
            let v = self.expr()?;
            self.expect(",")?;
            if matches!(self.peek(), Some(Tok::Name(n)) if n == "True") {
                self.pos += 1;
                otherwise = Some(v);
            } else {
                pieces.push((v, self.expr()?));
            }
            self.expect(")")?;
            if self.eat(")") {
                break;
            }
            self.expect(",")?;
            if otherwise.is_some() {
                return Err("the (value, True) piece must be the last".into());
            }
        }
        self.pool.piecewise(&pieces, otherwise).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::exprs::{pool, programs};

    fn round_trip(p: &ExprPool, text: &str) -> String {
        alkahest_core::to_string(p, parse(p, text).unwrap())
    }

    #[test]
    fn printed_syntax() {
        let p = ExprPool::new();
        for (text, printed) in [
            ("x**2 + sin(y)", "x**2 + sin(y)"),
            ("-x**2", "-x**2"),
            ("2**-1", "1/2"),
            ("x**2**3", "x**8"),
            ("1/3*x", "x/3"),
            (
                "Piecewise((x**2, Lt(x, 0)), (sin(x), True))",
                "Piecewise((x**2, Lt(x, 0)), (sin(x), True))",
            ),
            (
                "where(And(Gt(x, 1), Not(Eq(y, 2))), 1.5, -float('inf'))",
                "Piecewise((1.5, And(Gt(x, 1), Not(Eq(y, 2)))), (-float('inf'), True))",
            ),
            (
                "Min(x, y) - 1e-3 + fma(x, y, 2)",
                "Min(x, y) + fma(x, y, 2) + -0.001",
            ),
        ] {
            assert_eq!(round_trip(&p, text), printed, "{text}");
        }
        for bad in [
            "x +",
            "sin(x",
            "nope(x)",
            "Lt(x, 1) + 1",
            "x $ y",
            "Piecewise((1, True), (2, True))",
        ] {
            assert!(parse(&p, bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Every printed expression parses. (Printing is not a structural
        /// round trip: `(1/3)**(-1/2)` prints as `1/(1/3)**(1/2)`, which
        /// builds `1/sqrt(1/3)`, and sums may come back in another order.)
        #[test]
        fn printed_expressions_parse(prog in programs(1..=12)) {
            let (p, vars) = pool(2);
            let e = prog.build(&p, &vars);
            let text = alkahest_core::to_string(&p, e);
            prop_assert!(parse(&p, &text).is_ok(), "{}", text);
        }
    }
}
