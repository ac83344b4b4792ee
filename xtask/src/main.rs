//! `cargo xtask`: the project's one task runner.
//!
//! ```text
//! cargo xtask demo               two accounts chat over a local testnet (the README's first command)
//! cargo xtask vectors [DIR…]     run the conformance vectors (default: test-vectors)
//! cargo xtask fuzz [--seconds N] [--build-only] [TARGET…]
//! cargo xtask bench NAME         run a benchmark in release mode on one core
//! cargo xtask codegen [--check]  regenerate (or check) the Rust code for proto/*.proto
//! cargo xtask deny               cargo-deny: advisories, licences, bans, sources
//! cargo xtask testnet [status|add|kill NODE|stop NODE|restart NODE]  a local network
//! cargo xtask ci                 fmt, clippy, tests, vectors, fuzz build: what CI runs
//! cargo xtask help [COMMAND]     the overview, or one command's flags (also `--help`)
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{CommandFactory as _, Parser, Subcommand};

mod browser;
mod codegen;
mod demo;
mod deny;
mod postgres;
mod system;
mod testnet;

/// The project's one task runner.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The project's one task runner.",
    after_help = "`cargo xtask help COMMAND` or `cargo xtask COMMAND --help` describes one command."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Task>,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Two accounts chat over a local testnet (the README's first command).
    ///
    /// Start the local testnet (or reuse a running one), create two accounts, alice and bob, in
    /// ROOT (default target/demo) and play a chat between them with the `sotto` command, printing
    /// each command, its delivery states and the onion route it took. The network then stays up
    /// for you to chat on, until Ctrl-C (--no-wait: exit).
    Demo(demo::DemoArgs),
    /// Run the conformance vectors.
    ///
    /// Run every conformance vector in DIR (default: test-vectors). Prints one line per failing
    /// case and ends with `vectors: N passed, M failed`; exits 1 if anything failed.
    Vectors {
        /// Directories of vectors (default: test-vectors).
        #[arg(value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Build and run the fuzz targets.
    ///
    /// Build the fuzz targets (cargo-fuzz, installed if missing) and run each for N seconds.
    /// Without TARGET, all of them.
    Fuzz(FuzzArgs),
    /// Run a benchmark in release mode on one core.
    ///
    /// Run benchmark NAME (release build, pinned to one core when `taskset` exists; `node` pins
    /// the nodes to core 0 and its load generator to core 1); prints each
    /// figure with its ratio to a bound measured in the same run and writes
    /// target/bench/NAME.json. `cargo xtask bench` alone lists the benchmarks.
    Bench {
        /// The benchmark and its arguments (passed to sotto-bench).
        #[arg(
            value_name = "NAME",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<String>,
    },
    /// Regenerate (or check) the Rust code for proto/*.proto.
    ///
    /// Regenerate crates/sotto-envelope/src/generated/ from proto/*.proto (pure Rust: protox +
    /// prost-build, no protoc).
    Codegen {
        /// Fail if the committed code is stale instead of rewriting it.
        #[arg(long)]
        check: bool,
    },
    /// cargo-deny: advisories, licences, bans, sources.
    ///
    /// cargo-deny (installed if missing) against deny.toml: known advisories (from the snapshot
    /// in supply-chain/advisory-db), licences, crate sources; offline.
    Deny,
    /// A local network, supervised until Ctrl-C, and its control verbs.
    ///
    /// Build sotto-node and sotto-directory, start a directory on 127.0.0.1:P and N nodes on
    /// 127.0.0.11, 127.0.0.12, … port P+1, each with its own data directory under DIR, write
    /// DIR/network.json for clients, print what runs where, and stop everything on Ctrl-C. From
    /// another terminal: `cargo xtask testnet status|add|kill NODE|stop NODE|restart NODE
    /// [--dir DIR]`.
    Testnet(testnet::TestnetArgs),
    /// What CI runs: fmt, clippy, deny, tests, demo, codegen --check, fuzz build, vectors.
    ///
    /// cargo fmt --check, clippy -D warnings, cargo deny, the test suite, the demo,
    /// codegen --check, a build of every fuzz target and the vectors.
    Ci,
}

/// `cargo xtask fuzz`: its flags, as typed.
#[derive(clap::Args, Debug)]
struct FuzzArgs {
    /// Seconds to run each target.
    #[arg(long, value_name = "N", default_value_t = 60)]
    seconds: u64,
    /// Only build the targets.
    #[arg(long = "build-only")]
    build_only: bool,
    /// Targets to run (default: all of them).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `--help`, `help`, and usage errors: clap prints them (and picks the exit code).
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Some(Task::Vectors { dirs }) => vectors(&dirs),
        Some(Task::Fuzz(args)) => fuzz(&args),
        Some(Task::Bench { args }) => bench(&args),
        Some(Task::Codegen { check }) => codegen::codegen(check),
        Some(Task::Testnet(args)) => testnet::testnet(&args),
        Some(Task::Demo(args)) => demo::demo(&args),
        Some(Task::Deny) => deny::deny(),
        Some(Task::Ci) => ci(),
        None => Cli::command()
            .print_help()
            .map(|()| true)
            .context("printing the help"),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn vectors(args: &[PathBuf]) -> Result<bool> {
    let dirs: Vec<PathBuf> = if args.is_empty() {
        vec![root().join("test-vectors")]
    } else {
        args.to_vec()
    };
    let report = sotto_testkit::vectors::run_dirs(&dirs);
    for failure in &report.failures {
        println!("FAIL {}: {}", failure.id, failure.reason);
    }
    for (suite, passed, failed) in &report.suites {
        println!("  {suite:<14} {passed:>4} passed {failed:>4} failed");
    }
    println!("{}", report.summary());
    Ok(report.ok())
}

/// Runs a command from the workspace root, echoing it first.
pub(crate) fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<bool> {
    println!("$ {program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    if program == "cargo" {
        sotto_testkit::net::without_cargo_run_env(&mut cmd);
    }
    let status = cmd
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    Ok(status.success())
}

fn fuzz_targets() -> Result<Vec<String>> {
    let dir = root().join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed && !run("cargo", &["install", "cargo-fuzz", "--locked"], &[])? {
        bail!("could not install cargo-fuzz");
    }
    Ok(())
}

fn fuzz(args: &FuzzArgs) -> Result<bool> {
    let FuzzArgs {
        seconds,
        build_only,
        ref targets,
    } = *args;
    let mut targets = targets.clone();
    ensure_cargo_fuzz()?;
    // cargo-fuzz needs nightly features; the stable toolchain allows them with RUSTC_BOOTSTRAP.
    let env = [("RUSTC_BOOTSTRAP", "1")];
    if !run("cargo", &["fuzz", "build", "--fuzz-dir", "fuzz"], &env)? {
        return Ok(false);
    }
    if build_only {
        return Ok(true);
    }
    if targets.is_empty() {
        targets = fuzz_targets()?;
    }
    let max_time = format!("-max_total_time={seconds}");
    let mut ok = true;
    for target in &targets {
        ok &= run(
            "cargo",
            &["fuzz", "run", "--fuzz-dir", "fuzz", target, "--", &max_time],
            &env,
        )?;
    }
    Ok(ok)
}

fn bench(args: &[String]) -> Result<bool> {
    // One cargo invocation builds the bench with the node binaries the `node` bench starts, so
    // they are always current and share one build of their dependencies.
    let build = [
        "build",
        "--release",
        "--locked",
        "-p",
        "sotto-bench",
        "-p",
        "sotto-node",
        "-p",
        "sotto-directory",
    ];
    if !run("cargo", &build, &[])? {
        bail!("building the benchmarks failed");
    }
    let target = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| root().join("target"), Path::to_path_buf);
    let bench = target.join("release/sotto-bench");
    let bench = bench
        .to_str()
        .context("the target directory is not valid UTF-8")?;
    let mut command = vec![bench];
    command.extend(args.iter().map(String::as_str));
    // The `node` bench pins its node processes and itself to one core each.
    let pins_itself = args.first().is_some_and(|name| name == "node");
    let pinned = !pins_itself
        && Command::new("taskset")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if pinned {
        let mut with_taskset = vec!["-c", "0"];
        with_taskset.extend(command);
        run("taskset", &with_taskset, &[])
    } else {
        run(
            bench,
            args.iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            &[],
        )
    }
}

fn ci() -> Result<bool> {
    let step = |args: &[&str]| -> Result<()> {
        if !run("cargo", args, &[])? {
            bail!("`cargo {}` failed", args.join(" "));
        }
        Ok(())
    };
    step(&["fmt", "--all", "--check"])?;
    step(&[
        "clippy",
        "--locked",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    if !deny::deny()? {
        bail!("`cargo deny check` failed: see supply-chain/README.md");
    }
    // The community server's tests run against PostgreSQL too.
    postgres::ensure()?;
    // The `sotto app` tests drive a headless Chromium.
    browser::ensure()?;
    step(&["test", "--locked", "--workspace"])?;
    // The README's main command, end to end on its own addresses and directories (so a
    // testnet the user runs is left alone).
    let demo_args = demo::DemoArgs {
        dir: Some(PathBuf::from("target/ci-demo/testnet")),
        nodes: 14,
        base_port: 24020,
        root: Some(PathBuf::from("target/ci-demo/accounts")),
        no_wait: true,
    };
    if !demo::demo(&demo_args)? {
        bail!("`cargo xtask demo` failed");
    }
    if !codegen::codegen(true)? {
        bail!("generated protobuf code is stale");
    }
    if !fuzz(&FuzzArgs {
        seconds: 60,
        build_only: true,
        targets: Vec::new(),
    })? {
        bail!("the fuzz targets do not build");
    }
    // Last, so the closing line of a CI log is the vector summary.
    if !vectors(&[])? {
        bail!("conformance vectors failed");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("xtask").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn commands_keep_their_flags_and_defaults() {
        let Some(Task::Fuzz(fuzz)) = parse(&["fuzz"]).unwrap().command else {
            panic!("fuzz")
        };
        assert_eq!((fuzz.seconds, fuzz.build_only), (60, false));
        let Some(Task::Fuzz(fuzz)) = parse(&["fuzz", "--seconds", "5", "--build-only", "a", "b"])
            .unwrap()
            .command
        else {
            panic!("fuzz")
        };
        assert_eq!((fuzz.seconds, fuzz.build_only), (5, true));
        assert_eq!(fuzz.targets, ["a", "b"]);
        assert!(parse(&["fuzz", "--seconds", "x"]).is_err());
        let Some(Task::Bench { args }) = parse(&["bench", "crypto", "--quick"]).unwrap().command
        else {
            panic!("bench")
        };
        assert_eq!(args, ["crypto", "--quick"]);
        assert!(matches!(
            parse(&["codegen", "--check"]).unwrap().command,
            Some(Task::Codegen { check: true })
        ));
        assert!(matches!(
            parse(&["vectors"]).unwrap().command,
            Some(Task::Vectors { dirs }) if dirs.is_empty()
        ));
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&[]).unwrap().command.is_none());
        // `help` and `--help` print the overview; every command has its own `--help`.
        for help in [
            &["help"][..],
            &["--help"],
            &["help", "testnet"],
            &["demo", "--help"],
        ] {
            let err = parse(help).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{help:?}");
        }
        let overview = Cli::command().render_long_help().to_string();
        for command in [
            "demo", "vectors", "fuzz", "bench", "codegen", "deny", "testnet", "ci",
        ] {
            assert!(overview.contains(command), "{command} missing: {overview}");
        }
    }

    #[test]
    fn testnet_control_verbs_and_dir_in_either_place() {
        let testnet = |args: &[&str]| match parse(args).unwrap().command {
            Some(Task::Testnet(t)) => t,
            other => panic!("{other:?}"),
        };
        let t = testnet(&["testnet"]);
        assert!(t.control.is_none());
        assert_eq!((t.nodes, t.base_port, t.dir), (14, 22020, None));
        let t = testnet(&["testnet", "kill", "node-03", "--dir", "x"]);
        assert_eq!(t.control.map(|c| c.line()).as_deref(), Some("kill node-03"));
        assert_eq!(t.dir, Some(PathBuf::from("x")));
        let t = testnet(&["testnet", "--dir", "y", "status"]);
        assert_eq!(t.control.map(|c| c.line()).as_deref(), Some("status"));
        assert_eq!(t.dir, Some(PathBuf::from("y")));
        for verb in ["add", "stop node-01", "restart node-02"] {
            let mut args = vec!["testnet"];
            args.extend(verb.split(' '));
            assert_eq!(
                testnet(&args).control.map(|c| c.line()).as_deref(),
                Some(verb)
            );
        }
        assert!(parse(&["testnet", "kill"]).is_err());
        assert!(parse(&["testnet", "--nodes", "0"]).is_err());
    }
}
