import SoftmaxCore

/// A line of screen text held inline, in a fixed block of UTF-8 bytes, so that building one never touches the heap.
///
/// The views build their text with string interpolation; with `String` every line longer than 15 bytes is a heap
/// allocation, and a frame has hundreds of them. `TextLine` is built the same way (`"σ = \(fmt(x))"`) but keeps its
/// bytes in the value itself. Text past ``capacity`` bytes is dropped at a scalar boundary (no screen line comes
/// near it: 1,024 bytes is at least 341 cells).
public struct TextLine: Sendable, Equatable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
  /// The most UTF-8 bytes a line holds.
  public static let capacity = 1024

  private typealias Block = SIMD64<UInt8>
  private typealias Storage = (
    Block, Block, Block, Block, Block, Block, Block, Block, Block, Block, Block, Block,
    Block, Block, Block, Block
  )
  private var storage: Storage = (
    .zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero,
    .zero, .zero, .zero, .zero, .zero
  )
  /// Bytes used.
  public private(set) var utf8Count = 0

  /// The empty line.
  public init() {}

  public init(stringLiteral value: String) { append(value) }

  public init(stringInterpolation: StringInterpolation) { self = stringInterpolation.line }

  /// The text of a `String` (or the part that fits).
  public init(_ text: some StringProtocol) { append(text) }

  public static func == (a: TextLine, b: TextLine) -> Bool {
    a.utf8Count == b.utf8Count && a.withBytes { x in b.withBytes { y in x.elementsEqual(y) } }
  }

  public func hash(into hasher: inout Hasher) { withBytes { hasher.combine(bytes: UnsafeRawBufferPointer($0)) } }

  /// The text as a `String` (allocates above 15 bytes: for tests and messages, not for drawing).
  public var description: String { withBytes { String(decoding: $0, as: UTF8.self) } }

  public var isEmpty: Bool { utf8Count == 0 }

  /// Calls `body` with the bytes in use.
  public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
    try withUnsafeBytes(of: storage) { raw in
      try body(UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[..<utf8Count]))
    }
  }

  /// The number of Unicode scalars, which is the number of cells the line takes (every glyph is one cell wide).
  public var scalarCount: Int {
    withBytes { bytes in
      var n = 0
      for b in bytes where b & 0xC0 != 0x80 { n += 1 }
      return n
    }
  }

  /// Calls `body` with each scalar in order; `body` returns false to stop.
  public func forEachScalar(_ body: (Unicode.Scalar) -> Bool) {
    withBytes { bytes in
      var i = 0
      while i < bytes.count {
        let (scalar, length) = Self.decode(bytes, at: i)
        if !body(scalar) { return }
        i += length
      }
    }
  }

  /// The scalar starting at byte `i` and its length (the bytes were written from valid scalars).
  @inline(__always)
  private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int) {
    let b0 = UInt32(bytes[i])
    if b0 < 0x80 { return (Unicode.Scalar(UInt8(b0)), 1) }
    func next(_ k: Int) -> UInt32 { UInt32(bytes[i + k] & 0x3F) }
    let (value, length): (UInt32, Int)
    if b0 < 0xE0 {
      (value, length) = ((b0 & 0x1F) << 6 | next(1), 2)
    } else if b0 < 0xF0 {
      (value, length) = ((b0 & 0x0F) << 12 | next(1) << 6 | next(2), 3)
    } else {
      (value, length) = ((b0 & 0x07) << 18 | next(1) << 12 | next(2) << 6 | next(3), 4)
    }
    return (Unicode.Scalar(value) ?? "?", length)
  }

  // MARK: Appending

  /// Appends one scalar if it fits.
  public mutating func append(_ scalar: Unicode.Scalar) {
    let v = scalar.value
    let length = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x1_0000 ? 3 : 4
    guard utf8Count + length <= Self.capacity else { return }
    let at = utf8Count
    withUnsafeMutableBytes(of: &storage) { raw in
      switch length {
      case 1: raw[at] = UInt8(v)
      case 2:
        raw[at] = UInt8(0xC0 | v >> 6)
        raw[at + 1] = UInt8(0x80 | v & 0x3F)
      case 3:
        raw[at] = UInt8(0xE0 | v >> 12)
        raw[at + 1] = UInt8(0x80 | (v >> 6) & 0x3F)
        raw[at + 2] = UInt8(0x80 | v & 0x3F)
      default:
        raw[at] = UInt8(0xF0 | v >> 18)
        raw[at + 1] = UInt8(0x80 | (v >> 12) & 0x3F)
        raw[at + 2] = UInt8(0x80 | (v >> 6) & 0x3F)
        raw[at + 3] = UInt8(0x80 | v & 0x3F)
      }
    }
    utf8Count += length
  }

  /// Appends one ASCII byte if it fits.
  @inline(__always)
  public mutating func append(ascii byte: UInt8) {
    guard utf8Count < Self.capacity else { return }
    let at = utf8Count
    withUnsafeMutableBytes(of: &storage) { $0[at] = byte }
    utf8Count += 1
  }

  /// Appends text (small strings and literals are read in place; nothing is allocated).
  public mutating func append(_ text: some StringProtocol) {
    for s in text.unicodeScalars { append(s) }
  }

  /// Appends an ASCII spelling (a `StaticString` of ASCII bytes).
  public mutating func append(ascii text: StaticString) {
    text.withUTF8Buffer { for b in $0 { append(ascii: b) } }
  }

  /// Appends another line.
  public mutating func append(_ other: TextLine) {
    other.withBytes { bytes in
      let n = Swift.min(bytes.count, Self.capacity - utf8Count)
      var cut = n
      // Cut at a scalar boundary.
      while cut < bytes.count, cut > 0, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
      let at = utf8Count
      withUnsafeMutableBytes(of: &storage) { raw in
        for k in 0..<cut { raw[at + k] = bytes[k] }
      }
      utf8Count += cut
    }
  }

  /// Appends the bytes `range` of another line (a range that starts and ends on scalar boundaries).
  public mutating func append(_ other: TextLine, bytes range: Range<Int>) {
    other.withBytes { bytes in
      let n = Swift.min(range.count, Self.capacity - utf8Count)
      var cut = n
      while cut < range.count, cut > 0, bytes[range.lowerBound + cut] & 0xC0 == 0x80 { cut -= 1 }
      let at = utf8Count
      withUnsafeMutableBytes(of: &storage) { raw in
        for k in 0..<cut { raw[at + k] = bytes[range.lowerBound + k] }
      }
      utf8Count += cut
    }
  }

  /// The byte offset where scalar number `n` starts (`utf8Count` when the line has no more than `n` scalars).
  public func byteOffset(ofScalar n: Int) -> Int {
    withBytes { bytes in
      var seen = 0
      for (i, b) in bytes.enumerated() where b & 0xC0 != 0x80 {
        if seen == n { return i }
        seen += 1
      }
      return bytes.count
    }
  }

  /// The first `n` scalars.
  public func prefix(scalars n: Int) -> TextLine {
    var t = TextLine()
    t.append(self, bytes: 0..<byteOffset(ofScalar: n))
    return t
  }

  /// All but the first `n` scalars.
  public func dropFirst(scalars n: Int) -> TextLine {
    var t = TextLine()
    t.append(self, bytes: byteOffset(ofScalar: n)..<utf8Count)
    return t
  }

  /// Appends a decimal integer.
  public mutating func append(_ n: Int) {
    if n < 0 { append(ascii: UInt8(ascii: "-")) }
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: an Int has at most 19 digits
    withUnsafeMutableBytes(of: &digits) { buf in
      var m = n.magnitude
      var k = 0
      repeat {
        buf[k] = UInt8(ascii: "0") + UInt8(m % 10)
        m /= 10
        k += 1
      } while m > 0
      while k > 0 {
        k -= 1
        append(ascii: buf[k])
      }
    }
  }

  /// Appends `scalar` `count` times.
  public mutating func append(_ scalar: Unicode.Scalar, count: Int) {
    for _ in 0..<Swift.max(0, count) { append(scalar) }
  }

  /// Drops the last `k` scalars.
  public mutating func removeLast(_ k: Int = 1) {
    utf8Count = withBytes { bytes in
      var n = bytes.count
      var left = k
      while left > 0, n > 0 {
        n -= 1
        while n > 0, bytes[n] & 0xC0 == 0x80 { n -= 1 }
        left -= 1
      }
      return n
    }
  }

  // MARK: Editing in place

  /// The byte at `offset` (0 past the end).
  public func byte(at offset: Int) -> UInt8 {
    guard offset >= 0, offset < utf8Count else { return 0 }
    return withUnsafeBytes(of: storage) { $0[offset] }
  }

  /// The byte offset where the scalar before byte `offset` starts (0 at the start).
  public func scalarStart(before offset: Int) -> Int {
    withBytes { bytes in
      var n = Swift.min(Swift.max(0, offset), bytes.count)
      guard n > 0 else { return 0 }
      n -= 1
      while n > 0, bytes[n] & 0xC0 == 0x80 { n -= 1 }
      return n
    }
  }

  /// The byte offset just past the scalar that starts at byte `offset` (`utf8Count` at the end).
  public func scalarEnd(after offset: Int) -> Int {
    withBytes { bytes in
      var n = Swift.max(0, offset)
      guard n < bytes.count else { return bytes.count }
      n += 1
      while n < bytes.count, bytes[n] & 0xC0 == 0x80 { n += 1 }
      return n
    }
  }

  /// The number of scalars in the first `offset` bytes (the cell column of byte `offset`).
  public func scalarCount(before offset: Int) -> Int {
    withBytes { bytes in
      var n = 0
      for b in bytes[..<Swift.min(Swift.max(0, offset), bytes.count)] where b & 0xC0 != 0x80 { n += 1 }
      return n
    }
  }

  /// Inserts `scalar` at byte `offset` (a scalar boundary), moving the rest right; returns its length in bytes, or 0
  /// when it does not fit (the line is then unchanged).
  @discardableResult
  public mutating func insert(_ scalar: Unicode.Scalar, atByte offset: Int) -> Int {
    let at = Swift.min(Swift.max(0, offset), utf8Count)
    let v = scalar.value
    let length = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x1_0000 ? 3 : 4
    guard utf8Count + length <= Self.capacity else { return 0 }
    let end = utf8Count
    withUnsafeMutableBytes(of: &storage) { raw in
      var k = end
      while k > at {
        k -= 1
        raw[k + length] = raw[k]
      }
    }
    // The tail has moved right by `length`: `append` from `at` writes the scalar into the gap.
    utf8Count = at
    let tail = end - at
    append(scalar)
    utf8Count += tail
    return length
  }

  /// Removes the bytes `range` (which starts and ends on scalar boundaries), moving the rest left.
  public mutating func removeBytes(_ range: Range<Int>) {
    let lower = Swift.min(Swift.max(0, range.lowerBound), utf8Count)
    let upper = Swift.min(Swift.max(lower, range.upperBound), utf8Count)
    guard upper > lower else { return }
    let end = utf8Count
    withUnsafeMutableBytes(of: &storage) { raw in
      var k = upper
      while k < end {
        raw[lower + k - upper] = raw[k]
        k += 1
      }
    }
    utf8Count -= upper - lower
  }

  /// Drops trailing spaces.
  public mutating func trimTrailingSpaces() {
    utf8Count = withBytes { bytes in
      var n = bytes.count
      while n > 0, bytes[n - 1] == UInt8(ascii: " ") { n -= 1 }
      return n
    }
  }

  public static func + (a: TextLine, b: TextLine) -> TextLine {
    var t = a
    t.append(b)
    return t
  }

  public static func += (a: inout TextLine, b: TextLine) { a.append(b) }

  /// Whether the line starts with `prefix`.
  public func hasPrefix(_ prefix: StaticString) -> Bool {
    withBytes { bytes in
      prefix.withUTF8Buffer { p in p.count <= bytes.count && p.elementsEqual(bytes[..<p.count]) }
    }
  }

  // MARK: Interpolation

  /// Builds a ``TextLine`` from a string literal with interpolations, in place.
  public struct StringInterpolation: StringInterpolationProtocol {
    var line = TextLine()

    public init(literalCapacity: Int, interpolationCount: Int) {}

    public mutating func appendLiteral(_ literal: String) { line.append(literal) }

    public mutating func appendInterpolation(_ text: String) { line.append(text) }

    public mutating func appendInterpolation(_ text: Substring) { line.append(text) }

    public mutating func appendInterpolation(_ other: TextLine) { line.append(other) }

    public mutating func appendInterpolation(_ n: Int) { line.append(n) }

    public mutating func appendInterpolation(_ scalar: Unicode.Scalar) { line.append(scalar) }

    /// `x` with `digits` significant digits, as ``DecimalFormat/significant(_:digits:)`` writes it.
    public mutating func appendInterpolation(_ x: Double, digits: Int) {
      DecimalFormat.write(x, digits: digits) { line.append(ascii: $0) }
    }
  }
}

extension TextLine {
  /// ``DecimalFormat/compact(_:)`` written in place: the shortest round-trip digits without a trailing `.0`.
  public init(compact x: Double) {
    self.init()
    Precision.float64.writeRoundTrip(x, to: &self)
    if hasSuffix(".0") { removeLast(2) }
  }

  /// Whether the line ends with `suffix`.
  public func hasSuffix(_ suffix: StaticString) -> Bool {
    withBytes { bytes in
      suffix.withUTF8Buffer { p in p.count <= bytes.count && p.elementsEqual(bytes[(bytes.count - p.count)...]) }
    }
  }
}

extension TextLine: TextOutputStream {
  public mutating func write(_ string: String) { append(string) }

  /// Where the standard library writes a number's ASCII digits (`Double.write(to:)`): copied in place.
  public mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
    for b in buffer { append(ascii: b) }
  }
}
