import Testing

@testable import SoftmaxCore
import SoftmaxText

// MARK: - Helpers

/// The message of the InputError thrown by `body`, or nil if it returned.
private func errorMessage<T>(_ body: () throws(InputError) -> T) -> String? {
  do {
    _ = try body()
    return nil
  } catch {
    return error.message
  }
}

/// Whether two doubles are the same value (NaNs are equal to each other; -0.0 and 0.0 are not).
private func same(_ a: Double, _ b: Double) -> Bool {
  (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern
}

private func same(_ a: [Double], _ b: [Double]) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
}

/// A small, seeded SplitMix64 generator, so fuzz runs are reproducible.
private struct InputTestRNG: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Builds a .npy file by hand: magic, version, header length, header (optionally padded to 64 as numpy does), data.
private func npy(
  header: String, data: [UInt8] = [], major: UInt8 = 1, minor: UInt8 = 0, pad: Bool = true
) -> [UInt8] {
  let lengthSize = major == 1 ? 2 : 4
  var headerBytes = Array(header.utf8)
  if pad {
    let unpadded = 8 + lengthSize + headerBytes.count + 1
    headerBytes += Array(repeating: 0x20, count: (64 - unpadded % 64) % 64) + [0x0A]
  }
  var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, minor]
  for k in 0..<lengthSize {
    out.append(UInt8(truncatingIfNeeded: headerBytes.count >> (8 * k)))
  }
  return out + headerBytes + data
}

/// Little-endian float64 bytes.
private func f8(_ values: [Double]) -> [UInt8] {
  values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64($0))) }
  }
}

private func header(descr: String = "'<f8'", fortran: String = "False", shape: String) -> String {
  "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }"
}

/// A one-line message: non-empty and free of line breaks.
private func isOneLine(_ message: String) -> Bool {
  !message.isEmpty
    && !message.unicodeScalars.contains { $0 == "\n" || $0 == "\r" || $0 == "\u{2028}" }
}

// MARK: - Single numbers

@Suite("NumberListParser.parseNumber / parseValue")
struct InputNumberTokenTests {
  @Test(
    "accepts decimal and hex literals like Double(String)",
    arguments: [
      ("1", 1.0), ("-1.5", -1.5), ("+2", 2), ("2e3", 2000), ("2E-3", 0.002), ("1e+2", 100),
      (".5", 0.5),
      ("5.", 5), ("-.25", -0.25), ("007", 7), ("0", 0), ("0.1", 0.1), ("0x10", 16),
      ("0x1p-3", 0.125),
      ("0X1.8P1", 3), ("-0x.8", -0.5), ("0xA", 10), ("1e-400", 0),
      ("4.9406564584124654e-324", .leastNonzeroMagnitude),
      ("1.7976931348623157e+308", Double.greatestFiniteMagnitude),
      ("1.7976931348623158e+308", Double.greatestFiniteMagnitude),
      ("3.141592653589793238462643383279", Double.pi),
    ] as [(String, Double)])
  func acceptsLiterals(text: String, expected: Double) {
    #expect(NumberListParser.parseNumber(Substring(text)) == expected)
    #expect(NumberListParser.parseNumber(Substring(text)) == Double(text))
  }

  @Test("negative zero keeps its sign")
  func negativeZero() throws {
    let value = try #require(NumberListParser.parseNumber("-0.0"))
    #expect(value == 0 && value.sign == .minus)
  }

  @Test(
    "accepts the Unicode minus sign",
    arguments: [("−1.5", -1.5), ("−0x1p1", -2), ("1e−2", 0.01), ("−7", -7)] as [(String, Double)])
  func unicodeMinus(text: String, expected: Double) {
    #expect(NumberListParser.parseNumber(Substring(text)) == expected)
  }

  @Test(
    "accepts infinity words and signs",
    arguments: [
      ("inf", 1.0), ("+inf", 1), ("-inf", -1), ("INF", 1), ("Inf", 1), ("infinity", 1),
      ("-Infinity", -1),
      ("+INFINITY", 1), ("∞", 1), ("+∞", 1), ("-∞", -1), ("−∞", -1), ("−inf", -1),
    ] as [(String, Double)])
  func infinities(text: String, sign: Double) {
    #expect(NumberListParser.parseNumber(Substring(text)) == sign * .infinity)
  }

  @Test("accepts nan in any case", arguments: ["nan", "NaN", "NAN", "nAn", "-nan", "+nan"])
  func nans(text: String) throws {
    let value = try #require(NumberListParser.parseNumber(Substring(text)))
    #expect(value.isNaN)
  }

  @Test(
    "refuses everything else",
    arguments: [
      "", " 1", "1 ", "abc", "1.2.3", "--1", "+-1", "-+1", "+", "-", "−", "1e", "e5", ".", "..5",
      "0x", "0x1p",
      "0x.p1", "1e+", "1e5.5", "1_000", "1,5", "nan(0x1)", "snan", "infinit", "infinityy", "in",
      "nana", "∞1",
      "1∞", "∞∞", "−−1", "-−1", "∞inity", "١", "１", "0b101", "1f", "1.0f", "$1", "0x1.8g",
      "0x1.8e5.", "1e400", "-1e400",
      "0x1p2000", "\u{FEFF}1", "1\u{0}",
    ])
  func refuses(text: String) {
    #expect(NumberListParser.parseNumber(Substring(text)) == nil)
  }

  @Test("works on a substring in the middle of a string")
  func substringSlice() {
    let text = "xx-2.5yy"
    let token = text.dropFirst(2).dropLast(2)
    #expect(NumberListParser.parseNumber(token) == -2.5)
  }

