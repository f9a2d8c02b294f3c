//! The `ferrite` command line: `serve`, `generate-config`, `env`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferrite_config::{Config, DEFAULT_CONFIG_TOML};
use ferrite_server::{Server, logging};

#[derive(Parser)]
#[command(name = "ferrite", version, about = "A self-hosted AWS IoT Core")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// TOML config file; FERRITE_* environment variables override it.
        #[arg(long, short, env = "FERRITE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print a commented config file holding the built-in defaults.
    GenerateConfig,
    /// Print the shell exports that point the AWS CLI, boto3 and the Device SDK here
    /// (`eval "$(ferrite env)"`); generates the API key pair if there is none yet.
    Env {
        /// TOML config file; FERRITE_* environment variables override it.
        #[arg(long, short, env = "FERRITE_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let mut cfg = match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => Config::default(),
    };
    let vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("FERRITE_"))
        .collect();
    cfg.apply_env(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok(cfg)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::GenerateConfig => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
        Command::Serve { config } => serve(config),
        Command::Env { config } => load_config(config.as_ref())
            .and_then(|cfg| ferrite_server::env::exports(&cfg))
            .map(|text| print!("{text}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrite: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = load_config(config.as_ref())?;
    logging::init(&cfg.log, std::env::var("RUST_LOG").ok().as_deref());
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all().thread_name("ferrite-worker");
    if cfg.server.worker_threads > 0 {
        rt.worker_threads(cfg.server.worker_threads);
    }
    rt.build()?.block_on(async move {
        let server = Server::start(cfg).await?;
        wait_for_signal().await?;
        server.shutdown().await;
        Ok(())
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
