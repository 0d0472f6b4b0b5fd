fn main() {
    eprintln!("braid: the simulator is not built yet; `braid run` cannot simulate anything so far.");
    std::process::exit(3);
}