  @Test("not-a-number message, exactly")
  func notANumberMessage() {
    #expect(
      throws: InputError(
        #"logit 2: "abc" is not a number (expected a decimal like -1.5, 2e3, or -inf for a masked class)"#
      )
    ) {
      try NumberListParser.parseValue("abc", what: "logit", index: 2)
    }
    #expect(
      throws: InputError(
        #"temperature: "x" is not a number (expected a decimal like -1.5, 2e3, or -inf for a masked class)"#
      )
    ) {
      try NumberListParser.parseValue("x", what: "temperature", index: nil)
    }
    #expect(
      throws: InputError(
        #"value 3: "x" is not a number (expected a decimal like -1.5, 2e3, or -inf for a masked class)"#
      )
    ) {
      try NumberListParser.parseValue("x", what: "", index: 3)
    }
  }

  @Test("too-large messages, exactly")
  func overflowMessages() {
    #expect(
      throws: InputError(
        #"temperature: "1e400" is too large: beyond float64's largest finite value 1.7976931348623157e+308"#
      )
    ) {
      try NumberListParser.parseValue("1e400", what: "temperature", index: nil)
    }
    #expect(
      throws: InputError(
        #"logit 0: "-1e400" is too large in magnitude: beyond float64's most negative finite value -1.7976931348623157e+308"#
      )
    ) {
      try NumberListParser.parseValue("-1e400", what: "logit", index: 0)
    }
    let hex = errorMessage { () throws(InputError) in
      try NumberListParser.parseValue("0x1p1024", what: "logit", index: 1)
    }
    #expect(hex?.contains("is too large") == true)
    let minus = errorMessage { () throws(InputError) in
      try NumberListParser.parseValue("−1.8e308", what: "logit", index: 1)
    }
    #expect(minus?.contains("most negative finite value") == true)
  }

  @Test("parseValue returns values, including nan and infinities")
  func parseValueValues() throws {
    #expect(try NumberListParser.parseValue("2.5", what: "temperature", index: nil) == 2.5)
    #expect(try NumberListParser.parseValue("-inf", what: "logit", index: 0) == -.infinity)
    #expect(try NumberListParser.parseValue("nan", what: "logit", index: 0).isNaN)
  }

  @Test("hints for empty tokens, brackets and semicolons")
  func hints() {
    let empty = errorMessage { () throws(InputError) in
      try NumberListParser.parseValue("", what: "temperature", index: nil)
    }
    #expect(
      empty
        == "temperature: no value given (expected a decimal like -1.5, 2e3, or -inf for a masked class)"
    )
    let bracket = errorMessage { () throws(InputError) in
      try NumberListParser.parseValue("[1", what: "logit", index: 0)
    }
    #expect(bracket?.contains("leave out the brackets") == true)
    let semicolon = errorMessage { () throws(InputError) in
      try NumberListParser.parseValue("1;2", what: "logit", index: 0)
    }
    #expect(semicolon?.contains("not ';'") == true)
  }

  @Test("messages stay on one line and short: control characters are escaped, long tokens cut")
  func quoting() throws {
    let control = try #require(
      errorMessage { () throws(InputError) in
        try NumberListParser.parseValue("a\u{1}b\"c\u{2028}", what: "logit", index: 0)
      })
    #expect(control.hasPrefix(#"logit 0: "a\u{1}b\"c\u{2028}" is not a number"#))
    #expect(isOneLine(control))
    let long = String(repeating: "z", count: 10_000)
    let cut = try #require(
      errorMessage { () throws(InputError) in
        try NumberListParser.parseValue(Substring(long), what: "logit", index: 0)
      })
    #expect(cut.contains(String(repeating: "z", count: 40) + "…\""))
    #expect(cut.utf8.count < 200)
  }

  @Test("InputError is a plain value with its message as description")
  func inputError() {
    let error = InputError("boom")
    #expect(error.description == "boom")
    #expect(error == InputError("boom"))
    #expect("\(error)" == "boom")
  }

  @Test("agrees with Double(String) on 20,000 random literal-like strings")
  func agreesWithDouble() {
    var rng = InputTestRNG(seed: 7)
    let alphabet = Array("0123456789.eE+-xXpPaAfF")
    var accepted = 0
    for _ in 0..<20_000 {
      let length = Int.random(in: 1...8, using: &rng)
      let text = String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
      let mine = NumberListParser.parseNumber(Substring(text))
      let reference = Double(text)
      if let mine {
        accepted += 1
        #expect(reference.map { same($0, mine) } == true, "\(text)")
      } else if let reference, reference.isFinite {
        Issue.record("refused \(text) which Double(String) reads as \(reference)")
      }
    }
    #expect(accepted > 1_000)
  }
}

// MARK: - Lists

@Suite("NumberListParser.parseList")
struct InputNumberListTests {
  @Test(
    "accepted separators and layouts",
    arguments: [
      ("1,2,3", [1.0, 2, 3]), ("1 2 3", [1, 2, 3]), ("1, 2,\n3", [1, 2, 3]),
      ("1\t2\t3", [1, 2, 3]),
      ("1\r\n2\r\n3\r\n", [1, 2, 3]), ("1\r2\r3", [1, 2, 3]), ("1\n\n\n2\n\n", [1, 2]),
      ("  1 ,\t2 ,  3  ", [1, 2, 3]), ("1,2,", [1, 2]), ("1,2,\n", [1, 2]),
      ("1,\n2,\n3,\n", [1, 2, 3]),
      ("1,2 3", [1, 2, 3]), ("42", [42]), ("-inf, 0, 2.5e-1", [-.infinity, 0, 0.25]),
      ("\u{FEFF}1,2", [1, 2]), ("\u{FEFF}1\r\n2\r\n", [1, 2]),
      ("# logits\n1, 2 # two\n3", [1, 2, 3]),
      ("1,2#c", [1, 2]), ("1 # a, b,, c\r\n2", [1, 2]), ("1,\n# note\n2", [1, 2]),
      ("−1 ∞ −∞", [-1, .infinity, -.infinity]),
      ("1\u{0B}2\u{0C}3", [1, 2, 3]),
    ] as [(String, [Double])])
  func accepted(text: String, expected: [Double]) throws {
    #expect(try NumberListParser.parseList(text) == expected)
    #expect(try NumberListParser.parseList(bytes: Array(text.utf8)) == expected)
  }

