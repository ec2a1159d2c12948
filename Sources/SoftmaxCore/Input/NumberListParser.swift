// Parsing of logit vectors (and other numbers) typed by a user or read from a text file.
// Pure functions: no file I/O. Everything untrusted is checked; nothing here traps on any input.

/// A problem with user input, with a one-line message that names the offending value and what is allowed.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The one-line, human-readable message.
  public var message: String

  /// Creates an error with the given one-line message.
  public init(_ message: String) {
    self.message = message
  }

  /// The message itself.
  public var description: String { message }
}

/// Parses numbers and lists of numbers written as text: "1,2,3", "1 2 3", "-inf", "−1.5", "0x1p-3", ...
public enum NumberListParser {
  /// Largest vector accepted (2^20 = 1,048,576 values); longer input is refused with a message.
  public static let maximumCount: Int = 1 << 20

  /// The standard explanation of what a number looks like, used in "is not a number" messages.
  static let expectedNumber = "expected a decimal like -1.5, 2e3, or -inf for a masked class"

  // MARK: - Single numbers

  /// The outcome of scanning one token.
  enum Scan: Equatable {
    /// A valid number (possibly NaN or an infinity written as a word).
    case value(Double)
    /// A well-formed finite literal whose magnitude is beyond `Double.greatestFiniteMagnitude`.
    case overflow(negative: Bool)
    /// Not a number at all.
    case invalid
  }

  /// Parses one number token. Accepts what `Double(String)` accepts for decimal and hex floats, an optional leading
  /// '+', the Unicode minus sign U+2212, and the words inf, +inf, -inf, infinity (any case), ∞, +∞, -∞, −∞, and nan
  /// (any case). Returns nil for anything else. A finite-looking literal that overflows Double (e.g. "1e400") also
  /// returns nil here; `parseValue` reports it with a distinct "too large" message.
  ///
  /// Surrounding whitespace is not accepted (trim it first). `Double(String)` extensions such as "nan(0x1)" and
  /// "snan" are refused, so that every accepted token has one obvious meaning.
  public static func parseNumber(_ token: Substring) -> Double? {
    if case .value(let value) = scan(token) { return value }
    return nil
  }

  /// Like `parseNumber` but throws `InputError` with a clear one-line message, e.g.
  ///   `logit 2: "abc" is not a number (expected a decimal like -1.5, 2e3, or -inf for a masked class)`
  ///   `temperature: "1e400" is too large: beyond float64's largest finite value 1.7976931348623157e+308`
  ///
  /// - Parameters:
  ///   - token: The text of one number, without surrounding whitespace.
  ///   - what: Names the quantity in messages, e.g. "logit", "soft target", "temperature". May be empty.
  ///   - index: The 0-based position of the value in its list, or nil for a lone value.
  public static func parseValue(_ token: Substring, what: String, index: Int?) throws(InputError)
    -> Double
  {
    switch scan(token) {
    case .value(let value):
      return value
    case .overflow(let negative):
      let shown = quote(token)
      if negative {
        throw InputError(
          prefix(what, index) + shown
            + " is too large in magnitude: beyond float64's most negative finite value -1.7976931348623157e+308"
        )
      }
      throw InputError(
        prefix(what, index) + shown
          + " is too large: beyond float64's largest finite value 1.7976931348623157e+308"
      )
    case .invalid:
      throw InputError(prefix(what, index) + notANumberText(token))
    }
  }

  /// ``parseValue(_:what:index:)`` for a token given as UTF-8 bytes (an edit line's text): a number is read
  /// without building a `String`; only an error's message does.
  public static func parseValue(utf8 token: UnsafeBufferPointer<UInt8>, what: String, index: Int?)
    throws(InputError) -> Double
  {
    if case .value(let value) = scan(bytes: token) { return value }
    return try parseValue(Substring(String(decoding: token, as: UTF8.self)), what: what, index: index)
  }

  /// The part of the message after the "logit 2: " prefix, for a token that is not a number.
  static func notANumberText(_ token: Substring) -> String {
    if token.isEmpty {
      return "no value given (\(expectedNumber))"
    }
    let shown = quote(token)
    if token.utf8.contains(UInt8(ascii: "[")) || token.utf8.contains(UInt8(ascii: "]")) {
      return
        "\(shown) is not a number (leave out the brackets: write 1, 2, 3 rather than [1, 2, 3])"
    }
    if token.utf8.contains(UInt8(ascii: ";")) {
      return "\(shown) is not a number (separate numbers with commas or spaces, not ';')"
    }
    return "\(shown) is not a number (\(expectedNumber))"
  }

