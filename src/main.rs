//! `textract-audit`: parse arguments, run, exit with the documented code.

use std::process::ExitCode;

use clap::Parser;
use textract_audit::cli::Cli;
use textract_audit::evidence::live::LiveError;
use textract_audit::plan::Usage;
use textract_audit::report::exit;
use textract_audit::run::run;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            let live_usage = e
                .downcast_ref::<LiveError>()
                .is_some_and(LiveError::is_usage);
            ExitCode::from(if e.is::<Usage>() || live_usage {
                exit::USAGE
            } else {
                exit::ERROR
            })
        }
    }
}
