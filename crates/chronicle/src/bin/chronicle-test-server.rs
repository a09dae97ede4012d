//! `chronicle-test-server PORT [--enable-time-skipping]`: Chronicle as the
//! SDKs' time-skipping test server, launched as they launch Temporal's
//! (`start_time_skipping(test_server_existing_path=...)` in Python,
//! `TestWorkflowEnvironment.createTimeSkipping` in TypeScript): the port
//! first, state in memory, gRPC on 127.0.0.1 (`--ip` to change it), and
//! Temporal's TestService beside the usual services. Time skipping starts
//! locked (the SDKs unlock it while a test waits on a result or sleeps);
//! `--enable-time-skipping` starts it unlocked.

use anyhow::Context;
use chronicle_server::{Server, ServerOptions};
use std::process::ExitCode;

const USAGE: &str = "usage: chronicle-test-server PORT [--enable-time-skipping] [--ip ADDR] [--log-level LEVEL]";

struct Args {
    port: u16,
    unlocked: bool,
    ip: String,
    log_level: String,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let port = args.next().ok_or("missing PORT")?;
    let port = port.parse().map_err(|_| format!("PORT must be a port number, got {port:?}"))?;
    let mut parsed = Args { port, unlocked: false, ip: "127.0.0.1".into(), log_level: "warn".into() };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--enable-time-skipping" => parsed.unlocked = true,
            "--ip" => parsed.ip = args.next().ok_or("--ip needs an address")?,
            "--log-level" => parsed.log_level = args.next().ok_or("--log-level needs a level")?,
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("Error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid log level {}", args.log_level))?
        // Spans for trace exporters only (a test server exports none).
        .add_directive(format!("{}=off", chronicle_server::traces::TARGET).parse()?);
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let addr = format!("{}:{}", args.ip, args.port);
        let listener =
            tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let store = chronicle_store::open(&chronicle_store::StoreUrl::SqliteMemory, 0).await?;
        let server = Server::build_for_testing(store, ServerOptions::default(), args.unlocked).await?;
        println!("Chronicle test server listening on {}", listener.local_addr()?);
        server.serve(listener, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else { return std::future::pending().await };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
