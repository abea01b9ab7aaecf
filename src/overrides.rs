//! `--set PATH=VALUE`, part of stage 2 (*validate*): command-line overrides of
//! experiment specs, for handouts and what-if questions.
//!
//! ```text
//! --set two-point-fig1-values.r=[1.5]
//! --set two-point-survival-low.measure.mixture.1.mean=2      (or mixture[1].mean)
//! ```
//!
//! PATH is an experiment id, then a field path in its YAML (list items by number);
//! VALUE is YAML. An override is an edit of the block's YAML tree (parsed once, when
//! the chapter was read), as the `quick:` tier is: the field's node is replaced and
//! the edited tree is validated by the experiment's own kind, so a bad value gets the
//! usual diagnostics, placed at the field in the chapter (the new value takes the
//! position of the one it replaces) and prefixed with the `--set` that caused it.
//! The chapter as written is validated first, so its own errors are reported as usual.
//!
//! The validated spec is what the cache key hashes, so an overridden experiment never
//! reuses the paper's cached result. The overrides are handed on to provenance and the
//! report ([`Overrides::records`]), which say on the first page and beside each
//! experiment that the numbers are not the chapters' own.
//!
//! A field set by `--set` also wins over the `quick:` tier: it is dropped from the
//! block's `quick:` mapping, so `--fidelity quick` cannot silently undo it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::Serialize;

use crate::diagnostic::{edit_distance, Diagnostic, Diagnostics};
use crate::experiment::{self, Experiment, FIXED_FIELDS};
use crate::spec::BlockCtx;
use crate::yaml::{Node, Pos, Value};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    /// A number: an item of a list (or a key spelled with digits, in a mapping).
    Index(usize),
}

/// One `--set PATH=VALUE`, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub experiment: String,
    /// The field path as typed, e.g. `measure.mixture.1.mean`.
    pub path: String,
    pub steps: Vec<Step>,
    /// The value as typed.
    pub value_text: String,
    pub value: Node,
}

impl Override {
    /// `experiment.path=value`, as typed.
    pub fn assignment(&self) -> String {
        format!("{}.{}={}", self.experiment, self.path, self.value_text)
    }
}

/// Parse one `--set` argument (clap's value parser). Errors say what is expected.
pub fn parse(arg: &str) -> Result<Override, String> {
    let example = "e.g. --set two-point-fig1-values.r=[1.5]";
    let (path, value_text) = arg
        .split_once('=')
        .ok_or_else(|| format!("expected PATH=VALUE, {example}"))?;
    let path = path.trim();
    let (experiment, field) = path.split_once('.').ok_or_else(|| {
        format!("`{path}` names no field: PATH is an experiment id, a dot, then a field path, {example}")
    })?;
    if !crate::chapter::valid_id(experiment) {
        return Err(format!(
            "`{experiment}` is not an experiment id; {}",
            crate::chapter::ID_HINT
        ));
    }
    let steps = parse_steps(field)?;
    if let Some(Step::Key(first)) = steps.first() {
        if FIXED_FIELDS.contains(&first.as_str()) {
            return Err(format!(
                "`{first}` cannot be overridden: --set changes parameters, not an experiment's id, kind or table names"
            ));
        }
    }
    let value = crate::yaml::parse(value_text)
        .map_err(|e| format!("the value `{value_text}` is not valid YAML: {}", e.message))?;
    Ok(Override {
        experiment: experiment.to_string(),
        path: field.to_string(),
        steps,
        value_text: value_text.to_string(),
        value,
    })
}

/// `measure.mixture.1.mean` or `measure.mixture[1].mean` → steps.
fn parse_steps(field: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in field.split('.') {
        let (key, brackets) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && brackets.is_empty() {
            return Err(format!("the field path `{field}` has an empty part"));
        }
        if !key.is_empty() {
            steps.push(match key.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(key.to_string()),
            });
        }
        let mut rest = brackets;
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .filter(|_| rest.starts_with('['))
                .ok_or_else(|| {
                    format!("`{part}` in `{field}`: write list items as `.1` or `[1]`")
                })?;
            let i = rest[1..close].trim().parse::<usize>().map_err(|_| {
                format!(
                    "`{part}` in `{field}`: `{}` is not an item number",
                    &rest[1..close]
                )
            })?;
            steps.push(Step::Index(i));
            rest = &rest[close + 1..];
        }
    }
    Ok(steps)
}

/// A problem applying an override to a block: the message, the part of the path that
/// exists (for placing the diagnostic), and a hint naming the valid paths nearby.
#[derive(Debug, PartialEq)]
pub struct ApplyError {
    pub message: String,
    pub found: String,
    pub hint: String,
}

/// Apply `overrides` (all for the same experiment) to a block's tree.
pub fn apply(root: &mut Node, overrides: &[&Override]) -> Result<(), ApplyError> {
    for o in overrides {
        set(root, o)?;
        drop_from_quick(root, o);
    }
    Ok(())
}

