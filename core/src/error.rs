//! The engine's operating errors. Bugs are assertions, never variants here.

use crate::io::CompletionError;

/// Every error the engine returns to its callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A backend call failed before any completion existed (open, stat, remove).
    #[error("I/O error ({kind:?}): {context}")]
    Io {
        kind: std::io::ErrorKind,
        context: String,
    },
    /// A submitted operation finished with an error (including short reads and writes).
    #[error("I/O failed: {0}")]
    Completion(#[from] CompletionError),
    /// Another connection holds the write lock. The transaction is left as it was.
    #[error("database is busy: another connection holds the write lock")]
    Busy,
    /// A commit happened after this transaction's snapshot, so it may not write.
    #[error("snapshot is stale: another commit happened after this transaction's snapshot")]
    BusySnapshot,
    /// Stored data failed a check (checksum, magic, structure).
    #[error("database is corrupt: {0}")]
    Corrupt(Corruption),
    /// A WAL fsync failed; nothing more can be trusted until the database is reopened.
    #[error("database is poisoned by a failed WAL fsync; reopen it to recover")]
    Poisoned,
    /// Commit, rollback or a read-your-writes op with no transaction open.
    #[error("no transaction is active")]
    NoTransaction,
    /// Begin or checkpoint inside a transaction.
    #[error("a transaction is already active on this connection")]
    TransactionActive,
    #[error("key too large: {len} bytes, at most {max}")]
    KeyTooLarge { len: usize, max: usize },
    #[error("value too large: {len} bytes, at most {max}")]
    ValueTooLarge { len: usize, max: usize },
    /// `DbOptions` that cannot work (page size not a power of two, zero cache, ...).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// An operation that makes no sense in the current state.
    #[error("misuse: {0}")]
    Misuse(String),
    /// The engine could not continue for a reason that is its own fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Short stable name for statistics and reports ("busy", "io", ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::Io { .. } | Error::Completion(_) => "io",
            Error::Busy => "busy",
            Error::BusySnapshot => "busy-snapshot",
            Error::Corrupt(_) => "corrupt",
            Error::Poisoned => "poisoned",
            Error::NoTransaction | Error::TransactionActive | Error::Misuse(_) => "misuse",
            Error::KeyTooLarge { .. } | Error::ValueTooLarge { .. } => "too-large",
            Error::InvalidOptions(_) => "invalid-options",
            Error::Internal(_) => "internal",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A page number (1-based; page 1 is the header page).
type PageNo = u32;

/// What failed a check in stored data: which structure, where, and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// Page `page` failed a check; `from` says where it was read from, when it was read.
    #[error("page {page}: {defect}{}", from.map(|from| format!(" (read from {from:?})")).unwrap_or_default())]
    Page {
        page: PageNo,
        defect: PageDefect,
        from: Option<PageSource>,
    },
    /// A header page image (page 1, or a copy of it in a WAL frame) failed a check.
    #[error("{0}")]
    Header(HeaderDefect),
    /// Page 1 of the database file holds no valid header record.
    #[error("page 1: {0}")]
    DbHeader(HeaderDefect),
    /// The only whole header record on page 1 may not be the newest, and the WAL does not
    /// hold every commit since it.
    #[error(
        "page 1: the header record in slot {damaged_slot} is damaged and the WAL does not \
         reach back to the older record's checkpoint {checkpoint_seq}"
    )]
    HeaderFallbackUncovered {
        damaged_slot: usize,
        checkpoint_seq: u64,
    },
    /// A reference to a page past the end of the database.
    #[error("page {page} does not exist (page count {page_count})")]
    NoSuchPage { page: PageNo, page_count: u32 },
    /// An interior page points at page 0 or the header page.
    #[error("child pointer to page {page}")]
    ChildPointer { page: PageNo },
    /// A free page links to a page that cannot follow it on the freelist.
    #[error("free page {page} links to {next}, outside the freelist (page count {page_count})")]
    FreeLink {
        page: PageNo,
        next: PageNo,
        page_count: u32,
    },
    /// Allocation found more free pages than the header counts.
    #[error("freelist longer than its count")]
    FreelistOverCount,
    /// A walk of the freelist went past the header's count.
    #[error("freelist longer than its count {count} (cycle or bad count)")]
    FreelistCycle { count: u32 },
    /// A walk of the freelist ended with another length than the header's count.
    #[error("freelist holds {found} pages, the header says {count}")]
    FreelistLength { found: usize, count: u32 },
    /// The WAL file is too large to number its frames.
    #[error("WAL of {bytes} bytes is too large")]
    WalTooLarge { bytes: u64 },
    /// The WAL header names another page size than the database's.
    #[error("WAL page size {wal} differs from the database's {db}")]
    WalPageSize { wal: u32, db: usize },
    /// A damaged WAL frame with an intact later commit behind it: not a torn tail.
    #[error("WAL frame {broken} is damaged, but commit {commit} follows at frame {frame}")]
    WalDamaged {
        broken: u32,
        commit: u64,
        frame: u32,
    },
}

