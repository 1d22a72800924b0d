//! Config::from_gguf over small GGUF files written here (a writer of the format's own, metadata
//! and small tensors only), compared field by field with the presets of the same models.
use rotor::*;

/// A GGUF v3 writer: keys (u32, f32, string) and f32 tensors, alignment 32.
struct Writer {
    kvs: Vec<u8>,
    kv_count: u64,
    tensors: Vec<(String, Vec<f32>)>,
}

impl Writer {
    fn new(arch: &str) -> Writer {
        let mut w = Writer { kvs: Vec::new(), kv_count: 0, tensors: Vec::new() };
        w.string("general.architecture", arch);
        w
    }
    fn key(&mut self, key: &str, kind: u32) {
        self.kvs.extend_from_slice(&(key.len() as u64).to_le_bytes());
        self.kvs.extend_from_slice(key.as_bytes());
        self.kvs.extend_from_slice(&kind.to_le_bytes());
        self.kv_count += 1;
    }
    fn u32(&mut self, key: &str, v: u32) -> &mut Writer {
        self.key(key, 4);
        self.kvs.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn f32(&mut self, key: &str, v: f32) -> &mut Writer {
        self.key(key, 6);
        self.kvs.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn string(&mut self, key: &str, v: &str) -> &mut Writer {
        self.key(key, 8);
        self.kvs.extend_from_slice(&(v.len() as u64).to_le_bytes());
        self.kvs.extend_from_slice(v.as_bytes());
        self
    }
    fn tensor(&mut self, name: &str, values: &[f32]) -> &mut Writer {
        self.tensors.push((name.to_string(), values.to_vec()));
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.kv_count.to_le_bytes());
        out.extend_from_slice(&self.kvs);
        let mut offset = 0u64;
        for (name, values) in &self.tensors {
            out.extend_from_slice(&(name.len() as u64).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&1u32.to_le_bytes()); // dims
            out.extend_from_slice(&(values.len() as u64).to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes()); // f32
            out.extend_from_slice(&offset.to_le_bytes());
            offset += ((values.len() * 4 + 31) / 32 * 32) as u64;
        }
        if !self.tensors.is_empty() {
            out.resize((out.len() + 31) / 32 * 32, 0);
            let start = out.len();
            let mut offset = 0;
            for (_, values) in &self.tensors {
                out.resize(start + offset, 0);
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                offset += (values.len() * 4 + 31) / 32 * 32;
            }
        }
        out
    }
    fn file(&self, name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("rotor-test-{}-{}.gguf", std::process::id(), name));
        std::fs::write(&path, self.bytes()).unwrap();
        path
    }
}

fn same(got: &Config, preset: &str) {
    let want = Config::preset(preset).unwrap();
    let (g, w) = (got.raw(), want.raw());
    assert_eq!(g.rotary_dim, w.rotary_dim, "{preset}");
    assert_eq!(g.pairing, w.pairing, "{preset}");
    assert_eq!(g.base, w.base, "{preset}");
    assert_eq!(g.max_len, w.max_len, "{preset}");
    assert_eq!(g.scaling, w.scaling, "{preset}");
    assert_eq!(g.factor, w.factor, "{preset}");
    assert_eq!(g.original_max_len, w.original_max_len, "{preset}");
    assert_eq!(g.attention_factor, w.attention_factor, "{preset}");
    assert_eq!(g.layout, w.layout, "{preset}");
    assert_eq!(g.mrope_section, w.mrope_section, "{preset}");
    assert_eq!(got.long_factor(), want.long_factor(), "{preset}");
    assert_eq!(got.short_factor(), want.short_factor(), "{preset}");
}

#[test]
fn qwen2_and_phi3_match_their_presets() {
    let mut qwen2 = Writer::new("qwen2");
    qwen2.u32("qwen2.context_length", 32768).u32("qwen2.embedding_length", 3584).u32("qwen2.block_count", 28);
    qwen2.u32("qwen2.attention.head_count", 28).f32("qwen2.rope.freq_base", 1e6);
    let path = qwen2.file("qwen2");
    same(&Config::from_gguf(&path, 0).unwrap(), "qwen2-7b");
    assert_eq!(gguf_layers(&path).unwrap(), 28);
    std::fs::remove_file(&path).unwrap();

    let phi3_preset = Config::preset("phi-3-mini-128k").unwrap();
    let mut phi3 = Writer::new("phi3");
    phi3.u32("phi3.context_length", 131072).u32("phi3.rope.scaling.original_context_length", 4096);
    phi3.u32("phi3.block_count", 32).u32("phi3.rope.dimension_count", 96).f32("phi3.rope.freq_base", 10000.0);
    phi3.f32("phi3.rope.scaling.attn_factor", (1.0 + (32.0f64).ln() / (4096.0f64).ln()).sqrt() as f32);
    phi3.tensor("rope_factors_long.weight", phi3_preset.long_factor().unwrap());
    phi3.tensor("rope_factors_short.weight", phi3_preset.short_factor().unwrap());
    let path = phi3.file("phi3");
    let config = Config::from_gguf(&path, 0).unwrap();
    std::fs::remove_file(&path).unwrap(); // the factors were copied: the file may go
    same(&config, "phi-3-mini-128k");
    Table::create(&config.max_len(8192)).unwrap();
}

#[test]
fn layers_without_rotary_and_malformed_files() {
    let mut cohere2 = Writer::new("cohere2");
    cohere2.u32("cohere2.context_length", 8192).u32("cohere2.block_count", 32).u32("cohere2.rope.dimension_count", 128);
    cohere2.f32("cohere2.rope.freq_base", 50000.0).u32("cohere2.attention.sliding_window", 4096);
    let image = cohere2.bytes();
    same(&Config::from_gguf_bytes(&image, 0).unwrap(), "command-r7b");
    let err = Config::from_gguf_bytes(&image, 3).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRotary);
    assert_eq!(err, Error::NoRotary);
    let err = Config::from_gguf_bytes(&image, 32).unwrap_err();
    assert!(err.message().contains("block_count"), "{}", err.message());
    for cut in 0..image.len() {
        assert_eq!(Config::from_gguf_bytes(&image[..cut], 0).unwrap_err(), Error::InvalidArgument, "cut at {cut}");
    }
    assert_eq!(gguf_layers_bytes(b"GGUF").unwrap_err(), Error::InvalidArgument);
    assert!(Config::from_gguf("/nonexistent/model.gguf", 0).is_err());
}
