//! The state machine shared by `Put` and `Delete`: gather, reserve, apply.
//!
//! 0. `Descend`: read the pages from the root to the key's leaf, one per level, passing
//!    through interior pages in their images. A put whose leaf keeps room for it and does
//!    not shrink is written right there, the leaf image edited in place (`leaf_edit.rs`):
//!    no plan, no decoded node. Anything else continues with the pages read so far.
//! 1. `Gather`: plan the change against the pages read so far (`plan.rs`); while the plan
//!    needs another page, read it (yielding as the pager needs) and plan again. Nothing
//!    outside this state machine changes.
//! 2. `WaitReserve`: ask the pager to reserve the pages the plan allocates.
//! 3. Allocate those pages, give the plan its real page numbers and encode every image,
//!    all without I/O; then `Apply` writes the images, frees the pages that left the tree
//!    and records the new root. In the middle of the writes it offers the
//!    `BtreeSplit`/`BtreeMerge` yield points (each at most once); the state keeps the index
//!    of the next write, so re-entry continues exactly where it stopped.

use std::collections::BTreeMap;

use super::leaf_edit::{InPlace, put_in_place};
use super::leaf_split::{self, LeafSplit, Next};
use super::node::{LookupStep, Node, capacity, is_interior_image};
use super::plan::{Change, PLACEHOLDER_BASE, Plan, Planned, Read, plan_over};
use super::read::{MAX_DEPTH, lookup_in, too_deep};
use crate::error::Corruption;
use crate::io::{
    Completion, FlowResult, IOCompletions, IOResult, MachineState, finish, next_state, run_machine,
};
use crate::storage::{CellIndex, PageAccess, PageNo, PageRef};
use crate::yields::YieldPoint;
use crate::{Error, Result, io_yield_one};

/// A put (`value` is `Some`) or a delete (`value` is `None`) of one key. The key and
/// value are handed to every step rather than kept here, so the connection's write borrows
/// them from its op instead of copying them; every step of one write must get the same.
#[derive(Debug)]
pub(super) struct Write {
    state: WriteState,
}

#[derive(Debug, Default)]
enum WriteState {
    /// Waiting for page `pgno` on the way down from the root; `path` holds the interior
    /// pages above it and the position of the child taken in each (empty before the root
    /// is known).
    Descend {
        path: Vec<(PageNo, PageRef, usize)>,
        pgno: PageNo,
    },
    /// A put splits its leaf the common way, planned without the planner
    /// (`leaf_split.rs`): waiting for neighbour `next` (None: nothing left to read).
    SplitLeaf {
        split: Box<LeafSplit>,
        next: Option<PageNo>,
    },
    /// Waiting for pages the plan needs; holds every page read so far, and those decoded.
    Gather {
        images: BTreeMap<PageNo, PageRef>,
        nodes: BTreeMap<PageNo, Node>,
    },
    /// Waiting for the pager to reserve the plan's new pages.
    WaitReserve {
        images: BTreeMap<PageNo, PageRef>,
        plan: Plan,
    },
    /// Writing the new images; `next` is the first one not yet written.
    Apply(Apply),
    /// Finished; stepping again is a bug.
    #[default]
    Done,
}

impl MachineState for WriteState {
    fn waiting_on(&self) -> Option<&Completion> {
        // Every wait is a page read or reservation, re-entered through the pager.
        None
    }
}

#[derive(Debug)]
struct Apply {
    images: Vec<(PageNo, Vec<u8>)>,
    frees: Vec<PageNo>,
    new_root: Option<PageNo>,
    next: usize,
    /// Yield points still to offer, at write index `yield_at`.
    yield_points: Vec<YieldPoint>,
    yield_at: usize,
    outcome: bool,
}

impl Write {
    pub(super) fn new() -> Write {
        let state = WriteState::Descend {
            path: Vec::new(),
            pgno: 0,
        };
        Write { state }
    }

