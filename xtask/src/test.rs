//! `cargo xtask test`: everything CI runs (`.ci/run` is exactly this), in phases that stop at
//! the first failure, with a timing line per phase and a table of durations at the end.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::setup::{self, Apt};
use crate::{build, e2e, postgres, shell, Workspace};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Setup,
    Fmt,
    Deps,
    Clippy,
    Tests,
    Build,
    E2e,
}

const PHASES: [Phase; 7] =
    [Phase::Setup, Phase::Fmt, Phase::Deps, Phase::Clippy, Phase::Tests, Phase::Build, Phase::E2e];

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Fmt => "fmt",
            Phase::Deps => "deps",
            Phase::Clippy => "clippy",
            Phase::Tests => "tests",
            Phase::Build => "build",
            Phase::E2e => "e2e",
        }
    }

    fn from_name(name: &str) -> Result<Self> {
        PHASES.into_iter().find(|phase| phase.name() == name).with_context(|| {
            let names: Vec<_> = PHASES.iter().map(|p| p.name()).collect();
            format!("unknown phase `{name}` (phases: {})", names.join(", "))
        })
    }

    /// Phases that rely on what setup installs or starts.
    fn needs_setup(self) -> bool {
        !matches!(self, Phase::Setup | Phase::Fmt | Phase::Deps)
    }
}

/// Crates the web-free core must never depend on (DESIGN.md, STYLE.md principle 1).
const FORBIDDEN_IN_SUPERVISOR: [&str; 6] = ["axum", "leptos", "leptos_axum", "sea-orm", "sqlx", "tower-sessions"];

#[derive(Debug)]
pub struct Options {
    phases: Vec<Phase>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut only: Option<Vec<Phase>> = None;
        let mut skip = Vec::new();
        let mut args = args.iter();
        let list = |value: Option<&String>, flag: &str| -> Result<Vec<Phase>> {
            value.with_context(|| format!("{flag} needs a phase name"))?.split(',').map(Phase::from_name).collect()
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--skip-e2e" => skip.push(Phase::E2e),
                "--only" => only.get_or_insert_with(Vec::new).extend(list(args.next(), arg)?),
                "--skip" => skip.extend(list(args.next(), arg)?),
                other => bail!("unknown option `{other}` for `test`"),
            }
        }
        let mut phases: Vec<Phase> = PHASES
            .into_iter()
            .filter(|phase| only.as_ref().is_none_or(|only| only.contains(phase)))
            .filter(|phase| !skip.contains(phase))
            .collect();
        // `--only tests` still needs the database started; setup is idempotent and quick when
        // everything is in place. `--skip setup` opts out explicitly.
        if phases.iter().any(|phase| phase.needs_setup())
            && !phases.contains(&Phase::Setup)
            && !skip.contains(&Phase::Setup)
        {
            phases.insert(0, Phase::Setup);
        }
        Ok(Self { phases })
    }
}

/// What the setup phase hands to the later ones.
#[derive(Default)]
struct Context {
    database_url: Option<String>,
}

pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    let mut context = Context::default();
    let mut done: Vec<(Phase, Duration)> = Vec::new();
    let total = Instant::now();
    let count = options.phases.len();
    for (index, &phase) in options.phases.iter().enumerate() {
        println!("\n==> [{}/{count}] {}", index + 1, phase.name());
        let started = Instant::now();
        let result = run_phase(ws, phase, &mut context);
        let elapsed = started.elapsed();
        match result {
            Ok(()) => {
                println!("==> {} passed in {}", phase.name(), shell::human(elapsed));
                done.push((phase, elapsed));
            }
            Err(err) => {
                println!("==> {} FAILED after {}", phase.name(), shell::human(elapsed));
                summary(&done, Some((phase, elapsed)), &options.phases, total.elapsed());
                return Err(err.context(format!("phase `{}` failed", phase.name())));
            }
        }
    }
    summary(&done, None, &options.phases, total.elapsed());
    Ok(())
}

fn summary(done: &[(Phase, Duration)], failed: Option<(Phase, Duration)>, planned: &[Phase], total: Duration) {
    println!("\n{:<8} {:>10}  result", "phase", "time");
    for &(phase, elapsed) in done {
        println!("{:<8} {:>10}  ok", phase.name(), shell::human(elapsed));
    }
    if let Some((phase, elapsed)) = failed {
        println!("{:<8} {:>10}  FAILED", phase.name(), shell::human(elapsed));
    }
    let reached = done.len() + usize::from(failed.is_some());
    for phase in &planned[reached..] {
        println!("{:<8} {:>10}  not run", phase.name(), "-");
    }
    println!("{:<8} {:>10}", "total", shell::human(total));
}

