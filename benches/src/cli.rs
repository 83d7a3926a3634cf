//! The command line every bench main reads, in one place.
//!
//! `cargo bench` passes `--bench`; `cargo test --benches` does not (a smoke
//! run, the smallest sizes); `--quick` is `cargo xtask perf-gate --quick`.
//! A bench picks its sizes from [`BenchArgs::full`] and
//! [`BenchArgs::quick`] and reads its own flags with [`BenchArgs::flag`]
//! and [`BenchArgs::value`].
//!
//! ```
//! use ron_benches::cli::BenchArgs;
//!
//! let args = BenchArgs::from(["bench", "--bench", "--rounds", "3", "--json", "out.json"]);
//! assert!(args.full && !args.quick);
//! assert_eq!(args.rounds(), 3);
//! assert_eq!(args.value("--json").as_deref(), Some("out.json"));
//! assert!(!args.flag("--fanout-only"));
//! ```

/// A bench's arguments.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    args: Vec<String>,
    /// Run by `cargo bench` (else a `cargo test --benches` smoke run).
    pub full: bool,
    /// `--quick`: smaller samples, for perf-gate's smoke mode.
    pub quick: bool,
}

impl BenchArgs {
    /// The process's own arguments.
    pub fn from_env() -> Self {
        Self::from(std::env::args())
    }

    /// Whether `flag` was given.
    pub fn flag(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }

    /// The value following `flag`, if both were given.
    pub fn value(&self, flag: &str) -> Option<String> {
        self.args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| self.args.get(i + 1))
            .cloned()
    }

    /// `--rounds N`, else 5 for a full run and 1 for a quick or smoke run.
    pub fn rounds(&self) -> usize {
        self.value("--rounds")
            .and_then(|r| r.parse().ok())
            .unwrap_or(if self.full && !self.quick { 5 } else { 1 })
    }
}

impl<I, S> From<I> for BenchArgs
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    fn from(args: I) -> Self {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let full = args.iter().any(|a| a == "--bench");
        let quick = args.iter().any(|a| a == "--quick");
        Self { args, full, quick }
    }
}