  /// "logit 2: ", "temperature: ", "value 2: " or "".
  static func prefix(_ what: String, _ index: Int?) -> String {
    switch (what.isEmpty, index) {
    case (false, let index?): return "\(what) \(index): "
    case (false, nil): return "\(what): "
    case (true, let index?): return "value \(index): "
    case (true, nil): return ""
    }
  }

  /// Quotes a token for a one-line message: at most 40 characters, control and line-breaking characters escaped.
  static func quote(_ token: Substring) -> String {
    var out = "\""
    var shown = 0
    for scalar in token.unicodeScalars {
      if shown == 40 {
        out += "…"
        break
      }
      shown += 1
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\t": out += "\\t"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      default:
        let v = scalar.value
        if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || v == 0xFEFF {
          out += "\\u{" + String(v, radix: 16, uppercase: true) + "}"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  /// Scans one token: see `parseNumber` for what is accepted.
  static func scan(_ token: Substring) -> Scan {
    if let result = token.utf8.withContiguousStorageIfAvailable({ scan(bytes: $0) }) {
      return result
    }
    return Array(token.utf8).withUnsafeBufferPointer { scan(bytes: $0) }
  }

  /// Scans the UTF-8 bytes of one token.
  static func scan(bytes: UnsafeBufferPointer<UInt8>) -> Scan {
    var ascii = true
    for byte in bytes where byte >= 0x80 {
      ascii = false
      break
    }
    if ascii { return scanASCII(bytes) }

    // Rare path: the Unicode minus sign (anywhere a '-' may be) and the infinity sign.
    var rewritten: [UInt8] = []
    var sawInfinitySign = false
    for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
      if sawInfinitySign { return .invalid }  // Nothing may follow "∞".
      switch scalar {
      case "\u{2212}":
        rewritten.append(UInt8(ascii: "-"))
      case "\u{221E}":
        guard
          rewritten.isEmpty || rewritten == [UInt8(ascii: "-")] || rewritten == [UInt8(ascii: "+")]
        else {
          return .invalid
        }
        sawInfinitySign = true
      default:
        guard scalar.isASCII else { return .invalid }
        rewritten.append(UInt8(scalar.value))
      }
    }
    if sawInfinitySign {
      return .value(rewritten == [UInt8(ascii: "-")] ? -Double.infinity : Double.infinity)
    }
    return rewritten.withUnsafeBufferPointer { scanASCII($0) }
  }

  /// Scans an all-ASCII token.
  static func scanASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Scan {
    let end = bytes.count
    var i = 0
    guard i < end else { return .invalid }
    var negative = false
    if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
      negative = bytes[i] == UInt8(ascii: "-")
      i += 1
      guard i < end else { return .invalid }
    }
    let body = UnsafeBufferPointer(rebasing: bytes[i..<end])
    let firstByte = bytes[i]
    if firstByte | 0x20 == UInt8(ascii: "i") {
      if equalsIgnoringCase(body, "inf") || equalsIgnoringCase(body, "infinity") {
        return .value(negative ? -Double.infinity : Double.infinity)
      }
      return .invalid
    }
    if firstByte | 0x20 == UInt8(ascii: "n") {
      return equalsIgnoringCase(body, "nan") ? .value(Double.nan) : .invalid
    }
    guard isNumericLiteral(body) else { return .invalid }
    // Tokens of up to 15 bytes become small strings without a heap allocation.
    guard let value = Double(String(decoding: bytes, as: UTF8.self)) else { return .invalid }
    if value.isInfinite { return .overflow(negative: negative) }
    return .value(value)
  }

  /// Whether `bytes` (ASCII) equals `word` (lowercase ASCII letters) ignoring case.
  static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
    guard bytes.count == word.utf8CodeUnitCount else { return false }
    return word.withUTF8Buffer { wordBytes in
      for k in 0..<bytes.count where bytes[k] | 0x20 != wordBytes[k] {
        return false
      }
      return true
    }
  }