  @Test(
    "a text list of several lines of several numbers is a batch; one line, a column or a wrapped list is a vector",
    arguments: [
      ("1,2,3", 1, 1, false), ("1\n2\n3\n", 3, 0, false), ("1\r\n2\r\n3\r\n", 3, 0, false),
      ("1, 2\n3\n", 2, 1, false), ("# logits\r\n1, 2,\r\n3 # last\r\n", 2, 1, false),
      ("1 # a, b, c\n2 # d e\n", 2, 0, false), ("\n\n  \n", 0, 0, false),
      ("1 2\n3 4\n", 2, 2, true), ("1 2 3\n4 5\n6\n", 3, 2, true), ("1,2\r3,4\r5,6", 3, 3, true),
    ] as [(String, Int, Int, Bool)])
  func batchesAreRefused(text: String, lines: Int, several: Int, refused: Bool) {
    let shape = NumberListParser.lineShape(bytes: Array(text.utf8))
    #expect(shape.lines == lines && shape.several == several, "\(text.debugDescription): \(shape)")
    #expect((NumberListParser.batchError(lines: shape.lines, several: shape.several) != nil) == refused)
  }

  @Test func theBatchRefusalNamesTheLineCount() {
    let row = (0..<256).map { "\($0 % 7).5" }.joined(separator: " ")
    let text = Array(String(repeating: row + "\n", count: 128).utf8)
    let shape = NumberListParser.lineShape(bytes: text)
    #expect(
      NumberListParser.batchError(lines: shape.lines, several: shape.several)
        == "has 128 lines of logits; one line of logits is expected (give --targets-file to read them as a batch)")
    #expect(
      NumberListParser.batchError(lines: 3, several: 2)
        == "has 3 lines of logits (2 of them with several numbers); one line of logits is expected (give "
        + "--targets-file to read them as a batch)")
  }

  @Test("nan and infinities are returned as parsed")
  func specials() throws {
    let values = try NumberListParser.parseList("nan, inf, -inf, NaN")
    #expect(values.count == 4)
    #expect(values[0].isNaN && values[3].isNaN)
    #expect(values[1] == .infinity && values[2] == -.infinity)
  }

  @Test(
    "empty input, exactly",
    arguments: ["", "   ", "\n\n", "\r\n", "# only a comment\n", "\u{FEFF}", "\u{FEFF} \n#x"])
  func empty(text: String) {
    #expect(throws: InputError("no numbers given (expected e.g. 1,2,3)")) {
      try NumberListParser.parseList(text)
    }
  }

  @Test(
    "empty fields name their position",
    arguments: [
      (
        "1,,2",
        "logit 1 is empty: two commas with nothing between them (remove one, or put a number there)"
      ),
      (
        "1,2,,",
        "logit 2 is empty: two commas with nothing between them (remove one, or put a number there)"
      ),
      (
        "1, ,2",
        "logit 1 is empty: two commas with nothing between them (remove one, or put a number there)"
      ),
      (
        "1,\n,2",
        "logit 1 is empty: two commas with nothing between them (remove one, or put a number there)"
      ),
      (
        ",1",
        "logit 0 is empty: the input starts with a comma (remove it, or put a number before it)"
      ),
      (
        ",",
        "logit 0 is empty: the input starts with a comma (remove it, or put a number before it)"
      ),
      (
        "\u{FEFF},1",
        "logit 0 is empty: the input starts with a comma (remove it, or put a number before it)"
      ),
    ])
  func emptyFields(text: String, message: String) {
    #expect(throws: InputError(message)) { try NumberListParser.parseList(text) }
  }

  @Test("bad tokens name their position and text")
  func badTokens() {
    #expect(
      throws: InputError(
        #"logit 1: "abc" is not a number (expected a decimal like -1.5, 2e3, or -inf for a masked class)"#
      )
    ) {
      try NumberListParser.parseList("1,abc,3")
    }
    #expect(
      throws: InputError(
        #"soft target 2: "0.5x" is not a number (expected a decimal like -1.5, 2e3, or -inf for a masked class)"#
      )
    ) {
      try NumberListParser.parseList("0.1 0.4\n0.5x", what: "soft target")
    }
    let overflow = errorMessage { () throws(InputError) in
      try NumberListParser.parseList("1, 1e400")
    }
    #expect(overflow?.hasPrefix(#"logit 1: "1e400" is too large"#) == true)
    let bomInside = errorMessage { () throws(InputError) in
      try NumberListParser.parseList("1,\u{FEFF}2")
    }
    #expect(bomInside?.hasPrefix(#"logit 1: "\u{FEFF}2" is not a number"#) == true)
    let python = errorMessage { () throws(InputError) in try NumberListParser.parseList("[1, 2, 3]")
    }
    #expect(python?.contains("logit 0: \"[1\"") == true)
    #expect(python?.contains("brackets") == true)
    let combining = errorMessage { () throws(InputError) in
      try NumberListParser.parseList("1,\u{301}2")
    }
    #expect(combining?.hasPrefix("logit 1: ") == true)
  }

  @Test("the size limit: 2^20 values pass, one more is refused with the count and the limit")
  func limit() throws {
    #expect(NumberListParser.maximumCount == 1_048_576)
    let atLimit = String(repeating: "0 ", count: NumberListParser.maximumCount)
    #expect(try NumberListParser.parseList(atLimit).count == NumberListParser.maximumCount)
    #expect(throws: InputError("too many logits: 1048577 given, the limit is 1048576 (2^20)")) {
      try NumberListParser.parseList(atLimit + "1")
    }
    #expect(throws: InputError("too many soft targets: 1048578 given, the limit is 1048576 (2^20)")) {
      try NumberListParser.parseList(atLimit + "1 x", what: "soft target")
    }
  }

  @Test("bytes must be UTF-8; errors give the byte offset")
  func utf8() throws {
    #expect(try NumberListParser.parseList(bytes: Array("−1, 2".utf8)) == [-1, 2])
    #expect(
      try NumberListParser.parseList(bytes: [0xEF, 0xBB, 0xBF, 0x31, 0x0D, 0x0A, 0x32]) == [1, 2])
    #expect(
      throws: InputError(
        "the input is not valid UTF-8 text: bad byte 0xFF at byte offset 2; save it as UTF-8 or plain ASCII"
      )
    ) {
      try NumberListParser.parseList(bytes: [0x31, 0x2C, 0xFF, 0x32])
    }
    let cases: [([UInt8], Int)] = [
      ([0x31, 0xE2, 0x88], 1),  // truncated at the end
      ([0x31, 0x20, 0xC0, 0x80], 2),  // overlong
      ([0xED, 0xA0, 0x80], 0),  // surrogate
      ([0x32, 0x32, 0xF4, 0x90, 0x80, 0x80], 2),  // beyond U+10FFFF
      ([0x80], 0),  // lone continuation byte
      ([0x31, 0xE2, 0x28, 0xA1], 1),  // bad continuation
    ]
    for (bytes, offset) in cases {
      let message = errorMessage { () throws(InputError) in
        try NumberListParser.parseList(bytes: bytes)
      }
      #expect(message?.contains("not valid UTF-8") == true)
      #expect(message?.contains("at byte offset \(offset);") == true, "\(bytes)")
    }
    let utf16 = errorMessage { () throws(InputError) in
      try NumberListParser.parseList(bytes: [0xFF, 0xFE, 0x31, 0x00])
    }
    #expect(utf16?.contains("UTF-16") == true)
    let npyFile = errorMessage { () throws(InputError) in
      try NumberListParser.parseList(bytes: NPYParser.encode([1.0]))
    }
    #expect(npyFile?.contains(".npy") == true)
  }

  @Test("the UTF-8 check agrees with the standard library")
  func utf8AgreesWithStdlib() {
    var rng = InputTestRNG(seed: 11)
    let pieces: [[UInt8]] = [
      [0x31], [0x20], [0xC3, 0xA9], [0xE2, 0x88, 0x92], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xC0],
      [0xED, 0xA0],
      [0xF4, 0x90], [0xE0, 0x80], [0xFF], [0xF0], [0xBF],
    ]
    for _ in 0..<5_000 {
      let bytes = (0..<Int.random(in: 0...6, using: &rng)).flatMap { _ in
        pieces.randomElement(using: &rng)!
      }
      let valid = NumberListParser.firstInvalidUTF8Offset(bytes) == nil
      #expect(valid == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
    }
  }

  @Test("10^6 numbers from text")
  func million() throws {
    var rng = InputTestRNG(seed: 3)
    let values = (0..<1_000_000).map { _ in
      Double(Int.random(in: -99_999...99_999, using: &rng)) / 64
    }
    let text = values.map { "\($0)" }.joined(separator: ", ")
    let clock = ContinuousClock()
    var parsed: [Double] = []
    let elapsed = try clock.measure { parsed = try NumberListParser.parseList(text) }
    print("parsed 10^6 numbers (\(text.utf8.count) bytes of text) in \(elapsed)")
    #expect(parsed == values)
  }
}

