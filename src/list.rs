//! `diffrepro list`: what a project contains, for people and (with `--json`) tools.

use serde::Serialize;

use crate::project::Project;

/// The whole listing: the object `list --json` prints.
#[derive(Serialize)]
pub struct Listing {
    /// Every chapter of the project, in report order.
    pub chapters: Vec<ChapterListing>,
}

/// One chapter: its front matter and the ids of the blocks it declares.
#[derive(Serialize)]
pub struct ChapterListing {
    /// The chapter's `id:` (what `--chapters` takes).
    pub id: String,
    /// The chapter's `title:`.
    pub title: String,
    /// The chapter's Markdown file, relative to the project.
    pub file: String,
    /// The `order:` of the front matter, which sorts the chapters (0 when not given).
    pub order: i64,
    /// The paper's results the chapter covers (`paper_refs:`), e.g. `"Example 4"`.
    pub paper_refs: Vec<String>,
    /// The chapter's experiment blocks, in the order written.
    pub experiments: Vec<ExperimentListing>,
    /// The names of all tables its experiments write, experiment by experiment.
    pub tables: Vec<String>,
    /// The ids of its figure blocks, in the order written.
    pub figures: Vec<String>,
    /// Its check blocks, in the order written.
    pub claims: Vec<ClaimListing>,
}

/// An experiment block.
#[derive(Serialize)]
pub struct ExperimentListing {
    /// The experiment's `id:`.
    pub id: String,
    /// Its `kind:` (`complexity`, `density`, `particles`, …).
    pub kind: String,
    /// The names of the tables it writes, in the order of its kind's outputs.
    pub tables: Vec<String>,
}

/// A check block: the claim it tests.
#[derive(Serialize)]
pub struct ClaimListing {
    /// The check's `id:`.
    pub id: String,
    /// The claim as written in the block (its `{{ … }}` expressions not filled in).
    pub claim: String,
    /// What the check rests on: `paper_value`, `paper_figure`, `closed_form`,
    /// `theorem` or `consistency`.
    pub basis: &'static str,
    /// The paper's item the claim is about (`paper_ref:`), e.g. `"Theorem 4"`.
    pub paper_ref: String,
}

pub fn listing(p: &Project) -> Listing {
    Listing {
        chapters: p
            .chapters
            .iter()
            .map(|c| ChapterListing {
                id: c.id().to_string(),
                title: c.chapter.front.title.clone(),
                file: c.chapter.path.display().to_string(),
                order: c.chapter.front.order,
                paper_refs: c.chapter.front.paper_refs.clone(),
                experiments: c
                    .experiments()
                    .map(|e| ExperimentListing {
                        id: e.id.clone(),
                        kind: e.kind.to_string(),
                        tables: e.outputs.iter().map(|s| s.name.clone()).collect(),
                    })
                    .collect(),
                tables: c
                    .experiments()
                    .flat_map(|e| e.outputs.iter().map(|s| s.name.clone()))
                    .collect(),
                figures: c.figures().map(|f| f.id.clone()).collect(),
                claims: c
                    .checks()
                    .map(|k| ClaimListing {
                        id: k.id.clone(),
                        claim: k.claim.clone(),
                        basis: k.basis.name(),
                        paper_ref: k.paper_ref.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The plain-text listing.
pub fn text(l: &Listing) -> String {
    let mut s = String::new();
    for (i, c) in l.chapters.iter().enumerate() {
        s.push_str(&format!("{}. {} [{}] ({})\n", i + 1, c.title, c.id, c.file));
        if !c.paper_refs.is_empty() {
            s.push_str(&format!("   paper: {}\n", c.paper_refs.join(", ")));
        }
        for e in &c.experiments {
            s.push_str(&format!(
                "   experiment {} ({}) → {}\n",
                e.id,
                e.kind,
                e.tables.join(", ")
            ));
        }
        if !c.figures.is_empty() {
            s.push_str(&format!("   figures: {}\n", c.figures.join(", ")));
        }
        for k in &c.claims {
            s.push_str(&format!(
                "   check {} ({}, {}): {}\n",
                k.id, k.paper_ref, k.basis, k.claim
            ));
        }
    }
    s
}
