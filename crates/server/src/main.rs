//! The `ferrite` command line: `serve`, `generate-config`, `env`, `rules test`.

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
    /// Topic rules without a server.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Evaluates a rule's SQL for one message, as the rules engine would, without creating it;
    /// prints whether the topic and WHERE match, the output, and any rendered templates.
    Test {
        /// The rule's SQL, e.g. "SELECT temp FROM 'sensors/+/data' WHERE temp > 30".
        #[arg(long)]
        sql: String,
        /// The topic the message is published to.
        #[arg(long)]
        topic: String,
        /// The payload (text or JSON); omit for an empty one.
        #[arg(long)]
        payload: Option<String>,
        /// 2015-10-08 (AWS's default), 2016-03-23 or beta.
        #[arg(long)]
        sql_version: Option<String>,
        /// The publishing client's id, for clientid().
        #[arg(long)]
        client_id: Option<String>,
        /// An action field with ${...} templates to render; repeatable.
        #[arg(long = "template")]
        templates: Vec<String>,
        /// TOML config file (for the account id); FERRITE_* environment variables override it.
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
        Command::Rules {
            command:
                RulesCommand::Test {
                    sql,
                    topic,
                    payload,
                    sql_version,
                    client_id,
                    templates,
                    config,
                },
        } => load_config(config.as_ref()).and_then(|cfg| {
            let test = ferrite_rules_service::RuleTest {
                sql,
                aws_iot_sql_version: sql_version,
                topic,
                payload,
                client_id,
                templates,
                ..Default::default()
            };
            let out = ferrite_rules_service::test_rule(&test, &cfg.aws.account_id)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }),
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