// MARK: - .npy

@Suite("NPYParser")
struct InputNPYTests {
  static let specials: [Double] = [
    0, -0.0, 1, -1.5, .pi, 1e-300, -0x1p-1060, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
    -.greatestFiniteMagnitude, .infinity, -.infinity, .nan,
  ]

  @Test("encode writes numpy's layout: magic, v1.0, header padded to 64 ending in a newline")
  func layout() {
    for (bytes, descr, size) in [
      (NPYParser.encode([1.0, 2, 3]), "<f8", 8), (NPYParser.encode([1 as Float, 2, 3]), "<f4", 4),
      (NPYParser.encode([1 as Float16, 2, 3]), "<f2", 2),
    ] {
      #expect(Array(bytes[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
      let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      let dataStart = 10 + headerLength
      #expect(dataStart % 64 == 0)
      #expect(bytes[dataStart - 1] == 0x0A)
      let header = String(decoding: bytes[10..<dataStart], as: UTF8.self)
      #expect(header.hasPrefix("{'descr': '\(descr)', 'fortran_order': False, 'shape': (3,), }"))
      #expect(bytes.count == dataStart + 3 * size)
    }
    #expect(Array(NPYParser.encode([1.0]).suffix(8)) == [0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
  }

  @Test("round trip float64")
  func roundTrip64() throws {
    var rng = InputTestRNG(seed: 1)
    let values = Self.specials + (0..<1000).map { _ in Double(bitPattern: rng.next()) }
    #expect(same(try NPYParser.parse(NPYParser.encode(values)), values))
  }

