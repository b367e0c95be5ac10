//! One point at a time: a pendulum's right-hand side and its Jacobian,
//! compiled once and called like a Rust function.
//!
//!     cargo run -p alkahest --example scalar

use alkahest::{Config, Pool, compile};

fn main() -> alkahest::Result<()> {
    let pool = Pool::new();
    let (theta, omega) = (pool.symbol("theta")?, pool.symbol("omega")?);
    let rhs = [omega, -theta.sin() - 0.1 * omega];
    let jac: Vec<_> = rhs
        .iter()
        .flat_map(|f| [f.diff(theta), f.diff(omega)])
        .collect::<alkahest::Result<_>>()?;
    println!("rhs      = [{}, {}]", rhs[0], rhs[1]);
    println!(
        "jacobian = [{}, {}; {}, {}]",
        jac[0], jac[1], jac[2], jac[3]
    );

    let f = compile(&rhs, &[theta, omega], &Config::default())?;
    let j = compile(&jac, &[theta, omega], &Config::default())?;
    println!(
        "compiled on tier {:?}; available: {:?}",
        f.tier(),
        alkahest::available_tiers()
    );

    // Explicit Euler steps, no allocation per call.
    let (mut state, mut d, dt) = ([1.0, 0.0], [0.0; 2], 0.01);
    for _ in 0..1000 {
        f.call_into(&state, &mut d)?;
        state = [state[0] + dt * d[0], state[1] + dt * d[1]];
    }
    println!(
        "state after 10 s: theta = {:.6}, omega = {:.6}",
        state[0], state[1]
    );
    println!("jacobian there:   {:?}", j.call(&state)?);
    Ok(())
}