/// What is wrong with one page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageDefect {
    /// The image is no larger than its reserved tail.
    #[error("image of {len} bytes")]
    ImageSize { len: usize },
    /// The checksum in the reserved tail does not match the image.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum { stored: u32, computed: u32 },
    /// A path from the root longer than any tree of this size: a cycle.
    #[error("tree deeper than {max_depth} levels (a cycle?)")]
    TooDeep { max_depth: usize },
    /// A B-tree node that does not decode; the B-tree names the broken rule.
    #[error("{0}")]
    Node(String),
}

/// Where a page image was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSource {
    /// The database file.
    DbFile,
    /// WAL frame `frame` of WAL generation `generation`.
    Frame { generation: u32, frame: u32 },
}

/// What is wrong with a header page image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderDefect {
    /// The image is shorter than a header record needs.
    #[error("header page of {len} bytes")]
    Size { len: usize },
    /// The record at byte `at` fails its checksum.
    #[error("header page: record at {at} fails its checksum")]
    RecordChecksum { at: usize },
    #[error("header page: bad magic")]
    Magic,
    #[error("header page: unknown format version {version}")]
    Version { version: u32 },
    /// The recorded page size is not the image's length.
    #[error("header page: page size {recorded} but the page has {len} bytes")]
    PageSize { recorded: u32, len: usize },
    /// No slot of page 1 holds a header record (found by the opener's probe).
    #[error("no valid header record")]
    NoRecord,
    /// The page count is 0.
    #[error("header page: page count is 0")]
    NoPages,
    #[error("header page: root {root} outside 2..={page_count}")]
    Root { root: PageNo, page_count: u32 },
    #[error("header page: freelist head {head} outside 2..={page_count}")]
    FreelistHead { head: PageNo, page_count: u32 },
    #[error("header page: freelist head {head} disagrees with freelist length {count}")]
    FreelistEmptiness { head: PageNo, count: u32 },
    #[error("header page: freelist length {count} not below page count {page_count}")]
    FreelistCount { count: u32, page_count: u32 },
}

impl From<Corruption> for Error {
    fn from(corruption: Corruption) -> Self {
        Error::Corrupt(corruption)
    }
}

impl From<HeaderDefect> for Error {
    fn from(defect: HeaderDefect) -> Self {
        Error::Corrupt(Corruption::Header(defect))
    }
}

impl Corruption {
    /// Page `page` failed `defect` (not read from disk, or where it came from is told apart).
    pub fn page(page: PageNo, defect: PageDefect) -> Self {
        Corruption::Page {
            page,
            defect,
            from: None,
        }
    }

    /// A B-tree node on page `page` that does not decode, for the reason `why`.
    pub fn node(page: PageNo, why: impl std::fmt::Display) -> Self {
        Corruption::page(page, PageDefect::Node(why.to_string()))
    }
}