  @Test("round trip float32, widened exactly")
  func roundTrip32() throws {
    var rng = InputTestRNG(seed: 2)
    let values =
      Self.specials.map { Float($0) } + [Float.leastNonzeroMagnitude, .greatestFiniteMagnitude]
      + (0..<1000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
    let parsed = try NPYParser.parse(NPYParser.encode(values))
    #expect(same(parsed, values.map { Double($0) }))
  }

  @Test("round trip float16: all 65,536 bit patterns, widened exactly")
  func roundTrip16() throws {
    let values = (0...UInt16.max).map { Float16(bitPattern: $0) }
    let parsed = try NPYParser.parse(NPYParser.encode(values))
    #expect(parsed.count == 65_536)
    #expect(same(parsed, values.map { Double($0) }))
    #expect(parsed[0x3C00] == 1 && parsed[0x7BFF] == 65504 && parsed[0x0001] == 0x1p-24)
  }

  @Test("the software float16 conversion (for platforms without Float16) matches Float16")
  func softwareHalf() {
    for bits in 0...UInt16.max {
      #expect(
        same(NPYParser.doubleFromHalfBits(bits), Double(Float16(bitPattern: bits))), "\(bits)")
    }
  }

  @Test("accepted header variants")
  func headerVariants() throws {
    let data = f8([1, 2, 3])
    let headers = [
      header(shape: "(3,)"), header(shape: "(3, )"), header(shape: "( 3 , )"),
      header(fortran: "True", shape: "(3,)"),
      header(descr: "'=f8'", shape: "(3,)"), header(descr: "'|f8'", shape: "(3,)"),
      header(descr: "'f8'", shape: "(3,)"),
      header(shape: "(3L,)"), #"{"descr": "<f8", "fortran_order": False, "shape": (3,)}"#,
      "{'shape': (3,), 'fortran_order': False, 'descr': '<f8'}",
      "{'descr':'<f8','fortran_order':False,'shape':(3,),'x':None}",
    ]
    for text in headers {
      #expect(try NPYParser.parse(npy(header: text, data: data)) == [1, 2, 3], "\(text)")
    }
    #expect(
      try NPYParser.parse(npy(header: header(shape: "(3,)"), data: data, pad: false)) == [1, 2, 3])
    for major: UInt8 in [2, 3] {
      #expect(
        try NPYParser.parse(npy(header: header(shape: "(3,)"), data: data, major: major)) == [
          1, 2, 3,
        ])
    }
    let f4 = npy(
      header: header(descr: "'<f4'", shape: "(2,)"), data: [0, 0, 0xC0, 0x3F, 0, 0, 0x20, 0xC0])
    #expect(try NPYParser.parse(f4) == [1.5, -2.5])
    let f2 = npy(header: header(descr: "'<f2'", shape: "(2,)"), data: [0x00, 0x3E, 0x00, 0xFC])
    #expect(try NPYParser.parse(f2) == [1.5, -.infinity])
  }

  @Test("refused files, with the message checked")
  func refused() {
    func message(_ bytes: [UInt8]) -> String {
      errorMessage { () throws(InputError) in try NPYParser.parse(bytes) } ?? "(no error)"
    }
    let data = f8([1, 2, 3])
    let cases: [([UInt8], String)] = [
      ([], #"not a .npy file: only 0 bytes, shorter than the 6-byte magic "\x93NUMPY""#),
      (
        [0x93, 0x4E, 0x55],
        #"not a .npy file: only 3 bytes, shorter than the 6-byte magic "\x93NUMPY""#
      ),
      (
        Array("1,2,3\n4,5,6".utf8),
        #"not a .npy file: bad magic bytes (a .npy file starts with "\x93NUMPY")"#
      ),
      (
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1],
        "truncated .npy file: it ends before the 2 version bytes"
      ),
      (
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0x10],
        "truncated .npy file: it ends inside the 2-byte header length (only 9 bytes)"
      ),
      (
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0x10, 0],
        "truncated .npy file: it ends inside the 4-byte header length (only 10 bytes)"
      ),
      (
        npy(header: header(shape: "(3,)"), data: data, major: 4),
        "unsupported .npy format version 4.0 (supported: 1.0, 2.0 and 3.0)"
      ),
      (
        npy(header: header(shape: "(3,)"), data: data, minor: 1),
        "unsupported .npy format version 1.1 (supported: 1.0, 2.0 and 3.0)"
      ),
      (
        npy(header: header(shape: "(3,)"), data: data, major: 0),
        "unsupported .npy format version 0.0 (supported: 1.0, 2.0 and 3.0)"
      ),
      (
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0xFF, 0xFF, 0x7B],
        "bad .npy header length 65535: it goes beyond the end of the file (only 1 bytes follow the length field)"
      ),
      (
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF],
        "bad .npy header length 4294967295: it goes beyond the end of the file (only 0 bytes follow the length field)"
      ),
      (
        npy(header: String(repeating: " ", count: 70_000), major: 2, pad: false),
        "bad .npy header length 70000: a 1-D array needs under 200 bytes, and at most 65536 are accepted"
      ),
      (
        npy(
          header: header(descr: "'<" + String(repeating: "8", count: 100) + "'", shape: "(3,)"),
          data: data),
        "unsupported dtype '<888888888888888888888888888888888888888…' (unknown type); expected float64 '<f8', float32 '<f4' or float16 '<f2'"
      ),
      (
        npy(header: "[1, 2]", data: data),
        "bad .npy header: it is not a Python dict literal like {'descr': '<f8', ...}"
      ),
      (
        npy(header: "", data: data, pad: false),
        "bad .npy header: unexpected end of header at header byte 0"
      ),
      (npy(header: "", data: data), "bad .npy header: unexpected end of header at header byte 54"),
      (
        npy(header: "{'descr': '<f8', 'fortran_order': False}", data: data),
        "bad .npy header: it has no 'shape' key"
      ),
      (
        npy(header: "{'fortran_order': False, 'shape': (3,)}", data: data),
        "bad .npy header: it has no 'descr' key"
      ),
      (
        npy(header: "{'descr': '<f8', 'shape': (3,)}", data: data),
        "bad .npy header: it has no 'fortran_order' key"
      ),
      (
        npy(header: header(fortran: "'no'", shape: "(3,)"), data: data),
        "bad .npy header: 'fortran_order' must be True or False"
      ),
      (
        npy(header: header(descr: "8", shape: "(3,)"), data: data),
        "bad .npy header: 'descr' must be a dtype string like '<f8'"
      ),
      (
        npy(header: header(shape: "3"), data: data),
        "bad .npy header: 'shape' must be a tuple of non-negative integers like (3,)"
      ),
      (
        npy(header: header(shape: "(3)"), data: data),
        "bad .npy header: 'shape' must be a tuple of non-negative integers like (3,)"
      ),
      (
        npy(header: header(shape: "('3',)"), data: data),
        "bad .npy header: 'shape' must be a tuple of non-negative integers like (3,)"
      ),
      (
        npy(header: header(shape: "(-1,)"), data: data),
        "bad .npy header: the shape has a negative dimension -1"
      ),
      (
        npy(header: header(descr: "'>f8'", shape: "(3,)"), data: data),
        "big-endian data is not supported; save with dtype '<f8'"
      ),
      (
        npy(header: header(descr: "'>f4'", shape: "(3,)"), data: data),
        "big-endian data is not supported; save with dtype '<f4'"
      ),
      (
        npy(header: header(descr: "'!f2'", shape: "(3,)"), data: data),
        "big-endian data is not supported; save with dtype '<f2'"
      ),
      (
        npy(header: header(descr: "'<i8'", shape: "(3,)"), data: data),
        "unsupported dtype '<i8' (64-bit signed integer); expected float64 '<f8', float32 '<f4' or float16 '<f2' (convert with arr.astype('<f8'))"
      ),
      (
        npy(header: header(shape: "()"), data: data),
        "the .npy file holds a 0-D array (a single scalar, shape ()); expected a 1-D array with shape (n,)"
      ),
      (
        npy(header: header(shape: "(2, 3)"), data: data),
        "the .npy file holds a 2-D array with shape (2, 3); expected a 1-D array with shape (n,) (flatten it first, e.g. arr.reshape(-1))"
      ),
      (
        npy(header: header(shape: "(0,)"), data: []),
        "the .npy array is empty (shape (0,)); give at least one value"
      ),
      (
        npy(header: header(shape: "(99999999999999999999,)"), data: data),
        "too many values: the .npy array has shape (99999999999999999999,), more than the limit of 1048576 (2^20) values"
      ),
      (
        npy(header: header(shape: "(1048577,)"), data: data),
        "too many values: the .npy array has shape (1048577,), more than the limit of 1048576 (2^20) values"
      ),
      (
        npy(header: header(shape: "(3,)"), data: f8([1, 2])),
        "truncated .npy data: expected 24 bytes (3 float64 values) but found 16"
      ),
      (
        npy(header: header(descr: "'<f4'", shape: "(1,)"), data: []),
        "truncated .npy data: expected 4 bytes (1 float32 value) but found 0"
      ),
      (
        npy(header: header(shape: "(3,)"), data: f8([1, 2, 3, 4])),
        "the .npy header does not match the data: it declares 3 float64 values (24 bytes) but 32 data bytes follow; the header's shape is wrong or the file is corrupt"
      ),
    ]
    for (bytes, expected) in cases {
      let actual = message(bytes)
      #expect(actual == expected)
      #expect(isOneLine(actual))
    }
  }

  @Test(
    "other dtypes are named",
    arguments: [
      ("'<i4'", "32-bit signed integer"), ("'<u2'", "16-bit unsigned integer"),
      ("'|u1'", "8-bit unsigned integer"),
      ("'|b1'", "boolean"), ("'<c16'", "128-bit complex"), ("'|O'", "Python object"),
      ("'<U5'", "Unicode string"),
      ("'|S3'", "byte string"), ("'|V8'", "raw bytes (void)"), ("'<M8[ns]'", "datetime64"),
      ("'<m8[s]'", "timedelta64"), ("'<f16'", "extended-precision float (long double)"),
      ("'<f3'", "24-bit float"),
      ("'>i8'", "64-bit signed integer"), ("'zz'", "unknown type"), ("''", "unknown type"),
    ])
  func otherDtypes(descr: String, name: String) {
    let message = errorMessage { () throws(InputError) in
      try NPYParser.parse(npy(header: header(descr: descr, shape: "(3,)"), data: f8([1, 2, 3])))
    }
    #expect(
      message?.hasPrefix("unsupported dtype \(descr) (\(name)); expected float64 '<f8'") == true,
      "\(message ?? "")")
  }

  @Test("structured dtypes, higher dimensions, and malformed headers")
  func moreRefusals() {
    func message(_ header: String) -> String {
      errorMessage { () throws(InputError) in
        try NPYParser.parse(npy(header: header, data: f8([1, 2, 3])))
      } ?? "(no error)"
    }
    #expect(
      message(header(descr: "[('a', '<f8'), ('b', '<f8')]", shape: "(3,)")).contains(
        "structured array"))
    #expect(message(header(shape: "(1, 3)")).contains("2-D array with shape (1, 3)"))
    #expect(message(header(shape: "(3, 1)")).contains("2-D array with shape (3, 1)"))
    #expect(message(header(shape: "(1, 1, 3)")).contains("3-D array with shape (1, 1, 3)"))
    #expect(
      message(header(shape: "(99999999999999999999, 99999999999999999999)")).contains("2-D array"))
    #expect(
      message("{'descr': '<f8'").hasPrefix(
        "bad .npy header: expected ',' or '}' but found end of header at header byte "))
    let unpadded = errorMessage { () throws(InputError) in
      try NPYParser.parse(npy(header: "{'descr': '<f8'", pad: false))
    }
    #expect(
      unpadded == "bad .npy header: expected ',' or '}' but found end of header at header byte 15")
    #expect(message("{'descr': '<f8}").contains("unterminated string"))
    #expect(message("{'descr' '<f8'}").contains("expected ':' after the key \"descr\""))
    #expect(message("{3: 4}").contains("expected a quoted key"))
    #expect(message(header(shape: "(3,)") + " junk").contains("unexpected text after the dict"))
    #expect(message("{'descr': <f8}").contains("unexpected '<'"))
    #expect(message("{'a': Truex}").contains("unexpected 'T'"))
    #expect(message("{'a': -}").contains("expected digits"))
    let manyDimensions = errorMessage { () throws(InputError) in
      try NPYParser.parse(
        npy(header: header(shape: "(" + String(repeating: "1, ", count: 10_000) + ")"), major: 2))
    }
    #expect(
      manyDimensions?.contains("10000-D array with shape (1, 1, 1, 1, 1, 1, 1, 1, …)") == true)
    let deep = "{'shape': " + String(repeating: "(", count: 10_000) + "}"
    #expect(message(deep).contains("nesting too deep"))
    #expect(message(header(shape: "(-0,)")).contains("is empty"))
  }

  @Test("2^20 values are accepted; 10^6-element files parse")
  func large() throws {
    var rng = InputTestRNG(seed: 5)
    let million = (0..<1_000_000).map { _ in Double(bitPattern: rng.next() & 0x3FFF_FFFF_FFFF_FFFF)
    }
    let bytes = NPYParser.encode(million)
    let clock = ContinuousClock()
    var parsed: [Double] = []
    let elapsed = try clock.measure { parsed = try NPYParser.parse(bytes) }
    print("parsed a 10^6-element float64 .npy (\(bytes.count) bytes) in \(elapsed)")
    #expect(parsed == million)
    let atLimit = [Float](repeating: 0.5, count: NumberListParser.maximumCount)
    #expect(try NPYParser.parse(NPYParser.encode(atLimit)).count == NumberListParser.maximumCount)
    let overLimit = NPYParser.encode(
      [Float16](repeating: 1, count: NumberListParser.maximumCount + 1))
    let message = errorMessage { () throws(InputError) in try NPYParser.parse(overLimit) }
    #expect(message?.hasPrefix("too many values") == true)
  }
}

