//! twinsync's entry point: parse, run, exit with the command's code.

fn main() {
    std::process::exit(twinsync::cli::main());
}
