//! The revision graph: parents give branches, heads and merges (Alembic's model); a folder whose
//! files declare no parents is a linear chain in name order (sqlx, golang-migrate, diesel, Flyway).

use crate::error::{Problems, RevisionError};
use crate::file::Revision;
use crate::layout;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The revisions of a folder as a graph of parents and children, checked: no cycle, no
/// missing parent, no duplicate id.
#[derive(Debug)]
pub struct Graph {
    dir: PathBuf,
    /// In topological order (parents before children); ties broken by name order.
    revisions: Vec<Revision>,
    index: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    ignored: Vec<PathBuf>,
}

impl Graph {
    /// Reads `dir` and builds the graph, reporting every problem found rather than the first.
    pub fn load(dir: &Path) -> Result<Graph, Problems> {
        let loaded = layout::load_dir(dir);
        let mut errors = loaded.errors;
        match Graph::build(dir, loaded.revisions, loaded.ignored) {
            Ok(g) if errors.is_empty() => Ok(g),
            Ok(_) => Err(Problems(errors)),
            Err(Problems(more)) => {
                errors.extend(more);
                Err(Problems(errors))
            }
        }
    }

    /// The graph of `revs` read from `dir` (`ignored`: the entries that were not revisions),
    /// or every problem found.
    pub fn build(dir: &Path, mut revs: Vec<Revision>, ignored: Vec<PathBuf>) -> Result<Graph, Problems> {
        let mut errors = Vec::new();
        revs.sort_by_key(|r| name_order(&r.sort_name));
        let (revs, index) = unique_ids(revs, &mut errors);
        let parent_ids = declared_parents(&revs, &mut errors);
        let (parents, children) = link(&revs, &index, &parent_ids, &mut errors);
        if !errors.is_empty() {
            return Err(Problems(errors));
        }
        let order = topological_order(&parents, &children).map_err(|cycle| RevisionError::Cycle {
            path: cycle.iter().map(|&i| revs[i].id.clone()).collect(),
            files: cycle[..cycle.len() - 1].iter().map(|&i| revs[i].path.clone()).collect(),
        })?;

        // Re-index everything in topological order.
        let mut new_pos = vec![0; revs.len()];
        for (pos, &old) in order.iter().enumerate() {
            new_pos[old] = pos;
        }
        let mut slots: Vec<Option<Revision>> = revs.into_iter().map(Some).collect();
        let revisions: Vec<Revision> = order.iter().map(|&old| slots[old].take().expect("each index once")).collect();
        let remap = |v: &Vec<usize>| v.iter().map(|&o| new_pos[o]).collect::<Vec<_>>();
        let parents: Vec<Vec<usize>> = order.iter().map(|&old| remap(&parents[old])).collect();
        let children: Vec<Vec<usize>> = order.iter().map(|&old| remap(&children[old])).collect();
        let index = revisions.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
        Ok(Graph { dir: dir.to_path_buf(), revisions, index, parents, children, ignored })
    }

    /// The migrations folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All revisions, parents before children.
    pub fn revisions(&self) -> &[Revision] {
        &self.revisions
    }

    /// Folder entries that are not revisions.
    pub fn ignored(&self) -> &[PathBuf] {
        &self.ignored
    }

    /// The revision `id`.
    pub fn get(&self, id: &str) -> Option<&Revision> {
        self.index.get(id).map(|&i| &self.revisions[i])
    }

    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// An exact id, or (as in Alembic) a prefix that names exactly one revision.
    pub fn resolve(&self, id: &str) -> Result<&Revision, RevisionError> {
        if let Some(r) = self.get(id) {
            return Ok(r);
        }
        let matches: Vec<&Revision> = self.revisions.iter().filter(|r| r.id.starts_with(id)).collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(RevisionError::UnknownRevision { id: id.to_string(), dir: self.dir.clone() }),
            many => Err(RevisionError::Ambiguous {
                prefix: id.to_string(),
                candidates: many.iter().map(|r| r.id.clone()).collect(),
            }),
        }
    }

    /// The ids of `id`'s parents.
    pub fn parents_of(&self, id: &str) -> Vec<&str> {
        self.position(id)
            .map(|i| self.parents[i].iter().map(|&p| self.revisions[p].id.as_str()).collect())
            .unwrap_or_default()
    }

    /// The ids of the revisions whose parent `id` is.
    pub fn children_of(&self, id: &str) -> Vec<&str> {
        self.position(id)
            .map(|i| self.children[i].iter().map(|&c| self.revisions[c].id.as_str()).collect())
            .unwrap_or_default()
    }

    /// Revisions nothing builds on.
    pub fn heads(&self) -> Vec<&Revision> {
        (0..self.revisions.len()).filter(|&i| self.children[i].is_empty()).map(|i| &self.revisions[i]).collect()
    }

    /// The single head, or an error naming them all.
    pub fn head(&self) -> Result<Option<&Revision>, RevisionError> {
        let heads = self.heads();
        match heads.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => Err(RevisionError::SeveralHeads { heads: many.iter().map(|r| r.id.clone()).collect() }),
        }
    }

    /// Positions of `id` and everything it builds on.
    pub(crate) fn ancestors_inclusive(&self, pos: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![pos];
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(&self.parents[i]);
            }
        }
        seen
    }

    pub(crate) fn children_positions(&self, pos: usize) -> &[usize] {
        &self.children[pos]
    }
}

