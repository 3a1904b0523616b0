//! A layered layout of nsr's own for `--format svg`: rows by breadth-first distance
//! from each connected part's first node, order within a row by the neighbours'
//! average (a few sweeps down and up), then each node pulled towards its neighbours
//! without overlapping. Labs are small trees and chains, where this is enough; what it
//! gives in return is full control of the SVG (an id and details per node for the HTML
//! page, a label at each end of a veth); layout-rs renders through draw calls that carry
//! no node identity, on which those would have to be rebuilt.

use std::collections::VecDeque;

/// A node's size, in pixels.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub w: f64,
    pub h: f64,
}

/// Where a node goes: its top left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub x: f64,
    pub y: f64,
}

pub const GAP_X: f64 = 48.0;
/// Room between rows for the labels at the ends of the lines.
pub const GAP_Y: f64 = 110.0;
pub const MARGIN: f64 = 24.0;
/// The most nodes side by side.
pub const MAX_PER_ROW: usize = 8;

/// Places `sizes.len()` nodes joined by `edges` (undirected, by index): each connected
/// part laid out on its own, the parts side by side from the left, tops at `top`.
pub fn layout(sizes: &[Size], edges: &[(usize, usize)], top: f64) -> Vec<Place> {
    let n = sizes.len();
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
        if a != b && a < n && b < n {
            adj[a].push(b);
            adj[b].push(a);
        }
    }
    let rank = ranks(&adj);
    let mut part = vec![usize::MAX; n];
    let mut parts: Vec<Vec<usize>> = Vec::new();
    for start in 0..n {
        if part[start] != usize::MAX {
            continue;
        }
        let mut members = vec![start];
        part[start] = parts.len();
        let mut k = 0;
        while k < members.len() {
            for &j in &adj[members[k]] {
                if part[j] == usize::MAX {
                    part[j] = parts.len();
                    members.push(j);
                }
            }
            k += 1;
        }
        members.sort_unstable();
        parts.push(members);
    }
    let mut places = vec![Place { x: 0.0, y: 0.0 }; n];
    let mut left = MARGIN;
    for members in parts {
        let local: std::collections::HashMap<usize, usize> =
            members.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let sub_adj: Vec<Vec<usize>> = members
            .iter()
            .map(|i| adj[*i].iter().map(|j| local[j]).collect())
            .collect();
        let sub_sizes: Vec<Size> = members.iter().map(|&i| sizes[i]).collect();
        let sub_rank: Vec<usize> = members.iter().map(|&i| rank[i]).collect();
        let placed = layout_part(&sub_sizes, &sub_adj, &sub_rank, top);
        let right = placed
            .iter()
            .zip(&sub_sizes)
            .map(|(p, z)| p.x + z.w)
            .fold(0.0, f64::max);
        for (k, &i) in members.iter().enumerate() {
            places[i] = Place {
                x: placed[k].x + left,
                y: placed[k].y,
            };
        }
        left += right + 2.0 * GAP_X;
    }
    places
}

