//! Tayori's integration suites: the real server, real plugins built from
//! `plugins/`, real databases, and loopback fakes of partner platforms.
//! They run as tests of the `tayori` package (see host/tayori/Cargo.toml) so
//! that they can start the real binary.

mod support;

mod api_catalog;
mod api_channels;
mod api_input;
mod api_isolation;
mod api_openapi;
mod api_reports;
mod api_reports_all;
mod api_schemathesis;
mod api_subscribers;
mod api_tenants;
mod backup;
mod browser_console;
mod browser_console_broadcasts;
mod browser_console_channels;
mod browser_console_content;
mod browser_console_operator;
mod browser_console_plugins;
mod browser_console_poster;
mod browser_parents;
mod browser_self_service;
mod channel_setup;
mod cli_households;
mod cli_tenants;
mod contract_versions;
mod e2e_failures;
mod e2e_inbound_mail;
mod e2e_platforms;
mod e2e_webhooks;
mod email_unsubscribe;
mod line_registration;
mod partner_kit;
mod partner_python;
mod pipeline;
mod pipeline_processes;
mod platform_bundled;
mod platform_email;
mod platform_kanameto;
mod platform_line;
mod platform_line_interactive;
mod platform_line_richmenu;
mod platform_muni_app;
mod platform_x_dm;
mod platform_x_dm_interactive;
mod plugin_answers;
mod plugins_api;
mod sandbox;
mod schedule_paths;
mod upgrade_in_place;