/// Name order with numeric prefixes compared as numbers, so `9_x` sorts before `10_x`.
fn name_order(name: &str) -> (usize, String, String) {
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').to_string();
    (if digits.is_empty() { usize::MAX } else { significant.len() }, significant, name.to_string())
}

/// A cycle among the nodes Kahn's algorithm could not order, as positions with the first repeated
/// at the end.
fn find_cycle(parents: &[Vec<usize>], indegree: &[usize]) -> Vec<usize> {
    let start = (0..parents.len()).find(|&i| indegree[i] > 0).expect("a node is left");
    // Every unordered node has an unordered parent, so walking parents must revisit a node.
    let mut path = vec![start];
    let mut on_path = HashMap::from([(start, 0usize)]);
    let mut cur = start;
    loop {
        let next = *parents[cur].iter().find(|&&p| indegree[p] > 0).expect("unordered parent");
        if let Some(&at) = on_path.get(&next) {
            let mut cycle: Vec<usize> = path[at..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            return cycle;
        }
        on_path.insert(next, path.len());
        path.push(next);
        cur = next;
    }
}

/// The revisions with a first-seen id, and where each id sits; a repeated id is an error naming
/// both files.
fn unique_ids(revs: Vec<Revision>, errors: &mut Vec<RevisionError>) -> (Vec<Revision>, HashMap<String, usize>) {
    let mut index = HashMap::new();
    let mut unique: Vec<Revision> = Vec::with_capacity(revs.len());
    for r in revs {
        if let Some(&first) = index.get(&r.id) {
            let first: &Revision = &unique[first];
            errors.push(RevisionError::DuplicateId {
                id: r.id.clone(),
                first: first.path.clone(),
                second: r.path.clone(),
            });
            continue;
        }
        index.insert(r.id.clone(), unique.len());
        unique.push(r);
    }
    (unique, index)
}

/// Each revision's parent ids: as declared, or, when no file declares any, the previous file in
/// name order. Declaring in some files and not others is an error per undeclared file.
fn declared_parents(revs: &[Revision], errors: &mut Vec<RevisionError>) -> Vec<Vec<String>> {
    let declared: Vec<&Revision> = revs.iter().filter(|r| r.parents.is_some()).collect();
    if declared.is_empty() {
        return (0..revs.len()).map(|i| if i == 0 { vec![] } else { vec![revs[i - 1].id.clone()] }).collect();
    }
    for r in revs.iter().filter(|r| r.parents.is_none()) {
        errors.push(RevisionError::MixedParents { file: r.path.clone(), example: declared[0].path.clone() });
    }
    revs.iter().map(|r| r.parents.clone().unwrap_or_default()).collect()
}

type Edges = Vec<Vec<usize>>;

/// Parent and child edges by position; a parent id no file has is an error.
fn link(
    revs: &[Revision],
    index: &HashMap<String, usize>,
    parent_ids: &[Vec<String>],
    errors: &mut Vec<RevisionError>,
) -> (Edges, Edges) {
    let mut parents = vec![Vec::new(); revs.len()];
    let mut children = vec![Vec::new(); revs.len()];
    for (i, ps) in parent_ids.iter().enumerate() {
        for p in ps {
            match index.get(p) {
                Some(&j) => {
                    parents[i].push(j);
                    children[j].push(i);
                }
                None => errors.push(RevisionError::MissingParent {
                    revision: revs[i].id.clone(),
                    parent: p.clone(),
                    file: revs[i].path.clone(),
                }),
            }
        }
    }
    (parents, children)
}

/// Kahn's algorithm; the ready set is ordered by position (name order) so the order is
/// deterministic. A cycle comes back as the positions along it.
fn topological_order(parents: &[Vec<usize>], children: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut indegree: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..parents.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(parents.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &c in &children[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() < parents.len() {
        return Err(find_cycle(parents, &indegree));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn errors(dir: &Path) -> String {
        Graph::load(dir).unwrap_err().to_string()
    }

    #[test]
    fn duplicate_ids_name_both_files() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "001_a.sql", "SELECT 1;");
        write(d.path(), "001_b.sql", "SELECT 2;");
        let e = errors(d.path());
        assert!(e.contains("duplicate revision id `001`:"), "{e}");
        assert!(e.contains("001_a.sql") && e.contains("001_b.sql"), "{e}");
    }

    #[test]
    fn missing_parent_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.sql", "-- id: a\n-- parents: none\n-- runner:up\nSELECT 1;");
        write(d.path(), "b.sql", "-- id: b\n-- parents: nope\n-- runner:up\nSELECT 1;");
        let e = errors(d.path());
        assert!(e.ends_with("b.sql: revision `b` names parent `nope`, which no revision file defines"), "{e}");
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "r.sql", "-- id: r\n-- parents: none\n-- runner:up\nSELECT 1;");
        write(d.path(), "a.sql", "-- id: a\n-- parents: b\n-- runner:up\nSELECT 1;");
        write(d.path(), "b.sql", "-- id: b\n-- parents: a\n-- runner:up\nSELECT 1;");
        let e = errors(d.path());
        assert!(
            e.starts_with("revisions form a cycle: a -> b -> a")
                || e.starts_with("revisions form a cycle: b -> a -> b"),
            "{e}"
        );
    }

    #[test]
    fn a_file_without_parents_among_files_with_parents_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.sql", "-- id: a\n-- parents: none\n-- runner:up\nSELECT 1;");
        write(d.path(), "b.sql", "SELECT 2;");
        let e = errors(d.path());
        assert!(e.contains("b.sql: declares no `parents` while other revisions do"), "{e}");
    }

    #[test]
    fn plain_folders_chain_in_numeric_name_order() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "10_c.sql", "SELECT 3;");
        write(d.path(), "9_b.sql", "SELECT 2;");
        write(d.path(), "1_a.sql", "SELECT 1;");
        write(d.path(), "README.md", "notes");
        let g = Graph::load(d.path()).unwrap();
        let ids: Vec<&str> = g.revisions().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["1", "9", "10"]);
        assert_eq!(g.parents_of("10"), ["9"]);
        assert_eq!(g.ignored().len(), 1);
    }

    #[test]
    fn sqlx_and_diesel_layouts_with_their_transaction_markers() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "20240101000000_users.up.sql", "CREATE TABLE users (id int);");
        write(d.path(), "20240101000000_users.down.sql", "DROP TABLE users;");
        write(d.path(), "20240102000000_idx.up.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON users (id);");
        let g = Graph::load(d.path()).unwrap();
        assert_eq!(g.revisions().len(), 2);
        assert!(g.revisions()[0].is_reversible());
        assert_eq!(g.revisions()[1].tx, crate::TxMode::None);

        let d = tempfile::tempdir().unwrap();
        write(d.path(), "2024-01-01-000000_users/up.sql", "CREATE TABLE users (id int);");
        write(d.path(), "2024-01-01-000000_users/down.sql", "DROP TABLE users;");
        write(d.path(), "2024-01-02-000000_idx/up.sql", "CREATE INDEX CONCURRENTLY i ON users (id);");
        write(d.path(), "2024-01-02-000000_idx/metadata.toml", "run_in_transaction = false\n");
        let g = Graph::load(d.path()).unwrap();
        assert_eq!(g.revisions()[0].id, "2024-01-01-000000");
        assert_eq!(g.revisions()[1].tx, crate::TxMode::None);
    }

    #[test]
    fn orphan_down_file_and_bad_diesel_metadata_are_errors() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "1_x.down.sql", "DROP TABLE x;");
        write(d.path(), "2_y/up.sql", "SELECT 1;");
        write(d.path(), "2_y/metadata.toml", "run_in_transaction = maybe\n");
        let e = errors(d.path());
        assert!(e.contains("1_x.down.sql:1: `1_x.down.sql` has no matching `1_x.up.sql`"), "{e}");
        assert!(e.contains("metadata.toml:1:"), "{e}");
    }

    #[test]
    fn resolve_accepts_unique_prefixes() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "ab1.sql", "-- id: ab1\n-- parents: none\n-- runner:up\nSELECT 1;");
        write(d.path(), "ab2.sql", "-- id: ab2\n-- parents: ab1\n-- runner:up\nSELECT 1;");
        let g = Graph::load(d.path()).unwrap();
        assert_eq!(g.resolve("ab2").unwrap().id, "ab2");
        assert!(g.resolve("ab").unwrap_err().to_string().contains("ambiguous: ab1, ab2"));
        assert!(g.resolve("zz").is_err());
    }
}
