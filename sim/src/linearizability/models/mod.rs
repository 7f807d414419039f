//! The models that ship: the lab's key/value store and a compare-and-swap register.

pub mod kv;
pub mod register;
