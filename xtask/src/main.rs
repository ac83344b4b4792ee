//! `cargo xtask`: the project's one task runner.
//!
//! ```text
//! cargo xtask demo               two accounts chat over a local testnet (the README's first command)
//! cargo xtask vectors [DIR…]     run the conformance vectors (default: test-vectors)
//! cargo xtask fuzz [--seconds N] [--build-only] [TARGET…]
//! cargo xtask bench NAME          run a benchmark in release mode on one core
//! cargo xtask codegen [--check]  regenerate (or check) the Rust code for proto/*.proto
//! cargo xtask deny               cargo-deny: advisories, licences, bans, sources
//! cargo xtask ci                 fmt, clippy, tests, vectors, fuzz build: what CI runs
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

mod codegen;
mod demo;
mod deny;
mod testnet;

const HELP: &str = "\
cargo xtask <command>

Commands:
  demo [--dir DIR] [--nodes N] [--base-port P] [--root ROOT] [--no-wait]
                      Start the local testnet (or reuse a running one), create two
                      accounts, alice and bob, in ROOT (default target/demo) and play a
                      chat between them with the `sotto` command, printing each command,
                      its delivery states and the onion route it took. The network then
                      stays up for you to chat on, until Ctrl-C (--no-wait: exit).
  vectors [DIR...]    Run every conformance vector in DIR (default: test-vectors).
                      Prints one line per failing case and ends with
                      `vectors: N passed, M failed`; exits 1 if anything failed.
  fuzz [--seconds N] [--build-only] [TARGET...]
                      Build the fuzz targets (cargo-fuzz, installed if missing) and run
                      each for N seconds (default 60). Without TARGET, all of them.
  bench NAME          Run benchmark NAME (release build, pinned to one core when
                      `taskset` exists); prints each figure with its ratio to a bound
                      measured in the same run and writes target/bench/NAME.json.
                      `cargo xtask bench` alone lists the benchmarks.
  codegen [--check]   Regenerate crates/sotto-envelope/src/generated/ from proto/*.proto
                      (pure Rust: protox + prost-build, no protoc). --check fails if the
                      committed code is stale.
  deny                cargo-deny (installed if missing) against deny.toml: known
                      advisories (from the snapshot in supply-chain/advisory-db),
                      licences, crate sources; offline.
  testnet [--nodes N] [--base-port P] [--dir DIR]
                      Start a local network (a directory and N nodes, default 14, each on
                      its own 127.0.0.x address) and supervise it until Ctrl-C; writes
                      DIR/network.json (default target/testnet). From another terminal:
                      `cargo xtask testnet status|add|kill NODE|stop NODE|restart NODE`.
  ci                  What CI runs: cargo fmt --check, clippy -D warnings, cargo deny,
                      the test suite, codegen --check, the vectors and a build of every
                      fuzz target.
  help                This text.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("vectors") => vectors(args.get(1..).unwrap_or_default()),
        Some("fuzz") => fuzz(args.get(1..).unwrap_or_default()),
        Some("bench") => bench(args.get(1..).unwrap_or_default()),
        Some("codegen") => codegen::codegen(args.get(1..).unwrap_or_default()),
        Some("testnet") => testnet::testnet(args.get(1..).unwrap_or_default()),
        Some("demo") => demo::demo(args.get(1..).unwrap_or_default()),
        Some("deny") => deny::deny(),
        Some("ci") => ci(),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(true)
        }
        Some(other) => {
            eprint!("unknown command {other:?}\n\n{HELP}");
            Ok(false)
        }
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

fn vectors(args: &[String]) -> Result<bool> {
    let dirs: Vec<PathBuf> = if args.is_empty() {
        vec![root().join("test-vectors")]
    } else {
        args.iter().map(PathBuf::from).collect()
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

fn fuzz(args: &[String]) -> Result<bool> {
    let mut seconds = 60u64;
    let mut build_only = false;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .context("--seconds needs a number")?
                    .parse()
                    .context("--seconds needs a number")?;
            }
            "--build-only" => build_only = true,
            name => targets.push(name.to_owned()),
        }
    }
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
    let pinned = Command::new("taskset")
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
    step(&["test", "--locked", "--workspace"])?;
    // The README's main command, end to end on its own addresses and directories (so a
    // testnet the user runs is left alone).
    let demo_args = [
        "--no-wait",
        "--dir",
        "target/ci-demo/testnet",
        "--root",
        "target/ci-demo/accounts",
        "--base-port",
        "24020",
    ]
    .map(str::to_owned);
    if !demo::demo(&demo_args)? {
        bail!("`cargo xtask demo` failed");
    }
    if !codegen::codegen(&["--check".to_owned()])? {
        bail!("generated protobuf code is stale");
    }
    if !fuzz(&["--build-only".to_owned()])? {
        bail!("the fuzz targets do not build");
    }
    // Last, so the closing line of a CI log is the vector summary.
    if !vectors(&[])? {
        bail!("conformance vectors failed");
    }
    Ok(true)
}
