//! The fuzz targets on stable, bounded: every seed of `corpus/<target>/`, then mutations of the
//! seeds (bytes flipped, inserted, removed, spliced between seeds, cut short). Coverage-guided
//! runs of hours are `scripts/fuzz.sh`'s; this keeps every target building and its seeds and
//! the regressions found so far passing in CI.

use std::path::Path;

const MUTATIONS_PER_TARGET: usize = 2_000;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{} has no seeds", dir.display());
    seeds
}

fn mutate(rng: &mut fastrand::Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.usize(..seeds.len())].clone();
    for _ in 0..rng.usize(1..8) {
        let at = rng.usize(..=data.len());
        match rng.u8(..6) {
            0 if !data.is_empty() => {
                let i = rng.usize(..data.len());
                data[i] ^= 1 << rng.u8(..8);
            }
            1 => data.insert(at, rng.u8(..)),
            2 if at < data.len() => {
                data.remove(at);
            }
            3 => {
                let other = &seeds[rng.usize(..seeds.len())];
                let from = rng.usize(..=other.len());
                data.splice(at..at, other[from..].iter().copied().take(64));
            }
            4 => data.truncate(at),
            _ => {
                let interesting: &[&[u8]] = &[
                    b"\n\n", b"\r\n", b"{", b"}", b"[", b"\"", b"\\u0000", b"null", b"-1",
                    b"1e999", b"${", b"data: ", b"event: ", b"%FF", b"&", b"=",
                ];
                let piece = interesting[rng.usize(..interesting.len())];
                data.splice(at..at, piece.iter().copied());
            }
        }
    }
    data
}

#[test]
fn every_target_survives_its_seeds_and_their_mutations() {
    for (name, target) in switchboard_fuzz::TARGETS {
        let seeds = seeds(name);
        for seed in &seeds {
            target(seed);
        }
        let mut rng = fastrand::Rng::with_seed(0x5b0a_7d00 ^ name.len() as u64);
        for _ in 0..MUTATIONS_PER_TARGET {
            let input = mutate(&mut rng, &seeds);
            target(&input);
        }
    }
}
