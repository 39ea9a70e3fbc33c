//! `textract-audit`: parse arguments, run, exit with the documented code.

use std::process::ExitCode;

use clap::Parser;
use textract_audit::cli::Cli;
use textract_audit::plan::Usage;
use textract_audit::report::exit;
use textract_audit::run::run;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if e.is::<Usage>() {
                exit::USAGE
            } else {
                exit::ERROR
            })
        }
    }
}