    /// Advances the write. Put: `Done(true)` if a value was replaced. Delete: `Done(true)`
    /// if the key was there.
    pub(super) fn step<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<IOResult<bool>> {
        run_machine(
            self,
            |write| &mut write.state,
            |write, state| match state {
                WriteState::Descend { path, pgno } => {
                    write.descend(pages, (key, value), path, pgno)
                }
                WriteState::SplitLeaf { split, next } => write.split_leaf(pages, split, next),
                WriteState::Gather { images, nodes } => {
                    write.gather(pages, (key, value), images, nodes)
                }
                WriteState::WaitReserve { images, plan } => write.reserve(pages, images, plan),
                WriteState::Apply(apply) => write.apply(pages, apply),
                WriteState::Done => panic!("a finished B-tree write was stepped again"),
            },
        )
    }

    /// Keeps `state` (what must survive the yield) and waits for `io`.
    fn wait(&mut self, state: WriteState, io: IOCompletions) -> FlowResult<bool> {
        self.state = state;
        Ok(IOResult::IO(io))
    }

    /// Step 0: from the root down to the key's leaf, one page per level.
    fn descend<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        (key, value): (&[u8], Option<&[u8]>),
        mut path: Vec<(PageNo, PageRef, usize)>,
        mut pgno: PageNo,
    ) -> FlowResult<bool> {
        if pgno == 0 {
            let root = pages.root();
            if root == 0 {
                if value.is_none() {
                    return finish(false);
                }
                return Err(Error::Misuse("put before the tree was created".into()));
            }
            pgno = root;
        }
        loop {
            if path.len() > MAX_DEPTH {
                return Err(too_deep(pgno).into());
            }
            let (image, index) = match pages.read_page_checked(pgno)? {
                IOResult::Done(found) => found,
                IOResult::IO(io) => return self.wait(WriteState::Descend { path, pgno }, io),
            };
            if is_interior_image(&image) {
                let step = lookup_in(pages, pgno, &image, index, key)?;
                let LookupStep::Child { page, index } = step else {
                    unreachable!("an interior image leads to a child")
                };
                path.push((pgno, image, index));
                pgno = page;
                continue;
            }
            debug_assert!(
                path.iter().all(|(above, _, _)| *above != pgno),
                "a leaf is not on its own path"
            );
            let found = ReachedLeaf {
                path,
                pgno,
                image,
                index,
            };
            return match self.at_leaf(pages, (key, value), found)? {
                Some(outcome) => finish(outcome),
                None => next_state(),
            };
        }
    }

    /// A common leaf split: reads the neighbours it asks for, then plans, or hands what it
    /// read to the planner.
    fn split_leaf<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        mut split: Box<LeafSplit>,
        mut next: Option<PageNo>,
    ) -> FlowResult<bool> {
        let usable_size = pages.usable_size();
        let step = loop {
            let Some(page) = next else {
                break Next::Plan;
            };
            if !split.images.contains_key(&page) {
                let image = match pages.read_page(page)? {
                    IOResult::Done(image) => image,
                    IOResult::IO(io) => {
                        return self.wait(WriteState::SplitLeaf { split, next }, io);
                    }
                };
                split.images.insert(page, image);
            }
            match split
                .neighbour_read(page, usable_size)
                .map_err(|why| corrupt(page, why))?
            {
                Next::Read(page) => next = Some(page),
                step => break step,
            }
        };
        let planned = match step {
            Next::Plan => split.plan(usable_size),
            Next::Read(_) | Next::GiveUp => Err(split.hand_over()),
        };
        self.state = match planned {
            Ok((images, plan)) => WriteState::WaitReserve { images, plan },
            Err((images, nodes)) => WriteState::Gather { images, nodes },
        };
        next_state()
    }

    /// Step 1: plans against the pages read so far, reading each page the plan asks for.
    fn gather<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        (key, value): (&[u8], Option<&[u8]>),
        mut images: BTreeMap<PageNo, PageRef>,
        mut nodes: BTreeMap<PageNo, Node>,
    ) -> FlowResult<bool> {
        let root = pages.root();
        assert_ne!(root, 0, "the descent found a root");
        let change = match value {
            Some(value) => Change::Put { key, value },
            None => Change::Delete { key },
        };
        let usable_size = pages.usable_size();
        loop {
            let read = Read {
                images: &images,
                nodes: &nodes,
                usable_size,
            };
            let pgno = match plan_over(read, root, change, capacity(usable_size))? {
                Planned::Need(pgno) => pgno,
                Planned::Ready(plan)
                    if plan.writes.is_empty()
                        && plan.edited.is_empty()
                        && plan.frees.is_empty() =>
                {
                    return finish(plan.outcome);
                }
                Planned::Ready(plan) => {
                    self.state = WriteState::WaitReserve { images, plan };
                    return next_state();
                }
            };
            assert!(
                !nodes.contains_key(&pgno),
                "the plan asks for page {pgno} once"
            );
            // An interior page is kept as its image until the plan needs it decoded (it
            // asks for it again); a leaf is always needed.
            let decode = images.contains_key(&pgno) || {
                let image = match pages.read_page(pgno)? {
                    IOResult::Done(image) => image,
                    IOResult::IO(io) => {
                        return self.wait(WriteState::Gather { images, nodes }, io);
                    }
                };
                let interior = is_interior_image(&image);
                images.insert(pgno, image);
                !interior
            };
            if decode {
                let image = images.get(&pgno).expect("inserted or present");
                let node = Node::decode(image, usable_size).map_err(|why| corrupt(pgno, why))?;
                nodes.insert(pgno, node);
            }
        }
    }

    /// Step 2: reserves the plan's new pages, then (step 3) encodes every image.
    fn reserve<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        images: BTreeMap<PageNo, PageRef>,
        mut plan: Plan,
    ) -> FlowResult<bool> {
        let count = usize::try_from(plan.new_pages).expect("u32 fits usize");
        if let IOResult::IO(io) = pages.reserve_pages(count)? {
            return self.wait(WriteState::WaitReserve { images, plan }, io);
        }
        let old_root = pages.root();
        let apply = prepare(pages, &images, &mut plan, old_root)?;
        assert!(
            apply.next == 0 && apply.yield_at <= apply.images.len(),
            "an apply starts at its first write"
        );
        self.state = WriteState::Apply(apply);
        next_state()
    }

    /// Step 3: writes the images (offering the split and merge yield points halfway), then
    /// records the new root and frees the pages that left the tree.
    fn apply<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        mut apply: Apply,
    ) -> FlowResult<bool> {
        while apply.next < apply.images.len() {
            if apply.next == apply.yield_at && !apply.yield_points.is_empty() {
                let point = apply.yield_points.remove(0);
                if pages.should_yield(point) {
                    self.state = WriteState::Apply(apply);
                    io_yield_one!(Completion::new_yield());
                }
                continue;
            }
            let (pgno, image) = &mut apply.images[apply.next];
            pages.write_page(*pgno, std::mem::take(image))?;
            apply.next += 1;
        }
        // The new root first: the pager refuses to free the current root, and a root
        // collapse frees the old one.
        if let Some(root) = apply.new_root {
            pages.set_root(root)?;
        }
        for &pgno in &apply.frees {
            pages.free_page(pgno)?;
        }
        finish(apply.outcome)
    }

    /// The descent reached leaf `pgno`: a put that fits is written in place (returns its
    /// outcome); anything else moves to `Gather` with every page read so far, the leaf
    /// decoded. No I/O.
    fn at_leaf<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        (key, value): (&[u8], Option<&[u8]>),
        found: ReachedLeaf,
    ) -> Result<Option<bool>> {
        let ReachedLeaf {
            path,
            pgno,
            image,
            index,
        } = found;
        let usable_size = pages.usable_size();
        if let Some(value) = value {
            match put_in_place(&image, usable_size, key, value, index.as_deref())
                .map_err(|why| corrupt(pgno, why))?
            {
                InPlace::Unchanged => return Ok(Some(true)),
                InPlace::Written {
                    image,
                    index,
                    replaced,
                } => {
                    pages.write_page_checked(pgno, image, Some(index))?;
                    return Ok(Some(replaced));
                }
                InPlace::NeedsPlan => {}
            }
        }
        let parent = path.last().map(|(page, _, position)| (*page, *position));
        let mut images: BTreeMap<PageNo, PageRef> = path
            .into_iter()
            .map(|(page, image, _)| (page, image))
            .collect();
        let (Some(value), Some(parent)) = (value, parent) else {
            let node = Node::decode(&image, usable_size).map_err(|why| corrupt(pgno, why))?;
            images.insert(pgno, image);
            let nodes = BTreeMap::from([(pgno, node)]);
            self.state = WriteState::Gather { images, nodes };
            return Ok(None);
        };
        // The put's walk above checked the leaf as a whole; the split path relies on it.
        images.insert(pgno, image);
        let change = (key, value);
        let root = pages.root();
        self.state = match leaf_split::start(images, pgno, parent, change, root, usable_size) {
            Ok(split) => {
                let next = match split.first() {
                    Next::Read(page) => Some(page),
                    Next::Plan | Next::GiveUp => None,
                };
                WriteState::SplitLeaf {
                    split: Box::new(split),
                    next,
                }
            }
            Err((images, nodes)) => WriteState::Gather { images, nodes },
        };
        Ok(None)
    }
}

