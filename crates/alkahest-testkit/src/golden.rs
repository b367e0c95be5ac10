//! The golden-file format (see the crate README for the runner and
//! blessing).
//!
//! ```text
//! # What the file shows (comment lines, kept when blessing).
//! vars: x y
//! expr: Piecewise((x**2, Lt(x, 0)), (sin(x), True))
//! expr: hypot(x, y)                 (one line per output)
//! tolerance: llvm-bulk 4            (optional: ulps allowed for one engine)
//! point: -2.0 0.5 => 4.0 2.0615528128088303
//! point: NaN 0.0 => NaN NaN
//!
//! === c
//! double f(double x, double y) {
//! ...
//! === mlir-arith
//! ...
//! ```
//!
//! Values are Rust's shortest round-trip text of a double (`NaN`, `inf`,
//! `-0.0`, `1e-310`); a point's values are the outputs in order. Each
//! `=== name` section holds the expected text of one emitter up to the next
//! section; an emitter that fails has `error: <message>` as its text.

use std::fmt::Write as _;

/// One golden file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Golden {
    /// Comment lines before the first directive, without the `#`.
    pub comments: Vec<String>,
    /// Variable names, in argument order.
    pub vars: Vec<String>,
    /// Expressions in the printed syntax, one per output.
    pub exprs: Vec<String>,
    /// `(engine, ulps)`: results of `engine` may be this many ulps from the
    /// expected values (bit-exact otherwise).
    pub tolerances: Vec<(String, u64)>,
    /// Input points and the expected outputs there (empty until blessed).
    pub points: Vec<(Vec<f64>, Vec<f64>)>,
    /// `(name, text)` of each emitter section, in file order.
    pub sections: Vec<(String, String)>,
}

fn numbers(s: &str) -> Result<Vec<f64>, String> {
    s.split_whitespace()
        .map(|t| t.parse::<f64>().map_err(|_| format!("bad number {t:?}")))
        .collect()
}

/// Strip trailing whitespace from every line and trailing empty lines: the
/// form in which emitted text is stored and compared.
pub fn normalize(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    lines[..end].join("\n")
}

