//! Thin adapters over browser APIs. No decisions here: they move values
//! between the browser and `sluice-core`, and turn browser failures into
//! errors the UI can explain.

pub mod agent_client;
pub mod agent_store;
pub mod auth;
pub mod clock;
pub mod crash;
pub mod dialogs;
pub mod files;
pub mod http;
pub mod project;
pub mod queue_rpc;
pub mod realtime;
pub mod rest;
pub mod runtime_config;
pub mod storage;
pub mod tab_lock;
pub mod table_store;