  /// Checks the grammar of an unsigned decimal or hexadecimal float literal (the sign is already consumed):
  ///   decimal: (digits ['.' [digits]] | '.' digits) [('e'|'E') [sign] digits]
  ///   hex:     '0' ('x'|'X') (hexdigits ['.' [hexdigits]] | '.' hexdigits) [('p'|'P') [sign] digits]
  static func isNumericLiteral(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let end = bytes.count
    var i = 0
    var hex = false
    if end >= 2, bytes[0] == UInt8(ascii: "0"), bytes[1] | 0x20 == UInt8(ascii: "x") {
      hex = true
      i = 2
    }
    func isDigit(_ b: UInt8) -> Bool {
      if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { return true }
      if !hex { return false }
      let lower = b | 0x20
      return lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "f")
    }
    var mantissaDigits = 0
    while i < end, isDigit(bytes[i]) {
      mantissaDigits += 1
      i += 1
    }
    if i < end, bytes[i] == UInt8(ascii: ".") {
      i += 1
      while i < end, isDigit(bytes[i]) {
        mantissaDigits += 1
        i += 1
      }
    }
    guard mantissaDigits > 0 else { return false }
    if i == end { return true }
    let marker = bytes[i] | 0x20
    guard marker == (hex ? UInt8(ascii: "p") : UInt8(ascii: "e")) else { return false }
    i += 1
    if i < end, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
      i += 1
    }
    var exponentDigits = 0
    while i < end, bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") {
      exponentDigits += 1
      i += 1
    }
    return exponentDigits > 0 && i == end
  }

  // MARK: - Lists

  /// Parses a list separated by commas and/or whitespace (spaces, tabs, \n, \r\n, \r), e.g. "1,2,3", "1 2 3",
  /// "1, 2,\n3".
  ///
  /// - A leading UTF-8 BOM (U+FEFF) is ignored; blank lines are ignored.
  /// - One trailing comma is ignored ("1,2," == [1,2]); an empty field between two commas ("1,,2") or a leading
  ///   comma is an error naming its position.
  /// - `#` starts a comment that runs to the end of the line.
  /// - Errors name the 0-based position and the token, e.g. `logit 2: "abc" is not a number (...)`.
  /// - Empty input: "no numbers given (expected e.g. 1,2,3)". More than `maximumCount` values: an error with the count
  ///   and the limit.
  ///
  /// Values are returned as parsed: NaN and infinities are NOT rejected here (the caller validates them against a
  /// precision).
  public static func parseList(_ text: String, what: String = "logit") throws(InputError)
    -> [Double]
  {
    var text = text
    text.makeContiguousUTF8()  // A no-op for native strings.
    let result =
      text.utf8.withContiguousStorageIfAvailable { parseList(utf8: $0, what: what) }
      ?? Array(text.utf8).withUnsafeBufferPointer { parseList(utf8: $0, what: what) }
    return try result.get()
  }

  /// The list parser proper, on valid UTF-8.
  static func parseList(utf8: UnsafeBufferPointer<UInt8>, what: String) -> Result<
    [Double], InputError
  > {
    let end = utf8.count
    var i = 0
    // A leading byte-order mark, EF BB BF.
    if end >= 3, utf8[0] == 0xEF, utf8[1] == 0xBB, utf8[2] == 0xBF {
      i = 3
    }
    var values: [Double] = []
    var count = 0  // Tokens seen; keeps counting (without parsing) past the limit.
    var commaPending = false  // A comma was seen after the last token.
    while i < end {
      let byte = utf8[i]
      if isSpace(byte) {
        i += 1
      } else if byte == UInt8(ascii: "#") {
        while i < end, utf8[i] != UInt8(ascii: "\n"), utf8[i] != UInt8(ascii: "\r") {
          i += 1
        }
      } else if byte == UInt8(ascii: ",") {
        if count == 0 {
          return .failure(
            InputError(
              "\(what) 0 is empty: the input starts with a comma (remove it, or put a number before it)"
            ))
        }
        if commaPending {
          return .failure(
            InputError(
              "\(what) \(count) is empty: two commas with nothing between them (remove one, or put a number there)"
            ))
        }
        commaPending = true
        i += 1
      } else {
        let start = i
        while i < end, !isSeparator(utf8[i]) {
          i += 1
        }
        if count < maximumCount {
          if count == 0 { values.reserveCapacity(min(end / 2, maximumCount)) }
          let token = UnsafeBufferPointer(rebasing: utf8[start..<i])
          switch scan(bytes: token) {
          case .value(let value):
            values.append(value)
          default:
            // Re-run the slow, message-building path.
            let text = Substring(String(decoding: token, as: UTF8.self))
            do {
              values.append(try parseValue(text, what: what, index: count))
            } catch {
              return .failure(error)
            }
          }
        }
        count += 1
        commaPending = false
      }
    }
    if count == 0 {
      return .failure(InputError("no numbers given (expected e.g. 1,2,3)"))
    }
    if count > maximumCount {
      return .failure(
        InputError("too many \(what)s: \(count) given, the limit is \(maximumCount) (2^20)"))
    }
    return .success(values)
  }

  /// Same as `parseList(_:what:)` for the raw bytes of a text file: they must be valid UTF-8 (else an error saying
  /// so, with the byte offset of the first bad byte).
  public static func parseList(bytes: [UInt8], what: String = "logit") throws(InputError)
    -> [Double]
  {
    if let offset = firstInvalidUTF8Offset(bytes) {
      if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
        throw InputError(
          "the input is UTF-16 text (it starts with the byte-order mark \(hexByte(bytes[0])) \(hexByte(bytes[1]))), "
            + "not UTF-8; save it as UTF-8 or plain ASCII")
      }
      if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) {
        throw InputError("the input is a NumPy .npy file, not text; read it as .npy instead")
      }
      throw InputError(
        "the input is not valid UTF-8 text: bad byte \(hexByte(bytes[offset])) at byte offset \(offset); "
          + "save it as UTF-8 or plain ASCII")
    }
    return try bytes.withUnsafeBufferPointer { parseList(utf8: $0, what: what) }.get()
  }

  /// How many lines of a text list hold numbers (tokens; comments and blank lines aside), and how many of those hold
  /// more than one. Lines end at `\n` or `\r`. A file of several lines of several numbers each is a batch, which the
  /// lab does not read yet (see ``batchError(lines:several:)``); one number per line, or a list wrapped once, is one
  /// vector.
  public static func lineShape(bytes: [UInt8]) -> (lines: Int, several: Int) {
    var lines = 0
    var several = 0
    var tokens = 0  // on the current line
    var inToken = false
    var inComment = false
    func endLine() {
      if tokens > 0 { lines += 1 }
      if tokens > 1 { several += 1 }
      tokens = 0
      inToken = false
      inComment = false
    }
    for byte in bytes {
      if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
        endLine()
      } else if inComment {
        continue
      } else if byte == UInt8(ascii: "#") {
        inComment = true
        inToken = false
      } else if isSeparator(byte) {
        inToken = false
      } else if !inToken {
        inToken = true
        tokens += 1
      }
    }
    endLine()
    return (lines, several)
  }

  /// The refusal of a text list that looks like a batch (several lines, at least two of them with several numbers),
  /// or nil when it is one vector.
  public static func batchError(lines: Int, several: Int) -> String? {
    guard lines > 1, several > 1 else { return nil }
    let detail = several == lines ? "" : " (\(several) of them with several numbers)"
    return "has \(lines) lines of logits\(detail); one line of logits is expected (give --targets-file to read them as a batch)"
  }

  /// Spaces, tabs, line feeds, carriage returns, vertical tabs and form feeds.
  @inline(__always)
  static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
  }

  /// Bytes that end a token: whitespace, ',' and '#'.
  @inline(__always)
  static func isSeparator(_ byte: UInt8) -> Bool {
    isSpace(byte) || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "#")
  }

  /// "0xFF".
  static func hexByte(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return "0x" + (byte < 0x10 ? "0" : "") + digits
  }

  /// The offset of the first byte of the first ill-formed UTF-8 sequence, or nil if `bytes` is valid UTF-8.
  /// (Overlong forms, surrogates and code points beyond U+10FFFF are ill-formed.)
  static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
    let n = bytes.count
    var i = 0
    while i < n {
      let lead = bytes[i]
      if lead < 0x80 {
        i += 1
        continue
      }
      let length: Int
      var low: UInt8 = 0x80
      var high: UInt8 = 0xBF
      switch lead {
      case 0xC2...0xDF: length = 2
      case 0xE0:
        length = 3
        low = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: length = 3
      case 0xED:
        length = 3
        high = 0x9F
      case 0xF0:
        length = 4
        low = 0x90
      case 0xF1...0xF3: length = 4
      case 0xF4:
        length = 4
        high = 0x8F
      default: return i
      }
      guard n - i >= length else { return i }
      guard bytes[i + 1] >= low, bytes[i + 1] <= high else { return i }
      for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 {
        return i
      }
      i += length
    }
    return nil
  }
}
