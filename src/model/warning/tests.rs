use super::MeasurementWarning::{self, *};
use proptest::prelude::*;

/// One of each variant, as today's gpugate writes them.
fn every_variant() -> Vec<MeasurementWarning> {
    vec![
        InvalidTime {
            invalid: 3,
            samples: 10,
            all_zero: false,
        },
        Interrupted {
            samples: 1,
            seconds: 0.0123,
        },
        TooFewSamples {
            samples: 4,
            wanted: 10,
            timeout_s: 1.0,
            rel_stddev: 0.0321,
        },
        NoiseNotReached {
            target: 0.005,
            timeout_s: 5.0,
            rel_stddev: 0.1132,
            samples: 533,
        },
        Noisy {
            rel_stddev: 0.113,
            limit: 0.05,
            on_gpu: true,
        },
        Drift {
            slowdown: 0.339,
            on_gpu: false,
        },
        Spread { ratio: 2.77 },
        Throttled {
            share: 0.25,
            reasons: vec!["hw_thermal_slowdown".into(), "sw_power_cap".into()],
            sm_clock_held_mhz: Some(948.0),
            sm_clock_max_mhz: Some(1114),
        },
        EncodeSteadyFps {
            wall_fps: vec![512.25, f64::NAN],
        },
        EncodeNoProgress,
        NvencEnginesUnknown { sessions: 3 },
        Other {
            text: "SM clock fell to 949 MHz".into(),
        },
    ]
}

/// NaN is not equal to itself: compare what a reader sees and what is stored.
fn same(a: &MeasurementWarning, b: &MeasurementWarning) -> bool {
    a.to_string() == b.to_string()
        && serde_json::to_string(a).unwrap() == serde_json::to_string(b).unwrap()
}

#[test]
fn every_variant_survives_run_json() {
    for w in every_variant() {
        let json = serde_json::to_string(&w).unwrap();
        let back: MeasurementWarning = serde_json::from_str(&json).unwrap();
        assert!(same(&back, &w), "{json} read back as {back:?}");
        // Through the field's reader too, as run.json is read.
        let m: Vec<MeasurementWarning> = super::read(&mut serde_json::Deserializer::from_str(
            &format!("[{json}]"),
        ))
        .unwrap();
        assert!(same(&m[0], &w), "{json}");
    }
}

/// The stored form is stable: tagged by `kind`, the data under names of their own, fractions
/// as fractions, a GPU's causes only when on a GPU.
#[test]
fn the_stored_form_is_tagged_and_carries_the_data() {
    let cases: [(MeasurementWarning, serde_json::Value); 4] = [
        (
            Throttled {
                share: 0.3,
                reasons: vec!["sw_power_cap".into()],
                sm_clock_held_mhz: None,
                sm_clock_max_mhz: None,
            },
            serde_json::json!({"kind": "throttled", "share": 0.3, "reasons": ["sw_power_cap"]}),
        ),
        (
            Noisy {
                rel_stddev: 0.2,
                limit: 0.05,
                on_gpu: false,
            },
            serde_json::json!({"kind": "noisy", "rel_stddev": 0.2, "limit": 0.05}),
        ),
        (
            Drift {
                slowdown: 0.1,
                on_gpu: true,
            },
            serde_json::json!({"kind": "drift", "slowdown": 0.1, "on_gpu": true}),
        ),
        (
            EncodeNoProgress,
            serde_json::json!({"kind": "encode_no_progress"}),
        ),
    ];
    for (w, json) in cases {
        assert_eq!(serde_json::to_value(&w).unwrap(), json, "{w:?}");
    }
}

