//! Integration tests: the real server over HTTP, and the real `tandem` binary.
//!
//! One test binary (faster to link than one per file); one module per feature.

mod agent_client;
mod agent_console;
mod agents;
mod analytics;
mod ask;
mod browser;
mod cdp;
mod chat;
mod chat_limits;
mod cli;
mod customer;
mod database;
mod encoder_backends;
mod handoff;
mod hardening;
mod health;
mod helpers;
mod insights_browser;
mod judgement;
mod knowledge_validation;
mod languages;
mod layout;
mod lifecycle;
mod metrics;
mod model;
mod multinode;
mod operators;
mod protocol_doc;
mod queues;
mod reload;
mod restart;
mod server_process;
mod sighup;
mod tune;
mod tune_chinese;
mod tune_serving;
mod understanding;
mod usem_reference;
mod widget_browser;
mod widget_http;