// MARK: - Fuzzing

@Suite("Fuzzing the parsers")
struct InputFuzzTests {
  /// Runs every parser on `bytes`; they must return or throw an InputError with a one-line message, never trap.
  private static func exercise(_ bytes: [UInt8], counts: inout [String: Int]) {
    func record(_ name: String, _ body: () throws(InputError) -> [Double]) {
      do {
        let values = try body()
        #expect(!values.isEmpty && values.count <= NumberListParser.maximumCount)
        counts["\(name) returned", default: 0] += 1
      } catch {
        #expect(isOneLine(error.message), "\(error.message)")
        counts["\(name) threw", default: 0] += 1
      }
    }
    record("npy") { () throws(InputError) in try NPYParser.parse(bytes) }
    record("list(bytes:)") { () throws(InputError) in try NumberListParser.parseList(bytes: bytes) }
    let text = String(decoding: bytes, as: UTF8.self)
    record("list(text)") { () throws(InputError) in
      try NumberListParser.parseList(text, what: "soft target")
    }
    _ = NumberListParser.parseNumber(Substring(text))
  }

  @Test("5,000 random byte strings")
  func randomBytes() {
    var rng = InputTestRNG(seed: 0x5EED)
    let alphabet = Array("0123456789.,,  \t\n\r#eE+-xXpPinfatyINF".utf8) + Array("−∞\u{FEFF}é".utf8)
    var counts: [String: Int] = [:]
    for round in 0..<5_000 {
      let length = Int.random(in: 0...(round % 10 == 0 ? 2_000 : 64), using: &rng)
      let bytes: [UInt8]
      switch round % 3 {
      case 0: bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
      case 1: bytes = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
      default:
        // Valid-looking numbers with random separators and a random defect here and there.
        var text = ""
        for _ in 0..<Int.random(in: 0...20, using: &rng) {
          text += ["1", "-2.5", "3e4", "inf", "nan", "0x1p3", "−7", "∞", "1e400", "", "x"]
            .randomElement(using: &rng)!
          text += [",", " ", ", ", "\n", "\r\n", ",,", " # c\n"].randomElement(using: &rng)!
        }
        bytes = Array(text.utf8)
      }
      Self.exercise(bytes, counts: &counts)
    }
    print(
      "random byte strings: 5000 cases; "
        + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    #expect(counts.values.reduce(0, +) == 15_000)
  }

  @Test("5,000 mutated .npy files")
  func mutatedNPY() {
    var rng = InputTestRNG(seed: 0xBADF00D)
    let headerAlphabet = Array("(),'\"<>=|!fiucbOSUV0123456789{}: TrueFalseNone\n-L[]x".utf8)
    var counts: [String: Int] = [:]
    var kinds: [String: Int] = [:]
    for _ in 0..<5_000 {
      let n = Int.random(in: 1...12, using: &rng)
      var bytes: [UInt8]
      switch Int.random(in: 0..<5, using: &rng) {
      case 0: bytes = NPYParser.encode((0..<n).map { _ in Double(bitPattern: rng.next()) })
      case 1:
        bytes = NPYParser.encode(
          (0..<n).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) })
      case 2:
        bytes = NPYParser.encode(
          (0..<n).map { _ in Float16(bitPattern: UInt16(truncatingIfNeeded: rng.next())) })
      case 3:
        bytes = npy(header: header(shape: "(\(n),)"), data: f8((0..<n).map(Double.init)), major: 2)
      default:
        bytes = npy(
          header: header(descr: "'<f4'", shape: "(\(n),)"),
          data: [UInt8](repeating: 0, count: 4 * n), major: 3, pad: false)
      }
      let headerEnd = min(bytes.count, 128)
      for _ in 0..<Int.random(in: 1...3, using: &rng) {
        guard !bytes.isEmpty else { break }
        let kind = Int.random(in: 0..<7, using: &rng)
        kinds[
          [
            "bit flip", "truncate", "header byte", "header insert", "header delete", "length field",
            "append",
          ][kind], default: 0] += 1
        switch kind {
        case 0:
          let i = Int.random(in: 0..<bytes.count, using: &rng)
          bytes[i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
        case 1:
          bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
        case 2:
          let i = Int.random(in: 10..<max(11, headerEnd), using: &rng)
          if i < bytes.count { bytes[i] = headerAlphabet.randomElement(using: &rng)! }
        case 3:
          let i = Int.random(in: 0...min(bytes.count, headerEnd), using: &rng)
          bytes.insert(
            contentsOf: (0..<Int.random(in: 1...4, using: &rng)).map { _ in
              headerAlphabet.randomElement(using: &rng)!
            }, at: i)
        case 4:
          let i = Int.random(in: 0..<min(bytes.count, headerEnd), using: &rng)
          bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...4, using: &rng)))
        case 5:
          for i in 8..<max(8, min(bytes.count, 12)) {
            bytes[i] = UInt8.random(in: 0...255, using: &rng)
          }
        default:
          bytes += (0..<Int.random(in: 1...16, using: &rng)).map { _ in
            UInt8.random(in: 0...255, using: &rng)
          }
        }
      }
      Self.exercise(bytes, counts: &counts)
    }
    print(
      "mutated .npy files: 5000 cases; mutations: "
        + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    print(
      "mutated .npy files: results: "
        + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    #expect((counts["npy returned"] ?? 0) > 0)
    #expect((counts["npy threw"] ?? 0) > 1_000)
  }
}

