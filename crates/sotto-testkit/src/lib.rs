#![doc = include_str!("../README.md")]

pub mod media;
pub mod net;
pub mod postgres;
pub mod v4;
pub mod vectors;
pub mod web;
