#include "text/clip_normalize.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "runtime/error.h"

namespace ls::text {

bool is_clip_space(char32_t cp) {
  if (cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return true;
  if (cp < 0xA0) return false;
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_Z_MASK) != 0;
}

std::string clip_normalize(std::string_view text) {
  // fromUTF8 substitutes U+FFFD for ill-formed sequences.
  icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) fail("ICU: cannot load the NFC normaliser: {}", u_errorName(status));
  icu::UnicodeString composed = nfc->normalize(in, status);
  if (U_FAILURE(status)) fail("ICU: NFC normalisation failed: {}", u_errorName(status));

  icu::UnicodeString out;
  const icu::Locale& root = icu::Locale::getRoot();
  bool in_space = false;
  for (int32_t i = 0; i < composed.length();) {
    UChar32 cp = composed.char32At(i);
    i += U16_LENGTH(cp);
    if (is_clip_space(static_cast<char32_t>(cp))) {
      if (!in_space) out.append(static_cast<UChar>(' '));
      in_space = true;
      continue;
    }
    in_space = false;
    if (cp < 0x80) {
      out.append(static_cast<UChar>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    } else {
      icu::UnicodeString one(cp);  // lower-case this code point alone: no final-sigma context
      out.append(one.toLower(root));
    }
  }
  std::string result;
  out.toUTF8String(result);
  return result;
}

}  // namespace ls::text
