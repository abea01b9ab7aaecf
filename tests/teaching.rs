//! Teaching (issue 8): `--set` overrides, `--chapters`, the handout pair, `new`, and
//! the live preview server, on small projects run through the real binary.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{stderr, Project};

/// Two point masses at ±1 at r = 1.5: sup L_r = (rμ)² = 2.25, and 9 once μ = 2.
const CHAPTER: &str = r#"---
id: tp
title: Two points
paper_refs: ["Example 4"]
order: 10
---
The largest localization at r = 1.5 is {{ value(table="tp-summary", column="sup_l", where="r=1.5") | fixed(digits=4) }}.

```experiment
id: tp
kind: complexity
measure: {mixture: [{weight: 0.5, mean: -1, var: 0}, {weight: 0.5, mean: 1, var: 0}]}
r: [0.5, 1.5]
u: [1]
tables: {summary: tp-summary, survival: tp-survival}
```

```table
id: tab-tp
table: tp-summary
columns: [r, sup_l]
digits: 4
caption: The largest localization.
```

```check
id: tp-sup-l
claim: $\sup_y L_r(y) = (r\mu)^2$
basis: closed_form
paper_ref: Example 4
computed: {table: tp-summary, column: sup_l}
expected: {closed_form: sup_localization}
tolerance: {abs: 1e-8}
```

```exercise
What is $\sup_y L_r(y)$ at $r = 1.5$? The table says {{ value(table="tp-summary", column="sup_l", where="r=1.5") | fixed(digits=2) }}.
```

```solution
SECRET-SOLUTION-TEXT: it is $(r\mu)^2$, since $\operatorname{sech} \le 1$.
```
"#;

/// A second, independent chapter (for `--chapters`).
const OTHER: &str = r#"---
id: gauss
title: A Gaussian chapter
order: 20
---
OTHER-CHAPTER-TEXT with delta star {{ value(table="g-summary", column="delta_star", where="r=1") | fixed(digits=3) }}.

```experiment
id: g
kind: complexity
measure: {normal: {mean: 0, var: 1}}
r: [1]
tables: {summary: g-summary}
```
"#;

fn project(name: &str) -> Project {
    let p = Project::new(name);
    p.write("chapters/10-tp.md", CHAPTER);
    p
}

fn provenance(p: &Project) -> serde_json::Value {
    serde_json::from_str(&p.read("output/provenance.json")).unwrap()
}

