// Model loading: tensors bound in place, and clear errors for a missing
// tensor, a wrong shape, or a type scout cannot compute with.
#include "models/model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "gguf/writer.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"
#include "test_util.h"

namespace scout {
namespace {

using ::testing::HasSubstr;

struct TensorEdit {
  std::string name;
  TensorType type;
  std::vector<uint64_t> ne;
  bool keep_data = true;  // false: a hole (the type changed size)
};

// Copies a GGUF file, letting `edit` rename, reshape or retype tensors, and
// adding metadata `extra`.
void rewrite(const std::string& src, const std::string& dst, const std::function<void(TensorEdit&)>& edit,
             const std::vector<std::pair<std::string, gguf::Value>>& extra = {}) {
  const gguf::GgufFile in = gguf::GgufFile::open(src);
  gguf::GgufWriter w(in.alignment());
  for (const auto& [k, v] : in.metadata())
    if (k != "general.alignment") w.set(k, v);
  for (const auto& [k, v] : extra) w.set(k, v);
  for (const gguf::TensorInfo& t : in.tensors()) {
    TensorEdit e{t.name, t.type, std::vector<uint64_t>(t.ne.begin(), t.ne.begin() + t.n_dims)};
    edit(e);
    if (e.keep_data)
      w.add_tensor(e.name, e.type, e.ne, std::span<const uint8_t>(t.data, t.nbytes));
    else
      w.add_tensor(e.name, e.type, e.ne, gguf::GgufWriter::Fill{});
  }
  w.write(dst);
}

class ModelLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    const nlohmann::json cfg = {{"n_layer", 2}, {"d_model", 256}, {"n_head", 4}, {"n_head_kv", 2},
                                {"n_expert", 4}, {"expert_ff", 256}, {"dense_ff", 256},
                                {"context_length", 256}, {"weight_type", "f32"}, {"vocab", {{"builtin", true}}}};
    maker::make_model(maker::parse_model_config(cfg), 1, path_);
  }
  std::string message_of(const std::function<void(TensorEdit&)>& edit) {
    const std::string bad = dir_.path("bad.gguf");
    rewrite(path_, bad, edit);
    try {
      Model::load(bad);
    } catch (const gguf::GgufError& e) {
      return e.what();
    }
    return "(no error)";
  }
  test::TempDir dir_;
  std::string path_ = dir_.path("m.gguf");
};

TEST_F(ModelLoad, BindsWeightsInPlace) {
  const auto m = Model::load(path_);
  const gguf::TensorInfo* q = m->file().find_tensor("blk.1.attn_q.weight");
  EXPECT_EQ(m->weights().layers[1].wq.data, q->data);  // a view into the mapping, not a copy
  EXPECT_EQ(m->weights().layers[1].wq.n_in, 256);
  EXPECT_EQ(m->weights().layers[1].wq.n_out, 256);
  EXPECT_FALSE(m->weights().tied_output);
  EXPECT_EQ(m->weights().layers[0].experts.gate.n_out, 4 * 256);
}

TEST_F(ModelLoad, MissingTensor) {
  const std::string msg = message_of([](TensorEdit& e) {
    if (e.name == "blk.1.attn_q.weight") e.name = "blk.1.attn_x.weight";
  });
  EXPECT_THAT(msg, HasSubstr("bad.gguf: missing tensor blk.1.attn_q.weight"));
}

TEST_F(ModelLoad, WrongShape) {
  const std::string msg = message_of([](TensorEdit& e) {
    if (e.name == "blk.0.attn_k.weight") e.ne = {128, 256};
  });
  EXPECT_THAT(msg, HasSubstr("tensor blk.0.attn_k.weight has shape [128, 256], expected [256, 128]"));
}

TEST_F(ModelLoad, UnsupportedType) {
  const std::string msg = message_of([](TensorEdit& e) {
    if (e.name == "blk.0.ffn_up_exps.weight") {
      e.type = TensorType::IQ2_XXS;
      e.keep_data = false;
    }
  });
  EXPECT_THAT(msg, HasSubstr("unsupported tensor type iq2_xxs in tensor blk.0.ffn_up_exps.weight"));
}

TEST_F(ModelLoad, RopeScalingOtherThanLinearIsRefused) {
  const std::string yarn = dir_.path("yarn.gguf");
  rewrite(path_, yarn, [](TensorEdit&) {},
          {{"llama4.rope.scaling.type", gguf::Value::string("yarn")}, {"llama4.rope.scaling.factor", gguf::Value::f32(4)}});
  EXPECT_THAT([&] { Model::load(yarn); },
              ::testing::ThrowsMessage<gguf::GgufError>(HasSubstr("unsupported RoPE scaling 'yarn'")));
  const std::string linear = dir_.path("linear.gguf");
  rewrite(path_, linear, [](TensorEdit&) {},
          {{"llama4.rope.scaling.type", gguf::Value::string("linear")}, {"llama4.rope.scaling.factor", gguf::Value::f32(4)}});
  EXPECT_NO_THROW(Model::load(linear));
}

TEST_F(ModelLoad, TiedOutputUsesTheEmbedding) {
  const std::string tied = dir_.path("tied.gguf");
  rewrite(path_, tied, [](TensorEdit& e) {
    if (e.name == "output.weight") e.name = "unused.weight";
  });
  const auto m = Model::load(tied);
  EXPECT_TRUE(m->weights().tied_output);
  EXPECT_EQ(m->weights().output.data, m->weights().token_embd.data);
}

}  // namespace
}  // namespace scout
