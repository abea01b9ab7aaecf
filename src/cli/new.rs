//! `diffrepro new NAME [PROJECT]`: scaffold `chapters/NAME.md`, a chapter that builds
//! as it is (one experiment, figure, check, exercise and solution) for an author to
//! edit. It is a leaf: it writes one file and hands nothing on. It refuses to
//! overwrite a file, to reuse a chapter id, or to create block ids or table names
//! another chapter already uses (ids are unique across a project).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_FAILED, EXIT_INPUT};
use crate::chapter::{valid_id, Chapter, ID_HINT};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The new chapter's id (lowercase letters, digits, `-`, `_`); the file is
    /// chapters/NAME.md.
    pub name: String,
    /// Project folder holding (or to hold) chapters/.
    #[arg(default_value = ".")]
    pub project: PathBuf,
}

/// The scaffold; `{id}`, `{title}` and `{order}` are filled in. It uses the paper's
/// Example 4 (two point masses at ±1), whose `sup_localization` has a closed form, so
/// its check holds for any grid an author picks.
const TEMPLATE: &str = r#"---
id: {id}
title: {title}
paper_refs: ["Example 4"]
order: {order}
---
Write the chapter in Markdown, with math such as $L_r(y)$ and numbers quoted from the
computed tables, never typed. This scaffold builds as it is: edit it. It studies the
paper's Example 4, two point masses $\mu = \tfrac12\delta_{-1} + \tfrac12\delta_{+1}$,
whose localization is $L_r(y) = r^2\operatorname{sech}^2(r y)$.

```experiment
id: {id}-two-point
kind: complexity
measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
r: [0.5, 1, 1.5, 2]
u: {from: 0, to: 4, n: 81}
tables: {summary: {id}-summary, survival: {id}-survival}
```

```figure
id: fig-{id}-survival
type: line
table: {id}-survival
x: u
y: survival
series: r
vlines: [1]
x_label: u
y_label: s_r(u)
caption: Survival functions $s_r(u) = P(L_r > u)$ for two point masses; the dashed line is $u = 1$.
```

At $r = 1.5$ the localization reaches
$\sup_y L_r(y) =$ {{ value(table="{id}-summary", column="sup_l", where="r=1.5") | fixed(digits=3) }};
compare it with 1, the bound every log-concave law obeys.

```check
id: {id}-sup-l
claim: $\sup_y L_r(y) = r^2$ at every $r$ of the grid
basis: closed_form
paper_ref: Definition 4
computed: {table: {id}-summary, column: sup_l}
expected: {closed_form: sup_localization}
tolerance: {abs: 1e-8}
```

```exercise
For which $r$ does $\sup_y L_r(y)$ exceed 1? Read it off {{ ref(id="fig-{id}-survival") }},
then derive it from the closed form of $L_r$.
```

```solution
$\operatorname{sech}$ is at most 1, with equality at 0, so $\sup_y L_r(y) = r^2$: it
exceeds 1 exactly when $r > 1$. In the figure, the curves for $r \le 1$ reach zero
before the dashed line $u = 1$.
```
"#;

pub fn run(args: Args) -> ExitCode {
    match scaffold(&args.project, &args.name) {
        Ok(path) => {
            eprintln!(
                "created {}; build it with `diffrepro build --chapters {}`",
                path.display(),
                args.name
            );
            ExitCode::SUCCESS
        }
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Write `chapters/NAME.md` in `project`; returns its path, or (exit code, message).
pub fn scaffold(project: &Path, name: &str) -> Result<PathBuf, (u8, String)> {
    let input = |m: String| (EXIT_INPUT, m);
    // The longest derived id is `fig-NAME-survival`, and ids are at most 64 characters.
    if !valid_id(name) || name.len() > 50 {
        return Err(input(format!(
            "`{name}` is not a valid chapter id: {ID_HINT} (at most 50 here, as block ids are built from it)"
        )));
    }
    let dir = project.join("chapters");
    let path = dir.join(format!("{name}.md"));
    if path.exists() {
        return Err(input(format!(
            "{} already exists; choose another name (nothing was overwritten)",
            path.display()
        )));
    }
    let existing = existing_chapters(&dir);
    let text = TEMPLATE
        .replace("{id}", name)
        .replace("{title}", &title_of(name))
        .replace(
            "{order}",
            &(existing.iter().map(|c| c.front.order).max().unwrap_or(0) + 10).to_string(),
        );
    let new = Chapter::parse(path.clone(), text.clone()).map_err(|d| {
        (
            EXIT_FAILED,
            format!("internal error: the scaffold does not parse: {d}"),
        )
    })?;
    // Ids are shared by the whole project: refuse to create a duplicate.
    let mine = ids(&new);
    for ch in &existing {
        if ch.front.id == name {
            return Err(input(format!(
                "chapter id `{name}` is already used by {}",
                ch.path.display()
            )));
        }
        if let Some(id) = ids(ch).into_iter().find(|i| mine.contains(i)) {
            return Err(input(format!(
                "`{id}`, which the scaffold would create, is already used in {}; choose another name",
                ch.path.display()
            )));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| (EXIT_FAILED, format!("{}: {e}", dir.display())))?;
    // `create_new` so that a file appearing meanwhile is not overwritten either.
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        f.write_all(text.as_bytes())
    };
    write().map_err(|e| (EXIT_FAILED, format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// "two-point_mu2" → "Two point mu2".
fn title_of(name: &str) -> String {
    let words = name.replace(['-', '_'], " ");
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The chapters already there that parse (a broken one is the build's business).
fn existing_chapters(dir: &Path) -> Vec<Chapter> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|f| Chapter::from_file(f, f).ok())
        .collect()
}

/// Every block id and table name a chapter declares.
fn ids(ch: &Chapter) -> Vec<String> {
    let mut out = Vec::new();
    for b in ch.blocks() {
        let Ok(v) = &b.tree else {
            continue;
        };
        if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
            out.push(id.to_string());
        }
        if let Some(t) = v.get("tables") {
            out.extend(
                t.entries()
                    .iter()
                    .filter_map(|(_, n)| n.as_str())
                    .map(str::to_string),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_ids() {
        assert_eq!(title_of("two-point_mu2"), "Two point mu2");
        let dir = std::env::temp_dir().join(format!("diffrepro-new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = scaffold(&dir, "intro").unwrap();
        let ch = Chapter::from_file(&p, &p).unwrap();
        assert_eq!(ch.front.id, "intro");
        assert_eq!(ch.front.order, 10);
        let got = ids(&ch);
        for want in [
            "intro-two-point",
            "intro-summary",
            "intro-survival",
            "fig-intro-survival",
            "intro-sup-l",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} in {got:?}");
        }
        // No overwrite, no bad names.
        assert_eq!(scaffold(&dir, "intro").unwrap_err().0, EXIT_INPUT);
        assert!(scaffold(&dir, "Bad Name")
            .unwrap_err()
            .1
            .contains("not a valid"));
        // A second chapter goes after the first.
        let p2 = scaffold(&dir, "next").unwrap();
        assert_eq!(Chapter::from_file(&p2, &p2).unwrap().front.order, 20);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
