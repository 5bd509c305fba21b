//! A run: probe → plan → measure → verify → gate, producing one [`RunReport`](crate::model::RunReport).
//!
//! Nothing here prints: progress goes to a callback ([`Progress`]), and run.json is rewritten
//! after every workload so that a crash keeps what finished. One file per concern:
//!
//! - [`options`]: what a run is asked to do ([`RunOptions`], [`BackendChoice`]), the checks of
//!   those options before anything is created, its [`Progress`] events, its [`RunOutcome`].
//! - [`profile`]: the profile `--profile` names ([`resolve_profile`]).
//! - [`stages`]: the stages, each a method of [`stages::Runner`] (start, plan, open a GPU,
//!   measure a GPU, the peers at the end, the host, finish), which holds the run's report.
//! - [`one`]: one workload from announcement to result ([`one::run_one`]), which every stage
//!   that measures goes through.
//! - [`ids`]: result ids ([`result_id`]).
//! - [`warnings`]: the warnings on a GPU result and the run's notes about a GPU.
//! - [`acceptance`]: the acceptance run ([`run`], `gpugate run`), the order it calls the stages
//!   in.
//! - [`memtest`](mod@memtest): the memory-test run ([`memtest()`], `gpugate memtest`) and its
//!   stage, [`memtest_gpus`] (every GPU at once), which a burn-in calls too.
//! - [`p2p`](mod@p2p): the P2P stage ([`p2p::p2p_gpus`]: peer access and copies between every
//!   pair of opened GPUs, `crate::p2p`), which a burn-in calls after its memory tests.
//! - [`burn`]: the burn-in ([`burn()`], `gpugate burn`): every GPU loaded at once, in
//!   intervals, through the same stages.
//!
//! A second runner (a burn-in: every GPU at once, in intervals) is a file beside
//! [`acceptance`] that calls the same stages in its own order: [`stages::Runner::open_gpu`] for
//! every GPU first, then its intervals over the [`stages::OpenGpu`]s (each result handed to
//! [`stages::Runner::keep`]), then [`stages::Runner::finish`]; the stages, the peers,
//! [`one::run_one`] and the report stay one.
//! The hardware encoder is a peer ([`crate::peer::nvenc`]); re-rendering a saved run is the
//! report's ([`crate::report::rerender`]).

pub mod acceptance;
pub mod burn;
pub mod health;
pub mod ids;
pub mod memtest;
pub mod one;
pub mod options;
pub mod p2p;
pub mod profile;
pub mod stages;
pub mod warnings;

pub use crate::clock::{now_rfc3339, rfc3339};
pub use crate::seed::{fresh_seed, workload_seed};
pub use acceptance::run;
pub use burn::{burn, BurnOptions};
pub use health::HealthWatch;
pub use ids::result_id;
pub use memtest::{check_share, memtest, memtest_gpus, MemtestRunOptions};
pub use one::TELEMETRY_PERIOD;
pub use options::{check_sampling, BackendChoice, Progress, RunOptions, RunOutcome};
pub use profile::resolve_profile;
pub use stages::{create_run_dir, select_gpus, tool_info};
pub(crate) use warnings::small_stream_note;
pub use warnings::{gpu_warning, module_notes, throttle_warning};
