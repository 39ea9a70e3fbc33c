//! Shell completions and man pages, generated from the clap definitions in [`crate::cli`], so
//! they always list exactly the flags the parser accepts.

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// The man page of the whole tool (`textract-audit.1`) on `out`; with `dir`, instead one page
/// per command and subcommand (`textract-audit-verify.1`, …) written there.
pub fn man(dir: Option<&Path>, out: &mut dyn Write) -> io::Result<()> {
    // `generate_to` leaves out the `help` subcommand; so does the page printed alone.
    let cmd = Cli::command().disable_help_subcommand(true);
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cmd, dir)
        }
        None => clap_mangen::Man::new(cmd).render(out),
    }
}