/// The texts that run.json files of schemas 1 to 3 hold (each line here is from a committed
/// fixture or from what gpugate wrote then) are read into the variant that says them.
#[test]
fn old_texts_are_read_into_their_variant() {
    let other = |t: &str| Other { text: t.into() };
    let cases: Vec<(&str, MeasurementWarning)> = vec![
        (
            "did not reach 0.5% noise within 1.0 s (rel. stddev 11.32% over 533 samples)",
            NoiseNotReached {
                target: 0.005,
                timeout_s: 1.0,
                rel_stddev: 0.1132,
                samples: 533,
            },
        ),
        (
            "noisy: rel. stddev 11.3% (> 5%)",
            Noisy {
                rel_stddev: 0.113,
                limit: 0.05,
                on_gpu: false,
            },
        ),
        (
            "noisy: rel. stddev 11.3% (> 5%): another process on the GPU, clock changes or \
             throttling",
            Noisy {
                rel_stddev: 0.113,
                limit: 0.05,
                on_gpu: true,
            },
        ),
        (
            "slowed down by 33.9% during the measurement",
            Drift {
                slowdown: 0.339,
                on_gpu: false,
            },
        ),
        (
            "slowed down by 7.4% during the measurement (thermal or power throttling?)",
            Drift {
                slowdown: 0.074,
                on_gpu: true,
            },
        ),
        (
            "slowest sample took 2.77× the fastest",
            Spread { ratio: 2.77 },
        ),
        (
            "interrupted after 1 sample(s) in 0.01 s: the run was asked to stop",
            Interrupted {
                samples: 1,
                seconds: 0.01,
            },
        ),
        (
            "took 4 of the 10 samples wanted within 1.0 s (each sample is slow here; rel. \
             stddev 3.21%)",
            TooFewSamples {
                samples: 4,
                wanted: 10,
                timeout_s: 1.0,
                rel_stddev: 0.0321,
            },
        ),
        (
            "invalid device time: 12 of 12 samples took 0 s of device time: a time of zero or \
             less is never a sample (the timer did not count, or nothing ran); no valid \
             sample, so no throughput",
            InvalidTime {
                invalid: 12,
                samples: 12,
                all_zero: true,
            },
        ),
        (
            "invalid device time: 2 of 12 samples took 0 s or less, or not a number of device \
             time: a time of zero or less is never a sample (the timer did not count, or \
             nothing ran); they are left out; the throughput is from the other 10",
            InvalidTime {
                invalid: 2,
                samples: 12,
                all_zero: false,
            },
        ),
        (
            "throttled during 25% of the measurement (hw_thermal_slowdown, sw_power_cap); SM \
             clock held 948 of 1114 MHz",
            Throttled {
                share: 0.25,
                reasons: vec!["hw_thermal_slowdown".into(), "sw_power_cap".into()],
                sm_clock_held_mhz: Some(948.0),
                sm_clock_max_mhz: Some(1114),
            },
        ),
        (
            "throttled during 100% of the measurement (sw_thermal_slowdown)",
            Throttled {
                share: 1.0,
                reasons: vec!["sw_thermal_slowdown".into()],
                sm_clock_held_mhz: None,
                sm_clock_max_mhz: None,
            },
        ),
        (
            "fps while every session was encoding (start-up excluded); over the whole wall \
             time, start-up included: 410.5, 398.0 fps",
            EncodeSteadyFps {
                wall_fps: vec![410.5, 398.0],
            },
        ),
        (
            "ffmpeg reported no progress mid-run: fps over the wall time, start-up included",
            EncodeNoProgress,
        ),
        (
            "NVENC engine count unknown for this GPU: 4 sessions, as for one engine",
            NvencEnginesUnknown { sessions: 4 },
        ),
        // What schema 1 added to every noisy result, host included: kept as it was written.
        (
            "noisy: rel. stddev 11.7% (> 5%): another process, clock changes or throttling",
            other("noisy: rel. stddev 11.7% (> 5%): another process, clock changes or throttling"),
        ),
        // Near misses are never read as a variant that would say something else.
        (
            "noisy: rel. stddev 11.30% (> 5%)",
            other("noisy: rel. stddev 11.30% (> 5%)"),
        ),
        (
            "slowest sample took 2.77× the fastest!",
            other("slowest sample took 2.77× the fastest!"),
        ),
        (
            "interrupted after many sample(s) in 0.01 s: the run was asked to stop",
            other("interrupted after many sample(s) in 0.01 s: the run was asked to stop"),
        ),
        ("", other("")),
    ];
    for (text, want) in cases {
        let got = MeasurementWarning::from_legacy(text);
        assert_eq!(got, want, "{text}");
        assert_eq!(got.to_string(), text);
        // And so when a run.json of schema 3 is read.
        let json = serde_json::to_string(&[text]).unwrap();
        let read: Vec<MeasurementWarning> =
            super::read(&mut serde_json::Deserializer::from_str(&json)).unwrap();
        assert_eq!(read, [want], "{json}");
    }
}

