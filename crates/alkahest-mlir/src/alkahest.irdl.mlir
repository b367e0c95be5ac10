// The `alkahest` MLIR dialect, defined in IRDL (MLIR 19).
//
// Every value is a scalar `f64`. Ops print in MLIR's generic form, e.g.
//   %2 = "alkahest.horner"(%0) {coeffs = array<f64: 1.0, 2.0, 3.0>} : (f64) -> f64
// Load with `mlir-opt-19 --irdl-file=<this file>` to verify and transform
// modules emitted by alkahest-mlir. Elementary functions stay in the upstream
// `math` dialect (math.sin, math.atan2, math.cbrt, math.floor, ...), min/max
// and fmod in `arith` (arith.minimumf / arith.maximumf, NaN-propagating;
// arith.remf), and the functions MLIR 19 has no op for (hypot, erfc, tgamma,
// lgamma) are `func.call`s to libm. Truth values are f64 1.0 / 0.0.
irdl.dialect @alkahest {
  // %v = alkahest.sym(%arg) {name = "x", index = i : i64}
  // Binds function argument #index to the symbol `name`; the value is the
  // operand. Keeps variable names visible in the IR.
  irdl.operation @sym {
    %f = irdl.is f64
    %s = irdl.base "#builtin.string"
    %i = irdl.base "#builtin.integer"
    irdl.attributes {"name" = %s, "index" = %i}
    irdl.operands(%f)
    irdl.results(%f)
  }
  // %c = alkahest.const() {value = 2.5 : f64}
  // An f64 constant (exact integers and rationals are rounded to nearest).
  irdl.operation @const {
    %f = irdl.is f64
    %v = irdl.base "#builtin.float"
    irdl.attributes {"value" = %v}
    irdl.results(%f)
  }
  // %s = alkahest.add(%a, %b, ...): the sum, accumulated left to right
  // (0.0 for no operand).
  irdl.operation @add {
    %f = irdl.is f64
    irdl.operands(variadic %f)
    irdl.results(%f)
  }
  // %p = alkahest.mul(%a, %b, ...): the product, left to right (1.0 for no
  // operand). Operands that are `alkahest.pow` with a negative integer
  // exponent are divided out (a * b**-1 lowers to a / b).
  irdl.operation @mul {
    %f = irdl.is f64
    irdl.operands(variadic %f)
    irdl.results(%f)
  }
  // %p = alkahest.pow(%base, %exp): base ** exp. When %exp is an
  // alkahest.const holding an integer n with |n| <= 2^31 it is exact
  // square-and-multiply (most significant bit first; 1/(b**|n|) for n < 0,
  // 1.0 for n = 0); +-0.5 is sqrt (1/sqrt); otherwise libm pow.
  irdl.operation @pow {
    %f = irdl.is f64
    irdl.operands(%f, %f)
    irdl.results(%f)
  }
  // %y = alkahest.horner(%x) {coeffs = array<f64: c0, c1, ..., cn>}
  // The polynomial c0 + c1 x + ... + cn x^n with constant coefficients
  // (ascending degree), evaluated by Horner's rule with one fused
  // multiply-add per degree: fma(fma(cn, x, c(n-1)), x, ...).
  irdl.operation @horner {
    %f = irdl.is f64
    %c = irdl.base "#builtin.dense_array"
    irdl.attributes {"coeffs" = %c}
    irdl.operands(%f)
    irdl.results(%f)
  }
  // %y = alkahest.poly_eval(%x, %c0, %c1, ..., %cn)
  // The polynomial sum ci x^i with run-time coefficients (operands after
  // %x, ascending degree), evaluated by Horner's rule with fused
  // multiply-adds.
  irdl.operation @poly_eval {
    %f = irdl.is f64
    irdl.operands(%f, variadic %f)
    irdl.results(%f)
  }
  // %y = alkahest.series_taylor(%x) {center = a : f64, coeffs = array<f64: t0, ..., tn>}
  // The truncated Taylor series sum tk (x - a)^k of order n, evaluated by
  // Horner's rule (fused multiply-adds) in t = x - a. The coefficients are
  // the normalised derivatives f^(k)(a)/k! computed when the op is emitted.
  irdl.operation @series_taylor {
    %f = irdl.is f64
    %a = irdl.base "#builtin.float"
    %c = irdl.base "#builtin.dense_array"
    irdl.attributes {"center" = %a, "coeffs" = %c}
    irdl.operands(%f)
    irdl.results(%f)
  }
  // %mid, %rad = alkahest.interval_eval(%m0, %r0, ..., %mk, %rk) {callee = @f}
  // Midpoint-radius ball arithmetic: a ball (mid, rad) that contains f(x)
  // for every x with |xi - mi| <= ri, where @f is a func.func in the same
  // module. Every step rounds outward: radii absorb the rounding error of
  // the midpoint and of the radius itself, so the enclosure is rigorous
  // (rad = +inf or NaN mid when nothing finite can be said).
  irdl.operation @interval_eval {
    %f = irdl.is f64
    %s = irdl.base "#builtin.symbol_ref"
    irdl.attributes {"callee" = %s}
    irdl.operands(variadic %f)
    irdl.results(%f, %f)
  }
  // %y = alkahest.rational_fn(%x) {num = array<f64: ...>, den = array<f64: ...>}
  // P(x) / Q(x) with constant coefficients (ascending degree); P and Q are
  // each evaluated as by alkahest.horner, then divided once.
  irdl.operation @rational_fn {
    %f = irdl.is f64
    %n = irdl.base "#builtin.dense_array"
    %d = irdl.base "#builtin.dense_array"
    irdl.attributes {"num" = %n, "den" = %d}
    irdl.operands(%f)
    irdl.results(%f)
  }
  // %t = alkahest.cmp(%a, %b) {predicate = "lt"}
  // 1.0 where `a op b` holds, else 0.0; predicate is one of lt, le, gt, ge,
  // eq, ne. IEEE: every comparison with a NaN operand is false except ne,
  // which is true (ordered compares; ne is unordered-or-not-equal).
  irdl.operation @cmp {
    %f = irdl.is f64
    %lt = irdl.is "lt"
    %le = irdl.is "le"
    %gt = irdl.is "gt"
    %ge = irdl.is "ge"
    %eq = irdl.is "eq"
    %ne = irdl.is "ne"
    %p = irdl.any_of(%lt, %le, %gt, %ge, %eq, %ne)
    irdl.attributes {"predicate" = %p}
    irdl.operands(%f, %f)
    irdl.results(%f)
  }
  // %y = alkahest.select(%c, %a, %b)
  // %a where %c != 0.0 (unordered: a NaN condition picks %a), else %b;
  // both operands are evaluated (no branch). Conditions are always 1.0 or
  // 0.0 (alkahest.cmp, or selections of them).
  irdl.operation @select {
    %f = irdl.is f64
    irdl.operands(%f, %f, %f)
    irdl.results(%f)
  }
}
