//! The hash-consing store behind every expression.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::error::{Error, Result};
use crate::node::{ContentKey, ExprId, Node};

/// Identity of a pool, unique within the process. Expressions carry it so
/// that mixing pools is detected instead of silently reading the wrong node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PoolId(pub u64);

impl std::fmt::Display for PoolId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

/// Seed of the content hash. Changing it changes every [`ContentKey`], and
/// with it every persisted cache key: bump the persistence format if you do.
const CONTENT_SEED: u64 = 0x616c_6b61_6865_7374; // "alkahest"

pub(crate) struct Entry {
    pub(crate) node: Node,
    pub(crate) key: ContentKey,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) entries: Vec<Entry>,
    table: HashTable<u32>,
}

struct Inner {
    id: PoolId,
    state: RwLock<State>,
}

/// A thread-safe, append-only, hash-consed expression DAG.
///
/// Cloning an `ExprPool` gives another handle to the same pool. Structural
/// equality of two expressions of one pool is equality of their [`ExprId`]s.
#[derive(Clone)]
pub struct ExprPool {
    inner: Arc<Inner>,
}

impl Default for ExprPool {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ExprPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExprPool(id={}, nodes={})", self.inner.id.0, self.len())
    }
}

/// A read-locked view of a pool's nodes, for traversals that visit many nodes.
///
/// Holding it blocks interning from other threads, so keep it short-lived.
pub struct NodeView<'a> {
    guard: RwLockReadGuard<'a, State>,
}

impl NodeView<'_> {
    /// The node behind `id`. Panics on an id from another pool; use
    /// [`NodeView::get`] when the id is untrusted.
    #[inline]
    pub fn node(&self, id: ExprId) -> &Node {
        &self.guard.entries[id.index()].node
    }

    /// The node behind `id`, if this pool has it.
    #[inline]
    pub fn get(&self, id: ExprId) -> Option<&Node> {
        self.guard.entries.get(id.index()).map(|e| &e.node)
    }

    /// Structural key of `id`.
    #[inline]
    pub fn key(&self, id: ExprId) -> ContentKey {
        self.guard.entries[id.index()].key
    }

    /// Number of nodes in the pool.
    pub fn len(&self) -> usize {
        self.guard.entries.len()
    }

    /// True when the pool has no nodes.
    pub fn is_empty(&self) -> bool {
        self.guard.entries.is_empty()
    }

    /// Canonical operand order: numbers first, then symbols by name, then
    /// compound nodes by kind and content key. It depends on structure only,
    /// never on creation order, so every pool orders alike.
    pub fn order(&self, a: ExprId, b: ExprId) -> Ordering {
        let (ea, eb) = (
            &self.guard.entries[a.index()],
            &self.guard.entries[b.index()],
        );
        let (ra, rb) = (rank(&ea.node), rank(&eb.node));
        ra.cmp(&rb).then_with(|| match (&ea.node, &eb.node) {
            (Node::Symbol(x), Node::Symbol(y)) => x.cmp(y).then(ea.key.cmp(&eb.key)),
            _ => ea.key.cmp(&eb.key),
        })
    }

    /// Every node reachable from `roots`, in ascending id (= topological) order.
    pub fn reachable(&self, roots: &[ExprId]) -> Vec<ExprId> {
        let mut seen = hashbrown::HashSet::new();
        let mut stack: Vec<ExprId> = roots.to_vec();
        let mut out = Vec::new();
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                out.push(id);
                stack.extend_from_slice(self.node(id).children());
            }
        }
        out.sort_unstable();
        out
    }
}

fn rank(n: &Node) -> u8 {
    match n {
        Node::Integer(_) | Node::Rational(_) | Node::Float(_) => 0,
        Node::Symbol(_) => 1,
        Node::Pow(_) => 2,
        Node::Mul(_) => 3,
        Node::Add(_) => 4,
        Node::Func(..) => 5,
    }
}

