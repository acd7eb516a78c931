//! Scenarios: what each arrival of `blast api` sends. A scenario is a weighted set of
//! iterations; an iteration is one named request or a flow (named steps in sequence on the
//! iteration's connection, later steps using values captured from earlier responses).
//!
//! - `users`: the users file, split over the cores.
//! - `capture`: taking values out of responses (JSON pointer, header).
//! - `spec`: the validated scenario (rows, iterations, steps, bodies, variables).
//! - `json`: `json = { ... }` bodies compiled into JSON templates.
//! - `run`: performing one iteration on a connection (and a login alone, `run::log_in`, which
//!   `blast ws --login` runs per connection).
//! - `file`: the scenario tables of a profile (`[data]`, `[[on_start]]`, `[[request]]`,
//!   `[[flow]]`) compiled into a `Scenario`, every error located as `file:line: field`.
//!
//! `blast api` without a scenario file is the one-request scenario its flags describe, so
//! there is one code path. Every name (request, step, flow) is a row of the report.

pub mod capture;
pub mod file;
pub mod json;
pub mod run;
pub mod spec;
pub mod users;

pub use spec::{
    Body, Expect, Iteration, Multipart, MultipartPiece, PartData, Repeat, Row, Scenario, Split, SplitTotal, Step, Var,
    DEFAULT_BODY,
};