/// Editing one value checks only that value; the result (or the message) must be what validating the whole edited
/// problem gives.
@Suite("One value validated like the whole problem")
struct SingleValueValidationTests {
  static let awkward: [Double] = [
    0, -0.0, 1e-9, 1e-300, 3.14159, 11.2, 65504, 65520, 1e5, 3.4e38, 3.5e38, 1e300, .infinity, -.infinity, .nan, -1e5,
    88.7, 709.8, -745.2, -1e40,
  ]

  static func outcome(_ body: () throws(InputError) -> Problem) -> String {
    do {
      let p = try body()
      return "ok \(p.logits.map(\.bitPattern)) \(p.temperature.bitPattern) \(p.labelSmoothing.bitPattern) "
        + "\(p.upstream.bitPattern) \(p.learningRate.bitPattern) \(p.softTarget?.map(\.bitPattern) ?? [])"
    } catch {
      return "error \(error.message)"
    }
  }

  static func randomValid(_ rng: inout SeededRandom, _ precision: Precision) -> Problem? {
    let c = 1 + Int(rng.next() % 6)
    var logits = (0..<c).map { _ in rng.nextNormal() * [1.0, 10, 2000][Int(rng.next() % 3)] }
    if c > 1 && rng.nextUnit() < 0.4 { logits[0] = -.infinity }
    var p = Problem(logits: logits, target: c - 1, precision: precision)
    if rng.nextUnit() < 0.5 { p.temperature = [0.001, 0.5, 3][Int(rng.next() % 3)] }
    if rng.nextUnit() < 0.2 { p.softTarget = (0..<c).map { $0 == 0 ? 1 : 0 } }
    return try? p.validated()
  }