fn join(prefix: &str, step: &str) -> String {
    if prefix.is_empty() {
        step.to_string()
    } else {
        format!("{prefix}.{step}")
    }
}

fn items(n: usize) -> String {
    format!("{n} item{}", if n == 1 { "" } else { "s" })
}

fn set(root: &mut Node, o: &Override) -> Result<(), ApplyError> {
    let mut node = root;
    let mut walked = String::new();
    let last = o.steps.len() - 1;
    for (n, step) in o.steps.iter().enumerate() {
        let here = match step {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        };
        let err = |why: String, hint: String| ApplyError {
            message: format!(
                "experiment `{}` has no field `{}`{}{why}",
                o.experiment,
                join(&walked, &here),
                if why.is_empty() { "" } else { ": " }
            ),
            found: walked.clone(),
            hint,
        };
        // The new value is placed where the one it replaces was written (unknown, so
        // at the block's fence, for a field the chapter leaves out).
        let mut value = o.value.clone();
        if let Value::Map(_) = node.value {
            if n == last {
                // A new key is allowed: it may be an optional field left out of the
                // chapter; the kind's schema rejects names it does not know.
                value.restamp(node.get(&here).map_or(Pos::default(), |v| v.pos));
                node.insert(&here, value, Pos::default());
                return Ok(());
            }
            if node.get(&here).is_none() {
                let keys: Vec<String> = node
                    .entries()
                    .iter()
                    .filter_map(|(k, _)| k.as_str())
                    .map(|k| join(&walked, k))
                    .collect();
                return Err(err(String::new(), nearby(&join(&walked, &here), &keys)));
            }
            node = node.get_mut(&here).expect("present");
        } else if let Value::Seq(seq) = &mut node.value {
            let Step::Index(i) = step else {
                return Err(err(
                    format!(
                        "`{}` is a list of {}; give an item number",
                        display(&walked),
                        items(seq.len())
                    ),
                    format!("e.g. `{}`", join(&walked, "0")),
                ));
            };
            if *i >= seq.len() {
                return Err(err(
                    format!("`{}` has {}", display(&walked), items(seq.len())),
                    match seq.len() {
                        0 => "replace the whole list instead".to_string(),
                        n => format!(
                            "items are numbered 0 to {}; to change the length, set the whole list, e.g. `{}=[…]`",
                            n - 1,
                            display(&walked)
                        ),
                    },
                ));
            }
            if n == last {
                value.restamp(seq[*i].pos);
                seq[*i] = value;
                return Ok(());
            }
            node = &mut seq[*i];
        } else {
            return Err(err(
                format!(
                    "`{}` is a single value, not a mapping or a list",
                    display(&walked)
                ),
                format!("set `{}` itself", display(&walked)),
            ));
        }
        walked = join(&walked, &here);
    }
    Ok(())
}

/// `measure.mixture.1.mean` → `measure.mixture[1].mean`, the form `yaml::locate` reads.
fn locate_path(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        if part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "the experiment"
    } else {
        path
    }
}

/// A field set on the command line is removed from the `quick:` tier's mapping (and
/// an emptied `quick:` with it), so the quick tier cannot override the override.
fn drop_from_quick(root: &mut Node, o: &Override) {
    let Some(Step::Key(first)) = o.steps.first() else {
        return;
    };
    if first == "quick" {
        return;
    }
    let emptied = match root.get_mut("quick") {
        Some(q) => {
            q.remove(first);
            matches!(&q.value, Value::Map(m) if m.is_empty())
        }
        None => false,
    };
    if emptied {
        root.remove("quick");
    }
}

/// "closest: `a`, `b`, `c`" — up to five candidates by edit distance.
pub fn nearby(word: &str, candidates: &[String]) -> String {
    if candidates.is_empty() {
        return String::new();
    }
    let mut ranked: Vec<(usize, &String)> = candidates
        .iter()
        .map(|c| (edit_distance(word, c), c))
        .collect();
    ranked.sort();
    let shown: Vec<String> = ranked
        .iter()
        .take(5)
        .map(|(_, c)| format!("`{c}`"))
        .collect();
    let more = candidates.len().saturating_sub(shown.len());
    let close = ranked[0].0 <= (word.chars().count() / 3).max(2);
    if close && candidates.len() == 1 {
        return format!("did you mean {}?", shown[0]);
    }
    let closest = if close {
        format!("did you mean {}? ", shown[0])
    } else {
        String::new()
    };
    format!(
        "{closest}valid here{}: {}{}",
        if more > 0 { ", closest first" } else { "" },
        shown.join(", "),
        if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        }
    )
}

