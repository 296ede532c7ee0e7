// A conversation's turns on one engine::Session, reusing its KV cache: each
// turn evaluates only what the conversation added since the last one.
//
// The session holds the tokens that were really evaluated, the reply tokens
// as the model sampled them, not a re-tokenization of the reply text (the two
// often differ, and re-tokenizing would make every turn look like a change).
// A new turn that extends the held conversation (same system prompt, same
// earlier messages) evaluates the template's close of the last reply, which
// generate() sampled but did not evaluate (e.g. <|eot|>), then the new
// messages and the assistant header. Anything else (an edited history, /load,
// a context overflow) resets the session and evaluates the rendered
// conversation from the start. When the conversation no longer fits, the
// oldest exchanges are dropped (the system prompt stays) with a warning.
//
// Messages may hold images (Message::images, a <__media__> marker each in
// the text): their rows are evaluated in place, one position per row, and
// stay in the session across turns like any other tokens. Each image is
// encoded once per session (kept by its path).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "chat/conversation.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "tokenizer/tokenizer.h"
#include "vision/image_embedding.h"
#include "vision/media_prompt.h"

namespace scout::chat {

struct TurnStats {
  size_t reused = 0;          // tokens kept in the session from earlier turns
  size_t evaluated = 0;       // prompt tokens evaluated for this turn
  bool full_prompt = false;   // the whole conversation was evaluated from the start
  size_t dropped = 0;         // messages dropped to fit the context
};

// What a chat needs to take images: the projector (not owned) and the layout.
struct ChatVision {
  const vision::VisionEncoder* encoder = nullptr;
  vision::VisionLayout layout = vision::VisionLayout::LlamaCpp;
};

class ChatSession {
 public:
  ChatSession(engine::Session& session, const tokenizer::Tokenizer& tok, ChatTemplate tmpl, ChatVision vision = {})
      : session_(session), tok_(tok), tmpl_(tmpl), vision_(vision) {}

  // Generates the assistant's reply to `conv`, whose last message is the
  // user's, and appends it to conv (trimmed). May drop conv's oldest
  // exchanges to make room. Throws std::runtime_error when the last message
  // cannot fit the context (conv unchanged then).
  engine::GenerateResult respond(Conversation& conv, const engine::GenerateOptions& opts,
                                 const std::function<void(std::string_view)>& on_text = {});

  // Forgets everything the session holds.
  void reset();

  // Saves the session's KV cache to path (engine/kv_snapshot.h) when it holds
  // exactly `conv` and no image rows (false otherwise: nothing written). Tagged with conv, so
  // it is only ever restored for the same conversation.
  bool save_kv(const std::string& path, const Conversation& conv) const;
  // Restores a cache save_kv wrote for `conv`: the next turn then evaluates
  // only the new message. Throws engine::SnapshotError (the session reset)
  // when the file is unusable or stands for another conversation.
  void load_kv(const std::string& path, const Conversation& conv);

  const TurnStats& last_turn() const { return stats_; }
  // One entry per position in the session: the token, or -1 for an image row.
  const std::vector<int32_t>& held_tokens() const { return held_; }
  const ChatTemplate& chat_template() const { return tmpl_; }

 private:
  // What takes the session from what it holds to `conv` plus the assistant
  // header, when conv extends the held conversation.
  std::optional<vision::MediaPrompt> extension(const Conversation& conv);
  // Renders and encodes the whole conversation, dropping its oldest
  // exchanges while it does not leave `room` positions free.
  vision::MediaPrompt fit_whole(Conversation& conv, uint64_t room);
  // `text` (rendered, markers in it) with the images of conv's messages from `first` on.
  vision::MediaPrompt media_prompt(std::string_view text, const Conversation& conv, size_t first, bool starts_prompt);
  // An image's rows, encoded on first use. Throws (naming the image) when it
  // cannot be read or the chat has no projector.
  const vision::EncodedImage& image(const std::string& path);

  engine::Session& session_;
  const tokenizer::Tokenizer& tok_;
  ChatTemplate tmpl_;
  ChatVision vision_;
  std::map<std::string, vision::EncodedImage> images_;  // by path
  std::vector<int32_t> held_;               // the positions in the session, in order (-1: an image row)
  std::optional<Conversation> held_conv_;   // the conversation they stand for
  TurnStats stats_;
};

}  // namespace scout::chat
