//! Cross-check of [`assign_swarms`] against oxend's algorithm as compiled by GCC 12 with
//! libstdc++ (`std::mt19937_64`, `std::sort`, `std::map`).
//!
//! Each scenario runs epochs over a changing network: nodes (keyed by a counter) join without a
//! swarm and random nodes leave, all drawn from an `mt19937_64` seeded with the scenario number;
//! the epoch's assignment seed is the scenario generator's next output. After each epoch the
//! swarms are digested (FNV-1a-64 over each swarm id, its size and its members, in id order).
//! The expected digests were produced by a C++ program doing the same with oxend's
//! `calc_swarm_changes` steps (origin: derived; the program is not part of this repository).
//! Scenario 1 grows to 82 swarms, scenario 2 churns a small network, scenario 3 starts with
//! 2000 nodes and loses up to 119 per epoch, dissolving swarms.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a panic with context is how a case fails"
)]

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use sotto_swarm::{INVALID_SWARM_ID, Mt19937_64, SwarmId, assign_swarms};

fn uniform(rng: &mut Mt19937_64, n: u64) -> u64 {
    rng.uniform(NonZeroU64::new(n).unwrap())
}

fn fnv(mut h: u64, x: u64) -> u64 {
    for byte in x.to_le_bytes() {
        h = (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn digest(swarms: &BTreeMap<SwarmId, Vec<u32>>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325;
    for (id, members) in swarms {
        h = fnv(h, id.0);
        h = fnv(h, members.len() as u64);
        for k in members {
            h = fnv(h, u64::from(*k));
        }
    }
    h
}

fn run(scenario: u64, joins: u64, leaves: u64, first_join: u64, expected: &[u64]) {
    let mut sc = Mt19937_64::new(scenario);
    let mut state: BTreeMap<u32, SwarmId> = BTreeMap::new();
    let mut next_key = 0u32;
    for (epoch, want) in expected.iter().enumerate() {
        let join = if epoch == 0 && first_join > 0 {
            first_join
        } else {
            uniform(&mut sc, joins)
        };
        for _ in 0..join {
            state.insert(next_key, INVALID_SWARM_ID);
            next_key += 1;
        }
        for _ in 0..uniform(&mut sc, leaves) {
            if state.is_empty() {
                break;
            }
            let at = uniform(&mut sc, state.len() as u64) as usize;
            let key = *state.keys().nth(at).unwrap();
            state.remove(&key);
        }
        let seed = sc.next_u64();
        let out = assign_swarms(&state, seed);
        assert_eq!(
            digest(out.swarms()),
            *want,
            "scenario {scenario}, epoch {epoch}: {} nodes, {} swarms",
            state.len(),
            out.swarms().len()
        );
        state = out.node_swarms();
    }
}

#[test]
fn growing_network_matches_oxend() {
    run(1, 30, 10, 0, &SCENARIO_1);
}

#[test]
fn small_churning_network_matches_oxend() {
    run(2, 10, 8, 0, &SCENARIO_2);
}

#[test]
fn shrinking_network_matches_oxend() {
    run(3, 1, 120, 2000, &SCENARIO_3);
}

const SCENARIO_1: [u64; 60] = [
    0x05237a7e8e904aa7,
    0x22fc51c68eb78aa1,
    0x387199653014c743,
    0xcbf29ce484222325,
    0x356501bca2e1b144,
    0x820a418f6774150a,
    0xabe37ad372b633f9,
    0xcf1c8ede8e60535c,
    0x74dbbac6a004ebbf,
    0xca9099bb1931800e,
    0x7dd65e8832d37e00,
    0xb0006293e8232ea5,
    0xe11e4d355a282c71,
    0x372672a83fcea102,
    0xf3feaf6983de7ac8,
    0x49c31d3b21be3c8d,
    0x4db2187d9da69107,
    0x78a98300222715a1,
    0xef80f2d0e828937d,
    0x87313b9120885b6d,
    0x91527bf1187a933e,
    0xf46c84a34add54cd,
    0x1d53215b9146b96b,
    0x8f55e25dbe6ee70a,
    0x5e713a0e3873d1ed,
    0xc054670c4934ae5d,
    0x7d9eea914387f358,
    0xa76873efae9469ed,
    0x3a66034d96455f45,
    0xf846985125ad268a,
    0x82d1cd3765400bce,
    0xd18777cd31843ded,
    0xa5aa210ad453963a,
    0x035a3651b7ecb764,
    0x09a7a732716d3d73,
    0x7646b1dc468a58a8,
    0x17151bd9f232497e,
    0xcb2f27788f397c74,
    0xa794deaa25a41625,
    0x4b3dd8b7e3861175,
    0x870961b1ddc63d11,
    0x48e9000eb549df60,
    0xfee66dbc2bf1e733,
    0x68bcc5ef4bdd0dcd,
    0x91c89d8cda04aaa7,
    0x8c3bd4e3b73157ad,
    0x15dd66ab124bd226,
    0xa1c08f2fce09f2f1,
    0x2c09a7a754146056,
    0xa9321940b0a621df,
    0x4992a72398061f77,
    0x40c3da5b8d164a4d,
    0x391c337830e960c9,
    0xa33a2a53651261eb,
    0xbb0c563111c1f84e,
    0xcc6552df081388a9,
    0xc065983a9b53f5b3,
    0x7e082555a18f245e,
    0x37fce320e62ee993,
    0x69f891dc79cccf18,
];

const SCENARIO_2: [u64; 150] = [
    0x7ca66eb6bc12afc1,
    0xf1b91363a4b5e8c4,
    0x2bbe2f8da698316c,
    0x1c764b6f061b3214,
    0x352fb8968fb5817e,
    0xe3bdea05b7c8d612,
    0x6801fc60e208ad53,
    0x52b56532fb727b70,
    0xde93ddb620759057,
    0x4ead900decfaea98,
    0x54db12ae35d5e3ad,
    0xf98c2b3c20648904,
    0x4cdfd09bdbda96e5,
    0x1dcb143f7fb7ef3a,
    0x75f34faf8a0af00e,
    0x6674c5c807b1374a,
    0xa9c3d5f7ae28ad3d,
    0x58ac1f6af4539a68,
    0x46b689d9c556525e,
    0xe4d48f063667454a,
    0x4d0c5faac1e6ae51,
    0xe634aa3dfa3e3788,
    0xf021e90c5ee91be5,
    0xb04855d0b3ed61d9,
    0x8cb5572e8f61ce77,
    0xd087451d925b7c14,
    0xc3690d989bceacc3,
    0x72a425fc3bca9653,
    0x4ced4a9fcc1124db,
    0xfd8a0ba41f70bcf2,
    0xb8ac4115d2ab489f,
    0x2fc356b771fdf376,
    0xfee3fb495a2347f7,
    0x05824d5398c96337,
    0xdfe7337627775424,
    0x7889c007cc77769a,
    0x545da37a376d86f4,
    0x6e88033e17774705,
    0xf81d7b33c8e11f2c,
    0x795a14142c09760b,
    0x2f922d6d7c1025c6,
    0x409c5e30b21d4049,
    0x461b0ec8b7802b28,
    0x5370355a7409cda2,
    0x966d7ea6ad091143,
    0x7cadb01f5b9bc3e5,
    0xb53db893509d784c,
    0xcae31136e4cc5717,
    0x130774fc441d3d1b,
    0xc44e8148cb98ec57,
    0x3d6abfa39e520266,
    0x3874ca456e6fcb97,
    0xa2ed9e3dedc506d2,
    0xbf3fc18ed1157bc8,
    0x917080b218ec1b61,
    0xb8ec3993bf2f72f4,
    0x6c6c0036d0daad18,
    0x00591d875941c013,
    0xbdb000d1be31d20b,
    0x40bbdcf2bcc9255a,
    0x8b4e00f781f7bf12,
    0x682e286bc30bd262,
    0x6fa8d3d99c81499d,
    0x7d23e964570fb374,
    0xeb7d0ce4b3ee673b,
    0xef2dad352df4a3d9,
    0x5cb203730501577c,
    0x1e4bec8e1a892e45,
    0x2a202736322f5c57,
    0x8c136cf749871fb6,
    0x4417bef58e0f6c34,
    0x8deb359683087bd6,
    0x8deb359683087bd6,
    0xee1a4a6554bd78f9,
    0x23ca3e2b69f1ccbb,
    0xf5116140e9401fe2,
    0xf459d268baaf9acb,
    0x1ee2ff960f41cbda,
    0xaf5f6da44bc946d7,
    0x1275dc862a187df3,
    0x22e2254ac4cc743a,
    0xdbabd51ff75e394c,
    0x72d2a8666edbccf4,
    0x5a8ba26b86eb61ad,
    0xaf7b4ac99ce973cc,
    0x926975c328342423,
    0xa57396e4743ee122,
    0xa11a980f7e48c2e9,
    0x54a7aedd1b2b5265,
    0x21469842e275079f,
    0x63985d4a81728cfd,
    0xe4a592ed42e60d0f,
    0x7c956e4cac4f412e,
    0x0deeab7c91727113,
    0x3f3dd83485df6557,
    0x5f6c02523797240b,
    0x43590320b0c35807,
    0x84ab6a6b79d8888d,
    0xc7dcc033782edb0b,
    0xe5bd5b41bcfb28b2,
    0xaebc030a9fff3ae8,
    0xfd9217b05a065385,
    0xa5c057494070e388,
    0x341798c36658744b,
    0x7149d1f1fb72a853,
    0xaffb4c6bc10a7ed2,
    0x93c32f8b6c8bdd3c,
    0xbfb94ed7764cae0d,
    0x0e3e141f25be176a,
    0x3aa66df238031938,
    0xd9d39f1bb5341453,
    0xd53d002506c20402,
    0x6dd339f7a26c4887,
    0x06380359f9dc20ed,
    0x3984f899b97622b9,
    0x6732d622b25e896d,
    0x2d13982a4bc21be4,
    0xc3bd27866ec63bf3,
    0x22ea614b0d761558,
    0x4a28f7cce6264b47,
    0xf3f7df18dd81ea63,
    0xc3be98f26dc5580f,
    0xb9c10b579f9171f6,
    0xef45423f5930774b,
    0x89810571b58e4e4f,
    0x0979704c645f8a8d,
    0xfe4a6e3b595bc3c5,
    0x5080658839bb10f3,
    0x932689652ed0bce0,
    0xf96cb61e248be7d5,
    0x651c0b9e7aa57680,
    0xc019a07f49eccfbc,
    0x788845c2d7fd8007,
    0x3ff341be0e79687b,
    0x12a2510054566fcc,
    0x7c6eabdb4ea4f617,
    0x8ba7e2e4ceeb0ed0,
    0x92021e2e20fef24e,
    0x04f13cb077c0f4ce,
    0x103726fb4a08134b,
    0x505af53c6fcd3561,
    0x4b344f0614b41b00,
    0x41d32fd2424089af,
    0xfea948476b5b9573,
    0x8277e7fb18e3facf,
    0x6ea78a6262c3e197,
    0xe6dfc91b52dc107b,
    0x297fcfe037bd9988,
    0x45d53449a95ac3b9,
    0xfa3d18c23e945d73,
];

const SCENARIO_3: [u64; 25] = [
    0xa62eba1b8494532d,
    0x571b49d5b8e638f5,
    0xbd5b57df05533000,
    0xc2756a1ea7618c16,
    0x61fe39175bf07d2a,
    0x2c5342a55c63041b,
    0xa4fbf8d95e61bc76,
    0x5c3ecc11983334e5,
    0x953caf2b9dfabaf1,
    0x86d1ad10bd68da7c,
    0x326e72c4e890f51b,
    0x40621a16e58434e8,
    0xf9087b8e4aa5c2ab,
    0x1404df913dab9351,
    0xd02b3d297d82606b,
    0x4665e48dbdac7283,
    0xdf6bdd91b258c6fc,
    0x80b04de14b0222c0,
    0x4b45edcc1ede1467,
    0x3050cb0a009f9f02,
    0x39b179a8082dd916,
    0xd5c2226d94dd128d,
    0x4f5c66167105b6ec,
    0x4bd97c22c27ced54,
    0xcaba341b51e285dd,
];
