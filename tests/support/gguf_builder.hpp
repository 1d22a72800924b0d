// A tiny GGUF writer for the tests (format: src/model/gguf_image.hpp), written from the format's
// description so that the reader is checked against an independent writer; the Python tests
// use llama.cpp's own writer (the gguf package). It records where each field lies, so tests
// can corrupt exactly one of them.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rotor_test {

class GgufBuilder {
 public:
  enum Type : uint32_t { U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12 };

  // Where one key-value pair or tensor info was written.
  struct KvAt {
    std::string key;
    size_t key_length, type, value;  // byte offsets of the key's length, the type, the value
  };
  struct TensorAt {
    std::string name;
    size_t name_length, dims, extents, type, offset;  // byte offsets of those fields
    size_t data;                                       // byte offset of the data
  };

  explicit GgufBuilder(const std::string &arch) : arch_(arch) { str("general.architecture", arch); }

  // "{arch}." + suffix.
  std::string key(const std::string &suffix) const { return arch_ + "." + suffix; }

  GgufBuilder &u32(const std::string &k, uint32_t v) { return scalar(k, U32, le(v, 4)); }
  GgufBuilder &i32(const std::string &k, int32_t v) { return scalar(k, I32, le(uint32_t(v), 4)); }
  GgufBuilder &u64(const std::string &k, uint64_t v) { return scalar(k, U64, le(v, 8)); }
  GgufBuilder &f32(const std::string &k, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return scalar(k, F32, le(bits, 4));
  }
  GgufBuilder &f64(const std::string &k, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return scalar(k, F64, le(bits, 8));
  }
  GgufBuilder &boolean(const std::string &k, bool v) { return scalar(k, BOOL, {uint8_t(v ? 1 : 0)}); }
  GgufBuilder &str(const std::string &k, const std::string &v) {
    std::vector<uint8_t> bytes = le(v.size(), 8);
    bytes.insert(bytes.end(), v.begin(), v.end());
    return scalar(k, STRING, bytes);
  }
  GgufBuilder &i32_array(const std::string &k, const std::vector<int32_t> &values) {
    std::vector<uint8_t> bytes = le(I32, 4);
    append(bytes, le(values.size(), 8));
    for (int32_t v : values) append(bytes, le(uint32_t(v), 4));
    return scalar(k, ARRAY, bytes);
  }
  GgufBuilder &str_array(const std::string &k, const std::vector<std::string> &values) {
    std::vector<uint8_t> bytes = le(STRING, 4);
    append(bytes, le(values.size(), 8));
    for (const std::string &v : values) {
      append(bytes, le(v.size(), 8));
      bytes.insert(bytes.end(), v.begin(), v.end());
    }
    return scalar(k, ARRAY, bytes);
  }
  // A pair with any type and raw value bytes (for wrong types).
  GgufBuilder &raw(const std::string &k, uint32_t type, const std::vector<uint8_t> &value) { return scalar(k, type, value); }

  // Removes every pair whose key is k.
  GgufBuilder &drop(const std::string &k) {
    for (size_t i = 0; i < kvs_.size();)
      if (kvs_[i].key == k) kvs_.erase(kvs_.begin() + long(i)); else ++i;
    return *this;
  }

  GgufBuilder &tensor_f32(const std::string &name, const std::vector<float> &values) {
    std::vector<uint8_t> bytes(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return tensor(name, 0, {uint64_t(values.size())}, bytes);
  }
  // Any ggml type, extents and data bytes.
  GgufBuilder &tensor(const std::string &name, uint32_t ggml_type, const std::vector<uint64_t> &extents,
                      const std::vector<uint8_t> &data) {
    tensors_.push_back({name, ggml_type, extents, data});
    return *this;
  }

  // The image: version, alignment (written as general.alignment when not 32).
  std::vector<uint8_t> build(uint32_t version = 3, uint32_t alignment = 32) {
    kv_at.clear();
    tensor_at.clear();
    std::vector<Kv> kvs = kvs_;
    if (alignment != 32) kvs.push_back({"general.alignment", U32, le(alignment, 4)});
    if (alignment == 0) alignment = 32;  // written as 0 (for a test of refusal), laid out at 32
    std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
    append(out, le(version, 4));
    append(out, le(tensors_.size(), 8));
    append(out, le(kvs.size(), 8));
    for (const Kv &kv : kvs) {
      KvAt at{kv.key, out.size(), 0, 0};
      append(out, le(kv.key.size(), 8));
      out.insert(out.end(), kv.key.begin(), kv.key.end());
      at.type = out.size();
      append(out, le(kv.type, 4));
      at.value = out.size();
      append(out, kv.value);
      kv_at.push_back(at);
    }
    uint64_t data_offset = 0;
    std::vector<uint64_t> offsets;
    for (const Tensor &t : tensors_) {
      TensorAt at{t.name, out.size(), 0, 0, 0, 0, 0};
      append(out, le(t.name.size(), 8));
      out.insert(out.end(), t.name.begin(), t.name.end());
      at.dims = out.size();
      append(out, le(t.extents.size(), 4));
      at.extents = out.size();
      for (uint64_t e : t.extents) append(out, le(e, 8));
      at.type = out.size();
      append(out, le(t.type, 4));
      at.offset = out.size();
      append(out, le(data_offset, 8));
      offsets.push_back(data_offset);
      data_offset += (t.data.size() + alignment - 1) / alignment * alignment;
      tensor_at.push_back(at);
    }
    if (!tensors_.empty()) {
      out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
      const size_t data_begin = out.size();
      for (size_t i = 0; i < tensors_.size(); ++i) {
        out.resize(data_begin + size_t(offsets[i]), 0);  // padding after the previous tensor
        tensor_at[i].data = out.size();
        append(out, tensors_[i].data);
      }
    }
    return out;
  }

  const KvAt &kv(const std::string &k) const {
    for (const KvAt &at : kv_at)
      if (at.key == k) return at;
    static const KvAt none{};
    return none;
  }

  // Little-endian bytes of v.
  static std::vector<uint8_t> le(uint64_t v, unsigned bytes) {
    std::vector<uint8_t> out(bytes);
    for (unsigned i = 0; i < bytes; ++i) out[i] = uint8_t(v >> (8 * i));
    return out;
  }
  static void put(std::vector<uint8_t> &image, size_t at, uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; ++i) image[at + i] = uint8_t(v >> (8 * i));
  }

  std::vector<KvAt> kv_at;
  std::vector<TensorAt> tensor_at;

 private:
  struct Kv {
    std::string key;
    uint32_t type;
    std::vector<uint8_t> value;
  };
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<uint64_t> extents;
    std::vector<uint8_t> data;
  };
  GgufBuilder &scalar(const std::string &k, uint32_t type, const std::vector<uint8_t> &value) {
    kvs_.push_back({k, type, value});
    return *this;
  }
  static void append(std::vector<uint8_t> &out, const std::vector<uint8_t> &bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
  }

  std::string arch_;
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace rotor_test