/// One connected part, its leftmost node at x = 0.
fn layout_part(sizes: &[Size], adj: &[Vec<usize>], rank: &[usize], top: f64) -> Vec<Place> {
    let n = sizes.len();
    let rows = rank.iter().copied().max().map_or(0, |m| m + 1);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for (i, &r) in rank.iter().enumerate() {
        order[r].push(i);
    }
    for _ in 0..4 {
        for r in 1..rows {
            sort_by_neighbours(&mut order, r, r - 1, adj);
        }
        for r in (0..rows.saturating_sub(1)).rev() {
            sort_by_neighbours(&mut order, r, r + 1, adj);
        }
    }
    // A row wider than MAX_PER_ROW (a bridge's many hosts) wraps onto rows of its own.
    let order: Vec<Vec<usize>> = order
        .iter()
        .flat_map(|row| {
            row.chunks(MAX_PER_ROW)
                .map(<[usize]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut band = vec![0; n];
    for (b, row) in order.iter().enumerate() {
        for &i in row {
            band[i] = b;
        }
    }
    let mut x = vec![0.0; n];
    for row in &order {
        let mut at = MARGIN;
        for &i in row {
            x[i] = at;
            at += sizes[i].w + GAP_X;
        }
    }
    for _ in 0..8 {
        for row in &order {
            pull_towards_neighbours(row, adj, sizes, &mut x);
        }
    }
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    let shift = if min.is_finite() { -min } else { 0.0 };
    let mut y_of_row = Vec::with_capacity(rows);
    let mut y = top;
    for row in &order {
        y_of_row.push(y);
        let h = row.iter().map(|&i| sizes[i].h).fold(0.0, f64::max);
        y += h + GAP_Y;
    }
    (0..n)
        .map(|i| Place {
            x: x[i] + shift,
            y: y_of_row[band[i]],
        })
        .collect()
}

/// Breadth-first distance from the first node of each connected part.
fn ranks(adj: &[Vec<usize>]) -> Vec<usize> {
    let mut rank = vec![usize::MAX; adj.len()];
    for start in 0..adj.len() {
        if rank[start] != usize::MAX {
            continue;
        }
        rank[start] = 0;
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            for &j in &adj[i] {
                if rank[j] == usize::MAX {
                    rank[j] = rank[i] + 1;
                    queue.push_back(j);
                }
            }
        }
    }
    rank
}

fn sort_by_neighbours(order: &mut [Vec<usize>], row: usize, by: usize, adj: &[Vec<usize>]) {
    let pos = |i: usize| order[by].iter().position(|&j| j == i);
    let mut keyed: Vec<(f64, usize, usize)> = order[row]
        .iter()
        .enumerate()
        .map(|(at, &i)| {
            let ps: Vec<f64> = adj[i]
                .iter()
                .filter_map(|&j| pos(j))
                .map(|p| p as f64)
                .collect();
            let key = if ps.is_empty() {
                at as f64
            } else {
                ps.iter().sum::<f64>() / ps.len() as f64
            };
            (key, at, i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    order[row] = keyed.into_iter().map(|(_, _, i)| i).collect();
}

/// Moves the nodes of a row to where their neighbours' mean centre wants them, as near
/// as the row's order and the gap between nodes allow: nodes that would overlap move as
/// one block, placed at the mean of what its members want (least squares).
fn pull_towards_neighbours(row: &[usize], adj: &[Vec<usize>], sizes: &[Size], x: &mut [f64]) {
    let centre = |i: usize, x: &[f64]| x[i] + sizes[i].w / 2.0;
    let wanted: Vec<f64> = row
        .iter()
        .map(|&i| {
            if adj[i].is_empty() {
                return x[i];
            }
            let c = adj[i].iter().map(|&j| centre(j, x)).sum::<f64>() / adj[i].len() as f64;
            c - sizes[i].w / 2.0
        })
        .collect();
    // Blocks of consecutive nodes: (first, last, x of the first).
    let mut blocks: Vec<(usize, usize, f64)> = Vec::new();
    let offset =
        |first: usize, k: usize| -> f64 { row[first..k].iter().map(|&i| sizes[i].w + GAP_X).sum() };
    for k in 0..row.len() {
        let mut block = (k, k, wanted[k]);
        while let Some(&(first, last, at)) = blocks.last() {
            let end = at + offset(first, last) + sizes[row[last]].w + GAP_X;
            if end <= block.2 + offset(block.0, block.0) {
                break;
            }
            blocks.pop();
            let members = first..=block.1;
            let count = (block.1 - first + 1) as f64;
            let at = members.map(|m| wanted[m] - offset(first, m)).sum::<f64>() / count;
            block = (first, block.1, at);
        }
        blocks.push(block);
    }
    for (first, last, at) in blocks {
        for k in first..=last {
            x[row[k]] = at + offset(first, k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: (Place, Size), b: (Place, Size)) -> bool {
        a.0.x < b.0.x + b.1.w
            && b.0.x < a.0.x + a.1.w
            && a.0.y < b.0.y + b.1.h
            && b.0.y < a.0.y + a.1.h
    }

    #[test]
    fn a_chain_goes_down_in_rows_and_nothing_overlaps() {
        let sizes = vec![Size { w: 120.0, h: 40.0 }; 6];
        let edges = [(0, 1), (1, 2), (1, 3), (3, 4)];
        let p = layout(&sizes, &edges, 30.0);
        assert!(p[0].y < p[1].y && p[1].y < p[2].y && p[3].y < p[4].y);
        assert_eq!(p[2].y, p[3].y);
        assert_eq!(
            p[5].y, p[0].y,
            "a node on its own starts a row 0 of its own part"
        );
        for i in 0..6 {
            for j in i + 1..6 {
                assert!(
                    !overlap((p[i], sizes[i]), (p[j], sizes[j])),
                    "{i} and {j} overlap: {p:?}"
                );
            }
        }
        assert!(p.iter().all(|q| q.x >= MARGIN - 1e-9));
    }

    #[test]
    fn a_bridge_with_many_hosts_wraps_onto_more_rows() {
        let sizes = vec![Size { w: 100.0, h: 40.0 }; 21];
        let edges: Vec<(usize, usize)> = (1..21).map(|i| (0, i)).collect();
        let p = layout(&sizes, &edges, 0.0);
        let mut rows: Vec<f64> = p.iter().map(|q| q.y).collect();
        rows.sort_by(f64::total_cmp);
        rows.dedup();
        assert_eq!(
            rows.len(),
            4,
            "the bridge, then 20 hosts in rows of 8: {p:?}"
        );
        let widest = p.iter().map(|q| q.x).fold(0.0, f64::max);
        assert!(widest < 8.0 * (100.0 + GAP_X) + MARGIN, "{widest}");
        for i in 0..21 {
            for j in i + 1..21 {
                assert!(
                    !overlap((p[i], sizes[i]), (p[j], sizes[j])),
                    "{i} and {j} overlap"
                );
            }
        }
    }
}
