use std::process::ExitCode;

fn main() -> ExitCode {
    drbook::cli::main()
}
