// The BPE tokenizer on small hand-made vocabularies, where every expected id
// follows from the merge list by hand: merge order, ties, special tokens,
// decoding, streaming, and the errors a bad vocabulary gives.
#include "tokenizer/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "gguf/reader.h"
#include "tokenizer/gpt2_bytes.h"

namespace scout::tokenizer {
namespace {

// 256 byte tokens (id = byte), then the merges' results, then specials.
VocabSource small_source(const std::vector<std::string>& merges, std::string pre = "gpt2") {
  VocabSource src;
  src.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) src.tokens.push_back(gpt2_encode_bytes(std::string(1, static_cast<char>(b))));
  for (const std::string& m : merges) {
    const size_t sp = m.find(' ', 1);
    src.tokens.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  src.token_types.assign(src.tokens.size(), static_cast<int32_t>(TokenType::Normal));
  src.merges = merges;
  for (const char* s : {"<|begin_of_text|>", "<|eot|>", "<|eot|>_long", "<|eom|>", "<|end_of_text|>"}) {
    src.tokens.push_back(s);
    src.token_types.push_back(static_cast<int32_t>(TokenType::Control));
  }
  src.tokens.push_back("<tool>");
  src.token_types.push_back(static_cast<int32_t>(TokenType::UserDefined));
  return src;
}

TokenId id_of(const Vocab& v, std::string_view text) {
  const TokenId id = v.find_text(text);
  EXPECT_NE(id, kNoToken) << text;
  return id;
}

TEST(BpeTokenizer, MergesInRankOrder) {
  const BpeTokenizer tok(Vocab::from_source(small_source({"l l", "h e", "he ll", "hell o"})));
  const Vocab& v = tok.vocab();
  // h e l l o x: ll (rank 0) first, then he, hell, hello; x stays a byte.
  EXPECT_EQ(tok.encode("hellox", false, false), (std::vector<TokenId>{id_of(v, "hello"), 'x'}));
  // Without "o" next to it the chain stops at "hell".
  EXPECT_EQ(tok.encode("hellz", false, false), (std::vector<TokenId>{id_of(v, "hell"), 'z'}));
  // "lle": ll wins; "e" has nothing to merge with.
  EXPECT_EQ(tok.encode("lle", false, false), (std::vector<TokenId>{id_of(v, "ll"), 'e'}));
}

TEST(BpeTokenizer, LowerRankWinsOverPosition) {
  // "abc": (b,c) has the lower rank, so "a"+"bc" even though (a,b) is leftmost.
  const BpeTokenizer tok(Vocab::from_source(small_source({"b c", "a b", "a bc"})));
  const Vocab& v = tok.vocab();
  EXPECT_EQ(tok.encode("abc", false, false), (std::vector<TokenId>{id_of(v, "abc")}));
  EXPECT_EQ(tok.encode("abcb", false, false), (std::vector<TokenId>{id_of(v, "abc"), 'b'}));
}

TEST(BpeTokenizer, TiesGoLeftmost) {
  const BpeTokenizer tok(Vocab::from_source(small_source({"a a"})));
  const TokenId aa = tok.vocab().find_text("aa");
  EXPECT_EQ(tok.encode("aaa", false, false), (std::vector<TokenId>{aa, 'a'}));
  EXPECT_EQ(tok.encode("aaaaa", false, false), (std::vector<TokenId>{aa, aa, 'a'}));
}

TEST(BpeTokenizer, ScanAndHeapAgree) {
  const Vocab v = Vocab::from_source(small_source({"a a", "b a", "aa a", "a b", "ab ab", "ba a", "aa aa", "b b"}));
  uint32_t state = 12345;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    const int n = 1 + static_cast<int>((state = state * 1664525 + 1013904223) >> 26);
    for (int i = 0; i < n; ++i) s += "ab"[(state = state * 1664525 + 1013904223) >> 31];
    std::vector<TokenId> scan, heap;
    bpe_merge_scan(v, s, scan);
    bpe_merge_heap(v, s, heap);
    ASSERT_EQ(scan, heap) << s;
  }
}

TEST(BpeTokenizer, SpacesAreBytesToo) {
  const BpeTokenizer tok(Vocab::from_source(small_source({"\xC4\xA0 h", "\xC4\xA0h i"})));  // "Ġ h", "Ġh i"
  const TokenId hi = tok.vocab().find_text("\xC4\xA0hi");
  EXPECT_EQ(tok.encode("hi hi", false, false), (std::vector<TokenId>{'h', 'i', hi}));
  EXPECT_EQ(tok.decode(tok.encode("hi hi", false, false)), "hi hi");
}

TEST(BpeTokenizer, SpecialTokensNeedParseSpecial) {
  const BpeTokenizer tok(Vocab::from_source(small_source({})));
  const Vocab& v = tok.vocab();
  const TokenId eot = id_of(v, "<|eot|>"), eot_long = id_of(v, "<|eot|>_long"), tool = id_of(v, "<tool>");
  EXPECT_EQ(tok.encode("a<|eot|>b", false, true), (std::vector<TokenId>{'a', eot, 'b'}));
  // The longest special wins where several start at the same place.
  EXPECT_EQ(tok.encode("<|eot|>_long<|eot|>_", false, true), (std::vector<TokenId>{eot_long, eot, '_'}));
  EXPECT_EQ(tok.encode("x<tool>", false, true), (std::vector<TokenId>{'x', tool}));
  // A partial special is plain text.
  EXPECT_EQ(tok.encode("<|eot|", false, true).size(), 6u);
  // Without parse_special, the same text is bytes like any other.
  for (std::string text : {"a<|eot|>b", "x<tool>"}) {
    const auto ids = tok.encode(text, false, false);
    EXPECT_EQ(ids.size(), text.size()) << text;
    EXPECT_EQ(tok.decode(ids), text);
  }
}

TEST(BpeTokenizer, BosAndNamedIds) {
  const BpeTokenizer gpt2(Vocab::from_source(small_source({})));
  const Vocab& v = gpt2.vocab();
  EXPECT_FALSE(v.add_bos());  // gpt2's default
  EXPECT_EQ(v.bos(), id_of(v, "<|begin_of_text|>"));
  EXPECT_EQ(v.eos(), id_of(v, "<|end_of_text|>"));
  EXPECT_EQ(v.eot(), id_of(v, "<|eot|>"));
  EXPECT_EQ(v.eom(), id_of(v, "<|eom|>"));
  EXPECT_EQ(gpt2.encode("a", true, false), (std::vector<TokenId>{v.bos(), 'a'}));
  EXPECT_EQ(gpt2.encode("a"), (std::vector<TokenId>{'a'}));
  const BpeTokenizer llama4(Vocab::from_source(small_source({}, "llama4")));
  EXPECT_TRUE(llama4.vocab().add_bos());
  EXPECT_EQ(llama4.encode("a"), (std::vector<TokenId>{llama4.vocab().bos(), 'a'}));

  VocabSource no_bos = small_source({});
  no_bos.tokens[256] = "<|not_bos|>";
  const BpeTokenizer tok(Vocab::from_source(no_bos));
  EXPECT_EQ(tok.vocab().bos(), kNoToken);
  EXPECT_THROW(tok.encode("a", true, false), std::runtime_error);
}

TEST(BpeTokenizer, DecodeRendersOrHidesSpecials) {
  const BpeTokenizer tok(Vocab::from_source(small_source({})));
  const auto ids = tok.encode("<|begin_of_text|>hi<|eot|>", false, true);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(tok.decode(ids), "<|begin_of_text|>hi<|eot|>");
  EXPECT_EQ(tok.decode(ids, false), "hi");
  EXPECT_EQ(tok.token_bytes(' '), " ");
  EXPECT_THROW(tok.decode(std::vector<TokenId>{-1}), std::out_of_range);
  EXPECT_THROW(tok.decode(std::vector<TokenId>{static_cast<TokenId>(tok.vocab().size())}), std::out_of_range);
}

TEST(TextStream, HoldsBackSplitCharacters) {
  const BpeTokenizer tok(Vocab::from_source(small_source({})));
  const std::string text = "a\xC3\xA9\xF0\x9F\x99\x82<|eot|>z";  // aé🙂<|eot|>z
  const auto ids = tok.encode(text, false, true);
  TextStream dec(tok);
  std::vector<std::string> outs;
  for (TokenId id : ids) outs.push_back(dec.push(id));
  EXPECT_EQ(outs, (std::vector<std::string>{"a", "", "\xC3\xA9", "", "", "", "\xF0\x9F\x99\x82", "<|eot|>", "z"}));
  EXPECT_EQ(dec.flush(), "");

  TextStream hidden(tok, false);
  std::string all;
  for (TokenId id : ids) all += hidden.push(id);
  EXPECT_EQ(all, "a\xC3\xA9\xF0\x9F\x99\x82z");
}

TEST(TextStream, PassesOnBytesThatCannotComplete) {
  const BpeTokenizer tok(Vocab::from_source(small_source({})));
  TextStream dec(tok);
  EXPECT_EQ(dec.push(0xE2), "");
  EXPECT_EQ(dec.push('x'), "\xE2x");  // the character can no longer complete
  EXPECT_EQ(dec.push(0xFF), "\xFF");  // never a lead byte
  EXPECT_EQ(dec.push(0xF0), "");
  EXPECT_EQ(dec.push(0x9F), "");
  EXPECT_EQ(dec.flush(), "\xF0\x9F");  // the end of the stream releases it
  EXPECT_EQ(dec.flush(), "");
}

// ---- Bad vocabularies ------------------------------------------------------------

void expect_bad(const VocabSource& src, const std::string& fragment) {
  try {
    Vocab::from_source(src);
    ADD_FAILURE() << "expected an error mentioning: " << fragment;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(BpeVocab, BadVocabulariesAreClearErrors) {
  expect_bad(VocabSource{}, "no tokens");
  {
    VocabSource s = small_source({"a b"});
    s.merges.push_back("a zz");
    expect_bad(s, "unknown token 'zz'");
  }
  {
    VocabSource s = small_source({});
    s.merges.push_back("nospace");
    expect_bad(s, "not 'left right'");
  }
  {
    VocabSource s = small_source({});
    s.merges.push_back("a b");  // "ab" is not a token
    expect_bad(s, "not a token");
  }
  {
    VocabSource s = small_source({});
    s.token_types.pop_back();
    expect_bad(s, "token types for");
  }
  {
    VocabSource s = small_source({});
    s.token_types[3] = 42;
    expect_bad(s, "unknown type 42");
  }
  {
    VocabSource s = small_source({});
    s.bos_id = static_cast<TokenId>(s.tokens.size());
    expect_bad(s, "out of range");
  }
  {
    VocabSource s = small_source({});
    s.tokens['q'] = "qq";
    expect_bad(s, "no token for byte 0x71");
  }
}

// A GGUF holding only the given string metadata (and no tensors).
std::vector<uint8_t> tiny_gguf(const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::vector<uint8_t> b;
  auto put = [&](const void* p, size_t n) { b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  auto str = [&](const std::string& s) { u64(s.size()); put(s.data(), s.size()); };
  u32(gguf::kMagic); u32(3); u64(0); u64(kvs.size());
  for (const auto& [k, v] : kvs) {
    str(k);
    u32(static_cast<uint32_t>(gguf::ValueType::STRING));
    str(v);
  }
  while (b.size() % 32) b.push_back(0);
  return b;
}

TEST(BpeVocab, GgufWithoutTokensIsAClearError) {
  const auto bytes = tiny_gguf({{"general.architecture", "llama4"}, {"tokenizer.ggml.model", "gpt2"}});
  const auto file = gguf::GgufFile::parse(bytes, "t.gguf");
  try {
    BpeTokenizer::from_gguf(file);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.tokens is missing"), std::string::npos) << e.what();
  }
  const auto spm = tiny_gguf({{"general.architecture", "llama"}, {"tokenizer.ggml.model", "llama"}});
  EXPECT_THROW(Vocab::from_gguf(gguf::GgufFile::parse(spm, "s.gguf")), std::runtime_error);
}

}  // namespace
}  // namespace scout::tokenizer
