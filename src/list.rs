//! `diffrepro list`: what a project contains, for people and (with `--json`) tools.

use serde::Serialize;

use crate::project::Project;

#[derive(Serialize)]
pub struct Listing {
    pub chapters: Vec<ChapterListing>,
}

#[derive(Serialize)]
pub struct ChapterListing {
    pub id: String,
    pub title: String,
    pub file: String,
    pub order: i64,
    pub paper_refs: Vec<String>,
    pub experiments: Vec<ExperimentListing>,
    pub tables: Vec<String>,
    pub figures: Vec<String>,
    pub claims: Vec<ClaimListing>,
}

#[derive(Serialize)]
pub struct ExperimentListing {
    pub id: String,
    pub kind: String,
    pub tables: Vec<String>,
}

#[derive(Serialize)]
pub struct ClaimListing {
    pub id: String,
    pub claim: String,
    /// What the check rests on, and the paper's item it is about.
    pub basis: &'static str,
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
