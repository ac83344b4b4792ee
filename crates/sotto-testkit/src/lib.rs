#![doc = include_str!("../README.md")]

pub mod net;
pub mod vectors;
pub mod web;
