//! What the report tests share: realistic sample results ([`sample`]) and a
//! reader of the rendered page's charts ([`svg`]). Each test file uses part
//! of it, hence `dead_code` is allowed here.
#![allow(dead_code, unused_imports)]

pub mod sample;
pub mod svg;