fn content_key(node: &Node, entries: &[Entry]) -> ContentKey {
    let mut buf: Vec<u8> = Vec::with_capacity(64);
    let push_children = |buf: &mut Vec<u8>, ids: &[ExprId]| {
        buf.extend_from_slice(&(ids.len() as u64).to_le_bytes());
        for c in ids {
            buf.extend_from_slice(&entries[c.index()].key.0.to_le_bytes());
        }
    };
    match node {
        Node::Symbol(s) => {
            buf.push(1);
            buf.extend_from_slice(s.as_bytes());
        }
        Node::Integer(i) => {
            buf.push(2);
            buf.extend_from_slice(&i.to_signed_bytes_le());
        }
        Node::Rational(r) => {
            buf.push(3);
            let n = r.numer().to_signed_bytes_le();
            buf.extend_from_slice(&(n.len() as u64).to_le_bytes());
            buf.extend_from_slice(&n);
            buf.extend_from_slice(&r.denom().to_signed_bytes_le());
        }
        Node::Float(bits) => {
            buf.push(4);
            buf.extend_from_slice(&bits.to_le_bytes());
        }
        Node::Add(a) => {
            buf.push(5);
            push_children(&mut buf, a);
        }
        Node::Mul(a) => {
            buf.push(6);
            push_children(&mut buf, a);
        }
        Node::Pow(be) => {
            buf.push(7);
            push_children(&mut buf, be);
        }
        Node::Func(f, a) => {
            buf.push(8);
            buf.push(f.tag());
            push_children(&mut buf, a);
        }
    }
    ContentKey(xxh3_128_with_seed(&buf, CONTENT_SEED))
}

impl ExprPool {
    /// Longest symbol name, in bytes of UTF-8: [`ExprPool::symbol`] refuses
    /// longer names, and the pool file format (`alkahest-persist`) uses the
    /// same limit, so every symbol that can be built can be saved and
    /// loaded again.
    pub const MAX_SYMBOL_BYTES: usize = 1 << 16;

    /// A new, empty pool with a fresh identity.
    pub fn new() -> Self {
        ExprPool {
            inner: Arc::new(Inner {
                id: PoolId(NEXT_POOL_ID.fetch_add(1, AtomicOrdering::Relaxed)),
                state: RwLock::new(State::default()),
            }),
        }
    }

    /// This pool's identity.
    pub fn id(&self) -> PoolId {
        self.inner.id
    }

    /// Number of distinct nodes interned so far.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// True when nothing has been interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A read-locked view for traversals.
    pub fn view(&self) -> NodeView<'_> {
        // A poisoned lock only means another thread panicked while holding
        // it; the append-only state is still consistent, so keep going.
        NodeView {
            guard: self.inner.state.read().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// A copy of the node behind `id`.
    pub fn node(&self, id: ExprId) -> Result<Node> {
        self.view().get(id).cloned().ok_or(Error::UnknownId(id.0))
    }

    /// Structural key of `id`.
    pub fn key(&self, id: ExprId) -> Result<ContentKey> {
        let v = self.view();
        v.get(id).ok_or(Error::UnknownId(id.0))?;
        Ok(v.key(id))
    }

    /// Check that `id` was handed out by this pool.
    pub fn check(&self, id: ExprId) -> Result<ExprId> {
        if id.index() < self.len() {
            Ok(id)
        } else {
            Err(Error::UnknownId(id.0))
        }
    }

    /// Intern a node that already satisfies the canonical invariants and
    /// return its id. Equal nodes always get the same id.
    pub(crate) fn intern(&self, node: Node) -> Result<ExprId> {
        let key = {
            let v = self.view();
            if let Some(bad) = node.children().iter().find(|c| c.index() >= v.len()) {
                return Err(Error::UnknownId(bad.0));
            }
            let key = content_key(&node, &v.guard.entries);
            let entries = &v.guard.entries;
            if let Some(&id) = v
                .guard
                .table
                .find(key.0 as u64, |&i| entries[i as usize].node == node)
            {
                return Ok(ExprId(id));
            }
            key
        };
        let mut st = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
        let State { entries, table } = &mut *st;
        // Another thread may have interned the same node between the locks.
        if let Some(&id) = table.find(key.0 as u64, |&i| entries[i as usize].node == node) {
            return Ok(ExprId(id));
        }
        let id = u32::try_from(entries.len()).map_err(|_| Error::PoolFull)?;
        entries.push(Entry { node, key });
        table.insert_unique(key.0 as u64, id, |&i| entries[i as usize].key.0 as u64);
        Ok(ExprId(id))
    }
}
