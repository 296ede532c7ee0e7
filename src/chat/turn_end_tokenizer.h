// A tokenizer that also ends generation at a chat format's end-of-turn tokens.
// The vocabulary's own end-of-generation set covers Llama 4 (<|eot|>) but not,
// say, ChatML's <|im_end|> or Llama 3's <|eot_id|>; generate() stops at
// Tokenizer::is_eog, so wrapping the tokenizer is how a chat format adds them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace scout::chat {

class TurnEndTokenizer : public tokenizer::Tokenizer {
 public:
  TurnEndTokenizer(std::unique_ptr<tokenizer::Tokenizer> base, std::vector<int32_t> extra_eog)
      : base_(std::move(base)), extra_eog_(std::move(extra_eog)) {}

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override {
    return base_->encode(text, add_bos, parse_special);
  }
  std::string token_bytes(int32_t id, bool render_specials = true) const override {
    return base_->token_bytes(id, render_specials);
  }
  size_t n_vocab() const override { return base_->n_vocab(); }
  int32_t bos() const override { return base_->bos(); }
  bool add_bos() const override { return base_->add_bos(); }
  bool is_eog(int32_t id) const override;
  std::string token_text(int32_t id) const override { return base_->token_text(id); }

 private:
  std::unique_ptr<tokenizer::Tokenizer> base_;
  std::vector<int32_t> extra_eog_;
};

// The special token `text` stands for in this vocabulary, or -1 when the text
// is not a single special token there.
int32_t find_special_token(const tokenizer::Tokenizer& tok, std::string_view text);

// `tok`, made to stop also at the template's end-of-turn tokens that the
// vocabulary has and does not already treat as end of generation.
std::unique_ptr<tokenizer::Tokenizer> stop_at_turn_end(std::unique_ptr<tokenizer::Tokenizer> tok,
                                                       const ChatTemplate& tmpl);

}  // namespace scout::chat