fn run_phase(ws: &Workspace, phase: Phase, context: &mut Context) -> Result<()> {
    match phase {
        Phase::Setup => {
            let mut apt = Apt::default();
            setup::ensure_wasm_target()?;
            setup::ensure_chromium(&mut apt)?;
            setup::ensure_npm_packages(ws)?;
            context.database_url = Some(postgres::ensure_test_database(&mut apt)?);
            Ok(())
        }
        Phase::Fmt => shell::run(ws.cargo().args(["fmt", "--all", "--", "--check"])),
        Phase::Deps => check_supervisor_deps(ws),
        Phase::Clippy => {
            shell::run(ws.cargo().args([
                "clippy",
                "--locked",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))?;
            shell::run(ws.cargo().args([
                "clippy",
                "--locked",
                "--package",
                "frontend",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
            ]))
        }
        Phase::Tests => {
            // Without `frontend` in the selection, cargo doesn't unify its `app/hydrate` (and
            // `leptos/hydrate`) into the host build, so the tests run the server's real feature
            // set. With it, leptos's executor takes the wasm path (`spawn_local`) and every
            // server API test panics ("`spawn_local` called from outside of a `task::LocalSet`").
            // frontend has no host tests; its WASM is linted, built and hydrated in e2e.
            let mut cmd = ws.cargo();
            cmd.args(["test", "--locked", "--workspace", "--exclude", "frontend"]);
            if let Some(url) = &context.database_url {
                cmd.env(postgres::URL_VAR, url);
            }
            shell::run(&mut cmd)
        }
        Phase::Build => build::run(ws, &build::Options { release: true, site_only: false }),
        Phase::E2e => e2e::run(ws, &[]),
    }
}

/// `cargo tree -p supervisor -e normal` must not mention any web or database crate.
fn check_supervisor_deps(ws: &Workspace) -> Result<()> {
    let tree = shell::stdout(ws.cargo().args([
        "tree",
        "--locked",
        "--package",
        "supervisor",
        "--edges",
        "normal",
        "--prefix",
        "none",
    ]))?;
    let found = forbidden_in(&tree);
    if !found.is_empty() {
        bail!(
            "the supervisor crate depends on {} (it must stay free of web and database crates; \
             see `cargo tree -p supervisor -e normal -i <crate>`)",
            found.join(", ")
        );
    }
    println!("supervisor depends on none of: {} (nor crates named after them)", FORBIDDEN_IN_SUPERVISOR.join(", "));
    Ok(())
}

/// The crates in `tree` (a `cargo tree --prefix none` listing) that belong to a forbidden family:
/// the crate itself or one named after it (`axum-core`, `leptos_router`, `sqlx-core`, …).
fn forbidden_in(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            FORBIDDEN_IN_SUPERVISOR.iter().any(|family| {
                name.strip_prefix(family).is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_']))
            })
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Vec<&'static str> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Options::parse(&args).expect("valid options").phases.into_iter().map(Phase::name).collect()
    }

    #[test]
    fn default_runs_everything_in_order() {
        assert_eq!(parse(&[]), ["setup", "fmt", "deps", "clippy", "tests", "build", "e2e"]);
    }

    #[test]
    fn only_and_skip() {
        assert_eq!(parse(&["--only", "fmt,deps"]), ["fmt", "deps"]);
        assert_eq!(parse(&["--only", "tests"]), ["setup", "tests"]);
        assert_eq!(parse(&["--only", "tests", "--skip", "setup"]), ["tests"]);
        assert_eq!(parse(&["--skip-e2e"]), ["setup", "fmt", "deps", "clippy", "tests", "build"]);
        assert!(Options::parse(&["--only".to_string(), "lint".to_string()]).is_err());
    }

    #[test]
    fn finds_forbidden_crate_families() {
        let tree = "supervisor v0.1.0 (/w/supervisor)\ntokio v1.54.1\naxumite v1.0.0\n\
                    axum-core v0.5.0\nsqlx v0.8.6\nsqlx v0.8.6 (*)\nsea-query v0.32.0\n";
        assert_eq!(forbidden_in(tree), ["axum-core", "sqlx"]);
    }
}
