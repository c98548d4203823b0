
mod cli;
mod tidy;
mod sim_protocol;
mod sim_scenarios;
mod sim_props;