/// What provenance and the report record of each override.
#[derive(Clone, Debug, Serialize)]
pub struct OverrideRecord {
    pub experiment: String,
    pub path: String,
    pub value: String,
    /// `experiment.path=value`, as typed.
    pub assignment: String,
}

/// Every `--set` of a run, and the experiment ids seen while validating (to report the
/// overrides that named none).
#[derive(Debug, Default)]
pub struct Overrides {
    list: Vec<Override>,
    seen: Mutex<BTreeSet<String>>,
}

impl Clone for Overrides {
    fn clone(&self) -> Self {
        Overrides::new(self.list.clone())
    }
}

impl Overrides {
    pub fn new(list: Vec<Override>) -> Overrides {
        Overrides {
            list,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn list(&self) -> &[Override] {
        &self.list
    }

    pub fn records(&self) -> Vec<OverrideRecord> {
        self.list
            .iter()
            .map(|o| OverrideRecord {
                experiment: o.experiment.clone(),
                path: o.path.clone(),
                value: o.value_text.clone(),
                assignment: o.assignment(),
            })
            .collect()
    }

    /// Validate an `experiment` block: as written, then (if any override names it)
    /// with the overrides applied. The overridden spec is the one returned.
    pub fn validate(&self, ctx: &mut BlockCtx) -> Option<Experiment> {
        let id = ctx
            .tree
            .ok()
            .and_then(|t| t.get("id"))
            .and_then(|i| i.as_str())
            .map(str::to_string);
        if let Some(id) = &id {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone());
        }
        let mine: Vec<&Override> = self
            .list
            .iter()
            .filter(|o| Some(&o.experiment) == id.as_ref())
            .collect();
        // The chapter as written must stand on its own: its errors are its own.
        let as_written = experiment::validate(ctx)?;
        if mine.is_empty() {
            return Some(as_written);
        }
        let sets = mine
            .iter()
            .map(|o| format!("`--set {}`", o.assignment()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut tree = ctx.tree.ok()?.clone();
        if let Err(e) = apply(&mut tree, &mine) {
            // Point at the deepest part of the path that exists in the chapter.
            let d = if e.found.is_empty() {
                ctx.block.diagnostic(ctx.chapter, 0, 0, "")
            } else {
                ctx.at(&locate_path(&e.found), "")
            };
            let mut d = d
                .field(&e.found)
                .hint_opt((!e.hint.is_empty()).then_some(e.hint));
            d.message = format!("{sets}: {}", e.message);
            ctx.diags.push(d);
            return None;
        }
        let mut over = ctx.with_tree(&tree);
        let exp = experiment::validate(&mut over);
        // Errors of the overridden spec come from the overrides: say so. They are placed
        // at the field in the chapter when it is written there (else at the fence).
        for mut d in over.into_diags().0 {
            d.message = format!("with {sets}: {}", d.message);
            ctx.diags.push(d);
        }
        exp
    }

    /// Overrides naming an experiment no chapter has: one diagnostic each, with the
    /// closest ids. Called once at the end of loading a project; it forgets the ids
    /// seen, so the next load (`serve` reloads after every edit) starts afresh.
    pub fn unmatched(&self) -> Diagnostics {
        let seen = std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()));
        let ids: Vec<String> = seen.iter().cloned().collect();
        let mut diags = Diagnostics::default();
        for o in &self.list {
            if !seen.contains(&o.experiment) {
                diags.push(
                    Diagnostic::new(
                        "--set",
                        format!(
                            "`--set {}`: no experiment has id `{}`",
                            o.assignment(),
                            o.experiment
                        ),
                    )
                    .hint(nearby(&o.experiment, &ids)),
                );
            }
        }
        diags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "id: tp\nkind: complexity\nmeasure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}\nr: [\"1/sqrt(2)\", 1.5, 3]\nsamples: 1000\nquick: {samples: 10, u: [1]}\ntables: {summary: tp-summary}\n";

    /// Apply overrides to BODY's tree.
    fn apply_to(overrides: &[&Override]) -> Result<Node, ApplyError> {
        let mut root = crate::yaml::parse(BODY).unwrap();
        apply(&mut root, overrides).map(|()| root)
    }

    /// The value at a dotted path (list items by number), `Null` when absent.
    fn value(root: &Node, path: &str) -> Value {
        let mut node = root;
        for part in path.split('.') {
            let next = match (part.parse::<usize>(), &node.value) {
                (Ok(i), Value::Seq(items)) => items.get(i),
                _ => node.get(part),
            };
            match next {
                Some(n) => node = n,
                None => return Value::Null,
            }
        }
        node.value.clone()
    }

    #[test]
    fn parses_paths_values_and_refuses_identity_fields() {
        let o = parse("tp.measure.mixture.1.mean=2").unwrap();
        assert_eq!(o.experiment, "tp");
        assert_eq!(
            o.steps,
            vec![
                Step::Key("measure".into()),
                Step::Key("mixture".into()),
                Step::Index(1),
                Step::Key("mean".into())
            ]
        );
        assert_eq!(o.value.value, Value::Int(2));
        let b = parse("tp.measure.mixture[1].mean=2").unwrap();
        assert_eq!(b.steps, o.steps);
        let l = parse("tp.r=[1.5, 2]").unwrap();
        assert!(matches!(&l.value.value, Value::Seq(items) if items.len() == 2));
        assert!(parse("tp.r").unwrap_err().contains("PATH=VALUE"));
        assert!(parse("tp=3").unwrap_err().contains("names no field"));
        assert!(parse("Tp.r=3")
            .unwrap_err()
            .contains("not an experiment id"));
        assert!(parse("tp.tables.summary=x")
            .unwrap_err()
            .contains("cannot be overridden"));
        assert!(parse("tp.r=[1,").unwrap_err().contains("not valid YAML"));
        assert!(parse("tp.r[x]=1")
            .unwrap_err()
            .contains("not an item number"));
    }

    #[test]
    fn applies_to_nested_fields_and_lists() {
        let o = parse("tp.measure.mixture.1.mean=2").unwrap();
        let root = apply_to(&[&o]).unwrap();
        assert_eq!(value(&root, "measure.mixture.1.mean"), Value::Int(2));
        assert_eq!(value(&root, "measure.mixture.0.mean"), Value::Int(-1));
        // The new value stands where the old one was written (line 3 of BODY).
        let (line, _) = root.locate("measure.mixture[1].mean").unwrap();
        assert_eq!(line, 3);
        let r = parse("tp.r=[1.5]").unwrap();
        let root = apply_to(&[&r]).unwrap();
        assert!(matches!(value(&root, "r"), Value::Seq(items) if items.len() == 1));
        let item = parse("tp.r.2=4").unwrap();
        assert_eq!(value(&apply_to(&[&item]).unwrap(), "r.2"), Value::Int(4));
        // An optional field left out of the chapter may be added.
        let seed = parse("tp.seed=7").unwrap();
        assert_eq!(value(&apply_to(&[&seed]).unwrap(), "seed"), Value::Int(7));
    }

    #[test]
    fn a_set_field_leaves_the_quick_tier() {
        let o = parse("tp.samples=500").unwrap();
        let root = apply_to(&[&o]).unwrap();
        assert_eq!(value(&root, "samples"), Value::Int(500));
        assert_eq!(value(&root, "quick.samples"), Value::Null);
        assert_eq!(value(&root, "quick.u.0"), Value::Int(1));
        let u = parse("tp.u=[0.5]").unwrap();
        let root = apply_to(&[&o, &u]).unwrap();
        assert_eq!(value(&root, "quick"), Value::Null, "an emptied quick goes");
    }

    #[test]
    fn unknown_paths_name_the_valid_ones_nearby() {
        let o = parse("tp.measure.mixtuer.1.mean=2").unwrap();
        let e = apply_to(&[&o]).unwrap_err();
        assert!(e.message.contains("no field `measure.mixtuer`"), "{e:?}");
        assert!(e.hint.contains("did you mean `measure.mixture`"), "{e:?}");
        assert_eq!(e.found, "measure");
        let o = parse("tp.r.5=1").unwrap();
        let e = apply_to(&[&o]).unwrap_err();
        assert!(e.message.contains("has 3 items"), "{e:?}");
        assert!(e.hint.contains("0 to 2"), "{e:?}");
        let o = parse("tp.samples.n=1").unwrap();
        let e = apply_to(&[&o]).unwrap_err();
        assert!(e.message.contains("single value"), "{e:?}");
        let o = parse("tp.r.x=1").unwrap();
        assert!(apply_to(&[&o])
            .unwrap_err()
            .message
            .contains("give an item number"));
    }

    #[test]
    fn each_load_reports_unmatched_ids_afresh() {
        let o = Overrides::new(vec![parse("tp.r=[1]").unwrap()]);
        o.seen.lock().unwrap().insert("tp".to_string());
        assert!(o.unmatched().is_empty());
        // A later load that no longer has `tp` (an edit under `serve`) reports it.
        let d = o.unmatched();
        assert_eq!(d.len(), 1);
        assert!(d.0[0].message.contains("no experiment has id `tp`"), "{d}");
    }

    #[test]
    fn nearby_ranks_by_distance() {
        let c: Vec<String> = [
            "two-point-density",
            "two-point-fig1-values",
            "gaussian-survival",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let h = nearby("two-point-fig1-value", &c);
        assert!(
            h.starts_with("did you mean `two-point-fig1-values`?"),
            "{h}"
        );
        let h = nearby("zzz", &c);
        assert!(!h.contains("did you mean"), "{h}");
        assert!(h.contains("`gaussian-survival`"), "{h}");
    }
}
