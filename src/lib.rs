//! diffrepro: a literate reproduction of Liang, Dharmakeerthi and Koriyama,
//! "Denoising Diffusions with Optimal Transport: Localization, Curvature, and
//! Multi-Scale Complexity" (arXiv:2411.01629).
//!
//! The modules follow the pipeline, in order:
//!
//! ```text
//! chapters/*.md ─chapter─▶ Chapter ─spec/experiment─▶ typed specs (project)
//!   ─experiment─▶ tables (table) ─figure─▶ SVG/PNG ─check─▶ outcomes
//!   ─report─▶ one format-neutral model ─render─▶ report.html, report.pdf (handout: editions)
//! ```
//!
//! The mathematics (`measure`, `localize`) knows nothing of Markdown, Polars or
//! templates: it takes numbers and returns numbers.

pub mod bench;
pub mod cache;
pub mod chapter;
pub mod check;
pub mod cli;
pub mod diagnostic;
pub mod experiment;
pub mod figure;
pub mod handout;
pub mod limits;
// The mathematics lives in its own crate; its modules keep their names here.
pub use diffrepro_math::{localize, measure, particles, plane, rng};
pub mod list;
pub mod output;
pub mod overrides;
pub mod pipeline;
pub mod project;
pub mod provenance;
pub mod rebuild_bench;
pub mod render;
pub mod report;
pub mod reporter;
pub mod serve;
pub mod spec;
pub mod table;
pub mod typesetter;
pub mod yaml;