impl Golden {
    /// Parse a golden file's text.
    pub fn parse(text: &str) -> Result<Golden, String> {
        let mut g = Golden::default();
        let mut lines = text.lines().enumerate().peekable();
        let mut header = true;
        while let Some((no, line)) = lines.next() {
            let at = |m: String| format!("line {}: {m}", no + 1);
            if let Some(name) = line.strip_prefix("=== ") {
                let mut body = Vec::new();
                while let Some((_, l)) = lines.next_if(|(_, l)| !l.starts_with("=== ")) {
                    body.push(l);
                }
                g.sections
                    .push((name.trim().to_string(), normalize(&body.join("\n"))));
                continue;
            }
            let line = line.trim();
            if let Some(c) = line.strip_prefix('#') {
                if header {
                    g.comments
                        .push(c.strip_prefix(' ').unwrap_or(c).to_string());
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            header = false;
            let (key, rest) = line
                .split_once(':')
                .ok_or_else(|| at(format!("expected `key: value`, found {line:?}")))?;
            let rest = rest.trim();
            match key {
                "vars" => g.vars = rest.split_whitespace().map(String::from).collect(),
                "expr" => g.exprs.push(rest.to_string()),
                "tolerance" => {
                    let (engine, ulps) = rest
                        .split_once(' ')
                        .ok_or_else(|| at("tolerance: <engine> <ulps>".into()))?;
                    let ulps = ulps
                        .trim()
                        .parse()
                        .map_err(|_| at(format!("bad ulps {ulps:?}")))?;
                    g.tolerances.push((engine.to_string(), ulps));
                }
                "point" => {
                    let (inputs, outputs) = rest.split_once("=>").unwrap_or((rest, ""));
                    let inputs = numbers(inputs).map_err(at)?;
                    if inputs.len() != g.vars.len() {
                        return Err(at(format!(
                            "{} inputs for {} variables",
                            inputs.len(),
                            g.vars.len()
                        )));
                    }
                    g.points.push((inputs, numbers(outputs).map_err(at)?));
                }
                _ => return Err(at(format!("unknown key {key:?}"))),
            }
        }
        if g.exprs.is_empty() {
            return Err("no `expr:` line".into());
        }
        Ok(g)
    }

    /// The file's text (parsing it gives `self` back).
    pub fn render(&self) -> String {
        let mut s = String::new();
        for c in &self.comments {
            let _ = writeln!(s, "# {c}");
        }
        let _ = writeln!(s, "vars: {}", self.vars.join(" "));
        for e in &self.exprs {
            let _ = writeln!(s, "expr: {e}");
        }
        for (engine, ulps) in &self.tolerances {
            let _ = writeln!(s, "tolerance: {engine} {ulps}");
        }
        let text = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (inputs, outputs) in &self.points {
            let _ = writeln!(s, "point: {} => {}", text(inputs), text(outputs));
        }
        for (name, body) in &self.sections {
            let _ = write!(s, "\n=== {name}\n{body}\n");
        }
        s
    }

    /// The expected text of section `name`.
    pub fn section(&self, name: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }

    /// Set section `name` (appended if new).
    pub fn set_section(&mut self, name: &str, text: &str) {
        let text = normalize(text);
        match self.sections.iter_mut().find(|(n, _)| n == name) {
            Some(s) => s.1 = text,
            None => self.sections.push((name.to_string(), text)),
        }
    }

    /// The ulps `engine` may differ by (0: bit-exact).
    pub fn tolerance(&self, engine: &str) -> u64 {
        self.tolerances
            .iter()
            .find(|(e, _)| e == engine)
            .map_or(0, |t| t.1)
    }
}

/// Longest kernel entry a golden file keeps verbatim (see [`normalize_ptx`]).
pub const PTX_VERBATIM_LINES: usize = 60;

/// The part of PTX a golden file keeps. Comments, blank lines and the
/// `.version` / `.target` header are dropped, and so are the bodies of
/// linked libdevice functions (`.func`: NVIDIA's code); their names are
/// listed. The kernel's `.entry` function is kept verbatim up to
/// [`PTX_VERBATIM_LINES`] lines. A longer one (libdevice inlines its math
/// into the kernel: `sin` alone is ~100 lines) is summarized: its line
/// count, an FNV-1a hash of its text (any change shows), its signature and
/// the count of each opcode (one per line), which says what changed when the hash does.
pub fn normalize_ptx(ptx: &str) -> String {
    let mut entry: Vec<String> = Vec::new();
    let mut funcs: Vec<String> = Vec::new();
    let mut in_entry = false;
    let mut depth = 0i32;
    for line in ptx.lines() {
        let code = line.split("//").next().unwrap_or("").trim_end();
        if code.trim().is_empty() {
            continue;
        }
        let t = code.trim_start();
        if !in_entry {
            if t.contains(".entry") {
                in_entry = true;
                depth = 0;
            } else {
                if let Some(name) = func_name(t)
                    && !funcs.iter().any(|f| f == name)
                {
                    funcs.push(name.to_string());
                }
                continue;
            }
        }
        entry.push(code.to_string());
        depth += t.matches('{').count() as i32 - t.matches('}').count() as i32;
        if depth == 0 && t.contains('}') {
            in_entry = false;
        }
    }
    let mut s = String::new();
    if !funcs.is_empty() {
        funcs.sort();
        let _ = writeln!(s, "// linked: {}", funcs.join(" "));
    }
    if entry.len() <= PTX_VERBATIM_LINES {
        s.push_str(&entry.join("\n"));
        return s;
    }
    let text = entry.join("\n");
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let _ = writeln!(s, "// entry: {} lines, fnv1a64 {hash:016x}", entry.len());
    // The signature: up to the line that closes the parameter list.
    let sig_end = entry.iter().position(|l| l.trim() == ")").unwrap_or(0);
    for l in &entry[..=sig_end] {
        let _ = writeln!(s, "{l}");
    }
    let mut ops: Vec<(String, usize)> = Vec::new();
    for l in &entry[sig_end + 1..] {
        let t = l.trim();
        let t = t
            .strip_prefix('@')
            .map_or(t, |p| p.split_once(' ').map_or("", |x| x.1));
        let op = t
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches(';');
        if op.is_empty() || op.starts_with(['.', '{', '}', '$', '(', ')']) || op.ends_with(',') {
            continue;
        }
        match ops.iter_mut().find(|(o, _)| o == op) {
            Some(e) => e.1 += 1,
            None => ops.push((op.to_string(), 1)),
        }
    }
    ops.sort();
    let counts: Vec<String> = ops.iter().map(|(o, n)| format!("// {n:>4} {o}")).collect();
    s.push_str(&counts.join("\n"));
    s
}

/// The name a `.func` declaration or definition line declares:
/// `.func (.param .b64 func_retval0) __nv_sin(` gives `__nv_sin`.
fn func_name(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once(".func")?;
    let mut rest = rest.trim_start();
    if rest.starts_with('(') {
        rest = rest[rest.find(')')? + 1..].trim_start();
    }
    rest.split(|c: char| c == '(' || c.is_whitespace())
        .next()
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_render_round_trip() {
        let text = "# two outputs\n# of x\nvars: x y\nexpr: x + y\nexpr: sin(x)\ntolerance: mlir 2\n\
                    point: 1.0 -0.0 => 1.0 0.8414709848078965\npoint: NaN inf => NaN NaN\n\n\
                    === c\ndouble f(double x) {\n  return x;\n}\n\n=== ptx\nerror: no libdevice\n";
        let g = Golden::parse(text).unwrap();
        assert_eq!(g.comments, ["two outputs", "of x"]);
        assert_eq!(g.vars, ["x", "y"]);
        assert_eq!(g.exprs.len(), 2);
        assert_eq!(g.tolerance("mlir"), 2);
        assert_eq!(g.tolerance("llvm"), 0);
        assert!(g.points[0].0[1].is_sign_negative() && g.points[1].1[0].is_nan());
        assert_eq!(g.section("c"), Some("double f(double x) {\n  return x;\n}"));
        assert_eq!(g.section("ptx"), Some("error: no libdevice"));
        assert_eq!(g.render(), text);
        assert!(Golden::parse("vars: x\nexpr: x\npoint: 1 2 => 3\n").is_err());
        assert!(Golden::parse("vars: x\n").is_err());
    }

    #[test]
    fn ptx_keeps_the_entry_and_linked_names() {
        let ptx = "//\n// Generated by LLVM NVPTX Back-End\n//\n\n.version 8.0\n.target sm_80\n\
                   .func  (.param .b64 func_retval0) __nv_sin(\n\t.param .b64 __nv_sin_param_0\n)\n;\n\
                   .visible .entry alkahest_kernel(\n\t.param .u64 p0\n)\n{\n\tcall.uni (retval0), __nv_sin, (param0); // a call\n\tret;\n\n}\n\
                   .func  (.param .b64 func_retval0) __nv_sin(\n\t.param .b64 x\n)\n{\n\tret;\n}\n";
        assert_eq!(
            normalize_ptx(ptx),
            "// linked: __nv_sin\n.visible .entry alkahest_kernel(\n\t.param .u64 p0\n)\n{\n\tcall.uni (retval0), __nv_sin, (param0);\n\tret;\n}"
        );
    }

    #[test]
    fn long_ptx_entries_are_summarized() {
        let body: String = (0..70)
            .map(|i| format!("\tadd.rn.f64 %fd{i}, %fd0, %fd0;\n"))
            .collect();
        let ptx = format!(
            ".visible .entry k(\n\t.param .u64 p0\n)\n{{\n{body}\t@%p1 bra $L;\n\tret;\n}}\n"
        );
        let s = normalize_ptx(&ptx);
        assert!(s.starts_with("// entry: 77 lines, fnv1a64 "), "{s}");
        assert!(s.ends_with(".visible .entry k(\n\t.param .u64 p0\n)\n//   70 add.rn.f64\n//    1 bra\n//    1 ret"), "{s}");
        assert_ne!(normalize_ptx(&ptx.replace("%fd3,", "%fd9,")), s);
    }
}
