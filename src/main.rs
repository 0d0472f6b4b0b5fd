fn main() {
    std::process::exit(braid::cli::main());
}