/// What the descent found: the interior pages above the leaf (with the child taken in
/// each), the leaf's page and image, and its cell index if the image was checked already.
struct ReachedLeaf {
    path: Vec<(PageNo, PageRef, usize)>,
    pgno: PageNo,
    image: PageRef,
    index: Option<CellIndex>,
}

fn corrupt(pgno: PageNo, why: impl std::fmt::Display) -> Error {
    Corruption::node(pgno, why).into()
}

/// Allocates the plan's new pages and turns it into page images. No I/O: the pages were
/// reserved.
fn prepare<P: PageAccess + ?Sized>(
    pages: &mut P,
    images: &BTreeMap<PageNo, PageRef>,
    plan: &mut Plan,
    old_root: PageNo,
) -> Result<Apply> {
    let mut allocated = Vec::new();
    for _ in 0..plan.new_pages {
        let pgno = pages.allocate_page()?;
        assert!(
            pgno < PLACEHOLDER_BASE,
            "page numbers stay below the placeholder range"
        );
        allocated.push(pgno);
    }
    let real = |pgno: PageNo| -> PageNo {
        if pgno >= PLACEHOLDER_BASE {
            allocated[(pgno - PLACEHOLDER_BASE) as usize]
        } else {
            pgno
        }
    };
    let mut encoded = Vec::with_capacity(plan.writes.len() + plan.edited.len());
    for (pgno, mut edited) in std::mem::take(&mut plan.edited) {
        assert!(
            !plan.writes.contains_key(&pgno),
            "page {pgno} is both edited and encoded"
        );
        for &at in &edited.placeholders {
            let field = &mut edited.image[at..at + 4];
            let child = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
            field.copy_from_slice(&real(child).to_le_bytes());
        }
        encoded.push((pgno, real(pgno), edited.image));
    }
    for (&pgno, node) in &plan.writes {
        let mut image = match images.get(&pgno) {
            Some(old) => old.as_ref().clone(),
            None => {
                assert!(
                    pgno >= PLACEHOLDER_BASE,
                    "page {pgno} is written without being read"
                );
                vec![0; pages.page_size()]
            }
        };
        // Child pointers to placeholders get the allocated pages' numbers.
        node.encode_renumbered(&mut image, pages.usable_size(), real);
        encoded.push((pgno, real(pgno), image));
    }
    // Written in the plan's page order (placeholders last), edited or encoded alike.
    encoded.sort_unstable_by_key(|(planned, _, _)| *planned);
    let encoded: Vec<(PageNo, Vec<u8>)> = (encoded.into_iter())
        .map(|(_, pgno, image)| (pgno, image))
        .collect();
    let mut yield_points = Vec::new();
    if plan.split {
        yield_points.push(YieldPoint::BtreeSplit);
    }
    if plan.merge {
        yield_points.push(YieldPoint::BtreeMerge);
    }
    let new_root = real(plan.root);
    Ok(Apply {
        yield_at: encoded.len() / 2,
        images: encoded,
        frees: plan.frees.iter().map(|&pgno| real(pgno)).collect(),
        new_root: (new_root != old_root).then_some(new_root),
        next: 0,
        yield_points,
        outcome: plan.outcome,
    })
}
