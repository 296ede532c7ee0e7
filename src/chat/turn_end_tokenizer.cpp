#include "chat/turn_end_tokenizer.h"

#include <algorithm>

namespace scout::chat {

bool TurnEndTokenizer::is_eog(int32_t id) const {
  return base_->is_eog(id) || std::find(extra_eog_.begin(), extra_eog_.end(), id) != extra_eog_.end();
}

int32_t find_special_token(const tokenizer::Tokenizer& tok, std::string_view text) {
  const std::vector<int32_t> ids = tok.encode(text, /*add_bos=*/false, /*parse_special=*/true);
  // A special token renders as nothing when specials are hidden; ordinary
  // text that happens to be one token does not.
  if (ids.size() != 1 || !tok.token_bytes(ids[0], /*render_specials=*/false).empty()) return -1;
  return ids[0];
}

std::unique_ptr<tokenizer::Tokenizer> stop_at_turn_end(std::unique_ptr<tokenizer::Tokenizer> tok,
                                                       const ChatTemplate& tmpl) {
  std::vector<int32_t> extra;
  for (const std::string& text : tmpl.end_of_turn_texts()) {
    const int32_t id = find_special_token(*tok, text);
    if (id >= 0 && !tok->is_eog(id)) extra.push_back(id);
  }
  if (extra.empty()) return tok;
  return std::make_unique<TurnEndTokenizer>(std::move(tok), std::move(extra));
}

}  // namespace scout::chat
