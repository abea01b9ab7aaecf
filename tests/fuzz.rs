//! Property test: the chapter parser, the spec decoder and the expression evaluator
//! never panic, whatever they are fed. Inputs are mutations of real chapters (bytes
//! deleted, duplicated, swapped, YAML-significant characters inserted), drawn from a
//! seeded ChaCha stream so a failure is reproducible from its iteration number. The
//! run is bounded (a fixed number of cases, and a time budget) to fit in CI.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CASES: usize = 4000;
const BUDGET: Duration = Duration::from_secs(40);
const SPICE: &[&str] = &[
    ":",
    ": ",
    "[",
    "]",
    "{",
    "}",
    "-",
    "- ",
    "#",
    "\"",
    "'",
    "\n",
    "\t",
    "|",
    ">",
    "&a",
    "*a",
    "!",
    "%",
    "@",
    "`",
    "```",
    "```experiment\n",
    "---\n",
    "{{",
    "}}",
    "$",
    "$$",
    ".nan",
    ".inf",
    "-1",
    "0",
    "1e308",
    "99999999999999999999",
    "\u{0}",
    "é",
    "\u{202e}",
    "kind: ",
    "measure: ",
    "r: ",
];

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("chapters");
    let mut v: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// One random edit of `s`, on char boundaries.
fn mutate(rng: &mut ChaCha8Rng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let (a, b) = {
        let a = below(rng, n + 1);
        let b = (a + below(rng, 64)).min(n);
        (a, b)
    };
    let text = |r: std::ops::Range<usize>| chars[r].iter().collect::<String>();
    match below(rng, 6) {
        0 => text(0..a) + &text(b..n),
        1 => text(0..b) + &text(a..b) + &text(b..n),
        2 => text(0..a) + SPICE[below(rng, SPICE.len())] + &text(a..n),
        3 => text(0..a),
        4 => {
            let lines: Vec<&str> = s.lines().collect();
            let (i, j) = (below(rng, lines.len()), below(rng, lines.len()));
            let mut l = lines.clone();
            if !l.is_empty() {
                l.swap(i, j);
            }
            l.join("\n")
        }
        _ => {
            let c = SPICE[below(rng, SPICE.len())];
            text(0..a) + &c.repeat(1 + below(rng, 40)) + &text(b..n)
        }
    }
}

#[test]
fn parser_and_spec_decoder_never_panic() {
    let seeds = seeds();
    let root = std::env::temp_dir().join(format!("diffrepro-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let start = Instant::now();
    let mut ran = 0;
    let mut rejected = 0;
    for case in 0..CASES {
        if start.elapsed() > BUDGET {
            break;
        }
        let mut text = seeds[below(&mut rng, seeds.len())].clone();
        for _ in 0..1 + below(&mut rng, 4) {
            text = mutate(&mut rng, &text);
        }
        let input = text.clone();
        let result = catch_unwind(AssertUnwindSafe(|| {
            diffrepro::project::validate_text(Path::new("chapters/fuzz.md"), input, &root).is_err()
        }));
        match result {
            Ok(err) => rejected += usize::from(err),
            Err(_) => panic!("case {case} panicked on input:\n{text}"),
        }
        ran += 1;
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(ran >= 500, "only {ran} cases in the time budget");
    // Most mutations break something; some must also survive (the generator is not trivial).
    assert!(
        rejected > ran / 4 && rejected < ran,
        "{rejected} of {ran} rejected"
    );
}

#[test]
fn expressions_and_grids_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let atoms = [
        "1", "2.5", "1e-3", "sqrt(", "ln(", "exp(", "(", ")", "+", "-", "*", "/", "^", "pi", "e",
        "inf", " ", "x", ".", "1e999",
    ];
    for case in 0..20_000 {
        let n = 1 + below(&mut rng, 12);
        let expr: String = (0..n)
            .map(|_| atoms[below(&mut rng, atoms.len())])
            .collect();
        let r = catch_unwind(|| {
            let _ = diffrepro::spec::expr::eval(&expr);
            let _ = diffrepro::yaml::from_str::<diffrepro::spec::Grid>(&format!("[{expr}]"));
            let _ = diffrepro::yaml::from_str::<diffrepro::spec::measure::RawMeasure>(&format!(
                "{{normal: {{mean: {expr}, var: 1}}}}"
            ));
        });
        assert!(r.is_ok(), "case {case} panicked on `{expr}`");
    }
}
