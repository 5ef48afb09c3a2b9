//! The `tandem` binary: parses the command line and hands over to [`tandem::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    tandem::cli::main()
}
