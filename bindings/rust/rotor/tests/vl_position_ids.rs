//! rotor 1.3's Qwen-VL position ids through the safe API: every case of
//! tests/golden/vl_position_ids.txt (transformers' own get_rope_index, both rules), the slice
//! checks made before the C call, the row stride, and the library's errors.
use rotor::*;

struct Case {
    name: String,
    model: VlModel,
    rule: VlRule,
    merge: u32,
    tps: u32,
    kinds: Vec<u8>,
    images: Vec<[u32; 3]>,
    videos: Vec<[u32; 3]>,
    spg: Option<Vec<f32>>,
    ids: [Vec<i32>; 3],
    next: i32,
}

fn grids(words: &[&str]) -> Vec<[u32; 3]> {
    let values: Vec<u32> = words.iter().map(|w| w.parse().unwrap()).collect();
    values.chunks(3).map(|c| [c[0], c[1], c[2]]).collect()
}

fn read_golden() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../tests/golden/vl_position_ids.txt");
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(_) => return Vec::new(), // a packaged crate without the repository around it
    };
    let mut cases = Vec::new();
    let mut case: Option<Case> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let rest = &words[1..];
        if words[0] == "case" {
            case = Some(Case {
                name: rest[0].to_string(),
                model: match rest[1] {
                    "qwen2_vl" => VlModel::Qwen2Vl,
                    "qwen2_5_vl" => VlModel::Qwen25Vl,
                    _ => VlModel::Qwen3Vl,
                },
                rule: if rest[2] == "original" { VlRule::Original } else { VlRule::Transformers5 },
                merge: 0,
                tps: 0,
                kinds: Vec::new(),
                images: Vec::new(),
                videos: Vec::new(),
                spg: None,
                ids: [Vec::new(), Vec::new(), Vec::new()],
                next: -1,
            });
            continue;
        }
        let c = case.as_mut().unwrap();
        match words[0] {
            "merge" => {
                c.merge = rest[0].parse().unwrap();
                c.tps = rest[2].parse().unwrap();
            }
            "kinds" => {
                for run in rest {
                    let (kind, count) = run.split_once('x').unwrap();
                    let (kind, count): (u8, usize) = (kind.parse().unwrap(), count.parse().unwrap());
                    c.kinds.extend(std::iter::repeat(kind).take(count));
                }
            }
            "images" => c.images = grids(rest),
            "videos" => c.videos = grids(rest),
            "spg" => {
                if rest != ["none"] {
                    c.spg = Some(rest.iter().map(|b| f32::from_bits(u32::from_str_radix(b, 16).unwrap())).collect());
                }
            }
            "t" | "h" | "w" => {
                let axis = match words[0] { "t" => 0, "h" => 1, _ => 2 };
                c.ids[axis] = rest.iter().map(|v| v.parse().unwrap()).collect();
            }
            "next" => c.next = rest[0].parse().unwrap(),
            "end" => cases.push(case.take().unwrap()),
            _ => {}
        }
    }
    cases
}

fn prompt(c: &Case) -> VlPrompt<'_> {
    VlPrompt {
        kinds: &c.kinds,
        image_grids: &c.images,
        video_grids: &c.videos,
        seconds_per_grid: c.spg.as_deref(),
        tokens_per_second: c.tps,
        spatial_merge_size: c.merge,
    }
}

#[test]
fn golden_from_transformers_bit_for_bit() {
    let cases = read_golden();
    if cases.is_empty() {
        eprintln!("tests/golden/vl_position_ids.txt not found: skipped");
        return;
    }
    assert!(cases.len() >= 130);
    for c in &cases {
        let (ids, next) = vl_position_ids(c.model, c.rule, &prompt(c)).unwrap_or_else(|e| panic!("{}: {}", c.name, e));
        let n = c.kinds.len();
        for axis in 0..3 {
            assert_eq!(&ids[axis * n..(axis + 1) * n], &c.ids[axis][..], "{} {:?} {:?} axis {}", c.name, c.model,
                       c.rule, axis);
        }
        assert_eq!(next, c.next, "{}", c.name);
    }
}

#[test]
fn slices_are_checked_before_the_call_and_errors_write_nothing() {
    let kinds = [VlKind::Text as u8, 1, 1, 1, 1, 0];
    let images = [[1u32, 4, 4]];
    let p = VlPrompt { kinds: &kinds, image_grids: &images, video_grids: &[], seconds_per_grid: None,
                       tokens_per_second: 2, spatial_merge_size: 2 };
    // A [3][batch 2][seq 7] array: the entry's first token at index 1 (left padding of 1).
    let mut ids = vec![-1i32; 3 * 2 * 7];
    let next = vl_position_ids_into(VlModel::Qwen2Vl, VlRule::Transformers5, &p, &mut ids[1..], 14).unwrap();
    assert_eq!(next, 4);
    assert_eq!(&ids[0..7], &[-1, 0, 1, 1, 1, 1, 3]);
    assert_eq!(&ids[7..14], &[-1; 7]);
    assert_eq!(&ids[14..21], &[-1, 0, 1, 1, 2, 2, 3]);
    assert_eq!(&ids[28..35], &[-1, 0, 1, 2, 1, 2, 3]);

    let mut short = vec![7i32; 3 * 6 - 1];
    let err = vl_position_ids_into(VlModel::Qwen2Vl, VlRule::Transformers5, &p, &mut short, 6).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(short.iter().all(|&v| v == 7));
    assert!(vl_position_ids_into(VlModel::Qwen2Vl, VlRule::Transformers5, &p, &mut vec![0; 18], 5).is_err());
    let spg = [1.0f32];
    let bad_spg = VlPrompt { seconds_per_grid: Some(&spg), ..p };
    assert_eq!(vl_position_ids(VlModel::Qwen25Vl, VlRule::Original, &bad_spg).unwrap_err().kind(),
               ErrorKind::InvalidArgument);

    // The library's own checks: a grid that does not match its run, with its reason.
    let wrong = [[1u32, 4, 6]];
    let mut out = vec![9i32; 18];
    let err = vl_position_ids_into(VlModel::Qwen3Vl, VlRule::Transformers5,
                                   &VlPrompt { image_grids: &wrong, ..p }, &mut out, 6).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("run"), "{}", err.message());
    assert!(out.iter().all(|&v| v == 9));
    let merge0 = VlPrompt { spatial_merge_size: 0, ..p };
    assert!(vl_position_ids(VlModel::Qwen2Vl, VlRule::Original, &merge0).is_err());
}

#[test]
fn ids_rotate_like_one_d_rope_on_text_and_decode() {
    // Text-only prompt: ids are 0..n on every axis; the next position is n.
    let kinds = [0u8; 5];
    let p = VlPrompt { kinds: &kinds, image_grids: &[], video_grids: &[], seconds_per_grid: None,
                       tokens_per_second: 2, spatial_merge_size: 2 };
    let (ids, next) = vl_position_ids(VlModel::Qwen25Vl, VlRule::Transformers5, &p).unwrap();
    assert_eq!(ids, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    assert_eq!(next, 5);
}