#[test]
fn a_warning_of_the_wrong_shape_is_refused_saying_what_was_expected() {
    for json in [r#"[{"kind": "noisy"}]"#, r#"[{"kind": "sunspots"}]"#, "[3]"] {
        let e = super::read(&mut serde_json::Deserializer::from_str(json)).unwrap_err();
        assert!(!e.to_string().is_empty(), "{json}");
    }
    let e = super::read(&mut serde_json::Deserializer::from_str("[3]")).unwrap_err();
    assert!(e.to_string().contains("a warning"), "{e}");
}

fn rendered_variant() -> impl Strategy<Value = MeasurementWarning> {
    let frac = 0.0..4.0f64;
    prop_oneof![
        (0usize..5000, 1usize..5000, any::<bool>()).prop_map(|(invalid, samples, all_zero)| {
            InvalidTime {
                invalid: invalid.min(samples),
                samples,
                all_zero,
            }
        }),
        (0usize..5000, 0.0..100.0f64)
            .prop_map(|(samples, seconds)| Interrupted { samples, seconds }),
        (0usize..100, 1usize..100, 0.1..60.0f64, frac.clone()).prop_map(|(n, w, t, r)| {
            TooFewSamples {
                samples: n,
                wanted: w,
                timeout_s: t,
                rel_stddev: r,
            }
        }),
        (0.0..0.1f64, 0.1..60.0f64, frac.clone(), 0usize..10_000).prop_map(|(g, t, r, n)| {
            NoiseNotReached {
                target: g,
                timeout_s: t,
                rel_stddev: r,
                samples: n,
            }
        }),
        (frac.clone(), 0.0..1.0f64, any::<bool>()).prop_map(|(r, l, g)| Noisy {
            rel_stddev: r,
            limit: l,
            on_gpu: g
        }),
        (frac.clone(), any::<bool>()).prop_map(|(s, g)| Drift {
            slowdown: s,
            on_gpu: g
        }),
        (1.0..1000.0f64).prop_map(|ratio| Spread { ratio }),
        (
            0.0..1.0f64,
            proptest::collection::vec("[a-z_]{1,20}", 0..4),
            proptest::option::of((0.0..3000.0f64, 0u32..3000))
        )
            .prop_map(|(share, reasons, clock)| Throttled {
                share,
                reasons,
                sm_clock_held_mhz: clock.map(|c| c.0),
                sm_clock_max_mhz: clock.map(|c| c.1),
            }),
        proptest::collection::vec(0.0..5000.0f64, 1..6)
            .prop_map(|wall_fps| EncodeSteadyFps { wall_fps }),
        Just(EncodeNoProgress),
        (0usize..64).prop_map(|sessions| NvencEnginesUnknown { sessions }),
    ]
}

proptest! {
    /// Whatever an older file says, it is read without loss: the warning renders the very text.
    #[test]
    fn any_old_text_renders_as_it_was_written(text in ".{0,120}") {
        prop_assert_eq!(MeasurementWarning::from_legacy(&text).to_string(), text);
    }

    /// Every text today's gpugate would have written as a string is read back as its variant,
    /// never as `Other`.
    #[test]
    fn every_rendered_warning_is_recognised(w in rendered_variant()) {
        let text = w.to_string();
        let back = MeasurementWarning::from_legacy(&text);
        prop_assert!(!matches!(back, Other { .. }), "{} read as Other", text);
        prop_assert_eq!(std::mem::discriminant(&back), std::mem::discriminant(&w));
        prop_assert_eq!(back.to_string(), text);
    }
}
