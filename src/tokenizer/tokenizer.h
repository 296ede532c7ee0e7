// The tokenizer a model file asks for, behind one interface: byte-level BPE
// (tokenizer.ggml.model = "gpt2": Llama 3 and 4) or SentencePiece ("llama":
// Llama 1/2, Mixtral). Callers never care which.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace scout::gguf {
class GgufFile;
}

namespace scout::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Reads the vocabulary of a model file; throws std::runtime_error naming
  // the file and the problem for a missing, unknown or broken vocabulary.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::GgufFile& file);

  // parse_special: the text of control tokens ("<|eot|>", "<s>") becomes those
  // tokens; otherwise it is tokenized like any other text.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const = 0;
  // The bytes one token stands for; a control token gives its text, or
  // nothing when render_specials is false. Throws std::out_of_range for a bad id.
  virtual std::string token_bytes(int32_t id, bool render_specials = true) const = 0;

  virtual size_t n_vocab() const = 0;
  virtual int32_t bos() const = 0;
  virtual bool add_bos() const = 0;        // tokenizer.ggml.add_bos_token or the model's default
  virtual bool is_eog(int32_t id) const = 0;  // ends generation: EOS, <|eot|>, <|eom|>, <|end_of_text|>
  virtual std::string token_text(int32_t id) const = 0;  // as stored in the file, for display

  std::string decode(std::span<const int32_t> ids, bool render_specials = true) const;
};

// Whether the file's tokenizer prepends BOS to a prompt: tokenizer.ggml.add_bos_token
// when present, else the tokenizer's default (SentencePiece: yes; BPE: Llama 3 and 4 pre-tokenizers).
// What Tokenizer::add_bos() says, without loading the vocabulary.
bool file_adds_bos(const gguf::GgufFile& file);

// Turns a stream of token ids into text that is always whole UTF-8 characters:
// bytes of a character split across tokens are held back until it completes.
// Bytes that can never start or continue a character are passed on as they are.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok, bool render_specials = true) : tok_(tok), render_specials_(render_specials) {}
  std::string push(int32_t id);
  std::string flush();  // whatever is held back at the end

 private:
  const Tokenizer& tok_;
  bool render_specials_;
  std::string pending_;
};

}  // namespace scout::tokenizer