#[test]
fn set_reaches_the_table_the_prose_and_the_notices() {
    let p = project("set");
    let o = p.build();
    assert!(o.status.success(), "{}", stderr(&o));
    let html = p.read("output/report.html");
    assert!(html.contains("at r = 1.5 is 2.2500"), "prose before --set");
    assert!(!html.contains("Changed parameters"));

    let o = p.run(&[
        "build",
        "--quiet",
        "--set",
        "tp.measure.mixture.0.mean=-2",
        "--set",
        "tp.measure.mixture[1].mean=2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = p.read("output/report.html");
    // (1.5 · 2)² = 9 in the prose, in the table block and in the CSV.
    assert!(html.contains("at r = 1.5 is 9.0000"), "prose after --set");
    assert!(
        html.contains("<td class=\"num\">9.0000</td>"),
        "table block"
    );
    let csv = p.read("output/data/tp/tp-summary.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (ir, is) = (
        header.iter().position(|h| *h == "r").unwrap(),
        header.iter().position(|h| *h == "sup_l").unwrap(),
    );
    let sup_at_15: Vec<f64> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|c| c[ir] == "1.5")
        .map(|c| c[is].parse().unwrap())
        .collect();
    assert_eq!(sup_at_15.len(), 1, "{csv}");
    assert!((sup_at_15[0] - 9.0).abs() < 1e-8, "{csv}");
    // The closed form follows the measure, so the check still holds.
    assert!(
        html.contains("0 failed"),
        "the closed-form check holds for μ = 2"
    );
    // Visible on the first page and beside the experiment; recorded in provenance.
    let notice = html.find("Changed parameters").expect("first-page notice");
    assert!(
        notice < html.find("id=\"contents\"").unwrap(),
        "notice before the contents"
    );
    assert!(
        html.contains("<code>measure.mixture[1].mean = 2</code>"),
        "beside the experiment"
    );
    let prov = provenance(&p);
    let sets: Vec<&str> = prov["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["assignment"].as_str().unwrap())
        .collect();
    assert_eq!(
        sets,
        [
            "tp.measure.mixture.0.mean=-2",
            "tp.measure.mixture[1].mean=2"
        ]
    );
    // The override changed the cache key (the experiment ran), and did not evict the
    // chapter's own result: building as written again reuses it.
    assert_eq!(prov["experiments"][0]["status"], "ran");
    let o = p.build();
    assert!(o.status.success(), "{}", stderr(&o));
    let prov = provenance(&p);
    assert_eq!(prov["experiments"][0]["status"], "cached");
    assert_eq!(prov["overrides"].as_array().unwrap().len(), 0);
    assert!(p
        .read("output/report.html")
        .contains("at r = 1.5 is 2.2500"));
}

#[test]
fn invalid_set_is_an_input_error_naming_the_valid_ones() {
    let p = project("set-bad");
    let run = |arg: &str| {
        let o = p.run(&["build", "--quiet", "--set", arg]);
        assert_eq!(o.status.code(), Some(2), "--set {arg}: {}", stderr(&o));
        stderr(&o)
    };
    let e = run("tq.r=[1]");
    assert!(e.contains("no experiment has id `tq`"), "{e}");
    assert!(e.contains("did you mean `tp`?"), "{e}");
    let e = run("tp.measure.mixtuer.1.mean=2");
    assert!(e.contains("has no field `measure.mixtuer`"), "{e}");
    assert!(e.contains("did you mean `measure.mixture`?"), "{e}");
    assert!(e.contains("chapters/10-tp.md:"), "{e}");
    let e = run("tp.r.5=2");
    assert!(e.contains("`r` has 2 items"), "{e}");
    // A bad value gets the chapter's own diagnostics, at the field, blaming the --set.
    let e = run("tp.measure.mixture.0.weight=-0.5");
    assert!(
        e.contains("with `--set tp.measure.mixture.0.weight=-0.5`"),
        "{e}"
    );
    assert!(e.contains("must be positive"), "{e}");
    assert!(e.contains("chapters/10-tp.md:12:"), "{e}");
    let e = run("tp.samles=10");
    assert!(e.contains("unknown field `samles`"), "{e}");
    assert!(e.contains("did you mean `samples`?"), "{e}");
    let e = run("tp.tables.summary=x");
    assert!(e.contains("cannot be overridden"), "{e}");
    let e = run("tp");
    assert!(e.contains("PATH=VALUE"), "{e}");
    assert!(
        !p.path("output/report.html").exists(),
        "nothing was written"
    );
}

#[test]
fn chapters_builds_only_those_and_keeps_numbering() {
    let p = project("chapters");
    p.write("chapters/20-gauss.md", OTHER);
    let o = p.run(&["build", "--quiet", "--chapters", "gauss"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = p.read("output/report.html");
    assert!(
        html.contains("OTHER-CHAPTER-TEXT with delta star 0.500"),
        "δ* = 1/(σ²r²+1)"
    );
    assert!(!html.contains("The largest localization at r = 1.5"));
    assert!(
        html.contains("<span class=\"secno\">2</span> A Gaussian chapter"),
        "numbered as in the whole report"
    );
    let o = p.run(&["build", "--quiet", "--chapters", "gaus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `gauss`?"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn handouts_keep_solutions_and_checks_from_students() {
    let p = project("handout");
    let o = p.run(&["build", "--quiet", "--handout"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let student = p.read("output/handout-student.html");
    let teacher = p.read("output/handout-teacher.html");
    let report = p.read("output/report.html");
    // The exercise (with its computed number) is in every edition.
    for page in [&student, &teacher, &report] {
        assert!(page.contains("Exercise 1."), "exercise heading");
        assert!(
            page.contains("The table says 2.25."),
            "expression in an exercise"
        );
        assert!(
            !page.contains("<script"),
            "the report files carry no script"
        );
    }
    // The student's has no solution, no check, no scorecard.
    assert!(!student.contains("SECRET-SOLUTION-TEXT"));
    assert!(!student.contains("class=\"solution\""));
    assert!(!student.contains("class=\"check "));
    assert!(!student.contains("id=\"scorecard\""));
    assert!(student.contains("student handout"));
    // The teacher's has everything, the solution open.
    assert!(teacher.contains("SECRET-SOLUTION-TEXT"));
    assert!(teacher.contains("<details class=\"solution\" id=\"solution-1\" open>"));
    assert!(teacher.contains("class=\"check reproduced"));
    assert!(teacher.contains("id=\"scorecard\""));
    // The report folds the solution.
    assert!(report.contains("<details class=\"solution\" id=\"solution-1\">"));
    // Without --handout no handout is written.
    let o = p.build();
    assert!(o.status.success());
    assert!(!p.path("output/handout-student.html").exists());
}

#[test]
fn a_solution_without_exercise_is_an_input_error() {
    let p = Project::new("handout-bad");
    p.write(
        "chapters/a.md",
        "---\nid: a\ntitle: A\n---\nText.\n\n```solution\nAn answer.\n```\n",
    );
    let o = p.build();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("this solution has no exercise before it"), "{e}");
    assert!(e.contains("chapters/a.md:7"), "{e}");
}

#[test]
fn new_scaffolds_a_chapter_that_builds() {
    let p = Project::new("new");
    let o = p.run(&["new", "intro"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = p.read("chapters/intro.md");
    assert!(text.starts_with("---\nid: intro\n"), "{text}");
    let o = p.run(&["build"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("checks: 1 reproduced, 0 declared discrepancies, 0 failed"),
        "{e}"
    );
    assert!(e.contains("1 figures"), "{e}");
    // It refuses to overwrite, to reuse an id, and bad names.
    std::fs::write(p.path("chapters/intro.md"), "edited").unwrap();
    let o = p.run(&["new", "intro"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(p.read("chapters/intro.md"), "edited");
    let o = p.run(&["new", "Not An Id"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a valid chapter id"),
        "{}",
        stderr(&o)
    );
    // A second scaffold is independent of the first (ids are unique) and also builds.
    std::fs::remove_file(p.path("chapters/intro.md")).unwrap();
    assert!(p.run(&["new", "first"]).status.success());
    assert!(p.run(&["new", "second"]).status.success());
    let o = p.run(&["build", "--quiet", "--handout"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!p
        .read("output/handout-student.html")
        .contains("equality at 0"));
}

/// The `serve` child, killed when the test ends (also on failure).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` from 127.0.0.1:`port`: (status line, body).
fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the server accepts");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Wait (at most two minutes) until `/__version` is at least `n`.
fn wait_version(port: u16, n: u64) {
    let start = Instant::now();
    loop {
        let v: u64 = get(port, "/__version").1.trim().parse().unwrap();
        if v >= n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no build {n} after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_answers_on_localhost_and_rebuilds_after_a_change() {
    let p = project("serve");
    let child = Command::new(env!("CARGO_BIN_EXE_diffrepro"))
        .args(["serve", "--port", "0", "--quiet"])
        .current_dir(&p.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut server = Server(child);
    // The first stdout line names the address.
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve prints its address");
    let port: u16 = line
        .trim()
        .strip_prefix("serving http://127.0.0.1:")
        .and_then(|r| r.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();

    wait_version(port, 1);
    let (status, page) = get(port, "/");
    assert!(status.contains("200"), "{status}");
    assert!(
        page.contains("at r = 1.5 is 2.2500"),
        "the report is served"
    );
    assert!(page.contains("/__version"), "with the reload script");
    assert!(
        !p.read("output/report.html").contains("<script"),
        "the file stays script-free"
    );
    let (status, _) = get(port, "/data/tp/tp-summary.csv");
    assert!(status.contains("200"), "{status}");
    assert!(get(port, "/../Cargo.toml").0.contains("404"));
    assert!(get(port, "/.cache/x").0.contains("404"));

    // An edit is picked up and rebuilt.
    p.write(
        "chapters/10-tp.md",
        &CHAPTER.replace(
            "The largest localization at",
            "EDITED: the largest localization at",
        ),
    );
    wait_version(port, 2);
    let page = get(port, "/").1;
    assert!(
        page.contains("EDITED: the largest localization at r = 1.5 is 2.2500"),
        "rebuilt"
    );

    // A broken edit shows the error on the page; the server keeps going.
    p.write(
        "chapters/10-tp.md",
        &CHAPTER.replace("kind: complexity", "kind: complexty"),
    );
    wait_version(port, 3);
    let page = get(port, "/").1;
    assert!(page.contains("Build failed."), "error banner");
    assert!(
        page.contains("unknown experiment kind `complexty`"),
        "the diagnostic"
    );
    assert!(
        page.contains("EDITED: the largest localization"),
        "the last good report below"
    );
    // Fixing it brings the page back.
    p.write("chapters/10-tp.md", CHAPTER);
    wait_version(port, 4);
    let page = get(port, "/").1;
    assert!(!page.contains("Build failed."));
    assert!(page.contains("The largest localization at r = 1.5 is 2.2500"));
    assert!(server.0.try_wait().unwrap().is_none(), "still running");
}
