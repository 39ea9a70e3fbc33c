mod evidence;
mod model;
mod trail;
fn main() {}
