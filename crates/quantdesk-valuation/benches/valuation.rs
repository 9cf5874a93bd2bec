//! Placeholder until the model lands.
fn main() {}
