
mod cli;
mod tidy;
mod api_config;
mod api_customers;
mod api_misc;
mod api_orders;
mod sim_protocol;
mod sim_scenarios;
mod sim_props;
mod api_lifecycle;
mod node_sync;
mod faults;
