mod evidence;
mod model;
fn main() {}
