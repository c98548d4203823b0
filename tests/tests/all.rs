
mod cli;
mod tidy;
