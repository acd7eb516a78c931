//! `blast completions SHELL` and `blast man`: shell completions (clap_complete) and the man page
//! (clap_mangen), both generated from the command-line definition (`Cli`) so that they always
//! list the flags this binary has; printed on stdout for the user to install.

use super::command::{Cli, CompletionsArgs};
use super::common::UsageError;
use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;

pub fn completions(a: CompletionsArgs) -> Result<ExitCode, UsageError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "blast", &mut out);
    print_out(&out)
}

/// The man page, `blast(1)`: the top level, then a subsection per command with its flags.
pub fn man() -> Result<ExitCode, UsageError> {
    let mut out = Vec::new();
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd.clone()).render(&mut out).map_err(|e| format!("man: {e}"))?;
    out.extend_from_slice(b".SH \"COMMAND OPTIONS\"\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut options = Vec::new();
        let page = clap_mangen::Man::new(sub.clone());
        page.render_options_section(&mut options).map_err(|e| format!("man: {e}"))?;
        let options = String::from_utf8_lossy(&options);
        let heading = format!(".SS \"blast {}\"", sub.get_name());
        out.extend_from_slice(options.replacen(".SH OPTIONS", &heading, 1).as_bytes());
    }
    print_out(&out)
}

fn print_out(bytes: &[u8]) -> Result<ExitCode, UsageError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`blast man | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(format!("cannot write to stdout: {e}").into()),
    }
}
