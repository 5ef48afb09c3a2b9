//! `tandem agents add|list|disable|enable|reset-password`: agent accounts, from the machine the server runs on.

use std::io::{BufRead, Write};

use anyhow::Context;
use clap::Subcommand;

use crate::auth::{self, AuthError};
use crate::config::Settings;
use crate::storage::{Role, Store};

/// Agent account commands.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Create an agent. Prints a generated password unless --password-stdin is given.
    Add {
        /// Sign-in email (case does not matter).
        email: String,
        /// Display name, shown to customers.
        #[arg(long)]
        name: String,
        /// `agent` or `admin`.
        #[arg(long, default_value = "agent", value_parser = ["agent", "admin"])]
        role: String,
        /// Queues the agent takes conversations from, comma separated.
        #[arg(long, default_value = "general", value_delimiter = ',')]
        skills: Vec<String>,
        /// Most conversations the agent holds at once.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        max_chats: u32,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List agents: email, name, role, skills, max chats, status.
    List,
    /// Disable an agent: they cannot sign in and are signed out everywhere at once.
    Disable {
        /// The agent's email.
        email: String,
    },
    /// Enable a disabled agent again.
    Enable {
        /// The agent's email.
        email: String,
    },
    /// Give an agent (the first admin too) a new password and sign them out everywhere. Prints
    /// a generated password unless --password-stdin is given.
    ResetPassword {
        /// The agent's email.
        email: String,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// A password from the first line of standard input, or a generated one (`true`).
fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((auth::generate_password()?, true))
    }
}

/// Runs an agents command against the database in the `data_dir` setting.
pub fn run(
    out: &mut impl Write,
    settings: &Settings,
    command: AgentsCommand,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::connect(&settings.database_url, &settings.data_dir)
            .await
            .context("cannot open the conversation store")?;
        let result = execute(out, &store, command).await;
        store.close().await;
        result
    })
}

async fn execute(
    out: &mut impl Write,
    store: &Store,
    command: AgentsCommand,
) -> anyhow::Result<()> {
    match command {
        AgentsCommand::Add {
            email,
            name,
            role,
            skills,
            max_chats,
            password_stdin,
        } => {
            let role = if role == "admin" {
                Role::Admin
            } else {
                Role::Agent
            };
            let (password, generated) = new_password(password_stdin)?;
            let skills = skills
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            let agent = match auth::add_agent(
                store,
                &email,
                &name,
                password.clone(),
                role,
                skills,
                max_chats,
            )
            .await
            {
                Err(AuthError::Storage(e)) => return Err(e).context("cannot add the agent"),
                other => other?,
            };
            writeln!(
                out,
                "added {} ({}, {})",
                agent.email,
                agent.name,
                agent.role.as_str()
            )?;
            if generated {
                writeln!(out, "password: {password}")?;
                writeln!(out, "(shown once; it is stored only as an argon2 hash)")?;
            }
        }
        AgentsCommand::List => {
            let agents = store.agents().await?;
            if agents.is_empty() {
                writeln!(out, "no agents")?;
            }
            for agent in agents {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\tmax {}\t{}",
                    agent.email,
                    agent.name,
                    agent.role.as_str(),
                    agent.skills.join(","),
                    agent.max_chats,
                    if agent.disabled { "disabled" } else { "active" }
                )?;
            }
        }
        AgentsCommand::Disable { email } => {
            let agent = store.set_agent_disabled(&email, true).await?;
            writeln!(out, "disabled {} and signed them out", agent.email)?;
        }
        AgentsCommand::Enable { email } => {
            let agent = store.set_agent_disabled(&email, false).await?;
            writeln!(out, "enabled {}", agent.email)?;
        }
        AgentsCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let (password, generated) = new_password(password_stdin)?;
            if password.chars().count() < auth::MIN_PASSWORD_CHARS {
                return Err(AuthError::WeakPassword.into());
            }
            let hash = auth::hash_password(password.clone()).await?;
            let agent = store.set_password_hash(&email, &hash).await?;
            writeln!(
                out,
                "new password for {}; signed out everywhere",
                agent.email
            )?;
            if generated {
                writeln!(out, "password: {password}")?;
                writeln!(out, "(shown once; it is stored only as an argon2 hash)")?;
            }
        }
    }
    Ok(())
}