  @Test func aLogit() {
    var rng = SeededRandom(seed: 77)
    var (accepted, refused) = (0, 0)
    for precision in Precision.allCases {
      for _ in 0..<400 {
        guard let v = Self.randomValid(&rng, precision) else { continue }
        let i = Int(rng.next() % UInt64(v.classes))
        let pick = Int(rng.next() % UInt64(Self.awkward.count))
        let x = rng.nextUnit() < 0.6 ? Self.awkward[pick] : rng.nextNormal() * 1e4
        var edited = v
        edited.logits[i] = x
        let whole = Self.outcome { () throws(InputError) in try edited.validated() }
        let single = Self.outcome { () throws(InputError) in
          var p = v
          p.logits[i] = try v.validatedLogit(x, at: i)
          return p
        }
        #expect(whole == single, "\(precision) \(v.logits) τ=\(v.temperature), x_\(i) = \(x)")
        if whole.hasPrefix("ok") { accepted += 1 } else { refused += 1 }
      }
    }
    #expect(accepted > 200 && refused > 100, "\(accepted) accepted, \(refused) refused")
  }

  @Test func theKnobs() {
    var rng = SeededRandom(seed: 78)
    var (accepted, refused) = (0, 0)
    for precision in Precision.allCases {
      for _ in 0..<400 {
        guard let v = Self.randomValid(&rng, precision) else { continue }
        var edited = v
        let x = rng.nextUnit() < 0.7 ? Self.awkward[Int(rng.next() % UInt64(Self.awkward.count))] : rng.nextUnit()
        switch rng.next() % 5 {
        case 0: edited.temperature = x
        case 1: edited.labelSmoothing = x
        case 2: edited.upstream = x
        case 3: edited.learningRate = x
        default: edited.target = Int(rng.next() % 8) - 1
        }
        let whole = Self.outcome { () throws(InputError) in try edited.validated() }
        let settings = Self.outcome { () throws(InputError) in
          var p = edited
          try p.validateSettings()
          return p
        }
        #expect(whole == settings, "\(precision) \(edited)")
        if whole.hasPrefix("ok") { accepted += 1 } else { refused += 1 }
      }
    }
    #expect(accepted > 200 && refused > 100, "\(accepted) accepted, \(refused) refused")
  }
}
